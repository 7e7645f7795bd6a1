// SPDX-License-Identifier: MIT
/*
 * test_objhash_alloc.c - grab and drop (before an entry is visible,
 * refusals, no writes from inside them, drops in insertion order) and
 * allocation failure at every allocation of a mixed workload, with the
 * grab/drop and byte accounting after each
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"

/* ---- callbacks --------------------------------------------------------- */

static void test_grab_before_visible(void)
{
	struct recorder r;
	struct objhash_config cfg;
	struct objhash *h;
	struct shadow s = { 0 };

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = &rec_ops;
	cfg.priv = &r;
	r.check_invisible = 1;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	r.h = h;

	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	shadow_push(&s, 0x10, 1, 1);
	CHECK_EQ(r.grabs, 1);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	CHECK_EQ(objhash_lookup(h, 0x10, 1), 1);
	CHECK_EQ(r.grabs, 1);
	CHECK_EQ(objhash_add(h, 0, 2), 2);
	shadow_push(&s, 0, 2, 2);
	CHECK_EQ(objhash_insert(h, 0x20, 9, 3), 0);
	shadow_push(&s, 0x20, 9, 3);
	CHECK_EQ(objhash_insert(h, 0x20, 10, 3), -OBJHASH_EEXIST);
	CHECK_EQ(objhash_insert(h, 0x30, 9, 3), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 2, NULL), -OBJHASH_EINVAL);
	CHECK_EQ(r.grabs, 3);
	check_same_shadow(&r.grabbed, &s);
	CHECK_EQ(r.bad, 0);
	objhash_free(h);
	CHECK_EQ(r.drops, 3);
	check_same_shadow(&r.dropped, &s);
	free(s.e);
	recorder_fini(&r);
}

static void test_grab_failure(void)
{
	struct recorder r;
	struct objhash_config cfg;
	struct objhash *h;
	int first = -1;

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = &rec_ops;
	cfg.priv = &r;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	r.h = h;
	r.fail_key = 0x20;

	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	CHECK_EQ(objhash_lookup_add(h, 0x20, 1, &first), GRAB_REFUSED);
	CHECK_EQ(first, 0);
	CHECK_EQ(objhash_count(h), 1);
	CHECK_EQ(objhash_next_objref(h), 2);
	CHECK_EQ(objhash_lookup(h, 0x20, 1), 0);
	CHECK_EQ(objhash_fetch(h, 2, 1, NULL), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_add(h, 0x20, 1), GRAB_REFUSED);
	CHECK_EQ(objhash_insert(h, 0x20, 50, 1), GRAB_REFUSED);
	CHECK_EQ(objhash_next_objref(h), 2);
	CHECK_EQ(objhash_lookup_add(h, 0x30, 1, NULL), 2);
	r.fail_objref = 3;
	CHECK_EQ(objhash_add(h, 0, 1), GRAB_REFUSED);
	CHECK_EQ(objhash_insert(h, 0x40, 3, 1), GRAB_REFUSED);
	CHECK_EQ(objhash_fetch(h, 3, 1, NULL), -OBJHASH_EINVAL);
	r.fail_objref = 0;
	r.fail_key = 0;
	CHECK_EQ(objhash_lookup_add(h, 0x20, 1, NULL), 3);
	CHECK_EQ(objhash_count(h), 3);
	CHECK_EQ(r.grabs, 8);
	CHECK_EQ(r.grabbed.n, 3);
	CHECK_EQ(check_chains(h), 0);
	objhash_free(h);
	CHECK_EQ(r.drops, 3);
	check_same_shadow(&r.dropped, &r.grabbed);
	CHECK_EQ(r.bad, 0);
	recorder_fini(&r);
}

static void test_callbacks_cannot_add(void)
{
	struct recorder r;
	struct objhash_config cfg;
	struct objhash *h;

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = &rec_ops;
	cfg.priv = &r;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	r.h = h;
	r.reenter = 1;
	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	CHECK_EQ(objhash_add(h, 0, 1), 2);
	CHECK_EQ(objhash_insert(h, 0x20, 5, 1), 0);
	CHECK_EQ(objhash_reserve(h), 6);
	CHECK_EQ(objhash_count(h), 3);
	CHECK_EQ(r.grabs, 3);
	objhash_free(h);
	CHECK_EQ(r.drops, 3);
	CHECK_EQ(r.bad, 0);
	recorder_fini(&r);
}

static void test_drop_order(void)
{
	struct recorder r;
	struct objhash_config cfg;
	struct objhash *h;
	struct shadow s = { 0 };
	uint32_t i;

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = &rec_ops;
	cfg.priv = &r;
	cfg.nbits = 2;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	for (i = 0; i < 10000; i++) {
		uint64_t key = mkkey(i);
		int ret;

		switch (i % 5) {
		case 0:
			ret = objhash_add(h, 0, 3);
			CHECK(ret > 0);
			shadow_push(&s, 0, ret, 3);
			break;
		case 1:
			ret = objhash_next_objref(h) + 2;
			CHECK_EQ(objhash_insert(h, key, ret, 4), 0);
			shadow_push(&s, key, ret, 4);
			break;
		default:
			ret = objhash_lookup_add(h, key, 5, NULL);
			CHECK(ret > 0);
			shadow_push(&s, key, ret, 5);
			CHECK_EQ(objhash_lookup_add(h, key, 5, NULL), ret);
		}
	}
	check_contents(h, &s);
	objhash_free(h);
	CHECK_EQ(r.grabs, 10000);
	CHECK_EQ(r.drops, 10000);
	check_same_shadow(&r.dropped, &s);
	CHECK_EQ(r.bad, 0);
	free(s.e);
	recorder_fini(&r);

	/* no drop: fine */
	cfg.ops = NULL;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	CHECK_EQ(objhash_add(h, 0, 1), 1);
	objhash_free(h);
}

/* ---- allocation failure ------------------------------------------------ */

/*
 * A mixed workload of about n entries; stops at the first error.
 * @s collects what was added.  Return: 0 or the error.
 */
static int workload(struct objhash *h, struct shadow *s, uint32_t n,
		    uint64_t *keys, int32_t *refs, uint8_t *first)
{
	size_t done = 0, j;
	int64_t ret64;
	uint32_t i, half = n / 2;
	int ret, f;

	for (i = 0; i < half; i++) {
		uint64_t key = mkkey(i);

		switch (i % 10) {
		case 3:
			ret = objhash_add(h, 0, 2);
			if (ret < 0)
				return ret;
			shadow_push(s, 0, ret, 2);
			break;
		case 5:
			ret = objhash_reserve(h);
			if (ret < 0)
				return ret;
			break;
		case 7:
			ret = objhash_next_objref(h) + 3;
			f = objhash_insert(h, key, ret, 3);
			if (f < 0)
				return f;
			shadow_push(s, key, ret, 3);
			break;
		case 9:	/* a repeat of case 0 */
			ret = objhash_lookup_add(h, mkkey(i - 9), 1, &f);
			if (ret < 0)
				return ret;
			if (f)
				return -1000;
			break;
		default:
			ret = objhash_lookup_add(h, key, 1, &f);
			if (ret < 0)
				return ret;
			if (!f)
				return -1001;
			shadow_push(s, key, ret, 1);
		}
	}

	/* batch: each key twice */
	for (j = 0; j < n - half; j++)
		keys[j] = mkkey(half + j / 2);
	ret64 = objhash_lookup_add_many(h, keys, n - half, 1, refs, first,
					&done);
	for (j = 0; j < done; j++)
		if (first[j])
			shadow_push(s, keys[j], refs[j], 1);
	if (ret64 < 0)
		return (int)ret64;

	/* keyless inserts */
	for (j = 0; j < 1000; j++)
		refs[j] = objhash_next_objref(h) + 2 * (int32_t)j;
	ret64 = objhash_insert_many(h, NULL, refs, 1000, 4, &done);
	for (j = 0; j < done; j++)
		shadow_push(s, 0, refs[j], 4);
	return ret64 < 0 ? (int)ret64 : 0;
}

static void test_alloc_failure(void)
{
	const uint32_t n = 150000;	/* about 100k entries */
	uint64_t *keys = malloc(n * sizeof(*keys));
	int32_t *refs = malloc(n * sizeof(*refs));
	uint8_t *first = malloc(n);
	long k, total = 0, enomem_alloc = 0, enomem_add = 0, absorbed = 0;

	REQUIRE(keys && refs && first);
	for (k = 1;; k++) {
		struct counting_alloc ca = { 0 };
		struct objhash_allocator a = { ca_alloc, ca_free, &ca };
		struct objhash_config cfg;
		struct recorder r;
		struct shadow s = { 0 };
		struct objhash *h = NULL;
		int ret;

		memset(&r, 0, sizeof(r));
		memset(&cfg, 0, sizeof(cfg));
		cfg.allocator = &a;
		cfg.ops = &rec_ops;
		cfg.priv = &r;
		ca.fail_at = k;
		ret = objhash_alloc(&h, &cfg);
		if (ret) {
			CHECK_EQ(ret, -OBJHASH_ENOMEM);
			CHECK(h == NULL);
			CHECK_EQ(ca.live, 0);
			enomem_alloc++;
			continue;
		}
		ret = workload(h, &s, n, keys, refs, first);
		if (ret) {
			CHECK_EQ(ret, -OBJHASH_ENOMEM);
			enomem_add++;
		} else if (ca.failed) {
			absorbed++;
		}
		check_contents(h, &s);
		CHECK_EQ(objhash_memory(h), ca.live_bytes);
		CHECK_EQ(r.grabs, (long)s.n);
		objhash_free(h);
		CHECK_EQ(r.drops, (long)s.n);
		check_same_shadow(&r.dropped, &s);
		CHECK_EQ(r.bad, 0);
		CHECK_EQ(ca.live, 0);
		CHECK_EQ(ca.live_bytes, 0);
		free(s.e);
		recorder_fini(&r);
		if (!ca.failed) {	/* k is past the last allocation */
			total = ca.calls;
			break;
		}
		if (k > 10000) {
			CHECK(0);
			break;
		}
	}
	printf("     %ld allocations: %ld -ENOMEM in alloc, %ld in adds, "
	       "%ld absorbed by growth\n", total, enomem_alloc, enomem_add,
	       absorbed);
	CHECK_EQ(k, total + 1);
	CHECK(total >= 40);
	CHECK_EQ(enomem_alloc, 3);
	CHECK(enomem_add >= 25);
	CHECK(absorbed >= 10);
	free(keys);
	free(refs);
	free(first);
}

const struct test_case objhash_alloc_tests[] = {
	TEST_CASE(test_grab_before_visible),
	TEST_CASE(test_grab_failure),
	TEST_CASE(test_callbacks_cannot_add),
	TEST_CASE(test_drop_order),
	TEST_CASE(test_alloc_failure),
};
const size_t objhash_alloc_ntests =
	sizeof(objhash_alloc_tests) / sizeof(objhash_alloc_tests[0]);

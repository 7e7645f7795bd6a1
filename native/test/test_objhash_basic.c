// SPDX-License-Identifier: MIT
/*
 * test_objhash_basic.c - the objhash core one call at a time: error codes,
 * creation and its configuration, lookup, lookup_add, add, insert, fetch,
 * reserve, entry, and running out of objrefs
 */
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"

#ifdef __linux__
#include <errno.h>	/* only to compare: the core does not use it */
#endif

/* ---- codes ------------------------------------------------------------- */

/* the codes are fixed numbers, equal to Linux's errno values */
static void test_codes(void)
{
	static const int codes[] = {
		OBJHASH_EIO, OBJHASH_E2BIG, OBJHASH_EBADF, OBJHASH_ENOMEM,
		OBJHASH_EBUSY, OBJHASH_EEXIST, OBJHASH_EINVAL, OBJHASH_EPIPE,
		OBJHASH_ELOOP, OBJHASH_ENOMSG, OBJHASH_EBADMSG,
	};
	static const int values[] = { 5, 7, 9, 12, 16, 17, 22, 32, 40, 42, 74 };
	size_t i, j;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		CHECK_EQ(codes[i], values[i]);
		for (j = 0; j < i; j++)
			CHECK(codes[i] != codes[j]);
	}
#ifdef __linux__
	CHECK_EQ(OBJHASH_EIO, EIO);
	CHECK_EQ(OBJHASH_E2BIG, E2BIG);
	CHECK_EQ(OBJHASH_EBADF, EBADF);
	CHECK_EQ(OBJHASH_ENOMEM, ENOMEM);
	CHECK_EQ(OBJHASH_EBUSY, EBUSY);
	CHECK_EQ(OBJHASH_EEXIST, EEXIST);
	CHECK_EQ(OBJHASH_EINVAL, EINVAL);
	CHECK_EQ(OBJHASH_EPIPE, EPIPE);
	CHECK_EQ(OBJHASH_ELOOP, ELOOP);
	CHECK_EQ(OBJHASH_ENOMSG, ENOMSG);
	CHECK_EQ(OBJHASH_EBADMSG, EBADMSG);
#endif
	/* a grab's own value is not mistaken for one of them */
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		CHECK(-codes[i] != GRAB_REFUSED);
}

/* ---- creation ---------------------------------------------------------- */

static void test_alloc_config(void)
{
	struct counting_alloc ca = { 0 };
	struct objhash_allocator a = { ca_alloc, ca_free, &ca };
	struct objhash_allocator half = { ca_alloc, NULL, &ca };
	struct objhash_config cfg;
	struct objhash *h = (struct objhash *)&cfg;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_nbuckets(h), 1024);
	CHECK_EQ(objhash_count(h), 0);
	CHECK_EQ(objhash_next_objref(h), 1);
	CHECK(objhash_memory(h) >= 2 * 1024 * sizeof(uint32_t));
	CHECK_EQ(h->mult, OBJHASH_MULT_CURRENT);
	objhash_free(h);
	objhash_free(NULL);

	CHECK_EQ(objhash_alloc(NULL, NULL), -OBJHASH_EINVAL);

	memset(&cfg, 0, sizeof(cfg));
	cfg.allocator = &a;
	cfg.nbits = OBJHASH_MAX_NBITS + 1;
	CHECK_EQ(objhash_alloc(&h, &cfg), -OBJHASH_EINVAL);
	CHECK(h == NULL);
	cfg.nbits = 100;
	CHECK_EQ(objhash_alloc(&h, &cfg), -OBJHASH_EINVAL);
	cfg.nbits = 1;
	cfg.max_load = 1025;
	CHECK_EQ(objhash_alloc(&h, &cfg), -OBJHASH_EINVAL);
	cfg.max_load = 1024;
	cfg.flags = 0x4;
	CHECK_EQ(objhash_alloc(&h, &cfg), -OBJHASH_EINVAL);
	cfg.flags = 0x80000000u;
	CHECK_EQ(objhash_alloc(&h, &cfg), -OBJHASH_EINVAL);
	cfg.flags = OBJHASH_FIXED | OBJHASH_MULT_OLD;
	cfg.allocator = &half;
	CHECK_EQ(objhash_alloc(&h, &cfg), -OBJHASH_EINVAL);
	CHECK_EQ(ca.calls, 0);

	cfg.allocator = &a;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	CHECK_EQ(objhash_nbuckets(h), 2);
	CHECK_EQ(h->mult, OBJHASH_MULT_2009);
	CHECK_EQ(h->max_load, 1024);
	CHECK_EQ(objhash_memory(h), ca.live_bytes);
	objhash_free(h);
	CHECK_EQ(ca.live, 0);

	cfg.nbits = OBJHASH_MIN_NBITS;
	cfg.max_load = 0;
	cfg.flags = 0;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	CHECK_EQ(h->max_load, OBJHASH_DEFAULT_MAX_LOAD);
	objhash_free(h);
	CHECK_EQ(ca.live, 0);
}

/* ---- single operations ------------------------------------------------- */

static void test_objref_sequence(void)
{
	struct objhash *h;
	int first = -1;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_lookup_add(h, 0x1000, 1, &first), 1);
	CHECK_EQ(first, 1);
	CHECK_EQ(objhash_lookup_add(h, 0x2000, 1, &first), 2);
	CHECK_EQ(first, 1);
	CHECK_EQ(objhash_lookup_add(h, 0x3000, 2, &first), 3);
	CHECK_EQ(first, 1);
	CHECK_EQ(objhash_lookup_add(h, 0x2000, 1, &first), 2);
	CHECK_EQ(first, 0);
	CHECK_EQ(objhash_lookup_add(h, 0x1000, 1, NULL), 1);
	CHECK_EQ(objhash_lookup_add(h, 0x4000, 1, NULL), 4);
	CHECK_EQ(objhash_count(h), 4);
	CHECK_EQ(objhash_next_objref(h), 5);
	CHECK_EQ(objhash_lookup(h, 0x3000, 2), 3);
	objhash_free(h);
}

static void test_lookup(void)
{
	struct objhash *h;
	int first = -1;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_lookup(h, 0x1234, 1), 0);
	CHECK_EQ(objhash_lookup(h, 0, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_lookup_add(h, 0, 1, &first), -OBJHASH_EINVAL);
	CHECK_EQ(first, 0);
	CHECK_EQ(objhash_lookup_add(h, 0x1234, 1, NULL), 1);
	CHECK_EQ(objhash_lookup(h, 0x1234, 1), 1);
	CHECK_EQ(objhash_lookup(h, 0x1235, 1), 0);
	CHECK_EQ(objhash_lookup(h, UINT64_MAX, 1), 0);
	CHECK_EQ(objhash_lookup_add(h, UINT64_MAX, 1, NULL), 2);
	CHECK_EQ(objhash_lookup(h, UINT64_MAX, 1), 2);
	CHECK_EQ(objhash_count(h), 2);
	objhash_free(h);
}

static void test_type_mismatch(void)
{
	struct objhash *h;
	int first = -1;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 7, NULL), 1);
	CHECK_EQ(objhash_lookup(h, 0x10, 8), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 8, &first), -OBJHASH_EINVAL);
	CHECK_EQ(first, 0);
	CHECK_EQ(objhash_count(h), 1);
	CHECK_EQ(objhash_next_objref(h), 2);
	CHECK_EQ(objhash_lookup(h, 0x10, 7), 1);
	objhash_free(h);
}

static void test_fetch(void)
{
	struct objhash *h;
	uint64_t key = 77;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_fetch(h, 1, 1, &key), -OBJHASH_EINVAL);
	CHECK_EQ(key, 77);
	CHECK_EQ(objhash_lookup_add(h, 0xabc0, 1, NULL), 1);
	CHECK_EQ(objhash_add(h, 0, 2), 2);
	CHECK_EQ(objhash_fetch(h, 1, 1, &key), 0);
	CHECK_EQ(key, 0xabc0);
	CHECK_EQ(objhash_fetch(h, 2, 2, &key), 1);
	CHECK_EQ(key, 0);
	CHECK_EQ(objhash_fetch(h, 2, 2, NULL), 1);
	CHECK_EQ(objhash_fetch(h, 1, 2, &key), -OBJHASH_ENOMSG);
	CHECK_EQ(objhash_fetch(h, 3, 1, &key), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_fetch(h, 0, 1, &key), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_fetch(h, -1, 1, &key), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_fetch(h, INT32_MIN, 1, &key), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_fetch(h, INT32_MAX, 1, &key), -OBJHASH_EINVAL);
	objhash_free(h);
}

static void test_add(void)
{
	struct objhash *h;
	uint64_t key;
	int32_t objref;
	uint32_t type;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_add(h, 0, 3), 1);
	CHECK_EQ(objhash_add(h, 0, 3), 2);
	CHECK_EQ(objhash_add(h, 0x50, 4), 3);
	CHECK_EQ(objhash_add(h, 0x50, 4), -OBJHASH_EEXIST);
	CHECK_EQ(objhash_add(h, 0x50, 5), -OBJHASH_EEXIST);
	CHECK_EQ(objhash_lookup_add(h, 0x50, 4, NULL), 3);
	CHECK_EQ(objhash_count(h), 3);
	CHECK_EQ(objhash_next_objref(h), 4);
	CHECK_EQ(objhash_fetch(h, 1, 3, &key), 0);
	CHECK_EQ(key, 0);
	CHECK_EQ(objhash_fetch(h, 2, 3, &key), 1);
	CHECK_EQ(objhash_entry(h, 2, &key, &objref, &type), 0);
	CHECK(key == 0x50 && objref == 3 && type == 4);
	CHECK_EQ(objhash_entry(h, 0, NULL, NULL, NULL), 0);
	CHECK_EQ(objhash_entry(h, 3, &key, &objref, &type), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_entry(h, UINT32_MAX, NULL, NULL, NULL), -OBJHASH_EINVAL);
	CHECK_EQ(check_chains(h), 0);
	objhash_free(h);
}

static void test_insert(void)
{
	struct objhash *h;
	int first;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_insert(h, 0x100, 5, 1), 0);
	CHECK_EQ(objhash_next_objref(h), 6);
	CHECK_EQ(objhash_insert(h, 0x200, 5, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_insert(h, 0x200, 0, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_insert(h, 0x200, -3, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_insert(h, 0x200, INT32_MIN, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_insert(h, 0x100, 6, 1), -OBJHASH_EEXIST);
	/* the objref is checked first */
	CHECK_EQ(objhash_insert(h, 0x100, 5, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_count(h), 1);
	/* a lower objref does not lower next_objref */
	CHECK_EQ(objhash_insert(h, 0x200, 2, 1), 0);
	CHECK_EQ(objhash_next_objref(h), 6);
	CHECK_EQ(objhash_insert(h, 0, 3, 2), 0);
	CHECK_EQ(objhash_insert(h, 0, 4, 2), 0);
	/* lookup_add continues after the max objref */
	CHECK_EQ(objhash_lookup_add(h, 0x300, 1, &first), 6);
	CHECK_EQ(first, 1);
	CHECK_EQ(objhash_insert(h, 0x400, 100, 1), 0);
	CHECK_EQ(objhash_lookup_add(h, 0x500, 1, NULL), 101);
	CHECK_EQ(objhash_insert(h, 0x600, 7, 1), 0);
	CHECK_EQ(objhash_next_objref(h), 102);
	CHECK_EQ(objhash_lookup(h, 0x100, 1), 5);
	CHECK_EQ(objhash_lookup(h, 0x200, 1), 2);
	CHECK_EQ(objhash_fetch(h, 3, 2, NULL), 2);
	CHECK_EQ(objhash_fetch(h, 100, 1, NULL), 5);
	CHECK_EQ(objhash_fetch(h, 101, 1, NULL), 6);
	CHECK_EQ(objhash_count(h), 8);
	CHECK_EQ(check_chains(h), 0);
	objhash_free(h);
}

static void test_reserve(void)
{
	struct objhash *h;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	CHECK_EQ(objhash_reserve(h), 2);
	CHECK_EQ(objhash_reserve(h), 3);
	CHECK_EQ(objhash_next_objref(h), 4);
	CHECK_EQ(objhash_lookup_add(h, 0x20, 1, NULL), 4);
	CHECK_EQ(objhash_add(h, 0, 1), 5);
	CHECK_EQ(objhash_count(h), 3);
	CHECK_EQ(objhash_fetch(h, 2, 1, NULL), -OBJHASH_EINVAL);
	/* a reserved objref can be inserted later */
	CHECK_EQ(objhash_insert(h, 0x30, 2, 1), 0);
	CHECK_EQ(objhash_next_objref(h), 6);
	objhash_free(h);
}

static void test_objref_exhaustion(void)
{
	struct objhash *h;
	int first = -1;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_insert(h, 0x10, INT32_MAX - 2, 1), 0);
	CHECK_EQ(objhash_next_objref(h), INT32_MAX - 1);
	CHECK_EQ(objhash_reserve(h), INT32_MAX - 1);
	CHECK_EQ(objhash_lookup_add(h, 0x20, 1, &first), INT32_MAX);
	CHECK_EQ(first, 1);
	CHECK_EQ(objhash_next_objref(h), -OBJHASH_E2BIG);
	CHECK_EQ(objhash_lookup_add(h, 0x30, 1, &first), -OBJHASH_E2BIG);
	CHECK_EQ(first, 0);
	CHECK_EQ(objhash_add(h, 0, 1), -OBJHASH_E2BIG);
	CHECK_EQ(objhash_add(h, 0x30, 1), -OBJHASH_E2BIG);
	CHECK_EQ(objhash_reserve(h), -OBJHASH_E2BIG);
	/* what is there still works */
	CHECK_EQ(objhash_lookup_add(h, 0x20, 1, &first), INT32_MAX);
	CHECK_EQ(first, 0);
	CHECK_EQ(objhash_fetch(h, INT32_MAX, 1, NULL), 1);
	CHECK_EQ(objhash_insert(h, 0x40, 7, 1), 0);
	CHECK_EQ(objhash_next_objref(h), -OBJHASH_E2BIG);
	CHECK_EQ(objhash_count(h), 3);
	objhash_free(h);

	/* inserting INT32_MAX directly exhausts too */
	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_insert(h, 0, INT32_MAX, 1), 0);
	CHECK_EQ(objhash_next_objref(h), -OBJHASH_E2BIG);
	CHECK_EQ(objhash_insert(h, 0, INT32_MAX, 1), -OBJHASH_EINVAL);
	CHECK_EQ(objhash_lookup_add(h, 0x30, 1, NULL), -OBJHASH_E2BIG);
	CHECK_EQ(objhash_fetch(h, INT32_MAX, 1, NULL), 0);
	objhash_free(h);
}

const struct test_case objhash_basic_tests[] = {
	TEST_CASE(test_codes),
	TEST_CASE(test_alloc_config),
	TEST_CASE(test_objref_sequence),
	TEST_CASE(test_lookup),
	TEST_CASE(test_type_mismatch),
	TEST_CASE(test_fetch),
	TEST_CASE(test_add),
	TEST_CASE(test_insert),
	TEST_CASE(test_reserve),
	TEST_CASE(test_objref_exhaustion),
};
const size_t objhash_basic_ntests =
	sizeof(objhash_basic_tests) / sizeof(objhash_basic_tests[0]);

// SPDX-License-Identifier: MIT
/*
 * test_objhash_growth.c - hash_long() and the multipliers, and the table
 * as it grows: thresholds, rehashing into the same layout as a fresh
 * table, growth that fails and catches up, a million entries, fixed
 * tables
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"

/* ---- hash_long --------------------------------------------------------- */

static const struct {
	uint64_t key;
	unsigned int bits;
	uint64_t current, old;
} hash_vectors[] = {
	{ UINT64_C(1), 10, 391, 632 },
	{ UINT64_C(2), 10, 782, 241 },
	{ UINT64_C(3), 10, 149, 874 },
	{ UINT64_C(4), 10, 540, 483 },
	{ UINT64_C(5), 10, 931, 92 },
	{ UINT64_C(10), 10, 839, 184 },
	{ UINT64_C(1023), 10, 769, 263 },
	{ UINT64_C(1024), 10, 136, 895 },
	{ UINT64_C(4096), 10, 545, 511 },
	{ UINT64_C(3735928559), 10, 1020, 281 },
	{ UINT64_C(139888628338688), 10, 80, 524 },
	{ UINT64_C(9223372036854775808), 10, 512, 512 },
	{ UINT64_C(18446744073709551615), 10, 632, 391 },
	{ UINT64_C(1311768467463790320), 10, 219, 627 },
	{ UINT64_C(1), 20, 400520, 648063 },
	{ UINT64_C(2), 20, 801040, 247551 },
	{ UINT64_C(3), 20, 152985, 895615 },
	{ UINT64_C(4), 20, 553505, 495103 },
	{ UINT64_C(5), 20, 954025, 94591 },
	{ UINT64_C(10), 20, 859475, 189183 },
	{ UINT64_C(1023), 20, 787721, 269439 },
	{ UINT64_C(1024), 20, 139665, 917503 },
	{ UINT64_C(4096), 20, 558662, 524287 },
	{ UINT64_C(3735928559), 20, 1044993, 287816 },
	{ UINT64_C(139888628338688), 20, 82801, 536944 },
	{ UINT64_C(9223372036854775808), 20, 524288, 524288 },
	{ UINT64_C(18446744073709551615), 20, 648055, 400512 },
	{ UINT64_C(1311768467463790320), 20, 224344, 642334 },
};

static void test_hash_long_vectors(void)
{
	size_t i;

	for (i = 0; i < sizeof(hash_vectors) / sizeof(hash_vectors[0]); i++) {
		CHECK_EQ(objhash_hash_long(hash_vectors[i].key,
					   hash_vectors[i].bits,
					   OBJHASH_MULT_CURRENT),
			 hash_vectors[i].current);
		CHECK_EQ(objhash_hash_long(hash_vectors[i].key,
					   hash_vectors[i].bits,
					   OBJHASH_MULT_2009),
			 hash_vectors[i].old);
	}
}

static unsigned int distinct_page_buckets(uint64_t mult)
{
	static unsigned char seen[1024];
	unsigned int i, n = 0;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 4096; i++) {
		uint64_t b = objhash_hash_long(UINT64_C(0x7f0000000000) +
					       (uint64_t)i * 4096, 10, mult);
		if (!seen[b]) {
			seen[b] = 1;
			n++;
		}
	}
	return n;
}

static void test_hash_long_page_aligned(void)
{
	CHECK_EQ(distinct_page_buckets(OBJHASH_MULT_CURRENT), 1024);
	CHECK_EQ(distinct_page_buckets(OBJHASH_MULT_2009), 2);
}

/* ---- growth and layout ------------------------------------------------- */

/* bytes in one array of chain heads (objhash.c's heads_size()) */
static size_t heads_size(unsigned int nbits)
{
	return sizeof(uint32_t) << nbits;
}

static void test_growth_thresholds(void)
{
	struct objhash_config cfg;
	struct objhash *h;
	uint32_t i;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	for (i = 0; i < 1024; i++)
		CHECK_EQ(objhash_add(h, mkkey(i), 1), i + 1);
	CHECK_EQ(objhash_nbuckets(h), 1024);
	CHECK_EQ(objhash_add(h, mkkey(i), 1), 1025);
	CHECK_EQ(objhash_nbuckets(h), 2048);
	CHECK_EQ(check_chains(h), 0);
	objhash_free(h);

	memset(&cfg, 0, sizeof(cfg));
	cfg.nbits = 1;
	cfg.max_load = 4;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	for (i = 0; i < 8; i++)
		objhash_add(h, 0, 1);
	CHECK_EQ(objhash_nbuckets(h), 2);
	objhash_add(h, 0, 1);
	CHECK_EQ(objhash_nbuckets(h), 4);
	for (i = 9; i < 4096; i++)
		objhash_add(h, mkkey(i), 1);
	CHECK_EQ(objhash_nbuckets(h), 1024);
	objhash_add(h, 0, 1);
	CHECK_EQ(objhash_nbuckets(h), 2048);
	CHECK_EQ(check_chains(h), 0);
	objhash_free(h);
}

/* build the same mixed contents in @h */
static void fill_mixed(struct objhash *h, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (i % 7 == 3)
			objhash_add(h, 0, 2);
		else if (i % 7 == 5)
			objhash_insert(h, mkkey(i), objhash_next_objref(h) + 1,
				       3);
		else
			objhash_lookup_add(h, mkkey(i), 1, NULL);
	}
}

static int same_layout(const struct objhash *a, const struct objhash *b)
{
	size_t sz = heads_size(a->nbits);
	uint32_t i;

	if (a->nbits != b->nbits || a->count != b->count ||
	    memcmp(a->khead, b->khead, sz) || memcmp(a->rhead, b->rhead, sz))
		return 0;
	for (i = 0; i < a->count; i++)
		if (memcmp(entry_at(a, i), entry_at(b, i),
			   sizeof(struct objhash_entry)))
			return 0;
	return 1;
}

/* rehashing leaves the chains exactly as in a fresh table of that size */
static void test_growth_layout(void)
{
	struct counting_alloc ca = { 0 };
	struct objhash_allocator a = { ca_alloc, ca_free, &ca };
	struct objhash_config cfg;
	struct objhash *g, *f;
	unsigned int mode;

	for (mode = 0; mode < 2; mode++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.flags = mode ? OBJHASH_MULT_OLD : 0;
		cfg.nbits = 3;
		REQUIRE_EQ(objhash_alloc(&g, &cfg), 0);
		fill_mixed(g, 20000);
		CHECK_EQ(objhash_nbuckets(g), 32768);

		cfg.nbits = g->nbits;
		cfg.flags |= OBJHASH_FIXED;
		REQUIRE_EQ(objhash_alloc(&f, &cfg), 0);
		fill_mixed(f, 20000);
		CHECK(same_layout(g, f));
		CHECK_EQ(check_chains(g), 0);
		objhash_free(g);
		objhash_free(f);
	}

	/* growth that fails for a while, then catches up several steps */
	memset(&cfg, 0, sizeof(cfg));
	cfg.allocator = &a;
	ca.fail_min_size = heads_size(12);	/* bucket arrays, not chunks */
	ca.fail_max_size = heads_size(14);
	REQUIRE_EQ(objhash_alloc(&g, &cfg), 0);
	fill_mixed(g, 10000);
	CHECK_EQ(objhash_count(g), 10000);
	CHECK_EQ(objhash_nbuckets(g), 2048);
	CHECK(ca.failed > 0);
	CHECK_EQ(check_chains(g), 0);
	ca.fail_min_size = 0;
	while (objhash_nbuckets(g) == 2048)
		objhash_add(g, 0, 9);
	CHECK_EQ(objhash_nbuckets(g), 16384);
	CHECK_EQ(check_chains(g), 0);

	cfg.allocator = NULL;
	cfg.nbits = g->nbits;
	cfg.flags = OBJHASH_FIXED;
	REQUIRE_EQ(objhash_alloc(&f, &cfg), 0);
	fill_mixed(f, 10000);
	while (objhash_count(f) < objhash_count(g))
		objhash_add(f, 0, 9);
	CHECK(same_layout(g, f));
	objhash_free(f);
	CHECK_EQ(objhash_memory(g), ca.live_bytes);
	objhash_free(g);
	CHECK_EQ(ca.live, 0);
}

static void test_growth_1m(void)
{
	const size_t n = 1000000;
	struct counting_alloc ca = { 0 };
	struct objhash_allocator a = { ca_alloc, ca_free, &ca };
	struct objhash_config cfg;
	struct objhash *h;
	uint64_t *keys = malloc(n * sizeof(*keys));
	uint64_t *keys2 = malloc(n * sizeof(*keys2));
	int32_t *refs = malloc(n * sizeof(*refs));
	uint32_t *index = malloc(n * sizeof(*index));
	uint8_t *first = malloc(n);
	size_t i, done = 0;
	long bad = 0;
	double per;

	if (!keys || !keys2 || !refs || !index || !first)
		goto out;
	for (i = 0; i < n; i++)
		keys[i] = mkkey(i);

	memset(&cfg, 0, sizeof(cfg));
	cfg.allocator = &a;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	CHECK_EQ(objhash_lookup_add_many(h, keys, n, 1, refs, first, &done),
		 (int64_t)n);
	CHECK_EQ(done, n);
	CHECK_EQ(objhash_count(h), n);
	CHECK_EQ(objhash_nbuckets(h), 1u << 20);
	for (i = 0; i < n; i++)
		if (refs[i] != (int32_t)i + 1 || first[i] != 1)
			bad++;
	CHECK_EQ(bad, 0);

	/* all found again, nothing added */
	CHECK_EQ(objhash_lookup_add_many(h, keys, n, 1, refs, first, &done), 0);
	CHECK_EQ(done, n);
	for (i = 0, bad = 0; i < n; i++)
		if (refs[i] != (int32_t)i + 1 || first[i] != 0 ||
		    objhash_lookup(h, keys[i], 1) != (int)i + 1)
			bad++;
	CHECK_EQ(bad, 0);

	/* and by objref */
	for (i = 0; i < n; i++)
		refs[i] = (int32_t)(n - i);
	CHECK_EQ(objhash_fetch_many(h, refs, n, 1, keys2, index, &done), 0);
	CHECK_EQ(done, n);
	for (i = 0, bad = 0; i < n; i++)
		if (index[i] != n - 1 - i || keys2[i] != keys[n - 1 - i])
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(check_chains(h), 0);

	CHECK_EQ(objhash_memory(h), ca.live_bytes);
	per = (double)objhash_memory(h) / (double)objhash_count(h);
	printf("     1M entries: %.2f bytes/entry, %u buckets\n", per,
	       objhash_nbuckets(h));
	CHECK(per <= 40.0);
	objhash_free(h);
	CHECK_EQ(ca.live, 0);
out:
	CHECK(keys && keys2 && refs && index && first);
	free(keys);
	free(keys2);
	free(refs);
	free(index);
	free(first);
}

static void test_fixed_100k(void)
{
	const uint32_t n = 100000;
	struct objhash_config cfg;
	struct objhash *h;
	uint32_t i;
	long bad = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = OBJHASH_FIXED;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
	for (i = 0; i < n; i++)
		if (objhash_lookup_add(h, mkkey(i), 2, NULL) != (int)i + 1)
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(objhash_nbuckets(h), 1024);
	CHECK_EQ(h->nbits, 10);
	for (i = 0, bad = 0; i < n; i++)
		if (objhash_lookup(h, mkkey(i), 2) != (int)i + 1 ||
		    objhash_fetch(h, (int32_t)i + 1, 2, NULL) != i)
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(check_chains(h), 0);
	objhash_free(h);
}

static unsigned int used_buckets(const struct objhash *h)
{
	uint32_t b, n = 0;

	for (b = 0; b < objhash_nbuckets(h); b++)
		n += !ihlist_empty(&h->khead[b]);
	return n;
}

static void test_mult_old(void)
{
	struct objhash_config cfg;
	struct objhash *h;
	unsigned int old;
	uint32_t i;
	long bad = 0;

	for (old = 0; old < 2; old++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.flags = OBJHASH_FIXED | (old ? OBJHASH_MULT_OLD : 0);
		REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);
		CHECK_EQ(h->mult, old ? OBJHASH_MULT_2009 :
					OBJHASH_MULT_CURRENT);
		for (i = 0; i < 4096; i++)
			objhash_lookup_add(h, UINT64_C(0x7f0000000000) +
					   (uint64_t)i * 4096, 1, NULL);
		CHECK_EQ(used_buckets(h), old ? 2 : 1024);
		for (i = 0; i < 4096; i++)
			if (objhash_lookup(h, UINT64_C(0x7f0000000000) +
					   (uint64_t)i * 4096, 1) != (int)i + 1)
				bad++;
		CHECK_EQ(bad, 0);
		/* objrefs chained by hash_long((u64)(u32) objref) */
		CHECK_EQ(h->rhead[objhash_hash_long(1, 10, h->mult)] != 0, 1);
		CHECK_EQ(check_chains(h), 0);
		objhash_free(h);
	}
}

const struct test_case objhash_growth_tests[] = {
	TEST_CASE(test_hash_long_vectors),
	TEST_CASE(test_hash_long_page_aligned),
	TEST_CASE(test_growth_thresholds),
	TEST_CASE(test_growth_layout),
	TEST_CASE(test_growth_1m),
	TEST_CASE(test_fixed_100k),
	TEST_CASE(test_mult_old),
};
const size_t objhash_growth_ntests =
	sizeof(objhash_growth_tests) / sizeof(objhash_growth_tests[0]);

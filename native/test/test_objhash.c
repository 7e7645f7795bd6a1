// SPDX-License-Identifier: MIT
/*
 * test_objhash.c - tests of the objhash C core
 *
 * White box: objhash.c is included here, so the tests can also check the
 * chains themselves (every entry on the right chains, newest first, the
 * same after growth as in a fresh table).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../objhash.c"
#include "harness.h"

#ifdef __linux__
#include <errno.h>	/* only to compare: the core does not use it */
#endif

/*
 * What a grab returns to refuse an entry: the caller's own value, not an
 * OBJHASH_E* code, which the core must hand back as is.
 */
#define GRAB_REFUSED	(-1000)

/* ---- helpers ---------------------------------------------------------- */

/*
 * A counting allocator: live allocations and bytes, and failure injection
 * (fail the fail_at-th call, 1-based; or every request of
 * fail_min_size..fail_max_size bytes).
 */
struct counting_alloc {
	long calls;
	long live;
	size_t live_bytes;
	long fail_at;
	size_t fail_min_size;
	size_t fail_max_size;	/* with fail_min_size; 0 = no limit */
	long failed;
};

#define CA_HDR 16

static void *ca_alloc(void *opaque, size_t size)
{
	struct counting_alloc *ca = opaque;
	unsigned char *p;

	ca->calls++;
	if ((ca->fail_at && ca->calls == ca->fail_at) ||
	    (ca->fail_min_size && size >= ca->fail_min_size &&
	     (!ca->fail_max_size || size <= ca->fail_max_size))) {
		ca->failed++;
		return NULL;
	}
	p = malloc(size + CA_HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	ca->live++;
	ca->live_bytes += size;
	return p + CA_HDR;
}

static void ca_free(void *opaque, void *ptr)
{
	struct counting_alloc *ca = opaque;
	unsigned char *p = (unsigned char *)ptr - CA_HDR;
	size_t size;

	memcpy(&size, p, sizeof(size));
	ca->live--;
	ca->live_bytes -= size;
	free(p);
}

/* what an entry should be */
struct exp {
	uint64_t key;
	int32_t objref;
	uint32_t type;
};

struct shadow {
	struct exp *e;
	size_t n, cap;
};

static void shadow_push(struct shadow *s, uint64_t key, int32_t objref,
			uint32_t type)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->e = realloc(s->e, s->cap * sizeof(*s->e));
		if (!s->e)
			abort();
	}
	s->e[s->n].key = key;
	s->e[s->n].objref = objref;
	s->e[s->n].type = type;
	s->n++;
}

/* grab/drop recorder */
struct recorder {
	struct objhash *h;
	long grabs, drops;
	long bad;		/* callback-side check failures */
	uint64_t fail_key;	/* grab refuses this key with GRAB_REFUSED */
	int32_t fail_objref;	/* ... or this objref */
	int check_invisible;	/* grab checks the entry is not visible */
	int reenter;		/* callbacks try to modify the hash */
	struct shadow grabbed, dropped;
};

static int rec_grab(void *priv, uint64_t key, uint32_t type, int32_t objref,
		    uint32_t index)
{
	struct recorder *r = priv;

	r->grabs++;
	if (r->check_invisible && r->h) {
		if (index != objhash_count(r->h))
			r->bad++;
		if (key && objhash_lookup(r->h, key, type) != 0)
			r->bad++;
		if (objhash_fetch(r->h, objref, type, NULL) != -OBJHASH_EINVAL)
			r->bad++;
	}
	if (r->reenter && r->h) {
		if (objhash_add(r->h, 0, 99) != -OBJHASH_EBUSY)
			r->bad++;
		if (objhash_reserve(r->h) != -OBJHASH_EBUSY)
			r->bad++;
		if (objhash_insert(r->h, 0, 1000000, 99) != -OBJHASH_EBUSY)
			r->bad++;
		if (objhash_lookup_add(r->h, 0xdead0, 99, NULL) != -OBJHASH_EBUSY)
			r->bad++;
	}
	if ((r->fail_key && key == r->fail_key) ||
	    (r->fail_objref && objref == r->fail_objref))
		return GRAB_REFUSED;
	shadow_push(&r->grabbed, key, objref, type);
	if (r->grabbed.n - 1 != index)
		r->bad++;
	return 0;
}

static void rec_drop(void *priv, uint64_t key, uint32_t type, int32_t objref,
		     uint32_t index)
{
	struct recorder *r = priv;

	r->drops++;
	if (index != r->dropped.n)
		r->bad++;
	if (r->reenter && r->h) {
		if (objhash_add(r->h, 0, 99) != -OBJHASH_EBUSY)
			r->bad++;
		if (key && objhash_lookup(r->h, key, type) != objref)
			r->bad++;
	}
	shadow_push(&r->dropped, key, objref, type);
}

static const struct objhash_ops rec_ops = { rec_grab, rec_drop };

static void recorder_fini(struct recorder *r)
{
	free(r->grabbed.e);
	free(r->dropped.e);
	memset(r, 0, sizeof(*r));
}

/* distinct non-zero 16-byte-aligned 48-bit keys, for i < 2^44 */
static uint64_t mkkey(uint64_t i)
{
	return (((i + 1) * UINT64_C(0x9E3779B97F4B)) &
		((UINT64_C(1) << 44) - 1)) << 4;
}

/*
 * check_chains - every entry is on the key chain of its key (if any) and
 * the objref chain of its objref, exactly once, and chains run newest
 * first.  Return: 0 if all is well.
 */
static int check_chains(const struct objhash *h)
{
	uint32_t nb = objhash_nbuckets(h), b, link, prev;
	uint64_t keyed = 0, nkeyed = 0, nref = 0;
	const struct objhash_entry *e;
	uint32_t i;
	int bad = 0;

	for (i = 0; i < h->count; i++)
		keyed += entry_at(h, i)->key != 0;
	for (b = 0; b < nb; b++) {
		prev = UINT32_MAX;
		ihlist_for_each_entry(e, link, h->khead[b], entry_at, h, knext) {
			if (link - 1 >= h->count || link - 1 >= prev ||
			    !e->key || key_bucket(h, e->key) != b)
				bad++;
			prev = link - 1;
			if (++nkeyed > h->count)
				return 1;
		}
		prev = UINT32_MAX;
		ihlist_for_each_entry(e, link, h->rhead[b], entry_at, h, rnext) {
			if (link - 1 >= h->count || link - 1 >= prev ||
			    ref_bucket(h, e->objref) != b)
				bad++;
			prev = link - 1;
			if (++nref > h->count)
				return 1;
		}
	}
	return bad || nkeyed != keyed || nref != h->count;
}

/* the hash holds exactly @s, in order, findable both ways */
static void check_contents(const struct objhash *h, const struct shadow *s)
{
	uint64_t key;
	int32_t objref;
	uint32_t type, i;
	long bad = 0;

	CHECK_EQ(objhash_count(h), s->n);
	for (i = 0; i < objhash_count(h) && i < s->n; i++) {
		const struct exp *x = &s->e[i];

		if (objhash_entry(h, i, &key, &objref, &type) ||
		    key != x->key || objref != x->objref || type != x->type)
			bad++;
		if (x->key && objhash_lookup(h, x->key, x->type) != x->objref)
			bad++;
		if (objhash_fetch(h, x->objref, x->type, &key) != i ||
		    key != x->key)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(check_chains(h), 0);
}

static void check_same_shadow(const struct shadow *a, const struct shadow *b)
{
	size_t i;
	long bad = 0;

	CHECK_EQ(a->n, b->n);
	for (i = 0; i < a->n && i < b->n; i++)
		if (a->e[i].key != b->e[i].key ||
		    a->e[i].objref != b->e[i].objref ||
		    a->e[i].type != b->e[i].type)
			bad++;
	CHECK_EQ(bad, 0);
}

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

/* ---- growth and layout ------------------------------------------------- */

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

/* ---- batches ----------------------------------------------------------- */

static void test_lookup_add_many(void)
{
	struct recorder r;
	struct objhash_config cfg;
	struct objhash *h;
	uint64_t keys[10] = { 0x10, 0x20, 0x10, 0x30, 0, 0x40 };
	int32_t refs[10];
	uint8_t first[10];
	size_t done = 99;

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = &rec_ops;
	cfg.priv = &r;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);

	/* empty and bad arguments */
	CHECK_EQ(objhash_lookup_add_many(h, NULL, 0, 1, NULL, NULL, &done), 0);
	CHECK_EQ(done, 0);
	CHECK_EQ(objhash_lookup_add_many(h, NULL, 3, 1, refs, NULL, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 1, NULL, NULL, NULL),
		 -OBJHASH_EINVAL);

	/* key 0 at [4] */
	memset(refs, 0, sizeof(refs));
	CHECK_EQ(objhash_lookup_add_many(h, keys, 6, 1, refs, first, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(done, 4);
	CHECK(refs[0] == 1 && refs[1] == 2 && refs[2] == 1 && refs[3] == 3);
	CHECK(first[0] == 1 && first[1] == 1 && first[2] == 0 &&
	      first[3] == 1);
	CHECK_EQ(refs[4], 0);
	CHECK_EQ(objhash_count(h), 3);

	/* without first[], without done */
	keys[4] = 0x50;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 6, 1, refs, NULL, NULL), 2);
	CHECK(refs[3] == 3 && refs[4] == 4 && refs[5] == 5);

	/* type mismatch at [2] */
	keys[0] = 0x60;
	keys[1] = 0x70;
	keys[2] = 0x10;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 2, refs, first, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(done, 2);
	CHECK(refs[0] == 6 && refs[1] == 7);

	/* grab refuses at [1] */
	keys[0] = 0x80;
	keys[1] = 0x90;
	keys[2] = 0xa0;
	r.fail_key = 0x90;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 2, refs, first, &done),
		 GRAB_REFUSED);
	CHECK_EQ(done, 1);
	CHECK_EQ(refs[0], 8);
	CHECK_EQ(objhash_next_objref(h), 9);
	r.fail_key = 0;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 2, refs, first, &done), 2);
	CHECK(refs[0] == 8 && refs[1] == 9 && refs[2] == 10);
	CHECK(first[0] == 0 && first[1] == 1 && first[2] == 1);
	CHECK_EQ(objhash_count(h), 10);
	CHECK_EQ(r.bad, 0);
	objhash_free(h);
	CHECK_EQ(r.drops, 10);
	recorder_fini(&r);
}

static void test_insert_many(void)
{
	struct objhash *h;
	uint64_t keys[5] = { 0x10, 0x20, 0x30, 0x40, 0x50 };
	int32_t refs[5] = { 5, 3, 9, 3, 11 };
	size_t done = 99;
	uint64_t key;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_insert_many(h, NULL, NULL, 0, 1, &done), 0);
	CHECK_EQ(done, 0);
	CHECK_EQ(objhash_insert_many(h, keys, NULL, 2, 1, &done), -OBJHASH_EINVAL);

	/* duplicate objref at [3] */
	CHECK_EQ(objhash_insert_many(h, keys, refs, 5, 1, &done), -OBJHASH_EINVAL);
	CHECK_EQ(done, 3);
	CHECK_EQ(objhash_count(h), 3);
	CHECK_EQ(objhash_next_objref(h), 10);

	/* duplicate key at [0] */
	refs[3] = 4;
	CHECK_EQ(objhash_insert_many(h, keys + 2, refs + 3, 2, 1, &done),
		 -OBJHASH_EEXIST);
	CHECK_EQ(done, 0);

	/* success returns n; keys NULL gives keyless entries */
	CHECK_EQ(objhash_insert_many(h, keys + 3, refs + 3, 2, 1, &done), 2);
	CHECK_EQ(done, 2);
	refs[0] = 20;
	refs[1] = 21;
	CHECK_EQ(objhash_insert_many(h, NULL, refs, 2, 4, NULL), 2);
	CHECK_EQ(objhash_fetch(h, 21, 4, &key), 6);
	CHECK_EQ(key, 0);
	CHECK_EQ(objhash_fetch(h, 4, 1, &key), 3);
	CHECK_EQ(key, 0x40);
	CHECK_EQ(objhash_next_objref(h), 22);

	/* objref <= 0 */
	refs[0] = 30;
	refs[1] = 0;
	CHECK_EQ(objhash_insert_many(h, NULL, refs, 2, 4, &done), -OBJHASH_EINVAL);
	CHECK_EQ(done, 1);
	CHECK_EQ(objhash_count(h), 8);
	objhash_free(h);
}

static void test_fetch_many(void)
{
	struct objhash *h;
	int32_t refs[6] = { 3, 1, 2, 7, 1, 2 };
	uint64_t keys[6];
	uint32_t index[6];
	size_t done = 99;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	CHECK_EQ(objhash_add(h, 0, 1), 2);
	CHECK_EQ(objhash_lookup_add(h, 0x30, 1, NULL), 3);
	CHECK_EQ(objhash_insert(h, 0x40, 7, 2), 0);

	CHECK_EQ(objhash_fetch_many(h, NULL, 0, 1, NULL, NULL, &done), 0);
	CHECK_EQ(done, 0);
	CHECK_EQ(objhash_fetch_many(h, NULL, 1, 1, NULL, NULL, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(objhash_fetch_many(h, refs, 3, 1, keys, index, &done), 0);
	CHECK_EQ(done, 3);
	CHECK(keys[0] == 0x30 && keys[1] == 0x10 && keys[2] == 0);
	CHECK(index[0] == 2 && index[1] == 0 && index[2] == 1);

	/* wrong type at [3] */
	CHECK_EQ(objhash_fetch_many(h, refs, 6, 1, keys, NULL, &done),
		 -OBJHASH_ENOMSG);
	CHECK_EQ(done, 3);
	/* absent at [1] */
	refs[1] = 8;
	CHECK_EQ(objhash_fetch_many(h, refs, 6, 1, NULL, index, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(done, 1);
	refs[1] = -1;
	CHECK_EQ(objhash_fetch_many(h, refs, 6, 1, NULL, NULL, NULL), -OBJHASH_EINVAL);
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

const struct test_case objhash_tests[] = {
	TEST_CASE(test_codes),
	TEST_CASE(test_hash_long_vectors),
	TEST_CASE(test_hash_long_page_aligned),
	TEST_CASE(test_alloc_config),
	TEST_CASE(test_objref_sequence),
	TEST_CASE(test_lookup),
	TEST_CASE(test_type_mismatch),
	TEST_CASE(test_fetch),
	TEST_CASE(test_add),
	TEST_CASE(test_insert),
	TEST_CASE(test_reserve),
	TEST_CASE(test_objref_exhaustion),
	TEST_CASE(test_grab_before_visible),
	TEST_CASE(test_grab_failure),
	TEST_CASE(test_callbacks_cannot_add),
	TEST_CASE(test_drop_order),
	TEST_CASE(test_growth_thresholds),
	TEST_CASE(test_growth_layout),
	TEST_CASE(test_growth_1m),
	TEST_CASE(test_fixed_100k),
	TEST_CASE(test_mult_old),
	TEST_CASE(test_lookup_add_many),
	TEST_CASE(test_insert_many),
	TEST_CASE(test_fetch_many),
	TEST_CASE(test_alloc_failure),
};
const size_t objhash_ntests = sizeof(objhash_tests) / sizeof(objhash_tests[0]);

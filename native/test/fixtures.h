/* SPDX-License-Identifier: MIT */
/*
 * fixtures.h - what the objhash tests share (fixtures.c)
 *
 * White box: the tests see struct objhash and the chains through
 * objhash_impl.h, so they can also check the chains themselves (every
 * entry on the right chains, newest first, the same after growth as in a
 * fresh table).  The test binary links the core's objhash.o.
 *
 * A counting allocator with failure injection, a shadow list of expected
 * entries, a grab/drop recorder, keys, and the checks that a hash holds
 * what a shadow says.
 */
#ifndef OBJHASH_TEST_FIXTURES_H
#define OBJHASH_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "../objhash_impl.h"

/*
 * What a grab returns to refuse an entry: the caller's own value, not an
 * OBJHASH_E* code, which the core must hand back as is.
 */
#define GRAB_REFUSED	(-1000)

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

void *ca_alloc(void *opaque, size_t size);
void ca_free(void *opaque, void *ptr);

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

void shadow_push(struct shadow *s, uint64_t key, int32_t objref,
		 uint32_t type);

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

/* ops whose priv is a struct recorder */
extern const struct objhash_ops rec_ops;

void recorder_fini(struct recorder *r);

/* distinct non-zero 16-byte-aligned 48-bit keys, for i < 2^44 */
uint64_t mkkey(uint64_t i);

int check_chains(const struct objhash *h);
void check_contents(const struct objhash *h, const struct shadow *s);
void check_same_shadow(const struct shadow *a, const struct shadow *b);

#endif /* OBJHASH_TEST_FIXTURES_H */

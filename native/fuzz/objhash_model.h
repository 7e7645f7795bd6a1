/* SPDX-License-Identifier: MIT */
/*
 * objhash_model.h - what fuzz_objhash.c checks the core against
 * (objhash_model.c)
 *
 * The input reader; an allocator that counts every live block and fails
 * on demand; the model, which uses another algorithm than the core (open
 * addressing over keys and over objrefs, where the core chains), and what
 * it predicts one item does; the state of one input (the hash, the
 * allocator, the model and the log of grab calls), with settle_add(),
 * which matches a predicted add to the grab log and the core's result,
 * and the checks of the whole hash against the model.
 *
 * A failed check calls abort(): libFuzzer reports it and keeps the input.
 */
#ifndef OBJHASH_FUZZ_MODEL_H
#define OBJHASH_FUZZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "objhash.h"

/*
 * What a grab returns to refuse an entry: the caller's own value, not an
 * OBJHASH_E* code, which the core must hand back as is.
 */
#define GRAB_REFUSED	(-1000)

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c))                                               \
			check_failed(__FILE__, __LINE__, #c);           \
	} while (0)

void check_failed(const char *file, int line, const char *what);

/* ------------------------------------------------------------------ input */

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t in_u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t in_u16(struct input *in)
{
	uint16_t v = in_u8(in);

	return (uint16_t)(v | (uint16_t)in_u8(in) << 8);
}

static inline uint32_t in_u32(struct input *in)
{
	uint32_t v = in_u16(in);

	return v | (uint32_t)in_u16(in) << 16;
}

static inline uint64_t in_u64(struct input *in)
{
	uint64_t v = in_u32(in);

	return v | (uint64_t)in_u32(in) << 32;
}

/* -------------------------------------------------------------- allocator */

#define MAX_LIVE 4096

struct fault_alloc {
	void *ptr[MAX_LIVE];
	size_t size[MAX_LIVE];
	unsigned int nlive;
	size_t live_bytes;
	unsigned long calls;
	unsigned long fail_at;		/* fail this call (1-based); 0: never */
	unsigned long fail_from;	/* fail every call from this one on */
	unsigned long failed;		/* failures so far */
};

void *fa_alloc(void *opaque, size_t size);
void fa_free(void *opaque, void *p);

/* ------------------------------------------------------------------ model */

#define MODEL_CAP 32768u
#define SLOTS 65536u		/* > 2 * MODEL_CAP, a power of two */
#define EXHAUSTED 0x80000000u	/* next objref once 0x7fffffff is used */
#define BULK_MAX 6000u
#define BATCH_MAX 16u

struct ment {
	uint64_t key;
	int32_t objref;
	uint32_t type;
};

struct model {
	struct ment e[MODEL_CAP];
	uint32_t n;
	uint32_t next;
	uint32_t kslot[SLOTS];	/* index + 1, or 0 */
	uint32_t rslot[SLOTS];
	uint32_t used[2 * MODEL_CAP];	/* slots set, to clear them */
	uint32_t nused;
};

static inline uint32_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (uint32_t)x;
}

int m_find_key(const struct model *m, uint64_t key);
int m_find_ref(const struct model *m, int32_t objref);
void m_add(struct model *m, uint64_t key, int32_t objref, uint32_t type);

/* what the model says one item does */
enum { P_FOUND, P_ADD, P_ERR };

struct pred {
	int kind;
	int err;
	int32_t objref;
};

struct pred pred_lookup_add(const struct model *m, uint64_t key,
			    uint32_t type);
struct pred pred_add(const struct model *m, uint64_t key);
struct pred pred_insert(const struct model *m, uint64_t key, int32_t objref);

/* ------------------------------------------------------------------ state */

struct glog {
	uint64_t key;
	uint32_t type;
	int32_t objref;
	uint32_t index;
	int refused;
};

struct state {
	struct objhash *h;
	struct fault_alloc a;
	struct model m;
	struct glog log[BULK_MAX + BATCH_MAX];
	uint32_t nlog;		/* grab calls in this operation */
	uint32_t logpos;	/* ... matched to predicted adds */
	unsigned long failed_before;	/* a.failed when the op began */
	int has_grab, has_drop;
	int refuse_next;	/* the next grab returns GRAB_REFUSED */
	int reenter;		/* callbacks probe the hash */
	uint32_t drops;
	unsigned int nbits0;
	unsigned int max_load;
	unsigned int flags;
	uint64_t pool[16];
};

void reset_state(struct state *s);
void settle_add(struct state *s, uint64_t key, uint32_t type,
		int32_t objref, int err);
void check_invariants(const struct state *s);
void check_all_entries(const struct state *s);

#endif /* OBJHASH_FUZZ_MODEL_H */

/* SPDX-License-Identifier: MIT */
/*
 * objhash - a one-way hash of shared objects for checkpoint/restart
 *
 * A reimplementation of the Linux kernel c/r "infrastructure for shared
 * objects" (Oren Laadan, 2009) over 64-bit keys, in plain C99 with no
 * Node.js headers:
 *
 *  - on checkpoint an object is looked up by its key (the kernel used the
 *    object's address); on first encounter it is added, grabbed and given
 *    the next objref (1, 2, 3, ...);
 *  - on restart an object is inserted under the objref read from the image
 *    and later fetched by that objref;
 *  - the hash is one-way: nothing is removed until objhash_free(), which
 *    drops every object exactly once, in insertion order.
 *
 * Every entry is chained twice, by key (when it has one) and by objref, so
 * both kinds of lookup work on every entry.  Buckets are hlist-style heads
 * selected by hash_long(); the table doubles when it passes its load limit
 * unless OBJHASH_FIXED keeps the kernel's fixed 1 << nbits buckets.
 * Entries are carved from an arena of fixed-size chunks and never move, so
 * an entry's index (0, 1, 2, ... in insertion order) is stable for life.
 *
 * Errors are negative OBJHASH_E* codes (below), never the host's errno.
 * There is no global state: every allocation goes through the hash's
 * struct objhash_allocator.
 *
 * This header is the one source of the codes, limits and flag bits: the
 * Node binding exports them to JS (`codes`, `limits`) and
 * scripts/gen-codes.js writes lib/backend/codes.ts from the #defines
 * below.  After changing one, run `npm run gen`.
 */
#ifndef OBJHASH_H
#define OBJHASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error codes: objhash's own numbers, returned negated (-OBJHASH_EINVAL).
 * Their values are Linux's errno numbers, fixed here so that they are the
 * same on every platform (macOS's ENOMSG is 91, not 42); a host's errno
 * is never reported.  The core returns E2BIG, ENOMEM, EBUSY, EEXIST,
 * EINVAL and ENOMSG; the binding adds EBADF; EIO, EPIPE, ELOOP and
 * EBADMSG are the image reader's and writer's, listed here so that every
 * code objhash reports is in this one table.
 */
#define OBJHASH_EIO		5	/* image ends in an ERROR record */
#define OBJHASH_E2BIG		7	/* out of objrefs; over a limit */
#define OBJHASH_EBADF		9	/* the hash was freed */
#define OBJHASH_ENOMEM		12	/* an allocation failed */
#define OBJHASH_EBUSY		16	/* re-entered from grab or drop */
#define OBJHASH_EEXIST		17	/* the key is already present */
#define OBJHASH_EINVAL		22	/* bad argument, objref absent */
#define OBJHASH_EPIPE		32	/* image truncated */
#define OBJHASH_ELOOP		40	/* objects nested too deep */
#define OBJHASH_ENOMSG		42	/* objref of another type */
#define OBJHASH_EBADMSG		74	/* image checksum or tail wrong */

/* the kernel's CKPT_OBJ_HASH_NBITS: 1024 buckets */
#define OBJHASH_DEFAULT_NBITS	10
#define OBJHASH_MIN_NBITS	1
#define OBJHASH_MAX_NBITS	28
/* grow when count > max_load << nbits; max_load is 1..OBJHASH_MAX_LOAD */
#define OBJHASH_DEFAULT_MAX_LOAD 1
#define OBJHASH_MAX_LOAD	1024u
/* objrefs are positive s32: at most this many entries */
#define OBJHASH_MAX_OBJREF	0x7fffffff

/* hash_long() multipliers: today's kernel hash_64, and the 2009 one */
#define OBJHASH_MULT_CURRENT	UINT64_C(0x61C8864680B583EB)
#define OBJHASH_MULT_2009	UINT64_C(0x9e37fffffffc0001)

/* struct objhash_config.flags */
#define OBJHASH_FIXED		0x1u	/* never grow: the kernel's layout */
#define OBJHASH_MULT_OLD	0x2u	/* bucket with the 2009 multiplier */

/**
 * struct objhash_allocator - the one allocation hook
 * @alloc: return @size bytes, or NULL (the hash then fails with
 *         -OBJHASH_ENOMEM)
 * @free: release memory returned by @alloc (never called with NULL)
 * @opaque: passed to both
 *
 * A NULL allocator in struct objhash_config means malloc()/free().
 */
struct objhash_allocator {
	void *(*alloc)(void *opaque, size_t size);
	void (*free)(void *opaque, void *ptr);
	void *opaque;
};

/**
 * struct objhash_ops - reference callbacks, as the kernel's ckpt_obj_ops
 * @grab: take a reference to a new entry before it becomes visible;
 *        return 0, or a negative value to refuse: the entry is not added
 *        and the value is returned to the caller as is (an OBJHASH_E*
 *        code, or one of the caller's own).  May be NULL.
 * @drop: release the reference; called once per entry by objhash_free(),
 *        in insertion order.  May be NULL.
 *
 * Both receive the hash's @priv, the entry's key (0 for an entry without
 * a key), its objtype, objref, and index (insertion order, from 0).
 * They may read the hash but not add to it: while one runs, anything that
 * would add or use up an objref fails with -OBJHASH_EBUSY.  They must not
 * free it.
 */
struct objhash_ops {
	int (*grab)(void *priv, uint64_t key, uint32_t type, int32_t objref,
		    uint32_t index);
	void (*drop)(void *priv, uint64_t key, uint32_t type, int32_t objref,
		     uint32_t index);
};

/**
 * struct objhash_config - creation parameters (all-zero means defaults)
 * @nbits: log2 of the initial bucket count; 0 means OBJHASH_DEFAULT_NBITS
 * @max_load: entries per bucket before doubling; 0 means the default
 * @flags: OBJHASH_FIXED, OBJHASH_MULT_OLD
 * @ops: grab/drop callbacks, or NULL for none
 * @priv: passed to @ops
 * @allocator: allocation hook, or NULL for malloc()/free()
 */
struct objhash_config {
	unsigned int nbits;
	unsigned int max_load;
	unsigned int flags;
	const struct objhash_ops *ops;
	void *priv;
	const struct objhash_allocator *allocator;
};

struct objhash;

/**
 * objhash_hash_long - bucket of @val among 1 << @bits buckets
 * @val: the key
 * @bits: log2 of the bucket count, 1..64
 * @mult: OBJHASH_MULT_CURRENT or OBJHASH_MULT_2009
 *
 * Return: (@val * @mult mod 2^64) >> (64 - @bits)
 */
static inline uint64_t objhash_hash_long(uint64_t val, unsigned int bits,
					 uint64_t mult)
{
	return (val * mult) >> (64 - bits);
}

/**
 * objhash_alloc - create an empty hash (ckpt_obj_hash_alloc)
 * @hp: [output] the new hash
 * @cfg: parameters, or NULL for the defaults
 *
 * Return: 0, -OBJHASH_EINVAL for a bad parameter, -OBJHASH_ENOMEM
 */
int objhash_alloc(struct objhash **hp, const struct objhash_config *cfg);

/**
 * objhash_free - drop every entry once, in insertion order, and free the
 * hash (ckpt_obj_hash_free).  NULL is a no-op.
 */
void objhash_free(struct objhash *h);

/**
 * objhash_lookup - find an entry by key (ckpt_obj_lookup)
 * @key: non-zero key
 * @type: expected objtype
 *
 * Return: objref, 0 if absent, -OBJHASH_EINVAL if @key is 0 or the entry found
 * has another type (where the kernel has BUG_ON)
 */
int objhash_lookup(const struct objhash *h, uint64_t key, uint32_t type);

/**
 * objhash_lookup_add - find by key, or add with the next objref
 * (ckpt_obj_lookup_add)
 * @key: non-zero key
 * @type: objtype
 * @first: [output] 1 if the entry was added now, else 0; may be NULL
 *
 * Return: objref, -OBJHASH_EINVAL (key 0 or type mismatch),
 * -OBJHASH_ENOMEM, -OBJHASH_E2BIG (out of objrefs), -OBJHASH_EBUSY (from a
 * callback), or the negative value of ops->grab
 */
int objhash_lookup_add(struct objhash *h, uint64_t key, uint32_t type,
		       int *first);

/**
 * objhash_add - add a new entry with the next objref, without looking up
 * @key: key, or 0 for an entry found only by objref (the caller resolves
 *       its identity elsewhere, as the Node binding does for JS objects)
 * @type: objtype
 *
 * A non-zero @key that is already present is -OBJHASH_EEXIST.
 *
 * Return: objref or a negative code, as objhash_lookup_add()
 */
int objhash_add(struct objhash *h, uint64_t key, uint32_t type);

/**
 * objhash_insert - add an entry under a given objref (ckpt_obj_insert)
 * @key: key, or 0 for none; a non-zero key already present is
 *       -OBJHASH_EEXIST
 * @objref: > 0 and not yet in the hash
 * @type: objtype
 *
 * next_objref becomes max(next_objref, @objref + 1).
 *
 * Return: 0, -OBJHASH_EINVAL (objref <= 0 or already used),
 * -OBJHASH_EEXIST, -OBJHASH_ENOMEM, -OBJHASH_EBUSY, or the negative value
 * of ops->grab
 */
int objhash_insert(struct objhash *h, uint64_t key, int32_t objref,
		   uint32_t type);

/**
 * objhash_fetch - find an entry by objref (ckpt_obj_fetch)
 * @objref: the objref
 * @type: expected objtype
 * @key: [output] the entry's key (0 if none); may be NULL
 *
 * Return: the entry's index (>= 0), -OBJHASH_EINVAL if absent,
 * -OBJHASH_ENOMSG if the entry has another type
 */
int64_t objhash_fetch(const struct objhash *h, int32_t objref, uint32_t type,
		      uint64_t *key);

/**
 * objhash_reserve - skip an objref, as later kernels' ckpt_obj_reserve
 *
 * Return: the objref skipped, or -OBJHASH_E2BIG when out of objrefs
 */
int objhash_reserve(struct objhash *h);

/**
 * objhash_entry - read entry @index (0 .. count-1)
 * Return: 0, or -OBJHASH_EINVAL if @index is out of range.  Outputs may be
 * NULL.
 */
int objhash_entry(const struct objhash *h, uint32_t index, uint64_t *key,
		  int32_t *objref, uint32_t *type);

/*
 * number of entries; next objref to hand out (-OBJHASH_E2BIG once objref
 * OBJHASH_MAX_OBJREF has been used); current bucket count
 */
uint32_t objhash_count(const struct objhash *h);
int32_t objhash_next_objref(const struct objhash *h);
uint32_t objhash_nbuckets(const struct objhash *h);
/* bytes allocated through the allocator, for memory-per-entry figures */
size_t objhash_memory(const struct objhash *h);

/*
 * Batch forms: one call for @n keys.  They stop at the first error, with
 * *@done set to the number of items completed (entries added before the
 * error stay: the hash is one-way).  Return: the number of entries added,
 * or a negative code.
 */

/**
 * objhash_lookup_add_many - objhash_lookup_add() over @keys[0..n)
 * @objrefs: [output] objref of each key
 * @first: [output] 1 where the key was added now, else 0; may be NULL
 */
int64_t objhash_lookup_add_many(struct objhash *h, const uint64_t *keys,
				size_t n, uint32_t type, int32_t *objrefs,
				uint8_t *first, size_t *done);

/**
 * objhash_insert_many - objhash_insert() of (@keys[i], @objrefs[i])
 * @keys: may be NULL: the entries get no key
 */
int64_t objhash_insert_many(struct objhash *h, const uint64_t *keys,
			    const int32_t *objrefs, size_t n, uint32_t type,
			    size_t *done);

/**
 * objhash_fetch_many - objhash_fetch() of @objrefs[0..n)
 * @keys: [output] each entry's key; may be NULL
 * @index: [output] each entry's index; may be NULL
 * Return: 0, -OBJHASH_EINVAL (an objref absent) or -OBJHASH_ENOMSG (of
 * another type)
 */
int64_t objhash_fetch_many(const struct objhash *h, const int32_t *objrefs,
			   size_t n, uint32_t type, uint64_t *keys,
			   uint32_t *index, size_t *done);

#ifdef __cplusplus
}
#endif

#endif /* OBJHASH_H */

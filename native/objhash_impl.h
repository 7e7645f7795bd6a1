/* SPDX-License-Identifier: MIT */
/*
 * objhash_impl.h - what objhash.c and objhash_many.c share; not installed,
 * not for the binding (which sees objhash.h only)
 *
 * The layout of a hash (struct objhash, its arena of entries and its two
 * chains: see objhash.c), and the per-item steps that both the per-call
 * API (objhash.c) and the batch loops (objhash_many.c) are made of:
 * lookup_add_one(), insert_one() and fetch_one().  Every new entry goes
 * through objhash_add_entry(), in objhash.c, the one function defined
 * outside this header.
 *
 * Tiny static inline helpers only, no globals; plain C99.
 */
#ifndef OBJHASH_IMPL_H
#define OBJHASH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "objhash.h"
#include "list.h"

/* entries per arena chunk: 1 << OBJHASH_CHUNK_SHIFT */
#define OBJHASH_CHUNK_SHIFT	12
#define OBJHASH_CHUNK_SIZE	(1u << OBJHASH_CHUNK_SHIFT)
#define OBJHASH_CHUNK_MASK	(OBJHASH_CHUNK_SIZE - 1)

/* next_objref past the last objref: nothing left to hand out */
#define OBJHASH_OBJREF_EXHAUSTED ((uint32_t)OBJHASH_MAX_OBJREF + 1u)

/* how many adds on add_next() warms the objref chain head */
#ifndef OBJHASH_PREFETCH_NEXT
#define OBJHASH_PREFETCH_NEXT	8
#endif

#ifdef __GNUC__
#define objhash_prefetch(p)	__builtin_prefetch(p)
#define objhash_prefetchw(p)	__builtin_prefetch(p, 1)
#define objhash_likely(x)	__builtin_expect(!!(x), 1)
#define objhash_unlikely(x)	__builtin_expect(!!(x), 0)
#else
#define objhash_prefetch(p)	((void)(p))
#define objhash_prefetchw(p)	((void)(p))
#define objhash_likely(x)	(x)
#define objhash_unlikely(x)	(x)
#endif

struct objhash_entry {
	uint64_t key;		/* 0: no key, not on a key chain */
	int32_t objref;
	uint32_t type;
	uint32_t knext;		/* link of the next entry on the key chain */
	uint32_t rnext;		/* link of the next entry on the objref chain */
};

struct objhash {
	struct objhash_entry **chunks;	/* the arena */
	uint32_t *khead;		/* 1 << nbits heads, by key */
	uint32_t *rhead;		/* 1 << nbits heads, by objref */
	uint64_t mult;			/* hash_long() multiplier */
	uint64_t grow_at;		/* grow before adding at this count */
	size_t memory;			/* bytes held from the allocator */
	uint32_t count;			/* entries, = index of the next one */
	uint32_t nchunks;		/* chunks allocated */
	uint32_t chunks_cap;		/* room in @chunks */
	uint32_t next_objref;		/* 1 .. OBJHASH_OBJREF_EXHAUSTED */
	unsigned int nbits;
	unsigned int max_load;
	unsigned int flags;
	int busy;			/* in ops.grab or ops.drop */
	struct objhash_ops ops;
	void *priv;
	struct objhash_allocator allocator;
};

/**
 * objhash_add_entry - the one way in: slot, grab, grow, link (objhash.c)
 * @h: the hash
 * @key: key, or 0 for none; already checked by the caller
 * @type: objtype
 * @objref: objref; already checked by the caller
 *
 * Nothing is visible, and nothing but arena capacity is left behind,
 * until ops->grab has said yes.  Does not touch next_objref.
 *
 * Return: 0, -OBJHASH_EBUSY, -OBJHASH_ENOMEM, or the negative value of
 * ops->grab
 */
int objhash_add_entry(struct objhash *h, uint64_t key, uint32_t type,
		      int32_t objref);

/**
 * key_bucket - the key chain @key is on
 * @h: the hash
 * @key: the key
 *
 * Return: index into @h->khead
 */
static inline uint32_t key_bucket(const struct objhash *h, uint64_t key)
{
	return (uint32_t)objhash_hash_long(key, h->nbits, h->mult);
}

/**
 * ref_bucket - the objref chain @objref is on
 * @h: the hash
 * @objref: the objref, hashed as a u32
 *
 * Return: index into @h->rhead
 */
static inline uint32_t ref_bucket(const struct objhash *h, int32_t objref)
{
	return (uint32_t)objhash_hash_long((uint64_t)(uint32_t)objref,
					   h->nbits, h->mult);
}

/**
 * entry_at - the entry at @index in the arena
 * @h: the hash
 * @index: 0 .. (arena capacity - 1)
 *
 * Return: the entry (never moves while @h lives)
 */
static inline struct objhash_entry *entry_at(const struct objhash *h,
					     uint32_t index)
{
	return &h->chunks[index >> OBJHASH_CHUNK_SHIFT]
			 [index & OBJHASH_CHUNK_MASK];
}

/**
 * find_key - walk @key's chain
 * @h: the hash
 * @key: a non-zero key
 *
 * Return: the entry with @key, or NULL
 */
static inline struct objhash_entry *find_key(const struct objhash *h,
					     uint64_t key)
{
	struct objhash_entry *e;
	uint32_t link;

	ihlist_for_each_entry(e, link, h->khead[key_bucket(h, key)],
			      entry_at, h, knext)
		if (e->key == key)
			return e;
	return NULL;
}

/**
 * find_ref - walk @objref's chain
 * @h: the hash
 * @objref: the objref
 *
 * Return: the link (index + 1) of the entry with @objref, or 0
 */
static inline uint32_t find_ref(const struct objhash *h, int32_t objref)
{
	struct objhash_entry *e;
	uint32_t link;

	ihlist_for_each_entry(e, link, h->rhead[ref_bucket(h, objref)],
			      entry_at, h, rnext)
		if (e->objref == objref)
			break;
	return link;
}

/**
 * add_next - add an entry with the next objref
 * @h: the hash
 * @key: key, or 0 for none; already checked by the caller
 * @type: objtype
 *
 * Return: the objref, or a negative code (-OBJHASH_E2BIG when out of
 * objrefs, else as objhash_add_entry())
 */
static inline int add_next(struct objhash *h, uint64_t key, uint32_t type)
{
	int32_t objref;
	int ret;

	if (objhash_unlikely(h->next_objref >= OBJHASH_OBJREF_EXHAUSTED))
		return -OBJHASH_E2BIG;
	objref = (int32_t)h->next_objref;
	/* objrefs come in order: warm the head that add will write */
	objhash_prefetchw(&h->rhead[objhash_hash_long(
		(uint64_t)(h->next_objref + OBJHASH_PREFETCH_NEXT),
		h->nbits, h->mult)]);
	ret = objhash_add_entry(h, key, type, objref);
	if (ret < 0)
		return ret;
	h->next_objref++;
	return objref;
}

/**
 * lookup_add_one - one objhash_lookup_add()
 * @h: the hash
 * @key: the key (0 is -OBJHASH_EINVAL)
 * @type: objtype
 * @first: [output] 1 if an add was tried, 0 if @key was found; set unless
 *         @key is 0 or the entry found has another type
 *
 * Return: objref or a negative code
 */
static inline int lookup_add_one(struct objhash *h, uint64_t key,
				 uint32_t type, int *first)
{
	struct objhash_entry *e;

	if (objhash_unlikely(!key))
		return -OBJHASH_EINVAL;
	e = find_key(h, key);
	if (e) {
		if (objhash_unlikely(e->type != type))
			return -OBJHASH_EINVAL;
		*first = 0;
		return e->objref;
	}
	*first = 1;
	return add_next(h, key, type);
}

/**
 * insert_one - one objhash_insert()
 * @h: the hash
 * @key: key, or 0 for none
 * @objref: > 0 and not yet in the hash (checked before @key)
 * @type: objtype
 *
 * Return: 0 or a negative code
 */
static inline int insert_one(struct objhash *h, uint64_t key, int32_t objref,
			     uint32_t type)
{
	int ret;

	if (objref <= 0 || find_ref(h, objref))
		return -OBJHASH_EINVAL;
	if (key && find_key(h, key))
		return -OBJHASH_EEXIST;
	ret = objhash_add_entry(h, key, type, objref);
	if (ret < 0)
		return ret;
	if ((uint32_t)objref >= h->next_objref)
		h->next_objref = (uint32_t)objref + 1;
	return 0;
}

/**
 * fetch_one - one objhash_fetch()
 * @h: the hash
 * @objref: the objref
 * @type: expected objtype
 * @key: [output] the entry's key, set on success; may be NULL
 *
 * Return: the entry's index (>= 0) or a negative code
 */
static inline int64_t fetch_one(const struct objhash *h, int32_t objref,
				uint32_t type, uint64_t *key)
{
	struct objhash_entry *e;
	uint32_t link;

	if (objref <= 0)
		return -OBJHASH_EINVAL;
	link = find_ref(h, objref);
	if (!link)
		return -OBJHASH_EINVAL;
	e = entry_at(h, ihlist_index(link));
	if (e->type != type)
		return -OBJHASH_ENOMSG;
	if (key)
		*key = e->key;
	return ihlist_index(link);
}

#endif /* OBJHASH_IMPL_H */

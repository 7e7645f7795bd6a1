// SPDX-License-Identifier: MIT
/*
 * objhash.c - a one-way hash of shared objects for checkpoint/restart
 *
 * Layout:
 *
 *  - entries (24 bytes) are carved in insertion order from an arena of
 *    OBJHASH_CHUNK_SIZE-entry chunks; a chunk is never moved or freed
 *    before objhash_free(), so an entry's index is its identity;
 *  - two arrays of 1 << nbits chain heads: entries with a key are
 *    chained by hash_long(key), every entry is chained by
 *    hash_long((u32) objref); chains are hlists of index links (list.h),
 *    newest first;
 *  - unless OBJHASH_FIXED, both arrays double when an add would take the
 *    count past max_load << nbits.  Rehashing walks the entries in
 *    insertion order and pushes each on its chain head, so the chains
 *    come out exactly as a fresh table of the new size would have them.
 *    Growth is only an optimisation: if the bigger arrays cannot be
 *    allocated the table keeps its old ones and tries again later, and
 *    the add goes on.  Only running out of memory for an entry is
 *    -OBJHASH_ENOMEM.
 *
 * The batch forms (objhash_*_many) are in objhash_many.c; struct
 * objhash, the chain walks and the per-item steps both files use are in
 * objhash_impl.h.  All memory goes through the hash's struct
 * objhash_allocator.
 */
#include <stdlib.h>
#include <string.h>

#include "objhash_impl.h"

#define OBJHASH_MIN_CHUNKS_CAP	16u

#define OBJHASH_KNOWN_FLAGS	(OBJHASH_FIXED | OBJHASH_MULT_OLD)

/* how many entries ahead grow() warms the new chain heads it will write */
#ifndef OBJHASH_PREFETCH_REHASH
#define OBJHASH_PREFETCH_REHASH	16
#endif

/* the default allocator: malloc() and free() */

static void *objhash_malloc(void *opaque, size_t size)
{
	(void)opaque;
	return malloc(size);
}

static void objhash_mfree(void *opaque, void *ptr)
{
	(void)opaque;
	free(ptr);
}

static void *oh_alloc(struct objhash *h, size_t size)
{
	void *p = h->allocator.alloc(h->allocator.opaque, size);

	if (p)
		h->memory += size;
	return p;
}

static void oh_free(struct objhash *h, void *p, size_t size)
{
	if (!p)
		return;
	h->allocator.free(h->allocator.opaque, p);
	h->memory -= size;
}

static inline size_t heads_size(unsigned int nbits)
{
	return sizeof(uint32_t) << nbits;
}

/*
 * alloc_heads - an array of 1 << @nbits empty heads, or NULL.  With the
 * default allocator it comes from calloc(): a large table's pages are
 * zeroed by the system when first touched, so a table made big up front
 * (the facade sizes a checkpoint's like the last one) costs nothing until
 * it is used, where alloc + memset would touch all of it at once (~25 ms
 * for 2 x 4 MiB in a VM).  An empty head is IHLIST_END, which is 0.
 */
#if IHLIST_END != 0
#error "alloc_heads() relies on an empty head being all zero bits"
#endif

static uint32_t *alloc_heads(struct objhash *h, unsigned int nbits)
{
	uint32_t *heads;

	if (h->allocator.alloc == objhash_malloc) {
		heads = calloc((size_t)1 << nbits, sizeof(*heads));
		if (heads)
			h->memory += heads_size(nbits);
		return heads;
	}
	heads = oh_alloc(h, heads_size(nbits));
	if (heads)
		ihlist_init_heads(heads, (size_t)1 << nbits);
	return heads;
}

/* the count at which a table of 1 << @nbits buckets should grow */
static inline uint64_t grow_limit(const struct objhash *h, unsigned int nbits)
{
	if ((h->flags & OBJHASH_FIXED) || nbits >= OBJHASH_MAX_NBITS)
		return UINT64_MAX;
	return (uint64_t)h->max_load << nbits;
}

/* push entry @index on the chains of both heads arrays */
static inline void link_entry(uint32_t *khead, uint32_t *rhead,
			      unsigned int nbits, uint64_t mult,
			      struct objhash_entry *e, uint32_t index)
{
	uint64_t ref = (uint64_t)(uint32_t)e->objref;

	if (e->key)
		ihlist_add_head(&khead[objhash_hash_long(e->key, nbits, mult)],
				&e->knext, index);
	else
		e->knext = IHLIST_END;
	ihlist_add_head(&rhead[objhash_hash_long(ref, nbits, mult)],
			&e->rnext, index);
}

/*
 * grow - double the buckets (more than once if an earlier growth failed)
 * so that the table has room for one more entry; on allocation failure
 * keep the old buckets and retry once the count has grown by half.
 */
static void grow(struct objhash *h)
{
	uint64_t want = (uint64_t)h->count + 1;
	unsigned int nbits = h->nbits;
	uint32_t *khead, *rhead;
	uint32_t i;

	while (nbits < OBJHASH_MAX_NBITS && grow_limit(h, nbits) < want)
		nbits++;
	if (nbits == h->nbits) {
		h->grow_at = grow_limit(h, nbits);
		return;
	}

	khead = alloc_heads(h, nbits);
	rhead = khead ? alloc_heads(h, nbits) : NULL;
	if (!rhead) {
		oh_free(h, khead, heads_size(nbits));
		h->grow_at = (uint64_t)h->count + h->count / 2 + 1;
		return;
	}

	/* insertion order: the chains come out as a fresh table's */
	for (i = 0; i < h->count; i++) {
		if (i + OBJHASH_PREFETCH_REHASH < h->count) {
			const struct objhash_entry *p;

			p = entry_at(h, i + OBJHASH_PREFETCH_REHASH);
			if (p->key)
				objhash_prefetchw(&khead[objhash_hash_long(
					p->key, nbits, h->mult)]);
			objhash_prefetchw(&rhead[objhash_hash_long(
				(uint64_t)(uint32_t)p->objref, nbits,
				h->mult)]);
		}
		link_entry(khead, rhead, nbits, h->mult, entry_at(h, i), i);
	}

	oh_free(h, h->khead, heads_size(h->nbits));
	oh_free(h, h->rhead, heads_size(h->nbits));
	h->khead = khead;
	h->rhead = rhead;
	h->nbits = nbits;
	h->grow_at = grow_limit(h, nbits);
}

/* Return: the arena slot for entry h->count, or NULL when out of memory */
static struct objhash_entry *reserve_slot(struct objhash *h)
{
	struct objhash_entry *chunk;
	uint32_t c = h->count >> OBJHASH_CHUNK_SHIFT;

	if (objhash_likely(c < h->nchunks))
		return &h->chunks[c][h->count & OBJHASH_CHUNK_MASK];

	if (h->nchunks == h->chunks_cap) {
		uint32_t cap = h->chunks_cap ? h->chunks_cap * 2 :
					       OBJHASH_MIN_CHUNKS_CAP;
		struct objhash_entry **chunks;

		chunks = oh_alloc(h, cap * sizeof(*chunks));
		if (!chunks)
			return NULL;
		if (h->nchunks)
			memcpy(chunks, h->chunks,
			       h->nchunks * sizeof(*chunks));
		oh_free(h, h->chunks, h->chunks_cap * sizeof(*chunks));
		h->chunks = chunks;
		h->chunks_cap = cap;
	}

	chunk = oh_alloc(h, OBJHASH_CHUNK_SIZE * sizeof(*chunk));
	if (!chunk)
		return NULL;
	h->chunks[h->nchunks++] = chunk;
	return chunk;
}

/*
 * objhash_add_entry - the one way in: slot, grab, grow, link (called by
 * add_next() and insert_one(), objhash_impl.h, which documents it)
 *
 * The caller has checked @key and @objref.  Nothing is visible, and
 * nothing but arena capacity is left behind, until grab has said yes.
 */
int objhash_add_entry(struct objhash *h, uint64_t key, uint32_t type,
		      int32_t objref)
{
	struct objhash_entry *e;
	uint32_t index = h->count;

	if (objhash_unlikely(h->busy))
		return -OBJHASH_EBUSY;
	e = reserve_slot(h);
	if (objhash_unlikely(!e))
		return -OBJHASH_ENOMEM;

	if (h->ops.grab) {
		int ret;

		h->busy = 1;
		ret = h->ops.grab(h->priv, key, type, objref, index);
		h->busy = 0;
		if (ret < 0)
			return ret;
	}

	if (objhash_unlikely(h->count >= h->grow_at))
		grow(h);

	e->key = key;
	e->objref = objref;
	e->type = type;
	link_entry(h->khead, h->rhead, h->nbits, h->mult, e, index);
	h->count++;
	return 0;
}

/**
 * objhash_alloc - create an empty hash
 * @hp: [output] the new hash; set to NULL on failure
 * @cfg: parameters, or NULL for the defaults
 *
 * nbits 0 means OBJHASH_DEFAULT_NBITS, else 1..OBJHASH_MAX_NBITS;
 * max_load 0 means OBJHASH_DEFAULT_MAX_LOAD, else 1..OBJHASH_MAX_LOAD; an
 * allocator must have both hooks.  Objrefs start at 1.
 *
 * Return: 0, -OBJHASH_EINVAL for a bad parameter, -OBJHASH_ENOMEM
 */
int objhash_alloc(struct objhash **hp, const struct objhash_config *cfg)
{
	static const struct objhash_config defaults;
	struct objhash_allocator allocator = {
		objhash_malloc, objhash_mfree, NULL
	};
	unsigned int nbits, max_load;
	struct objhash *h;

	if (!hp)
		return -OBJHASH_EINVAL;
	*hp = NULL;
	if (!cfg)
		cfg = &defaults;

	nbits = cfg->nbits ? cfg->nbits : OBJHASH_DEFAULT_NBITS;
	if (nbits < OBJHASH_MIN_NBITS || nbits > OBJHASH_MAX_NBITS)
		return -OBJHASH_EINVAL;
	max_load = cfg->max_load ? cfg->max_load : OBJHASH_DEFAULT_MAX_LOAD;
	if (max_load > OBJHASH_MAX_LOAD)
		return -OBJHASH_EINVAL;
	if (cfg->flags & ~OBJHASH_KNOWN_FLAGS)
		return -OBJHASH_EINVAL;
	if (cfg->allocator) {
		if (!cfg->allocator->alloc || !cfg->allocator->free)
			return -OBJHASH_EINVAL;
		allocator = *cfg->allocator;
	}

	h = allocator.alloc(allocator.opaque, sizeof(*h));
	if (!h)
		return -OBJHASH_ENOMEM;
	memset(h, 0, sizeof(*h));
	h->allocator = allocator;
	h->memory = sizeof(*h);
	h->nbits = nbits;
	h->max_load = max_load;
	h->flags = cfg->flags;
	h->mult = (cfg->flags & OBJHASH_MULT_OLD) ? OBJHASH_MULT_2009 :
						    OBJHASH_MULT_CURRENT;
	h->next_objref = 1;
	h->grow_at = grow_limit(h, nbits);
	if (cfg->ops)
		h->ops = *cfg->ops;
	h->priv = cfg->priv;

	h->khead = alloc_heads(h, nbits);
	h->rhead = h->khead ? alloc_heads(h, nbits) : NULL;
	if (!h->rhead) {
		oh_free(h, h->khead, heads_size(nbits));
		allocator.free(allocator.opaque, h);
		return -OBJHASH_ENOMEM;
	}

	*hp = h;
	return 0;
}

/**
 * objhash_free - drop every entry once, in insertion order, and free
 * @h: the hash, or NULL (a no-op)
 *
 * ops->drop sees index 0, 1, ... count-1.  While it runs the hash can
 * still be read; adding to it fails with -OBJHASH_EBUSY.
 */
void objhash_free(struct objhash *h)
{
	struct objhash_allocator a;
	uint32_t i;

	if (!h)
		return;

	if (h->ops.drop) {
		h->busy = 1;
		for (i = 0; i < h->count; i++) {
			const struct objhash_entry *e = entry_at(h, i);

			h->ops.drop(h->priv, e->key, e->type, e->objref, i);
		}
	}

	for (i = 0; i < h->nchunks; i++)
		oh_free(h, h->chunks[i],
			OBJHASH_CHUNK_SIZE * sizeof(*h->chunks[i]));
	oh_free(h, h->chunks, h->chunks_cap * sizeof(*h->chunks));
	oh_free(h, h->khead, heads_size(h->nbits));
	oh_free(h, h->rhead, heads_size(h->nbits));

	a = h->allocator;
	a.free(a.opaque, h);
}

/**
 * objhash_lookup - find an entry by key
 * @h: the hash
 * @key: non-zero key
 * @type: expected objtype
 *
 * Return: objref, 0 if absent, -OBJHASH_EINVAL if @key is 0 or the entry found
 * has another type
 */
int objhash_lookup(const struct objhash *h, uint64_t key, uint32_t type)
{
	const struct objhash_entry *e;

	if (!key)
		return -OBJHASH_EINVAL;
	e = find_key(h, key);
	if (!e)
		return 0;
	return e->type == type ? e->objref : -OBJHASH_EINVAL;
}

/**
 * objhash_lookup_add - find by key, or add with the next objref
 * @h: the hash
 * @key: non-zero key
 * @type: objtype
 * @first: [output] 1 if the entry was added now, else 0; may be NULL
 *
 * Return: objref, -OBJHASH_EINVAL (key 0 or type mismatch),
 * -OBJHASH_ENOMEM, -OBJHASH_E2BIG, -OBJHASH_EBUSY (called from a
 * callback), or the negative value of ops->grab
 */
int objhash_lookup_add(struct objhash *h, uint64_t key, uint32_t type,
		       int *first)
{
	int f = 0;
	int ret = lookup_add_one(h, key, type, &f);

	if (first)
		*first = ret > 0 ? f : 0;
	return ret;
}

/**
 * objhash_add - add a new entry with the next objref, without looking up
 * @h: the hash
 * @key: key, or 0 for an entry found only by objref
 * @type: objtype
 *
 * Return: objref, -OBJHASH_EEXIST (non-zero @key already present),
 * -OBJHASH_ENOMEM, -OBJHASH_E2BIG, -OBJHASH_EBUSY, or the negative value
 * of ops->grab
 */
int objhash_add(struct objhash *h, uint64_t key, uint32_t type)
{
	if (key && find_key(h, key))
		return -OBJHASH_EEXIST;
	return add_next(h, key, type);
}

/**
 * objhash_insert - add an entry under a given objref
 * @h: the hash
 * @key: key, or 0 for none
 * @objref: > 0 and not yet in the hash
 * @type: objtype
 *
 * The objref is checked before the key.  next_objref becomes
 * max(next_objref, @objref + 1).
 *
 * Return: 0, -OBJHASH_EINVAL (objref <= 0 or already used),
 * -OBJHASH_EEXIST (key present), -OBJHASH_ENOMEM, -OBJHASH_EBUSY, or the
 * negative value of ops->grab
 */
int objhash_insert(struct objhash *h, uint64_t key, int32_t objref,
		   uint32_t type)
{
	return insert_one(h, key, objref, type);
}

/**
 * objhash_fetch - find an entry by objref
 * @h: the hash
 * @objref: the objref
 * @type: expected objtype
 * @key: [output] the entry's key (0 if none); may be NULL
 *
 * Return: the entry's index (>= 0), -OBJHASH_EINVAL if absent (or
 * @objref <= 0), -OBJHASH_ENOMSG if the entry has another type
 */
int64_t objhash_fetch(const struct objhash *h, int32_t objref, uint32_t type,
		      uint64_t *key)
{
	return fetch_one(h, objref, type, key);
}

/**
 * objhash_reserve - skip an objref
 * @h: the hash
 *
 * Return: the objref skipped, -OBJHASH_E2BIG when out of objrefs,
 * -OBJHASH_EBUSY when called from a callback
 */
int objhash_reserve(struct objhash *h)
{
	if (h->busy)
		return -OBJHASH_EBUSY;
	if (h->next_objref >= OBJHASH_OBJREF_EXHAUSTED)
		return -OBJHASH_E2BIG;
	return (int)h->next_objref++;
}

/**
 * objhash_entry - read entry @index
 * @h: the hash
 * @index: 0 .. count-1
 * @key: [output] key, or NULL
 * @objref: [output] objref, or NULL
 * @type: [output] objtype, or NULL
 *
 * Return: 0, or -OBJHASH_EINVAL if @index is out of range
 */
int objhash_entry(const struct objhash *h, uint32_t index, uint64_t *key,
		  int32_t *objref, uint32_t *type)
{
	const struct objhash_entry *e;

	if (index >= h->count)
		return -OBJHASH_EINVAL;
	e = entry_at(h, index);
	if (key)
		*key = e->key;
	if (objref)
		*objref = e->objref;
	if (type)
		*type = e->type;
	return 0;
}

/**
 * objhash_count - number of entries
 * @h: the hash
 *
 * Return: the count
 */
uint32_t objhash_count(const struct objhash *h)
{
	return h->count;
}

/**
 * objhash_next_objref - the objref the next add will hand out
 * @h: the hash
 *
 * Return: the objref, or -OBJHASH_E2BIG once OBJHASH_MAX_OBJREF has been used
 */
int32_t objhash_next_objref(const struct objhash *h)
{
	if (h->next_objref >= OBJHASH_OBJREF_EXHAUSTED)
		return -OBJHASH_E2BIG;
	return (int32_t)h->next_objref;
}

/**
 * objhash_nbuckets - current bucket count
 * @h: the hash
 *
 * Return: 1 << nbits
 */
uint32_t objhash_nbuckets(const struct objhash *h)
{
	return (uint32_t)1 << h->nbits;
}

/**
 * objhash_memory - bytes held from the allocator
 * @h: the hash
 *
 * Return: the sum of the sizes of the live allocations made for @h,
 * itself included
 */
size_t objhash_memory(const struct objhash *h)
{
	return h->memory;
}

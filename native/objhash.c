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
 * All memory goes through the hash's struct objhash_allocator.
 */
#include <stdlib.h>
#include <string.h>

#include "objhash.h"
#include "list.h"

#define OBJHASH_CHUNK_SHIFT	12
#define OBJHASH_CHUNK_SIZE	(1u << OBJHASH_CHUNK_SHIFT)
#define OBJHASH_CHUNK_MASK	(OBJHASH_CHUNK_SIZE - 1)
#define OBJHASH_MIN_CHUNKS_CAP	16u

#define OBJHASH_KNOWN_FLAGS	(OBJHASH_FIXED | OBJHASH_MULT_OLD)

/* next_objref past the last objref: nothing left to hand out */
#define OBJHASH_OBJREF_EXHAUSTED ((uint32_t)OBJHASH_MAX_OBJREF + 1u)

/* how far ahead the batch paths prefetch chain heads and first entries */
#ifndef OBJHASH_PREFETCH_HEAD
#define OBJHASH_PREFETCH_HEAD	16
#endif
#ifndef OBJHASH_PREFETCH_ENTRY
#define OBJHASH_PREFETCH_ENTRY	8
#endif
/* ... the objref chain head of the objref handed out that many adds on */
#ifndef OBJHASH_PREFETCH_NEXT
#define OBJHASH_PREFETCH_NEXT	8
#endif
/* ... and the new chain heads of the entry that many on, when rehashing */
#ifndef OBJHASH_PREFETCH_REHASH
#define OBJHASH_PREFETCH_REHASH	16
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

static inline uint32_t key_bucket(const struct objhash *h, uint64_t key)
{
	return (uint32_t)objhash_hash_long(key, h->nbits, h->mult);
}

static inline uint32_t ref_bucket(const struct objhash *h, int32_t objref)
{
	return (uint32_t)objhash_hash_long((uint64_t)(uint32_t)objref,
					   h->nbits, h->mult);
}

static inline struct objhash_entry *entry_at(const struct objhash *h,
					     uint32_t index)
{
	return &h->chunks[index >> OBJHASH_CHUNK_SHIFT]
			 [index & OBJHASH_CHUNK_MASK];
}

/* the count at which a table of 1 << @nbits buckets should grow */
static inline uint64_t grow_limit(const struct objhash *h, unsigned int nbits)
{
	if ((h->flags & OBJHASH_FIXED) || nbits >= OBJHASH_MAX_NBITS)
		return UINT64_MAX;
	return (uint64_t)h->max_load << nbits;
}

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

/* Return: the link (index + 1) of the entry with @objref, or 0 */
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

/* warm the cache for a lookup of @key a few items from now */
static inline void prefetch_key(const struct objhash *h, uint64_t key)
{
	objhash_prefetch(&h->khead[key_bucket(h, key)]);
}

static inline void prefetch_key_entry(const struct objhash *h, uint64_t key)
{
	uint32_t link = h->khead[key_bucket(h, key)];

	if (link)
		objhash_prefetch(entry_at(h, ihlist_index(link)));
}

static inline void prefetch_ref(const struct objhash *h, int32_t objref)
{
	objhash_prefetch(&h->rhead[ref_bucket(h, objref)]);
}

static inline void prefetch_ref_entry(const struct objhash *h, int32_t objref)
{
	uint32_t link = h->rhead[ref_bucket(h, objref)];

	if (link)
		objhash_prefetch(entry_at(h, ihlist_index(link)));
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

	khead = oh_alloc(h, heads_size(nbits));
	rhead = khead ? oh_alloc(h, heads_size(nbits)) : NULL;
	if (!rhead) {
		oh_free(h, khead, heads_size(nbits));
		h->grow_at = (uint64_t)h->count + h->count / 2 + 1;
		return;
	}
	ihlist_init_heads(khead, (size_t)1 << nbits);
	ihlist_init_heads(rhead, (size_t)1 << nbits);

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
 * add_entry - the one way in: slot, grab, grow, link
 *
 * The caller has checked @key and @objref.  Nothing is visible, and
 * nothing but arena capacity is left behind, until grab has said yes.
 */
static int add_entry(struct objhash *h, uint64_t key, uint32_t type,
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

/* add with the next objref.  Return: objref or a negative code */
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
	ret = add_entry(h, key, type, objref);
	if (ret < 0)
		return ret;
	h->next_objref++;
	return objref;
}

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

static inline int insert_one(struct objhash *h, uint64_t key, int32_t objref,
			     uint32_t type)
{
	int ret;

	if (objref <= 0 || find_ref(h, objref))
		return -OBJHASH_EINVAL;
	if (key && find_key(h, key))
		return -OBJHASH_EEXIST;
	ret = add_entry(h, key, type, objref);
	if (ret < 0)
		return ret;
	if ((uint32_t)objref >= h->next_objref)
		h->next_objref = (uint32_t)objref + 1;
	return 0;
}

/* Return: index (>= 0) or a negative code; *@key set on success */
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

	h->khead = oh_alloc(h, heads_size(nbits));
	h->rhead = h->khead ? oh_alloc(h, heads_size(nbits)) : NULL;
	if (!h->rhead) {
		oh_free(h, h->khead, heads_size(nbits));
		allocator.free(allocator.opaque, h);
		return -OBJHASH_ENOMEM;
	}
	ihlist_init_heads(h->khead, (size_t)1 << nbits);
	ihlist_init_heads(h->rhead, (size_t)1 << nbits);

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

/**
 * objhash_lookup_add_many - objhash_lookup_add() over @keys[0..n)
 * @h: the hash
 * @keys: the keys
 * @n: how many
 * @type: objtype of all of them
 * @objrefs: [output] objref of each key
 * @first: [output] 1 where the key was added now, else 0; may be NULL
 * @done: [output] items completed; may be NULL
 *
 * Stops at the first error; entries added before it stay.
 *
 * Return: the number of entries added, or a negative code
 */
int64_t objhash_lookup_add_many(struct objhash *h, const uint64_t *keys,
				size_t n, uint32_t type, int32_t *objrefs,
				uint8_t *first, size_t *done)
{
	int64_t added = 0;
	int ret = 0;
	size_t i;

	if (n && (!keys || !objrefs)) {
		if (done)
			*done = 0;
		return -OBJHASH_EINVAL;
	}

	for (i = 0; i < n; i++) {
		int f;

		if (i + OBJHASH_PREFETCH_HEAD < n)
			prefetch_key(h, keys[i + OBJHASH_PREFETCH_HEAD]);
		if (i + OBJHASH_PREFETCH_ENTRY < n)
			prefetch_key_entry(h, keys[i + OBJHASH_PREFETCH_ENTRY]);

		ret = lookup_add_one(h, keys[i], type, &f);
		if (objhash_unlikely(ret < 0))
			break;
		objrefs[i] = ret;
		if (first)
			first[i] = (uint8_t)f;
		added += f;
	}

	if (done)
		*done = i;
	return ret < 0 ? ret : added;
}

/**
 * objhash_insert_many - objhash_insert() of (@keys[i], @objrefs[i])
 * @h: the hash
 * @keys: the keys, or NULL: the entries get no key
 * @objrefs: the objrefs
 * @n: how many
 * @type: objtype of all of them
 * @done: [output] items completed; may be NULL
 *
 * Stops at the first error; entries inserted before it stay.
 *
 * Return: @n (the number of entries added), or a negative code
 */
int64_t objhash_insert_many(struct objhash *h, const uint64_t *keys,
			    const int32_t *objrefs, size_t n, uint32_t type,
			    size_t *done)
{
	int ret = 0;
	size_t i;

	if (n && !objrefs) {
		if (done)
			*done = 0;
		return -OBJHASH_EINVAL;
	}

	for (i = 0; i < n; i++) {
		ret = insert_one(h, keys ? keys[i] : 0, objrefs[i], type);
		if (objhash_unlikely(ret < 0))
			break;
	}

	if (done)
		*done = i;
	return ret < 0 ? ret : (int64_t)n;
}

/**
 * objhash_fetch_many - objhash_fetch() of @objrefs[0..n)
 * @h: the hash
 * @objrefs: the objrefs
 * @n: how many
 * @type: expected objtype of all of them
 * @keys: [output] each entry's key; may be NULL
 * @index: [output] each entry's index; may be NULL
 * @done: [output] items completed; may be NULL
 *
 * Return: 0, -OBJHASH_EINVAL (an objref absent) or -OBJHASH_ENOMSG (of
 * another type)
 */
int64_t objhash_fetch_many(const struct objhash *h, const int32_t *objrefs,
			   size_t n, uint32_t type, uint64_t *keys,
			   uint32_t *index, size_t *done)
{
	int64_t ret = 0;
	size_t i;

	if (n && !objrefs) {
		if (done)
			*done = 0;
		return -OBJHASH_EINVAL;
	}

	for (i = 0; i < n; i++) {
		uint64_t key;

		if (i + OBJHASH_PREFETCH_HEAD < n)
			prefetch_ref(h, objrefs[i + OBJHASH_PREFETCH_HEAD]);
		if (i + OBJHASH_PREFETCH_ENTRY < n)
			prefetch_ref_entry(h,
					   objrefs[i + OBJHASH_PREFETCH_ENTRY]);

		ret = fetch_one(h, objrefs[i], type, &key);
		if (objhash_unlikely(ret < 0))
			break;
		if (keys)
			keys[i] = key;
		if (index)
			index[i] = (uint32_t)ret;
	}

	if (done)
		*done = i;
	return ret < 0 ? ret : 0;
}

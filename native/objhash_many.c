// SPDX-License-Identifier: MIT
/*
 * objhash_many.c - the batch forms: objhash_lookup_add_many(),
 * objhash_insert_many() and objhash_fetch_many()
 *
 * Each loops over the per-item step of its per-call form in objhash.c
 * (lookup_add_one(), insert_one(), fetch_one(), in objhash_impl.h) and
 * stops at the first error.  What the lookup_add and fetch loops add is
 * prefetching: while item i is looked up, the chain head of item
 * i + OBJHASH_PREFETCH_HEAD and the first entry on the chain of item
 * i + OBJHASH_PREFETCH_ENTRY (whose head was warmed a few items ago) are
 * being fetched, so the cache misses of many keys overlap.
 */
#include <stddef.h>
#include <stdint.h>

#include "objhash_impl.h"

/* how far ahead the batch paths prefetch chain heads and first entries */
#ifndef OBJHASH_PREFETCH_HEAD
#define OBJHASH_PREFETCH_HEAD	16
#endif
#ifndef OBJHASH_PREFETCH_ENTRY
#define OBJHASH_PREFETCH_ENTRY	8
#endif

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

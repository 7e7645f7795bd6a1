// SPDX-License-Identifier: MIT
/*
 * fixtures.c - what the objhash tests share: the counting allocator, the
 * shadow list, the grab/drop recorder and the chain and content checks
 * (see fixtures.h)
 */
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"

#define CA_HDR 16

void *ca_alloc(void *opaque, size_t size)
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

void ca_free(void *opaque, void *ptr)
{
	struct counting_alloc *ca = opaque;
	unsigned char *p = (unsigned char *)ptr - CA_HDR;
	size_t size;

	memcpy(&size, p, sizeof(size));
	ca->live--;
	ca->live_bytes -= size;
	free(p);
}

void shadow_push(struct shadow *s, uint64_t key, int32_t objref,
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

const struct objhash_ops rec_ops = { rec_grab, rec_drop };

void recorder_fini(struct recorder *r)
{
	free(r->grabbed.e);
	free(r->dropped.e);
	memset(r, 0, sizeof(*r));
}

/* distinct non-zero 16-byte-aligned 48-bit keys, for i < 2^44 */
uint64_t mkkey(uint64_t i)
{
	return (((i + 1) * UINT64_C(0x9E3779B97F4B)) &
		((UINT64_C(1) << 44) - 1)) << 4;
}

/*
 * check_chains - every entry is on the key chain of its key (if any) and
 * the objref chain of its objref, exactly once, and chains run newest
 * first.  Return: 0 if all is well.
 */
int check_chains(const struct objhash *h)
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
void check_contents(const struct objhash *h, const struct shadow *s)
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

void check_same_shadow(const struct shadow *a, const struct shadow *b)
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

// SPDX-License-Identifier: MIT
/*
 * objhash_model.c - the model fuzz_objhash.c checks the core against, and
 * the checks (see objhash_model.h)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objhash_model.h"

void check_failed(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

/* -------------------------------------------------------------- allocator */

void *fa_alloc(void *opaque, size_t size)
{
	struct fault_alloc *a = opaque;
	void *p;

	a->calls++;
	if ((a->fail_at && a->calls == a->fail_at) ||
	    (a->fail_from && a->calls >= a->fail_from)) {
		a->failed++;
		return NULL;
	}
	CHECK(a->nlive < MAX_LIVE);
	p = malloc(size ? size : 1);
	CHECK(p != NULL);
	a->ptr[a->nlive] = p;
	a->size[a->nlive] = size;
	a->nlive++;
	a->live_bytes += size;
	return p;
}

void fa_free(void *opaque, void *p)
{
	struct fault_alloc *a = opaque;
	unsigned int i;

	CHECK(p != NULL);
	for (i = a->nlive; i-- > 0;)
		if (a->ptr[i] == p)
			break;
	CHECK(i < a->nlive);	/* freed what was allocated, once */
	a->live_bytes -= a->size[i];
	a->nlive--;
	a->ptr[i] = a->ptr[a->nlive];
	a->size[i] = a->size[a->nlive];
	free(p);
}

/* ------------------------------------------------------------------ model */

int m_find_key(const struct model *m, uint64_t key)
{
	uint32_t i = mix64(key) & (SLOTS - 1);

	for (; m->kslot[i]; i = (i + 1) & (SLOTS - 1))
		if (m->e[m->kslot[i] - 1].key == key)
			return (int)m->kslot[i] - 1;
	return -1;
}

int m_find_ref(const struct model *m, int32_t objref)
{
	uint32_t i = mix64((uint64_t)(uint32_t)objref * 7 + 1) & (SLOTS - 1);

	for (; m->rslot[i]; i = (i + 1) & (SLOTS - 1))
		if (m->e[m->rslot[i] - 1].objref == objref)
			return (int)m->rslot[i] - 1;
	return -1;
}

void m_add(struct model *m, uint64_t key, int32_t objref, uint32_t type)
{
	uint32_t i;

	CHECK(m->n < MODEL_CAP);
	m->e[m->n].key = key;
	m->e[m->n].objref = objref;
	m->e[m->n].type = type;
	if (key) {
		for (i = mix64(key) & (SLOTS - 1); m->kslot[i];
		     i = (i + 1) & (SLOTS - 1))
			;
		m->kslot[i] = m->n + 1;
		m->used[m->nused++] = i;
	}
	for (i = mix64((uint64_t)(uint32_t)objref * 7 + 1) & (SLOTS - 1);
	     m->rslot[i]; i = (i + 1) & (SLOTS - 1))
		;
	m->rslot[i] = m->n + 1;
	m->used[m->nused++] = i | SLOTS;
	m->n++;
	if ((uint32_t)objref >= m->next)
		m->next = (uint32_t)objref + 1;
}

static struct pred pr(int kind, int err, int32_t objref)
{
	struct pred p;

	p.kind = kind;
	p.err = err;
	p.objref = objref;
	return p;
}

static struct pred pred_add_next(const struct model *m)
{
	if (m->next >= EXHAUSTED)
		return pr(P_ERR, -OBJHASH_E2BIG, 0);
	return pr(P_ADD, 0, (int32_t)m->next);
}

struct pred pred_lookup_add(const struct model *m, uint64_t key,
			    uint32_t type)
{
	int i;

	if (!key)
		return pr(P_ERR, -OBJHASH_EINVAL, 0);
	i = m_find_key(m, key);
	if (i >= 0)
		return m->e[i].type == type ? pr(P_FOUND, 0, m->e[i].objref) :
					      pr(P_ERR, -OBJHASH_EINVAL, 0);
	return pred_add_next(m);
}

struct pred pred_add(const struct model *m, uint64_t key)
{
	if (key && m_find_key(m, key) >= 0)
		return pr(P_ERR, -OBJHASH_EEXIST, 0);
	return pred_add_next(m);
}

struct pred pred_insert(const struct model *m, uint64_t key, int32_t objref)
{
	if (objref <= 0 || m_find_ref(m, objref) >= 0)
		return pr(P_ERR, -OBJHASH_EINVAL, 0);
	if (key && m_find_key(m, key) >= 0)
		return pr(P_ERR, -OBJHASH_EEXIST, 0);
	return pr(P_ADD, 0, objref);
}

/* ------------------------------------------------------------------ state */

/* back to a fresh state: clears only what the last input used */
void reset_state(struct state *s)
{
	uint32_t i;

	for (i = 0; i < s->m.nused; i++) {
		uint32_t u = s->m.used[i];

		if (u & SLOTS)
			s->m.rslot[u & (SLOTS - 1)] = 0;
		else
			s->m.kslot[u] = 0;
	}
	s->m.nused = 0;
	s->m.n = 0;
	s->m.next = 1;
	memset(&s->a, 0, sizeof(s->a));
	s->h = NULL;
	s->nlog = s->logpos = 0;
	s->failed_before = 0;
	s->refuse_next = 0;
	s->drops = 0;
}

/*
 * settle_add - an add the model predicted: err 0 if the core says it was
 * made, else the error it stopped with.  Matches it to the grab log and
 * applies it to the model.
 */
void settle_add(struct state *s, uint64_t key, uint32_t type,
		int32_t objref, int err)
{
	struct glog *g = s->logpos < s->nlog ? &s->log[s->logpos] : NULL;

	if (s->has_grab && err != -OBJHASH_ENOMEM) {
		/* the entry got a grab call, with the right arguments */
		CHECK(g != NULL);
		CHECK(g->key == key && g->type == type &&
		      g->objref == objref && g->index == s->m.n);
		s->logpos++;
	}
	if (err == 0) {
		CHECK(!g || !g->refused || !s->has_grab);
		m_add(&s->m, key, objref, type);
	} else if (err == -OBJHASH_ENOMEM) {
		/* only when an allocation failed in this operation; the
		 * slot is taken before grab, so grab was not called */
		CHECK(s->a.failed > s->failed_before);
		CHECK(s->logpos == s->nlog);
	} else {
		CHECK(err == GRAB_REFUSED && s->has_grab && g && g->refused);
	}
}

/* ----------------------------------------------------------------- checks */

/* after each operation: the counters agree with the model */
void check_invariants(const struct state *s)
{
	uint32_t nb = objhash_nbuckets(s->h);
	int32_t next = objhash_next_objref(s->h);

	CHECK(objhash_count(s->h) == s->m.n);
	CHECK(next == (s->m.next >= EXHAUSTED ? -OBJHASH_E2BIG :
		       (int32_t)s->m.next));
	CHECK(objhash_memory(s->h) == s->a.live_bytes);
	CHECK(nb && (nb & (nb - 1)) == 0);
	CHECK(nb >= 1u << s->nbits0 && nb <= 1u << OBJHASH_MAX_NBITS);
	if (s->flags & OBJHASH_FIXED)
		CHECK(nb == 1u << s->nbits0);
	else if (!s->a.failed && nb < 1u << OBJHASH_MAX_NBITS)
		CHECK((uint64_t)s->m.n <= (uint64_t)s->max_load * nb);
	CHECK(s->logpos == s->nlog);	/* every grab call was an add */
}

/* every entry, read back by index, by objref and by key */
void check_all_entries(const struct state *s)
{
	uint32_t i;

	for (i = 0; i < s->m.n; i++) {
		const struct ment *e = &s->m.e[i];
		uint64_t key;
		int32_t objref;
		uint32_t type;

		CHECK(objhash_entry(s->h, i, &key, &objref, &type) == 0);
		CHECK(key == e->key && objref == e->objref && type == e->type);
		CHECK(objhash_fetch(s->h, e->objref, e->type, &key) == i);
		if (e->key)
			CHECK(objhash_lookup(s->h, e->key, e->type) ==
			      e->objref);
	}
	CHECK(objhash_entry(s->h, s->m.n, NULL, NULL, NULL) ==
	      -OBJHASH_EINVAL);
}


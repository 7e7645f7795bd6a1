// SPDX-License-Identifier: MIT
/*
 * fuzz_objhash.c - libFuzzer target over the objhash C core
 *
 * The input is decoded into a configuration (nbits, max_load, flags,
 * callbacks, a pool of keys) and a sequence of operations: lookup,
 * lookup_add, add, insert, fetch, reserve, entry, the three batch forms,
 * a bulk add that crosses arena chunks and forces growth, inserts next to
 * the objref limit, grab refusals and allocation failures (through the
 * core's struct objhash_allocator hook).
 *
 * Every result is checked against a model that uses another algorithm
 * (open addressing over keys and over objrefs, where the core chains).
 * Grab calls are logged and matched to the adds the model predicts; a
 * grab also checks that the entry is not yet visible and that the hash
 * refuses to be written from inside it (-OBJHASH_EBUSY).  After objhash_free()
 * every entry was dropped exactly once, in insertion order, and every
 * byte taken from the allocator was given back; objhash_memory() always
 * equals the allocator's count of live bytes.
 *
 * The model, the allocator, the grab log and the checks of the whole hash
 * are in objhash_model.c; this file has the callbacks, the operations and
 * the entry point.  A failed check calls abort(): libFuzzer reports it and
 * keeps the input.  The same files, linked with standalone.c instead of
 * libFuzzer, replay inputs with any C compiler (make -C native/fuzz
 * replay).
 */
#include <stdint.h>
#include <string.h>

#include "objhash.h"
#include "objhash_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the input being run; the callbacks check that it is their priv */
static struct state S;

/* -------------------------------------------------------------- callbacks */

static int grab_cb(void *priv, uint64_t key, uint32_t type, int32_t objref,
		   uint32_t index)
{
	struct state *s = priv;
	struct glog *g;
	int r;

	CHECK(s == &S && s->h != NULL);
	CHECK(s->nlog < sizeof(s->log) / sizeof(s->log[0]));
	g = &s->log[s->nlog++];
	g->key = key;
	g->type = type;
	g->objref = objref;
	g->index = index;
	g->refused = 0;
	CHECK(index == objhash_count(s->h));
	/* nothing is visible before grab said yes */
	CHECK(objhash_fetch(s->h, objref, type, NULL) == -OBJHASH_EINVAL);
	if (key)
		CHECK(objhash_lookup(s->h, key, type) == 0);
	if (s->reenter) {
		/* reads work, writes are refused */
		r = objhash_add(s->h, 0, type);
		CHECK(r == -OBJHASH_EBUSY || r == -OBJHASH_E2BIG);
		CHECK(objhash_reserve(s->h) == -OBJHASH_EBUSY);
		CHECK(objhash_insert(s->h, 0, objref, type) == -OBJHASH_EBUSY);
		CHECK(objhash_count(s->h) == index);
	}
	if (s->refuse_next) {
		s->refuse_next = 0;
		g->refused = 1;
		return GRAB_REFUSED;
	}
	return 0;
}

static void drop_cb(void *priv, uint64_t key, uint32_t type, int32_t objref,
		    uint32_t index)
{
	struct state *s = priv;
	const struct ment *e;

	CHECK(s == &S);
	CHECK(index == s->drops);	/* once each, in insertion order */
	CHECK(index < s->m.n);
	e = &s->m.e[index];
	CHECK(e->key == key && e->objref == objref && e->type == type);
	s->drops++;
	if (s->reenter) {
		int r = objhash_add(s->h, 0, type);

		CHECK(r == -OBJHASH_EBUSY || r == -OBJHASH_E2BIG);
		CHECK(objhash_fetch(s->h, objref, type, NULL) == (int64_t)index);
	}
}

/* ------------------------------------------------------------- operations */

static uint64_t rd_key(struct input *in)
{
	uint8_t b = in_u8(in);

	if (b < 0xf0)
		return S.pool[b & 15];
	if (b < 0xf8)
		return S.pool[b & 15] + 1;
	return in_u64(in);
}

static uint32_t rd_type(struct input *in)
{
	uint8_t b = in_u8(in);

	return b < 0xfc ? (uint32_t)(b & 3) : in_u32(in);
}

static int32_t rd_objref(struct input *in)
{
	uint8_t b = in_u8(in);

	if (b < 0xc0)
		return (int32_t)(b & 63) - 2;
	if (b < 0xe0)
		return (int32_t)(S.m.next - 1u + (b & 3u));
	return (int32_t)in_u32(in);
}

static void op_lookup(struct input *in)
{
	uint64_t key = rd_key(in);
	uint32_t type = rd_type(in);
	int i = key ? m_find_key(&S.m, key) : -1;
	int want = !key ? -OBJHASH_EINVAL : i < 0 ? 0 :
		   S.m.e[i].type == type ? S.m.e[i].objref : -OBJHASH_EINVAL;

	CHECK(objhash_lookup(S.h, key, type) == want);
}

static void op_lookup_add(struct input *in)
{
	uint64_t key = rd_key(in);
	uint32_t type = rd_type(in);
	struct pred p = pred_lookup_add(&S.m, key, type);
	int first = -1;
	int ret = objhash_lookup_add(S.h, key, type,
				     (in_u8(in) & 1) ? &first : NULL);

	if (first != -1)
		CHECK(first == (p.kind == P_ADD && ret > 0));
	if (p.kind == P_FOUND)
		CHECK(ret == p.objref);
	else if (p.kind == P_ERR)
		CHECK(ret == p.err);
	else if (ret > 0) {
		CHECK(ret == p.objref);
		settle_add(&S, key, type, p.objref, 0);
	} else {
		settle_add(&S, key, type, p.objref, ret);
	}
}

static void op_add(struct input *in)
{
	uint64_t key = (in_u8(in) & 1) ? rd_key(in) : 0;
	uint32_t type = rd_type(in);
	struct pred p = pred_add(&S.m, key);
	int ret = objhash_add(S.h, key, type);

	if (p.kind == P_ERR)
		CHECK(ret == p.err);
	else if (ret > 0) {
		CHECK(ret == p.objref);
		settle_add(&S, key, type, p.objref, 0);
	} else {
		settle_add(&S, key, type, p.objref, ret);
	}
}

static void do_insert(uint64_t key, int32_t objref, uint32_t type)
{
	struct pred p = pred_insert(&S.m, key, objref);
	int ret = objhash_insert(S.h, key, objref, type);

	if (p.kind == P_ERR) {
		CHECK(ret == p.err);
	} else {
		CHECK(ret <= 0);
		settle_add(&S, key, type, objref, ret);
	}
}

static void op_insert(struct input *in)
{
	uint64_t key = (in_u8(in) & 1) ? rd_key(in) : 0;
	int32_t objref = rd_objref(in);

	do_insert(key, objref, rd_type(in));
}

static void op_insert_high(struct input *in)
{
	int32_t objref = 0x7fffffff - (int32_t)(in_u8(in) & 3);

	do_insert(0, objref, rd_type(in));
}

static void op_fetch(struct input *in)
{
	int32_t objref = rd_objref(in);
	uint32_t type = rd_type(in);
	int i = objref > 0 ? m_find_ref(&S.m, objref) : -1;
	uint64_t key = 0xdeadbeef;
	int64_t ret = objhash_fetch(S.h, objref, type, &key);

	if (i < 0) {
		CHECK(ret == -OBJHASH_EINVAL);
	} else if (S.m.e[i].type != type) {
		CHECK(ret == -OBJHASH_ENOMSG);
	} else {
		CHECK(ret == i);
		CHECK(key == S.m.e[i].key);
	}
}

static void op_reserve(void)
{
	int ret = objhash_reserve(S.h);

	if (S.m.next >= EXHAUSTED) {
		CHECK(ret == -OBJHASH_E2BIG);
	} else {
		CHECK(ret == (int)S.m.next);
		S.m.next++;
	}
}

static void op_entry(struct input *in)
{
	uint32_t index = in_u16(in) % (S.m.n + 2);
	uint64_t key;
	int32_t objref;
	uint32_t type;
	int ret = objhash_entry(S.h, index, &key, &objref, &type);

	if (index >= S.m.n) {
		CHECK(ret == -OBJHASH_EINVAL);
	} else {
		CHECK(ret == 0);
		CHECK(key == S.m.e[index].key);
		CHECK(objref == S.m.e[index].objref);
		CHECK(type == S.m.e[index].type);
	}
}

static uint64_t bkeys[BULK_MAX];
static int32_t brefs[BULK_MAX];
static uint8_t bfirst[BULK_MAX];
static uint64_t bkout[BULK_MAX];
static uint32_t bidx[BULK_MAX];

/* replays a lookup_add_many of n keys that returned ret after done items */
static void check_lookup_add_many(size_t n, uint32_t type, int with_first,
				  int64_t ret, size_t done)
{
	int64_t added = 0;
	size_t i;

	CHECK(done <= n);
	for (i = 0; i < done; i++) {
		struct pred p = pred_lookup_add(&S.m, bkeys[i], type);

		CHECK(p.kind != P_ERR);
		CHECK(brefs[i] == p.objref);
		if (with_first)
			CHECK(bfirst[i] == (p.kind == P_ADD));
		if (p.kind == P_ADD) {
			settle_add(&S, bkeys[i], type, p.objref, 0);
			added++;
		}
	}
	if (done < n) {
		struct pred p = pred_lookup_add(&S.m, bkeys[done], type);

		CHECK(ret < 0);
		CHECK(p.kind != P_FOUND);
		if (p.kind == P_ERR)
			CHECK(ret == p.err);
		else
			settle_add(&S, bkeys[done], type, p.objref, (int)ret);
	} else {
		CHECK(ret == added);
	}
}

static void op_lookup_add_many(struct input *in)
{
	size_t n = in_u8(in) % (BATCH_MAX + 1), i, done = 12345;
	uint32_t type = rd_type(in);
	int with_first = in_u8(in) & 1;
	int64_t ret;

	if (S.m.n + n >= MODEL_CAP)
		return;
	for (i = 0; i < n; i++)
		bkeys[i] = rd_key(in);
	ret = objhash_lookup_add_many(S.h, bkeys, n, type, brefs,
				      with_first ? bfirst : NULL, &done);
	check_lookup_add_many(n, type, with_first, ret, done);
}

/* many keys at once: crosses arena chunks (4096 entries) and grows */
static void op_bulk(struct input *in)
{
	uint16_t sz = in_u16(in);
	size_t n = (sz & 3) ? sz % 300u + 1 : sz % BULK_MAX + 1, i, done = 12345;
	uint64_t base = in_u64(in) | 1, stride = in_u16(in) | 1;
	uint32_t type = rd_type(in);
	int64_t ret;

	if (S.m.n + n >= MODEL_CAP)
		n = MODEL_CAP - S.m.n - 1;
	/* a fixed table keeps its buckets: cap the chains' length */
	if ((S.flags & OBJHASH_FIXED) && S.m.n + n > 64u << S.nbits0)
		n = S.m.n < 64u << S.nbits0 ? (64u << S.nbits0) - S.m.n : 0;
	if (!n)
		return;
	for (i = 0; i < n; i++)
		bkeys[i] = base + i * stride;
	ret = objhash_lookup_add_many(S.h, bkeys, n, type, brefs, bfirst,
				      &done);
	check_lookup_add_many(n, type, 1, ret, done);
}

static void op_insert_many(struct input *in)
{
	size_t n = in_u8(in) % (BATCH_MAX + 1), i, done = 12345;
	int with_keys = in_u8(in) & 1;
	uint32_t type = rd_type(in);
	int64_t ret;

	if (S.m.n + n >= MODEL_CAP)
		return;
	for (i = 0; i < n; i++) {
		bkeys[i] = with_keys ? rd_key(in) : 0;
		brefs[i] = rd_objref(in);
	}
	ret = objhash_insert_many(S.h, with_keys ? bkeys : NULL, brefs, n,
				  type, &done);
	CHECK(done <= n);
	for (i = 0; i < done; i++) {
		struct pred p = pred_insert(&S.m, bkeys[i], brefs[i]);

		CHECK(p.kind == P_ADD);
		settle_add(&S, bkeys[i], type, brefs[i], 0);
	}
	if (done < n) {
		struct pred p = pred_insert(&S.m, bkeys[done], brefs[done]);

		CHECK(ret < 0);
		if (p.kind == P_ERR)
			CHECK(ret == p.err);
		else
			settle_add(&S, bkeys[done], type, brefs[done],
				   (int)ret);
	} else {
		CHECK(ret == (int64_t)n);
	}
}

static void op_fetch_many(struct input *in)
{
	size_t n = in_u8(in) % (BATCH_MAX + 1), i, done = 12345;
	uint32_t type = rd_type(in);
	uint8_t outs = in_u8(in);
	int64_t ret;

	for (i = 0; i < n; i++)
		brefs[i] = rd_objref(in);
	ret = objhash_fetch_many(S.h, brefs, n, type,
				 (outs & 1) ? bkout : NULL,
				 (outs & 2) ? bidx : NULL, &done);
	CHECK(done <= n);
	for (i = 0; i < done; i++) {
		int k = brefs[i] > 0 ? m_find_ref(&S.m, brefs[i]) : -1;

		CHECK(k >= 0 && S.m.e[k].type == type);
		if (outs & 1)
			CHECK(bkout[i] == S.m.e[k].key);
		if (outs & 2)
			CHECK(bidx[i] == (uint32_t)k);
	}
	if (done < n) {
		int k = brefs[done] > 0 ? m_find_ref(&S.m, brefs[done]) : -1;

		CHECK(ret == (k < 0 ? -OBJHASH_EINVAL : -OBJHASH_ENOMSG));
		CHECK(k < 0 || S.m.e[k].type != type);
	} else {
		CHECK(ret == 0);
	}
}

static void op_alloc_faults(struct input *in)
{
	uint8_t b = in_u8(in);

	switch (b & 3) {
	case 0:	/* one allocation fails, a few from now */
		S.a.fail_at = S.a.calls + 1 + (b >> 2 & 7);
		break;
	case 1:	/* every allocation fails from then on */
		S.a.fail_from = S.a.calls + 1 + (b >> 2 & 7);
		break;
	default:	/* memory comes back */
		S.a.fail_at = 0;
		S.a.fail_from = 0;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct objhash_allocator alloc = { fa_alloc, fa_free, &S.a };
	struct objhash_ops ops = { NULL, NULL };
	struct objhash_config cfg;
	uint8_t nb, ml, fl, cb, fa;
	uint64_t seed;
	int valid, ret;
	unsigned int i, nops = 0;

	reset_state(&S);

	nb = in_u8(&in);
	ml = in_u8(&in);
	fl = in_u8(&in);
	cb = in_u8(&in);
	fa = in_u8(&in);
	seed = in_u64(&in);

	memset(&cfg, 0, sizeof(cfg));
	cfg.nbits = nb == 0xff ? 29 : nb % 14;
	cfg.max_load = ml == 0xff ? 1025 : ml % 5;
	cfg.flags = (fl & 3) | ((fl & 0x80) ? 4 : 0);
	S.has_grab = cb & 1;
	S.has_drop = (cb >> 1) & 1;
	S.reenter = (cb >> 2) & 1;
	ops.grab = S.has_grab ? grab_cb : NULL;
	ops.drop = S.has_drop ? drop_cb : NULL;
	cfg.ops = (cb & 8) ? NULL : &ops;
	if (cb & 8)
		S.has_grab = S.has_drop = 0;
	cfg.priv = &S;
	cfg.allocator = &alloc;
	if (fa && fa < 5)
		S.a.fail_at = fa;	/* objhash_alloc makes 3 allocations */

	/* keys: 0 (invalid), page-aligned addresses (which the 2009
	 * multiplier puts in few buckets), random ones, 2^64 - 1 */
	S.pool[0] = 0;
	for (i = 1; i < 8; i++)
		S.pool[i] = (seed & 0xffff000) + (uint64_t)i * 4096;
	for (i = 8; i < 15; i++) {
		seed += UINT64_C(0x9e3779b97f4a7c15);
		S.pool[i] = mix64(seed) | (uint64_t)mix64(seed ^ 1) << 32;
	}
	S.pool[15] = UINT64_MAX;

	valid = cfg.nbits <= OBJHASH_MAX_NBITS && cfg.max_load <= 1024 &&
		!(cfg.flags & ~3u);
	S.nbits0 = cfg.nbits ? cfg.nbits : OBJHASH_DEFAULT_NBITS;
	S.max_load = cfg.max_load ? cfg.max_load : OBJHASH_DEFAULT_MAX_LOAD;
	S.flags = cfg.flags;

	ret = objhash_alloc(&S.h, &cfg);
	if (!valid) {
		CHECK(ret == -OBJHASH_EINVAL && S.h == NULL && S.a.calls == 0);
		return 0;
	}
	if (S.a.failed) {
		CHECK(ret == -OBJHASH_ENOMEM && S.h == NULL);
		CHECK(S.a.nlive == 0 && S.a.live_bytes == 0);
		return 0;
	}
	CHECK(ret == 0 && S.h != NULL);
	S.a.fail_at = 0;
	check_invariants(&S);

	while (in.n && nops++ < 4096) {
		uint8_t op = in_u8(&in);

		S.nlog = S.logpos = 0;
		S.failed_before = S.a.failed;
		switch (op % 16) {
		case 0: op_lookup(&in); break;
		case 1: case 2: op_lookup_add(&in); break;
		case 3: op_add(&in); break;
		case 4: op_insert(&in); break;
		case 5: op_fetch(&in); break;
		case 6: op_reserve(); break;
		case 7: op_entry(&in); break;
		case 8: op_lookup_add_many(&in); break;
		case 9: op_insert_many(&in); break;
		case 10: op_fetch_many(&in); break;
		case 11: op_bulk(&in); break;
		case 12: S.refuse_next = S.has_grab; break;
		case 13: op_alloc_faults(&in); break;
		case 14: op_insert_high(&in); break;
		default: check_all_entries(&S); break;
		}
		check_invariants(&S);
	}
	check_all_entries(&S);

	objhash_free(S.h);
	if (S.has_drop)
		CHECK(S.drops == S.m.n);	/* every entry dropped once */
	CHECK(S.a.nlive == 0 && S.a.live_bytes == 0);	/* nothing leaked */
	S.h = NULL;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * faults.c - allocation and grab failure at every point of a recorded
 * sequence of core calls
 *
 *   faults TRACE ...
 *
 * A trace is the sequence of objhash calls that one checkpoint or restart
 * makes (test/faults.test.ts records them from a real run of the process
 * tree, through the backend contract, and writes one op per line):
 *
 *   create NBITS FLAGS MAXLOAD      objhash_alloc
 *   flags TYPE BITS                 setTypeFlags (1 grab, 2 drop)
 *   add KEY TYPE                    objhash_add
 *   add_nograb KEY TYPE             objhash_add, grab not called (the
 *                                   binding's addMany: the facade grabbed)
 *   lookup_add KEY TYPE             objhash_lookup_add
 *   lookup KEY TYPE                 objhash_lookup
 *   insert KEY OBJREF TYPE          objhash_insert
 *   fetch OBJREF TYPE               objhash_fetch
 *   reserve                         objhash_reserve
 *   free                            objhash_free
 *
 * The trace is run once as recorded, counting the allocations (N) and the
 * grab calls (G) and keeping every result.  Then, for each k in 1..N, it
 * is run again with the k-th allocation failing, and again with every
 * allocation from the k-th on failing; and for each k in 1..G with the
 * k-th grab refusing (GRAB_REFUSED).  Each run stops at the first result
 * that differs from the recorded one, as the facade stops at the first
 * error; that result must be -OBJHASH_ENOMEM (or GRAB_REFUSED), or the run
 * must end with every result as recorded (a failed table growth is only an
 * optimisation lost).  Then the hash is freed, and: every entry that was
 * grabbed was dropped exactly once, every entry was dropped, and every
 * byte taken from the allocator was given back.
 *
 * Prints one summary line per trace; exits 1 on the first violation.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objhash.h"

/*
 * What a grab returns to refuse an entry: the caller's own value, not an
 * OBJHASH_E* code, which the core must hand back as is.
 */
#define GRAB_REFUSED	(-1000)

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "faults.c:%d: %s: %s: check failed: %s\n", \
				__LINE__, trace_name, mode_name, #c);     \
			exit(1);                                          \
		}                                                         \
	} while (0)

static const char *trace_name = "";
static char mode_name[64] = "recorded run";

enum { OP_CREATE, OP_FLAGS, OP_ADD, OP_ADD_NOGRAB, OP_LOOKUP_ADD, OP_LOOKUP,
       OP_INSERT, OP_FETCH, OP_RESERVE, OP_FREE };

struct op {
	int kind;
	uint64_t a;
	int64_t b;
	uint64_t c;
	int64_t result;		/* in the recorded run */
};

static struct op *ops;
static size_t nops, capops;

/* ------------------------------------------------------------- allocator */

#define MAX_LIVE 4096

static struct {
	void *ptr[MAX_LIVE];
	size_t size[MAX_LIVE];
	unsigned int nlive;
	size_t live_bytes;
	unsigned long calls, fail_at, fail_from, failed;
} A;

static void *fa_alloc(void *opaque, size_t size)
{
	void *p;

	(void)opaque;
	A.calls++;
	if ((A.fail_at && A.calls == A.fail_at) ||
	    (A.fail_from && A.calls >= A.fail_from)) {
		A.failed++;
		return NULL;
	}
	CHECK(A.nlive < MAX_LIVE);
	p = malloc(size ? size : 1);
	CHECK(p != NULL);
	A.ptr[A.nlive] = p;
	A.size[A.nlive++] = size;
	A.live_bytes += size;
	return p;
}

static void fa_free(void *opaque, void *p)
{
	unsigned int i;

	(void)opaque;
	for (i = A.nlive; i-- > 0;)
		if (A.ptr[i] == p)
			break;
	CHECK(i < A.nlive);
	A.live_bytes -= A.size[i];
	A.nlive--;
	A.ptr[i] = A.ptr[A.nlive];
	A.size[i] = A.size[A.nlive];
	free(p);
}

/* ------------------------------------------------------------- callbacks */

#define MAX_ENTRIES (1u << 20)

static struct {
	uint8_t type_flags[65536];
	uint8_t grabbed[MAX_ENTRIES];	/* per entry index */
	uint8_t dropped[MAX_ENTRIES];
	unsigned long grab_calls, grab_ok, refuse_at, refused;
	unsigned long grabbed_dropped;	/* drops of entries that were grabbed */
	uint32_t ndropped;
	int skip_grab;
} C;

static int grab_cb(void *priv, uint64_t key, uint32_t type, int32_t objref,
		   uint32_t index)
{
	(void)priv, (void)key, (void)objref;
	if (C.skip_grab || !(C.type_flags[type & 0xffff] & 1))
		return 0;
	CHECK(index < MAX_ENTRIES);
	if (++C.grab_calls == C.refuse_at) {
		C.refused++;
		return GRAB_REFUSED;
	}
	/* a grab that says yes is an entry at that index, nothing can
	 * fail after it */
	CHECK(!C.grabbed[index]);
	C.grabbed[index] = 1;
	C.grab_ok++;
	return 0;
}

static void drop_cb(void *priv, uint64_t key, uint32_t type, int32_t objref,
		    uint32_t index)
{
	(void)priv, (void)key, (void)type, (void)objref;
	CHECK(index < MAX_ENTRIES);
	CHECK(index == C.ndropped);	/* each once, in insertion order */
	C.ndropped++;
	CHECK(C.dropped[index] == 0);
	C.dropped[index] = 1;
	if (C.grabbed[index])
		C.grabbed_dropped++;
}

/* ------------------------------------------------------------------ runs */

struct outcome {
	size_t stopped_at;	/* op index of the first differing result, or nops */
	int64_t stop_result;
};

static int64_t do_op(struct objhash **hp, const struct op *o)
{
	static const struct objhash_ops cbs = { grab_cb, drop_cb };
	struct objhash_allocator alloc = { fa_alloc, fa_free, NULL };
	struct objhash_config cfg;
	struct objhash *h = *hp;

	switch (o->kind) {
	case OP_CREATE:
		memset(&cfg, 0, sizeof(cfg));
		cfg.nbits = (unsigned int)o->a;
		cfg.flags = (unsigned int)o->b;
		cfg.max_load = (unsigned int)o->c;
		cfg.ops = &cbs;
		cfg.allocator = &alloc;
		return objhash_alloc(hp, &cfg);
	case OP_FLAGS:
		C.type_flags[o->a & 0xffff] = (uint8_t)o->b;
		return 0;
	case OP_ADD:
		return objhash_add(h, o->a, (uint32_t)o->b);
	case OP_ADD_NOGRAB: {
		int r;

		C.skip_grab = 1;
		r = objhash_add(h, o->a, (uint32_t)o->b);
		C.skip_grab = 0;
		return r;
	}
	case OP_LOOKUP_ADD:
		return objhash_lookup_add(h, o->a, (uint32_t)o->b, NULL);
	case OP_LOOKUP:
		return objhash_lookup(h, o->a, (uint32_t)o->b);
	case OP_INSERT:
		return objhash_insert(h, o->a, (int32_t)o->b, (uint32_t)o->c);
	case OP_FETCH:
		return objhash_fetch(h, (int32_t)o->a, (uint32_t)o->b, NULL);
	case OP_RESERVE:
		return objhash_reserve(h);
	default:
		return 0;
	}
}

/*
 * run - one run of the trace, the allocator (A) set up by the caller;
 * with @record, keeps every result, else stops at the first result that
 * differs from the recorded one.  @refuse_at: the grab call to refuse
 * (0: none).  Frees the hash and checks drops and memory.
 */
static struct outcome run(int record, unsigned long refuse_at)
{
	struct objhash *h = NULL;
	struct outcome out;
	uint32_t count = 0;
	size_t i;

	memset(&C, 0, sizeof(C));
	C.refuse_at = refuse_at;
	out.stopped_at = nops;
	out.stop_result = 0;
	for (i = 0; i < nops; i++) {
		const struct op *o = &ops[i];
		int64_t r;

		if (o->kind == OP_FREE)
			break;
		if (!h && o->kind != OP_CREATE && o->kind != OP_FLAGS) {
			out.stopped_at = i;	/* create failed */
			break;
		}
		r = do_op(&h, o);
		if (record) {
			ops[i].result = r;
		} else if (r != o->result) {
			out.stopped_at = i;
			out.stop_result = r;
			break;
		}
	}
	if (h) {
		count = objhash_count(h);
		CHECK(objhash_memory(h) == A.live_bytes);
		objhash_free(h);
	}
	CHECK(C.ndropped == count);		/* every entry dropped once */
	CHECK(C.grabbed_dropped == C.grab_ok);	/* ... each grab among them */
	CHECK(A.nlive == 0 && A.live_bytes == 0);	/* no byte leaked */
	return out;
}

static void reset_alloc(void)
{
	memset(&A, 0, sizeof(A));
}

static void parse(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256], word[32];

	if (!f) {
		perror(path);
		exit(2);
	}
	nops = 0;
	while (fgets(line, sizeof(line), f)) {
		struct op o;
		unsigned long long a = 0, c = 0;
		long long b = 0;
		int n = sscanf(line, "%31s %llu %lld %llu", word, &a, &b, &c);

		if (n < 1 || word[0] == '#')
			continue;
		memset(&o, 0, sizeof(o));
		if (!strcmp(word, "create"))
			o.kind = OP_CREATE;
		else if (!strcmp(word, "flags"))
			o.kind = OP_FLAGS;
		else if (!strcmp(word, "add"))
			o.kind = OP_ADD;
		else if (!strcmp(word, "add_nograb"))
			o.kind = OP_ADD_NOGRAB;
		else if (!strcmp(word, "lookup_add"))
			o.kind = OP_LOOKUP_ADD;
		else if (!strcmp(word, "lookup"))
			o.kind = OP_LOOKUP;
		else if (!strcmp(word, "insert"))
			o.kind = OP_INSERT;
		else if (!strcmp(word, "fetch"))
			o.kind = OP_FETCH;
		else if (!strcmp(word, "reserve"))
			o.kind = OP_RESERVE;
		else if (!strcmp(word, "free"))
			o.kind = OP_FREE;
		else {
			fprintf(stderr, "%s: unknown op '%s'\n", path, word);
			exit(2);
		}
		o.a = a;
		o.b = b;
		o.c = c;
		if (nops == capops) {
			capops = capops ? capops * 2 : 256;
			ops = realloc(ops, capops * sizeof(*ops));
			if (!ops)
				exit(2);
		}
		ops[nops++] = o;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	int t;

	for (t = 1; t < argc; t++) {
		unsigned long nalloc, ngrab, k, enomem = 0, tolerated = 0;
		unsigned long refusals = 0;
		struct outcome o;
		size_t i;

		trace_name = argv[t];
		parse(argv[t]);
		snprintf(mode_name, sizeof(mode_name), "recorded run");
		reset_alloc();
		run(1, 0);
		nalloc = A.calls;
		ngrab = C.grab_calls;
		/* a recorded run fails nothing but lookups and fetches */
		for (i = 0; i < nops; i++)
			CHECK(ops[i].result >= 0 || ops[i].kind == OP_FETCH ||
			      ops[i].kind == OP_LOOKUP);

		for (k = 1; k <= nalloc; k++) {
			int persistent;

			for (persistent = 0; persistent < 2; persistent++) {
				snprintf(mode_name, sizeof(mode_name),
					 "allocation %lu %s", k,
					 persistent ? "and later fail" :
						      "fails");
				reset_alloc();
				if (persistent)
					A.fail_from = k;
				else
					A.fail_at = k;
				o = run(0, 0);
				CHECK(A.failed > 0);
				if (o.stopped_at == nops) {
					tolerated++;	/* growth: no error */
				} else {
					CHECK(o.stop_result == -OBJHASH_ENOMEM);
					enomem++;
				}
			}
		}
		for (k = 1; k <= ngrab; k++) {
			snprintf(mode_name, sizeof(mode_name),
				 "grab %lu refused", k);
			reset_alloc();
			o = run(0, k);
			CHECK(C.refused == 1);
			CHECK(o.stopped_at < nops && o.stop_result == GRAB_REFUSED);
			refusals++;
		}
		printf("%s: %zu ops, %lu allocation points x2 (%lu -ENOMEM, "
		       "%lu tolerated), %lu grab refusals: ok\n",
		       trace_name, nops, nalloc, enomem, tolerated, refusals);
	}
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * bench_core.c - time the C core on its own (make -C native bench)
 *
 *  - objhash_lookup_add_many() over 1M and 10M random 16-byte-aligned
 *    48-bit keys, each key twice (50% repeats), in random order; also the
 *    one-call-per-key objhash_lookup_add() and fixed 1024 buckets at 1M;
 *  - objhash_fetch_many() of every objref, in random order;
 *  times are the best of 3 runs (of 1 with fixed buckets);
 *  - objhash_crc32c() over 64 MiB, both paths.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../objhash.h"
#include "../crc32c.h"

uint32_t objhash_crc32c_sw(uint32_t crc, const void *buf, size_t len);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545F4914F6CDD1D);
}

static void shuffle(uint64_t *a, size_t n, uint64_t *s)
{
	size_t i, j;
	uint64_t t;

	for (i = n - 1; i > 0; i--) {
		j = rnd(s) % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* n keys, n/2 distinct, each twice, shuffled */
static uint64_t *make_keys(size_t n, uint64_t seed)
{
	uint64_t *keys = malloc(n * sizeof(*keys));
	size_t i;

	if (!keys)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		do
			keys[i] = rnd(&seed) & UINT64_C(0xfffffffffff0);
		while (!keys[i]);
		keys[n / 2 + i] = keys[i];
	}
	if (n & 1)
		keys[n - 1] = keys[0];
	shuffle(keys, n, &seed);
	return keys;
}

#define REPS 3

/* best of REPS runs, each on a fresh hash */
static int bench_lookup_add(size_t n, unsigned int flags, int batch)
{
	struct objhash_config cfg;
	struct objhash *h = NULL;
	uint64_t *keys = make_keys(n, n * 7 + 1);
	int32_t *refs = malloc(n * sizeof(*refs));
	uint32_t *index = malloc(n * sizeof(*index));
	size_t i, done, count = 0, mem = 0;
	unsigned int nb = 0;
	int64_t added = 0;
	double t0, best = 1e30, fbest = 1e30;
	int rep, ret = 1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = flags;
	if (!keys || !refs || !index)
		goto out;

	for (rep = 0; rep < REPS; rep++) {
		if (objhash_alloc(&h, &cfg))
			goto out;
		t0 = now();
		if (batch) {
			added = objhash_lookup_add_many(h, keys, n, 1, refs,
							NULL, &done);
		} else {
			added = 0;
			for (i = 0; i < n; i++) {
				int f;

				refs[i] = objhash_lookup_add(h, keys[i], 1, &f);
				added += f;
			}
		}
		t0 = now() - t0;
		if (t0 < best)
			best = t0;
		count = objhash_count(h);
		mem = objhash_memory(h);
		nb = objhash_nbuckets(h);

		if (batch && !flags) {
			/* every objref, in random order */
			int32_t *r = (int32_t *)index;
			uint64_t s = 99;

			for (i = 0; i < count; i++)
				r[i] = (int32_t)i + 1;
			for (i = count - 1; i > 0; i--) {
				size_t j = rnd(&s) % (i + 1);
				int32_t t = r[i];

				r[i] = r[j];
				r[j] = t;
			}
			t0 = now();
			if (objhash_fetch_many(h, r, count, 1, NULL, NULL,
					       &done))
				printf("fetch_many failed\n");
			t0 = now() - t0;
			if (t0 < fbest)
				fbest = t0;
		}
		objhash_free(h);
		if (flags & OBJHASH_FIXED)
			break;	/* slow: once is enough */
	}

	printf("lookup_add%s %8zu keys%s: %7.1f ns/op, %zu entries "
	       "(%lld added), %.1f bytes/entry, %u buckets\n",
	       batch ? "_many" : "     ", n,
	       flags & OBJHASH_FIXED ? " fixed" : "      ",
	       best * 1e9 / (double)n, count, (long long)added,
	       (double)mem / (double)count, nb);
	if (batch && !flags)
		printf("fetch_many      %8zu refs      : %7.1f ns/op\n", count,
		       fbest * 1e9 / (double)count);
	ret = 0;
out:
	free(keys);
	free(refs);
	free(index);
	return ret;
}

static void bench_crc(void)
{
	const size_t len = (size_t)64 << 20;
	unsigned char *buf = malloc(len);
	uint64_t s = 5;
	uint32_t c = 0, csw = 0;
	double t0, t1, best = 1e9;
	size_t i;
	int r;

	if (!buf)
		return;
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)rnd(&s);
	for (r = 0; r < 5; r++) {
		t0 = now();
		c = objhash_crc32c(0, buf, len);
		t1 = now();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	printf("crc32c %s 64 MiB: %.2f GB/s\n",
	       objhash_crc32c_hw() ? "(sse4.2)" : "(table) ",
	       (double)len / best / 1e9);
	best = 1e9;
	for (r = 0; r < 3; r++) {
		t0 = now();
		csw = objhash_crc32c_sw(0, buf, len);
		t1 = now();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	printf("crc32c (table)  64 MiB: %.2f GB/s   [%08x %s]\n",
	       (double)len / best / 1e9, c, c == csw ? "same" : "DIFFER");
	free(buf);
}

int main(void)
{
	if (bench_lookup_add(1000000, 0, 1) ||
	    bench_lookup_add(1000000, 0, 0) ||
	    bench_lookup_add(10000000, 0, 1) ||
	    bench_lookup_add(1000000, OBJHASH_FIXED, 1))
		return 1;
	bench_crc();
	return 0;
}

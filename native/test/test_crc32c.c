// SPDX-License-Identifier: MIT
/* test_crc32c.c - CRC-32C vectors, hardware vs table path, chaining */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crc32c.h"
#include "../crc32c_tables.h"
#include "harness.h"

/* the table path, exported by crc32c.c for tests only */
uint32_t objhash_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* bit at a time, straight from the definition */
static uint32_t crc32c_ref(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
	}
	return ~crc;
}

/* the register @crc advanced over @n zero bytes, a bit at a time */
static uint32_t zeros_ref(uint32_t crc, size_t n)
{
	size_t i;

	for (i = 0; i < 8 * n; i++)
		crc = (crc >> 1) ^ ((crc & 1) ? OBJHASH_CRC32C_POLY : 0);
	return crc;
}

/* every entry of the generated crc32c_tables.h, from the definition */
static void test_crc32c_tables(void)
{
	uint32_t b, k;

	CHECK_EQ(OBJHASH_CRC32C_POLY, 0x82F63B78u);
	CHECK_EQ(CRC32C_TABLES_POLY, OBJHASH_CRC32C_POLY);
	for (k = 0; k < 8; k++)
		for (b = 0; b < 256; b++)
			CHECK_EQ(crc32c_table[k][b], zeros_ref(b, k + 1));
	for (k = 0; k < 4; k++)
		for (b = 0; b < 256; b++) {
			CHECK_EQ(crc32c_long[k][b],
				 zeros_ref(b << (8 * k), CRC32C_TABLES_LONG));
			CHECK_EQ(crc32c_short[k][b],
				 zeros_ref(b << (8 * k), CRC32C_TABLES_SHORT));
		}
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const crc_fn crc_fns[] = {
	objhash_crc32c, objhash_crc32c_sw, crc32c_ref,
};
#define NFNS (sizeof(crc_fns) / sizeof(crc_fns[0]))

static void test_crc32c_vectors(void)
{
	unsigned char zeros[32], ones[32];
	size_t i;

	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (i = 0; i < NFNS; i++) {
		CHECK_EQ(crc_fns[i](0, "123456789", 9), 0xE3069283u);
		CHECK_EQ(crc_fns[i](0, "", 0), 0);
		CHECK_EQ(crc_fns[i](0, zeros, 32), 0x8a9136aau);
		CHECK_EQ(crc_fns[i](0, ones, 32), 0x62a8ab43u);
	}
	/* len 0 leaves any CRC alone, even with no buffer */
	CHECK_EQ(objhash_crc32c(0x12345678u, NULL, 0), 0x12345678u);
	CHECK_EQ(objhash_crc32c_sw(0x12345678u, NULL, 0), 0x12345678u);
}

static void test_crc32c_hw_flag(void)
{
	int hw = objhash_crc32c_hw();

	CHECK(hw == 0 || hw == 1);
	CHECK_EQ(objhash_crc32c_hw(), hw);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
	!defined(OBJHASH_CRC32C_NO_HW)
	CHECK_EQ(hw, __builtin_cpu_supports("sse4.2") ? 1 : 0);
#elif defined(OBJHASH_CRC32C_NO_HW)
	CHECK_EQ(hw, 0);
#endif
	printf("     crc32c: %s path\n", hw ? "SSE4.2" : "table");
}

/* every path agrees with the reference, at every offset and length class */
static void test_crc32c_paths_agree(void)
{
	const size_t size = 3 * 8192 * 3 + 4096;
	unsigned char *buf = malloc(size + 16);
	uint64_t s = 0x9e3779b97f4a7c15u;
	size_t i, len, off;
	int round;

	REQUIRE(buf);
	for (i = 0; i < size + 16; i++)
		buf[i] = (unsigned char)test_rand(&s);

	/* all short lengths at all 8 alignments */
	for (off = 0; off < 8; off++)
		for (len = 0; len <= 3 * 256 * 2 + 40; len++) {
			uint32_t r = crc32c_ref(0, buf + off, len);

			CHECK_EQ(objhash_crc32c(0, buf + off, len), r);
			CHECK_EQ(objhash_crc32c_sw(0, buf + off, len), r);
		}
	/* random lengths and offsets, up to several long blocks */
	for (round = 0; round < 300; round++) {
		uint32_t seed = (uint32_t)test_rand(&s);
		uint32_t r;

		off = test_rand(&s) % 16;
		len = test_rand(&s) % (size + 1);
		r = crc32c_ref(seed, buf + off, len);
		CHECK_EQ(objhash_crc32c(seed, buf + off, len), r);
		CHECK_EQ(objhash_crc32c_sw(seed, buf + off, len), r);
	}
	/* exact block boundaries */
	for (len = 3 * 8192 - 9; len < 3 * 8192 + 9; len++)
		CHECK_EQ(objhash_crc32c(0, buf + 3, len),
			 crc32c_ref(0, buf + 3, len));
	for (len = 2 * 3 * 8192 - 9; len < 2 * 3 * 8192 + 9; len++)
		CHECK_EQ(objhash_crc32c(0, buf, len), crc32c_ref(0, buf, len));
	free(buf);
}

/* crc(crc(a), b) == crc(a || b), on both paths */
static void test_crc32c_chaining(void)
{
	const size_t size = 100000;
	unsigned char *buf = malloc(size);
	uint64_t s = 42;
	uint32_t whole, whole_sw;
	size_t i, cut;
	int round;

	REQUIRE(buf);
	for (i = 0; i < size; i++)
		buf[i] = (unsigned char)test_rand(&s);
	whole = objhash_crc32c(0, buf, size);
	whole_sw = objhash_crc32c_sw(0, buf, size);
	CHECK_EQ(whole, whole_sw);
	CHECK_EQ(whole, crc32c_ref(0, buf, size));
	for (round = 0; round < 200; round++) {
		cut = round < 20 ? (size_t)round : test_rand(&s) % (size + 1);
		CHECK_EQ(objhash_crc32c(objhash_crc32c(0, buf, cut),
					buf + cut, size - cut), whole);
		CHECK_EQ(objhash_crc32c_sw(objhash_crc32c_sw(0, buf, cut),
					   buf + cut, size - cut), whole);
		/* mixed: one path then the other */
		CHECK_EQ(objhash_crc32c_sw(objhash_crc32c(0, buf, cut),
					   buf + cut, size - cut), whole);
	}
	/* byte by byte */
	{
		uint32_t c = 0;

		for (i = 0; i < 1000; i++)
			c = objhash_crc32c(c, buf + i, 1);
		CHECK_EQ(c, objhash_crc32c(0, buf, 1000));
	}
	free(buf);
}

const struct test_case crc32c_tests[] = {
	TEST_CASE(test_crc32c_tables),
	TEST_CASE(test_crc32c_vectors),
	TEST_CASE(test_crc32c_hw_flag),
	TEST_CASE(test_crc32c_paths_agree),
	TEST_CASE(test_crc32c_chaining),
};
const size_t crc32c_ntests = sizeof(crc32c_tests) / sizeof(crc32c_tests[0]);

// SPDX-License-Identifier: MIT
/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial OBJHASH_CRC32C_POLY)
 *
 * Two paths, same results:
 *
 *  - x86-64 with SSE4.2 (detected at run time, GCC/clang only): the crc32
 *    instruction over three independent streams at once, whose CRCs are
 *    then combined by advancing the earlier streams over the later ones'
 *    length with the crc32c_long/crc32c_short "zeros operator" tables;
 *  - anywhere else: slicing-by-8 over crc32c_table.
 *
 * Every table is static const, in crc32c_tables.h, which
 * scripts/gen-crc32c-tables.js generates (`npm run gen`), so nothing is
 * initialised at run time and the functions can be called from any
 * number of threads.  The CPU check is made on every call:
 * __builtin_cpu_supports() only reads a word the compiler runtime filled
 * in before main().
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

/* -DOBJHASH_CRC32C_NO_HW builds the table path only */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && \
	!defined(OBJHASH_CRC32C_NO_HW)
#define CRC32C_HAVE_SSE42 1
#include <nmmintrin.h>
#else
#define CRC32C_HAVE_SSE42 0
#endif

/*
 * bytes per stream in the 3-way interleaved loops; the crc32c_long and
 * crc32c_short tables are generated for these (scripts/gen-crc32c-tables.js)
 */
#define CRC32C_LONG	8192
#define CRC32C_SHORT	256

uint32_t objhash_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#include "crc32c_tables.h"

#if CRC32C_TABLES_POLY != OBJHASH_CRC32C_POLY || \
	CRC32C_TABLES_LONG != CRC32C_LONG || CRC32C_TABLES_SHORT != CRC32C_SHORT
#error "crc32c_tables.h is stale: run npm run gen"
#endif

/**
 * objhash_crc32c_sw - objhash_crc32c() by slicing-by-8 tables
 * @crc: the CRC of the bytes before (0 to start)
 * @buf: the bytes
 * @len: how many
 *
 * Not in crc32c.h: the portable path, exported for tests and benchmarks.
 * Independent of byte order.
 *
 * Return: the CRC-32C of the bytes before then @buf[0..len)
 */
uint32_t objhash_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		crc = crc32c_table[7][crc & 0xff] ^
		      crc32c_table[6][(crc >> 8) & 0xff] ^
		      crc32c_table[5][(crc >> 16) & 0xff] ^
		      crc32c_table[4][crc >> 24] ^
		      crc32c_table[3][p[4]] ^ crc32c_table[2][p[5]] ^
		      crc32c_table[1][p[6]] ^ crc32c_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if CRC32C_HAVE_SSE42

/* advance CRC register @crc over the zero bytes that @tab stands for */
static inline uint32_t crc32c_shift(const uint32_t (*tab)[256], uint32_t crc)
{
	return tab[0][crc & 0xff] ^ tab[1][(crc >> 8) & 0xff] ^
	       tab[2][(crc >> 16) & 0xff] ^ tab[3][crc >> 24];
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * crc32c_3way - run the register @crc over @len bytes at @p, a multiple of
 * 3 * @blk, as three streams of @blk bytes per round; @tab advances a
 * register over @blk zero bytes.
 */
__attribute__((target("sse4.2")))
static inline uint64_t crc32c_3way(uint64_t crc, const unsigned char *p,
				   size_t len, size_t blk,
				   const uint32_t (*tab)[256])
{
	while (len) {
		const unsigned char *end = p + blk;
		uint64_t c1 = 0, c2 = 0;

		do {
			crc = _mm_crc32_u64(crc, load64(p));
			c1 = _mm_crc32_u64(c1, load64(p + blk));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * blk));
			p += 8;
		} while (p < end);
		/* crc(A B C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C) */
		crc = crc32c_shift(tab, (uint32_t)crc) ^ c1;
		crc = crc32c_shift(tab, (uint32_t)crc) ^ c2;
		p += 2 * blk;
		len -= 3 * blk;
	}
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc32, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t crc = ~crc32;
	size_t n;

	while (len && ((uintptr_t)p & 7)) {
		crc = _mm_crc32_u8((uint32_t)crc, *p++);
		len--;
	}

	n = len - len % (3 * CRC32C_LONG);
	crc = crc32c_3way(crc, p, n, CRC32C_LONG, crc32c_long);
	p += n;
	len -= n;

	n = len - len % (3 * CRC32C_SHORT);
	crc = crc32c_3way(crc, p, n, CRC32C_SHORT, crc32c_short);
	p += n;
	len -= n;

	for (; len >= 8; p += 8, len -= 8)
		crc = _mm_crc32_u64(crc, load64(p));
	while (len--)
		crc = _mm_crc32_u8((uint32_t)crc, *p++);
	return ~(uint32_t)crc;
}

#endif /* CRC32C_HAVE_SSE42 */

/**
 * objhash_crc32c_hw - whether objhash_crc32c() uses the crc32 instruction
 *
 * Return: 1 on x86-64 with SSE4.2 (built with GCC or clang), else 0
 */
int objhash_crc32c_hw(void)
{
#if CRC32C_HAVE_SSE42
	return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
	return 0;
#endif
}

/**
 * objhash_crc32c - extend a CRC-32C over @len bytes at @buf
 * @crc: the CRC of the bytes before (0 to start)
 * @buf: the bytes (may be NULL when @len is 0)
 * @len: how many
 *
 * Return: the CRC-32C of the bytes before then @buf[0..len)
 */
uint32_t objhash_crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (!len)
		return crc;
#if CRC32C_HAVE_SSE42
	if (objhash_crc32c_hw())
		return crc32c_hw(crc, buf, len);
#endif
	return objhash_crc32c_sw(crc, buf, len);
}

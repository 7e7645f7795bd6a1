// SPDX-License-Identifier: MIT
/*
 * fuzz_crc32c.c - libFuzzer target over CRC-32C, the one C path that reads
 * image bytes (restart checks the TAIL's CRC-32C with it, through the
 * addon, over whatever bytes the image has)
 *
 * Input: 8 control bytes, then data.  The data is laid out at a chosen
 * misalignment (0..7) and, if asked, repeated (each repeat xor'ed with
 * its number) up to a chosen length of up to 128 KiB, so that the
 * SSE4.2 path's 3-way interleaved loops over 3 x 8 KiB and 3 x 256 bytes
 * and their tails are all reached.  Checks:
 *
 *  - objhash_crc32c (hardware path where the CPU has it) equals the
 *    portable slicing-by-8 objhash_crc32c_sw, for any start value;
 *  - both equal a bitwise reference (one bit at a time) up to 8 KiB;
 *  - extending over a split at any point equals one call over the whole;
 *  - length 0 returns the start value, even with a NULL buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

/* crc32c.c exports the portable path for tests; not in crc32c.h */
uint32_t objhash_crc32c_sw(uint32_t crc, const void *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_crc32c.c:%d: check failed: %s\n", \
				__LINE__, #c);                          \
			abort();                                        \
		}                                                       \
	} while (0)

#define MAX_LEN (128u * 1024u)
#define BITWISE_MAX 8192u

static uint8_t buf[MAX_LEN + 8];

static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *body;
	size_t bsz, len, i, split;
	unsigned int off;
	uint32_t start, full, sw;
	uint8_t *p;

	if (size < 8) {
		/* short inputs: the data itself, unaligned as given */
		CHECK(objhash_crc32c(0, data, size) ==
		      crc_bitwise(0, data, size));
		return 0;
	}
	off = data[0] & 7;
	len = (size_t)data[1] | (size_t)data[2] << 8 |
	      (size_t)(data[3] & 1) << 16;
	start = (uint32_t)data[4] | (uint32_t)data[5] << 8 |
		(uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
	if (data[3] & 2)
		start = 0;
	body = data + 8;
	bsz = size - 8;
	if (!(data[3] & 4) || len == 0)
		len = bsz;	/* the data as it is */
	if (len > MAX_LEN)
		len = MAX_LEN;
	split = ((size_t)data[1] * 257u + data[2]) % (len + 1);

	p = buf + off;
	for (i = 0; i < len; i++)
		p[i] = bsz ? (uint8_t)(body[i % bsz] ^ (i / bsz)) : 0;

	full = objhash_crc32c(start, p, len);
	sw = objhash_crc32c_sw(start, p, len);
	CHECK(full == sw);
	if (len <= BITWISE_MAX)
		CHECK(full == crc_bitwise(start, p, len));
	CHECK(objhash_crc32c(objhash_crc32c(start, p, split), p + split,
			     len - split) == full);
	CHECK(objhash_crc32c_sw(objhash_crc32c_sw(start, p, split), p + split,
				len - split) == full);
	CHECK(objhash_crc32c(start, NULL, 0) == start);
	CHECK(objhash_crc32c(start, p, 0) == start);
	return 0;
}

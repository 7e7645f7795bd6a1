/* SPDX-License-Identifier: MIT */
/*
 * crc32c - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used
 * by the objhash image TAIL record.  SSE4.2 crc32 instructions where the
 * CPU has them (checked at run time), slicing-by-8 tables otherwise.
 */
#ifndef OBJHASH_CRC32C_H
#define OBJHASH_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The reflected Castagnoli polynomial (0x1EDC6F41 bit-reversed): the one
 * definition; scripts/gen-crc32c-tables.js makes crc32c_tables.h from it.
 */
#define OBJHASH_CRC32C_POLY	0x82F63B78u

/**
 * objhash_crc32c - extend a CRC-32C over @len bytes at @buf
 * @crc: the CRC of the bytes before (0 to start)
 *
 * objhash_crc32c(objhash_crc32c(0, a, n), b, m) equals the CRC of a then b.
 * Return: the CRC-32C ("123456789" gives 0xE3069283)
 */
uint32_t objhash_crc32c(uint32_t crc, const void *buf, size_t len);

/* objhash_crc32c_hw - 1 if the hardware instruction is in use, else 0 */
int objhash_crc32c_hw(void);

#ifdef __cplusplus
}
#endif

#endif /* OBJHASH_CRC32C_H */

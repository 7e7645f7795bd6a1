/* SPDX-License-Identifier: MIT */
/*
 * harness.h - a tiny assertion harness for the C tests
 *
 * A test is a void function listed in a struct test_case table; CHECK*()
 * record a failure and go on, REQUIRE*() record it and return from the
 * test.  test_main.c runs every table and prints "N passed, M failed".
 */
#ifndef OBJHASH_TEST_HARNESS_H
#define OBJHASH_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_CASE(fn)	{ #fn, fn }

/* 0 if the condition held; else reports it and returns 1 */
int test_check(int ok, const char *file, int line, const char *expr);
int test_check_eq(long long a, long long b, const char *file, int line,
		  const char *ea, const char *eb);

#define CHECK(c)	((void)test_check(!!(c), __FILE__, __LINE__, #c))
#define CHECK_EQ(a, b)	((void)test_check_eq((long long)(a), (long long)(b), \
					     __FILE__, __LINE__, #a, #b))
#define REQUIRE(c)							\
	do {								\
		if (test_check(!!(c), __FILE__, __LINE__, #c))		\
			return;						\
	} while (0)
#define REQUIRE_EQ(a, b)						\
	do {								\
		if (test_check_eq((long long)(a), (long long)(b),	\
				  __FILE__, __LINE__, #a, #b))		\
			return;						\
	} while (0)

/* xorshift64*: deterministic pseudo-random numbers for tests */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545F4914F6CDD1D);
}

/* the tables, one per test file (test_main.c runs them in this order) */
extern const struct test_case objhash_basic_tests[];
extern const size_t objhash_basic_ntests;
extern const struct test_case objhash_growth_tests[];
extern const size_t objhash_growth_ntests;
extern const struct test_case objhash_many_tests[];
extern const size_t objhash_many_ntests;
extern const struct test_case objhash_alloc_tests[];
extern const size_t objhash_alloc_ntests;
extern const struct test_case crc32c_tests[];
extern const size_t crc32c_ntests;

#endif /* OBJHASH_TEST_HARNESS_H */

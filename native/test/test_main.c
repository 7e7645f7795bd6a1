// SPDX-License-Identifier: MIT
/*
 * test_main.c - run the C tests and print "N passed, M failed"
 *
 *   test_objhash [SUBSTRING]   only the tests whose name contains it
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define MAX_REPORTS_PER_TEST	20

static int failures;	/* in the test being run */

int test_check(int ok, const char *file, int line, const char *expr)
{
	if (ok)
		return 0;
	if (failures++ < MAX_REPORTS_PER_TEST)
		fprintf(stderr, "  %s:%d: CHECK failed: %s\n", file, line,
			expr);
	return 1;
}

int test_check_eq(long long a, long long b, const char *file, int line,
		  const char *ea, const char *eb)
{
	if (a == b)
		return 0;
	if (failures++ < MAX_REPORTS_PER_TEST)
		fprintf(stderr, "  %s:%d: CHECK failed: %s == %s (%lld != %lld)\n",
			file, line, ea, eb, a, b);
	return 1;
}

static void run(const struct test_case *tests, size_t n, const char *filter,
		int *passed, int *failed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		failures = 0;
		tests[i].fn();
		if (failures) {
			fprintf(stderr, "FAIL %s (%d)\n", tests[i].name,
				failures);
			(*failed)++;
		} else {
			printf("ok   %s\n", tests[i].name);
			(*passed)++;
		}
		fflush(stdout);
	}
}

/* the test files' tables, in the order they run */
static const struct {
	const struct test_case *tests;
	const size_t *n;
} suites[] = {
	{ objhash_basic_tests, &objhash_basic_ntests },
	{ objhash_growth_tests, &objhash_growth_ntests },
	{ objhash_many_tests, &objhash_many_ntests },
	{ objhash_alloc_tests, &objhash_alloc_ntests },
	{ crc32c_tests, &crc32c_ntests },
};

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;
	size_t i;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		run(suites[i].tests, *suites[i].n, filter, &passed, &failed);
	if (!passed && !failed) {
		printf("no test matches \"%s\"\n", filter);
		return 1;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

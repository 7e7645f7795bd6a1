// SPDX-License-Identifier: MIT
/*
 * test_objhash_many.c - the batch calls: lookup_add_many, insert_many and
 * fetch_many, and where each stops on an error
 */
#include <string.h>

#include "fixtures.h"
#include "harness.h"

static void test_lookup_add_many(void)
{
	struct recorder r;
	struct objhash_config cfg;
	struct objhash *h;
	uint64_t keys[10] = { 0x10, 0x20, 0x10, 0x30, 0, 0x40 };
	int32_t refs[10];
	uint8_t first[10];
	size_t done = 99;

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = &rec_ops;
	cfg.priv = &r;
	REQUIRE_EQ(objhash_alloc(&h, &cfg), 0);

	/* empty and bad arguments */
	CHECK_EQ(objhash_lookup_add_many(h, NULL, 0, 1, NULL, NULL, &done), 0);
	CHECK_EQ(done, 0);
	CHECK_EQ(objhash_lookup_add_many(h, NULL, 3, 1, refs, NULL, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 1, NULL, NULL, NULL),
		 -OBJHASH_EINVAL);

	/* key 0 at [4] */
	memset(refs, 0, sizeof(refs));
	CHECK_EQ(objhash_lookup_add_many(h, keys, 6, 1, refs, first, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(done, 4);
	CHECK(refs[0] == 1 && refs[1] == 2 && refs[2] == 1 && refs[3] == 3);
	CHECK(first[0] == 1 && first[1] == 1 && first[2] == 0 &&
	      first[3] == 1);
	CHECK_EQ(refs[4], 0);
	CHECK_EQ(objhash_count(h), 3);

	/* without first[], without done */
	keys[4] = 0x50;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 6, 1, refs, NULL, NULL), 2);
	CHECK(refs[3] == 3 && refs[4] == 4 && refs[5] == 5);

	/* type mismatch at [2] */
	keys[0] = 0x60;
	keys[1] = 0x70;
	keys[2] = 0x10;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 2, refs, first, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(done, 2);
	CHECK(refs[0] == 6 && refs[1] == 7);

	/* grab refuses at [1] */
	keys[0] = 0x80;
	keys[1] = 0x90;
	keys[2] = 0xa0;
	r.fail_key = 0x90;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 2, refs, first, &done),
		 GRAB_REFUSED);
	CHECK_EQ(done, 1);
	CHECK_EQ(refs[0], 8);
	CHECK_EQ(objhash_next_objref(h), 9);
	r.fail_key = 0;
	CHECK_EQ(objhash_lookup_add_many(h, keys, 3, 2, refs, first, &done), 2);
	CHECK(refs[0] == 8 && refs[1] == 9 && refs[2] == 10);
	CHECK(first[0] == 0 && first[1] == 1 && first[2] == 1);
	CHECK_EQ(objhash_count(h), 10);
	CHECK_EQ(r.bad, 0);
	objhash_free(h);
	CHECK_EQ(r.drops, 10);
	recorder_fini(&r);
}

static void test_insert_many(void)
{
	struct objhash *h;
	uint64_t keys[5] = { 0x10, 0x20, 0x30, 0x40, 0x50 };
	int32_t refs[5] = { 5, 3, 9, 3, 11 };
	size_t done = 99;
	uint64_t key;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_insert_many(h, NULL, NULL, 0, 1, &done), 0);
	CHECK_EQ(done, 0);
	CHECK_EQ(objhash_insert_many(h, keys, NULL, 2, 1, &done), -OBJHASH_EINVAL);

	/* duplicate objref at [3] */
	CHECK_EQ(objhash_insert_many(h, keys, refs, 5, 1, &done), -OBJHASH_EINVAL);
	CHECK_EQ(done, 3);
	CHECK_EQ(objhash_count(h), 3);
	CHECK_EQ(objhash_next_objref(h), 10);

	/* duplicate key at [0] */
	refs[3] = 4;
	CHECK_EQ(objhash_insert_many(h, keys + 2, refs + 3, 2, 1, &done),
		 -OBJHASH_EEXIST);
	CHECK_EQ(done, 0);

	/* success returns n; keys NULL gives keyless entries */
	CHECK_EQ(objhash_insert_many(h, keys + 3, refs + 3, 2, 1, &done), 2);
	CHECK_EQ(done, 2);
	refs[0] = 20;
	refs[1] = 21;
	CHECK_EQ(objhash_insert_many(h, NULL, refs, 2, 4, NULL), 2);
	CHECK_EQ(objhash_fetch(h, 21, 4, &key), 6);
	CHECK_EQ(key, 0);
	CHECK_EQ(objhash_fetch(h, 4, 1, &key), 3);
	CHECK_EQ(key, 0x40);
	CHECK_EQ(objhash_next_objref(h), 22);

	/* objref <= 0 */
	refs[0] = 30;
	refs[1] = 0;
	CHECK_EQ(objhash_insert_many(h, NULL, refs, 2, 4, &done), -OBJHASH_EINVAL);
	CHECK_EQ(done, 1);
	CHECK_EQ(objhash_count(h), 8);
	objhash_free(h);
}

static void test_fetch_many(void)
{
	struct objhash *h;
	int32_t refs[6] = { 3, 1, 2, 7, 1, 2 };
	uint64_t keys[6];
	uint32_t index[6];
	size_t done = 99;

	REQUIRE_EQ(objhash_alloc(&h, NULL), 0);
	CHECK_EQ(objhash_lookup_add(h, 0x10, 1, NULL), 1);
	CHECK_EQ(objhash_add(h, 0, 1), 2);
	CHECK_EQ(objhash_lookup_add(h, 0x30, 1, NULL), 3);
	CHECK_EQ(objhash_insert(h, 0x40, 7, 2), 0);

	CHECK_EQ(objhash_fetch_many(h, NULL, 0, 1, NULL, NULL, &done), 0);
	CHECK_EQ(done, 0);
	CHECK_EQ(objhash_fetch_many(h, NULL, 1, 1, NULL, NULL, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(objhash_fetch_many(h, refs, 3, 1, keys, index, &done), 0);
	CHECK_EQ(done, 3);
	CHECK(keys[0] == 0x30 && keys[1] == 0x10 && keys[2] == 0);
	CHECK(index[0] == 2 && index[1] == 0 && index[2] == 1);

	/* wrong type at [3] */
	CHECK_EQ(objhash_fetch_many(h, refs, 6, 1, keys, NULL, &done),
		 -OBJHASH_ENOMSG);
	CHECK_EQ(done, 3);
	/* absent at [1] */
	refs[1] = 8;
	CHECK_EQ(objhash_fetch_many(h, refs, 6, 1, NULL, index, &done),
		 -OBJHASH_EINVAL);
	CHECK_EQ(done, 1);
	refs[1] = -1;
	CHECK_EQ(objhash_fetch_many(h, refs, 6, 1, NULL, NULL, NULL), -OBJHASH_EINVAL);
	objhash_free(h);
}

const struct test_case objhash_many_tests[] = {
	TEST_CASE(test_lookup_add_many),
	TEST_CASE(test_insert_many),
	TEST_CASE(test_fetch_many),
};
const size_t objhash_many_ntests =
	sizeof(objhash_many_tests) / sizeof(objhash_many_tests[0]);

/* The per-lcore UUIDv4 generator (dataplane/http/uuid.h): RFC 9562 layout
 * (version 4, variant 10, lower-case hex, dashes at 8/13/18/23), no
 * duplicates over 10,000 ids, a reproducible stream per seed, different
 * streams for different seeds, and getrandom seeding. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "dataplane/http/uuid.h"

#define N_IDS 10000

static bool is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Every rule of the text form; counts a CHECK per id, not per byte. */
static bool uuid_well_formed(const char *u)
{
	for (int i = 0; i < UUID_STR_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : !is_lhex(u[i]))
			return false;
	}
	if (u[14] != '4')
		return false; /* version nibble */
	if (u[19] != '8' && u[19] != '9' && u[19] != 'a' && u[19] != 'b')
		return false; /* variant 10xx */
	return true;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, UUID_STR_LEN);
}

static void test_many(void)
{
	static char ids[N_IDS][UUID_STR_LEN];
	struct uuid_gen g;
	uuid_gen_seed(&g, 42);
	int bad = 0;
	unsigned variant_seen[4] = {0};
	for (int i = 0; i < N_IDS; i++) {
		char guard[UUID_STR_LEN + 1];
		memset(guard, '!', sizeof guard);
		uuid_v4(&g, guard);
		/* exactly 36 bytes written, no NUL */
		CHECK(guard[UUID_STR_LEN] == '!');
		memcpy(ids[i], guard, UUID_STR_LEN);
		if (!uuid_well_formed(ids[i])) {
			if (bad++ < 5)
				fprintf(stderr, "bad uuid %.36s\n", ids[i]);
		}
		char v = ids[i][19];
		variant_seen[v >= 'a' ? v - 'a' + 2 : v - '8']++;
	}
	CHECK_EQ_U64(bad, 0);
	/* the two free variant bits vary */
	for (int k = 0; k < 4; k++)
		CHECK(variant_seen[k] > N_IDS / 8);
	qsort(ids, N_IDS, UUID_STR_LEN, cmp_id);
	int dups = 0;
	for (int i = 1; i < N_IDS; i++)
		dups += memcmp(ids[i - 1], ids[i], UUID_STR_LEN) == 0;
	CHECK_EQ_U64(dups, 0);
}

static void test_seeds(void)
{
	struct uuid_gen a, b, c;
	char x[UUID_STR_LEN], y[UUID_STR_LEN], z[UUID_STR_LEN];

	/* the same seed gives the same stream */
	uuid_gen_seed(&a, 7);
	uuid_gen_seed(&b, 7);
	for (int i = 0; i < 100; i++) {
		uuid_v4(&a, x);
		uuid_v4(&b, y);
		CHECK(memcmp(x, y, UUID_STR_LEN) == 0);
	}
	/* different seeds differ (each id, over a run) */
	uuid_gen_seed(&a, 1);
	uuid_gen_seed(&c, 2);
	int same = 0;
	for (int i = 0; i < 100; i++) {
		uuid_v4(&a, x);
		uuid_v4(&c, z);
		same += memcmp(x, z, UUID_STR_LEN) == 0;
	}
	CHECK_EQ_U64(same, 0);
	/* seed 0 is a valid seed too */
	uuid_gen_seed(&a, 0);
	uuid_v4(&a, x);
	CHECK(uuid_well_formed(x));
	uuid_v4(&a, y);
	CHECK(memcmp(x, y, UUID_STR_LEN) != 0);

	/* getrandom seeding: well-formed, and two generators differ */
	CHECK_EQ_U64(uuid_gen_init(&a), 0);
	CHECK_EQ_U64(uuid_gen_init(&b), 0);
	uuid_v4(&a, x);
	uuid_v4(&b, y);
	CHECK(uuid_well_formed(x));
	CHECK(uuid_well_formed(y));
	CHECK(memcmp(x, y, UUID_STR_LEN) != 0);
}

int main(void)
{
	test_many();
	test_seeds();
	CHECK_DONE();
}

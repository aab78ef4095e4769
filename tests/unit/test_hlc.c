/* Hybrid logical clock: monotonic under a clock that goes back, observe,
 * pack/unpack, ordering with the origin tie-break. */
#include "check.h"
#include "storage/hlc.h"

static void pack_unpack(void)
{
	uint64_t v = hlc_pack(0x123456789abcULL, 0xbeef);

	CHECK_EQ_U64(hlc_ms(v), 0x123456789abcULL);
	CHECK_EQ_U64(hlc_logical(v), 0xbeef);
	CHECK_EQ_U64(hlc_pack(0, 0), 0);
	/* ms is 48 bits: higher bits are dropped, not smeared */
	v = hlc_pack(UINT64_MAX, 7);
	CHECK_EQ_U64(hlc_ms(v), HLC_MS_MASK);
	CHECK_EQ_U64(hlc_logical(v), 7);
	/* ordering of packed values follows (ms, logical) */
	CHECK(hlc_pack(5, 0xffff) < hlc_pack(6, 0));
	CHECK(hlc_pack(5, 1) < hlc_pack(5, 2));
}

static void monotonic(void)
{
	struct hlc h;
	uint64_t prev, v;

	hlc_init(&h, 0);
	v = hlc_now(&h, 1000);
	CHECK_EQ_U64(v, hlc_pack(1000, 0));
	prev = v;
	/* same ms: logical counter */
	v = hlc_now(&h, 1000);
	CHECK_EQ_U64(v, hlc_pack(1000, 1));
	CHECK(v > prev);
	prev = v;
	/* clock back by an hour: still increasing, stays on the old ms */
	v = hlc_now(&h, 1000 - 999);
	CHECK(v > prev);
	CHECK_EQ_U64(hlc_ms(v), 1000);
	CHECK_EQ_U64(hlc_logical(v), 2);
	prev = v;
	int backwards = 0;
	for (int i = 0; i < 100000; i++) {
		v = hlc_now(&h, (uint64_t)(i % 7));
		backwards += v <= prev;
		prev = v;
	}
	CHECK_EQ_U64(backwards, 0);
	/* logical overflow carries into ms instead of wrapping */
	hlc_init(&h, hlc_pack(2000, 0xffff));
	v = hlc_now(&h, 0);
	CHECK_EQ_U64(v, hlc_pack(2001, 0));
	/* clock forward: jump to wall */
	v = hlc_now(&h, 5000);
	CHECK_EQ_U64(v, hlc_pack(5000, 0));
	/* a floor: never issue at or below it */
	hlc_init(&h, hlc_pack(9000, 3));
	CHECK(hlc_now(&h, 1) > hlc_pack(9000, 3));
}

static void observe(void)
{
	struct hlc h;
	uint64_t remote = hlc_pack(50000, 9), v;

	hlc_init(&h, 0);
	(void)hlc_now(&h, 100);
	hlc_observe(&h, remote);
	v = hlc_now(&h, 100);
	CHECK(v > remote);
	CHECK_EQ_U64(v, hlc_pack(50000, 10));
	/* an older remote does not move the clock back */
	hlc_observe(&h, hlc_pack(1, 0));
	CHECK(hlc_now(&h, 100) > v);
	/* observing with the wall ahead: wall wins */
	hlc_observe(&h, hlc_pack(60000, 0));
	CHECK_EQ_U64(hlc_now(&h, 70000), hlc_pack(70000, 0));
}

static void ordering(void)
{
	struct loom_version a = {hlc_pack(10, 0), 1};
	struct loom_version b = {hlc_pack(10, 0), 2};
	struct loom_version c = {hlc_pack(10, 1), 1};

	CHECK(loom_version_cmp(a, b) < 0);
	CHECK(loom_version_cmp(b, a) > 0);
	CHECK(loom_version_cmp(a, a) == 0);
	CHECK(loom_version_cmp(c, b) > 0); /* hlc first, origin only ties */
	CHECK(loom_version_cmp(b, c) < 0);
}

int main(void)
{
	pack_unpack();
	monotonic();
	observe();
	ordering();
	CHECK_DONE();
}

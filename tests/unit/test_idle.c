/* Idle back-off: spin first, then sleeps that double up to the bound. */
#include "dataplane/idle.h"

#include "check.h"

int main(void)
{
	struct idle_backoff b;
	idle_init(&b, 3, 100);
	CHECK_EQ_U64(idle_empty(&b), 0);
	CHECK_EQ_U64(idle_empty(&b), 0);
	CHECK_EQ_U64(idle_empty(&b), 0);
	uint32_t expect[] = {1, 2, 4, 8, 16, 32, 64, 100, 100, 100};
	for (unsigned i = 0; i < sizeof expect / sizeof expect[0]; i++)
		CHECK_EQ_U64(idle_empty(&b), expect[i]);

	/* Work resets to spinning. */
	idle_work(&b);
	CHECK_EQ_U64(idle_empty(&b), 0);
	CHECK_EQ_U64(idle_empty(&b), 0);
	CHECK_EQ_U64(idle_empty(&b), 0);
	CHECK_EQ_U64(idle_empty(&b), 1);

	/* sleep_max_us = 0: never sleeps, however long it is idle. */
	idle_init(&b, 0, 0);
	uint64_t total = 0;
	for (int i = 0; i < 100000; i++)
		total += idle_empty(&b);
	CHECK_EQ_U64(total, 0);

	/* No spinning phase: the first empty poll sleeps. */
	idle_init(&b, 0, 1000);
	CHECK_EQ_U64(idle_empty(&b), 1);

	/* A bound that is not a power of two is reached, not overshot. */
	idle_init(&b, 0, 1000);
	uint32_t last = 0;
	for (int i = 0; i < 40; i++) {
		last = idle_empty(&b);
		CHECK(last <= 1000);
	}
	CHECK_EQ_U64(last, 1000);

	CHECK_DONE();
}

#include "dataplane/idle.h"

void idle_init(struct idle_backoff *b, uint32_t spin_polls,
               uint32_t sleep_max_us)
{
	b->spin_polls = spin_polls;
	b->sleep_max_us = sleep_max_us;
	b->empty_polls = 0;
	b->sleep_us = 0;
}

uint32_t idle_empty(struct idle_backoff *b)
{
	if (b->sleep_max_us == 0)
		return 0;
	if (b->empty_polls < b->spin_polls) {
		b->empty_polls++;
		return 0;
	}
	uint32_t now = b->sleep_us == 0 ? 1 : b->sleep_us;
	if (now > b->sleep_max_us)
		now = b->sleep_max_us;
	/* Doubling reaches the bound in ~log2(max) sleeps: an idle lcore costs
	 * almost nothing, and the first packet after a lull waits at most
	 * sleep_max_us. */
	b->sleep_us = now >= b->sleep_max_us / 2 ? b->sleep_max_us : now * 2;
	return now;
}

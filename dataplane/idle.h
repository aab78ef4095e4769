/*
 * idle.h - adaptive idle back-off for poll-mode lcores.
 *
 * A poll loop spins while there is work. After `spin_polls` consecutive empty
 * polls it starts sleeping, 1 us first and doubling up to `sleep_max_us`; any
 * work resets it to spinning. sleep_max_us = 0 disables sleeping (dedicated
 * production cores). Plain C so its arithmetic is unit-tested.
 */
#ifndef LOOM_DATAPLANE_IDLE_H
#define LOOM_DATAPLANE_IDLE_H

#include <stdint.h>

struct idle_backoff {
	uint32_t spin_polls;
	uint32_t sleep_max_us;
	uint32_t empty_polls;
	uint32_t sleep_us; /* next sleep length; 0 while still spinning */
};

void idle_init(struct idle_backoff *b, uint32_t spin_polls,
               uint32_t sleep_max_us);

/* The poll found work: back to spinning. */
static inline void idle_work(struct idle_backoff *b)
{
	b->empty_polls = 0;
	b->sleep_us = 0;
}

/* The poll found nothing. Returns how many microseconds to sleep now
 * (0 = keep spinning). */
uint32_t idle_empty(struct idle_backoff *b);

#endif

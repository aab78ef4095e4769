/*
 * counters.h - reading another lcore's counters.
 *
 * Counters are plain uint64_t fields written only by their owning lcore.
 * Readers on other threads (the main lcore's stats file, the telemetry
 * thread) load them relaxed: a value may be a burst stale, never torn on the
 * 64-bit targets DPDK supports.
 */
#ifndef LOOM_DATAPLANE_COUNTERS_H
#define LOOM_DATAPLANE_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#define COUNTER_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* dst += src, field by field, for structs made only of uint64_t counters
 * (struct net_stats, struct tcp_stats, struct lcore_counters). */
static inline void counters_add(void *dst, const void *src, size_t bytes)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
		d[i] += COUNTER_LOAD(s[i]);
}

#endif

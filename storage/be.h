/*
 * be.h - big-endian integers of 1..8 bytes, for the on-disk and on-wire
 * layouts of storage/ (big-endian so that LMDB's byte-wise key order is the
 * numeric order of sequence numbers and origins).
 */
#ifndef LOOM_STORAGE_BE_H
#define LOOM_STORAGE_BE_H

#include <stdint.h>

static inline void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static inline uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif

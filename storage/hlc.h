/*
 * hlc.h - hybrid logical clock (DESIGN §2): a version is 48 bits of wall
 * milliseconds and a 16-bit logical counter packed into a u64, with the
 * origin node id as tie-break. The wall clock is passed in by the caller
 * (injected), so nothing here reads time and tests can move it freely.
 */
#ifndef LOOM_STORAGE_HLC_H
#define LOOM_STORAGE_HLC_H

#include <stdint.h>

#define HLC_MS_BITS 48
#define HLC_LOGICAL_BITS 16
#define HLC_MS_MASK ((UINT64_C(1) << HLC_MS_BITS) - 1)

struct hlc {
	uint64_t last; /* the highest version issued or observed */
};

struct loom_version {
	uint64_t hlc;
	uint16_t origin;
};

static inline uint64_t hlc_pack(uint64_t ms, uint16_t logical)
{
	return ((ms & HLC_MS_MASK) << HLC_LOGICAL_BITS) | logical;
}

static inline uint64_t hlc_ms(uint64_t v)
{
	return v >> HLC_LOGICAL_BITS;
}

static inline uint16_t hlc_logical(uint64_t v)
{
	return (uint16_t)(v & 0xffff);
}

/* Start a clock that will only issue versions above 'floor'. */
void hlc_init(struct hlc *h, uint64_t floor);

/* The next version: max(wall_ms << 16, last + 1). Strictly increasing no
 * matter what wall_ms does. */
uint64_t hlc_now(struct hlc *h, uint64_t wall_ms);

/* Advance past a received version: the next hlc_now() is above it. */
void hlc_observe(struct hlc *h, uint64_t remote);

/* <0, 0, >0 as a is older, equal, newer than b: hlc first, origin breaks
 * ties (the higher origin wins). */
int loom_version_cmp(struct loom_version a, struct loom_version b);

#endif

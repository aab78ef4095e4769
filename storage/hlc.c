/* hlc.c - hybrid logical clock; see hlc.h. */
#include "storage/hlc.h"

void hlc_init(struct hlc *h, uint64_t floor)
{
	h->last = floor;
}

uint64_t hlc_now(struct hlc *h, uint64_t wall_ms)
{
	uint64_t wall = hlc_pack(wall_ms, 0);
	uint64_t next = h->last + 1;

	if (wall > next)
		next = wall;
	h->last = next;
	return next;
}

void hlc_observe(struct hlc *h, uint64_t remote)
{
	if (remote > h->last)
		h->last = remote;
}

int loom_version_cmp(struct loom_version a, struct loom_version b)
{
	if (a.hlc != b.hlc)
		return a.hlc < b.hlc ? -1 : 1;
	if (a.origin != b.origin)
		return a.origin < b.origin ? -1 : 1;
	return 0;
}

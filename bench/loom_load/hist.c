#include "bench/loom_load/hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* Values below 2 * HIST_SUB map to themselves. Above, v in [2^k, 2^(k+1))
 * with e = k - HIST_SUB_BITS keeps its top 8 bits m = v >> e (128..255):
 * index e * 128 + m, which continues the exact range without a gap. */
uint32_t hist_index(uint64_t us)
{
	if (us > HIST_MAX_US)
		us = HIST_MAX_US;
	if (us < 2u * HIST_SUB)
		return (uint32_t)us;
	unsigned k = 63u - (unsigned)__builtin_clzll(us);
	unsigned e = k - HIST_SUB_BITS;
	return e * HIST_SUB + (uint32_t)(us >> e);
}

uint64_t hist_bucket_lo(uint32_t idx)
{
	if (idx < 2u * HIST_SUB)
		return idx;
	unsigned e = idx / HIST_SUB - 1u;
	uint64_t m = (idx % HIST_SUB) | HIST_SUB;
	return m << e;
}

uint64_t hist_bucket_hi(uint32_t idx)
{
	if (idx < 2u * HIST_SUB)
		return idx;
	unsigned e = idx / HIST_SUB - 1u;
	return hist_bucket_lo(idx) + (1ull << e) - 1u;
}

void hist_record(struct hist *h, uint64_t us)
{
	if (us > HIST_MAX_US) {
		h->over++;
		us = HIST_MAX_US;
	}
	h->b[hist_index(us)]++;
	h->count++;
	h->sum += us;
	if (us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (src->count == 0)
		return;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	dst->over += src->over;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	double r = ceil(p / 100.0 * (double)h->count);
	uint64_t rank = r < 1.0 ? 1u : (uint64_t)r;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen < rank)
			continue;
		uint64_t lo = hist_bucket_lo(i), hi = hist_bucket_hi(i);
		uint64_t v = lo + (hi - lo) / 2u;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

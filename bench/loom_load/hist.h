/*
 * hist.h - a latency histogram in microseconds, log-linear like HDR
 * histograms: exact below 256 us, then 128 sub-buckets per power of two,
 * so a bucket is never wider than 1/128 of its lower bound and a reported
 * percentile (the middle of its bucket, clamped to the recorded min and
 * max) is within 0.4% of the true sample. Range 0 us to HIST_MAX_US (60 s);
 * larger samples count as HIST_MAX_US (and in `over`).
 *
 * Plain data, fixed size (about 20 KiB), no allocation: one per load
 * lcore, recorded into on the request path, merged at the end.
 */
#ifndef LOOM_LOAD_HIST_H
#define LOOM_LOAD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)           /* 128 */
#define HIST_MAX_US 60000000ull                  /* 60 s */
/* 2^26 us > 60 s: exponents up to 25, index up to 18 * 128 + 255. */
#define HIST_BUCKETS (19u * HIST_SUB + HIST_SUB) /* 2560 */

struct hist {
	uint64_t count;
	uint64_t sum;   /* of the recorded (clamped) values, for the mean */
	uint64_t min, max;
	uint64_t over;  /* samples above HIST_MAX_US, recorded as it */
	uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t us);
/* dst += src. */
void hist_merge(struct hist *dst, const struct hist *src);

/* The p-th percentile (0 < p <= 100): the smallest recorded value v such
 * that at least ceil(p/100 * count) samples are <= v, as the middle of v's
 * bucket clamped to [min, max]; 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);

/* Bucket arithmetic, exposed for the unit test. */
uint32_t hist_index(uint64_t us);
uint64_t hist_bucket_lo(uint32_t idx);
uint64_t hist_bucket_hi(uint32_t idx);

#endif

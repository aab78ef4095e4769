#include "dataplane/port/fault.h"

#include <math.h>
#include <stddef.h>

/* splitmix64: tiny, fast, and good enough to decide coin flips; a seeded
 * stream means a failing fault test can be replayed exactly. */
static uint64_t fault_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rate_threshold(double rate)
{
	if (!(rate > 0.0))
		return 0;
	if (rate >= 1.0)
		rate = 1.0;
	return (uint64_t)ldexp(rate, 53);
}

/* True with probability thr / 2^53. */
static bool roll(struct fault_state *st, uint64_t thr)
{
	return thr != 0 && (fault_next(&st->rng) >> 11) < thr;
}

void fault_init(struct fault_state *st, double drop, double dup,
                double reorder, double corrupt, uint64_t seed, uint64_t stream)
{
	*st = (struct fault_state){0};
	st->drop_thr = rate_threshold(drop);
	st->dup_thr = rate_threshold(dup);
	st->reorder_thr = rate_threshold(reorder);
	st->corrupt_thr = rate_threshold(corrupt);
	st->enabled = st->drop_thr || st->dup_thr || st->reorder_thr ||
	              st->corrupt_thr;
	st->rng = seed ^ (stream * 0xD1B54A32D192ED03ULL);
	(void)fault_next(&st->rng);
}

/* Append p to out, or free it when out is full: nothing is ever leaked. */
static void emit(const struct fault_ops *ops, void *p, void **out,
                 uint16_t *k, uint16_t cap)
{
	if (*k < cap)
		out[(*k)++] = p;
	else
		ops->free(ops->user, p);
}

uint16_t fault_apply(struct fault_state *st, const struct fault_ops *ops,
                     void *const *in, uint16_t n, void **out, uint16_t cap)
{
	void *release = st->held;
	st->held = NULL;
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		void *p = in[i];
		if (roll(st, st->drop_thr)) {
			ops->free(ops->user, p);
			st->stats.dropped++;
			continue;
		}
		if (roll(st, st->corrupt_thr)) {
			ops->corrupt(ops->user, p, fault_next(&st->rng));
			st->stats.corrupted++;
		}
		void *dup = NULL;
		if (roll(st, st->dup_thr))
			dup = ops->clone(ops->user, p);
		if (st->held == NULL && roll(st, st->reorder_thr)) {
			/* Hold it: its successor overtakes it. */
			st->held = p;
			st->stats.reordered++;
			p = NULL;
		}
		if (p != NULL)
			emit(ops, p, out, &k, cap);
		if (dup != NULL) {
			/* Counted only when it really goes out. */
			st->stats.duplicated += k < cap;
			emit(ops, dup, out, &k, cap);
		}
		if (release != NULL && k > 0) {
			emit(ops, release, out, &k, cap);
			release = NULL;
		}
	}
	if (release != NULL)
		emit(ops, release, out, &k, cap);
	return k;
}

void fault_flush(struct fault_state *st, const struct fault_ops *ops)
{
	if (st->held != NULL) {
		ops->free(ops->user, st->held);
		st->held = NULL;
	}
}

/*
 * fault.h - seeded packet-fault injection for the port layer (tests only).
 *
 * Sits between rte_eth_rx_burst/tx_burst and the stack and drops, duplicates,
 * reorders and corrupts packets at configured rates, so loss and reordering
 * can be tested on a kernel without netem. Plain C over opaque packet
 * handles; the ops do the buffer work (rte_pktmbuf_free/copy in loomd).
 *
 * Deterministic: the same seed and the same sequence of bursts give the same
 * faults. One struct fault_state per lcore and direction; never shared.
 */
#ifndef LOOM_PORT_FAULT_H
#define LOOM_PORT_FAULT_H

#include <stdbool.h>
#include <stdint.h>

struct fault_ops {
	void (*free)(void *user, void *pkt);
	/* A copy of pkt, or NULL when no buffer is free (the duplicate is then
	 * simply not made). */
	void *(*clone)(void *user, void *pkt);
	/* Flip one bit chosen with `rnd` somewhere in the packet's bytes. */
	void (*corrupt)(void *user, void *pkt, uint64_t rnd);
	void *user;
};

struct fault_stats {
	uint64_t dropped, duplicated, reordered, corrupted;
};

struct fault_state {
	bool enabled;
	uint64_t rng;
	/* rates as thresholds on a 53-bit uniform draw: exact and branch-cheap */
	uint64_t drop_thr, dup_thr, reorder_thr, corrupt_thr;
	void *held; /* a packet held back to be delivered after its successor */
	struct fault_stats stats;
};

/* Rates in [0, 1). enabled is false when all rates are 0, and then
 * fault_apply is never worth calling. `stream` separates the random streams
 * of states that share a seed (one per lcore and direction). */
void fault_init(struct fault_state *st, double drop, double dup,
                double reorder, double corrupt, uint64_t seed,
                uint64_t stream);

/* Apply faults to in[0..n) and write the surviving packets, in their new
 * order, to out[0..return). out has room for `cap` handles; cap >= 2 * n + 1
 * lets every packet be duplicated and a held packet released. A packet held
 * for reordering is emitted after the first packet of the next call (or at
 * the end of that call when it has none), so nothing is held for more than
 * one poll. */
uint16_t fault_apply(struct fault_state *st, const struct fault_ops *ops,
                     void *const *in, uint16_t n, void **out, uint16_t cap);

/* Give back a held packet (at shutdown) through ops->free. */
void fault_flush(struct fault_state *st, const struct fault_ops *ops);

#endif

/*
 * storage_lcore.h - the storage lcore: the store's only writer, group
 * commit of the io lcores' writes (DESIGN §1, §2).
 *
 * Rings, one pair per io lcore i (SP/SC, created here, on the storage
 * lcore's socket):
 *   in[i]    io lcore i -> storage: struct write_req pointers (write_req.h)
 *   done[i]  storage -> io lcore i: the same pointers, results filled
 * Pairs 0 .. n_io_lcores - 1 are the [lcores] io lcores in order; pair
 * n_io_lcores + k is repl lcore k ([lcores] repl; the repl lcore is an io
 * lcore with index n_io, docs/REPLICATION.md), which submits WRITE_REMOTE,
 * WRITE_COPY and WRITE_COPY_END.
 * Each ring has rte_align32pow2(ring_size + 1) slots, so it holds ring_size
 * requests. ring_size must be at least the number of requests io lcore i
 * can have outstanding (its request pool(s)): then done[i] can always take
 * every completion and in[i] never refuses a request that has a buffer.
 *
 * The loop (storage_lcore_main):
 *   1. dequeue up to [storage] batch_max requests, round-robin over the in
 *      rings with a per-ring quantum and a rotating start, so a busy io
 *      lcore cannot starve the others;
 *   2. storage_apply_batch() (storage/batch.h): one write txn, one commit
 *      (client writes and peers' WRITE_REMOTE batches and merge copies
 *      alike); after a
 *      commit, publish our origin's last seq (storage_lcore_own_seq);
 *   3. enqueue each request on done[req->io_index], in the order it was
 *      dequeued. A request's io_index must be the ring it came in on; one
 *      that says otherwise is counted (misrouted) and answered on the ring
 *      it came in on, which keeps each io lcore's completions in
 *      submission order (write_req.h relies on it).
 *      If a done ring ever refuses (it cannot by construction), the
 *      refused completions and every later one for that ring stay in a
 *      local array and are retried first on the next pass; the in ring of
 *      that io lcore is not read meanwhile. Completions are never dropped
 *      or reordered while their io lcore runs.
 *   4. sync = interval: store_sync() every sync_interval_ms when something
 *      was committed since the last one (the check runs once per pass, so
 *      an idle sleep can delay it by up to idle_sleep_max_us).
 *   5. log retention, on a node with peers: every [repl]
 *      prune_interval_ms (10 ms after a step that ran out of budget, while
 *      a backlog remains) one storage_prune_step() (storage/batch.h): a
 *      short read txn decides, one write txn deletes at most 1000 log
 *      entries, between two group commits. Our own origin is bounded by
 *      repl_min_acked_up() of app->repl->repl (dataplane/repl/session.h;
 *      a relaxed cross-lcore read, see maybe_prune) and nothing of it is
 *      pruned while no peer is up; other origins by our cursor; all by
 *      [repl] log_retention_ms on the entry's version. A node without
 *      peers (app->repl NULL) never prunes. Not run while stopping.
 *   6. no work: idle back-off (dataplane/idle.h).
 * On stop: the loop keeps applying and completing until every io lcore
 * (repl lcores included) has left its own loop (its EAL state is no longer RUNNING) and the in rings
 * are empty, then syncs (sync = interval), so every request an io lcore
 * enqueued is committed before the store closes. Completions that no
 * stopped io lcore can take any more are then abandoned (logged); their
 * buffers belong to the io lcores' pools, freed with them.
 *
 * Nothing is allocated after storage_lcore_create().
 *
 * Threads: everything here but the accessors belongs to the storage lcore
 * while it runs. The counters are written only by it and read relaxed
 * (COUNTER_LOAD, dataplane/counters.h) by others; the depth helpers may be
 * called from any thread (approximate, like rte_ring_count()).
 */
#ifndef LOOM_DATAPLANE_STORAGE_LCORE_H
#define LOOM_DATAPLANE_STORAGE_LCORE_H

#include <stdint.h>

#include <rte_ring.h>

#include "dataplane/loomd.h"
#include "storage/batch.h"
#include "storage/store.h"

/* The loop's own counters; written only by the storage lcore. */
struct storage_loop_counters {
	uint64_t polls;         /* loop iterations */
	uint64_t busy_polls;    /* iterations that dequeued or completed */
	uint64_t idle_sleeps, idle_sleep_us;
	uint64_t done_held;     /* completions a done ring refused, each
	                           counted once (held back and retried; 0
	                           unless a pool outgrows its ring) */
	uint64_t misrouted;     /* requests whose io_index was not their ring */
	uint64_t abandoned;     /* completions left at stop: no io lcore was
	                           running to take them */
};

struct storage_lcore;

/* Build the storage lcore's context and its 2 * cfg->n_io_lcores rings on
 * lcore_id's socket. store stays owned by the caller and must outlive the
 * context; ring_size is the per-io-lcore request capacity (see above).
 * Returns NULL and logs on failure. Before rte_eal_remote_launch. */
struct storage_lcore *storage_lcore_create(struct loomd *app,
                                           unsigned lcore_id,
                                           struct store *store,
                                           unsigned ring_size);
/* Free the rings and the context (NULL is fine). After the lcore has
 * returned and the io lcores have stopped; requests still in the rings are
 * not touched (their buffers belong to the io lcores' pools). */
void storage_lcore_destroy(struct storage_lcore *sl);

/* The ring io lcore io enqueues requests on (it is the only producer). */
struct rte_ring *storage_lcore_in_ring(struct storage_lcore *sl, uint16_t io);
/* The ring io lcore io dequeues completions from (it is the only consumer). */
struct rte_ring *storage_lcore_done_ring(struct storage_lcore *sl,
                                         uint16_t io);
/* Requests waiting in in[io] / completions waiting in done[io]. */
unsigned storage_lcore_in_depth(const struct storage_lcore *sl, uint16_t io);
unsigned storage_lcore_done_depth(const struct storage_lcore *sl,
                                  uint16_t io);
/* Ring pairs: n_io_lcores + n_repl_lcores. */
uint16_t storage_lcore_n_io(const struct storage_lcore *sl);
unsigned storage_lcore_id(const struct storage_lcore *sl);

const struct storage_counters *
storage_lcore_counters(const struct storage_lcore *sl);
const struct storage_loop_counters *
storage_lcore_loop_counters(const struct storage_lcore *sl);

/* The last seq of our own origin whose txn has committed (docs/
 * REPLICATION.md: the streamer's "new local commits" signal). Any thread,
 * any time after create: an acquire load of what the storage lcore
 * publishes (release) after each successful commit, before that batch's
 * completions go out; so a read txn begun after reading N sees seq N in
 * log.<self>. Starts at the store's cursor of our origin at create. */
uint64_t storage_lcore_own_seq(const struct storage_lcore *sl);

/* rte_eal_remote_launch entry; arg is the struct storage_lcore. Returns 0
 * when it stops. */
int storage_lcore_main(void *arg);

#endif

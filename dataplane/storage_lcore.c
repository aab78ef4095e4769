/* storage_lcore.c - the storage lcore's loop; see storage_lcore.h. */
#include "dataplane/storage_lcore.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "common/log.h"
#include "dataplane/idle.h"
#include "dataplane/lcore.h"
#include "dataplane/repl/session.h"

#define LOG_PERIOD_S 1      /* at most one error line per second */
#define PRUNE_MAX_ENTRIES 1000 /* log entries deleted per prune txn */
#define PRUNE_CATCHUP_MS 10 /* next step after one that ran out of budget */
#define STOP_WARN_S 1       /* at stop: say we wait for io lcores after 1 s */
#define STOP_MAX_S 30       /* ... and give up on them after 30 s */
#define STOP_POLL_US 100    /* at stop, the wait between empty passes */
/* ring pairs: one per io lcore, then one per repl lcore */
#define STORAGE_MAX_RINGS (LOOM_MAX_IO_LCORES + LOOM_MAX_REPL_LCORES)

struct storage_lcore {
	struct loomd *app;
	struct store *store;
	unsigned lcore_id;
	uint16_t n_io;      /* ring pairs: [io] lcores, then [repl] lcores */
	uint16_t rr;        /* the in ring the next dequeue round starts at */
	uint32_t batch_max; /* capacity of pend[] */
	uint32_t pend_n;    /* requests in pend[]: held completions first,
	                       then the batch being applied */
	bool sync_interval;
	bool dirty;         /* committed since the last store_sync() */
	uint64_t tsc_hz;
	uint64_t sync_period_tsc;
	uint64_t next_sync_tsc;
	uint64_t log_next_tsc;
	uint64_t log_suppressed;
	/* log retention (maybe_prune) */
	uint64_t retention_ms;
	uint64_t prune_period_tsc;
	uint64_t prune_catchup_tsc;
	uint64_t next_prune_tsc;
	struct storage_prune_state prune_st;
	struct store_reader prune_rd; /* the prune step's read txn */
	bool prune_rd_ok;             /* prune_rd initialised */
	struct idle_backoff idle;
	/* done[i] refused a completion in the last flush: keep the rest of
	 * its completions behind it and do not read in[i] until it drains */
	bool blocked[STORAGE_MAX_RINGS];
	struct rte_ring *in[STORAGE_MAX_RINGS];
	struct rte_ring *done[STORAGE_MAX_RINGS];
	/* read by other threads: a line of their own */
	struct storage_counters c __rte_cache_aligned;
	struct storage_loop_counters lc;
	/* the last own seq committed (storage_lcore_own_seq): polled by the
	 * repl lcore every pass, so on a line of its own too, away from the
	 * counters written every batch */
	_Atomic uint64_t own_seq __rte_cache_aligned;
	/* batch_max slots: completions a done ring refused (in dequeue order),
	 * then the batch in flight. One array, so the batch is applied in
	 * place and appended to what is held without copying. */
	struct write_req *pend[];
};

/* --- helpers ------------------------------------------------------------- */

/* The commit timer of storage_apply_batch(): TSC in nanoseconds. */
static uint64_t tsc_now_ns(void)
{
	return (uint64_t)((__uint128_t)rte_get_tsc_cycles() * 1000000000u /
	                  rte_get_tsc_hz());
}

/* Errors on the write path can repeat once per batch; one line a second
 * says what happened without flooding the log. */
static void __attribute__((format(printf, 2, 3)))
log_limited(struct storage_lcore *sl, const char *fmt, ...)
{
	uint64_t now = rte_get_tsc_cycles();
	char msg[256];
	va_list ap;

	if (now < sl->log_next_tsc) {
		sl->log_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (sl->log_suppressed)
		LOG_ERR("storage", "lcore %u: %s (%" PRIu64 " similar "
		        "errors suppressed)", sl->lcore_id, msg,
		        sl->log_suppressed);
	else
		LOG_ERR("storage", "lcore %u: %s", sl->lcore_id, msg);
	sl->log_suppressed = 0;
	sl->log_next_tsc = now + LOG_PERIOD_S * sl->tsc_hz;
}

static void idle_sleep(struct storage_lcore *sl)
{
	uint32_t us = idle_empty(&sl->idle);

	if (us == 0)
		return;
	sl->lc.idle_sleeps++;
	sl->lc.idle_sleep_us += us;
	rte_delay_us_sleep(us);
}

/* --- one pass ------------------------------------------------------------ */

/* Dequeue up to the free part of pend[] behind the held completions.
 * Round-robin with a quantum of an equal share per ring and a start that
 * rotates every pass: a ring with a backlog gets its share and then waits
 * for the others, and with batch_max < n_io (quantum 1) the rotation still
 * reaches every ring. */
static unsigned dequeue_batch(struct storage_lcore *sl)
{
	struct write_req **dst = sl->pend + sl->pend_n;
	unsigned budget = sl->batch_max - sl->pend_n;
	unsigned quantum = budget / sl->n_io ? budget / sl->n_io : 1;
	unsigned got = 0;
	bool more = true;

	while (more && got < budget) {
		more = false;
		for (unsigned k = 0; k < sl->n_io && got < budget; k++) {
			unsigned i = (sl->rr + k) % sl->n_io;
			unsigned left = 0, n;

			if (sl->blocked[i])
				continue;
			n = rte_ring_sc_dequeue_burst(
				sl->in[i], (void **)(dst + got),
				RTE_MIN(quantum, budget - got), &left);
			/* Answer on the ring it came in on: that is what
			 * keeps an io lcore's completions in its order. */
			for (unsigned j = got; j < got + n; j++) {
				if (dst[j]->io_index == i)
					continue;
				sl->lc.misrouted++;
				log_limited(sl, "request with io_index %u "
				            "arrived on ring %u", dst[j]->io_index,
				            i);
				dst[j]->io_index = (uint8_t)i;
			}
			got += n;
			if (left != 0)
				more = true;
		}
	}
	sl->rr = (uint16_t)((sl->rr + 1u) % sl->n_io);
	return got;
}

/* Hand pend[] to the done rings in order, one burst per run of requests
 * for the same io lcore. What a ring refuses, and everything after it for
 * that ring, moves to the front of pend[] for the next pass. pend[0..old)
 * were already held by the previous pass: only the others count as newly
 * held. Returns how many were completed. */
static unsigned flush_completions(struct storage_lcore *sl, unsigned old)
{
	unsigned keep = 0, sent = 0, i = 0;

	memset(sl->blocked, 0, sizeof sl->blocked);
	while (i < sl->pend_n) {
		uint8_t io = sl->pend[i]->io_index;
		unsigned j = i + 1, n = 0;

		while (j < sl->pend_n && sl->pend[j]->io_index == io)
			j++;
		if (!sl->blocked[io])
			n = rte_ring_sp_enqueue_burst(
				sl->done[io], (void *const *)(sl->pend + i),
				j - i, NULL);
		if (n < j - i) {
			unsigned held = j - i - n;
			unsigned first_new = RTE_MAX(i + n, old);

			sl->blocked[io] = true;
			if (j > first_new)
				sl->lc.done_held += j - first_new;
			memmove(sl->pend + keep, sl->pend + i + n,
			        held * sizeof sl->pend[0]);
			keep += held;
		}
		sent += n;
		i = j;
	}
	sl->pend_n = keep;
	return sent;
}

/* Dequeue, apply, complete. Returns the work done (requests dequeued plus
 * completions delivered); 0 means every ring that may be read was empty
 * and nothing held could be delivered. */
static unsigned storage_poll(struct storage_lcore *sl)
{
	unsigned held = sl->pend_n;
	unsigned got = dequeue_batch(sl);

	if (got != 0) {
		int rc = storage_apply_batch(sl->store, sl->pend + sl->pend_n,
		                             got, &sl->c, tsc_now_ns);
		if (rc != 0) {
			log_limited(sl, "batch of %u aborted, every request "
			            "answered %s: %s", got,
			            rc == MDB_MAP_FULL ? "full" : "failed",
			            mdb_strerror(rc));
		} else {
			sl->dirty = true;
			/* Before the completions go out: once an io lcore
			 * answers a write, the streamer can already see its
			 * seq. Release: whoever reads the seq also sees the
			 * commit that holds it (its read txn begins after). */
			atomic_store_explicit(&sl->own_seq,
			                      store_own_seq(sl->store),
			                      memory_order_release);
		}
		sl->pend_n += got;
	}
	return got + flush_completions(sl, held);
}

/* sync = interval: flush what was committed since the last sync once the
 * period is over (force: now, at stop). */
static void maybe_sync(struct storage_lcore *sl, bool force)
{
	uint64_t now;
	int rc;

	if (!sl->sync_interval || !sl->dirty)
		return;
	now = rte_get_tsc_cycles();
	if (!force && now < sl->next_sync_tsc)
		return;
	sl->next_sync_tsc = now + sl->sync_period_tsc;
	rc = store_sync(sl->store);
	if (rc == 0) {
		sl->c.syncs++;
		sl->dirty = false;
	} else {
		sl->c.sync_errors++; /* stays dirty: retried next period */
		log_limited(sl, "store sync: %s", mdb_strerror(rc));
	}
}

/* --- log retention ------------------------------------------------------- */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Every prune_interval_ms (sooner while a backlog remains), between two
 * passes of group commit: one bounded prune txn (storage_prune_step,
 * storage/batch.h). A client write waits at most for that one small txn.
 *
 * A node with no peer (alone, or none given by loom-controld yet, or all
 * removed) prunes its own log by age alone: nobody can still need an
 * entry from it, and a peer added later below the floor gets a merge copy;
 * its tombstones stay (own_acked_all 0: a node that comes back from
 * removal must not see its stale records win). app->repl and its ->repl
 * were written by the main lcore before the lcores were launched and are
 * read-only since. repl_min_acked_up() reads the repl lcore's
 * per-peer state with relaxed loads, from this lcore: each peer's ack only
 * grows, so a stale read can only make the bound lower (less pruned). The
 * one race that matters is a peer coming up between the read and the
 * prune: if it is still counted down, the others' acks bound the step, and
 * it may find its cursor below the log floor - it then gets a merge copy
 * (docs/REPLICATION.md), nothing is skipped silently. Only entries at
 * least log_retention_ms old are ever at stake. */
static void maybe_prune(struct storage_lcore *sl)
{
	const struct io_lcore *rl = sl->app->repl;
	const struct repl *r = rl != NULL ? rl->repl : NULL;
	struct storage_prune_policy p;
	uint64_t now = rte_get_tsc_cycles();
	unsigned n_up = 0, pruned = 0;
	bool more = false;
	int rc;

	if (now < sl->next_prune_tsc)
		return;
	sl->next_prune_tsc = now + sl->prune_period_tsc;
	if (!sl->prune_rd_ok)
		return;
	if (r == NULL || repl_active_peer_count(r) == 0) {
		p.own_acked = UINT64_MAX;
		p.own_acked_known = true;
		p.own_acked_all = 0;
	} else {
		p.own_acked = repl_min_acked_up(r, &n_up);
		p.own_acked_known = n_up >= 1;
		p.own_acked_all = repl_min_acked_all(r);
	}
	p.now_ms = wall_ms();
	p.retention_ms = sl->retention_ms;
	p.max_entries = PRUNE_MAX_ENTRIES;
	rc = storage_prune_step(sl->store, &sl->prune_rd, &p, &sl->prune_st,
	                        &sl->c, &pruned, &more);
	if (rc != 0) {
		log_limited(sl, "log prune: %s", mdb_strerror(rc));
		return;
	}
	if (pruned != 0)
		sl->dirty = true; /* sync = interval: a commit to flush */
	if (more)
		sl->next_prune_tsc = now + sl->prune_catchup_tsc;
}

/* --- stop ---------------------------------------------------------------- */

/* The lcore that produces on ring pair i (storage_lcore.h). */
static unsigned ring_lcore(const struct loom_config *cfg, uint16_t i)
{
	return i < cfg->n_io_lcores ? cfg->io_lcores[i]
	                            : cfg->repl_lcores[i - cfg->n_io_lcores];
}

static bool io_lcores_running(const struct storage_lcore *sl)
{
	const struct loom_config *cfg = sl->app->cfg;
	bool running = false;

	for (uint16_t i = 0; i < sl->n_io && !running; i++) {
		unsigned id = ring_lcore(cfg, i);

		if (id != rte_get_main_lcore() &&
		    rte_eal_get_lcore_state(id) == RUNNING)
			running = true;
	}
	/* An io lcore seen stopped has made its last enqueue: order the
	 * ring reads that follow after that observation. */
	atomic_thread_fence(memory_order_acquire);
	return running;
}

/* Apply and complete until the io lcores have stopped and their rings are
 * empty, so that everything they handed over is committed. */
static void storage_drain(struct storage_lcore *sl)
{
	uint64_t start = rte_get_tsc_cycles();
	uint64_t abandoned = 0;
	bool warned = false;

	for (;;) {
		bool running = io_lcores_running(sl);
		unsigned work = storage_poll(sl);
		uint64_t waited;

		if (!running && work == 0) {
			/* pend_n == 0: no ring was skipped, all were empty */
			if (sl->pend_n == 0)
				break;
			/* Done rings full and nobody left to read them: let
			 * the completions go so the in rings behind them can
			 * still be committed. */
			abandoned += sl->pend_n;
			sl->pend_n = 0;
			memset(sl->blocked, 0, sizeof sl->blocked);
			continue;
		}
		if (work != 0)
			continue;
		waited = rte_get_tsc_cycles() - start;
		if (!warned && waited > STOP_WARN_S * sl->tsc_hz) {
			LOG_WARN("storage", "lcore %u: waiting for the io "
			         "lcores to stop", sl->lcore_id);
			warned = true;
		}
		if (waited > STOP_MAX_S * sl->tsc_hz) {
			LOG_ERR("storage", "lcore %u: io lcores still running "
			        "after %d s; stopping with their rings unread",
			        sl->lcore_id, STOP_MAX_S);
			break;
		}
		rte_delay_us_sleep(STOP_POLL_US);
	}
	if (abandoned != 0) {
		sl->lc.abandoned += abandoned;
		LOG_WARN("storage", "lcore %u: %" PRIu64 " completions "
		         "abandoned at stop (the writes were applied; their io "
		         "lcores stopped with full completion rings)",
		         sl->lcore_id,
		         abandoned);
	}
	maybe_sync(sl, true);
}

/* --- the loop ------------------------------------------------------------ */

int storage_lcore_main(void *arg)
{
	struct storage_lcore *sl = arg;
	struct loomd *app = sl->app;

	LOG_INFO("storage", "lcore %u started: %u ring pairs (io and repl "
	         "lcores), batch_max %u, sync %s", sl->lcore_id, sl->n_io,
	         sl->batch_max,
	         sl->sync_interval ? "interval" : "commit");
	sl->next_sync_tsc = rte_get_tsc_cycles() + sl->sync_period_tsc;
	sl->next_prune_tsc = rte_get_tsc_cycles() + sl->prune_period_tsc;
	while (!atomic_load_explicit(&app->stop, memory_order_relaxed)) {
		unsigned work;

		sl->lc.polls++;
		work = storage_poll(sl);
		maybe_sync(sl, false);
		maybe_prune(sl);
		if (work != 0) {
			sl->lc.busy_polls++;
			idle_work(&sl->idle);
		} else {
			idle_sleep(sl);
		}
	}
	storage_drain(sl);
	LOG_INFO("storage", "lcore %u stopped: %" PRIu64 " commits, %" PRIu64
	         " requests, %" PRIu64 " aborted batches, %" PRIu64 " syncs",
	         sl->lcore_id, sl->c.commits, sl->c.entries, sl->c.txn_errors,
	         sl->c.syncs);
	return 0;
}

/* --- set-up and tear-down ------------------------------------------------ */

/* Our origin's cursor as committed, from a short read txn: what
 * storage_lcore_own_seq() says before the first batch commits. */
static int read_own_seq(struct store *store, uint64_t *seq)
{
	struct store_reader r;
	int rc = store_reader_init(store, &r);

	if (rc)
		return rc;
	rc = store_read_begin(&r);
	if (rc == 0)
		rc = store_cursor(&r, store_node_id(store), seq);
	store_read_end(&r);
	store_reader_fini(&r);
	return rc;
}

struct storage_lcore *storage_lcore_create(struct loomd *app,
                                           unsigned lcore_id,
                                           struct store *store,
                                           unsigned ring_size)
{
	const struct loom_config *cfg = app->cfg;
	int socket = (int)rte_lcore_to_socket_id(lcore_id);
	uint16_t n_io = (uint16_t)(cfg->n_io_lcores + cfg->n_repl_lcores);
	uint32_t batch_max = cfg->commit_batch_max;
	struct storage_lcore *sl;
	uint64_t own_seq;
	unsigned slots;
	int rc;

	/* ring_size + 1 rounded up to a power of two must stay a valid ring
	 * count; io_index is a u8 and indexes our arrays. */
	if (store == NULL || cfg->n_io_lcores == 0 ||
	    cfg->n_io_lcores > LOOM_MAX_IO_LCORES ||
	    cfg->n_repl_lcores > LOOM_MAX_REPL_LCORES ||
	    batch_max == 0 || ring_size == 0 ||
	    ring_size > (RTE_RING_SZ_MASK >> 1)) {
		LOG_ERR("storage", "lcore %u: bad arguments (%u io lcores, "
		        "%u repl lcores, batch_max %u, ring size %u)",
		        lcore_id, cfg->n_io_lcores, cfg->n_repl_lcores,
		        batch_max, ring_size);
		return NULL;
	}
	sl = rte_zmalloc_socket("storage_lcore",
	                        sizeof *sl + batch_max * sizeof sl->pend[0],
	                        RTE_CACHE_LINE_SIZE, socket);
	if (sl == NULL) {
		LOG_ERR("storage", "lcore %u: no memory for its context "
		        "(batch_max %u)", lcore_id, batch_max);
		return NULL;
	}
	sl->app = app;
	sl->store = store;
	rc = read_own_seq(store, &own_seq);
	if (rc != 0) {
		LOG_ERR("storage", "lcore %u: cannot read our own cursor: %s",
		        lcore_id, mdb_strerror(rc));
		rte_free(sl);
		return NULL;
	}
	atomic_init(&sl->own_seq, own_seq);
	sl->lcore_id = lcore_id;
	sl->n_io = n_io;
	sl->batch_max = batch_max;
	sl->sync_interval = cfg->sync == LOOM_SYNC_INTERVAL;
	sl->tsc_hz = app->tsc_hz ? app->tsc_hz : rte_get_tsc_hz();
	sl->sync_period_tsc = sl->tsc_hz * cfg->sync_interval_ms / 1000u;
	if (sl->sync_period_tsc == 0)
		sl->sync_period_tsc = 1;
	sl->retention_ms = cfg->repl_log_retention_ms;
	sl->prune_period_tsc = sl->tsc_hz * cfg->repl_prune_interval_ms / 1000u;
	sl->prune_catchup_tsc = sl->tsc_hz *
	                        RTE_MIN(cfg->repl_prune_interval_ms,
	                                (uint32_t)PRUNE_CATCHUP_MS) / 1000u;
	if (sl->prune_period_tsc == 0)
		sl->prune_period_tsc = 1;
	if (sl->prune_catchup_tsc == 0)
		sl->prune_catchup_tsc = 1;
	/* every node prunes its log (maybe_prune); the read txn comes from
	 * the store's reader table, so take it now rather than on the lcore */
	rc = store_reader_init(store, &sl->prune_rd);
	if (rc != 0) {
		LOG_ERR("storage", "lcore %u: no read txn for log retention: %s",
		        lcore_id, mdb_strerror(rc));
		rte_free(sl);
		return NULL;
	}
	sl->prune_rd_ok = true;
	idle_init(&sl->idle, cfg->idle_spin_polls, cfg->idle_sleep_max_us);

	slots = rte_align32pow2(ring_size + 1);
	for (uint16_t i = 0; i < n_io; i++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof name, "loom_wq_%u", i);
		sl->in[i] = rte_ring_create(name, slots, socket,
		                            RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof name, "loom_wd_%u", i);
		sl->done[i] = rte_ring_create(name, slots, socket,
		                              RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (sl->in[i] == NULL || sl->done[i] == NULL) {
			LOG_ERR("storage", "lcore %u: rings of %u slots for io "
			        "lcore %u: %s", lcore_id, slots, i,
			        rte_strerror(rte_errno));
			storage_lcore_destroy(sl);
			return NULL;
		}
	}
	return sl;
}

void storage_lcore_destroy(struct storage_lcore *sl)
{
	if (sl == NULL)
		return;
	for (uint16_t i = 0; i < sl->n_io; i++) {
		rte_ring_free(sl->in[i]);
		rte_ring_free(sl->done[i]);
	}
	if (sl->prune_rd_ok)
		store_reader_fini(&sl->prune_rd);
	rte_free(sl);
}

/* --- accessors ----------------------------------------------------------- */

struct rte_ring *storage_lcore_in_ring(struct storage_lcore *sl, uint16_t io)
{
	return io < sl->n_io ? sl->in[io] : NULL;
}

struct rte_ring *storage_lcore_done_ring(struct storage_lcore *sl,
                                         uint16_t io)
{
	return io < sl->n_io ? sl->done[io] : NULL;
}

unsigned storage_lcore_in_depth(const struct storage_lcore *sl, uint16_t io)
{
	return io < sl->n_io ? rte_ring_count(sl->in[io]) : 0;
}

unsigned storage_lcore_done_depth(const struct storage_lcore *sl,
                                  uint16_t io)
{
	return io < sl->n_io ? rte_ring_count(sl->done[io]) : 0;
}

uint16_t storage_lcore_n_io(const struct storage_lcore *sl)
{
	return sl->n_io;
}

unsigned storage_lcore_id(const struct storage_lcore *sl)
{
	return sl->lcore_id;
}

const struct storage_counters *
storage_lcore_counters(const struct storage_lcore *sl)
{
	return &sl->c;
}

const struct storage_loop_counters *
storage_lcore_loop_counters(const struct storage_lcore *sl)
{
	return &sl->lc;
}

uint64_t storage_lcore_own_seq(const struct storage_lcore *sl)
{
	return atomic_load_explicit(&sl->own_seq, memory_order_acquire);
}

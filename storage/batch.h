/*
 * batch.h - group commit: apply a batch of client writes (write_req.h) in
 * one LMDB write txn (DESIGN §2). Plain C, no DPDK: the storage lcore calls
 * it with what it dequeued from the io lcores' rings, and unit tests call it
 * directly on a real store.
 *
 * Contract of storage_apply_batch():
 *   - Atomic batch. Either the txn commits and every request keeps its own
 *     result, or nothing of the batch is committed and EVERY request is
 *     answered WRITE_FULL (MDB_MAP_FULL) or WRITE_FAILED, store_err holding
 *     the code that sank the txn. A request is never reported WRITE_OK
 *     unless the commit that holds it returned success.
 *   - Per-request refusals do not cost the batch: EEXIST (POST on a live
 *     key) -> WRITE_EXISTS, ENOENT (DELETE of an absent or deleted key) ->
 *     WRITE_NOT_FOUND, EINVAL (arguments the store refuses, an unknown op,
 *     lengths that do not fit the request) -> WRITE_INVALID. The store
 *     guarantees these leave the txn usable with nothing written (store.h).
 *     Any other code - a negative MDB_* error or an unexpected positive one,
 *     after which store.h promises nothing - aborts the batch.
 *   - Order. Requests are applied in array order, so a later request sees
 *     the effect of an earlier one in the same batch (POST a; POST a ->
 *     the second is WRITE_EXISTS). The WRITE_OK requests get strictly
 *     increasing versions and consecutive own seqs in that order.
 *   - WRITE_REMOTE (a peer's BATCH, write_req.h): the request is first
 *     validated whole - body inside the buffer, n_entries >= 1 entries
 *     that decode (entry.h) back to back filling body_len exactly, each of
 *     r->origin, origin not us, first_seq >= 1, seqs not overflowing - and
 *     refused as WRITE_INVALID (EINVAL) with nothing of it applied if any
 *     of that fails. Then its entries go through store_apply_remote in
 *     order, seqs first_seq, first_seq + 1, ...: duplicates (seq <=
 *     cursor) are skipped and count as applied, so WRITE_OK with
 *     seq = the origin's cursor after it (a batch wholly below the cursor
 *     is OK with the cursor unchanged). An entry past cursor + 1 stops the
 *     request: WRITE_GAP, store_err STORE_EGAP, seq = the cursor; the
 *     entries before it stay applied (the txn is still usable) and the
 *     rest of the batch goes on. version is zero.
 *   - WRITE_COPY (a peer's COPY_BATCH of a merge copy, write_req.h): first
 *     validated whole - body inside the buffer, r->origin neither 0 nor
 *     us, n_entries >= 1 records that decode (storage/copy_record.h) back
 *     to back filling body_len exactly - and refused as WRITE_INVALID
 *     (EINVAL) with nothing of it applied if any of that fails. Then each
 *     record goes through store_apply_copy (LWW against what we hold,
 *     tombstones included; no log, no cursor): WRITE_OK, seq and version
 *     zero. A record that loses (older or equal version) leaves ours.
 *   - WRITE_COPY_END (the copy is complete): body_len == 10 * n_entries
 *     (n_entries may be 0), each pair (origin u16 BE != 0, seq u64 BE),
 *     r->origin neither 0 nor us; else WRITE_INVALID with nothing raised.
 *     Each pair goes through store_cursor_raise (never lowered; the log
 *     floor follows a raised cursor): WRITE_OK with seq = r->origin's
 *     cursor after the raises (the copying peer's own origin: where its
 *     stream resumes), version zero.
 *   - Results (result, store_err, version, seq) are only meaningful after
 *     the call returns: a request applied before a failed commit is first
 *     marked OK and then rewritten. version and seq are zero unless the
 *     result is WRITE_OK (or WRITE_GAP: seq); store_err is zero for
 *     WRITE_OK.
 *   - The caller owns reqs and every request for the duration of the call
 *     and must be the store's only writer (one open write txn at a time).
 *   - Counters are updated once per call, after the outcome is known, so a
 *     reader never sees refusals of a batch that was later aborted.
 *   - No allocation.
 */
#ifndef LOOM_STORAGE_BATCH_H
#define LOOM_STORAGE_BATCH_H

#include <stdint.h>

#include "storage/store.h"
#include "storage/write_req.h"

#define STORAGE_BATCH_HIST_BUCKETS 8

/*
 * Group-commit counters. Only uint64_t fields, so counters_add() (dataplane
 * counters.h) can sum them. Written only by the storage lcore (the store's
 * single writer); other threads read them relaxed (COUNTER_LOAD) for
 * /metrics and the stats file, possibly one batch stale, never torn.
 *
 * Every request handed to storage_apply_batch() is counted in `entries` and
 * in exactly one outcome counter:
 *   entries == posts + puts + deletes + remote_batches + remote_gaps
 *              + copy_batches + copy_ends
 *              + exists + not_found + invalid + full + failed
 * The entries of committed WRITE_REMOTE requests (OK or GAP) are counted
 * once each, up to the one that stopped a gap:
 *   remote_entries_applied  logged and cursor moved (the record updated or
 *                           not: STORE_APPLIED, SUPERSEDED or SAME)
 *   remote_duplicates       seq <= cursor: skipped
 *   remote_superseded       of the applied, those that left the record
 *                           alone: the stored version was newer (LWW lost)
 *                           or equal
 * The records of committed WRITE_COPY requests likewise:
 *   copy_records            every record applied with store_apply_copy
 *   copy_superseded         of those, the ones that left our record alone
 *                           (ours newer or equal)
 * Log retention (storage_prune_step) counts its own txns: prunes,
 * pruned_entries, prune_errors; they are not requests.
 */
struct storage_counters {
	uint64_t commits;   /* batches whose write txn committed */
	uint64_t entries;   /* requests handed to storage_apply_batch, all
	                       outcomes */
	uint64_t posts;     /* committed WRITE_OK inserts (POST) */
	uint64_t puts;      /* committed WRITE_OK upserts (PUT) */
	uint64_t deletes;   /* committed WRITE_OK tombstones (DELETE) */
	uint64_t exists;    /* WRITE_EXISTS: POST on a live key (409) */
	uint64_t not_found; /* WRITE_NOT_FOUND: DELETE of an absent key (404) */
	uint64_t invalid;   /* WRITE_INVALID: refused arguments (400) */
	uint64_t full;      /* requests answered WRITE_FULL (map full) */
	uint64_t failed;    /* requests answered WRITE_FAILED (LMDB error) */
	uint64_t txn_errors; /* batches aborted: begin, apply or commit failed
	                        (their requests are in full or failed) */
	/* batch sizes, every call with n > 0 (committed or not): buckets
	 * 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-127, >= 128 */
	uint64_t batch_hist[STORAGE_BATCH_HIST_BUCKETS];
	uint64_t commit_ns_total; /* committed batches: ns from txn begin to
	                             commit return (apply + commit + fsync with
	                             sync = commit); mean = total / commits */
	uint64_t commit_ns_max;   /* the longest such batch */
	uint64_t syncs;       /* store_sync() calls that succeeded (sync =
	                         interval; written by the storage lcore loop) */
	uint64_t sync_errors; /* store_sync() calls that failed */
	/* replication (WRITE_REMOTE), committed batches only */
	uint64_t remote_batches; /* WRITE_REMOTE requests answered WRITE_OK */
	uint64_t remote_gaps;    /* WRITE_REMOTE requests answered WRITE_GAP */
	uint64_t remote_entries_applied;
	uint64_t remote_duplicates;
	uint64_t remote_superseded;
	/* merge copy (WRITE_COPY, WRITE_COPY_END), committed batches only */
	uint64_t copy_batches;   /* WRITE_COPY requests answered WRITE_OK */
	uint64_t copy_ends;      /* WRITE_COPY_END requests answered WRITE_OK */
	uint64_t copy_records;
	uint64_t copy_superseded;
	/* log retention (storage_prune_step) */
	uint64_t prunes;         /* prune txns committed */
	uint64_t pruned_entries; /* log entries they deleted */
	uint64_t prune_errors;   /* prune steps that failed (nothing pruned) */
};

/* The batch_hist bucket of a batch of n >= 1 requests. */
static inline unsigned storage_batch_bucket(unsigned n)
{
	unsigned b = n > 1 ? 31u - (unsigned)__builtin_clz(n) : 0u;

	return b < STORAGE_BATCH_HIST_BUCKETS ? b
	                                      : STORAGE_BATCH_HIST_BUCKETS - 1;
}

/*
 * Apply reqs[0..n) in one write txn of s and commit it (see the contract
 * above). now_ns may be NULL (no commit timing); otherwise it is a
 * monotonic clock in nanoseconds, read twice per batch. n == 0 does
 * nothing and returns 0.
 *
 * Returns 0 when the batch committed (individual requests may still have
 * been refused), or the code that aborted it (negative MDB_* or positive
 * errno; mdb_strerror() describes both), which every request's store_err
 * also holds.
 */
int storage_apply_batch(struct store *s, struct write_req *const *reqs,
                        unsigned n, struct storage_counters *c,
                        uint64_t (*now_ns)(void));

/*
 * Log retention (DESIGN §2, docs/REPLICATION.md): one bounded step, as
 * the storage lcore runs it every [repl] prune_interval_ms between group
 * commits. The decision is all here, from plain values, so that it is
 * tested without a replication session.
 *
 * An entry (origin, seq) of log.<origin> is pruned when
 *   - its version is at least retention_ms old: hlc_ms(version) +
 *     retention_ms <= now_ms (the version read from the entry header,
 *     storage/entry.h), and
 *   - our own origin: own_acked_known (at least one peer is up) and seq <=
 *     own_acked (every peer up acknowledged it) and seq <= our cursor;
 *     with no peer up nothing of our own log is pruned;
 *   - another origin (kept for relay): seq <= our cursor of that origin.
 * Each log is walked from its oldest entry and the walk stops at the first
 * entry that fails a test: a log is in seq order and an origin's versions
 * grow with its seqs, so nothing after it could pass the age test, and
 * every entry pruned was tested itself. store_log_prune raises the log
 * floor and takes the tombstones of pruned deletes along.
 *
 * A step: one short read txn on reader (inside this call; the caller's
 * reader of s, initialised, not active) decides what goes, then at most
 * one write txn deletes at most max_entries entries over at most
 * STORAGE_PRUNE_MAX_ORIGINS logs and commits. Nothing to prune: no write
 * txn at all. Origins are visited in order starting at st->next_origin and
 * wrapping around, and a step that runs out of budget resumes after the
 * last origin it took from, so one busy origin cannot starve the others.
 * *more says the step stopped on its budget (call again soon).
 *
 * Returns 0 (with *pruned entries deleted, prunes and pruned_entries
 * counted when a txn committed), or the code that failed (negative MDB_*
 * or positive errno; nothing pruned, prune_errors counted, any txn
 * aborted). Must be called by the store's only writer, with no write txn
 * open. No allocation.
 */
#define STORAGE_PRUNE_MAX_ORIGINS 64 /* logs touched by one step */

struct storage_prune_policy {
	uint64_t now_ms;       /* wall clock, ms since the epoch */
	uint64_t retention_ms; /* [repl] log_retention_ms */
	bool own_acked_known;  /* at least one peer up (repl_min_acked_up) */
	uint64_t own_acked;    /* lowest own seq every peer up acknowledged */
	unsigned max_entries;  /* per step (one txn); 0 prunes nothing */
	uint64_t own_acked_all; /* lowest own seq EVERY peer (up or down)
	                           acknowledged: tombstones of our own deletes
	                           are purged only up to it, and tombstones of
	                           other origins never (their origin decides;
	                           a merge copy must be able to carry them) */
};

struct storage_prune_state {
	uint32_t next_origin;  /* where the next step starts; 0 at first */
};

int storage_prune_step(struct store *s, struct store_reader *reader,
                       const struct storage_prune_policy *p,
                       struct storage_prune_state *st,
                       struct storage_counters *c, unsigned *pruned,
                       bool *more);

#endif

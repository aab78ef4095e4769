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
 *              + exists + not_found + invalid + full + failed
 * The entries of committed WRITE_REMOTE requests (OK or GAP) are counted
 * once each, up to the one that stopped a gap:
 *   remote_entries_applied  logged and cursor moved (the record updated or
 *                           not: STORE_APPLIED, SUPERSEDED or SAME)
 *   remote_duplicates       seq <= cursor: skipped
 *   remote_superseded       of the applied, those that left the record
 *                           alone: the stored version was newer (LWW lost)
 *                           or equal
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

#endif

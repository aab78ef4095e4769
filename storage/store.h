/*
 * store.h - Loom's LMDB storage (DESIGN §2). One environment per node, one
 * writer (the storage lcore), any number of readers.
 *
 * DBIs:
 *   records       table "\0" key -> hlc u64 | origin u16 | flags u8 | 0 u8 |
 *                                   seq u64 | body            (big-endian)
 *                 (seq is 0 for a record that arrived by merge copy)
 *   log.<origin>  seq u64 BE (MDB_APPEND) -> an encoded entry (entry.h), the
 *                 same bytes that go on the wire
 *   cursors       origin u16 BE -> highest contiguous seq applied from that
 *                 origin (for our own origin: the last seq we issued)
 *   digests       table name (no NUL) -> live records u64 | sum u64 (BE);
 *                 a row exists exactly while the table has a live record
 *   meta          "node_id" u16, "hlc_floor" u64, "schema" u32,
 *                 "log_floor.<origin>" u64 (decimal origin; BE values)
 *
 * Digest (per table, order-independent, so converged nodes agree):
 *   records = the number of live (non-tombstone) records of the table
 *   sum     = Σ over those records of siphash24(STORE_DIGEST_K0/K1,
 *               table "\0" key "\0" hlc u64 BE | origin u16 BE | body)
 *             mod 2^64
 * It is maintained in the same write txn as every change of `records`
 * (local writes, store_apply_remote, store_apply_copy): a replaced record's
 * term is subtracted if it was live, the new one's added if it is live.
 * Tombstones are in no digest, so purging them changes nothing. A table
 * whose last live record goes away loses its row (its sum is then 0), so
 * the set of rows is the same on every converged node whatever the order
 * of the writes. An environment of schema 1 (no digests) gets them built
 * from its records at the first open.
 *
 * Log retention: meta log_floor.<origin> is the promise that log.<origin>
 * holds every seq in (log_floor, cursor]. Entries at or below it may be
 * gone: pruned (store_log_prune) or never received because a merge copy
 * raised the cursor over them (store_cursor_raise). A subscriber that needs
 * a seq <= log_floor must be resynced by a merge copy (DESIGN §2).
 *
 * Errors: 0 on success; a positive errno for our own conditions (EEXIST,
 * ENOENT, EINVAL, STORE_EGAP, ...); a negative MDB_* code from LMDB
 * (mdb_strerror() describes both). After an LMDB error inside a write txn
 * the txn must be aborted; EEXIST/ENOENT/EINVAL/STORE_EGAP and duplicate
 * results leave it usable (nothing was written), so one bad request does not
 * cost the rest of the group commit. EBADMSG from a write means the stored
 * data is inconsistent (a record or digest row that does not parse): abort.
 *
 * Durability (enum store_sync):
 *   STORE_SYNC_COMMIT    default LMDB flags: a commit returns once it is on
 *                        disk (fsync of data and meta page).
 *   STORE_SYNC_INTERVAL  MDB_NOMETASYNC, no MDB_WRITEMAP (never MDB_NOSYNC
 *                        with MDB_WRITEMAP): a commit flushes data pages but
 *                        not the meta page. Loss window: on an OS crash or
 *                        power loss, the transactions committed since the
 *                        last store_sync() (or since the previous commit's
 *                        flush) may be rolled back; the file stays
 *                        consistent. A process crash loses nothing. The
 *                        storage lcore calls store_sync() periodically.
 *
 * HLC floor: meta.hlc_floor is always >= every version this node issued or
 * observed in a committed txn; it is raised (to last + STORE_HLC_FLOOR_MARGIN)
 * inside the write txn whenever the clock crosses it. On open the clock
 * starts at the floor, so a wall clock moved back across a restart never
 * reissues or goes below a version. Remote entries that are applied (not
 * duplicates) and merge copies are observed.
 */
#ifndef LOOM_STORAGE_STORE_H
#define LOOM_STORAGE_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "storage/entry.h"
#include "storage/hlc.h"

#define STORE_EGAP ERANGE /* remote seq != cursor + 1: resubscribe */
#define STORE_HLC_FLOOR_MARGIN hlc_pack(10000, 0) /* 10 s of HLC */
#define STORE_SCHEMA_VERSION 2u /* 2: digests; 1 is upgraded at open */

/* The SipHash key of the digest terms. A constant of the format, not a
 * secret: every node must hash with the same key for digests to compare
 * (the digest detects divergence, it does not authenticate anything).
 * "loom-dig" "est-v1\0\0" read as big-endian u64s. */
#define STORE_DIGEST_K0 UINT64_C(0x6c6f6f6d2d646967)
#define STORE_DIGEST_K1 UINT64_C(0x6573742d76310000)

enum store_sync {
	STORE_SYNC_COMMIT = 0,
	STORE_SYNC_INTERVAL = 1,
};

struct store_config {
	const char *path;  /* directory; created (0700) if absent */
	size_t map_size;   /* bytes; 0 = 1 GiB */
	uint16_t node_id;  /* must match meta.node_id of an existing env */
	enum store_sync sync;
	unsigned max_origins; /* log.<origin> DBIs; 0 = 64 */
	uint64_t (*clock_ms)(void *ctx); /* wall clock, ms since the epoch */
	void *clock_ctx;
};

struct store;

/* The one write txn (group commit); owned by the store. */
struct store_txn;

/* A reusable read txn, one per reading thread/lcore. */
struct store_reader {
	struct store *s;
	MDB_txn *txn;
	bool active;
};

struct store_record {
	const void *body; /* points into the map: valid until store_read_end */
	size_t body_len;
	struct loom_version version;
	uint64_t seq;
	bool tombstone;
};

enum store_apply_result {
	STORE_APPLIED = 0,    /* newer: records updated, logged, cursor moved */
	STORE_SUPERSEDED = 1, /* older than the stored version: logged only */
	STORE_SAME = 2,       /* equal version and origin: logged only */
	STORE_DUPLICATE = 3,  /* seq <= cursor: nothing written */
};

int store_open(const struct store_config *cfg, struct store **out);
void store_close(struct store *s);
/* Flush to disk (the periodic mdb_env_sync of STORE_SYNC_INTERVAL). */
int store_sync(struct store *s);
uint16_t store_node_id(const struct store *s);
/* The in-memory HLC (highest issued or observed version). */
uint64_t store_hlc_last(const struct store *s);
/* The last own seq of a committed txn (the cursor of our own origin). The
 * writer's thread only, or while no writer runs: no read txn needed. */
uint64_t store_own_seq(const struct store *s);

/* Write batch: one LMDB write txn. Only one may be open at a time. */
int store_txn_begin(struct store *s, struct store_txn **out);
int store_txn_commit(struct store_txn *t);
void store_txn_abort(struct store_txn *t);

/* POST: insert; EEXIST if the key exists and is not a tombstone. Assigns a
 * new version and the next own seq; writes records and log.<node_id>. */
int store_local_put(struct store_txn *t, const char *table, const void *key,
                    size_t key_len, const void *body, size_t body_len,
                    struct loom_version *version_out, uint64_t *seq_out);
/* PUT: upsert (full replace). */
int store_local_upsert(struct store_txn *t, const char *table,
                       const void *key, size_t key_len, const void *body,
                       size_t body_len, struct loom_version *version_out,
                       uint64_t *seq_out);
/* DELETE: write a tombstone; ENOENT if absent or already deleted. */
int store_local_delete(struct store_txn *t, const char *table,
                       const void *key, size_t key_len,
                       struct loom_version *version_out, uint64_t *seq_out);

/* Apply remote entry (origin, seq) given as its encoded bytes (which are
 * stored in log.<origin> verbatim). *result says what happened. STORE_EGAP
 * if seq > cursor + 1; EBADMSG if the bytes do not decode to exactly one
 * entry; EINVAL if the entry's origin is not 'origin' or origin is us. */
int store_apply_remote(struct store_txn *t, uint16_t origin, uint64_t seq,
                       const void *entry, size_t entry_len,
                       enum store_apply_result *result);
/* The cursor of origin as this write txn sees it (0 if none). */
int store_txn_cursor(struct store_txn *t, uint16_t origin, uint64_t *seq);

/*
 * Merge copy (resync, DESIGN §2): LWW-apply one record as another node
 * holds it (store_record_iter on that node), without touching any log or
 * cursor. *res: STORE_APPLIED (newer, or the key was absent: written,
 * tombstones included so that an older put cannot resurrect the key),
 * STORE_SUPERSEDED (older than ours) or STORE_SAME (equal version): both
 * leave records as they were. The HLC observes v; the digest follows.
 * EINVAL (txn usable) for a bad table or key, a body over
 * LOOM_ENTRY_BODY_MAX, or a tombstone with a body.
 */
int store_apply_copy(struct store_txn *t, const char *table, const void *key,
                     size_t key_len, struct loom_version v, bool tombstone,
                     const void *body, size_t body_len,
                     enum store_apply_result *res);
/* After a copy: cursor[origin] = max(cursor, seq), never lower. Raising it
 * skips seqs this node never logged, so log_floor.<origin> is raised to
 * seq as well (see "Log retention" above); for our own origin the next own
 * seq follows (a node restored from an old backup must not reissue seqs
 * its peers already hold). */
int store_cursor_raise(struct store_txn *t, uint16_t origin, uint64_t seq);

/*
 * Log retention. Delete the entries of log.<origin> with seq <= upto_seq,
 * oldest first, at most max_entries of them (so one txn stays bounded; call
 * again while *pruned == max_entries). log_floor.<origin> becomes the
 * highest seq pruned (never lowered). A pruned delete entry with seq <=
 * purge_upto whose record is still the tombstone it wrote (same version)
 * takes that tombstone with it (DESIGN §2: tombstones are purged with the
 * log; digests are unchanged); above purge_upto the tombstone record stays.
 * Why: a node that comes back below the log's floor is resynced by a merge
 * copy of the records, and only a tombstone still in the records can
 * carry a delete to it; the caller passes the seq every peer (up or not)
 * has acknowledged, so no node can still need the tombstone.
 * 0 with *pruned = 0 if there is nothing to prune (or no such log).
 */
int store_log_prune(struct store_txn *t, uint16_t origin, uint64_t upto_seq,
                    uint64_t purge_upto, unsigned max_entries,
                    unsigned *pruned);

/* Readers. init once per thread; begin/end around each batch of reads. */
int store_reader_init(struct store *s, struct store_reader *r);
int store_read_begin(struct store_reader *r);
void store_read_end(struct store_reader *r);
void store_reader_fini(struct store_reader *r);

/* 0 and *rec (tombstone set for a deleted key), or ENOENT if never written. */
int store_get(struct store_reader *r, const char *table, const void *key,
              size_t key_len, struct store_record *rec);
/* The highest contiguous applied seq of origin (0 if none). */
int store_cursor(struct store_reader *r, uint16_t origin, uint64_t *seq);

/* Entries in records (tombstones included): mdb_stat, O(1). */
int store_record_count(struct store_reader *r, uint64_t *n);

/* The digest of one table (see above); ENOENT if it has no live record. */
int store_digest(struct store_reader *r, const char *table,
                 uint64_t *records, uint64_t *sum);

/* Every table's digest in name order, inside an active reader:
 *   struct store_digest_iter it;
 *   store_digest_iter_open(r, &it);
 *   while (store_digest_next(&it, name, sizeof name, &n, &sum) == 0) ...
 *   store_digest_iter_close(&it);
 * next: 0 with the NUL-terminated name in table_out, ENOENT at the end,
 * ENOSPC if cap cannot hold the name and its NUL (64 always can). */
struct store_digest_iter {
	MDB_cursor *cur;
	bool first;
};
int store_digest_iter_open(struct store_reader *r,
                           struct store_digest_iter *it);
int store_digest_next(struct store_digest_iter *it, char *table_out,
                      size_t cap, uint64_t *records, uint64_t *sum);
void store_digest_iter_close(struct store_digest_iter *it);

/* Iterate log.<origin> from from_seq upward inside an active reader. */
struct store_log_iter {
	MDB_cursor *cur;
	uint8_t from[8];
	bool first;
};
int store_log_iter_open(struct store_reader *r, uint16_t origin,
                        uint64_t from_seq, struct store_log_iter *it);
/* 0 with the entry bytes (valid until store_read_end), ENOENT at the end. */
int store_log_iter_next(struct store_log_iter *it, uint64_t *seq,
                        const void **entry, size_t *entry_len);
void store_log_iter_close(struct store_log_iter *it);

/* The first seq still in log.<origin>; ENOENT if that log is empty. */
int store_log_oldest(struct store_reader *r, uint16_t origin, uint64_t *seq);
/* meta log_floor.<origin> (see "Log retention"); 0 if never set. */
int store_log_floor(struct store_reader *r, uint16_t origin, uint64_t *seq);

/*
 * Every row of `cursors` (the origins this node has applied or issued
 * anything of, or whose cursor a copy raised) in origin order, from
 * from_origin up, inside an active reader. Every origin with a log has a
 * row (a log entry and its cursor are written in one txn).
 *   struct store_cursor_iter it;
 *   store_cursor_iter_open(r, 0, &it);
 *   while (store_cursor_iter_next(&it, &origin, &seq) == 0) ...
 *   store_cursor_iter_close(&it);
 * next: 0, ENOENT at the end, EBADMSG for a row that does not parse.
 */
struct store_cursor_iter {
	MDB_cursor *cur;
	uint8_t from[2];
	bool first;
};
int store_cursor_iter_open(struct store_reader *r, uint16_t from_origin,
                           struct store_cursor_iter *it);
int store_cursor_iter_next(struct store_cursor_iter *it, uint16_t *origin,
                           uint64_t *seq);
void store_cursor_iter_close(struct store_cursor_iter *it);

/*
 * Every record of every table (tombstones included) in key order (table,
 * then key), zero-copy, inside an active reader: the source side of a merge
 * copy. open(r, NULL, NULL, 0, &it) starts at the first record; with
 * after_table (a C string) and after_key it starts at the first record
 * strictly after (after_table, after_key), so a copy can be resumed in a
 * later read txn from the last record it sent.
 */
struct store_record_iter {
	MDB_cursor *cur;
	uint8_t from[LOOM_TABLE_MAX + 1 + LOOM_KEY_MAX];
	size_t from_len; /* 0: from the first record */
	bool first;
};
struct store_record_item {
	const char *table; /* NOT NUL-terminated; table_len bytes */
	size_t table_len;
	const void *key;
	size_t key_len;
	struct store_record rec; /* version (origin), seq, tombstone, body */
};
int store_record_iter_open(struct store_reader *r, const char *after_table,
                           const void *after_key, size_t after_key_len,
                           struct store_record_iter *it);
/* 0 and *item (pointers valid until store_read_end), ENOENT at the end,
 * EBADMSG for a record that does not parse. */
int store_record_iter_next(struct store_record_iter *it,
                           struct store_record_item *item);
void store_record_iter_close(struct store_record_iter *it);

#endif

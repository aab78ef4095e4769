/*
 * store.h - Loom's LMDB storage (DESIGN §2). One environment per node, one
 * writer (the storage lcore), any number of readers.
 *
 * DBIs:
 *   records       table "\0" key -> hlc u64 | origin u16 | flags u8 | 0 u8 |
 *                                   seq u64 | body            (big-endian)
 *   log.<origin>  seq u64 BE (MDB_APPEND) -> an encoded entry (entry.h), the
 *                 same bytes that go on the wire
 *   cursors       origin u16 BE -> highest contiguous seq in log.<origin>
 *                 (for our own origin: the last seq we issued)
 *   meta          "node_id" u16, "hlc_floor" u64, "schema" u32 (BE)
 *
 * Errors: 0 on success; a positive errno for our own conditions (EEXIST,
 * ENOENT, EINVAL, STORE_EGAP, ...); a negative MDB_* code from LMDB
 * (mdb_strerror() describes both). After an LMDB error inside a write txn
 * the txn must be aborted; EEXIST/ENOENT/EINVAL/STORE_EGAP and duplicate
 * results leave it usable (nothing was written), so one bad request does not
 * cost the rest of the group commit.
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
 * reissues or goes below a version.
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
#define STORE_SCHEMA_VERSION 1u

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

#endif

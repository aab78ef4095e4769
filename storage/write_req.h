/*
 * write_req.h - one client write on its way from an io lcore to the storage
 * lcore and back (DESIGN §1, §2).
 *
 * Life of a request: the io lcore takes a buffer from its own pool (never
 * malloc on the packet path), fills the "io" fields and data[], and
 * enqueues the pointer on its ring to the storage lcore. The storage lcore
 * applies a group of requests in one LMDB write txn, commits, fills the
 * "storage" fields and enqueues the same pointer on that io lcore's
 * completion ring (ring index io_index). The io lcore answers the client
 * and returns the buffer to its pool. Only the owner of a stage touches the
 * request; the rings order the hand-overs.
 *
 * Completions come back in the order the io lcore submitted (one FIFO ring
 * each way, one storage lcore), so pipelined writes on one connection are
 * answered in order without any per-connection reordering.
 *
 * data[] layout: table (table_len bytes) NUL, key (key_len bytes) right
 * after it, body (body_len bytes) at body_off (>= the end of the key; the
 * io lcore leaves room so it can insert a generated "id" in place). The
 * NUL lets the store take the table as a C string.
 */
#ifndef LOOM_STORAGE_WRITE_REQ_H
#define LOOM_STORAGE_WRITE_REQ_H

#include <stdint.h>

#include "storage/hlc.h"

enum write_op {
	WRITE_POST = 1,   /* insert: store_local_put */
	WRITE_PUT = 2,    /* upsert: store_local_upsert */
	WRITE_DELETE = 3, /* tombstone: store_local_delete */
	WRITE_REMOTE = 4, /* a peer's BATCH (docs/REPLICATION.md): n_entries
	                     encoded entries (storage/entry.h) of `origin`,
	                     seqs first_seq.., back to back at body_off,
	                     applied in order with store_apply_remote */
	WRITE_COPY = 5,   /* merge resync (docs/REPLICATION.md): n_entries
	                     copied records (dataplane/repl/msg.h's COPY_BATCH
	                     record encoding) back to back at body_off, each
	                     applied with store_apply_copy (LWW, no log, no
	                     cursor); `origin` is the peer copying to us */
	WRITE_COPY_END = 6, /* the copy is complete: n_entries (origin u16 BE,
	                     seq u64 BE) pairs at body_off, the copy's cursor
	                     vector; each cursor raised with store_cursor_raise
	                     (never lowered) */
};

enum write_result {
	WRITE_OK = 0,        /* committed (durably, with sync = commit) */
	WRITE_EXISTS = 1,    /* POST: the key exists (409) */
	WRITE_NOT_FOUND = 2, /* DELETE: absent or already deleted (404) */
	WRITE_INVALID = 3,   /* the store refused the arguments (400) */
	WRITE_FULL = 4,      /* LMDB map full: nothing committed (507) */
	WRITE_FAILED = 5,    /* any other LMDB error: nothing committed (500) */
	WRITE_GAP = 6,       /* REMOTE: an entry's seq was past cursor + 1;
	                        the entries before it are applied, `seq` is
	                        the cursor: resubscribe from seq + 1 */
};

struct write_req {
	/* --- written by the io lcore before submission --- */
	uint8_t op;          /* enum write_op */
	uint8_t io_index;    /* completion ring to answer on */
	uint16_t key_len;
	uint16_t table_len;
	uint8_t flags;       /* io lcore's own (e.g. close after answering) */
	uint8_t confirm;     /* io lcore's own: X-Replicate-To confirm=K */
	uint32_t body_off;
	uint32_t body_len;
	uint32_t cap;        /* bytes available in data[] */
	uint32_t conn_slot;  /* the connection to answer (io lcore's index) */
	uint32_t conn_gen;   /* its generation: a closed connection's answer
	                        is dropped (the write itself stands) */
	uint64_t submit_us;  /* io lcore clock at submission: write latency */
	void *pool;          /* the pool it returns to (io lcore's business) */
	struct write_req *next; /* io lcore's queues; storage leaves it alone */
	/* WRITE_REMOTE only (table_len = key_len = 0) */
	uint16_t origin;
	uint32_t n_entries;
	uint64_t first_seq;

	/* --- written by the storage lcore before completion --- */
	int32_t result;      /* enum write_result */
	int32_t store_err;   /* store/LMDB code behind WRITE_FAILED/FULL/INVALID */
	struct loom_version version;
	uint64_t seq;        /* local writes: the seq issued; WRITE_REMOTE: the
	                        origin's cursor after the batch (duplicates
	                        skipped count as applied) */

	char data[];
};

static inline const char *write_req_table(const struct write_req *r)
{
	return r->data;
}

static inline const char *write_req_key(const struct write_req *r)
{
	return r->data + r->table_len + 1;
}

static inline const char *write_req_body(const struct write_req *r)
{
	return r->data + r->body_off;
}

#endif

/*
 * msg.h - the payloads of replication frames (DESIGN §4): one encoder and
 * one decoder per message type. Plain byte codecs: the frame layer
 * (frame.h) carries the type in its authenticated header, so a payload
 * never repeats it.
 *
 * All integers big-endian. Node ids are 1..65535 (0 is never a node);
 * sequence numbers per origin start at 1, and a cursor of 0 means "nothing
 * yet". Every decoder checks every bound, rejects trailing bytes, and points
 * into the payload instead of copying (the frame buffer must outlive the
 * decoded message). Decoders return 0 or EBADMSG (HELLO also ENOTSUP);
 * encoders 0, EINVAL for a value they would refuse to decode, or ENOSPC.
 *
 *   type         payload
 *   1 HELLO      version u16 | node id u16 | peer id u16 | cluster id u64 |
 *                max frame u32 | head seq u64                    (26 bytes)
 *   2 SUBSCRIBE  origin u16 | from seq u64                       (10 bytes)
 *   3 BATCH      origin u16 | first seq u64 | n u32 | n entries  (14 + ...)
 *   4 ACK        origin u16 | applied seq u64                    (10 bytes)
 *   5 PING       nonce u64 | head seq u64                        (16 bytes)
 *   6 PONG       nonce u64 (the PING's, echoed) | head seq u64   (16 bytes)
 *   7 COPY_START count u16 | count x (origin u16 | seq u64)  (2 + 10 count)
 *   8 COPY_END   the same cursor vector
 *   9 ERROR      code u16 | reason length u8 | reason (UTF-8)   (3 + len)
 *  10 COPY_BATCH n u32 | n records (storage/copy_record.h)       (4 + ...)
 *
 * HELLO. First frame each way. version comes first and stays first in
 * every future version, so a receiver can always tell "another version"
 * (ENOTSUP, answer MSG_ERR_VERSION) from "garbage" (EBADMSG). The AEAD
 * already proves the peer holds this link's key; HELLO catches what a key
 * cannot: a peer of another cluster (cluster id), crossed keys or a
 * re-addressed node (node id must be the peer this link is configured for,
 * peer id must be us) and a protocol version we do not speak
 * (msg_hello_check names the ERROR code to answer with). max frame is the
 * largest frame its sender accepts (its frame_rx max_frame): the peer seals
 * nothing larger, so BATCH sizing adapts without a config agreement.
 *
 * Head seq (HELLO, PING, PONG): the sender's own origin's last seq (0 for
 * none), so the receiver knows how far behind it is on that origin (lag
 * metrics, docs/REPLICATION.md) without waiting for a BATCH. The PING's
 * nonce (a timestamp, say) comes back in the PONG for the round-trip time;
 * each side puts its own head seq in what it sends.
 *
 * BATCH. n entries of origin, seqs first_seq .. first_seq + n - 1, each in
 * exactly the storage/entry.h encoding (the `log.<origin>` value bytes),
 * back to back. Entries carry no seq of their own: the i-th entry's seq is
 * first_seq + i, so "seqs not contiguous" is impossible by construction and
 * the decoder checks what can be wrong: n >= 1, first_seq >= 1, no u64
 * overflow of the last seq, exactly n well-formed entries and no byte
 * after them, every entry's version origin equal to origin (a log holds
 * only writes made by its origin). A BATCH is validated whole before any
 * entry is handed out, so the receiver applies all of it or none. The
 * entry bytes are never re-encoded: msg_batch_next hands out pointers into
 * the frame for store_apply_remote.
 *
 * COPY_START / COPY_END bracket a merge resync (DESIGN §2): a cursor vector,
 * origins strictly ascending (so each origin appears once and the encoding
 * is canonical), cursors may be 0.
 *
 * COPY_BATCH. Between COPY_START and COPY_END: n >= 1 records, each in
 * exactly the storage/copy_record.h encoding (table, key, version with its
 * origin, tombstone flag, body), back to back, nothing after them. Records
 * of any origin (the copy is of the sender's whole `records`); the receiver
 * applies each with LWW (store_apply_copy, as WRITE_COPY) and copies the
 * record bytes as they are into the request: the storage lcore takes the
 * same encoding. Validated whole before any record is handed out (every
 * record decodes, count matches, no trailing byte), so a COPY_BATCH is
 * applied all or nothing. The session's flow (docs/REPLICATION.md, "Merge
 * resync"): COPY_START(vector), COPY_BATCH..., COPY_END(the same vector),
 * then BATCHes of the sender's origin from vector[sender] + 1.
 *
 * ERROR. code from MSG_ERROR_LIST (unknown nonzero codes decode, for newer
 * peers), reason at most MSG_ERROR_REASON_MAX bytes of UTF-8 without
 * control characters (it ends up in logs).
 *
 * Frame header flags: none is defined in version 1; msg_check_header
 * rejects any set bit and any unknown type.
 */
#ifndef LOOM_REPL_MSG_H
#define LOOM_REPL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/repl/frame.h"
#include "storage/copy_record.h"
#include "storage/entry.h"

#define MSG_PROTOCOL_VERSION 1

#define MSG_TYPE_LIST(X)                                                      \
	X(MSG_HELLO, 1, "HELLO")                                              \
	X(MSG_SUBSCRIBE, 2, "SUBSCRIBE")                                      \
	X(MSG_BATCH, 3, "BATCH")                                              \
	X(MSG_ACK, 4, "ACK")                                                  \
	X(MSG_PING, 5, "PING")                                                \
	X(MSG_PONG, 6, "PONG")                                                \
	X(MSG_COPY_START, 7, "COPY_START")                                    \
	X(MSG_COPY_END, 8, "COPY_END")                                        \
	X(MSG_ERROR, 9, "ERROR")                                              \
	X(MSG_COPY_BATCH, 10, "COPY_BATCH")

enum msg_type {
#define MSG_TYPE_ENUM(name, value, text) name = value,
	MSG_TYPE_LIST(MSG_TYPE_ENUM)
#undef MSG_TYPE_ENUM
};

#define MSG_ERROR_LIST(X)                                                     \
	X(MSG_ERR_PROTOCOL, 1, "malformed or unexpected message")             \
	X(MSG_ERR_VERSION, 2, "unsupported protocol version")                 \
	X(MSG_ERR_CLUSTER, 3, "wrong cluster")                                \
	X(MSG_ERR_IDENTITY, 4, "unexpected node id")                          \
	X(MSG_ERR_FRAME, 5, "frame rejected")                                 \
	X(MSG_ERR_GAP, 6, "sequence gap: resubscribe")                        \
	X(MSG_ERR_PRUNED, 7, "log pruned past the cursor: merge copy")        \
	X(MSG_ERR_OVERLOAD, 8, "overloaded")                                  \
	X(MSG_ERR_SHUTDOWN, 9, "shutting down")                               \
	X(MSG_ERR_INTERNAL, 10, "internal error")

enum msg_error_code {
	MSG_ERR_NONE = 0,
#define MSG_ERROR_ENUM(name, value, text) name = value,
	MSG_ERROR_LIST(MSG_ERROR_ENUM)
#undef MSG_ERROR_ENUM
};

#define MSG_HELLO_LEN 26
#define MSG_SUBSCRIBE_LEN 10
#define MSG_BATCH_HDR 14
#define MSG_ACK_LEN 10
#define MSG_PING_LEN 16
#define MSG_CURSORS_HDR 2
#define MSG_CURSOR_LEN 10
#define MSG_CURSORS_MAX 65535u
#define MSG_ERROR_HDR 3
#define MSG_ERROR_REASON_MAX 200
#define MSG_COPY_BATCH_HDR 4
/* The smallest encoded record: a table and a key of one byte, no body. */
#define MSG_COPY_RECORD_MIN (COPY_RECORD_FIXED + 2)

/* The smallest max_frame that carries a BATCH of one entry with a body of
 * body_max bytes (the configured body limit). */
#define MSG_FRAME_MAX_FOR_BODY(body_max)                                      \
	((size_t)FRAME_OVERHEAD + MSG_BATCH_HDR + LOOM_ENTRY_HDR +            \
	 LOOM_TABLE_MAX + LOOM_KEY_MAX + (size_t)(body_max))

/* "HELLO" .. "ERROR", or NULL for an unknown type. */
const char *msg_type_name(uint8_t type);
/* The text of a known code, else "unknown error". */
const char *msg_error_name(uint16_t code);

/* 0 when (type, flags) from a frame header is a known type without flags;
 * EBADMSG otherwise. */
int msg_check_header(uint8_t type, uint8_t flags);

struct msg_hello {
	uint16_t version;
	uint16_t node_id;    /* the sender */
	uint16_t peer_id;    /* whom the sender believes it talks to */
	uint64_t cluster_id;
	uint32_t max_frame;  /* largest frame the sender accepts */
	uint64_t head_seq;   /* the sender's own origin's last seq */
};

struct msg_subscribe {
	uint16_t origin;
	uint64_t from_seq; /* >= 1: the subscriber's cursor + 1 */
};

struct msg_ack {
	uint16_t origin;
	uint64_t seq; /* highest contiguous seq applied; 0 allowed */
};

struct msg_ping { /* PING and PONG */
	uint64_t nonce;    /* chosen by the PING's sender, echoed by PONG */
	uint64_t head_seq; /* the sender's own origin's last seq */
};

struct msg_cursor {
	uint16_t origin;
	uint64_t seq;
};

/* A decoded cursor vector (COPY_START, COPY_END): count pairs at pairs. */
struct msg_cursors {
	uint16_t count;
	const uint8_t *pairs;
};

struct msg_batch {
	uint16_t origin;
	uint64_t first_seq;
	uint32_t count;
	const uint8_t *entries; /* count encoded entries, entries_len bytes */
	size_t entries_len;
};

struct msg_error {
	uint16_t code;
	uint8_t reason_len;
	const char *reason; /* not NUL-terminated */
};

struct msg_copy_batch {
	uint32_t count;
	const uint8_t *records; /* count encoded records, records_len bytes */
	size_t records_len;
};

/* Any decoded payload; which member is set follows type. */
struct msg {
	uint8_t type;
	union {
		struct msg_hello hello;
		struct msg_subscribe subscribe;
		struct msg_batch batch;
		struct msg_ack ack;
		struct msg_ping ping; /* PING, PONG */
		struct msg_cursors cursors; /* COPY_START, COPY_END */
		struct msg_error error;
		struct msg_copy_batch copy_batch;
	} u;
};

/* Decode the payload of a frame: msg_check_header, then the type's
 * decoder. 0, EBADMSG, or ENOTSUP (HELLO of another version, with
 * m->u.hello.version set). */
int msg_decode(uint8_t type, uint8_t flags, const uint8_t *p, size_t len,
               struct msg *m);

/* --- HELLO --------------------------------------------------------------- */

int msg_hello_encode(const struct msg_hello *h, uint8_t *buf, size_t cap,
                     size_t *out_len);
/* EBADMSG if malformed; ENOTSUP (h->version set, nothing else) if version
 * is not MSG_PROTOCOL_VERSION. */
int msg_hello_decode(const uint8_t *p, size_t len, struct msg_hello *h);
/* The ERROR code to answer a decoded HELLO with, or MSG_ERR_NONE when it
 * is the expected peer of our cluster speaking our version. */
enum msg_error_code msg_hello_check(const struct msg_hello *h,
                                    uint16_t self_id, uint64_t cluster_id,
                                    uint16_t expected_peer);

/* --- SUBSCRIBE, ACK, PING/PONG ------------------------------------------- */

int msg_subscribe_encode(const struct msg_subscribe *s, uint8_t *buf,
                         size_t cap, size_t *out_len);
int msg_subscribe_decode(const uint8_t *p, size_t len, struct msg_subscribe *s);

int msg_ack_encode(const struct msg_ack *a, uint8_t *buf, size_t cap,
                   size_t *out_len);
int msg_ack_decode(const uint8_t *p, size_t len, struct msg_ack *a);

int msg_ping_encode(const struct msg_ping *pg, uint8_t *buf, size_t cap,
                    size_t *out_len);
int msg_ping_decode(const uint8_t *p, size_t len, struct msg_ping *pg);

/* --- COPY_START / COPY_END ------------------------------------------------ */

/* v[0..n) must have origins nonzero and strictly ascending, n <= 65535. */
int msg_cursors_encode(const struct msg_cursor *v, size_t n, uint8_t *buf,
                       size_t cap, size_t *out_len);
int msg_cursors_decode(const uint8_t *p, size_t len, struct msg_cursors *c);
/* The i-th pair of a decoded vector (i < c->count). */
struct msg_cursor msg_cursors_at(const struct msg_cursors *c, uint16_t i);

/* --- BATCH ---------------------------------------------------------------- */

/* 0 if entry[0..len) is exactly one well-formed entry (storage/entry.h)
 * whose version origin is origin; EBADMSG if not an entry or bytes trail,
 * EINVAL if the origin differs. */
int msg_batch_entry_check(uint16_t origin, const void *entry, size_t len);

/* The 14-byte header alone, for gather sealing (frame_sealv): header, then
 * n entries from the LMDB read txn. EINVAL for origin 0, first_seq 0, n 0
 * or a last seq past UINT64_MAX. The caller vouches for the entries (check
 * them with msg_batch_entry_check if they did not come from our log). */
int msg_batch_header(uint8_t out[MSG_BATCH_HDR], uint16_t origin,
                     uint64_t first_seq, uint32_t n);

/* Building a BATCH in a buffer (for frame_seal_inplace: buf = frame buffer
 * + FRAME_HDR_LEN). Each entry is copied once, as is. */
struct msg_batch_builder {
	uint8_t *buf;
	size_t cap, len;
	uint16_t origin;
	uint64_t first_seq;
	uint32_t count;
};

/* EINVAL for origin 0 or first_seq 0; ENOSPC if cap < MSG_BATCH_HDR. */
int msg_batch_begin(struct msg_batch_builder *b, uint8_t *buf, size_t cap,
                    uint16_t origin, uint64_t first_seq);
/* Append the entry of seq first_seq + count. ENOSPC when it does not fit
 * (the batch is unchanged: send it and start the next one), EBADMSG/EINVAL
 * as msg_batch_entry_check, EINVAL when the count or seq would overflow. */
int msg_batch_add(struct msg_batch_builder *b, const void *entry, size_t len);
/* Write the count; *out_len = payload bytes. EINVAL if no entry. */
int msg_batch_finish(struct msg_batch_builder *b, size_t *out_len);

/* Validate a whole BATCH payload (see above). */
int msg_batch_decode(const uint8_t *p, size_t len, struct msg_batch *b);

/* Walking a decoded BATCH. */
struct msg_batch_iter {
	const uint8_t *p, *end;
	uint64_t seq;
	uint32_t left;
};

struct msg_batch_item {
	uint64_t seq;
	struct loom_entry entry; /* points into the payload */
	const uint8_t *raw;      /* the entry's bytes, for store_apply_remote */
	size_t raw_len;
};

void msg_batch_iter_init(struct msg_batch_iter *it, const struct msg_batch *b);
/* 0 and *item; ENOENT after the last entry; EBADMSG only if the batch did
 * not come from msg_batch_decode. */
int msg_batch_next(struct msg_batch_iter *it, struct msg_batch_item *item);

/* --- COPY_BATCH ----------------------------------------------------------- */

/* Building a COPY_BATCH in a buffer (for frame_seal_inplace: buf = frame
 * buffer + FRAME_HDR_LEN). Each record is encoded once, straight from the
 * fields store_record_iter hands out (copy_record_from_item). */
struct msg_copy_builder {
	uint8_t *buf;
	size_t cap, len;
	uint32_t count;
};

/* ENOSPC if cap < MSG_COPY_BATCH_HDR. */
int msg_copy_begin(struct msg_copy_builder *b, uint8_t *buf, size_t cap);
/* Append one record. ENOSPC when it does not fit (the batch is unchanged:
 * send it and start the next one), EINVAL for a record copy_record.h
 * refuses or a count that would overflow. */
int msg_copy_add(struct msg_copy_builder *b, const struct copy_record *rec);
/* Write the count; *out_len = payload bytes. EINVAL if no record. */
int msg_copy_finish(struct msg_copy_builder *b, size_t *out_len);

/* Validate a whole COPY_BATCH payload (see above): 0 or EBADMSG. */
int msg_copy_batch_decode(const uint8_t *p, size_t len,
                          struct msg_copy_batch *cb);

/* Walking a decoded COPY_BATCH. */
struct msg_copy_iter {
	const uint8_t *p, *end;
	uint32_t left;
};

void msg_copy_iter_init(struct msg_copy_iter *it,
                        const struct msg_copy_batch *cb);
/* 0 and *rec (pointing into the payload), with its encoded bytes in
 * *raw and *raw_len when raw is not NULL; ENOENT after the last record; EBADMSG only
 * if the batch did not come from msg_copy_batch_decode. */
int msg_copy_next(struct msg_copy_iter *it, struct copy_record *rec,
                  const uint8_t **raw, size_t *raw_len);

/* --- ERROR ---------------------------------------------------------------- */

/* reason: NUL-terminated, valid UTF-8 without control characters (EINVAL
 * otherwise); cut at MSG_ERROR_REASON_MAX bytes on a character boundary.
 * code must be nonzero. */
int msg_error_encode(uint16_t code, const char *reason, uint8_t *buf,
                     size_t cap, size_t *out_len);
int msg_error_decode(const uint8_t *p, size_t len, struct msg_error *e);

#endif

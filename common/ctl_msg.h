/*
 * ctl_msg.h - the messages of the control plane (DESIGN §5), one framing
 * for its three channels: loom-controld <-> loomd (Unix stream socket),
 * loom-controld <-> loomctl (Unix stream socket) and loom-controld <->
 * loom-controld (TLS 1.3). Pure C, no allocation, no global state; every
 * decoder checks every bound (fuzzed: tests/fuzz/fuzz_ctl_msg.c).
 * docs/CONTROL.md, "The control messages", is the reference; in short:
 *
 * A frame, all integers big-endian:
 *   u32 length   bytes after this field: 4 + payload, CTL_LEN_MIN..CTL_MSG_MAX
 *   u16 type     enum ctl_type
 *   u16 flags    0 (version 1 defines none; a decoder refuses any other)
 *   payload
 * Strings are u16 length + bytes (no NUL); blobs u32 length + bytes.
 *
 *   type            payload
 *    1 HELLO        version u16 (=1) | node id u16 | cluster id u64 | name
 *    2 OK           acked type u16 | req id u32
 *    3 ERROR        code u16 | req id u32 | message string (<= 1024 bytes)
 *    4 PEER_SET     req id u32 | peer id u16 | peer dataplane IPv4 (4 bytes)
 *                   | epoch u16 (>= 1) | secret (32 bytes)
 *    5 PEER_REMOVE  req id u32 | peer id u16
 *    6 STATUS_REQ   req id u32 | format u8 (0 binary, 1 text, 2 json)
 *    7 STATUS       req id u32 | node id u16 | own seq u64 | now ms u64 |
 *                   n u16 (<= 64) | n x (peer id u16 | up u8 | epoch u16 |
 *                   cursor, head, acked, sent, lag ms, reconnects,
 *                   frames rejected: u64 each)
 *    8 TEXT         req id u32 | format u8 (1 or 2) | text blob
 *    9 NODE_ADD     req id u32 | node id u16 | name | mgmt IPv4 (4 bytes) |
 *                   mgmt port u16 | dataplane IPv4 (4 bytes)
 *   10 NODE_REMOVE  req id u32 | node id u16
 *   11 TOPOLOGY     version u64 | topology blob (opaque here)
 *   12 EPOCH        epoch u16 (0 = none yet)
 *   13 PING, 14 PONG  token u64
 *   15 STATS_REQ    as STATUS_REQ (answered with TEXT)
 *
 * Ranges (the encoder refuses what the decoder would, with the same code):
 * node and peer ids 1..65535 (HELLO's node id also 0: the sender is in
 * no topology yet); names 1..CTL_NAME_MAX characters of
 * [A-Za-z0-9_.-] (common/names.h); IPv4 addresses and the mgmt port
 * nonzero; OK's acked type a known type; ERROR's code nonzero (unknown
 * codes decode, for newer peers) and its message UTF-8 without control
 * characters (it ends up in logs); TEXT's text UTF-8 whose only control
 * characters are newline and tab (loomctl prints it on a terminal); up is
 * 0 or 1. Request ids, sequence numbers, counters, the cluster id, the
 * topology version and the PING token take any value. Every encoding is
 * canonical: a frame that decodes re-encodes to the same bytes.
 *
 * Storage of decoded fields: fixed-size fields, names and the ERROR
 * message are copied into the struct (names and message NUL-terminated);
 * TEXT's text and TOPOLOGY's topology point into the frame buffer, which
 * must outlive the decoded message (zero copy: they run up to 64 KiB).
 *
 * Errors are the negative values of enum ctl_err (encode and decode return
 * 0 or one of them). A decoder judges the shape first (CTL_E_SHORT, then
 * CTL_E_TRAILING), the values after, so a payload cut short is always
 * CTL_E_SHORT. CTL_E_LENGTH (a length field out of range) means the stream
 * is lost: close the connection. Every other decode error leaves the stream
 * in step (the frame had a valid length): the receiver may answer ERROR
 * (CTL_CODE_PROTOCOL, or CTL_CODE_VERSION for CTL_E_VERSION) and go on
 * with the next frame, or close.
 *
 * Secrets: PEER_SET's secret exists in exactly two places the codec
 * writes, the caller's frame buffer (encode) and the caller's struct
 * (decode); the codec keeps no copy, not even on its stack. The caller
 * wipes both when done (ctl_msg_wipe for the struct; explicit_bzero for
 * the buffer). A failed decode leaves the struct zeroed.
 */
#ifndef LOOM_COMMON_CTL_MSG_H
#define LOOM_COMMON_CTL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_VERSION 1
#define CTL_LEN_FIELD 4       /* the u32 length */
#define CTL_HDR_LEN 8         /* length, type, flags */
#define CTL_LEN_MIN 4         /* least value of the length field */
#define CTL_MSG_MAX 65536     /* most value of the length field */
/* The largest frame: a receive or encode buffer of this size always fits. */
#define CTL_FRAME_MAX (CTL_LEN_FIELD + CTL_MSG_MAX)
#define CTL_PAYLOAD_MAX (CTL_MSG_MAX - 4)

#define CTL_NAME_MAX 63          /* node name characters */
#define CTL_ERROR_MSG_MAX 1024   /* ERROR message bytes */
#define CTL_SECRET_LEN 32        /* PEER_SET secret */
#define CTL_STATUS_PEERS_MAX 64  /* STATUS entries */
#define CTL_STATUS_ENTRY_LEN 61  /* bytes of one STATUS entry on the wire */
/* The longest TEXT text and TOPOLOGY blob: what the frame leaves. */
#define CTL_TEXT_MAX (CTL_PAYLOAD_MAX - 4 - 1 - 4)
#define CTL_TOPOLOGY_MAX (CTL_PAYLOAD_MAX - 8 - 4)

#define CTL_TYPE_LIST(X)                                                      \
	X(CTL_HELLO, 1, "HELLO")                                              \
	X(CTL_OK, 2, "OK")                                                    \
	X(CTL_ERROR, 3, "ERROR")                                              \
	X(CTL_PEER_SET, 4, "PEER_SET")                                        \
	X(CTL_PEER_REMOVE, 5, "PEER_REMOVE")                                  \
	X(CTL_STATUS_REQ, 6, "STATUS_REQ")                                    \
	X(CTL_STATUS, 7, "STATUS")                                            \
	X(CTL_TEXT, 8, "TEXT")                                                \
	X(CTL_NODE_ADD, 9, "NODE_ADD")                                        \
	X(CTL_NODE_REMOVE, 10, "NODE_REMOVE")                                 \
	X(CTL_TOPOLOGY, 11, "TOPOLOGY")                                       \
	X(CTL_EPOCH, 12, "EPOCH")                                             \
	X(CTL_PING, 13, "PING")                                               \
	X(CTL_PONG, 14, "PONG")                                               \
	X(CTL_STATS_REQ, 15, "STATS_REQ")

enum ctl_type {
#define CTL_TYPE_ENUM(name, value, text) name = value,
	CTL_TYPE_LIST(CTL_TYPE_ENUM)
#undef CTL_TYPE_ENUM
};

/* What the codec returns (negative; 0 is success). */
#define CTL_ERR_LIST(X)                                                       \
	X(CTL_E_SPACE, -1, "buffer too small")                                \
	X(CTL_E_LENGTH, -2, "frame length field out of range")               \
	X(CTL_E_TRUNCATED, -3, "frame shorter than its length field")        \
	X(CTL_E_EXCESS, -4, "bytes after the frame")                          \
	X(CTL_E_FLAGS, -5, "frame flags set")                                 \
	X(CTL_E_TYPE, -6, "unknown message type")                             \
	X(CTL_E_SHORT, -7, "payload ends inside a field")                     \
	X(CTL_E_TRAILING, -8, "bytes after the payload's last field")         \
	X(CTL_E_VERSION, -9, "unsupported protocol version")                  \
	X(CTL_E_RANGE, -10, "value out of range")                             \
	X(CTL_E_NAME, -11, "invalid node name")                               \
	X(CTL_E_TOO_LONG, -12, "string or blob too long")                     \
	X(CTL_E_TEXT, -13, "text not UTF-8 or holds control characters")      \
	X(CTL_E_INVALID, -14, "invalid argument")

enum ctl_err {
#define CTL_ERR_ENUM(name, value, text) name = value,
	CTL_ERR_LIST(CTL_ERR_ENUM)
#undef CTL_ERR_ENUM
};

/* The code an ERROR message carries (not the codec's enum ctl_err). */
#define CTL_CODE_LIST(X)                                                      \
	X(CTL_CODE_PROTOCOL, 1, "malformed or unexpected message")            \
	X(CTL_CODE_VERSION, 2, "unsupported protocol version")                \
	X(CTL_CODE_CLUSTER, 3, "wrong cluster")                               \
	X(CTL_CODE_IDENTITY, 4, "unexpected node id or name")                 \
	X(CTL_CODE_INVALID, 5, "invalid request")                             \
	X(CTL_CODE_EXISTS, 6, "node already in the topology")                 \
	X(CTL_CODE_NO_NODE, 7, "no such node")                                \
	X(CTL_CODE_UNAVAILABLE, 8, "not available now")                       \
	X(CTL_CODE_INTERNAL, 9, "internal error")

enum ctl_code {
#define CTL_CODE_ENUM(name, value, text) name = value,
	CTL_CODE_LIST(CTL_CODE_ENUM)
#undef CTL_CODE_ENUM
};

/* STATUS_REQ, STATS_REQ and TEXT formats. */
enum ctl_format {
	CTL_FMT_BINARY = 0, /* answer with STATUS (STATUS_REQ only) */
	CTL_FMT_TEXT = 1,
	CTL_FMT_JSON = 2,
};

struct ctl_hello {
	uint16_t version; /* CTL_VERSION */
	uint16_t node_id;
	uint64_t cluster_id;
	char name[CTL_NAME_MAX + 1];
};

struct ctl_ok {
	uint16_t acked; /* the enum ctl_type acknowledged */
	uint32_t req_id;
};

struct ctl_error {
	uint16_t code; /* enum ctl_code, or a newer peer's */
	uint32_t req_id;
	char message[CTL_ERROR_MSG_MAX + 1];
};

struct ctl_peer_set {
	uint32_t req_id;
	uint16_t peer_id;
	uint32_t ip_be;   /* the peer's dataplane IPv4, network byte order */
	uint16_t epoch;   /* 1..65535: names the keys derived from secret */
	uint8_t secret[CTL_SECRET_LEN];
};

struct ctl_peer_remove {
	uint32_t req_id;
	uint16_t peer_id;
};

struct ctl_req { /* STATUS_REQ, STATS_REQ */
	uint32_t req_id;
	uint8_t format; /* enum ctl_format */
};

struct ctl_peer_status {
	uint16_t peer_id;
	bool up;
	uint16_t epoch; /* 0: no key yet */
	uint64_t cursor, head, acked, sent;
	uint64_t lag_ms, reconnects, frames_rejected;
};

struct ctl_status {
	uint32_t req_id;
	uint16_t node_id;
	uint64_t own_seq; /* last committed seq of this node's origin */
	uint64_t now_ms;
	uint16_t n_peers; /* <= CTL_STATUS_PEERS_MAX */
	struct ctl_peer_status peers[CTL_STATUS_PEERS_MAX];
};

struct ctl_text {
	uint32_t req_id;
	uint8_t format;   /* CTL_FMT_TEXT or CTL_FMT_JSON */
	const char *text; /* not NUL-terminated; points into the frame */
	size_t text_len;  /* <= CTL_TEXT_MAX */
};

struct ctl_node_add {
	uint32_t req_id;
	uint16_t node_id;
	char name[CTL_NAME_MAX + 1];
	uint32_t mgmt_ip_be; /* network byte order */
	uint16_t mgmt_port;
	uint32_t dp_ip_be;   /* network byte order */
};

struct ctl_node_remove {
	uint32_t req_id;
	uint16_t node_id;
};

struct ctl_topology {
	uint64_t version;
	const char *text; /* not NUL-terminated; points into the frame */
	size_t text_len;  /* <= CTL_TOPOLOGY_MAX */
};

struct ctl_epoch {
	uint16_t epoch; /* the last epoch this end used for the pair; 0 none */
};

struct ctl_ping { /* PING, PONG */
	uint64_t token;
};

/* One message; the member in use follows type. */
struct ctl_msg {
	enum ctl_type type;
	union {
		struct ctl_hello hello;
		struct ctl_ok ok;
		struct ctl_error error;
		struct ctl_peer_set peer_set;
		struct ctl_peer_remove peer_remove;
		struct ctl_req req;       /* STATUS_REQ, STATS_REQ */
		struct ctl_status status;
		struct ctl_text text;
		struct ctl_node_add node_add;
		struct ctl_node_remove node_remove;
		struct ctl_topology topology;
		struct ctl_epoch epoch;
		struct ctl_ping ping;     /* PING, PONG */
	} u;
};

/* Writes m as one whole frame into buf[0..cap); *len = its size (set only
 * on success). 0, or: CTL_E_TYPE, a field's range error (the code decoding
 * it would give), CTL_E_INVALID (a NULL blob with a nonzero length),
 * CTL_E_SPACE (cap too small). Validates everything before writing: on
 * failure buf is untouched. */
int ctl_msg_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap,
                   size_t *len);

/* Decodes frame[0..len), exactly one whole frame, into *m. 0, or a
 * negative enum ctl_err, *m zeroed except after CTL_E_VERSION, which sets
 * m->type = CTL_HELLO and m->u.hello.version (only) so the answer can name
 * it. The version comes first in HELLO in every version for that. */
int ctl_msg_decode(const uint8_t *frame, size_t len, struct ctl_msg *m);

/* For a stream reader: the size of the frame starting at buf, once all of
 * it is there. Returns that size (CTL_HDR_LEN..CTL_FRAME_MAX) when
 * have >= it, 0 when more bytes are needed, CTL_E_LENGTH when the length
 * field is out of range (close the connection). */
ssize_t ctl_frame_need(const uint8_t *buf, size_t have);

/* Zeroes *m where the compiler cannot drop it (PEER_SET's secret). */
void ctl_msg_wipe(struct ctl_msg *m);

/* "buffer too small", ...; "unknown error" for others. */
const char *ctl_msg_strerror(int err);
/* "HELLO", ...; "unknown" for others. */
const char *ctl_type_name(enum ctl_type type);
/* The text of an ERROR code; "unknown error code" for others. */
const char *ctl_code_name(uint16_t code);

#endif

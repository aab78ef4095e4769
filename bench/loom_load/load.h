/*
 * load.h - the pure pieces of loom-load: record ids, the request bytes and
 * the response parser. No I/O, no allocation; unit-tested on their own
 * (tests/unit/test_loom_load.c).
 *
 * Requests. The head of every request to one target is formatted once
 * (load_req_tmpl_init); a request is that head plus, for POST, the
 * reference record of bench/wrk/insert.lua written in place: exactly
 * LOAD_BODY_LEN (400) bytes of JSON with 8 members, "id" first,
 *   {"id":"ID","name":"user N","email":"userN@example.com","age":N%90,
 *    "city":"Amsterdam","score":N%1000.5,"active":true,"note":"xx..x"}
 * the note padded so the whole body is 400 bytes.
 *
 * Ids. uuid: a random UUIDv4 (xoshiro256** seeded per lane). seq:
 * PREFIX-LL-NNNNNNNNNNNN, lane LL's counter, so ids ascend per lane and
 * differ between lanes; a random PREFIX per run keeps runs apart.
 *
 * Responses. load_resp_feed() takes the bytes of one response in pieces
 * split anywhere (it keeps its own state, so a byte at a time works) and
 * says when the response is complete: status line, headers (only
 * Content-Length, Transfer-Encoding and Connection matter), and a body of
 * Content-Length bytes that is skipped, or compared with an expected body
 * (a 201's body is the id as a JSON string). Interim 1xx responses are
 * skipped. Anything malformed is an error with a reason.
 */
#ifndef LOOM_LOAD_LOAD_H
#define LOOM_LOAD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/http/uuid.h"

#define LOAD_BODY_LEN 400
#define LOAD_ID_MAX 64          /* longest id we generate, without NUL */
#define LOAD_PREFIX_MAX 24      /* seq ids' run prefix */
#define LOAD_HEAD_MAX 640       /* a request head */
#define LOAD_REQ_MAX (LOAD_HEAD_MAX + LOAD_BODY_LEN)
#define LOAD_RESP_HEAD_MAX 16384 /* a response head longer than this is refused */
#define LOAD_RESP_LINE_KEEP 128  /* bytes of a line kept for parsing */

/* --- ids ------------------------------------------------------------------ */

enum load_keys { LOAD_KEYS_UUID = 0, LOAD_KEYS_SEQ = 1 };

struct load_keygen {
	enum load_keys kind;
	struct uuid_gen rng;    /* the server's own UUIDv4 generator */
	char prefix[LOAD_PREFIX_MAX + 1];
	size_t prefix_len;
	unsigned lane;
	uint64_t counter;
};

/* A seq prefix is 1..LOAD_PREFIX_MAX of [A-Za-z0-9_.-]. */
bool load_prefix_valid(const char *prefix);

/* -1 when the prefix is invalid (seq) or lane > 99. */
int load_keygen_init(struct load_keygen *k, enum load_keys kind,
                     const char *prefix, unsigned lane, uint64_t seed);

/* Writes the next id into out (not NUL-terminated); returns its length. */
size_t load_key_next(struct load_keygen *k, char out[LOAD_ID_MAX]);

/* --- requests --------------------------------------------------------------- */

struct load_req_tmpl {
	bool post;  /* POST the record; false: GET (the /health null endpoint) */
	char head[LOAD_HEAD_MAX];
	size_t head_len;
};

/* POST path (or GET path when !post) to host ("A.B.C.D:PORT"); auth is the
 * base64 of "user:password" or NULL. The path must start with '/' and hold
 * no blanks or control bytes. -1 when something does not fit or is
 * malformed. */
int load_req_tmpl_init(struct load_req_tmpl *t, bool post, const char *path,
                       const char *host, const char *auth_b64);

/* The reference record with this id and counter n: always LOAD_BODY_LEN
 * bytes written to out; returns LOAD_BODY_LEN, or 0 if id_len is 0 or
 * above LOAD_ID_MAX. */
size_t load_body_build(char *out, const char *id, size_t id_len, uint64_t n);

/* A whole request into out (room for LOAD_REQ_MAX); returns its length,
 * 0 when the body cannot be built. */
size_t load_req_build(const struct load_req_tmpl *t, char *out,
                      const char *id, size_t id_len, uint64_t n);

/* --- responses ------------------------------------------------------------- */

enum load_resp_rc { LOAD_RESP_MORE = 0, LOAD_RESP_DONE = 1, LOAD_RESP_ERROR = -1 };

struct load_resp {
	uint8_t state;
	uint16_t status;
	bool has_clen;
	bool close;          /* Connection: close (or HTTP/1.0 without keep-alive) */
	bool http10;
	bool keep_alive;     /* HTTP/1.0 Connection: keep-alive */
	bool body_mismatch;  /* an expected body was given and differed */
	uint64_t clen;
	uint64_t body_left;
	uint64_t body_seen;
	uint32_t head_bytes;
	uint16_t line_len;   /* bytes kept in line[] */
	bool line_long;      /* the line had more than LOAD_RESP_LINE_KEEP bytes */
	bool cr;             /* the last head byte was a CR: an LF must follow */
	char line[LOAD_RESP_LINE_KEEP];
	const char *expect;  /* body expected for a 201, or NULL */
	size_t expect_len;
	const char *err;     /* why LOAD_RESP_ERROR */
};

/* Ready for a response; expect (kept by pointer) is the body a 201 must
 * carry, or NULL to only skip the body. */
void load_resp_init(struct load_resp *r, const char *expect,
                    size_t expect_len);

/* Feed len bytes. *used is how many were taken: on LOAD_RESP_DONE the
 * bytes after the response are left (a pipelined next response); on
 * LOAD_RESP_MORE all of them. After LOAD_RESP_ERROR, r->err says why and
 * the parser stays in error. */
int load_resp_feed(struct load_resp *r, const uint8_t *p, size_t len,
                   size_t *used);

/* --- small formatting helpers (no printf on the request path) -------------- */

/* Decimal digits of v into out (room for 20); returns their count. */
size_t load_u64_dec(char *out, uint64_t v);

#endif

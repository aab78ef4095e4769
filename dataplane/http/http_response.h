/*
 * http_response.h - HTTP/1.1 response heads and JSON error bodies, written
 * into the caller's buffer (no allocation). Every response carries
 * Content-Length (never chunked: our bodies are known in full before the
 * head goes out) and, when the connection will close after it,
 * "Connection: close".
 */
#ifndef LOOM_HTTP_RESPONSE_H
#define LOOM_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Appending into a fixed buffer, for the per-request answers: printf's
 * format parsing cost more than the rest of an answer (callgrind, see
 * bench/rest_insn.sh). Writes never pass cap; `overflow` records a cut.
 */
struct http_out {
	char *p;
	size_t len, cap;
	bool overflow;
};

static inline void hout_mem(struct http_out *o, const void *m, size_t n)
{
	if (n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, m, n);
	o->len += n;
}

static inline void hout_str(struct http_out *o, const char *s)
{
	hout_mem(o, s, strlen(s));
}

/* Decimal. */
void hout_u64(struct http_out *o, uint64_t v);

/* body_len for responses that must not carry Content-Length (204, 304). */
#define HTTP_NO_LENGTH ((size_t)-1)

/* The reason phrase of a status we send ("Unknown" otherwise). */
const char *http_reason(int status);

/*
 * Status line, Content-Type (omitted when ctype is NULL), Content-Length
 * (omitted for HTTP_NO_LENGTH),
 * Connection: close when `close`, then `extra` (zero or more complete
 * header lines, each ending in CRLF; may be NULL), then the blank line.
 * Returns the length, or 0 if it does not fit in cap.
 */
size_t http_resp_head(char *buf, size_t cap, int status, const char *ctype,
                      size_t body_len, bool close, const char *extra);

/*
 * A complete error response: head plus {"error":"msg"} (msg is escaped as
 * a JSON string). 401 adds WWW-Authenticate: Basic realm="loom".
 * Returns the length, or 0 if it does not fit.
 */
size_t http_resp_error(char *buf, size_t cap, int status, const char *msg,
                       bool close);

#endif

/*
 * http_chunked.h - incremental decoder for the chunked transfer coding
 * (RFC 9112 7.1), fed arbitrary byte spans (e.g. the two spans of a TCP
 * receive ring) in order.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * Chunk data goes to a sink callback (or is dropped if the sink is NULL);
 * http_chunked_decode_inplace compacts the data to the front of a mutable
 * buffer instead. Chunk extensions are ignored (bytes checked: no CTL but
 * HTAB), trailer fields are skipped (any non-CTL bytes per line). Strict
 * CR LF. Errors (d->status): 400 bad hex / missing size / size overflow /
 * bad line ending / size line over HTTP_CHUNKED_MAX_LINE; 413 when the data
 * total would exceed max_body (found at the size line, before the data);
 * 431 trailers over HTTP_CHUNKED_MAX_TRAILER bytes; the sink's own status
 * if it refuses data.
 */
#ifndef LOOM_HTTP_CHUNKED_H
#define LOOM_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_CHUNKED_MAX_LINE 4096    /* chunk-size line incl. extensions */
#define HTTP_CHUNKED_MAX_TRAILER 8192 /* whole trailer section */

enum http_chunked_status {
	HTTP_CHUNKED_MORE,  /* every byte consumed, body not finished */
	HTTP_CHUNKED_DONE,  /* body finished; *consumed says where */
	HTTP_CHUNKED_ERROR, /* d->status is the HTTP status */
};

struct http_chunked {
	uint8_t state;
	int status;        /* on ERROR */
	uint64_t remaining; /* of the current chunk's data */
	uint64_t total;     /* data bytes so far */
	uint64_t max_body;
	uint32_t line_bytes; /* of the current size line */
	uint32_t trailer_bytes;
	uint8_t digits;      /* hex digits of the current size */
};

/* Data sink: return 0 to go on, or an HTTP status (>= 400) to stop. */
typedef int (*http_chunked_sink)(void *arg, const uint8_t *p, size_t n);

void http_chunked_init(struct http_chunked *d, uint64_t max_body);

/*
 * Feed p[0, len). *consumed is set to the bytes used: len on MORE, the end
 * of the body on DONE (bytes after it belong to the next request), the
 * offending byte on ERROR. After DONE or ERROR further calls return the
 * same without consuming anything.
 */
enum http_chunked_status http_chunked_feed(struct http_chunked *d,
                                           const uint8_t *p, size_t len,
                                           size_t *consumed,
                                           http_chunked_sink sink, void *arg);

/*
 * Decode buf[0, len) in place: the chunk data is moved to the front,
 * *out_len is its length. *consumed as for http_chunked_feed. Calls may
 * continue over later spans, each compacted to its own front.
 */
enum http_chunked_status http_chunked_decode_inplace(struct http_chunked *d,
                                                     uint8_t *buf, size_t len,
                                                     size_t *out_len,
                                                     size_t *consumed);

#endif

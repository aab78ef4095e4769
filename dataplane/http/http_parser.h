/*
 * http_parser.h - incremental, zero-copy HTTP/1.1 request-head parser
 * (RFC 9112), in the spirit of picohttpparser.
 *
 * The caller hands it a contiguous buffer holding every byte received so far
 * for the current request (the connection layer linearises at most the
 * header block, max_header_bytes, into a per-connection buffer). Each call
 * parses from the start; nothing is kept between calls. The answer is:
 *
 *   HTTP_PARSE_INCOMPLETE  need more bytes (no error seen so far)
 *   HTTP_PARSE_ERROR       req->status holds the HTTP status to answer with
 *                          (then close the connection)
 *   HTTP_PARSE_OK          req describes the request; its pointers point
 *                          into buf; the body starts at req->header_bytes
 *
 * Split consistency: if a prefix of the bytes gives OK or ERROR, every
 * longer buffer that starts with the same bytes gives the same answer. Lines
 * are judged in order as each completes, so a bad line is answered at once.
 *
 * Strictness (documented choices):
 * - Lines end in CR LF; a bare LF or a CR not followed by LF is 400. No empty
 *   lines are skipped before the request line.
 * - Request line: method SP request-target SP HTTP-version, single SPs;
 *   method is a token; the target is visible ASCII (0x21-0x7e), non-empty.
 *   "HTTP/" DIGIT "." DIGIT is required (else 400); anything other than
 *   1.0 and 1.1 is 505. A target longer than max_uri (if non-zero) is 414;
 *   a request line not ended within max_header_bytes is 414.
 * - Header field: token ":" OWS value OWS. Whitespace before the colon,
 *   obs-fold (a line starting with SP/HTAB), an empty name, and control
 *   bytes (other than HTAB) or DEL in a value are 400.
 * - More than max_headers fields, or a head (request line, fields, final
 *   CRLF) over max_header_bytes, is 431.
 * - HTTP/1.1 without Host, or more than one Host, is 400. More than one
 *   Content-Type, Authorization, If-None-Match or X-Replicate-To is 400
 *   (ambiguous; no list merging).
 * - Content-Length: 1*DIGIT (no lists); repeated with different values, or
 *   together with Transfer-Encoding, is 400; above max_body is 413.
 * - Transfer-Encoding: exactly "chunked" (case-insensitive, once) is
 *   supported; any other coding or list is 501; in an HTTP/1.0 request it
 *   is 400 (RFC 9112 6.1: framing faulty).
 * - POST and PUT need Content-Length or chunked, else 411. Other methods
 *   without either have an empty body.
 * - Method validation (405) and content-type policy (415) are the router's.
 */
#ifndef LOOM_HTTP_PARSER_H
#define LOOM_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method {
	HTTP_M_GET,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_HEAD,
	HTTP_M_OTHER, /* any other token; see http_request.method_tok */
};

enum http_parse_status {
	HTTP_PARSE_OK,
	HTTP_PARSE_INCOMPLETE,
	HTTP_PARSE_ERROR,
};

struct http_limits {
	size_t max_header_bytes; /* request line + fields + final CRLF */
	size_t max_headers;      /* field lines */
	uint64_t max_body;       /* Content-Length (and chunked total) cap */
	size_t max_uri;          /* request-target length; 0 = no own limit */
};

/* A byte range inside the caller's buffer; p is NULL when absent. */
struct http_span {
	const char *p;
	size_t len;
};

struct http_header {
	struct http_span name;  /* token, as sent (compare case-insensitively) */
	struct http_span value; /* OWS trimmed on both sides */
};

struct http_request {
	int status;             /* on ERROR: 400/411/413/414/431/501/505 */
	size_t error_offset;    /* on ERROR: where in buf it was found */

	enum http_method method;
	struct http_span method_tok;
	struct http_span path;  /* request-target as sent */
	int minor_version;      /* 0 or 1 */

	struct http_header *headers; /* the caller's array */
	size_t num_headers;

	bool chunked;           /* Transfer-Encoding: chunked */
	bool has_content_length;
	uint64_t content_length; /* 0 if neither CL nor chunked */
	bool keep_alive;
	bool expect_100_continue; /* HTTP/1.1 only (ignored in 1.0) */
	bool content_type_json;   /* application/json[;params] */
	bool has_content_type;
	struct http_span if_none_match;
	struct http_span authorization;
	struct http_span x_replicate_to;
	struct http_span host;

	size_t header_bytes;    /* the body starts here */
};

/*
 * Parse the request head in buf[0, len). hdrs/hdr_cap is the caller's field
 * array; the effective field limit is min(lim->max_headers, hdr_cap).
 * req is fully (re)initialised on every call.
 */
enum http_parse_status http_parse_request(const void *buf, size_t len,
                                          const struct http_limits *lim,
                                          struct http_header *hdrs,
                                          size_t hdr_cap,
                                          struct http_request *req);

/* Case-insensitive ASCII comparison of a span against a C string. */
bool http_span_ieq(struct http_span s, const char *lit);

/* The first field named `name` (case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req,
                                           const char *name);

#endif

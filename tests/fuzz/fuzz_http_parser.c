/*
 * fuzz_http_parser - arbitrary bytes as a request head (and body).
 *
 * Byte 0 picks the limits (small ones so 431/413/414 are reachable) and,
 * with bit 0x20 (a leading space), a text mode where each LF becomes CR LF
 * so the seed files are plain text; the rest is the request. Oracles:
 *   - every prefix gives INCOMPLETE or exactly the whole buffer's answer
 *     (all prefixes for short inputs, a stride for long ones);
 *   - on OK every span lies inside the head, header_bytes <= the limit,
 *     and framing is consistent (not both chunked and Content-Length,
 *     POST/PUT framed, CL within max_body);
 *   - on ERROR the status is one of the documented ones;
 *   - if chunked, the decoder over the remainder, whole and split in two
 *     at every point, gives the same answer, bytes and consumed count.
 */
#include "dataplane/http/http_chunked.h"
#include "dataplane/http/http_parser.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_http_parser: %s:%d: %s\n",     \
			        __FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

#define MAXH 32

static bool span_in(struct http_span s, const char *b, size_t n)
{
	if (s.p == NULL)
		return s.len == 0;
	return s.p >= b && s.len <= n && (size_t)(s.p - b) <= n - s.len;
}

static bool same(const struct http_request *a, const struct http_request *b,
                 enum http_parse_status st)
{
	if (st == HTTP_PARSE_ERROR)
		return a->status == b->status &&
		       a->error_offset == b->error_offset;
	return a->header_bytes == b->header_bytes &&
	       a->num_headers == b->num_headers && a->method == b->method &&
	       a->content_length == b->content_length &&
	       a->chunked == b->chunked && a->keep_alive == b->keep_alive &&
	       a->expect_100_continue == b->expect_100_continue &&
	       a->content_type_json == b->content_type_json &&
	       a->minor_version == b->minor_version;
}

struct acc {
	uint8_t buf[4096];
	size_t n;
};

static int sink(void *arg, const uint8_t *p, size_t n)
{
	struct acc *a = arg;
	size_t k = n < sizeof(a->buf) - a->n ? n : sizeof(a->buf) - a->n;

	memcpy(a->buf + a->n, p, k);
	a->n += k;
	return 0;
}

static void check_chunked(const uint8_t *p, size_t n, uint64_t max)
{
	static struct acc whole, part;
	struct http_chunked d;
	size_t c1, c2;
	enum http_chunked_status r, r2;
	int st;

	whole.n = 0;
	http_chunked_init(&d, max);
	r = http_chunked_feed(&d, p, n, &c1, sink, &whole);
	st = d.status;
	REQUIRE(c1 <= n);
	REQUIRE(r != HTTP_CHUNKED_MORE || c1 == n);
	REQUIRE(d.total <= max);
	size_t step = n > 512 ? n / 64 : 1;
	for (size_t k = 0; k <= n; k += step) {
		part.n = 0;
		http_chunked_init(&d, max);
		r2 = http_chunked_feed(&d, p, k, &c2, sink, &part);
		if (r2 == HTTP_CHUNKED_MORE) {
			REQUIRE(c2 == k);
			size_t c3;
			r2 = http_chunked_feed(&d, p + k, n - k, &c3, sink,
			                       &part);
			c2 += c3;
		}
		REQUIRE(r2 == r);
		REQUIRE(c2 == c1);
		if (r == HTTP_CHUNKED_ERROR)
			REQUIRE(d.status == st);
		else
			REQUIRE(part.n == whole.n &&
			        memcmp(part.buf, whole.buf, whole.n) == 0);
	}
	if (r == HTTP_CHUNKED_ERROR)
		REQUIRE(st == 400 || st == 413 || st == 431);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_header h1[MAXH], h2[MAXH];
	struct http_request r, pr;
	struct http_limits lim;

	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	if (sel & 0x20) {
		/* text mode: LF -> CR LF, so seeds are plain text files
		 * (a leading space selects it) */
		static uint8_t x[2 * 8192];
		size_t n = 0;
		for (size_t i = 0; i < size && n + 2 <= sizeof(x); i++) {
			if (data[i] == '\n')
				x[n++] = '\r';
			x[n++] = data[i];
		}
		data = x;
		size = n;
	}
	lim.max_header_bytes = (sel & 1) ? 64 : 8192;
	lim.max_headers = (sel & 2) ? 3 : MAXH;
	lim.max_body = (sel & 4) ? 16 : 1u << 20;
	lim.max_uri = (sel & 8) ? 8 : 0;
	size_t cap = (sel & 16) ? 2 : MAXH;

	const char *b = (const char *)data;
	enum http_parse_status st = http_parse_request(data, size, &lim, h1,
	                                               cap, &r);
	size_t step = size > 1024 ? size / 128 : 1;
	for (size_t k = 0; k < size; k += step) {
		enum http_parse_status ps = http_parse_request(data, k, &lim,
		                                               h2, cap, &pr);
		if (ps == HTTP_PARSE_INCOMPLETE)
			continue;
		REQUIRE(ps == st);
		REQUIRE(same(&pr, &r, st));
	}
	if (st == HTTP_PARSE_INCOMPLETE) {
		REQUIRE(size < lim.max_header_bytes);
		return 0;
	}
	if (st == HTTP_PARSE_ERROR) {
		int s = r.status;
		REQUIRE(s == 400 || s == 411 || s == 413 || s == 414 ||
		        s == 431 || s == 501 || s == 505);
		REQUIRE(r.error_offset <= size);
		return 0;
	}
	REQUIRE(r.header_bytes >= 4 && r.header_bytes <= size);
	REQUIRE(r.header_bytes <= lim.max_header_bytes);
	REQUIRE(memcmp(b + r.header_bytes - 4, "\r\n\r\n", 4) == 0);
	REQUIRE(r.num_headers <= lim.max_headers && r.num_headers <= cap);
	REQUIRE(span_in(r.method_tok, b, r.header_bytes) &&
	        r.method_tok.len > 0);
	REQUIRE(span_in(r.path, b, r.header_bytes) && r.path.len > 0);
	REQUIRE(r.minor_version == 0 || r.minor_version == 1);
	for (size_t i = 0; i < r.num_headers; i++) {
		REQUIRE(span_in(r.headers[i].name, b, r.header_bytes));
		REQUIRE(r.headers[i].name.len > 0);
		REQUIRE(span_in(r.headers[i].value, b, r.header_bytes));
	}
	REQUIRE(span_in(r.if_none_match, b, r.header_bytes));
	REQUIRE(span_in(r.authorization, b, r.header_bytes));
	REQUIRE(span_in(r.x_replicate_to, b, r.header_bytes));
	REQUIRE(!(r.chunked && r.has_content_length));
	REQUIRE(r.content_length <= lim.max_body);
	if (r.method == HTTP_M_POST || r.method == HTTP_M_PUT)
		REQUIRE(r.chunked || r.has_content_length);
	if (r.minor_version == 1)
		REQUIRE(r.host.p != NULL);
	if (r.chunked)
		check_chunked(data + r.header_bytes, size - r.header_bytes,
		              lim.max_body);
	return 0;
}

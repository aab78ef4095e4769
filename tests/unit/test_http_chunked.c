/*
 * test_http_chunked.c - the chunked-body decoder over arbitrary splits:
 * several chunks, extensions, trailers, bad sizes, overflow, the limit.
 */
#include "dataplane/http/http_chunked.h"

#include "check.h"

struct out {
	uint8_t buf[256];
	size_t n;
};

static int sink(void *arg, const uint8_t *p, size_t n)
{
	struct out *o = arg;

	if (o->n + n > sizeof(o->buf))
		return 500;
	memcpy(o->buf + o->n, p, n);
	o->n += n;
	return 0;
}

/*
 * Decode s in two spans split at k; returns the status, fills *o and the
 * total bytes consumed.
 */
static enum http_chunked_status run2(const char *s, size_t n, size_t k,
                                     uint64_t max, struct out *o,
                                     size_t *used, int *status)
{
	struct http_chunked d;
	size_t c = 0;
	enum http_chunked_status r;

	o->n = 0;
	http_chunked_init(&d, max);
	r = http_chunked_feed(&d, (const uint8_t *)s, k, &c, sink, o);
	*used = c;
	if (r == HTTP_CHUNKED_MORE) {
		CHECK_EQ_U64(c, k);
		r = http_chunked_feed(&d, (const uint8_t *)s + k, n - k, &c,
		                      sink, o);
		*used += c;
	}
	*status = d.status;
	return r;
}

/* Whole, split at every byte, and byte by byte: same answer every time. */
static void ok_all(const char *s, const char *body, size_t tail)
{
	size_t n = strlen(s), used;
	struct out o;
	int st;

	for (size_t k = 0; k <= n; k++) {
		CHECK_EQ_U64(run2(s, n, k, 1000, &o, &used, &st),
		             HTTP_CHUNKED_DONE);
		CHECK_EQ_U64(used, n - tail);
		CHECK_EQ_U64(o.n, strlen(body));
		CHECK(memcmp(o.buf, body, o.n) == 0);
	}
	struct http_chunked d;
	size_t c, total = 0;
	enum http_chunked_status r = HTTP_CHUNKED_MORE;
	http_chunked_init(&d, 1000);
	o.n = 0;
	for (size_t i = 0; i < n && r == HTTP_CHUNKED_MORE; i++) {
		r = http_chunked_feed(&d, (const uint8_t *)s + i, 1, &c, sink,
		                      &o);
		total += c;
	}
	CHECK_EQ_U64(r, HTTP_CHUNKED_DONE);
	CHECK_EQ_U64(total, n - tail);
	CHECK_EQ_U64(o.n, strlen(body));
	CHECK(memcmp(o.buf, body, o.n) == 0);
	/* after DONE: nothing more is consumed */
	CHECK_EQ_U64(http_chunked_feed(&d, (const uint8_t *)"x", 1, &c, sink,
	                               &o), HTTP_CHUNKED_DONE);
	CHECK_EQ_U64(c, 0);

	/* in place */
	uint8_t ip[256];
	size_t outl;
	memcpy(ip, s, n);
	http_chunked_init(&d, 1000);
	CHECK_EQ_U64(http_chunked_decode_inplace(&d, ip, n, &outl, &c),
	             HTTP_CHUNKED_DONE);
	CHECK_EQ_U64(outl, strlen(body));
	CHECK(memcmp(ip, body, outl) == 0);
}

static void err_all(const char *s, uint64_t max, int want)
{
	size_t n = strlen(s), used;
	struct out o;
	int st;

	for (size_t k = 0; k <= n; k++) {
		CHECK_EQ_U64(run2(s, n, k, max, &o, &used, &st),
		             HTTP_CHUNKED_ERROR);
		CHECK_EQ_U64(st, want);
	}
}

static void test_ok(void)
{
	ok_all("0\r\n\r\n", "", 0);
	ok_all("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
	ok_all("5\r\nhello\r\n1;a=b\r\n \r\nA ; x=\"y z\"\r\n0123456789\r\n"
	       "0\r\n\r\n", "hello 0123456789", 0);
	ok_all("00003\r\nabc\r\n0000\r\n\r\n", "abc", 0);
	ok_all("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\nGET / HTTP/1.1",
	       "abc", 14);
	ok_all("2  \r\nab\r\n0 ;ext\r\n\r\nnext", "ab", 4);
	ok_all("f\r\n0123456789abcde\r\n0\r\n\r\n", "0123456789abcde", 0);
}

static void test_errors(void)
{
	err_all("\r\n\r\n", 1000, 400);           /* no size */
	err_all("g\r\n\r\n", 1000, 400);          /* bad hex */
	err_all(";x\r\n0\r\n\r\n", 1000, 400);    /* ext without size */
	err_all("5x\r\nhello\r\n0\r\n\r\n", 1000, 400);
	err_all("-5\r\nhello\r\n0\r\n\r\n", 1000, 400);
	err_all("5\nhello\r\n0\r\n\r\n", 1000, 400); /* bare LF */
	err_all("5\rhello\r\n0\r\n\r\n", 1000, 400);
	err_all("5\r\nhelloX\r\n0\r\n\r\n", 1000, 400); /* data too long */
	err_all("5\r\nhello\n0\r\n\r\n", 1000, 400);
	err_all("0\r\n\n", 1000, 400);
	err_all("0\r\nX: 1\n\r\n", 1000, 400);
	err_all("0\r\n\x01\r\n\r\n", 1000, 400);
	err_all("1;\x01\r\na\r\n0\r\n\r\n", 1000, 400);
	err_all("1 x\r\na\r\n0\r\n\r\n", 1000, 400);
	/* overflow: 17 significant hex digits */
	err_all("10000000000000000\r\n", UINT64_MAX, 400);
	/* 16 digits fit, but the limit says 413 */
	err_all("ffffffffffffffff\r\n", 1000, 413);
	err_all("3e9\r\n", 1000, 413);
	/* the total over several chunks */
	err_all("3e8\r\n", 999, 413);
	err_all("1\r\na\r\n3e8\r\n", 1000, 413);
}

static void test_long_lines(void)
{
	char s[HTTP_CHUNKED_MAX_LINE + 64];
	struct http_chunked d;
	size_t c;

	/* extension bytes are bounded */
	memset(s, 'x', sizeof(s));
	s[0] = '1';
	s[1] = ';';
	http_chunked_init(&d, 1000);
	CHECK_EQ_U64(http_chunked_feed(&d, (uint8_t *)s, sizeof(s), &c, NULL,
	                               NULL), HTTP_CHUNKED_ERROR);
	CHECK_EQ_U64(d.status, 400);
	/* so are leading zeros (they ride on the same line bound) */
	memset(s, '0', sizeof(s));
	http_chunked_init(&d, 1000);
	CHECK_EQ_U64(http_chunked_feed(&d, (uint8_t *)s, sizeof(s), &c, NULL,
	                               NULL), HTTP_CHUNKED_ERROR);
	CHECK_EQ_U64(d.status, 400);

	/* trailers are bounded: 431 */
	static char t[HTTP_CHUNKED_MAX_TRAILER + 64];
	memset(t, 'y', sizeof(t));
	memcpy(t, "0\r\nX: ", 6);
	http_chunked_init(&d, 1000);
	CHECK_EQ_U64(http_chunked_feed(&d, (uint8_t *)t, sizeof(t), &c, NULL,
	                               NULL), HTTP_CHUNKED_ERROR);
	CHECK_EQ_U64(d.status, 431);
	/* after an error nothing more is consumed */
	CHECK_EQ_U64(http_chunked_feed(&d, (uint8_t *)"0", 1, &c, NULL, NULL),
	             HTTP_CHUNKED_ERROR);
	CHECK_EQ_U64(c, 0);
}

static int refuse(void *arg, const uint8_t *p, size_t n)
{
	return 507;
}

static void test_sink_refuses(void)
{
	struct http_chunked d;
	size_t c;

	http_chunked_init(&d, 1000);
	CHECK_EQ_U64(http_chunked_feed(&d, (const uint8_t *)"2\r\nab\r\n", 7,
	                               &c, refuse, NULL), HTTP_CHUNKED_ERROR);
	CHECK_EQ_U64(d.status, 507);
	CHECK_EQ_U64(c, 3);
	/* NULL sink: data dropped, framing still checked */
	http_chunked_init(&d, 1000);
	CHECK_EQ_U64(http_chunked_feed(&d, (const uint8_t *)"2\r\nab\r\n0\r\n\r\n",
	                               12, &c, NULL, NULL), HTTP_CHUNKED_DONE);
	CHECK_EQ_U64(c, 12);
	CHECK_EQ_U64(d.total, 2);
}

int main(void)
{
	test_ok();
	test_errors();
	test_long_lines();
	test_sink_refuses();
	CHECK_DONE();
}

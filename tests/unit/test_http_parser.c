/*
 * test_http_parser.c - the HTTP/1.1 request-head parser: every request
 * shape whole and split at every byte, pipelining, and each error status.
 */
#include "dataplane/http/http_parser.h"

#include "check.h"

#define MAXH 16

static const struct http_limits LIM = {
	.max_header_bytes = 1024,
	.max_headers = 8,
	.max_body = 1000,
	.max_uri = 0,
};

static struct http_header hdrs[MAXH];

static enum http_parse_status parse_lim(const char *s, size_t n,
                                        const struct http_limits *lim,
                                        struct http_request *r)
{
	return http_parse_request(s, n, lim, hdrs, MAXH, r);
}

static enum http_parse_status parse(const char *s, struct http_request *r)
{
	return parse_lim(s, strlen(s), &LIM, r);
}

static bool span_is(struct http_span sp, const char *lit)
{
	return sp.p != NULL && sp.len == strlen(lit) &&
	       memcmp(sp.p, lit, sp.len) == 0;
}

/* Every proper prefix is INCOMPLETE (or already the final error), and the
 * whole gives `want`; returns the whole-buffer result in *r. */
static void split_all(const char *s, size_t n, const struct http_limits *lim,
                      enum http_parse_status want, int want_status,
                      struct http_request *r)
{
	struct http_request pr;
	enum http_parse_status whole = parse_lim(s, n, lim, r);

	CHECK_EQ_U64(whole, want);
	if (want == HTTP_PARSE_ERROR)
		CHECK_EQ_U64(r->status, want_status);
	size_t end = want == HTTP_PARSE_OK ? r->header_bytes : n;
	for (size_t i = 0; i < end; i++) {
		enum http_parse_status p = parse_lim(s, i, lim, &pr);
		if (want == HTTP_PARSE_OK) {
			CHECK_EQ_U64(p, HTTP_PARSE_INCOMPLETE);
		} else if (p != HTTP_PARSE_INCOMPLETE) {
			CHECK_EQ_U64(p, HTTP_PARSE_ERROR);
			CHECK_EQ_U64(pr.status, want_status);
		}
	}
	/* a longer buffer (the body, the next request) changes nothing */
	if (want == HTTP_PARSE_OK) {
		enum http_parse_status p = parse_lim(s, n, lim, &pr);
		CHECK_EQ_U64(p, HTTP_PARSE_OK);
		CHECK_EQ_U64(pr.header_bytes, r->header_bytes);
		CHECK_EQ_U64(pr.num_headers, r->num_headers);
		CHECK_EQ_U64(pr.content_length, r->content_length);
		CHECK_EQ_U64(pr.keep_alive, r->keep_alive);
	}
}

static void ok_split(const char *s, struct http_request *r)
{
	split_all(s, strlen(s), &LIM, HTTP_PARSE_OK, 0, r);
}

static void err_split(const char *s, int status)
{
	struct http_request r;
	split_all(s, strlen(s), &LIM, HTTP_PARSE_ERROR, status, &r);
}

static void test_get(void)
{
	struct http_request r;
	const char *s = "GET /users/42 HTTP/1.1\r\nHost: a\r\n"
	                "If-None-Match: \"v7\"\r\nAuthorization: Bearer x\r\n\r\n";

	ok_split(s, &r);
	CHECK_EQ_U64(r.method, HTTP_M_GET);
	CHECK(span_is(r.method_tok, "GET"));
	CHECK(span_is(r.path, "/users/42"));
	CHECK_EQ_U64(r.minor_version, 1);
	CHECK_EQ_U64(r.num_headers, 3);
	CHECK(span_is(r.headers[0].name, "Host"));
	CHECK(span_is(r.headers[0].value, "a"));
	CHECK(span_is(r.if_none_match, "\"v7\""));
	CHECK(span_is(r.authorization, "Bearer x"));
	CHECK(r.x_replicate_to.p == NULL);
	CHECK(r.keep_alive);
	CHECK(!r.chunked);
	CHECK(!r.has_content_length);
	CHECK_EQ_U64(r.content_length, 0);
	CHECK_EQ_U64(r.header_bytes, strlen(s));
	CHECK(http_find_header(&r, "if-none-match") == &r.headers[1]);
	CHECK(http_find_header(&r, "x") == NULL);
}

static void test_post_cl(void)
{
	struct http_request r;
	const char *s = "POST /users/ HTTP/1.1\r\nHost: a\r\n"
	                "Content-Type: Application/JSON; charset=utf-8\r\n"
	                "Content-Length: 13\r\nX-Replicate-To: confirm=2\r\n"
	                "\r\n{\"id\":\"abc\"}";

	ok_split(s, &r);
	CHECK_EQ_U64(r.method, HTTP_M_POST);
	CHECK(r.has_content_length);
	CHECK_EQ_U64(r.content_length, 13);
	CHECK(r.content_type_json);
	CHECK(r.has_content_type);
	CHECK(span_is(r.x_replicate_to, "confirm=2"));
	CHECK_EQ_U64(r.header_bytes, strlen(s) - 12);
	CHECK(!r.expect_100_continue);
}

static void test_post_chunked(void)
{
	struct http_request r;
	const char *s = "POST /t/ HTTP/1.1\r\nHost: a\r\n"
	                "Transfer-Encoding: Chunked\r\n"
	                "Content-Type: application/jsonx\r\n\r\n";

	ok_split(s, &r);
	CHECK(r.chunked);
	CHECK(!r.has_content_length);
	CHECK(!r.content_type_json);
}

static void test_put_delete_head_other(void)
{
	struct http_request r;

	ok_split("PUT /t/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	         &r);
	CHECK_EQ_U64(r.method, HTTP_M_PUT);
	CHECK(r.has_content_length);
	ok_split("DELETE /t/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK_EQ_U64(r.method, HTTP_M_DELETE);
	ok_split("HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK_EQ_U64(r.method, HTTP_M_HEAD);
	ok_split("PATCH /t/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK_EQ_U64(r.method, HTTP_M_OTHER);
	CHECK(span_is(r.method_tok, "PATCH"));
	/* methods are case-sensitive */
	ok_split("get / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK_EQ_U64(r.method, HTTP_M_OTHER);
}

static void test_expect_connection(void)
{
	struct http_request r;

	ok_split("PUT /t/1 HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	         "Content-Length: 5\r\n\r\n", &r);
	CHECK(r.expect_100_continue);
	/* HTTP/1.0: ignored */
	ok_split("PUT /t/1 HTTP/1.0\r\nExpect: 100-continue\r\n"
	         "Content-Length: 5\r\n\r\n", &r);
	CHECK(!r.expect_100_continue);
	CHECK(!r.keep_alive);

	ok_split("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r);
	CHECK(!r.keep_alive);
	ok_split("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE \r\n\r\n",
	         &r);
	CHECK(!r.keep_alive);
	ok_split("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
	         &r);
	CHECK(r.keep_alive);
	ok_split("GET / HTTP/1.0\r\n\r\n", &r);
	CHECK_EQ_U64(r.minor_version, 0);
	CHECK(!r.keep_alive);
	ok_split("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r);
	CHECK(r.keep_alive);
	ok_split("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
	         "Connection: close\r\n\r\n", &r);
	CHECK(!r.keep_alive);
}

static void test_values(void)
{
	struct http_request r;

	/* OWS trimmed, empty value, tabs and obs-text inside */
	ok_split("GET / HTTP/1.1\r\nHost:a\r\nX-E:\r\nX-T: \t a \tb\xe9 \t\r\n"
	         "\r\n", &r);
	CHECK_EQ_U64(r.num_headers, 3);
	CHECK(span_is(r.headers[0].value, "a"));
	CHECK_EQ_U64(r.headers[1].value.len, 0);
	CHECK(span_is(r.headers[2].value, "a \tb\xe9"));
	/* same Content-Length twice is fine */
	ok_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n"
	         "content-length: 7\r\n\r\n", &r);
	CHECK_EQ_U64(r.content_length, 7);
	/* CL at the limit */
	ok_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n",
	         &r);
	CHECK_EQ_U64(r.content_length, 1000);
	/* absolute-form and '*' targets are passed to the router */
	ok_split("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK(span_is(r.path, "*"));
}

static void test_pipelined(void)
{
	const char *s = "POST /t/ HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
	                "\r\nabcd"
	                "GET /t/1 HTTP/1.1\r\nHost: a\r\n\r\n"
	                "DELETE /t/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
	                "\r\n";
	size_t n = strlen(s), off = 0;
	int methods[3] = { HTTP_M_POST, HTTP_M_GET, HTTP_M_DELETE };
	struct http_request r;

	for (int k = 0; k < 3; k++) {
		CHECK_EQ_U64(parse_lim(s + off, n - off, &LIM, &r),
		             HTTP_PARSE_OK);
		CHECK_EQ_U64(r.method, methods[k]);
		CHECK_EQ_U64(r.keep_alive, k != 2);
		off += r.header_bytes + r.content_length;
	}
	CHECK_EQ_U64(off, n);
	/* two in one buffer */
	const char *t = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	                "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	CHECK_EQ_U64(parse(t, &r), HTTP_PARSE_OK);
	CHECK(span_is(r.path, "/a"));
	CHECK_EQ_U64(parse(t + r.header_bytes, &r), HTTP_PARSE_OK);
	CHECK(span_is(r.path, "/b"));
}

static void test_400(void)
{
	/* request line */
	err_split("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	err_split("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
	err_split(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	err_split("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	err_split("GET /\r\nHost: a\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
	err_split("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
	err_split("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
	err_split("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
	err_split("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	err_split("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	err_split("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	/* fields */
	err_split("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\nX-A b\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n\r\n", 400);
	{
		static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\n"
		                          "X-A: b\0c\r\n\r\n";
		struct http_request r;
		split_all(nul, sizeof(nul) - 1, &LIM, HTTP_PARSE_ERROR, 400,
		          &r);
	}
	err_split("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\n\r\r", 400);
	/* framing */
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	          "Content-Length: 6\r\n\r\n", 400);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
	          400);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
	          400);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	          "Transfer-Encoding: chunked\r\n\r\n", 400);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	          "Content-Length: 5\r\n\r\n", 400);
	err_split("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	/* Host */
	err_split("GET / HTTP/1.1\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	err_split("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\n"
	          "Authorization: b\r\n\r\n", 400);
}

static void test_4xx_5xx(void)
{
	struct http_request r;
	char big[2048];

	err_split("POST /t/ HTTP/1.1\r\nHost: a\r\n\r\n", 411);
	err_split("PUT /t/1 HTTP/1.0\r\n\r\n", 411);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
	          413);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	          "99999999999999999999999999\r\n\r\n", 413);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	          501);
	err_split("POST / HTTP/1.1\r\nHost: a\r\n"
	          "Transfer-Encoding: gzip, chunked\r\n\r\n", 501);
	err_split("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	          "Transfer-Encoding: chunked\r\n\r\n", 501);
	err_split("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	err_split("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
	err_split("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);

	/* 431: too many fields (8 allowed) */
	err_split("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n"
	          "E: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n\r\n", 431);
	ok_split("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n"
	         "E: 1\r\nF: 1\r\nG: 1\r\n\r\n", &r);
	CHECK_EQ_U64(r.num_headers, 8);
	/* the caller's array is smaller than max_headers */
	CHECK_EQ_U64(http_parse_request("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n"
	                                "\r\n", 33, &LIM, hdrs, 1, &r),
	             HTTP_PARSE_ERROR);
	CHECK_EQ_U64(r.status, 431);

	/* 431: head over max_header_bytes, exactly at the limit is fine */
	const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	size_t pl = strlen(pre);
	memcpy(big, pre, pl);
	memset(big + pl, 'x', sizeof(big) - pl);
	size_t at = 1024 - 4; /* value ends so that the head is 1024 bytes */
	memcpy(big + at, "\r\n\r\n", 4);
	split_all(big, 1024, &LIM, HTTP_PARSE_OK, 0, &r);
	CHECK_EQ_U64(r.header_bytes, 1024);
	memcpy(big + at, "xx\r\n\r\n", 6);
	split_all(big, 1026, &LIM, HTTP_PARSE_ERROR, 431, &r);
	split_all(big, sizeof(big), &LIM, HTTP_PARSE_ERROR, 431, &r);

	/* 414: request line never ends within the limit; or max_uri */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', sizeof(big) - 5);
	split_all(big, sizeof(big), &LIM, HTTP_PARSE_ERROR, 414, &r);
	struct http_limits l2 = LIM;
	l2.max_uri = 4;
	split_all("GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n", 31, &l2,
	          HTTP_PARSE_ERROR, 414, &r);
	split_all("GET /abc HTTP/1.1\r\nHost: a\r\n\r\n", 30, &l2,
	          HTTP_PARSE_OK, 0, &r);
}

int main(void)
{
	test_get();
	test_post_cl();
	test_post_chunked();
	test_put_delete_head_other();
	test_expect_connection();
	test_values();
	test_pipelined();
	test_400();
	test_4xx_5xx();
	CHECK_DONE();
}

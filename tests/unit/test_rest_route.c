/* The pure pieces of the REST API (dataplane/http/rest_route.h,
 * http_response.h): routes of every shape, table/id validity, ETags and
 * If-None-Match, placing a generated id into a JSON body (re-validated),
 * and response heads / JSON error bodies written into a caller's buffer. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "dataplane/http/http_response.h"
#include "dataplane/http/json_validate.h"
#include "dataplane/http/rest_route.h"

/* --- helpers -------------------------------------------------------------- */

static bool span_eq(struct http_span s, const char *lit)
{
	return s.p != NULL && s.len == strlen(lit) &&
	       memcmp(s.p, lit, s.len) == 0;
}

/* Parse a NUL-terminated target; the route's spans must lie inside it. */
static struct rest_route route(const char *target)
{
	struct rest_route r;
	memset(&r, 0x5a, sizeof r); /* parse must set every field */
	struct http_span t = {target, strlen(target)};
	rest_route_parse(t, &r);
	if (r.kind == ROUTE_TABLE || r.kind == ROUTE_RECORD) {
		CHECK(r.table.p >= target &&
		      r.table.p + r.table.len <= target + t.len);
		CHECK(rest_table_valid(r.table.p, r.table.len));
	}
	if (r.kind == ROUTE_RECORD) {
		CHECK(r.id.p >= target && r.id.p + r.id.len <= target + t.len);
		CHECK(rest_id_valid(r.id.p, r.id.len));
	}
	if (r.kind == ROUTE_BAD)
		CHECK(r.why != NULL && strlen(r.why) > 0);
	return r;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* --- routes --------------------------------------------------------------- */

static void test_route_fixed(void)
{
	struct rest_route r;

	r = route("/health");
	CHECK_EQ_U64(r.kind, ROUTE_HEALTH);
	r = route("/health?verbose=1");
	CHECK_EQ_U64(r.kind, ROUTE_HEALTH);
	r = route("/metrics");
	CHECK_EQ_U64(r.kind, ROUTE_METRICS);
	r = route("/metrics?");
	CHECK_EQ_U64(r.kind, ROUTE_METRICS);
	/* case matters: /Health is a table */
	r = route("/Health");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	CHECK(span_eq(r.table, "Health"));
	/* /health/ is the table "health", as /{table}/ says */
	r = route("/health/");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	CHECK(span_eq(r.table, "health"));
	r = route("/metricsx");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
}

static void test_route_table_record(void)
{
	struct rest_route r;

	r = route("/t");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	CHECK(span_eq(r.table, "t"));
	CHECK(r.id.p == NULL && r.id.len == 0);
	r = route("/t/");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	CHECK(span_eq(r.table, "t"));
	CHECK(r.id.len == 0);
	r = route("/Users_2/?x=1&y=/a/b");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	CHECK(span_eq(r.table, "Users_2"));
	r = route("/t?x");
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	CHECK(span_eq(r.table, "t"));

	r = route("/t/id");
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK(span_eq(r.table, "t"));
	CHECK(span_eq(r.id, "id"));
	r = route("/t/abc-123?fields=a,b");
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK(span_eq(r.id, "abc-123"));
	r = route("/t/x?");
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK(span_eq(r.id, "x"));
	/* every pchar but '%' is an id byte */
	r = route("/t/aZ09-._~!$&'()*+,;=:@");
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK(span_eq(r.id, "aZ09-._~!$&'()*+,;=:@"));
	r = route("/t/0f8fad5b-d9cb-469f-a165-70867728950e");
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK(span_eq(r.id, "0f8fad5b-d9cb-469f-a165-70867728950e"));

	/* deeper paths name nothing */
	r = route("/t/id/extra");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("/t/id/");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("/t//");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("/t//x");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("//x");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("/");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("/?x=1");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	/* not origin-form */
	r = route("");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("*");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("?x");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("t/x");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("http://host:9926/t/x");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);
	r = route("host:9926");
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);

	/* an absent target */
	struct http_span none = {NULL, 0};
	rest_route_parse(none, &r);
	CHECK_EQ_U64(r.kind, ROUTE_NOT_FOUND);

	/* a span that is not NUL-terminated: only len counts */
	const char buf[] = "/t/abcdef";
	struct http_span part = {buf, 5}; /* "/t/ab" */
	rest_route_parse(part, &r);
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK(span_eq(r.id, "ab"));
}

static void test_route_bad(void)
{
	struct rest_route r;
	char path[600];

	r = route("/bad-table/");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/bad.table");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/t%41/x");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/t~/x");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/\xc3\xa9/x");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);

	char *t63 = repeat('a', 63), *t64 = repeat('b', 64);
	snprintf(path, sizeof path, "/%s/x", t63);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK_EQ_U64(r.table.len, 63);
	snprintf(path, sizeof path, "/%s/", t63);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_TABLE);
	snprintf(path, sizeof path, "/%s/x", t64);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	CHECK_STR_CONTAINS(r.why, "table");
	snprintf(path, sizeof path, "/%s", t64);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	free(t63);
	free(t64);

	char *i255 = repeat('z', 255), *i256 = repeat('y', 256);
	snprintf(path, sizeof path, "/t/%s", i255);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK_EQ_U64(r.id.len, 255);
	snprintf(path, sizeof path, "/t/%s?q", i255);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_RECORD);
	CHECK_EQ_U64(r.id.len, 255);
	snprintf(path, sizeof path, "/t/%s", i256);
	r = route(path);
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	CHECK_STR_CONTAINS(r.why, "id");
	free(i255);
	free(i256);

	/* percent-encoding is refused, not decoded */
	r = route("/t/a%20b");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	CHECK_STR_CONTAINS(r.why, "percent");
	r = route("/t/%");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/t/a\"b");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/t/a[b]");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/t/a#b");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
	r = route("/t/\x7f");
	CHECK_EQ_U64(r.kind, ROUTE_BAD);
}

static void test_valid_fns(void)
{
	CHECK(!rest_table_valid("", 0));
	CHECK(!rest_table_valid(NULL, 0));
	CHECK(rest_table_valid("a", 1));
	CHECK(rest_table_valid("_", 1));
	CHECK(rest_table_valid("Az09_", 5));
	CHECK(!rest_table_valid("a-b", 3));
	CHECK(!rest_table_valid("a b", 3));
	CHECK(!rest_table_valid("a/b", 3));
	CHECK(!rest_table_valid("a\0b", 3));
	CHECK(!rest_table_valid("\xff", 1));
	char *s = repeat('T', 64);
	CHECK(rest_table_valid(s, 63));
	CHECK(!rest_table_valid(s, 64));
	free(s);

	CHECK(!rest_id_valid("", 0));
	CHECK(!rest_id_valid(NULL, 0));
	CHECK(rest_id_valid("a", 1));
	const char *ok = "-._~!$&'()*+,;=:@";
	for (const char *p = ok; *p; p++)
		CHECK(rest_id_valid(p, 1));
	const char *bad = "%/?#[]\"\\<>{}|^` \t\r\n";
	for (const char *p = bad; *p; p++)
		CHECK(!rest_id_valid(p, 1));
	for (unsigned c = 0; c < 256; c++) {
		char b = (char)c;
		bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') ||
		            (c != 0 && strchr(ok, (int)c) != NULL);
		CHECK(rest_id_valid(&b, 1) == want);
	}
	CHECK(!rest_id_valid("a\0", 2)); /* a NUL inside the length */
	s = repeat('i', 256);
	CHECK(rest_id_valid(s, 255));
	CHECK(!rest_id_valid(s, 256));
	free(s);
}

/* --- ETags ---------------------------------------------------------------- */

static struct http_span sp(const char *s)
{
	return (struct http_span){s, strlen(s)};
}

static void test_etag(void)
{
	char e[REST_ETAG_MAX];
	struct loom_version v = {0x0123456789abcdefull, 65535};
	size_t n = rest_etag(v, e);
	CHECK_EQ_U64(n, 24);
	CHECK(n < REST_ETAG_MAX && memcmp(e, "\"0123456789abcdef-65535\"", n) == 0);
	v = (struct loom_version){0, 0};
	n = rest_etag(v, e);
	CHECK_EQ_U64(n, 20);
	CHECK(memcmp(e, "\"0000000000000000-0\"", n) == 0);
	v = (struct loom_version){UINT64_MAX, 7};
	n = rest_etag(v, e);
	CHECK(memcmp(e, "\"ffffffffffffffff-7\"", n) == 0);
	/* different versions, different tags */
	char e2[REST_ETAG_MAX];
	size_t n2 = rest_etag((struct loom_version){UINT64_MAX, 8}, e2);
	CHECK(n != n2 || memcmp(e, e2, n) != 0);

	const char *tag = "\"00000000000a0001-3\"";
	size_t tl = strlen(tag);
	CHECK(rest_etag_matches(sp("\"00000000000a0001-3\""), tag, tl));
	CHECK(rest_etag_matches(sp("\"x\", \"00000000000a0001-3\""), tag, tl));
	CHECK(rest_etag_matches(sp("\"x\",\"00000000000a0001-3\" ,\"y\""),
	                        tag, tl));
	CHECK(rest_etag_matches(sp("  \"00000000000a0001-3\"\t"), tag, tl));
	CHECK(rest_etag_matches(sp("\"x\" ,\t \"00000000000a0001-3\" , "),
	                        tag, tl));
	CHECK(rest_etag_matches(sp("W/\"00000000000a0001-3\""), tag, tl));
	CHECK(rest_etag_matches(sp("\"a\", W/\"00000000000a0001-3\""), tag,
	                        tl));
	CHECK(rest_etag_matches(sp("*"), tag, tl));
	CHECK(rest_etag_matches(sp(" * "), tag, tl));
	CHECK(rest_etag_matches(sp("\"a\", *"), tag, tl));

	CHECK(!rest_etag_matches(sp("\"00000000000a0001-4\""), tag, tl));
	CHECK(!rest_etag_matches(sp("00000000000a0001-3"), tag, tl));
	CHECK(!rest_etag_matches(sp("\"00000000000a0001-3"), tag, tl));
	CHECK(!rest_etag_matches(sp("\"00000000000a0001-3\"x"), tag, tl));
	CHECK(!rest_etag_matches(sp("w/\"00000000000a0001-3\""), tag, tl));
	CHECK(!rest_etag_matches(sp("W/ \"00000000000a0001-3\""), tag, tl));
	CHECK(!rest_etag_matches(sp("**"), tag, tl));
	CHECK(!rest_etag_matches(sp("\"a\", \"b\""), tag, tl));
	CHECK(!rest_etag_matches(sp(""), tag, tl));
	CHECK(!rest_etag_matches(sp(" , ,"), tag, tl));
	CHECK(!rest_etag_matches((struct http_span){NULL, 0}, tag, tl));
	/* only the span counts */
	const char *longer = "\"00000000000a0001-3\"";
	CHECK(!rest_etag_matches((struct http_span){longer, tl - 1}, tag, tl));
}

/* --- id insertion --------------------------------------------------------- */

#define ROOM 300

/* Put body at buf + ROOM, insert id with `room` bytes in front, check the
 * result equals want and re-validates with the id first. */
static void insert_case(const char *body, size_t room, const char *id,
                        const char *want)
{
	char buf[ROOM + 1024];
	size_t len = strlen(body);
	memset(buf, '#', sizeof buf);
	memcpy(buf + ROOM, body, len);
	size_t nl = 0;
	char *p = rest_insert_id(buf + ROOM, len, room, id, strlen(id), &nl);
	if (want == NULL) {
		CHECK(p == NULL);
		/* nothing written before the body on failure */
		for (size_t i = 0; i < ROOM; i++)
			if (buf[i] != '#') {
				CHECK(!"rest_insert_id wrote on failure");
				break;
			}
		return;
	}
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(p >= buf + ROOM - room && p <= buf + ROOM);
	CHECK_EQ_U64(nl, strlen(want));
	CHECK(nl == strlen(want) && memcmp(p, want, nl) == 0);
	if (nl != strlen(want) || memcmp(p, want, nl) != 0)
		fprintf(stderr, "  got '%.*s' want '%s'\n", (int)nl, p, want);
	/* bytes before the new start are untouched */
	for (char *q = buf; q < p; q++)
		if (*q != '#') {
			CHECK(!"rest_insert_id wrote before its result");
			break;
		}
	struct json_result jr;
	CHECK_EQ_U64(json_validate_object(p, nl, 0, &jr), JSON_OK);
	CHECK(jr.id_present);
	CHECK(jr.id == p + 7); /* the first member */
	CHECK_EQ_U64(jr.id_len, strlen(id));
	CHECK(!jr.id_escaped);
}

static void test_insert_id(void)
{
	insert_case("{}", ROOM, "abc", "{\"id\":\"abc\"}");
	insert_case("{ }", ROOM, "abc", "{\"id\":\"abc\" }");
	insert_case("{\n\t}", ROOM, "abc", "{\"id\":\"abc\"\n\t}");
	insert_case("{\"a\":1}", ROOM, "abc", "{\"id\":\"abc\",\"a\":1}");
	insert_case("{ \"a\" : [1, {\"id\":2}] }", ROOM, "x",
	            "{\"id\":\"x\", \"a\" : [1, {\"id\":2}] }");
	insert_case("  \r\n{\"a\":1}", ROOM, "abc",
	            "{\"id\":\"abc\",\"a\":1}");
	insert_case("{\"a\":1}  \n", ROOM, "abc",
	            "{\"id\":\"abc\",\"a\":1}  \n");
	insert_case("\t{}\t", ROOM, "k", "{\"id\":\"k\"}\t");
	insert_case("{\"b\":\"{\"}", ROOM, "k", "{\"id\":\"k\",\"b\":\"{\"}");
	insert_case("{}", ROOM, "0f8fad5b-d9cb-469f-a165-70867728950e",
	            "{\"id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"}");

	/* room: the member replaces the brace, so it needs prefix - 1 bytes
	 * in front ({"id":"abc", is 12; {"id":"abc"} without "}" is 11) */
	insert_case("{\"a\":1}", 11, "abc", "{\"id\":\"abc\",\"a\":1}");
	insert_case("{\"a\":1}", 10, "abc", NULL);
	insert_case("{}", 10, "abc", "{\"id\":\"abc\"}");
	insert_case("{}", 9, "abc", NULL);
	insert_case("{}", 0, "abc", NULL);
	/* leading whitespace counts as room */
	insert_case("   {\"a\":1}", 8, "abc", "{\"id\":\"abc\",\"a\":1}");
	insert_case("   {\"a\":1}", 7, "abc", NULL);
	/* room >= id_len + 10 always suffices; a 255-byte id */
	char *id = repeat('q', 255);
	char want[600];
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"z\":null}", id);
	insert_case("{\"z\":null}", 265, id, want);
	snprintf(want, sizeof want, "{\"id\":\"%s\"}", id);
	insert_case("{}", 265, id, want);
	free(id);
}

/* --- responses ------------------------------------------------------------ */

static void test_response_head(void)
{
	char b[512];
	size_t n;

	n = http_resp_head(b, sizeof b, 200, "application/json", 5, false,
	                   NULL);
	const char *w1 = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                 "Content-Length: 5\r\n\r\n";
	CHECK_EQ_U64(n, strlen(w1));
	CHECK(n == strlen(w1) && memcmp(b, w1, n) == 0);

	n = http_resp_head(b, sizeof b, 204, NULL, HTTP_NO_LENGTH, false,
	                   "ETag: \"x\"\r\n");
	const char *w2 = "HTTP/1.1 204 No Content\r\nETag: \"x\"\r\n\r\n";
	CHECK_EQ_U64(n, strlen(w2));
	CHECK(n == strlen(w2) && memcmp(b, w2, n) == 0);

	n = http_resp_head(b, sizeof b, 304, NULL, HTTP_NO_LENGTH, true,
	                   NULL);
	const char *w3 = "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n";
	CHECK(n == strlen(w3) && memcmp(b, w3, n) == 0);

	n = http_resp_head(b, sizeof b, 201, "application/json", 0, true,
	                   "Location: /t/x\r\nETag: \"e\"\r\n");
	const char *w4 = "HTTP/1.1 201 Created\r\nContent-Type: application/json"
	                 "\r\nContent-Length: 0\r\nConnection: close\r\n"
	                 "Location: /t/x\r\nETag: \"e\"\r\n\r\n";
	CHECK(n == strlen(w4) && memcmp(b, w4, n) == 0);

	n = http_resp_head(b, sizeof b, 200, NULL, 12345678901ull, false,
	                   NULL);
	CHECK(n > 0);
	b[n < sizeof b ? n : sizeof b - 1] = '\0';
	CHECK_STR_CONTAINS(b, "Content-Length: 12345678901\r\n");
	CHECK(strstr(b, "Content-Type") == NULL);

	/* too small: 0, whatever the cut */
	size_t full = strlen(w1);
	CHECK(http_resp_head(b, full + 1, 200, "application/json", 5, false,
	                     NULL) == full);
	for (size_t cap = 0; cap < full; cap++)
		CHECK_EQ_U64(http_resp_head(b, cap, 200, "application/json", 5,
		                            false, NULL), 0);

	CHECK(strcmp(http_reason(431), "Request Header Fields Too Large") == 0);
	CHECK(strcmp(http_reason(100), "Continue") == 0);
	CHECK(strcmp(http_reason(503), "Service Unavailable") == 0);
	CHECK(strcmp(http_reason(418), "Unknown") == 0);
}

/* Split a response into head and body at the blank line. */
static const char *body_of(const char *resp, size_t n, size_t *bl)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (memcmp(resp + i, "\r\n\r\n", 4) == 0) {
			*bl = n - i - 4;
			return resp + i + 4;
		}
	*bl = 0;
	return NULL;
}

static void test_response_error(void)
{
	char b[1024];
	size_t n, bl;
	const char *body;

	n = http_resp_error(b, sizeof b, 404, "no such record", false);
	/* {"error":"no such record"} is 26 bytes */
	const char *w = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json"
	                "\r\nContent-Length: 26\r\n\r\n"
	                "{\"error\":\"no such record\"}";
	CHECK_EQ_U64(n, strlen(w));
	CHECK(n == strlen(w) && memcmp(b, w, n) == 0);

	/* quotes and backslashes escaped, control bytes dropped */
	n = http_resp_error(b, sizeof b, 400, "bad \"x\" \\ y\n\x01z", true);
	CHECK(n > 0);
	body = body_of(b, n, &bl);
	CHECK(body != NULL);
	const char *wb = "{\"error\":\"bad \\\"x\\\" \\\\ yz\"}";
	CHECK(body != NULL && bl == strlen(wb) && memcmp(body, wb, bl) == 0);
	b[n] = '\0';
	CHECK_STR_CONTAINS(b, "Connection: close\r\n");
	CHECK(strncmp(b, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	char cl[64];
	snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", bl);
	CHECK_STR_CONTAINS(b, cl);
	struct json_result jr;
	CHECK(body != NULL &&
	      json_validate_object(body, bl, 0, &jr) == JSON_OK);
	CHECK(strstr(b, "WWW-Authenticate") == NULL);

	/* 401 asks for Basic credentials */
	n = http_resp_error(b, sizeof b, 401, "credentials required", false);
	CHECK(n > 0);
	b[n] = '\0';
	CHECK(strncmp(b, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0);
	CHECK_STR_CONTAINS(b, "WWW-Authenticate: Basic realm=\"loom\"\r\n");
	CHECK(strstr(b, "Connection: close") == NULL);

	/* a long message of escapable bytes stays one valid JSON object */
	char *msg = repeat('"', 400);
	n = http_resp_error(b, sizeof b, 500, msg, false);
	free(msg);
	CHECK(n > 0);
	body = body_of(b, n, &bl);
	CHECK(body != NULL && json_validate_object(body, bl, 0, &jr) ==
	                              JSON_OK);
	msg = repeat('\\', 400);
	n = http_resp_error(b, sizeof b, 500, msg, false);
	free(msg);
	body = body_of(b, n, &bl);
	CHECK(body != NULL && json_validate_object(body, bl, 0, &jr) ==
	                              JSON_OK);

	/* too small: 0; exactly enough: the whole */
	size_t full = http_resp_error(b, sizeof b, 409, "exists", false);
	CHECK(full > 0);
	CHECK_EQ_U64(http_resp_error(b, full, 409, "exists", false), full);
	for (size_t cap = 0; cap < full; cap++)
		CHECK_EQ_U64(http_resp_error(b, cap, 409, "exists", false), 0);
}

int main(void)
{
	test_route_fixed();
	test_route_table_record();
	test_route_bad();
	test_valid_fns();
	test_etag();
	test_insert_id();
	test_response_head();
	test_response_error();
	CHECK_DONE();
}

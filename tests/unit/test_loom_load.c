/*
 * test_loom_load.c - the pure parts of loom-load (bench/loom_load/):
 *  - the histogram: bucket bounds, percentiles of random samples against
 *    the sorted samples within 1%, merging, clamping;
 *  - ids: UUIDv4 shape and uniqueness, seq ids unique across lanes and
 *    ascending per lane, prefixes;
 *  - requests: the body is exactly 400 bytes of valid JSON with 8 members
 *    and the id first (checked with the server's own JSON validator), the
 *    same bytes as bench/wrk/insert.lua for the same counter, and the whole
 *    request is accepted by the server's own HTTP parser;
 *  - the response parser: split at every byte, a 201 with its id, a 503,
 *    Content-Length 0, interim 100, pipelined bytes left over, and every
 *    malformed head refused;
 *  - the client state machine over the unit tests' TCP harness against a
 *    small scripted HTTP server: quota, acknowledged ids, reconnects after
 *    Connection: close, statuses and id mismatches counted, open loop.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loom_load/client.h"
#include "bench/loom_load/hist.h"
#include "bench/loom_load/load.h"
#include "check.h"
#include "dataplane/http/http_parser.h"
#include "dataplane/http/json_validate.h"
#include "tcp_harness.h"

/* --- histogram ----------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_hist_buckets(void)
{
	/* Every value lies in its bucket; buckets are at most 1/128 of
	 * their lower bound wide; indexes grow with values. */
	uint32_t prev = 0;
	bool ok = true, mono = true;
	for (uint64_t v = 0; v <= HIST_MAX_US; v = v < 4096 ? v + 1 : v + v / 97) {
		uint32_t i = hist_index(v);
		uint64_t lo = hist_bucket_lo(i), hi = hist_bucket_hi(i);
		if (i >= HIST_BUCKETS || v < lo || v > hi ||
		    (hi - lo + 1) * 128 > (lo > 128 ? lo : 128))
			ok = false;
		if (i < prev)
			mono = false;
		prev = i;
	}
	CHECK(ok);
	CHECK(mono);
	CHECK_EQ_U64(hist_index(0), 0);
	CHECK_EQ_U64(hist_index(255), 255);
	CHECK_EQ_U64(hist_index(256), 256);
	CHECK(hist_index(HIST_MAX_US) < HIST_BUCKETS);
	CHECK_EQ_U64(hist_index(HIST_MAX_US * 10), hist_index(HIST_MAX_US));
	/* Consecutive buckets tile the range without gaps. */
	bool tiled = true;
	for (uint32_t i = 1; i < HIST_BUCKETS; i++)
		if (hist_bucket_lo(i) != hist_bucket_hi(i - 1) + 1)
			tiled = false;
	CHECK(tiled);
}

static void check_percentiles(const uint64_t *sorted, size_t n,
                              const struct hist *h, const char *what)
{
	static const double ps[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9,
	                            99.99, 100};
	for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
		double r = ps[k] / 100.0 * (double)n;
		size_t rank = (size_t)r;
		if ((double)rank < r)
			rank++;
		if (rank < 1)
			rank = 1;
		uint64_t exact = sorted[rank - 1];
		uint64_t got = hist_percentile(h, ps[k]);
		uint64_t diff = got > exact ? got - exact : exact - got;
		check_total++;
		if (diff * 100 > exact) {
			check_failures++;
			fprintf(stderr, "%s: p%g = %llu, exact %llu\n", what,
			        ps[k], (unsigned long long)got,
			        (unsigned long long)exact);
		}
	}
}

/* splitmix64: test samples only. */
static uint64_t next_u64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void test_hist_percentiles(void)
{
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof *v);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	uint64_t rng = 42;
	static struct hist h, parts[3], merged;
	/* Log-uniform over 1 us .. 60 s, plus a cluster of equal values. */
	for (int dist = 0; dist < 2; dist++) {
		hist_init(&h);
		hist_init(&merged);
		for (int j = 0; j < 3; j++)
			hist_init(&parts[j]);
		for (size_t i = 0; i < N; i++) {
			double u = (double)(next_u64(&rng) >> 11) /
			           9007199254740992.0;
			uint64_t x = dist == 0
				? (uint64_t)exp(u * log(6e7))
				: 900 + next_u64(&rng) % 200;
			if (dist == 1 && i % 1000 == 0)
				x = 250000 + i; /* a slow tail */
			v[i] = x;
			hist_record(&h, x);
			hist_record(&parts[i % 3], x);
		}
		for (int j = 0; j < 3; j++)
			hist_merge(&merged, &parts[j]);
		qsort(v, N, sizeof *v, cmp_u64);
		CHECK_EQ_U64(h.count, N);
		CHECK_EQ_U64(h.min, v[0]);
		CHECK_EQ_U64(h.max, v[N - 1]);
		CHECK_EQ_U64(hist_percentile(&h, 100), v[N - 1]);
		check_percentiles(v, N, &h, dist ? "cluster" : "log-uniform");
		check_percentiles(v, N, &merged, "merged");
		CHECK(memcmp(merged.b, h.b, sizeof h.b) == 0);
		CHECK_EQ_U64(merged.sum, h.sum);
		double mean = 0;
		for (size_t i = 0; i < N; i++)
			mean += (double)v[i];
		mean /= N;
		CHECK(hist_mean(&h) > mean * 0.999999 &&
		      hist_mean(&h) < mean * 1.000001);
	}
	free(v);

	hist_init(&h);
	CHECK_EQ_U64(hist_percentile(&h, 50), 0);
	hist_record(&h, 1234);
	CHECK_EQ_U64(hist_percentile(&h, 50), 1234); /* clamped to min/max */
	CHECK_EQ_U64(hist_percentile(&h, 99.9), 1234);
	hist_record(&h, HIST_MAX_US * 3);
	CHECK_EQ_U64(h.over, 1);
	CHECK_EQ_U64(h.max, HIST_MAX_US);
	CHECK_EQ_U64(hist_percentile(&h, 100), HIST_MAX_US);
}

/* --- ids ------------------------------------------------------------------ */

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_ids(void)
{
	enum { N = 100000 };
	static char ids[2 * N][LOAD_ID_MAX + 1];
	struct load_keygen k;
	CHECK_EQ_U64(load_keygen_init(&k, LOAD_KEYS_UUID, NULL, 0, 7), 0);
	bool shape = true;
	for (size_t i = 0; i < N; i++) {
		size_t n = load_key_next(&k, ids[i]);
		ids[i][n] = '\0';
		const char *s = ids[i];
		if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' ||
		    s[23] != '-' || s[14] != '4' || !strchr("89ab", s[19]))
			shape = false;
		for (size_t j = 0; j < n; j++)
			if (!strchr("0123456789abcdef-", s[j]))
				shape = false;
	}
	CHECK(shape);
	qsort(ids, N, sizeof ids[0], cmp_id);
	bool uniq = true;
	for (size_t i = 1; i < N; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			uniq = false;
	CHECK(uniq);

	/* seq: two lanes of one run, N each: all distinct, each lane
	 * ascending (the ids sort as their counters do). */
	struct load_keygen a, b;
	CHECK_EQ_U64(load_keygen_init(&a, LOAD_KEYS_SEQ, "run-1", 0, 1), 0);
	CHECK_EQ_U64(load_keygen_init(&b, LOAD_KEYS_SEQ, "run-1", 1, 1), 0);
	bool asc = true;
	for (size_t i = 0; i < N; i++) {
		size_t n = load_key_next(&a, ids[i]);
		ids[i][n] = '\0';
		n = load_key_next(&b, ids[N + i]);
		ids[N + i][n] = '\0';
		if (i > 0 && (strcmp(ids[i - 1], ids[i]) >= 0 ||
		              strcmp(ids[N + i - 1], ids[N + i]) >= 0))
			asc = false;
	}
	CHECK(asc);
	CHECK(strcmp(ids[0], "run-1-00-000000000001") == 0);
	CHECK(strcmp(ids[N], "run-1-01-000000000001") == 0);
	CHECK(strcmp(ids[N - 1], "run-1-00-000000100000") == 0);
	qsort(ids, 2 * N, sizeof ids[0], cmp_id);
	uniq = true;
	for (size_t i = 1; i < 2 * N; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			uniq = false;
	CHECK(uniq);

	CHECK(load_prefix_valid("r0a1b2c3d"));
	CHECK(load_prefix_valid("abcdefghijklmnopqrstuvwx")); /* 24 */
	CHECK(!load_prefix_valid("abcdefghijklmnopqrstuvwxy"));
	CHECK(!load_prefix_valid(""));
	CHECK(!load_prefix_valid("a/b"));
	CHECK(!load_prefix_valid("a b"));
	CHECK(load_keygen_init(&a, LOAD_KEYS_SEQ, "bad prefix", 0, 1) != 0);
	CHECK(load_keygen_init(&a, LOAD_KEYS_SEQ, "ok", 100, 1) != 0);
}

/* --- requests ------------------------------------------------------------- */

/* Top-level members of a flat JSON object: commas outside strings + 1. */
static unsigned members(const char *s, size_t n)
{
	unsigned c = 1;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		if (in && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			in = !in;
		else if (!in && s[i] == ',')
			c++;
	}
	return c;
}

static void test_body(void)
{
	char body[LOAD_BODY_LEN + 1];
	static const uint64_t ns[] = {1, 9, 10, 89, 90, 999, 1000, 123456789,
	                              UINT64_MAX};
	char id[LOAD_ID_MAX];
	memset(id, 'k', sizeof id);
	bool len_ok = true, json_ok = true, id_ok = true, fields_ok = true;
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		for (size_t il = 1; il <= LOAD_ID_MAX; il++) {
			size_t n = load_body_build(body, id, il, ns[i]);
			if (n != LOAD_BODY_LEN)
				len_ok = false;
			struct json_result r;
			if (json_validate_object(body, n, 0, &r) != JSON_OK)
				json_ok = false;
			if (!r.id_present || r.id_len != il ||
			    memcmp(r.id, id, il) != 0 || memcmp(body, "{\"id\":\"", 7))
				id_ok = false;
			if (members(body, n) != 8)
				fields_ok = false;
		}
	}
	CHECK(len_ok);
	CHECK(json_ok);
	CHECK(id_ok);
	CHECK(fields_ok);
	CHECK_EQ_U64(load_body_build(body, id, 0, 1), 0);
	CHECK_EQ_U64(load_body_build(body, id, LOAD_ID_MAX + 1, 1), 0);

	/* bench/wrk/insert.lua's record for counter 7 and the same id. */
	const char *uuid = "0b3c1f2e-9d4a-4c8b-a1e2-3f4d5c6b7a89";
	size_t n = load_body_build(body, uuid, strlen(uuid), 7);
	body[n] = '\0';
	const char *head = "{\"id\":\"0b3c1f2e-9d4a-4c8b-a1e2-3f4d5c6b7a89\","
	                   "\"name\":\"user 7\",\"email\":\"user7@example.com\","
	                   "\"age\":7,\"city\":\"Amsterdam\",\"score\":7.5,"
	                   "\"active\":true,\"note\":\"";
	size_t hl = strlen(head);
	CHECK(strncmp(body, head, hl) == 0);
	bool pad = true;
	for (size_t i = hl; i < LOAD_BODY_LEN - 2; i++)
		if (body[i] != 'x')
			pad = false;
	CHECK(pad);
	CHECK(strcmp(body + LOAD_BODY_LEN - 2, "\"}") == 0);
	CHECK(strstr(body, "\"age\":7,") != NULL);
	n = load_body_build(body, uuid, strlen(uuid), 1234);
	body[n] = '\0';
	CHECK(strstr(body, "\"age\":64,") != NULL);     /* 1234 % 90 */
	CHECK(strstr(body, "\"score\":234.5,") != NULL); /* 1234 % 1000 */
}

static void test_request(void)
{
	struct load_req_tmpl t;
	CHECK_EQ_U64(load_req_tmpl_init(&t, true, "/bench", "10.77.0.11:9926",
	                                "YWxpY2U6c2VjcmV0"), 0);
	char out[LOAD_REQ_MAX];
	const char *id = "abc-00-000000000001";
	size_t n = load_req_build(&t, out, id, strlen(id), 1);
	CHECK_EQ_U64(n, t.head_len + LOAD_BODY_LEN);
	/* The server's parser takes it: POST, the path, 400 bytes of JSON,
	 * keep-alive, the credentials. */
	struct http_header hdrs[16];
	struct http_request req;
	const struct http_limits lim = {8192, 16, 65536, 0};
	CHECK(http_parse_request(out, n, &lim, hdrs, 16, &req) == HTTP_PARSE_OK);
	CHECK(req.method == HTTP_M_POST);
	CHECK(http_span_ieq(req.path, "/bench"));
	CHECK(req.has_content_length && req.content_length == LOAD_BODY_LEN);
	CHECK(req.content_type_json);
	CHECK(req.keep_alive);
	CHECK(http_span_ieq(req.authorization, "Basic YWxpY2U6c2VjcmV0"));
	CHECK(http_span_ieq(req.host, "10.77.0.11:9926"));
	CHECK_EQ_U64(req.header_bytes, t.head_len);
	/* Every prefix is incomplete, never an error. */
	bool prefixes = true;
	for (size_t k = 0; k < t.head_len; k++)
		if (http_parse_request(out, k, &lim, hdrs, 16, &req) !=
		    HTTP_PARSE_INCOMPLETE)
			prefixes = false;
	CHECK(prefixes);
	struct json_result r;
	CHECK(json_validate_object(out + t.head_len, LOAD_BODY_LEN, 0, &r) ==
	      JSON_OK);
	CHECK(r.id_present && r.id_len == strlen(id) &&
	      memcmp(r.id, id, r.id_len) == 0);

	/* GET /health: no body, no credentials needed. */
	CHECK_EQ_U64(load_req_tmpl_init(&t, false, "/health", "h:1", NULL), 0);
	n = load_req_build(&t, out, NULL, 0, 0);
	CHECK_EQ_U64(n, t.head_len);
	CHECK(http_parse_request(out, n, &lim, hdrs, 16, &req) == HTTP_PARSE_OK);
	CHECK(req.method == HTTP_M_GET);
	CHECK(http_span_ieq(req.path, "/health"));
	CHECK(!req.has_content_length);
	CHECK(req.authorization.len == 0);

	CHECK(load_req_tmpl_init(&t, true, "bench", "h:1", NULL) != 0);
	CHECK(load_req_tmpl_init(&t, true, "/a b", "h:1", NULL) != 0);
	CHECK(load_req_tmpl_init(&t, true, "/a\r\n", "h:1", NULL) != 0);
	CHECK(load_req_tmpl_init(&t, true, "/a", "h\r\nX: y", NULL) != 0);
	char longp[800];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	CHECK(load_req_tmpl_init(&t, true, longp, "h:1", NULL) != 0);
}

/* --- responses ------------------------------------------------------------ */

static int feed_all(struct load_resp *r, const char *s, size_t n,
                    size_t *used)
{
	return load_resp_feed(r, (const uint8_t *)s, n, used);
}

/* Feed s in two pieces split at every byte, and one byte at a time: the
 * same verdict, status, body check and consumed length every way. */
static void check_splits(const char *s, const char *expect, int want_rc,
                         uint16_t want_status, bool want_mismatch,
                         size_t want_used)
{
	size_t n = strlen(s);
	size_t el = expect ? strlen(expect) : 0;
	bool ok = true;
	for (size_t cut = 0; cut <= n + 1; cut++) {
		struct load_resp r;
		load_resp_init(&r, expect, el);
		size_t used = 0, u = 0;
		int rc;
		if (cut <= n) {
			rc = feed_all(&r, s, cut, &u);
			used = u;
			if (rc == LOAD_RESP_MORE) {
				if (u != cut)
					ok = false;
				rc = feed_all(&r, s + cut, n - cut, &u);
				used += u;
			}
		} else {
			rc = LOAD_RESP_MORE;
			for (size_t i = 0; i < n && rc == LOAD_RESP_MORE; i++) {
				rc = feed_all(&r, s + i, 1, &u);
				used += u;
			}
		}
		if (rc != want_rc)
			ok = false;
		if (rc == LOAD_RESP_DONE &&
		    (r.status != want_status || r.body_mismatch != want_mismatch ||
		     used != want_used))
			ok = false;
		if (!ok) {
			fprintf(stderr, "split at %zu of \"%.40s...\": rc %d "
			        "status %u mismatch %d used %zu (%s)\n", cut, s,
			        rc, r.status, r.body_mismatch, used,
			        r.err ? r.err : "");
			break;
		}
	}
	check_total++;
	if (!ok)
		check_failures++;
}

static void test_response(void)
{
	const char *created = "HTTP/1.1 201 Created\r\n"
	                      "Content-Type: application/json\r\n"
	                      "Location: /bench/abc\r\n"
	                      "Content-Length: 5\r\n"
	                      "\r\n"
	                      "\"abc\"";
	check_splits(created, "\"abc\"", LOAD_RESP_DONE, 201, false,
	             strlen(created));
	check_splits(created, "\"abd\"", LOAD_RESP_DONE, 201, true,
	             strlen(created));
	check_splits(created, "\"abcd\"", LOAD_RESP_DONE, 201, true,
	             strlen(created));
	check_splits(created, NULL, LOAD_RESP_DONE, 201, false,
	             strlen(created));

	const char *busy = "HTTP/1.1 503 Service Unavailable\r\n"
	                   "content-type: application/json\r\n"
	                   "content-length: 38\r\n"
	                   "connection: close\r\n"
	                   "\r\n"
	                   "{\"error\": \"storage is back-pressured\"}";
	/* Only a 201's body is compared with the id. */
	check_splits(busy, "\"x\"", LOAD_RESP_DONE, 503, false, strlen(busy));
	struct load_resp r;
	size_t used;
	load_resp_init(&r, NULL, 0);
	CHECK(feed_all(&r, busy, strlen(busy), &used) == LOAD_RESP_DONE);
	CHECK(r.close);
	CHECK_EQ_U64(r.status, 503);

	const char *empty = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	check_splits(empty, NULL, LOAD_RESP_DONE, 200, false, strlen(empty));
	load_resp_init(&r, NULL, 0);
	CHECK(feed_all(&r, empty, strlen(empty), &used) == LOAD_RESP_DONE);
	CHECK(!r.close);
	/* A 201 with an empty body is not the id. */
	const char *c0 = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	check_splits(c0, "\"abc\"", LOAD_RESP_DONE, 201, true, strlen(c0));

	/* Two responses in one buffer (pipelined): the first is taken, the
	 * second left; feeding the rest to a fresh parser finishes it. */
	char two[256];
	snprintf(two, sizeof two, "%s%s", empty, created);
	load_resp_init(&r, NULL, 0);
	CHECK(feed_all(&r, two, strlen(two), &used) == LOAD_RESP_DONE);
	CHECK_EQ_U64(used, strlen(empty));
	load_resp_init(&r, "\"abc\"", 5);
	CHECK(feed_all(&r, two + used, strlen(two) - used, &used) ==
	      LOAD_RESP_DONE);
	CHECK(!r.body_mismatch);
	CHECK_EQ_U64(r.status, 201);

	/* An interim 100 Continue, then the answer. */
	const char *cont = "HTTP/1.1 100 Continue\r\n\r\n"
	                   "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\n\"abc\"";
	check_splits(cont, "\"abc\"", LOAD_RESP_DONE, 201, false, strlen(cont));
	/* No Content-Length needed where there is no body; bare LF lines. */
	check_splits("HTTP/1.1 204 No Content\r\n\r\n", NULL, LOAD_RESP_DONE,
	             204, false, 27);
	check_splits("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", NULL,
	             LOAD_RESP_DONE, 200, false, 37);
	/* HTTP/1.0 closes unless it says keep-alive. */
	load_resp_init(&r, NULL, 0);
	const char *h10 = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	CHECK(feed_all(&r, h10, strlen(h10), &used) == LOAD_RESP_DONE);
	CHECK(r.close);
	load_resp_init(&r, NULL, 0);
	const char *h10k = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	                   "Content-Length: 0\r\n\r\n";
	CHECK(feed_all(&r, h10k, strlen(h10k), &used) == LOAD_RESP_DONE);
	CHECK(!r.close);
	/* A long reason phrase and a long uninteresting header are fine. */
	char longh[1200];
	snprintf(longh, sizeof longh,
	         "HTTP/1.1 200 %0300d\r\nX-Long: %0600d\r\nContent-Length: 1\r\n\r\n!",
	         0, 0);
	check_splits(longh, NULL, LOAD_RESP_DONE, 200, false, strlen(longh));

	/* Malformed heads: refused, at every split. */
	static const char *bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"garbage\r\n\r\n",
		"HTTP/1.1 200 OK\rX\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n Folded: x\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",            /* no Content-Length */
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_splits(bad[i], NULL, LOAD_RESP_ERROR, 0, false, 0);
	load_resp_init(&r, NULL, 0);
	CHECK(feed_all(&r, bad[0], strlen(bad[0]), &used) == LOAD_RESP_ERROR);
	CHECK(r.err != NULL && strstr(r.err, "status line") != NULL);
	/* A head beyond the limit. */
	static char huge[LOAD_RESP_HEAD_MAX + 200];
	size_t hn = (size_t)snprintf(huge, sizeof huge, "HTTP/1.1 200 OK\r\n");
	while (hn + 12 < sizeof huge - 40)
		hn += (size_t)snprintf(huge + hn, sizeof huge - hn, "X-Pad: 12\r\n");
	snprintf(huge + hn, sizeof huge - hn, "Content-Length: 0\r\n\r\n");
	load_resp_init(&r, NULL, 0);
	CHECK(feed_all(&r, huge, strlen(huge), &used) == LOAD_RESP_ERROR);
	/* The parser stays in error. */
	CHECK(feed_all(&r, empty, strlen(empty), &used) == LOAD_RESP_ERROR);
	CHECK_EQ_U64(used, 0);
}

/* --- the client over the TCP harness --------------------------------------- */

enum srv_mode { SRV_OK, SRV_WRONG_ID, SRV_503, SRV_GARBAGE };

/* A scripted HTTP server on node A: answers each complete request (head +
 * Content-Length body) at once, no pipelining expected. */
struct msrv {
	enum srv_mode mode;
	unsigned close_every; /* Connection: close on every k-th answer */
	unsigned requests;
	unsigned bad_requests;
	unsigned accepted;
	uint8_t buf[8192];
};

static void *srv_accept(void *arg, struct tcp_conn *c)
{
	struct msrv *s = arg;
	(void)c;
	s->accepted++;
	return s;
}

static void srv_readable(void *arg, struct tcp_conn *c)
{
	struct msrv *s = arg;
	for (;;) {
		size_t av = tcp_recv_avail(c);
		if (av == 0)
			return;
		const uint8_t *p1, *p2;
		size_t l1, l2;
		tcp_recv_peek(c, &p1, &l1, &p2, &l2);
		size_t n = l1 + l2 > sizeof s->buf ? sizeof s->buf : l1 + l2;
		memcpy(s->buf, p1, l1 < n ? l1 : n);
		if (n > l1)
			memcpy(s->buf + l1, p2, n - l1);
		const char *b = (const char *)s->buf;
		const char *end = memmem(b, n, "\r\n\r\n", 4);
		if (end == NULL)
			return;
		size_t head = (size_t)(end - b) + 4;
		const char *cl = memmem(b, head, "Content-Length: ", 16);
		size_t blen = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
		if (n < head + blen)
			return;
		s->requests++;
		const char *id = b + head + 7; /* {"id":" */
		const char *q = blen ? memchr(id, '"', blen) : NULL;
		size_t idl = q ? (size_t)(q - id) : 0;
		if (blen != 0 && (blen != LOAD_BODY_LEN || idl == 0))
			s->bad_requests++;
		bool close = s->close_every && s->requests % s->close_every == 0;
		char out[512];
		int k;
		switch (s->mode) {
		case SRV_503:
			k = snprintf(out, sizeof out,
			             "HTTP/1.1 503 Service Unavailable\r\n"
			             "Content-Length: 2\r\n%s\r\n{}",
			             close ? "Connection: close\r\n" : "");
			break;
		case SRV_GARBAGE:
			k = snprintf(out, sizeof out, "HTTP/9 what\r\n\r\n");
			break;
		default:
			k = snprintf(out, sizeof out,
			             "HTTP/1.1 201 Created\r\nLocation: /t/%.*s\r\n"
			             "Content-Length: %zu\r\n%s\r\n\"%.*s%s\"",
			             (int)idl, id, idl + 2 + (s->mode == SRV_WRONG_ID),
			             close ? "Connection: close\r\n" : "", (int)idl,
			             id, s->mode == SRV_WRONG_ID ? "x" : "");
			break;
		}
		tcp_recv_consume(c, head + blen);
		tcp_send(c, out, (size_t)k);
		if (close)
			tcp_close(c);
	}
}

static void srv_peer_closed(void *arg, struct tcp_conn *c)
{
	(void)arg;
	tcp_close(c);
}

static void srv_nop(void *arg, struct tcp_conn *c) { (void)arg; (void)c; }
static void srv_closed(void *arg, struct tcp_conn *c, enum tcp_close_reason r)
{
	(void)arg;
	(void)c;
	(void)r;
}

static const struct tcp_callbacks srv_cb = {
	.on_accept = srv_accept,
	.on_connected = srv_nop,
	.on_readable = srv_readable,
	.on_writable = srv_nop,
	.on_peer_closed = srv_peer_closed,
	.on_closed = srv_closed,
};

struct acks {
	unsigned n;
	char (*ids)[LOAD_ID_MAX + 1];
	unsigned cap;
};

static void on_ack(void *user, const char *id, size_t len)
{
	struct acks *a = user;
	if (a->n < a->cap) {
		memcpy(a->ids[a->n], id, len);
		a->ids[a->n][len] = '\0';
	}
	a->n++;
}

static void *c_zalloc(void *user, size_t size)
{
	(void)user;
	return calloc(1, size);
}

static void c_free(void *user, void *p)
{
	(void)user;
	free(p);
}

struct run_result {
	struct load_counters k;
	uint64_t hist_count;
	unsigned acked, distinct, srv_requests, srv_bad, accepted;
	uint32_t live;
};

/* A client of `conns` connections on node B against the scripted server
 * on node A until the quota is reached (or `ms` of simulated time). */
static void run_client(enum srv_mode mode, unsigned close_every,
                       uint32_t conns, uint64_t quota, double rate,
                       enum load_keys keys, uint64_t ms,
                       struct run_result *out)
{
	struct tcp_config tc;
	th_default_cfg(&tc);
	tc.max_conns = 256;
	struct th_node *a = th_node_new_cfg(1, &tc);
	struct th_node *b = th_node_new_cfg(2, &tc);
	static struct msrv srv;
	memset(&srv, 0, sizeof srv);
	srv.mode = mode;
	srv.close_every = close_every;
	CHECK_EQ_U64(tcp_listen(a->tcp, 9926, &srv_cb, &srv), 0);

	static struct load_target tg;
	tg.ip_be = TH_US;
	tg.port = 9926;
	CHECK_EQ_U64(load_req_tmpl_init(&tg.tmpl, true, "/t", "10.0.0.1:9926",
	                                NULL), 0);
	struct acks acks = {0, calloc(quota + 16, sizeof *acks.ids),
	                    (unsigned)quota + 16};
	const struct load_client_config cc = {
		.targets = &tg,
		.n_targets = 1,
		.conns = conns,
		.keys = keys,
		.prefix = "t",
		.lane = 3,
		.seed = 99,
		.quota = quota,
		.rate = rate,
		.expect_status = 201,
		.check_body = true,
		.reconnect_ms = 10,
		.on_ack = on_ack,
		.user = &acks,
	};
	const struct tcp_alloc al = {c_zalloc, c_free, NULL};
	struct load_client *cl = load_client_create(&cc, b->tcp, &b->net, &al);
	CHECK(cl != NULL);
	if (cl == NULL)
		return;
	uint32_t seed = 5;
	load_client_start(cl);
	tcp_flush(b->tcp);
	/* 100 us steps of simulated time. */
	for (uint64_t step = 0; step < ms * 10; step++) {
		for (int i = 0; i < 4; i++) {
			load_client_poll(cl);
			tcp_flush(b->tcp);
			if (th_pump(a, b, 0, &seed) == 0)
				break;
		}
		if (load_client_stopping(cl) && load_client_live(cl) == 0)
			break;
		a->net.now_us += 100;
		b->net.now_us += 100;
		tcp_timer(a->tcp);
		tcp_timer(b->tcp);
		tcp_flush(a->tcp);
		tcp_flush(b->tcp);
	}
	if (!load_client_stopping(cl))
		load_client_stop(cl);
	for (int i = 0; i < 200; i++) {
		load_client_poll(cl);
		tcp_flush(b->tcp);
		th_pump(a, b, 0, &seed);
		a->net.now_us += 1000;
		b->net.now_us += 1000;
		tcp_timer(a->tcp);
		tcp_timer(b->tcp);
	}
	out->k = *load_client_counters(cl);
	out->hist_count = load_client_hist(cl)->count;
	out->live = load_client_live(cl);
	out->acked = acks.n;
	unsigned n = acks.n < acks.cap ? acks.n : acks.cap;
	qsort(acks.ids, n, sizeof acks.ids[0], cmp_id);
	out->distinct = n ? 1 : 0;
	for (unsigned i = 1; i < n; i++)
		out->distinct += strcmp(acks.ids[i - 1], acks.ids[i]) != 0;
	out->srv_requests = srv.requests;
	out->srv_bad = srv.bad_requests;
	out->accepted = srv.accepted;
	load_client_abort(cl);
	load_client_destroy(cl);
	free(acks.ids);
	th_drain(a);
	th_drain(b);
	CHECK_EQ_U64(th_node_free(a), 0);
	CHECK_EQ_U64(th_node_free(b), 0);
}

static void test_client(void)
{
	struct run_result r;

	/* Closed loop, 8 connections, 1000 answers: all 201 with the id. */
	run_client(SRV_OK, 0, 8, 1000, 0, LOAD_KEYS_UUID, 5000, &r);
	CHECK_EQ_U64(r.k.answered, 1000);
	CHECK_EQ_U64(r.k.ok, 1000);
	CHECK_EQ_U64(r.k.sent, 1000);
	CHECK_EQ_U64(r.k.status[2], 1000);
	CHECK_EQ_U64(r.acked, 1000);
	CHECK_EQ_U64(r.distinct, 1000);
	CHECK_EQ_U64(r.hist_count, 1000);
	CHECK_EQ_U64(r.srv_requests, 1000);
	CHECK_EQ_U64(r.srv_bad, 0);
	CHECK_EQ_U64(r.k.established, 8);
	CHECK_EQ_U64(r.k.lost + r.k.parse_errors + r.k.bad_status, 0);
	CHECK_EQ_U64(r.live, 0);

	/* The server closes every 7th connection after its answer: the
	 * client reopens and still gets exactly its quota, nothing lost. */
	run_client(SRV_OK, 7, 4, 500, 0, LOAD_KEYS_SEQ, 5000, &r);
	CHECK_EQ_U64(r.k.answered, 500);
	CHECK_EQ_U64(r.k.ok, 500);
	CHECK_EQ_U64(r.distinct, 500);
	CHECK(r.k.established > 4);
	CHECK(r.accepted > 4);
	CHECK_EQ_U64(r.k.lost, 0);
	CHECK_EQ_U64(r.live, 0);

	/* 503s and wrong ids are counted, never acknowledged. */
	run_client(SRV_503, 0, 4, 100, 0, LOAD_KEYS_UUID, 2000, &r);
	CHECK_EQ_U64(r.k.answered, 100);
	CHECK_EQ_U64(r.k.ok, 0);
	CHECK_EQ_U64(r.k.bad_status, 100);
	CHECK_EQ_U64(r.k.status[5], 100);
	CHECK_EQ_U64(r.acked, 0);
	run_client(SRV_WRONG_ID, 0, 4, 100, 0, LOAD_KEYS_UUID, 2000, &r);
	CHECK_EQ_U64(r.k.answered, 100);
	CHECK_EQ_U64(r.k.body_mismatch, 100);
	CHECK_EQ_U64(r.acked, 0);

	/* A server that answers garbage: each answer is a parse error and
	 * the connection is dropped; the client keeps reconnecting and
	 * nothing counts as answered. */
	run_client(SRV_GARBAGE, 0, 2, 10, 0, LOAD_KEYS_UUID, 200, &r);
	CHECK_EQ_U64(r.k.answered, 0);
	CHECK(r.k.parse_errors > 2);
	CHECK(r.k.established > 2);

	/* Open loop at 10,000/s for 100 ms of simulated time: about 1000
	 * requests, with 16 connections never short. */
	run_client(SRV_OK, 0, 16, 0, 10000, LOAD_KEYS_UUID, 100, &r);
	CHECK(r.k.answered >= 950 && r.k.answered <= 1010);
	CHECK_EQ_U64(r.k.ok, r.k.answered);
	/* At most the one that fell due in the last step before the stop. */
	CHECK(r.k.unsent <= 1);
}

int main(void)
{
	test_hist_buckets();
	test_hist_percentiles();
	test_ids();
	test_body();
	test_request();
	test_response();
	test_client();
	CHECK_DONE();
}

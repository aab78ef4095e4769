/* The REST server (dataplane/http/rest_server.h) end to end without DPDK.
 *
 * Node A (10.0.0.1) runs a rest_server on its TCP stack, with a real LMDB
 * store in a mkdtemp directory and an injected clock. Its rest_ops take
 * buffers from a small fixed pool of calloc'd write_reqs (counted, so
 * exhaustion and leaks show) and submit them onto a test queue; the test's
 * "storage step" applies the queue with storage_apply_batch() and hands
 * every request back through rest_complete(), as the storage lcore and the
 * io lcore's completion ring would. Node B (10.0.0.2) plays the clients:
 * tcp_connect() to A's port, bytes collected by the harness's th_app with
 * auto_consume, responses parsed from those bytes. Frames move with
 * th_pump(); rest_poll() runs after every pump, time moves with
 * th_advance() on both nodes.
 *
 * Every case builds a fresh fixture and tears it down checking that every
 * pool buffer came back, no buffer was freed twice, the store closes and
 * neither node leaked a frame. */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "check.h"
#include "tcp_harness.h"
#include "dataplane/http/auth.h"
#include "common/base64.h"
#include "dataplane/http/json_validate.h"
#include "dataplane/http/rest_route.h"
#include "dataplane/http/rest_server.h"
#include "storage/batch.h"

#define TMP_PREFIX "/tmp/loom-rest-"
#define PORT 9926
#define POOL_N 16
#define LARGE_DATA 8192
#define MAX_BODY 4096
#define HDR_MAX 2048
#define HDR_TIMEOUT_MS 1000
#define IDLE_TIMEOUT_MS 3000
#define BP_MS 500
#define MAX_INFLIGHT 4
#define NODE_ID 7
#define IO_INDEX 3
#define STEP_MS 10

/* --- the fixture ---------------------------------------------------------- */

struct pool {
	struct write_req *buf[POOL_N];
	bool used[POOL_N];
	unsigned in_use, limit, allocs, frees, bad_frees, peak;
};

struct fx {
	struct th_node *a, *b;
	struct rest_server *srv;
	struct store *st;
	char dir[64];
	uint64_t clock_ms;
	struct pool pool;
	struct write_req *q[256];
	unsigned qn;
	bool submit_fail;
	unsigned submits, bad_submits;
	struct storage_counters sc;
	uint32_t seed;
	unsigned metrics_calls;
	bool metrics_reader;
	struct auth_job *aq[AUTH_OUTSTANDING_MAX]; /* deferred verifications */
	unsigned aqn, auth_submits;
};

static struct fx F;

static uint64_t fake_now(void *ctx)
{
	return *(uint64_t *)ctx;
}

static struct write_req *p_alloc(void *user, size_t bytes)
{
	struct pool *p = &((struct fx *)user)->pool;
	if (bytes > LARGE_DATA || p->in_use >= p->limit)
		return NULL;
	for (unsigned i = 0; i < POOL_N; i++) {
		if (p->used[i])
			continue;
		p->used[i] = true;
		p->in_use++;
		p->allocs++;
		if (p->in_use > p->peak)
			p->peak = p->in_use;
		struct write_req *r = p->buf[i];
		/* garbage the server must overwrite */
		memset(r, 0xa5, sizeof *r + LARGE_DATA);
		r->cap = LARGE_DATA;
		r->pool = p;
		return r;
	}
	return NULL;
}

static void p_free(void *user, struct write_req *r)
{
	struct pool *p = &((struct fx *)user)->pool;
	for (unsigned i = 0; i < POOL_N; i++) {
		if (p->buf[i] != r)
			continue;
		if (!p->used[i] || r->pool != p) {
			p->bad_frees++;
			return;
		}
		p->used[i] = false;
		p->in_use--;
		p->frees++;
		return;
	}
	p->bad_frees++;
}

/* What the storage lcore may rely on (write_req.h), checked per submit. */
static bool req_ok(const struct write_req *r)
{
	if (r->pool != &F.pool || r->io_index != IO_INDEX || r->cap !=
	    LARGE_DATA)
		return false;
	if (r->op != WRITE_POST && r->op != WRITE_PUT && r->op != WRITE_DELETE)
		return false;
	if (r->table_len == 0 || r->table_len > 63 || r->key_len == 0 ||
	    r->key_len > 255 || r->data[r->table_len] != '\0')
		return false;
	if ((uint64_t)r->body_off < (uint64_t)r->table_len + 1 + r->key_len ||
	    (uint64_t)r->body_off + r->body_len > r->cap)
		return false;
	if (r->op == WRITE_DELETE)
		return r->body_len == 0;
	struct json_result jr;
	if (json_validate_object(write_req_body(r), r->body_len, 0, &jr) !=
	    JSON_OK || !jr.id_present || jr.id_len != r->key_len ||
	    memcmp(jr.id, write_req_key(r), r->key_len) != 0)
		return false;
	return true;
}

static int p_submit(void *user, struct write_req *r)
{
	struct fx *f = user;
	if (f->submit_fail || f->qn == sizeof f->q / sizeof f->q[0])
		return -1;
	if (!req_ok(r))
		f->bad_submits++;
	f->submits++;
	f->q[f->qn++] = r;
	return 0;
}

static size_t p_metrics(void *user, struct store_reader *rd, char *buf,
                        size_t cap)
{
	struct fx *f = user;
	uint64_t n = 0;
	f->metrics_calls++;
	f->metrics_reader = rd != NULL;
	if (rd != NULL && store_record_count(rd, &n) != 0)
		n = 999999;
	int k = snprintf(buf, cap, "# TYPE loom_test_records gauge\n"
	                 "loom_test_records %llu\n", (unsigned long long)n);
	if (k < 0)
		return 0;
	return (size_t)k < cap ? (size_t)k : cap;
}

static void *t_zalloc(void *user, size_t size)
{
	(void)user;
	return calloc(1, size);
}

static void t_free(void *user, void *p)
{
	(void)user;
	free(p);
}

static void remove_dir(const char *dir)
{
	char p[256];

	/* only ever remove what we created */
	if (dir == NULL || strncmp(dir, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
	    strstr(dir, "..") != NULL)
		return;
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

/* Per-case overrides of the fixture, reset by every setup. */
static uint32_t opt_max_conns; /* 0: the TCP's */
static bool opt_no_store;      /* the server gets no store */
static bool opt_defer_auth;    /* slow hashes go to F.aq (a verifier) */
static uint16_t opt_n_peers;   /* X-Replicate-To: peers the node has */
static unsigned fake_confirmed; /* what ops->confirmations answers */
static uint64_t fake_confirm_seq; /* the seq it was last asked about */

static unsigned p_confirmations(void *user, uint64_t seq)
{
	(void)user;
	fake_confirm_seq = seq;
	return fake_confirmed;
}

static int p_auth_submit(void *user, struct auth_job *j)
{
	struct fx *f = user;
	if (f->aqn == AUTH_OUTSTANDING_MAX)
		return -1;
	f->aq[f->aqn++] = j;
	f->auth_submits++;
	return 0;
}

static bool setup(enum loom_auth_mode mode, const struct loom_user *users,
                  uint16_t n_users)
{
	uint32_t max_conns = opt_max_conns;
	bool no_store = opt_no_store;
	bool defer_auth = opt_defer_auth;
	uint16_t n_peers = opt_n_peers;
	opt_n_peers = 0;
	opt_max_conns = 0;
	opt_no_store = false;
	opt_defer_auth = false;
	memset(&F, 0, sizeof F);
	F.seed = 12345;
	struct tcp_config tc;
	th_default_cfg(&tc);
	/* small buffers: heads wrap the receive ring, answers queue */
	tc.rcvbuf = 4096;
	tc.sndbuf = 4096;
	F.a = th_node_new_cfg(1, &tc);
	F.b = th_node_new_cfg(2, &tc);

	snprintf(F.dir, sizeof F.dir, "%sXXXXXX", TMP_PREFIX);
	if (mkdtemp(F.dir) == NULL) {
		CHECK(!"mkdtemp");
		return false;
	}
	F.clock_ms = 1700000000000ull;
	struct store_config scfg = {
		.path = F.dir,
		.map_size = 16u << 20,
		.node_id = NODE_ID,
		.sync = STORE_SYNC_COMMIT,
		.clock_ms = fake_now,
		.clock_ctx = &F.clock_ms,
	};
	int rc = store_open(&scfg, &F.st);
	CHECK_EQ_U64(rc, 0);
	if (rc != 0)
		return false;

	for (unsigned i = 0; i < POOL_N; i++) {
		F.pool.buf[i] = calloc(1, sizeof(struct write_req) + LARGE_DATA);
		if (F.pool.buf[i] == NULL)
			abort();
	}
	F.pool.limit = POOL_N;

	struct rest_config rc_cfg = {
		.limits = {.max_header_bytes = HDR_MAX, .max_headers = 32,
		           .max_body = MAX_BODY, .max_uri = 0},
		.header_timeout_ms = HDR_TIMEOUT_MS,
		.idle_timeout_ms = IDLE_TIMEOUT_MS,
		.backpressure_ms = BP_MS,
		.max_inflight = MAX_INFLIGHT,
		.io_index = IO_INDEX,
		.node_id = NODE_ID,
		.max_conns = max_conns != 0 ? max_conns : tc.max_conns,
		.large_data = LARGE_DATA,
		.n_peers = n_peers,
		.confirm_timeout_ms = 400,
		.auth_mode = mode,
		.users = users,
		.n_users = n_users,
	};
	struct rest_ops ops = {.req_alloc = p_alloc, .req_free = p_free,
	                       .submit = p_submit, .metrics = p_metrics,
	                       .auth_submit = defer_auth ? p_auth_submit : NULL,
	                       .confirmations = p_confirmations,
	                       .user = &F};
	struct tcp_alloc al = {t_zalloc, t_free, NULL};
	F.srv = rest_create(&rc_cfg, F.a->tcp, &F.a->net,
	                    no_store ? NULL : F.st, &ops, &al);
	CHECK(F.srv != NULL);
	if (F.srv == NULL)
		return false;
	CHECK_EQ_U64(rest_listen(F.srv, PORT), 0);
	return true;
}

/* Pump frames both ways until the link is quiet; rest_poll after every
 * round (as the io lcore does once per loop). */
static void settle_opt(bool poll)
{
	for (int i = 0; i < 10000; i++) {
		unsigned m = th_pump(F.a, F.b, 0, &F.seed);
		if (poll) {
			rest_poll(F.srv);
			tcp_flush(F.a->tcp);
		}
		if (m == 0 && th_pending(F.a) == 0 && th_pending(F.b) == 0)
			return;
	}
	CHECK(!"the link never went quiet");
}

static void settle(void)
{
	settle_opt(true);
}

/* The storage lcore: apply what was submitted in one batch, complete
 * every request in order. Returns how many. */
static unsigned storage_step(void)
{
	struct write_req *batch[256];
	unsigned n = F.qn;
	if (n == 0)
		return 0;
	memcpy(batch, F.q, n * sizeof batch[0]);
	F.qn = 0; /* completions may submit pipelined writes */
	int rc = storage_apply_batch(F.st, (struct write_req *const *)batch,
	                             n, &F.sc, NULL);
	CHECK_EQ_U64(rc, 0);
	for (unsigned i = 0; i < n; i++)
		rest_complete(F.srv, batch[i]);
	tcp_flush(F.a->tcp);
	return n;
}

/* A storage lcore that fails: request i gets results[i] (no commit). */
static unsigned storage_step_results(const int *results, unsigned nres)
{
	struct write_req *batch[256];
	unsigned n = F.qn;
	memcpy(batch, F.q, n * sizeof batch[0]);
	F.qn = 0;
	for (unsigned i = 0; i < n; i++) {
		batch[i]->result = i < nres ? results[i] : WRITE_FAILED;
		batch[i]->store_err = batch[i]->result == WRITE_OK ? 0 : -30792;
		batch[i]->version = (struct loom_version){0, 0};
		batch[i]->seq = 0;
	}
	for (unsigned i = 0; i < n; i++)
		rest_complete(F.srv, batch[i]);
	tcp_flush(F.a->tcp);
	return n;
}

/* Settle and apply writes until nothing moves. */
static void serve(void)
{
	for (int i = 0; i < 1000; i++) {
		settle();
		if (storage_step() == 0)
			return;
	}
	CHECK(!"serve: writes never stopped");
}

/* Move both clocks by ms in STEP_MS steps, serving (or not) each step. */
static void advance_opt(uint64_t ms, bool with_storage)
{
	for (uint64_t t = 0; t < ms; t += STEP_MS) {
		th_advance(F.a, STEP_MS);
		th_advance(F.b, STEP_MS);
		rest_poll(F.srv);
		tcp_flush(F.a->tcp);
		if (with_storage)
			serve();
		else
			settle();
	}
}

static void advance(uint64_t ms)
{
	advance_opt(ms, true);
}

static void teardown(void)
{
	serve();
	CHECK_EQ_U64(F.qn, 0);
	CHECK_EQ_U64(F.bad_submits, 0);
	const struct rest_stats *st = rest_stats(F.srv);
	CHECK_EQ_U64(st->writes_submitted, F.submits);
	CHECK_EQ_U64(st->writes_completed, F.submits);
	/* the stack goes first, then the server (rest_server.h) */
	CHECK_EQ_U64(th_node_free(F.b), 0);
	CHECK_EQ_U64(th_node_free(F.a), 0);
	rest_destroy(F.srv);
	CHECK_EQ_U64(F.pool.in_use, 0);
	CHECK_EQ_U64(F.pool.bad_frees, 0);
	CHECK_EQ_U64(F.pool.allocs, F.pool.frees);
	for (unsigned i = 0; i < POOL_N; i++)
		free(F.pool.buf[i]);
	store_close(F.st);
	remove_dir(F.dir);
}

/* --- clients -------------------------------------------------------------- */

struct client {
	struct th_app app;
	size_t off; /* response bytes already taken */
};

static void cconnect(struct client *c)
{
	memset(c, 0, sizeof *c);
	c->app.auto_consume = true;
	struct tcp_conn *tc = tcp_connect(F.b->tcp, th_ip(10, 0, 0, 1), PORT,
	                                  &th_callbacks, &c->app);
	CHECK(tc != NULL);
	tcp_flush(F.b->tcp);
	settle();
	CHECK_EQ_U64(c->app.connected, 1);
}

/* Done with a client: reset its connection if it still has one (so no
 * callback can reach this th_app once the struct is reused), free rx. */
static void cfree(struct client *c)
{
	if (c->app.conn != NULL) {
		tcp_abort(c->app.conn);
		tcp_flush(F.b->tcp);
		settle();
	}
	CHECK(c->app.conn == NULL);
	free(c->app.rx);
	c->app.rx = NULL;
}

/* Read what a client with auto_consume off left in its receive buffer
 * and turn auto_consume back on. */
static void cdrain(struct client *c)
{
	struct th_app *a = &c->app;
	a->auto_consume = true;
	while (a->conn != NULL) {
		size_t av = tcp_recv_avail(a->conn);
		if (av == 0)
			break;
		if (a->rx_len + av > a->rx_cap) {
			size_t cap = a->rx_cap ? a->rx_cap * 2 : 65536;
			while (cap < a->rx_len + av)
				cap *= 2;
			a->rx = realloc(a->rx, cap);
			if (a->rx == NULL)
				abort();
			a->rx_cap = cap;
		}
		a->rx_len += tcp_recv(a->conn, a->rx + a->rx_len, av);
	}
}

/* Send all of p (in as many rounds as the windows need), settling. */
static void csend(struct client *c, const void *p, size_t n)
{
	const char *s = p;
	int stuck = 0;
	while (n > 0 && c->app.conn != NULL) {
		size_t k = tcp_send(c->app.conn, s, n);
		tcp_flush(F.b->tcp);
		settle();
		s += k;
		n -= k;
		if (k == 0 && ++stuck > 100) {
			CHECK(!"csend: the server never took the bytes");
			return;
		}
	}
}

static void cstr(struct client *c, const char *s)
{
	csend(c, s, strlen(s));
}

/* A request with the usual head; body NULL: none (no Content-Type). */
static size_t fmt_req(char *buf, size_t cap, const char *method,
                      const char *path, const char *extra, const char *body)
{
	int n;
	if (body != NULL)
		n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: loom\r\n"
		             "Content-Type: application/json\r\n"
		             "Content-Length: %zu\r\n%s\r\n%s", method, path,
		             strlen(body), extra != NULL ? extra : "", body);
	else
		n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: loom\r\n%s\r\n",
		             method, path, extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= cap)
		abort();
	return (size_t)n;
}

static void creq(struct client *c, const char *method, const char *path,
                 const char *extra, const char *body)
{
	char buf[8192];
	csend(c, buf, fmt_req(buf, sizeof buf, method, path, extra, body));
}

/* --- responses ------------------------------------------------------------ */

struct resp {
	int status;
	char line[160];
	char head[4096]; /* header lines, each with its CRLF */
	char body[16384];
	size_t body_len;
	bool has_cl;
};

/* The value of header `name` (first one), or NULL; valid until the next
 * call. */
static const char *hval(const struct resp *r, const char *name)
{
	static char v[1024];
	size_t nl = strlen(name);
	const char *p = r->head;
	while (*p != '\0') {
		const char *e = strstr(p, "\r\n");
		if (e == NULL)
			break;
		if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			const char *s = p + nl + 1;
			while (*s == ' ')
				s++;
			size_t l = (size_t)(e - s);
			if (l >= sizeof v)
				l = sizeof v - 1;
			memcpy(v, s, l);
			v[l] = '\0';
			return v;
		}
		p = e + 2;
	}
	return NULL;
}

static bool has_hdr(const struct resp *r, const char *name, const char *val)
{
	const char *v = hval(r, name);
	return v != NULL && (val == NULL || strcmp(v, val) == 0);
}

/* Take the next complete response the client holds; head_req: the answer
 * to a HEAD (no body whatever Content-Length says). */
static bool take_resp(struct client *c, struct resp *r, bool head_req)
{
	const char *p = (const char *)c->app.rx + c->off;
	size_t n = c->app.rx_len - c->off;
	memset(r, 0, offsetof(struct resp, body));
	r->body[0] = '\0';
	r->body_len = 0;
	r->has_cl = false;
	r->status = -1;
	const char *end = memmem(p, n, "\r\n\r\n", 4);
	if (end == NULL)
		return false;
	size_t hl = (size_t)(end - p) + 4;
	const char *eol = memmem(p, hl, "\r\n", 2);
	size_t ll = (size_t)(eol - p);
	if (ll >= sizeof r->line || hl - ll - 2 >= sizeof r->head)
		return false;
	memcpy(r->line, p, ll);
	if (sscanf(r->line, "HTTP/1.1 %d", &r->status) != 1)
		r->status = -1;
	memcpy(r->head, eol + 2, hl - ll - 4);
	const char *cl = hval(r, "Content-Length");
	size_t bl = 0;
	if (cl != NULL) {
		r->has_cl = true;
		bl = (size_t)strtoull(cl, NULL, 10);
	}
	if (head_req || r->status / 100 == 1 || r->status == 204 ||
	    r->status == 304)
		bl = 0;
	if (n < hl + bl || bl >= sizeof r->body)
		return false;
	memcpy(r->body, p + hl, bl);
	r->body[bl] = '\0';
	r->body_len = bl;
	c->off += hl + bl;
	return true;
}

static struct resp *expect_resp(struct client *c, const char *line,
                                bool head_req, int at)
{
	static struct resp rs[4];
	static unsigned k;
	struct resp *r = &rs[k++ % 4];
	check_total++;
	if (!take_resp(c, r, head_req)) {
		check_failures++;
		fprintf(stderr, "%s:%d: no complete response (want \"%s\"); "
		        "client holds %zu unread bytes: %.*s\n", __FILE__, at,
		        line, c->app.rx_len - c->off,
		        (int)(c->app.rx_len - c->off),
		        (const char *)c->app.rx + c->off);
		return r;
	}
	if (strcmp(r->line, line) != 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: got \"%s\" want \"%s\" (body %s)\n",
		        __FILE__, at, r->line, line, r->body);
	}
	return r;
}

#define EXPECT(c, line) expect_resp((c), (line), false, __LINE__)
#define EXPECT_HEAD(c, line) expect_resp((c), (line), true, __LINE__)

/* Nothing more received than what was taken. */
static void no_more_at(struct client *c, int at)
{
	check_total++;
	if (c->off != c->app.rx_len) {
		check_failures++;
		fprintf(stderr, "%s:%d: %zu unexpected bytes: %.*s\n", __FILE__,
		        at, c->app.rx_len - c->off,
		        (int)(c->app.rx_len - c->off),
		        (const char *)c->app.rx + c->off);
	}
}

#define NO_MORE(c) no_more_at((c), __LINE__)

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36 || s[14] != '4')
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char ch = s[i];
		if (dash ? ch != '-'
		         : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

/* An error answer: JSON {"error": "..."} with its Content-Type. */
static void check_error_body(const struct resp *r, int at)
{
	struct json_result jr;
	check_total++;
	if (!has_hdr(r, "Content-Type", "application/json") ||
	    json_validate_object(r->body, r->body_len, 0, &jr) != JSON_OK ||
	    strncmp(r->body, "{\"error\":\"", 10) != 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: not a JSON error: %s\n", __FILE__, at,
		        r->body);
	}
}

#define CHECK_ERROR_BODY(r) check_error_body((r), __LINE__)

/* --- cases ---------------------------------------------------------------- */

static void test_crud(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	CHECK_EQ_U64(rest_conn_count(F.srv), 1);

	/* POST without an id: 201, generated UUIDv4, Location, id body */
	creq(&c, "POST", "/t/", NULL, "{\"a\":1}");
	CHECK_EQ_U64(F.qn, 1);
	NO_MORE(&c); /* nothing before the commit */
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 201 Created");
	char id[64] = "", etag[64] = "", loc[128] = "";
	const char *v = hval(r, "Location");
	CHECK(v != NULL);
	if (v != NULL)
		snprintf(loc, sizeof loc, "%s", v);
	CHECK(strncmp(loc, "/t/", 3) == 0 && is_uuid(loc + 3, strlen(loc + 3)));
	snprintf(id, sizeof id, "%s", loc + 3);
	char want[512];
	snprintf(want, sizeof want, "\"%s\"", id);
	CHECK(strcmp(r->body, want) == 0);
	CHECK(has_hdr(r, "Content-Type", "application/json"));
	CHECK(hval(r, "Connection") == NULL);
	v = hval(r, "ETag");
	CHECK(v != NULL && v[0] == '"');
	if (v != NULL)
		snprintf(etag, sizeof etag, "%s", v);

	/* GET: the stored body with the generated id first, same ETag */
	char path[128];
	snprintf(path, sizeof path, "/t/%s", id);
	creq(&c, "GET", path, NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"a\":1}", id);
	CHECK(strcmp(r->body, want) == 0);
	CHECK(has_hdr(r, "ETag", etag));
	CHECK(has_hdr(r, "Content-Type", "application/json"));
	struct json_result jr;
	CHECK(json_validate_object(r->body, r->body_len, 0, &jr) == JSON_OK &&
	      jr.id_present && jr.id == r->body + 7);

	/* If-None-Match: 304 with the ETag and no body; weak and * too */
	char extra[256];
	snprintf(extra, sizeof extra, "If-None-Match: %s\r\n", etag);
	creq(&c, "GET", path, extra, NULL);
	r = EXPECT(&c, "HTTP/1.1 304 Not Modified");
	CHECK(has_hdr(r, "ETag", etag));
	CHECK(!r->has_cl);
	snprintf(extra, sizeof extra, "If-None-Match: \"nope\", W/%s\r\n",
	         etag);
	creq(&c, "GET", path, extra, NULL);
	EXPECT(&c, "HTTP/1.1 304 Not Modified");
	creq(&c, "GET", path, "If-None-Match: *\r\n", NULL);
	EXPECT(&c, "HTTP/1.1 304 Not Modified");
	creq(&c, "GET", path, "If-None-Match: \"0000000000000000-7\"\r\n",
	     NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, want) == 0);
	/* HEAD: the GET's head, no body (the next answer parses cleanly) */
	creq(&c, "HEAD", path, NULL, NULL);
	r = EXPECT_HEAD(&c, "HTTP/1.1 200 OK");
	snprintf(extra, sizeof extra, "%zu", strlen(want));
	CHECK(has_hdr(r, "Content-Length", extra));
	CHECK(has_hdr(r, "ETag", etag));
	NO_MORE(&c);

	/* POST with an explicit id, then again: 409 */
	creq(&c, "POST", "/t", NULL, "{\"id\":\"k1\",\"v\":1}");
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/k1"));
	CHECK(strcmp(r->body, "\"k1\"") == 0);
	char etag1[64] = "";
	if (hval(r, "ETag") != NULL)
		snprintf(etag1, sizeof etag1, "%s", hval(r, "ETag"));
	creq(&c, "POST", "/t/", NULL, "{\"v\":2, \"id\":\"k1\"}");
	serve();
	r = EXPECT(&c, "HTTP/1.1 409 Conflict");
	CHECK_ERROR_BODY(r);
	CHECK(hval(r, "Connection") == NULL);
	creq(&c, "GET", "/t/k1", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"k1\",\"v\":1}") == 0);
	CHECK(has_hdr(r, "ETag", etag1));

	/* PUT: 204 without a body or length, a new ETag; GET sees it */
	creq(&c, "PUT", "/t/k1", NULL, "{\"v\":2}");
	serve();
	r = EXPECT(&c, "HTTP/1.1 204 No Content");
	CHECK(!r->has_cl);
	CHECK(hval(r, "ETag") != NULL && !has_hdr(r, "ETag", etag1));
	char etag2[64] = "";
	if (hval(r, "ETag") != NULL)
		snprintf(etag2, sizeof etag2, "%s", hval(r, "ETag"));
	creq(&c, "GET", "/t/k1", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"k1\",\"v\":2}") == 0);
	CHECK(has_hdr(r, "ETag", etag2));
	/* the old ETag no longer matches */
	snprintf(extra, sizeof extra, "If-None-Match: %s\r\n", etag1);
	creq(&c, "GET", "/t/k1", extra, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	/* PUT with the same id in the body; PUT creating a record */
	creq(&c, "PUT", "/t/k1", NULL, "{\"id\":\"k1\",\"v\":3}");
	serve();
	EXPECT(&c, "HTTP/1.1 204 No Content");
	creq(&c, "GET", "/t/k1", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"k1\",\"v\":3}") == 0);
	creq(&c, "PUT", "/t/k2", NULL, " { } ");
	serve();
	EXPECT(&c, "HTTP/1.1 204 No Content");
	creq(&c, "GET", "/t/k2", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"k2\" } ") == 0);
	/* a body id that differs from the URL's: 400, nothing written */
	creq(&c, "PUT", "/t/k1", NULL, "{\"id\":\"k9\"}");
	serve();
	r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
	CHECK_ERROR_BODY(r);

	/* DELETE: 200 true; then GET and DELETE: 404 */
	creq(&c, "DELETE", "/t/k1", NULL, NULL);
	CHECK_EQ_U64(F.qn, 1);
	serve();
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "true") == 0);
	CHECK(has_hdr(r, "Content-Type", "application/json"));
	creq(&c, "GET", "/t/k1", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 404 Not Found");
	CHECK_ERROR_BODY(r);
	creq(&c, "DELETE", "/t/k1", NULL, NULL);
	serve();
	r = EXPECT(&c, "HTTP/1.1 404 Not Found");
	CHECK_ERROR_BODY(r);
	creq(&c, "DELETE", "/t/never", NULL, NULL);
	serve();
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	/* a deleted id can be POSTed again */
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"k1\"}");
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	/* tables are separate key spaces */
	creq(&c, "GET", "/other/k2", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);

	const struct rest_stats *st = rest_stats(F.srv);
	CHECK_EQ_U64(st->ids_generated, 1);
	CHECK_EQ_U64(st->status[REST_ST_201], 3);
	CHECK_EQ_U64(st->status[REST_ST_409], 1);
	CHECK_EQ_U64(st->status[REST_ST_304], 3);
	CHECK_EQ_U64(F.sc.posts, 3);
	CHECK_EQ_U64(F.sc.puts, 3);
	CHECK_EQ_U64(F.sc.deletes, 1);
	CHECK_EQ_U64(F.sc.exists, 1);
	CHECK_EQ_U64(F.sc.not_found, 2);
	cfree(&c);
	teardown();
}

static void test_health_metrics(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	creq(&c, "GET", "/health", NULL, NULL);
	struct resp *r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"status\":\"ok\",\"node\":7}") == 0);
	creq(&c, "HEAD", "/health", NULL, NULL);
	r = EXPECT_HEAD(&c, "HTTP/1.1 200 OK");
	CHECK(has_hdr(r, "Content-Length", "24"));
	creq(&c, "POST", "/t/", NULL, "{}");
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	creq(&c, "GET", "/metrics", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(has_hdr(r, "Content-Type", "text/plain; version=0.0.4"));
	CHECK(strcmp(r->body, "# TYPE loom_test_records gauge\n"
	                      "loom_test_records 1\n") == 0);
	CHECK_EQ_U64(F.metrics_calls, 1);
	CHECK(F.metrics_reader);
	/* HEAD /metrics: the head only */
	creq(&c, "HEAD", "/metrics", NULL, NULL);
	r = EXPECT_HEAD(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	creq(&c, "GET", "/health", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	/* HTTP/1.0 without keep-alive: answered, then closed */
	cstr(&c, "GET /health HTTP/1.0\r\n\r\n");
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_EQ_U64(c.app.peer_closed, 1);
	const struct rest_stats *st = rest_stats(F.srv);
	CHECK_EQ_U64(st->req_health, 4);
	CHECK_EQ_U64(st->req_metrics, 2);
	cfree(&c);
	teardown();
}

/* One request delivered one byte per segment, then a GET split in two at
 * every byte boundary: each answered exactly once. */
static void test_split(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	char buf[512];
	size_t n = fmt_req(buf, sizeof buf, "POST", "/t/", NULL,
	                   "{\"id\":\"byte\",\"s\":\"one at a time\"}");
	uint64_t segs0 = th_stat(F.b, "segs_out");
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_U64(tcp_send(c.app.conn, buf + i, 1), 1);
		tcp_flush(F.b->tcp);
		settle();
		if (i + 1 < n) {
			/* nothing answered, nothing submitted before the end */
			CHECK_EQ_U64(c.app.rx_len, 0);
			CHECK_EQ_U64(F.qn, 0);
			CHECK_EQ_U64(storage_step(), 0);
		}
	}
	CHECK(th_stat(F.b, "segs_out") - segs0 >= n);
	CHECK_EQ_U64(F.qn, 1);
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/byte"));
	NO_MORE(&c);

	n = fmt_req(buf, sizeof buf, "GET", "/t/byte", NULL, NULL);
	for (size_t k = 1; k < n; k++) {
		csend(&c, buf, k);
		NO_MORE(&c);
		csend(&c, buf + k, n - k);
		r = EXPECT(&c, "HTTP/1.1 200 OK");
		CHECK(strcmp(r->body,
		             "{\"id\":\"byte\",\"s\":\"one at a time\"}") == 0);
		NO_MORE(&c);
	}
	/* a chunked body one byte per segment */
	const char *ch = "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	                 "Content-Type: application/json\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n"
	                 "4\r\n{\"id\r\n0a\r\n\":\"chunky\"\r\n1\r\n}\r\n"
	                 "0\r\n\r\n";
	for (size_t i = 0; ch[i] != '\0'; i++) {
		csend(&c, ch + i, 1);
		if (ch[i + 1] != '\0')
			CHECK_EQ_U64(F.qn, 0);
	}
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/chunky"));
	NO_MORE(&c);
	CHECK_EQ_U64(rest_stats(F.srv)->status[REST_ST_200], n - 1);
	cfree(&c);
	teardown();
}

/* Three POSTs and a GET in one send: answered in order. More POSTs than
 * max_inflight: the rest wait, still in order. */
static void test_pipeline(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	char buf[4096];
	size_t n = 0;
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"p1\"}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"p2\",\"x\":[1,2]}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"n\":3}");
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/p2", NULL, NULL);
	csend(&c, buf, n);
	/* the three writes went to storage together; the GET waits */
	CHECK_EQ_U64(F.qn, 3);
	NO_MORE(&c);
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/p1"));
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/p2"));
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	const char *loc = hval(r, "Location");
	CHECK(loc != NULL && strncmp(loc, "/t/", 3) == 0 &&
	      is_uuid(loc + 3, strlen(loc + 3)));
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"p2\",\"x\":[1,2]}") == 0);
	NO_MORE(&c);

	/* six POSTs and a GET: at most MAX_INFLIGHT in storage at once */
	n = 0;
	for (int i = 0; i < 6; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"id\":\"q%d\"}", i);
		n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
		             body);
	}
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/q5", NULL, NULL);
	csend(&c, buf, n);
	CHECK_EQ_U64(F.qn, MAX_INFLIGHT);
	serve();
	for (int i = 0; i < 6; i++) {
		char loc_want[32];
		snprintf(loc_want, sizeof loc_want, "/t/q%d", i);
		r = EXPECT(&c, "HTTP/1.1 201 Created");
		CHECK(has_hdr(r, "Location", loc_want));
	}
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"q5\"}") == 0);
	NO_MORE(&c);

	/* POST, then one that fails in storage (409), then a GET */
	n = 0;
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"dup\"}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"dup\"}");
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/dup", NULL, NULL);
	csend(&c, buf, n);
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	EXPECT(&c, "HTTP/1.1 409 Conflict");
	EXPECT(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	cfree(&c);
	teardown();
}

/* A request the server answers itself (an error), pipelined behind a write
 * still in storage, must not overtake that write's answer. */
static void test_pipeline_errors_in_order(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	char buf[4096];
	size_t n;

	/* a bad JSON body behind a good POST: 201 then 400, then on */
	cconnect(&c);
	n = 0;
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"e1\"}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL, "{\"a\":}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"e2\"}");
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/e2", NULL, NULL);
	csend(&c, buf, n);
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/e1"));
	r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
	CHECK_ERROR_BODY(r);
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/e2"));
	EXPECT(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);

	/* a bad table name behind a good POST */
	n = 0;
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"e3\"}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/bad-table/", NULL,
	             "{}");
	csend(&c, buf, n);
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/e3"));
	EXPECT(&c, "HTTP/1.1 400 Bad Request");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1); /* its body was not read */
	cfree(&c);

	/* a chunked body over max_body behind a good POST */
	cconnect(&c);
	n = fmt_req(buf, sizeof buf, "POST", "/t/", NULL, "{\"id\":\"e4\"}");
	n += (size_t)snprintf(buf + n, sizeof buf - n,
	                      "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	                      "Content-Type: application/json\r\n"
	                      "Transfer-Encoding: chunked\r\n\r\n"
	                      "2000\r\n");
	csend(&c, buf, n);
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/e4"));
	EXPECT(&c, "HTTP/1.1 413 Content Too Large");
	NO_MORE(&c);
	cfree(&c);

	/* a wrong Content-Type, a malformed request, an unknown path, a
	 * method not allowed: each behind a good POST */
	const char *after[] = {
		"POST /t/ HTTP/1.1\r\nHost: l\r\nContent-Type: text/plain\r\n"
		"Content-Length: 2\r\n\r\n{}",
		"POST /t/ HTTP/1.1\r\nHost: l\r\nContent-Length: x\r\n\r\n",
		"POST /t/a/b HTTP/1.1\r\nHost: l\r\n"
		"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /health HTTP/1.1\r\nHost: l\r\n"
		"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /t/x HTTP/1.1\r\nHost: l\r\n"
		"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	};
	const char *want[] = {
		"HTTP/1.1 415 Unsupported Media Type",
		"HTTP/1.1 400 Bad Request",
		"HTTP/1.1 404 Not Found",
		"HTTP/1.1 405 Method Not Allowed",
		"HTTP/1.1 405 Method Not Allowed",
	};
	for (unsigned i = 0; i < sizeof after / sizeof after[0]; i++) {
		char body[64], loc[32];
		cconnect(&c);
		snprintf(body, sizeof body, "{\"id\":\"o%u\"}", i);
		snprintf(loc, sizeof loc, "/t/o%u", i);
		n = fmt_req(buf, sizeof buf, "POST", "/t/", NULL, body);
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", after[i]);
		csend(&c, buf, n);
		serve();
		r = EXPECT(&c, "HTTP/1.1 201 Created");
		CHECK(has_hdr(r, "Location", loc));
		EXPECT(&c, want[i]);
		NO_MORE(&c);
		cfree(&c);
	}
	teardown();
}

static void test_chunked_expect(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	/* chunked, three chunks and a trailer, a GET right behind it */
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n"
	         "5\r\n{\"id\"\r\n9;ext=1\r\n:\"ch1\",\"n\r\n4\r\n\":1}\r\n"
	         "0\r\nX-Trailer: y\r\n\r\n"
	         "GET /t/ch1 HTTP/1.1\r\nHost: l\r\n\r\n");
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/ch1"));
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"ch1\",\"n\":1}") == 0);
	/* a chunked body without an id gets one */
	cstr(&c, "POST /t HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json; charset=utf-8\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n"
	         "2\r\n{}\r\n0\r\n\r\n");
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	const char *loc = hval(r, "Location");
	CHECK(loc != NULL && is_uuid(loc + 3, strlen(loc + 3)));
	NO_MORE(&c);

	/* Expect: 100-continue: the interim answer before any body byte */
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\nContent-Length: 15\r\n"
	         "Expect: 100-continue\r\n\r\n");
	const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
	CHECK_EQ_U64(c.app.rx_len - c.off, strlen(cont));
	CHECK(c.app.rx_len - c.off == strlen(cont) &&
	      memcmp(c.app.rx + c.off, cont, strlen(cont)) == 0);
	EXPECT(&c, "HTTP/1.1 100 Continue");
	CHECK_EQ_U64(F.qn, 0);
	cstr(&c, "{\"id\":\"cont1\"}");
	CHECK_EQ_U64(strlen("{\"id\":\"cont1\"}"), 14);
	cstr(&c, " ");
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/cont1"));
	NO_MORE(&c);
	CHECK_EQ_U64(rest_stats(F.srv)->continues, 1);
	/* Expect on a request refused at its head: no 100, the refusal */
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: text/plain\r\nContent-Length: 2\r\n"
	         "Expect: 100-continue\r\n\r\n");
	EXPECT(&c, "HTTP/1.1 415 Unsupported Media Type");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);
	teardown();
}

static void test_errors(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	struct resp *r;
	cconnect(&c);

	/* 405 keeps the connection when there is no body */
	creq(&c, "PATCH", "/t/x", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 405 Method Not Allowed");
	CHECK(has_hdr(r, "Allow", "GET, HEAD, PUT, DELETE"));
	CHECK_ERROR_BODY(r);
	CHECK(hval(r, "Connection") == NULL);
	creq(&c, "GET", "/t/", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 405 Method Not Allowed");
	CHECK(has_hdr(r, "Allow", "POST"));
	creq(&c, "PUT", "/t", NULL, "{}");
	r = EXPECT(&c, "HTTP/1.1 405 Method Not Allowed");
	CHECK(has_hdr(r, "Allow", "POST"));
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);

	cconnect(&c);
	creq(&c, "DELETE", "/metrics", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 405 Method Not Allowed");
	CHECK(has_hdr(r, "Allow", "GET"));
	/* 404s */
	creq(&c, "GET", "/t/missing", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 404 Not Found");
	CHECK_ERROR_BODY(r);
	creq(&c, "GET", "/t/x/y", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 404 Not Found");
	CHECK_ERROR_BODY(r);
	creq(&c, "GET", "/", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	creq(&c, "GET", "*", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	/* 400: the route */
	creq(&c, "GET", "/t/a%2Fb", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
	CHECK_ERROR_BODY(r);
	CHECK_STR_CONTAINS(r->body, "percent");
	/* 400: the body, connection kept (the body was read) */
	const char *bad_bodies[] = {
		"{\"a\":}", "[1,2]", "\"str\"", "", "{} {}", "{\"id\":\"a/b\"}",
		"{\"id\":\"a\\u0041\"}", "{\"id\":5}", "{\"id\":\"\"}",
		"{\"id\":\"x\",\"id\":\"y\"}", "{\"a\":\"\xff\"}",
	};
	for (unsigned i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0];
	     i++) {
		creq(&c, "POST", "/t/", NULL, bad_bodies[i]);
		r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
		CHECK_ERROR_BODY(r);
		CHECK(hval(r, "Connection") == NULL);
	}
	char id256[300];
	memset(id256, 'i', 256);
	id256[256] = '\0';
	char body[400];
	snprintf(body, sizeof body, "{\"id\":\"%s\"}", id256);
	creq(&c, "POST", "/t/", NULL, body);
	EXPECT(&c, "HTTP/1.1 400 Bad Request");
	id256[255] = '\0'; /* 255 is fine */
	snprintf(body, sizeof body, "{\"id\":\"%s\"}", id256);
	creq(&c, "POST", "/t/", NULL, body);
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(strlen(hval(r, "Location")) == 3 + 255);
	CHECK_EQ_U64(F.sc.posts, 1);
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	/* the 400 of a client asking to close still closes */
	creq(&c, "POST", "/t/", "Connection: close\r\n", "{bad");
	r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);

	/* refusals whose body is not read: answered, then closed */
	struct {
		const char *req, *line;
	} closing[] = {
		{"POST /health HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		 "HTTP/1.1 405 Method Not Allowed"},
		{"POST /t/ HTTP/1.1\r\nHost: l\r\nContent-Type: text/plain\r\n"
		 "Content-Length: 2\r\n\r\n{}",
		 "HTTP/1.1 415 Unsupported Media Type"},
		{"POST /t/ HTTP/1.1\r\nHost: l\r\nContent-Length: 2\r\n\r\n{}",
		 "HTTP/1.1 415 Unsupported Media Type"},
		{"POST /t/ HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\n\r\n",
		 "HTTP/1.1 411 Length Required"},
		{"PUT /t/x HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\n\r\n",
		 "HTTP/1.1 411 Length Required"},
		{"POST /t/ HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
		 "HTTP/1.1 413 Content Too Large"},
		{"POST /t/ HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n"
		 "1001\r\n", "HTTP/1.1 413 Content Too Large"},
		{"POST /bad-table/ HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		 "HTTP/1.1 400 Bad Request"},
		{"GET /t/x HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"GET /t/x HTTP/1.1\nHost: l\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"GET /t/x HTTP/2.0\r\nHost: l\r\n\r\n",
		 "HTTP/1.1 505 HTTP Version Not Supported"},
		{"POST /t/ HTTP/1.1\r\nHost: l\r\n"
		 "Content-Type: application/json\r\n"
		 "Transfer-Encoding: gzip\r\n\r\n",
		 "HTTP/1.1 501 Not Implemented"},
	};
	for (unsigned i = 0; i < sizeof closing / sizeof closing[0]; i++) {
		cconnect(&c);
		cstr(&c, closing[i].req);
		serve();
		r = EXPECT(&c, closing[i].line);
		CHECK_ERROR_BODY(r);
		CHECK(has_hdr(r, "Connection", "close"));
		NO_MORE(&c);
		CHECK_EQ_U64(c.app.peer_closed, 1);
		cfree(&c);
	}
	/* 413 for a chunked body that grows past max_body in small chunks */
	cconnect(&c);
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n");
	char chunk[1100];
	memset(chunk, ' ', sizeof chunk);
	memcpy(chunk, "400\r\n", 5);
	memcpy(chunk + 5 + 1024, "\r\n", 2);
	for (int i = 0; i < 5 && c.app.peer_closed == 0; i++)
		csend(&c, chunk, 5 + 1024 + 2);
	r = EXPECT(&c, "HTTP/1.1 413 Content Too Large");
	CHECK(has_hdr(r, "Connection", "close"));
	NO_MORE(&c);
	cfree(&c);

	/* 431: a head over max_header_bytes */
	cconnect(&c);
	char big[3000];
	int k = snprintf(big, sizeof big, "GET /t/x HTTP/1.1\r\nHost: l\r\n");
	while (k < 2900)
		k += snprintf(big + k, sizeof big - (size_t)k,
		              "X-Pad: %0200d\r\n", k);
	k += snprintf(big + k, sizeof big - (size_t)k, "\r\n");
	csend(&c, big, (size_t)k);
	r = EXPECT(&c, "HTTP/1.1 431 Request Header Fields Too Large");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);
	/* a request line that never ends */
	cconnect(&c);
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /", 5);
	csend(&c, big, sizeof big);
	EXPECT(&c, "HTTP/1.1 414 URI Too Long");
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);

	CHECK_EQ_U64(F.submits, 1);
	teardown();
}

/* HEAD answers carry no body, errors included, so the connection stays in
 * step with the client. */
static void test_head_errors(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	creq(&c, "HEAD", "/t/missing", NULL, NULL);
	struct resp *r = EXPECT_HEAD(&c, "HTTP/1.1 404 Not Found");
	NO_MORE(&c);
	creq(&c, "HEAD", "/nope/a/b", NULL, NULL);
	EXPECT_HEAD(&c, "HTTP/1.1 404 Not Found");
	NO_MORE(&c);
	creq(&c, "HEAD", "/t/", NULL, NULL);
	r = EXPECT_HEAD(&c, "HTTP/1.1 405 Method Not Allowed");
	CHECK(has_hdr(r, "Allow", "POST"));
	NO_MORE(&c);
	creq(&c, "HEAD", "/t/a%20b", NULL, NULL);
	EXPECT_HEAD(&c, "HTTP/1.1 400 Bad Request");
	NO_MORE(&c);
	creq(&c, "GET", "/health", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	cfree(&c);
	teardown();
}

/* A body on a request that does not read one (GET, DELETE) must not be
 * taken for the next request. */
static void test_ignored_body(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"keep\"}");
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	const char *inner = "DELETE /t/keep HTTP/1.1\r\nHost: l\r\n\r\n";
	char buf[512];
	size_t n = (size_t)snprintf(buf, sizeof buf,
	                            "GET /t/keep HTTP/1.1\r\nHost: l\r\n"
	                            "Content-Length: %zu\r\n\r\n%s",
	                            strlen(inner), inner);
	csend(&c, buf, n);
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(has_hdr(r, "Connection", "close"));
	NO_MORE(&c); /* no answer to the smuggled DELETE */
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(F.sc.deletes, 0);
	cfree(&c);

	cconnect(&c);
	n = (size_t)snprintf(buf, sizeof buf,
	                     "DELETE /t/nothing HTTP/1.1\r\nHost: l\r\n"
	                     "Content-Length: %zu\r\n\r\n%s",
	                     strlen(inner), inner);
	csend(&c, buf, n);
	serve();
	r = EXPECT(&c, "HTTP/1.1 404 Not Found");
	CHECK(has_hdr(r, "Connection", "close"));
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(F.sc.deletes, 0);
	cfree(&c);
	/* HEAD /health with a chunked body: the same */
	cconnect(&c);
	cstr(&c, "HEAD /health HTTP/1.1\r\nHost: l\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n"
	         "24\r\nDELETE /t/keep HTTP/1.1\r\nHost: l\r\n\r\n\r\n0\r\n\r\n");
	serve();
	r = EXPECT_HEAD(&c, "HTTP/1.1 200 OK");
	CHECK(has_hdr(r, "Connection", "close"));
	NO_MORE(&c);
	CHECK_EQ_U64(F.sc.deletes, 0);
	cfree(&c);

	cconnect(&c);
	creq(&c, "GET", "/t/keep", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	cfree(&c);
	teardown();
}

static void test_connection_close(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	/* a write with Connection: close: answered with it, then closed,
	 * and what follows it is not read */
	char buf[1024];
	size_t n = fmt_req(buf, sizeof buf, "POST", "/t/",
	                   "Connection: close\r\n", "{\"id\":\"cc\"}");
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/cc", NULL, NULL);
	csend(&c, buf, n);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	serve();
	struct resp *r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Connection", "close"));
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);
	/* a GET with Connection: close */
	cconnect(&c);
	creq(&c, "GET", "/t/cc", "Connection: close\r\n", NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);
	/* the client half-closes after its request: still answered */
	cconnect(&c);
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"hc\"}");
	tcp_close(c.app.conn);
	tcp_flush(F.b->tcp);
	settle();
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);
	advance(3000); /* TIME_WAIT and FIN_WAIT end */
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	teardown();
}

/* The client goes away with its write in storage: the write stands, the
 * answer is dropped and its buffer returned. */
static void test_orphan(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c, d;
	cconnect(&c);
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"orphan\"}");
	CHECK_EQ_U64(F.qn, 1);
	tcp_abort(c.app.conn);
	tcp_flush(F.b->tcp);
	settle();
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	/* a new connection may take the same slot meanwhile */
	cconnect(&d);
	serve();
	const struct rest_stats *st = rest_stats(F.srv);
	CHECK_EQ_U64(st->writes_orphaned, 1);
	NO_MORE(&d);
	creq(&d, "GET", "/t/orphan", NULL, NULL);
	EXPECT(&d, "HTTP/1.1 200 OK");
	NO_MORE(&d);
	cfree(&c);
	cfree(&d);
	teardown();
}

/* A GET behind a POST on one connection sees that POST, even when another
 * connection's GET opened the lcore's read txn before the commit (the
 * io lcore serves input, then completions, then rest_poll). */
static void test_read_your_writes(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client x, y;
	cconnect(&x);
	cconnect(&y);
	creq(&x, "POST", "/t/", NULL, "{\"id\":\"seed\"}");
	serve();
	EXPECT(&x, "HTTP/1.1 201 Created");

	char buf[1024];
	size_t n = fmt_req(buf, sizeof buf, "POST", "/t/", NULL,
	                   "{\"id\":\"ryw\"}");
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/ryw", NULL, NULL);
	csend(&y, buf, n);
	CHECK_EQ_U64(F.qn, 1); /* the GET waits for the POST */
	/* one loop iteration: x's GET opens the read txn ... */
	n = fmt_req(buf, sizeof buf, "GET", "/t/seed", NULL, NULL);
	CHECK_EQ_U64(tcp_send(x.app.conn, buf, n), n);
	tcp_flush(F.b->tcp);
	settle_opt(false);
	/* ... then the storage lcore commits and the completion arrives */
	CHECK_EQ_U64(storage_step(), 1);
	settle();
	EXPECT(&x, "HTTP/1.1 200 OK");
	EXPECT(&y, "HTTP/1.1 201 Created");
	struct resp *r = EXPECT(&y, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"id\":\"ryw\"}") == 0);
	NO_MORE(&x);
	NO_MORE(&y);
	cfree(&x);
	cfree(&y);
	teardown();
}

static void test_backpressure(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	struct resp *r;
	const struct rest_stats *st = rest_stats(F.srv);
	cconnect(&c);

	/* the pool is empty: the request waits unanswered */
	F.pool.limit = 0;
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"bp1\"}");
	advance(200);
	NO_MORE(&c);
	CHECK_EQ_U64(F.submits, 0);
	CHECK_EQ_U64(st->backpressure_waits, 1);
	/* room again: answered once */
	F.pool.limit = POOL_N;
	rest_poll(F.srv);
	tcp_flush(F.a->tcp);
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/bp1"));
	advance(BP_MS + 200);
	NO_MORE(&c);

	/* the storage ring is full: the same */
	F.submit_fail = true;
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"bp2\"}");
	advance(200);
	NO_MORE(&c);
	CHECK_EQ_U64(F.submits, 1);
	CHECK_EQ_U64(F.pool.in_use, 1); /* the request holds its buffer */
	F.submit_fail = false;
	advance(STEP_MS);
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/bp2"));
	NO_MORE(&c);
	CHECK_EQ_U64(st->backpressure_waits, 2);

	/* a GET with the pool empty and the send buffer busy is fine: it
	 * needs no buffer */
	F.pool.limit = 0;
	creq(&c, "GET", "/t/bp2", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	F.pool.limit = POOL_N;

	/* no room for backpressure_ms: 503, then closed */
	F.pool.limit = 0;
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"bp3\"}");
	advance(BP_MS - 100);
	NO_MORE(&c);
	advance(200);
	r = EXPECT(&c, "HTTP/1.1 503 Service Unavailable");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_ERROR_BODY(r);
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(st->backpressure_503, 1);
	F.pool.limit = POOL_N;
	cfree(&c);

	/* the same with the ring full: the held buffer comes back */
	cconnect(&c);
	F.submit_fail = true;
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"bp4\"}");
	advance(BP_MS + 200);
	r = EXPECT(&c, "HTTP/1.1 503 Service Unavailable");
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(F.pool.in_use, 0);
	F.submit_fail = false;
	cfree(&c);

	/* a pipelined write stuck behind one in storage: the 503 comes
	 * after the first write's answer, never before it */
	cconnect(&c);
	F.pool.limit = 1;
	char buf[1024];
	size_t n = fmt_req(buf, sizeof buf, "POST", "/t/", NULL,
	                   "{\"id\":\"bp5\"}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"bp6\"}");
	csend(&c, buf, n);
	CHECK_EQ_U64(F.qn, 1);
	advance_opt(BP_MS + 200, false); /* storage is slow */
	storage_step();
	settle();
	advance(STEP_MS);
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/bp5"));
	r = EXPECT(&c, "HTTP/1.1 503 Service Unavailable");
	NO_MORE(&c);
	F.pool.limit = POOL_N;
	cfree(&c);

	/* the pool never exceeded its size; bp3/bp4/bp6 were never written */
	CHECK(F.pool.peak <= POOL_N);
	cconnect(&c);
	creq(&c, "GET", "/t/bp3", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	creq(&c, "GET", "/t/bp4", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	creq(&c, "GET", "/t/bp6", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	cfree(&c);
	teardown();
}

static void test_timeouts(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	struct resp *r;
	const struct rest_stats *st = rest_stats(F.srv);

	/* a head that never completes: 408 after header_timeout_ms */
	cconnect(&c);
	cstr(&c, "GET /t/x HTTP/1.1\r\nHost: l\r\n");
	advance(HDR_TIMEOUT_MS - 100);
	NO_MORE(&c);
	advance(300);
	r = EXPECT(&c, "HTTP/1.1 408 Request Timeout");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_ERROR_BODY(r);
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);

	/* a body that never completes: 408, its buffer returned */
	cconnect(&c);
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n"
	         "{\"a\"");
	CHECK_EQ_U64(F.pool.in_use, 1);
	advance(HDR_TIMEOUT_MS + 200);
	EXPECT(&c, "HTTP/1.1 408 Request Timeout");
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(F.pool.in_use, 0);
	cfree(&c);
	CHECK_EQ_U64(st->timeouts_408, 2);

	/* slow but steady is fine within the timeout; an idle keep-alive
	 * connection is closed after idle_timeout_ms, without an answer */
	cconnect(&c);
	cstr(&c, "GET /health HTTP/1.1\r\n");
	advance(HDR_TIMEOUT_MS / 2);
	cstr(&c, "Host: l\r\n\r\n");
	EXPECT(&c, "HTTP/1.1 200 OK");
	advance(IDLE_TIMEOUT_MS - 500);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	advance(700);
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(st->idle_closed, 1);
	cfree(&c);

	/* a write in storage longer than the timeouts is still answered */
	cconnect(&c);
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"slow\"}");
	advance_opt(IDLE_TIMEOUT_MS + 500, false);
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	cfree(&c);
	advance(3000);
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	teardown();
}

/* Answers larger than the send buffer has room for queue in pool buffers
 * and still leave in order; with no buffer they wait for send space; a
 * client that stops reading is cut off at the idle timeout. */
static void test_big_answers(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	struct resp *r;
	cconnect(&c);
	static char big[3600];
	int bl = snprintf(big, sizeof big, "{\"id\":\"big\",\"pad\":\"");
	for (; bl < 3500; bl++)
		big[bl] = (char)('a' + bl % 26);
	snprintf(big + bl, sizeof big - (size_t)bl, "\"}");
	size_t biglen = strlen(big);
	creq(&c, "POST", "/t/", NULL, big);
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");

	/* GET, GET, POST in one send: the second answer and the 201 queue
	 * behind the first (sndbuf 4096) */
	static char buf[8192];
	size_t n = fmt_req(buf, sizeof buf, "GET", "/t/big", NULL, NULL);
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/big", NULL, NULL);
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"after\"}");
	csend(&c, buf, n);
	serve();
	for (int i = 0; i < 2; i++) {
		r = EXPECT(&c, "HTTP/1.1 200 OK");
		CHECK(r->body_len == biglen && memcmp(r->body, big, biglen) == 0);
	}
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/after"));
	NO_MORE(&c);

	/* no pool buffer for a queued answer: it waits for send space */
	F.pool.limit = 0;
	n = 0;
	for (int i = 0; i < 3; i++)
		n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/big", NULL,
		             NULL);
	csend(&c, buf, n);
	serve();
	for (int i = 0; i < 3; i++) {
		r = EXPECT(&c, "HTTP/1.1 200 OK");
		CHECK(r->body_len == biglen && memcmp(r->body, big, biglen) == 0);
	}
	NO_MORE(&c);
	F.pool.limit = POOL_N;
	CHECK_EQ_U64(c.app.peer_closed, 0);
	cfree(&c);

	/* a slow reader: while answers wait for the window no further
	 * request is read; once they are in the send buffer the next write
	 * goes on, and its answer, not fitting, queues in its own buffer */
	static char big2[4000];
	int b2 = snprintf(big2, sizeof big2, "{\"id\":\"big2\",\"pad\":\"");
	for (; b2 < 3930; b2++)
		big2[b2] = 'z';
	snprintf(big2 + b2, sizeof big2 - (size_t)b2, "\"}");
	size_t big2len = strlen(big2);
	cconnect(&c);
	creq(&c, "POST", "/t/", NULL, big2);
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	c.app.auto_consume = false;
	char longid[REST_ID_MAX + 1], lbody[REST_ID_MAX + 16];
	char lloc[REST_ID_MAX + 8];
	memset(longid, 'L', REST_ID_MAX);
	longid[REST_ID_MAX] = '\0';
	snprintf(lbody, sizeof lbody, "{\"id\":\"%s\"}", longid);
	snprintf(lloc, sizeof lloc, "/t/%s", longid);
	n = fmt_req(buf, sizeof buf, "GET", "/t/big2", NULL, NULL);
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/big2", NULL, NULL);
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL, lbody);
	n += fmt_req(buf + n, sizeof buf - n, "GET", "/health", NULL, NULL);
	csend(&c, buf, n);
	CHECK_EQ_U64(storage_step(), 1);
	settle();
	cdrain(&c);
	tcp_flush(F.b->tcp);
	serve();
	advance(STEP_MS);
	for (int i = 0; i < 2; i++) {
		r = EXPECT(&c, "HTTP/1.1 200 OK");
		CHECK(r->body_len == big2len &&
		      memcmp(r->body, big2, big2len) == 0);
	}
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", lloc));
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(strcmp(r->body, "{\"status\":\"ok\",\"node\":7}") == 0);
	NO_MORE(&c);
	cfree(&c);

	/* a client that stops reading: answers pile up, then the idle
	 * timeout resets it and every buffer comes back */
	cconnect(&c);
	c.app.auto_consume = false;
	n = 0;
	for (int i = 0; i < 3; i++)
		n += fmt_req(buf + n, sizeof buf - n, "GET", "/t/big", NULL,
		             NULL);
	csend(&c, buf, n);
	advance(STEP_MS);
	CHECK(F.pool.in_use >= 1);
	advance(IDLE_TIMEOUT_MS + 500);
	CHECK_EQ_U64(c.app.closed, 1);
	CHECK(c.app.reason == TCP_CLOSE_RESET);
	CHECK_EQ_U64(F.pool.in_use, 0);
	CHECK_EQ_U64(rest_stats(F.srv)->idle_closed, 1);
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	cfree(&c);
	teardown();
}

/* The client closes in the middle of a request: nothing to answer, the
 * connection closes, the buffer comes back, nothing is written. */
static void test_fin_midway(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	cstr(&c, "GET /t/x HTTP/1.1\r\nHo");
	tcp_close(c.app.conn);
	tcp_flush(F.b->tcp);
	settle();
	CHECK_EQ_U64(c.app.peer_closed, 1);
	NO_MORE(&c);
	cfree(&c);

	cconnect(&c);
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"
	         "{\"id\":\"half");
	CHECK_EQ_U64(F.pool.in_use, 1);
	tcp_close(c.app.conn);
	tcp_flush(F.b->tcp);
	settle();
	CHECK_EQ_U64(c.app.peer_closed, 1);
	CHECK_EQ_U64(F.pool.in_use, 0);
	NO_MORE(&c);
	cfree(&c);
	/* a reset mid-body: the same */
	cconnect(&c);
	cstr(&c, "PUT /t/x HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"
	         "{\"v\":");
	CHECK_EQ_U64(F.pool.in_use, 1);
	tcp_abort(c.app.conn);
	tcp_flush(F.b->tcp);
	settle();
	CHECK_EQ_U64(F.pool.in_use, 0);
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	cfree(&c);
	advance(3000);
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	CHECK_EQ_U64(F.submits, 0);
	/* torn down with a body half read: rest_destroy returns its
	 * buffer (teardown counts them) */
	cconnect(&c);
	cstr(&c, "POST /t/ HTTP/1.1\r\nHost: l\r\n"
	         "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"
	         "{");
	CHECK_EQ_U64(F.pool.in_use, 1);
	teardown();
	free(c.app.rx);
}

/* More connections than max_conns: the extra one is refused (RST); a
 * freed slot is taken again. */
static void test_refused_conns(void)
{
	opt_max_conns = 2;
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c1, c2, c3;
	cconnect(&c1);
	cconnect(&c2);
	CHECK_EQ_U64(rest_conn_count(F.srv), 2);
	memset(&c3, 0, sizeof c3);
	c3.app.auto_consume = true;
	CHECK(tcp_connect(F.b->tcp, th_ip(10, 0, 0, 1), PORT, &th_callbacks,
	                  &c3.app) != NULL);
	tcp_flush(F.b->tcp);
	settle();
	CHECK_EQ_U64(c3.app.closed, 1);
	CHECK(c3.app.reason == TCP_CLOSE_RESET);
	CHECK_EQ_U64(rest_stats(F.srv)->refused, 1);
	CHECK_EQ_U64(rest_conn_count(F.srv), 2);
	creq(&c2, "GET", "/health", NULL, NULL);
	EXPECT(&c2, "HTTP/1.1 200 OK");
	cfree(&c1);
	CHECK_EQ_U64(rest_conn_count(F.srv), 1);
	cconnect(&c3);
	creq(&c3, "GET", "/health", NULL, NULL);
	EXPECT(&c3, "HTTP/1.1 200 OK");
	CHECK_EQ_U64(rest_conn_count(F.srv), 2);
	cfree(&c2);
	cfree(&c3);
	CHECK_EQ_U64(rest_conn_count(F.srv), 0);
	teardown();
}

/* A server without a store answers reads 503 and still serves /health
 * and /metrics (without a reader). */
static void test_no_store(void)
{
	opt_no_store = true;
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	cconnect(&c);
	creq(&c, "GET", "/t/x", NULL, NULL);
	struct resp *r = EXPECT(&c, "HTTP/1.1 503 Service Unavailable");
	CHECK_ERROR_BODY(r);
	CHECK(hval(r, "Connection") == NULL);
	creq(&c, "GET", "/metrics", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 200 OK");
	CHECK(!F.metrics_reader);
	CHECK_EQ_U64(F.metrics_calls, 1);
	creq(&c, "GET", "/health", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	cfree(&c);
	teardown();
}

/* Writes the storage lcore refuses or fails: each answered with its
 * status, in order, the connection kept. */
static void test_storage_results(void)
{
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	CHECK_EQ_U64(rest_status_index(201), REST_ST_201);
	CHECK_EQ_U64(rest_status_code(REST_ST_507), 507);
	CHECK_EQ_U64(rest_status_index(299), REST_ST_OTHER);
	CHECK_EQ_U64(rest_status_code(REST_ST_OTHER), 0);
	for (int i = 0; i < REST_ST_OTHER; i++)
		CHECK_EQ_U64(rest_status_index(rest_status_code(
		                     (enum rest_status_idx)i)), i);

	struct client c;
	cconnect(&c);
	char buf[2048];
	size_t n = 0;
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"r1\"}");
	n += fmt_req(buf + n, sizeof buf - n, "PUT", "/t/r2", NULL, "{}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", NULL,
	             "{\"id\":\"r3\"}");
	csend(&c, buf, n);
	static const int res1[] = {WRITE_INVALID};
	CHECK_EQ_U64(storage_step_results(res1, 1), 1);
	settle();
	/* the PUT waited for the first POST; the last POST pipelines
	 * behind the PUT */
	static const int res2[] = {WRITE_FULL, WRITE_FAILED};
	CHECK_EQ_U64(storage_step_results(res2, 2), 2);
	settle();
	creq(&c, "DELETE", "/t/r1", NULL, NULL);
	static const int res4[] = {WRITE_FULL};
	CHECK_EQ_U64(storage_step_results(res4, 1), 1);
	settle();
	struct resp *r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
	CHECK_ERROR_BODY(r);
	r = EXPECT(&c, "HTTP/1.1 507 Insufficient Storage");
	CHECK_ERROR_BODY(r);
	r = EXPECT(&c, "HTTP/1.1 500 Internal Server Error");
	CHECK_ERROR_BODY(r);
	EXPECT(&c, "HTTP/1.1 507 Insufficient Storage");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	const struct rest_stats *st = rest_stats(F.srv);
	CHECK_EQ_U64(st->status[REST_ST_507], 2);
	CHECK_EQ_U64(st->status[REST_ST_500], 1);
	CHECK_EQ_U64(st->writes_completed, 4);
	uint64_t lat = 0;
	for (int i = 0; i < REST_LAT_BUCKETS; i++)
		lat += st->write_lat[i];
	CHECK_EQ_U64(lat, 4);
	creq(&c, "GET", "/t/r1", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 404 Not Found");
	cfree(&c);
	teardown();
}

/* --- basic auth ----------------------------------------------------------- */

static size_t fmt_auth(char *out, size_t cap, const char *cred)
{
	char b64[128];
	if (BASE64_ENCODED_LEN(strlen(cred)) >= sizeof b64)
		abort();
	base64_encode((const uint8_t *)cred, strlen(cred), b64);
	int n = snprintf(out, cap, "Authorization: Basic %s\r\n", b64);
	return n > 0 ? (size_t)n : 0;
}

static void test_auth_basic(void)
{
	static struct loom_user user;
	memset(&user, 0, sizeof user);
	snprintf(user.name, sizeof user.name, "alice");
	user.iterations = 1000;
	user.salt_len = 16;
	for (unsigned i = 0; i < user.salt_len; i++)
		user.salt[i] = (uint8_t)(0x40 + i);
	const char *pw = "s3cret:with:colons";
	CHECK(auth_hash_password(pw, strlen(pw), user.salt, user.salt_len,
	                         user.iterations, user.hash) == 0);
	if (!setup(LOOM_AUTH_BASIC, &user, 1))
		return;
	uint64_t ac[4];
	struct client c;
	struct resp *r;
	char good[256], bad[256];
	fmt_auth(good, sizeof good, "alice:s3cret:with:colons");
	fmt_auth(bad, sizeof bad, "alice:wrong");
	cconnect(&c);

	/* /health needs no credentials */
	creq(&c, "GET", "/health", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	/* none: 401 with the challenge, connection kept (no body) */
	creq(&c, "GET", "/t/x", NULL, NULL);
	r = EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	CHECK(has_hdr(r, "WWW-Authenticate", "Basic realm=\"loom\""));
	CHECK_ERROR_BODY(r);
	CHECK(hval(r, "Connection") == NULL);
	creq(&c, "GET", "/metrics", NULL, NULL);
	EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 0);

	/* the right ones, many times: one slow hash in all */
	creq(&c, "POST", "/t/", good, "{\"id\":\"a0\"}");
	serve();
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/a0"));
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 1);
	for (int i = 1; i <= 20; i++) {
		char body[64], path[32];
		snprintf(body, sizeof body, "{\"id\":\"a%d\"}", i);
		snprintf(path, sizeof path, "/t/a%d", i);
		creq(&c, "POST", "/t/", good, body);
		serve();
		EXPECT(&c, "HTTP/1.1 201 Created");
		creq(&c, "GET", path, good, NULL);
		r = EXPECT(&c, "HTTP/1.1 200 OK");
		CHECK(strcmp(r->body, body) == 0);
	}
	creq(&c, "GET", "/metrics", good, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 1);
	CHECK_EQ_U64(ac[3], 0); /* missing credentials are not failures */
	CHECK(ac[1] >= 40);

	/* a wrong password: 401, one more hash, then cached */
	creq(&c, "GET", "/t/a1", bad, NULL);
	r = EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	CHECK(has_hdr(r, "WWW-Authenticate", "Basic realm=\"loom\""));
	creq(&c, "GET", "/t/a1", bad, NULL);
	EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 2);
	CHECK_EQ_U64(ac[3], 2);
	/* another scheme, an unknown user */
	creq(&c, "GET", "/t/a1", "Authorization: Bearer abc\r\n", NULL);
	EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	char unk[256];
	fmt_auth(unk, sizeof unk, "mallory:s3cret:with:colons");
	creq(&c, "GET", "/t/a1", unk, NULL);
	EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	/* still fine with the right ones; nothing written without them */
	creq(&c, "GET", "/t/a1", good, NULL);
	EXPECT(&c, "HTTP/1.1 200 OK");
	NO_MORE(&c);
	CHECK_EQ_U64(c.app.peer_closed, 0);
	CHECK_EQ_U64(F.submits, 21);
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 3); /* the unknown user's dummy hash */
	CHECK_EQ_U64(ac[3], 4);

	/* a write without credentials: 401, and closed (body unread) */
	creq(&c, "POST", "/t/", NULL, "{\"id\":\"nope\"}");
	r = EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	CHECK(has_hdr(r, "Connection", "close"));
	CHECK_EQ_U64(c.app.peer_closed, 1);
	cfree(&c);
	/* a pipelined write with wrong credentials behind a good one */
	cconnect(&c);
	char buf[2048];
	size_t n = fmt_req(buf, sizeof buf, "POST", "/t/", good,
	                   "{\"id\":\"b1\"}");
	n += fmt_req(buf + n, sizeof buf - n, "POST", "/t/", bad,
	             "{\"id\":\"b2\"}");
	csend(&c, buf, n);
	serve();
	EXPECT(&c, "HTTP/1.1 201 Created");
	EXPECT(&c, "HTTP/1.1 401 Unauthorized");
	NO_MORE(&c);
	cfree(&c);
	CHECK_EQ_U64(F.submits, 22);
	teardown();
}

/* The verifier thread's work, then the verdicts back on the lcore. */
static void verify_jobs(void)
{
	for (unsigned i = 0; i < F.aqn; i++) {
		auth_job_verify(F.aq[i]);
		rest_auth_done(F.srv, F.aq[i]);
	}
	F.aqn = 0;
}

/* Deferred hashing: requests with an unseen credential wait parked (no
 * answer, the lcore not stalled) until the verifier's verdict is back. */
static void test_auth_deferred(void)
{
	static struct loom_user user;
	memset(&user, 0, sizeof user);
	snprintf(user.name, sizeof user.name, "alice");
	user.iterations = 1000;
	user.salt_len = 16;
	for (unsigned i = 0; i < user.salt_len; i++)
		user.salt[i] = (uint8_t)(0x40 + i);
	const char *pw = "pw";
	CHECK(auth_hash_password(pw, strlen(pw), user.salt, user.salt_len,
	                         user.iterations, user.hash) == 0);
	opt_defer_auth = true;
	if (!setup(LOOM_AUTH_BASIC, &user, 1))
		return;
	uint64_t ac[4];
	struct client c[3];
	char good[256], bad[256], other[256];
	fmt_auth(good, sizeof good, "alice:pw");
	fmt_auth(bad, sizeof bad, "alice:nope");
	fmt_auth(other, sizeof other, "alice:other");
	for (int i = 0; i < 3; i++)
		cconnect(&c[i]);

	/* Three connections, one new credential: one job, nobody answered
	 * and nothing hashed on the lcore while it is out. */
	for (int i = 0; i < 3; i++) {
		char body[32];
		snprintf(body, sizeof body, "{\"id\":\"d%d\"}", i);
		creq(&c[i], "POST", "/t/", good, body);
	}
	creq(&c[0], "GET", "/health", NULL, NULL); /* queued behind */
	advance(50);
	CHECK_EQ_U64(F.auth_submits, 1);
	CHECK_EQ_U64(F.submits, 0);
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 0);
	for (int i = 0; i < 3; i++)
		NO_MORE(&c[i]);
	verify_jobs();
	advance(20);
	for (int i = 0; i < 3; i++)
		EXPECT(&c[i], "HTTP/1.1 201 Created");
	EXPECT(&c[0], "HTTP/1.1 200 OK");
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 1);
	/* cached now: no more jobs */
	creq(&c[1], "GET", "/t/d1", good, NULL);
	advance(20);
	EXPECT(&c[1], "HTTP/1.1 200 OK");
	CHECK_EQ_U64(F.auth_submits, 1);

	/* A wrong password: one job, then 401, then 401 from the cache. */
	creq(&c[2], "GET", "/t/d2", bad, NULL);
	advance(20);
	NO_MORE(&c[2]);
	verify_jobs();
	advance(20);
	EXPECT(&c[2], "HTTP/1.1 401 Unauthorized");
	creq(&c[2], "GET", "/t/d2", bad, NULL);
	advance(20);
	EXPECT(&c[2], "HTTP/1.1 401 Unauthorized");
	CHECK_EQ_U64(F.auth_submits, 2);

	/* A verifier that never answers: 503 after backpressure_ms. */
	creq(&c[0], "GET", "/t/d0", other, NULL);
	advance(BP_MS + 200);
	struct resp *r = EXPECT(&c[0], "HTTP/1.1 503 Service Unavailable");
	CHECK(has_hdr(r, "Connection", "close"));
	verify_jobs(); /* late verdict: cached, harmless */
	advance(20);
	rest_auth_counters(F.srv, ac);
	CHECK_EQ_U64(ac[2], 3);
	for (int i = 0; i < 3; i++)
		cfree(&c[i]);
	teardown();
}

/* X-Replicate-To: confirm=K waits for K peers after the local commit,
 * then answers as usual, or 504 at its timeout; the write stands. */
static void test_replicate_to(void)
{
	opt_n_peers = 2;
	if (!setup(LOOM_AUTH_NONE, NULL, 0))
		return;
	struct client c;
	struct resp *r;
	cconnect(&c);
	fake_confirmed = 0;

	/* Bad headers: 400 before anything is written. */
	creq(&c, "POST", "/t/", "X-Replicate-To: confirm=3\r\n",
	     "{\"id\":\"x\"}");
	r = EXPECT(&c, "HTTP/1.1 400 Bad Request");
	CHECK_ERROR_BODY(r);
	cfree(&c);
	cconnect(&c);
	creq(&c, "PUT", "/t/x", "X-Replicate-To: copies=1\r\n", "{}");
	EXPECT(&c, "HTTP/1.1 400 Bad Request");
	cfree(&c);
	CHECK_EQ_U64(F.submits, 0);

	/* Waits for two peers: nothing after the commit with one... */
	cconnect(&c);
	creq(&c, "POST", "/t/", "X-Replicate-To: confirm=2\r\n",
	     "{\"id\":\"a\"}");
	creq(&c, "GET", "/health", NULL, NULL); /* pipelined behind it */
	advance(50);
	CHECK_EQ_U64(F.submits, 1);
	NO_MORE(&c);
	CHECK(fake_confirm_seq >= 1);
	fake_confirmed = 1;
	advance(50);
	NO_MORE(&c);
	/* ...then the usual 201 once two have it, and the next request. */
	fake_confirmed = 2;
	advance(20);
	r = EXPECT(&c, "HTTP/1.1 201 Created");
	CHECK(has_hdr(r, "Location", "/t/a"));
	EXPECT(&c, "HTTP/1.1 200 OK");

	/* Not enough in time: 504 naming the id and the count; committed. */
	fake_confirmed = 1;
	creq(&c, "PUT", "/t/b", "X-Replicate-To: confirm=2; timeout_ms=200\r\n",
	     "{\"v\":1}");
	advance(100);
	NO_MORE(&c);
	advance(200);
	r = EXPECT(&c, "HTTP/1.1 504 Gateway Timeout");
	CHECK_STR_CONTAINS(r->body, "\"id\":\"b\"");
	CHECK_STR_CONTAINS(r->body, "\"confirmed\":1");
	CHECK_STR_CONTAINS(r->body, "committed on this node");
	creq(&c, "GET", "/t/b", NULL, NULL);
	advance(20);
	EXPECT(&c, "HTTP/1.1 200 OK");
	/* The default timeout (400 ms here) applies without timeout_ms. */
	creq(&c, "DELETE", "/t/b", "X-Replicate-To: confirm=2\r\n", NULL);
	advance(300);
	NO_MORE(&c);
	advance(200);
	EXPECT(&c, "HTTP/1.1 504 Gateway Timeout");
	/* A client that leaves while its write waits: buffers come back. */
	creq(&c, "POST", "/t/", "X-Replicate-To: confirm=1\r\n",
	     "{\"id\":\"c\"}");
	fake_confirmed = 0;
	advance(50);
	cfree(&c);
	advance(50);
	const struct rest_stats *st = rest_stats(F.srv);
	CHECK_EQ_U64(st->confirms_met, 1);
	CHECK_EQ_U64(st->confirms_timed_out, 2);
	CHECK_EQ_U64(st->confirms_waited, 4);
	teardown();
}

int main(void)
{
	test_crud();
	test_health_metrics();
	test_split();
	test_pipeline();
	test_pipeline_errors_in_order();
	test_chunked_expect();
	test_errors();
	test_head_errors();
	test_ignored_body();
	test_connection_close();
	test_orphan();
	test_read_your_writes();
	test_backpressure();
	test_timeouts();
	test_big_answers();
	test_fin_midway();
	test_refused_conns();
	test_no_store();
	test_storage_results();
	test_auth_basic();
	test_auth_deferred();
	test_replicate_to();
	CHECK_DONE();
}

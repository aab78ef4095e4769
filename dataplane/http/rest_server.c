#include "dataplane/http/rest_server.h"

#include <stdio.h>
#include <string.h>

#include "dataplane/http/auth.h"
#include "dataplane/http/http_chunked.h"
#include "dataplane/http/http_response.h"
#include "dataplane/http/json_validate.h"
#include "dataplane/http/rest_route.h"
#include "dataplane/http/uuid.h"

const uint32_t rest_lat_bounds_us[REST_LAT_BUCKETS - 1] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000,
};

/* data[] layout of a write: table NUL, key area (REST_ID_MAX), room for an
 * inserted id member (REST_ID_MAX + 16), then the body as received. */
#define KEY_AREA REST_ID_MAX
#define ID_ROOM (REST_ID_MAX + 16)
#define WREQ_F_CLOSE 0x01

#define SWEEP_PERIOD_US 100000u
#define MAX_HDRS 256
#define RESP_SMALL 1024 /* heads, errors, write answers */

enum phase {
	PH_HEAD,    /* waiting for / parsing a request head */
	PH_BODY,    /* copying a write's body into c->req */
	PH_SUBMIT,  /* c->req complete, storage ring was full */
	PH_HELD,    /* c->req holds a refusal's rendered answer (status in
	               result) until the writes before it are answered */
	PH_CONFIRM, /* a committed write waits for its peers (confirm=K) */
	PH_CLOSING, /* answer what is pending, then close */
	PH_CLOSED,  /* tcp_close() called; on_closed will follow */
};

struct rest_conn {
	struct tcp_conn *tc; /* NULL: slot free */
	struct rest_server *srv;
	struct rest_conn *next_parked;
	struct rest_conn *next_confirm;
	struct write_req *held;   /* PH_CONFIRM: the committed write */
	uint64_t confirm_deadline_us;
	uint32_t confirm_ms;      /* of the write being submitted */
	bool on_confirm_list;
	struct write_req *req;        /* the write being read or submitted */
	struct write_req *outq, *outq_tail; /* answers waiting for space */
	uint64_t started_us; /* first byte of the current request; 0 = none */
	uint64_t last_us;    /* last progress either way */
	uint64_t parked_us;  /* since when it waits for a buffer/ring; 0 = not */
	struct http_chunked ch;
	uint64_t body_need;  /* Content-Length; UINT64_MAX when chunked */
	uint64_t body_got;
	uint32_t slot, gen;
	uint16_t inflight;
	uint8_t phase;
	bool parked;
	bool peer_fin;
	bool chunked;
};

struct rest_server {
	struct rest_config cfg;
	struct tcp_stack *tcp;
	struct net_ctx *net;
	struct store *store;
	struct store_reader reader;
	bool have_reader;
	struct rest_ops ops;
	struct tcp_alloc alloc;
	struct rest_conn *conns;
	uint32_t *free_slots;
	uint32_t n_free;
	uint32_t n_conns;
	struct rest_conn *parked; /* singly linked */
	struct rest_conn *confirming; /* singly linked, PH_CONFIRM */
	uint64_t next_sweep_us;
	struct uuid_gen uuid;
	struct auth_ctx auth;
	struct auth_job jobs[AUTH_OUTSTANDING_MAX];
	struct auth_job *free_jobs[AUTH_OUTSTANDING_MAX];
	unsigned n_free_jobs;
	struct rest_stats st;
	struct http_header hdrs[MAX_HDRS];
	char *scratch; /* max_header_bytes: a head that wraps the ring */
};

static void conn_pump(struct rest_conn *c);

enum rest_status_idx rest_status_index(int status)
{
	switch (status) {
#define REST_STATUS_CASE(code)                                               \
	case code:                                                           \
		return REST_ST_##code;
		REST_STATUS_LIST(REST_STATUS_CASE)
#undef REST_STATUS_CASE
	default:
		return REST_ST_OTHER;
	}
}

int rest_status_code(enum rest_status_idx i)
{
	static const int codes[] = {
#define REST_STATUS_CODE(code) code,
		REST_STATUS_LIST(REST_STATUS_CODE)
#undef REST_STATUS_CODE
	};
	return i < REST_ST_OTHER ? codes[i] : 0;
}

static inline uint64_t now_us(const struct rest_server *s)
{
	return s->net->now_us;
}

/* --- output: in order, through the send buffer or the queue -------------- */

static void out_free_all(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	while (c->outq != NULL) {
		struct write_req *r = c->outq;
		c->outq = r->next;
		s->ops.req_free(s->ops.user, r);
	}
	c->outq_tail = NULL;
}

/* Send queued answers. True when the queue is empty. */
static bool out_flush(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	while (c->outq != NULL) {
		struct write_req *r = c->outq;
		size_t left = r->body_len - r->body_off;
		size_t n = tcp_send(c->tc, r->data + r->body_off, left);
		s->st.bytes_out += n;
		r->body_off += (uint32_t)n;
		if (n < left)
			return false;
		if (n > 0)
			c->last_us = now_us(s);
		c->outq = r->next;
		if (c->outq == NULL)
			c->outq_tail = NULL;
		s->ops.req_free(s->ops.user, r);
	}
	return true;
}

/*
 * Send p[0, n) after everything already queued. What the send buffer does
 * not take goes into `spare` (a buffer the caller is done with) if it fits,
 * else into a fresh pool buffer. false when there was nowhere to put it;
 * spare is the caller's again in that case.
 */
static bool out_send(struct rest_conn *c, const void *p, size_t n,
                     struct write_req *spare)
{
	struct rest_server *s = c->srv;
	if (c->outq == NULL) {
		size_t k = tcp_send(c->tc, p, n);
		s->st.bytes_out += k;
		p = (const char *)p + k;
		n -= k;
		if (n == 0) {
			if (spare != NULL)
				s->ops.req_free(s->ops.user, spare);
			return true;
		}
	}
	struct write_req *r = spare;
	if (r == NULL || r->cap < n) {
		r = s->ops.req_alloc(s->ops.user, n);
		if (r == NULL)
			return false;
		if (spare != NULL)
			s->ops.req_free(s->ops.user, spare);
	}
	memmove(r->data, p, n);
	r->body_off = 0;
	r->body_len = (uint32_t)n;
	r->next = NULL;
	if (c->outq_tail != NULL)
		c->outq_tail->next = r;
	else
		c->outq = r;
	c->outq_tail = r;
	return true;
}

static void count_status(struct rest_server *s, int status)
{
	s->st.status[rest_status_index(status)]++;
}

/* Answer with a small response built on the stack. The connection closes
 * after it when `close`. If even the queue has no room the connection is
 * aborted (it then no longer exists: callers return at once). */
static void answer(struct rest_conn *c, int status, const char *buf,
                   size_t len, bool close)
{
	struct rest_server *s = c->srv;
	count_status(s, status);
	if (close)
		c->phase = PH_CLOSING;
	if (len == 0 || !out_send(c, buf, len, NULL)) {
		s->st.aborted++;
		tcp_abort(c->tc);
	}
}

static void answer_error(struct rest_conn *c, int status, const char *msg,
                         bool close)
{
	char buf[RESP_SMALL];
	size_t n = http_resp_error(buf, sizeof buf, status, msg, close);
	answer(c, status, buf, n, close);
}

/* The length of the head alone: the answer to a HEAD carries no body
 * (RFC 9110 9.3.2), errors included. */
static size_t head_only(const char *buf, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return len;
}

/*
 * The request whose body is in c->req is refused. Its answer must not
 * overtake those of the writes still in flight before it, so with any in
 * flight it is rendered into c->req and held (PH_HELD) until conn_pump
 * sees them all answered.
 */
static void body_refuse(struct rest_conn *c, int status, const char *msg,
                        bool close)
{
	struct rest_server *s = c->srv;
	struct write_req *r = c->req;
	c->started_us = 0;
	if (c->inflight == 0) {
		s->ops.req_free(s->ops.user, r);
		c->req = NULL;
		c->phase = PH_HEAD;
		answer_error(c, status, msg, close);
		return;
	}
	size_t n = http_resp_error(r->data, r->cap, status, msg, close);
	r->result = status;
	r->body_off = 0;
	r->body_len = (uint32_t)n;
	r->flags = close ? WREQ_F_CLOSE : 0;
	c->phase = PH_HELD;
}

/* --- deferred credential checks ---------------------------------------- */

/* Hand the credential to the verifier unless it is already there; with
 * every job slot busy the request just waits for one to come back. */
static void auth_defer(struct rest_server *s, struct http_span authorization)
{
	if (s->n_free_jobs == 0)
		return;
	struct auth_job *j = s->free_jobs[s->n_free_jobs - 1];
	if (!auth_job_take(&s->auth, authorization, j))
		return;
	j->owner = s->cfg.io_index;
	if (s->ops.auth_submit(s->ops.user, j) != 0) {
		auth_job_cancel(&s->auth, j);
		memset(j->token, 0, sizeof j->token);
		return;
	}
	s->n_free_jobs--;
}

/* --- parking (back-pressure) ---------------------------------------------- */

static void park(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	if (c->parked_us == 0) {
		c->parked_us = now_us(s);
		s->st.backpressure_waits++;
	}
	if (!c->parked) {
		c->parked = true;
		c->next_parked = s->parked;
		s->parked = c;
	}
}

static void unpark_all(struct rest_server *s)
{
	struct rest_conn *list = s->parked;
	s->parked = NULL;
	while (list != NULL) {
		struct rest_conn *c = list;
		list = c->next_parked;
		c->parked = false;
		c->next_parked = NULL;
		if (c->tc == NULL)
			continue;
		/* Not while writes before it are in flight: their answers
		 * go first (until then it keeps waiting here). */
		if (c->parked_us != 0 && c->inflight == 0 &&
		    now_us(s) - c->parked_us >
		            (uint64_t)s->cfg.backpressure_ms * 1000u) {
			s->st.backpressure_503++;
			if (c->req != NULL) {
				s->ops.req_free(s->ops.user, c->req);
				c->req = NULL;
			}
			c->parked_us = 0;
			answer_error(c, 503, "storage is busy; retry", true);
			if (c->tc != NULL && c->phase != PH_CLOSED)
				conn_pump(c);
			continue;
		}
		conn_pump(c);
	}
}

/* --- writes ------------------------------------------------------------- */

static bool submit(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	struct write_req *r = c->req;
	r->submit_us = now_us(s);
	/* Once submitted, r belongs to the storage lcore: read it first. */
	bool close = (r->flags & WREQ_F_CLOSE) != 0;
	if (s->ops.submit(s->ops.user, r) != 0) {
		c->phase = PH_SUBMIT;
		park(c);
		return false;
	}
	c->req = NULL;
	c->inflight++;
	c->parked_us = 0;
	c->started_us = 0;
	/* Connection: close: read no further request; answer, then close. */
	c->phase = close ? PH_CLOSING : PH_HEAD;
	s->st.writes_submitted++;
	return true;
}

/* The body is in; check it, settle the id, submit. */
static void body_done(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	struct write_req *r = c->req;
	char *raw = r->data + r->body_off;
	size_t len = r->body_len;
	struct json_result jr;
	char msg[128];
	bool close = (r->flags & WREQ_F_CLOSE) != 0;
	if (json_validate_object(raw, len, 0, &jr) != JSON_OK) {
		snprintf(msg, sizeof msg, "body is not one JSON object: %s at "
		         "byte %zu", json_err_str(jr.err), jr.offset);
		goto bad;
	}
	char *key = r->data + r->table_len + 1;
	if (jr.id_present) {
		if (jr.id_escaped || !rest_id_valid(jr.id, jr.id_len)) {
			snprintf(msg, sizeof msg, "\"id\" must be 1-255 characters "
			         "of [A-Za-z0-9-._~!$&'()*+,;=:@] without escapes");
			goto bad;
		}
		if (r->op == WRITE_PUT &&
		    (jr.id_len != r->key_len ||
		     memcmp(jr.id, key, r->key_len) != 0)) {
			snprintf(msg, sizeof msg,
			         "the body's \"id\" differs from the URL's");
			goto bad;
		}
		if (r->op == WRITE_POST) {
			memcpy(key, jr.id, jr.id_len);
			r->key_len = (uint16_t)jr.id_len;
		}
	} else {
		if (r->op == WRITE_POST) {
			uuid_v4(&s->uuid, key);
			r->key_len = UUID_STR_LEN;
			s->st.ids_generated++;
		}
		size_t nl;
		char *nb = rest_insert_id(raw, len, ID_ROOM, key, r->key_len,
		                          &nl);
		if (nb == NULL) {
			snprintf(msg, sizeof msg, "cannot place the id");
			goto bad;
		}
		r->body_off = (uint32_t)(nb - r->data);
		r->body_len = (uint32_t)nl;
	}
	submit(c);
	return;
bad:
	body_refuse(c, 400, msg, close);
}

struct chunk_sink {
	struct write_req *r;
	size_t limit;
};

static int chunk_append(void *arg, const uint8_t *p, size_t n)
{
	struct chunk_sink *k = arg;
	if (k->r->body_len + n > k->limit)
		return 413;
	memcpy(k->r->data + k->r->body_off + k->r->body_len, p, n);
	k->r->body_len += (uint32_t)n;
	return 0;
}

/* Copy what arrived of the body. Returns true when the phase moved on. */
static bool body_read(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	struct write_req *r = c->req;
	const uint8_t *p[2];
	size_t l[2];
	if (tcp_recv_peek(c->tc, &p[0], &l[0], &p[1], &l[1]) == 0) {
		if (c->peer_fin) {
			/* The client stopped mid-body: nothing to answer. */
			s->ops.req_free(s->ops.user, r);
			c->req = NULL;
			c->phase = PH_CLOSING;
			return true;
		}
		return false;
	}
	c->last_us = now_us(s);
	if (!c->chunked) {
		size_t got = 0;
		for (int i = 0; i < 2 && c->body_got < c->body_need; i++) {
			size_t n = l[i];
			if (n > c->body_need - c->body_got)
				n = (size_t)(c->body_need - c->body_got);
			memcpy(r->data + r->body_off + c->body_got, p[i], n);
			c->body_got += n;
			got += n;
		}
		tcp_recv_consume(c->tc, got);
		s->st.bytes_in += got;
		if (c->body_got < c->body_need)
			return false;
		r->body_len = (uint32_t)c->body_need;
		body_done(c);
		return true;
	}
	struct chunk_sink sink = {r, r->cap - r->body_off};
	for (int i = 0; i < 2 && l[i] > 0; i++) {
		size_t used = 0;
		enum http_chunked_status st = http_chunked_feed(
			&c->ch, p[i], l[i], &used, chunk_append, &sink);
		tcp_recv_consume(c->tc, used);
		s->st.bytes_in += used;
		if (st == HTTP_CHUNKED_DONE) {
			body_done(c);
			return true;
		}
		if (st == HTTP_CHUNKED_ERROR) {
			body_refuse(c, c->ch.status,
			            c->ch.status == 413
			            ? "body larger than max_body"
			            : "malformed chunked body", true);
			return true;
		}
	}
	return false;
}

/* Consume the head of a request that has no body we will read. */
static void head_done(struct rest_conn *c, const struct http_request *req)
{
	tcp_recv_consume(c->tc, req->header_bytes);
	c->srv->st.bytes_in += req->header_bytes;
	c->started_us = 0;
}

/* A request refused before its body was read: answer and, if it has a
 * body, close (we will not read it to find the next request). */
static void refuse(struct rest_conn *c, const struct http_request *req,
                   int status, const char *msg)
{
	bool body = req->chunked || req->content_length > 0;
	bool close = body || !req->keep_alive;
	head_done(c, req);
	char buf[RESP_SMALL];
	size_t n = http_resp_error(buf, sizeof buf, status, msg, close);
	if (req->method == HTTP_M_HEAD)
		n = head_only(buf, n);
	answer(c, status, buf, n, close);
}

static int parse_replicate_to(struct http_span v, uint16_t n_peers,
                              uint8_t *k, uint32_t *ms, const char **why);

static bool start_write(struct rest_conn *c, const struct http_request *req,
                        const struct rest_route *rt, enum write_op op)
{
	struct rest_server *s = c->srv;
	bool has_body = op != WRITE_DELETE;
	if (has_body && !req->content_type_json) {
		refuse(c, req, 415, "Content-Type must be application/json");
		return true;
	}
	uint8_t confirm = 0;
	uint32_t confirm_ms = s->cfg.confirm_timeout_ms;
	const char *why;
	uint16_t n_peers = s->ops.peers != NULL
	                   ? (uint16_t)s->ops.peers(s->ops.user)
	                   : s->cfg.n_peers;
	if (req->x_replicate_to.p != NULL &&
	    parse_replicate_to(req->x_replicate_to, n_peers, &confirm,
	                       &confirm_ms, &why) != 0) {
		refuse(c, req, 400, why);
		return true;
	}
	size_t fixed = rt->table.len + 1 + KEY_AREA + ID_ROOM;
	size_t need;
	if (!has_body)
		need = rt->table.len + 1 + rt->id.len;
	else if (req->chunked)
		need = s->cfg.large_data;
	else
		need = fixed + req->content_length;
	if (need > s->cfg.large_data) {
		if (c->inflight > 0)
			return false; /* answered after the writes before it */
		refuse(c, req, 413, "body larger than max_body");
		return true;
	}
	struct write_req *r = s->ops.req_alloc(s->ops.user, need);
	if (r == NULL) {
		park(c);
		return false;
	}
	if (req->expect_100_continue && !req->chunked &&
	    req->content_length > 0) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (!out_send(c, cont, sizeof cont - 1, NULL)) {
			s->ops.req_free(s->ops.user, r);
			park(c);
			return false;
		}
		s->st.continues++;
	}
	c->parked_us = 0;
	r->op = (uint8_t)op;
	r->io_index = s->cfg.io_index;
	r->flags = req->keep_alive ? 0 : WREQ_F_CLOSE;
	r->confirm = confirm;
	c->confirm_ms = confirm_ms;
	r->table_len = (uint16_t)rt->table.len;
	memcpy(r->data, rt->table.p, rt->table.len);
	r->data[rt->table.len] = '\0';
	r->key_len = (uint16_t)rt->id.len;
	if (rt->id.len > 0)
		memcpy(r->data + rt->table.len + 1, rt->id.p, rt->id.len);
	r->body_off = (uint32_t)(has_body ? fixed
	                                  : rt->table.len + 1 + rt->id.len);
	r->body_len = 0;
	r->conn_slot = c->slot;
	r->conn_gen = c->gen;
	r->next = NULL;
	c->req = r;
	head_done(c, req);
	if (!has_body) {
		submit(c);
		return true;
	}
	if (c->started_us == 0)
		c->started_us = now_us(s);
	c->chunked = req->chunked;
	c->body_got = 0;
	c->body_need = req->chunked ? UINT64_MAX : req->content_length;
	if (req->chunked)
		http_chunked_init(&c->ch, s->cfg.limits.max_body);
	c->phase = PH_BODY;
	if (!req->chunked && req->content_length == 0)
		body_done(c);
	return true;
}

/* --- reads -------------------------------------------------------------- */

/* Send head + body as one answer; false (nothing consumed) when neither
 * the send buffer nor a pool buffer can take it now. */
static bool answer_body(struct rest_conn *c, int status, const char *head,
                        size_t hl, const void *body, size_t bl, bool close)
{
	struct rest_server *s = c->srv;
	if (c->outq == NULL && tcp_send_space(c->tc) >= hl + bl) {
		tcp_send(c->tc, head, hl);
		tcp_send(c->tc, body, bl);
		s->st.bytes_out += hl + bl;
	} else {
		struct write_req *r = s->ops.req_alloc(s->ops.user, hl + bl);
		if (r == NULL)
			return false;
		memcpy(r->data, head, hl);
		memcpy(r->data + hl, body, bl);
		r->body_off = 0;
		r->body_len = (uint32_t)(hl + bl);
		r->next = NULL;
		if (c->outq_tail != NULL)
			c->outq_tail->next = r;
		else
			c->outq = r;
		c->outq_tail = r;
		out_flush(c);
	}
	count_status(s, status);
	if (close)
		c->phase = PH_CLOSING;
	return true;
}

static bool do_get(struct rest_conn *c, const struct http_request *req,
                   const struct rest_route *rt)
{
	struct rest_server *s = c->srv;
	if (s->store == NULL) {
		refuse(c, req, 503, "no storage");
		return true;
	}
	if (!s->reader.active && store_read_begin(&s->reader) != 0) {
		refuse(c, req, 500, "cannot open a read transaction");
		return true;
	}
	char table[REST_TABLE_MAX + 1];
	memcpy(table, rt->table.p, rt->table.len);
	table[rt->table.len] = '\0';
	struct store_record rec;
	int rc = store_get(&s->reader, table, rt->id.p, rt->id.len, &rec);
	if (rc == ENOENT || (rc == 0 && rec.tombstone)) {
		refuse(c, req, 404, "no such record");
		return true;
	}
	if (rc != 0) {
		refuse(c, req, 500, "read failed");
		return true;
	}
	char etag[REST_ETAG_MAX];
	size_t el = rest_etag(rec.version, etag);
	char extra[64];
	struct http_out x = {extra, 0, sizeof extra - 1, false};
	hout_str(&x, "ETag: ");
	hout_mem(&x, etag, el);
	hout_mem(&x, "\r\n", 2);
	extra[x.len] = '\0';
	bool close = !req->keep_alive;
	char head[RESP_SMALL];
	if (rest_etag_matches(req->if_none_match, etag, el)) {
		size_t hl = http_resp_head(head, sizeof head, 304, NULL,
		                           HTTP_NO_LENGTH, close, extra);
		if (!answer_body(c, 304, head, hl, NULL, 0, close))
			goto wait;
		head_done(c, req);
		return true;
	}
	size_t hl = http_resp_head(head, sizeof head, 200, "application/json",
	                           rec.body_len, close, extra);
	bool head_only = req->method == HTTP_M_HEAD;
	if (!answer_body(c, 200, head, hl, rec.body, head_only ? 0 : rec.body_len,
	                 close))
		goto wait;
	head_done(c, req);
	return true;
wait:
	park(c);
	return false;
}

static bool do_metrics(struct rest_conn *c, const struct http_request *req)
{
	struct rest_server *s = c->srv;
	struct write_req *r = s->ops.req_alloc(s->ops.user, s->cfg.large_data);
	if (r == NULL) {
		park(c);
		return false;
	}
	size_t cap = r->cap > 512 ? r->cap - 512 : 0;
	struct store_reader *rd = NULL;
	if (s->have_reader &&
	    (s->reader.active || store_read_begin(&s->reader) == 0))
		rd = &s->reader;
	size_t bl = s->ops.metrics != NULL
		? s->ops.metrics(s->ops.user, rd, r->data + 512, cap) : 0;
	bool close = !req->keep_alive;
	char head[512];
	size_t hl = http_resp_head(head, sizeof head, 200,
	                           "text/plain; version=0.0.4", bl, close, NULL);
	/* Put the head right before the body inside the same buffer. */
	memcpy(r->data + 512 - hl, head, hl);
	memmove(r->data, r->data + 512 - hl, hl + bl);
	r->body_off = 0;
	r->body_len = (uint32_t)(hl + (req->method == HTTP_M_HEAD ? 0 : bl));
	r->next = NULL;
	if (c->outq_tail != NULL)
		c->outq_tail->next = r;
	else
		c->outq = r;
	c->outq_tail = r;
	count_status(s, 200);
	head_done(c, req);
	if (close)
		c->phase = PH_CLOSING;
	out_flush(c);
	return true;
}

/* --- requests ----------------------------------------------------------- */

static void count_method(struct rest_server *s, enum http_method m)
{
	switch (m) {
	case HTTP_M_GET: s->st.req_get++; break;
	case HTTP_M_POST: s->st.req_post++; break;
	case HTTP_M_PUT: s->st.req_put++; break;
	case HTTP_M_DELETE: s->st.req_delete++; break;
	case HTTP_M_HEAD: s->st.req_head++; break;
	default: s->st.req_other++; break;
	}
}

static void refuse_method(struct rest_conn *c, const struct http_request *req,
                          const char *allow)
{
	char msg[96];
	snprintf(msg, sizeof msg, "method not allowed here; allowed: %s",
	         allow);
	bool body = req->chunked || req->content_length > 0;
	head_done(c, req);
	char buf[RESP_SMALL];
	char extra[64];
	snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
	char b[160];
	int bl = snprintf(b, sizeof b, "{\"error\":\"%s\"}", msg);
	bool close = body || !req->keep_alive;
	size_t hl = http_resp_head(buf, sizeof buf, 405, "application/json",
	                           (size_t)bl, close, extra);
	if (hl != 0 && hl + (size_t)bl <= sizeof buf)
		memcpy(buf + hl, b, (size_t)bl);
	size_t n = hl == 0 ? 0
	         : req->method == HTTP_M_HEAD ? hl : hl + (size_t)bl;
	answer(c, 405, buf, n, close);
}

/* X-Replicate-To: confirm=K [; timeout_ms=T] (also ',' between the two).
 * 0 and *k, *ms set; or -1 (400) with *why. */
static int parse_replicate_to(struct http_span v, uint16_t n_peers,
                              uint8_t *k, uint32_t *ms, const char **why)
{
	const char *p = v.p, *end = v.p + v.len;
	bool have_k = false;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ';' ||
		                   *p == ','))
			p++;
		const char *name = p;
		while (p < end && *p != '=')
			p++;
		size_t nl = (size_t)(p - name);
		if (p == end) {
			*why = "X-Replicate-To: expected confirm=K";
			return -1;
		}
		p++;
		uint64_t val = 0;
		const char *d = p;
		while (p < end && *p >= '0' && *p <= '9' && val < 1000000000u)
			val = val * 10 + (uint64_t)(*p++ - '0');
		if (p == d || (p < end && *p != ';' && *p != ',' && *p != ' ' &&
		               *p != '\t')) {
			*why = "X-Replicate-To: a value is not a number";
			return -1;
		}
		if (nl == 7 && memcmp(name, "confirm", 7) == 0) {
			if (val < 1 || val > n_peers) {
				*why = n_peers == 0
					? "X-Replicate-To: this node has no peers"
					: "X-Replicate-To: confirm=K needs 1 <= K <= "
					  "the number of peers";
				return -1;
			}
			*k = (uint8_t)val;
			have_k = true;
		} else if (nl == 10 && memcmp(name, "timeout_ms", 10) == 0) {
			if (val < 1 || val > 600000) {
				*why = "X-Replicate-To: timeout_ms must be "
				       "1..600000";
				return -1;
			}
			*ms = (uint32_t)val;
		} else {
			*why = "X-Replicate-To: unknown parameter (confirm, "
			       "timeout_ms)";
			return -1;
		}
	}
	if (!have_k) {
		*why = "X-Replicate-To: expected confirm=K";
		return -1;
	}
	return 0;
}

/* Route one parsed request. false: it must wait (nothing consumed). */
static bool dispatch(struct rest_conn *c, const struct http_request *req)
{
	struct rest_server *s = c->srv;
	struct rest_route rt;
	rest_route_parse(req->path, &rt);
	/* Only a write bound for storage may pass writes in flight: any
	 * answer given here would overtake theirs. */
	bool pipelinable = req->method == HTTP_M_POST &&
	                   !req->expect_100_continue &&
	                   req->x_replicate_to.p == NULL &&
	                   rt.kind == ROUTE_TABLE && req->content_type_json;
	if (c->inflight > 0 &&
	    (!pipelinable || c->inflight >= s->cfg.max_inflight))
		return false; /* a completion will pump us again */
	/* Cheap after the first time: auth caches verified credentials. */
	enum auth_result ar = rt.kind == ROUTE_HEALTH
		? AUTH_OK : auth_check(&s->auth, req->authorization);
	if (ar == AUTH_PENDING) {
		/* An unseen credential: its slow hash runs on the verifier
		 * thread; the request waits parked and is retried until the
		 * verdict is cached (or backpressure_ms runs out). */
		auth_defer(s, req->authorization);
		park(c);
		return false;
	}
	if (ar != AUTH_OK && c->inflight > 0)
		return false; /* its 401 goes after the writes before it */
	/* A body the handler will not read (GET, HEAD, DELETE, ...) is not
	 * skipped: answer, then close, so it is never taken for the next
	 * request. (Refusals close on a body by themselves.) */
	struct http_request no_keep;
	if ((req->chunked || req->content_length > 0) &&
	    req->method != HTTP_M_POST && req->method != HTTP_M_PUT) {
		no_keep = *req;
		no_keep.keep_alive = false;
		req = &no_keep;
	}
	if (c->parked_us == 0) {
		s->st.requests++;
		count_method(s, req->method);
	}
	bool get = req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;

	if (rt.kind == ROUTE_HEALTH) {
		s->st.req_health++;
		if (!get) {
			refuse_method(c, req, "GET, HEAD");
			return true;
		}
		char body[64], head[RESP_SMALL];
		struct http_out b = {body, 0, sizeof body, false};
		hout_str(&b, "{\"status\":\"ok\",\"node\":");
		hout_u64(&b, s->cfg.node_id);
		hout_mem(&b, "}", 1);
		size_t bl = b.len;
		bool close = !req->keep_alive;
		size_t hl = http_resp_head(head, sizeof head, 200,
		                           "application/json", bl, close, NULL);
		if (!answer_body(c, 200, head, hl, body,
		                 req->method == HTTP_M_HEAD ? 0 : bl,
		                 close)) {
			park(c);
			return false;
		}
		head_done(c, req);
		return true;
	}
	if (ar != AUTH_OK) {
		refuse(c, req, 401, ar == AUTH_MISSING ? "credentials required"
		                                       : "invalid credentials");
		return true;
	}
	switch (rt.kind) {
	case ROUTE_METRICS:
		s->st.req_metrics++;
		if (!get) {
			refuse_method(c, req, "GET");
			return true;
		}
		return do_metrics(c, req);
	case ROUTE_BAD:
		refuse(c, req, 400, rt.why);
		return true;
	case ROUTE_TABLE:
		if (req->method != HTTP_M_POST) {
			refuse_method(c, req, "POST");
			return true;
		}
		return start_write(c, req, &rt, WRITE_POST);
	case ROUTE_RECORD:
		if (get)
			return do_get(c, req, &rt);
		if (req->method == HTTP_M_PUT)
			return start_write(c, req, &rt, WRITE_PUT);
		if (req->method == HTTP_M_DELETE)
			return start_write(c, req, &rt, WRITE_DELETE);
		refuse_method(c, req, "GET, HEAD, PUT, DELETE");
		return true;
	default:
		refuse(c, req, 404, "no such resource");
		return true;
	}
}

/* Parse the head waiting in the receive buffer. true: progress. */
static bool head_read(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	const uint8_t *p1, *p2;
	size_t l1, l2;
	size_t avail = tcp_recv_peek(c->tc, &p1, &l1, &p2, &l2);
	if (avail == 0)
		return false;
	if (c->started_us == 0)
		c->started_us = now_us(s);
	size_t max = s->cfg.limits.max_header_bytes;
	size_t len = avail < max ? avail : max;
	const char *buf = (const char *)p1;
	if (l1 < len) {
		memcpy(s->scratch, p1, l1);
		memcpy(s->scratch + l1, p2, len - l1);
		buf = s->scratch;
	}
	struct http_request req;
	enum http_parse_status st = http_parse_request(
		buf, len, &s->cfg.limits, s->hdrs, MAX_HDRS, &req);
	if (st == HTTP_PARSE_INCOMPLETE) {
		if (c->peer_fin) {
			c->phase = PH_CLOSING; /* it can never complete */
			return true;
		}
		return false;
	}
	if (st == HTTP_PARSE_ERROR) {
		if (c->inflight > 0)
			return false; /* answered after the writes before it */
		s->st.requests++;
		answer_error(c, req.status, "malformed request", true);
		return true;
	}
	return dispatch(c, &req);
}

static void conn_close(struct rest_conn *c)
{
	c->phase = PH_CLOSED;
	tcp_close(c->tc);
}

static void conn_pump(struct rest_conn *c)
{
	for (;;) {
		if (c->tc == NULL || c->phase == PH_CLOSED)
			return;
		if (!out_flush(c))
			return; /* on_writable resumes */
		switch (c->phase) {
		case PH_CLOSING:
			if (c->inflight == 0 && c->outq == NULL)
				conn_close(c);
			return;
		case PH_CONFIRM:
			return; /* rest_poll answers when the peers have it */
		case PH_SUBMIT:
			if (!submit(c))
				return;
			continue;
		case PH_HELD: {
			if (c->inflight > 0)
				return; /* rest_complete pumps us again */
			struct write_req *r = c->req;
			struct rest_server *s = c->srv;
			c->req = NULL;
			bool close = (r->flags & WREQ_F_CLOSE) != 0;
			c->phase = close ? PH_CLOSING : PH_HEAD;
			count_status(s, r->result);
			if (r->body_len == 0 ||
			    !out_send(c, r->data, r->body_len, r)) {
				if (r->body_len == 0)
					s->ops.req_free(s->ops.user, r);
				s->st.aborted++;
				tcp_abort(c->tc);
				return;
			}
			continue;
		}
		case PH_BODY:
			if (!body_read(c))
				return;
			continue;
		case PH_HEAD:
		default:
			if (tcp_recv_avail(c->tc) == 0) {
				if (c->peer_fin && c->inflight == 0 &&
				    c->outq == NULL)
					conn_close(c);
				return;
			}
			if (!head_read(c))
				return;
			if (c->tc == NULL)
				return; /* aborted while answering */
			continue;
		}
	}
}

/* --- TCP callbacks ------------------------------------------------------ */

static void *on_accept(void *listen_arg, struct tcp_conn *tc)
{
	struct rest_server *s = listen_arg;
	if (s->n_free == 0) {
		s->st.refused++;
		return NULL;
	}
	struct rest_conn *c = &s->conns[s->free_slots[--s->n_free]];
	c->tc = tc;
	c->phase = PH_HEAD;
	c->inflight = 0;
	c->started_us = 0;
	c->parked_us = 0;
	c->last_us = now_us(s);
	c->peer_fin = false;
	c->req = NULL;
	c->outq = c->outq_tail = NULL;
	s->n_conns++;
	s->st.accepted++;
	return c;
}

static void on_data(void *arg, struct tcp_conn *tc)
{
	struct rest_conn *c = arg;
	(void)tc;
	c->last_us = now_us(c->srv);
	if (!c->parked)
		conn_pump(c);
}

static void on_peer_closed(void *arg, struct tcp_conn *tc)
{
	struct rest_conn *c = arg;
	c->peer_fin = true;
	on_data(c, tc);
}

static void on_closed(void *arg, struct tcp_conn *tc, enum tcp_close_reason r)
{
	struct rest_conn *c = arg;
	struct rest_server *s = c->srv;
	(void)tc;
	(void)r;
	if (c->req != NULL) {
		s->ops.req_free(s->ops.user, c->req);
		c->req = NULL;
	}
	if (c->held != NULL) {
		s->ops.req_free(s->ops.user, c->held);
		c->held = NULL; /* unlinked by the next rest_poll */
	}
	out_free_all(c);
	c->tc = NULL;
	c->gen++; /* answers still in flight for it are dropped */
	c->phase = PH_CLOSED;
	s->free_slots[s->n_free++] = c->slot;
	s->n_conns--;
	s->st.closed++;
	/* A parked entry is skipped by unpark_all (tc == NULL). */
}

static const struct tcp_callbacks rest_callbacks = {
	.on_accept = on_accept,
	.on_readable = on_data,
	.on_writable = on_data,
	.on_peer_closed = on_peer_closed,
	.on_closed = on_closed,
};

/* --- completions -------------------------------------------------------- */

static void count_latency(struct rest_server *s, uint64_t us)
{
	unsigned i = 0;
	while (i < REST_LAT_BUCKETS - 1 && us > rest_lat_bounds_us[i])
		i++;
	s->st.write_lat[i]++;
	s->st.write_lat_us_sum += us;
}

static size_t render_completion(const struct write_req *r, char *buf,
                                size_t cap, int *status_out)
{
	bool close = (r->flags & WREQ_F_CLOSE) != 0;
	const char *key = write_req_key(r);
	char extra[REST_ID_MAX + REST_TABLE_MAX + 96];
	struct http_out x = {extra, 0, sizeof extra - 1, false};
	char etag[REST_ETAG_MAX];
	size_t hl;
	int status;
	switch (r->result) {
	case WRITE_OK:
		rest_etag(r->version, etag);
		if (r->op == WRITE_POST) {
			status = 201;
			hout_str(&x, "Location: /");
			hout_mem(&x, write_req_table(r), r->table_len);
			hout_mem(&x, "/", 1);
			hout_mem(&x, key, r->key_len);
			hout_str(&x, "\r\nETag: ");
			hout_str(&x, etag);
			hout_mem(&x, "\r\n", 2);
			extra[x.len] = '\0';
			size_t bl = r->key_len + 2u;
			hl = http_resp_head(buf, cap, status, "application/json",
			                    bl, close, extra);
			if (hl == 0 || hl + bl > cap)
				return 0;
			buf[hl] = '"';
			memcpy(buf + hl + 1, key, r->key_len);
			buf[hl + bl - 1] = '"';
			*status_out = status;
			return hl + bl;
		}
		if (r->op == WRITE_PUT) {
			status = 204;
			hout_str(&x, "ETag: ");
			hout_str(&x, etag);
			hout_mem(&x, "\r\n", 2);
			extra[x.len] = '\0';
			*status_out = status;
			return http_resp_head(buf, cap, status, NULL,
			                      HTTP_NO_LENGTH, close, extra);
		}
		status = 200;
		hl = http_resp_head(buf, cap, status, "application/json", 4,
		                    close, NULL);
		if (hl == 0 || hl + 4 > cap)
			return 0;
		memcpy(buf + hl, "true", 4);
		*status_out = status;
		return hl + 4;
	case WRITE_EXISTS:
		*status_out = 409;
		return http_resp_error(buf, cap, 409,
		                       "a record with this id exists", close);
	case WRITE_NOT_FOUND:
		*status_out = 404;
		return http_resp_error(buf, cap, 404, "no such record", close);
	case WRITE_INVALID:
		*status_out = 400;
		return http_resp_error(buf, cap, 400, "invalid write", close);
	case WRITE_FULL:
		*status_out = 507;
		return http_resp_error(buf, cap, 507, "storage is full", close);
	default:
		*status_out = 500;
		return http_resp_error(buf, cap, 500, "storage error", close);
	}
}

void rest_complete(struct rest_server *s, struct write_req *r)
{
	s->st.writes_completed++;
	/* Reads served after this answer (a GET pipelined behind its POST)
	 * must see its commit: a read txn opened earlier in this poll loop
	 * may predate it. */
	if (s->have_reader && s->reader.active)
		store_read_end(&s->reader);
	uint64_t now = now_us(s);
	count_latency(s, now > r->submit_us ? now - r->submit_us : 0);
	struct rest_conn *c = r->conn_slot < s->cfg.max_conns
		? &s->conns[r->conn_slot] : NULL;
	if (c == NULL || c->tc == NULL || c->gen != r->conn_gen) {
		s->st.writes_orphaned++;
		s->ops.req_free(s->ops.user, r);
		return;
	}
	c->inflight--;
	if (r->confirm != 0 && r->result == WRITE_OK) {
		/* Committed here; the answer waits for the peers. */
		c->held = r;
		c->phase = PH_CONFIRM;
		c->confirm_deadline_us = now + (uint64_t)c->confirm_ms * 1000u;
		s->st.confirms_waited++;
		if (!c->on_confirm_list) {
			c->on_confirm_list = true;
			c->next_confirm = s->confirming;
			s->confirming = c;
		}
		return; /* rest_poll checks it */
	}
	char buf[RESP_SMALL];
	int status = 500;
	size_t n = render_completion(r, buf, sizeof buf, &status);
	count_status(s, status);
	if (r->flags & WREQ_F_CLOSE)
		c->phase = PH_CLOSING;
	if (n == 0 || !out_send(c, buf, n, r)) {
		if (n == 0)
			s->ops.req_free(s->ops.user, r);
		s->st.aborted++;
		tcp_abort(c->tc);
		return;
	}
	c->last_us = now;
	if (!c->parked)
		conn_pump(c);
}

/* --- housekeeping ------------------------------------------------------- */

static void sweep(struct rest_server *s)
{
	uint64_t now = now_us(s);
	uint64_t head_to = (uint64_t)s->cfg.header_timeout_ms * 1000u;
	uint64_t idle_to = (uint64_t)s->cfg.idle_timeout_ms * 1000u;
	for (uint32_t i = 0; i < s->cfg.max_conns; i++) {
		struct rest_conn *c = &s->conns[i];
		if (c->tc == NULL || c->phase == PH_CLOSED)
			continue;
		if (c->inflight != 0 || c->phase == PH_SUBMIT ||
		    c->phase == PH_CONFIRM)
			continue; /* storage or the peers answer; the client waits */
		bool busy = c->outq != NULL;
		if (!busy && c->started_us != 0 &&
		    (c->phase == PH_HEAD || c->phase == PH_BODY) &&
		    now - c->started_us > head_to) {
			s->st.timeouts_408++;
			if (c->req != NULL) {
				s->ops.req_free(s->ops.user, c->req);
				c->req = NULL;
			}
			answer_error(c, 408, "request not completed in time",
			             true);
			if (c->tc != NULL && c->phase != PH_CLOSED)
				conn_pump(c);
			continue;
		}
		if (now - c->last_us > idle_to) {
			s->st.idle_closed++;
			if (busy)
				tcp_abort(c->tc); /* the client stopped reading */
			else
				conn_close(c);
		}
	}
}

/* Answer a held write: its usual answer once K peers have it, or 504 at
 * its deadline (it is committed here and keeps replicating). */
static bool confirm_check(struct rest_conn *c)
{
	struct rest_server *s = c->srv;
	struct write_req *r = c->held;
	unsigned got = s->ops.confirmations != NULL
		? s->ops.confirmations(s->ops.user, r->seq) : 0;
	bool met = got >= r->confirm;
	if (!met && now_us(s) < c->confirm_deadline_us)
		return false;
	bool close = (r->flags & WREQ_F_CLOSE) != 0;
	char buf[RESP_SMALL];
	int status;
	size_t n;
	if (met) {
		s->st.confirms_met++;
		n = render_completion(r, buf, sizeof buf, &status);
	} else {
		s->st.confirms_timed_out++;
		status = 504;
		char body[REST_ID_MAX + 256];
		struct http_out b = {body, 0, sizeof body, false};
		hout_str(&b, "{\"error\":\"committed on this node, but only ");
		hout_u64(&b, got);
		hout_str(&b, " of ");
		hout_u64(&b, r->confirm);
		hout_str(&b, " peers confirmed it in time; it keeps "
		             "replicating\",\"id\":\"");
		hout_mem(&b, write_req_key(r), r->key_len);
		hout_str(&b, "\",\"confirmed\":");
		hout_u64(&b, got);
		hout_mem(&b, "}", 1);
		size_t hl = http_resp_head(buf, sizeof buf, 504,
		                           "application/json", b.len, close,
		                           NULL);
		n = 0;
		if (hl != 0 && !b.overflow && hl + b.len <= sizeof buf) {
			memcpy(buf + hl, body, b.len);
			n = hl + b.len;
		}
	}
	c->held = NULL;
	c->phase = close ? PH_CLOSING : PH_HEAD;
	count_status(s, status);
	if (n == 0 || !out_send(c, buf, n, r)) {
		if (n == 0)
			s->ops.req_free(s->ops.user, r);
		s->st.aborted++;
		tcp_abort(c->tc);
		return true;
	}
	c->last_us = now_us(s);
	if (!c->parked)
		conn_pump(c);
	return true;
}

static void confirm_poll(struct rest_server *s)
{
	struct rest_conn **pp = &s->confirming;
	while (*pp != NULL) {
		struct rest_conn *c = *pp;
		if (c->held != NULL && c->tc != NULL && !confirm_check(c))
			pp = &c->next_confirm;  /* still waiting */
		else if (c->held != NULL && c->tc != NULL)
			pp = &c->next_confirm;  /* a new write is held */
		else {
			*pp = c->next_confirm;  /* answered or gone */
			c->next_confirm = NULL;
			c->on_confirm_list = false;
		}
	}
}

void rest_poll(struct rest_server *s)
{
	if (s->confirming != NULL)
		confirm_poll(s);
	if (s->parked != NULL)
		unpark_all(s);
	if (now_us(s) >= s->next_sweep_us) {
		sweep(s);
		s->next_sweep_us = now_us(s) + SWEEP_PERIOD_US;
	}
	if (s->have_reader && s->reader.active)
		store_read_end(&s->reader);
}

/* --- lifecycle ---------------------------------------------------------- */

struct rest_server *rest_create(const struct rest_config *cfg,
                                struct tcp_stack *tcp, struct net_ctx *net,
                                struct store *store,
                                const struct rest_ops *ops,
                                const struct tcp_alloc *alloc)
{
	if (cfg->max_conns == 0 || cfg->limits.max_header_bytes == 0 ||
	    cfg->max_inflight == 0 || ops->req_alloc == NULL ||
	    ops->req_free == NULL || ops->submit == NULL)
		return NULL;
	struct rest_server *s = alloc->zalloc(alloc->user, sizeof *s);
	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	s->tcp = tcp;
	s->net = net;
	s->store = store;
	s->ops = *ops;
	s->alloc = *alloc;
	s->conns = alloc->zalloc(alloc->user,
	                         sizeof *s->conns * cfg->max_conns);
	s->free_slots = alloc->zalloc(alloc->user,
	                              sizeof *s->free_slots * cfg->max_conns);
	s->scratch = alloc->zalloc(alloc->user, cfg->limits.max_header_bytes);
	if (s->conns == NULL || s->free_slots == NULL || s->scratch == NULL)
		goto fail;
	for (uint32_t i = 0; i < cfg->max_conns; i++) {
		s->conns[i].srv = s;
		s->conns[i].slot = i;
		s->free_slots[i] = cfg->max_conns - 1 - i;
	}
	s->n_free = cfg->max_conns;
	if (uuid_gen_init(&s->uuid) != 0)
		goto fail;
	auth_init(&s->auth, cfg->auth_mode, cfg->users, cfg->n_users);
	if (ops->auth_submit != NULL)
		auth_set_deferred(&s->auth, true);
	for (unsigned i = 0; i < AUTH_OUTSTANDING_MAX; i++)
		s->free_jobs[s->n_free_jobs++] = &s->jobs[i];
	if (store != NULL) {
		if (store_reader_init(store, &s->reader) != 0)
			goto fail;
		s->have_reader = true;
	}
	return s;
fail:
	rest_destroy(s);
	return NULL;
}

void rest_destroy(struct rest_server *s)
{
	if (s == NULL)
		return;
	if (s->conns != NULL) {
		for (uint32_t i = 0; i < s->cfg.max_conns; i++) {
			struct rest_conn *c = &s->conns[i];
			if (c->req != NULL)
				s->ops.req_free(s->ops.user, c->req);
			c->req = NULL;
			if (c->held != NULL)
				s->ops.req_free(s->ops.user, c->held);
			c->held = NULL;
			out_free_all(c);
		}
	}
	if (s->have_reader)
		store_reader_fini(&s->reader);
	struct tcp_alloc a = s->alloc;
	a.free(a.user, s->scratch);
	a.free(a.user, s->free_slots);
	a.free(a.user, s->conns);
	a.free(a.user, s);
}

int rest_listen(struct rest_server *s, uint16_t port)
{
	return tcp_listen(s->tcp, port, &rest_callbacks, s);
}

const struct rest_stats *rest_stats(const struct rest_server *s)
{
	return &s->st;
}

uint32_t rest_conn_count(const struct rest_server *s)
{
	return s->n_conns;
}

void rest_auth_done(struct rest_server *s, struct auth_job *j)
{
	auth_job_done(&s->auth, j);
	memset(j->token, 0, sizeof j->token);
	s->free_jobs[s->n_free_jobs++] = j;
	/* The waiting requests are parked: the next rest_poll retries
	 * them and finds the verdict in the cache. */
}

void rest_auth_counters(const struct rest_server *s, uint64_t out[4])
{
	out[0] = s->auth.checks;
	out[1] = s->auth.cache_hits;
	out[2] = s->auth.slow_hashes;
	out[3] = s->auth.failures;
}

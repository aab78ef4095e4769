#include "bench/loom_load/client.h"

#include <string.h>

enum conn_state {
	C_CLOSED = 0, /* no TCP connection; reopened at reconnect_at_us */
	C_CONNECTING, /* SYN sent */
	C_READY,      /* established, no request outstanding */
	C_BUSY,       /* a request written (or being written), answer pending */
	C_CLOSING,    /* tcp_close issued; on_closed follows */
};

struct lconn {
	struct load_client *cl;
	struct tcp_conn *tc;
	const struct load_target *tg;
	uint8_t state;
	bool in_idle;         /* its index is on the idle stack */
	bool failed_connect;  /* the last open never got established */
	bool await_fin;       /* answered with Connection: close: our FIN
	                         follows the server's */
	uint32_t idx;
	uint32_t backoff_ms;
	uint64_t reconnect_at_us;
	uint64_t t0_us;       /* when the request was sent (or due) */
	uint32_t out_len, out_off;
	struct load_resp resp;
	uint8_t id_len;
	char id[LOAD_ID_MAX];
	char expect[LOAD_ID_MAX + 2]; /* "ID": the body a 201 carries */
	char out[LOAD_REQ_MAX];
};

struct load_client {
	struct load_client_config cfg;
	struct tcp_stack *tcp;
	struct net_ctx *net;
	struct tcp_alloc alloc;
	struct lconn *conns;
	uint32_t *idle;
	uint32_t n_idle;
	struct load_keygen keys;
	uint64_t req_n;          /* records built: the body's counter */
	uint32_t live;           /* connections with a tcp_conn */
	uint32_t in_flight;
	uint32_t n_closed;       /* connections in C_CLOSED waiting to reopen */
	uint64_t next_scan_us;
	bool stopping, aborting;
	bool sweep_connecting;   /* stopped: abort pending opens next poll */
	bool sched_on;           /* open loop: the schedule has started */
	uint64_t interval_ns;
	uint64_t next_due_ns;
	uint64_t last_answer_us;
	uint64_t stop_us;        /* when load_client_stop (or abort) ran */
	struct load_counters k;
	struct hist h;
};

#define RECONNECT_MAX_MS 1000u

static const struct tcp_callbacks client_callbacks;

static inline uint64_t now_us(const struct load_client *c)
{
	return c->net->now_us;
}

static bool may_issue(const struct load_client *c)
{
	return !c->stopping &&
	       (c->cfg.quota == 0 ||
	        c->k.answered + c->in_flight < c->cfg.quota);
}

static void idle_push(struct load_client *c, struct lconn *lc)
{
	if (lc->in_idle)
		return;
	lc->in_idle = true;
	c->idle[c->n_idle++] = lc->idx;
}

static struct lconn *idle_pop(struct load_client *c)
{
	while (c->n_idle > 0) {
		struct lconn *lc = &c->conns[c->idle[--c->n_idle]];
		lc->in_idle = false;
		if (lc->state == C_READY)
			return lc;
	}
	return NULL;
}

static void conn_pump_out(struct lconn *lc)
{
	while (lc->out_off < lc->out_len) {
		size_t n = tcp_send(lc->tc, lc->out + lc->out_off,
		                    lc->out_len - lc->out_off);
		if (n == 0)
			return; /* on_writable resumes */
		lc->out_off += (uint32_t)n;
	}
}

static void conn_send(struct lconn *lc, uint64_t t0)
{
	struct load_client *c = lc->cl;
	const struct load_req_tmpl *t = &lc->tg->tmpl;
	size_t len;
	if (t->post) {
		lc->id_len = (uint8_t)load_key_next(&c->keys, lc->id);
		len = load_req_build(t, lc->out, lc->id, lc->id_len,
		                     ++c->req_n);
		lc->expect[0] = '"';
		memcpy(lc->expect + 1, lc->id, lc->id_len);
		lc->expect[lc->id_len + 1] = '"';
		load_resp_init(&lc->resp,
		               c->cfg.check_body ? lc->expect : NULL,
		               (size_t)lc->id_len + 2);
	} else {
		lc->id_len = 0;
		len = load_req_build(t, lc->out, NULL, 0, 0);
		load_resp_init(&lc->resp, NULL, 0);
	}
	lc->out_len = (uint32_t)len;
	lc->out_off = 0;
	lc->t0_us = t0;
	lc->state = C_BUSY;
	c->in_flight++;
	c->k.sent++;
	conn_pump_out(lc);
}

static void conn_close(struct lconn *lc)
{
	lc->state = C_CLOSING;
	tcp_close(lc->tc);
}

/* An established connection with nothing outstanding. */
static void conn_ready(struct lconn *lc)
{
	struct load_client *c = lc->cl;
	lc->state = C_READY;
	if (c->stopping) {
		conn_close(lc);
		return;
	}
	if (c->cfg.rate <= 0.0 && may_issue(c)) {
		conn_send(lc, now_us(c));
		return;
	}
	idle_push(c, lc);
}

static void conn_open(struct lconn *lc)
{
	struct load_client *c = lc->cl;
	lc->tc = tcp_connect(c->tcp, lc->tg->ip_be, lc->tg->port,
	                     &client_callbacks, lc);
	if (lc->tc == NULL) {
		/* No connection object or source port free: try later. */
		c->k.connect_failed++;
		lc->state = C_CLOSED;
		lc->backoff_ms = lc->backoff_ms ? lc->backoff_ms * 2u
		                                : c->cfg.reconnect_ms;
		if (lc->backoff_ms > RECONNECT_MAX_MS)
			lc->backoff_ms = RECONNECT_MAX_MS;
		lc->reconnect_at_us = now_us(c) + lc->backoff_ms * 1000ull;
		c->n_closed++;
		return;
	}
	lc->state = C_CONNECTING;
	lc->failed_connect = true;
	lc->await_fin = false;
	c->live++;
	c->k.connects++;
}

static void stop_if_done(struct load_client *c)
{
	if (!c->stopping && load_client_quota_done(c))
		load_client_stop(c);
}

/* One complete response on lc. */
static void conn_answered(struct lconn *lc)
{
	struct load_client *c = lc->cl;
	const struct load_resp *r = &lc->resp;
	uint64_t now = now_us(c);
	hist_record(&c->h, now >= lc->t0_us ? now - lc->t0_us : 0);
	c->k.answered++;
	c->in_flight--;
	c->last_answer_us = now;
	unsigned cls = r->status / 100u;
	c->k.status[cls <= 5 ? cls : 0]++;
	if (r->status != c->cfg.expect_status) {
		c->k.bad_status++;
	} else if (r->body_mismatch) {
		c->k.body_mismatch++;
	} else {
		c->k.ok++;
		if (lc->id_len != 0 && c->cfg.on_ack != NULL)
			c->cfg.on_ack(c->cfg.user, lc->id, lc->id_len);
	}
}

/* --- TCP callbacks ------------------------------------------------------- */

static void *on_accept(void *listen_arg, struct tcp_conn *tc)
{
	(void)listen_arg;
	(void)tc;
	return NULL;
}

static void on_connected(void *arg, struct tcp_conn *tc)
{
	struct lconn *lc = arg;
	struct load_client *c = lc->cl;
	(void)tc;
	c->k.established++;
	lc->failed_connect = false;
	lc->backoff_ms = 0;
	if (c->cfg.rate > 0.0 && !c->sched_on) {
		c->sched_on = true;
		c->next_due_ns = now_us(c) * 1000u;
	}
	conn_ready(lc);
}

static void conn_protocol_error(struct lconn *lc)
{
	/* tcp_abort runs on_closed before it returns: lc->tc is gone after. */
	lc->state = C_CLOSING;
	tcp_abort(lc->tc);
}

static void on_readable(void *arg, struct tcp_conn *tc)
{
	struct lconn *lc = arg;
	struct load_client *c = lc->cl;
	if (lc->state != C_BUSY) {
		if (lc->state == C_CLOSING) {
			/* Closing: whatever comes is dropped. */
			tcp_recv_consume(tc, tcp_recv_avail(tc));
			return;
		}
		c->k.unexpected++;
		conn_protocol_error(lc);
		return;
	}
	const uint8_t *p1, *p2;
	size_t l1, l2;
	size_t avail = tcp_recv_peek(tc, &p1, &l1, &p2, &l2);
	size_t used = 0, u = 0;
	int rc = load_resp_feed(&lc->resp, p1, l1, &u);
	used += u;
	if (rc == LOAD_RESP_MORE && l2 > 0) {
		rc = load_resp_feed(&lc->resp, p2, l2, &u);
		used += u;
	}
	tcp_recv_consume(tc, used);
	if (rc == LOAD_RESP_MORE)
		return;
	if (rc == LOAD_RESP_ERROR) {
		c->k.parse_errors++;
		c->in_flight--;
		conn_protocol_error(lc);
		stop_if_done(c);
		return;
	}
	conn_answered(lc);
	if (used < avail) {
		/* Bytes beyond the answer: we never pipeline. */
		c->k.unexpected++;
		conn_protocol_error(lc);
	} else if (lc->resp.close) {
		/* The server closes: let its FIN come first, so the server
		 * holds the TIME_WAIT and our connection objects stay free
		 * for the reconnects (on_peer_closed closes our side). */
		lc->state = C_CLOSING;
		lc->await_fin = true;
	} else {
		conn_ready(lc);
	}
	stop_if_done(c);
}

static void on_writable(void *arg, struct tcp_conn *tc)
{
	struct lconn *lc = arg;
	(void)tc;
	if (lc->state == C_BUSY)
		conn_pump_out(lc);
}

static void on_peer_closed(void *arg, struct tcp_conn *tc)
{
	struct lconn *lc = arg;
	struct load_client *c = lc->cl;
	(void)tc;
	if (lc->state == C_CLOSING) {
		if (lc->await_fin) {
			lc->await_fin = false;
			tcp_close(lc->tc);
		}
		return;
	}
	c->k.closed_by_peer++;
	if (lc->state == C_BUSY) {
		c->k.lost++;
		c->in_flight--;
	}
	conn_close(lc);
}

static void on_closed(void *arg, struct tcp_conn *tc, enum tcp_close_reason why)
{
	struct lconn *lc = arg;
	struct load_client *c = lc->cl;
	(void)tc;
	lc->tc = NULL;
	c->live--;
	if (lc->state == C_BUSY) {
		/* Reset or timed out with the request outstanding. */
		c->in_flight--;
		if (c->aborting) {
			c->k.abandoned++;
		} else {
			c->k.lost++;
			if (why == TCP_CLOSE_RESET)
				c->k.closed_by_peer++;
		}
	} else if (lc->state == C_CONNECTING) {
		if (!c->aborting && !c->stopping)
			c->k.connect_failed++;
	} else if (lc->state == C_READY && why == TCP_CLOSE_RESET) {
		c->k.closed_by_peer++;
	}
	bool failed = lc->failed_connect;
	lc->state = C_CLOSED;
	if (c->stopping || c->aborting)
		return;
	/* Reopen: at once after a clean close, with back-off after a failed
	 * connect. */
	if (failed) {
		lc->backoff_ms = lc->backoff_ms ? lc->backoff_ms * 2u
		                                : c->cfg.reconnect_ms;
		if (lc->backoff_ms > RECONNECT_MAX_MS)
			lc->backoff_ms = RECONNECT_MAX_MS;
	}
	lc->reconnect_at_us = now_us(c) + (failed ? lc->backoff_ms * 1000ull : 0);
	c->n_closed++;
	if (c->next_scan_us > lc->reconnect_at_us)
		c->next_scan_us = lc->reconnect_at_us;
	stop_if_done(c);
}

static const struct tcp_callbacks client_callbacks = {
	.on_accept = on_accept,
	.on_connected = on_connected,
	.on_readable = on_readable,
	.on_writable = on_writable,
	.on_peer_closed = on_peer_closed,
	.on_closed = on_closed,
};

/* --- API ------------------------------------------------------------------ */

struct load_client *load_client_create(const struct load_client_config *cfg,
                                       struct tcp_stack *tcp,
                                       struct net_ctx *net,
                                       const struct tcp_alloc *alloc)
{
	if (cfg->n_targets == 0 || cfg->targets == NULL || cfg->conns == 0 ||
	    cfg->rate < 0.0)
		return NULL;
	struct load_client *c = alloc->zalloc(alloc->user, sizeof *c);
	if (c == NULL)
		return NULL;
	c->cfg = *cfg;
	c->tcp = tcp;
	c->net = net;
	c->alloc = *alloc;
	c->conns = alloc->zalloc(alloc->user, sizeof *c->conns * cfg->conns);
	c->idle = alloc->zalloc(alloc->user, sizeof *c->idle * cfg->conns);
	if (c->conns == NULL || c->idle == NULL ||
	    load_keygen_init(&c->keys, cfg->keys, cfg->prefix, cfg->lane,
	                     cfg->seed) != 0) {
		load_client_destroy(c);
		return NULL;
	}
	if (c->cfg.reconnect_ms == 0)
		c->cfg.reconnect_ms = 50;
	if (cfg->rate > 0.0) {
		double ns = 1e9 / cfg->rate;
		c->interval_ns = ns < 1.0 ? 1u : (uint64_t)ns;
	}
	for (uint32_t i = 0; i < cfg->conns; i++) {
		struct lconn *lc = &c->conns[i];
		lc->cl = c;
		lc->idx = i;
		lc->tg = &cfg->targets[(cfg->conn_base + i) % cfg->n_targets];
	}
	hist_init(&c->h);
	return c;
}

void load_client_destroy(struct load_client *c)
{
	if (c == NULL)
		return;
	if (c->conns != NULL)
		c->alloc.free(c->alloc.user, c->conns);
	if (c->idle != NULL)
		c->alloc.free(c->alloc.user, c->idle);
	c->alloc.free(c->alloc.user, c);
}

void load_client_start(struct load_client *c)
{
	for (uint32_t i = 0; i < c->cfg.conns; i++)
		conn_open(&c->conns[i]);
	c->next_scan_us = now_us(c);
}

static void reopen_due(struct load_client *c)
{
	uint64_t now = now_us(c), next = UINT64_MAX;
	for (uint32_t i = 0; i < c->cfg.conns && c->n_closed > 0; i++) {
		struct lconn *lc = &c->conns[i];
		if (lc->state != C_CLOSED)
			continue;
		if (lc->reconnect_at_us > now) {
			if (lc->reconnect_at_us < next)
				next = lc->reconnect_at_us;
			continue;
		}
		c->n_closed--;
		conn_open(lc);
		if (lc->state == C_CLOSED && lc->reconnect_at_us < next)
			next = lc->reconnect_at_us;
	}
	c->next_scan_us = next;
}

void load_client_poll(struct load_client *c)
{
	if (c->stopping) {
		/* Outside any callback now: handshakes still pending when the
		 * run stopped are dropped rather than completed and closed. */
		if (c->sweep_connecting) {
			c->sweep_connecting = false;
			for (uint32_t i = 0; i < c->cfg.conns; i++) {
				struct lconn *lc = &c->conns[i];
				if (lc->state == C_CLOSING && lc->tc != NULL &&
				    tcp_conn_state(lc->tc) == TCP_SYN_SENT)
					tcp_abort(lc->tc);
			}
		}
		return;
	}
	stop_if_done(c);
	if (c->stopping)
		return;
	if (c->n_closed > 0 && now_us(c) >= c->next_scan_us)
		reopen_due(c);
	if (c->cfg.rate > 0.0) {
		if (!c->sched_on)
			return;
		uint64_t now_ns = now_us(c) * 1000u;
		while (c->next_due_ns <= now_ns && may_issue(c)) {
			struct lconn *lc = idle_pop(c);
			if (lc == NULL)
				break; /* every connection busy: it stays due */
			conn_send(lc, c->next_due_ns / 1000u);
			c->next_due_ns += c->interval_ns;
		}
		return;
	}
	/* Closed loop: connections left idle by the quota (a lost request
	 * frees a slot again). */
	while (may_issue(c)) {
		struct lconn *lc = idle_pop(c);
		if (lc == NULL)
			break;
		conn_send(lc, now_us(c));
	}
}

void load_client_stop(struct load_client *c)
{
	if (c->stopping)
		return;
	c->stopping = true;
	c->k.answered_at_stop = c->k.answered;
	c->stop_us = now_us(c);
	if (c->cfg.rate > 0.0 && c->sched_on) {
		uint64_t now_ns = now_us(c) * 1000u;
		if (c->next_due_ns <= now_ns && (c->cfg.quota == 0 ||
		                                 c->k.answered + c->in_flight <
		                                         c->cfg.quota))
			c->k.unsent += (now_ns - c->next_due_ns) / c->interval_ns + 1u;
	}
	c->n_closed = 0;
	for (uint32_t i = 0; i < c->cfg.conns; i++) {
		struct lconn *lc = &c->conns[i];
		if (lc->state == C_READY)
			conn_close(lc);
		else if (lc->state == C_CONNECTING)
			conn_close(lc); /* FIN once established; stop may run
			                   in a callback, where only tcp_close
			                   may touch another connection: the
			                   next poll aborts what is still in
			                   SYN_SENT */
	}
	c->sweep_connecting = true;
	c->n_idle = 0;
	for (uint32_t i = 0; i < c->cfg.conns; i++)
		c->conns[i].in_idle = false;
}

void load_client_abort(struct load_client *c)
{
	if (!c->stopping) {
		c->k.answered_at_stop = c->k.answered;
		c->stop_us = now_us(c);
	}
	c->aborting = true;
	c->stopping = true;
	for (uint32_t i = 0; i < c->cfg.conns; i++) {
		struct lconn *lc = &c->conns[i];
		if (lc->tc != NULL)
			tcp_abort(lc->tc);
	}
}

bool load_client_stopping(const struct load_client *c) { return c->stopping; }

bool load_client_quota_done(const struct load_client *c)
{
	return c->cfg.quota != 0 && c->k.answered >= c->cfg.quota;
}

uint32_t load_client_live(const struct load_client *c) { return c->live; }

uint32_t load_client_in_flight(const struct load_client *c)
{
	return c->in_flight;
}

uint64_t load_client_last_answer_us(const struct load_client *c)
{
	return c->last_answer_us;
}

const struct load_counters *load_client_counters(const struct load_client *c)
{
	return &c->k;
}

const struct hist *load_client_hist(const struct load_client *c)
{
	return &c->h;
}

/* See tcp_harness.h. */
#include "tcp_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hframe {
	struct th_node *owner;
	uint16_t cap;
	uint8_t data[];
};

uint32_t th_ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 0x02};

uint16_t th_g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void th_p16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t th_g32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void th_p32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* byte-wise reference sum, independent of the stack's */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t tcp_ref_csum(const uint8_t *ip, const uint8_t *th,
                             uint16_t l4)
{
	uint32_t sum = ref_sum(ip + 12, 8, 0) + 6 + l4;
	return ref_fold(ref_sum(th, l4, sum));
}

static void *op_alloc(void *user, uint16_t len, uint8_t **data)
{
	struct th_node *n = user;
	if (n->fail_alloc)
		return NULL;
	struct hframe *f = malloc(sizeof *f + len);
	if (!f)
		abort();
	memset(f->data, 0xa5, len); /* garbage the stack must overwrite */
	f->owner = n;
	f->cap = len;
	*data = f->data;
	n->live++;
	return f;
}

static void op_send(void *user, void *frame, uint16_t len)
{
	struct th_node *n = user;
	struct hframe *f = frame;
	if (len > f->cap)
		abort();
	n->live--;
	if (n->out_n == TH_OUTBOX) {
		fprintf(stderr, "harness outbox full\n");
		abort();
	}
	uint8_t *copy = malloc(len);
	if (!copy)
		abort();
	memcpy(copy, f->data, len);
	free(f);
	unsigned i = (n->out_head + n->out_n++) % TH_OUTBOX;
	n->out[i] = (struct th_frame){len, copy};
}

static void op_free(void *user, void *frame)
{
	struct th_node *n = user;
	n->live--;
	free(frame);
}

static void arp_learn(struct th_node *n, const uint8_t *mac, uint32_t ip)
{
	uint8_t f[60] = {0};
	memcpy(f, n->net.mac, 6);
	memcpy(f + 6, mac, 6);
	th_p16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	th_p16(a, 1);
	th_p16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	th_p16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, &ip, 4);
	memcpy(a + 18, n->net.mac, 6);
	memcpy(a + 24, &n->net.ip_be, 4);
	struct net_rx_result res;
	net_rx(&n->net, f, 60, &res);
}

void th_default_cfg(struct tcp_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_conns = 16;
	cfg->sndbuf = 65536;
	cfg->rcvbuf = 65536;
	cfg->mss = 1460;
	cfg->syn_backlog = 8;
	cfg->time_wait_ms = 2000;
	cfg->rto_init_ms = 1000;
	cfg->rto_min_ms = 200;
	cfg->rto_max_ms = 60000;
	cfg->delack_ms = 40;
	cfg->max_retries = 6;
	cfg->syn_retries = 4;
	cfg->max_listeners = 4;
	cfg->eph_lo = 40000;
	cfg->eph_hi = 40999;
	cfg->secret[0] = 0x0123456789abcdefull;
	cfg->secret[1] = 0xfedcba9876543210ull;
}

static void *h_zalloc(void *user, size_t size)
{
	(void)user;
	return calloc(1, size);
}

static void h_free(void *user, void *p)
{
	(void)user;
	free(p);
}

void th_node_init(struct th_node *n, int ip, const struct tcp_config *cfg)
{
	memset(n, 0, sizeof *n);
	struct net_ctx *c = &n->net;
	memcpy(c->mac, ip == 1 ? mac1 : mac2, 6);
	c->ip_be = th_ip(10, 0, 0, (unsigned)ip);
	c->netmask_be = th_ip(255, 255, 255, 0);
	c->gateway_be = 0;
	c->mtu = 1500;
	c->ops = (struct net_ops){op_alloc, op_send, op_free, n};
	c->now_us = TH_T0;
	c->arp_table = (struct net_arp_entry *)(void *)n->arp_table;
	c->arp_table_size = 64;
	c->arp_timeout_us = 3600ull * 1000000;
	c->pending = (struct net_arp_pending *)(void *)n->pending;
	c->arp_pending_max = 16;
	c->pending_timeout_us = 3000000;
	if (net_init(c) != 0)
		abort();
	arp_learn(n, ip == 1 ? mac2 : mac1, th_ip(10, 0, 0, ip == 1 ? 2u : 1u));
	struct tcp_alloc al = {h_zalloc, h_free, NULL};
	n->tcp = tcp_stack_create(cfg, c, &al);
	if (!n->tcp) {
		fprintf(stderr, "tcp_stack_create failed\n");
		abort();
	}
}

struct th_node *th_node_new_cfg(int ip, const struct tcp_config *cfg)
{
	struct th_node *n = calloc(1, sizeof *n);
	if (!n)
		abort();
	th_node_init(n, ip, cfg);
	return n;
}

struct th_node *th_node_new(void)
{
	struct tcp_config cfg;
	th_default_cfg(&cfg);
	return th_node_new_cfg(1, &cfg);
}

int th_node_free(struct th_node *n)
{
	int leaked = th_node_fini(n);
	free(n);
	return leaked;
}

void th_drain(struct th_node *n)
{
	while (n->out_n) {
		free(n->out[n->out_head].data);
		n->out_head = (n->out_head + 1) % TH_OUTBOX;
		n->out_n--;
	}
}

int th_node_fini(struct th_node *n)
{
	tcp_stack_destroy(n->tcp);
	n->tcp = NULL;
	th_drain(n);
	net_fini(&n->net);
	return n->live;
}

void th_set_time(struct th_node *n, uint64_t us)
{
	n->net.now_us = us;
}

void th_advance(struct th_node *n, uint64_t ms)
{
	n->net.now_us += ms * 1000;
	tcp_timer(n->tcp);
	tcp_flush(n->tcp);
}

static void rx_frame(struct th_node *n, const uint8_t *buf, uint16_t len,
                     bool flush)
{
	struct hframe *f = malloc(sizeof *f + len);
	if (!f)
		abort();
	f->owner = n;
	f->cap = len;
	memcpy(f->data, buf, len);
	n->live++;
	struct net_rx_result res;
	enum net_rx_verdict v = net_rx(&n->net, f->data, len, &res);
	if (v == NET_RX_L4_TCP) {
		tcp_input(n->tcp, f, f->data, len, &res);
	} else {
		if (v == NET_RX_REPLY)
			n->net.ops.frame_send(n, f, res.reply_len);
		else
			op_free(n, f);
	}
	if (flush)
		tcp_flush(n->tcp);
}

void th_inject(struct th_node *n, const struct th_in *in)
{
	uint8_t f[14 + 20 + 60 + 9000];
	uint16_t thl = (uint16_t)(20 + ((in->optlen + 3u) & ~3u));
	uint16_t l4 = (uint16_t)(thl + in->len);
	uint16_t len = (uint16_t)(14 + 20 + l4);
	memset(f, 0, len);
	memcpy(f, n->net.mac, 6);
	memcpy(f + 6, n->net.ip_be == TH_US ? mac2 : mac1, 6);
	th_p16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	th_p16(ip + 2, (uint16_t)(20 + l4));
	th_p16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	uint32_t src = n->net.ip_be == TH_US ? TH_PEER : TH_US;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &n->net.ip_be, 4);
	th_p16(ip + 10, (uint16_t)~ref_fold(ref_sum(ip, 20, 0)));
	uint8_t *th = ip + 20;
	th_p16(th, in->sport);
	th_p16(th + 2, in->dport);
	th_p32(th + 4, in->seq);
	th_p32(th + 8, in->ack);
	th[12] = (uint8_t)((in->doff ? in->doff : thl / 4) << 4);
	th[13] = in->flags;
	th_p16(th + 14, in->win);
	if (in->optlen)
		memcpy(th + 20, in->opts, in->optlen);
	if (in->len)
		memcpy(th + thl, in->data, in->len);
	uint16_t cs = (uint16_t)~tcp_ref_csum(ip, th, l4);
	if (in->bad_csum)
		cs ^= 0x5a5a;
	th_p16(th + 16, cs);
	rx_frame(n, f, len, !in->no_flush);
}

unsigned th_pending(const struct th_node *n)
{
	return n->out_n;
}

static void parse_opts(struct th_seg *s, const uint8_t *p, unsigned len)
{
	unsigned i = 0;
	while (i < len) {
		if (p[i] == 0)
			break;
		if (p[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len)
			break;
		if (p[i] == 2 && p[i + 1] == 4) {
			s->has_mss = true;
			s->mss = th_g16(p + i + 2);
		} else if (p[i] == 3 && p[i + 1] == 3) {
			s->has_ws = true;
			s->ws = p[i + 2];
		} else if (p[i] == 8 && p[i + 1] == 10) {
			s->has_ts = true;
			s->tsval = th_g32(p + i + 2);
			s->tsecr = th_g32(p + i + 6);
		}
		i += p[i + 1];
	}
}

static bool parse(const uint8_t *f, uint16_t len, struct th_seg *s)
{
	memset(s, 0, offsetof(struct th_seg, data));
	if (len < 54 || th_g16(f + 12) != 0x0800)
		return false;
	const uint8_t *ip = f + 14;
	uint16_t tot = th_g16(ip + 2);
	if (ip[0] != 0x45 || ip[9] != 6 || tot + 14u > len)
		return false;
	if (ref_fold(ref_sum(ip, 20, 0)) != 0xffff || ip[8] != 64 ||
	    !(th_g16(ip + 6) & 0x4000))
		return false;
	const uint8_t *th = ip + 20;
	uint16_t l4 = (uint16_t)(tot - 20);
	unsigned thl = (unsigned)(th[12] >> 4) * 4;
	if (thl < 20 || thl > l4)
		return false;
	memcpy(&s->src, ip + 12, 4);
	memcpy(&s->dst, ip + 16, 4);
	s->sport = th_g16(th);
	s->dport = th_g16(th + 2);
	s->seq = th_g32(th + 4);
	s->ack = th_g32(th + 8);
	s->flags = th[13];
	s->win = th_g16(th + 14);
	parse_opts(s, th + 20, thl - 20);
	s->len = (uint16_t)(l4 - thl);
	memcpy(s->data, th + thl, s->len);
	s->csum_ok = tcp_ref_csum(ip, th, l4) == 0xffff;
	return true;
}

bool th_pop(struct th_node *n, struct th_seg *s)
{
	if (!n->out_n)
		return false;
	struct th_frame fr = n->out[n->out_head];
	n->out_head = (n->out_head + 1) % TH_OUTBOX;
	n->out_n--;
	bool ok = parse(fr.data, fr.len, s);
	free(fr.data);
	if (!ok) {
		fprintf(stderr, "th_pop: unparsable frame\n");
		abort();
	}
	if (!s->csum_ok) {
		fprintf(stderr, "th_pop: bad TCP checksum\n");
		abort();
	}
	return true;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static unsigned move(struct th_node *from, struct th_node *to,
                     unsigned loss_pct, uint32_t *seed)
{
	unsigned moved = 0, n = from->out_n;
	for (unsigned k = 0; k < n; k++) {
		struct th_frame fr = from->out[from->out_head];
		from->out_head = (from->out_head + 1) % TH_OUTBOX;
		from->out_n--;
		if (loss_pct && rnd(seed) % 100 < loss_pct) {
			free(fr.data);
			continue;
		}
		rx_frame(to, fr.data, fr.len, false);
		free(fr.data);
		moved++;
	}
	tcp_flush(to->tcp);
	return moved;
}

unsigned th_pump(struct th_node *a, struct th_node *b, unsigned loss_pct,
                 uint32_t *seed)
{
	unsigned m = move(a, b, loss_pct, seed);
	return m + move(b, a, loss_pct, seed);
}

struct sf {
	const char *name;
	uint64_t v;
	int found;
};

static void sf_visit(void *arg, const char *name, uint64_t value)
{
	struct sf *f = arg;
	if (strcmp(name, f->name) == 0) {
		f->v = value;
		f->found++;
	}
}

uint64_t th_stat(const struct th_node *n, const char *name)
{
	struct sf f = {name, 0, 0};
	tcp_stats_foreach(tcp_stack_stats(n->tcp), sf_visit, &f);
	if (f.found != 1) {
		fprintf(stderr, "no tcp counter %s\n", name);
		abort();
	}
	return f.v;
}

/* callbacks */
static void app_take(struct th_app *a, struct tcp_conn *c)
{
	for (;;) {
		size_t av = tcp_recv_avail(c);
		if (!av)
			break;
		if (a->rx_len + av > a->rx_cap) {
			size_t cap = a->rx_cap ? a->rx_cap * 2 : 65536;
			while (cap < a->rx_len + av)
				cap *= 2;
			a->rx = realloc(a->rx, cap);
			if (!a->rx)
				abort();
			a->rx_cap = cap;
		}
		a->rx_len += tcp_recv(c, a->rx + a->rx_len, av);
	}
}

static void *cb_accept(void *listen_arg, struct tcp_conn *c)
{
	struct th_app *a = listen_arg;
	a->accepted++;
	if (a->refuse)
		return NULL;
	a->conn = c;
	return a;
}

static void cb_connected(void *arg, struct tcp_conn *c)
{
	struct th_app *a = arg;
	a->connected++;
	a->conn = c;
}

static void cb_readable(void *arg, struct tcp_conn *c)
{
	struct th_app *a = arg;
	a->readable++;
	if (a->auto_consume)
		app_take(a, c);
	if (a->abort_on_read)
		tcp_abort(c);
	else if (a->close_on_read)
		tcp_close(c);
}

static void cb_writable(void *arg, struct tcp_conn *c)
{
	struct th_app *a = arg;
	(void)c;
	a->writable++;
}

static void cb_peer_closed(void *arg, struct tcp_conn *c)
{
	struct th_app *a = arg;
	(void)c;
	a->peer_closed++;
}

static void cb_closed(void *arg, struct tcp_conn *c, enum tcp_close_reason r)
{
	struct th_app *a = arg;
	(void)c;
	a->closed++;
	a->reason = r;
	a->conn = NULL;
}

const struct tcp_callbacks th_callbacks = {
	cb_accept, cb_connected, cb_readable, cb_writable, cb_peer_closed,
	cb_closed,
};

/* A segment from peer p with its current seq, ack and window. */
static struct th_in peer_in(const struct th_peer *p, uint8_t flags)
{
	struct th_in in = {0};
	in.sport = p->port;
	in.dport = p->our_port;
	in.seq = p->seq;
	in.ack = p->ack;
	in.flags = flags;
	in.win = p->win;
	return in;
}

void th_peer_send(struct th_peer *p, uint8_t flags, const void *data,
                  uint16_t len)
{
	struct th_in in = peer_in(p, flags);
	in.data = data;
	in.len = len;
	th_inject(p->n, &in);
	p->seq += len + ((flags & TH_SYN) ? 1u : 0u) + ((flags & TH_FIN) ? 1u : 0u);
}

void th_peer_syn(struct th_peer *p, uint8_t flags, uint16_t mss, int ws,
                 bool ts)
{
	uint8_t o[40];
	uint8_t n = 0;
	o[n++] = 2;
	o[n++] = 4;
	o[n++] = (uint8_t)(mss >> 8);
	o[n++] = (uint8_t)mss;
	if (ws >= 0) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = (uint8_t)ws;
	}
	if (ts) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 8;
		o[n++] = 10;
		th_p32(o + n, 12345);
		th_p32(o + n + 4, 0);
		n += 8;
	}
	struct th_in in = peer_in(p, flags);
	in.opts = o;
	in.optlen = n;
	th_inject(p->n, &in);
	p->seq += 1;
}

struct tcp_conn *th_accept(struct th_node *n, struct th_peer *p,
                           struct th_app *app, uint16_t port, uint32_t isn,
                           uint16_t mss, int ws, bool ts)
{
	tcp_listen(n->tcp, 80, &th_callbacks, app);
	memset(p, 0, sizeof *p);
	p->n = n;
	p->port = port;
	p->our_port = 80;
	p->seq = isn;
	p->win = 65535;
	th_peer_syn(p, TH_SYN, mss, ws, ts);
	struct th_seg s;
	if (!th_pop(n, &s) || s.flags != (TH_SYN | TH_ACK) || s.ack != isn + 1)
		return NULL;
	p->ack = s.seq + 1;
	int before = app->accepted;
	th_peer_send(p, TH_ACK, NULL, 0);
	if (app->accepted != before + 1)
		return NULL;
	return app->conn;
}

struct tcp_conn *th_connect(struct th_node *n, struct th_peer *p,
                            struct th_app *app, uint32_t isn, uint16_t mss,
                            int ws, bool ts)
{
	struct tcp_conn *c = tcp_connect(n->tcp, TH_PEER, 80, &th_callbacks,
	                                 app);
	if (!c)
		return NULL;
	tcp_flush(n->tcp);
	struct th_seg s;
	if (!th_pop(n, &s) || s.flags != TH_SYN)
		return NULL;
	memset(p, 0, sizeof *p);
	p->n = n;
	p->port = 80;
	p->our_port = s.sport;
	p->seq = isn;
	p->ack = s.seq + 1;
	p->win = 65535;
	th_peer_syn(p, TH_SYN | TH_ACK, mss, ws, ts);
	if (app->connected != 1)
		return NULL;
	th_drain(n); /* the ACK */
	return c;
}

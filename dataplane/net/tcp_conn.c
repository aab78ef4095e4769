/* The stack object: connection pool, 4-tuple hash table, listeners, the
 * dirty list, and how connections end (close, on_closed, free). */
#include "dataplane/net/tcp_priv.h"

#include <string.h>

static bool pow2_ok(uint32_t v)
{
	return v >= 4096 && v <= (1u << 30) && (v & (v - 1)) == 0;
}

static bool config_ok(const struct tcp_config *c)
{
	return c->max_conns > 0 && c->max_conns <= (1u << 24) &&
	       pow2_ok(c->sndbuf) && pow2_ok(c->rcvbuf) && c->mss >= 64 &&
	       c->syn_backlog > 0 && c->time_wait_ms > 0 &&
	       c->rto_init_ms > 0 && c->rto_min_ms > 0 &&
	       c->rto_min_ms <= c->rto_max_ms && c->delack_ms > 0 &&
	       c->max_listeners > 0 && c->eph_lo > 0 &&
	       c->eph_lo <= c->eph_hi;
}

struct tcp_stack *tcp_stack_create(const struct tcp_config *cfg,
                                   struct net_ctx *net,
                                   const struct tcp_alloc *alloc)
{
	if (!cfg || !net || !alloc || !alloc->zalloc || !config_ok(cfg))
		return NULL;
	struct tcp_stack *s = alloc->zalloc(alloc->user, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->net = net;
	s->alloc = *alloc;
	if (net->mtu >= 104 && s->cfg.mss > net->mtu - 40)
		s->cfg.mss = (uint16_t)(net->mtu - 40);

	uint32_t n = cfg->max_conns;
	uint32_t hsize = 1;
	while (hsize < 2 * n)
		hsize <<= 1;
	s->hmask = hsize - 1;
	s->conns = alloc->zalloc(alloc->user, (size_t)n * sizeof *s->conns);
	s->htab = alloc->zalloc(alloc->user, (size_t)hsize * sizeof *s->htab);
	s->listeners = alloc->zalloc(alloc->user, (size_t)cfg->max_listeners *
	                                                  sizeof *s->listeners);
	/* All buffers at once. zalloc zeroes them: a one-time cost at start
	 * (max_conns * (sndbuf + rcvbuf) bytes). */
	s->bufs = alloc->zalloc(alloc->user,
	                        (size_t)n * ((size_t)cfg->sndbuf + cfg->rcvbuf));
	if (!s->conns || !s->htab || !s->listeners || !s->bufs ||
	    !tcp_wheel_init(s)) {
		tcp_stack_destroy(s);
		return NULL;
	}
	for (uint32_t i = 0; i < hsize; i++)
		s->htab[i] = TCP_NONE;
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_conn *c = &s->conns[i];
		c->s = s;
		c->idx = i;
		c->hnext = i + 1 < n ? i + 1 : TCP_NONE;
		size_t per = (size_t)cfg->sndbuf + cfg->rcvbuf;
		c->sbuf = s->bufs + per * i;
		c->rbuf = c->sbuf + cfg->sndbuf;
	}
	s->free_head = 0;
	uint8_t ws = 0;
	while ((cfg->rcvbuf >> ws) > 65535)
		ws++;
	s->rcv_wscale = ws;
	s->tick = net->now_us / 1000;
	s->port_seed = (uint32_t)(cfg->secret[0] ^ cfg->secret[1] >> 17);
	s->ip_id = (uint16_t)cfg->secret[1];
	return s;
}

void tcp_stack_destroy(struct tcp_stack *s)
{
	if (!s)
		return;
	void (*fr)(void *, void *) = s->alloc.free;
	void *u = s->alloc.user;
	if (fr) {
		if (s->conns)
			fr(u, s->conns);
		if (s->htab)
			fr(u, s->htab);
		if (s->listeners)
			fr(u, s->listeners);
		if (s->bufs)
			fr(u, s->bufs);
		if (s->wheel)
			fr(u, s->wheel);
		fr(u, s);
	}
}

const struct tcp_stats *tcp_stack_stats(const struct tcp_stack *s)
{
	return &s->stats;
}

uint32_t tcp_stack_conn_count(const struct tcp_stack *s)
{
	return s->nused;
}

void tcp_stats_foreach(const struct tcp_stats *st,
                       void (*fn)(void *arg, const char *name, uint64_t value),
                       void *arg)
{
#define TCP_STATS_VISIT(name) fn(arg, #name, st->name);
	TCP_STATS_LIST(TCP_STATS_VISIT)
#undef TCP_STATS_VISIT
}

const char *tcp_state_name(enum tcp_state st)
{
	static const char *const names[] = {
		"CLOSED",     "LISTEN",     "SYN_SENT",   "SYN_RCVD",
		"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING",
		"TIME_WAIT",  "CLOSE_WAIT", "LAST_ACK",
	};
	if ((unsigned)st < sizeof names / sizeof names[0])
		return names[st];
	return "?";
}

struct tcp_conn *tcp_conn_alloc(struct tcp_stack *s)
{
	if (s->free_head == TCP_NONE)
		return NULL;
	struct tcp_conn *c = &s->conns[s->free_head];
	s->free_head = c->hnext;
	s->nused++;
	/* reset everything but identity and buffer pointers */
	uint32_t idx = c->idx;
	uint8_t *sb = c->sbuf, *rb = c->rbuf;
	memset(c, 0, sizeof *c);
	c->s = s;
	c->idx = idx;
	c->sbuf = sb;
	c->rbuf = rb;
	c->hnext = TCP_NONE;
	return c;
}

static void conn_free(struct tcp_conn *c)
{
	struct tcp_stack *s = c->s;
	c->state = TCP_CLOSED;
	c->hnext = s->free_head;
	s->free_head = c->idx;
	s->nused--;
}

void tcp_hash_insert(struct tcp_stack *s, struct tcp_conn *c)
{
	uint32_t b = tcp_tuple_hash(s, c->rip, c->rport, c->lport) & s->hmask;
	c->hnext = s->htab[b];
	s->htab[b] = c->idx;
	c->in_hash = true;
}

static void hash_remove(struct tcp_stack *s, struct tcp_conn *c)
{
	if (!c->in_hash)
		return;
	uint32_t b = tcp_tuple_hash(s, c->rip, c->rport, c->lport) & s->hmask;
	uint32_t *pp = &s->htab[b];
	while (*pp != TCP_NONE) {
		if (*pp == c->idx) {
			*pp = c->hnext;
			break;
		}
		pp = &s->conns[*pp].hnext;
	}
	c->in_hash = false;
	c->hnext = TCP_NONE;
}

struct tcp_conn *tcp_lookup(struct tcp_stack *s, uint32_t rip, uint16_t rport,
                            uint16_t lport)
{
	uint32_t b = tcp_tuple_hash(s, rip, rport, lport) & s->hmask;
	for (uint32_t i = s->htab[b]; i != TCP_NONE; i = s->conns[i].hnext) {
		struct tcp_conn *c = &s->conns[i];
		if (c->rip == rip && c->rport == rport && c->lport == lport)
			return c;
	}
	return NULL;
}

struct tcp_listener *tcp_listener_find(struct tcp_stack *s, uint16_t port)
{
	for (uint32_t i = 0; i < s->cfg.max_listeners; i++)
		if (s->listeners[i].used && s->listeners[i].port == port)
			return &s->listeners[i];
	return NULL;
}

int tcp_listen(struct tcp_stack *s, uint16_t port,
               const struct tcp_callbacks *cb, void *listen_arg)
{
	if (!cb || port == 0 || tcp_listener_find(s, port))
		return -1;
	for (uint32_t i = 0; i < s->cfg.max_listeners; i++) {
		struct tcp_listener *l = &s->listeners[i];
		if (!l->used) {
			*l = (struct tcp_listener){true, port, 0, *cb,
			                           listen_arg};
			return 0;
		}
	}
	return -1;
}

void tcp_mark_dirty(struct tcp_conn *c)
{
	if (c->in_dirty || c->zombie)
		return;
	c->in_dirty = true;
	c->dnext = c->s->dirty;
	c->s->dirty = c;
}

static void dirty_remove(struct tcp_conn *c)
{
	if (!c->in_dirty)
		return;
	struct tcp_conn **pp = &c->s->dirty;
	while (*pp) {
		if (*pp == c) {
			*pp = c->dnext;
			break;
		}
		pp = &(*pp)->dnext;
	}
	c->in_dirty = false;
	c->dnext = NULL;
}

void tcp_half_open_done(struct tcp_conn *c)
{
	if (c->half_open) {
		c->half_open = false;
		struct tcp_listener *l = &c->s->listeners[c->listener];
		if (l->half_open)
			l->half_open--;
	}
}

void tcp_conn_hold(struct tcp_conn *c)
{
	c->busy++;
}

void tcp_conn_release(struct tcp_conn *c)
{
	if (--c->busy == 0 && c->zombie)
		conn_free(c);
}

void tcp_conn_finish(struct tcp_conn *c, enum tcp_close_reason r)
{
	if (c->zombie)
		return;
	struct tcp_stack *s = c->s;
	bool report = c->reported;
	c->zombie = true;
	c->reported = false;
	c->state = TCP_CLOSED;
	hash_remove(s, c);
	tcp_timer_remove(c);
	dirty_remove(c);
	tcp_half_open_done(c);
	s->stats.closed++;
	if (report && c->cb && c->cb->on_closed) {
		c->busy++;
		c->cb->on_closed(c->arg, c, r);
		c->busy--;
	}
	if (c->busy == 0)
		conn_free(c);
}

void tcp_conn_init_common(struct tcp_conn *c, uint32_t rip, uint16_t rport,
                          uint16_t lport)
{
	struct tcp_stack *s = c->s;
	c->rip = rip;
	c->rport = rport;
	c->lport = lport;
	c->rto_us = s->cfg.rto_init_ms * 1000;
	if (c->rto_us > s->cfg.rto_max_ms * 1000u)
		c->rto_us = s->cfg.rto_max_ms * 1000u;
	c->peer_mss = 536;
	c->smss = 536;
	c->rcv_mss = 536;
}

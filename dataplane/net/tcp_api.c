/* The application side: connect, send, receive, close, abort, info. */
#include "dataplane/net/tcp_priv.h"

#include <string.h>

static bool can_send(const struct tcp_conn *c)
{
	if (c->zombie || c->fin_queued)
		return false;
	return c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD ||
	       c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
}

struct tcp_conn *tcp_connect(struct tcp_stack *s, uint32_t dst_be,
                             uint16_t dst_port, const struct tcp_callbacks *cb,
                             void *arg)
{
	if (!cb || dst_be == 0 || dst_port == 0)
		return NULL;
	uint32_t lo = s->cfg.eph_lo, range = (uint32_t)s->cfg.eph_hi - lo + 1;
	uint32_t start = (tcp_tuple_hash(s, dst_be, dst_port, 0) +
	                  s->port_seed++) % range;
	uint16_t port = 0;
	for (uint32_t i = 0; i < range; i++) {
		uint16_t p = (uint16_t)(lo + (start + i) % range);
		if (!tcp_lookup(s, dst_be, dst_port, p) &&
		    !tcp_listener_find(s, p)) {
			port = p;
			break;
		}
	}
	if (!port)
		return NULL;
	struct tcp_conn *c = tcp_conn_alloc(s);
	if (!c) {
		s->stats.conns_full++;
		return NULL;
	}
	tcp_conn_init_common(c, dst_be, dst_port, port);
	c->rcv_wscale = s->rcv_wscale; /* offered; cleared if not agreed */
	uint32_t iss = tcp_isn(s, dst_be, dst_port, port);
	c->iss = iss;
	c->snd_una = c->snd_nxt = c->snd_max = iss;
	c->sb_seq = iss + 1;
	c->smss = (uint16_t)(s->cfg.mss < 536 ? s->cfg.mss : 536);
	c->state = TCP_SYN_SENT;
	c->cb = cb;
	c->arg = arg;
	c->reported = true;
	c->rtt_start_us = s->net->now_us;
	tcp_cc_init(c);
	tcp_hash_insert(s, c);
	s->stats.active_opens++;
	tcp_mark_dirty(c);
	return c;
}

size_t tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
	if (!can_send(c) || len == 0)
		return 0;
	uint32_t want = len > 0x7fffffff ? 0x7fffffff : (uint32_t)len;
	uint32_t n = tcp_sb_put(c, data, want);
	if (n < len)
		c->want_writable = true;
	if (n)
		tcp_mark_dirty(c);
	return n;
}

size_t tcp_send_space(const struct tcp_conn *c)
{
	if (!can_send(c))
		return 0;
	return c->s->cfg.sndbuf - c->sb_len;
}

size_t tcp_recv_avail(const struct tcp_conn *c)
{
	return c->zombie ? 0 : c->rb_len;
}

size_t tcp_recv_peek(const struct tcp_conn *c, const uint8_t **p1, size_t *l1,
                     const uint8_t **p2, size_t *l2)
{
	uint32_t size = c->s->cfg.rcvbuf;
	uint32_t len = c->zombie ? 0 : c->rb_len;
	uint32_t first = size - c->rb_head < len ? size - c->rb_head : len;
	*p1 = c->rbuf + c->rb_head;
	*l1 = first;
	*p2 = c->rbuf;
	*l2 = len - first;
	return len;
}

void tcp_recv_consume(struct tcp_conn *c, size_t n)
{
	if (c->zombie)
		return;
	if (n > c->rb_len)
		n = c->rb_len;
	if (n == 0)
		return;
	uint32_t size = c->s->cfg.rcvbuf;
	uint32_t old = TCP_SEQ_GT(c->rcv_adv, c->rcv_nxt) ?
	                       c->rcv_adv - c->rcv_nxt : 0;
	c->rb_head = (c->rb_head + (uint32_t)n) & (size - 1);
	c->rb_len -= (uint32_t)n;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	    c->state != TCP_FIN_WAIT_2)
		return;
	uint32_t now = (uint32_t)tcp_rcv_window(c, false, false)
	               << c->rcv_wscale;
	if (now <= old)
		return;
	uint32_t grow = now - old;
	if ((grow >= 2u * c->rcv_mss && old < size / 2) || grow >= size / 2) {
		c->ack_now = true;
		tcp_mark_dirty(c);
	}
}

size_t tcp_recv(struct tcp_conn *c, void *buf, size_t len)
{
	const uint8_t *p1, *p2;
	size_t l1, l2;
	tcp_recv_peek(c, &p1, &l1, &p2, &l2);
	size_t n1 = l1 < len ? l1 : len;
	memcpy(buf, p1, n1);
	size_t n2 = l2 < len - n1 ? l2 : len - n1;
	if (n2)
		memcpy((uint8_t *)buf + n1, p2, n2);
	tcp_recv_consume(c, n1 + n2);
	return n1 + n2;
}

void tcp_close(struct tcp_conn *c)
{
	if (c->zombie || c->fin_queued)
		return;
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RCVD:
		c->fin_queued = true; /* FIN once established */
		break;
	case TCP_ESTABLISHED:
		c->fin_queued = true;
		c->state = TCP_FIN_WAIT_1;
		break;
	case TCP_CLOSE_WAIT:
		c->fin_queued = true;
		c->state = TCP_LAST_ACK;
		break;
	default:
		return;
	}
	tcp_mark_dirty(c);
}

void tcp_abort(struct tcp_conn *c)
{
	if (c->zombie)
		return;
	if (c->state != TCP_SYN_SENT && c->state != TCP_CLOSED)
		tcp_send_rst_conn(c);
	tcp_conn_finish(c, TCP_CLOSE_ABORT);
}

enum tcp_state tcp_conn_state(const struct tcp_conn *c)
{
	return c->state;
}

void tcp_conn_get_info(const struct tcp_conn *c, struct tcp_conn_info *o)
{
	memset(o, 0, sizeof *o);
	o->state = c->state;
	o->local_ip_be = c->s->net->ip_be;
	o->remote_ip_be = c->rip;
	o->local_port = c->lport;
	o->remote_port = c->rport;
	o->snd_una = c->snd_una;
	o->snd_nxt = c->snd_nxt;
	o->snd_wnd = c->snd_wnd;
	o->rcv_nxt = c->rcv_nxt;
	o->rcv_wnd = TCP_SEQ_GT(c->rcv_adv, c->rcv_nxt) ?
	                     c->rcv_adv - c->rcv_nxt : 0;
	o->cwnd = c->cwnd;
	o->ssthresh = c->ssthresh;
	o->srtt_us = c->srtt_us;
	o->rttvar_us = c->rttvar_us;
	o->rto_us = c->rto_us;
	o->mss = c->smss;
	o->snd_wscale = c->snd_wscale;
	o->rcv_wscale = c->rcv_wscale;
	o->ts_ok = c->ts_ok;
	o->retransmits = c->retries;
	o->send_queued = c->sb_len;
	o->recv_avail = c->rb_len;
}

void *tcp_conn_arg(const struct tcp_conn *c)
{
	return c->arg;
}

void tcp_conn_set_arg(struct tcp_conn *c, void *arg)
{
	c->arg = arg;
}

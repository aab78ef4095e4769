/* Building and sending segments: connection segments (SYN, data, FIN,
 * ACK, RST) and stateless replies (RST, cookie SYN-ACK). */
#include "dataplane/net/tcp_priv.h"
#include "dataplane/net/wire.h"

#include <string.h>

uint32_t tcp_now_ms(const struct tcp_stack *s)
{
	return (uint32_t)(s->net->now_us / 1000);
}

bool tcp_challenge_ok(struct tcp_stack *s)
{
	uint64_t sec = s->net->now_us / 1000000;
	if (sec != s->chal_sec) {
		s->chal_sec = sec;
		s->chal_count = 0;
	}
	if (s->chal_count >= TCP_CHALLENGE_PER_S)
		return false;
	s->chal_count++;
	return true;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

struct seg {
	uint32_t rip;
	uint16_t lport, rport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opts;
	uint16_t optlen;
	const struct tcp_conn *src; /* payload from its send ring */
	uint32_t pseq, plen;
};

/* 1 sent (or parked), 0 no frame, -1 dropped for no route */
static int seg_send(struct tcp_stack *s, const struct seg *g)
{
	struct net_ctx *net = s->net;
	uint16_t thl = (uint16_t)(TCP_HLEN_MIN + g->optlen);
	uint32_t l4 = thl + g->plen;
	uint32_t len = NET_ETH_HLEN + IP_HLEN_MIN + l4;
	uint32_t alen = len < ETH_MIN_FRAME_LEN ? ETH_MIN_FRAME_LEN : len;
	uint8_t *d;
	void *f = net->ops.frame_alloc(net->ops.user, (uint16_t)alen, &d);
	if (!f) {
		s->stats.no_frame++;
		return 0;
	}
	memset(d, 0, NET_ETH_HLEN);
	if (alen > len)
		memset(d + len, 0, alen - len);
	uint8_t *ip = d + NET_ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = 0;
	wire_put16(ip + IP_TOTLEN, (uint16_t)(IP_HLEN_MIN + l4));
	wire_put16(ip + 4, s->ip_id++);
	wire_put16(ip + IP_FRAG, 0x4000);
	ip[IP_TTL] = 64;
	ip[IP_PROTO] = NET_IP_PROTO_TCP;
	wire_put16(ip + IP_CSUM, 0);
	wire_put_addr(ip + IP_SRC, net->ip_be);
	wire_put_addr(ip + IP_DST, g->rip);
	wire_put16(ip + IP_CSUM, net_csum(ip, IP_HLEN_MIN));

	uint8_t *th = ip + IP_HLEN_MIN;
	wire_put16(th + TCP_SPORT, g->lport);
	wire_put16(th + TCP_DPORT, g->rport);
	put32(th + TCP_SEQ, g->seq);
	put32(th + TCP_ACK, (g->flags & TH_ACK) ? g->ack : 0);
	th[TCP_OFF] = (uint8_t)((thl / 4) << 4);
	th[TCP_FLAGS] = g->flags;
	wire_put16(th + TCP_WIN, g->win);
	wire_put16(th + TCP_CSUM, 0);
	wire_put16(th + TCP_URP, 0);
	if (g->optlen)
		memcpy(th + TCP_HLEN_MIN, g->opts, g->optlen);
	if (g->plen)
		tcp_sb_copy(g->src, g->pseq, th + thl, g->plen);
	uint32_t seed = (uint32_t)wire_get16(ip + IP_SRC) +
	                wire_get16(ip + IP_SRC + 2) + wire_get16(ip + IP_DST) +
	                wire_get16(ip + IP_DST + 2) + NET_IP_PROTO_TCP + l4;
	wire_put16(th + TCP_CSUM,
	           (uint16_t)~net_csum_partial(th, l4, seed));

	s->stats.segs_out++;
	s->stats.bytes_out += g->plen;
	if (g->flags & TH_RST)
		s->stats.resets_out++;
	uint64_t noroute = net->stats.ip_tx_drop_noroute;
	switch (net_output_ipv4(net, f, d, (uint16_t)alen, g->rip)) {
	case NET_TX_SEND:
		net->ops.frame_send(net->ops.user, f, (uint16_t)alen);
		return 1;
	case NET_TX_PENDING:
		return 1;
	default:
		return net->stats.ip_tx_drop_noroute != noroute ? -1 : 1;
	}
}

static uint16_t conn_opts(struct tcp_conn *c, uint8_t *o, bool syn)
{
	uint32_t now = tcp_now_ms(c->s);
	if (syn) {
		bool offer = c->state == TCP_SYN_SENT;
		bool ts = offer || c->ts_ok;
		bool ws = offer || c->ws_ok;
		return tcp_opt_build_syn(o, c->s->cfg.mss,
		                         ws ? c->s->rcv_wscale : -1, ts, now,
		                         c->state == TCP_SYN_SENT ? 0
		                                                  : c->ts_recent);
	}
	if (c->ts_ok)
		return tcp_opt_build_ts(o, now, c->ts_recent);
	return 0;
}

static void sent_ack(struct tcp_conn *c)
{
	c->ack_now = false;
	c->unacked_bytes = 0;
	c->delack_at = 0;
	c->last_ack_sent = c->rcv_nxt;
}

static int conn_send(struct tcp_conn *c, struct seg *g, bool syn)
{
	uint8_t o[40];
	g->rip = c->rip;
	g->lport = c->lport;
	g->rport = c->rport;
	g->opts = o;
	g->optlen = conn_opts(c, o, syn);
	g->ack = c->rcv_nxt;
	g->src = c;
	if (g->flags & TH_ACK)
		g->win = tcp_rcv_window(c, syn, true);
	else
		g->win = tcp_rcv_window(c, true, false);
	int r = seg_send(c->s, g);
	if (r < 0) {
		c->noroute = true;
		r = 1;
	}
	if (r && (g->flags & TH_ACK))
		sent_ack(c);
	return r;
}

int tcp_send_at(struct tcp_conn *c, uint32_t seq, uint32_t maxlen)
{
	struct seg g = {0};
	g.seq = seq;
	bool syn = false;
	uint32_t covers = 0;
	if ((c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) &&
	    seq == c->iss) {
		syn = true;
		g.flags = TH_SYN | (c->state == TCP_SYN_RCVD ? TH_ACK : 0);
		covers = 1;
	} else {
		uint32_t dend = c->sb_seq + c->sb_len;
		uint32_t len = 0;
		if (TCP_SEQ_LT(seq, dend)) {
			len = dend - seq;
			if (len > maxlen)
				len = maxlen;
		}
		g.flags = TH_ACK;
		if (len && seq + len == dend)
			g.flags |= TH_PSH;
		if (c->fin_queued && seq + len == dend &&
		    (c->state == TCP_FIN_WAIT_1 || c->state == TCP_CLOSING ||
		     c->state == TCP_LAST_ACK))
			g.flags |= TH_FIN;
		if (len == 0 && !(g.flags & TH_FIN))
			return 0;
		g.pseq = seq;
		g.plen = len;
		covers = len + ((g.flags & TH_FIN) ? 1 : 0);
	}
	if (!conn_send(c, &g, syn))
		return -1;
	if (TCP_SEQ_LT(seq, c->snd_max))
		c->s->stats.retransmits++;
	return (int)covers;
}

bool tcp_send_ack(struct tcp_conn *c, uint32_t seq)
{
	struct seg g = {0};
	g.seq = seq;
	g.flags = TH_ACK;
	return conn_send(c, &g, false) != 0;
}

void tcp_send_rst_conn(struct tcp_conn *c)
{
	struct seg g = {0};
	g.seq = c->snd_max;
	g.flags = TH_RST | TH_ACK;
	conn_send(c, &g, false);
}

void tcp_send_raw(struct tcp_stack *s, uint32_t rip, uint16_t lport,
                  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
                  uint16_t win, uint16_t mss_opt)
{
	uint8_t o[4];
	struct seg g = {0};
	g.rip = rip;
	g.lport = lport;
	g.rport = rport;
	g.seq = seq;
	g.ack = ack;
	g.flags = flags;
	g.win = win;
	if (mss_opt) {
		g.opts = o;
		g.optlen = tcp_opt_build_syn(o, mss_opt, -1, false, 0, 0);
	}
	seg_send(s, &g);
}

static bool syn_state(const struct tcp_conn *c)
{
	return c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD;
}

static bool fin_state(const struct tcp_conn *c)
{
	return c->state == TCP_FIN_WAIT_1 || c->state == TCP_CLOSING ||
	       c->state == TCP_LAST_ACK;
}

void tcp_output(struct tcp_conn *c)
{
	struct tcp_stack *s = c->s;
	if (c->zombie || c->state == TCP_CLOSED || c->state == TCP_LISTEN)
		return;
	uint64_t now = tcp_ms(s);
	if (c->state == TCP_TIME_WAIT) {
		if (c->ack_now && !tcp_send_ack(c, c->snd_max))
			c->out_at = now + 1;
		tcp_timer_update(c);
		return;
	}
	if (syn_state(c)) {
		if (c->snd_nxt == c->iss) {
			int n = tcp_send_at(c, c->iss, 0);
			if (n > 0) {
				c->snd_nxt = c->iss + 1;
				if (TCP_SEQ_GT(c->snd_nxt, c->snd_max))
					c->snd_max = c->snd_nxt;
				if (!c->rtx_at)
					tcp_arm_rtx(c);
			} else {
				c->out_at = now + 1;
			}
		} else if (c->ack_now && c->state == TCP_SYN_RCVD) {
			if (!tcp_send_ack(c, c->snd_nxt))
				c->out_at = now + 1;
		}
		tcp_timer_update(c);
		return;
	}
	bool sent = false;
	uint32_t dend = c->sb_seq + c->sb_len;
	uint32_t fend = dend + (c->fin_queued && fin_state(c) ? 1 : 0);
	while (TCP_SEQ_LT(c->snd_nxt, fend)) {
		uint32_t w = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
		uint32_t edge = c->snd_una + w;
		int n;
		if (TCP_SEQ_LT(c->snd_nxt, dend)) {
			if (TCP_SEQ_GEQ(c->snd_nxt, edge))
				break;
			uint32_t room = edge - c->snd_nxt;
			n = tcp_send_at(c, c->snd_nxt,
			                room < c->smss ? room : c->smss);
		} else {
			n = tcp_send_at(c, c->snd_nxt, 0);
		}
		if (n <= 0) {
			if (n < 0)
				c->out_at = now + 1;
			break;
		}
		if (!c->rtt_timing && !c->ts_ok &&
		    TCP_SEQ_GEQ(c->snd_nxt, c->snd_max)) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start_us = s->net->now_us;
		}
		c->snd_nxt += (uint32_t)n;
		if (TCP_SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (!c->rtx_at || c->persist)
			tcp_arm_rtx(c);
		sent = true;
	}
	/* a pure ACK carries the highest sequence number sent: after a
	 * go-back-N snd_nxt may be below the peer's rcv_nxt, and a segment
	 * there would not be acceptable to it */
	if (!sent && c->ack_now && !tcp_send_ack(c, c->snd_max))
		c->out_at = now + 1;
	/* zero window with data waiting and nothing in flight: persist */
	if (TCP_SEQ_LT(c->snd_nxt, fend) && c->snd_una == c->snd_max &&
	    !c->rtx_at) {
		uint64_t iv = (uint64_t)c->rto_us << (c->probes < 20 ? c->probes
		                                                       : 20);
		if (iv > TCP_PERSIST_MAX_US)
			iv = TCP_PERSIST_MAX_US;
		c->persist = true;
		c->rtx_at = now + (iv + 999) / 1000;
	}
	tcp_timer_update(c);
}

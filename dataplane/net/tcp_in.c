/* Segment input (RFC 9293 3.10.7 with RFC 5961 and RFC 7323): checks,
 * demultiplexing, listeners and SYN cookies, the state machine. */
#include "dataplane/net/tcp_priv.h"
#include "dataplane/net/wire.h"

struct tcp_seg {
	uint32_t rip;
	uint16_t rport, lport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *data;
	uint32_t len;
	struct tcp_opts o;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* RFC 793 reset for a segment that has no connection. */
static void reply_rst(struct tcp_stack *s, const struct tcp_seg *g)
{
	if (g->flags & TH_RST)
		return;
	if (g->flags & TH_ACK) {
		tcp_send_raw(s, g->rip, g->lport, g->rport, g->ack, 0, TH_RST,
		             0, 0);
	} else {
		uint32_t ack = g->seq + g->len + ((g->flags & TH_SYN) ? 1 : 0) +
		               ((g->flags & TH_FIN) ? 1 : 0);
		tcp_send_raw(s, g->rip, g->lport, g->rport, 0, ack,
		             TH_RST | TH_ACK, 0, 0);
	}
}

static void set_smss(struct tcp_conn *c)
{
	uint32_t m = c->peer_mss < c->s->cfg.mss ? c->peer_mss : c->s->cfg.mss;
	if (c->ts_ok)
		m -= TCP_TS_OPT_LEN;
	c->smss = (uint16_t)m;
	if (c->rcv_mss > c->s->cfg.mss)
		c->rcv_mss = c->s->cfg.mss;
}

static void apply_syn_opts(struct tcp_conn *c, const struct tcp_opts *o)
{
	uint32_t mss = o->mss_ok ? o->mss : 536;
	if (mss < TCP_MIN_PEER_MSS)
		mss = TCP_MIN_PEER_MSS;
	c->peer_mss = (uint16_t)mss;
	c->ws_ok = o->ws_ok;
	c->snd_wscale = o->ws_ok ? o->ws : 0;
	c->rcv_wscale = o->ws_ok ? c->s->rcv_wscale : 0;
	c->ts_ok = o->ts_ok;
	if (o->ts_ok)
		c->ts_recent = o->tsval;
	set_smss(c);
}

static void rcv_init(struct tcp_conn *c, uint32_t irs)
{
	c->irs = irs;
	c->rcv_nxt = irs + 1;
	c->last_ack_sent = c->rcv_nxt;
	uint32_t sp = tcp_rcv_space(c);
	c->rcv_adv = c->rcv_nxt + (sp < 65535 ? sp : 65535);
}

static void snd_init(struct tcp_conn *c, uint32_t iss)
{
	c->iss = iss;
	c->snd_una = c->snd_nxt = c->snd_max = iss;
	c->sb_seq = iss + 1;
}

static void send_cookie(struct tcp_stack *s, const struct tcp_seg *g)
{
	uint16_t mss = g->o.mss_ok ? g->o.mss : 536;
	if (mss > s->cfg.mss)
		mss = s->cfg.mss;
	uint32_t cookie = tcp_cookie_make(s, g->rip, g->rport, g->lport,
	                                  g->seq, mss);
	uint32_t w = s->cfg.rcvbuf < 65535 ? s->cfg.rcvbuf : 65535;
	tcp_send_raw(s, g->rip, g->lport, g->rport, cookie, g->seq + 1,
	             TH_SYN | TH_ACK, (uint16_t)w, s->cfg.mss);
	s->stats.syn_cookies_sent++;
}

static void conn_input(struct tcp_conn *c, struct tcp_seg *g);

static void listen_input(struct tcp_stack *s, struct tcp_listener *l,
                         struct tcp_seg *g)
{
	uint16_t li = (uint16_t)(l - s->listeners);
	if (g->flags & TH_RST)
		return;
	if (g->flags & TH_ACK) {
		if (g->flags & TH_SYN) {
			reply_rst(s, g);
			return;
		}
		uint16_t mss = tcp_cookie_check(s, g->rip, g->rport, g->lport,
		                                g->seq - 1, g->ack - 1);
		if (!mss) {
			s->stats.syn_cookies_bad++;
			reply_rst(s, g);
			return;
		}
		struct tcp_conn *c = tcp_conn_alloc(s);
		if (!c) {
			/* a valid cookie but no object: the peer retries */
			s->stats.conns_full++;
			s->stats.drop_no_mem++;
			return;
		}
		s->stats.syn_cookies_ok++;
		s->stats.passive_opens++;
		tcp_conn_init_common(c, g->rip, g->rport, g->lport);
		c->passive = true;
		c->listener = li;
		c->cb = &l->cb;
		struct tcp_opts none = {0};
		none.mss_ok = true;
		none.mss = mss;
		apply_syn_opts(c, &none);
		snd_init(c, g->ack - 1);
		c->snd_nxt = c->snd_max = g->ack;
		rcv_init(c, g->seq - 1);
		c->snd_wl1 = g->seq - 1;
		c->state = TCP_SYN_RCVD;
		tcp_cc_init(c);
		tcp_hash_insert(s, c);
		conn_input(c, g);
		return;
	}
	if (!(g->flags & TH_SYN))
		return;
	struct tcp_conn *c = NULL;
	if (l->half_open >= s->cfg.syn_backlog) {
		s->stats.syn_backlog_full++;
	} else {
		c = tcp_conn_alloc(s);
		if (!c)
			s->stats.conns_full++;
	}
	if (!c) {
		send_cookie(s, g);
		return;
	}
	tcp_conn_init_common(c, g->rip, g->rport, g->lport);
	c->passive = true;
	c->listener = li;
	c->half_open = true;
	l->half_open++;
	c->cb = &l->cb;
	apply_syn_opts(c, &g->o);
	rcv_init(c, g->seq);
	snd_init(c, tcp_isn(s, g->rip, g->rport, g->lport));
	c->snd_wnd = g->wnd; /* never scaled in a SYN */
	c->max_wnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = c->iss;
	c->state = TCP_SYN_RCVD;
	tcp_cc_init(c);
	tcp_hash_insert(s, c);
	s->stats.passive_opens++;
	c->rtt_start_us = s->net->now_us;
	tcp_mark_dirty(c);
}

static void enter_time_wait(struct tcp_conn *c)
{
	struct tcp_stack *s = c->s;
	c->state = TCP_TIME_WAIT;
	s->stats.time_wait++;
	c->rtx_at = 0;
	c->persist = false;
	c->tw_at = tcp_ms(s) + s->cfg.time_wait_ms;
	if (c->reported) {
		/* the application is done with it: report now */
		c->reported = false;
		if (c->cb && c->cb->on_closed) {
			tcp_conn_hold(c);
			c->cb->on_closed(c->arg, c, TCP_CLOSE_NORMAL);
			tcp_conn_release(c);
		}
	}
}

static void rtt_from_ack(struct tcp_conn *c, const struct tcp_seg *g)
{
	struct tcp_stack *s = c->s;
	if (c->ts_ok && g->o.ts_ok && g->o.tsecr) {
		uint32_t r = tcp_now_ms(s) - g->o.tsecr;
		if (r < 600000)
			tcp_rtt_sample(c, r * 1000);
	} else if (c->rtt_timing && TCP_SEQ_GT(g->ack, c->rtt_seq)) {
		uint64_t r = s->net->now_us - c->rtt_start_us;
		c->rtt_timing = false;
		if (r < 600000000ull)
			tcp_rtt_sample(c, (uint32_t)r);
	}
}

/* SYN_RCVD -> ESTABLISHED on an acceptable ACK; false if c is gone. */
static bool established(struct tcp_conn *c, const struct tcp_seg *g)
{
	struct tcp_stack *s = c->s;
	if (c->retries == 0 && !(c->ts_ok && g->o.ts_ok) &&
	    c->rtt_start_us) {
		uint64_t r = s->net->now_us - c->rtt_start_us;
		if (r < 600000000ull)
			tcp_rtt_sample(c, (uint32_t)r);
	} else {
		rtt_from_ack(c, g);
	}
	c->snd_una = g->ack;
	c->snd_wnd = (uint32_t)g->wnd << c->snd_wscale;
	c->max_wnd = c->snd_wnd > c->max_wnd ? c->snd_wnd : c->max_wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = g->ack;
	c->retries = 0;
	c->rtx_at = 0;
	tcp_half_open_done(c);
	c->state = c->fin_queued ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED;
	s->stats.established++;
	if (c->passive) {
		struct tcp_listener *l = &s->listeners[c->listener];
		c->reported = true;
		c->arg = NULL;
		void *arg = l->cb.on_accept ? l->cb.on_accept(l->arg, c) : NULL;
		if (c->zombie)
			return false;
		if (!arg) {
			c->reported = false;
			tcp_send_rst_conn(c);
			tcp_conn_finish(c, TCP_CLOSE_ABORT);
			return false;
		}
		c->arg = arg;
	} else if (c->cb && c->cb->on_connected) {
		c->cb->on_connected(c->arg, c);
		if (c->zombie)
			return false;
	}
	tcp_mark_dirty(c);
	return true;
}

static void syn_sent_input(struct tcp_conn *c, struct tcp_seg *g)
{
	struct tcp_stack *s = c->s;
	if (g->flags & TH_ACK) {
		if (TCP_SEQ_LEQ(g->ack, c->iss) ||
		    TCP_SEQ_GT(g->ack, c->snd_max)) {
			reply_rst(s, g);
			return;
		}
	}
	if (g->flags & TH_RST) {
		if (g->flags & TH_ACK) {
			s->stats.resets_in++;
			tcp_conn_finish(c, TCP_CLOSE_REFUSED);
		}
		return;
	}
	if (!(g->flags & TH_SYN))
		return;
	apply_syn_opts(c, &g->o);
	rcv_init(c, g->seq);
	if (g->flags & TH_ACK) {
		uint64_t r = s->net->now_us - c->rtt_start_us;
		if (c->ts_ok && g->o.tsecr)
			rtt_from_ack(c, g);
		else if (c->retries == 0 && r < 600000000ull)
			tcp_rtt_sample(c, (uint32_t)r);
		c->snd_una = g->ack;
		c->snd_wnd = g->wnd; /* a SYN's window is not scaled */
		c->max_wnd = c->snd_wnd;
		c->snd_wl1 = g->seq;
		c->snd_wl2 = g->ack;
		c->retries = 0;
		c->rtx_at = 0;
		tcp_rto_reset(c);
		tcp_cc_init(c);
		c->state = c->fin_queued ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED;
		s->stats.established++;
		c->ack_now = true;
		tcp_mark_dirty(c);
		if (c->cb && c->cb->on_connected)
			c->cb->on_connected(c->arg, c);
		return;
	}
	/* simultaneous open: answer with SYN-ACK */
	c->state = TCP_SYN_RCVD;
	c->snd_wnd = g->wnd;
	c->max_wnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->snd_nxt = c->iss;
	tcp_cc_init(c);
	tcp_mark_dirty(c);
}

static bool acceptable(const struct tcp_conn *c, const struct tcp_seg *g)
{
	uint32_t wnd = TCP_SEQ_GT(c->rcv_adv, c->rcv_nxt) ?
	                       c->rcv_adv - c->rcv_nxt : 0;
	uint32_t sl = g->len + ((g->flags & TH_SYN) ? 1 : 0) +
	              ((g->flags & TH_FIN) ? 1 : 0);
	uint32_t off = g->seq - c->rcv_nxt;
	if (sl == 0)
		return wnd == 0 ? g->seq == c->rcv_nxt : off < wnd;
	if (wnd == 0)
		return false;
	uint32_t last = g->seq + sl - 1 - c->rcv_nxt;
	return off < wnd || last < wnd;
}

static void challenge_ack(struct tcp_conn *c)
{
	if (tcp_challenge_ok(c->s)) {
		c->s->stats.challenge_acks++;
		c->ack_now = true;
	}
}

static bool fin_acked(const struct tcp_conn *c)
{
	return c->fin_queued && c->sb_len == 0 && c->snd_una == c->sb_seq + 1;
}

/* A cumulative ACK beyond snd_una; false if c is gone. */
static bool new_ack(struct tcp_conn *c, const struct tcp_seg *g)
{
	uint32_t acked = g->ack - c->snd_una;
	bool partial = c->in_recovery && TCP_SEQ_LT(g->ack, c->recover);
	rtt_from_ack(c, g);
	tcp_cc_ack(c, g->ack, acked);
	uint32_t n = 0;
	if (TCP_SEQ_GT(g->ack, c->sb_seq)) {
		n = g->ack - c->sb_seq;
		if (n > c->sb_len)
			n = c->sb_len;
		tcp_sb_drop(c, n);
	}
	c->snd_una = g->ack;
	if (TCP_SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	if (c->retries) {
		c->retries = 0;
		tcp_rto_reset(c);
	}
	if (c->snd_una == c->snd_max) {
		if (!c->persist)
			c->rtx_at = 0;
	} else {
		tcp_arm_rtx(c);
	}
	if (partial) {
		c->rtt_timing = false;
		tcp_send_at(c, c->snd_una, c->smss);
	}
	tcp_mark_dirty(c);
	if (n && c->want_writable) {
		c->want_writable = false;
		if (c->reported && c->cb && c->cb->on_writable) {
			c->cb->on_writable(c->arg, c);
			if (c->zombie)
				return false;
		}
	}
	return true;
}

/* The peer's FIN is next in sequence; false if c is gone. */
static bool take_fin(struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->fin_rcvd = true;
	c->rfin_pending = false;
	c->ack_now = true;
	enum tcp_state st = c->state;
	if (st == TCP_ESTABLISHED)
		c->state = TCP_CLOSE_WAIT;
	else if (st == TCP_FIN_WAIT_1)
		c->state = TCP_CLOSING;
	if (c->reported && c->cb && c->cb->on_peer_closed) {
		c->cb->on_peer_closed(c->arg, c);
		if (c->zombie)
			return false;
	}
	if (c->state == TCP_FIN_WAIT_2) {
		c->tw_at = 0;
		enter_time_wait(c);
	}
	return !c->zombie;
}

static void sync_input(struct tcp_conn *c, struct tcp_seg *g)
{
	struct tcp_stack *s = c->s;
	uint64_t now = tcp_ms(s);

	if (c->state == TCP_SYN_RCVD && (g->flags & TH_SYN) &&
	    !(g->flags & (TH_ACK | TH_RST)) && g->seq == c->irs) {
		c->snd_nxt = c->iss; /* the SYN-ACK was lost: again */
		tcp_mark_dirty(c);
		return;
	}
	if (!acceptable(c, g)) {
		s->stats.drop_out_of_window++;
		if (!(g->flags & TH_RST))
			c->ack_now = true;
		return;
	}
	if (g->flags & TH_RST) {
		if (g->seq == c->rcv_nxt) {
			s->stats.resets_in++;
			tcp_conn_finish(c, TCP_CLOSE_RESET);
		} else {
			challenge_ack(c);
		}
		return;
	}
	if (g->flags & TH_SYN) {
		challenge_ack(c);
		return;
	}
	if (!(g->flags & TH_ACK))
		return;
	if (c->ts_ok && g->o.ts_ok &&
	    TCP_SEQ_LEQ(g->seq, c->last_ack_sent) &&
	    TCP_SEQ_GEQ(g->o.tsval, c->ts_recent))
		c->ts_recent = g->o.tsval;

	if (c->state == TCP_SYN_RCVD) {
		if (TCP_SEQ_GT(g->ack, c->snd_una) &&
		    TCP_SEQ_LEQ(g->ack, c->snd_max)) {
			if (!established(c, g))
				return;
		} else {
			reply_rst(s, g);
			return;
		}
	}

	/* ACK */
	if (TCP_SEQ_GT(g->ack, c->snd_max)) {
		s->stats.drop_out_of_window++;
		c->ack_now = true;
		return;
	}
	if (TCP_SEQ_LT(g->ack, c->snd_una - c->max_wnd) &&
	    TCP_SEQ_LT(g->ack, c->snd_una)) {
		s->stats.drop_out_of_window++;
		return;
	}
	uint32_t wnd = (uint32_t)g->wnd << c->snd_wscale;
	if (TCP_SEQ_GT(g->ack, c->snd_una)) {
		if (!new_ack(c, g))
			return;
	} else if (g->ack == c->snd_una && g->len == 0 &&
	           !(g->flags & TH_FIN) && wnd == c->snd_wnd &&
	           c->snd_max != c->snd_una) {
		s->stats.dup_acks++;
		if (tcp_cc_dupack(c)) {
			s->stats.fast_retransmits++;
			c->rtt_timing = false;
			tcp_send_at(c, c->snd_una, c->smss);
			tcp_arm_rtx(c);
		}
		if (c->in_recovery)
			tcp_mark_dirty(c);
	}
	if (TCP_SEQ_LT(c->snd_wl1, g->seq) ||
	    (c->snd_wl1 == g->seq && TCP_SEQ_LEQ(c->snd_wl2, g->ack))) {
		bool opened = c->snd_wnd == 0 && wnd != 0;
		c->snd_wnd = wnd;
		c->snd_wl1 = g->seq;
		c->snd_wl2 = g->ack;
		if (wnd > c->max_wnd)
			c->max_wnd = wnd;
		if (opened) {
			if (c->persist) {
				c->persist = false;
				c->rtx_at = 0;
			}
			c->probes = 0;
			tcp_mark_dirty(c);
		}
	}
	if (c->persist)
		c->retries = 0; /* the peer answers: keep probing */

	switch (c->state) {
	case TCP_FIN_WAIT_1:
		if (fin_acked(c)) {
			c->state = TCP_FIN_WAIT_2;
			c->rtx_at = 0;
			c->tw_at = now + TCP_FIN_WAIT2_MS;
		}
		break;
	case TCP_CLOSING:
		if (fin_acked(c))
			enter_time_wait(c);
		break;
	case TCP_LAST_ACK:
		if (fin_acked(c)) {
			tcp_conn_finish(c, TCP_CLOSE_NORMAL);
			return;
		}
		break;
	default:
		break;
	}
	if (c->zombie)
		return;

	/* data */
	bool rcv_open = c->state == TCP_ESTABLISHED ||
	                c->state == TCP_FIN_WAIT_1 ||
	                c->state == TCP_FIN_WAIT_2;
	uint32_t fin_seq = g->seq + g->len;
	if (g->len && rcv_open) {
		const uint8_t *p = g->data;
		uint32_t len = g->len, seq = g->seq;
		if (TCP_SEQ_LT(seq, c->rcv_nxt)) {
			uint32_t d = c->rcv_nxt - seq;
			p += d < len ? d : len;
			len = d < len ? len - d : 0;
			seq = c->rcv_nxt;
		}
		if (len) {
			uint32_t before = c->rcv_nxt;
			bool had_ooo = c->nooo != 0, dropped;
			bool moved = tcp_rb_write(c, seq, p, len, &dropped);
			if (moved) {
				uint32_t got = c->rcv_nxt - before;
				if (len > c->rcv_mss)
					c->rcv_mss = len > s->cfg.mss ? s->cfg.mss
					                              : len;
				c->unacked_bytes += got;
				if (had_ooo || c->unacked_bytes >= 2 * c->rcv_mss)
					c->ack_now = true;
				else if (!c->delack_at)
					c->delack_at = now + s->cfg.delack_ms;
				if (c->reported && c->cb && c->cb->on_readable) {
					c->cb->on_readable(c->arg, c);
					if (c->zombie)
						return;
				}
			} else {
				s->stats.ooo_segs++;
				if (dropped)
					s->stats.ooo_dropped++;
				/* one duplicate ACK per out-of-order segment,
				 * not one per burst: they drive the sender's
				 * fast retransmit */
				if (!tcp_send_ack(c, c->snd_max))
					c->ack_now = true;
			}
		} else {
			c->ack_now = true; /* duplicate data */
		}
	} else if (g->len) {
		c->ack_now = true;
	}

	/* FIN */
	rcv_open = c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
	           c->state == TCP_FIN_WAIT_2;
	if (g->flags & TH_FIN) {
		if (!rcv_open) {
			c->ack_now = true; /* a retransmitted FIN */
			if (c->state == TCP_TIME_WAIT)
				c->tw_at = now + s->cfg.time_wait_ms;
		} else if (fin_seq == c->rcv_nxt) {
			if (!take_fin(c))
				return;
		} else if (TCP_SEQ_GT(fin_seq, c->rcv_nxt)) {
			c->rfin_pending = true;
			c->rfin_seq = fin_seq;
			c->ack_now = true;
		}
	} else if (rcv_open && c->rfin_pending && c->rfin_seq == c->rcv_nxt) {
		if (!take_fin(c))
			return;
	}
}

static void conn_input(struct tcp_conn *c, struct tcp_seg *g)
{
	tcp_conn_hold(c);
	if (c->state == TCP_SYN_SENT)
		syn_sent_input(c, g);
	else
		sync_input(c, g);
	if (!c->zombie) {
		if (c->ack_now)
			tcp_mark_dirty(c);
		tcp_timer_update(c);
	}
	tcp_conn_release(c);
}

void tcp_input(struct tcp_stack *s, void *frame, uint8_t *data, uint16_t len,
               const struct net_rx_result *res)
{
	struct net_ctx *net = s->net;
	s->stats.segs_in++;
	if (res->l4_len < TCP_HLEN_MIN ||
	    (uint32_t)res->l4_off + res->l4_len > len ||
	    res->l3_off + IP_HLEN_MIN > res->l4_off) {
		s->stats.drop_short++;
		goto out;
	}
	const uint8_t *ip = data + res->l3_off;
	const uint8_t *th = data + res->l4_off;
	uint16_t l4 = res->l4_len;
	uint32_t seed = (uint32_t)wire_get16(ip + IP_SRC) +
	                wire_get16(ip + IP_SRC + 2) + wire_get16(ip + IP_DST) +
	                wire_get16(ip + IP_DST + 2) + NET_IP_PROTO_TCP + l4;
	if (net_csum_partial(th, l4, seed) != 0xffff) {
		s->stats.drop_csum++;
		goto out;
	}
	uint16_t hl = (uint16_t)((th[TCP_OFF] >> 4) * 4);
	if (hl < TCP_HLEN_MIN || hl > l4) {
		s->stats.drop_short++;
		goto out;
	}
	struct tcp_seg g;
	g.flags = th[TCP_FLAGS] & 0x3f;
	if ((g.flags & TH_SYN) && (g.flags & (TH_FIN | TH_RST))) {
		s->stats.drop_bad_flags++;
		goto out;
	}
	g.rip = wire_get_addr(ip + IP_SRC);
	g.rport = wire_get16(th + TCP_SPORT);
	g.lport = wire_get16(th + TCP_DPORT);
	g.seq = get32(th + TCP_SEQ);
	g.ack = get32(th + TCP_ACK);
	g.wnd = wire_get16(th + TCP_WIN);
	g.data = th + hl;
	g.len = (uint32_t)(l4 - hl);
	tcp_opt_parse(th + TCP_HLEN_MIN, (uint16_t)(hl - TCP_HLEN_MIN), &g.o);
	if (g.rport == 0 || g.lport == 0) {
		s->stats.drop_bad_flags++;
		goto out;
	}
	s->stats.bytes_in += g.len;

	struct tcp_conn *c = tcp_lookup(s, g.rip, g.rport, g.lport);
	if (c && c->state == TCP_TIME_WAIT && (g.flags & TH_SYN) &&
	    !(g.flags & TH_ACK) && TCP_SEQ_GT(g.seq, c->rcv_nxt) &&
	    tcp_listener_find(s, g.lport)) {
		s->stats.time_wait_reused++;
		tcp_conn_finish(c, TCP_CLOSE_NORMAL);
		c = NULL;
	}
	if (c) {
		conn_input(c, &g);
	} else {
		struct tcp_listener *l = tcp_listener_find(s, g.lport);
		if (l) {
			listen_input(s, l, &g);
		} else {
			s->stats.drop_no_conn++;
			reply_rst(s, &g);
		}
	}
out:
	net->ops.frame_free(net->ops.user, frame);
}

void tcp_flush(struct tcp_stack *s)
{
	while (s->dirty) {
		struct tcp_conn *c = s->dirty;
		s->dirty = c->dnext;
		c->dnext = NULL;
		c->in_dirty = false;
		tcp_conn_hold(c);
		tcp_output(c);
		if (!c->zombie && c->noroute) {
			c->noroute = false;
			tcp_conn_finish(c, TCP_CLOSE_NO_ROUTE);
		}
		tcp_conn_release(c);
	}
}

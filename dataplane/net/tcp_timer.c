/* One hashed timer wheel per stack, 1 ms ticks. Each connection sits in at
 * most one slot, at the earliest of its deadlines (retransmit/persist,
 * delayed ACK, TIME_WAIT/FIN_WAIT_2, output retry); a deadline beyond the
 * wheel's span parks in the farthest slot and is re-slotted when reached.
 * tcp_timer() visits only the slots of the ticks that passed. */
#include "dataplane/net/tcp_priv.h"

#define SLOT_MASK (TCP_WHEEL_SLOTS - 1)

uint64_t tcp_ms(const struct tcp_stack *s)
{
	return s->net->now_us / 1000;
}

bool tcp_wheel_init(struct tcp_stack *s)
{
	s->wheel = s->alloc.zalloc(s->alloc.user,
	                           TCP_WHEEL_SLOTS * sizeof *s->wheel);
	return s->wheel != NULL;
}

void tcp_timer_remove(struct tcp_conn *c)
{
	if (!c->timer_on)
		return;
	struct tcp_stack *s = c->s;
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		s->wheel[c->timer_slot] = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	c->tprev = c->tnext = NULL;
	c->timer_on = false;
}

static void slot_insert(struct tcp_conn *c, uint64_t at)
{
	struct tcp_stack *s = c->s;
	uint64_t t = at;
	if (t <= s->tick)
		t = s->tick + 1;
	if (t - s->tick >= TCP_WHEEL_SLOTS)
		t = s->tick + TCP_WHEEL_SLOTS - 1;
	uint32_t slot = (uint32_t)(t & SLOT_MASK);
	c->timer_slot = slot;
	c->timer_at = at;
	c->tprev = NULL;
	c->tnext = s->wheel[slot];
	if (c->tnext)
		c->tnext->tprev = c;
	s->wheel[slot] = c;
	c->timer_on = true;
}

static uint64_t earliest(const struct tcp_conn *c)
{
	uint64_t at = 0;
	const uint64_t d[4] = {c->rtx_at, c->delack_at, c->tw_at, c->out_at};
	for (int i = 0; i < 4; i++)
		if (d[i] && (!at || d[i] < at))
			at = d[i];
	return at;
}

void tcp_timer_update(struct tcp_conn *c)
{
	if (c->zombie)
		return;
	uint64_t at = earliest(c);
	if (c->timer_on && at == c->timer_at)
		return;
	tcp_timer_remove(c);
	if (at)
		slot_insert(c, at);
}

void tcp_arm_rtx(struct tcp_conn *c)
{
	c->persist = false;
	c->rtx_at = tcp_ms(c->s) + (c->rto_us + 999) / 1000;
}

static void rto_fire(struct tcp_conn *c)
{
	struct tcp_stack *s = c->s;
	const struct tcp_config *cfg = &s->cfg;
	bool syn = c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD;
	if (!syn && c->snd_una == c->snd_max)
		return; /* nothing outstanding */
	if (c->retries >= (syn ? cfg->syn_retries : cfg->max_retries)) {
		s->stats.timeouts++;
		if (c->state != TCP_SYN_SENT)
			tcp_send_rst_conn(c);
		tcp_conn_finish(c, TCP_CLOSE_TIMEOUT);
		return;
	}
	c->retries++;
	s->stats.rto_expired++;
	uint64_t rto = (uint64_t)c->rto_us * 2;
	if (rto > (uint64_t)cfg->rto_max_ms * 1000)
		rto = (uint64_t)cfg->rto_max_ms * 1000;
	c->rto_us = (uint32_t)rto;
	c->rtt_timing = false;
	if (syn) {
		c->snd_nxt = c->iss;
	} else {
		tcp_cc_rto(c);
		c->snd_nxt = c->snd_una; /* go back N */
	}
	tcp_arm_rtx(c);
	tcp_output(c);
}

static void persist_fire(struct tcp_conn *c)
{
	struct tcp_stack *s = c->s;
	c->persist = false;
	if (c->snd_wnd == 0) {
		if (c->retries >= s->cfg.max_retries) {
			/* the peer stopped answering probes */
			s->stats.timeouts++;
			tcp_send_rst_conn(c);
			tcp_conn_finish(c, TCP_CLOSE_TIMEOUT);
			return;
		}
		s->stats.zero_window_probes++;
		c->retries++;
		c->probes++;
		/* an old sequence number: the peer answers with an ACK that
		 * carries its current window */
		if (!tcp_send_ack(c, c->snd_una - 1))
			c->out_at = tcp_ms(s) + 1;
	}
	tcp_output(c); /* re-arms the persist timer, backed off */
}

static void fire(struct tcp_conn *c, uint64_t now)
{
	struct tcp_stack *s = c->s;
	tcp_conn_hold(c);
	if (c->tw_at && c->tw_at <= now) {
		c->tw_at = 0;
		if (c->state == TCP_TIME_WAIT) {
			tcp_conn_finish(c, TCP_CLOSE_NORMAL);
		} else if (c->state == TCP_FIN_WAIT_2) {
			s->stats.timeouts++;
			tcp_send_rst_conn(c);
			tcp_conn_finish(c, TCP_CLOSE_TIMEOUT);
		}
	}
	if (!c->zombie && c->rtx_at && c->rtx_at <= now) {
		c->rtx_at = 0;
		if (c->persist)
			persist_fire(c);
		else
			rto_fire(c);
	}
	if (!c->zombie && c->delack_at && c->delack_at <= now) {
		c->delack_at = 0;
		if (c->unacked_bytes || c->ack_now) {
			s->stats.delayed_acks++;
			c->ack_now = true;
			tcp_output(c);
		}
	}
	if (!c->zombie && c->out_at && c->out_at <= now) {
		c->out_at = 0;
		tcp_output(c);
	}
	if (!c->zombie && c->noroute) {
		c->noroute = false;
		tcp_conn_finish(c, TCP_CLOSE_NO_ROUTE);
	}
	if (!c->zombie)
		tcp_timer_update(c);
	tcp_conn_release(c);
}

void tcp_timer(struct tcp_stack *s)
{
	uint64_t now = tcp_ms(s);
	if (now <= s->tick)
		return;
	uint64_t from = s->tick + 1;
	if (now - from >= TCP_WHEEL_SLOTS)
		from = now - TCP_WHEEL_SLOTS + 1;
	for (uint64_t t = from; t <= now; t++) {
		s->tick = t;
		struct tcp_conn **head = &s->wheel[t & SLOT_MASK];
		/* conns fired here re-slot at t+1 or later, never here */
		while (*head) {
			struct tcp_conn *c = *head;
			tcp_timer_remove(c);
			if (c->timer_at <= now)
				fire(c, now);
			else
				slot_insert(c, c->timer_at);
		}
	}
	s->tick = now;
}

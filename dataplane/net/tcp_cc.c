/* RTT estimation and RTO (RFC 6298), NewReno congestion control
 * (RFC 5681, RFC 6582). Windows are in bytes; smss is the payload of a
 * full segment. */
#include "dataplane/net/tcp_priv.h"

static uint32_t clamp_rto(const struct tcp_conn *c, uint64_t rto)
{
	uint64_t lo = (uint64_t)c->s->cfg.rto_min_ms * 1000;
	uint64_t hi = (uint64_t)c->s->cfg.rto_max_ms * 1000;
	if (rto < lo)
		rto = lo;
	if (rto > hi)
		rto = hi;
	return (uint32_t)rto;
}

void tcp_rto_reset(struct tcp_conn *c)
{
	if (!c->have_srtt)
		return;
	uint32_t var4 = c->rttvar_us * 4;
	c->rto_us = clamp_rto(c, (uint64_t)c->srtt_us +
	                                 (var4 > 1000 ? var4 : 1000));
}

void tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
	if (!c->have_srtt) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
		c->have_srtt = true;
	} else {
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
		c->rttvar_us = c->rttvar_us - c->rttvar_us / 4 + d / 4;
		c->srtt_us = c->srtt_us - c->srtt_us / 8 + r / 8;
	}
	tcp_rto_reset(c);
}

uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

static uint32_t half_flight(const struct tcp_conn *c)
{
	uint32_t h = tcp_flight(c) / 2;
	uint32_t two = 2u * c->smss;
	return h > two ? h : two;
}

void tcp_cc_init(struct tcp_conn *c)
{
	/* RFC 6928 initial window */
	uint32_t m = c->smss;
	uint32_t iw = 14600 > 2 * m ? 14600 : 2 * m;
	c->cwnd = iw < 10 * m ? iw : 10 * m;
	c->ssthresh = 0x7fffffff;
	c->dupacks = 0;
	c->in_recovery = false;
	c->recover = c->iss;
}

void tcp_cc_ack(struct tcp_conn *c, uint32_t ack, uint32_t acked)
{
	uint32_t m = c->smss;
	if (c->in_recovery) {
		if (TCP_SEQ_GEQ(ack, c->recover)) {
			/* full ACK: deflate (RFC 6582 3.2 step 3, option 1) */
			uint32_t fl = c->snd_max - ack;
			uint32_t w = fl + m;
			c->cwnd = w < c->ssthresh ? w : c->ssthresh;
			c->in_recovery = false;
			c->dupacks = 0;
		} else {
			/* partial ACK: the caller retransmits the next hole */
			if (acked >= c->cwnd)
				c->cwnd = m;
			else
				c->cwnd -= acked;
			c->cwnd += acked >= m ? m : acked;
			if (c->cwnd < m)
				c->cwnd = m;
		}
		return;
	}
	c->dupacks = 0;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += acked < m ? acked : m;
	} else {
		uint32_t inc = (uint32_t)((uint64_t)m * m / c->cwnd);
		c->cwnd += inc ? inc : 1;
	}
	if (c->cwnd > 0x40000000u)
		c->cwnd = 0x40000000u;
}

bool tcp_cc_dupack(struct tcp_conn *c)
{
	c->dupacks++;
	if (c->in_recovery) {
		c->cwnd += c->smss;
		return false;
	}
	if (c->dupacks == 3 && TCP_SEQ_GT(c->snd_una, c->recover)) {
		c->ssthresh = half_flight(c);
		c->recover = c->snd_max;
		c->cwnd = c->ssthresh + 3u * c->smss;
		c->in_recovery = true;
		return true;
	}
	return false;
}

void tcp_cc_rto(struct tcp_conn *c)
{
	c->ssthresh = half_flight(c);
	c->cwnd = c->smss;
	c->in_recovery = false;
	c->dupacks = 0;
	c->recover = c->snd_max;
}

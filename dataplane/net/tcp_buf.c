/* Byte rings: the send buffer (sent-unacked then unsent bytes from sb_seq)
 * and the receive buffer (consumable bytes, then the window, where
 * out-of-order data is written at its offset and tracked as intervals). */
#include "dataplane/net/tcp_priv.h"

#include <string.h>

static void ring_write(uint8_t *ring, uint32_t size, uint32_t pos,
                       const uint8_t *src, uint32_t len)
{
	pos &= size - 1;
	uint32_t first = size - pos < len ? size - pos : len;
	memcpy(ring + pos, src, first);
	if (len > first)
		memcpy(ring, src + first, len - first);
}

static void ring_read(const uint8_t *ring, uint32_t size, uint32_t pos,
                      uint8_t *dst, uint32_t len)
{
	pos &= size - 1;
	uint32_t first = size - pos < len ? size - pos : len;
	memcpy(dst, ring + pos, first);
	if (len > first)
		memcpy(dst + first, ring, len - first);
}

uint32_t tcp_sb_put(struct tcp_conn *c, const void *data, uint32_t len)
{
	uint32_t size = c->s->cfg.sndbuf;
	uint32_t space = size - c->sb_len;
	uint32_t n = len < space ? len : space;
	if (n) {
		ring_write(c->sbuf, size, c->sb_head + c->sb_len, data, n);
		c->sb_len += n;
	}
	return n;
}

void tcp_sb_copy(const struct tcp_conn *c, uint32_t seq, uint8_t *dst,
                 uint32_t len)
{
	ring_read(c->sbuf, c->s->cfg.sndbuf, c->sb_head + (seq - c->sb_seq),
	          dst, len);
}

void tcp_sb_drop(struct tcp_conn *c, uint32_t n)
{
	if (n > c->sb_len)
		n = c->sb_len;
	c->sb_head = (c->sb_head + n) & (c->s->cfg.sndbuf - 1);
	c->sb_len -= n;
	c->sb_seq += n;
}

uint32_t tcp_rcv_space(const struct tcp_conn *c)
{
	return c->s->cfg.rcvbuf - c->rb_len;
}

static void ooo_remove(struct tcp_conn *c, unsigned i)
{
	c->ooo[i] = c->ooo[--c->nooo];
}

bool tcp_rb_write(struct tcp_conn *c, uint32_t seq, const uint8_t *p,
                  uint32_t len, bool *ooo_dropped)
{
	uint32_t size = c->s->cfg.rcvbuf;
	uint32_t off = seq - c->rcv_nxt;
	uint32_t space = tcp_rcv_space(c);
	*ooo_dropped = false;
	if (off >= space || len == 0)
		return false;
	if (len > space - off)
		len = space - off;
	ring_write(c->rbuf, size, c->rb_head + c->rb_len + off, p, len);
	if (off == 0) {
		c->rb_len += len;
		c->rcv_nxt += len;
		bool again = true;
		while (again) {
			again = false;
			for (unsigned i = 0; i < c->nooo; i++) {
				struct tcp_ooo *o = &c->ooo[i];
				if (TCP_SEQ_LEQ(o->start, c->rcv_nxt)) {
					if (TCP_SEQ_GT(o->end, c->rcv_nxt)) {
						uint32_t d = o->end - c->rcv_nxt;
						c->rb_len += d;
						c->rcv_nxt = o->end;
					}
					ooo_remove(c, i);
					again = true;
					break;
				}
			}
		}
		return true;
	}
	struct tcp_ooo n = {seq, seq + len};
	bool again = true;
	while (again) {
		again = false;
		for (unsigned i = 0; i < c->nooo; i++) {
			struct tcp_ooo *o = &c->ooo[i];
			if (TCP_SEQ_LEQ(o->start, n.end) &&
			    TCP_SEQ_GEQ(o->end, n.start)) {
				if (TCP_SEQ_LT(o->start, n.start))
					n.start = o->start;
				if (TCP_SEQ_GT(o->end, n.end))
					n.end = o->end;
				ooo_remove(c, i);
				again = true;
				break;
			}
		}
	}
	if (c->nooo == TCP_OOO_MAX) {
		*ooo_dropped = true;
		return false;
	}
	c->ooo[c->nooo++] = n;
	return false;
}

uint16_t tcp_rcv_window(struct tcp_conn *c, bool syn, bool commit)
{
	uint32_t space = tcp_rcv_space(c);
	if (syn) {
		uint32_t w = space < 65535 ? space : 65535;
		if (commit)
			c->rcv_adv = c->rcv_nxt + w;
		return (uint16_t)w;
	}
	uint8_t shift = c->rcv_wscale;
	uint32_t max = 65535u << shift;
	uint32_t win = space < max ? space : max;
	uint32_t field = win >> shift;
	uint32_t cur = TCP_SEQ_GT(c->rcv_adv, c->rcv_nxt) ?
	                       c->rcv_adv - c->rcv_nxt : 0;
	if ((field << shift) < cur) {
		/* never move the right edge left (RFC 7323 2.4) */
		field = (cur + (1u << shift) - 1) >> shift;
		if (field > 65535)
			field = 65535;
	}
	if (commit) {
		uint32_t edge = c->rcv_nxt + (field << shift);
		if (TCP_SEQ_GT(edge, c->rcv_adv))
			c->rcv_adv = edge;
	}
	return (uint16_t)field;
}

/* Keyed hashes (common/siphash.h) for the 4-tuple table, ISNs (RFC 6528) and SYN
 * cookies. The key is cfg.secret, mixed with a domain byte per use. */
#include "dataplane/net/tcp_priv.h"
#include "common/siphash.h"

#include <string.h>

/* domain byte, 4-tuple (local address is the stack's), extra words */
static uint64_t tuple_hash(const struct tcp_stack *s, uint8_t domain,
                           uint32_t rip, uint16_t rport, uint16_t lport,
                           uint32_t x1, uint32_t x2)
{
	uint8_t b[21];
	b[0] = domain;
	memcpy(b + 1, &rip, 4);
	memcpy(b + 5, &s->net->ip_be, 4);
	b[9] = (uint8_t)(rport >> 8);
	b[10] = (uint8_t)rport;
	b[11] = (uint8_t)(lport >> 8);
	b[12] = (uint8_t)lport;
	memcpy(b + 13, &x1, 4);
	memcpy(b + 17, &x2, 4);
	return siphash24(s->cfg.secret, b, sizeof b);
}

uint32_t tcp_tuple_hash(const struct tcp_stack *s, uint32_t rip,
                        uint16_t rport, uint16_t lport)
{
	return (uint32_t)tuple_hash(s, 1, rip, rport, lport, 0, 0);
}

uint32_t tcp_isn(const struct tcp_stack *s, uint32_t rip, uint16_t rport,
                 uint16_t lport)
{
	/* RFC 6528: M + F(4-tuple, secret), M a 4 us clock */
	return (uint32_t)(s->net->now_us >> 2) +
	       (uint32_t)tuple_hash(s, 2, rip, rport, lport, 0, 0);
}

/* Cookie: 5 bits of a 64 s clock, 3 bits MSS index, 24 bits of MAC over
 * the 4-tuple, the peer's ISN and the full clock value. Valid for the
 * current and the previous clock period (64..128 s). */
static const uint16_t cookie_mss[8] = {536,  1220, 1360, 1400,
                                       1440, 1460, 4312, 8960};
#define COOKIE_PERIOD_SHIFT 26 /* 2^26 us ~ 67 s */

static uint32_t cookie_mac(const struct tcp_stack *s, uint32_t rip,
                           uint16_t rport, uint16_t lport, uint32_t peer_isn,
                           uint32_t t, uint32_t idx)
{
	return (uint32_t)tuple_hash(s, 3, rip, rport, lport, peer_isn,
	                            t << 3 | idx) & 0xffffff;
}

uint32_t tcp_cookie_make(const struct tcp_stack *s, uint32_t rip,
                         uint16_t rport, uint16_t lport, uint32_t peer_isn,
                         uint16_t mss)
{
	uint32_t idx = 0;
	for (uint32_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	uint32_t t = (uint32_t)(s->net->now_us >> COOKIE_PERIOD_SHIFT);
	return (t & 0x1f) << 27 | idx << 24 |
	       cookie_mac(s, rip, rport, lport, peer_isn, t, idx);
}

uint16_t tcp_cookie_check(const struct tcp_stack *s, uint32_t rip,
                          uint16_t rport, uint16_t lport, uint32_t peer_isn,
                          uint32_t cookie)
{
	uint32_t now = (uint32_t)(s->net->now_us >> COOKIE_PERIOD_SHIFT);
	uint32_t age = (now - (cookie >> 27)) & 0x1f;
	if (age > 1)
		return 0;
	uint32_t t = now - age;
	uint32_t idx = cookie >> 24 & 7;
	if (cookie_mac(s, rip, rport, lport, peer_isn, t, idx) !=
	    (cookie & 0xffffff))
		return 0;
	return cookie_mss[idx];
}

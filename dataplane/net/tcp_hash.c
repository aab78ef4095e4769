/* Keyed hashes: SipHash-2-4 for the 4-tuple table, ISNs (RFC 6528) and SYN
 * cookies. The key is cfg.secret, mixed with a domain byte per use. */
#include "dataplane/net/tcp_priv.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = key[0], k1 = key[1];
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

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
	return tcp_siphash(s->cfg.secret, b, sizeof b);
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

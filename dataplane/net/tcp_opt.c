/* TCP options (RFC 9293 3.2, RFC 7323): parse what we use, skip the rest,
 * stop at a malformed length. */
#include "dataplane/net/tcp_priv.h"

#include <string.h>

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WS 3
#define OPT_TS 8

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void tcp_opt_parse(const uint8_t *p, uint16_t len, struct tcp_opts *o)
{
	memset(o, 0, sizeof *o);
	uint16_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == OPT_EOL)
			return;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return;
		uint8_t olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return;
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (olen == 4) {
				o->mss_ok = true;
				o->mss = (uint16_t)(v[0] << 8 | v[1]);
			}
			break;
		case OPT_WS:
			if (olen == 3) {
				o->ws_ok = true;
				o->ws = v[0] > 14 ? 14 : v[0];
			}
			break;
		case OPT_TS:
			if (olen == 10) {
				o->ts_ok = true;
				o->tsval = get32(v);
				o->tsecr = get32(v + 4);
			}
			break;
		default:
			break;
		}
		i = (uint16_t)(i + olen);
	}
}

uint16_t tcp_opt_build_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
	p[0] = OPT_NOP;
	p[1] = OPT_NOP;
	p[2] = OPT_TS;
	p[3] = 10;
	put32(p + 4, tsval);
	put32(p + 8, tsecr);
	return TCP_TS_OPT_LEN;
}

uint16_t tcp_opt_build_syn(uint8_t *p, uint16_t mss, int wscale, bool ts,
                           uint32_t tsval, uint32_t tsecr)
{
	uint16_t n = 0;
	p[n++] = OPT_MSS;
	p[n++] = 4;
	p[n++] = (uint8_t)(mss >> 8);
	p[n++] = (uint8_t)mss;
	if (wscale >= 0) {
		p[n++] = OPT_NOP;
		p[n++] = OPT_WS;
		p[n++] = 3;
		p[n++] = (uint8_t)wscale;
	}
	if (ts)
		n = (uint16_t)(n + tcp_opt_build_ts(p + n, tsval, tsecr));
	return n;
}

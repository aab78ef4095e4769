/* IPv4 receive: every header check, its counter, and delivery to TCP. */
#include <stdlib.h>

#include "check.h"
#include "dataplane/net/net.h"
#include "test_net_util.h"

static struct tn_env *env(void)
{
	struct tn_env *e = calloc(1, sizeof *e);
	tn_env_init(e, 16, 4);
	return e;
}

static void done(struct tn_env *e)
{
	CHECK_EQ_U64(tn_env_fini(e), 0);
	free(e);
}

/* A TCP segment of tcp_len bytes from the peer to us, options given. */
static uint16_t tcp_frame(uint8_t *f, const uint8_t *opts, uint8_t optlen,
                          uint16_t tcp_len)
{
	uint16_t hlen = (uint16_t)(20 + optlen);
	tn_eth(f, tn_our_mac, tn_peer_mac, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, (size_t)hlen + tcp_len);
	ip[0] = (uint8_t)(0x40 | hlen / 4);
	tn_put16(ip + 2, (uint16_t)(hlen + tcp_len));
	tn_put16(ip + 4, 7);
	ip[8] = 64;
	ip[9] = 6;
	uint32_t src = TN_PEER_IP, dst = TN_OUR_IP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	if (optlen)
		memcpy(ip + 20, opts, optlen);
	uint8_t *tcp = ip + hlen;
	for (uint16_t i = 0; i < tcp_len; i++)
		tcp[i] = (uint8_t)(0x50 + i);
	tn_ip_fix_csum(f);
	return (uint16_t)(14 + hlen + tcp_len);
}

static void truncated(void)
{
	struct tn_env *e = env();
	uint8_t f[128];
	uint16_t full = tcp_frame(f, NULL, 0, 20);
	CHECK_EQ_U64(full, 54);
	for (uint16_t len = 0; len < 14; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "eth_drop_runt");
	for (uint16_t len = 14; len < 34; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_short");
	for (uint16_t len = 34; len < full; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_len");
	TN_RX_EXPECT(e, f, full, NET_RX_L4_TCP, "tcp_rx");
	CHECK_EQ_U64(e->ctx.stats.ip_rx, full + 1 - 14);
	done(e);
}

static void header_checks(void)
{
	struct tn_env *e = env();
	uint8_t f[128], g[128];
	uint16_t len = tcp_frame(f, NULL, 0, 20);

	/* checksum: the field itself, or any other byte, off by a bit */
	for (int off = 14; off < 34; off++) {
		memcpy(g, f, len);
		g[off] ^= 0x01;
		const char *why = "ip_drop_csum";
		if (off == 14)
			why = "ip_drop_ihl"; /* IHL 4 */
		else if (off == 16 || off == 17)
			why = "ip_drop_len";
		TN_RX_EXPECT(e, g, len, NET_RX_DROP, why);
	}

	/* IHL below 5, checksum right for what it covers */
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		memcpy(g, f, len);
		g[14] = (uint8_t)(0x40 | ihl);
		tn_ip_fix_csum(g);
		TN_RX_EXPECT(e, g, len, NET_RX_DROP, "ip_drop_ihl");
	}
	/* IHL past the bytes present */
	memcpy(g, f, len);
	g[14] = 0x4f;
	TN_RX_EXPECT(e, g, len, NET_RX_DROP, "ip_drop_short");
	g[14] = 0x46;
	TN_RX_EXPECT(e, g, 37, NET_RX_DROP, "ip_drop_short");
	/* IHL present but longer than the total length */
	memset(g + 54, 0, 20);
	g[14] = 0x4f;
	tn_put16(g + 16, 40);
	tn_ip_fix_csum(g);
	TN_RX_EXPECT(e, g, 74, NET_RX_DROP, "ip_drop_len");

	static const uint8_t versions[] = {0, 1, 5, 6, 15};
	for (size_t i = 0; i < sizeof versions; i++) {
		memcpy(g, f, len);
		g[14] = (uint8_t)(versions[i] << 4 | 5);
		tn_ip_fix_csum(g);
		TN_RX_EXPECT(e, g, len, NET_RX_DROP, "ip_drop_version");
	}

	static const uint16_t totlens[] = {0, 1, 19, 41, 1500, 0xffff};
	for (size_t i = 0; i < sizeof totlens / sizeof totlens[0]; i++) {
		memcpy(g, f, len);
		tn_put16(g + 16, totlens[i]);
		tn_ip_fix_csum(g);
		TN_RX_EXPECT(e, g, len, NET_RX_DROP, "ip_drop_len");
	}

	/* Ethernet padding past the total length is ignored */
	memcpy(g, f, len);
	memset(g + len, 0xee, 60 - len);
	struct net_rx_result res;
	TN_RX_EXPECT(e, g, 60, NET_RX_L4_TCP, "tcp_rx");
	CHECK(tn_rx(e, g, 60, &res) == NET_RX_L4_TCP);
	CHECK_EQ_U64(res.l3_off, 14);
	CHECK_EQ_U64(res.l4_off, 34);
	CHECK_EQ_U64(res.l4_len, 20);
	CHECK_EQ_U64(res.reply_len, 0);

	static const uint16_t frags[] = {0x2000, 0x0001, 0x1fff, 0x3fff,
	                                 0x6000, 0x4001, 0x2001};
	for (size_t i = 0; i < sizeof frags / sizeof frags[0]; i++) {
		memcpy(g, f, len);
		tn_put16(g + 20, frags[i]);
		tn_ip_fix_csum(g);
		TN_RX_EXPECT(e, g, len, NET_RX_DROP, "ip_drop_frag");
	}
	/* DF alone (and the reserved bit) is not a fragment */
	static const uint16_t whole[] = {0x4000, 0x8000, 0xc000};
	for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
		memcpy(g, f, len);
		tn_put16(g + 20, whole[i]);
		tn_ip_fix_csum(g);
		TN_RX_EXPECT(e, g, len, NET_RX_L4_TCP, "tcp_rx");
	}
	done(e);
}

static void options(void)
{
	struct tn_env *e = env();
	uint8_t f[128];
	struct net_rx_result res;
	struct {
		uint8_t opt[12];
		uint8_t len;
		const char *why;
	} cases[] = {
		{{1, 1, 1, 1}, 4, "tcp_rx"},
		{{1, 1, 1, 0}, 4, "tcp_rx"},
		{{0, 0, 0, 0}, 4, "tcp_rx"},
		{{0, 0x94, 0x00, 0}, 4, "tcp_rx"}, /* after EOL: padding */
		{{1, 1, 1, 1, 1, 1, 1, 0}, 8, "tcp_rx"},
		{{0x94, 0x04, 0, 0}, 4, "ip_drop_options"}, /* router alert */
		{{1, 0x94, 0x04, 0, 0, 0, 0, 0}, 8, "ip_drop_options"},
		{{0x44, 0x08, 0x05, 0, 0, 0, 0, 0}, 8, "ip_drop_options"},
		{{0x07, 0x07, 0x04, 0, 0, 0, 0, 0}, 8, "ip_drop_options"},
		{{0x94, 0x00, 0, 0}, 4, "ip_drop_ihl"},
		{{0x94, 0x01, 0, 0}, 4, "ip_drop_ihl"},
		{{0x94, 0x05, 0, 0}, 4, "ip_drop_ihl"},
		{{0x94, 0xff, 0, 0}, 4, "ip_drop_ihl"},
		{{1, 1, 1, 0x94}, 4, "ip_drop_ihl"},
		{{0x94, 0x04, 0, 0, 0x07, 0x00, 0, 0}, 8, "ip_drop_ihl"},
		{{0x94, 0x04, 0, 0, 1, 1, 1, 0x83}, 8, "ip_drop_ihl"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint16_t len = tcp_frame(f, cases[i].opt, cases[i].len, 20);
		bool ok = strcmp(cases[i].why, "tcp_rx") == 0;
		TN_RX_EXPECT(e, f, len, ok ? NET_RX_L4_TCP : NET_RX_DROP,
		             cases[i].why);
		if (ok) {
			CHECK(tn_rx(e, f, len, &res) == NET_RX_L4_TCP);
			CHECK_EQ_U64(res.l4_off, 34 + cases[i].len);
			CHECK_EQ_U64(res.l4_len, 20);
			CHECK_EQ_U64(f[res.l4_off], 0x50);
		}
	}
	done(e);
}

static void addresses(void)
{
	struct tn_env *e = env();
	uint8_t f[128];
	uint16_t len = tcp_frame(f, NULL, 0, 20);

	uint32_t not_ours[] = {
		tn_ip(10, 0, 0, 9),   tn_ip(255, 255, 255, 255),
		tn_ip(10, 0, 0, 255), tn_ip(224, 0, 0, 1),
		tn_ip(0, 0, 0, 0),    tn_ip(1, 0, 0, 10),
	};
	for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++) {
		memcpy(f + 30, &not_ours[i], 4);
		tn_ip_fix_csum(f);
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_not_ours");
	}
	uint32_t ours = TN_OUR_IP;
	memcpy(f + 30, &ours, 4);

	uint32_t bad_src[] = {
		tn_ip(0, 0, 0, 0),         tn_ip(255, 255, 255, 255),
		tn_ip(224, 0, 0, 5),       tn_ip(239, 255, 255, 250),
		tn_ip(127, 0, 0, 1),       tn_ip(127, 255, 0, 1),
		TN_OUR_IP,                 tn_ip(10, 0, 0, 255),
	};
	for (size_t i = 0; i < sizeof bad_src / sizeof bad_src[0]; i++) {
		memcpy(f + 26, &bad_src[i], 4);
		tn_ip_fix_csum(f);
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_src");
	}
	uint32_t good_src[] = {
		TN_PEER_IP,           tn_ip(192, 168, 1, 1),
		tn_ip(8, 8, 8, 8),    tn_ip(223, 255, 255, 255),
		tn_ip(10, 0, 0, 254), tn_ip(128, 0, 0, 1),
	};
	for (size_t i = 0; i < sizeof good_src / sizeof good_src[0]; i++) {
		memcpy(f + 26, &good_src[i], 4);
		tn_ip_fix_csum(f);
		TN_RX_EXPECT(e, f, len, NET_RX_L4_TCP, "tcp_rx");
	}

	/* a /31 has no broadcast address: its other end is a peer */
	e->ctx.ip_be = tn_ip(10, 0, 0, 0);
	e->ctx.netmask_be = tn_ip(255, 255, 255, 254);
	uint32_t src = tn_ip(10, 0, 0, 1), dst = e->ctx.ip_be;
	memcpy(f + 26, &src, 4);
	memcpy(f + 30, &dst, 4);
	tn_ip_fix_csum(f);
	TN_RX_EXPECT(e, f, len, NET_RX_L4_TCP, "tcp_rx");
	/* while on a /30 that address is the broadcast */
	e->ctx.netmask_be = tn_ip(255, 255, 255, 252);
	src = tn_ip(10, 0, 0, 3);
	memcpy(f + 26, &src, 4);
	tn_ip_fix_csum(f);
	TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_src");
	done(e);
}

static void protocols(void)
{
	struct tn_env *e = env();
	uint8_t f[256];
	struct net_rx_result res;
	uint16_t len = tcp_frame(f, NULL, 0, 20);

	f[23] = 17;
	tn_ip_fix_csum(f);
	TN_RX_EXPECT(e, f, len, NET_RX_DROP, "udp_rx");
	static const uint8_t others[] = {0, 2, 4, 41, 47, 50, 58, 132, 255};
	for (size_t i = 0; i < sizeof others; i++) {
		f[23] = others[i];
		tn_ip_fix_csum(f);
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_proto");
	}

	for (uint16_t tl = 0; tl < 20; tl++) {
		len = tcp_frame(f, NULL, 0, tl);
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "tcp_drop_short");
		/* padded to the minimum frame: still too short */
		TN_RX_EXPECT(e, f, 60, NET_RX_DROP, "tcp_drop_short");
	}
	len = tcp_frame(f, NULL, 0, 150);
	CHECK(tn_rx(e, f, len, &res) == NET_RX_L4_TCP);
	CHECK_EQ_U64(res.l3_off, 14);
	CHECK_EQ_U64(res.l4_off, 34);
	CHECK_EQ_U64(res.l4_len, 150);
	/* the frame is left as it came */
	uint8_t copy[256];
	tcp_frame(copy, NULL, 0, 150);
	CHECK(memcmp(copy, f, len) == 0);
	CHECK_EQ_U64(e->nsent, 0);
	done(e);
}

int main(void)
{
	truncated();
	header_checks();
	options();
	addresses();
	protocols();
	CHECK_DONE();
}

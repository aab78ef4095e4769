/* ICMP echo: the reply built in place, and what is dropped. */
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

/* Compares reply r (rlen bytes) with the request q it answers. */
static int reply_faults(const uint8_t *q, const uint8_t *r, uint16_t rlen,
                        const uint8_t *src_mac)
{
	int bad = 0;
	uint16_t totlen = tn_get16(q + 16);
	bad += rlen != 14 + totlen;
	bad += memcmp(r, src_mac, 6) != 0;
	bad += memcmp(r + 6, tn_our_mac, 6) != 0;
	bad += tn_get16(r + 12) != 0x0800;
	const uint8_t *qi = q + 14, *ri = r + 14;
	bad += ri[0] != 0x45 || ri[1] != qi[1];
	bad += memcmp(ri + 2, qi + 2, 6) != 0; /* length, id, flags */
	bad += ri[8] != 64;
	bad += ri[9] != 1;
	bad += memcmp(ri + 12, qi + 16, 4) != 0; /* src: us */
	bad += memcmp(ri + 16, qi + 12, 4) != 0; /* dst: the requester */
	bad += tn_ref_sum(ri, 20) != 0xffff;
	const uint8_t *qm = qi + 20, *rm = ri + 20;
	uint16_t ilen = (uint16_t)(totlen - 20);
	bad += rm[0] != 0 || rm[1] != 0;
	bad += memcmp(rm + 4, qm + 4, ilen - 4u) != 0; /* id, seq, data */
	bad += tn_ref_sum(rm, ilen) != 0xffff;
	return bad;
}

static void echo_reply(void)
{
	struct tn_env *e = env();
	uint8_t payload[1400], q[1600], r[1600];
	struct net_rx_result res;
	srand(792);
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)rand();

	/* odd and even sizes, up to a full MTU */
	static const uint16_t sizes[] = {0, 1, 2, 3, 7, 33, 56, 1000, 1400,
	                                 1472};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint16_t plen = sizes[i] > sizeof payload ? sizeof payload
		                                         : sizes[i];
		if (sizes[i] == 1472) { /* 1500-byte datagram */
			uint8_t big[1472];
			for (size_t k = 0; k < sizeof big; k++)
				big[k] = (uint8_t)(k * 7);
			plen = tn_icmp_echo(q, TN_PEER_IP, TN_OUR_IP, 0x77,
			                    (uint16_t)i, big, 1472);
		} else {
			plen = tn_icmp_echo(q, TN_PEER_IP, TN_OUR_IP, 0x77,
			                    (uint16_t)i, payload, plen);
		}
		uint16_t len = plen;
		memcpy(r, q, len);
		TN_RX_EXPECT(e, r, len, NET_RX_REPLY, "icmp_tx_echo_reply");
		CHECK(tn_rx(e, r, len, &res) == NET_RX_REPLY);
		CHECK_EQ_U64(res.reply_len, len);
		CHECK_EQ_U64(reply_faults(q, r, res.reply_len, tn_peer_mac), 0);
	}
	CHECK_EQ_U64(e->ctx.stats.icmp_rx_echo, 20);

	/* a short request in a padded frame: the reply leaves the padding */
	uint16_t len = tn_icmp_echo(q, TN_PEER_IP, TN_OUR_IP, 1, 2, payload, 4);
	CHECK_EQ_U64(len, 46);
	memset(q + len, 0xee, 60 - len);
	memcpy(r, q, 60);
	CHECK(tn_rx(e, r, 60, &res) == NET_RX_REPLY);
	CHECK_EQ_U64(res.reply_len, 46);
	CHECK_EQ_U64(reply_faults(q, r, res.reply_len, tn_peer_mac), 0);

	/* a request to the broadcast MAC is answered from ours; and one from
	 * behind the gateway goes back to the gateway's MAC, no ARP */
	len = tn_icmp_echo(q, tn_ip(8, 8, 4, 4), TN_OUR_IP, 1, 3, payload, 9);
	memcpy(q, tn_bcast, 6);
	memcpy(q + 6, tn_gw_mac, 6);
	memcpy(r, q, len);
	CHECK(tn_rx(e, r, len, &res) == NET_RX_REPLY);
	CHECK_EQ_U64(reply_faults(q, r, res.reply_len, tn_gw_mac), 0);
	CHECK_EQ_U64(e->nsent, 0);
	done(e);
}

/* Every value the request's checksum field can take: the reply's checksum
 * must hold for each. */
static void every_checksum(void)
{
	struct tn_env *e = env();
	uint8_t q[64], r[64];
	struct net_rx_result res;
	int bad = 0, replies = 0;
	for (uint32_t w = 0; w <= 0xffff; w++) {
		uint8_t payload[4] = {(uint8_t)(w >> 8), (uint8_t)w, 0x12, 0x34};
		uint16_t len = tn_icmp_echo(q, TN_PEER_IP, TN_OUR_IP, 0x0102,
		                            0x0304, payload, 4);
		for (int alt = 0; alt < 2; alt++) {
			/* 0x0000 and 0xffff are both zero in one's
			 * complement: a sender may write either */
			if (alt) {
				if (tn_get16(q + 36) != 0)
					break;
				tn_put16(q + 36, 0xffff);
			}
			memcpy(r, q, len);
			if (net_rx(&e->ctx, r, len, &res) != NET_RX_REPLY) {
				bad++;
				continue;
			}
			replies++;
			bad += reply_faults(q, r, res.reply_len, tn_peer_mac);
		}
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(replies > 0x10000);

	/* id, seq and data all zero: the reply's words sum to +0, so its
	 * checksum must be 0xffff (a patched sum would give 0x0000) */
	for (uint16_t plen = 0; plen <= 8; plen += 8) {
		static const uint8_t zeros[8];
		uint16_t len = tn_icmp_echo(q, TN_PEER_IP, TN_OUR_IP, 0, 0,
		                            zeros, plen);
		CHECK_EQ_U64(tn_get16(q + 36), 0xf7ff);
		memcpy(r, q, len);
		CHECK(net_rx(&e->ctx, r, len, &res) == NET_RX_REPLY);
		CHECK_EQ_U64(tn_get16(r + 36), 0xffff);
		CHECK_EQ_U64(reply_faults(q, r, res.reply_len, tn_peer_mac), 0);
	}
	done(e);
}

static void drops(void)
{
	struct tn_env *e = env();
	uint8_t f[128], g[128];
	static const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint16_t full = tn_icmp_echo(f, TN_PEER_IP, TN_OUR_IP, 5, 6, payload, 8);

	for (uint16_t len = 0; len < 14; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "eth_drop_runt");
	for (uint16_t len = 14; len < 34; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_short");
	for (uint16_t len = 34; len < full; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "ip_drop_len");
	TN_RX_EXPECT(e, f, full, NET_RX_REPLY, "icmp_tx_echo_reply");

	/* the IPv4 total length says the ICMP message is short */
	for (uint16_t ilen = 0; ilen < 8; ilen++) {
		memcpy(g, f, full);
		tn_put16(g + 16, (uint16_t)(20 + ilen));
		tn_ip_fix_csum(g);
		TN_RX_EXPECT(e, g, full, NET_RX_DROP, "icmp_drop_short");
	}

	/* a flipped bit anywhere in the message */
	for (int off = 34; off < full; off++) {
		memcpy(g, f, full);
		g[off] ^= 0x40;
		TN_RX_EXPECT(e, g, full, NET_RX_DROP, "icmp_drop_csum");
	}
	/* the checksum covers the message, not the frame's padding */
	memcpy(g, f, full);
	memset(g + full, 0x5a, 64 - full);
	TN_RX_EXPECT(e, g, 64, NET_RX_REPLY, "icmp_rx_echo");

	struct {
		uint8_t type, code;
	} types[] = {{0, 0}, {3, 1}, {5, 0}, {8, 1}, {8, 255},
	             {11, 0}, {13, 0}, {17, 0}, {255, 0}};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		memcpy(g, f, full);
		g[34] = types[i].type;
		g[35] = types[i].code;
		tn_icmp_fix_csum(g);
		TN_RX_EXPECT(e, g, full, NET_RX_DROP, "icmp_drop_type");
	}

	/* not for us: IPv4 drops it before ICMP sees it */
	tn_icmp_echo(g, TN_PEER_IP, tn_ip(10, 0, 0, 255), 5, 6, payload, 8);
	TN_RX_EXPECT(e, g, full, NET_RX_DROP, "ip_drop_not_ours");
	CHECK_EQ_U64(e->ctx.stats.icmp_rx_echo, 2);
	CHECK_EQ_U64(e->nsent, 0);
	done(e);
}

int main(void)
{
	echo_reply();
	every_checksum();
	drops();
	CHECK_DONE();
}

/* Ethernet receive filtering, setup checks and IPv4 output routing. */
#include <stdlib.h>

#include "check.h"
#include "dataplane/net/net.h"
#include "test_net_util.h"

static void init_rejects_bad_config(void)
{
	struct net_ctx c;
	memset(&c, 0, sizeof c);
	/* uint64_t: storage aligned for the private entry types */
	static uint64_t table[64 * 8], pend[16 * 8];
	c.arp_table = (struct net_arp_entry *)(void *)table;
	c.pending = (struct net_arp_pending *)(void *)pend;
	CHECK(NET_ARP_ENTRY_SIZE <= 64 && NET_ARP_PENDING_SIZE <= 64);
	c.arp_pending_max = 4;

	c.arp_table_size = 0;
	CHECK(net_init(&c) == -1);
	c.arp_table_size = 3;
	CHECK(net_init(&c) == -1);
	c.arp_table_size = 48;
	CHECK(net_init(&c) == -1);
	c.arp_table_size = 1;
	CHECK(net_init(&c) == 0);
	c.arp_table_size = 32;
	CHECK(net_init(&c) == 0);
	c.arp_pending_max = 0;
	CHECK(net_init(&c) == -1);
	c.arp_pending_max = 4;
	c.pending = NULL;
	CHECK(net_init(&c) == -1);
	c.pending = (struct net_arp_pending *)(void *)pend;
	c.arp_table = NULL;
	CHECK(net_init(&c) == -1);
}

static void rx_filter(void)
{
	struct tn_env *e = calloc(1, sizeof *e);
	tn_env_init(e, 16, 8);
	uint8_t f[64];
	memset(f, 0, sizeof f);
	uint64_t bytes = 0, frames = 0;

	tn_eth(f, tn_our_mac, tn_peer_mac, 0x0800);
	for (uint16_t len = 0; len < 14; len++) {
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "eth_drop_runt");
		bytes += len;
		frames++;
	}
	CHECK_EQ_U64(e->ctx.stats.ip_rx, 0);

	static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x09};
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	static const uint8_t almost_bcast[6] = {0xff, 0xff, 0xff,
	                                        0xff, 0xff, 0xfe};
	tn_eth(f, other, tn_peer_mac, 0x0800);
	TN_RX_EXPECT(e, f, 60, NET_RX_DROP, "eth_drop_not_ours");
	tn_eth(f, mcast, tn_peer_mac, 0x0800);
	TN_RX_EXPECT(e, f, 60, NET_RX_DROP, "eth_drop_not_ours");
	tn_eth(f, almost_bcast, tn_peer_mac, 0x0806);
	TN_RX_EXPECT(e, f, 60, NET_RX_DROP, "eth_drop_not_ours");
	bytes += 180;
	frames += 3;

	static const uint16_t types[] = {0x86dd, 0x8100, 0x88a8, 0x0000,
	                                 0x0805, 0x0801, 0xffff};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		tn_eth(f, tn_our_mac, tn_peer_mac, types[i]);
		TN_RX_EXPECT(e, f, 14, NET_RX_DROP, "eth_drop_ethertype");
		tn_eth(f, tn_bcast, tn_peer_mac, types[i]);
		TN_RX_EXPECT(e, f, 60, NET_RX_DROP, "eth_drop_ethertype");
		bytes += 74;
		frames += 2;
	}

	/* exactly 14 bytes of IPv4 gets past Ethernet, then IPv4 drops it */
	tn_eth(f, tn_our_mac, tn_peer_mac, 0x0800);
	TN_RX_EXPECT(e, f, 14, NET_RX_DROP, "ip_drop_short");
	/* broadcast is ours for ARP and IPv4 alike */
	tn_arp(f, tn_bcast, 1, tn_peer_mac, TN_PEER_IP, tn_zero_mac,
	       TN_OUR_IP);
	TN_RX_EXPECT(e, f, 42, NET_RX_REPLY, "arp_tx_reply");
	bytes += 56;
	frames += 2;

	/* a NULL result is tolerated */
	tn_eth(f, tn_our_mac, tn_peer_mac, 0x86dd);
	CHECK(net_rx(&e->ctx, f, 60, NULL) == NET_RX_DROP);
	bytes += 60;
	frames++;

	CHECK_EQ_U64(e->ctx.stats.rx_frames, frames);
	CHECK_EQ_U64(e->ctx.stats.rx_bytes, bytes);
	CHECK_EQ_U64(tn_env_fini(e), 0);
	free(e);
}

/* An outgoing frame: Ethernet left blank, a minimal IPv4 header to dst. */
static void *out_frame(struct tn_env *e, uint32_t dst, uint8_t **data,
                       uint16_t *len)
{
	*len = 14 + 20 + 20;
	void *fr = tn_frame_new(e, *len, data);
	uint8_t *ip = *data + 14;
	ip[0] = 0x45;
	tn_put16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = 6;
	uint32_t src = TN_OUR_IP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	return fr;
}

static void learn(struct tn_env *e, const uint8_t mac[6], uint32_t ip)
{
	uint8_t f[42];
	tn_arp(f, tn_our_mac, 2, mac, ip, tn_our_mac, TN_OUR_IP);
	CHECK(tn_rx(e, f, 42, NULL) == NET_RX_CONSUMED);
}

static void output_routing(void)
{
	struct tn_env *e = calloc(1, sizeof *e);
	tn_env_init(e, 16, 8);
	uint8_t *d;
	uint16_t len;
	void *fr;

	/* on-link, resolved: header filled, caller sends */
	learn(e, tn_peer_mac, TN_PEER_IP);
	fr = out_frame(e, TN_PEER_IP, &d, &len);
	CHECK(net_output_ipv4(&e->ctx, fr, d, len, TN_PEER_IP) == NET_TX_SEND);
	CHECK(memcmp(d, tn_peer_mac, 6) == 0);
	CHECK(memcmp(d + 6, tn_our_mac, 6) == 0);
	CHECK_EQ_U64(tn_get16(d + 12), 0x0800);
	CHECK_EQ_U64(tn_get16(d + 14 + 2), 40); /* IPv4 untouched */
	CHECK_EQ_U64(e->nsent, 0);
	free(fr);
	e->live--;

	/* off-link: the gateway is what gets resolved */
	uint32_t far = tn_ip(192, 168, 7, 9);
	fr = out_frame(e, far, &d, &len);
	int tag = tn_frame_tag(fr);
	CHECK(net_output_ipv4(&e->ctx, fr, d, len, far) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 1);
	CHECK_EQ_U64(tn_get16(e->sent[0].bytes + 12), 0x0806);
	CHECK(tn_get_addr(e->sent[0].bytes + 14 + 24) == TN_GW_IP);
	learn(e, tn_gw_mac, TN_GW_IP);
	CHECK_EQ_U64(e->nsent, 2);
	CHECK_EQ_U64(e->sent[1].tag, tag);
	CHECK_EQ_U64(e->sent[1].len, len);
	CHECK(memcmp(e->sent[1].bytes, tn_gw_mac, 6) == 0);
	CHECK(memcmp(e->sent[1].bytes + 6, tn_our_mac, 6) == 0);
	CHECK_EQ_U64(tn_get16(e->sent[1].bytes + 12), 0x0800);
	/* and later off-link frames go straight to it */
	fr = out_frame(e, tn_ip(8, 8, 8, 8), &d, &len);
	CHECK(net_output_ipv4(&e->ctx, fr, d, len, tn_ip(8, 8, 8, 8)) ==
	      NET_TX_SEND);
	CHECK(memcmp(d, tn_gw_mac, 6) == 0);
	free(fr);
	e->live--;

	/* too short to hold the headers: freed, not written */
	uint64_t drops = net_stats_drops(&e->ctx.stats);
	fr = tn_frame_new(e, 33, &d);
	CHECK(net_output_ipv4(&e->ctx, fr, d, 33, TN_PEER_IP) == NET_TX_DROP);
	CHECK_EQ_U64(e->ctx.stats.ip_tx_drop_short, 1);
	CHECK_EQ_U64(net_stats_drops(&e->ctx.stats), drops + 1);
	CHECK_EQ_U64(e->nfreed, 1);
	CHECK_EQ_U64(tn_env_fini(e), 0);

	/* no gateway: off-link is unroutable, on-link still works */
	tn_env_init(e, 16, 8);
	e->ctx.gateway_be = 0;
	fr = out_frame(e, far, &d, &len);
	tag = tn_frame_tag(fr);
	CHECK(net_output_ipv4(&e->ctx, fr, d, len, far) == NET_TX_DROP);
	CHECK_EQ_U64(e->ctx.stats.ip_tx_drop_noroute, 1);
	CHECK_EQ_U64(net_stats_drops(&e->ctx.stats), 1);
	CHECK_EQ_U64(e->nfreed, 1);
	CHECK_EQ_U64(e->freed[0], tag);
	CHECK_EQ_U64(e->nsent, 0);
	fr = out_frame(e, TN_PEER_IP, &d, &len);
	CHECK(net_output_ipv4(&e->ctx, fr, d, len, TN_PEER_IP) ==
	      NET_TX_PENDING);
	CHECK_EQ_U64(e->ctx.stats.arp_tx_request, 1);
	CHECK_EQ_U64(tn_env_fini(e), 0); /* fini freed the parked frame */
	CHECK_EQ_U64(e->nfreed, 2);
	free(e);
}

/* Whatever mix arrives, the drop sum equals the DROP verdicts. */
static void drops_equal_verdicts(void)
{
	struct tn_env *e = calloc(1, sizeof *e);
	tn_env_init(e, 16, 8);
	uint64_t ndrop = 0;
	srand(42);
	for (int i = 0; i < 20000; i++) {
		uint8_t f[128];
		uint16_t len;
		switch (rand() % 4) {
		case 0:
			len = tn_icmp_echo(f, TN_PEER_IP, TN_OUR_IP, 1,
			                   (uint16_t)i, NULL, 0);
			break;
		case 1:
			len = tn_arp(f, tn_bcast, 1, tn_peer_mac, TN_PEER_IP,
			             tn_zero_mac, TN_OUR_IP);
			break;
		case 2:
			len = tn_ipv4(f, TN_PEER_IP, TN_OUR_IP, 6, 20);
			break;
		default:
			len = (uint16_t)(rand() % 128);
			for (int k = 0; k < len; k++)
				f[k] = (uint8_t)rand();
			break;
		}
		/* corrupt a byte now and then, and cut the frame */
		if (len && rand() % 2)
			f[rand() % len] ^= (uint8_t)(1u << (rand() % 8));
		if (len && rand() % 4 == 0)
			len = (uint16_t)(rand() % len);
		if (rand() % 8 == 0) /* our MAC often, to get past eth */
			memcpy(f, tn_our_mac, len < 6 ? len : 6);
		struct net_rx_result res;
		if (tn_rx(e, f, len, &res) == NET_RX_DROP)
			ndrop++;
	}
	CHECK_EQ_U64(net_stats_drops(&e->ctx.stats), ndrop);
	CHECK(ndrop > 1000);
	CHECK(e->ctx.stats.icmp_tx_echo_reply > 100);
	CHECK_EQ_U64(tn_env_fini(e), 0);
	free(e);
}

int main(void)
{
	init_rejects_bad_config();
	rx_filter();
	output_routing();
	drops_equal_verdicts();
	CHECK_DONE();
}

/*
 * fuzz_net_rx - arbitrary frames into the L2/L3 stack.
 *
 * Input: byte 0 picks what to do (low 3 bits), which ctx (bit 3: the one
 * without a gateway) and whether frame_alloc fails (bit 4); byte 1 advances
 * the clock by 2^(byte1 % 40) - 1 us, so ARP aging and pending timeouts
 * fire; the rest is the frame. Modes:
 *   0, 1  net_rx as is
 *   2, 3  net_rx after fixing the IPv4 header checksum (3: and the ICMP
 *         one), so the fuzzer gets past them to options, ICMP, delivery
 *   4     net_arp_observe
 *   5     net_output_ipv4 of the rest to one or more destinations
 *   6     net_timer
 *   7     net_arp_lookup, or net_arp_announce on a short input
 * The ctxs live across inputs (static storage) so the ARP cache and pending
 * queue fill, age and collide as they would on a long-running lcore.
 *
 * Every frame sits in a heap block of exactly its length, and the frames
 * the stack allocates are exact-size heap blocks too, so ASan flags any
 * byte read or written past the end. Beyond "no crash", each call checks
 * the stack's own promises and traps when one is broken.
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/net.h"

#define MAX_FRAME 9000
#define TABLE_SIZE 8
#define PENDING_MAX 4

struct frame {
	uint16_t cap;
	uint8_t data[];
};

static struct frame *frame_new(uint16_t len)
{
	struct frame *f = malloc(sizeof *f + len);
	if (!f)
		abort();
	f->cap = len;
	return f;
}

static bool alloc_fails;

static void *op_alloc(void *user, uint16_t len, uint8_t **data)
{
	(void)user;
	if (alloc_fails)
		return NULL;
	struct frame *f = frame_new(len);
	*data = f->data;
	return f;
}

static void op_send(void *user, void *frame, uint16_t len)
{
	(void)user;
	struct frame *f = frame;
	if (len > f->cap)
		__builtin_trap();
	free(f);
}

static void op_free(void *user, void *frame)
{
	(void)user;
	free(frame);
}

struct fuzz_ctx {
	struct net_ctx ctx;
	/* uint64_t: aligned for the private entry types */
	uint64_t table[TABLE_SIZE * 8];
	uint64_t pending[PENDING_MAX * 8];
};

static struct fuzz_ctx ctxs[2];
static int ready;

static uint32_t addr(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static void setup(void)
{
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x01};
	if (NET_ARP_ENTRY_SIZE > 64 || NET_ARP_PENDING_SIZE > 64)
		abort();
	for (int i = 0; i < 2; i++) {
		struct net_ctx *c = &ctxs[i].ctx;
		memcpy(c->mac, mac, 6);
		c->ip_be = addr(10, 0, 0, 1);
		c->netmask_be = addr(255, 255, 255, 0);
		c->gateway_be = i == 0 ? addr(10, 0, 0, 254) : 0;
		c->mtu = 1500;
		c->ops = (struct net_ops){op_alloc, op_send, op_free, NULL};
		c->now_us = 1;
		c->arp_table = (struct net_arp_entry *)(void *)ctxs[i].table;
		c->arp_table_size = TABLE_SIZE;
		c->arp_timeout_us = 2000000;
		c->pending = (struct net_arp_pending *)(void *)ctxs[i].pending;
		c->arp_pending_max = PENDING_MAX;
		c->pending_timeout_us = 500000;
		if (net_init(c) != 0)
			abort();
	}
	ready = 1;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void check_rx(struct net_ctx *c, uint8_t *data, uint16_t len)
{
	struct net_rx_result res;
	uint64_t drops = net_stats_drops(&c->stats);
	uint64_t frames = c->stats.rx_frames;
	uint64_t echo = c->stats.icmp_tx_echo_reply;

	enum net_rx_verdict v = net_rx(c, data, len, &res);

	/* exactly one drop counter per dropped frame, none otherwise */
	if (net_stats_drops(&c->stats) - drops != (v == NET_RX_DROP))
		__builtin_trap();
	if (c->stats.rx_frames != frames + 1)
		__builtin_trap();
	switch (v) {
	case NET_RX_DROP:
	case NET_RX_CONSUMED:
		break;
	case NET_RX_REPLY:
		if (res.reply_len > len || res.reply_len < 42)
			__builtin_trap();
		if (c->stats.icmp_tx_echo_reply != echo) {
			/* both checksums of the echo reply verify */
			const uint8_t *ip = data + NET_ETH_HLEN;
			uint16_t hlen = (uint16_t)((ip[0] & 0x0f) * 4);
			uint16_t tot = get16(ip + 2);
			if (res.reply_len != NET_ETH_HLEN + tot ||
			    net_csum_partial(ip, hlen, 0) != 0xffff ||
			    net_csum_partial(ip + hlen, tot - hlen, 0) !=
			            0xffff)
				__builtin_trap();
		}
		break;
	case NET_RX_L4_TCP:
		if (res.l4_len < 20 || res.l3_off != NET_ETH_HLEN ||
		    (uint32_t)res.l4_off + res.l4_len > len)
			__builtin_trap();
		break;
	default:
		__builtin_trap();
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Makes the checksums right where the frame has room for them. */
static void fix_checksums(uint8_t *d, uint16_t len, bool icmp)
{
	if (len < NET_ETH_HLEN + 20)
		return;
	uint8_t *ip = d + NET_ETH_HLEN;
	uint16_t avail = (uint16_t)(len - NET_ETH_HLEN);
	uint16_t hlen = (uint16_t)((ip[0] & 0x0f) * 4);
	if (hlen < 20 || hlen > avail)
		return;
	put16(ip + 10, 0);
	put16(ip + 10, net_csum(ip, hlen));
	uint16_t tot = get16(ip + 2);
	if (!icmp || tot > avail || tot < hlen + 4)
		return;
	put16(ip + hlen + 2, 0);
	put16(ip + hlen + 2, net_csum(ip + hlen, tot - hlen));
}

static void output_one(struct net_ctx *c, uint32_t dst, const uint8_t *in,
                       size_t n)
{
	uint16_t len = (uint16_t)(NET_ETH_HLEN + n);
	struct frame *f = frame_new(len);
	memset(f->data, 0, NET_ETH_HLEN);
	memcpy(f->data + NET_ETH_HLEN, in, n);

	uint64_t drops = net_stats_drops(&c->stats);
	enum net_tx_verdict v = net_output_ipv4(c, f, f->data, len, dst);
	if (net_stats_drops(&c->stats) - drops != (v == NET_TX_DROP))
		__builtin_trap();
	if (v == NET_TX_SEND) {
		if (get16(f->data + 12) != NET_ETHERTYPE_IPV4)
			__builtin_trap();
		free(f); /* the caller would transmit it */
	}
}

/* in[0]: bit 0 on-link destinations 10.0.0.x (where the cache is busy),
 * bits 1-3 how many; then 4 bytes per destination; then the packet, sent
 * to each of them, so the table and the queue fill in one input. */
static void output(struct net_ctx *c, const uint8_t *in, size_t n)
{
	if (n < 1)
		return;
	size_t count = 1 + (in[0] >> 1 & 7);
	bool onlink = in[0] & 1;
	if (n < 1 + 4 * count)
		return;
	const uint8_t *pkt = in + 1 + 4 * count;
	size_t plen = n - 1 - 4 * count;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *a = in + 1 + 4 * i;
		uint32_t dst;
		if (onlink)
			dst = addr(10, 0, 0, a[3]);
		else
			memcpy(&dst, a, 4);
		output_one(c, dst, pkt, plen);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	if (!ready)
		setup();
	if (size < 2)
		return 0;
	struct net_ctx *c = &ctxs[(in[0] >> 3) & 1].ctx;
	unsigned mode = in[0] & 7;
	alloc_fails = in[0] >> 4 & 1;
	c->now_us += ((uint64_t)1 << (in[1] % 40)) - 1;
	in += 2;
	size -= 2;
	if (size > MAX_FRAME)
		size = MAX_FRAME;

	uint8_t *data = malloc(size ? size : 1);
	if (!data)
		abort();
	memcpy(data, in, size);
	uint16_t len = (uint16_t)size;
	uint8_t mac[6];

	switch (mode) {
	case 4:
		net_arp_observe(c, data, len);
		break;
	case 5:
		output(c, data, size);
		break;
	case 6:
		net_timer(c);
		break;
	case 7:
		if (size >= 4) {
			uint32_t ip;
			memcpy(&ip, data, 4);
			(void)net_arp_lookup(c, ip, mac);
		} else {
			(void)net_arp_announce(c);
		}
		break;
	case 2:
	case 3:
		fix_checksums(data, len, mode == 3);
		check_rx(c, data, len);
		break;
	default:
		check_rx(c, data, len);
		break;
	}
	if (c->arp_pending_count > c->arp_pending_max)
		__builtin_trap();
	free(data);
	return 0;
}

/* ARP: replies, learning rules, the cache (aging, eviction, full table,
 * deletion in probe runs) and the pending queue. */
#include <stdlib.h>

#include "check.h"
#include "dataplane/net/net.h"
#include "dataplane/net/net_priv.h"
#include "test_net_util.h"

#define SEC 1000000ull

static const uint8_t mac_a[6] = {0x02, 0x00, 0x00, 0x00, 0x0a, 0x01};
static const uint8_t mac_b[6] = {0x02, 0x00, 0x00, 0x00, 0x0b, 0x02};

static struct tn_env *env(uint32_t table, uint32_t pending)
{
	struct tn_env *e = calloc(1, sizeof *e);
	tn_env_init(e, table, pending);
	return e;
}

static void done(struct tn_env *e)
{
	CHECK_EQ_U64(tn_env_fini(e), 0);
	free(e);
}

static enum net_rx_verdict rx_arp(struct tn_env *e, const uint8_t edst[6],
                                  uint16_t op, const uint8_t sha[6],
                                  uint32_t spa, uint32_t tpa)
{
	uint8_t f[42];
	tn_arp(f, edst, op, sha, spa, op == 1 ? tn_zero_mac : tn_our_mac, tpa);
	return tn_rx(e, f, 42, NULL);
}

/* A peer asking for us: we learn it and it is resolved. */
static void learn(struct tn_env *e, const uint8_t mac[6], uint32_t ip)
{
	CHECK(rx_arp(e, tn_bcast, 1, mac, ip, TN_OUR_IP) == NET_RX_REPLY);
}

static bool has(struct tn_env *e, uint32_t ip, const uint8_t mac[6])
{
	uint8_t got[6];
	if (!net_arp_lookup(&e->ctx, ip, got))
		return false;
	return mac == NULL || memcmp(got, mac, 6) == 0;
}

/* Output a small IPv4 frame to dst; *tag identifies it later. */
static enum net_tx_verdict out(struct tn_env *e, uint32_t dst, int *tag)
{
	uint8_t *d;
	void *fr = tn_frame_new(e, 60, &d);
	d[14] = 0x45;
	tn_put16(d + 16, 46);
	memcpy(d + 14 + 16, &dst, 4);
	if (tag)
		*tag = tn_frame_tag(fr);
	enum net_tx_verdict v = net_output_ipv4(&e->ctx, fr, d, 60, dst);
	if (v == NET_TX_SEND) { /* the caller would transmit it */
		free(fr);
		e->live--;
	}
	return v;
}

/* sent[i] is a broadcast ARP request from us for ip. */
static bool is_request_for(const struct tn_env *e, int i, uint32_t ip)
{
	uint8_t want[60] = {0};
	tn_arp(want, tn_bcast, 1, tn_our_mac, TN_OUR_IP, tn_zero_mac, ip);
	return i < e->nsent && e->sent[i].len == 60 &&
	       memcmp(e->sent[i].bytes, want, 60) == 0;
}

static void reply_bytes(void)
{
	struct tn_env *e = env(16, 4);
	uint8_t f[60], want[42];
	struct net_rx_result res;

	tn_arp(f, tn_bcast, 1, tn_peer_mac, TN_PEER_IP, tn_zero_mac,
	       TN_OUR_IP);
	CHECK(tn_rx(e, f, 42, &res) == NET_RX_REPLY);
	CHECK_EQ_U64(res.reply_len, 42);
	tn_arp(want, tn_peer_mac, 2, tn_our_mac, TN_OUR_IP, tn_peer_mac,
	       TN_PEER_IP);
	CHECK(memcmp(f, want, 42) == 0);
	CHECK_EQ_U64(e->ctx.stats.arp_rx_request, 1);
	CHECK_EQ_U64(e->ctx.stats.arp_tx_reply, 1);
	CHECK_EQ_U64(e->ctx.stats.arp_learned, 1);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, 0); /* the reply is the caller's to send */

	/* a padded request: the reply is a zero-padded minimum frame */
	memset(f, 0xaa, sizeof f);
	tn_arp(f, tn_our_mac, 1, tn_peer_mac, TN_PEER_IP, tn_zero_mac,
	       TN_OUR_IP);
	CHECK(tn_rx(e, f, 60, &res) == NET_RX_REPLY);
	CHECK_EQ_U64(res.reply_len, 60);
	CHECK(memcmp(f, want, 42) == 0);
	int nonzero = 0;
	for (int i = 42; i < 60; i++)
		nonzero += f[i] != 0;
	CHECK_EQ_U64(nonzero, 0);
	done(e);
}

static void malformed(void)
{
	struct tn_env *e = env(16, 4);
	uint8_t f[42];
	tn_arp(f, tn_bcast, 1, tn_peer_mac, TN_PEER_IP, tn_zero_mac,
	       TN_OUR_IP);
	for (uint16_t len = 0; len < 14; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "eth_drop_runt");
	for (uint16_t len = 14; len < 42; len++)
		TN_RX_EXPECT(e, f, len, NET_RX_DROP, "arp_drop_malformed");
	CHECK(!has(e, TN_PEER_IP, NULL));
	TN_RX_EXPECT(e, f, 42, NET_RX_REPLY, "arp_tx_reply");

	struct {
		int off;
		uint16_t val;
		bool wide;
	} bad[] = {
		{14 + 0, 6, true},       {14 + 0, 0, true},
		{14 + 2, 0x86dd, true},  {14 + 2, 0x0806, true},
		{14 + 4, 8, false},      {14 + 4, 0, false},
		{14 + 5, 16, false},     {14 + 5, 6, false},
		{14 + 6, 0, true},       {14 + 6, 3, true},
		{14 + 6, 0x0100, true},  {14 + 6, 0x0201, true},
	};
	uint64_t learned = e->ctx.stats.arp_learned;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t g[42];
		tn_arp(g, tn_bcast, 1, mac_a, tn_ip(10, 0, 0, 77),
		       tn_zero_mac, TN_OUR_IP);
		if (bad[i].wide)
			tn_put16(g + bad[i].off, bad[i].val);
		else
			g[bad[i].off] = (uint8_t)bad[i].val;
		TN_RX_EXPECT(e, g, 42, NET_RX_DROP, "arp_drop_malformed");
	}
	CHECK_EQ_U64(e->ctx.stats.arp_learned, learned);
	CHECK(!has(e, tn_ip(10, 0, 0, 77), NULL));
	done(e);
}

static void learning_rules(void)
{
	struct tn_env *e = env(16, 4);
	uint32_t a = tn_ip(10, 0, 0, 10), b = tn_ip(10, 0, 0, 11);
	uint32_t c = tn_ip(10, 0, 0, 12), other = tn_ip(10, 0, 0, 99);
	uint8_t f[42];

	/* a request for someone else from a stranger teaches nothing */
	tn_arp(f, tn_bcast, 1, mac_a, a, tn_zero_mac, other);
	TN_RX_EXPECT(e, f, 42, NET_RX_DROP, "arp_drop_not_ours");
	CHECK(!has(e, a, NULL));

	/* once it asked for us it is known, and its later requests for
	 * others (or a gratuitous ARP) refresh it, a new MAC included */
	learn(e, mac_a, a);
	CHECK(has(e, a, mac_a));
	tn_arp(f, tn_bcast, 1, mac_b, a, tn_zero_mac, other);
	TN_RX_EXPECT(e, f, 42, NET_RX_CONSUMED, "arp_learned");
	CHECK(has(e, a, mac_b));
	tn_arp(f, tn_bcast, 1, mac_a, a, tn_zero_mac, a);
	TN_RX_EXPECT(e, f, 42, NET_RX_CONSUMED, "arp_learned");
	CHECK(has(e, a, mac_a));

	/* a reply to us is learnt; an unsolicited one about a stranger and
	 * to someone else is received but not learnt */
	tn_arp(f, tn_our_mac, 2, mac_b, b, tn_our_mac, TN_OUR_IP);
	TN_RX_EXPECT(e, f, 42, NET_RX_CONSUMED, "arp_rx_reply");
	CHECK(has(e, b, mac_b));
	uint64_t learned = e->ctx.stats.arp_learned;
	tn_arp(f, tn_bcast, 2, mac_a, c, tn_bcast, c);
	TN_RX_EXPECT(e, f, 42, NET_RX_CONSUMED, "arp_rx_reply");
	CHECK(!has(e, c, NULL));
	CHECK_EQ_U64(e->ctx.stats.arp_learned, learned);

	/* never learnt: our own address, probes, and senders that are not
	 * one station; none of them is answered either */
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	struct {
		const uint8_t *sha;
		uint32_t spa;
		uint32_t look;
	} bad[] = {
		{mac_a, TN_OUR_IP, TN_OUR_IP},
		{mac_a, 0, 0},
		{tn_bcast, c, c},
		{mcast, c, c},
		{tn_zero_mac, c, c},
		{mac_a, tn_ip(224, 0, 0, 1), tn_ip(224, 0, 0, 1)},
		{mac_a, tn_ip(255, 255, 255, 255), tn_ip(255, 255, 255, 255)},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		for (uint16_t op = 1; op <= 2; op++) {
			tn_arp(f, tn_bcast, op, bad[i].sha, bad[i].spa,
			       tn_zero_mac, TN_OUR_IP);
			TN_RX_EXPECT(e, f, 42, NET_RX_DROP,
			             "arp_drop_conflict");
			CHECK(!has(e, bad[i].look, NULL));
		}
	}
	/* a conflict about a known peer does not touch its entry */
	tn_arp(f, tn_bcast, 1, mac_b, 0, tn_zero_mac, a);
	TN_RX_EXPECT(e, f, 42, NET_RX_DROP, "arp_drop_conflict");
	CHECK(has(e, a, mac_a));
	CHECK_EQ_U64(e->nsent, 0);
	done(e);
}

static void aging(void)
{
	struct tn_env *e = env(16, 4);
	uint64_t t0 = e->ctx.now_us;
	learn(e, tn_peer_mac, TN_PEER_IP);

	e->ctx.now_us = t0 + TN_ARP_TIMEOUT - 1;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, 0);

	/* stale: still answers, and asks again once per second */
	e->ctx.now_us = t0 + TN_ARP_TIMEOUT;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, 1);
	CHECK(is_request_for(e, 0, TN_PEER_IP));
	e->ctx.now_us += SEC - 1;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_SEND);
	CHECK_EQ_U64(e->nsent, 1);
	e->ctx.now_us += 1;
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_SEND);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, 2);
	CHECK(is_request_for(e, 1, TN_PEER_IP));
	CHECK_EQ_U64(e->ctx.stats.arp_tx_request, 2);

	/* the answer makes it fresh: no more requests */
	uint64_t t1 = e->ctx.now_us;
	CHECK(rx_arp(e, tn_our_mac, 2, tn_peer_mac, TN_PEER_IP, TN_OUR_IP) ==
	      NET_RX_CONSUMED);
	e->ctx.now_us += 5 * SEC;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, 2);

	/* evicted once not refreshed for twice the timeout */
	e->ctx.now_us = t1 + 2 * TN_ARP_TIMEOUT - 1;
	net_timer(&e->ctx);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	e->ctx.now_us = t1 + 2 * TN_ARP_TIMEOUT;
	net_timer(&e->ctx);
	CHECK(!has(e, TN_PEER_IP, NULL));

	/* a refresh request that finds no frame is still rate-limited */
	learn(e, tn_peer_mac, TN_PEER_IP);
	e->ctx.now_us += TN_ARP_TIMEOUT;
	e->fail_alloc = 1;
	int sent = e->nsent;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->ctx.stats.arp_no_frame, 1);
	e->fail_alloc = 0;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, sent);
	e->ctx.now_us += SEC;
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->nsent, sent + 1);
	done(e);
}

static void table_full(void)
{
	struct tn_env *e = env(4, 4);
	uint64_t t0 = e->ctx.now_us;
	for (unsigned i = 0; i < 4; i++) {
		e->ctx.now_us = t0 + i;
		learn(e, mac_a, tn_ip(10, 0, 0, 10 + i));
	}
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 0);
	/* refresh .10 so .11 is now the least recently updated */
	e->ctx.now_us = t0 + 10;
	learn(e, mac_a, tn_ip(10, 0, 0, 10));
	e->ctx.now_us = t0 + 11;
	learn(e, mac_b, tn_ip(10, 0, 0, 14));
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 1);
	CHECK(!has(e, tn_ip(10, 0, 0, 11), NULL));
	CHECK(has(e, tn_ip(10, 0, 0, 10), mac_a));
	CHECK(has(e, tn_ip(10, 0, 0, 12), mac_a));
	CHECK(has(e, tn_ip(10, 0, 0, 13), mac_a));
	CHECK(has(e, tn_ip(10, 0, 0, 14), mac_b));
	/* updating a known entry in a full table evicts nothing */
	learn(e, mac_a, tn_ip(10, 0, 0, 14));
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 1);
	CHECK(has(e, tn_ip(10, 0, 0, 12), mac_a));
	/* a stranger's request for someone else does not evict either */
	CHECK(rx_arp(e, tn_bcast, 1, mac_b, tn_ip(10, 0, 0, 50),
	             tn_ip(10, 0, 0, 51)) == NET_RX_DROP);
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 1);
	done(e);

	/* the degenerate one-slot table */
	e = env(1, 4);
	learn(e, mac_a, tn_ip(10, 0, 0, 10));
	e->ctx.now_us++;
	learn(e, mac_b, tn_ip(10, 0, 0, 11));
	CHECK(!has(e, tn_ip(10, 0, 0, 10), NULL));
	CHECK(has(e, tn_ip(10, 0, 0, 11), mac_b));
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 1);
	done(e);
}

/* n addresses of 10.0.x.y whose home slot in a table of size is home. */
static int colliding(uint32_t size, uint32_t home, uint32_t *ips, int n)
{
	int k = 0;
	for (unsigned x = 1; x < 255 && k < n; x++)
		for (unsigned y = 1; y < 255 && k < n; y++) {
			uint32_t ip = tn_ip(10, 0, x, y);
			if (net_arp_hash(ip, size) == home)
				ips[k++] = ip;
		}
	return k;
}

static void deletion_in_probe_runs(void)
{
	/* home 7 of 8: the run wraps to slots 0, 1, 2 */
	for (uint32_t home = 3; home <= 7; home += 4) {
		struct tn_env *e = env(8, 4);
		e->ctx.netmask_be = 0; /* every 10.0.x.y is on-link */
		uint32_t same[3], next[1];
		CHECK(colliding(8, home, same, 3) == 3);
		CHECK(colliding(8, (home + 1) & 7, next, 1) == 1);
		uint32_t a = same[0], b = same[1], c = same[2], d = next[0];
		uint64_t t0 = e->ctx.now_us;

		/* slots home..home+3 hold a, b, c (home) and d (home+1) */
		learn(e, mac_a, a);
		learn(e, mac_a, b);
		learn(e, mac_a, c);
		learn(e, mac_a, d);
		e->ctx.now_us = t0 + TN_ARP_TIMEOUT + 1;
		learn(e, mac_b, a);
		learn(e, mac_b, c);
		learn(e, mac_b, d);
		e->ctx.now_us = t0 + 2 * TN_ARP_TIMEOUT;
		net_timer(&e->ctx);
		/* b left a hole in the middle of the run; c and d are still
		 * found past it */
		CHECK(!has(e, b, NULL));
		CHECK(has(e, a, mac_b));
		CHECK(has(e, c, mac_b));
		CHECK(has(e, d, mac_b));
		/* and a deleted head: a goes, c and d still found */
		e->ctx.now_us = t0 + 3 * TN_ARP_TIMEOUT + 1;
		learn(e, mac_a, c);
		learn(e, mac_a, d);
		net_timer(&e->ctx);
		CHECK(!has(e, a, NULL));
		CHECK(has(e, c, mac_a));
		CHECK(has(e, d, mac_a));
		/* b comes back and is found, its neighbours too */
		learn(e, mac_b, b);
		CHECK(has(e, b, mac_b));
		CHECK(has(e, c, mac_a));
		CHECK(has(e, d, mac_a));
		done(e);
	}
}

/* Random learning and expiry over a small pool that collides a lot, checked
 * against a model of what must be in the table. */
static void random_against_model(void)
{
	enum { POOL = 12, STEPS = 20000 };
	struct tn_env *e = env(16, 4);
	e->ctx.netmask_be = 0;
	uint32_t pool[POOL];
	uint64_t learnt_at[POOL] = {0};
	bool present[POOL] = {false};
	for (int i = 0; i < POOL; i++)
		pool[i] = tn_ip(10, 0, 1 + (unsigned)i / 4, 1 + (unsigned)i % 4);
	srand(826);
	int mismatches = 0;
	for (int s = 0; s < STEPS; s++) {
		int i = rand() % POOL;
		if (rand() % 3) {
			learn(e, mac_a, pool[i]);
			present[i] = true;
			learnt_at[i] = e->ctx.now_us;
		} else {
			e->ctx.now_us += (uint64_t)(rand() % 40) * SEC;
			net_timer(&e->ctx);
			for (int k = 0; k < POOL; k++)
				if (present[k] && e->ctx.now_us - learnt_at[k] >=
				                          2 * TN_ARP_TIMEOUT)
					present[k] = false;
		}
		for (int k = 0; k < POOL; k++)
			if (has(e, pool[k], NULL) != present[k])
				mismatches++;
	}
	CHECK_EQ_U64(mismatches, 0);
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 0);
	done(e);
}

static void pending_queue(void)
{
	struct tn_env *e = env(16, 8);
	uint32_t other = tn_ip(10, 0, 0, 3);
	uint64_t t0 = e->ctx.now_us;
	int t1, t2, t3, t4;

	/* a miss parks the frame and asks once */
	CHECK(out(e, TN_PEER_IP, &t1) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 1);
	CHECK(is_request_for(e, 0, TN_PEER_IP));
	e->ctx.now_us = t0 + SEC / 2;
	CHECK(out(e, TN_PEER_IP, &t2) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 1);
	CHECK(out(e, other, &t3) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 2);
	CHECK(is_request_for(e, 1, other));
	/* still unresolved a second later: ask again */
	e->ctx.now_us = t0 + SEC;
	CHECK(out(e, TN_PEER_IP, &t4) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 3);
	CHECK(is_request_for(e, 2, TN_PEER_IP));
	CHECK_EQ_U64(e->ctx.stats.arp_pending_queued, 4);
	CHECK_EQ_U64(e->ctx.stats.arp_tx_request, 3);
	CHECK_EQ_U64(e->ctx.arp_pending_count, 4);
	CHECK(!has(e, TN_PEER_IP, NULL)); /* incomplete is not an answer */

	/* the reply sends the peer's frames in order to its MAC */
	CHECK(rx_arp(e, tn_our_mac, 2, tn_peer_mac, TN_PEER_IP, TN_OUR_IP) ==
	      NET_RX_CONSUMED);
	CHECK_EQ_U64(e->nsent, 6);
	int order[3] = {t1, t2, t4};
	for (int i = 0; i < 3; i++) {
		const struct tn_record *r = &e->sent[3 + i];
		CHECK_EQ_U64(r->tag, order[i]);
		CHECK_EQ_U64(r->len, 60);
		CHECK(memcmp(r->bytes, tn_peer_mac, 6) == 0);
		CHECK(memcmp(r->bytes + 6, tn_our_mac, 6) == 0);
		CHECK_EQ_U64(tn_get16(r->bytes + 12), 0x0800);
	}
	CHECK_EQ_U64(e->ctx.stats.arp_pending_sent, 3);
	CHECK_EQ_U64(e->ctx.arp_pending_count, 1);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_SEND);

	/* the other one's frame times out */
	e->ctx.now_us = t0 + SEC / 2 + TN_PENDING_TIMEOUT - 1;
	net_timer(&e->ctx);
	CHECK_EQ_U64(e->ctx.arp_pending_count, 1);
	e->ctx.now_us = t0 + SEC / 2 + TN_PENDING_TIMEOUT;
	net_timer(&e->ctx);
	CHECK_EQ_U64(e->ctx.arp_pending_count, 0);
	CHECK_EQ_U64(e->ctx.stats.arp_pending_drop_timeout, 1);
	CHECK_EQ_U64(e->nfreed, 1);
	CHECK_EQ_U64(e->freed[0], t3);
	CHECK_EQ_U64(net_stats_drops(&e->ctx.stats), 1);
	done(e);
}

static void pending_full(void)
{
	struct tn_env *e = env(16, 2);
	int t1, t2, t3;
	CHECK(out(e, TN_PEER_IP, &t1) == NET_TX_PENDING);
	CHECK(out(e, TN_PEER_IP, &t2) == NET_TX_PENDING);
	CHECK(out(e, TN_PEER_IP, &t3) == NET_TX_DROP);
	CHECK_EQ_U64(e->ctx.stats.arp_pending_drop_full, 1);
	CHECK_EQ_U64(e->nfreed, 1);
	CHECK_EQ_U64(e->freed[0], t3);
	CHECK_EQ_U64(e->live, 2);
	/* a full queue still asks for an address it has not asked about */
	CHECK(out(e, tn_ip(10, 0, 0, 3), NULL) == NET_TX_DROP);
	CHECK_EQ_U64(e->nsent, 2);
	CHECK(is_request_for(e, 1, tn_ip(10, 0, 0, 3)));
	CHECK_EQ_U64(net_stats_drops(&e->ctx.stats), 2);
	CHECK_EQ_U64(tn_env_fini(e), 0);
	CHECK_EQ_U64(e->nfreed, 4); /* fini freed t1 and t2 */
	CHECK_EQ_U64(e->freed[2], t1);
	CHECK_EQ_U64(e->freed[3], t2);
	free(e);
}

static void unresolved_entries(void)
{
	struct tn_env *e = env(16, 4);
	e->ctx.pending_timeout_us = SEC / 10;
	uint64_t t0 = e->ctx.now_us;

	/* frames time out fast, but the rate limit outlives them */
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	e->ctx.now_us = t0 + SEC / 5;
	net_timer(&e->ctx);
	CHECK_EQ_U64(e->ctx.stats.arp_pending_drop_timeout, 1);
	e->ctx.now_us = t0 + SEC / 2;
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 1);
	e->ctx.now_us = t0 + SEC;
	net_timer(&e->ctx); /* the parked frame goes, the entry with it */
	CHECK_EQ_U64(e->ctx.arp_pending_count, 0);
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	CHECK_EQ_U64(e->nsent, 2);

	/* a reply for us to a question we no longer remember still counts */
	e->ctx.now_us += 10 * SEC;
	net_timer(&e->ctx);
	CHECK(rx_arp(e, tn_our_mac, 2, tn_peer_mac, TN_PEER_IP, TN_OUR_IP) ==
	      NET_RX_CONSUMED);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	done(e);

	/* a reply whose target is not us (a proxy answering) is taken when
	 * we asked: through the incomplete entry, frames or not ... */
	e = env(16, 4);
	e->ctx.pending_timeout_us = SEC / 10;
	uint32_t other = tn_ip(10, 0, 0, 77);
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	e->ctx.now_us += SEC / 5;
	net_timer(&e->ctx);
	CHECK_EQ_U64(e->ctx.arp_pending_count, 0);
	CHECK(rx_arp(e, tn_bcast, 2, tn_peer_mac, TN_PEER_IP, other) ==
	      NET_RX_CONSUMED);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->ctx.stats.arp_pending_sent, 0);
	done(e);

	/* ... or, if a full table evicted that entry, through the frames
	 * still parked for it */
	e = env(1, 4);
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	e->ctx.now_us++;
	learn(e, mac_a, tn_ip(10, 0, 0, 10));
	CHECK_EQ_U64(e->ctx.stats.arp_cache_full, 1);
	CHECK(!has(e, TN_PEER_IP, NULL));
	CHECK(rx_arp(e, tn_bcast, 2, tn_peer_mac, TN_PEER_IP, other) ==
	      NET_RX_CONSUMED);
	CHECK_EQ_U64(e->ctx.stats.arp_pending_sent, 1);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	done(e);

	/* no frame for the request: parked anyway, asked again later */
	e = env(16, 4);
	e->fail_alloc = 1;
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	CHECK_EQ_U64(e->ctx.stats.arp_no_frame, 1);
	CHECK_EQ_U64(e->ctx.stats.arp_tx_request, 0);
	e->fail_alloc = 0;
	e->ctx.now_us += SEC;
	CHECK(out(e, TN_PEER_IP, NULL) == NET_TX_PENDING);
	CHECK(is_request_for(e, 0, TN_PEER_IP));
	done(e);
}

static void announce(void)
{
	struct tn_env *e = env(16, 4);
	CHECK(net_arp_announce(&e->ctx) == 0);
	CHECK(is_request_for(e, 0, TN_OUR_IP));
	CHECK_EQ_U64(e->ctx.stats.arp_tx_gratuitous, 1);
	CHECK_EQ_U64(e->ctx.stats.arp_tx_request, 0);
	e->fail_alloc = 1;
	CHECK(net_arp_announce(&e->ctx) == -1);
	CHECK_EQ_U64(e->ctx.stats.arp_no_frame, 1);
	CHECK_EQ_U64(e->nsent, 1);
	done(e);
}

static bool stats_equal(const struct net_stats *a, const struct net_stats *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

static void observe(void)
{
	struct tn_env *e = env(16, 4);
	uint8_t f[42];
	int tag;

	/* a copy of a reply another lcore received resolves our frames */
	CHECK(out(e, TN_PEER_IP, &tag) == NET_TX_PENDING);
	tn_arp(f, tn_our_mac, 2, tn_peer_mac, TN_PEER_IP, tn_our_mac,
	       TN_OUR_IP);
	struct net_stats before = e->ctx.stats;
	for (uint16_t len = 0; len < 42; len++) {
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, f, len);
		net_arp_observe(&e->ctx, p, len);
		free(p);
	}
	CHECK(stats_equal(&before, &e->ctx.stats));
	CHECK(!has(e, TN_PEER_IP, NULL));
	net_arp_observe(&e->ctx, f, 42);
	CHECK(has(e, TN_PEER_IP, tn_peer_mac));
	CHECK_EQ_U64(e->ctx.stats.arp_learned, before.arp_learned + 1);
	CHECK_EQ_U64(e->ctx.stats.arp_pending_sent, 1);
	CHECK_EQ_U64(e->ctx.stats.arp_rx_reply, 0);
	CHECK_EQ_U64(e->sent[1].tag, tag);
	CHECK(memcmp(e->sent[1].bytes, tn_peer_mac, 6) == 0);

	/* a request for us is learnt from, never answered or counted */
	tn_arp(f, tn_bcast, 1, mac_a, tn_ip(10, 0, 0, 10), tn_zero_mac,
	       TN_OUR_IP);
	uint8_t copy[42];
	memcpy(copy, f, 42);
	before = e->ctx.stats;
	net_arp_observe(&e->ctx, f, 42);
	CHECK(memcmp(copy, f, 42) == 0);
	CHECK(has(e, tn_ip(10, 0, 0, 10), mac_a));
	CHECK_EQ_U64(e->ctx.stats.arp_learned, before.arp_learned + 1);
	before.arp_learned++;
	CHECK(stats_equal(&before, &e->ctx.stats));
	CHECK_EQ_U64(e->nsent, 2);

	/* conflicts, malformed frames and other ethertypes: nothing */
	before = e->ctx.stats;
	tn_arp(f, tn_bcast, 1, mac_a, TN_OUR_IP, tn_zero_mac, TN_OUR_IP);
	net_arp_observe(&e->ctx, f, 42);
	tn_arp(f, tn_bcast, 7, mac_a, tn_ip(10, 0, 0, 11), tn_zero_mac,
	       TN_OUR_IP);
	net_arp_observe(&e->ctx, f, 42);
	tn_arp(f, tn_bcast, 1, mac_a, tn_ip(10, 0, 0, 12), tn_zero_mac,
	       TN_OUR_IP);
	tn_put16(f + 12, 0x0800);
	net_arp_observe(&e->ctx, f, 42);
	CHECK(stats_equal(&before, &e->ctx.stats));
	CHECK(!has(e, tn_ip(10, 0, 0, 11), NULL));
	CHECK(!has(e, tn_ip(10, 0, 0, 12), NULL));
	done(e);
}

int main(void)
{
	reply_bytes();
	malformed();
	learning_rules();
	aging();
	table_full();
	deletion_in_probe_runs();
	random_against_model();
	pending_queue();
	pending_full();
	unresolved_entries();
	announce();
	observe();
	CHECK_DONE();
}

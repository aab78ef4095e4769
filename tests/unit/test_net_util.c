/* Shared by the net unit tests; see test_net_util.h. */
#include "test_net_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t tn_our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const uint8_t tn_peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const uint8_t tn_gw_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
const uint8_t tn_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t tn_zero_mac[6];

struct tn_frame {
	int tag;
	uint16_t cap;
	uint8_t data[];
};

uint32_t tn_ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

uint16_t tn_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void tn_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t tn_get_addr(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

uint16_t tn_ref_sum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++) {
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return (uint16_t)sum;
}

static void record(struct tn_record *r, struct tn_frame *f, uint16_t len)
{
	r->tag = f->tag;
	r->len = len;
	memcpy(r->bytes, f->data, len < TN_RECORD_BYTES ? len : TN_RECORD_BYTES);
}

static void *op_alloc(void *user, uint16_t len, uint8_t **data)
{
	struct tn_env *e = user;
	if (e->fail_alloc)
		return NULL;
	return tn_frame_new(e, len, data);
}

static void op_send(void *user, void *frame, uint16_t len)
{
	struct tn_env *e = user;
	struct tn_frame *f = frame;
	if (len > f->cap) {
		fprintf(stderr, "frame_send len %u > cap %u\n", len, f->cap);
		abort();
	}
	if (e->nsent < TN_MAX_RECORDS)
		record(&e->sent[e->nsent++], f, len);
	e->live--;
	free(f);
}

static void op_free(void *user, void *frame)
{
	struct tn_env *e = user;
	struct tn_frame *f = frame;
	if (e->nfreed < TN_MAX_RECORDS)
		e->freed[e->nfreed++] = f->tag;
	e->live--;
	free(f);
}

void *tn_frame_new(struct tn_env *e, uint16_t len, uint8_t **data)
{
	struct tn_frame *f = calloc(1, sizeof *f + len);
	if (!f)
		abort();
	f->tag = ++e->next_tag;
	f->cap = len;
	*data = f->data;
	e->live++;
	return f;
}

int tn_frame_tag(const void *frame)
{
	return ((const struct tn_frame *)frame)->tag;
}

void tn_env_init(struct tn_env *e, uint32_t table_size, uint32_t pending_max)
{
	memset(e, 0, sizeof *e);
	struct net_ctx *c = &e->ctx;
	memcpy(c->mac, tn_our_mac, 6);
	c->ip_be = TN_OUR_IP;
	c->netmask_be = TN_MASK;
	c->gateway_be = TN_GW_IP;
	c->mtu = 1500;
	c->ops = (struct net_ops){op_alloc, op_send, op_free, e};
	c->now_us = TN_T0;
	c->arp_table = calloc(table_size ? table_size : 1, NET_ARP_ENTRY_SIZE);
	c->arp_table_size = table_size;
	c->arp_timeout_us = TN_ARP_TIMEOUT;
	c->pending = calloc(pending_max ? pending_max : 1, NET_ARP_PENDING_SIZE);
	c->arp_pending_max = pending_max;
	c->pending_timeout_us = TN_PENDING_TIMEOUT;
	if (!c->arp_table || !c->pending || net_init(c) != 0) {
		fprintf(stderr, "tn_env_init: net_init failed\n");
		abort();
	}
}

int tn_env_fini(struct tn_env *e)
{
	net_fini(&e->ctx);
	free(e->ctx.arp_table);
	free(e->ctx.pending);
	e->ctx.arp_table = NULL;
	e->ctx.pending = NULL;
	return e->live;
}

struct stat_find {
	const char *name;
	uint64_t value;
	int found;
};

static void stat_visit(void *arg, const char *name, uint64_t value)
{
	struct stat_find *s = arg;
	if (strcmp(name, s->name) == 0) {
		s->value = value;
		s->found++;
	}
}

uint64_t tn_stat(const struct net_stats *s, const char *name)
{
	struct stat_find f = {name, 0, 0};
	net_stats_foreach(s, stat_visit, &f);
	if (f.found != 1) {
		fprintf(stderr, "no counter named %s\n", name);
		abort();
	}
	return f.value;
}

enum net_rx_verdict tn_rx(struct tn_env *e, uint8_t *buf, uint16_t len,
                          struct net_rx_result *res)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, buf, len);
	enum net_rx_verdict v = net_rx(&e->ctx, copy, len, res);
	memcpy(buf, copy, len);
	free(copy);
	return v;
}

bool tn_rx_expect(struct tn_env *e, const uint8_t *frame, uint16_t len,
                  enum net_rx_verdict want, const char *name, int line)
{
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, frame, len);
	uint64_t before = tn_stat(&e->ctx.stats, name);
	uint64_t drops = net_stats_drops(&e->ctx.stats);
	struct net_rx_result res;
	enum net_rx_verdict v = tn_rx(e, buf, len, &res);
	free(buf);

	uint64_t moved = tn_stat(&e->ctx.stats, name) - before;
	uint64_t dmoved = net_stats_drops(&e->ctx.stats) - drops;
	if (v != want || moved != 1 || dmoved != (want == NET_RX_DROP)) {
		fprintf(stderr,
		        "line %d: len %u: verdict %d (want %d), %s moved %llu, "
		        "drops moved %llu\n",
		        line, len, (int)v, (int)want, name,
		        (unsigned long long)moved, (unsigned long long)dmoved);
		return false;
	}
	return true;
}

uint16_t tn_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
                uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	tn_put16(f + 12, type);
	return 14;
}

uint16_t tn_arp(uint8_t *f, const uint8_t eth_dst[6], uint16_t op,
                const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                uint32_t tpa)
{
	tn_eth(f, eth_dst, sha, 0x0806);
	uint8_t *a = f + 14;
	tn_put16(a, 1);
	tn_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	tn_put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &tpa, 4);
	return 42;
}

void tn_ip_fix_csum(uint8_t *f)
{
	uint8_t *ip = f + 14;
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
	tn_put16(ip + 10, 0);
	tn_put16(ip + 10, (uint16_t)~tn_ref_sum(ip, hlen));
}

uint16_t tn_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto,
                 uint16_t payload_len)
{
	tn_eth(f, tn_our_mac, tn_peer_mac, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20u + payload_len);
	ip[0] = 0x45;
	ip[1] = 0x10;
	tn_put16(ip + 2, (uint16_t)(20 + payload_len));
	tn_put16(ip + 4, 0x1234);
	tn_put16(ip + 6, 0x4000); /* DF: fine, it is not a fragment */
	ip[8] = 37;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	tn_ip_fix_csum(f);
	return (uint16_t)(14 + 20 + payload_len);
}

void tn_icmp_fix_csum(uint8_t *f)
{
	uint8_t *ip = f + 14;
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
	size_t ilen = tn_get16(ip + 2) - hlen;
	uint8_t *icmp = ip + hlen;
	tn_put16(icmp + 2, 0);
	tn_put16(icmp + 2, (uint16_t)~tn_ref_sum(icmp, ilen));
}

uint16_t tn_icmp_echo(uint8_t *f, uint32_t src, uint32_t dst, uint16_t id,
                      uint16_t seq, const uint8_t *payload, uint16_t plen)
{
	uint16_t len = tn_ipv4(f, src, dst, 1, (uint16_t)(8 + plen));
	uint8_t *icmp = f + 34;
	icmp[0] = 8;
	icmp[1] = 0;
	tn_put16(icmp + 4, id);
	tn_put16(icmp + 6, seq);
	if (plen)
		memcpy(icmp + 8, payload, plen);
	tn_icmp_fix_csum(f);
	return len;
}

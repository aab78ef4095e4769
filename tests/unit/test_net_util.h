/*
 * test_net_util.h - what the net unit tests share: a ctx with fake frame ops
 * that record what the stack sends and frees, frame builders that write
 * headers byte by byte, and an independent checksum to judge the stack's.
 */
#ifndef LOOM_TEST_NET_UTIL_H
#define LOOM_TEST_NET_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/net.h"

#define TN_MAX_RECORDS 256
#define TN_RECORD_BYTES 128

/* The identity of the ctx under test and of its neighbours. */
extern const uint8_t tn_our_mac[6];
extern const uint8_t tn_peer_mac[6];
extern const uint8_t tn_gw_mac[6];
extern const uint8_t tn_bcast[6];
extern const uint8_t tn_zero_mac[6];
#define TN_OUR_IP tn_ip(10, 0, 0, 1)
#define TN_PEER_IP tn_ip(10, 0, 0, 2)
#define TN_GW_IP tn_ip(10, 0, 0, 254)
#define TN_MASK tn_ip(255, 255, 255, 0)
#define TN_T0 1000000000ull /* an arbitrary non-zero start */
#define TN_ARP_TIMEOUT 60000000ull
#define TN_PENDING_TIMEOUT 3000000ull

struct tn_record {
	int tag;
	uint16_t len;
	uint8_t bytes[TN_RECORD_BYTES];
};

struct tn_env {
	struct net_ctx ctx;
	int live;       /* frames handed out and not yet sent or freed */
	int fail_alloc; /* frame_alloc returns NULL while set */
	int next_tag;
	int nsent, nfreed;
	struct tn_record sent[TN_MAX_RECORDS];
	int freed[TN_MAX_RECORDS];
};

uint32_t tn_ip(unsigned a, unsigned b, unsigned c, unsigned d);

/* A ctx as in TN_* with tables of the given sizes; net_init checked. */
void tn_env_init(struct tn_env *e, uint32_t table_size, uint32_t pending_max);
/* net_fini, release the tables; returns frames leaked (should be 0). */
int tn_env_fini(struct tn_env *e);
/* A frame as frame_alloc would give one, for net_output_ipv4. */
void *tn_frame_new(struct tn_env *e, uint16_t len, uint8_t **data);
int tn_frame_tag(const void *frame);

/* net_rx on a heap copy of exactly len bytes, so a sanitizer sees any read
 * past the end; the copy is written back to buf (replies are in place). */
enum net_rx_verdict tn_rx(struct tn_env *e, uint8_t *buf, uint16_t len,
                          struct net_rx_result *res);
/* tn_rx on a copy of frame; true if the verdict is `want`, counter `name`
 * moved by one, and net_stats_drops by one exactly when it is a drop.
 * Prints what differed otherwise. */
bool tn_rx_expect(struct tn_env *e, const uint8_t *frame, uint16_t len,
                  enum net_rx_verdict want, const char *name, int line);
#define TN_RX_EXPECT(e, f, len, want, name) \
	CHECK(tn_rx_expect((e), (f), (len), (want), (name), __LINE__))

uint64_t tn_stat(const struct net_stats *s, const char *name);

/* Builders: each writes an Ethernet header and returns the frame length. */
uint16_t tn_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
                uint16_t type);
uint16_t tn_arp(uint8_t *f, const uint8_t eth_dst[6], uint16_t op,
                const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                uint32_t tpa);
/* Peer -> us, 20-byte header, payload left for the caller (zeroed). */
uint16_t tn_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto,
                 uint16_t payload_len);
/* Re-sums the IPv4 header checksum after an edit (uses IHL). */
void tn_ip_fix_csum(uint8_t *f);
uint16_t tn_icmp_echo(uint8_t *f, uint32_t src, uint32_t dst, uint16_t id,
                      uint16_t seq, const uint8_t *payload, uint16_t plen);
void tn_icmp_fix_csum(uint8_t *f);

uint16_t tn_get16(const uint8_t *p);
void tn_put16(uint8_t *p, uint16_t v);
uint32_t tn_get_addr(const uint8_t *p);

/* Byte-at-a-time RFC 1071 sum, folded, not inverted: the reference. */
uint16_t tn_ref_sum(const uint8_t *p, size_t len);

#endif

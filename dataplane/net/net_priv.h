/*
 * net_priv.h - how the stack's files call each other. Not for users of the
 * stack (they have net.h); the unit tests include it to reach the ARP hash.
 */
#ifndef LOOM_NET_PRIV_H
#define LOOM_NET_PRIV_H

#include "dataplane/net/net.h"

/* Requests for one unresolved or stale address go out at most this often. */
#define NET_ARP_REQUEST_INTERVAL_US 1000000u

/* Home slot of an address in a table of `size` (a power of two) entries.
 * Fibonacci hashing keeps the high product bits, which every address bit
 * reaches whatever the host byte order; the 64-bit multiply by size avoids
 * a shift by 32 when size is 1. */
static inline uint32_t net_arp_hash(uint32_t ip_be, uint32_t size)
{
	uint32_t h = ip_be * 0x9E3779B1u;
	return (uint32_t)(((uint64_t)h * size) >> 32);
}

/* arp.c */
int net_arp_init(struct net_ctx *ctx);
void net_arp_fini(struct net_ctx *ctx);
/* An ARP frame of len >= NET_ETH_HLEN whose Ethernet header was accepted. */
enum net_rx_verdict net_arp_input(struct net_ctx *ctx, uint8_t *data,
                                  uint16_t len, struct net_rx_result *res);
/* Park an outgoing frame (Ethernet source and type already written) until
 * next_hop_be resolves, and solicit it. */
enum net_tx_verdict net_arp_park(struct net_ctx *ctx, uint32_t next_hop_be,
                                 void *frame, uint8_t *data, uint16_t len);

/* ipv4.c: an IPv4 frame of len >= NET_ETH_HLEN. */
enum net_rx_verdict net_ipv4_input(struct net_ctx *ctx, uint8_t *data,
                                   uint16_t len, struct net_rx_result *res);

/* icmp.c: the IPv4 header at data + NET_ETH_HLEN was validated: hlen bytes
 * long, totlen bytes in all, both present in the frame. */
enum net_rx_verdict net_icmp_input(struct net_ctx *ctx, uint8_t *data,
                                   uint16_t hlen, uint16_t totlen,
                                   struct net_rx_result *res);

#endif

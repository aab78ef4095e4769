/*
 * wire.h - on-wire layouts of the headers the stack parses, as byte offsets.
 *
 * Frames arrive at any alignment and C11 has no packed structs, so fields are
 * read byte by byte (numbers) or with memcpy (addresses, which stay in
 * network byte order like the _be fields of struct net_ctx).
 */
#ifndef LOOM_NET_WIRE_H
#define LOOM_NET_WIRE_H

#include <stdint.h>
#include <string.h>

/* Ethernet II */
#define ETH_DST 0
#define ETH_SRC 6
#define ETH_TYPE 12

/* ARP for IPv4 over Ethernet (RFC 826), offsets from the ARP header */
#define ARP_HTYPE 0
#define ARP_PTYPE 2
#define ARP_HLEN 4
#define ARP_PLEN 5
#define ARP_OP 6
#define ARP_SHA 8
#define ARP_SPA 14
#define ARP_THA 18
#define ARP_TPA 24
#define ARP_LEN 28
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ARP_FRAME_LEN (14 + ARP_LEN)
/* What we put on the wire for frames we build: the Ethernet minimum without
 * FCS, zero-padded, so no driver gets to pad with stale buffer bytes. */
#define ETH_MIN_FRAME_LEN 60

/* IPv4 (RFC 791), offsets from the IPv4 header */
#define IP_VER_IHL 0
#define IP_TOTLEN 2
#define IP_FRAG 6
#define IP_TTL 8
#define IP_PROTO 9
#define IP_CSUM 10
#define IP_SRC 12
#define IP_DST 16
#define IP_HLEN_MIN 20
#define IP_FRAG_MF 0x2000
#define IP_FRAG_OFFSET 0x1fff
#define IP_OPT_EOL 0
#define IP_OPT_NOP 1

/* ICMP (RFC 792), offsets from the ICMP header */
#define ICMP_TYPE 0
#define ICMP_CODE 1
#define ICMP_CSUM 2
#define ICMP_HLEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

#define TCP_HLEN_MIN 20

static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IPv4 address as stored: network byte order, whatever the host's. */
static inline uint32_t wire_get_addr(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void wire_put_addr(uint8_t *p, uint32_t be)
{
	memcpy(p, &be, sizeof be);
}

/* A network-order address as a number, for prefix tests (127/8, 224/4). */
static inline uint32_t wire_addr_host(uint32_t be)
{
	uint8_t b[4];
	memcpy(b, &be, sizeof b);
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

#endif

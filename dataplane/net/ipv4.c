/* IPv4 receive: validate the header, keep what is for us, hand on ICMP and
 * TCP. Options and fragments are not supported, so they are dropped. */
#include "dataplane/net/net_priv.h"
#include "dataplane/net/wire.h"

/* 0 if every option is EOL/NOP padding; else the counter explaining why
 * not. A malformed length means the header cannot be trusted at all, so it
 * wins over a well-formed unsupported option anywhere in the list. */
static uint64_t *ip_options_verdict(struct net_stats *st, const uint8_t *ip,
                                    uint16_t hlen)
{
	bool unsupported = false;
	uint16_t i = IP_HLEN_MIN;
	while (i < hlen) {
		uint8_t type = ip[i];
		if (type == IP_OPT_EOL)
			break;
		if (type == IP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= hlen)
			return &st->ip_drop_ihl;
		uint8_t olen = ip[i + 1];
		if (olen < 2 || i + olen > hlen)
			return &st->ip_drop_ihl;
		unsupported = true;
		i = (uint16_t)(i + olen);
	}
	return unsupported ? &st->ip_drop_options : NULL;
}

/* Sources no reply may go to: unspecified, broadcast (limited, or our
 * subnet's when it has one), multicast, loopback, and ourselves (only a
 * forger sends our own address at us from the wire). */
static bool ip_src_invalid(const struct net_ctx *ctx, uint32_t src_be)
{
	uint32_t src = wire_addr_host(src_be);
	uint32_t host_bits = ~wire_addr_host(ctx->netmask_be);
	/* /31 and /32 have no broadcast address (RFC 3021). */
	bool has_bcast = host_bits >= 3;
	return src == 0 || src == 0xffffffffu || src >> 28 == 0xe ||
	       src >> 24 == 127 || src_be == ctx->ip_be ||
	       (has_bcast && src_be == (ctx->ip_be | ~ctx->netmask_be));
}

/* The counter a bad header is dropped under, NULL for one we accept. Checks
 * run in the order a header is trusted: its size, its checksum, then what
 * it says. */
static uint64_t *ip_check(struct net_ctx *ctx, const uint8_t *ip,
                          uint16_t avail)
{
	struct net_stats *st = &ctx->stats;
	if (avail < IP_HLEN_MIN)
		return &st->ip_drop_short;
	if (ip[IP_VER_IHL] >> 4 != 4)
		return &st->ip_drop_version;
	uint16_t hlen = (uint16_t)((ip[IP_VER_IHL] & 0x0f) * 4);
	if (hlen < IP_HLEN_MIN)
		return &st->ip_drop_ihl;
	if (hlen > avail)
		return &st->ip_drop_short;
	/* Bytes past totlen are Ethernet padding of a short frame. */
	uint16_t totlen = wire_get16(ip + IP_TOTLEN);
	if (totlen < hlen || totlen > avail)
		return &st->ip_drop_len;
	if (net_csum_partial(ip, hlen, 0) != 0xffff)
		return &st->ip_drop_csum;
	if (wire_get16(ip + IP_FRAG) & (IP_FRAG_MF | IP_FRAG_OFFSET))
		return &st->ip_drop_frag;
	uint64_t *opt = ip_options_verdict(st, ip, hlen);
	if (opt)
		return opt;
	/* No multicast group is joined and nothing listens on broadcast. */
	if (wire_get_addr(ip + IP_DST) != ctx->ip_be)
		return &st->ip_drop_not_ours;
	if (ip_src_invalid(ctx, wire_get_addr(ip + IP_SRC)))
		return &st->ip_drop_src;
	return NULL;
}

enum net_rx_verdict net_ipv4_input(struct net_ctx *ctx, uint8_t *data,
                                   uint16_t len, struct net_rx_result *res)
{
	struct net_stats *st = &ctx->stats;
	const uint8_t *ip = data + NET_ETH_HLEN;

	st->ip_rx++;
	uint64_t *drop = ip_check(ctx, ip, (uint16_t)(len - NET_ETH_HLEN));
	if (drop) {
		(*drop)++;
		return NET_RX_DROP;
	}
	uint16_t hlen = (uint16_t)((ip[IP_VER_IHL] & 0x0f) * 4);
	uint16_t totlen = wire_get16(ip + IP_TOTLEN);

	res->l3_off = NET_ETH_HLEN;
	switch (ip[IP_PROTO]) {
	case NET_IP_PROTO_ICMP:
		return net_icmp_input(ctx, data, hlen, totlen, res);
	case NET_IP_PROTO_TCP:
		if (totlen - hlen < TCP_HLEN_MIN) {
			st->tcp_drop_short++;
			return NET_RX_DROP;
		}
		res->l4_off = (uint16_t)(NET_ETH_HLEN + hlen);
		res->l4_len = (uint16_t)(totlen - hlen);
		st->tcp_rx++;
		return NET_RX_L4_TCP;
	case NET_IP_PROTO_UDP:
		st->udp_rx++;
		return NET_RX_DROP;
	default:
		st->ip_drop_proto++;
		return NET_RX_DROP;
	}
}

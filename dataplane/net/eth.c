/* Ethernet: where frames enter (net_rx) and IPv4 frames leave
 * (net_output_ipv4), and the stack's setup. */
#include "dataplane/net/net_priv.h"
#include "dataplane/net/wire.h"

static const uint8_t eth_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int net_init(struct net_ctx *ctx)
{
	ctx->stats = (struct net_stats){0};
	return net_arp_init(ctx);
}

void net_fini(struct net_ctx *ctx)
{
	net_arp_fini(ctx);
}

enum net_rx_verdict net_rx(struct net_ctx *ctx, uint8_t *data, uint16_t len,
                           struct net_rx_result *res)
{
	struct net_rx_result unused;
	if (!res)
		res = &unused;
	*res = (struct net_rx_result){0};

	ctx->stats.rx_frames++;
	ctx->stats.rx_bytes += len;
	if (len < NET_ETH_HLEN) {
		ctx->stats.eth_drop_runt++;
		return NET_RX_DROP;
	}
	/* No multicast group is ever joined, so only unicast to us and
	 * broadcast (ARP requests) are ours. */
	if (memcmp(data + ETH_DST, ctx->mac, 6) != 0 &&
	    memcmp(data + ETH_DST, eth_broadcast, 6) != 0) {
		ctx->stats.eth_drop_not_ours++;
		return NET_RX_DROP;
	}
	switch (wire_get16(data + ETH_TYPE)) {
	case NET_ETHERTYPE_ARP:
		return net_arp_input(ctx, data, len, res);
	case NET_ETHERTYPE_IPV4:
		return net_ipv4_input(ctx, data, len, res);
	default:
		ctx->stats.eth_drop_ethertype++;
		return NET_RX_DROP;
	}
}

enum net_tx_verdict net_output_ipv4(struct net_ctx *ctx, void *frame,
                                    uint8_t *data, uint16_t len,
                                    uint32_t dst_be)
{
	if (len < NET_ETH_HLEN + IP_HLEN_MIN) {
		ctx->ops.frame_free(ctx->ops.user, frame);
		ctx->stats.ip_tx_drop_short++;
		return NET_TX_DROP;
	}

	uint32_t next_hop = dst_be;
	if ((dst_be ^ ctx->ip_be) & ctx->netmask_be) {
		if (ctx->gateway_be == 0) {
			ctx->ops.frame_free(ctx->ops.user, frame);
			ctx->stats.ip_tx_drop_noroute++;
			return NET_TX_DROP;
		}
		next_hop = ctx->gateway_be;
	}

	memcpy(data + ETH_SRC, ctx->mac, 6);
	wire_put16(data + ETH_TYPE, NET_ETHERTYPE_IPV4);
	uint8_t mac[6];
	if (net_arp_lookup(ctx, next_hop, mac)) {
		memcpy(data + ETH_DST, mac, 6);
		return NET_TX_SEND;
	}
	return net_arp_park(ctx, next_hop, frame, data, len);
}

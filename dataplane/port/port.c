#include "dataplane/port/port.h"

#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "common/log.h"

/* The fewest mbufs that keep every queue full and every lcore's cache and
 * burst in flight, so a pool smaller than this is refused at start. */
static uint32_t mbufs_needed(const struct loom_config *cfg, uint16_t nq)
{
	return (uint32_t)nq * ((uint32_t)cfg->rx_desc + cfg->tx_desc +
	                       2u * cfg->burst + cfg->mbuf_cache) +
	       cfg->arp_pending_max * nq + 64;
}

static const char *flow_reason(const struct rte_flow_error *e)
{
	return e->message != NULL ? e->message : rte_strerror(rte_errno);
}

/* In isolated mode nothing reaches loomd until it asks: ARP to queue 0
 * (io lcore 0 answers and shares it), IPv4 to our address over every io
 * queue. */
static int port_claim_traffic(struct loom_port *p, const struct loom_config *cfg)
{
	struct rte_flow_error err;
	const struct rte_flow_attr attr = {.ingress = 1};

	struct rte_flow_item_eth arp_spec = {
		.hdr.ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP)};
	struct rte_flow_item_eth arp_mask = {.hdr.ether_type = RTE_BE16(0xffff)};
	const struct rte_flow_item arp_pattern[] = {
		{.type = RTE_FLOW_ITEM_TYPE_ETH, .spec = &arp_spec, .mask = &arp_mask},
		{.type = RTE_FLOW_ITEM_TYPE_END},
	};
	struct rte_flow_action_queue q0 = {.index = 0};
	const struct rte_flow_action to_q0[] = {
		{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &q0},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};
	if (rte_flow_create(p->port_id, &attr, arp_pattern, to_q0, &err) == NULL) {
		LOG_ERR("port", "port %u: flow rule for ARP: %s", p->port_id,
		        flow_reason(&err));
		return -1;
	}

	struct rte_flow_item_ipv4 ip_spec = {.hdr.dst_addr = cfg->ip_be};
	struct rte_flow_item_ipv4 ip_mask = {.hdr.dst_addr = RTE_BE32(0xffffffff)};
	const struct rte_flow_item ip_pattern[] = {
		{.type = RTE_FLOW_ITEM_TYPE_ETH},
		{.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
		{.type = RTE_FLOW_ITEM_TYPE_END},
	};
	uint16_t queues[LOOM_MAX_IO_LCORES];
	for (uint16_t i = 0; i < p->n_queues; i++)
		queues[i] = i;
	struct rte_flow_action_rss rss = {
		.types = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP,
		.queue_num = p->n_queues,
		.queue = queues,
	};
	const struct rte_flow_action to_io[] = {
		p->n_queues > 1
			? (struct rte_flow_action){.type = RTE_FLOW_ACTION_TYPE_RSS,
			                           .conf = &rss}
			: (struct rte_flow_action){.type = RTE_FLOW_ACTION_TYPE_QUEUE,
			                           .conf = &q0},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};
	if (rte_flow_create(p->port_id, &attr, ip_pattern, to_io, &err) == NULL) {
		LOG_ERR("port", "port %u: flow rule for IPv4 to our address: %s",
		        p->port_id, flow_reason(&err));
		return -1;
	}
	return 0;
}

/*
 * The replication port to the repl lcore's queue (the last one) in the
 * NIC: TCP segments to our address with repl_port as destination (peers
 * connecting to us) or as source (answers to our connects). Software
 * steering stays on behind it, so a device that takes no such rules (or
 * takes one and not the other) only costs the io lcores a ring hand-off;
 * hence a refusal is logged, not fatal. Created before port_claim_traffic's
 * broader IPv4 rule: the more specific rule first.
 */
static void port_steer_repl(struct loom_port *p, const struct loom_config *cfg)
{
	struct rte_flow_error err;
	const struct rte_flow_attr attr = {.ingress = 1};
	uint16_t q = (uint16_t)(p->n_queues - 1);
	struct rte_flow_action_queue to = {.index = q};
	const struct rte_flow_action actions[] = {
		{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &to},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};
	struct rte_flow_item_ipv4 ip_spec = {.hdr.dst_addr = cfg->ip_be};
	struct rte_flow_item_ipv4 ip_mask = {.hdr.dst_addr = RTE_BE32(0xffffffff)};
	struct rte_flow *made[2] = {NULL, NULL};

	for (int dir = 0; dir < 2; dir++) {
		struct rte_flow_item_tcp tcp_spec, tcp_mask;
		memset(&tcp_spec, 0, sizeof tcp_spec);
		memset(&tcp_mask, 0, sizeof tcp_mask);
		if (dir == 0) {
			tcp_spec.hdr.dst_port = rte_cpu_to_be_16(cfg->repl_port);
			tcp_mask.hdr.dst_port = RTE_BE16(0xffff);
		} else {
			tcp_spec.hdr.src_port = rte_cpu_to_be_16(cfg->repl_port);
			tcp_mask.hdr.src_port = RTE_BE16(0xffff);
		}
		const struct rte_flow_item pattern[] = {
			{.type = RTE_FLOW_ITEM_TYPE_ETH},
			{.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec,
			 .mask = &ip_mask},
			{.type = RTE_FLOW_ITEM_TYPE_TCP, .spec = &tcp_spec,
			 .mask = &tcp_mask},
			{.type = RTE_FLOW_ITEM_TYPE_END},
		};
		made[dir] = rte_flow_create(p->port_id, &attr, pattern, actions,
		                            &err);
		if (made[dir] == NULL) {
			LOG_INFO("port", "port %u (%s): no flow rule for the "
			         "replication port (%s): software steering",
			         p->port_id, p->driver, flow_reason(&err));
			if (dir == 1)
				rte_flow_destroy(p->port_id, made[0], &err);
			return;
		}
	}
	p->repl_steered = true;
	LOG_INFO("port", "port %u: TCP port %u steered to queue %u by the NIC",
	         p->port_id, cfg->repl_port, q);
}

int port_open(struct loom_port *p, const struct loom_config *cfg,
              uint16_t n_queues)
{
	memset(p, 0, sizeof *p);
	p->port_id = cfg->port_id;
	p->n_queues = n_queues;

	if (!rte_eth_dev_is_valid_port(p->port_id)) {
		LOG_ERR("port", "[dataplane] port %u: no such DPDK port (%u "
		        "available); check [eal] args (--vdev or -a)",
		        p->port_id, rte_eth_dev_count_avail());
		return -1;
	}
	uint32_t need = mbufs_needed(cfg, n_queues);
	if (cfg->mbufs < need) {
		LOG_ERR("port", "[mempool] mbufs: %u is fewer than the %u that "
		        "%u queue pairs of %u+%u descriptors, bursts and caches "
		        "hold", cfg->mbufs, need, n_queues, cfg->rx_desc,
		        cfg->tx_desc);
		return -1;
	}

	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0) {
		LOG_ERR("port", "port %u: dev_info: %s", p->port_id,
		        rte_strerror(-rc));
		return -1;
	}
	snprintf(p->driver, sizeof p->driver, "%s", info.driver_name);
	if (n_queues > info.max_rx_queues || n_queues > info.max_tx_queues) {
		LOG_ERR("port", "port %u (%s): %u io lcores need %u queue pairs "
		        "but the device has %u rx / %u tx (net_af_packet: set "
		        "qpairs=%u on the vdev)", p->port_id, info.driver_name,
		        n_queues, n_queues, info.max_rx_queues,
		        info.max_tx_queues, n_queues);
		return -1;
	}

	int socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof name, "loom_mbuf_p%u", p->port_id);
	p->pool = rte_pktmbuf_pool_create(name, cfg->mbufs, cfg->mbuf_cache, 0,
	                                  cfg->mbuf_data_room, socket);
	if (p->pool == NULL) {
		LOG_ERR("port", "mbuf pool of %u x %u bytes on socket %d: %s "
		        "(reserve hugepages, or raise -m with --no-huge)",
		        cfg->mbufs, cfg->mbuf_data_room, socket,
		        rte_strerror(rte_errno));
		return -1;
	}

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof conf);
	uint64_t rss_hf = info.flow_type_rss_offloads &
	                  (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
	if (n_queues > 1 && rss_hf != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
		p->rss = true;
	} else if (n_queues > 1) {
		LOG_WARN("port", "port %u (%s) has no RSS: flows reach queues "
		         "only as the driver spreads them (af_packet: kernel "
		         "fanout)", p->port_id, info.driver_name);
	}
	/* IPv4 checksum offload on TX when offered; the stack still computes
	 * checksums in software where the port does not. */
	uint64_t want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
	                   RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	p->tx_offloads = info.tx_offload_capa & want_tx;
	conf.txmode.offloads = p->tx_offloads;

	if (cfg->flow_isolate) {
		/* Must precede configure: mlx5 decides then whether the kernel
		 * keeps the traffic loomd does not claim. */
		struct rte_flow_error ferr;
		if (rte_flow_isolate(p->port_id, 1, &ferr) != 0) {
			LOG_ERR("port", "port %u (%s): [dataplane] flow_isolate: "
			        "the device has no rte_flow isolated mode: %s",
			        p->port_id, info.driver_name, flow_reason(&ferr));
			goto fail;
		}
		p->isolated = true;
	}
	rc = rte_eth_dev_configure(p->port_id, n_queues, n_queues, &conf);
	if (rc != 0) {
		LOG_ERR("port", "port %u: configure %u queues: %s", p->port_id,
		        n_queues, rte_strerror(-rc));
		goto fail;
	}
	uint16_t nb_rx = cfg->rx_desc, nb_tx = cfg->tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rx, &nb_tx);
	if (rc != 0) {
		LOG_ERR("port", "port %u: descriptors: %s", p->port_id,
		        rte_strerror(-rc));
		goto fail;
	}
	rc = rte_eth_dev_set_mtu(p->port_id, cfg->mtu);
	if (rc != 0 && rc != -ENOTSUP)
		LOG_WARN("port", "port %u: mtu %u: %s", p->port_id, cfg->mtu,
		         rte_strerror(-rc));

	for (uint16_t q = 0; q < n_queues; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nb_rx, (unsigned)socket,
		                            NULL, p->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, q, nb_tx,
			                            (unsigned)socket, NULL);
		if (rc != 0) {
			LOG_ERR("port", "port %u queue %u: %s", p->port_id, q,
			        rte_strerror(-rc));
			goto fail;
		}
	}
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		LOG_ERR("port", "port %u: start: %s", p->port_id,
		        rte_strerror(-rc));
		goto fail;
	}
	p->started = true;
	if (loom_config_replicates(cfg) && cfg->n_repl_lcores > 0 &&
	    n_queues > 1)
		port_steer_repl(p, cfg);
	if (p->isolated && port_claim_traffic(p, cfg) != 0)
		goto fail;
	/* Frames for other MACs are dropped by the stack anyway; promiscuous
	 * mode is not needed and stays off. */
	rte_eth_macaddr_get(p->port_id, &p->mac);
	LOG_INFO("port", "port %u (%s) up: %u queue pairs, %u/%u descriptors, "
	         "%u mbufs, mac " RTE_ETHER_ADDR_PRT_FMT "%s", p->port_id,
	         p->driver, n_queues, nb_rx, nb_tx, cfg->mbufs,
	         RTE_ETHER_ADDR_BYTES(&p->mac), p->rss ? ", rss" : "");
	return 0;

fail:
	port_close(p);
	return -1;
}

void port_close(struct loom_port *p)
{
	if (p->isolated || p->repl_steered) {
		struct rte_flow_error ferr;
		rte_flow_flush(p->port_id, &ferr);
		p->isolated = false;
		p->repl_steered = false;
	}
	if (p->started) {
		int rc = rte_eth_dev_stop(p->port_id);
		if (rc != 0)
			LOG_WARN("port", "port %u: stop: %s", p->port_id,
			         rte_strerror(-rc));
		p->started = false;
	}
	if (rte_eth_dev_is_valid_port(p->port_id))
		rte_eth_dev_close(p->port_id);
	if (p->pool != NULL) {
		rte_mempool_free(p->pool);
		p->pool = NULL;
	}
}

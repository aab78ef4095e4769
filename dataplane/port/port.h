/*
 * port.h - one DPDK Ethernet port: configure, start, stop, close.
 *
 * One RX/TX queue pair per io lcore; RSS spreads flows over the RX queues
 * when the driver does RSS (net_af_packet spreads them itself with kernel
 * fanout, so its queue count must match the vdev's qpairs). The mbuf pool is
 * created here, sized from [mempool], and checked against what the rings can
 * hold so a too-small pool is a start-up error, not a silent stall.
 */
#ifndef LOOM_PORT_PORT_H
#define LOOM_PORT_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "common/config.h"

struct loom_port {
	uint16_t port_id;
	uint16_t n_queues;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
	bool started;
	bool rss;              /* the device spreads flows with RSS */
	bool isolated;         /* rte_flow isolated mode: only our rules deliver */
	bool repl_steered;     /* rte_flow rules send the replication port to
	                          the last queue (the repl lcore's) */
	uint64_t tx_offloads;  /* enabled TX offloads (checksums), for later use */
	char driver[32];
};

/* Create the pool, configure n_queues queue pairs and start the port.
 * On error logs why and returns -1 with everything it made released. */
int port_open(struct loom_port *p, const struct loom_config *cfg,
              uint16_t n_queues);

/* Stop and close the port and free its pool. Safe on a half-opened port. */
void port_close(struct loom_port *p);

#endif

/*
 * lcore.h - the per-lcore contexts and their poll loops.
 *
 * An io lcore owns one RX/TX queue pair, its L2/L3 stack state (ARP cache,
 * pending queue), its fault injectors and its counters; nothing in it is
 * touched by another lcore except the counters, which the main lcore reads
 * (relaxed, possibly one burst stale) to publish them. The only cross-lcore
 * channel is arp_ring: copies of ARP frames another io lcore received, so
 * that every lcore's cache learns every neighbour (RSS sends ARP to one
 * queue only).
 *
 * Each io lcore also serves the REST API (dataplane/http/rest_server.h):
 * its writes go to the storage lcore (dataplane/storage_lcore.h) over its
 * own pair of rings, in buffers from its own two pools (small: most
 * requests; large: bodies and answers up to max_body).
 *
 * repl lcores are launched with their role; until replication exists they
 * run the idle back-off loop and exit on stop.
 */
#ifndef LOOM_DATAPLANE_LCORE_H
#define LOOM_DATAPLANE_LCORE_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/idle.h"
#include "dataplane/loomd.h"
#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"
#include "dataplane/port/fault.h"
#include "dataplane/testsvc/echo.h"

struct rest_server;
struct repl;
struct rte_mempool;

#define IO_BURST_MAX 256
#define IO_TX_BUF_MAX 512

/* Written only by the owning lcore. */
struct lcore_counters {
	uint64_t polls;         /* loop iterations */
	uint64_t busy_polls;    /* iterations that found work */
	uint64_t rx_pkts, tx_pkts;
	uint64_t tx_drop_full;  /* TX queue full: freed after one retry */
	uint64_t rx_drop_multiseg; /* chained mbufs: larger than the MTU allows */
	uint64_t tcp_steer_tx;     /* segments handed to the owning io lcore */
	uint64_t tcp_steer_rx;     /* segments received from a sibling */
	uint64_t tcp_steer_drop;   /* owner's steer ring full */
	uint64_t idle_sleeps, idle_sleep_us;
	uint64_t arp_copy_tx, arp_copy_rx, arp_copy_drop;
	uint64_t no_mbuf;       /* pool empty when the stack needed a frame */
};

enum aux_role { AUX_REPL, AUX_STORAGE };

/* What an io lcore's TCP serves. */
enum io_role {
	IO_ROLE_API,  /* the REST API; queue = index < n_io */
	IO_ROLE_REPL, /* the replication links; queue = index = n_io */
};

struct io_lcore {
	unsigned lcore_id;
	uint16_t index;   /* 0..n_io-1 (API), n_io (the repl lcore) */
	enum io_role role;
	uint16_t queue;
	struct loomd *app;
	struct net_ctx net;
	struct fault_state fault_rx, fault_tx;
	struct idle_backoff idle;
	struct rte_ring *arp_ring; /* MP/SC: ARP copies from sibling io lcores */
	struct rte_ring *steer_ring; /* MP/SC: TCP segments for our connections */
	struct tcp_stack *tcp;
	struct echo_svc echo;      /* test-only service ([test]) */
	struct rest_server *rest;  /* API role: the REST API on http_port */
	struct repl *repl;         /* repl role: the peer links on repl_port */
	struct rte_mempool *req_small, *req_large; /* write_req buffers */
	size_t small_data, large_data; /* their data[] bytes */
	struct rte_ring *wq;       /* SP/SC: our writes to the storage lcore */
	struct rte_ring *wdone;    /* SP/SC: their completions */
	struct rte_ring *auth_done; /* SP/SC: verdicts from the main lcore */
	void *arp_mem;             /* backing store of net.arp_table/pending */
	uint16_t burst;
	uint16_t tx_n;
	struct lcore_counters c;
	struct rte_mbuf *tx_buf[IO_TX_BUF_MAX];
} __rte_cache_aligned;

struct aux_lcore {
	unsigned lcore_id;
	enum aux_role role;
	struct loomd *app;
	struct idle_backoff idle;
	struct lcore_counters c;
} __rte_cache_aligned;

/* Allocate and initialise io lcore `index` on its socket; returns NULL and
 * logs on failure. */
struct io_lcore *io_lcore_create(struct loomd *app, uint16_t index,
                                 unsigned lcore_id, enum io_role role);

/* Every lcore with a TCP stack: the API lcores, then the repl lcore. */
static inline uint16_t io_tcp_lcore_count(const struct loomd *app)
{
	return (uint16_t)(app->n_io + (app->repl != NULL));
}

static inline struct io_lcore *io_tcp_lcore(const struct loomd *app,
                                            uint16_t i)
{
	return i < app->n_io ? app->io[i] : app->repl;
}
void io_lcore_destroy(struct io_lcore *io);

struct aux_lcore *aux_lcore_create(struct loomd *app, enum aux_role role,
                                   unsigned lcore_id);
void aux_lcore_destroy(struct aux_lcore *aux);

/* The io lcore whose ephemeral slice holds port (host order), or NULL
 * when the port is outside the ephemeral range (a listening port: any
 * lcore's stack serves the flows RSS gives it). */
struct io_lcore *io_tcp_port_owner(const struct loomd *app, uint16_t port);

/* The io lcore that owns the TCP flow of a segment net_rx() accepted, or
 * NULL when the receiving lcore is right by construction (one io lcore, or
 * hardware RSS keeps each passive flow on one queue). Replication flows
 * (repl_port at either end) belong to the repl lcore. Actively opened flows
 * belong to the owner of their local port's ephemeral slice; without RSS,
 * passive flows go by a hash of the remote address and port over the API
 * lcores. */
struct io_lcore *io_tcp_flow_owner(const struct loomd *app, const uint8_t *d,
                                   const struct net_rx_result *res);

/* rte_eal_remote_launch entry points; arg is the context above. */
int io_lcore_main(void *arg);
int aux_lcore_main(void *arg);

const char *aux_role_name(enum aux_role role);

#endif

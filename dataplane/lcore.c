#include "dataplane/lcore.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "common/log.h"
#include "dataplane/http/auth.h"
#include "dataplane/http/rest_server.h"
#include "dataplane/metrics.h"
#include "dataplane/repl/session.h"
#include "dataplane/storage_lcore.h"

#define ARP_RING_SIZE 256
#define STEER_RING_SIZE 4096
#define NET_TIMER_PERIOD_US 10000
#define COMPLETION_BURST 64
/* A small write buffer: the reference 400-byte record and its headroom
 * with room to spare; larger bodies take a large buffer. */
#define REQ_SMALL_DATA 4096
#define REQ_POOL_CACHE 64
/* The repl lcore's TCP (see io_tcp_create). */
#define REPL_TCP_CONNS(peers) ((peers) * 2u + 16u)
#define REPL_TCP_BUF (256u * 1024u)
#define REPL_REQ_BUFS 8u
/* X-Replicate-To without timeout_ms waits this long for its peers. */
#define REST_CONFIRM_TIMEOUT_MS 10000u

/* Source ports for active opens; each io lcore owns an equal slice. */
#define EPH_LO 32768u
#define EPH_HI 60999u

/* --- frames for the stack: mbufs from this port's pool ------------------ */

static void io_flush_tx(struct io_lcore *io);

static void *io_frame_alloc(void *user, uint16_t len, uint8_t **data)
{
	struct io_lcore *io = user;
	struct rte_mbuf *m = rte_pktmbuf_alloc(io->app->port.pool);
	if (m == NULL) {
		io->c.no_mbuf++;
		return NULL;
	}
	char *p = rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		io->c.no_mbuf++;
		return NULL;
	}
	*data = (uint8_t *)p;
	return m;
}

static void io_frame_send(void *user, void *frame, uint16_t len)
{
	struct io_lcore *io = user;
	struct rte_mbuf *m = frame;
	m->data_len = len;
	m->pkt_len = len;
	if (io->tx_n == IO_TX_BUF_MAX)
		io_flush_tx(io);
	io->tx_buf[io->tx_n++] = m;
}

static void io_frame_free(void *user, void *frame)
{
	(void)user;
	rte_pktmbuf_free(frame);
}

/* --- fault injection ops over mbufs ------------------------------------- */

static void fault_mbuf_free(void *user, void *pkt)
{
	(void)user;
	rte_pktmbuf_free(pkt);
}

static void *fault_mbuf_clone(void *user, void *pkt)
{
	struct io_lcore *io = user;
	return rte_pktmbuf_copy(pkt, io->app->port.pool, 0, UINT32_MAX);
}

static void fault_mbuf_corrupt(void *user, void *pkt, uint64_t rnd)
{
	(void)user;
	struct rte_mbuf *m = pkt;
	uint16_t len = rte_pktmbuf_data_len(m);
	if (len == 0)
		return;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	d[(rnd >> 8) % len] ^= (uint8_t)(1u << (rnd & 7));
}

/* --- TX ----------------------------------------------------------------- */

static void io_flush_tx(struct io_lcore *io)
{
	if (io->tx_n == 0)
		return;
	struct rte_mbuf **pkts = io->tx_buf;
	uint16_t n = io->tx_n;
	void *faulted[2 * IO_TX_BUF_MAX + 1];
	if (io->fault_tx.enabled) {
		const struct fault_ops ops = {fault_mbuf_free, fault_mbuf_clone,
		                              fault_mbuf_corrupt, io};
		n = fault_apply(&io->fault_tx, &ops, (void *const *)pkts, n,
		                faulted, (uint16_t)(2 * IO_TX_BUF_MAX + 1));
		pkts = (struct rte_mbuf **)faulted;
	}
	uint16_t sent = rte_eth_tx_burst(io->app->port.port_id, io->queue,
	                                 pkts, n);
	if (sent < n)
		sent += rte_eth_tx_burst(io->app->port.port_id, io->queue,
		                         pkts + sent, (uint16_t)(n - sent));
	io->c.tx_pkts += sent;
	for (uint16_t i = sent; i < n; i++) {
		rte_pktmbuf_free(pkts[i]);
		io->c.tx_drop_full++;
	}
	io->tx_n = 0;
}

/* --- RX ----------------------------------------------------------------- */

/* Show a copy of an ARP frame to every sibling io lcore, so each one's
 * cache learns neighbours whose replies RSS delivered elsewhere. */
static void io_share_arp(struct io_lcore *io, struct rte_mbuf *m)
{
	struct loomd *app = io->app;
	for (uint16_t i = 0; i < io_tcp_lcore_count(app); i++) {
		struct io_lcore *peer = io_tcp_lcore(app, i);
		if (peer == io)
			continue;
		struct rte_mbuf *c = rte_pktmbuf_copy(m, app->port.pool, 0,
		                                      UINT32_MAX);
		if (c == NULL || rte_ring_mp_enqueue(peer->arp_ring, c) != 0) {
			rte_pktmbuf_free(c);
			io->c.arp_copy_drop++;
			continue;
		}
		io->c.arp_copy_tx++;
	}
}

static void io_drain_arp_copies(struct io_lcore *io)
{
	void *copies[32];
	unsigned n = rte_ring_sc_dequeue_burst(io->arp_ring, copies, 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = copies[i];
		net_arp_observe(&io->net, rte_pktmbuf_mtod(m, uint8_t *),
		                rte_pktmbuf_data_len(m));
		rte_pktmbuf_free(m);
	}
	io->c.arp_copy_rx += n;
}

/* Segments a sibling received for connections this lcore opened. net_rx
 * validated them there; the offsets are read back from the headers. */
static void io_drain_steered(struct io_lcore *io)
{
	void *segs[32];
	unsigned n = rte_ring_sc_dequeue_burst(io->steer_ring, segs, 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = segs[i];
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		uint16_t ihl = (uint16_t)((d[NET_ETH_HLEN] & 0x0f) * 4);
		uint16_t tot = (uint16_t)(d[NET_ETH_HLEN + 2] << 8 |
		                          d[NET_ETH_HLEN + 3]);
		struct net_rx_result res = {
			.l3_off = NET_ETH_HLEN,
			.l4_off = (uint16_t)(NET_ETH_HLEN + ihl),
			.l4_len = (uint16_t)(tot - ihl),
		};
		tcp_input(io->tcp, m, d, rte_pktmbuf_data_len(m), &res);
	}
	io->c.tcp_steer_rx += n;
}

struct io_lcore *io_tcp_port_owner(const struct loomd *app, uint16_t port)
{
	uint16_t n = io_tcp_lcore_count(app);
	if (n <= 1 || port < EPH_LO || port > EPH_HI)
		return NULL;
	uint32_t slice = (EPH_HI - EPH_LO + 1) / n;
	uint32_t i = (port - EPH_LO) / slice;
	return i < n ? io_tcp_lcore(app, (uint16_t)i) : NULL;
}

struct io_lcore *io_tcp_flow_owner(const struct loomd *app, const uint8_t *d,
                                   const struct net_rx_result *res)
{
	if (io_tcp_lcore_count(app) <= 1)
		return NULL;
	const uint8_t *th = d + res->l4_off;
	uint16_t sport = (uint16_t)(th[0] << 8 | th[1]);
	uint16_t dport = (uint16_t)(th[2] << 8 | th[3]);
	if (app->repl != NULL &&
	    (dport == app->cfg->repl_port || sport == app->cfg->repl_port))
		return app->repl;
	struct io_lcore *owner = io_tcp_port_owner(app, dport);
	if (owner != NULL)
		return owner;
	if (app->port.rss && app->repl == NULL)
		return NULL;
	if (app->n_io == 1)
		return app->io[0];
	/* No RSS we can rely on: net_af_packet's kernel fanout hash is
	 * seeded at random and, with its rollover flag, moves packets to
	 * another socket when one ring is full, so one flow can reach two
	 * queues. Passive flows are then placed by a hash of the remote
	 * address and port, the same on every lcore. */
	const uint8_t *ip = d + res->l3_off;
	uint32_t h = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 |
	             (uint32_t)ip[14] << 8 | ip[15];
	h ^= ((uint32_t)th[0] << 8 | th[1]) * 0x9E3779B1u;
	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	return app->io[h % app->n_io];
}

static inline bool frame_is_arp(const uint8_t *d, uint16_t len)
{
	return len >= NET_ETH_HLEN && d[12] == 0x08 && d[13] == 0x06;
}

static void io_rx_one(struct io_lcore *io, struct rte_mbuf *m)
{
	if (m->nb_segs != 1) {
		io->c.rx_drop_multiseg++;
		rte_pktmbuf_free(m);
		return;
	}
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	if (io_tcp_lcore_count(io->app) > 1 && frame_is_arp(d, len))
		io_share_arp(io, m);

	struct net_rx_result res;
	switch (net_rx(&io->net, d, len, &res)) {
	case NET_RX_REPLY:
		io_frame_send(io, m, res.reply_len);
		return;
	case NET_RX_L4_TCP: {
		struct io_lcore *owner = io_tcp_flow_owner(io->app, d, &res);
		if (owner != NULL && owner != io) {
			if (rte_ring_mp_enqueue(owner->steer_ring, m) == 0) {
				io->c.tcp_steer_tx++;
			} else {
				io->c.tcp_steer_drop++;
				rte_pktmbuf_free(m);
			}
			return;
		}
		tcp_input(io->tcp, m, d, len, &res);
		return;
	}
	case NET_RX_DROP:
	case NET_RX_CONSUMED:
	default:
		rte_pktmbuf_free(m);
		return;
	}
}

static inline uint64_t tsc_to_us(const struct loomd *app, uint64_t tsc)
{
	return (uint64_t)((__uint128_t)tsc * 1000000u / app->tsc_hz);
}

static void idle_sleep(struct idle_backoff *b, struct lcore_counters *c)
{
	uint32_t us = idle_empty(b);
	if (us == 0)
		return;
	c->idle_sleeps++;
	c->idle_sleep_us += us;
	rte_delay_us_sleep(us);
}

int io_lcore_main(void *arg)
{
	struct io_lcore *io = arg;
	struct loomd *app = io->app;
	struct rte_mbuf *rx[IO_BURST_MAX];
	void *faulted[2 * IO_BURST_MAX + 1];
	const struct fault_ops ops = {fault_mbuf_free, fault_mbuf_clone,
	                              fault_mbuf_corrupt, io};
	uint64_t next_timer = 0;

	io->net.now_us = tsc_to_us(app, rte_get_tsc_cycles() - app->start_tsc);
	if (io->index == 0 && net_arp_announce(&io->net) == 0)
		LOG_INFO("io", "lcore %u: gratuitous ARP sent", io->lcore_id);
	const struct loom_config *cfg = app->cfg;
	if (cfg->test_connect_count > 0 && io->role == IO_ROLE_API) {
		/* Spread the test's active opens over the io lcores. */
		uint32_t n = cfg->test_connect_count / app->n_io +
		             (io->index < cfg->test_connect_count % app->n_io);
		uint32_t started = echo_connect(&io->echo, io->tcp,
		                                cfg->test_connect_ip_be,
		                                cfg->test_connect_port, n);
		LOG_INFO("io", "lcore %u: %u of %u test connections opening",
		         io->lcore_id, started, n);
		tcp_flush(io->tcp);
	}
	io_flush_tx(io);
	LOG_INFO("io", "lcore %u polling port %u queue %u", io->lcore_id,
	         app->port.port_id, io->queue);

	while (!atomic_load_explicit(&app->stop, memory_order_relaxed)) {
		io->c.polls++;
		io->net.now_us =
			tsc_to_us(app, rte_get_tsc_cycles() - app->start_tsc);
		uint16_t n = rte_eth_rx_burst(app->port.port_id, io->queue, rx,
		                              io->burst);
		bool work = n != 0;
		struct rte_mbuf **pkts = rx;
		if (n != 0 && io->fault_rx.enabled) {
			n = fault_apply(&io->fault_rx, &ops, (void *const *)rx,
			                n, faulted,
			                (uint16_t)(2 * IO_BURST_MAX + 1));
			pkts = (struct rte_mbuf **)faulted;
		}
		io->c.rx_pkts += n;
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1],
				                               void *));
			io_rx_one(io, pkts[i]);
		}
		if (!rte_ring_empty(io->arp_ring)) {
			io_drain_arp_copies(io);
			work = true;
		}
		if (!rte_ring_empty(io->steer_ring)) {
			io_drain_steered(io);
			work = true;
		}
		if (io->rest != NULL) {
			void *done[COMPLETION_BURST];
			unsigned k = rte_ring_sc_dequeue_burst(
				io->wdone, done, COMPLETION_BURST, NULL);
			for (unsigned i = 0; i < k; i++)
				rest_complete(io->rest, done[i]);
			work |= k != 0;
			if (io->auth_done != NULL &&
			    !rte_ring_empty(io->auth_done)) {
				void *jobs[AUTH_OUTSTANDING_MAX];
				unsigned m = rte_ring_sc_dequeue_burst(
					io->auth_done, jobs,
					AUTH_OUTSTANDING_MAX, NULL);
				for (unsigned i = 0; i < m; i++)
					rest_auth_done(io->rest, jobs[i]);
				work = true;
			}
			rest_poll(io->rest);
		}
		if (io->repl != NULL) {
			void *done[COMPLETION_BURST];
			unsigned k = rte_ring_sc_dequeue_burst(
				io->wdone, done, COMPLETION_BURST, NULL);
			for (unsigned i = 0; i < k; i++)
				repl_complete(io->repl, done[i]);
			work |= k != 0;
			repl_mbox_serve(&io->app->repl_mbox, io->repl);
			repl_poll(io->repl);
		}
		tcp_timer(io->tcp);
		tcp_flush(io->tcp);
		if (io->net.now_us >= next_timer) {
			net_timer(&io->net);
			next_timer = io->net.now_us + NET_TIMER_PERIOD_US;
		}
		if (io->tx_n != 0) {
			io_flush_tx(io);
			work = true;
		}
		if (work) {
			io->c.busy_polls++;
			idle_work(&io->idle);
		} else {
			idle_sleep(&io->idle, &io->c);
		}
	}
	io_flush_tx(io);
	LOG_INFO("io", "lcore %u stopped", io->lcore_id);
	return 0;
}

int aux_lcore_main(void *arg)
{
	struct aux_lcore *aux = arg;
	LOG_INFO(aux_role_name(aux->role), "lcore %u started", aux->lcore_id);
	while (!atomic_load_explicit(&aux->app->stop, memory_order_relaxed)) {
		aux->c.polls++;
		idle_sleep(&aux->idle, &aux->c);
	}
	LOG_INFO(aux_role_name(aux->role), "lcore %u stopped", aux->lcore_id);
	return 0;
}

const char *aux_role_name(enum aux_role role)
{
	return role == AUX_REPL ? "repl" : "storage";
}

/* --- set-up and tear-down ----------------------------------------------- */

static void *tcp_zalloc(void *user, size_t size)
{
	return rte_zmalloc_socket("loom_tcp", size, RTE_CACHE_LINE_SIZE,
	                          (int)(intptr_t)user);
}

static void tcp_free(void *user, void *p)
{
	(void)user;
	rte_free(p);
}

/* The lcore's TCP: config from [tcp], its slice of the ephemeral range, a
 * fresh secret for SYN cookies and ISNs, and the test services. */
static int io_tcp_create(struct io_lcore *io, int socket)
{
	const struct loomd *app = io->app;
	const struct loom_config *cfg = app->cfg;
	uint16_t n_tcp = (uint16_t)(cfg->n_io_lcores +
	                            (loom_config_replicates(cfg) ? 1 : 0));
	uint32_t slice = (EPH_HI - EPH_LO + 1) / n_tcp;
	struct tcp_config tc = {
		.max_conns = cfg->tcp_max_conns,
		.sndbuf = cfg->tcp_sndbuf,
		.rcvbuf = cfg->tcp_rcvbuf,
		.mss = (uint16_t)(cfg->mtu - 40),
		.syn_backlog = cfg->tcp_syn_backlog,
		.time_wait_ms = cfg->tcp_time_wait_ms,
		.rto_init_ms = cfg->tcp_rto_init_ms,
		.rto_min_ms = cfg->tcp_rto_min_ms,
		.rto_max_ms = cfg->tcp_rto_max_ms,
		.delack_ms = cfg->tcp_delack_ms,
		.max_retries = cfg->tcp_max_retries,
		.syn_retries = cfg->tcp_syn_retries,
		.max_listeners = 16,
		.eph_lo = (uint16_t)(EPH_LO + io->index * slice),
		.eph_hi = (uint16_t)(EPH_LO + (io->index + 1u) * slice - 1),
	};
	if (io->role == IO_ROLE_REPL) {
		/* A handful of long-lived links, not thousands of clients:
		 * one connection each way per peer plus reconnects in
		 * TIME_WAIT, with buffers sized for a stream (the window a
		 * peer may have in flight). */
		tc.max_conns = REPL_TCP_CONNS(LOOM_MAX_PEERS);
		tc.sndbuf = REPL_TCP_BUF;
		tc.rcvbuf = REPL_TCP_BUF;
	}
	if (getrandom(tc.secret, sizeof tc.secret, 0) != sizeof tc.secret) {
		LOG_ERR("io", "lcore %u: getrandom for the TCP secret failed",
		        io->lcore_id);
		return -1;
	}
	const struct tcp_alloc alloc = {tcp_zalloc, tcp_free,
	                                (void *)(intptr_t)socket};
	io->tcp = tcp_stack_create(&tc, &io->net, &alloc);
	if (io->tcp == NULL) {
		LOG_ERR("io", "lcore %u: TCP stack of %u connections x (%u + %u) "
		        "bytes: out of memory (raise EAL -m or lower [tcp] "
		        "max_conns/sndbuf/rcvbuf)", io->lcore_id, tc.max_conns,
		        tc.sndbuf, tc.rcvbuf);
		return -1;
	}
	if (cfg->test_echo_port != 0 && io->role == IO_ROLE_API &&
	    echo_listen(&io->echo, io->tcp, cfg->test_echo_port) != 0) {
		LOG_ERR("io", "lcore %u: cannot listen on echo port %u",
		        io->lcore_id, cfg->test_echo_port);
		return -1;
	}
	return 0;
}

/* --- the REST API: buffers, hand-off to storage, /metrics --------------- */

static struct write_req *io_req_alloc(void *user, size_t bytes)
{
	struct io_lcore *io = user;
	if (bytes > io->large_data)
		return NULL;
	/* The repl lcore has only large (frame-sized) buffers. */
	struct rte_mempool *mp = bytes <= io->small_data && io->req_small
		? io->req_small : io->req_large;
	void *obj;
	if (rte_mempool_get(mp, &obj) != 0) {
		/* Small ones may borrow a large buffer, never the reverse. */
		if (mp == io->req_large ||
		    rte_mempool_get(io->req_large, &obj) != 0)
			return NULL;
		mp = io->req_large;
	}
	struct write_req *r = obj;
	r->pool = mp;
	r->cap = (uint32_t)(mp == io->req_small ? io->small_data
	                                        : io->large_data);
	r->next = NULL;
	return r;
}

static void io_req_free(void *user, struct write_req *r)
{
	(void)user;
	rte_mempool_put(r->pool, r);
}

static int io_req_submit(void *user, struct write_req *r)
{
	struct io_lcore *io = user;
	return rte_ring_sp_enqueue(io->wq, r) == 0 ? 0 : -1;
}

static int io_auth_submit(void *user, struct auth_job *job)
{
	struct io_lcore *io = user;
	return rte_ring_mp_enqueue(io->app->auth_ring, job) == 0 ? 0 : -1;
}

/* Peers whose ACKs of our origin reached seq (X-Replicate-To): read from
 * the repl lcore's session state, relaxed (a value at most a poll old). */
static unsigned io_confirmations(void *user, uint64_t seq)
{
	struct io_lcore *io = user;
	const struct io_lcore *rl = io->app->repl;
	if (rl == NULL || rl->repl == NULL)
		return 0;
	unsigned n = 0;
	for (uint16_t i = 0; i < repl_peer_count(rl->repl); i++) {
		struct repl_peer_info pi;
		repl_peer_info(rl->repl, i, &pi);
		n += !pi.removed && pi.acked >= seq;
	}
	return n;
}

/* The peers loom-controld has given us now (confirm=K's bound). */
static unsigned io_peers(void *user)
{
	struct io_lcore *io = user;
	const struct io_lcore *rl = io->app->repl;
	return rl != NULL && rl->repl != NULL
	       ? repl_active_peer_count(rl->repl) : 0;
}

static size_t io_metrics(void *user, struct store_reader *reader, char *buf,
                         size_t cap)
{
	struct io_lcore *io = user;
	return metrics_render(io->app, reader, buf, cap);
}

static struct rte_mempool *req_pool(const char *what, unsigned lcore_id,
                                    uint32_t n, size_t data, int socket)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof name, "loom_%s_%u", what, lcore_id);
	/* DPDK refuses a per-lcore cache above n / 1.5. */
	unsigned cache = n * 2 / 3 >= REQ_POOL_CACHE ? REQ_POOL_CACHE : 0;
	return rte_mempool_create(name, n, sizeof(struct write_req) + data,
	                          cache, 0, NULL, NULL, NULL, NULL, socket, 0);
}

static int io_rest_create(struct io_lcore *io, int socket)
{
	struct loomd *app = io->app;
	const struct loom_config *cfg = app->cfg;
	io->small_data = REQ_SMALL_DATA;
	/* max_body plus the head/table/key room; at least 64 KiB so a full
	 * /metrics page fits too. */
	io->large_data = (cfg->max_body_bytes > 65536 ? cfg->max_body_bytes
	                                              : 65536) + 4096;
	io->req_small = req_pool("rqs", io->lcore_id, cfg->http_write_pool,
	                         io->small_data, socket);
	io->req_large = req_pool("rql", io->lcore_id, cfg->http_large_pool,
	                         io->large_data, socket);
	if (io->req_small == NULL || io->req_large == NULL) {
		LOG_ERR("io", "lcore %u: write buffers (%u x %zu + %u x %zu "
		        "bytes): out of memory (raise EAL -m or lower [http] "
		        "write_pool/large_pool)", io->lcore_id,
		        cfg->http_write_pool, io->small_data,
		        cfg->http_large_pool, io->large_data);
		return -1;
	}
	if (app->auth_ring != NULL) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof name, "loom_authd_%u", io->lcore_id);
		/* One slot per job a rest server can have out, so the main
		 * lcore's enqueue never fails. */
		io->auth_done = rte_ring_create(
			name, rte_align32pow2(AUTH_OUTSTANDING_MAX + 1), socket,
			RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (io->auth_done == NULL) {
			LOG_ERR("io", "lcore %u: no memory for its auth ring",
			        io->lcore_id);
			return -1;
		}
	}
	io->wq = storage_lcore_in_ring(app->storage, io->index);
	io->wdone = storage_lcore_done_ring(app->storage, io->index);
	const struct rest_config rc = {
		.limits = {
			.max_header_bytes = cfg->http_max_header_bytes,
			.max_headers = cfg->http_max_headers,
			.max_body = cfg->max_body_bytes,
			.max_uri = 0,
		},
		.header_timeout_ms = cfg->http_header_timeout_ms,
		.idle_timeout_ms = cfg->http_idle_timeout_ms,
		.backpressure_ms = cfg->http_backpressure_ms,
		.max_inflight = cfg->http_max_inflight,
		.io_index = (uint8_t)io->index,
		.node_id = cfg->node_id,
		.max_conns = cfg->tcp_max_conns,
		.large_data = io->large_data,
		/* the bound of confirm=K comes from ops.peers */
		.n_peers = 0,
		.confirm_timeout_ms = REST_CONFIRM_TIMEOUT_MS,
		.auth_mode = cfg->auth_mode,
		.users = cfg->users,
		.n_users = cfg->n_users,
	};
	const struct rest_ops ops = {
		.req_alloc = io_req_alloc,
		.req_free = io_req_free,
		.submit = io_req_submit,
		.metrics = io_metrics,
		.auth_submit = app->auth_ring != NULL ? io_auth_submit : NULL,
		.confirmations = io_confirmations,
		.peers = io_peers,
		.user = io,
	};
	const struct tcp_alloc alloc = {tcp_zalloc, tcp_free,
	                                (void *)(intptr_t)socket};
	io->rest = rest_create(&rc, io->tcp, &io->net, app->store, &ops,
	                       &alloc);
	if (io->rest == NULL) {
		LOG_ERR("io", "lcore %u: REST server: out of memory",
		        io->lcore_id);
		return -1;
	}
	if (rest_listen(io->rest, cfg->http_port) != 0) {
		LOG_ERR("io", "lcore %u: cannot listen on HTTP port %u",
		        io->lcore_id, cfg->http_port);
		return -1;
	}
	return 0;
}

/* --- the replication links (the repl lcore) ------------------------------ */

static uint64_t io_own_seq(void *user)
{
	struct io_lcore *io = user;
	return storage_lcore_own_seq(io->app->storage);
}

static int io_repl_create(struct io_lcore *io, int socket)
{
	struct loomd *app = io->app;
	const struct loom_config *cfg = app->cfg;
	/* A received BATCH is decrypted in place in one of these: a whole
	 * frame each. Few are needed: the storage lcore answers within a
	 * commit, and a link waits (TCP window) when they are all out. */
	io->small_data = 0;
	io->large_data = cfg->repl_max_frame;
	io->req_large = req_pool("rqr", io->lcore_id, REPL_REQ_BUFS,
	                         io->large_data, socket);
	if (io->req_large == NULL) {
		LOG_ERR("repl", "lcore %u: %u frame buffers of %zu bytes: out "
		        "of memory (raise EAL -m or lower [repl] max_frame)",
		        io->lcore_id, REPL_REQ_BUFS, io->large_data);
		return -1;
	}
	io->wq = storage_lcore_in_ring(app->storage, io->index);
	io->wdone = storage_lcore_done_ring(app->storage, io->index);
	/* No peer yet: loom-controld hands them out over [control] socket
	 * (repl_peer_set, through the main lcore's mailbox). */
	struct repl_config rc = {
		.node_id = cfg->node_id,
		.cluster_id = cfg->cluster_id,
		.port = cfg->repl_port,
		.batch_max = cfg->repl_batch_max,
		.window = cfg->repl_window,
		.ping_ms = cfg->repl_ping_ms,
		.dead_ms = cfg->repl_dead_ms,
		.reconnect_min_ms = 100,
		.reconnect_max_ms = 5000,
		.max_frame = cfg->repl_max_frame,
		.io_index = (uint8_t)io->index,
	};
	const struct repl_ops ops = {
		.req_alloc = io_req_alloc,
		.req_free = io_req_free,
		.submit = io_req_submit,
		.own_seq = io_own_seq,
		.user = io,
	};
	const struct tcp_alloc alloc = {tcp_zalloc, tcp_free,
	                                (void *)(intptr_t)socket};
	io->repl = repl_create(&rc, io->tcp, &io->net, app->store, &ops,
	                       &alloc);
	if (io->repl == NULL) {
		LOG_ERR("repl", "lcore %u: replication links: out of memory",
		        io->lcore_id);
		return -1;
	}
	if (repl_start(io->repl) != 0) {
		LOG_ERR("repl", "lcore %u: cannot listen on repl port %u",
		        io->lcore_id, cfg->repl_port);
		return -1;
	}
	LOG_INFO("repl", "lcore %u: node %u, port %u; peers from "
	         "loom-controld", io->lcore_id, cfg->node_id, cfg->repl_port);
	return 0;
}

struct io_lcore *io_lcore_create(struct loomd *app, uint16_t index,
                                 unsigned lcore_id, enum io_role role)
{
	const struct loom_config *cfg = app->cfg;
	int socket = (int)rte_lcore_to_socket_id(lcore_id);
	struct io_lcore *io = rte_zmalloc_socket("io_lcore", sizeof *io,
	                                         RTE_CACHE_LINE_SIZE, socket);
	if (io == NULL) {
		LOG_ERR("io", "lcore %u: no memory for its context", lcore_id);
		return NULL;
	}
	io->lcore_id = lcore_id;
	io->index = index;
	io->role = role;
	io->queue = index;
	io->app = app;
	io->burst = cfg->burst > IO_BURST_MAX ? IO_BURST_MAX : cfg->burst;
	idle_init(&io->idle, cfg->idle_spin_polls, cfg->idle_sleep_max_us);
	fault_init(&io->fault_rx, cfg->fault_drop, cfg->fault_dup,
	           cfg->fault_reorder, cfg->fault_corrupt, cfg->fault_seed,
	           2u * index);
	fault_init(&io->fault_tx, cfg->fault_drop, cfg->fault_dup,
	           cfg->fault_reorder, cfg->fault_corrupt, cfg->fault_seed,
	           2u * index + 1);

	size_t table_bytes = NET_ARP_ENTRY_SIZE * cfg->arp_cache_size;
	size_t pend_bytes = NET_ARP_PENDING_SIZE * cfg->arp_pending_max;
	io->arp_mem = rte_zmalloc_socket("io_arp", table_bytes + pend_bytes,
	                                 RTE_CACHE_LINE_SIZE, socket);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof name, "loom_arp_%u", lcore_id);
	io->arp_ring = rte_ring_create(name, ARP_RING_SIZE, socket,
	                               RING_F_SC_DEQ);
	snprintf(name, sizeof name, "loom_steer_%u", lcore_id);
	io->steer_ring = rte_ring_create(name, STEER_RING_SIZE, socket,
	                                 RING_F_SC_DEQ);
	if (io->arp_mem == NULL || io->arp_ring == NULL ||
	    io->steer_ring == NULL) {
		LOG_ERR("io", "lcore %u: no memory for ARP state", lcore_id);
		io_lcore_destroy(io);
		return NULL;
	}

	struct net_ctx *net = &io->net;
	memcpy(net->mac, app->port.mac.addr_bytes, 6);
	net->ip_be = cfg->ip_be;
	net->netmask_be = cfg->prefix_len == 0
		? 0 : rte_cpu_to_be_32(~0u << (32 - cfg->prefix_len));
	net->gateway_be = cfg->gateway_be;
	net->mtu = cfg->mtu;
	net->ops = (struct net_ops){io_frame_alloc, io_frame_send,
	                            io_frame_free, io};
	net->arp_table = io->arp_mem;
	net->arp_table_size = cfg->arp_cache_size;
	net->arp_timeout_us = (uint64_t)cfg->arp_timeout_s * 1000000u;
	net->pending = (struct net_arp_pending *)((uint8_t *)io->arp_mem +
	                                          table_bytes);
	net->arp_pending_max = cfg->arp_pending_max;
	net->pending_timeout_us = 3000000u;
	if (net_init(net) != 0) {
		LOG_ERR("io", "lcore %u: stack init failed", lcore_id);
		io_lcore_destroy(io);
		return NULL;
	}
	if (io_tcp_create(io, socket) != 0 ||
	    (role == IO_ROLE_API && app->storage != NULL &&
	     io_rest_create(io, socket) != 0) ||
	    (role == IO_ROLE_REPL && io_repl_create(io, socket) != 0)) {
		io_lcore_destroy(io);
		return NULL;
	}
	return io;
}

void io_lcore_destroy(struct io_lcore *io)
{
	if (io == NULL)
		return;
	/* The TCP stack may still hold frames in the net layer's queues;
	 * it goes first. */
	if (io->tcp != NULL)
		tcp_stack_destroy(io->tcp);
	/* After the stack (no more callbacks): buffers back, reader closed. */
	rest_destroy(io->rest);
	repl_destroy(io->repl);
	rte_ring_free(io->auth_done);
	rte_mempool_free(io->req_small);
	rte_mempool_free(io->req_large);
	if (io->arp_mem != NULL)
		net_fini(&io->net);
	for (uint16_t i = 0; i < io->tx_n; i++)
		rte_pktmbuf_free(io->tx_buf[i]);
	io->tx_n = 0;
	const struct fault_ops ops = {fault_mbuf_free, fault_mbuf_clone,
	                              fault_mbuf_corrupt, io};
	fault_flush(&io->fault_rx, &ops);
	fault_flush(&io->fault_tx, &ops);
	if (io->arp_ring != NULL) {
		void *m;
		while (rte_ring_dequeue(io->arp_ring, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(io->arp_ring);
	}
	if (io->steer_ring != NULL) {
		void *m;
		while (rte_ring_dequeue(io->steer_ring, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(io->steer_ring);
	}
	rte_free(io->arp_mem);
	rte_free(io);
}

struct aux_lcore *aux_lcore_create(struct loomd *app, enum aux_role role,
                                   unsigned lcore_id)
{
	struct aux_lcore *aux = rte_zmalloc_socket(
		"aux_lcore", sizeof *aux, RTE_CACHE_LINE_SIZE,
		(int)rte_lcore_to_socket_id(lcore_id));
	if (aux == NULL)
		return NULL;
	aux->lcore_id = lcore_id;
	aux->role = role;
	aux->app = app;
	idle_init(&aux->idle, app->cfg->idle_spin_polls,
	          app->cfg->idle_sleep_max_us);
	return aux;
}

void aux_lcore_destroy(struct aux_lcore *aux) { rte_free(aux); }

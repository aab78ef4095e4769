/*
 * rest_server.h - the REST API of DESIGN §3 on one io lcore: HTTP/1.1
 * connections over the lcore's TCP (tcp.h), requests parsed in place from
 * the receive buffer, writes handed to the storage lcore as write_reqs,
 * reads served from the lcore's own LMDB read txn.
 *
 * Plain C with no DPDK: buffers, the storage hand-off and /metrics come in
 * through struct rest_ops, so the unit tests drive it with the scripted TCP
 * harness and a fake storage.
 *
 * Per connection, in order:
 *  - The head is parsed where it lies in the TCP receive ring (copied to one
 *    per-lcore scratch buffer only when it wraps); nothing is consumed until
 *    it is complete, so a request split at any byte just waits.
 *  - A POST, PUT or DELETE takes a buffer from the pool (ops->req_alloc)
 *    and its body is copied there as it arrives (Content-Length or chunked;
 *    "100 Continue" first when asked). The JSON is validated, the id taken
 *    from the body or generated (UUIDv4) and written into the stored body,
 *    and the request is submitted (ops->submit).
 *  - Answers leave in request order. POSTs without Expect may pipeline up
 *    to max_inflight deep (completions return FIFO); any other request
 *    waits until the writes before it are answered.
 *  - Back-pressure: with no buffer or a full ring the connection is parked
 *    and its bytes stay unread, so its TCP window closes; it is retried
 *    every poll and answered 503 (then closed) only after backpressure_ms.
 *    An accepted write is never dropped: once submitted it is committed
 *    and answered, or the connection closed before the answer only if the
 *    client went away.
 *  - Timeouts: a request head or body not complete within header_timeout_ms
 *    gets 408 and a close; a connection idle for idle_timeout_ms is closed.
 *  - Authentication (auth.h): an unseen credential's PBKDF2 can run on
 *    another thread (ops->auth_submit) while its request waits parked, so
 *    the lcore never stalls for it; verdicts are cached per lcore.
 *  - X-Replicate-To: confirm=K[; timeout_ms=T] (DESIGN §3): the answer to
 *    a write waits, after its local commit, until K peers have committed
 *    it (ops->confirmations), or answers 504 after T ms (default
 *    confirm_timeout_ms) saying the write is committed here and how many
 *    peers confirmed it; it still replicates. Such a request is not
 *    pipelined: the connection reads nothing more until it is answered.
 *  - Errors are {"error": "..."} with the status of §3; one whose request
 *    body was not read closes the connection after the answer.
 */
#ifndef LOOM_HTTP_REST_SERVER_H
#define LOOM_HTTP_REST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "dataplane/http/auth.h"
#include "dataplane/http/http_parser.h"
#include "dataplane/net/tcp.h"
#include "storage/store.h"
#include "storage/write_req.h"

/* Statuses counted one by one in rest_stats.status[]. */
#define REST_STATUS_LIST(X)                                                  \
	X(200) X(201) X(204) X(304) X(400) X(401) X(404) X(405) X(408)       \
	X(409) X(411) X(413) X(414) X(415) X(431) X(500) X(501) X(503)       \
	X(504) X(505) X(507)

enum rest_status_idx {
#define REST_STATUS_IDX(code) REST_ST_##code,
	REST_STATUS_LIST(REST_STATUS_IDX)
#undef REST_STATUS_IDX
	REST_ST_OTHER,
	REST_ST_N
};

/* Write latency buckets (us, upper bounds; the last is +Inf). */
#define REST_LAT_BUCKETS 12
extern const uint32_t rest_lat_bounds_us[REST_LAT_BUCKETS - 1];

#define REST_STATS_LIST(X)                                                   \
	X(accepted) X(refused) X(closed) X(requests)                         \
	X(req_get) X(req_post) X(req_put) X(req_delete) X(req_head)          \
	X(req_health) X(req_metrics) X(req_other)                            \
	X(writes_submitted) X(writes_completed) X(writes_orphaned)           \
	X(backpressure_waits) X(backpressure_503) X(timeouts_408)            \
	X(idle_closed) X(aborted) X(continues) X(ids_generated)              \
	X(bytes_in) X(bytes_out) X(write_lat_us_sum)                         \
	X(confirms_waited) X(confirms_met) X(confirms_timed_out)

struct rest_stats {
#define REST_STATS_FIELD(name) uint64_t name;
	REST_STATS_LIST(REST_STATS_FIELD)
#undef REST_STATS_FIELD
	uint64_t status[REST_ST_N];
	uint64_t write_lat[REST_LAT_BUCKETS]; /* not cumulative */
};

enum rest_status_idx rest_status_index(int status);
int rest_status_code(enum rest_status_idx i); /* 0 for REST_ST_OTHER */

struct rest_ops {
	/* A buffer whose data[] holds at least `data_bytes`; its cap is set.
	 * NULL when the pools are empty (the request waits). */
	struct write_req *(*req_alloc)(void *user, size_t data_bytes);
	void (*req_free)(void *user, struct write_req *r);
	/* Hand to the storage lcore: 0, or -1 when its ring is full. */
	int (*submit)(void *user, struct write_req *r);
	/* Prometheus text of the whole node into buf; returns its length
	 * (at most cap). reader is an active read txn (NULL without a
	 * store) for gauges such as the record count. */
	size_t (*metrics)(void *user, struct store_reader *reader, char *buf,
	                  size_t cap);
	/* Optional: hand a credential's slow hash to a verifier thread (0,
	 * or -1 when it cannot take it now); the verdict comes back through
	 * rest_auth_done. NULL: the hash runs inline, on this lcore. */
	int (*auth_submit)(void *user, struct auth_job *job);
	/* Optional: how many peers have committed our origin's entries up
	 * to seq (X-Replicate-To: confirm=K). NULL: no peers. */
	unsigned (*confirmations)(void *user, uint64_t seq);
	/* Optional: how many peers this node has now (they come and go with
	 * loom-controld): confirm=K above it is a 400. NULL: cfg.n_peers. */
	unsigned (*peers)(void *user);
	void *user;
};

struct rest_config {
	struct http_limits limits;     /* header bytes/count, max body */
	uint32_t header_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t backpressure_ms;
	uint16_t max_inflight;
	uint8_t io_index;              /* write_req.io_index */
	uint16_t node_id;              /* for /health */
	uint32_t max_conns;            /* connection slots (the TCP's) */
	size_t large_data;             /* data bytes of the largest buffer */
	uint16_t n_peers;              /* confirm=K needs K <= n_peers
	                                  (without ops.peers) */
	uint32_t confirm_timeout_ms;   /* default wait for confirm=K */
	enum loom_auth_mode auth_mode;
	const struct loom_user *users;
	uint16_t n_users;
};

struct rest_server;

/* store may be NULL (then GET answers 503). The allocator is used at
 * creation only. NULL on bad config or no memory. */
struct rest_server *rest_create(const struct rest_config *cfg,
                                struct tcp_stack *tcp, struct net_ctx *net,
                                struct store *store,
                                const struct rest_ops *ops,
                                const struct tcp_alloc *alloc);
/* Connections are aborted through the TCP stack before this (the stack is
 * destroyed first); buffers still held are returned through ops. */
void rest_destroy(struct rest_server *s);

int rest_listen(struct rest_server *s, uint16_t port);

/* A write came back from the storage lcore: answer it (or drop the answer
 * if its connection is gone) and give the buffer back. */
void rest_complete(struct rest_server *s, struct write_req *r);

/* Once per poll loop, after input and completions: retry parked
 * connections, run timeouts, end the read txn. */
void rest_poll(struct rest_server *s);

/* A verification handed out through ops->auth_submit is back (on this
 * lcore): cache its verdict; the requests waiting for it are retried by
 * the next rest_poll. */
void rest_auth_done(struct rest_server *s, struct auth_job *job);

const struct rest_stats *rest_stats(const struct rest_server *s);
uint32_t rest_conn_count(const struct rest_server *s);
/* Auth counters (checks, cache hits, slow hashes, failures). */
void rest_auth_counters(const struct rest_server *s, uint64_t out[4]);

#endif

/*
 * tcp.h - the per-lcore TCP of an io lcore: shared-nothing, plain C.
 *
 * One struct tcp_stack per io lcore. It owns a connection table (hash on the
 * 4-tuple), a timer wheel, a fixed pool of connection objects and their byte
 * buffers, all allocated once at tcp_stack_create() through the caller's
 * allocator; nothing is allocated afterwards. Frames go in and out through
 * the lcore's struct net_ctx (net.h): received segments arrive from net_rx()
 * as NET_RX_L4_TCP, outgoing ones are built in frames from ctx->ops and
 * routed with net_output_ipv4(). So the unit tests drive it with scripted
 * segments and fake ops, without DPDK.
 *
 * Features (see docs/ARCHITECTURE.md for the why of each):
 *  - passive and active open; MSS, window scaling and timestamps negotiated
 *  - RTT estimation (RFC 6298) and RTO with exponential back-off
 *  - NewReno congestion control (RFC 5681/6582): slow start, congestion
 *    avoidance, fast retransmit after three duplicate ACKs, fast recovery
 *  - delayed ACKs (every second full segment or delack_ms), no Nagle delay
 *  - out-of-order data placed directly into the receive buffer at its
 *    offset and delivered in order once the hole fills
 *  - zero-window probing (persist timer) with back-off
 *  - FIN and RST in every state; TIME_WAIT bounded by time_wait_ms
 *  - a SYN backlog bound per listener; SYN cookies when it overflows
 *  - RFC 5961 challenge ACKs for in-window RST and for SYN on a synchronised
 *    connection; RST (RFC 793 rules) for segments to no connection
 *  - back-pressure both ways: tcp_send() takes only what fits in the bounded
 *    send buffer; the advertised window is the receive buffer's free space,
 *    so data the application has not consumed closes the window.
 *
 * Callbacks run on the owning lcore from inside tcp_input(), tcp_timer() or
 * tcp_flush(). A callback may call tcp_send/recv/consume/close/abort on its
 * own connection, and tcp_connect/tcp_close on others; it must not free the
 * frame it was not given. After on_closed the connection pointer is dead.
 */
#ifndef LOOM_NET_TCP_H
#define LOOM_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/net.h"

struct tcp_stack;
struct tcp_conn;

enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSING,
	TCP_TIME_WAIT,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
};

const char *tcp_state_name(enum tcp_state s);

enum tcp_close_reason {
	TCP_CLOSE_NORMAL = 0, /* both FINs exchanged (or TIME_WAIT entered) */
	TCP_CLOSE_RESET,      /* the peer sent an acceptable RST */
	TCP_CLOSE_TIMEOUT,    /* retransmissions (or SYN retries) exhausted */
	TCP_CLOSE_ABORT,      /* tcp_abort() by the application */
	TCP_CLOSE_REFUSED,    /* active open answered by RST */
	TCP_CLOSE_NO_ROUTE,   /* next hop unroutable */
};

struct tcp_config {
	uint32_t max_conns;    /* connection objects, incl. SYN_RCVD and TIME_WAIT */
	uint32_t sndbuf;       /* send buffer bytes per connection, power of two >= 4096 */
	uint32_t rcvbuf;       /* receive buffer bytes per connection, power of two >= 4096 */
	uint16_t mss;          /* our MSS: MTU - 40 */
	uint32_t syn_backlog;  /* half-open connections per listener before cookies */
	uint32_t time_wait_ms; /* TIME_WAIT duration (bounded, not 2*MSL=240 s) */
	uint32_t rto_init_ms;  /* 1000 per RFC 6298; tests may lower it */
	uint32_t rto_min_ms;   /* 200 */
	uint32_t rto_max_ms;   /* 60000 */
	uint32_t delack_ms;    /* 40 */
	uint32_t max_retries;  /* data retransmissions before TCP_CLOSE_TIMEOUT (e.g. 12) */
	uint32_t syn_retries;  /* SYN / SYN-ACK retransmissions (e.g. 5) */
	uint16_t max_listeners;/* listening ports (e.g. 16) */
	uint16_t eph_lo, eph_hi; /* source ports tcp_connect() picks from, inclusive:
	                            the lcore's slice of the ephemeral range, so
	                            replies can be steered back to it */
	uint64_t secret[2];    /* SYN cookie and ISN key; random per lcore */
};

/* Allocation at creation only: in loomd rte_zmalloc_socket, in tests calloc. */
struct tcp_alloc {
	void *(*zalloc)(void *user, size_t size);
	void (*free)(void *user, void *p);
	void *user;
};

struct tcp_callbacks {
	/* A passive connection reached ESTABLISHED. Returns the connection's
	 * user argument; returning NULL refuses it (the stack sends RST).
	 * listen_arg is tcp_listen()'s. */
	void *(*on_accept)(void *listen_arg, struct tcp_conn *c);
	/* An active open reached ESTABLISHED. */
	void (*on_connected)(void *arg, struct tcp_conn *c);
	/* New in-order bytes are readable (tcp_recv_avail() > 0). */
	void (*on_readable)(void *arg, struct tcp_conn *c);
	/* Send-buffer space was freed after tcp_send() had come up short. */
	void (*on_writable)(void *arg, struct tcp_conn *c);
	/* The peer's FIN arrived: after the bytes already readable, no more. */
	void (*on_peer_closed)(void *arg, struct tcp_conn *c);
	/* The connection is gone; c must not be used after this returns. Not
	 * called for connections whose on_accept returned NULL. */
	void (*on_closed)(void *arg, struct tcp_conn *c, enum tcp_close_reason r);
};

/* Every counter, one X-macro list (as net_stats): struct, names, foreach. */
#define TCP_STATS_LIST(X)                                                    \
	X(segs_in) X(segs_out) X(bytes_in) X(bytes_out)                      \
	X(active_opens) X(passive_opens) X(established) X(closed)            \
	X(resets_in) X(resets_out) X(retransmits) X(fast_retransmits)        \
	X(rto_expired) X(dup_acks) X(ooo_segs) X(ooo_dropped)                \
	X(zero_window_probes) X(delayed_acks) X(challenge_acks)              \
	X(syn_cookies_sent) X(syn_cookies_ok) X(syn_cookies_bad)             \
	X(syn_backlog_full) X(time_wait) X(time_wait_reused)                 \
	X(drop_csum) X(drop_short) X(drop_bad_flags) X(drop_no_conn)         \
	X(drop_out_of_window) X(drop_no_mem) X(conns_full)                   \
	X(timeouts) X(no_frame)

struct tcp_stats {
#define TCP_STATS_FIELD(name) uint64_t name;
	TCP_STATS_LIST(TCP_STATS_FIELD)
#undef TCP_STATS_FIELD
};

void tcp_stats_foreach(const struct tcp_stats *s,
                       void (*fn)(void *arg, const char *name, uint64_t value),
                       void *arg);

/* Snapshot of one connection for tests, /metrics and debugging. */
struct tcp_conn_info {
	enum tcp_state state;
	uint32_t local_ip_be, remote_ip_be;
	uint16_t local_port, remote_port;
	uint32_t snd_una, snd_nxt, snd_wnd; /* snd_wnd in bytes (scaled) */
	uint32_t rcv_nxt, rcv_wnd;          /* rcv_wnd as advertised, bytes */
	uint32_t cwnd, ssthresh;
	uint32_t srtt_us, rttvar_us, rto_us;
	uint16_t mss;                       /* effective send MSS */
	uint8_t snd_wscale, rcv_wscale;
	bool ts_ok;                         /* timestamps negotiated */
	uint32_t retransmits;               /* consecutive, for back-off */
	size_t send_queued;                 /* bytes in the send buffer */
	size_t recv_avail;                  /* in-order bytes not yet consumed */
};

/* --- lifecycle ---------------------------------------------------------- */

/* Allocate the pool, buffers, table and wheel. NULL when the config is
 * invalid or memory is short. net must outlive the stack. */
struct tcp_stack *tcp_stack_create(const struct tcp_config *cfg,
                                   struct net_ctx *net,
                                   const struct tcp_alloc *alloc);

/* Abort every connection (no callbacks) and release everything. */
void tcp_stack_destroy(struct tcp_stack *s);

const struct tcp_stats *tcp_stack_stats(const struct tcp_stack *s);
uint32_t tcp_stack_conn_count(const struct tcp_stack *s); /* in use, any state */

/* --- packet path -------------------------------------------------------- */

/* Process one received segment. `frame`/`data`/`len` and `res` are what
 * net_rx() returned NET_RX_L4_TCP for; the stack takes ownership of the
 * frame and frees it (through net ops) before returning. */
void tcp_input(struct tcp_stack *s, void *frame, uint8_t *data, uint16_t len,
               const struct net_rx_result *res);

/* Send what became sendable (data queued by callbacks, window updates,
 * pending ACKs that should not wait). Call once per burst, after input. */
void tcp_flush(struct tcp_stack *s);

/* Run expired timers (retransmit, delayed ACK, persist, TIME_WAIT, SYN
 * retries) against net->now_us. Cheap when nothing is due; call every poll
 * or at least every millisecond. */
void tcp_timer(struct tcp_stack *s);

/* --- application API ---------------------------------------------------- */

/* Accept connections to `port` (host order). -1 if the port is taken or
 * the listener table is full. */
int tcp_listen(struct tcp_stack *s, uint16_t port,
               const struct tcp_callbacks *cb, void *listen_arg);

/* Active open to dst (network order) : dst_port (host order) from a free
 * source port in [eph_lo, eph_hi]. NULL when no connection object or port
 * is free. Completion is reported by on_connected or on_closed. */
struct tcp_conn *tcp_connect(struct tcp_stack *s, uint32_t dst_be,
                             uint16_t dst_port, const struct tcp_callbacks *cb,
                             void *arg);

/* Copy up to len bytes into the send buffer; returns how many were taken
 * (0 when full, or after tcp_close). Data goes out on the next tcp_flush. */
size_t tcp_send(struct tcp_conn *c, const void *data, size_t len);
size_t tcp_send_space(const struct tcp_conn *c);

/* Readable in-order bytes. tcp_recv copies and consumes; tcp_recv_peek
 * exposes them in place as at most two spans (the buffer is a ring) and
 * tcp_recv_consume releases n of them. Consuming reopens the window (a
 * window update goes out when it grows by at least 2 MSS or half the
 * buffer). */
size_t tcp_recv_avail(const struct tcp_conn *c);
size_t tcp_recv(struct tcp_conn *c, void *buf, size_t len);
size_t tcp_recv_peek(const struct tcp_conn *c, const uint8_t **p1, size_t *l1,
                     const uint8_t **p2, size_t *l2);
void tcp_recv_consume(struct tcp_conn *c, size_t n);

/* Graceful close: FIN after everything queued has been sent; receiving
 * continues until the peer's FIN. on_closed follows later. */
void tcp_close(struct tcp_conn *c);
/* RST now; on_closed(TCP_CLOSE_ABORT) is called before this returns. */
void tcp_abort(struct tcp_conn *c);

/* The state alone: cheap enough for a per-callback check. */
enum tcp_state tcp_conn_state(const struct tcp_conn *c);
/* The full snapshot: for tests, /metrics and debugging, not per packet. */
void tcp_conn_get_info(const struct tcp_conn *c, struct tcp_conn_info *out);
void *tcp_conn_arg(const struct tcp_conn *c);
void tcp_conn_set_arg(struct tcp_conn *c, void *arg);

#endif

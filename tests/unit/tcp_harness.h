/*
 * tcp_harness.h - drives struct tcp_stack without DPDK: a node is a net_ctx
 * plus a stack whose fake frame ops queue every sent frame (exact-size heap
 * copies) in an outbox. Scripted tests play the peer by building segments
 * (th_inject) and parsing what the node sent (th_pop); two nodes can also
 * be wired together through a lossy link (th_pump).
 */
#ifndef LOOM_TCP_HARNESS_H
#define LOOM_TCP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"

#define TH_OUTBOX 8192
#define TH_T0 1000000000ull

struct th_frame {
	uint16_t len;
	uint8_t *data;
};

struct th_node {
	struct net_ctx net;
	struct tcp_stack *tcp;
	uint64_t arp_table[64 * 8];
	uint64_t pending[16 * 8];
	int live; /* frames allocated and not yet sent or freed */
	int fail_alloc;
	struct th_frame out[TH_OUTBOX];
	unsigned out_head, out_n;
};

/* What the application callbacks saw; cb arg is a struct th_app. */
struct th_app {
	struct tcp_conn *conn;
	int accepted, connected, readable, writable, peer_closed, closed;
	enum tcp_close_reason reason;
	bool auto_consume;  /* read everything readable into rx */
	bool refuse;        /* on_accept returns NULL */
	bool abort_on_read; /* tcp_abort from on_readable */
	bool close_on_read; /* tcp_close from on_readable */
	uint8_t *rx;
	size_t rx_len, rx_cap;
};

extern const struct tcp_callbacks th_callbacks;

uint32_t th_ip(unsigned a, unsigned b, unsigned c, unsigned d);
/* Big-endian 16/32-bit loads and stores. */
uint16_t th_g16(const uint8_t *p);
void th_p16(uint8_t *p, uint16_t v);
uint32_t th_g32(const uint8_t *p);
void th_p32(uint8_t *p, uint32_t v);
#define TH_US th_ip(10, 0, 0, 1)
#define TH_PEER th_ip(10, 0, 0, 2)

void th_default_cfg(struct tcp_config *cfg);
/* ip: 1 or 2 (10.0.0.x); the other address is ARP-resolved already. */
void th_node_init(struct th_node *n, int ip, const struct tcp_config *cfg);
/* Destroys the stack, frees queued frames; returns frames leaked. */
int th_node_fini(struct th_node *n);
/* A heap-allocated node: calloc + th_node_init (aborts if out of memory).
 * th_node_new: ip 1 with th_default_cfg. */
struct th_node *th_node_new_cfg(int ip, const struct tcp_config *cfg);
struct th_node *th_node_new(void);
/* th_node_fini, then frees n; returns th_node_fini's result (frames
 * leaked), for the caller to check. */
int th_node_free(struct th_node *n);

void th_set_time(struct th_node *n, uint64_t us);
/* now += ms, then tcp_timer and tcp_flush. */
void th_advance(struct th_node *n, uint64_t ms);

/* A parsed segment (ours or the peer's). */
struct th_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	bool has_mss, has_ws, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint16_t len;
	uint8_t data[9000];
	bool csum_ok;
};

/* Build a peer segment, run net_rx + tcp_input + tcp_flush on node n. */
struct th_in {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opts;
	uint8_t optlen;
	const uint8_t *data;
	uint16_t len;
	bool bad_csum;
	bool no_flush;
	uint8_t doff; /* data offset override (words), 0: right one */
};
void th_inject(struct th_node *n, const struct th_in *in);

/* Pops the oldest sent frame and parses it; false if none. */
bool th_pop(struct th_node *n, struct th_seg *s);
unsigned th_pending(const struct th_node *n);
void th_drain(struct th_node *n);

/* Deliver a's outbox to b and b's to a, each frame dropped with
 * probability loss_pct/100 (deterministic rng state *seed). Returns frames
 * moved. */
unsigned th_pump(struct th_node *a, struct th_node *b, unsigned loss_pct,
                 uint32_t *seed);

uint64_t th_stat(const struct th_node *n, const char *name);

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10


/* A scripted peer of node n: seq is its next sequence number, ack what it
 * acknowledges; th_peer_send advances seq by the segment's length. */
struct th_peer {
	struct th_node *n;
	uint16_t port, our_port;
	uint32_t seq, ack;
	uint16_t win;
};
void th_peer_send(struct th_peer *p, uint8_t flags, const void *data,
                  uint16_t len);
/* Peer SYN with mss/ws (ws < 0: none)/ts options; seq = p->seq. */
void th_peer_syn(struct th_peer *p, uint8_t flags, uint16_t mss, int ws,
                 bool ts);

/* Listen on port 80 (app as listen arg, if not yet), play a handshake from
 * peer port `port` with ISN `isn`; returns the accepted connection (NULL on
 * failure). p is set up to continue; the SYN-ACK is consumed. */
struct tcp_conn *th_accept(struct th_node *n, struct th_peer *p,
                           struct th_app *app, uint16_t port, uint32_t isn,
                           uint16_t mss, int ws, bool ts);
/* tcp_connect to peer:80 and answer the SYN with SYN-ACK(isn). */
struct tcp_conn *th_connect(struct th_node *n, struct th_peer *p,
                            struct th_app *app, uint32_t isn, uint16_t mss,
                            int ws, bool ts);

#endif

/*
 * tcp_priv.h - how the TCP's files call each other; not for users of tcp.h.
 *
 * Files, one concern each:
 *   tcp_conn.c    stack create/destroy, connection pool, 4-tuple hash,
 *                 listeners, ephemeral ports, close/free, dirty list
 *   tcp_hash.c    keyed hashes: the table, ISNs (RFC 6528), SYN cookies
 *   tcp_opt.c     option parsing and building
 *   tcp_buf.c     send ring, receive ring with out-of-order intervals,
 *                 receive window computation
 *   tcp_cc.c      RTT estimation (RFC 6298) and NewReno (RFC 5681/6582)
 *   tcp_out.c     segment building and output, RST replies
 *   tcp_in.c      segment input and the state machine
 *   tcp_timer.c   the timer wheel and what expiring timers do
 *   tcp_api.c     the application API
 */
#ifndef LOOM_NET_TCP_PRIV_H
#define LOOM_NET_TCP_PRIV_H

#include "dataplane/net/tcp.h"

#define TCP_SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define TCP_SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define TCP_SEQ_GT(a, b) TCP_SEQ_LT(b, a)
#define TCP_SEQ_GEQ(a, b) TCP_SEQ_LEQ(b, a)

/* flags */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

/* header offsets */
#define TCP_SPORT 0
#define TCP_DPORT 2
#define TCP_SEQ 4
#define TCP_ACK 8
#define TCP_OFF 12
#define TCP_FLAGS 13
#define TCP_WIN 14
#define TCP_CSUM 16
#define TCP_URP 18

#define TCP_OOO_MAX 8           /* out-of-order intervals per connection */
#define TCP_WHEEL_SLOTS 2048u   /* 1 ms ticks */
#define TCP_FIN_WAIT2_MS 60000u /* FIN_WAIT_2 without the peer's FIN */
#define TCP_PERSIST_MAX_US 60000000u
#define TCP_CHALLENGE_PER_S 100u
#define TCP_MIN_PEER_MSS 64u
#define TCP_TS_OPT_LEN 12       /* NOP NOP TS(10) */
#define TCP_NONE 0xffffffffu    /* null index */

struct tcp_listener {
	bool used;
	uint16_t port;
	uint32_t half_open;
	struct tcp_callbacks cb;
	void *arg;
};

/* Parsed options of one segment. */
struct tcp_opts {
	bool mss_ok, ws_ok, ts_ok;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
};

struct tcp_ooo {
	uint32_t start, end; /* [start, end) sequence numbers */
};

struct tcp_conn {
	struct tcp_stack *s;
	uint32_t idx;
	uint32_t hnext;         /* hash chain, or free list */
	struct tcp_conn *tprev, *tnext; /* timer wheel slot list */
	struct tcp_conn *dnext; /* dirty list */
	enum tcp_state state;
	bool in_hash, in_dirty, timer_on;
	bool zombie;            /* closed; freed when busy drops to 0 */
	bool reported;          /* the application knows it: on_closed owed */
	bool passive;           /* came from a listener */
	bool half_open;         /* counted in listener's half_open */
	bool ts_ok;             /* timestamps negotiated */
	bool ws_ok;             /* window scaling negotiated */
	bool fin_queued;        /* tcp_close(): FIN after the queued data */
	bool fin_rcvd;          /* peer's FIN consumed (rcv_nxt covers it) */
	bool rfin_pending;      /* an out-of-order FIN at rfin_seq */
	bool ack_now;           /* an ACK must go out at the next output */
	bool want_writable;     /* tcp_send came up short */
	bool persist;           /* rtx_at is the persist timer */
	bool in_recovery;
	bool rtt_timing;
	bool noroute;
	uint8_t snd_wscale, rcv_wscale;
	uint8_t busy;
	uint16_t listener;      /* index if passive */
	uint16_t lport, rport;  /* host order */
	uint32_t rip;           /* remote, network order */
	const struct tcp_callbacks *cb;
	void *arg;

	/* send side */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, max_wnd;
	uint32_t snd_wl1, snd_wl2;
	uint16_t smss;          /* payload bytes per segment (options deducted) */
	uint16_t peer_mss;
	uint8_t *sbuf;
	uint32_t sb_head;       /* ring offset of the byte at sb_seq */
	uint32_t sb_len;        /* bytes queued (sent unacked + unsent) */
	uint32_t sb_seq;        /* sequence number of the first queued byte */
	uint32_t cwnd, ssthresh, recover;
	uint32_t dupacks;
	uint32_t retries;       /* consecutive expiries */
	uint32_t probes;        /* zero-window probes since the window closed */
	uint32_t rtt_seq;
	uint64_t rtt_start_us;
	uint32_t srtt_us, rttvar_us, rto_us;
	bool have_srtt;

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
	uint8_t *rbuf;
	uint32_t rb_head;       /* ring offset of the first unconsumed byte */
	uint32_t rb_len;        /* in-order bytes not yet consumed */
	uint32_t rfin_seq;
	uint32_t unacked_bytes; /* in-order bytes received since the last ACK */
	uint32_t rcv_mss;       /* largest segment seen */
	uint8_t nooo;
	struct tcp_ooo ooo[TCP_OOO_MAX];
	uint32_t ts_recent, last_ack_sent;

	/* timers: absolute ms deadlines, 0 = off */
	uint64_t rtx_at, delack_at, tw_at, out_at;
	uint64_t timer_at;      /* the deadline the wheel holds */
	uint32_t timer_slot;
};

struct tcp_stack {
	struct tcp_config cfg;
	struct net_ctx *net;
	struct tcp_alloc alloc;
	struct tcp_stats stats;
	struct tcp_conn *conns;
	uint8_t *bufs;
	uint32_t *htab;
	uint32_t hmask;
	uint32_t free_head;
	uint32_t nused;
	struct tcp_listener *listeners;
	struct tcp_conn **wheel; /* TCP_WHEEL_SLOTS list heads */
	uint64_t tick;           /* last processed ms */
	struct tcp_conn *dirty;
	uint16_t ip_id;
	uint8_t rcv_wscale;      /* ours, from rcvbuf */
	uint64_t chal_sec;
	uint32_t chal_count;
	uint32_t port_seed;
};

/* tcp_conn.c */
struct tcp_conn *tcp_conn_alloc(struct tcp_stack *s);
void tcp_hash_insert(struct tcp_stack *s, struct tcp_conn *c);
struct tcp_conn *tcp_lookup(struct tcp_stack *s, uint32_t rip, uint16_t rport,
                            uint16_t lport);
struct tcp_listener *tcp_listener_find(struct tcp_stack *s, uint16_t port);
/* Close: unlink, on_closed if reported, free once nobody holds it. */
void tcp_conn_finish(struct tcp_conn *c, enum tcp_close_reason r);
void tcp_conn_hold(struct tcp_conn *c);
void tcp_conn_release(struct tcp_conn *c);
void tcp_mark_dirty(struct tcp_conn *c);
/* Per-connection setup common to active and passive opens. */
void tcp_conn_init_common(struct tcp_conn *c, uint32_t rip, uint16_t rport,
                          uint16_t lport);
void tcp_half_open_done(struct tcp_conn *c);

/* tcp_hash.c */
uint32_t tcp_tuple_hash(const struct tcp_stack *s, uint32_t rip,
                        uint16_t rport, uint16_t lport);
uint32_t tcp_isn(const struct tcp_stack *s, uint32_t rip, uint16_t rport,
                 uint16_t lport);
uint32_t tcp_cookie_make(const struct tcp_stack *s, uint32_t rip,
                         uint16_t rport, uint16_t lport, uint32_t peer_isn,
                         uint16_t mss);
/* The MSS the cookie encodes, 0 if it is not valid now. */
uint16_t tcp_cookie_check(const struct tcp_stack *s, uint32_t rip,
                          uint16_t rport, uint16_t lport, uint32_t peer_isn,
                          uint32_t cookie);

/* tcp_opt.c */
void tcp_opt_parse(const uint8_t *p, uint16_t len, struct tcp_opts *o);
/* Writes the options of a SYN (mss, optional wscale and ts); returns the
 * length (a multiple of 4). */
uint16_t tcp_opt_build_syn(uint8_t *p, uint16_t mss, int wscale, bool ts,
                           uint32_t tsval, uint32_t tsecr);
uint16_t tcp_opt_build_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr);

/* tcp_buf.c */
uint32_t tcp_sb_put(struct tcp_conn *c, const void *data, uint32_t len);
void tcp_sb_copy(const struct tcp_conn *c, uint32_t seq, uint8_t *dst,
                 uint32_t len);
void tcp_sb_drop(struct tcp_conn *c, uint32_t n);
/* Writes in-window payload at its place; returns true if rcv_nxt moved. */
bool tcp_rb_write(struct tcp_conn *c, uint32_t seq, const uint8_t *p,
                  uint32_t len, bool *ooo_dropped);
/* Window to advertise now (bytes, not scaled), never shrinking the edge;
 * updates rcv_adv when commit is set. Returns the header field value. */
uint16_t tcp_rcv_window(struct tcp_conn *c, bool syn, bool commit);
uint32_t tcp_rcv_space(const struct tcp_conn *c);

/* tcp_cc.c */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
void tcp_rto_reset(struct tcp_conn *c);
void tcp_cc_init(struct tcp_conn *c);
/* A new cumulative ACK of `acked` bytes (before snd_una moves). */
void tcp_cc_ack(struct tcp_conn *c, uint32_t ack, uint32_t acked);
/* A duplicate ACK; returns true if a fast retransmit is due. */
bool tcp_cc_dupack(struct tcp_conn *c);
void tcp_cc_rto(struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);

/* tcp_out.c */
/* Sends what the state, windows and flags call for. */
void tcp_output(struct tcp_conn *c);
/* One segment from seq: SYN, data and/or FIN as they fall; returns bytes
 * of sequence space it covered, or -1 if no frame. */
int tcp_send_at(struct tcp_conn *c, uint32_t seq, uint32_t maxlen);
bool tcp_send_ack(struct tcp_conn *c, uint32_t seq);
void tcp_send_rst_conn(struct tcp_conn *c);
/* A segment with no connection: used for RST replies and cookie SYN-ACKs. */
void tcp_send_raw(struct tcp_stack *s, uint32_t rip, uint16_t lport,
                  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
                  uint16_t win, uint16_t mss_opt);
uint32_t tcp_now_ms(const struct tcp_stack *s);
bool tcp_challenge_ok(struct tcp_stack *s);

/* tcp_timer.c */
bool tcp_wheel_init(struct tcp_stack *s);
/* Re-slot c at the earliest of its deadlines (or unslot it). */
void tcp_timer_update(struct tcp_conn *c);
void tcp_timer_remove(struct tcp_conn *c);
void tcp_arm_rtx(struct tcp_conn *c);
uint64_t tcp_ms(const struct tcp_stack *s);

#endif

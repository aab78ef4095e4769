/*
 * session.c - the replication links of one node; see session.h for the
 * link life and docs/REPLICATION.md for the plan.
 *
 * Objects. One struct rpeer per configured peer (its cursor, what we
 * stream to it, its reconnect timer, its transmit buffer) and a small
 * array of connection slots (struct rconn: TCP connection, keys, frame
 * counters). A peer's current connection is peer->conn (states CONNECTING
 * to UP). A connection that failed with an ERROR (CLOSING) or was replaced
 * by a newer accept (DOOMED) is detached from its peer at once - the peer
 * may get a new connection right away - and keeps its slot until the TCP
 * stack reports it closed: DOOMED ones are aborted by the next repl_poll
 * (tcp.h lets a callback abort only its own connection), CLOSING ones
 * after dead_ms if the peer never answers the FIN.
 *
 * Buffers, all from repl_create:
 *  - rxbuf (max_frame, one): every frame but a BATCH is copied there from
 *    the TCP receive ring and opened in place. Frames are handled one at a
 *    time on this lcore and nothing refers to rxbuf once the frame's
 *    handler returns (handlers only send, submit, close or abort), so one
 *    buffer serves every connection.
 *  - a BATCH is copied straight into a buffer from ops->req_alloc once it
 *    is readable whole (nothing is consumed before), opened there, and
 *    its entries are submitted in place (WRITE_REMOTE). A BATCH larger
 *    than the TCP receive ring can never be readable whole: when the ring
 *    is full (our window is 0) with one incomplete in it, it is copied
 *    into its buffer as it arrives instead. A COPY_BATCH takes the same
 *    path (its records submitted in place as WRITE_COPY).
 *  - txbuf (max_frame, one per peer): a COPY_BATCH is built there (each
 *    record encoded once from the read txn) and sealed in place. A BATCH
 *    is sealed there with
 *    frame_sealv straight from the LMDB entries of the read txn, then
 *    handed to tcp_send. Batches are sized to the free send space, so a
 *    frame normally goes in whole; only a single entry larger than the
 *    whole (empty) send buffer leaves a remainder in txbuf, sent before
 *    anything else. Control frames are small: sealed on the stack, sent
 *    only when they fit whole (else they stay owed).
 *  - iov (batch_max + 1): the gather list of one BATCH.
 *
 * Completions (repl_complete) come back FIFO. write_req.conn_slot is the
 * peer index, conn_gen the peer's link generation (bumped whenever its
 * current connection goes): a completion of an older link still moves the
 * cursor (the store applied it) but sends nothing. SUBSCRIBE is sent only
 * with no WRITE_REMOTE of that peer in flight, so it names the cursor
 * every earlier batch reached and no completion can follow it with a
 * stale gap.
 *
 * Merge copies (session.h, step 6). Sender: rpeer.copy_tx walks START
 * (COPY_START owed) -> RECORDS (COPY_BATCHes built in txbuf, one copy
 * of each record from the read txn's pages, sealed in place) -> END
 * (COPY_END owed) -> NONE (streaming from V[self] + 1). The resume point
 * is the last (table, key) sent, kept in the peer, so no read txn outlives
 * the poll. Receiver: rpeer.copy_rx walks ACTIVE (COPY_START seen; each
 * COPY_BATCH is taken like a BATCH, in a request buffer, and submitted as
 * WRITE_COPY) -> END_WAIT (COPY_END seen; waits for every request of the
 * peer to come back) -> END_SUBMITTED (WRITE_COPY_END at the storage
 * lcore) -> NONE (its completion). Both are reset whenever the link goes.
 */
#include "dataplane/repl/session.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "common/config.h"
#include "dataplane/repl/frame.h"
#include "dataplane/repl/keys.h"
#include "dataplane/repl/msg.h"
#include "storage/be.h"

#define STATIC_EPOCH 1 /* the key of static peers ([repl] secret_file) */
#define PRE_EPOCH 8     /* preamble: magic 8 | epoch 2 | nonce 32 */
#define PRE_NONCE 10
#define NONCE_LEN (REPL_PREAMBLE_LEN - PRE_NONCE)
#define CTL_PAYLOAD_MAX (MSG_ERROR_HDR + MSG_ERROR_REASON_MAX)
#define CTL_FRAME_MAX (FRAME_OVERHEAD + CTL_PAYLOAD_MAX)
#define ENTRY_MIN (LOOM_ENTRY_HDR + 2) /* table and key of one byte */

_Static_assert(sizeof REPL_PREAMBLE_MAGIC - 1 == 8, "preamble magic");
_Static_assert(NONCE_LEN == REPL_KEYS_NONCE_LEN, "preamble nonce");
_Static_assert(REPL_SECRET_LEN == REPL_KEYS_SECRET_LEN, "secret");

/* A copy's cursor vector: our origin and every peer's. */
#define COPY_VEC_MAX (LOOM_MAX_PEERS + 1)
_Static_assert(MSG_CURSORS_HDR + COPY_VEC_MAX * MSG_CURSOR_LEN <=
               CTL_PAYLOAD_MAX, "a cursor vector is a control frame");

enum copy_tx_state {
	CT_NONE = 0,
	CT_START,   /* COPY_START owed */
	CT_RECORDS, /* COPY_BATCHes */
	CT_END,     /* COPY_END owed */
};

enum copy_rx_state {
	CR_NONE = 0,
	CR_ACTIVE,        /* between COPY_START and COPY_END */
	CR_END_WAIT,      /* COPY_END seen: WRITE_COPY_END once nothing of
	                     the peer is in flight */
	CR_END_SUBMITTED, /* WRITE_COPY_END at the storage lcore */
};

/* Relaxed atomics: read by repl_min_acked_up on another thread. */
#define ATOMIC_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define ATOMIC_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

enum cstate {
	CS_FREE = 0,
	CS_CONNECTING, /* tcp_connect issued */
	CS_PREAMBLE,   /* established: waiting for the peer's preamble */
	CS_HELLO,      /* keys installed: waiting for the peer's HELLO */
	CS_UP,         /* HELLOs exchanged */
	CS_CLOSING,    /* detached: an ERROR went out, then tcp_close */
	CS_DOOMED,     /* detached: replaced, aborted by the next repl_poll */
};

struct rconn {
	struct repl *r;
	struct tcp_conn *tc;
	struct write_req *held; /* an opened BATCH the ring did not take */
	struct write_req *asm_req; /* a BATCH larger than the receive ring,
	                              being copied in as it arrives */
	uint32_t asm_need, asm_have;
	uint64_t last_rx_us;    /* bytes from the peer (or state change) */
	uint64_t last_tx_us;    /* a frame to the peer */
	uint64_t pong_nonce;
	size_t sndbuf;          /* send space of the empty buffer */
	uint32_t tx_off, tx_len; /* a frame partly sent from peer->txbuf */
	uint32_t peer_max_frame;
	uint16_t slot;
	uint16_t peer;
	uint16_t epoch; /* of its keys: the connector's current one */
	uint8_t state;
	bool active; /* we connected */
	bool preamble_owed, hello_owed, pong_owed;
	bool parked;
	uint8_t nonce_self[NONCE_LEN], nonce_peer[NONCE_LEN];
	struct frame_tx tx;
	struct frame_rx rx;
};

/* One origin's log streamed to one peer: ours, or another origin's that
 * the peer asked us to relay. */
struct rstream {
	bool subscribed;
	bool stalled;       /* an entry we cannot send (above max frame, a
	                       hole above the log's floor): stopped until it
	                       subscribes again */
	uint64_t next_send, acked, sent;
};

#define VIA_NONE (-1)

struct rpeer {
	uint16_t id;
	uint32_t ip_be;
	bool removed;       /* ATOMIC_SET: read by the retention */
	/* keys (repl_peer_set): the current epoch's secret, and the previous
	 * one until a link under the current one is up; epoch 0 = none */
	uint16_t epoch, prev_epoch;
	uint8_t secret[REPL_SECRET_LEN], prev_secret[REPL_SECRET_LEN];
	bool connector; /* our id is the lower: we connect */
	struct rconn *conn;
	uint32_t gen;
	uint64_t next_connect_us;
	uint32_t backoff_ms;
	bool ever_up;
	uint64_t reconnects;
	/* its origin, applied here */
	uint64_t cursor, head, last_applied_hlc;
	uint32_t inflight;  /* WRITE_REMOTEs at the storage lcore */
	bool ack_owed;
	bool sub_owed;      /* SUBSCRIBE(cursor + 1) to send */
	bool sub_wait;      /* sent: BATCHes not starting at sub_from dropped */
	uint64_t sub_from;
	uint64_t sub_not_before_us;
	bool up;            /* link up (repl_min_acked_up; ATOMIC_SET) */
	/* our origin, streamed to it (out.acked: ATOMIC_SET) */
	struct rstream out;
	/* other origins relayed to it (failover), by their peer index */
	struct rstream relay_out[LOOM_MAX_PEERS];
	/* its origin, relayed to us by another peer while our link to it is
	 * down (failover): the relaying peer's index or VIA_NONE */
	int16_t via;
	bool relay_sub_owed, relay_sub_wait, relay_ack_owed;
	uint64_t relay_sub_from;
	uint64_t down_since_us;
	uint8_t rr;         /* which stream goes first on the next poll */
	uint8_t *txbuf;
	/* a merge copy of our records to it (session.h, step 6) */
	uint8_t copy_tx;    /* enum copy_tx_state */
	bool copy_resume;   /* copy_table/copy_key: the last record sent */
	uint16_t copy_key_len;
	uint16_t copy_n;
	char copy_table[LOOM_TABLE_MAX + 1];
	uint8_t copy_key[LOOM_KEY_MAX];
	struct msg_cursor copy_vec[COPY_VEC_MAX];
	/* a merge copy of its records to us */
	uint8_t copy_rx;    /* enum copy_rx_state */
	bool copy_rx_bad;   /* a WRITE_COPY of it was not applied */
	uint16_t copy_rx_n;
	struct msg_cursor copy_rx_vec[COPY_VEC_MAX];
};

struct repl {
	struct repl_config cfg;
	struct rpeer peers[LOOM_MAX_PEERS];
	struct tcp_stack *tcp;
	struct net_ctx *net;
	struct store *store;
	struct repl_ops ops;
	struct tcp_alloc alloc;
	struct store_reader reader;
	bool have_reader;
	struct rconn *conns;
	uint16_t n_conns;
	uint16_t *free_slots;
	uint16_t n_free;
	uint8_t *rxbuf;
	struct aead_iov *iov;
	uint32_t batch_max;
	struct frame_rx_stats rx_total; /* of the connections gone */
	struct repl_stats st;
};

static void conn_tx(struct rconn *c);
static void conn_rx(struct rconn *c);
static void copy_end_submit(struct rconn *c);

static inline uint64_t now_us(const struct repl *r)
{
	return r->net->now_us;
}

static inline struct rpeer *peer_of(const struct rconn *c)
{
	return &c->r->peers[c->peer];
}

/* The index of the peer with this id (its origin), or -1. */
static int peer_index(const struct repl *r, uint16_t id)
{
	for (uint16_t i = 0; i < r->cfg.n_peers; i++)
		if (r->peers[i].id == id)
			return i;
	return -1;
}

static inline bool peer_up(const struct rpeer *p)
{
	return p->conn != NULL && p->conn->state == CS_UP;
}

/* Attached and past the TCP handshake: frames may flow. */
static inline bool conn_live(const struct rconn *c)
{
	return c->state == CS_PREAMBLE || c->state == CS_HELLO ||
	       c->state == CS_UP;
}

static void span_copy(uint8_t *dst, const uint8_t *p1, size_t l1,
                      const uint8_t *p2, size_t n)
{
	size_t a = n < l1 ? n : l1;
	memcpy(dst, p1, a);
	if (n > a)
		memcpy(dst + a, p2, n - a);
}

/* --- connection slots ----------------------------------------------------- */

static struct rconn *slot_take(struct repl *r, uint16_t peer, bool active)
{
	if (r->n_free == 0)
		return NULL;
	struct rconn *c = &r->conns[r->free_slots[--r->n_free]];
	uint16_t slot = c->slot;
	memset(c, 0, sizeof *c);
	c->r = r;
	c->slot = slot;
	c->peer = peer;
	c->active = active;
	c->last_rx_us = c->last_tx_us = now_us(r);
	/* max_frame was checked at create: these cannot fail */
	frame_tx_init(&c->tx, r->cfg.max_frame);
	frame_rx_init(&c->rx, r->cfg.max_frame);
	return c;
}

static void rx_stats_add(struct frame_rx_stats *d,
                         const struct frame_rx_stats *s)
{
#define RX_ADD(name) d->name += s->name;
	FRAME_RX_STATS_LIST(RX_ADD)
#undef RX_ADD
}

/* Keys and nonces gone, counters kept, buffers back. */
static void conn_wipe(struct rconn *c)
{
	struct repl *r = c->r;
	frame_tx_wipe(&c->tx);
	frame_rx_wipe(&c->rx);
	aead_memzero(c->nonce_self, sizeof c->nonce_self);
	aead_memzero(c->nonce_peer, sizeof c->nonce_peer);
	if (c->held != NULL) {
		r->ops.req_free(r->ops.user, c->held);
		c->held = NULL;
	}
	if (c->asm_req != NULL) {
		r->ops.req_free(r->ops.user, c->asm_req);
		c->asm_req = NULL;
	}
}

/*
 * The peer's current connection c goes (closed, failed or replaced): the
 * link is down, completions of it become stale, and the lower id schedules
 * the next attempt.
 */
static void peer_detach(struct repl *r, struct rpeer *p, struct rconn *c)
{
	if (p->conn != c)
		return;
	if (c->state == CS_UP)
		r->st.links_down++;
	p->conn = NULL;
	p->gen++;
	p->down_since_us = now_us(r);
	ATOMIC_SET(p->up, false);
	/* Its relays of other origins to us, and ours to it, end with the
	 * link; the next poll picks another peer for those origins. */
	memset(p->relay_out, 0, sizeof p->relay_out);
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		struct rpeer *x = &r->peers[i];
		if (x->via == (int16_t)(p - r->peers)) {
			x->via = VIA_NONE;
			x->relay_sub_owed = x->relay_sub_wait = false;
			x->relay_ack_owed = false;
		}
	}
	p->ack_owed = false;
	p->sub_owed = false;
	p->sub_wait = false;
	p->out.subscribed = false;
	p->out.stalled = false;
	/* A copy restarts from scratch on the next link (its SUBSCRIBE
	 * decides); records already applied stay (LWW), no cursor moved. */
	p->copy_tx = CT_NONE;
	p->copy_rx = CR_NONE;
	p->copy_rx_bad = false;
	c->tx_off = c->tx_len = 0; /* txbuf is the next connection's */
	if (p->connector) {
		p->next_connect_us =
			now_us(r) + (uint64_t)p->backoff_ms * 1000u;
		uint32_t b = p->backoff_ms * 2u;
		p->backoff_ms = b > r->cfg.reconnect_max_ms ||
		                        b < p->backoff_ms
		                        ? r->cfg.reconnect_max_ms : b;
	}
}

/* From on_closed: the slot is free again. */
static void conn_release(struct rconn *c)
{
	struct repl *r = c->r;
	peer_detach(r, peer_of(c), c);
	rx_stats_add(&r->rx_total, &c->rx.stats);
	memset(&c->rx.stats, 0, sizeof c->rx.stats);
	conn_wipe(c);
	c->tc = NULL;
	c->state = CS_FREE;
	r->free_slots[r->n_free++] = c->slot;
}

/* RST now; on_closed (conn_release) runs before this returns. */
static void conn_abort(struct rconn *c)
{
	if (c->tc != NULL)
		tcp_abort(c->tc);
	else if (c->state != CS_FREE)
		conn_release(c); /* never happens: every slot has a tc */
}

/* --- sending -------------------------------------------------------------- */

/* The rest of a frame partly sent; true when nothing is left. */
static bool tx_flush_pending(struct rconn *c)
{
	if (c->tx_len == 0)
		return true;
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	size_t n = tcp_send(c->tc, p->txbuf + c->tx_off, c->tx_len - c->tx_off);
	if (n > 0) {
		c->tx_off += (uint32_t)n;
		c->last_tx_us = now_us(r);
	}
	if (c->tx_off < c->tx_len)
		return false;
	c->tx_off = c->tx_len = 0;
	return true;
}

/* Seal and send one small frame whole: true, or false when it does not
 * fit now (it stays owed). A seal failure (cipher error) aborts. */
static bool send_ctl(struct rconn *c, uint8_t type, const uint8_t *payload,
                     size_t len)
{
	struct repl *r = c->r;
	uint8_t buf[CTL_FRAME_MAX];
	size_t fl;

	if (c->tx_len != 0 || tcp_send_space(c->tc) < len + FRAME_OVERHEAD)
		return false;
	enum frame_status st = frame_seal(&c->tx, type, 0, payload, len, buf,
	                                  sizeof buf, &fl);
	if (st != FRAME_OK) {
		conn_abort(c);
		return false;
	}
	tcp_send(c->tc, buf, fl);
	r->st.frames_sent++;
	r->st.bytes_sent += fl;
	c->last_tx_us = now_us(r);
	return true;
}

static uint64_t own_seq(const struct repl *r)
{
	return r->ops.own_seq(r->ops.user);
}

static bool send_hello(struct rconn *c)
{
	struct repl *r = c->r;
	struct msg_hello h = {
		.version = MSG_PROTOCOL_VERSION,
		.node_id = r->cfg.node_id,
		.peer_id = peer_of(c)->id,
		.cluster_id = r->cfg.cluster_id,
		.max_frame = r->cfg.max_frame,
		.head_seq = own_seq(r),
	};
	uint8_t b[MSG_HELLO_LEN];
	size_t n;
	if (msg_hello_encode(&h, b, sizeof b, &n) != 0)
		return false;
	return send_ctl(c, MSG_HELLO, b, n);
}

static bool send_ping(struct rconn *c, uint8_t type, uint64_t nonce)
{
	struct msg_ping pg = {.nonce = nonce, .head_seq = own_seq(c->r)};
	uint8_t b[MSG_PING_LEN];
	size_t n;
	msg_ping_encode(&pg, b, sizeof b, &n);
	return send_ctl(c, type, b, n);
}

static bool send_ack(struct rconn *c, uint16_t origin, uint64_t seq)
{
	struct msg_ack a = {.origin = origin, .seq = seq};
	uint8_t b[MSG_ACK_LEN];
	size_t n;
	msg_ack_encode(&a, b, sizeof b, &n);
	return send_ctl(c, MSG_ACK, b, n);
}

static bool send_subscribe(struct rconn *c, uint16_t origin, uint64_t from)
{
	struct msg_subscribe s = {.origin = origin, .from_seq = from};
	uint8_t b[MSG_SUBSCRIBE_LEN];
	size_t n;
	if (msg_subscribe_encode(&s, b, sizeof b, &n) != 0)
		return false;
	return send_ctl(c, MSG_SUBSCRIBE, b, n);
}

static bool send_error(struct rconn *c, uint16_t code, const char *reason)
{
	uint8_t b[CTL_PAYLOAD_MAX];
	size_t n;
	if (msg_error_encode(code, reason, b, sizeof b, &n) != 0)
		return false;
	return send_ctl(c, MSG_ERROR, b, n);
}

/*
 * The link cannot go on (a bad HELLO, a malformed message): send ERROR and
 * close gracefully, detached from the peer; abort if the ERROR cannot go
 * out whole right now.
 */
static void conn_fail(struct rconn *c, uint16_t code, const char *reason)
{
	struct repl *r = c->r;
	if (c->state != CS_HELLO && c->state != CS_UP) {
		conn_abort(c);
		return;
	}
	if (!send_error(c, code, reason)) {
		if (c->state != CS_FREE)
			conn_abort(c);
		return;
	}
	peer_detach(r, peer_of(c), c);
	c->state = CS_CLOSING;
	c->last_rx_us = now_us(r); /* the CLOSING timer */
	tcp_close(c->tc);
}

static bool reader_ready(struct repl *r)
{
	return r->reader.active || store_read_begin(&r->reader) == 0;
}

static void set_acked(struct rpeer *p, uint64_t seq)
{
	ATOMIC_SET(p->out.acked, seq);
}

/* --- merge copy, sender side ------------------------------------------------ */

/* Our log no longer holds `from` (it is at or below the floor): 1; 0 if
 * it does; -1 if the store cannot tell now. */
static int needs_copy(struct repl *r, uint64_t from)
{
	uint64_t floor = 0;
	if (!reader_ready(r) ||
	    store_log_floor(&r->reader, r->cfg.node_id, &floor) != 0)
		return -1;
	return floor != 0 && from <= floor ? 1 : 0;
}

/*
 * Start a copy to the peer: its cursor vector is every origin's cursor in
 * the read txn's snapshot (ours: our last seq), taken before any record is
 * read, so every entry at or below V[o] is in the records the copy sends
 * (LWW only ever moves records forward). false if the store cannot read
 * now (the caller tries again).
 */
static bool copy_begin(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	uint16_t ids[COPY_VEC_MAX];
	uint16_t n = 0;

	if (!reader_ready(r))
		return false;
	ids[n++] = r->cfg.node_id;
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		/* ascending (insertion), each once */
		uint16_t id = r->peers[i].id, k = n++;
		while (k > 0 && ids[k - 1] > id) {
			ids[k] = ids[k - 1];
			k--;
		}
		ids[k] = id;
	}
	for (uint16_t i = 0; i < n; i++) {
		uint64_t seq = 0;
		if (store_cursor(&r->reader, ids[i], &seq) != 0)
			return false;
		p->copy_vec[i] = (struct msg_cursor){ids[i], seq};
	}
	p->copy_n = n;
	p->copy_tx = CT_START;
	p->copy_resume = false;
	p->out.subscribed = false; /* no BATCH until the copy's end */
	p->out.stalled = false;
	r->st.copies++;
	return true;
}

static uint64_t copy_vec_seq(const struct msg_cursor *v, uint16_t n,
                             uint16_t origin)
{
	for (uint16_t i = 0; i < n; i++)
		if (v[i].origin == origin)
			return v[i].seq;
	return 0;
}

static bool send_cursors(struct rconn *c, uint8_t type,
                         const struct msg_cursor *v, uint16_t n)
{
	uint8_t b[CTL_PAYLOAD_MAX];
	size_t len;
	if (msg_cursors_encode(v, n, b, sizeof b, &len) != 0)
		return false;
	return send_ctl(c, type, b, len);
}

/* The copy cannot go on (a record the store cannot hand out, or one no
 * frame to this peer can carry): say so and stop; the peer stays in its
 * copy (drops our BATCHes) until the link goes. */
static void copy_abort(struct rconn *c, const char *reason)
{
	struct rpeer *p = peer_of(c);
	p->copy_tx = CT_NONE;
	p->out.stalled = true;
	c->r->st.copy_failures++;
	send_error(c, MSG_ERR_INTERNAL, reason);
}

/*
 * One COPY_BATCH from the record after the resume point, as many records
 * as fit the send space (at most batch_max), in the read txn of this poll.
 * Returns the records sent; *done when the iteration reached the end.
 */
static uint32_t copy_batch_send(struct rconn *c, size_t space, size_t max_fr,
                                bool *done)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	size_t cap = space < max_fr ? space : max_fr;
	struct store_record_iter it;
	struct msg_copy_builder b;
	struct store_record_item item, last;
	uint32_t n = 0;
	bool too_big = false, bad = false;

	*done = false;
	memset(&last, 0, sizeof last);
	if (store_record_iter_open(&r->reader,
	                           p->copy_resume ? p->copy_table : NULL,
	                           p->copy_key, p->copy_resume ? p->copy_key_len
	                                                       : 0,
	                           &it) != 0)
		return 0;
	msg_copy_begin(&b, p->txbuf + FRAME_HDR_LEN, cap - FRAME_OVERHEAD);
	while (n < r->batch_max) {
		struct copy_record cr;
		int rc = store_record_iter_next(&it, &item);
		if (rc == ENOENT) {
			*done = true;
			break;
		}
		if (rc != 0 || copy_record_from_item(&item, &cr) != 0) {
			bad = true;
			break;
		}
		rc = msg_copy_add(&b, &cr);
		if (rc == ENOSPC) {
			/* A record that fits no frame to this peer, or one
			 * larger than the whole empty send buffer: the latter
			 * goes alone and in parts. */
			size_t need = FRAME_OVERHEAD + MSG_COPY_BATCH_HDR +
			              copy_record_size(&cr);
			if (n == 0 && need > max_fr) {
				too_big = true;
			} else if (n == 0 && space >= c->sndbuf) {
				b.cap = max_fr - FRAME_OVERHEAD;
				if (msg_copy_add(&b, &cr) == 0) {
					last = item;
					n = 1;
				}
			}
			break;
		}
		if (rc != 0) {
			bad = true;
			break;
		}
		last = item;
		n++;
	}
	if (n > 0) {
		/* the resume point, before the pages may go */
		memcpy(p->copy_table, last.table, last.table_len);
		p->copy_table[last.table_len] = '\0';
		memcpy(p->copy_key, last.key, last.key_len);
		p->copy_key_len = (uint16_t)last.key_len;
	}
	store_record_iter_close(&it);
	if (bad || too_big) {
		*done = false;
		copy_abort(c, bad ? "record unreadable for copy"
		                  : "record above max frame");
		return 0;
	}
	if (n == 0)
		return 0;
	size_t pl, fl;
	msg_copy_finish(&b, &pl);
	enum frame_status st = frame_seal_inplace(&c->tx, MSG_COPY_BATCH, 0,
	                                          p->txbuf, pl,
	                                          r->cfg.max_frame, &fl);
	if (st != FRAME_OK) {
		conn_abort(c);
		return 0;
	}
	p->copy_resume = true;
	size_t k = tcp_send(c->tc, p->txbuf, fl);
	if (k < fl) {
		c->tx_off = (uint32_t)k;
		c->tx_len = (uint32_t)fl;
	}
	r->st.frames_sent++;
	r->st.bytes_sent += fl;
	r->st.copy_batches_sent++;
	r->st.copy_records_sent += n;
	c->last_tx_us = now_us(r);
	return n;
}

/*
 * Drive the copy to the peer: COPY_START, then COPY_BATCHes while the send
 * buffer has room (the receiver's storage ring and pool close its TCP
 * window when it falls behind, as for BATCHes), then COPY_END; after it,
 * streaming goes on from V[self] + 1 (as the credit allows: the peer ACKs
 * V[self] once the copy is applied).
 */
static void copy_stream(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	size_t max_fr = c->peer_max_frame < r->cfg.max_frame
	                ? c->peer_max_frame : r->cfg.max_frame;

	if (p->copy_tx == CT_START) {
		if (!send_cursors(c, MSG_COPY_START, p->copy_vec, p->copy_n))
			return;
		p->copy_tx = CT_RECORDS;
	}
	while (p->copy_tx == CT_RECORDS && c->tx_len == 0 &&
	       c->state == CS_UP && p->conn == c) {
		size_t space = tcp_send_space(c->tc);
		size_t cap = space < max_fr ? space : max_fr;
		if (cap < FRAME_OVERHEAD + MSG_COPY_BATCH_HDR +
		                  MSG_COPY_RECORD_MIN)
			return; /* wait for room */
		if (!reader_ready(r))
			return;
		bool done;
		uint32_t n = copy_batch_send(c, space, max_fr, &done);
		if (c->state != CS_UP || p->conn != c)
			return;
		if (done)
			p->copy_tx = CT_END;
		else if (n == 0)
			return;
	}
	if (p->copy_tx == CT_END && c->tx_len == 0 && c->state == CS_UP) {
		if (!send_cursors(c, MSG_COPY_END, p->copy_vec, p->copy_n))
			return;
		uint64_t v = copy_vec_seq(p->copy_vec, p->copy_n,
		                          r->cfg.node_id);
		p->copy_tx = CT_NONE;
		p->out.subscribed = true;
		p->out.stalled = false;
		p->out.next_send = v + 1;
		if (v > p->out.sent)
			p->out.sent = v;
	}
}

/*
 * Stream BATCHes of origin's log (s: ours, or one we relay) to the peer
 * while it is subscribed, the window has credit, the log has entries up
 * to head (committed here) and the send buffer has room. Entries go from
 * the LMDB pages straight into the cipher (frame_sealv).
 */
static void stream(struct rconn *c, struct rstream *s, uint16_t origin,
                   uint64_t head)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	bool own = origin == r->cfg.node_id;
	size_t max_fr = c->peer_max_frame < r->cfg.max_frame
	                ? c->peer_max_frame : r->cfg.max_frame;
	uint8_t hdr[MSG_BATCH_HDR];

	while (s->subscribed && !s->stalled && c->tx_len == 0 &&
	       c->state == CS_UP) {
		uint64_t from = s->next_send;
		if (from > head || from > s->acked + r->cfg.window)
			return;
		uint64_t lim = head - from + 1;
		uint64_t credit = s->acked + r->cfg.window - from + 1;
		if (credit < lim)
			lim = credit;
		if (r->batch_max < lim)
			lim = r->batch_max;
		size_t space = tcp_send_space(c->tc);
		size_t cap = space < max_fr ? space : max_fr;
		size_t fsz = FRAME_OVERHEAD + MSG_BATCH_HDR;
		if (cap < fsz + ENTRY_MIN)
			return; /* wait for room */
		if (!reader_ready(r))
			return;
		struct store_log_iter it;
		if (store_log_iter_open(&r->reader, origin, from,
		                        &it) != 0)
			return;
		uint32_t n = 0;
		bool hole = false, too_big = false;
		while (n < lim) {
			uint64_t seq;
			const void *e;
			size_t el;
			if (store_log_iter_next(&it, &seq, &e, &el) != 0)
				break; /* not in this snapshot yet */
			if (seq != from + n) {
				hole = true;
				break;
			}
			if (fsz + el > cap) {
				/* An entry that fits no frame to this peer, or
				 * one larger than the whole empty send buffer:
				 * the latter goes alone and in parts. */
				if (n == 0 && fsz + el > max_fr)
					too_big = true;
				else if (n == 0 && space >= c->sndbuf) {
					r->iov[1] = (struct aead_iov){e, el};
					fsz += el;
					n = 1;
				}
				break;
			}
			r->iov[1 + n] = (struct aead_iov){e, el};
			fsz += el;
			n++;
		}
		if (n == 0) {
			store_log_iter_close(&it);
			if (!own) {
				/* A relayed origin: this node's copy of its log
				 * has a hole (pruned) or an entry too big for the
				 * peer: the relay stops; the peer gets that
				 * origin's entries from it directly (a merge
				 * copy, if need be) once the link is back. */
				if (hole || too_big) {
					s->stalled = true;
					r->st.relay_stalls++;
				}
				return;
			}
			if (!too_big) {
				/* Nothing at `from`: not committed in this
				 * snapshot yet, or pruned since the peer
				 * subscribed (it was down when the retention
				 * looked): then a merge copy. */
				int nc = needs_copy(r, from);
				if (nc == 1) {
					if (copy_begin(c))
						copy_stream(c);
					return;
				}
				if (nc != 0 || !hole)
					return;
			}
			/* An entry above max_frame, or a hole in the log
			 * above its floor (never: pruning raises the floor
			 * first): stop streaming to it until it subscribes
			 * again. */
			s->stalled = true;
			if (hole)
				send_error(c, MSG_ERR_PRUNED,
				           "log pruned past your cursor");
			else
				send_error(c, MSG_ERR_INTERNAL,
				           "entry above max frame");
			return;
		}
		msg_batch_header(hdr, origin, from, n);
		r->iov[0] = (struct aead_iov){hdr, sizeof hdr};
		size_t fl;
		enum frame_status st = frame_sealv(&c->tx, MSG_BATCH, 0, r->iov,
		                                   n + 1, p->txbuf,
		                                   r->cfg.max_frame, &fl);
		store_log_iter_close(&it);
		if (st != FRAME_OK) {
			conn_abort(c);
			return;
		}
		size_t k = tcp_send(c->tc, p->txbuf, fl);
		if (k < fl) {
			c->tx_off = (uint32_t)k;
			c->tx_len = (uint32_t)fl;
		}
		r->st.frames_sent++;
		r->st.bytes_sent += fl;
		r->st.batches_sent++;
		r->st.entries_sent += n;
		if (!own)
			r->st.relay_entries_sent += n;
		s->next_send = from + n;
		s->sent = s->next_send - 1;
		c->last_tx_us = now_us(r);
	}
}

/*
 * What we owe this link for the origins it relays to us (failover): ACKs
 * of what we applied, and SUBSCRIBEs from our cursor (only with nothing
 * of that origin in flight, as for our own SUBSCRIBEs). false when a
 * frame did not fit (the rest waits).
 */
static bool relay_tx(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		struct rpeer *x = &r->peers[i];
		if (x->via != (int16_t)c->peer)
			continue;
		if (x->relay_ack_owed) {
			if (!send_ack(c, x->id, x->cursor))
				return false;
			x->relay_ack_owed = false;
			r->st.acks_sent++;
		}
		if (x->relay_sub_owed && x->inflight == 0 &&
		    p->copy_rx == CR_NONE) {
			if (!send_subscribe(c, x->id, x->cursor + 1))
				return false;
			x->relay_sub_owed = false;
			x->relay_sub_wait = true;
			x->relay_sub_from = x->cursor + 1;
			r->st.relay_subscribes_sent++;
		}
	}
	return true;
}

/* Our own stream and every relayed one to the peer, a different one
 * first on each call so that none starves the others of send space. */
static void streams(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	uint16_t n = (uint16_t)(r->cfg.n_peers + 1);
	uint16_t first = (uint16_t)(p->rr++ % n);
	for (uint16_t k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((first + k) % n);
		if (i == 0) {
			if (p->out.subscribed)
				stream(c, &p->out, r->cfg.node_id, own_seq(r));
			continue;
		}
		struct rstream *rs = &p->relay_out[i - 1];
		if (rs->subscribed && i - 1 != c->peer)
			stream(c, rs, r->peers[i - 1].id,
			       r->peers[i - 1].cursor);
	}
}

/* Everything owed to the peer, in order; then BATCHes; then a PING after
 * ping_ms of silence. Stops at the first thing that does not fit. */
static void conn_tx(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	if (!conn_live(c) || p->conn != c)
		return;
	if (!tx_flush_pending(c))
		return;
	if (c->preamble_owed) {
		uint8_t pre[REPL_PREAMBLE_LEN];
		if (tcp_send_space(c->tc) < sizeof pre)
			return;
		memcpy(pre, REPL_PREAMBLE_MAGIC, 8);
		put_be(pre + PRE_EPOCH, c->epoch, 2);
		memcpy(pre + PRE_NONCE, c->nonce_self, NONCE_LEN);
		tcp_send(c->tc, pre, sizeof pre);
		r->st.bytes_sent += sizeof pre;
		c->preamble_owed = false;
	}
	if (c->state == CS_PREAMBLE)
		return;
	if (c->hello_owed) {
		if (!send_hello(c))
			return;
		c->hello_owed = false;
	}
	if (c->state != CS_UP)
		return;
	if (c->pong_owed) {
		if (!send_ping(c, MSG_PONG, c->pong_nonce))
			return;
		c->pong_owed = false;
	}
	if (p->copy_rx == CR_END_WAIT)
		copy_end_submit(c);
	if (p->ack_owed) {
		if (!send_ack(c, p->id, p->cursor))
			return;
		p->ack_owed = false;
		r->st.acks_sent++;
	}
	/* Not during a copy of its records: the copy's end resubscribes
	 * (a SUBSCRIBE below its floor would start another copy). */
	if (p->sub_owed && p->inflight == 0 && p->copy_rx == CR_NONE &&
	    now_us(r) >= p->sub_not_before_us) {
		if (!send_subscribe(c, p->id, p->cursor + 1))
			return;
		p->sub_owed = false;
		p->sub_wait = true;
		p->sub_from = p->cursor + 1;
		r->st.subscribes_sent++;
	}
	if (!relay_tx(c))
		return;
	if (p->copy_tx != CT_NONE)
		copy_stream(c);
	else
		streams(c);
	if (c->state != CS_UP || p->conn != c)
		return;
	if (now_us(r) - c->last_tx_us >= (uint64_t)r->cfg.ping_ms * 1000u &&
	    send_ping(c, MSG_PING, now_us(r)))
		r->st.pings_sent++;
}

/* --- receiving ------------------------------------------------------------ */

static void park(struct rconn *c)
{
	if (!c->parked) {
		c->parked = true;
		c->r->st.backpressure_waits++;
	}
}

/* The secret of the peer's key `epoch` (current or previous), or NULL. */
static const uint8_t *peer_secret(const struct rpeer *p, uint16_t epoch)
{
	if (epoch == 0)
		return NULL;
	if (epoch == p->epoch)
		return p->secret;
	if (epoch == p->prev_epoch)
		return p->prev_secret;
	return NULL;
}

/* Both directions' keys from the secret of the connection's epoch and the
 * two nonces (keys.h). */
static bool conn_keys(struct rconn *c)
{
	struct repl *r = c->r;
	uint16_t self = r->cfg.node_id, peer = peer_of(c)->id;
	const uint8_t *nc = c->active ? c->nonce_self : c->nonce_peer;
	const uint8_t *na = c->active ? c->nonce_peer : c->nonce_self;
	const uint8_t *secret = peer_secret(peer_of(c), c->epoch);
	struct frame_keys k;
	if (secret == NULL)
		return false;
	bool ok = repl_keys_derive(secret, r->cfg.cluster_id, self, peer, nc,
	                           na, AEAD_DEFAULT, &k) == 0 &&
	          frame_tx_set_epoch(&c->tx, c->epoch, &k) == FRAME_OK;
	ok = ok && repl_keys_derive(secret, r->cfg.cluster_id, peer, self, nc,
	                            na, AEAD_DEFAULT, &k) == 0 &&
	     frame_rx_install_epoch(&c->rx, c->epoch, &k) == FRAME_OK;
	aead_memzero(&k, sizeof k);
	return ok;
}

static void reject(struct rconn *c)
{
	c->r->st.frames_rejected++;
	conn_abort(c);
}

static void link_up(struct rconn *c, const struct msg_hello *h)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	c->state = CS_UP;
	c->peer_max_frame = h->max_frame;
	if (h->head_seq > p->head)
		p->head = h->head_seq;
	r->st.links_up++;
	if (p->ever_up) {
		p->reconnects++;
		r->st.reconnects++;
	}
	p->ever_up = true;
	p->backoff_ms = r->cfg.reconnect_min_ms;
	p->sub_owed = true;
	p->sub_wait = false;
	p->sub_not_before_us = 0;
	p->out.subscribed = false;
	p->copy_tx = CT_NONE;
	p->copy_rx = CR_NONE;
	p->copy_rx_bad = false;
	/* Its origin comes straight from it again: a relay of it stops being
	 * acknowledged, so the relaying peer sends at most a window more,
	 * and dropped here (batch_take). */
	if (p->via != VIA_NONE)
		r->st.relays_ended++;
	p->via = VIA_NONE;
	p->relay_sub_owed = p->relay_sub_wait = p->relay_ack_owed = false;
	p->down_since_us = 0;
	/* A link under the current key is up: the switch is complete, and
	 * frames of the previous epoch have no key here from now on. */
	if (c->epoch == p->epoch && p->prev_epoch != 0) {
		aead_memzero(p->prev_secret, sizeof p->prev_secret);
		p->prev_epoch = 0;
	}
	ATOMIC_SET(p->up, true);
}

static void on_hello(struct rconn *c, const struct frame_view *v)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	struct msg_hello h;
	if (v->type != MSG_HELLO || v->flags != 0) {
		conn_fail(c, MSG_ERR_PROTOCOL, "HELLO expected");
		return;
	}
	int rc = msg_hello_decode(v->payload, v->payload_len, &h);
	if (rc == ENOTSUP) {
		r->st.hello_refused++;
		conn_fail(c, MSG_ERR_VERSION, "unsupported protocol version");
		return;
	}
	if (rc != 0) {
		r->st.hello_refused++;
		conn_fail(c, MSG_ERR_PROTOCOL, "malformed HELLO");
		return;
	}
	enum msg_error_code e = msg_hello_check(&h, r->cfg.node_id,
	                                        r->cfg.cluster_id, p->id);
	if (e != MSG_ERR_NONE) {
		r->st.hello_refused++;
		conn_fail(c, e, msg_error_name(e));
		return;
	}
	link_up(c, &h);
}

static void on_subscribe(struct rconn *c, const struct msg_subscribe *s)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	r->st.subscribes_received++;
	if (s->origin != r->cfg.node_id) {
		/* Failover: the peer cannot reach that origin and asks us
		 * for its entries from our copy of its log. */
		int xi = peer_index(r, s->origin);
		if (xi < 0 || xi == c->peer)
			return;
		struct rstream *rs = &p->relay_out[xi];
		rs->subscribed = true;
		rs->stalled = false;
		rs->next_send = s->from_seq;
		rs->acked = rs->sent = s->from_seq - 1;
		r->st.relay_subscribes_received++;
		return;
	}
	if (p->copy_tx != CT_NONE)
		return; /* a copy is running: its end answers this too */
	p->out.subscribed = true;
	p->out.stalled = false;
	p->out.next_send = s->from_seq;
	set_acked(p, s->from_seq - 1);
	p->out.sent = s->from_seq - 1;
	/* Entries it needs were pruned here: a merge copy first. (If the
	 * store cannot tell now, stream() finds out at the hole.) */
	if (needs_copy(r, s->from_seq) == 1)
		copy_begin(c);
}

static void on_ack(struct rconn *c, const struct msg_ack *a)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	r->st.acks_received++;
	if (a->origin != r->cfg.node_id) {
		int xi = peer_index(r, a->origin);
		if (xi < 0 || xi == c->peer)
			return;
		struct rstream *rs = &p->relay_out[xi];
		if (a->seq <= rs->acked)
			return;
		rs->acked = a->seq;
		if (rs->next_send <= a->seq)
			rs->next_send = a->seq + 1;
		return;
	}
	if (a->seq <= p->out.acked)
		return;
	set_acked(p, a->seq);
	if (p->out.next_send <= a->seq)
		p->out.next_send = a->seq + 1; /* it has them from elsewhere */
}

static void note_head(struct rpeer *p, uint64_t seq)
{
	if (seq > p->head)
		p->head = seq;
}

/* A decoded COPY_START/END vector into v[COPY_VEC_MAX]: false if it is
 * empty or longer than any cluster of ours. */
static bool copy_vec_take(const struct msg_cursors *mc, struct msg_cursor *v,
                          uint16_t *n)
{
	if (mc->count == 0 || mc->count > COPY_VEC_MAX)
		return false;
	for (uint16_t i = 0; i < mc->count; i++)
		v[i] = msg_cursors_at(mc, i);
	*n = mc->count;
	return true;
}

static bool copy_vec_equal(const struct msg_cursor *a, uint16_t na,
                           const struct msg_cursor *b, uint16_t nb)
{
	if (na != nb)
		return false;
	for (uint16_t i = 0; i < na; i++)
		if (a[i].origin != b[i].origin || a[i].seq != b[i].seq)
			return false;
	return true;
}

/* An opened frame in the scratch buffer: the HELLO, then anything but a
 * BATCH (those go to request buffers, batch_take). */
static void on_frame(struct rconn *c, const struct frame_view *v)
{
	struct rpeer *p = peer_of(c);
	struct msg m;

	if (c->state == CS_HELLO) {
		on_hello(c, v);
		return;
	}
	if (msg_decode(v->type, v->flags, v->payload, v->payload_len, &m) !=
	    0) {
		conn_fail(c, MSG_ERR_PROTOCOL, "malformed message");
		return;
	}
	switch (m.type) {
	case MSG_SUBSCRIBE:
		on_subscribe(c, &m.u.subscribe);
		break;
	case MSG_ACK:
		on_ack(c, &m.u.ack);
		break;
	case MSG_PING:
		note_head(p, m.u.ping.head_seq);
		c->pong_owed = true;
		c->pong_nonce = m.u.ping.nonce;
		break;
	case MSG_PONG:
		note_head(p, m.u.ping.head_seq);
		break;
	case MSG_ERROR:
		/* PRUNED / INTERNAL: the peer stopped streaming to us and
		 * keeps the link (a merge copy is for later); anything else
		 * ends it. */
		if (m.u.error.code == MSG_ERR_PRUNED ||
		    m.u.error.code == MSG_ERR_INTERNAL)
			break;
		conn_abort(c);
		return;
	case MSG_COPY_START:
		if (p->copy_rx != CR_NONE) {
			conn_fail(c, MSG_ERR_PROTOCOL, "COPY_START in a copy");
			return;
		}
		if (!copy_vec_take(&m.u.cursors, p->copy_rx_vec,
		                   &p->copy_rx_n)) {
			conn_fail(c, MSG_ERR_PROTOCOL, "bad COPY_START");
			return;
		}
		p->copy_rx = CR_ACTIVE;
		p->copy_rx_bad = false;
		break;
	case MSG_COPY_END: {
		struct msg_cursor cv[COPY_VEC_MAX];
		uint16_t n;
		if (p->copy_rx != CR_ACTIVE ||
		    !copy_vec_take(&m.u.cursors, cv, &n) ||
		    !copy_vec_equal(cv, n, p->copy_rx_vec, p->copy_rx_n)) {
			conn_fail(c, MSG_ERR_PROTOCOL, "bad COPY_END");
			return;
		}
		p->copy_rx = CR_END_WAIT; /* conn_tx submits it */
		break;
	}
	case MSG_HELLO:
		conn_fail(c, MSG_ERR_PROTOCOL, "second HELLO");
		return;
	default: /* a COPY_BATCH never comes here (batch_take) */
		conn_fail(c, MSG_ERR_PROTOCOL, "unexpected message");
		return;
	}
}

/* The hlc of a decoded BATCH's last entry. */
static uint64_t batch_last_hlc(const struct msg_batch *b)
{
	struct msg_batch_iter it;
	struct msg_batch_item item;
	uint64_t hlc = 0;
	msg_batch_iter_init(&it, b);
	while (msg_batch_next(&it, &item) == 0)
		hlc = item.entry.version.hlc;
	return hlc;
}

static bool submit(struct rconn *c, struct write_req *w)
{
	struct repl *r = c->r;
	w->submit_us = now_us(r);
	if (r->ops.submit(r->ops.user, w) != 0) {
		c->held = w;
		park(c);
		return false;
	}
	c->held = NULL;
	c->parked = false;
	/* Counted for the origin: its SUBSCRIBEs wait for none in flight,
	 * whichever link brought them (failover relays included). */
	int oi = peer_index(r, w->origin);
	r->peers[oi >= 0 ? oi : c->peer].inflight++;
	return true;
}

/* --- merge copy, receiver side ---------------------------------------------- */

/*
 * An opened COPY_BATCH in its request buffer: validated whole, then its
 * records (the storage/copy_record.h bytes as they came) submitted in
 * place as WRITE_COPY. false as batch_take.
 */
static bool copy_take(struct rconn *c, struct write_req *w,
                      const struct frame_view *v)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	uint8_t *f = (uint8_t *)w->data;
	struct msg_copy_batch cb;
	if (v->flags != 0 ||
	    msg_copy_batch_decode(v->payload, v->payload_len, &cb) != 0 ||
	    p->copy_rx != CR_ACTIVE) {
		r->ops.req_free(r->ops.user, w);
		conn_fail(c, MSG_ERR_PROTOCOL, p->copy_rx != CR_ACTIVE
		                               ? "COPY_BATCH outside a copy"
		                               : "malformed COPY_BATCH");
		return false;
	}
	r->st.copy_records_received += cb.count;
	if (p->copy_rx_bad) {
		/* a part of this copy failed: it is redone anyway */
		r->ops.req_free(r->ops.user, w);
		c->parked = false;
		return true;
	}
	w->op = WRITE_COPY;
	w->io_index = r->cfg.io_index;
	w->key_len = 0;
	w->table_len = 0;
	w->flags = 0;
	w->body_off = (uint32_t)(cb.records - f);
	w->body_len = (uint32_t)cb.records_len;
	w->conn_slot = c->peer;
	w->conn_gen = p->gen;
	w->next = NULL;
	w->origin = p->id;
	w->n_entries = cb.count;
	w->first_seq = 0;
	w->result = 0;
	w->store_err = 0;
	w->seq = 0;
	return submit(c, w);
}

/*
 * COPY_END came and every request of the peer is back: if all of the
 * copy was applied, hand its cursor vector to the storage lcore as
 * WRITE_COPY_END (origin u16 BE | seq u64 BE pairs, write_req.h); if a
 * part failed, the cursors stay and we resubscribe (a new copy). Tried
 * again from conn_tx while no buffer or no ring space is free.
 */
static void copy_end_submit(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	if (p->inflight != 0)
		return;
	if (p->copy_rx_bad) {
		p->copy_rx = CR_NONE;
		p->copy_rx_bad = false;
		r->st.copy_failures++;
		p->sub_owed = true;
		p->sub_wait = false;
		p->sub_not_before_us =
			now_us(r) + (uint64_t)r->cfg.reconnect_min_ms * 1000u;
		return;
	}
	size_t len = (size_t)p->copy_rx_n * MSG_CURSOR_LEN;
	struct write_req *w = r->ops.req_alloc(r->ops.user, len);
	if (w == NULL)
		return;
	uint8_t *q = (uint8_t *)w->data;
	for (uint16_t i = 0; i < p->copy_rx_n; i++) {
		put_be(q + (size_t)i * MSG_CURSOR_LEN, p->copy_rx_vec[i].origin,
		       2);
		put_be(q + (size_t)i * MSG_CURSOR_LEN + 2,
		       p->copy_rx_vec[i].seq, 8);
	}
	w->op = WRITE_COPY_END;
	w->io_index = r->cfg.io_index;
	w->key_len = 0;
	w->table_len = 0;
	w->flags = 0;
	w->body_off = 0;
	w->body_len = (uint32_t)len;
	w->conn_slot = c->peer;
	w->conn_gen = p->gen;
	w->next = NULL;
	w->origin = p->id;
	w->n_entries = p->copy_rx_n;
	w->first_seq = 0;
	w->result = 0;
	w->store_err = 0;
	w->seq = 0;
	w->submit_us = now_us(r);
	if (r->ops.submit(r->ops.user, w) != 0) {
		r->ops.req_free(r->ops.user, w);
		return;
	}
	p->inflight++;
	p->copy_rx = CR_END_SUBMITTED;
}

/* Fill w as the WRITE_REMOTE of the decoded BATCH b (in w->data). */
static void remote_req(struct rconn *c, struct write_req *w,
                       const struct msg_batch *b)
{
	struct repl *r = c->r;
	uint8_t *f = (uint8_t *)w->data;
	w->op = WRITE_REMOTE;
	w->io_index = r->cfg.io_index;
	w->key_len = 0;
	w->table_len = 0;
	w->flags = 0;
	w->body_off = (uint32_t)(b->entries - f);
	w->body_len = (uint32_t)b->entries_len;
	w->conn_slot = c->peer;
	w->conn_gen = peer_of(c)->gen;
	w->next = NULL;
	w->origin = b->origin;
	w->n_entries = b->count;
	w->first_seq = b->first_seq;
	w->result = 0;
	w->store_err = 0;
	w->seq = 0;
	/* The frame header is spent once opened: it keeps the last entry's
	 * hlc for the completion (last_applied_hlc). */
	put_be(f + 8, batch_last_hlc(b), 8);
}

/*
 * A BATCH of another origin x (failover): taken only while x is relayed
 * to us by this peer and the stream starts where we subscribed it; else
 * it is stale (the direct link came back, or we resubscribed) and
 * dropped. Never during a copy of this peer's records (we resubscribe
 * the relay after it).
 */
static bool relay_take(struct rconn *c, struct write_req *w,
                       const struct msg_batch *b)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	int xi = peer_index(r, b->origin);
	struct rpeer *x = xi >= 0 ? &r->peers[xi] : NULL;
	if (x == NULL || x->via != (int16_t)c->peer || p->copy_rx != CR_NONE ||
	    x->relay_sub_owed ||
	    (x->relay_sub_wait && b->first_seq != x->relay_sub_from)) {
		if (x != NULL && x->via == (int16_t)c->peer &&
		    p->copy_rx != CR_NONE) {
			x->relay_sub_owed = true; /* after the copy */
			x->relay_sub_wait = false;
		}
		r->st.relay_batches_dropped++;
		r->ops.req_free(r->ops.user, w);
		c->parked = false;
		return true;
	}
	x->relay_sub_wait = false;
	note_head(x, b->first_seq + b->count - 1);
	r->st.relay_entries_received += b->count;
	remote_req(c, w, b);
	return submit(c, w);
}

/*
 * The whole BATCH frame is in w->data[0..flen) (and consumed from TCP):
 * open it there, decode it and submit its entries in place. false when
 * the connection must stop reading (ring full: w is held; or the
 * connection is gone).
 */
static bool batch_take(struct rconn *c, struct write_req *w, size_t flen)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	uint8_t *f = (uint8_t *)w->data;
	struct frame_view v;
	if (frame_open(&c->rx, f, flen, &v) != FRAME_OK) {
		r->ops.req_free(r->ops.user, w);
		reject(c);
		return false;
	}
	r->st.frames_received++;
	r->st.bytes_received += flen;
	c->last_rx_us = now_us(r);
	if (v.type == MSG_COPY_BATCH)
		return copy_take(c, w, &v);
	struct msg_batch b;
	if (msg_check_header(v.type, v.flags) != 0 ||
	    msg_batch_decode(v.payload, v.payload_len, &b) != 0) {
		r->ops.req_free(r->ops.user, w);
		conn_fail(c, MSG_ERR_PROTOCOL, "malformed BATCH");
		return false;
	}
	r->st.batches_received++;
	r->st.entries_received += b.count;
	uint64_t last = b.first_seq + b.count - 1;
	if (b.origin != p->id)
		return relay_take(c, w, &b);
	note_head(p, last);
	if (p->copy_rx != CR_NONE) {
		/* The peer is copying its records to us: its origin's
		 * stream resumes after the copy (we resubscribe then);
		 * nothing of it may be applied ahead of the copy's cursors. */
		r->st.copy_batches_dropped++;
		r->ops.req_free(r->ops.user, w);
		c->parked = false;
		return true;
	}
	if (p->sub_owed || (p->sub_wait && b.first_seq != p->sub_from)) {
		/* A (re)subscribe is owed, or this was sent before our
		 * SUBSCRIBE reached the peer: stale, it restarts there. */
		r->ops.req_free(r->ops.user, w);
		c->parked = false;
		return true;
	}
	p->sub_wait = false;
	remote_req(c, w, &b);
	return submit(c, w);
}

/* The whole BATCH frame of flen bytes is readable (spans p1/l1, p2): copy
 * it into a request buffer and take it. false as batch_take, or with no
 * buffer (then nothing is consumed). */
static bool rx_batch(struct rconn *c, size_t flen, const uint8_t *p1,
                     size_t l1, const uint8_t *p2)
{
	struct repl *r = c->r;
	struct write_req *w = r->ops.req_alloc(r->ops.user, flen);
	if (w == NULL) {
		park(c);
		return false;
	}
	span_copy((uint8_t *)w->data, p1, l1, p2, flen);
	tcp_recv_consume(c->tc, flen);
	return batch_take(c, w, flen);
}

/* The receive ring is full (our advertised window is 0) with a frame
 * still incomplete in it: it is larger than the ring and would never be
 * readable whole. */
static bool rx_ring_full(const struct rconn *c)
{
	struct tcp_conn_info info;
	tcp_conn_get_info(c->tc, &info);
	return info.rcv_wnd == 0;
}

/* Start assembling a BATCH of flen bytes in a request buffer from the
 * avail bytes readable now; conn_rx appends the rest as it comes. */
static bool rx_assemble(struct rconn *c, size_t flen, size_t avail,
                        const uint8_t *p1, size_t l1, const uint8_t *p2)
{
	struct repl *r = c->r;
	struct write_req *w = r->ops.req_alloc(r->ops.user, flen);
	if (w == NULL) {
		park(c);
		return false;
	}
	span_copy((uint8_t *)w->data, p1, l1, p2, avail);
	tcp_recv_consume(c->tc, avail);
	c->parked = false;
	c->asm_req = w;
	c->asm_need = (uint32_t)flen;
	c->asm_have = (uint32_t)avail;
	return true;
}

/* Read and handle every whole frame in the receive buffer, in order. */
static void conn_rx(struct rconn *c)
{
	struct repl *r = c->r;
	struct rpeer *p = peer_of(c);
	uint8_t h[FRAME_LEN_FIELD + 1];

	for (;;) {
		if (!conn_live(c) || p->conn != c)
			return;
		if (c->held != NULL && !submit(c, c->held))
			return;
		const uint8_t *p1, *p2;
		size_t l1, l2;
		size_t avail = tcp_recv_peek(c->tc, &p1, &l1, &p2, &l2);
		if (c->asm_req != NULL) {
			/* a BATCH larger than the ring, arriving */
			struct write_req *w = c->asm_req;
			size_t n = c->asm_need - c->asm_have;
			if (avail < n)
				n = avail;
			span_copy((uint8_t *)w->data + c->asm_have, p1, l1, p2,
			          n);
			tcp_recv_consume(c->tc, n);
			c->asm_have += (uint32_t)n;
			if (c->asm_have < c->asm_need)
				return;
			c->asm_req = NULL;
			if (!batch_take(c, w, c->asm_need))
				return;
			continue;
		}
		if (c->state == CS_PREAMBLE) {
			uint8_t pre[REPL_PREAMBLE_LEN];
			if (avail < sizeof pre)
				return;
			span_copy(pre, p1, l1, p2, sizeof pre);
			tcp_recv_consume(c->tc, sizeof pre);
			r->st.bytes_received += sizeof pre;
			c->last_rx_us = now_us(r);
			if (memcmp(pre, REPL_PREAMBLE_MAGIC, 8) != 0) {
				conn_abort(c);
				return;
			}
			/* The connector names the epoch (its current key);
			 * the acceptor takes it if it holds that key and
			 * answers with the same epoch. */
			uint16_t e = (uint16_t)get_be(pre + PRE_EPOCH, 2);
			if (c->active ? e != c->epoch
			              : peer_secret(p, e) == NULL) {
				r->st.unknown_epoch++;
				conn_abort(c);
				return;
			}
			if (!c->active) {
				c->epoch = e;
				c->preamble_owed = true;
			}
			memcpy(c->nonce_peer, pre + PRE_NONCE, NONCE_LEN);
			aead_memzero(pre, sizeof pre);
			if (!conn_keys(c)) {
				conn_abort(c);
				return;
			}
			c->state = CS_HELLO;
			c->hello_owed = true;
			conn_tx(c);
			continue;
		}
		if (avail < sizeof h)
			return;
		span_copy(h, p1, l1, p2, sizeof h);
		size_t flen;
		enum frame_status st = frame_peek_len(&c->rx, h, avail, &flen);
		bool batch = (h[FRAME_LEN_FIELD] == MSG_BATCH ||
		              h[FRAME_LEN_FIELD] == MSG_COPY_BATCH) &&
		             c->state == CS_UP;
		if (st == FRAME_NEED_MORE) {
			/* Wait for the whole frame, unless it cannot fit. */
			if (!batch || flen == 0 || !rx_ring_full(c) ||
			    !rx_assemble(c, flen, avail, p1, l1, p2))
				return;
			continue;
		}
		if (st != FRAME_OK) {
			reject(c);
			return;
		}
		if (batch) {
			if (!rx_batch(c, flen, p1, l1, p2))
				return;
			continue;
		}
		span_copy(r->rxbuf, p1, l1, p2, flen);
		struct frame_view v;
		if (frame_open(&c->rx, r->rxbuf, flen, &v) != FRAME_OK) {
			reject(c);
			return;
		}
		tcp_recv_consume(c->tc, flen);
		r->st.frames_received++;
		r->st.bytes_received += flen;
		c->last_rx_us = now_us(r);
		on_frame(c, &v);
	}
}

/* --- TCP callbacks -------------------------------------------------------- */

static bool conn_start(struct rconn *c)
{
	if (getrandom(c->nonce_self, NONCE_LEN, 0) != (ssize_t)NONCE_LEN)
		return false;
	c->state = CS_PREAMBLE;
	c->sndbuf = tcp_send_space(c->tc);
	/* The connector speaks first, naming its current epoch; the
	 * acceptor answers once it has read that (conn_rx). */
	if (c->active)
		c->epoch = peer_of(c)->epoch;
	c->preamble_owed = c->active;
	c->last_rx_us = now_us(c->r);
	return true;
}

static const struct tcp_callbacks repl_callbacks;

static void *on_accept(void *listen_arg, struct tcp_conn *tc)
{
	struct repl *r = listen_arg;
	struct tcp_conn_info info;
	tcp_conn_get_info(tc, &info);
	struct rpeer *p = NULL;
	uint16_t pi;
	for (pi = 0; pi < r->cfg.n_peers; pi++) {
		if (r->peers[pi].ip_be == info.remote_ip_be &&
		    !r->peers[pi].removed) {
			p = &r->peers[pi];
			break;
		}
	}
	/* Only a peer of the cluster that we hold a key for, and only one
	 * whose id is below ours: the lower id of a pair connects. */
	if (p == NULL || p->connector || p->removed || p->epoch == 0) {
		r->st.refused++;
		return NULL;
	}
	struct rconn *c = slot_take(r, pi, false);
	if (c == NULL) {
		r->st.refused++;
		return NULL;
	}
	c->tc = tc;
	if (!conn_start(c)) {
		c->state = CS_FREE;
		r->free_slots[r->n_free++] = c->slot;
		r->st.refused++;
		return NULL;
	}
	if (p->conn != NULL) {
		/* It reconnected: the old connection is dead to it. */
		struct rconn *old = p->conn;
		peer_detach(r, p, old);
		old->state = CS_DOOMED;
	}
	p->conn = c;
	r->st.accepts++;
	conn_tx(c);
	return c;
}

static void on_connected(void *arg, struct tcp_conn *tc)
{
	struct rconn *c = arg;
	(void)tc;
	if (c->state != CS_CONNECTING || peer_of(c)->conn != c ||
	    !conn_start(c)) {
		tcp_abort(tc);
		return;
	}
	conn_tx(c);
}

static void on_readable(void *arg, struct tcp_conn *tc)
{
	struct rconn *c = arg;
	(void)tc;
	if (!conn_live(c))
		return;
	c->last_rx_us = now_us(c->r);
	if (!c->parked)
		conn_rx(c);
	if (conn_live(c))
		conn_tx(c);
}

static void on_writable(void *arg, struct tcp_conn *tc)
{
	struct rconn *c = arg;
	(void)tc;
	conn_tx(c);
}

static void on_peer_closed(void *arg, struct tcp_conn *tc)
{
	struct rconn *c = arg;
	if (conn_live(c) && !c->parked)
		conn_rx(c);
	/* No more frames will come: the link is over. */
	if (c->state != CS_FREE && c->state != CS_CLOSING)
		tcp_abort(tc);
}

static void on_closed(void *arg, struct tcp_conn *tc, enum tcp_close_reason why)
{
	struct rconn *c = arg;
	(void)tc;
	(void)why;
	conn_release(c);
}

static const struct tcp_callbacks repl_callbacks = {
	.on_accept = on_accept,
	.on_connected = on_connected,
	.on_readable = on_readable,
	.on_writable = on_writable,
	.on_peer_closed = on_peer_closed,
	.on_closed = on_closed,
};

/* --- polling -------------------------------------------------------------- */

static void peer_connect(struct repl *r, struct rpeer *p)
{
	struct rconn *c = slot_take(r, (uint16_t)(p - r->peers), true);
	if (c == NULL) {
		p->next_connect_us = now_us(r) +
		                     (uint64_t)r->cfg.reconnect_min_ms * 1000u;
		return;
	}
	c->state = CS_CONNECTING;
	p->conn = c;
	r->st.connects++;
	c->tc = tcp_connect(r->tcp, p->ip_be, r->cfg.port, &repl_callbacks, c);
	if (c->tc == NULL) {
		peer_detach(r, p, c);
		c->state = CS_FREE;
		r->free_slots[r->n_free++] = c->slot;
	}
}

/*
 * Failover (DESIGN §4): an origin whose link has been down for dead_ms is
 * asked for through the first other peer that is up (from our cursor;
 * duplicates are harmless, the store skips them). A peer that cannot
 * reach it either has nothing new to send; a cluster of three has only
 * one choice anyway.
 */
static void relay_pick(struct repl *r, uint64_t now, uint64_t dead)
{
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		struct rpeer *x = &r->peers[i];
		if (peer_up(x) || x->via != VIA_NONE || x->removed ||
		    now - x->down_since_us < dead)
			continue;
		for (uint16_t k = 0; k < r->cfg.n_peers; k++) {
			struct rpeer *v = &r->peers[k];
			if (k == i || !peer_up(v) || v->copy_rx != CR_NONE)
				continue;
			x->via = (int16_t)k;
			x->relay_sub_owed = true;
			x->relay_sub_wait = false;
			x->relay_ack_owed = false;
			r->st.relays_started++;
			break;
		}
	}
}

void repl_poll(struct repl *r)
{
	uint64_t now = now_us(r);
	uint64_t dead = (uint64_t)r->cfg.dead_ms * 1000u;

	for (uint16_t i = 0; i < r->n_conns; i++) {
		struct rconn *c = &r->conns[i];
		if (c->state == CS_DOOMED ||
		    (c->state == CS_CLOSING && now - c->last_rx_us > dead))
			conn_abort(c);
	}
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		struct rpeer *p = &r->peers[i];
		struct rconn *c = p->conn;
		if (c == NULL) {
			if (p->connector && !p->removed && p->epoch != 0 &&
			    now >= p->next_connect_us)
				peer_connect(r, p);
			continue;
		}
		/* Nothing heard for dead_ms: the link is gone (a connect
		 * that never completes included). Not while we hold the
		 * peer's frames back ourselves. */
		if (!c->parked && now - c->last_rx_us > dead) {
			if (c->state != CS_CONNECTING)
				r->st.dead_links++;
			conn_abort(c);
			continue;
		}
		if (c->parked)
			conn_rx(c);
		if (p->conn == c)
			conn_tx(c);
	}
	relay_pick(r, now, dead);
	if (r->have_reader)
		store_read_end(&r->reader);
}

/* --- completions ---------------------------------------------------------- */

/* A WRITE_COPY came back. A part of the copy that was not applied makes
 * its end a failure (no cursor raised); records the store refuses end
 * the link, as for a BATCH. */
static void copy_complete(struct repl *r, struct rpeer *p,
                          struct write_req *w, bool current)
{
	int32_t res = w->result;
	r->ops.req_free(r->ops.user, w);
	if (res == WRITE_OK || !current)
		return;
	p->copy_rx_bad = true;
	if (res == WRITE_INVALID)
		conn_abort(p->conn);
}

/*
 * A WRITE_COPY_END came back: the store raised its cursors to the copy's
 * vector (never lowered). Our view of every origin in it follows, even
 * for a link that has gone since (the store did it). On the current link
 * the copy is over: ACK the peer's origin and SUBSCRIBE again from the
 * cursor + 1 (the stream after the copy). If nothing was committed, the
 * resubscribe asks the peer to decide again (a new copy).
 */
static void copy_end_complete(struct repl *r, struct rpeer *p,
                              struct write_req *w, bool current)
{
	bool ok = w->result == WRITE_OK;
	if (ok) {
		const uint8_t *q = (const uint8_t *)w->data + w->body_off;
		for (uint32_t i = 0; i < w->n_entries; i++) {
			uint16_t o = (uint16_t)get_be(q + (size_t)i *
			                                      MSG_CURSOR_LEN, 2);
			uint64_t s = get_be(q + (size_t)i * MSG_CURSOR_LEN + 2, 8);
			for (uint16_t k = 0; k < r->cfg.n_peers; k++) {
				struct rpeer *x = &r->peers[k];
				if (x->id != o)
					continue;
				if (s > x->cursor)
					x->cursor = s;
				note_head(x, s);
			}
		}
	}
	r->ops.req_free(r->ops.user, w);
	if (!current || p->copy_rx != CR_END_SUBMITTED)
		return;
	p->copy_rx = CR_NONE;
	p->sub_owed = true;
	p->sub_wait = false;
	if (ok) {
		r->st.copies_received++;
		p->ack_owed = true;
		p->sub_not_before_us = 0;
	} else {
		r->st.copy_failures++;
		p->sub_not_before_us =
			now_us(r) + (uint64_t)r->cfg.reconnect_min_ms * 1000u;
	}
}

void repl_complete(struct repl *r, struct write_req *w)
{
	uint16_t pi = (uint16_t)w->conn_slot;
	if (w->conn_slot >= r->cfg.n_peers ||
	    (w->op != WRITE_REMOTE && w->op != WRITE_COPY &&
	     w->op != WRITE_COPY_END)) {
		r->ops.req_free(r->ops.user, w);
		return;
	}
	struct rpeer *p = &r->peers[pi];
	/* o: the origin's peer (p itself, but for a relayed BATCH) */
	int oi = peer_index(r, w->origin);
	struct rpeer *o = oi >= 0 ? &r->peers[oi] : p;
	if (o->inflight > 0)
		o->inflight--;
	struct rconn *c = p->conn;
	bool current = c != NULL && c->state == CS_UP && w->conn_gen == p->gen;
	bool relayed = o != p;
	if (relayed)
		current = current && o->via == (int16_t)pi;
	if (w->op == WRITE_COPY) {
		copy_complete(r, p, w, current);
		return;
	}
	if (w->op == WRITE_COPY_END) {
		copy_end_complete(r, p, w, current);
		return;
	}
	/* the SUBSCRIBE state of o's stream on this link */
	bool *sub_owed = relayed ? &o->relay_sub_owed : &p->sub_owed;
	bool sub_wait = relayed ? o->relay_sub_wait : p->sub_wait;
	switch (w->result) {
	case WRITE_OK:
		if (w->seq > o->cursor) {
			r->st.entries_applied += w->seq - o->cursor;
			o->cursor = w->seq;
		}
		if (w->seq >= w->first_seq + w->n_entries - 1)
			o->last_applied_hlc = get_be((uint8_t *)w->data + 8, 8);
		note_head(o, o->cursor);
		if (current) {
			/* next poll: one per burst */
			if (relayed)
				o->relay_ack_owed = true;
			else
				p->ack_owed = true;
		}
		break;
	case WRITE_GAP:
		r->st.gaps++;
		if (w->seq > o->cursor) {
			r->st.entries_applied += w->seq - o->cursor;
			o->cursor = w->seq;
		}
		/* Once: the batches after it gap too until the peer restarts
		 * from the cursor. */
		if (current && !*sub_owed && !sub_wait)
			*sub_owed = true;
		break;
	case WRITE_INVALID:
		/* The peer sent entries the store refuses. */
		r->ops.req_free(r->ops.user, w);
		if (current)
			conn_abort(c);
		return;
	default:
		/* Nothing of it committed (map full, LMDB error): try again
		 * from the cursor a little later (a relay: at once, its
		 * SUBSCRIBE waits for the storage ring like any). */
		if (current && !*sub_owed && !sub_wait) {
			*sub_owed = true;
			if (!relayed)
				p->sub_not_before_us =
					now_us(r) +
					(uint64_t)r->cfg.reconnect_min_ms * 1000u;
		}
		break;
	}
	r->ops.req_free(r->ops.user, w);
}

/* --- lifecycle ------------------------------------------------------------ */

static bool config_ok(const struct repl_config *cfg,
                      const struct repl_ops *ops)
{
	if (cfg->node_id == 0 || cfg->n_peers > LOOM_MAX_PEERS ||
	    (cfg->n_peers > 0 && cfg->peers == NULL) || cfg->port == 0 ||
	    cfg->batch_max == 0 || cfg->window == 0 || cfg->ping_ms == 0 ||
	    cfg->dead_ms <= cfg->ping_ms || cfg->reconnect_min_ms == 0 ||
	    cfg->reconnect_max_ms < cfg->reconnect_min_ms ||
	    (cfg->max_frame != 0 && (cfg->max_frame < FRAME_MAX_FLOOR ||
	                             cfg->max_frame > FRAME_MAX_CEIL)))
		return false;
	if (ops->req_alloc == NULL || ops->req_free == NULL ||
	    ops->submit == NULL || ops->own_seq == NULL)
		return false;
	for (uint16_t i = 0; i < cfg->n_peers; i++) {
		const struct repl_peer_cfg *a = &cfg->peers[i];
		if (a->id == 0 || a->id == cfg->node_id || a->ip_be == 0)
			return false;
		for (uint16_t j = 0; j < i; j++)
			if (cfg->peers[j].id == a->id ||
			    cfg->peers[j].ip_be == a->ip_be)
				return false;
	}
	return true;
}

struct repl *repl_create(const struct repl_config *cfg, struct tcp_stack *tcp,
                         struct net_ctx *net, struct store *store,
                         const struct repl_ops *ops,
                         const struct tcp_alloc *alloc)
{
	if (cfg == NULL || tcp == NULL || net == NULL || store == NULL ||
	    ops == NULL || alloc == NULL || !config_ok(cfg, ops))
		return NULL;
	struct repl *r = alloc->zalloc(alloc->user, sizeof *r);
	if (r == NULL)
		return NULL;
	r->cfg = *cfg;
	if (r->cfg.max_frame == 0)
		r->cfg.max_frame = FRAME_MAX_DEFAULT;
	r->cfg.peers = NULL; /* taken below */
	r->cfg.n_peers = 0;
	r->tcp = tcp;
	r->net = net;
	r->store = store;
	r->ops = *ops;
	r->alloc = *alloc;
	/* No BATCH can hold more entries than max_frame has room for. */
	uint32_t fit = (r->cfg.max_frame - FRAME_OVERHEAD - MSG_BATCH_HDR) /
	               ENTRY_MIN;
	r->batch_max = cfg->batch_max < fit ? cfg->batch_max : fit;

	/* the current connection of each peer, plus ones replaced or
	 * closing until the stack reports them gone */
	r->n_conns = (uint16_t)(2u * LOOM_MAX_PEERS + 2u);
	r->conns = alloc->zalloc(alloc->user, sizeof *r->conns * r->n_conns);
	r->free_slots = alloc->zalloc(alloc->user,
	                              sizeof *r->free_slots * r->n_conns);
	r->rxbuf = alloc->zalloc(alloc->user, r->cfg.max_frame);
	r->iov = alloc->zalloc(alloc->user,
	                       sizeof *r->iov * (r->batch_max + 1u));
	if (r->conns == NULL || r->free_slots == NULL || r->rxbuf == NULL ||
	    r->iov == NULL)
		goto fail;
	for (uint16_t i = 0; i < r->n_conns; i++) {
		r->conns[i].r = r;
		r->conns[i].slot = i;
		r->free_slots[i] = (uint16_t)(r->n_conns - 1u - i);
	}
	r->n_free = r->n_conns;
	if (store_reader_init(store, &r->reader) != 0)
		goto fail;
	r->have_reader = true;
	for (uint16_t i = 0; i < cfg->n_peers; i++)
		if (repl_peer_set(r, cfg->peers[i].id, cfg->peers[i].ip_be,
		                  STATIC_EPOCH, cfg->secret) != 0)
			goto fail;
	aead_memzero(r->cfg.secret, sizeof r->cfg.secret);
	return r;
fail:
	repl_destroy(r);
	return NULL;
}

void repl_destroy(struct repl *r)
{
	if (r == NULL)
		return;
	if (r->conns != NULL)
		for (uint16_t i = 0; i < r->n_conns; i++)
			if (r->conns[i].r != NULL)
				conn_wipe(&r->conns[i]);
	if (r->have_reader)
		store_reader_fini(&r->reader);
	struct tcp_alloc a = r->alloc;
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		if (r->peers[i].txbuf != NULL)
			a.free(a.user, r->peers[i].txbuf);
		aead_memzero(r->peers[i].secret, sizeof r->peers[i].secret);
		aead_memzero(r->peers[i].prev_secret,
		             sizeof r->peers[i].prev_secret);
	}
	a.free(a.user, r->iov);
	a.free(a.user, r->rxbuf);
	a.free(a.user, r->free_slots);
	a.free(a.user, r->conns);
	aead_memzero(r->cfg.secret, sizeof r->cfg.secret);
	a.free(a.user, r);
}

/* Constant time: a secret is compared only with another secret. */
static bool secret_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	for (size_t i = 0; i < REPL_SECRET_LEN; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

/* A new peer in slot p (zeroed or a removed peer's): its cursor from the
 * store, a transmit buffer (kept across removals). */
static int peer_init(struct repl *r, struct rpeer *p, uint16_t id,
                     uint32_t ip_be)
{
	uint8_t *txbuf = p->txbuf;
	uint64_t cursor;
	if (!reader_ready(r) || store_cursor(&r->reader, id, &cursor) != 0)
		return EIO;
	if (txbuf == NULL)
		txbuf = r->alloc.zalloc(r->alloc.user, r->cfg.max_frame);
	if (txbuf == NULL)
		return ENOMEM;
	memset(p, 0, sizeof *p);
	p->txbuf = txbuf;
	p->id = id;
	p->ip_be = ip_be;
	p->connector = r->cfg.node_id < id;
	p->backoff_ms = r->cfg.reconnect_min_ms;
	p->via = VIA_NONE;
	p->down_since_us = now_us(r);
	p->cursor = p->head = cursor;
	return 0;
}

int repl_peer_set(struct repl *r, uint16_t id, uint32_t ip_be, uint16_t epoch,
                  const uint8_t secret[REPL_SECRET_LEN])
{
	if (id == 0 || id == r->cfg.node_id || ip_be == 0 || epoch == 0 ||
	    secret == NULL)
		return EINVAL;
	int pi = peer_index(r, id);
	struct rpeer *p = pi >= 0 ? &r->peers[pi] : NULL;
	for (uint16_t i = 0; i < r->cfg.n_peers; i++)
		if ((int)i != pi && !r->peers[i].removed &&
		    r->peers[i].ip_be == ip_be)
			return EINVAL; /* another peer's address */
	if (p == NULL) {
		/* a removed peer's slot, else a new one */
		for (uint16_t i = 0; i < r->cfg.n_peers && p == NULL; i++)
			if (r->peers[i].removed && r->peers[i].conn == NULL &&
			    r->peers[i].inflight == 0)
				p = &r->peers[i];
		if (p == NULL && r->cfg.n_peers == LOOM_MAX_PEERS)
			return ENOSPC;
		bool append = p == NULL;
		if (append)
			p = &r->peers[r->cfg.n_peers];
		int rc = peer_init(r, p, id, ip_be);
		if (rc != 0)
			return rc;
		if (append) /* after the slot is whole: others read n_peers */
			__atomic_store_n(&r->cfg.n_peers,
			                 (uint16_t)(r->cfg.n_peers + 1),
			                 __ATOMIC_RELEASE);
	} else if (epoch == p->epoch) {
		if (!secret_equal(secret, p->secret))
			return EINVAL;
		if (p->ip_be == ip_be && !p->removed)
			return 0; /* loom-controld said it again */
	}
	bool new_key = p->epoch != epoch;
	if (new_key) {
		if (p->epoch != 0) {
			memcpy(p->prev_secret, p->secret, REPL_SECRET_LEN);
			p->prev_epoch = p->epoch;
		}
		memcpy(p->secret, secret, REPL_SECRET_LEN);
		p->epoch = epoch;
		r->st.keys_installed++;
	}
	bool moved = p->ip_be != ip_be;
	p->ip_be = ip_be;
	ATOMIC_SET(p->removed, false);
	/* Reopen the link under the new key (or at the new address): the
	 * peer may still be on the old one for a moment; its connection
	 * under the new epoch replaces ours, or ours it. */
	if ((new_key || moved) && p->conn != NULL)
		conn_abort(p->conn);
	if (new_key || moved) {
		p->next_connect_us = now_us(r);
		p->backoff_ms = r->cfg.reconnect_min_ms;
	}
	return 0;
}

int repl_peer_remove(struct repl *r, uint16_t id)
{
	int pi = peer_index(r, id);
	if (pi < 0 || r->peers[pi].removed)
		return ENOENT;
	struct rpeer *p = &r->peers[pi];
	ATOMIC_SET(p->removed, true);
	if (p->conn != NULL)
		conn_abort(p->conn);
	aead_memzero(p->secret, sizeof p->secret);
	aead_memzero(p->prev_secret, sizeof p->prev_secret);
	p->epoch = p->prev_epoch = 0;
	p->via = VIA_NONE;
	r->st.peers_removed++;
	return 0;
}

int repl_start(struct repl *r)
{
	if (tcp_listen(r->tcp, r->cfg.port, &repl_callbacks, r) != 0)
		return -1;
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		struct rpeer *p = &r->peers[i];
		if (p->connector && p->conn == NULL)
			peer_connect(r, p);
	}
	return 0;
}

/* --- introspection -------------------------------------------------------- */

const struct repl_stats *repl_stats(const struct repl *r)
{
	return &r->st;
}

struct reject_visit {
	void (*fn)(void *arg, const char *reason, uint64_t n);
	void *arg;
};

static void reject_visit(void *arg, const char *name, uint64_t value)
{
	struct reject_visit *v = arg;
	if (strncmp(name, "err_", 4) == 0)
		v->fn(v->arg, name + 4, value);
}

void repl_rx_rejects(const struct repl *r,
                     void (*fn)(void *arg, const char *reason, uint64_t n),
                     void *arg)
{
	struct frame_rx_stats sum = r->rx_total;
	for (uint16_t i = 0; i < r->n_conns; i++)
		if (r->conns[i].state != CS_FREE)
			rx_stats_add(&sum, &r->conns[i].rx.stats);
	struct reject_visit v = {fn, arg};
	frame_rx_stats_foreach(&sum, reject_visit, &v);
}

uint64_t repl_min_acked_up(const struct repl *r, unsigned *n_up)
{
	uint64_t min = UINT64_MAX;
	unsigned up = 0;
	for (uint16_t i = 0; i < r->cfg.n_peers; i++) {
		const struct rpeer *p = &r->peers[i];
		if (!ATOMIC_GET(p->up) || ATOMIC_GET(p->removed))
			continue;
		uint64_t a = ATOMIC_GET(p->out.acked);
		up++;
		if (a < min)
			min = a;
	}
	if (n_up != NULL)
		*n_up = up;
	return min;
}

uint64_t repl_min_acked_all(const struct repl *r)
{
	uint64_t min = UINT64_MAX;
	uint16_t n = ATOMIC_GET(r->cfg.n_peers), counted = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (ATOMIC_GET(r->peers[i].removed))
			continue;
		uint64_t a = ATOMIC_GET(r->peers[i].out.acked);
		counted++;
		if (a < min)
			min = a;
	}
	return counted > 0 ? min : 0;
}

uint16_t repl_peer_count(const struct repl *r)
{
	/* acquire: a slot is whole before repl_peer_set counts it */
	return __atomic_load_n(&r->cfg.n_peers, __ATOMIC_ACQUIRE);
}

uint16_t repl_active_peer_count(const struct repl *r)
{
	uint16_t n = repl_peer_count(r), k = 0;
	for (uint16_t i = 0; i < n; i++)
		k += !ATOMIC_GET(r->peers[i].removed);
	return k;
}

void repl_peer_info(const struct repl *r, uint16_t i,
                    struct repl_peer_info *out)
{
	memset(out, 0, sizeof *out);
	if (i >= r->cfg.n_peers)
		return;
	const struct rpeer *p = &r->peers[i];
	out->id = p->id;
	out->up = p->conn != NULL && p->conn->state == CS_UP;
	out->cursor = p->cursor;
	out->head = p->head;
	out->acked = p->out.acked;
	out->sent = p->out.sent;
	out->last_applied_hlc = p->last_applied_hlc;
	out->reconnects = p->reconnects;
	out->via = p->via != VIA_NONE ? r->peers[p->via].id : 0;
	out->epoch = p->epoch;
	out->removed = p->removed;
}

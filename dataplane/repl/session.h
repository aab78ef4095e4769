/*
 * session.h - the replication links of one node (docs/REPLICATION.md):
 * one TCP connection per peer over the repl lcore's TCP stack, sealed
 * frames (frame.h), the message flow of DESIGN §4 (msg.h), streaming of
 * our own origin's log from each peer's cursor, and hand-off of the
 * peers' BATCHes to the storage lcore as WRITE_REMOTE requests.
 *
 * Plain C with no DPDK (like rest_server.h): buffers, the storage
 * hand-off and our own head seq come in through struct repl_ops, so unit
 * tests wire two nodes through the fake frame layer of the TCP tests.
 *
 * Link life, per peer (the lower node id connects, with back-off from
 * reconnect_min_ms doubling to reconnect_max_ms; the higher one accepts
 * only a configured peer's address):
 *   1. Each side sends a 40-byte clear preamble: "LOOMREP1" and 32 random
 *      bytes (getrandom). Keys and salts of both directions then derive
 *      from the cluster secret and BOTH nonces (HKDF-SHA256, salt =
 *      cluster id, info = "loom repl" | from id | to id | nonce of the
 *      connecting side | nonce of the accepting side), so every connection
 *      has fresh keys and its counters may restart at 0 (frame.h).
 *   2. HELLO both ways (msg_hello_check refuses strangers); then each side
 *      SUBSCRIBEs to the other's origin from its cursor + 1.
 *   3. The streamer sends BATCHes of log.<self> from the subscribed seq,
 *      read from the store with the session's own read txn, at most
 *      batch_max entries each and at most `window` entries beyond the last
 *      ACK; it notices new commits through ops->own_seq each poll.
 *   4. A received BATCH is copied into a buffer from ops->req_alloc,
 *      decrypted in place there, and submitted (ops->submit) as
 *      WRITE_REMOTE; the completion (repl_complete) sends ACK(origin,
 *      cursor). No buffer or a full ring: the frame stays in the receive
 *      buffer and the TCP window closes; nothing is dropped. WRITE_GAP:
 *      SUBSCRIBE again from the cursor + 1.
 *   5. PING every ping_ms of silence (carrying the head seq); nothing
 *      received for dead_ms closes the link. A frame that fails to open
 *      is counted by reason and aborts the connection; the next one
 *      resumes from the cursors.
 *   6. Merge resync (DESIGN §2). A SUBSCRIBE of our origin from a seq at
 *      or below our log's floor (store_log_floor: those entries are
 *      pruned), or a stream that runs into such a hole, starts a copy to
 *      that peer: COPY_START(V), V = every origin's cursor here read in
 *      one read txn before any record (ours: our own last seq); then
 *      COPY_BATCHes of every record of every table (store_record_iter,
 *      resumed after the last key sent in a new short read txn each
 *      poll; at most batch_max records each, sized to the send space like
 *      BATCHes); then COPY_END(V); then BATCHes from V[self] + 1 as the
 *      credit allows. No BATCH of our origin goes out during a copy, and
 *      a SUBSCRIBE that arrives during one is answered by its end.
 *      The receiver submits each COPY_BATCH as WRITE_COPY (records applied
 *      with LWW, never a table replace) and drops BATCHes of the copying
 *      peer's origin until the copy ends (copy_batches_dropped). Once
 *      every request of that peer is back and all were applied, it
 *      submits COPY_END's V as WRITE_COPY_END (cursors raised, never
 *      lowered); its completion raises the cursors we keep of every
 *      origin in V, and we ACK and SUBSCRIBE to the peer again from the
 *      cursor + 1. A failed WRITE_COPY leaves the cursors alone and
 *      resubscribes (the peer decides again: a new copy); a link that
 *      drops mid-copy restarts the same way. `copies` counts copies
 *      started here as the sender, `copies_received` those applied here.
 */
#ifndef LOOM_REPL_SESSION_H
#define LOOM_REPL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/tcp.h"
#include "storage/store.h"
#include "storage/write_req.h"

#define REPL_PREAMBLE_MAGIC "LOOMREP2"
#define REPL_PREAMBLE_LEN 42 /* magic 8 | key epoch u16 BE | nonce 32 */
#define REPL_SECRET_LEN 32

struct repl_ops {
	/* A buffer whose data[] holds at least data_bytes (cap set), or
	 * NULL when none is free now (the frame waits). */
	struct write_req *(*req_alloc)(void *user, size_t data_bytes);
	void (*req_free)(void *user, struct write_req *r);
	/* Hand a WRITE_REMOTE to the storage lcore: 0, or -1 (ring full). */
	int (*submit)(void *user, struct write_req *r);
	/* The last seq of our own origin that is committed (storage lcore's
	 * published value): entries up to it may be streamed. */
	uint64_t (*own_seq)(void *user);
	void *user;
};

struct repl_peer_cfg {
	uint16_t id;
	uint32_t ip_be;
};

struct repl_config {
	uint16_t node_id;
	uint64_t cluster_id;
	uint16_t port;                 /* repl_port, ours and the peers' */
	/* Static peers ([peers] and [repl] secret_file): each gets secret as
	 * its key of epoch 1. With loom-controld none (n_peers 0): they come
	 * and go through repl_peer_set / repl_peer_remove. */
	const struct repl_peer_cfg *peers;
	uint16_t n_peers;              /* <= LOOM_MAX_PEERS */
	uint8_t secret[REPL_SECRET_LEN];
	uint32_t batch_max;            /* entries per BATCH */
	uint32_t window;               /* entries beyond the last ACK */
	uint32_t ping_ms, dead_ms;
	uint32_t reconnect_min_ms, reconnect_max_ms;
	uint32_t max_frame;            /* bytes, both directions */
	uint8_t io_index;              /* write_req.io_index of our requests */
};

/* Every counter, one X-macro list. */
#define REPL_STATS_LIST(X)                                                   \
	X(connects) X(accepts) X(refused) X(reconnects) X(links_up)          \
	X(links_down) X(dead_links) X(frames_sent) X(frames_received)        \
	X(bytes_sent) X(bytes_received) X(batches_sent) X(entries_sent)      \
	X(batches_received) X(entries_received) X(entries_applied)           \
	X(acks_sent) X(acks_received) X(subscribes_sent)                     \
	X(subscribes_received) X(gaps) X(pings_sent) X(hello_refused)        \
	X(frames_rejected) X(backpressure_waits) X(copies)                   \
	X(copy_records_sent) X(copy_batches_sent) X(copies_received)         \
	X(copy_records_received) X(copy_batches_dropped) X(copy_failures)   \
	X(relays_started) X(relays_ended) X(relay_subscribes_sent)           \
	X(relay_subscribes_received) X(relay_entries_sent)                   \
	X(relay_entries_received) X(relay_batches_dropped) X(relay_stalls)   \
	X(unknown_epoch) X(keys_installed) X(peers_removed)

struct repl_stats {
#define REPL_STATS_FIELD(name) uint64_t name;
	REPL_STATS_LIST(REPL_STATS_FIELD)
#undef REPL_STATS_FIELD
};

/* One peer as /metrics shows it (docs/REPLICATION.md). */
struct repl_peer_info {
	uint16_t id;
	bool up;               /* HELLOs exchanged on a live connection */
	uint64_t cursor;       /* its origin's cursor here, as last applied */
	uint64_t head;         /* the highest seq it said it has */
	uint64_t acked;        /* our origin's seq it acknowledged */
	uint64_t sent;         /* our origin's highest seq sent to it */
	uint64_t last_applied_hlc; /* version of the last entry applied from
	                              it (for the lag in seconds) */
	uint64_t reconnects;
	uint16_t via;          /* its origin relayed to us by this peer (its
	                          id; 0 = none): failover */
	uint16_t epoch;        /* its current key epoch; 0 = no key */
	bool removed;          /* removed from the cluster (repl_peer_remove) */
};

struct repl;

/* Reads our cursors from store (a short read txn) to subscribe from them.
 * NULL on bad config or no memory. The allocator is used here only. */
struct repl *repl_create(const struct repl_config *cfg, struct tcp_stack *tcp,
                         struct net_ctx *net, struct store *store,
                         const struct repl_ops *ops,
                         const struct tcp_alloc *alloc);
/* After the TCP stack is destroyed (no more callbacks): buffers back,
 * keys wiped. */
void repl_destroy(struct repl *r);

/* Listen on cfg->port and start connecting to every peer with a higher
 * id than ours (the lower id of a pair connects). */
int repl_start(struct repl *r);

/* Once per poll loop: reconnect timers, streaming, pings, dead links,
 * parked frames; ends the read txn. */
void repl_poll(struct repl *r);

/* A WRITE_REMOTE came back from the storage lcore (on this lcore). */
void repl_complete(struct repl *r, struct write_req *w);

/* Log retention (the storage lcore, any thread; relaxed reads): the
 * lowest seq of our own origin acknowledged by every peer whose link is
 * up now, and (n_up) how many are up. Entries above it are still needed
 * by a current peer; a peer that is down is resynced by a merge copy if
 * it comes back below the log's floor. With no peer up it returns
 * UINT64_MAX (and *n_up = 0): no current peer holds anything back, the
 * retention bound alone decides. The fields read are written by the repl
 * lcore with relaxed atomic stores; a value may be a poll stale (a peer
 * that just came up before its SUBSCRIBE counts with what it acked last,
 * which it holds durably), never torn. */
uint64_t repl_min_acked_up(const struct repl *r, unsigned *n_up);
/* The lowest seq of our own origin acknowledged by every configured peer,
 * up or not (0 before each has acknowledged something since start): the
 * tombstones of our deletes up to it may be purged with the log, since no
 * peer can still need one from a merge copy. */
uint64_t repl_min_acked_all(const struct repl *r);

/*
 * loom-controld's keys (docs/CONTROL.md), on the repl lcore: peer id at
 * ip_be (its dataplane address) replicates with us under key `epoch`
 * (1..65535), whose frame keys derive from secret like keys.h's (the
 * secret in place of the cluster secret). A new peer is added (cursor
 * from the store); a known one gets the address and the key. A NEW epoch
 * becomes the current one, the previous is kept for connections the peer
 * opens under it until one under the current epoch is up, and the link is
 * reopened under the new epoch at once (the lower id reconnects without
 * back-off); after that, frames of older epochs have no key here. The
 * same epoch and secret again (loom-controld reconnected): nothing
 * changes. 0, EINVAL (bad id, address or epoch; the same epoch with
 * another secret), ENOSPC (LOOM_MAX_PEERS peers), ENOMEM, EIO (store).
 */
int repl_peer_set(struct repl *r, uint16_t id, uint32_t ip_be, uint16_t epoch,
                  const uint8_t secret[REPL_SECRET_LEN]);
/* The peer leaves the cluster: link aborted, keys wiped, its accepts and
 * frames refused from now on; it no longer holds back log retention or
 * tombstone purges. Its cursor stays in the store (a later repl_peer_set
 * of the same id resumes from it). 0 or ENOENT. */
int repl_peer_remove(struct repl *r, uint16_t id);

const struct repl_stats *repl_stats(const struct repl *r);
/* Frames rejected by reason: frame.h's FRAME_RX_STATS_LIST, summed over
 * every connection so far. */
void repl_rx_rejects(const struct repl *r,
                     void (*fn)(void *arg, const char *reason, uint64_t n),
                     void *arg);
uint16_t repl_peer_count(const struct repl *r);
/* The peers not removed (any thread; relaxed): 0 before loom-controld has
 * given any. */
uint16_t repl_active_peer_count(const struct repl *r);
void repl_peer_info(const struct repl *r, uint16_t i,
                    struct repl_peer_info *out);

#endif

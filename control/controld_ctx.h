/*
 * controld_ctx.h - loom-controld's one context (struct controld) and the
 * functions its modules offer each other. One thread, one poll() loop
 * (controld.c); all state lives in the struct passed around, nothing is
 * global but the signal flags.
 *
 *   controld.c          main: options, start, the poll loop, signals
 *   controld_config.c   the [controld] section
 *   controld_conn.c     framed, bounded, non-blocking streams
 *   controld_peer.c     the TLS links to the peers: dial, accept, the
 *                       handshake, HELLO/TOPOLOGY/EPOCH, keys, rekey, PING
 *   controld_topo.c     the topology: load, adopt, persist, spread, and
 *                       the peer slots that follow from it
 *   controld_loomd.c    the link to loomd: HELLO, PEER_SET/REMOVE, STATUS
 *   controld_admin.c    loomctl's socket: NODE_ADD/REMOVE, STATUS, STATS
 *   controld_status.c   status and stats as text or JSON
 *
 * docs/CONTROL.md "loom-controld" is the reference.
 */
#ifndef LOOM_CONTROL_CONTROLD_CTX_H
#define LOOM_CONTROL_CONTROLD_CTX_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ctl_msg.h"
#include "common/log.h"
#include "control/controld_config.h"
#include "control/controld_conn.h"
#include "control/topology.h"

#define CD_LOG "controld"

#define CD_MAX_LINKS 40          /* TLS connections of every kind */
#define CD_MAX_ADMIN 8           /* loomctl connections at once */
#define CD_MAX_FDS (2 + CD_MAX_LINKS + 1 + CD_MAX_ADMIN)
#define CD_RECENT 8              /* refusals status remembers */
#define CD_REASON_MAX 320

#define CD_BACKOFF_MIN_MS 200    /* dial back-off: 200 ms doubling ... */
#define CD_BACKOFF_MAX_MS 5000   /* ... to 5 s */
#define CD_HANDSHAKE_MS 10000    /* TCP connect + TLS handshake */
#define CD_PENDING_MS 10000      /* an unknown peer's TOPOLOGY */
#define CD_CLOSING_MS 2000       /* flushing before a close */
#define CD_LOOMD_RETRY_MS 500    /* loomd's socket absent */
#define CD_LOOMD_REFUSED_MS 5000 /* loomd of another node id */
#define CD_STATUS_MS 1000        /* STATUS_REQ to loomd */
#define CD_RESEND_MS 3000        /* PEER_SET/REMOVE loomd did not take */

/* Why a link was refused, for the counters (stats) and status. */
enum cd_refusal {
	REF_BAD_CHAIN,     /* the peer check (pki.h) ... */
	REF_EXPIRED,
	REF_NOT_YET_VALID,
	REF_REVOKED,
	REF_WRONG_NAME,
	REF_MALFORMED,
	REF_NO_CERT,       /* the peer presented no certificate */
	REF_CERT_OTHER,    /* wolfSSL refused what our check passed */
	REF_BY_PEER,       /* the peer refused us (its alert or ERROR) */
	REF_NOT_MEMBER,    /* a valid certificate of a node not in the topology */
	REF_IDENTITY,      /* HELLO's name is not the certificate's */
	REF_CLUSTER,       /* HELLO of another cluster id */
	REF_PROTOCOL,      /* a malformed or unexpected message */
	REF_HANDSHAKE,     /* the handshake failed otherwise (closed, timeout) */
	REF_COUNT
};

const char *cd_refusal_name(int r);

struct cd_stats {
	uint64_t handshakes_ok, handshakes_failed;
	uint64_t refused[REF_COUNT];
	uint64_t dial_failures;
	uint64_t links_up, links_down, dead_links;
	uint64_t rekeys;            /* links closed by the rekey timer */
	uint64_t epochs;            /* secrets derived (a new epoch each) */
	uint64_t topo_adopted;      /* versions taken from peers */
	uint64_t topo_changes;      /* node add/remove made here */
	uint64_t peer_sets, peer_removes;
	uint64_t loomd_connects, loomd_losses, loomd_refusals;
	uint64_t loomd_errors;      /* ERROR answers from loomd */
	uint64_t admin_requests, admin_errors;
};

/* A refusal as status shows it. */
struct cd_refusal_rec {
	int64_t at_ms;              /* wall clock */
	char addr[TOPO_ADDR_STR];
	char name[TOPO_NAME_MAX + 1];
	int reason;                 /* enum cd_refusal */
	char text[CD_REASON_MAX];
};

enum link_state { LINK_FREE, LINK_CONNECTING, LINK_HANDSHAKE, LINK_OPEN };

/* One TLS connection to a peer's loom-controld. */
struct link {
	enum link_state state;
	struct conn c;
	bool client;                /* we dialled */
	short hs_events;            /* what the handshake waits for */
	int peer;                   /* ctx->peers index, -1: not attached */
	char addr[TOPO_ADDR_STR];   /* the other end, IP:PORT */
	char name[TOPO_NAME_MAX + 1]; /* its certificate's name, once known */
	bool hello_tx, hello_rx, topo_rx, epoch_tx, epoch_rx, keyed;
	bool closing;               /* flush, then close */
	bool draining;              /* closing: all sent, our side shut down,
	                               reading until the peer closes too */
	bool conflict_logged;
	uint16_t my_epoch, their_epoch, epoch;
	uint64_t t_start, t_open, t_rx, t_ping, t_keyed, t_closing;
	uint64_t ping_token;
};

/* One other member of the topology. */
struct peer {
	bool used;
	struct topo_node node;      /* as the topology has it */
	bool dialler;               /* our id is the lower: we dial */
	int link;                   /* ctx->links index, -1: none */
	uint64_t next_dial;         /* monotonic ms */
	uint32_t backoff_ms;
	bool unreachable_logged;
	/* keys */
	uint16_t last_epoch;        /* the last epoch used for the pair, 0 none */
	bool has_secret;            /* the current secret, kept for a loomd
	                               that comes back */
	uint16_t secret_epoch;
	uint8_t secret[CTL_SECRET_LEN];
	uint64_t t_peer_set;        /* monotonic ms of the last PEER_SET */
	bool told_loomd;            /* a PEER_SET went to loomd for it */
	/* what status shows */
	bool up;                    /* HELLOs exchanged on an attached link */
	int64_t since_ms;           /* wall clock of the last up/down change */
	int64_t refusal_ms;
	char refusal[CD_REASON_MAX];
	uint64_t ups;
};

enum loomd_state { LOOMD_DOWN, LOOMD_HELLO, LOOMD_READY };

struct loomd_link {
	enum loomd_state state;
	struct conn c;
	uint64_t next_try;          /* monotonic ms */
	bool absent_logged;
	char last_fail[128];
	uint16_t node_id;           /* from its HELLO */
	uint64_t cluster_id;
	char name[CTL_NAME_MAX + 1];
	bool status_seen;           /* a STATUS since we started */
	uint64_t t_ready;           /* monotonic ms of its HELLO */
	uint64_t next_status;
	bool status_waiting;
	uint64_t t_status_req;
	uint32_t status_req;
	/* the last two STATUS answers, for entries/s */
	struct ctl_status st, prev;
	bool have_st, have_prev;
	uint64_t st_at, prev_at;    /* monotonic ms */
	int64_t st_wall;
	/* PEER_REMOVE of a stale peer, at most every CD_RESEND_MS */
	uint16_t removed_id[TOPO_MAX_NODES];
	uint64_t removed_at[TOPO_MAX_NODES];
};

struct admin_client {
	bool used;
	struct conn c;
};

struct controld {
	struct cd_config cfg;
	const char *config_path;
	struct ctl_tls_ctx *tls;
	char name[TOPO_NAME_MAX + 1];  /* ours: the certificate's CN */
	struct topology topo;
	char topo_path[CD_PATH_MAX + 16];
	uint16_t self_id;              /* ours in the topology; 0: not a member */
	int listen_fd, admin_fd;
	struct peer peers[TOPO_MAX_NODES];
	struct link links[CD_MAX_LINKS];
	struct admin_client admin[CD_MAX_ADMIN];
	struct loomd_link loomd;
	struct cd_stats st;
	struct cd_refusal_rec recent[CD_RECENT];
	unsigned n_recent;             /* total ever recorded */
	uint64_t now;                  /* monotonic ms, set by the loop */
	uint64_t wake;                 /* the earliest timer of this round */
	uint32_t next_req;
	uint64_t next_token;
	int64_t started_ms;            /* wall clock */
	char *text;                    /* CTL_TEXT_MAX + 1: status rendering */
};

/* mkdir -p: the directories made get mode (the umask aside). 0 or -1. */
int cd_mkdirs(const char *path, unsigned mode, char *err, size_t errlen);

/* Time. */
uint64_t cd_mono_ms(void);
int64_t cd_wall_ms(void);
/* Asks the loop to run the timers again by t (monotonic ms). */
void cd_wake_at(struct controld *ctx, uint64_t t);

/* poll() sets: every module adds its fds with a tag to come back to. */
enum cd_fd_kind { FD_LISTEN, FD_ADMIN_LISTEN, FD_LINK, FD_LOOMD, FD_ADMIN };
struct cd_pollset {
	struct pollfd fds[CD_MAX_FDS];
	uint8_t kind[CD_MAX_FDS];
	uint16_t idx[CD_MAX_FDS];
	int n;
};
void cd_poll_add(struct cd_pollset *ps, int fd, short events, int kind,
                 int idx);

/* controld_peer.c */
int cd_peer_listen(struct controld *ctx, char *err, size_t errlen);
void cd_peer_accept(struct controld *ctx);
void cd_peer_pollfds(struct controld *ctx, struct cd_pollset *ps);
void cd_link_event(struct controld *ctx, int li, short revents);
void cd_peer_timers(struct controld *ctx);
/* Sends what is due on every link (HELLO, TOPOLOGY, EPOCH), e.g. once
 * loomd's epochs are known. */
void cd_links_progress(struct controld *ctx);
/* Queues TOPOLOGY (our current one) on every link past its HELLO. */
void cd_links_send_topology(struct controld *ctx);
/* Closes peer p's link (if any) after what is queued is sent. */
void cd_peer_close_link(struct controld *ctx, int p, const char *why);
/* Closes every link and attached state (shutdown, reload). */
void cd_links_close_all(struct controld *ctx, const char *why);
/* Forgets peer p's secret (wiped). */
void cd_peer_forget_secret(struct peer *p);
/* Every pending (not yet attached) link checks again whether its name is
 * a member now. */
void cd_links_recheck(struct controld *ctx);
/* Records a refusal for status. */
void cd_record_refusal(struct controld *ctx, const char *addr,
                       const char *name, int reason, const char *text);

/* controld_topo.c */
int cd_topo_start(struct controld *ctx, char *err, size_t errlen);
/* Persists t, makes it ours, spreads it and reconciles the peers. from:
 * a node name, or NULL (a local change). 0, or -1 (not saved: nothing
 * changed; err says why). */
int cd_topo_apply(struct controld *ctx, const struct topology *t,
                  const char *from, char *err, size_t errlen);
/* The peer slot of node id, or -1. */
int cd_peer_find(const struct controld *ctx, uint16_t id);

/* controld_loomd.c */
void cd_loomd_pollfds(struct controld *ctx, struct cd_pollset *ps);
void cd_loomd_event(struct controld *ctx, short revents);
void cd_loomd_timers(struct controld *ctx);
void cd_loomd_close(struct controld *ctx, const char *why);
bool cd_loomd_ready(const struct controld *ctx);
/* Whether links may send EPOCH: loomd's epochs are known, or loomd is
 * not there to ask. */
bool cd_loomd_epochs_known(const struct controld *ctx);
/* PEER_SET of peer p's current secret (if loomd is ready). */
void cd_loomd_peer_set(struct controld *ctx, int p);
void cd_loomd_peer_remove(struct controld *ctx, uint16_t id);
/* The topology changed: loomd's node id must still match ours. */
void cd_loomd_check_identity(struct controld *ctx);
/* loomd's last STATUS entry for peer id, or NULL. */
const struct ctl_peer_status *cd_loomd_peer(const struct controld *ctx,
                                            uint16_t id);
const struct ctl_peer_status *cd_loomd_prev_peer(const struct controld *ctx,
                                                 uint16_t id);

/* controld_admin.c */
int cd_admin_listen(struct controld *ctx, char *err, size_t errlen);
void cd_admin_accept(struct controld *ctx);
void cd_admin_pollfds(struct controld *ctx, struct cd_pollset *ps);
void cd_admin_event(struct controld *ctx, int ai, short revents);
void cd_admin_close_all(struct controld *ctx);

/* controld_status.c: the text of a STATUS_REQ / STATS_REQ answer, format
 * CTL_FMT_TEXT or CTL_FMT_JSON, into ctx->text; returns its length. */
size_t cd_render_status(struct controld *ctx, int format);
size_t cd_render_stats(struct controld *ctx, int format);

#endif

/*
 * ctl_server.h - loomd's end of the control socket ([control] socket,
 * docs/CONTROL.md "loomd's control socket"): loom-controld connects here
 * and hands loomd its peers and their keys; loomd answers with the state
 * of its links. The only way peers and keys reach a loomd that has
 * [control] socket.
 *
 * Runs on the main lcore (the slow path), never on an io lcore: a
 * non-blocking Unix stream socket (mode 0600: whoever can write to it
 * decides who this node replicates with), one client at a time (a new
 * connection replaces the old one: loom-controld restarted), common/
 * ctl_msg.h framing. Messages:
 *   HELLO       -> HELLO (our node id, cluster id, name); a version we do
 *                  not speak -> ERROR(VERSION) and close
 *   PEER_SET    -> the repl lcore runs repl_peer_set (session.h) -> OK or
 *                  ERROR(INVALID, the reason)
 *   PEER_REMOVE -> repl_peer_remove -> OK or ERROR(NO_NODE)
 *   STATUS_REQ  -> STATUS (every peer: link, epoch, cursor, lag, ...)
 *   anything else, or a malformed frame -> ERROR(PROTOCOL) and close
 * Requests are answered in order; while one waits for the repl lcore the
 * next ones stay unread.
 *
 * Plain C over struct ctl_server_ops (no DPDK), so the unit tests drive it
 * with a fake repl lcore.
 */
#ifndef LOOM_DATAPLANE_CTL_SERVER_H
#define LOOM_DATAPLANE_CTL_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ctl_msg.h"

struct ctl_server_ops {
	/* Hand PEER_SET (m->type CTL_PEER_SET) or PEER_REMOVE to the repl
	 * lcore: 0 posted, -1 busy (asked again next poll). */
	int (*post)(void *user, const struct ctl_msg *m);
	/* The posted command's result: 1 done (*result: 0 or an errno of
	 * repl_peer_set/_remove), 0 still running. */
	int (*result)(void *user, int *result);
	/* Fill out's node_id, own_seq, now_ms, peers (not req_id). */
	void (*status)(void *user, struct ctl_status *out);
	void *user;
};

struct ctl_server_identity {
	uint16_t node_id;
	uint64_t cluster_id;
	const char *name;
};

struct ctl_server_stats {
	uint64_t clients, replaced, requests, errors, peer_sets, peer_removes,
		status_reqs;
};

struct ctl_server;

/* Listen on path (an existing socket file there is replaced; the parent
 * directory must exist). NULL with *err set (a message) on failure. */
struct ctl_server *ctl_server_create(const char *path,
                                     const struct ctl_server_identity *id,
                                     const struct ctl_server_ops *ops,
                                     char *err, size_t errlen);
/* Accept, read, answer, write: everything that can be done now without
 * blocking. true if anything happened. */
bool ctl_server_poll(struct ctl_server *s);
const struct ctl_server_stats *ctl_server_stats(const struct ctl_server *s);
/* Close the sockets, unlink the path, wipe the buffers. */
void ctl_server_destroy(struct ctl_server *s);

#endif

/*
 * repl_mailbox.h - loom-controld's peer commands from the main lcore (which
 * reads loomd's control socket, ctl_server.h) to the repl lcore, the only
 * thread that may touch its struct repl. One command at a time: the slow
 * path carries a few commands a minute, so a single slot with a state word
 * is all the synchronisation needed, and the repl lcore's fast path pays
 * one relaxed-cost load per poll.
 *
 * state: REPL_MBOX_EMPTY -> (main: fill, release) POSTED -> (repl lcore:
 * run, set result, release) DONE -> (main: read result) EMPTY. Each side
 * writes the fields only in its own states, so no field is ever written
 * by both at once.
 */
#ifndef LOOM_DATAPLANE_REPL_MAILBOX_H
#define LOOM_DATAPLANE_REPL_MAILBOX_H

#include <errno.h>
#include <stdint.h>

#include "dataplane/repl/aead.h"
#include "dataplane/repl/session.h"

enum repl_mbox_state {
	REPL_MBOX_EMPTY = 0,
	REPL_MBOX_POSTED,
	REPL_MBOX_DONE,
};

enum repl_mbox_op {
	REPL_MBOX_PEER_SET = 1, /* repl_peer_set */
	REPL_MBOX_PEER_REMOVE,  /* repl_peer_remove */
};

struct repl_mailbox {
	uint32_t state; /* enum repl_mbox_state, __atomic acquire/release */
	uint8_t op;     /* enum repl_mbox_op */
	uint16_t peer_id;
	uint16_t epoch;
	uint32_t ip_be;
	uint8_t secret[REPL_SECRET_LEN];
	int result;     /* repl_peer_set/_remove's */
};

static inline uint32_t repl_mbox_state(const struct repl_mailbox *m)
{
	return __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
}

static inline void repl_mbox_set_state(struct repl_mailbox *m, uint32_t s)
{
	__atomic_store_n(&m->state, s, __ATOMIC_RELEASE);
}

/* The repl lcore, every poll: run a posted command. */
static inline void repl_mbox_serve(struct repl_mailbox *m, struct repl *r)
{
	if (repl_mbox_state(m) != REPL_MBOX_POSTED)
		return;
	if (m->op == REPL_MBOX_PEER_SET)
		m->result = repl_peer_set(r, m->peer_id, m->ip_be, m->epoch,
		                          m->secret);
	else if (m->op == REPL_MBOX_PEER_REMOVE)
		m->result = repl_peer_remove(r, m->peer_id);
	else
		m->result = EINVAL;
	aead_memzero(m->secret, sizeof m->secret);
	repl_mbox_set_state(m, REPL_MBOX_DONE);
}

#endif

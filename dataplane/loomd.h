/*
 * loomd.h - the loomd process: what main() builds before the lcores start.
 *
 * Everything here is written by the main lcore during start-up and shutdown
 * only; while the worker lcores run it is read-only, except `stop`, which
 * the main lcore sets once and every lcore polls. Per-lcore mutable state
 * lives in struct io_lcore / struct aux_lcore (lcore.h), each owned by its
 * lcore.
 */
#ifndef LOOM_DATAPLANE_LOOMD_H
#define LOOM_DATAPLANE_LOOMD_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/config.h"
#include "dataplane/port/port.h"
#include "dataplane/repl_mailbox.h"

struct ctl_server;

struct io_lcore;
struct aux_lcore;
struct storage_lcore;
struct store;
struct rte_ring;

struct loomd {
	const struct loom_config *cfg;
	struct loom_port port;
	atomic_bool stop;
	uint64_t start_tsc;
	uint64_t tsc_hz;

	uint16_t n_io;                       /* API lcores (REST) */
	struct io_lcore *io[LOOM_MAX_IO_LCORES];
	/* The repl lcore (docs/REPLICATION.md): an io lcore whose queue is
	 * n_io and whose TCP carries the peer links instead of the REST API;
	 * NULL on a single node. */
	struct io_lcore *repl;
	uint16_t n_aux; /* repl lcores */
	struct aux_lcore *aux[LOOM_MAX_REPL_LCORES + 1];
	struct store *store;           /* the node's LMDB environment */
	struct storage_lcore *storage; /* its only writer */
	/* MP/SC: credentials for the main lcore to verify (auth = basic),
	 * so no io lcore ever runs PBKDF2; NULL with auth = none. */
	struct rte_ring *auth_ring;
	/* [control] socket: loom-controld's peers and keys, read by the main
	 * lcore (ctl) and run by the repl lcore (repl_mbox). */
	struct ctl_server *ctl;
	struct repl_mailbox repl_mbox;
};

#endif

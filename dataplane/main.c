/*
 * loomd: the data-plane process. Start-up reads and validates the config,
 * starts EAL (never without --no-pci or an allow-list), opens the port,
 * builds one context per lcore role and launches them; the main lcore then
 * only watches for SIGINT/SIGTERM and publishes counters. Shutdown reverses
 * it: stop flag, join lcores, free their buffers, stop and close the port,
 * EAL cleanup.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "common/config.h"
#include "common/log.h"
#include "dataplane/ctl_server.h"
#include "dataplane/eal.h"
#include "dataplane/http/auth.h"
#include "dataplane/lcore.h"
#include "dataplane/loomd.h"
#include "dataplane/stats_file.h"
#include "dataplane/storage_lcore.h"
#include "dataplane/telemetry.h"
#include "storage/hlc.h"
#include "storage/store.h"

#define LOOMD_VERSION "0.1.0"

/* Signal handlers can only talk through a global; this is the one. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

static void usage(FILE *f)
{
	fputs("usage: loomd --config FILE [-- EXTRA_EAL_ARGS...]\n"
	      "       loomd --check-config FILE\n"
	      "\n"
	      "Loom's data-plane process: DPDK poll-mode lcores running the\n"
	      "network stack, HTTP ingress and replication for one node.\n"
	      "\n"
	      "  -c, --config FILE        run the node FILE describes\n"
	      "      --check-config FILE  validate FILE, print a summary, exit\n"
	      "  -h, --help               this text\n"
	      "  -V, --version            print the version\n"
	      "\n"
	      "Arguments after -- are appended to [eal] args (for example a\n"
	      "--vdev for a test). EAL must be given --no-pci or an explicit\n"
	      "allow-list (-a/--allow); loomd refuses to start otherwise.\n"
	      "Exit status: 0 clean shutdown, 1 error, 2 usage.\n"
	      "The configuration reference is docs/CONFIG.md.\n",
	      f);
}

static int check_config(const char *path)
{
	struct loom_config cfg;
	char err[512];
	if (loom_config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: ok: node %u (%s), %u io lcore(s), main lcore %u\n", path,
	       cfg.node_id, cfg.node_name, cfg.n_io_lcores, cfg.main_lcore);
	return 0;
}

static int check_lcores(const struct loom_config *cfg)
{
	if (rte_get_main_lcore() != cfg->main_lcore) {
		LOG_ERR("loomd", "[lcores] main = %u but EAL's main lcore is %u",
		        cfg->main_lcore, rte_get_main_lcore());
		return -1;
	}
	unsigned ids[LOOM_MAX_IO_LCORES + LOOM_MAX_REPL_LCORES + 1];
	unsigned n = 0;
	for (uint16_t i = 0; i < cfg->n_io_lcores; i++)
		ids[n++] = cfg->io_lcores[i];
	for (uint16_t i = 0; i < cfg->n_repl_lcores; i++)
		ids[n++] = cfg->repl_lcores[i];
	if (cfg->storage_lcore >= 0)
		ids[n++] = (unsigned)cfg->storage_lcore;
	for (unsigned i = 0; i < n; i++) {
		if (!rte_lcore_is_enabled(ids[i])) {
			LOG_ERR("loomd", "[lcores]: lcore %u is not enabled in "
			        "EAL; add it to -l/--lcores in [eal] args",
			        ids[i]);
			return -1;
		}
	}
	return 0;
}

static void destroy_lcores(struct loomd *app)
{
	for (uint16_t i = 0; i < app->n_io; i++)
		io_lcore_destroy(app->io[i]);
	app->n_io = 0;
	io_lcore_destroy(app->repl);
	app->repl = NULL;
	for (uint16_t i = 0; i < app->n_aux; i++)
		aux_lcore_destroy(app->aux[i]);
	app->n_aux = 0;
	/* After the io lcores: their read txns are gone, their buffers
	 * no longer referenced by the rings. */
	storage_lcore_destroy(app->storage);
	app->storage = NULL;
	rte_ring_free(app->auth_ring);
	app->auth_ring = NULL;
	if (app->store != NULL)
		store_close(app->store);
	app->store = NULL;
}

static uint64_t wall_clock_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The LMDB environment and its one writer, before the io lcores that
 * submit to it. */
static int create_storage(struct loomd *app)
{
	const struct loom_config *cfg = app->cfg;
	if (cfg->storage_lcore < 0) {
		LOG_ERR("loomd", "[lcores] storage: no storage lcore; the node "
		        "cannot commit writes without one");
		return -1;
	}
	const struct store_config sc = {
		.path = cfg->storage_path,
		.map_size = cfg->storage_map_size,
		.node_id = cfg->node_id,
		.sync = cfg->sync == LOOM_SYNC_INTERVAL ? STORE_SYNC_INTERVAL
		                                        : STORE_SYNC_COMMIT,
		.clock_ms = wall_clock_ms,
	};
	int rc = store_open(&sc, &app->store);
	if (rc != 0) {
		LOG_ERR("loomd", "[storage] path %s: %s", cfg->storage_path,
		        rc > 0 ? strerror(rc) : mdb_strerror(rc));
		app->store = NULL;
		return -1;
	}
	app->storage = storage_lcore_create(
		app, (unsigned)cfg->storage_lcore, app->store,
		cfg->http_write_pool + cfg->http_large_pool);
	if (app->storage == NULL) {
		LOG_ERR("loomd", "storage lcore: out of memory for its rings");
		return -1;
	}
	if (cfg->auth_mode == LOOM_AUTH_BASIC) {
		/* Room for every job every io lcore can have out at once. */
		app->auth_ring = rte_ring_create(
			"loom_auth", rte_align32pow2(LOOM_MAX_IO_LCORES *
			                             AUTH_OUTSTANDING_MAX + 1),
			(int)rte_socket_id(), RING_F_SC_DEQ);
		if (app->auth_ring == NULL) {
			LOG_ERR("loomd", "no memory for the auth ring");
			return -1;
		}
	}
	LOG_INFO("loomd", "storage %s: sync %s, batch max %u",
	         cfg->storage_path,
	         cfg->sync == LOOM_SYNC_INTERVAL ? "interval" : "commit",
	         cfg->commit_batch_max);
	return 0;
}

static int create_lcores(struct loomd *app)
{
	const struct loom_config *cfg = app->cfg;
	if (create_storage(app) != 0)
		return -1;
	for (uint16_t i = 0; i < cfg->n_io_lcores; i++) {
		app->io[i] = io_lcore_create(app, i, cfg->io_lcores[i],
		                             IO_ROLE_API);
		if (app->io[i] == NULL)
			return -1;
		app->n_io++;
	}
	/* With peers, the first repl lcore carries the links (queue n_io);
	 * further repl lcores wait for multi-lcore replication, idle. */
	uint16_t first_aux = 0;
	if (loom_config_replicates(cfg)) {
		app->repl = io_lcore_create(app, app->n_io, cfg->repl_lcores[0],
		                            IO_ROLE_REPL);
		if (app->repl == NULL)
			return -1;
		first_aux = 1;
	}
	for (uint16_t i = first_aux; i < cfg->n_repl_lcores; i++) {
		struct aux_lcore *a =
			aux_lcore_create(app, AUX_REPL, cfg->repl_lcores[i]);
		if (a == NULL)
			return -1;
		app->aux[app->n_aux++] = a;
	}
	return 0;
}

static int launch_lcores(struct loomd *app)
{
	/* Storage first: io lcores may submit from their first poll. */
	int rc = rte_eal_remote_launch(storage_lcore_main, app->storage,
	                               (unsigned)app->cfg->storage_lcore);
	if (rc != 0) {
		LOG_ERR("loomd", "launch storage lcore %d: %s",
		        app->cfg->storage_lcore, rte_strerror(-rc));
		return -1;
	}
	for (uint16_t i = 0; i < app->n_io; i++) {
		rc = rte_eal_remote_launch(io_lcore_main, app->io[i],
		                           app->io[i]->lcore_id);
		if (rc != 0) {
			LOG_ERR("loomd", "launch io lcore %u: %s",
			        app->io[i]->lcore_id, rte_strerror(-rc));
			return -1;
		}
	}
	if (app->repl != NULL) {
		rc = rte_eal_remote_launch(io_lcore_main, app->repl,
		                           app->repl->lcore_id);
		if (rc != 0) {
			LOG_ERR("loomd", "launch repl lcore %u: %s",
			        app->repl->lcore_id, rte_strerror(-rc));
			return -1;
		}
	}
	for (uint16_t i = 0; i < app->n_aux; i++) {
		rc = rte_eal_remote_launch(aux_lcore_main, app->aux[i],
		                           app->aux[i]->lcore_id);
		if (rc != 0) {
			LOG_ERR("loomd", "launch lcore %u: %s",
			        app->aux[i]->lcore_id, rte_strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* The slow path of authentication: PBKDF2 for credentials the io lcores
 * have not seen, so that none of them stalls for it. */
static bool verify_credentials(struct loomd *app)
{
	if (app->auth_ring == NULL)
		return false;
	void *jobs[16];
	unsigned n = rte_ring_sc_dequeue_burst(app->auth_ring, jobs, 16, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct auth_job *j = jobs[i];
		auth_job_verify(j);
		struct io_lcore *io = app->io[j->owner];
		if (rte_ring_sp_enqueue(io->auth_done, j) != 0)
			LOG_ERR("loomd", "auth verdict ring of io %u full",
			        j->owner); /* cannot happen: sized for all */
	}
	return n != 0;
}

/* --- loom-controld's socket ([control] socket, ctl_server.h) --- */

static int ctl_post(void *user, const struct ctl_msg *m)
{
	struct loomd *app = user;
	struct repl_mailbox *mb = &app->repl_mbox;
	if (app->repl == NULL || repl_mbox_state(mb) != REPL_MBOX_EMPTY)
		return -1;
	if (m->type == CTL_PEER_SET) {
		mb->op = REPL_MBOX_PEER_SET;
		mb->peer_id = m->u.peer_set.peer_id;
		mb->ip_be = m->u.peer_set.ip_be;
		mb->epoch = m->u.peer_set.epoch;
		memcpy(mb->secret, m->u.peer_set.secret, sizeof mb->secret);
	} else {
		mb->op = REPL_MBOX_PEER_REMOVE;
		mb->peer_id = m->u.peer_remove.peer_id;
	}
	repl_mbox_set_state(mb, REPL_MBOX_POSTED);
	return 0;
}

static int ctl_result(void *user, int *result)
{
	struct loomd *app = user;
	struct repl_mailbox *mb = &app->repl_mbox;
	if (repl_mbox_state(mb) != REPL_MBOX_DONE)
		return 0;
	*result = mb->result;
	repl_mbox_set_state(mb, REPL_MBOX_EMPTY);
	return 1;
}

static void sum_rejects(void *arg, const char *reason, uint64_t n)
{
	(void)reason;
	*(uint64_t *)arg += n;
}

/* What /metrics shows of the links (relaxed reads of the repl lcore's
 * fields, as there). */
static void ctl_status(void *user, struct ctl_status *out)
{
	struct loomd *app = user;
	const struct repl *r = app->repl != NULL ? app->repl->repl : NULL;
	uint64_t now_ms = hlc_ms(store_hlc_last(app->store));
	out->node_id = app->cfg->node_id;
	out->own_seq = storage_lcore_own_seq(app->storage);
	out->now_ms = now_ms;
	out->n_peers = 0;
	if (r == NULL)
		return;
	uint64_t rejected = 0;
	repl_rx_rejects(r, sum_rejects, &rejected);
	uint16_t np = repl_peer_count(r);
	for (uint16_t i = 0; i < np && out->n_peers < CTL_STATUS_PEERS_MAX;
	     i++) {
		struct repl_peer_info pi;
		repl_peer_info(r, i, &pi);
		if (pi.removed)
			continue;
		struct ctl_peer_status *ps = &out->peers[out->n_peers++];
		uint64_t at = hlc_ms(pi.last_applied_hlc);
		ps->peer_id = pi.id;
		ps->up = pi.up;
		ps->epoch = pi.epoch;
		ps->cursor = pi.cursor;
		ps->head = pi.head;
		ps->acked = pi.acked;
		ps->sent = pi.sent;
		ps->lag_ms = pi.head > pi.cursor && at != 0 && now_ms > at
		             ? now_ms - at : 0;
		ps->reconnects = pi.reconnects;
		ps->frames_rejected = rejected; /* the node's, not per peer */
	}
}

static int ctl_start(struct loomd *app)
{
	const struct loom_config *cfg = app->cfg;
	if (cfg->control_socket[0] == '\0')
		return 0;
	const struct ctl_server_identity id = {cfg->node_id, cfg->cluster_id,
	                                       cfg->node_name};
	const struct ctl_server_ops ops = {ctl_post, ctl_result, ctl_status,
	                                   app};
	char err[256];
	app->ctl = ctl_server_create(cfg->control_socket, &id, &ops, err,
	                             sizeof err);
	if (app->ctl == NULL) {
		LOG_ERR("loomd", "%s", err);
		return -1;
	}
	LOG_INFO("loomd", "waiting for loom-controld on %s",
	         cfg->control_socket);
	return 0;
}

/* The main lcore's loop: signals, counters and credential checks, nothing
 * on the data path. */
static void main_lcore_loop(struct loomd *app)
{
	const struct loom_config *cfg = app->cfg;
	uint64_t period = app->tsc_hz * cfg->stats_interval_ms / 1000u;
	uint64_t next_stats = rte_get_tsc_cycles();
	bool warned = false;
	while (!got_signal) {
		if (cfg->stats_file[0] != '\0' &&
		    rte_get_tsc_cycles() >= next_stats) {
			if (stats_write_file(app, cfg->stats_file) != 0 &&
			    !warned) {
				LOG_WARN("loomd", "cannot write %s: %s",
				         cfg->stats_file, strerror(errno));
				warned = true;
			}
			next_stats = rte_get_tsc_cycles() + period;
		}
		if (verify_credentials(app))
			continue;
		if (app->ctl != NULL && ctl_server_poll(app->ctl))
			continue;
		/* 2 ms: a first request with new credentials waits at most
		 * this long before its hash starts. */
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	LOG_INFO("loomd", "signal %d: shutting down", (int)got_signal);
}

static int run(const char *path, char **extra, int n_extra)
{
	static struct loom_config cfg; /* large; lives for the process */
	char err[512];
	if (loom_config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	int level = loom_log_level_parse(cfg.log_level);
	loom_log_set_level(level < 0 ? LOOM_LOG_INFO : (enum loom_log_level)level);

	static struct loom_eal_argv eargv;
	if (loom_eal_argv_build(&eargv, &cfg, extra, n_extra) != 0)
		return 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (rte_eal_init(eargv.argc, eargv.argv) < 0) {
		LOG_ERR("loomd", "EAL init failed: %s", rte_strerror(rte_errno));
		return 1;
	}
	static struct loomd app;
	app.cfg = &cfg;
	atomic_init(&app.stop, false);
	app.tsc_hz = rte_get_tsc_hz();
	app.start_tsc = rte_get_tsc_cycles();

	int status = 1;
	if (check_lcores(&cfg) != 0)
		goto out_eal;
	/* One queue pair per io lcore, and one for the repl lcore. */
	if (port_open(&app.port, &cfg, (uint16_t)(cfg.n_io_lcores +
	                                           loom_config_replicates(&cfg))) != 0)
		goto out_eal;
	if (create_lcores(&app) != 0)
		goto out_port;
	LOG_INFO("loomd", "node %u (%s) up: %u io lcore(s), idle sleep max "
	         "%u us", cfg.node_id, cfg.node_name, app.n_io,
	         cfg.idle_sleep_max_us);
	telemetry_register(&app);
	if (launch_lcores(&app) == 0 && ctl_start(&app) == 0)
		status = 0;
	if (status == 0)
		main_lcore_loop(&app);
	ctl_server_destroy(app.ctl);
	app.ctl = NULL;

	telemetry_unregister();
	atomic_store(&app.stop, true);
	rte_eal_mp_wait_lcore();
	if (cfg.stats_file[0] != '\0')
		stats_write_file(&app, cfg.stats_file);
	destroy_lcores(&app);
out_port:
	destroy_lcores(&app);
	port_close(&app.port);
out_eal:
	rte_eal_cleanup();
	if (status == 0)
		LOG_INFO("loomd", "clean shutdown");
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			return check_config(optarg);
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("loomd %s\n", LOOMD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL) {
		fputs("loomd: --config FILE is required\n", stderr);
		usage(stderr);
		return 2;
	}
	/* getopt_long stops at "--"; what follows is extra EAL arguments. */
	return run(config, argv + optind, argc - optind);
}

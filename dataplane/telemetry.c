#include "dataplane/telemetry.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "common/log.h"
#include "dataplane/counters.h"
#include "dataplane/http/rest_server.h"
#include "dataplane/lcore.h"
#include "dataplane/repl/session.h"
#include "dataplane/storage_lcore.h"

/* The one piece of process state the telemetry thread needs; set once
 * before it can be read, cleared before the app is torn down. */
static _Atomic(const struct loomd *) telemetry_app;

struct dict_prefix {
	struct rte_tel_data *d;
	const char *prefix;
};

static void add_prefixed(void *arg, const char *name, uint64_t value)
{
	struct dict_prefix *dp = arg;
	char key[RTE_TEL_MAX_STRING_LEN];
	snprintf(key, sizeof key, "%s_%s", dp->prefix, name);
	rte_tel_data_add_dict_u64(dp->d, key, value);
}

/* Every reply is a dict that starts with the node's identity; NULL while
 * no app is registered (start-up, shutdown). */
static const struct loomd *start_reply(struct rte_tel_data *d)
{
	const struct loomd *app = atomic_load(&telemetry_app);
	if (app == NULL)
		return NULL;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "node", app->cfg->node_name);
	rte_tel_data_add_dict_u64(d, "node_id", app->cfg->node_id);
	return app;
}

static int cmd_stats(const char *cmd, const char *params,
                     struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct loomd *app = start_reply(d);
	if (app == NULL)
		return -1;
	rte_tel_data_add_dict_u64(d, "uptime_ms",
	                          (rte_get_tsc_cycles() - app->start_tsc) *
	                                  1000u / app->tsc_hz);

	struct rte_eth_stats es;
	memset(&es, 0, sizeof es);
	rte_eth_stats_get(app->port.port_id, &es);
	rte_tel_data_add_dict_u64(d, "port_ipackets", es.ipackets);
	rte_tel_data_add_dict_u64(d, "port_opackets", es.opackets);
	rte_tel_data_add_dict_u64(d, "port_imissed", es.imissed);
	rte_tel_data_add_dict_u64(d, "port_ierrors", es.ierrors);
	rte_tel_data_add_dict_u64(d, "port_oerrors", es.oerrors);
	rte_tel_data_add_dict_u64(d, "port_rx_nombuf", es.rx_nombuf);

	struct lcore_counters lc;
	struct net_stats ns;
	struct tcp_stats ts;
	memset(&lc, 0, sizeof lc);
	memset(&ns, 0, sizeof ns);
	memset(&ts, 0, sizeof ts);
	uint64_t conns = 0;
	for (uint16_t i = 0; i < io_tcp_lcore_count(app); i++) {
		const struct io_lcore *io = io_tcp_lcore(app, i);
		counters_add(&lc, &io->c, sizeof lc);
		counters_add(&ns, &io->net.stats, sizeof ns);
		counters_add(&ts, tcp_stack_stats(io->tcp), sizeof ts);
		conns += tcp_stack_conn_count(io->tcp);
	}
	rte_tel_data_add_dict_u64(d, "io_lcores", app->n_io);
	rte_tel_data_add_dict_u64(d, "io_rx_pkts", lc.rx_pkts);
	rte_tel_data_add_dict_u64(d, "io_tx_pkts", lc.tx_pkts);
	rte_tel_data_add_dict_u64(d, "io_tx_drop_full", lc.tx_drop_full);
	rte_tel_data_add_dict_u64(d, "io_no_mbuf", lc.no_mbuf);
	rte_tel_data_add_dict_u64(d, "io_idle_sleeps", lc.idle_sleeps);
	rte_tel_data_add_dict_u64(d, "io_tcp_steer_tx", lc.tcp_steer_tx);
	rte_tel_data_add_dict_u64(d, "net_drops", net_stats_drops(&ns));
	struct dict_prefix net = {d, "net"}, tcp = {d, "tcp"};
	net_stats_foreach(&ns, add_prefixed, &net);
	rte_tel_data_add_dict_u64(d, "tcp_conns", conns);
	tcp_stats_foreach(&ts, add_prefixed, &tcp);

	struct rest_stats rs;
	memset(&rs, 0, sizeof rs);
	uint64_t http_conns = 0;
	for (uint16_t i = 0; i < app->n_io; i++) {
		if (app->io[i]->rest == NULL)
			continue;
		counters_add(&rs, rest_stats(app->io[i]->rest), sizeof rs);
		http_conns += rest_conn_count(app->io[i]->rest);
	}
	rte_tel_data_add_dict_u64(d, "http_conns", http_conns);
#define HTTP_TEL(name) rte_tel_data_add_dict_u64(d, "http_" #name, rs.name);
	REST_STATS_LIST(HTTP_TEL)
#undef HTTP_TEL
	if (app->storage != NULL) {
		struct storage_counters sc;
		memset(&sc, 0, sizeof sc);
		counters_add(&sc, storage_lcore_counters(app->storage),
		             sizeof sc);
		rte_tel_data_add_dict_u64(d, "storage_commits", sc.commits);
		rte_tel_data_add_dict_u64(d, "storage_entries", sc.entries);
		rte_tel_data_add_dict_u64(d, "storage_exists", sc.exists);
		rte_tel_data_add_dict_u64(d, "storage_not_found", sc.not_found);
		rte_tel_data_add_dict_u64(d, "storage_full", sc.full);
		rte_tel_data_add_dict_u64(d, "storage_failed", sc.failed);
		rte_tel_data_add_dict_u64(d, "storage_txn_errors",
		                          sc.txn_errors);
		rte_tel_data_add_dict_u64(d, "storage_commit_ns_total",
		                          sc.commit_ns_total);
		rte_tel_data_add_dict_u64(d, "storage_syncs", sc.syncs);
	}
	return 0;
}

static int cmd_peers(const char *cmd, const char *params,
                     struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct loomd *app = start_reply(d);
	if (app == NULL)
		return -1;
	const struct repl *r = app->repl != NULL ? app->repl->repl : NULL;
	uint16_t np = r != NULL ? repl_peer_count(r) : 0;
	rte_tel_data_add_dict_u64(d, "peers", np);
	/* peer_<id>_<field>: flat, as dpdk-telemetry.py prints dicts. */
	for (uint16_t i = 0; i < np; i++) {
		struct repl_peer_info pi;
		repl_peer_info(r, i, &pi);
		if (pi.removed)
			continue;
		char key[RTE_TEL_MAX_STRING_LEN];
#define PEER_FIELD(field, value)                                             \
	do {                                                                 \
		snprintf(key, sizeof key, "peer_%u_" field, pi.id);          \
		rte_tel_data_add_dict_u64(d, key, (value));                  \
	} while (0)
		PEER_FIELD("up", pi.up);
		PEER_FIELD("cursor", pi.cursor);
		PEER_FIELD("head", pi.head);
		PEER_FIELD("acked", pi.acked);
		PEER_FIELD("sent", pi.sent);
		PEER_FIELD("reconnects", pi.reconnects);
		PEER_FIELD("relay_via", pi.via);
		PEER_FIELD("epoch", pi.epoch);
#undef PEER_FIELD
	}
	return 0;
}

int telemetry_register(const struct loomd *app)
{
	atomic_store(&telemetry_app, app);
	/* Registering twice (a second loomd in one process) is refused by
	 * DPDK; the first registration serves. */
	int rc = rte_telemetry_register_cmd(
		"/loom/stats", cmd_stats,
		"loomd counters: port, io lcores, L2/L3 stack, TCP, HTTP, storage. "
		"No parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd(
			"/loom/peers", cmd_peers,
			"loomd replication peers and links. No parameters");
	if (rc != 0)
		LOG_WARN("telemetry", "registering /loom commands: %d", rc);
	return rc;
}

void telemetry_unregister(void) { atomic_store(&telemetry_app, NULL); }

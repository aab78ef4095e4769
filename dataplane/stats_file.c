#include "dataplane/stats_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dataplane/counters.h"
#include "dataplane/lcore.h"

#define LOAD(x) COUNTER_LOAD(x)

struct json_kv {
	FILE *f;
	bool first;
};

static void kv(void *arg, const char *name, uint64_t value)
{
	struct json_kv *j = arg;
	fprintf(j->f, "%s\"%s\":%" PRIu64, j->first ? "" : ",", name, value);
	j->first = false;
}

static void print_counters(FILE *f, const struct lcore_counters *c)
{
	fprintf(f,
	        "\"polls\":%" PRIu64 ",\"busy_polls\":%" PRIu64
	        ",\"rx_pkts\":%" PRIu64 ",\"tx_pkts\":%" PRIu64
	        ",\"tx_drop_full\":%" PRIu64 ",\"rx_drop_multiseg\":%" PRIu64
	        ",\"tcp_steer_tx\":%" PRIu64 ",\"tcp_steer_rx\":%" PRIu64
	        ",\"tcp_steer_drop\":%" PRIu64 ",\"idle_sleeps\":%" PRIu64
	        ",\"idle_sleep_us\":%" PRIu64 ",\"arp_copy_tx\":%" PRIu64
	        ",\"arp_copy_rx\":%" PRIu64 ",\"arp_copy_drop\":%" PRIu64
	        ",\"no_mbuf\":%" PRIu64,
	        LOAD(c->polls), LOAD(c->busy_polls), LOAD(c->rx_pkts),
	        LOAD(c->tx_pkts), LOAD(c->tx_drop_full),
	        LOAD(c->rx_drop_multiseg), LOAD(c->tcp_steer_tx),
	        LOAD(c->tcp_steer_rx), LOAD(c->tcp_steer_drop),
	        LOAD(c->idle_sleeps), LOAD(c->idle_sleep_us),
	        LOAD(c->arp_copy_tx), LOAD(c->arp_copy_rx),
	        LOAD(c->arp_copy_drop), LOAD(c->no_mbuf));
}

void stats_print_json(const struct loomd *app, FILE *f)
{
	uint64_t up_ms = (rte_get_tsc_cycles() - app->start_tsc) * 1000u /
	                 app->tsc_hz;
	fprintf(f, "{\"node\":\"%s\",\"node_id\":%u,\"uptime_ms\":%" PRIu64,
	        app->cfg->node_name, app->cfg->node_id, up_ms);

	struct rte_eth_stats es;
	memset(&es, 0, sizeof es);
	rte_eth_stats_get(app->port.port_id, &es);
	fprintf(f,
	        ",\"ports\":[{\"port\":%u,\"driver\":\"%s\",\"ipackets\":%" PRIu64
	        ",\"opackets\":%" PRIu64 ",\"ibytes\":%" PRIu64
	        ",\"obytes\":%" PRIu64 ",\"imissed\":%" PRIu64
	        ",\"ierrors\":%" PRIu64 ",\"oerrors\":%" PRIu64
	        ",\"rx_nombuf\":%" PRIu64 "}]",
	        app->port.port_id, app->port.driver, es.ipackets, es.opackets,
	        es.ibytes, es.obytes, es.imissed, es.ierrors, es.oerrors,
	        es.rx_nombuf);

	uint64_t drops = 0, rx = 0, tx = 0, sleeps = 0;
	uint64_t tcp_conns = 0, tcp_established = 0, tcp_retransmits = 0;
	uint64_t tcp_cookies_ok = 0;
	struct fault_stats faults = {0};
	fputs(",\"lcores\":[", f);
	for (uint16_t i = 0; i < io_tcp_lcore_count(app); i++) {
		const struct io_lcore *io = io_tcp_lcore(app, i);
		struct net_stats ns = {0};
		counters_add(&ns, &io->net.stats, sizeof ns);
		fprintf(f, "%s{\"lcore\":%u,\"role\":\"%s\",\"queue\":%u,",
		        i ? "," : "", io->lcore_id,
		        io->role == IO_ROLE_REPL ? "repl" : "io", io->queue);
		print_counters(f, &io->c);
		fprintf(f, ",\"fault\":{\"dropped\":%" PRIu64
		        ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64
		        ",\"corrupted\":%" PRIu64 "}",
		        LOAD(io->fault_rx.stats.dropped) +
		                LOAD(io->fault_tx.stats.dropped),
		        LOAD(io->fault_rx.stats.duplicated) +
		                LOAD(io->fault_tx.stats.duplicated),
		        LOAD(io->fault_rx.stats.reordered) +
		                LOAD(io->fault_tx.stats.reordered),
		        LOAD(io->fault_rx.stats.corrupted) +
		                LOAD(io->fault_tx.stats.corrupted));
		faults.dropped += LOAD(io->fault_rx.stats.dropped) +
		                  LOAD(io->fault_tx.stats.dropped);
		fputs(",\"net\":{", f);
		struct json_kv j = {f, true};
		net_stats_foreach(&ns, kv, &j);
		fputs("}", f);

		struct tcp_stats ts = {0};
		counters_add(&ts, tcp_stack_stats(io->tcp), sizeof ts);
		uint32_t conns = tcp_stack_conn_count(io->tcp);
		fprintf(f, ",\"tcp\":{\"conns\":%u", conns);
		j.first = false;
		tcp_stats_foreach(&ts, kv, &j);
		fputs("}", f);
		tcp_conns += conns;
		tcp_established += ts.established;
		tcp_retransmits += ts.retransmits;
		tcp_cookies_ok += ts.syn_cookies_ok;

		const struct echo_stats *ec = &io->echo.stats;
		fprintf(f, ",\"echo\":{\"accepted\":%" PRIu64
		        ",\"connected\":%" PRIu64 ",\"connect_failed\":%" PRIu64
		        ",\"closed_ok\":%" PRIu64 ",\"closed_error\":%" PRIu64
		        ",\"bytes\":%" PRIu64 "}}",
		        LOAD(ec->accepted), LOAD(ec->connected),
		        LOAD(ec->connect_failed), LOAD(ec->closed_ok),
		        LOAD(ec->closed_error), LOAD(ec->bytes));
		drops += net_stats_drops(&ns) + LOAD(io->c.rx_drop_multiseg);
		rx += LOAD(io->c.rx_pkts);
		tx += LOAD(io->c.tx_pkts);
		sleeps += LOAD(io->c.idle_sleeps);
	}
	for (uint16_t i = 0; i < app->n_aux; i++) {
		const struct aux_lcore *aux = app->aux[i];
		fprintf(f, ",{\"lcore\":%u,\"role\":\"%s\",", aux->lcore_id,
		        aux_role_name(aux->role));
		print_counters(f, &aux->c);
		fputs("}", f);
		sleeps += LOAD(aux->c.idle_sleeps);
	}
	fprintf(f,
	        "],\"totals\":{\"net_drops\":%" PRIu64 ",\"rx_pkts\":%" PRIu64
	        ",\"tx_pkts\":%" PRIu64 ",\"idle_sleeps\":%" PRIu64
	        ",\"fault_dropped\":%" PRIu64 ",\"tcp_conns\":%" PRIu64
	        ",\"tcp_established\":%" PRIu64 ",\"tcp_retransmits\":%" PRIu64
	        ",\"tcp_syn_cookies_ok\":%" PRIu64 "}}\n",
	        drops, rx, tx, sleeps, faults.dropped, tcp_conns,
	        tcp_established, tcp_retransmits, tcp_cookies_ok);
}

int stats_write_file(const struct loomd *app, const char *path)
{
	char tmp[LOOM_PATH_MAX + 8];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	stats_print_json(app, f);
	if (fclose(f) != 0) {
		remove(tmp);
		return -1;
	}
	return rename(tmp, path);
}

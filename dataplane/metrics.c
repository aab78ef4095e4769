#include "dataplane/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ring.h>

#include "dataplane/counters.h"
#include "dataplane/http/rest_server.h"
#include "dataplane/lcore.h"
#include "dataplane/repl/session.h"
#include "dataplane/storage_lcore.h"
#include "storage/batch.h"

struct out {
	char *buf;
	size_t cap, len;
	bool full;
};

/* Append one line; a line that does not fit ends the output there. */
static void line(struct out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

static void counter(struct out *o, const char *name, const char *help,
                    uint64_t v)
{
	line(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
	     name, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help,
                  uint64_t v)
{
	line(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name,
	     name, (unsigned long long)v);
}

struct prefixed {
	struct out *o;
	const char *prefix;
};

static void each_counter(void *arg, const char *name, uint64_t value)
{
	struct prefixed *p = arg;
	line(p->o, "# TYPE loom_%s_%s_total counter\nloom_%s_%s_total %llu\n",
	     p->prefix, name, p->prefix, name, (unsigned long long)value);
}

static void http_metrics(struct out *o, const struct loomd *app)
{
	struct rest_stats st;
	memset(&st, 0, sizeof st);
	uint64_t conns = 0, auth[4] = {0}, a[4];
	for (uint16_t i = 0; i < app->n_io; i++) {
		const struct io_lcore *io = app->io[i];
		if (io->rest == NULL)
			continue;
		counters_add(&st, rest_stats(io->rest), sizeof st);
		conns += rest_conn_count(io->rest);
		rest_auth_counters(io->rest, a);
		for (int k = 0; k < 4; k++)
			auth[k] += a[k];
	}
	counter(o, "loom_http_requests_total", "HTTP requests parsed",
	        st.requests);
	line(o, "# HELP loom_http_responses_total HTTP responses by status\n"
	        "# TYPE loom_http_responses_total counter\n");
	for (int i = 0; i < REST_ST_OTHER; i++)
		line(o, "loom_http_responses_total{code=\"%d\"} %llu\n",
		     rest_status_code((enum rest_status_idx)i),
		     (unsigned long long)st.status[i]);
	line(o, "loom_http_responses_total{code=\"other\"} %llu\n",
	     (unsigned long long)st.status[REST_ST_OTHER]);
	line(o, "# HELP loom_http_requests_by_method_total requests by method\n"
	        "# TYPE loom_http_requests_by_method_total counter\n"
	        "loom_http_requests_by_method_total{method=\"GET\"} %llu\n"
	        "loom_http_requests_by_method_total{method=\"POST\"} %llu\n"
	        "loom_http_requests_by_method_total{method=\"PUT\"} %llu\n"
	        "loom_http_requests_by_method_total{method=\"DELETE\"} %llu\n"
	        "loom_http_requests_by_method_total{method=\"HEAD\"} %llu\n"
	        "loom_http_requests_by_method_total{method=\"other\"} %llu\n",
	     (unsigned long long)st.req_get, (unsigned long long)st.req_post,
	     (unsigned long long)st.req_put, (unsigned long long)st.req_delete,
	     (unsigned long long)st.req_head,
	     (unsigned long long)st.req_other);
	gauge(o, "loom_http_connections", "open HTTP connections", conns);
	counter(o, "loom_http_connections_accepted_total",
	        "HTTP connections accepted", st.accepted);
	counter(o, "loom_http_connections_refused_total",
	        "connections refused: no free slot", st.refused);
	counter(o, "loom_http_writes_submitted_total",
	        "writes handed to the storage lcore", st.writes_submitted);
	counter(o, "loom_http_writes_completed_total",
	        "writes answered by the storage lcore", st.writes_completed);
	counter(o, "loom_http_writes_orphaned_total",
	        "committed writes whose client had gone", st.writes_orphaned);
	counter(o, "loom_http_backpressure_waits_total",
	        "requests that waited for a buffer or ring slot",
	        st.backpressure_waits);
	counter(o, "loom_http_backpressure_503_total",
	        "requests refused after backpressure_timeout_ms",
	        st.backpressure_503);
	counter(o, "loom_http_timeouts_total",
	        "requests not completed within header_timeout_ms (408)",
	        st.timeouts_408);
	counter(o, "loom_http_idle_closed_total",
	        "connections closed after idle_timeout_ms", st.idle_closed);
	counter(o, "loom_http_aborted_total",
	        "connections reset: an answer had nowhere to go", st.aborted);
	counter(o, "loom_http_continues_total", "100 Continue sent",
	        st.continues);
	counter(o, "loom_http_ids_generated_total", "UUIDv4 ids assigned",
	        st.ids_generated);
	counter(o, "loom_http_received_bytes_total", "request bytes consumed",
	        st.bytes_in);
	counter(o, "loom_http_sent_bytes_total", "response bytes sent",
	        st.bytes_out);
	line(o, "# HELP loom_http_write_latency_seconds submission to "
	        "commit completion, as seen by the io lcore\n"
	        "# TYPE loom_http_write_latency_seconds histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i < REST_LAT_BUCKETS - 1; i++) {
		cum += st.write_lat[i];
		line(o, "loom_http_write_latency_seconds_bucket{le=\"%g\"} %llu\n",
		     rest_lat_bounds_us[i] / 1e6, (unsigned long long)cum);
	}
	cum += st.write_lat[REST_LAT_BUCKETS - 1];
	line(o, "loom_http_write_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	        "loom_http_write_latency_seconds_sum %.6f\n"
	        "loom_http_write_latency_seconds_count %llu\n",
	     (unsigned long long)cum, st.write_lat_us_sum / 1e6,
	     (unsigned long long)cum);
	counter(o, "loom_auth_checks_total", "credential checks", auth[0]);
	counter(o, "loom_auth_cache_hits_total",
	        "checks answered from the verified-credentials cache", auth[1]);
	counter(o, "loom_auth_slow_hashes_total", "PBKDF2 computations",
	        auth[2]);
	counter(o, "loom_auth_failures_total", "checks that failed", auth[3]);
}

static void storage_metrics(struct out *o, const struct loomd *app,
                            struct store_reader *reader)
{
	if (app->storage == NULL)
		return;
	struct storage_counters sc;
	memset(&sc, 0, sizeof sc);
	counters_add(&sc, storage_lcore_counters(app->storage), sizeof sc);
	counter(o, "loom_storage_commits_total", "LMDB write txns committed",
	        sc.commits);
	counter(o, "loom_storage_entries_total",
	        "write requests processed, whatever their result", sc.entries);
	counter(o, "loom_storage_txn_errors_total",
	        "group commits aborted by an LMDB error", sc.txn_errors);
	line(o, "# HELP loom_storage_writes_total writes by result\n"
	        "# TYPE loom_storage_writes_total counter\n"
	        "loom_storage_writes_total{op=\"post\"} %llu\n"
	        "loom_storage_writes_total{op=\"put\"} %llu\n"
	        "loom_storage_writes_total{op=\"delete\"} %llu\n"
	        "loom_storage_writes_total{result=\"exists\"} %llu\n"
	        "loom_storage_writes_total{result=\"not_found\"} %llu\n"
	        "loom_storage_writes_total{result=\"invalid\"} %llu\n"
	        "loom_storage_writes_total{result=\"full\"} %llu\n"
	        "loom_storage_writes_total{result=\"failed\"} %llu\n",
	     (unsigned long long)sc.posts, (unsigned long long)sc.puts,
	     (unsigned long long)sc.deletes, (unsigned long long)sc.exists,
	     (unsigned long long)sc.not_found, (unsigned long long)sc.invalid,
	     (unsigned long long)sc.full,
	     (unsigned long long)sc.failed);
	static const char *const le[8] = {"1", "3", "7", "15", "31", "63",
	                                  "127", "+Inf"};
	line(o, "# HELP loom_storage_batch_size requests per group commit\n"
	        "# TYPE loom_storage_batch_size histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i < 8; i++) {
		cum += sc.batch_hist[i];
		line(o, "loom_storage_batch_size_bucket{le=\"%s\"} %llu\n", le[i],
		     (unsigned long long)cum);
	}
	line(o, "loom_storage_batch_size_sum %llu\n"
	        "loom_storage_batch_size_count %llu\n",
	     (unsigned long long)sc.entries, (unsigned long long)cum);
	line(o, "# HELP loom_storage_commit_seconds_total time in commits\n"
	        "# TYPE loom_storage_commit_seconds_total counter\n"
	        "loom_storage_commit_seconds_total %.6f\n",
	     sc.commit_ns_total / 1e9);
	counter(o, "loom_storage_syncs_total", "periodic syncs (interval mode)",
	        sc.syncs);
	line(o, "# HELP loom_storage_ring_depth writes waiting per io lcore\n"
	        "# TYPE loom_storage_ring_depth gauge\n");
	for (uint16_t i = 0; i < app->n_io; i++)
		line(o, "loom_storage_ring_depth{io=\"%u\"} %u\n", (unsigned)i,
		     storage_lcore_in_depth(app->storage, i));
	uint64_t n;
	if (reader != NULL && store_record_count(reader, &n) == 0)
		gauge(o, "loom_storage_records",
		      "records in LMDB, tombstones included", n);
	gauge(o, "loom_storage_own_seq", "the last seq of this node's origin",
	      storage_lcore_own_seq(app->storage));
	counter(o, "loom_storage_prunes_total",
	        "log retention txns committed", sc.prunes);
	counter(o, "loom_storage_pruned_entries_total",
	        "log entries deleted by log retention", sc.pruned_entries);
	counter(o, "loom_storage_prune_errors_total",
	        "log retention steps that failed", sc.prune_errors);
	counter(o, "loom_storage_copy_records_total",
	        "records received by merge copy (LWW-applied or not)",
	        sc.copy_records);
	counter(o, "loom_storage_copy_superseded_total",
	        "merge-copied records that lost to ours (older or equal)",
	        sc.copy_superseded);
	if (reader == NULL)
		return;
	/* Per origin in cursors: the log floor (log.<origin> holds every seq
	 * in (floor, cursor]) and the oldest seq still in the log, 0 when the
	 * log is empty or absent. One family after the other: Prometheus
	 * wants each one's samples together. */
	for (int fam = 0; fam < 2; fam++) {
		const char *name = fam == 0 ? "loom_storage_log_floor"
		                            : "loom_storage_log_oldest";
		struct store_cursor_iter ci;
		uint16_t origin;
		uint64_t cur;
		if (store_cursor_iter_open(reader, 0, &ci) != 0) {
			store_cursor_iter_close(&ci);
			break;
		}
		line(o, "# HELP %s %s\n# TYPE %s gauge\n", name,
		     fam == 0 ? "seqs of the origin at or below it may be "
		                "gone from its log"
		              : "first seq still in the origin's log (0: "
		                "empty)",
		     name);
		while (store_cursor_iter_next(&ci, &origin, &cur) == 0) {
			uint64_t v = 0;
			int rc = fam == 0 ? store_log_floor(reader, origin, &v)
			                  : store_log_oldest(reader, origin, &v);
			if (rc != 0)
				v = 0;
			line(o, "%s{origin=\"%u\"} %llu\n", name,
			     (unsigned)origin, (unsigned long long)v);
		}
		store_cursor_iter_close(&ci);
	}
	/* Per table: live records and the order-independent digest that is
	 * equal on every node once they have converged. */
	struct store_digest_iter it;
	if (store_digest_iter_open(reader, &it) != 0)
		return;
	char table[64];
	uint64_t recs, sum;
	line(o, "# HELP loom_storage_table_records live records per table\n"
	        "# TYPE loom_storage_table_records gauge\n"
	        "# HELP loom_storage_table_digest digest of a table's live "
	        "records (sum of SipHash terms mod 2^64)\n"
	        "# TYPE loom_storage_table_digest gauge\n");
	while (store_digest_next(&it, table, sizeof table, &recs, &sum) == 0)
		line(o, "loom_storage_table_records{table=\"%s\"} %llu\n"
		        "loom_storage_table_digest{table=\"%s\"} %llu\n",
		     table, (unsigned long long)recs, table,
		     (unsigned long long)sum);
	store_digest_iter_close(&it);
}

struct reject_out {
	struct out *o;
};

static void each_reject(void *arg, const char *reason, uint64_t n)
{
	struct reject_out *r = arg;
	line(r->o, "loom_repl_frames_rejected_total{reason=\"%s\"} %llu\n",
	     reason, (unsigned long long)n);
}

static void repl_metrics(struct out *o, const struct loomd *app)
{
	if (app->repl == NULL || app->repl->repl == NULL) {
		gauge(o, "loom_repl_peers", "replication peers", 0);
		return;
	}
	const struct repl *r = app->repl->repl;
	uint16_t all = repl_peer_count(r), np = 0;
	struct repl_peer_info pi[LOOM_MAX_PEERS];
	for (uint16_t i = 0; i < all && i < LOOM_MAX_PEERS; i++) {
		repl_peer_info(r, i, &pi[np]);
		if (!pi[np].removed) /* removed from the cluster: not shown */
			np++;
	}
	gauge(o, "loom_repl_peers", "replication peers", np);
	uint64_t now_ms = hlc_ms(store_hlc_last(app->store));
	line(o, "# HELP loom_repl_peer_up 1 while the link is up\n"
	        "# TYPE loom_repl_peer_up gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_peer_up{peer=\"%u\"} %d\n", pi[i].id,
		     pi[i].up ? 1 : 0);
	line(o, "# HELP loom_repl_peer_epoch the key epoch of the peer's "
	        "links (0: no key yet)\n# TYPE loom_repl_peer_epoch gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_peer_epoch{peer=\"%u\"} %u\n", pi[i].id,
		     pi[i].epoch);
	line(o, "# HELP loom_repl_relay_via the peer relaying an origin to us "
	        "while its own link is down (0: none)\n"
	        "# TYPE loom_repl_relay_via gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_relay_via{origin=\"%u\"} %u\n", pi[i].id,
		     pi[i].via);
	line(o, "# HELP loom_repl_cursor highest contiguous seq of an origin "
	        "applied here\n# TYPE loom_repl_cursor gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_cursor{origin=\"%u\"} %llu\n", pi[i].id,
		     (unsigned long long)pi[i].cursor);
	line(o, "# HELP loom_repl_origin_head highest seq the origin said it "
	        "has\n# TYPE loom_repl_origin_head gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_origin_head{origin=\"%u\"} %llu\n", pi[i].id,
		     (unsigned long long)pi[i].head);
	line(o, "# HELP loom_repl_lag_entries origin head minus cursor\n"
	        "# TYPE loom_repl_lag_entries gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_lag_entries{origin=\"%u\"} %llu\n", pi[i].id,
		     (unsigned long long)(pi[i].head > pi[i].cursor
		                          ? pi[i].head - pi[i].cursor : 0));
	line(o, "# HELP loom_repl_lag_seconds age of the last entry applied "
	        "from the origin while it lags\n"
	        "# TYPE loom_repl_lag_seconds gauge\n");
	for (uint16_t i = 0; i < np; i++) {
		double lag = 0;
		uint64_t at = hlc_ms(pi[i].last_applied_hlc);
		if (pi[i].head > pi[i].cursor && at != 0 && now_ms > at)
			lag = (double)(now_ms - at) / 1000.0;
		line(o, "loom_repl_lag_seconds{origin=\"%u\"} %.3f\n", pi[i].id,
		     lag);
	}
	line(o, "# HELP loom_repl_peer_acked our origin's seq the peer "
	        "acknowledged\n# TYPE loom_repl_peer_acked gauge\n");
	for (uint16_t i = 0; i < np; i++)
		line(o, "loom_repl_peer_acked{peer=\"%u\"} %llu\n", pi[i].id,
		     (unsigned long long)pi[i].acked);
	line(o, "# HELP loom_repl_frames_rejected_total frames that failed "
	        "to open, by reason\n"
	        "# TYPE loom_repl_frames_rejected_total counter\n");
	struct reject_out ro = {o};
	repl_rx_rejects(r, each_reject, &ro);
	struct repl_stats st;
	memset(&st, 0, sizeof st);
	counters_add(&st, repl_stats(r), sizeof st);
	struct prefixed pr = {o, "repl"};
#define REPL_METRIC(name) each_counter(&pr, #name, st.name);
	REPL_STATS_LIST(REPL_METRIC)
#undef REPL_METRIC
}

size_t metrics_render(const struct loomd *app, struct store_reader *reader,
                      char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, cap == 0};
	gauge(&o, "loom_node_id", "this node's id", app->cfg->node_id);
	http_metrics(&o, app);
	storage_metrics(&o, app, reader);
	repl_metrics(&o, app);

	struct lcore_counters lc;
	struct net_stats ns;
	struct tcp_stats ts;
	memset(&lc, 0, sizeof lc);
	memset(&ns, 0, sizeof ns);
	memset(&ts, 0, sizeof ts);
	for (uint16_t i = 0; i < io_tcp_lcore_count(app); i++) {
		const struct io_lcore *io = io_tcp_lcore(app, i);
		counters_add(&lc, &io->c, sizeof lc);
		counters_add(&ns, &io->net.stats, sizeof ns);
		counters_add(&ts, tcp_stack_stats(io->tcp), sizeof ts);
	}
	counter(&o, "loom_io_rx_packets_total", "frames received", lc.rx_pkts);
	counter(&o, "loom_io_tx_packets_total", "frames sent", lc.tx_pkts);
	counter(&o, "loom_io_no_mbuf_total", "mbuf pool empty", lc.no_mbuf);
	struct prefixed pn = {&o, "net"}, pt = {&o, "tcp"};
	net_stats_foreach(&ns, each_counter, &pn);
	tcp_stats_foreach(&ts, each_counter, &pt);
	return o.len;
}

/*
 * controld_status.c - what `loomctl status` and `loomctl stats` print,
 * rendered here as text or JSON (docs/CONTROL.md "loom-controld" gives
 * both shapes). The text is ASCII: anything else in a reason is shown as
 * '?', so a TEXT frame always takes it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control/controld_ctx.h"
#include "control/pki.h"

struct sb {
	char *p;
	size_t cap, len;
};

static void sb_printf(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	if (b->len + 1 >= b->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->len += (size_t)n;
	if (b->len >= b->cap)
		b->len = b->cap - 1;
}

static void sb_char(struct sb *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->p[b->len++] = c;
		b->p[b->len] = '\0';
	}
}

/* ASCII only: a control character or a byte over 0x7e becomes '?'. */
static void sb_text(struct sb *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		sb_char(b, c < 0x20 || c > 0x7e ? '?' : (char)c);
	}
}

static void sb_json(struct sb *b, const char *s)
{
	sb_char(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			sb_char(b, '\\');
			sb_char(b, (char)c);
		} else if (c < 0x20 || c > 0x7e) {
			sb_printf(b, "\\u%04x", c < 0x80 ? c : '?');
		} else {
			sb_char(b, (char)c);
		}
	}
	sb_char(b, '"');
}

static void sb_json_time(struct sb *b, int64_t ms)
{
	char t[PKI_TIME_LEN];
	if (ms <= 0) {
		sb_printf(b, "null");
		return;
	}
	pki_time_format((time_t)(ms / 1000), t);
	sb_printf(b, "\"%s\"", t);
}

static struct sb sb_start(struct controld *ctx)
{
	struct sb b = {.p = ctx->text, .cap = CTL_TEXT_MAX + 1};
	b.p[0] = '\0';
	return b;
}

static const char *control_state(const struct controld *ctx,
                                 const struct peer *pe)
{
	if (pe->up)
		return "up";
	if (pe->link >= 0 && ctx->links[pe->link].state != LINK_FREE)
		return "connecting";
	return "down";
}

static double seconds_since(int64_t then_ms)
{
	int64_t now = cd_wall_ms();
	return then_ms > 0 && now > then_ms ? (double)(now - then_ms) / 1000.0
	                                    : 0.0;
}

/* Entries per second applied from peer id over the last STATUS interval. */
static double rate(const struct controld *ctx, uint16_t id)
{
	const struct ctl_peer_status *a = cd_loomd_prev_peer(ctx, id);
	const struct ctl_peer_status *b = cd_loomd_peer(ctx, id);
	uint64_t dt = ctx->loomd.st_at - ctx->loomd.prev_at;
	if (a == NULL || b == NULL || dt == 0 || b->cursor < a->cursor)
		return 0.0;
	return (double)(b->cursor - a->cursor) * 1000.0 / (double)dt;
}

static void node_line(struct controld *ctx, struct sb *b, bool json)
{
	char listen[TOPO_ADDR_STR];
	topo_addr_str(ctx->cfg.listen_ip_be, ctx->cfg.listen_port, listen);
	const struct loomd_link *L = &ctx->loomd;
	uint64_t age = L->have_st ? ctx->now - L->st_at : 0;
	if (json) {
		sb_printf(b, "{\"node\":{\"name\":");
		sb_json(b, ctx->name);
		sb_printf(b, ",\"id\":%u,\"member\":%s,\"topology_version\":"
		          "%llu,\"cluster_id\":\"%016llx\",\"nodes\":%u,"
		          "\"listen\":\"%s\",\"uptime_s\":%.1f},", ctx->self_id,
		          ctx->self_id != 0 ? "true" : "false",
		          (unsigned long long)ctx->topo.version,
		          (unsigned long long)ctx->topo.cluster_id,
		          ctx->topo.n, listen, seconds_since(ctx->started_ms));
		sb_printf(b, "\"loomd\":{\"connected\":%s,\"node_id\":%u,"
		          "\"own_seq\":%llu,\"status_age_ms\":",
		          cd_loomd_ready(ctx) ? "true" : "false", L->node_id,
		          (unsigned long long)(L->have_st ? L->st.own_seq : 0));
		if (L->have_st)
			sb_printf(b, "%llu},", (unsigned long long)age);
		else
			sb_printf(b, "null},");
		return;
	}
	sb_printf(b, "node %s (", ctx->name);
	if (ctx->self_id != 0)
		sb_printf(b, "id %u", ctx->self_id);
	else
		sb_printf(b, "not a member");
	sb_printf(b, "), topology version %llu (%u nodes), cluster %016llx, "
	          "listening on %s\n", (unsigned long long)ctx->topo.version,
	          ctx->topo.n, (unsigned long long)ctx->topo.cluster_id,
	          listen);
	if (cd_loomd_ready(ctx))
		sb_printf(b, "loomd: connected (node %u), own seq %llu, status "
		          "%.1f s old\n", L->node_id,
		          (unsigned long long)(L->have_st ? L->st.own_seq : 0),
		          (double)age / 1000.0);
	else
		sb_printf(b, "loomd: not connected (%s)\n",
		          ctx->cfg.loomd_socket);
}

size_t cd_render_status(struct controld *ctx, int format)
{
	struct sb b = sb_start(ctx);
	bool json = format == CTL_FMT_JSON;
	node_line(ctx, &b, json);
	if (json)
		sb_printf(&b, "\"peers\":[");
	else
		sb_printf(&b, "%-5s %-16s %-22s %-5s %-6s %-9s %-8s %-22s %s\n",
		          "ID", "NAME", "CONTROL", "DATA", "EPOCH", "LAG", "LAG_S",
		          "CURSOR/ACKED", "ENTRIES/S");
	bool first = true;
	for (uint16_t i = 0; i < ctx->topo.n; i++) {
		const struct topo_node *n = &ctx->topo.nodes[i];
		int p = cd_peer_find(ctx, n->id);
		if (p < 0)
			continue;
		const struct peer *pe = &ctx->peers[p];
		const struct ctl_peer_status *d = cd_loomd_peer(ctx, n->id);
		uint64_t lag = d != NULL && d->head > d->cursor
		               ? d->head - d->cursor : 0;
		double lag_s = d != NULL ? (double)d->lag_ms / 1000.0 : 0.0;
		char mgmt[TOPO_ADDR_STR], dp[TOPO_ADDR_STR];
		topo_addr_str(n->mgmt_ip_be, n->mgmt_port, mgmt);
		topo_addr_str(n->dp_ip_be, 0, dp);
		if (json) {
			sb_printf(&b, "%s{\"id\":%u,\"name\":", first ? "" : ",",
			          n->id);
			sb_json(&b, n->name);
			sb_printf(&b, ",\"mgmt\":\"%s\",\"dp\":\"%s\","
			          "\"dialler\":%s,\"control\":\"%s\","
			          "\"control_since\":", mgmt, dp,
			          pe->dialler ? "true" : "false",
			          control_state(ctx, pe));
			sb_json_time(&b, pe->since_ms);
			sb_printf(&b, ",\"control_for_s\":%.1f,\"links_up\":"
			          "%llu,\"last_refusal\":",
			          seconds_since(pe->since_ms),
			          (unsigned long long)pe->ups);
			if (pe->refusal[0] != '\0')
				sb_json(&b, pe->refusal);
			else
				sb_printf(&b, "null");
			sb_printf(&b, ",\"last_refusal_at\":");
			sb_json_time(&b, pe->refusal[0] ? pe->refusal_ms : 0);
			sb_printf(&b, ",\"epoch\":%u,\"data_up\":%s,"
			          "\"data_epoch\":%u,\"lag_entries\":%llu,"
			          "\"lag_s\":%.3f,\"cursor\":%llu,\"head\":%llu,"
			          "\"acked\":%llu,\"sent\":%llu,"
			          "\"entries_per_s\":%.1f,\"reconnects\":%llu,"
			          "\"frames_rejected\":%llu}",
			          pe->has_secret ? pe->secret_epoch : 0,
			          d != NULL && d->up ? "true" : "false",
			          d != NULL ? d->epoch : 0,
			          (unsigned long long)lag, lag_s,
			          (unsigned long long)(d ? d->cursor : 0),
			          (unsigned long long)(d ? d->head : 0),
			          (unsigned long long)(d ? d->acked : 0),
			          (unsigned long long)(d ? d->sent : 0),
			          rate(ctx, n->id),
			          (unsigned long long)(d ? d->reconnects : 0),
			          (unsigned long long)(d ? d->frames_rejected
			                                 : 0));
		} else {
			char ctl[64], ca[48];
			snprintf(ctl, sizeof ctl, "%s %.0fs%s",
			         control_state(ctx, pe),
			         seconds_since(pe->since_ms),
			         pe->dialler ? " (dial)" : "");
			snprintf(ca, sizeof ca, "%llu/%llu",
			         (unsigned long long)(d ? d->cursor : 0),
			         (unsigned long long)(d ? d->acked : 0));
			sb_printf(&b, "%-5u %-16s %-22s %-5s %-6u %-9llu "
			          "%-8.3f %-22s %.1f\n", n->id, n->name, ctl,
			          d == NULL ? "-" : d->up ? "up" : "down",
			          pe->has_secret ? pe->secret_epoch : 0,
			          (unsigned long long)lag, lag_s, ca,
			          rate(ctx, n->id));
			if (pe->refusal[0] != '\0') {
				sb_printf(&b, "      last refusal %.0f s ago: ",
				          seconds_since(pe->refusal_ms));
				sb_text(&b, pe->refusal);
				sb_char(&b, '\n');
			}
		}
		first = false;
	}
	unsigned n_rec = ctx->n_recent < CD_RECENT ? ctx->n_recent : CD_RECENT;
	if (json)
		sb_printf(&b, "],\"refusals\":[");
	else if (n_rec > 0)
		sb_printf(&b, "recent refusals (%u in all):\n", ctx->n_recent);
	for (unsigned k = 0; k < n_rec; k++) {
		/* newest first */
		const struct cd_refusal_rec *r =
			&ctx->recent[(ctx->n_recent - 1 - k) % CD_RECENT];
		if (json) {
			sb_printf(&b, "%s{\"at\":", k ? "," : "");
			sb_json_time(&b, r->at_ms);
			sb_printf(&b, ",\"addr\":\"%s\",\"name\":", r->addr);
			if (r->name[0] != '\0')
				sb_json(&b, r->name);
			else
				sb_printf(&b, "null");
			sb_printf(&b, ",\"reason\":\"%s\",\"text\":",
			          cd_refusal_name(r->reason));
			sb_json(&b, r->text);
			sb_char(&b, '}');
		} else {
			sb_printf(&b, "  %.0f s ago %s %s [%s] ",
			          seconds_since(r->at_ms), r->addr,
			          r->name[0] ? r->name : "-",
			          cd_refusal_name(r->reason));
			sb_text(&b, r->text);
			sb_char(&b, '\n');
		}
	}
	if (json)
		sb_printf(&b, "]}\n");
	return b.len;
}

size_t cd_render_stats(struct controld *ctx, int format)
{
	struct sb b = sb_start(ctx);
	bool json = format == CTL_FMT_JSON;
	const struct cd_stats *s = &ctx->st;
	const struct {
		const char *name;
		uint64_t v;
	} c[] = {
		{"handshakes_ok", s->handshakes_ok},
		{"handshakes_failed", s->handshakes_failed},
		{"dial_failures", s->dial_failures},
		{"links_up", s->links_up},
		{"links_down", s->links_down},
		{"dead_links", s->dead_links},
		{"rekeys", s->rekeys},
		{"epochs", s->epochs},
		{"topology_adopted", s->topo_adopted},
		{"topology_changes", s->topo_changes},
		{"peer_sets", s->peer_sets},
		{"peer_removes", s->peer_removes},
		{"loomd_connects", s->loomd_connects},
		{"loomd_losses", s->loomd_losses},
		{"loomd_refusals", s->loomd_refusals},
		{"loomd_errors", s->loomd_errors},
		{"admin_requests", s->admin_requests},
		{"admin_errors", s->admin_errors},
	};
	uint64_t refused = 0;
	for (int r = 0; r < REF_COUNT; r++)
		refused += s->refused[r];
	if (json) {
		sb_printf(&b, "{\"node\":");
		sb_json(&b, ctx->name);
		sb_printf(&b, ",\"controld\":{");
		for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
			sb_printf(&b, "\"%s\":%llu,", c[i].name,
			          (unsigned long long)c[i].v);
		sb_printf(&b, "\"refused_total\":%llu,\"refused\":{",
		          (unsigned long long)refused);
		for (int r = 0; r < REF_COUNT; r++)
			sb_printf(&b, "%s\"%s\":%llu", r ? "," : "",
			          cd_refusal_name(r),
			          (unsigned long long)s->refused[r]);
		sb_printf(&b, "}},");
	} else {
		sb_printf(&b, "loom-controld %s (node %u)\n", ctx->name,
		          ctx->self_id);
		for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
			sb_printf(&b, "%-20s %llu\n", c[i].name,
			          (unsigned long long)c[i].v);
		sb_printf(&b, "%-20s %llu\n", "refused", (unsigned long long)
		          refused);
		for (int r = 0; r < REF_COUNT; r++)
			if (s->refused[r] != 0)
				sb_printf(&b, "  %-18s %llu\n",
				          cd_refusal_name(r),
				          (unsigned long long)s->refused[r]);
	}
	/* loomd's STATUS, summed */
	const struct loomd_link *L = &ctx->loomd;
	unsigned n = 0, up = 0;
	uint64_t lag = 0, lag_ms = 0, sent = 0, rec = 0, rej = 0;
	if (L->have_st) {
		for (uint16_t i = 0; i < L->st.n_peers; i++) {
			const struct ctl_peer_status *d = &L->st.peers[i];
			uint64_t l = d->head > d->cursor ? d->head - d->cursor : 0;
			n++;
			up += d->up;
			lag = l > lag ? l : lag;
			lag_ms = d->lag_ms > lag_ms ? d->lag_ms : lag_ms;
			sent += d->sent;
			rec += d->reconnects;
			/* loomd reports the node's count on every entry */
			rej = d->frames_rejected > rej ? d->frames_rejected : rej;
		}
	}
	if (json) {
		sb_printf(&b, "\"loomd\":{\"connected\":%s,\"node_id\":%u,"
		          "\"own_seq\":%llu,\"peers\":%u,\"peers_up\":%u,"
		          "\"lag_entries_max\":%llu,\"lag_ms_max\":%llu,"
		          "\"sent\":%llu,\"reconnects\":%llu,"
		          "\"frames_rejected\":%llu}}\n",
		          cd_loomd_ready(ctx) ? "true" : "false", L->node_id,
		          (unsigned long long)(L->have_st ? L->st.own_seq : 0),
		          n, up, (unsigned long long)lag,
		          (unsigned long long)lag_ms, (unsigned long long)sent,
		          (unsigned long long)rec, (unsigned long long)rej);
	} else if (L->have_st) {
		sb_printf(&b, "loomd (%s): node %u, own seq %llu, %u peers (%u "
		          "up), lag at most %llu entries / %llu ms, sent %llu, "
		          "reconnects %llu, frames rejected %llu\n",
		          cd_loomd_ready(ctx) ? "connected" : "not connected",
		          L->node_id, (unsigned long long)L->st.own_seq, n, up,
		          (unsigned long long)lag, (unsigned long long)lag_ms,
		          (unsigned long long)sent, (unsigned long long)rec,
		          (unsigned long long)rej);
	} else {
		sb_printf(&b, "loomd: no STATUS yet (%s)\n",
		          cd_loomd_ready(ctx) ? "connected" : "not connected");
	}
	return b.len;
}

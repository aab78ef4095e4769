/*
 * controld_peer.c - loom-controld's TLS links to the other members
 * (docs/CONTROL.md "loom-controld"): one connection per pair, dialled by
 * the lower node id with back-off, accepted by the higher; the peer check
 * of control/tls.h in the handshake; then, the server speaking first,
 * HELLO, TOPOLOGY and EPOCH each way; the pair's secret from the TLS
 * exporter under epoch max(mine, theirs) + 1, handed to loomd; PING/PONG;
 * and a rekey (a new connection, so a new epoch) every rekey_interval_s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/controld_ctx.h"
#include "control/pki.h"
#include "control/tls.h"

static const char *const refusal_names[REF_COUNT] = {
	[REF_BAD_CHAIN] = "bad-chain",
	[REF_EXPIRED] = "expired",
	[REF_NOT_YET_VALID] = "not-yet-valid",
	[REF_REVOKED] = "revoked",
	[REF_WRONG_NAME] = "wrong-name",
	[REF_MALFORMED] = "malformed",
	[REF_NO_CERT] = "no-certificate",
	[REF_CERT_OTHER] = "certificate",
	[REF_BY_PEER] = "by-peer",
	[REF_NOT_MEMBER] = "not-member",
	[REF_IDENTITY] = "identity",
	[REF_CLUSTER] = "cluster",
	[REF_PROTOCOL] = "protocol",
	[REF_HANDSHAKE] = "handshake",
};

const char *cd_refusal_name(int r)
{
	return r >= 0 && r < REF_COUNT ? refusal_names[r] : "unknown";
}

/* "n2 at 10.78.0.12:9925", or "a peer at ..." before its name is known. */
static const char *who(const struct link *l, char *buf, size_t cap)
{
	if (l->name[0] != '\0')
		snprintf(buf, cap, "%s at %s", l->name, l->addr);
	else
		snprintf(buf, cap, "a peer at %s", l->addr);
	return buf;
}

void cd_record_refusal(struct controld *ctx, const char *addr,
                       const char *name, int reason, const char *text)
{
	struct cd_refusal_rec *r = &ctx->recent[ctx->n_recent % CD_RECENT];
	ctx->n_recent++;
	memset(r, 0, sizeof *r);
	r->at_ms = cd_wall_ms();
	snprintf(r->addr, sizeof r->addr, "%s", addr);
	snprintf(r->name, sizeof r->name, "%s", name != NULL ? name : "");
	r->reason = reason;
	snprintf(r->text, sizeof r->text, "%s", text);
	if (name == NULL || *name == '\0')
		return;
	for (int p = 0; p < TOPO_MAX_NODES; p++) {
		struct peer *pe = &ctx->peers[p];
		if (pe->used && strcmp(pe->node.name, name) == 0) {
			pe->refusal_ms = r->at_ms;
			snprintf(pe->refusal, sizeof pe->refusal, "%s", text);
		}
	}
}

/* ---- slots ------------------------------------------------------------ */

static int link_alloc(struct controld *ctx)
{
	for (int i = 0; i < CD_MAX_LINKS; i++)
		if (ctx->links[i].state == LINK_FREE) {
			struct link *l = &ctx->links[i];
			memset(l, 0, sizeof *l);
			conn_reset(&l->c);
			l->peer = -1;
			l->t_start = ctx->now;
			return i;
		}
	return -1;
}

void cd_peer_forget_secret(struct peer *pe)
{
	explicit_bzero(pe->secret, sizeof pe->secret);
	pe->has_secret = false;
	pe->secret_epoch = 0;
}

/* Closes link li now. redial_now: a dialler dials again at once (rekey,
 * reload), else after its back-off. */
static void detach(struct controld *ctx, int li, const char *why,
                   bool redial_now)
{
	struct link *l = &ctx->links[li];
	int p = l->peer;
	char w[160];
	l->peer = -1;
	if (p < 0 || ctx->peers[p].link != li)
		return;
	struct peer *pe = &ctx->peers[p];
	pe->link = -1;
	if (pe->up) {
		pe->up = false;
		pe->since_ms = cd_wall_ms();
		ctx->st.links_down++;
		LOG_INFO(CD_LOG, "link to %s down: %s", who(l, w, sizeof w),
		         why);
	}
	if (pe->dialler) {
		if (redial_now) {
			pe->next_dial = ctx->now;
		} else {
			pe->next_dial = ctx->now + pe->backoff_ms;
			pe->backoff_ms *= 2;
			if (pe->backoff_ms > CD_BACKOFF_MAX_MS)
				pe->backoff_ms = CD_BACKOFF_MAX_MS;
		}
		cd_wake_at(ctx, pe->next_dial);
	}
}

static void link_close(struct controld *ctx, int li, const char *why,
                       bool redial_now)
{
	struct link *l = &ctx->links[li];
	if (l->state == LINK_FREE)
		return;
	if (l->state == LINK_OPEN && l->c.tls != NULL && !l->c.eof) {
		/* close_notify, best effort: the socket is non-blocking */
		ctl_tls_shutdown(l->c.tls);
	}
	detach(ctx, li, why, redial_now);
	conn_close(&l->c);
	l->state = LINK_FREE;
}

/* Closes once what is queued has left (an ERROR, the last TOPOLOGY). */
static void link_flush(struct controld *ctx, int li);

/* A lingering close: what is queued goes out, then our close_notify and a
 * TCP shutdown of our side; the link reads (and drops) until the peer
 * closes too, at most CD_CLOSING_MS. Closing at once could reset the
 * connection under data the peer has not read yet (its last TOPOLOGY). */
static void link_begin_close(struct controld *ctx, int li, const char *why)
{
	struct link *l = &ctx->links[li];
	if (l->state != LINK_OPEN) {
		link_close(ctx, li, why, false);
		return;
	}
	if (!l->closing) {
		l->closing = true;
		l->t_closing = ctx->now;
		cd_wake_at(ctx, ctx->now + CD_CLOSING_MS);
	}
	link_flush(ctx, li);
}

/* Queues m; a link that cannot take it is closed (false). */
static bool link_send(struct controld *ctx, int li, const struct ctl_msg *m)
{
	struct link *l = &ctx->links[li];
	char w[160];
	if (l->state != LINK_OPEN)
		return false;
	if (conn_send(&l->c, m) == 0)
		return true;
	LOG_WARN(CD_LOG, "%s: cannot send %s: %s: closing the link",
	         who(l, w, sizeof w), ctl_type_name(m->type), l->c.err);
	link_close(ctx, li, l->c.err, false);
	return false;
}

/* A refusal after the handshake: logged, counted, told to the peer with
 * an ERROR, and the link closed once that has left. */
static void link_refuse(struct controld *ctx, int li, int reason,
                        uint16_t code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void link_refuse(struct controld *ctx, int li, int reason,
                        uint16_t code, const char *fmt, ...)
{
	struct link *l = &ctx->links[li];
	char text[CD_REASON_MAX], w[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	ctx->st.refused[reason]++;
	LOG_WARN(CD_LOG, "refused %s: %s", who(l, w, sizeof w), text);
	cd_record_refusal(ctx, l->addr, l->name, reason, text);
	struct ctl_msg m = {.type = CTL_ERROR};
	m.u.error.code = code;
	snprintf(m.u.error.message, sizeof m.u.error.message, "%s refused "
	         "the link: %s", ctx->name, text);
	/* A refused peer is detached at once: it gets no key. */
	detach(ctx, li, text, false);
	if (link_send(ctx, li, &m))
		link_begin_close(ctx, li, text);
}

/* ---- sending ------------------------------------------------------------ */

static bool send_hello_topology(struct controld *ctx, int li)
{
	struct ctl_msg m = {.type = CTL_HELLO};
	m.u.hello.version = CTL_VERSION;
	m.u.hello.node_id = ctx->self_id;
	m.u.hello.cluster_id = ctx->topo.cluster_id;
	snprintf(m.u.hello.name, sizeof m.u.hello.name, "%s", ctx->name);
	if (!link_send(ctx, li, &m))
		return false;
	char text[TOPO_TEXT_MAX];
	size_t len = 0;
	if (topo_encode(&ctx->topo, text, sizeof text, &len) != 0)
		return false;
	struct ctl_msg t = {.type = CTL_TOPOLOGY};
	t.u.topology.version = ctx->topo.version;
	t.u.topology.text = text;
	t.u.topology.text_len = len;
	return link_send(ctx, li, &t);
}

void cd_links_send_topology(struct controld *ctx)
{
	char text[TOPO_TEXT_MAX];
	size_t len = 0;
	if (topo_encode(&ctx->topo, text, sizeof text, &len) != 0)
		return;
	struct ctl_msg t = {.type = CTL_TOPOLOGY};
	t.u.topology.version = ctx->topo.version;
	t.u.topology.text = text;
	t.u.topology.text_len = len;
	for (int li = 0; li < CD_MAX_LINKS; li++) {
		struct link *l = &ctx->links[li];
		if (l->state == LINK_OPEN && l->hello_tx && !l->closing)
			link_send(ctx, li, &t);
	}
}

/* ---- keys --------------------------------------------------------------- */

static void derive(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	struct peer *pe = &ctx->peers[l->peer];
	char w[160];
	uint16_t m = l->my_epoch > l->their_epoch ? l->my_epoch
	                                          : l->their_epoch;
	uint16_t e = m == UINT16_MAX ? 1 : (uint16_t)(m + 1);
	uint8_t s[CTL_TLS_EXPORT_LEN];
	if (ctl_tls_export(l->c.tls, e, s) != 0) {
		LOG_ERR(CD_LOG, "%s: the TLS exporter failed: closing the link",
		        who(l, w, sizeof w));
		link_close(ctx, li, "key export failed", false);
		return;
	}
	uint16_t old = pe->has_secret ? pe->secret_epoch : 0;
	cd_peer_forget_secret(pe);
	memcpy(pe->secret, s, sizeof pe->secret);
	explicit_bzero(s, sizeof s);
	pe->has_secret = true;
	pe->secret_epoch = e;
	pe->last_epoch = e;
	l->keyed = true;
	l->epoch = e;
	l->t_keyed = ctx->now;
	ctx->st.epochs++;
	if (old != 0)
		LOG_INFO(CD_LOG, "%s: key epoch %u installed (replaces %u)",
		         who(l, w, sizeof w), e, old);
	else
		LOG_INFO(CD_LOG, "%s: key epoch %u installed",
		         who(l, w, sizeof w), e);
	cd_loomd_peer_set(ctx, l->peer);
	if (ctx->cfg.rekey_interval_s > 0 && l->client)
		cd_wake_at(ctx, ctx->now + ctx->cfg.rekey_interval_s * 1000ull);
}

static void mark_up(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	struct peer *pe = &ctx->peers[l->peer];
	char w[160];
	if (pe->up)
		return;
	pe->up = true;
	pe->since_ms = cd_wall_ms();
	pe->ups++;
	pe->backoff_ms = CD_BACKOFF_MIN_MS;
	pe->unreachable_logged = false;
	ctx->st.links_up++;
	LOG_INFO(CD_LOG, "link to %s up (%s, node %u)", who(l, w, sizeof w),
	         l->client ? "dialled" : "accepted", pe->node.id);
}

/* Sends what is due on link li and derives the key once both EPOCHs are
 * known. The server speaks first: the client sends nothing before it has
 * read the server's HELLO (so it knows the server did not refuse it). */
static void link_progress(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	if (l->state != LINK_OPEN || l->closing)
		return;
	if (!l->hello_tx && (!l->client || l->hello_rx)) {
		if (!send_hello_topology(ctx, li))
			return;
		l->hello_tx = true;
	}
	if (l->peer < 0 || !l->hello_tx || !l->hello_rx)
		return;
	mark_up(ctx, li);
	if (ctx->self_id != 0 && !l->epoch_tx && cd_loomd_epochs_known(ctx)) {
		struct ctl_msg m = {.type = CTL_EPOCH};
		l->my_epoch = ctx->peers[l->peer].last_epoch;
		m.u.epoch.epoch = l->my_epoch;
		if (!link_send(ctx, li, &m))
			return;
		l->epoch_tx = true;
	}
	if (l->epoch_tx && l->epoch_rx && !l->keyed)
		derive(ctx, li);
}

void cd_links_progress(struct controld *ctx)
{
	for (int li = 0; li < CD_MAX_LINKS; li++)
		if (ctx->links[li].state == LINK_OPEN)
			link_progress(ctx, li);
}

/* Attaches link li to peer slot p, replacing the peer's older link. */
static void attach(struct controld *ctx, int li, int p)
{
	struct peer *pe = &ctx->peers[p];
	if (pe->link >= 0 && pe->link != li)
		link_close(ctx, pe->link, "replaced by a new connection",
		           false);
	pe->link = li;
	ctx->links[li].peer = p;
}

/* A link not attached yet (we accepted it, and its name was no member of
 * our topology when its handshake ended): attach it now if its name is a
 * member and we are one. */
static bool try_attach(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	if (ctx->self_id == 0 || strcmp(l->name, ctx->name) == 0)
		return false;
	const struct topo_node *n = topo_find_name(&ctx->topo, l->name);
	if (n == NULL)
		return false;
	int p = cd_peer_find(ctx, n->id);
	if (p < 0)
		return false;
	attach(ctx, li, p);
	return true;
}

void cd_links_recheck(struct controld *ctx)
{
	for (int li = 0; li < CD_MAX_LINKS; li++) {
		struct link *l = &ctx->links[li];
		if (l->state == LINK_OPEN && l->peer < 0 && !l->closing &&
		    !l->client)
			try_attach(ctx, li);
	}
}

void cd_peer_close_link(struct controld *ctx, int p, const char *why)
{
	int li = ctx->peers[p].link;
	if (li < 0)
		return;
	detach(ctx, li, why, false);
	link_begin_close(ctx, li, why);
}

void cd_links_close_all(struct controld *ctx, const char *why)
{
	for (int li = 0; li < CD_MAX_LINKS; li++)
		if (ctx->links[li].state != LINK_FREE)
			link_close(ctx, li, why, true);
}

/* ---- receiving ---------------------------------------------------------- */

static void on_hello(struct controld *ctx, int li, const struct ctl_hello *h)
{
	struct link *l = &ctx->links[li];
	char w[160];
	if (l->hello_rx) {
		link_refuse(ctx, li, REF_PROTOCOL, CTL_CODE_PROTOCOL,
		            "a second HELLO");
		return;
	}
	if (strcmp(h->name, l->name) != 0) {
		link_refuse(ctx, li, REF_IDENTITY, CTL_CODE_IDENTITY,
		            "its HELLO names '%s', its certificate '%s'",
		            h->name, l->name);
		return;
	}
	if (h->cluster_id != 0 && ctx->topo.cluster_id != 0 &&
	    h->cluster_id != ctx->topo.cluster_id) {
		link_refuse(ctx, li, REF_CLUSTER, CTL_CODE_CLUSTER,
		            "cluster %016llx, ours is %016llx",
		            (unsigned long long)h->cluster_id,
		            (unsigned long long)ctx->topo.cluster_id);
		return;
	}
	if (l->peer >= 0 && h->node_id != 0 &&
	    h->node_id != ctx->peers[l->peer].node.id)
		LOG_WARN(CD_LOG, "%s: its HELLO says node %u, our topology "
		         "(version %llu) node %u", who(l, w, sizeof w),
		         h->node_id, (unsigned long long)ctx->topo.version,
		         ctx->peers[l->peer].node.id);
	l->hello_rx = true;
}

static void on_topology(struct controld *ctx, int li,
                        const struct ctl_topology *m)
{
	struct link *l = &ctx->links[li];
	struct topology t;
	char err[256], w[160];
	if (topo_decode(m->text, m->text_len, &t, err, sizeof err) != 0) {
		link_refuse(ctx, li, REF_PROTOCOL, CTL_CODE_PROTOCOL,
		            "its topology is not valid: %s", err);
		return;
	}
	if (t.version != m->version) {
		link_refuse(ctx, li, REF_PROTOCOL, CTL_CODE_PROTOCOL,
		            "TOPOLOGY says version %llu, its text %llu",
		            (unsigned long long)m->version,
		            (unsigned long long)t.version);
		return;
	}
	l->topo_rx = true;
	bool fresh = ctx->topo.n == 0 && ctx->topo.cluster_id == 0;
	if (topo_should_adopt(&ctx->topo, &t)) {
		if (fresh && topo_find_name(&t, ctx->name) == NULL) {
			LOG_INFO(CD_LOG, "%s: its topology (version %llu) does "
			         "not name this node (%s): not adopted",
			         who(l, w, sizeof w),
			         (unsigned long long)t.version, ctx->name);
		} else if (cd_topo_apply(ctx, &t, l->name, err, sizeof err) !=
		           0) {
			LOG_ERR(CD_LOG, "topology version %llu from %s not "
			        "adopted: %s", (unsigned long long)t.version,
			        l->name, err);
		}
	} else if (t.version == ctx->topo.version && !l->conflict_logged) {
		char mine[TOPO_TEXT_MAX];
		size_t len = 0;
		if (topo_encode(&ctx->topo, mine, sizeof mine, &len) == 0 &&
		    (len != m->text_len || memcmp(mine, m->text, len) != 0)) {
			l->conflict_logged = true;
			LOG_WARN(CD_LOG, "%s: another topology of our version "
			         "%llu (changes made through two nodes at "
			         "once?): each side keeps its own until a "
			         "higher version", who(l, w, sizeof w),
			         (unsigned long long)t.version);
		}
	}
	if (l->state != LINK_OPEN || l->closing || l->peer >= 0)
		return;
	/* An accepted link of a name we did not know: its topology was its
	 * chance to bring us one that names us both. */
	if (!try_attach(ctx, li))
		link_refuse(ctx, li, REF_NOT_MEMBER, CTL_CODE_IDENTITY,
		            "%s is not a member of the topology (version %llu%s)",
		            l->name, (unsigned long long)ctx->topo.version,
		            ctx->self_id == 0 ? ", which does not name this "
		                                "node either" : "");
}

static void on_msg(struct controld *ctx, int li, const struct ctl_msg *m)
{
	struct link *l = &ctx->links[li];
	char w[160];
	if (m->type != CTL_HELLO && m->type != CTL_ERROR && !l->hello_rx) {
		link_refuse(ctx, li, REF_PROTOCOL, CTL_CODE_PROTOCOL,
		            "%s before HELLO", ctl_type_name(m->type));
		return;
	}
	switch (m->type) {
	case CTL_HELLO:
		on_hello(ctx, li, &m->u.hello);
		break;
	case CTL_TOPOLOGY:
		on_topology(ctx, li, &m->u.topology);
		break;
	case CTL_EPOCH:
		if (l->epoch_rx) {
			link_refuse(ctx, li, REF_PROTOCOL, CTL_CODE_PROTOCOL,
			            "a second EPOCH on one link");
			return;
		}
		l->their_epoch = m->u.epoch.epoch;
		l->epoch_rx = true;
		break;
	case CTL_PING: {
		struct ctl_msg r = {.type = CTL_PONG};
		r.u.ping.token = m->u.ping.token;
		link_send(ctx, li, &r);
		break;
	}
	case CTL_PONG:
		break;
	case CTL_ERROR: {
		int reason = l->keyed ? REF_PROTOCOL : REF_BY_PEER;
		char text[CD_REASON_MAX];
		snprintf(text, sizeof text, "it answered ERROR (%s): %.240s",
		         ctl_code_name(m->u.error.code), m->u.error.message);
		ctx->st.refused[reason]++;
		LOG_WARN(CD_LOG, "%s refused us: %s", who(l, w, sizeof w),
		         text);
		cd_record_refusal(ctx, l->addr, l->name, reason, text);
		link_close(ctx, li, text, false);
		break;
	}
	default:
		link_refuse(ctx, li, REF_PROTOCOL, CTL_CODE_PROTOCOL,
		            "unexpected %s", ctl_type_name(m->type));
		break;
	}
}

/* The link failed while reading or writing. */
static void link_failed(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	char w[160], why[CONN_ERR_MAX];
	snprintf(why, sizeof why, "%s", l->c.err);
	if (l->client && !l->hello_rx && !l->c.eof) {
		/* the server's check refused our certificate: its alert is
		 * the first thing we read */
		int reason = strstr(why, "alert") ? REF_BY_PEER : REF_HANDSHAKE;
		ctx->st.refused[reason]++;
		LOG_WARN(CD_LOG, "%s refused us: %s", who(l, w, sizeof w), why);
		cd_record_refusal(ctx, l->addr, l->name, reason, why);
	}
	link_close(ctx, li, why, false);
}

static void link_read(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	for (;;) {
		int r = conn_fill(&l->c);
		if (r != 0)
			l->t_rx = ctx->now;
		if (l->closing) {
			/* closing: what comes now is dropped */
			explicit_bzero(l->c.rx, l->c.rx_len);
			l->c.rx_len = 0;
			if (r < 0)
				link_close(ctx, li, "closed", false);
			if (r == 2)
				continue;
			return;
		}
		struct ctl_msg m;
		int rc;
		ssize_t n = 0;
		/* frames that came before a close are taken first */
		while (!l->closing && (n = conn_frame(&l->c, &m, &rc)) > 0) {
			if (rc != 0) {
				link_refuse(ctx, li, REF_PROTOCOL,
				            rc == CTL_E_VERSION ? CTL_CODE_VERSION
				                                : CTL_CODE_PROTOCOL,
				            "a bad message: %s",
				            ctl_msg_strerror(rc));
				return;
			}
			on_msg(ctx, li, &m);
			if (l->state != LINK_OPEN)
				return;
			conn_consume(&l->c, (size_t)n);
			link_progress(ctx, li);
			if (l->state != LINK_OPEN)
				return;
		}
		if (l->closing) {
			l->c.rx_len = 0; /* a refused peer's rest is dropped */
			return;
		}
		if (n < 0) {
			link_close(ctx, li, l->c.err, false);
			return;
		}
		if (r < 0) {
			link_failed(ctx, li);
			return;
		}
		if (r != 2)
			return;
	}
}

static void link_flush(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	if (conn_flush(&l->c) != 0) {
		if (l->closing)
			link_close(ctx, li, "closed", false);
		else
			link_failed(ctx, li);
		return;
	}
	if (l->closing && !l->draining && conn_pending(&l->c) == 0) {
		l->draining = true;
		/* the TCP half-close only once close_notify is out whole */
		if (l->c.tls == NULL ||
		    ctl_tls_shutdown(l->c.tls) != CTL_TLS_WANT_WRITE)
			shutdown(l->c.fd, SHUT_WR);
	}
}

/* ---- the handshake ------------------------------------------------------ */

static void handshake_failed(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	char w[160], why[CD_REASON_MAX];
	snprintf(why, sizeof why, "%s", ctl_tls_error(l->c.tls));
	int v = ctl_tls_verdict(l->c.tls), reason;
	switch (v) {
	case PKI_VERIFY_BAD_CHAIN: reason = REF_BAD_CHAIN; break;
	case PKI_VERIFY_EXPIRED: reason = REF_EXPIRED; break;
	case PKI_VERIFY_NOT_YET_VALID: reason = REF_NOT_YET_VALID; break;
	case PKI_VERIFY_REVOKED: reason = REF_REVOKED; break;
	case PKI_VERIFY_WRONG_NAME: reason = REF_WRONG_NAME; break;
	case PKI_VERIFY_MALFORMED: reason = REF_MALFORMED; break;
	default:
		if (strstr(why, "presented none") != NULL)
			reason = REF_NO_CERT;
		else if (strstr(why, "peer certificate refused") != NULL)
			reason = REF_CERT_OTHER;
		else if (strstr(why, "the peer sent alert") != NULL)
			reason = REF_BY_PEER;
		else
			reason = REF_HANDSHAKE;
		break;
	}
	ctx->st.handshakes_failed++;
	ctx->st.refused[reason]++;
	who(l, w, sizeof w);
	if (reason == REF_BY_PEER)
		LOG_WARN(CD_LOG, "%s refused us: %s", w, why);
	else if (reason == REF_HANDSHAKE)
		LOG_WARN(CD_LOG, "handshake with %s failed: %s", w, why);
	else
		LOG_WARN(CD_LOG, "refused %s: %s", w, why);
	cd_record_refusal(ctx, l->addr, l->name, reason, why);
	link_close(ctx, li, why, false);
}

static void link_open(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	const char *name = ctl_tls_peer_name(l->c.tls);
	l->state = LINK_OPEN;
	l->t_open = l->t_rx = l->t_ping = ctx->now;
	ctx->st.handshakes_ok++;
	snprintf(l->name, sizeof l->name, "%s", name != NULL ? name : "");
	cd_wake_at(ctx, ctx->now + ctx->cfg.ping_interval_s * 1000ull);
	if (l->client)
		return; /* the server speaks first */
	if (strcmp(l->name, ctx->name) == 0) {
		link_refuse(ctx, li, REF_NOT_MEMBER, CTL_CODE_IDENTITY,
		            "it presents this node's own name");
		return;
	}
	try_attach(ctx, li); /* else it waits for its TOPOLOGY */
	cd_wake_at(ctx, ctx->now + CD_PENDING_MS);
	link_progress(ctx, li);
}

static void link_handshake(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	int r = ctl_tls_handshake(l->c.tls);
	if (r == CTL_TLS_WANT_READ) {
		l->hs_events = POLLIN;
	} else if (r == CTL_TLS_WANT_WRITE) {
		l->hs_events = POLLOUT;
	} else if (r == CTL_TLS_DONE) {
		link_open(ctx, li);
		if (ctx->links[li].state == LINK_OPEN)
			link_flush(ctx, li);
	} else {
		handshake_failed(ctx, li);
	}
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void dial_failed(struct controld *ctx, int li, const char *why)
{
	struct link *l = &ctx->links[li];
	struct peer *pe = &ctx->peers[l->peer];
	char w[160];
	ctx->st.dial_failures++;
	if (!pe->unreachable_logged) {
		pe->unreachable_logged = true;
		LOG_INFO(CD_LOG, "cannot reach %s: %s (dialling again with "
		         "back-off up to %u ms)", who(l, w, sizeof w), why,
		         CD_BACKOFF_MAX_MS);
	}
	link_close(ctx, li, why, false);
}

/* The TCP connect of link li ended. */
static void link_connected(struct controld *ctx, int li)
{
	struct link *l = &ctx->links[li];
	int e = 0;
	socklen_t el = sizeof e;
	if (getsockopt(l->c.fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
		e = errno;
	if (e != 0) {
		dial_failed(ctx, li, strerror(e));
		return;
	}
	nodelay(l->c.fd);
	l->c.tls = ctl_tls_new(ctx->tls, l->c.fd, true,
	                       ctx->peers[l->peer].node.name);
	if (l->c.tls == NULL) {
		LOG_ERR(CD_LOG, "ctl_tls_new: %s", strerror(errno));
		link_close(ctx, li, "out of memory", false);
		return;
	}
	l->state = LINK_HANDSHAKE;
	link_handshake(ctx, li);
}

static void peer_dial(struct controld *ctx, int p)
{
	struct peer *pe = &ctx->peers[p];
	int li = link_alloc(ctx);
	if (li < 0) {
		pe->next_dial = ctx->now + CD_BACKOFF_MAX_MS;
		LOG_WARN(CD_LOG, "no room for another link (%d): %s waits",
		         CD_MAX_LINKS, pe->node.name);
		return;
	}
	struct link *l = &ctx->links[li];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                0);
	if (fd < 0 || conn_open(&l->c, fd, NULL) != 0) {
		LOG_ERR(CD_LOG, "socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		pe->next_dial = ctx->now + CD_BACKOFF_MAX_MS;
		return;
	}
	l->state = LINK_CONNECTING;
	l->client = true;
	l->peer = p;
	l->hs_events = POLLOUT;
	pe->link = li;
	topo_addr_str(pe->node.mgmt_ip_be, pe->node.mgmt_port, l->addr);
	snprintf(l->name, sizeof l->name, "%s", pe->node.name);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(pe->node.mgmt_port)};
	a.sin_addr.s_addr = pe->node.mgmt_ip_be;
	int r = connect(fd, (struct sockaddr *)&a, sizeof a);
	if (r == 0)
		link_connected(ctx, li);
	else if (errno != EINPROGRESS && errno != EINTR)
		dial_failed(ctx, li, strerror(errno));
	cd_wake_at(ctx, ctx->now + CD_HANDSHAKE_MS);
}

/* ---- the listening socket ------------------------------------------------ */

int cd_peer_listen(struct controld *ctx, char *err, size_t errlen)
{
	char addr[TOPO_ADDR_STR];
	topo_addr_str(ctx->cfg.listen_ip_be, ctx->cfg.listen_port, addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(ctx->cfg.listen_port)};
	a.sin_addr.s_addr = ctx->cfg.listen_ip_be;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(fd, 64) != 0) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	ctx->listen_fd = fd;
	return 0;
}

void cd_peer_accept(struct controld *ctx)
{
	for (;;) {
		struct sockaddr_in a;
		socklen_t al = sizeof a;
		int fd = accept4(ctx->listen_fd, (struct sockaddr *)&a, &al,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN(CD_LOG, "accept: %s", strerror(errno));
			return;
		}
		char addr[TOPO_ADDR_STR];
		topo_addr_str(a.sin_addr.s_addr, ntohs(a.sin_port), addr);
		int li = link_alloc(ctx);
		if (li < 0) {
			LOG_WARN(CD_LOG, "no room for another link (%d): "
			         "closing the connection from %s", CD_MAX_LINKS,
			         addr);
			close(fd);
			continue;
		}
		struct link *l = &ctx->links[li];
		nodelay(fd);
		struct ctl_tls *t = ctl_tls_new(ctx->tls, fd, false, NULL);
		if (t == NULL || conn_open(&l->c, fd, t) != 0) {
			LOG_ERR(CD_LOG, "no memory for the connection from %s",
			        addr);
			ctl_tls_free(t);
			close(fd);
			continue;
		}
		l->state = LINK_HANDSHAKE;
		snprintf(l->addr, sizeof l->addr, "%s", addr);
		cd_wake_at(ctx, ctx->now + CD_HANDSHAKE_MS);
		link_handshake(ctx, li);
	}
}

/* ---- the loop's side ----------------------------------------------------- */

void cd_peer_pollfds(struct controld *ctx, struct cd_pollset *ps)
{
	for (int li = 0; li < CD_MAX_LINKS; li++) {
		struct link *l = &ctx->links[li];
		if (l->state == LINK_FREE)
			continue;
		short ev = l->state == LINK_OPEN ? conn_events(&l->c)
		                                 : l->hs_events;
		cd_poll_add(ps, l->c.fd, ev, FD_LINK, li);
	}
}

void cd_link_event(struct controld *ctx, int li, short revents)
{
	struct link *l = &ctx->links[li];
	switch (l->state) {
	case LINK_CONNECTING:
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			link_connected(ctx, li);
		break;
	case LINK_HANDSHAKE:
		link_handshake(ctx, li);
		break;
	case LINK_OPEN:
		if (revents & (POLLIN | POLLERR | POLLHUP) ||
		    (revents & POLLOUT && l->c.rd_wants_write))
			link_read(ctx, li);
		if (l->state == LINK_OPEN)
			link_flush(ctx, li);
		break;
	case LINK_FREE:
		break;
	}
}

void cd_peer_timers(struct controld *ctx)
{
	uint64_t now = ctx->now;
	uint64_t ping = ctx->cfg.ping_interval_s * 1000ull;
	uint64_t dead = ctx->cfg.dead_after_s * 1000ull;
	uint64_t rekey = ctx->cfg.rekey_interval_s * 1000ull;
	char w[160];

	for (int p = 0; p < TOPO_MAX_NODES; p++) {
		struct peer *pe = &ctx->peers[p];
		if (!pe->used || !pe->dialler || pe->link >= 0)
			continue;
		if (now >= pe->next_dial)
			peer_dial(ctx, p);
		else
			cd_wake_at(ctx, pe->next_dial);
	}
	for (int li = 0; li < CD_MAX_LINKS; li++) {
		struct link *l = &ctx->links[li];
		if (l->state == LINK_FREE)
			continue;
		if (l->state != LINK_OPEN) {
			if (now - l->t_start < CD_HANDSHAKE_MS) {
				cd_wake_at(ctx, l->t_start + CD_HANDSHAKE_MS);
				continue;
			}
			ctx->st.handshakes_failed++;
			ctx->st.refused[REF_HANDSHAKE]++;
			LOG_WARN(CD_LOG, "handshake with %s failed: no answer "
			         "within %d ms", who(l, w, sizeof w),
			         CD_HANDSHAKE_MS);
			cd_record_refusal(ctx, l->addr, l->name, REF_HANDSHAKE,
			                  "handshake timed out");
			link_close(ctx, li, "handshake timed out", false);
			continue;
		}
		if (l->closing) {
			if (now - l->t_closing >= CD_CLOSING_MS)
				link_close(ctx, li, "closed", false);
			else
				cd_wake_at(ctx, l->t_closing + CD_CLOSING_MS);
			continue;
		}
		if (now - l->t_rx >= dead) {
			ctx->st.dead_links++;
			LOG_WARN(CD_LOG, "%s: nothing received for %u s: the "
			         "link is dead", who(l, w, sizeof w),
			         ctx->cfg.dead_after_s);
			link_close(ctx, li, "dead (no PING or PONG)", false);
			continue;
		}
		if (l->peer < 0 && !l->client && now - l->t_open >=
		    CD_PENDING_MS) {
			link_refuse(ctx, li, REF_NOT_MEMBER, CTL_CODE_IDENTITY,
			            "%s is not a member of the topology (version "
			            "%llu) and brought none naming it within %d "
			            "ms", l->name,
			            (unsigned long long)ctx->topo.version,
			            CD_PENDING_MS);
			continue;
		}
		if (l->peer < 0 && !l->client)
			cd_wake_at(ctx, l->t_open + CD_PENDING_MS);
		if (l->client && l->keyed && now - l->t_keyed >= rekey) {
			ctx->st.rekeys++;
			LOG_INFO(CD_LOG, "%s: rekey (epoch %u is %u s old): "
			         "closing the link to dial again",
			         who(l, w, sizeof w), l->epoch,
			         ctx->cfg.rekey_interval_s);
			/* the next link is dialled at once; this one
			 * closes in order meanwhile */
			detach(ctx, li, "rekey", true);
			link_begin_close(ctx, li, "rekey");
			continue;
		}
		if (l->client && l->keyed)
			cd_wake_at(ctx, l->t_keyed + rekey);
		if (l->hello_tx && now - l->t_ping >= ping) {
			struct ctl_msg m = {.type = CTL_PING};
			m.u.ping.token = ++ctx->next_token;
			l->t_ping = now;
			if (!link_send(ctx, li, &m))
				continue;
			link_flush(ctx, li);
			if (l->state != LINK_OPEN)
				continue;
		}
		cd_wake_at(ctx, l->t_ping + ping);
		cd_wake_at(ctx, l->t_rx + dead);
	}
}

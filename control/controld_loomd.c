/*
 * controld_loomd.c - loom-controld's link to the local loomd
 * (loomd_socket; docs/CONTROL.md "loom-controld"): connect, retried every
 * 500 ms while the socket is absent; HELLO both ways (loomd's node id must
 * be ours in the topology); PEER_SET of every secret we hold; STATUS_REQ
 * every second, whose answer gives status its data-plane columns and a
 * restarted loom-controld its epochs. loomd keeps replicating on the keys
 * it has while this link is down.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/controld_ctx.h"

#define LOOMD_HELLO_MS 5000       /* loomd's HELLO after ours */
#define LOOMD_STATUS_STALE_MS 5000 /* a STATUS_REQ without answer */

bool cd_loomd_ready(const struct controld *ctx)
{
	return ctx->loomd.state == LOOMD_READY;
}

/* Links hold their EPOCH back until loomd's first STATUS (a restarted
 * loom-controld learns its last epochs there), unless loomd is not there
 * to ask or does not answer. */
bool cd_loomd_epochs_known(const struct controld *ctx)
{
	const struct loomd_link *L = &ctx->loomd;
	return L->status_seen || L->state == LOOMD_DOWN ||
	       (L->state == LOOMD_READY &&
	        ctx->now - L->t_ready >= LOOMD_STATUS_STALE_MS);
}

static const struct ctl_peer_status *entry(const struct ctl_status *st,
                                           uint16_t id)
{
	for (uint16_t i = 0; i < st->n_peers; i++)
		if (st->peers[i].peer_id == id)
			return &st->peers[i];
	return NULL;
}

const struct ctl_peer_status *cd_loomd_peer(const struct controld *ctx,
                                            uint16_t id)
{
	return ctx->loomd.have_st ? entry(&ctx->loomd.st, id) : NULL;
}

const struct ctl_peer_status *cd_loomd_prev_peer(const struct controld *ctx,
                                                 uint16_t id)
{
	return ctx->loomd.have_prev ? entry(&ctx->loomd.prev, id) : NULL;
}

void cd_loomd_close(struct controld *ctx, const char *why)
{
	struct loomd_link *L = &ctx->loomd;
	if (L->state == LOOMD_DOWN)
		return;
	if (L->state == LOOMD_READY) {
		ctx->st.loomd_losses++;
		LOG_WARN(CD_LOG, "loomd lost (%s): connecting again; it keeps "
		         "replicating on the keys it has", why);
	}
	conn_close(&L->c);
	L->state = LOOMD_DOWN;
	L->status_waiting = false;
	L->next_try = ctx->now + CD_LOOMD_RETRY_MS;
	L->node_id = 0;
	cd_wake_at(ctx, L->next_try);
}

static bool loomd_send(struct controld *ctx, const struct ctl_msg *m)
{
	struct loomd_link *L = &ctx->loomd;
	if (L->state == LOOMD_DOWN)
		return false;
	if (conn_send(&L->c, m) != 0) {
		char why[CONN_ERR_MAX + 32];
		snprintf(why, sizeof why, "sending %s: %s",
		         ctl_type_name(m->type), L->c.err);
		cd_loomd_close(ctx, why);
		return false;
	}
	return true;
}

static void loomd_flush(struct controld *ctx)
{
	struct loomd_link *L = &ctx->loomd;
	if (L->state != LOOMD_DOWN && conn_flush(&L->c) != 0) {
		char why[CONN_ERR_MAX];
		snprintf(why, sizeof why, "%s", L->c.err);
		cd_loomd_close(ctx, why);
	}
}

void cd_loomd_peer_set(struct controld *ctx, int p)
{
	struct peer *pe = &ctx->peers[p];
	char dp[TOPO_ADDR_STR];
	if (!cd_loomd_ready(ctx) || !pe->has_secret)
		return;
	struct ctl_msg m = {.type = CTL_PEER_SET};
	m.u.peer_set.req_id = ++ctx->next_req;
	m.u.peer_set.peer_id = pe->node.id;
	m.u.peer_set.ip_be = pe->node.dp_ip_be;
	m.u.peer_set.epoch = pe->secret_epoch;
	memcpy(m.u.peer_set.secret, pe->secret, CTL_SECRET_LEN);
	bool ok = loomd_send(ctx, &m);
	ctl_msg_wipe(&m);
	if (!ok)
		return;
	pe->t_peer_set = ctx->now;
	pe->told_loomd = true;
	ctx->st.peer_sets++;
	topo_addr_str(pe->node.dp_ip_be, 0, dp);
	LOG_INFO(CD_LOG, "loomd: PEER_SET %s (node %u, data plane %s), epoch "
	         "%u", pe->node.name, pe->node.id, dp, pe->secret_epoch);
	loomd_flush(ctx);
}

void cd_loomd_peer_remove(struct controld *ctx, uint16_t id)
{
	struct loomd_link *L = &ctx->loomd;
	if (!cd_loomd_ready(ctx))
		return;
	struct ctl_msg m = {.type = CTL_PEER_REMOVE};
	m.u.peer_remove.req_id = ++ctx->next_req;
	m.u.peer_remove.peer_id = id;
	if (!loomd_send(ctx, &m))
		return;
	ctx->st.peer_removes++;
	LOG_INFO(CD_LOG, "loomd: PEER_REMOVE node %u", id);
	/* not again for a while, whatever STATUS says meanwhile */
	int slot = 0;
	for (int i = 0; i < TOPO_MAX_NODES; i++) {
		if (L->removed_id[i] == id) {
			slot = i;
			break;
		}
		if (L->removed_at[i] < L->removed_at[slot])
			slot = i;
	}
	L->removed_id[slot] = id;
	L->removed_at[slot] = ctx->now;
	loomd_flush(ctx);
}

static bool removed_lately(const struct controld *ctx, uint16_t id)
{
	const struct loomd_link *L = &ctx->loomd;
	for (int i = 0; i < TOPO_MAX_NODES; i++)
		if (L->removed_id[i] == id &&
		    ctx->now - L->removed_at[i] < CD_RESEND_MS)
			return true;
	return false;
}

/* loomd's node id is ours in the topology, or it gets nothing. */
static bool identity_ok(struct controld *ctx)
{
	struct loomd_link *L = &ctx->loomd;
	if (ctx->self_id == 0 || L->node_id == 0 || L->node_id == ctx->self_id)
		return true;
	ctx->st.loomd_refusals++;
	LOG_ERR(CD_LOG, "REFUSING loomd at %s: it runs as node %u (%s), but "
	        "this node (%s) is node %u in topology version %llu; it gets "
	        "no keys until loomd's [node] id is %u (trying again in %d "
	        "ms)", ctx->cfg.loomd_socket, L->node_id, L->name, ctx->name,
	        ctx->self_id, (unsigned long long)ctx->topo.version,
	        ctx->self_id, CD_LOOMD_REFUSED_MS);
	conn_close(&L->c);
	L->state = LOOMD_DOWN;
	L->status_waiting = false;
	L->node_id = 0;
	L->next_try = ctx->now + CD_LOOMD_REFUSED_MS;
	cd_wake_at(ctx, L->next_try);
	return false;
}

void cd_loomd_check_identity(struct controld *ctx)
{
	if (ctx->loomd.state == LOOMD_READY)
		identity_ok(ctx);
}

static void on_hello(struct controld *ctx, const struct ctl_hello *h)
{
	struct loomd_link *L = &ctx->loomd;
	if (L->state != LOOMD_HELLO) {
		LOG_WARN(CD_LOG, "loomd sent a second HELLO: ignored");
		return;
	}
	L->node_id = h->node_id;
	L->cluster_id = h->cluster_id;
	snprintf(L->name, sizeof L->name, "%s", h->name);
	if (!identity_ok(ctx))
		return;
	if (h->node_id == 0) {
		LOG_ERR(CD_LOG, "loomd at %s says node id 0: not a loomd; "
		        "closing", ctx->cfg.loomd_socket);
		cd_loomd_close(ctx, "node id 0");
		return;
	}
	L->state = LOOMD_READY;
	L->t_ready = ctx->now;
	L->absent_logged = false;
	L->last_fail[0] = '\0';
	ctx->st.loomd_connects++;
	LOG_INFO(CD_LOG, "loomd connected at %s: node %u (%s), cluster "
	         "%016llx", ctx->cfg.loomd_socket, h->node_id, h->name,
	         (unsigned long long)h->cluster_id);
	if (ctx->topo.cluster_id != 0 && h->cluster_id != ctx->topo.cluster_id)
		LOG_WARN(CD_LOG, "loomd's cluster id %016llx is not the "
		         "topology's %016llx", (unsigned long long)h->cluster_id,
		         (unsigned long long)ctx->topo.cluster_id);
	for (int p = 0; p < TOPO_MAX_NODES; p++)
		if (ctx->peers[p].used && ctx->peers[p].has_secret)
			cd_loomd_peer_set(ctx, p);
	L->next_status = ctx->now; /* at once: it has the epochs */
	cd_wake_at(ctx, ctx->now);
}

static void on_status(struct controld *ctx, const struct ctl_status *st)
{
	struct loomd_link *L = &ctx->loomd;
	bool first = !L->status_seen;
	L->prev = L->st;
	L->prev_at = L->st_at;
	L->have_prev = L->have_st;
	L->st = *st;
	L->st_at = ctx->now;
	L->st_wall = cd_wall_ms();
	L->have_st = true;
	L->status_seen = true;
	L->status_waiting = false;

	for (uint16_t i = 0; i < st->n_peers; i++) {
		const struct ctl_peer_status *e = &st->peers[i];
		int p = ctx->self_id != 0 ? cd_peer_find(ctx, e->peer_id) : -1;
		if (p < 0) {
			/* a peer that left (maybe while we were away) */
			if (!removed_lately(ctx, e->peer_id))
				cd_loomd_peer_remove(ctx, e->peer_id);
			if (L->state != LOOMD_READY)
				return;
			continue;
		}
		struct peer *pe = &ctx->peers[p];
		if (pe->last_epoch == 0 && !pe->has_secret && e->epoch != 0) {
			pe->last_epoch = e->epoch;
			LOG_INFO(CD_LOG, "loomd holds epoch %u for %s: the next "
			         "key is above it", e->epoch, pe->node.name);
		}
	}
	for (int p = 0; p < TOPO_MAX_NODES && L->state == LOOMD_READY; p++) {
		struct peer *pe = &ctx->peers[p];
		if (!pe->used)
			continue;
		const struct ctl_peer_status *e = entry(st, pe->node.id);
		uint16_t epoch = e != NULL ? e->epoch : 0;
		if (pe->has_secret && epoch != pe->secret_epoch &&
		    ctx->now - pe->t_peer_set >= CD_RESEND_MS) {
			LOG_WARN(CD_LOG, "loomd has epoch %u for %s, ours is "
			         "%u: sending it again", epoch, pe->node.name,
			         pe->secret_epoch);
			cd_loomd_peer_set(ctx, p);
			continue;
		}
		/* loomd has no key and we have none to give: only a new link
		 * makes one */
		if (!pe->has_secret && epoch == 0 && pe->link >= 0) {
			struct link *l = &ctx->links[pe->link];
			if (l->state == LINK_OPEN && !l->keyed && !l->closing &&
			    ctx->now - l->t_open >=
			    ctx->cfg.dead_after_s * 1000ull) {
				LOG_WARN(CD_LOG, "loomd has no key for %s and "
				         "the link made none: starting it over",
				         pe->node.name);
				cd_peer_close_link(ctx, p, "no key made");
			}
		}
	}
	if (first)
		cd_links_progress(ctx);
}

static void on_msg(struct controld *ctx, const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		on_hello(ctx, &m->u.hello);
		break;
	case CTL_STATUS:
		if (ctx->loomd.state == LOOMD_READY)
			on_status(ctx, &m->u.status);
		break;
	case CTL_OK:
		LOG_DEBUG(CD_LOG, "loomd: OK to %s %u",
		          ctl_type_name(m->u.ok.acked), m->u.ok.req_id);
		break;
	case CTL_ERROR:
		ctx->st.loomd_errors++;
		LOG_WARN(CD_LOG, "loomd answered request %u with ERROR (%s): "
		         "%s", m->u.error.req_id,
		         ctl_code_name(m->u.error.code), m->u.error.message);
		break;
	case CTL_PING: {
		struct ctl_msg r = {.type = CTL_PONG};
		r.u.ping.token = m->u.ping.token;
		loomd_send(ctx, &r);
		break;
	}
	default:
		LOG_WARN(CD_LOG, "loomd sent %s: ignored",
		         ctl_type_name(m->type));
		break;
	}
}

void cd_loomd_event(struct controld *ctx, short revents)
{
	struct loomd_link *L = &ctx->loomd;
	if (L->state == LOOMD_DOWN)
		return;
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		for (;;) {
			int r = conn_fill(&L->c);
			if (r < 0) {
				char why[CONN_ERR_MAX];
				snprintf(why, sizeof why, "%s", L->c.err);
				cd_loomd_close(ctx, why);
				return;
			}
			struct ctl_msg m;
			int rc;
			ssize_t n;
			while ((n = conn_frame(&L->c, &m, &rc)) > 0) {
				if (rc != 0) {
					LOG_WARN(CD_LOG, "loomd sent a bad "
					         "message: %s",
					         ctl_msg_strerror(rc));
				} else {
					on_msg(ctx, &m);
					if (L->state == LOOMD_DOWN)
						return;
				}
				conn_consume(&L->c, (size_t)n);
			}
			if (n < 0) {
				char why[CONN_ERR_MAX];
				snprintf(why, sizeof why, "%s", L->c.err);
				cd_loomd_close(ctx, why);
				return;
			}
			if (r != 2)
				break;
		}
	}
	loomd_flush(ctx);
}

static void loomd_connect(struct controld *ctx)
{
	struct loomd_link *L = &ctx->loomd;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t plen = strlen(ctx->cfg.loomd_socket);
	L->next_try = ctx->now + CD_LOOMD_RETRY_MS;
	if (plen >= sizeof a.sun_path) /* the config checks it */
		return;
	memcpy(a.sun_path, ctx->cfg.loomd_socket, plen + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		LOG_ERR(CD_LOG, "socket: %s", strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 &&
	    errno != EINPROGRESS) {
		const char *why = strerror(errno);
		if (!L->absent_logged || strcmp(L->last_fail, why) != 0)
			LOG_INFO(CD_LOG, "loomd not reachable at %s: %s (trying "
			         "every %d ms)", ctx->cfg.loomd_socket, why,
			         CD_LOOMD_RETRY_MS);
		L->absent_logged = true;
		snprintf(L->last_fail, sizeof L->last_fail, "%s", why);
		close(fd);
		return;
	}
	if (conn_open(&L->c, fd, NULL) != 0) {
		close(fd);
		return;
	}
	L->state = LOOMD_HELLO;
	L->next_status = ctx->now + LOOMD_HELLO_MS; /* the HELLO deadline */
	struct ctl_msg m = {.type = CTL_HELLO};
	m.u.hello.version = CTL_VERSION;
	m.u.hello.node_id = ctx->self_id;
	m.u.hello.cluster_id = ctx->topo.cluster_id;
	snprintf(m.u.hello.name, sizeof m.u.hello.name, "%s", ctx->name);
	if (loomd_send(ctx, &m))
		loomd_flush(ctx);
}

void cd_loomd_pollfds(struct controld *ctx, struct cd_pollset *ps)
{
	if (ctx->loomd.state != LOOMD_DOWN)
		cd_poll_add(ps, ctx->loomd.c.fd, conn_events(&ctx->loomd.c),
		            FD_LOOMD, 0);
}

void cd_loomd_timers(struct controld *ctx)
{
	struct loomd_link *L = &ctx->loomd;
	switch (L->state) {
	case LOOMD_DOWN:
		if (ctx->now >= L->next_try)
			loomd_connect(ctx);
		cd_wake_at(ctx, L->state == LOOMD_DOWN ? L->next_try
		                                       : L->next_status);
		break;
	case LOOMD_HELLO:
		if (ctx->now >= L->next_status)
			cd_loomd_close(ctx, "no HELLO answer");
		else
			cd_wake_at(ctx, L->next_status);
		break;
	case LOOMD_READY:
		if (!L->status_seen) {
			/* a loomd that does not answer STATUS: the links
			 * go on without its epochs */
			if (ctx->now - L->t_ready >= LOOMD_STATUS_STALE_MS)
				cd_links_progress(ctx);
			else
				cd_wake_at(ctx, L->t_ready +
				                LOOMD_STATUS_STALE_MS);
		}
		if (L->status_waiting &&
		    ctx->now - L->t_status_req < LOOMD_STATUS_STALE_MS) {
			cd_wake_at(ctx, L->t_status_req + LOOMD_STATUS_STALE_MS);
			break;
		}
		if (ctx->now >= L->next_status) {
			struct ctl_msg m = {.type = CTL_STATUS_REQ};
			m.u.req.req_id = L->status_req = ++ctx->next_req;
			m.u.req.format = CTL_FMT_BINARY;
			if (!loomd_send(ctx, &m))
				break;
			L->status_waiting = true;
			L->t_status_req = ctx->now;
			L->next_status = ctx->now + CD_STATUS_MS;
			loomd_flush(ctx);
		}
		cd_wake_at(ctx, L->next_status);
		break;
	}
}

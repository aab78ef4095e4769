/*
 * controld_topo.c - loom-controld's topology: loaded from state_dir at
 * start, replaced by `loomctl node add|remove` or by a peer's newer
 * version (topo_should_adopt), always saved before it is used, then sent
 * on every open link; and the peer slots that follow from it: a slot per
 * other member, dialled by us when our id is the lower; a member that
 * left has its link closed and its key withdrawn from loomd.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "control/controld_ctx.h"

int cd_peer_find(const struct controld *ctx, uint16_t id)
{
	for (int p = 0; p < TOPO_MAX_NODES; p++)
		if (ctx->peers[p].used && ctx->peers[p].node.id == id)
			return p;
	return -1;
}

static void self_update(struct controld *ctx)
{
	const struct topo_node *me = topo_find_name(&ctx->topo, ctx->name);
	ctx->self_id = me != NULL ? me->id : 0;
}

static void peer_drop(struct controld *ctx, int p, const char *why)
{
	struct peer *pe = &ctx->peers[p];
	uint16_t id = pe->node.id;
	cd_peer_close_link(ctx, p, why);
	cd_peer_forget_secret(pe);
	/* loomd has a key for it if we gave one, or if its STATUS says so
	 * (one given before a restart of ours) */
	if (pe->told_loomd || cd_loomd_peer(ctx, id) != NULL)
		cd_loomd_peer_remove(ctx, id);
	memset(pe, 0, sizeof *pe);
	pe->link = -1;
}

/* Makes the peer slots follow the topology. reset: our own id changed,
 * every pair starts over. */
static void reconcile(struct controld *ctx, bool reset)
{
	for (int p = 0; p < TOPO_MAX_NODES; p++) {
		struct peer *pe = &ctx->peers[p];
		if (!pe->used)
			continue;
		const struct topo_node *n = ctx->self_id != 0
			? topo_find_id(&ctx->topo, pe->node.id) : NULL;
		if (n == NULL || reset || strcmp(n->name, pe->node.name) != 0) {
			if (n == NULL && ctx->self_id != 0)
				LOG_INFO(CD_LOG, "%s (node %u) left the topology: "
				         "link closed, key withdrawn",
				         pe->node.name, pe->node.id);
			peer_drop(ctx, p, ctx->self_id == 0
			          ? "this node left the topology"
			          : "no longer in the topology");
			continue;
		}
		if (n->mgmt_ip_be != pe->node.mgmt_ip_be ||
		    n->mgmt_port != pe->node.mgmt_port) {
			pe->node = *n;
			cd_peer_close_link(ctx, p, "its management address "
			                   "changed");
		}
		if (n->dp_ip_be != pe->node.dp_ip_be) {
			pe->node = *n;
			cd_loomd_peer_set(ctx, p);
		}
	}
	if (ctx->self_id == 0)
		return;
	for (uint16_t i = 0; i < ctx->topo.n; i++) {
		const struct topo_node *n = &ctx->topo.nodes[i];
		if (n->id == ctx->self_id || cd_peer_find(ctx, n->id) >= 0)
			continue;
		int p;
		for (p = 0; p < TOPO_MAX_NODES && ctx->peers[p].used; p++)
			;
		if (p == TOPO_MAX_NODES)
			break; /* cannot be: the topology holds 16 at most */
		struct peer *pe = &ctx->peers[p];
		memset(pe, 0, sizeof *pe);
		pe->used = true;
		pe->node = *n;
		pe->link = -1;
		pe->dialler = ctx->self_id < n->id;
		pe->next_dial = ctx->now;
		pe->backoff_ms = CD_BACKOFF_MIN_MS;
		pe->since_ms = cd_wall_ms();
		cd_wake_at(ctx, ctx->now);
	}
}

int cd_topo_start(struct controld *ctx, char *err, size_t errlen)
{
	char why[256];
	if (cd_mkdirs(ctx->cfg.state_dir, 0700, err, errlen) != 0)
		return -1;
	snprintf(ctx->topo_path, sizeof ctx->topo_path, "%s/topology",
	         ctx->cfg.state_dir);
	int r = topo_load(ctx->topo_path, &ctx->topo, why, sizeof why);
	if (r == ENOENT) {
		topo_init(&ctx->topo, 0);
		LOG_INFO(CD_LOG, "no topology in %s yet: waiting for `loomctl "
		         "node add` or a peer's", ctx->cfg.state_dir);
	} else if (r != 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	} else {
		LOG_INFO(CD_LOG, "topology version %llu loaded from %s: %u "
		         "nodes, cluster %016llx",
		         (unsigned long long)ctx->topo.version, ctx->topo_path,
		         ctx->topo.n, (unsigned long long)ctx->topo.cluster_id);
	}
	self_update(ctx);
	if (ctx->self_id != 0)
		LOG_INFO(CD_LOG, "this node is %s, node %u", ctx->name,
		         ctx->self_id);
	else if (ctx->topo.n > 0)
		LOG_WARN(CD_LOG, "this node (%s) is not in topology version "
		         "%llu: no links until one names it", ctx->name,
		         (unsigned long long)ctx->topo.version);
	reconcile(ctx, false);
	return 0;
}

int cd_topo_apply(struct controld *ctx, const struct topology *t,
                  const char *from, char *err, size_t errlen)
{
	if (topo_save(ctx->topo_path, t, err, errlen) != 0)
		return -1;
	uint16_t old_self = ctx->self_id;
	ctx->topo = *t;
	self_update(ctx);
	if (from != NULL) {
		ctx->st.topo_adopted++;
		LOG_INFO(CD_LOG, "topology version %llu adopted from %s (%u "
		         "nodes) and saved", (unsigned long long)t->version,
		         from, t->n);
	} else {
		ctx->st.topo_changes++;
		LOG_INFO(CD_LOG, "topology version %llu saved (%u nodes)",
		         (unsigned long long)t->version, t->n);
	}
	if (old_self != 0 && ctx->self_id == 0)
		LOG_WARN(CD_LOG, "this node (%s) is not in topology version "
		         "%llu: removed from the cluster; withdrawing every "
		         "peer's key and closing every link", ctx->name,
		         (unsigned long long)t->version);
	else if (old_self == 0 && ctx->self_id != 0)
		LOG_INFO(CD_LOG, "this node (%s) joined the topology as node "
		         "%u", ctx->name, ctx->self_id);
	else if (old_self != ctx->self_id)
		LOG_WARN(CD_LOG, "this node's id changed from %u to %u: every "
		         "link starts over", old_self, ctx->self_id);
	/* Everyone hears of the change first, a member that left included
	 * (its link closes once this has been sent). */
	cd_links_send_topology(ctx);
	reconcile(ctx, old_self != 0 && ctx->self_id != 0 &&
	          old_self != ctx->self_id);
	cd_loomd_check_identity(ctx);
	cd_links_recheck(ctx);
	cd_links_progress(ctx);
	return 0;
}

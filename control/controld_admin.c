/*
 * controld_admin.c - loomctl's socket (admin_socket, mode 0600): a
 * loomctl connects, sends requests (NODE_ADD, NODE_REMOVE, STATUS_REQ
 * and STATS_REQ in text or JSON; HELLO and PING are answered too) and gets
 * one answer each (OK, ERROR with a sentence, TEXT), in order, until it
 * closes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/controld_ctx.h"

int cd_admin_listen(struct controld *ctx, char *err, size_t errlen)
{
	const char *path = ctx->cfg.admin_socket;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[CD_PATH_MAX];
	struct stat sb;

	if (strlen(path) >= sizeof a.sun_path) { /* the config checks it */
		snprintf(err, errlen, "admin_socket %s: too long", path);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (cd_mkdirs(dir, 0700, err, errlen) != 0)
			return -1;
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "admin_socket %s exists and is "
			         "not a socket", path);
			return -1;
		}
		/* a socket someone still answers on is another daemon's */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&a,
		                          sizeof a) == 0) {
			close(probe);
			snprintf(err, errlen, "admin_socket %s: another "
			         "loom-controld is listening there", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) != 0) {
			snprintf(err, errlen, "admin_socket %s: removing the "
			         "stale socket: %s", path, strerror(errno));
			return -1;
		}
		LOG_INFO(CD_LOG, "replaced the stale socket %s", path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	mode_t old = umask(0177); /* 0600 from the start */
	int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "admin_socket %s: %s", path,
		         strerror(errno));
		close(fd);
		return -1;
	}
	ctx->admin_fd = fd;
	return 0;
}

void cd_admin_accept(struct controld *ctx)
{
	for (;;) {
		int fd = accept4(ctx->admin_fd, NULL, NULL,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN(CD_LOG, "admin accept: %s",
				         strerror(errno));
			return;
		}
		int i;
		for (i = 0; i < CD_MAX_ADMIN && ctx->admin[i].used; i++)
			;
		if (i == CD_MAX_ADMIN || conn_open(&ctx->admin[i].c, fd,
		                                   NULL) != 0) {
			LOG_WARN(CD_LOG, "admin socket: %d loomctl connections "
			         "already: closing a new one", CD_MAX_ADMIN);
			close(fd);
			continue;
		}
		ctx->admin[i].used = true;
	}
}

static void admin_close(struct controld *ctx, int ai)
{
	conn_close(&ctx->admin[ai].c);
	ctx->admin[ai].used = false;
}

void cd_admin_close_all(struct controld *ctx)
{
	for (int ai = 0; ai < CD_MAX_ADMIN; ai++)
		if (ctx->admin[ai].used)
			admin_close(ctx, ai);
}

static void reply(struct controld *ctx, int ai, const struct ctl_msg *m)
{
	if (conn_send(&ctx->admin[ai].c, m) != 0) {
		LOG_WARN(CD_LOG, "admin socket: %s: closing the connection",
		         ctx->admin[ai].c.err);
		admin_close(ctx, ai);
	}
}

static void reply_error(struct controld *ctx, int ai, uint16_t code,
                        uint32_t req, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void reply_error(struct controld *ctx, int ai, uint16_t code,
                        uint32_t req, const char *fmt, ...)
{
	struct ctl_msg m = {.type = CTL_ERROR};
	va_list ap;
	m.u.error.code = code;
	m.u.error.req_id = req;
	va_start(ap, fmt);
	vsnprintf(m.u.error.message, sizeof m.u.error.message, fmt, ap);
	va_end(ap);
	ctx->st.admin_errors++;
	LOG_INFO(CD_LOG, "loomctl: refused: %s", m.u.error.message);
	reply(ctx, ai, &m);
}

static void reply_ok(struct controld *ctx, int ai, uint16_t type,
                     uint32_t req)
{
	struct ctl_msg m = {.type = CTL_OK};
	m.u.ok.acked = type;
	m.u.ok.req_id = req;
	reply(ctx, ai, &m);
}

static uint16_t topo_code(int r)
{
	switch (r) {
	case EEXIST: return CTL_CODE_EXISTS;
	case ENOENT: return CTL_CODE_NO_NODE;
	default: return CTL_CODE_INVALID;
	}
}

static void node_add(struct controld *ctx, int ai,
                     const struct ctl_node_add *a)
{
	struct topology t = ctx->topo;
	struct topo_node n = {.id = a->node_id, .mgmt_ip_be = a->mgmt_ip_be,
	                      .mgmt_port = a->mgmt_port,
	                      .dp_ip_be = a->dp_ip_be};
	char err[256];
	snprintf(n.name, sizeof n.name, "%s", a->name);
	if (t.n == 0 && t.cluster_id == 0) {
		/* the first member: the cluster id is chosen now */
		uint64_t cid = ctx->cfg.cluster_id;
		if (cid == 0 && !cd_loomd_ready(ctx)) {
			reply_error(ctx, ai, CTL_CODE_UNAVAILABLE, a->req_id,
			            "not connected to loomd yet (its HELLO "
			            "gives the cluster id; or set cluster_id "
			            "in [controld])");
			return;
		}
		if (cid == 0)
			cid = ctx->loomd.cluster_id;
		if (cid == 0) {
			reply_error(ctx, ai, CTL_CODE_UNAVAILABLE, a->req_id,
			            "loomd reports cluster id 0: set its "
			            "[node] cluster_id, or cluster_id in "
			            "[controld]");
			return;
		}
		topo_init(&t, cid);
	}
	if (strcmp(n.name, ctx->name) == 0 && cd_loomd_ready(ctx) &&
	    ctx->loomd.node_id != n.id) {
		reply_error(ctx, ai, CTL_CODE_IDENTITY, a->req_id,
		            "%s is this node, whose loomd runs as node %u: "
		            "add it with --id %u (or change loomd's [node] id)",
		            n.name, ctx->loomd.node_id, ctx->loomd.node_id);
		return;
	}
	int r = topo_add(&t, &n, err, sizeof err);
	if (r != 0) {
		reply_error(ctx, ai, topo_code(r), a->req_id, "%s",
		            err[0] != '\0' ? err : topo_strerror(r));
		return;
	}
	if (cd_topo_apply(ctx, &t, NULL, err, sizeof err) != 0) {
		reply_error(ctx, ai, CTL_CODE_INTERNAL, a->req_id,
		            "the topology cannot be saved: %s", err);
		return;
	}
	char mgmt[TOPO_ADDR_STR], dp[TOPO_ADDR_STR];
	topo_addr_str(n.mgmt_ip_be, n.mgmt_port, mgmt);
	topo_addr_str(n.dp_ip_be, 0, dp);
	LOG_INFO(CD_LOG, "loomctl: node add %u %s (mgmt %s, data plane %s): "
	         "topology version %llu", n.id, n.name, mgmt, dp,
	         (unsigned long long)ctx->topo.version);
	reply_ok(ctx, ai, CTL_NODE_ADD, a->req_id);
}

static void node_remove(struct controld *ctx, int ai,
                        const struct ctl_node_remove *rm)
{
	struct topology t = ctx->topo;
	char err[256];
	const struct topo_node *n = topo_find_id(&t, rm->node_id);
	if (n == NULL) {
		reply_error(ctx, ai, CTL_CODE_NO_NODE, rm->req_id,
		            "no such node: %u (topology version %llu has %u)",
		            rm->node_id, (unsigned long long)t.version, t.n);
		return;
	}
	char name[TOPO_NAME_MAX + 1];
	snprintf(name, sizeof name, "%s", n->name);
	int r = topo_remove(&t, rm->node_id);
	if (r != 0) {
		reply_error(ctx, ai, topo_code(r), rm->req_id, "%s",
		            topo_strerror(r));
		return;
	}
	if (cd_topo_apply(ctx, &t, NULL, err, sizeof err) != 0) {
		reply_error(ctx, ai, CTL_CODE_INTERNAL, rm->req_id,
		            "the topology cannot be saved: %s", err);
		return;
	}
	LOG_INFO(CD_LOG, "loomctl: node remove %u (%s): topology version %llu",
	         rm->node_id, name, (unsigned long long)ctx->topo.version);
	reply_ok(ctx, ai, CTL_NODE_REMOVE, rm->req_id);
}

static void text_reply(struct controld *ctx, int ai, uint32_t req,
                       int format, size_t len)
{
	struct ctl_msg m = {.type = CTL_TEXT};
	m.u.text.req_id = req;
	m.u.text.format = (uint8_t)format;
	m.u.text.text = ctx->text;
	m.u.text.text_len = len;
	reply(ctx, ai, &m);
}

static void handle(struct controld *ctx, int ai, const struct ctl_msg *m)
{
	ctx->st.admin_requests++;
	switch (m->type) {
	case CTL_HELLO: {
		struct ctl_msg h = {.type = CTL_HELLO};
		h.u.hello.version = CTL_VERSION;
		h.u.hello.node_id = ctx->self_id;
		h.u.hello.cluster_id = ctx->topo.cluster_id;
		snprintf(h.u.hello.name, sizeof h.u.hello.name, "%s",
		         ctx->name);
		reply(ctx, ai, &h);
		break;
	}
	case CTL_NODE_ADD:
		node_add(ctx, ai, &m->u.node_add);
		break;
	case CTL_NODE_REMOVE:
		node_remove(ctx, ai, &m->u.node_remove);
		break;
	case CTL_STATUS_REQ:
	case CTL_STATS_REQ:
		if (m->u.req.format == CTL_FMT_BINARY) {
			reply_error(ctx, ai, CTL_CODE_INVALID, m->u.req.req_id,
			            "%s: ask for text (1) or JSON (2)",
			            ctl_type_name(m->type));
			break;
		}
		text_reply(ctx, ai, m->u.req.req_id, m->u.req.format,
		           m->type == CTL_STATUS_REQ
		                   ? cd_render_status(ctx, m->u.req.format)
		                   : cd_render_stats(ctx, m->u.req.format));
		break;
	case CTL_PING: {
		struct ctl_msg r = {.type = CTL_PONG};
		r.u.ping.token = m->u.ping.token;
		reply(ctx, ai, &r);
		break;
	}
	default:
		reply_error(ctx, ai, CTL_CODE_PROTOCOL, 0,
		            "loom-controld's admin socket does not take %s",
		            ctl_type_name(m->type));
		break;
	}
}

void cd_admin_pollfds(struct controld *ctx, struct cd_pollset *ps)
{
	for (int ai = 0; ai < CD_MAX_ADMIN; ai++)
		if (ctx->admin[ai].used)
			cd_poll_add(ps, ctx->admin[ai].c.fd,
			            conn_events(&ctx->admin[ai].c), FD_ADMIN, ai);
}

void cd_admin_event(struct controld *ctx, int ai, short revents)
{
	struct conn *c = &ctx->admin[ai].c;
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		for (;;) {
			int r = conn_fill(c);
			struct ctl_msg m;
			int rc;
			ssize_t n;
			while ((n = conn_frame(c, &m, &rc)) > 0) {
				if (rc != 0)
					reply_error(ctx, ai, rc == CTL_E_VERSION
					            ? CTL_CODE_VERSION
					            : CTL_CODE_PROTOCOL, 0,
					            "a bad request: %s",
					            ctl_msg_strerror(rc));
				else
					handle(ctx, ai, &m);
				if (!ctx->admin[ai].used)
					return;
				conn_consume(c, (size_t)n);
			}
			if (n < 0 || r < 0) {
				/* the client is gone (or lost the stream):
				 * what it asked for is done */
				conn_flush(c);
				admin_close(ctx, ai);
				return;
			}
			if (r != 2)
				break;
		}
	}
	if (conn_flush(c) != 0)
		admin_close(ctx, ai);
}

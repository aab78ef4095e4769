/*
 * ctl_server.c - loomd's end of the control socket; see ctl_server.h.
 */
#include "dataplane/ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

/* Requests are small; a STATUS answer of 64 peers is about 4 KiB. One
 * whole frame of the largest kind fits each way. */
#define RX_CAP CTL_FRAME_MAX
#define TX_CAP (2u * CTL_FRAME_MAX)

struct ctl_server {
	int lfd, cfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_server_identity id;
	char name[CTL_NAME_MAX + 1];
	struct ctl_server_ops ops;
	bool hello;      /* the client said HELLO */
	bool closing;    /* flush tx, then close */
	bool waiting;    /* a PEER_SET/REMOVE is at the repl lcore */
	uint16_t wait_type;
	uint32_t wait_req;
	size_t rx_len, tx_len, tx_off;
	struct ctl_server_stats st;
	uint8_t rx[RX_CAP];
	uint8_t tx[TX_CAP];
	struct ctl_msg msg; /* decoded request; large (STATUS), so not on
	                       the stack */
};

static void client_close(struct ctl_server *s)
{
	if (s->cfd >= 0)
		close(s->cfd);
	s->cfd = -1;
	s->hello = s->closing = false;
	s->rx_len = s->tx_len = s->tx_off = 0;
	memset(s->rx, 0, sizeof s->rx); /* PEER_SET secrets */
	/* a command at the repl lcore still completes; its answer is lost */
}

struct ctl_server *ctl_server_create(const char *path,
                                     const struct ctl_server_identity *id,
                                     const struct ctl_server_ops *ops,
                                     char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		snprintf(err, errlen, "[control] socket %s: longer than %zu "
		         "characters", path, sizeof a.sun_path - 1);
		return NULL;
	}
	struct ctl_server *s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfd = -1;
	s->id = *id;
	snprintf(s->name, sizeof s->name, "%s", id->name);
	s->id.name = s->name;
	s->ops = *ops;
	snprintf(s->path, sizeof s->path, "%s", path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(s);
		return NULL;
	}
	struct stat sb;
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(path); /* a loomd before us left it */
	/* Made 0600 by the umask, so it is never open to others even for
	 * the moment before a chmod. */
	mode_t old = umask(0177);
	int rc = bind(s->lfd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc != 0 || listen(s->lfd, 4) != 0) {
		snprintf(err, errlen, "[control] socket %s: %s", path,
		         strerror(errno));
		close(s->lfd);
		free(s);
		return NULL;
	}
	return s;
}

void ctl_server_destroy(struct ctl_server *s)
{
	if (s == NULL)
		return;
	client_close(s);
	close(s->lfd);
	unlink(s->path);
	ctl_msg_wipe(&s->msg);
	free(s);
}

const struct ctl_server_stats *ctl_server_stats(const struct ctl_server *s)
{
	return &s->st;
}

/* Queue one answer; too little room (never: a client that does not read
 * its answers for 128 KiB) closes the client. */
static void reply(struct ctl_server *s, const struct ctl_msg *m)
{
	size_t n;
	if (s->tx_off > 0 && s->tx_off == s->tx_len)
		s->tx_off = s->tx_len = 0;
	if (ctl_msg_encode(m, s->tx + s->tx_len, sizeof s->tx - s->tx_len,
	                   &n) != 0) {
		LOG_WARN("control", "answer %s to loom-controld does not fit: "
		         "closing its connection", ctl_type_name(m->type));
		s->closing = true;
		s->tx_len = s->tx_off = 0;
		return;
	}
	s->tx_len += n;
}

static void reply_error(struct ctl_server *s, uint16_t code, uint32_t req,
                        const char *fmt, const char *detail)
{
	struct ctl_msg m = {.type = CTL_ERROR};
	m.u.error.code = code;
	m.u.error.req_id = req;
	snprintf(m.u.error.message, sizeof m.u.error.message, fmt, detail);
	s->st.errors++;
	reply(s, &m);
}

static void reply_ok(struct ctl_server *s, uint16_t type, uint32_t req)
{
	struct ctl_msg m = {.type = CTL_OK};
	m.u.ok.acked = type;
	m.u.ok.req_id = req;
	reply(s, &m);
}

/* A request whose answer is ready or posted; false if it must wait (the
 * repl lcore is busy with the previous one). */
static bool handle(struct ctl_server *s, struct ctl_msg *m)
{
	if (m->type == CTL_HELLO) {
		struct ctl_msg h = {.type = CTL_HELLO};
		h.u.hello.version = CTL_VERSION;
		h.u.hello.node_id = s->id.node_id;
		h.u.hello.cluster_id = s->id.cluster_id;
		snprintf(h.u.hello.name, sizeof h.u.hello.name, "%s", s->name);
		s->hello = true;
		reply(s, &h);
		LOG_INFO("control", "loom-controld %s (node %u) connected",
		         m->u.hello.name, m->u.hello.node_id);
		return true;
	}
	if (!s->hello) {
		reply_error(s, CTL_CODE_PROTOCOL, 0, "%s", "HELLO first");
		s->closing = true;
		return true;
	}
	switch (m->type) {
	case CTL_PEER_SET:
	case CTL_PEER_REMOVE:
		if (s->ops.post(s->ops.user, m) != 0)
			return false;
		s->waiting = true;
		s->wait_type = (uint16_t)m->type;
		if (m->type == CTL_PEER_SET) {
			s->wait_req = m->u.peer_set.req_id;
			s->st.peer_sets++;
			LOG_INFO("control", "peer %u: key of epoch %u",
			         m->u.peer_set.peer_id, m->u.peer_set.epoch);
		} else {
			s->wait_req = m->u.peer_remove.req_id;
			s->st.peer_removes++;
			LOG_INFO("control", "peer %u removed",
			         m->u.peer_remove.peer_id);
		}
		return true;
	case CTL_STATUS_REQ: {
		struct ctl_msg *a = &s->msg; /* m is consumed: reuse */
		uint32_t req = m->u.req.req_id;
		memset(a, 0, sizeof *a);
		a->type = CTL_STATUS;
		s->ops.status(s->ops.user, &a->u.status);
		a->u.status.req_id = req;
		s->st.status_reqs++;
		reply(s, a);
		return true;
	}
	default:
		reply_error(s, CTL_CODE_PROTOCOL, 0, "unexpected %s",
		            ctl_type_name(m->type));
		s->closing = true;
		return true;
	}
}

/* The answer of a command the repl lcore finished. */
static void finish(struct ctl_server *s)
{
	int res = 0;
	if (!s->waiting || s->ops.result(s->ops.user, &res) == 0)
		return;
	s->waiting = false;
	if (s->cfd < 0)
		return;
	if (res == 0)
		reply_ok(s, s->wait_type, s->wait_req);
	else if (s->wait_type == CTL_PEER_REMOVE)
		reply_error(s, CTL_CODE_NO_NODE, s->wait_req, "%s",
		            "no such peer");
	else
		reply_error(s, res == ENOSPC ? CTL_CODE_UNAVAILABLE
		                             : CTL_CODE_INVALID,
		            s->wait_req, "%s",
		            res == ENOSPC ? "no room for another peer"
		            : res == EINVAL
		                    ? "invalid peer (our own id, a taken "
		                      "address, epoch 0, or the same epoch "
		                      "with another secret)"
		                    : strerror(res));
}

static bool do_read(struct ctl_server *s)
{
	bool work = false;
	while (s->cfd >= 0 && !s->closing && s->rx_len < sizeof s->rx) {
		ssize_t n = read(s->cfd, s->rx + s->rx_len,
		                 sizeof s->rx - s->rx_len);
		if (n > 0) {
			s->rx_len += (size_t)n;
			work = true;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			LOG_INFO("control", "loom-controld disconnected");
			client_close(s);
			return true;
		}
		break;
	}
	return work;
}

static bool do_frames(struct ctl_server *s)
{
	bool work = false;
	while (s->cfd >= 0 && !s->closing && !s->waiting && s->rx_len > 0) {
		ssize_t need = ctl_frame_need(s->rx, s->rx_len);
		if (need == 0)
			break;
		int rc = need < 0 ? (int)need
		                  : ctl_msg_decode(s->rx, (size_t)need, &s->msg);
		if (rc != 0) {
			uint16_t code = rc == CTL_E_VERSION ? CTL_CODE_VERSION
			                                    : CTL_CODE_PROTOCOL;
			LOG_WARN("control", "from loom-controld: %s: closing",
			         ctl_msg_strerror(rc));
			reply_error(s, code, 0, "%s", ctl_msg_strerror(rc));
			s->closing = true;
			return true;
		}
		s->st.requests++;
		if (!handle(s, &s->msg)) {
			ctl_msg_wipe(&s->msg);
			break; /* the repl lcore is busy: the frame stays */
		}
		ctl_msg_wipe(&s->msg);
		memmove(s->rx, s->rx + need, s->rx_len - (size_t)need);
		memset(s->rx + s->rx_len - (size_t)need, 0, (size_t)need);
		s->rx_len -= (size_t)need;
		work = true;
	}
	return work;
}

static bool do_write(struct ctl_server *s)
{
	bool work = false;
	while (s->cfd >= 0 && s->tx_off < s->tx_len) {
		ssize_t n = send(s->cfd, s->tx + s->tx_off,
		                 s->tx_len - s->tx_off, MSG_NOSIGNAL);
		if (n > 0) {
			s->tx_off += (size_t)n;
			work = true;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return work;
		client_close(s);
		return true;
	}
	if (s->tx_off == s->tx_len)
		s->tx_off = s->tx_len = 0;
	if (s->cfd >= 0 && s->closing && s->tx_len == 0) {
		client_close(s);
		work = true;
	}
	return work;
}

bool ctl_server_poll(struct ctl_server *s)
{
	bool work = false;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		if (s->cfd >= 0) {
			LOG_INFO("control", "a new loom-controld connection "
			         "replaces the previous one");
			s->st.replaced++;
			client_close(s);
		}
		s->cfd = fd;
		s->st.clients++;
		work = true;
	}
	if (s->cfd < 0) {
		finish(s); /* a command posted before the client left */
		return work;
	}
	finish(s);
	work |= do_read(s);
	work |= do_frames(s);
	work |= do_write(s);
	return work;
}

/*
 * loom-controld: the control plane of one node (DESIGN §5,
 * docs/CONTROL.md "loom-controld"). It runs the mutual-TLS links with
 * every peer's loom-controld, owns and spreads the cluster topology,
 * derives each pair's replication secret from its TLS session and hands it
 * to the local loomd over a Unix socket, and answers loomctl.
 *
 * One thread and one poll() loop; every socket non-blocking; the state in
 * one struct controld (controld_ctx.h lists the modules). Signals: TERM
 * and INT stop it (loomd keeps its keys), HUP reloads the CA, certificate,
 * key and CRL and starts every link over under them.
 *
 * Exit codes: 0 stopped by a signal, 1 a start-up failure (files, sockets),
 * 2 usage or configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "control/controld_ctx.h"
#include "control/pki.h"
#include "control/tls.h"

#define CONTROLD_VERSION "0.2.0"

/* The only state outside struct controld: what the handlers saw. */
static volatile sig_atomic_t got_stop, got_reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_reload = 1;
	else
		got_stop = 1;
}

uint64_t cd_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t cd_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cd_wake_at(struct controld *ctx, uint64_t t)
{
	if (t < ctx->wake)
		ctx->wake = t;
}

void cd_poll_add(struct cd_pollset *ps, int fd, short events, int kind,
                 int idx)
{
	if (ps->n >= CD_MAX_FDS || fd < 0)
		return;
	ps->fds[ps->n].fd = fd;
	ps->fds[ps->n].events = events;
	ps->fds[ps->n].revents = 0;
	ps->kind[ps->n] = (uint8_t)kind;
	ps->idx[ps->n] = (uint16_t)idx;
	ps->n++;
}

int cd_mkdirs(const char *path, unsigned mode, char *err, size_t errlen)
{
	char buf[CD_PATH_MAX];
	struct stat sb;
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (stat(buf, &sb) != 0) {
			if (errno != ENOENT || mkdir(buf, (mode_t)mode) != 0 ||
			    chmod(buf, (mode_t)mode) != 0) {
				snprintf(err, errlen, "%s: %s", buf,
				         strerror(errno));
				return -1;
			}
		} else if (!S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s: not a directory", buf);
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

static void usage(FILE *f)
{
	fputs("usage: loom-controld --config FILE\n"
	      "\n"
	      "Loom's control plane: runs the mutual-TLS links with every\n"
	      "peer's loom-controld, owns the cluster topology and hands loomd\n"
	      "each pair's replication secret over a Unix socket; loomctl\n"
	      "talks to it (node add|remove, status, stats).\n"
	      "\n"
	      "  -c, --config FILE   the configuration: section [controld] with\n"
	      "                      name, listen, ca, cert, key, crl, state_dir,\n"
	      "                      loomd_socket, admin_socket,\n"
	      "                      rekey_interval_s, ping_interval_s,\n"
	      "                      dead_after_s, cluster_id, log_level\n"
	      "                      (docs/CONTROL.md)\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       print the version and the wolfSSL version\n"
	      "\n"
	      "Signals: TERM, INT stop (loomd keeps its keys); HUP reloads the\n"
	      "CA, certificate, key and CRL and opens every link again.\n"
	      "Exit: 0 stopped, 1 start-up failure, 2 usage or configuration.\n",
	      f);
}

static void reload(struct controld *ctx)
{
	char err[512], why[512];
	if (ctl_tls_ctx_reload(ctx->tls, err, sizeof err) != 0) {
		LOG_ERR(CD_LOG, "reload failed, keeping the files loaded "
		        "before: %s", err);
		return;
	}
	if (strcmp(ctl_tls_ctx_node(ctx->tls), ctx->name) != 0)
		LOG_WARN(CD_LOG, "the reloaded certificate names '%s', not "
		         "'%s': peers will refuse it", ctl_tls_ctx_node(ctx->tls),
		         ctx->name);
	int v = ctl_tls_ctx_check_self(ctx->tls, time(NULL), why, sizeof why);
	if (v != PKI_VERIFY_OK)
		LOG_ERR(CD_LOG, "our own certificate fails the peer check "
		        "(%s): %s", pki_verify_str(v), why);
	LOG_INFO(CD_LOG, "reloaded the CA, certificate, key and CRL: every "
	         "link starts over under them");
	cd_links_close_all(ctx, "certificates reloaded");
}

static void dispatch(struct controld *ctx, struct cd_pollset *ps)
{
	for (int i = 0; i < ps->n; i++) {
		short re = ps->fds[i].revents;
		if (re == 0)
			continue;
		int idx = ps->idx[i];
		switch (ps->kind[i]) {
		case FD_LISTEN:
			cd_peer_accept(ctx);
			break;
		case FD_ADMIN_LISTEN:
			cd_admin_accept(ctx);
			break;
		case FD_LINK:
			/* the slot may have been closed and reused by an
			 * earlier handler in this round */
			if (ctx->links[idx].state != LINK_FREE &&
			    ctx->links[idx].c.fd == ps->fds[i].fd)
				cd_link_event(ctx, idx, re);
			break;
		case FD_LOOMD:
			if (ctx->loomd.state != LOOMD_DOWN &&
			    ctx->loomd.c.fd == ps->fds[i].fd)
				cd_loomd_event(ctx, re);
			break;
		case FD_ADMIN:
			if (ctx->admin[idx].used &&
			    ctx->admin[idx].c.fd == ps->fds[i].fd)
				cd_admin_event(ctx, idx, re);
			break;
		}
	}
}

static int run(struct controld *ctx)
{
	struct cd_pollset *ps = calloc(1, sizeof *ps);
	if (ps == NULL) {
		LOG_ERR(CD_LOG, "out of memory");
		return 1;
	}
	while (!got_stop) {
		ctx->now = cd_mono_ms();
		ctx->wake = ctx->now + 1000;
		if (got_reload) {
			got_reload = 0;
			reload(ctx);
		}
		cd_loomd_timers(ctx);
		cd_peer_timers(ctx);
		ps->n = 0;
		cd_poll_add(ps, ctx->listen_fd, POLLIN, FD_LISTEN, 0);
		cd_poll_add(ps, ctx->admin_fd, POLLIN, FD_ADMIN_LISTEN, 0);
		cd_peer_pollfds(ctx, ps);
		cd_loomd_pollfds(ctx, ps);
		cd_admin_pollfds(ctx, ps);
		uint64_t now = cd_mono_ms();
		int timeout = ctx->wake > now ? (int)(ctx->wake - now) : 0;
		int r = poll(ps->fds, (nfds_t)ps->n, timeout);
		if (r < 0 && errno != EINTR) {
			LOG_ERR(CD_LOG, "poll: %s", strerror(errno));
			free(ps);
			return 1;
		}
		ctx->now = cd_mono_ms();
		if (r > 0)
			dispatch(ctx, ps);
	}
	free(ps);
	LOG_INFO(CD_LOG, "stopping (signal); loomd keeps the keys it has");
	return 0;
}

static void shutdown_all(struct controld *ctx)
{
	cd_links_close_all(ctx, "loom-controld stopping");
	if (ctx->loomd.state != LOOMD_DOWN)
		conn_close(&ctx->loomd.c);
	cd_admin_close_all(ctx);
	if (ctx->listen_fd >= 0)
		close(ctx->listen_fd);
	if (ctx->admin_fd >= 0) {
		close(ctx->admin_fd);
		unlink(ctx->cfg.admin_socket);
	}
	for (int p = 0; p < TOPO_MAX_NODES; p++)
		cd_peer_forget_secret(&ctx->peers[p]);
	ctl_tls_ctx_free(ctx->tls);
	free(ctx->text);
}

static struct controld *ctx_new(void)
{
	struct controld *ctx = calloc(1, sizeof *ctx);
	if (ctx == NULL)
		return NULL;
	ctx->text = malloc(CTL_TEXT_MAX + 1);
	if (ctx->text == NULL) {
		free(ctx);
		return NULL;
	}
	ctx->listen_fd = ctx->admin_fd = -1;
	for (int i = 0; i < CD_MAX_LINKS; i++) {
		conn_reset(&ctx->links[i].c);
		ctx->links[i].peer = -1;
	}
	for (int p = 0; p < TOPO_MAX_NODES; p++)
		ctx->peers[p].link = -1;
	for (int i = 0; i < CD_MAX_ADMIN; i++)
		conn_reset(&ctx->admin[i].c);
	conn_reset(&ctx->loomd.c);
	ctx->now = cd_mono_ms();
	ctx->started_ms = cd_wall_ms();
	return ctx;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
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
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("loom-controld %s (wolfSSL %s)\n", CONTROLD_VERSION,
			       wolfSSL_lib_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL || optind != argc) {
		if (optind != argc)
			fprintf(stderr, "loom-controld: unexpected argument "
			        "'%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	struct controld *ctx = ctx_new();
	char err[1024], why[512];
	if (ctx == NULL) {
		fputs("loom-controld: out of memory\n", stderr);
		return 1;
	}
	ctx->config_path = config;
	if (cd_config_load(config, &ctx->cfg, err, sizeof err) != 0) {
		fprintf(stderr, "loom-controld: %s\n", err);
		free(ctx->text);
		free(ctx);
		return 2;
	}
	loom_log_set_level((enum loom_log_level)ctx->cfg.log_level);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	int rc = 1;
	ctx->tls = ctl_tls_ctx_new(ctx->cfg.ca, ctx->cfg.cert, ctx->cfg.key,
	                           ctx->cfg.crl, err, sizeof err);
	if (ctx->tls == NULL) {
		LOG_ERR(CD_LOG, "%s", err);
		goto out;
	}
	snprintf(ctx->name, sizeof ctx->name, "%s",
	         ctl_tls_ctx_node(ctx->tls));
	if (ctx->cfg.name[0] != '\0' && strcmp(ctx->cfg.name, ctx->name) != 0) {
		LOG_ERR(CD_LOG, "%s: [controld] name is %s, but the certificate "
		        "%s is %s's", config, ctx->cfg.name, ctx->cfg.cert,
		        ctx->name);
		goto out;
	}
	int v = ctl_tls_ctx_check_self(ctx->tls, time(NULL), why, sizeof why);
	if (v != PKI_VERIFY_OK)
		LOG_ERR(CD_LOG, "our own certificate fails the peer check (%s): "
		        "%s; every peer will refuse this node", pki_verify_str(v),
		        why);
	if (cd_topo_start(ctx, err, sizeof err) != 0 ||
	    cd_peer_listen(ctx, err, sizeof err) != 0 ||
	    cd_admin_listen(ctx, err, sizeof err) != 0) {
		LOG_ERR(CD_LOG, "%s", err);
		goto out;
	}
	char listen[TOPO_ADDR_STR];
	topo_addr_str(ctx->cfg.listen_ip_be, ctx->cfg.listen_port, listen);
	LOG_INFO(CD_LOG, "loom-controld %s: node %s, listening on %s; loomctl "
	         "on %s; loomd at %s; rekey every %u s", CONTROLD_VERSION,
	         ctx->name, listen, ctx->cfg.admin_socket,
	         ctx->cfg.loomd_socket, ctx->cfg.rekey_interval_s);
	rc = run(ctx);
out:
	shutdown_all(ctx);
	free(ctx);
	return rc;
}

/*
 * test_ctl_tls.c - loom-controld's TLS links (control/tls.c) end to end:
 * a CA and node certificates made with control/pki.h in a mkdtemp
 * directory, links over socketpair(AF_UNIX) with both ends non-blocking,
 * stepped alternately in this one thread. The good pair (names, the key
 * export, data both ways, orderly and abrupt close), every refusal in both
 * directions with its reason (another CA, expired, revoked, wrong name), a
 * client without a certificate, and a CRL reload.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "check.h"
#include "control/pki.h"
#include "control/tls.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400
#define STEPS 200 /* handshake rounds before a test gives up */
#define ROOT_PREFIX "/tmp/loom-test-ctl-tls."

static char root[256];

static const char *pathf(char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *pathf(char *out, const char *fmt, ...)
{
	char rel[PATH_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	snprintf(out, PATH_MAX, "%s/%s", root, rel);
	return out;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_root(void)
{
	if (strncmp(root, ROOT_PREFIX, strlen(ROOT_PREFIX)) == 0)
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool copy(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[4096];
	size_t n;
	bool ok = in != NULL && out != NULL;
	while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ok = false;
	return ok;
}

/* A node's context: the CA and CRL of CA directory ca_dir (trust), and
 * the certificate and key in nodes/BUNDLE/NODE.*.pem (identity). */
static struct ctl_tls_ctx *node_ctx(const char *ca_dir, const char *bundle,
                                    const char *node)
{
	char ca[PATH_MAX], crl[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	char err[512];
	struct ctl_tls_ctx *c = ctl_tls_ctx_new(
		pathf(ca, "%s/ca.crt.pem", ca_dir),
		pathf(crt, "nodes/%s/%s.crt.pem", bundle, node),
		pathf(key, "nodes/%s/%s.key.pem", bundle, node),
		pathf(crl, "%s/crl.pem", ca_dir), err, sizeof err);
	if (c == NULL)
		fprintf(stderr, "ctx %s/%s: %s\n", bundle, node, err);
	CHECK(c != NULL);
	return c;
}

/* ---- links over a socketpair ------------------------------------------ */

struct link {
	int fd[2]; /* [0] the client's end, [1] the server's */
	struct ctl_tls *c, *s;
	int cr, sr; /* the last handshake results */
};

static bool link_open(struct link *l, struct ctl_tls_ctx *cctx,
                      const char *c_expect, struct ctl_tls_ctx *sctx,
                      const char *s_expect)
{
	memset(l, 0, sizeof *l);
	l->fd[0] = l->fd[1] = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	               l->fd) != 0) {
		perror("socketpair");
		return false;
	}
	l->c = ctl_tls_new(cctx, l->fd[0], true, c_expect);
	l->s = ctl_tls_new(sctx, l->fd[1], false, s_expect);
	l->cr = l->sr = CTL_TLS_WANT_READ;
	CHECK(l->c != NULL && l->s != NULL);
	return l->c != NULL && l->s != NULL;
}

static bool in_progress(int r)
{
	return r == CTL_TLS_WANT_READ || r == CTL_TLS_WANT_WRITE;
}

/* Steps both ends alternately until neither is in progress; an end whose
 * peer failed silently would wait forever, so the rounds are bounded. */
static void link_run(struct link *l)
{
	for (int i = 0; i < STEPS && (in_progress(l->cr) || in_progress(l->sr));
	     i++) {
		if (in_progress(l->cr))
			l->cr = ctl_tls_handshake(l->c);
		if (in_progress(l->sr))
			l->sr = ctl_tls_handshake(l->s);
	}
}

static void link_close(struct link *l)
{
	ctl_tls_free(l->c);
	ctl_tls_free(l->s);
	for (int i = 0; i < 2; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	memset(l, 0, sizeof *l);
}

/* ---- data ------------------------------------------------------------- */

static uint8_t pattern(size_t i, unsigned seed)
{
	return (uint8_t)(i * 31u + seed + (i >> 9));
}

/* Moves total bytes from w to r through the socket: w writes until TLS
 * says WANT_WRITE (then retries the same chunk, as tls.h asks), r reads
 * until WANT_READ, and the bytes must arrive in order. *blocked counts the
 * WANT_WRITEs seen. */
static bool transfer(struct ctl_tls *w, struct ctl_tls *r, size_t total,
                     unsigned seed, int *blocked)
{
	uint8_t out[3000], in[4096];
	size_t sent = 0, got = 0;
	int want;
	for (int round = 0; round < 10000 && got < total; round++) {
		while (sent < total) {
			size_t n = total - sent < sizeof out ? total - sent
			                                     : sizeof out;
			for (size_t i = 0; i < n; i++)
				out[i] = pattern(sent + i, seed);
			ssize_t k = ctl_tls_write(w, out, n, &want);
			if (k < 0 && want == CTL_TLS_WANT_WRITE) {
				CHECK(errno == EAGAIN);
				(*blocked)++;
				break;
			}
			if (k != (ssize_t)n) {
				fprintf(stderr, "write: %zd (%s)\n", k,
				        ctl_tls_error(w));
				return false;
			}
			sent += n;
		}
		for (;;) {
			ssize_t k = ctl_tls_read(r, in, sizeof in, &want);
			if (k < 0 && want == CTL_TLS_WANT_READ)
				break;
			if (k <= 0) {
				fprintf(stderr, "read: %zd (%s)\n", k,
				        ctl_tls_error(r));
				return false;
			}
			for (ssize_t i = 0; i < k; i++)
				if (in[i] != pattern(got + (size_t)i, seed)) {
					fprintf(stderr, "byte %zu differs\n",
					        got + (size_t)i);
					return false;
				}
			got += (size_t)k;
		}
	}
	return got == total && sent == total;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- the cases -------------------------------------------------------- */

static void test_good_pair(struct ctl_tls_ctx *n1, struct ctl_tls_ctx *n2)
{
	struct link l, l2;
	uint8_t c1[CTL_TLS_EXPORT_LEN], s1[CTL_TLS_EXPORT_LEN];
	uint8_t c2[CTL_TLS_EXPORT_LEN], s2[CTL_TLS_EXPORT_LEN];
	uint8_t other[CTL_TLS_EXPORT_LEN], buf[16];
	int want;

	/* n2 dials n1: the client knows whom it wants, the server takes any
	 * member. */
	if (!link_open(&l, n2, "n1", n1, NULL))
		return;
	CHECK(ctl_tls_peer_name(l.c) == NULL);
	CHECK(ctl_tls_verdict(l.c) == -1);
	CHECK(ctl_tls_export(l.c, 1, c1) == -1);
	CHECK(all_zero(c1, sizeof c1));
	CHECK(ctl_tls_read(l.c, buf, sizeof buf, &want) == -1);
	CHECK(want == CTL_TLS_ERR && errno == ENOTCONN);
	link_run(&l);
	CHECK(l.cr == CTL_TLS_DONE);
	CHECK(l.sr == CTL_TLS_DONE);
	if (l.cr != CTL_TLS_DONE || l.sr != CTL_TLS_DONE)
		fprintf(stderr, "good pair: client '%s', server '%s'\n",
		        ctl_tls_error(l.c), ctl_tls_error(l.s));
	CHECK(ctl_tls_handshake(l.c) == CTL_TLS_DONE); /* stays DONE */
	CHECK(strcmp(ctl_tls_error(l.c), "") == 0);
	CHECK(ctl_tls_peer_name(l.c) != NULL &&
	      strcmp(ctl_tls_peer_name(l.c), "n1") == 0);
	CHECK(ctl_tls_peer_name(l.s) != NULL &&
	      strcmp(ctl_tls_peer_name(l.s), "n2") == 0);
	CHECK(ctl_tls_verdict(l.c) == PKI_VERIFY_OK);
	CHECK(ctl_tls_verdict(l.s) == PKI_VERIFY_OK);

	/* The exporter: equal on both ends, per epoch. */
	CHECK(ctl_tls_export(l.c, 1, c1) == 0);
	CHECK(ctl_tls_export(l.s, 1, s1) == 0);
	CHECK(memcmp(c1, s1, sizeof c1) == 0);
	CHECK(!all_zero(c1, sizeof c1));
	CHECK(ctl_tls_export(l.c, 2, c2) == 0);
	CHECK(ctl_tls_export(l.s, 2, s2) == 0);
	CHECK(memcmp(c2, s2, sizeof c2) == 0);
	CHECK(memcmp(c1, c2, sizeof c1) != 0);
	/* The epoch is big-endian: 0x0100 is not 0x0001. */
	CHECK(ctl_tls_export(l.c, 0x0100, other) == 0);
	CHECK(memcmp(other, c1, sizeof c1) != 0);
	CHECK(ctl_tls_export(l.c, 1, other) == 0); /* repeatable */
	CHECK(memcmp(other, c1, sizeof c1) == 0);
	CHECK(strcmp(CTL_TLS_EXPORT_LABEL, "EXPORTER-loom-replication") == 0);

	/* Data both ways, more than the socket holds, so writes block. */
	{
		int sndbuf = 4096, blocked = 0;
		CHECK(setsockopt(l.fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		                 sizeof sndbuf) == 0);
		CHECK(setsockopt(l.fd[1], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		                 sizeof sndbuf) == 0);
		CHECK(transfer(l.c, l.s, 200000, 7, &blocked));
		CHECK(blocked > 0);
		blocked = 0;
		CHECK(transfer(l.s, l.c, 200000, 11, &blocked));
		CHECK(blocked > 0);
		CHECK(transfer(l.c, l.s, 5, 3, &blocked));
		CHECK(ctl_tls_read(l.s, buf, sizeof buf, &want) == -1);
		CHECK(want == CTL_TLS_WANT_READ && errno == EAGAIN);
		CHECK(ctl_tls_pending(l.s) == 0);
	}
	/* ctl_tls_pending: one record, read a byte at a time. */
	{
		CHECK(ctl_tls_write(l.s, "hello", 5, &want) == 5);
		CHECK(ctl_tls_read(l.c, buf, 1, &want) == 1 && buf[0] == 'h');
		CHECK(ctl_tls_pending(l.c) == 4);
		CHECK(ctl_tls_read(l.c, buf, sizeof buf, &want) == 4 &&
		      memcmp(buf, "ello", 4) == 0);
		CHECK(ctl_tls_pending(l.c) == 0);
	}

	/* A second connection of the same pair (the server now expects n2
	 * by name): other secrets. */
	if (link_open(&l2, n2, "n1", n1, "n2")) {
		link_run(&l2);
		CHECK(l2.cr == CTL_TLS_DONE && l2.sr == CTL_TLS_DONE);
		CHECK(ctl_tls_export(l2.c, 1, other) == 0);
		CHECK(ctl_tls_export(l2.s, 1, s2) == 0);
		CHECK(memcmp(other, s2, sizeof s2) == 0);
		CHECK(memcmp(other, c1, sizeof c1) != 0);
		/* An abrupt close (no close_notify) is an error, not EOF. */
		close(l2.fd[0]);
		l2.fd[0] = -1;
		CHECK(ctl_tls_read(l2.s, buf, sizeof buf, &want) == -1);
		CHECK(want == CTL_TLS_ERR);
		CHECK_STR_CONTAINS(ctl_tls_error(l2.s), "closed the connection");
		/* A failed link is final: no more keys from it. */
		CHECK(ctl_tls_export(l2.s, 1, s2) == -1);
		CHECK(ctl_tls_handshake(l2.s) == CTL_TLS_ERR);
		link_close(&l2);
	}

	/* Orderly close: close_notify, then the peer reads 0. */
	CHECK(ctl_tls_shutdown(l.c) == CTL_TLS_DONE);
	CHECK(ctl_tls_shutdown(l.c) == CTL_TLS_DONE);
	CHECK(ctl_tls_read(l.s, buf, sizeof buf, &want) == 0);
	CHECK(ctl_tls_read(l.s, buf, sizeof buf, &want) == 0);
	CHECK(strcmp(ctl_tls_error(l.s), "") == 0);
	link_close(&l);
}

/* `bad` presents its certificate to `good` (which expects good_expect):
 * good must refuse it with a reason containing r1 and r2 and verdict
 * `verdict`; bad must end failed too, from the alert: at once, or, as a
 * client whose handshake completed before the server judged it, on its
 * first read (tls.h). */
static void refused(const char *what, struct ctl_tls_ctx *good,
                    const char *good_expect, struct ctl_tls_ctx *bad,
                    bool bad_is_client, int verdict, const char *r1,
                    const char *r2)
{
	struct link l;
	struct ctl_tls *g, *b;
	int gr, br, want;
	uint8_t buf[16], key[CTL_TLS_EXPORT_LEN];
	bool ok = bad_is_client ? link_open(&l, bad, NULL, good, good_expect)
	                        : link_open(&l, good, good_expect, bad, NULL);
	if (!ok)
		return;
	link_run(&l);
	g = bad_is_client ? l.s : l.c;
	b = bad_is_client ? l.c : l.s;
	gr = bad_is_client ? l.sr : l.cr;
	br = bad_is_client ? l.cr : l.sr;
	CHECK(gr == CTL_TLS_ERR);
	CHECK(ctl_tls_verdict(g) == verdict);
	CHECK(ctl_tls_peer_name(g) == NULL);
	CHECK_STR_CONTAINS(ctl_tls_error(g), r1);
	CHECK_STR_CONTAINS(ctl_tls_error(g), r2);
	CHECK(ctl_tls_export(g, 1, key) == -1);
	CHECK(all_zero(key, sizeof key));
	CHECK(ctl_tls_read(g, buf, sizeof buf, &want) == -1 &&
	      want == CTL_TLS_ERR && errno == EPROTO);
	if (br == CTL_TLS_DONE) {
		/* Only a client can be DONE while refused. */
		CHECK(bad_is_client);
		ssize_t k = ctl_tls_read(b, buf, sizeof buf, &want);
		CHECK(k == -1 && want == CTL_TLS_ERR);
	} else {
		CHECK(br == CTL_TLS_ERR);
	}
	printf("%s, bad %s (%s): %s | %s\n", what,
	       bad_is_client ? "client" : "server",
	       br == CTL_TLS_DONE ? "done, then read" : "handshake",
	       ctl_tls_error(g), ctl_tls_error(b));
	CHECK_STR_CONTAINS(ctl_tls_error(b), "the peer sent alert");
	CHECK(ctl_tls_peer_name(b) == NULL);
	link_close(&l);
}

/* A TLS client without a certificate, plain wolfSSL (a ctl_tls context
 * always has one): the server refuses it. */
static void test_no_client_cert(struct ctl_tls_ctx *server, const char *ca)
{
	struct link l;
	WOLFSSL_CTX *raw = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	WOLFSSL *c = NULL;
	CHECK(raw != NULL);
	if (raw == NULL)
		return;
	CHECK(wolfSSL_CTX_load_verify_locations(raw, ca, NULL) ==
	      WOLFSSL_SUCCESS);
	memset(&l, 0, sizeof l);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	                 l.fd) == 0);
	l.s = ctl_tls_new(server, l.fd[1], false, NULL);
	c = wolfSSL_new(raw);
	CHECK(l.s != NULL && c != NULL);
	if (l.s != NULL && c != NULL) {
		CHECK(wolfSSL_set_fd(c, l.fd[0]) == WOLFSSL_SUCCESS);
		int cr = 0, sr = CTL_TLS_WANT_READ;
		bool cdone = false;
		for (int i = 0; i < STEPS && in_progress(sr); i++) {
			if (!cdone) {
				cr = wolfSSL_connect(c);
				int e = wolfSSL_get_error(c, cr);
				cdone = cr == WOLFSSL_SUCCESS ||
				        (e != WOLFSSL_ERROR_WANT_READ &&
				         e != WOLFSSL_ERROR_WANT_WRITE);
			}
			sr = ctl_tls_handshake(l.s);
		}
		printf("no client certificate: %s\n", ctl_tls_error(l.s));
		CHECK(sr == CTL_TLS_ERR);
		CHECK_STR_CONTAINS(ctl_tls_error(l.s), "presented none");
		CHECK(ctl_tls_verdict(l.s) == -1);
		CHECK(ctl_tls_peer_name(l.s) == NULL);
	}
	wolfSSL_free(c);
	wolfSSL_CTX_free(raw);
	link_close(&l);
}

static void test_ctx_errors(void)
{
	char ca[PATH_MAX], crl[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	char other[PATH_MAX], err[512];
	pathf(ca, "a/ca.crt.pem");
	pathf(crl, "a/crl.pem");
	pathf(crt, "nodes/n1/n1.crt.pem");
	pathf(key, "nodes/n1/n1.key.pem");

	err[0] = '\0';
	CHECK(ctl_tls_ctx_new(ca, crt, key, NULL, err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "CRL");
	CHECK(ctl_tls_ctx_new(ca, pathf(other, "nodes/n1/nope.pem"), key, crl,
	                      err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "nope.pem");
	/* n1's certificate with n2's key. */
	CHECK(ctl_tls_ctx_new(ca, crt, pathf(other, "nodes/n2/n2.key.pem"), crl,
	                      err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "does not match");
	/* The other CA's CRL with this CA. */
	CHECK(ctl_tls_ctx_new(ca, crt, key, pathf(other, "b/crl.pem"), err,
	                      sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "crl.pem");
	/* A certificate where the key should be. */
	CHECK(ctl_tls_ctx_new(ca, crt, crt, crl, err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "n1.crt.pem");
	/* An invalid expected name is refused up front. */
	struct ctl_tls_ctx *c = ctl_tls_ctx_new(ca, crt, key, crl, err,
	                                        sizeof err);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(ctl_tls_new(c, 0, true, "a b") == NULL);
		CHECK(ctl_tls_new(c, -1, true, NULL) == NULL);
		ctl_tls_ctx_free(c);
	}
}

int main(void)
{
	char p[PATH_MAX], q[PATH_MAX], err[512], why[512];
	struct pki_ca *ca = NULL, *cb = NULL;
	struct pki_record rec;
	time_t now = time(NULL);

	snprintf(root, sizeof root, ROOT_PREFIX "XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	CHECK(wolfSSL_Init() == WOLFSSL_SUCCESS); /* for the raw client */

	/* CA a (the cluster's) and CA b (another cluster). */
	CHECK(pki_ca_init(pathf(p, "a"), "alpha", now - 100 * DAY,
	                  now + 3650 * DAY, false, err, sizeof err) == 0);
	CHECK(pki_ca_init(pathf(p, "b"), "beta", now - 100 * DAY,
	                  now + 3650 * DAY, false, err, sizeof err) == 0);
	CHECK(pki_ca_open(pathf(p, "a"), true, &ca, err, sizeof err) == 0);
	CHECK(pki_ca_open(pathf(p, "b"), true, &cb, err, sizeof err) == 0);
	if (ca == NULL || cb == NULL) {
		fprintf(stderr, "cannot go on: %s\n", err);
		rm_root();
		CHECK_DONE();
	}
	static const struct {
		const char *node;
		long from, to; /* days from now */
	} issue[] = {
		{"n1", -1, 365},  /* serial 1 */
		{"n2", -1, 365},  /* 2 */
		{"n3", -1, 365},  /* 3 */
		{"old", -30, -1}, /* 4: expired yesterday */
		{"n4", -1, 365},  /* 5: revoked below */
	};
	for (size_t i = 0; i < sizeof issue / sizeof issue[0]; i++) {
		CHECK(pki_cert_issue(ca, issue[i].node, now + issue[i].from * DAY,
		                     now + issue[i].to * DAY,
		                     pathf(p, "nodes/%s", issue[i].node), false,
		                     &rec, err, sizeof err) == 0);
		CHECK_EQ_U64(rec.serial, i + 1);
	}
	/* n2 of the other CA: right name, wrong signer. */
	CHECK(pki_cert_issue(cb, "n2", now - DAY, now + 365 * DAY,
	                     pathf(p, "nodes/b-n2"), false, &rec, err,
	                     sizeof err) == 0);

	test_ctx_errors();

	struct ctl_tls_ctx *n1 = node_ctx("a", "n1", "n1");
	struct ctl_tls_ctx *n2 = node_ctx("a", "n2", "n2");
	/* A node whose CRL is a copy, for the reload: made before n4's
	 * revocation. */
	CHECK(mkdir(pathf(p, "r"), 0700) == 0);
	CHECK(copy(pathf(p, "a/ca.crt.pem"), pathf(q, "r/ca.crt.pem")));
	CHECK(copy(pathf(p, "a/crl.pem"), pathf(q, "r/crl.pem")));
	struct ctl_tls_ctx *r1 = node_ctx("r", "n1", "n1");
	struct ctl_tls_ctx *n4 = node_ctx("a", "n4", "n4");
	if (n1 == NULL || n2 == NULL || r1 == NULL || n4 == NULL)
		goto out;
	CHECK(strcmp(ctl_tls_ctx_node(n1), "n1") == 0);
	CHECK(ctl_tls_ctx_check_self(n1, now, why, sizeof why) ==
	      PKI_VERIFY_OK);

	test_good_pair(n1, n2);

	/* Revoke n4; contexts made from now on see it. */
	CHECK(pki_cert_revoke(ca, 5, now, err, sizeof err) == 0);
	struct ctl_tls_ctx *n3 = node_ctx("a", "n3", "n3");
	struct ctl_tls_ctx *old = node_ctx("a", "old", "old");
	struct ctl_tls_ctx *n4r = node_ctx("a", "n4", "n4");
	/* b's n2, trusting a: it accepts a's nodes, they must refuse it. */
	struct ctl_tls_ctx *bn2 = node_ctx("a", "b-n2", "n2");
	struct ctl_tls_ctx *n1r = node_ctx("a", "n1", "n1");
	if (n3 == NULL || old == NULL || n4r == NULL || bn2 == NULL ||
	    n1r == NULL)
		goto out2;

	/* Our own certificate as the peers will see it. */
	CHECK(ctl_tls_ctx_check_self(old, now, why, sizeof why) ==
	      PKI_VERIFY_EXPIRED);
	CHECK(ctl_tls_ctx_check_self(n4r, now, why, sizeof why) ==
	      PKI_VERIFY_REVOKED);
	CHECK(ctl_tls_ctx_check_self(bn2, now, why, sizeof why) ==
	      PKI_VERIFY_BAD_CHAIN);

	/* Every refusal, bad client then bad server. */
	for (int side = 0; side < 2; side++) {
		bool bc = side == 0;
		refused("another CA", n1r, NULL, bn2, bc,
		        PKI_VERIFY_BAD_CHAIN, "peer certificate refused (bad-chain)",
		        "not by the cluster CA 'loom cluster CA alpha'");
		refused("expired", n1r, NULL, old, bc, PKI_VERIFY_EXPIRED,
		        "peer certificate refused (expired)",
		        "serial 4 expired at");
		refused("revoked", n1r, NULL, n4r, bc, PKI_VERIFY_REVOKED,
		        "peer certificate refused (revoked)",
		        "serial 5 ('n4') is revoked");
		refused("wrong name", n1r, "n2", n3, bc,
		        PKI_VERIFY_WRONG_NAME,
		        "peer certificate refused (wrong-name)",
		        "names 'n3', not 'n2'");
	}
	/* The names work both ways round too: n3 is fine as n3. */
	{
		struct link l;
		if (link_open(&l, n3, "n1", n1r, "n3")) {
			link_run(&l);
			CHECK(l.cr == CTL_TLS_DONE && l.sr == CTL_TLS_DONE);
			link_close(&l);
		}
	}

	test_no_client_cert(n1r, pathf(p, "a/ca.crt.pem"));

	/* The reload: r1 still has the CRL from before the revocation and
	 * lets n4 in; after a reload of the new crl.pem it refuses, also
	 * on a link made before the reload (its WOLFSSL_CTX is the old
	 * one, kept alive by the link). */
	{
		struct link l, pre;
		if (link_open(&l, n4r, NULL, r1, NULL)) {
			link_run(&l);
			CHECK(l.cr == CTL_TLS_DONE && l.sr == CTL_TLS_DONE);
			link_close(&l);
		}
		CHECK(copy(pathf(p, "a/crl.pem"), pathf(q, "r/crl.pem")));
		bool pre_ok = link_open(&pre, n4r, NULL, r1, NULL);
		CHECK(ctl_tls_ctx_reload(r1, err, sizeof err) == 0);
		if (pre_ok) {
			link_run(&pre);
			CHECK(pre.sr == CTL_TLS_ERR);
			CHECK_STR_CONTAINS(ctl_tls_error(pre.s),
			                   "refused (revoked)");
			link_close(&pre);
		}
		refused("revoked after reload", r1, NULL, n4r, true,
		        PKI_VERIFY_REVOKED, "refused (revoked)", "serial 5");
		/* A reload that fails keeps what the context had. */
		FILE *f = fopen(pathf(p, "r/crl.pem"), "w");
		CHECK(f != NULL);
		if (f != NULL) {
			fputs("-----BEGIN X509 CRL-----\nAAAA\n"
			      "-----END X509 CRL-----\n", f);
			fclose(f);
		}
		CHECK(ctl_tls_ctx_reload(r1, err, sizeof err) == -1);
		CHECK_STR_CONTAINS(err, "crl.pem");
		refused("revoked after a failed reload", r1, NULL, n4r, false,
		        PKI_VERIFY_REVOKED, "refused (revoked)", "serial 5");
		if (link_open(&l, n2, "n1", r1, "n2")) {
			link_run(&l);
			CHECK(l.cr == CTL_TLS_DONE && l.sr == CTL_TLS_DONE);
			link_close(&l);
		}
	}

out2:
	ctl_tls_ctx_free(n3);
	ctl_tls_ctx_free(old);
	ctl_tls_ctx_free(n4r);
	ctl_tls_ctx_free(bn2);
	ctl_tls_ctx_free(n1r);
out:
	ctl_tls_ctx_free(n1);
	ctl_tls_ctx_free(n2);
	ctl_tls_ctx_free(r1);
	ctl_tls_ctx_free(n4);
	pki_ca_free(ca);
	pki_ca_free(cb);
	wolfSSL_Cleanup();
	rm_root();
	CHECK_DONE();
}

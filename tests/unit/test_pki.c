/*
 * test_pki.c - the cluster PKI (control/pki.c) in a mkdtemp directory:
 * CA creation and refusal, node certificates, the peer check's every
 * answer, the CRL, the files' modes and formats, and that wolfSSL itself
 * takes the certificates, keys and CRL: its parser, its CertManager, and a
 * TLS 1.3 mutual-authentication handshake over memory (no network).
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "check.h"
#include "control/pki.h"

#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400

static char root[256]; /* the mkdtemp directory; everything is in it */

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

/* The whole mkdtemp tree, nothing outside it. */
static void rm_root(void)
{
	if (strncmp(root, "/tmp/loom-test-pki.", 19) == 0)
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint8_t *load_cert(const char *path, size_t *len)
{
	uint8_t *der = NULL;
	char err[256];
	if (pki_read_cert_file(path, &der, len, err, sizeof err) != 0) {
		fprintf(stderr, "load %s: %s\n", path, err);
		*len = 0;
		return NULL;
	}
	return der;
}

/* pki_verify_peer on a file; prints the reason when it is not `want`. */
static int verify_file(const struct pki_ca *ca, const char *path,
                       const char *name, time_t now, int want)
{
	size_t len;
	char why[512];
	uint8_t *der = load_cert(path, &len);
	int r = pki_verify_peer(ca, der, len, name, now, why, sizeof why);
	if (r != want)
		fprintf(stderr, "verify %s as %s: %s (%s), wanted %s\n", path,
		        name ? name : "(any)", pki_verify_str(r), why,
		        pki_verify_str(want));
	free(der);
	return r;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
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

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return false;
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

static void test_names_and_times(void)
{
	char s64[65];
	memset(s64, 'a', 64);
	s64[64] = '\0';
	CHECK(pki_valid_node_name("n1"));
	CHECK(pki_valid_node_name("node-1.rack_2"));
	CHECK(!pki_valid_node_name(s64));
	s64[63] = '\0';
	CHECK(pki_valid_node_name(s64));
	CHECK(!pki_valid_node_name(""));
	CHECK(!pki_valid_node_name("."));
	CHECK(!pki_valid_node_name(".."));
	CHECK(!pki_valid_node_name("ca"));
	CHECK(!pki_valid_node_name("a b"));
	CHECK(!pki_valid_node_name("a/b"));
	CHECK(!pki_valid_node_name("n\xc3\xa9"));
	CHECK(pki_valid_cluster_name("prod-eu.1"));
	CHECK(!pki_valid_cluster_name(s64)); /* 63 > 47 */

	char buf[PKI_TIME_LEN];
	time_t t;
	pki_time_format(0, buf);
	CHECK(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
	CHECK(pki_time_parse("2060-02-29T23:59:59Z", &t) == 0);
	pki_time_format(t, buf);
	CHECK(strcmp(buf, "2060-02-29T23:59:59Z") == 0);
	CHECK(pki_time_parse("2061-02-29T00:00:00Z", &t) != 0);
	CHECK(pki_time_parse("2025-01-01 00:00:00Z", &t) != 0);
	CHECK(pki_time_parse("2025-01-01T00:00:00", &t) != 0);
}

/* wolfSSL's own parser sees what we meant to issue. */
static void check_decoded(const char *path, const char *node)
{
	size_t len;
	uint8_t *der = load_cert(path, &len);
	DecodedCert dc;
	CHECK(der != NULL);
	if (der == NULL)
		return;
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	CHECK(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0);
	CHECK(dc.subjectCN != NULL &&
	      dc.subjectCNLen == (int)strlen(node) &&
	      memcmp(dc.subjectCN, node, strlen(node)) == 0);
	bool san = false;
	for (DNS_entry *e = dc.altNames; e != NULL; e = e->next)
		if (e->type == ASN_DNS_TYPE && e->len == (int)strlen(node) &&
		    memcmp(e->name, node, strlen(node)) == 0)
			san = true;
	CHECK(san);
	CHECK(!dc.isCA);
	CHECK(dc.keyOID == ECDSAk);
	CHECK(dc.signatureOID == CTC_SHA256wECDSA);
	CHECK((dc.extKeyUsage & (KEYUSE_DIGITAL_SIG | KEYUSE_KEY_AGREE)) ==
	      (KEYUSE_DIGITAL_SIG | KEYUSE_KEY_AGREE));
	CHECK((dc.extKeyUsage & KEYUSE_KEY_CERT_SIGN) == 0);
	CHECK((dc.extExtKeyUsage & (EXTKEYUSE_SERVER_AUTH |
	                            EXTKEYUSE_CLIENT_AUTH)) ==
	      (EXTKEYUSE_SERVER_AUTH | EXTKEYUSE_CLIENT_AUTH));
	wc_FreeDecodedCert(&dc);

	/* The OpenSSL-compatible API: the DNS SAN and a host check. */
	WOLFSSL_X509 *x = wolfSSL_X509_load_certificate_file(
		path, WOLFSSL_FILETYPE_PEM);
	CHECK(x != NULL);
	if (x != NULL) {
		char *alt = wolfSSL_X509_get_next_altname(x);
		CHECK(alt != NULL && strcmp(alt, node) == 0);
		CHECK(wolfSSL_X509_check_host(x, node, strlen(node), 0, NULL) ==
		      WOLFSSL_SUCCESS);
		CHECK(wolfSSL_X509_check_host(x, "other", 5, 0, NULL) !=
		      WOLFSSL_SUCCESS);
		wolfSSL_X509_free(x);
	}
	free(der);
}

/* ---- TLS 1.3 over memory -------------------------------------------- */

struct pipe_buf {
	uint8_t buf[1 << 16];
	size_t len;
};

struct end {
	struct pipe_buf *in, *out;
};

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct end *e = ctx;
	(void)ssl;
	if (e->in->len == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = (size_t)sz < e->in->len ? (size_t)sz : e->in->len;
	memcpy(buf, e->in->buf, n);
	memmove(e->in->buf, e->in->buf + n, e->in->len - n);
	e->in->len -= n;
	return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct end *e = ctx;
	(void)ssl;
	if ((size_t)sz > sizeof e->out->buf - e->out->len)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(e->out->buf + e->out->len, buf, (size_t)sz);
	e->out->len += (size_t)sz;
	return sz;
}

/* A TLS 1.3 context of node `node` from its bundle directory: its cert
 * and key, the CA to verify the peer, the CRL, peer verification on. */
static WOLFSSL_CTX *node_ctx(bool server, const char *bundle,
                             const char *node, const char *crl)
{
	char crt[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method()
	                                          : wolfTLSv1_3_client_method());
	CHECK(ctx != NULL);
	if (ctx == NULL)
		return NULL;
	snprintf(crt, sizeof crt, "%s/%s.crt.pem", bundle, node);
	snprintf(key, sizeof key, "%s/%s.key.pem", bundle, node);
	snprintf(ca, sizeof ca, "%s/ca.crt.pem", bundle);
	CHECK(wolfSSL_CTX_use_certificate_file(ctx, crt, WOLFSSL_FILETYPE_PEM) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CTX_check_private_key(ctx) == WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CTX_EnableCRL(ctx, WOLFSSL_CRL_CHECKALL) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CTX_LoadCRLFile(ctx, crl, WOLFSSL_FILETYPE_PEM) ==
	      WOLFSSL_SUCCESS);
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER |
	                       WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	wolfSSL_CTX_SetIORecv(ctx, io_recv);
	wolfSSL_CTX_SetIOSend(ctx, io_send);
	return ctx;
}

/* Runs a handshake; *server_err / *client_err get wolfSSL's error (0 when
 * that side finished). The server's view of the client certificate goes
 * through pki_verify_peer as loom-controld will do it: *peer_check. */
static void handshake(WOLFSSL_CTX *sctx, WOLFSSL_CTX *cctx,
                      const char *server_name, const struct pki_ca *ca,
                      const char *client_name, int *server_err,
                      int *client_err, int *peer_check)
{
	static struct pipe_buf c2s, s2c;
	struct end send_end = {&s2c, &c2s}, recv_end = {&c2s, &s2c};
	c2s.len = s2c.len = 0;
	*server_err = *client_err = -1;
	*peer_check = -1;
	WOLFSSL *c = wolfSSL_new(cctx), *s = wolfSSL_new(sctx);
	CHECK(c != NULL && s != NULL);
	if (c == NULL || s == NULL)
		goto out;
	wolfSSL_SetIOReadCtx(c, &send_end);
	wolfSSL_SetIOWriteCtx(c, &send_end);
	wolfSSL_SetIOReadCtx(s, &recv_end);
	wolfSSL_SetIOWriteCtx(s, &recv_end);
	CHECK(wolfSSL_check_domain_name(c, server_name) == WOLFSSL_SUCCESS);
	bool cdone = false, sdone = false;
	for (int round = 0; round < 50 && !(cdone && sdone); round++) {
		if (!cdone) {
			int r = wolfSSL_connect(c);
			int e = r == WOLFSSL_SUCCESS ? 0 : wolfSSL_get_error(c, r);
			if (r == WOLFSSL_SUCCESS)
				cdone = true;
			if (e != 0 && e != WOLFSSL_ERROR_WANT_READ &&
			    e != WOLFSSL_ERROR_WANT_WRITE) {
				*client_err = e;
				cdone = true;
			} else if (r == WOLFSSL_SUCCESS) {
				*client_err = 0;
			}
		}
		if (!sdone) {
			int r = wolfSSL_accept(s);
			int e = r == WOLFSSL_SUCCESS ? 0 : wolfSSL_get_error(s, r);
			if (r == WOLFSSL_SUCCESS)
				sdone = true;
			if (e != 0 && e != WOLFSSL_ERROR_WANT_READ &&
			    e != WOLFSSL_ERROR_WANT_WRITE) {
				*server_err = e;
				sdone = true;
			} else if (r == WOLFSSL_SUCCESS) {
				*server_err = 0;
			}
		}
	}
	if (*server_err == 0) {
		CHECK(strcmp(wolfSSL_get_version(s), "TLSv1.3") == 0);
		WOLFSSL_X509 *peer = wolfSSL_get_peer_certificate(s);
		int len = 0;
		const unsigned char *der =
			peer ? wolfSSL_X509_get_der(peer, &len) : NULL;
		char why[256];
		*peer_check = der ? pki_verify_peer(ca, der, (size_t)len,
		                                    client_name, time(NULL),
		                                    why, sizeof why) : -1;
		wolfSSL_X509_free(peer);
	}
out:
	wolfSSL_free(c);
	wolfSSL_free(s);
}

int main(void)
{
	char p[PATH_MAX], q[PATH_MAX], err[512], why[512];
	char n1_path[PATH_MAX], n2_path[PATH_MAX], n255_path[PATH_MAX];
	char dir_a[PATH_MAX], dir_b[PATH_MAX], dir_c[PATH_MAX];
	struct pki_ca *ca = NULL, *cb = NULL, *cc = NULL;
	struct pki_record rec;
	time_t now = time(NULL);

	snprintf(root, sizeof root, "/tmp/loom-test-pki.XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	wolfSSL_Init();
	test_names_and_times();
	pathf(dir_a, "a/ca");
	pathf(dir_b, "b");
	pathf(dir_c, "c");

	/* --- ca init ---------------------------------------------------- */
	CHECK(pki_ca_init(dir_a, "alpha", now - 100 * DAY, now + 3650 * DAY,
	                  false, err, sizeof err) == 0);
	CHECK(pki_ca_init(dir_a, "alpha", now - DAY, now + DAY, false, err,
	                  sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "already holds a CA");
	CHECK(pki_ca_init(dir_b, "bad name", now, now + DAY, false, err,
	                  sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "not a cluster name");
	CHECK(pki_ca_init(dir_b, "beta", now + DAY, now, false, err,
	                  sizeof err) != 0);
	CHECK(pki_ca_open(dir_b, false, &cb, err, sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "ca.crt.pem");
	/* beta runs past 2050: GeneralizedTime dates. */
	time_t y2070, y2060;
	CHECK(pki_time_parse("2070-01-01T00:00:00Z", &y2070) == 0);
	CHECK(pki_time_parse("2060-01-01T00:00:00Z", &y2060) == 0);
	CHECK(pki_ca_init(dir_b, "beta", now - DAY, y2070, false, err,
	                  sizeof err) == 0);
	CHECK(file_mode(dir_a) == 0700);
	CHECK(file_mode(pathf(p, "a/ca/ca.key.pem")) == 0600);
	CHECK(file_mode(pathf(p, "a/ca/ca.crt.pem")) != 0);
	CHECK(file_mode(pathf(p, "a/ca/crl.pem")) != 0);

	CHECK(pki_ca_open(dir_a, true, &ca, err, sizeof err) == 0);
	CHECK(pki_ca_open(dir_b, true, &cb, err, sizeof err) == 0);
	if (ca == NULL || cb == NULL) {
		fprintf(stderr, "cannot go on: %s\n", err);
		rm_root();
		CHECK_DONE();
	}
	CHECK(strcmp(pki_ca_name(ca), "loom cluster CA alpha") == 0);
	CHECK(pki_ca_not_before(ca) == now - 100 * DAY);
	CHECK(pki_ca_not_after(ca) == now + 3650 * DAY);
	CHECK(pki_ca_not_after(cb) == y2070);

	/* --- cert issue -------------------------------------------------- */
	CHECK(pki_cert_issue(ca, "n1", now - 3600, now + 365 * DAY, NULL, false,
	                     &rec, err, sizeof err) == 0);
	CHECK_EQ_U64(rec.serial, 1);
	CHECK(strcmp(rec.node, "n1") == 0);
	CHECK(pki_cert_issue(ca, "n2", now - 3600, now + 365 * DAY, NULL, false,
	                     &rec, err, sizeof err) == 0);
	CHECK_EQ_U64(rec.serial, 2);
	CHECK(pki_cert_issue(ca, "n1", now - 3600, now + 365 * DAY, NULL, false,
	                     &rec, err, sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "already holds certificate serial 1");
	CHECK(pki_cert_issue(ca, "ca", now, now + DAY, NULL, false, &rec, err,
	                     sizeof err) != 0);
	CHECK(pki_cert_issue(ca, "n9", now, now + 3651 * DAY, NULL, false,
	                     &rec, err, sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "outside the CA's validity");
	/* Validity in the past and in the future, for the date checks. */
	CHECK(pki_cert_issue(ca, "old", now - 30 * DAY, now - DAY, NULL, false,
	                     &rec, err, sizeof err) == 0);
	CHECK(pki_cert_issue(ca, "future", now + DAY, now + 30 * DAY, NULL,
	                     false, &rec, err, sizeof err) == 0);
	/* --out elsewhere; node n1 of another CA. */
	CHECK(pki_cert_issue(cb, "n1", now - 3600, y2060, pathf(p, "b-n1"),
	                     false, &rec, err, sizeof err) == 0);
	CHECK_EQ_U64(rec.serial, 1);

	/* Files and modes. */
	CHECK(file_mode(pathf(p, "a/ca/nodes/n1")) == 0700);
	CHECK(file_mode(pathf(p, "a/ca/nodes/n1/n1.key.pem")) == 0600);
	CHECK(file_mode(pathf(p, "a/ca/nodes/n2/n2.key.pem")) == 0600);
	CHECK(file_mode(pathf(p, "b-n1/n1.key.pem")) == 0600);
	CHECK(file_mode(pathf(p, "a/ca/nodes/n1/n1.crt.pem")) != 0);
	CHECK(file_mode(pathf(p, "a/ca/nodes/n1/ca.crt.pem")) != 0);
	CHECK(file_mode(pathf(p, "a/ca/nodes/n1/crl.pem")) != 0);
	CHECK(file_mode(pathf(p, "b-n1/ca.crt.pem")) != 0);

	/* --- the peer check --------------------------------------------- */
	const char *n1 = pathf(n1_path, "a/ca/nodes/n1/n1.crt.pem");
	CHECK(verify_file(ca, n1, "n1", now, PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(verify_file(ca, n1, NULL, now, PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(verify_file(ca, n1, "n2", now, PKI_VERIFY_WRONG_NAME) ==
	      PKI_VERIFY_WRONG_NAME);
	CHECK(verify_file(ca, n1, "N1", now, PKI_VERIFY_WRONG_NAME) ==
	      PKI_VERIFY_WRONG_NAME);
	CHECK(verify_file(ca, pathf(p, "a/ca/nodes/n2/n2.crt.pem"), "n2", now,
	                  PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(verify_file(ca, pathf(p, "a/ca/nodes/n2/n2.crt.pem"), "n1", now,
	                  PKI_VERIFY_WRONG_NAME) == PKI_VERIFY_WRONG_NAME);
	/* Another CA's n1; the CA certificate itself. */
	CHECK(verify_file(ca, pathf(p, "b-n1/n1.crt.pem"), "n1", now,
	                  PKI_VERIFY_BAD_CHAIN) == PKI_VERIFY_BAD_CHAIN);
	CHECK(verify_file(cb, n1, "n1", now, PKI_VERIFY_BAD_CHAIN) ==
	      PKI_VERIFY_BAD_CHAIN);
	CHECK(verify_file(cb, pathf(p, "b-n1/n1.crt.pem"), "n1", now,
	                  PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(verify_file(ca, pathf(p, "a/ca/ca.crt.pem"), NULL, now,
	                  PKI_VERIFY_BAD_CHAIN) == PKI_VERIFY_BAD_CHAIN);
	/* A CA with the same name and another key: the signature decides. */
	pathf(p, "alpha2");
	CHECK(pki_ca_init(p, "alpha", now - DAY, now + 10 * DAY, false, err,
	                  sizeof err) == 0);
	CHECK(pki_ca_open(p, false, &cc, err, sizeof err) == 0);
	if (cc != NULL) {
		CHECK(strcmp(pki_ca_name(cc), pki_ca_name(ca)) == 0);
		CHECK(verify_file(cc, n1, "n1", now, PKI_VERIFY_BAD_CHAIN) ==
		      PKI_VERIFY_BAD_CHAIN);
		CHECK(pki_verify_peer(cc, NULL, 0, NULL, now, why,
		                      sizeof why) == PKI_VERIFY_MALFORMED);
		size_t len;
		uint8_t *der = load_cert(n1, &len);
		CHECK(pki_verify_peer(cc, der, len, "n1", now, why,
		                      sizeof why) == PKI_VERIFY_BAD_CHAIN);
		CHECK_STR_CONTAINS(why, "signature does not verify");
		free(der);
		pki_ca_free(cc);
		cc = NULL;
	}
	/* Dates, at `now` and at other instants. */
	CHECK(verify_file(ca, pathf(p, "a/ca/nodes/old/old.crt.pem"), "old", now,
	                  PKI_VERIFY_EXPIRED) == PKI_VERIFY_EXPIRED);
	CHECK(verify_file(ca, pathf(p, "a/ca/nodes/old/old.crt.pem"), "old",
	                  now - 10 * DAY, PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(verify_file(ca, pathf(p, "a/ca/nodes/future/future.crt.pem"),
	                  "future", now, PKI_VERIFY_NOT_YET_VALID) ==
	      PKI_VERIFY_NOT_YET_VALID);
	CHECK(verify_file(ca, pathf(p, "a/ca/nodes/future/future.crt.pem"),
	                  "future", now + 2 * DAY, PKI_VERIFY_OK) ==
	      PKI_VERIFY_OK);
	CHECK(verify_file(ca, n1, "n1", now + 400 * DAY, PKI_VERIFY_EXPIRED) ==
	      PKI_VERIFY_EXPIRED);
	CHECK(verify_file(ca, n1, "n1", now + 4000 * DAY, PKI_VERIFY_EXPIRED) ==
	      PKI_VERIFY_EXPIRED); /* the CA itself has expired */
	CHECK(verify_file(ca, n1, "n1", now - 200 * DAY,
	                  PKI_VERIFY_NOT_YET_VALID) == PKI_VERIFY_NOT_YET_VALID);
	/* Across 2050: GeneralizedTime, read back by wolfSSL and by us. */
	CHECK(verify_file(cb, pathf(p, "b-n1/n1.crt.pem"), "n1", y2060 - 60,
	                  PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(verify_file(cb, pathf(p, "b-n1/n1.crt.pem"), "n1", y2060 + 60,
	                  PKI_VERIFY_EXPIRED) == PKI_VERIFY_EXPIRED);
	{
		size_t len;
		uint8_t *der = load_cert(pathf(p, "b-n1/n1.crt.pem"), &len);
		DecodedCert dc;
		wc_InitDecodedCert(&dc, der, (word32)len, NULL);
		CHECK(der != NULL &&
		      wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0);
		CHECK(dc.afterDate != NULL && dc.afterDate[0] == ASN_GENERALIZED_TIME);
		wc_FreeDecodedCert(&dc);
		free(der);
	}

	/* Broken certificates. */
	{
		size_t len;
		uint8_t *der = load_cert(n1, &len);
		CHECK(der != NULL && len > 100);
		if (der != NULL) {
			uint8_t *bad = malloc(len);
			memcpy(bad, der, len);
			bad[len - 5] ^= 0x01; /* in the signature */
			int r = pki_verify_peer(ca, bad, len, "n1", now, why,
			                        sizeof why);
			CHECK(r == PKI_VERIFY_BAD_CHAIN ||
			      r == PKI_VERIFY_MALFORMED);
			memcpy(bad, der, len);
			bad[60] ^= 0x20; /* in the signed part */
			r = pki_verify_peer(ca, bad, len, "n1", now, why,
			                    sizeof why);
			CHECK(r == PKI_VERIFY_BAD_CHAIN ||
			      r == PKI_VERIFY_MALFORMED);
			memcpy(bad, der, len);
			bad[1] ^= 0x7f; /* the outer length */
			CHECK(pki_verify_peer(ca, bad, len, "n1", now, why,
			                      sizeof why) == PKI_VERIFY_MALFORMED);
			CHECK(pki_verify_peer(ca, der, len - 1, "n1", now, why,
			                      sizeof why) == PKI_VERIFY_MALFORMED);
			CHECK(pki_verify_peer(ca, der, 0, "n1", now, why,
			                      sizeof why) == PKI_VERIFY_MALFORMED);
			CHECK(pki_verify_peer(ca, (const uint8_t *)"hello", 5,
			                      "n1", now, why, sizeof why) ==
			      PKI_VERIFY_MALFORMED);
			/* Every truncation: never OK, never a crash. */
			for (size_t n = 1; n < len; n++)
				CHECK(pki_verify_peer(ca, der, n, NULL, now,
				                      NULL, 0) != PKI_VERIFY_OK);
			free(bad);
		}
		free(der);
	}

	/* --- wolfSSL reads what we wrote -------------------------------- */
	check_decoded(n1, "n1");
	check_decoded(pathf(p, "b-n1/n1.crt.pem"), "n1");
	{
		WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
		CHECK(cm != NULL);
		CHECK(wolfSSL_CertManagerLoadCA(cm, pathf(p, "a/ca/ca.crt.pem"),
		                                NULL) == WOLFSSL_SUCCESS);
		CHECK(wolfSSL_CertManagerVerify(cm, n1, WOLFSSL_FILETYPE_PEM) ==
		      WOLFSSL_SUCCESS);
		CHECK(wolfSSL_CertManagerVerify(cm, pathf(p, "b-n1/n1.crt.pem"),
		                                WOLFSSL_FILETYPE_PEM) !=
		      WOLFSSL_SUCCESS);
		wolfSSL_CertManagerFree(cm);
	}

	/* --- TLS 1.3 mutual authentication, before any revocation ------- */
	int serr, cerr, peer;
	{
		WOLFSSL_CTX *s = node_ctx(true, pathf(p, "a/ca/nodes/n1"), "n1",
		                          pathf(q, "a/ca/crl.pem"));
		WOLFSSL_CTX *c = node_ctx(false, pathf(p, "a/ca/nodes/n2"),
		                          "n2", pathf(q, "a/ca/crl.pem"));
		if (s != NULL && c != NULL) {
			handshake(s, c, "n1", ca, "n2", &serr, &cerr, &peer);
			CHECK(serr == 0);
			CHECK(cerr == 0);
			CHECK(peer == PKI_VERIFY_OK);
			/* The client wants another server name. */
			handshake(s, c, "n3", ca, "n2", &serr, &cerr, &peer);
			CHECK(cerr != 0);
		}
		wolfSSL_CTX_free(s);
		wolfSSL_CTX_free(c);
	}

	/* --- revocation -------------------------------------------------- */
	CHECK(pki_cert_revoke(ca, 2, now, err, sizeof err) == 0);
	CHECK(pki_cert_revoke(ca, 2, now, err, sizeof err) == 1);
	CHECK(pki_cert_revoke(ca, 99, now, err, sizeof err) == -1);
	CHECK_STR_CONTAINS(err, "serial 99 is not in");
	const char *n2 = pathf(n2_path, "a/ca/nodes/n2/n2.crt.pem");
	CHECK(verify_file(ca, n2, "n2", now, PKI_VERIFY_REVOKED) ==
	      PKI_VERIFY_REVOKED);
	CHECK(verify_file(ca, n1, "n1", now, PKI_VERIFY_OK) == PKI_VERIFY_OK);
	/* Revocation comes before the name check. */
	CHECK(verify_file(ca, n2, "n1", now, PKI_VERIFY_REVOKED) ==
	      PKI_VERIFY_REVOKED);
	{
		/* A fresh open reads the new CRL; a node's bundle with the
		 * CA certificate and the new crl.pem does too; its old
		 * crl.pem (from issue time) does not know. */
		struct pki_ca *fresh = NULL, *node = NULL, *stale = NULL;
		char crl[PATH_MAX];
		CHECK(pki_ca_open(dir_a, false, &fresh, err, sizeof err) == 0);
		CHECK(pki_ca_load(pathf(p, "a/ca/nodes/n1/ca.crt.pem"),
		                  pathf(crl, "a/ca/crl.pem"), &node, err,
		                  sizeof err) == 0);
		CHECK(pki_ca_load(pathf(p, "a/ca/nodes/n1/ca.crt.pem"),
		                  pathf(crl, "a/ca/nodes/n1/crl.pem"), &stale,
		                  err, sizeof err) == 0);
		CHECK(pki_ca_load(pathf(p, "a/ca/nodes/n1/ca.crt.pem"), NULL,
		                  &cc, err, sizeof err) != 0);
		if (fresh && node && stale) {
			CHECK(verify_file(fresh, n2, "n2", now,
			                  PKI_VERIFY_REVOKED) == PKI_VERIFY_REVOKED);
			CHECK(verify_file(node, n2, "n2", now,
			                  PKI_VERIFY_REVOKED) == PKI_VERIFY_REVOKED);
			CHECK(verify_file(stale, n2, "n2", now, PKI_VERIFY_OK) ==
			      PKI_VERIFY_OK);
			CHECK(pki_ca_load(pathf(p, "a/ca/ca.crt.pem"),
			                  pathf(crl, "b/crl.pem"), &cc, err,
			                  sizeof err) != 0);
			CHECK_STR_CONTAINS(err, "does not verify");
		}
		pki_ca_free(fresh);
		pki_ca_free(node);
		pki_ca_free(stale);
	}
	/* A revoked name may be issued again. */
	CHECK(pki_cert_issue(ca, "n2", now - 3600, now + 365 * DAY, NULL, false,
	                     &rec, err, sizeof err) == 0);
	CHECK_EQ_U64(rec.serial, 5);
	CHECK(verify_file(ca, n2, "n2", now, PKI_VERIFY_OK) == PKI_VERIFY_OK);
	/* --force issues beside a valid one. */
	CHECK(pki_cert_issue(ca, "n1", now - 3600, now + 365 * DAY,
	                     pathf(p, "n1-again"), true, &rec, err,
	                     sizeof err) == 0);
	CHECK_EQ_U64(rec.serial, 6);

	/* A serial with its top bit set (255: DER 00 ff) round trips
	 * through wolfSSL, the CRL and the check. */
	CHECK(write_text(pathf(p, "a/ca/serial"), "255\n"));
	CHECK(pki_cert_issue(ca, "n255", now - 3600, now + DAY, NULL, false,
	                     &rec, err, sizeof err) == 0);
	CHECK_EQ_U64(rec.serial, 255);
	const char *n255 = pathf(n255_path, "a/ca/nodes/n255/n255.crt.pem");
	{
		WOLFSSL_X509 *x = wolfSSL_X509_load_certificate_file(
			n255, WOLFSSL_FILETYPE_PEM);
		unsigned char sn[32];
		int snlen = sizeof sn;
		CHECK(x != NULL && wolfSSL_X509_get_serial_number(x, sn, &snlen) ==
		      WOLFSSL_SUCCESS);
		CHECK(snlen >= 1 && sn[snlen - 1] == 0xff &&
		      (snlen == 1 || (snlen == 2 && sn[0] == 0)));
		wolfSSL_X509_free(x);
	}
	CHECK(verify_file(ca, n255, "n255", now, PKI_VERIFY_OK) == PKI_VERIFY_OK);
	CHECK(pki_cert_revoke(ca, 255, now, err, sizeof err) == 0);
	CHECK(verify_file(ca, n255, "n255", now, PKI_VERIFY_REVOKED) ==
	      PKI_VERIFY_REVOKED);
	CHECK(pki_ca_init(dir_a, "alpha", now, now + DAY, false, err,
	                  sizeof err) != 0); /* still refused */

	/* The register. */
	{
		struct pki_record *recs = NULL;
		size_t n = 0;
		CHECK(pki_cert_list(ca, &recs, &n, err, sizeof err) == 0);
		CHECK_EQ_U64(n, 7);
		if (n == 7) {
			CHECK(recs[0].serial == 1 && !recs[0].revoked);
			CHECK(recs[1].serial == 2 && recs[1].revoked &&
			      recs[1].revoked_at == now);
			CHECK(strcmp(recs[2].node, "old") == 0);
			CHECK(recs[2].not_after == now - DAY);
			CHECK(recs[4].serial == 5 && !recs[4].revoked);
			CHECK(recs[6].serial == 255 && recs[6].revoked);
		}
		free(recs);
		FILE *f = fopen(pathf(p, "a/ca/issued.txt"), "r");
		char line[256], t1[PKI_TIME_LEN], t2[PKI_TIME_LEN];
		char want[256];
		bool found = false;
		pki_time_format(now - 3600, t1);
		pki_time_format(now + 365 * DAY, t2);
		snprintf(want, sizeof want, "1 n1 %s %s valid\n", t1, t2);
		while (f != NULL && fgets(line, sizeof line, f) != NULL)
			found |= strcmp(line, want) == 0;
		if (f != NULL)
			fclose(f);
		CHECK(found);
	}

	/* --- wolfSSL's CRL: CertManager and the TLS handshake ----------- */
	{
		WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
		size_t len;
		CHECK(cm != NULL);
		CHECK(wolfSSL_CertManagerLoadCA(cm, pathf(p, "a/ca/ca.crt.pem"),
		                                NULL) == WOLFSSL_SUCCESS);
		CHECK(wolfSSL_CertManagerEnableCRL(cm, 0) == WOLFSSL_SUCCESS);
		CHECK(wolfSSL_CertManagerLoadCRLFile(cm, pathf(p, "a/ca/crl.pem"),
		                                     WOLFSSL_FILETYPE_PEM) ==
		      WOLFSSL_SUCCESS);
		uint8_t *der = load_cert(n1, &len);
		CHECK(der && wolfSSL_CertManagerCheckCRL(cm, der, (long)len) ==
		      WOLFSSL_SUCCESS);
		free(der);
		der = load_cert(pathf(p, "a/ca/nodes/n2/n2.crt.pem"), &len);
		CHECK(der && wolfSSL_CertManagerCheckCRL(cm, der, (long)len) ==
		      WOLFSSL_SUCCESS); /* the new n2 */
		free(der);
		der = load_cert(n255, &len);
		CHECK(der && wolfSSL_CertManagerCheckCRL(cm, der, (long)len) ==
		      CRL_CERT_REVOKED);
		free(der);
		wolfSSL_CertManagerFree(cm);
	}
	{
		/* n255 (revoked) as client: the server's wolfSSL refuses it
		 * by the CRL, before loom-controld's own check runs. */
		WOLFSSL_CTX *s = node_ctx(true, pathf(p, "a/ca/nodes/n1"), "n1",
		                          pathf(q, "a/ca/crl.pem"));
		WOLFSSL_CTX *c = node_ctx(false, pathf(p, "a/ca/nodes/n255"),
		                          "n255", pathf(q, "a/ca/crl.pem"));
		if (s != NULL && c != NULL) {
			handshake(s, c, "n1", ca, "n255", &serr, &cerr, &peer);
			CHECK(serr == CRL_CERT_REVOKED);
			if (serr != CRL_CERT_REVOKED)
				fprintf(stderr, "server error %d (%s)\n", serr,
				        wc_GetErrorString(serr));
			CHECK(peer == -1);
		}
		wolfSSL_CTX_free(s);
		wolfSSL_CTX_free(c);
	}

	/* --- the key must match, the CRL must be the CA's ---------------- */
	CHECK(mkdir(dir_c, 0700) == 0);
	CHECK(copy(pathf(p, "a/ca/ca.crt.pem"), pathf(q, "c/ca.crt.pem")));
	CHECK(copy(pathf(p, "a/ca/crl.pem"), pathf(q, "c/crl.pem")));
	CHECK(copy(pathf(p, "b/ca.key.pem"), pathf(q, "c/ca.key.pem")));
	CHECK(pki_ca_open(dir_c, false, &cc, err, sizeof err) == 0);
	pki_ca_free(cc);
	cc = NULL;
	CHECK(pki_ca_open(dir_c, true, &cc, err, sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "does not match");
	CHECK(copy(pathf(p, "b/crl.pem"), pathf(q, "c/crl.pem")));
	CHECK(pki_ca_open(dir_c, false, &cc, err, sizeof err) != 0);
	CHECK_STR_CONTAINS(err, "crl.pem");
	CHECK(write_text(pathf(p, "c/crl.pem"), "-----BEGIN X509 CRL-----\n"
	                 "AAAA\n-----END X509 CRL-----\n"));
	CHECK(pki_ca_open(dir_c, false, &cc, err, sizeof err) != 0);

	/* --- ca init --force replaces the CA ----------------------------- */
	CHECK(pki_ca_init(dir_b, "gamma", now - DAY, now + 10 * DAY, true, err,
	                  sizeof err) == 0);
	{
		struct pki_ca *g = NULL;
		struct pki_record *recs = NULL;
		size_t n = 9;
		CHECK(pki_ca_open(dir_b, true, &g, err, sizeof err) == 0);
		if (g != NULL) {
			CHECK(strcmp(pki_ca_name(g), "loom cluster CA gamma") == 0);
			CHECK(verify_file(g, pathf(p, "b-n1/n1.crt.pem"), "n1",
			                  now, PKI_VERIFY_BAD_CHAIN) ==
			      PKI_VERIFY_BAD_CHAIN);
			CHECK(pki_cert_list(g, &recs, &n, err, sizeof err) == 0);
			CHECK_EQ_U64(n, 0);
			CHECK(pki_cert_issue(g, "n1", now - 3600, now + DAY, NULL,
			                     false, &rec, err, sizeof err) == 0);
			CHECK_EQ_U64(rec.serial, 1);
			free(recs);
		}
		pki_ca_free(g);
	}
	/* Opening without the key: issuing and revoking refuse. */
	{
		struct pki_ca *ro = NULL;
		CHECK(pki_ca_open(dir_a, false, &ro, err, sizeof err) == 0);
		if (ro != NULL) {
			CHECK(pki_cert_issue(ro, "n7", now, now + DAY, NULL, false,
			                     &rec, err, sizeof err) != 0);
			CHECK(pki_cert_revoke(ro, 1, now, err, sizeof err) != 0);
		}
		pki_ca_free(ro);
	}

	pki_ca_free(ca);
	pki_ca_free(cb);
	wolfSSL_Cleanup();
	rm_root();
	CHECK_DONE();
}

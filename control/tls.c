/*
 * tls.c - loom-controld's TLS 1.3 links (control/tls.h): wolfSSL over the
 * caller's non-blocking socket, with our peer check (pki_verify_peer) run
 * in wolfSSL's verify callback so that it decides during the handshake,
 * the same way in both roles.
 */
#include "control/tls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/signature.h>

#include "control/pki.h"

/* Debian 12's wolfSSL has them all. Without WOLFSSL_ALWAYS_VERIFY_CB the
 * callback would not run on a certificate wolfSSL accepts, and every
 * handshake would end refused ("not checked"): better to fail the build. */
#if !defined(WOLFSSL_TLS13) || !defined(HAVE_KEYING_MATERIAL) ||             \
	!defined(HAVE_CRL) || !defined(WOLFSSL_ALWAYS_VERIFY_CB) ||          \
	!defined(OPENSSL_EXTRA)
#error "wolfSSL needs TLS 1.3, keying material export, CRL, OPENSSL_EXTRA and WOLFSSL_ALWAYS_VERIFY_CB"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keys, certificates and CRLs are small; this only bounds a wrong path. */
#define TLS_FILE_MAX (1u << 20)
#define TLS_ERR_MAX 384

/* Everything loaded from the four files; replaced as a whole by a reload,
 * so a handshake never mixes an old CA with a new CRL. */
struct tls_set {
	struct pki_ca *ca;
	WOLFSSL_CTX *client, *server;
	uint8_t *self_der; /* our certificate, for ctl_tls_ctx_check_self */
	size_t self_len;
	char node[PKI_NAME_MAX + 1];
};

struct ctl_tls_ctx {
	struct tls_set set;
	char *ca_file, *cert_file, *key_file, *crl_file;
};

enum { LINK_HANDSHAKE, LINK_DONE, LINK_FAILED };

struct ctl_tls {
	struct ctl_tls_ctx *ctx;
	WOLFSSL *ssl;
	int fd;
	bool client;
	int state;
	/* Our check's result (-1: not run) and whether it and wolfSSL's both
	 * passed on the leaf: the handshake counts as DONE only then. */
	int verdict;
	bool peer_ok;
	bool shut_sent;
	/* What the socket said, for the reason string and errno. */
	bool eof;
	int io_errno;
	bool has_expected;
	char expected[PKI_NAME_MAX + 1];
	char peer[PKI_NAME_MAX + 1];
	char err[TLS_ERR_MAX];
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- files ----------------------------------------------------------- */

static int read_all(const char *path, uint8_t **buf, size_t *len, char *err,
                    size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > TLS_FILE_MAX || st.st_size == 0) {
		close(fd);
		return fail(err, errlen, "%s: not a regular file of 1 to %u "
		            "bytes", path, TLS_FILE_MAX);
	}
	size_t want = (size_t)st.st_size, got = 0;
	uint8_t *p = malloc(want);
	if (p == NULL) {
		close(fd);
		return fail(err, errlen, "%s: out of memory", path);
	}
	while (got < want) {
		ssize_t r = read(fd, p + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			explicit_bzero(p, want);
			free(p);
			close(fd);
			return fail(err, errlen, "%s: read: %s", path,
			            strerror(e));
		}
		got += (size_t)r;
	}
	close(fd);
	*buf = p;
	*len = got;
	return 0;
}

/* PEM or DER, as pki.c takes either. */
static int file_type(const uint8_t *buf, size_t len)
{
	static const char begin[] = "-----BEGIN";
	for (size_t i = 0; i + sizeof begin - 1 <= len && i < 64; i++)
		if (memcmp(buf + i, begin, sizeof begin - 1) == 0)
			return WOLFSSL_FILETYPE_PEM;
	return WOLFSSL_FILETYPE_ASN1;
}

static const char *wolf_reason(int e)
{
	const char *s = wolfSSL_ERR_reason_error_string((unsigned long)e);
	return s != NULL ? s : "unknown error";
}

/* Whether key (PEM or DER, EC PRIVATE KEY) signs what the public key of
 * certificate x verifies. wolfSSL_CTX_check_private_key (5.5) passes an
 * ECC key that belongs to another certificate, and a node with a wrong key
 * would only see every peer fail its CertificateVerify. */
static bool key_matches(WOLFSSL_X509 *x, const uint8_t *key, size_t key_len)
{
	static const uint8_t msg[] = "loom key check";
	uint8_t spki[512], sig[128];
	int spki_len = sizeof spki;
	word32 sig_len = sizeof sig, idx = 0;
	uint8_t *der = NULL;
	int der_len;
	ecc_key priv, pub;
	WC_RNG rng;
	bool ok = false, rng_ok = false, priv_ok = false, pub_ok = false;

	if (key_len > TLS_FILE_MAX ||
	    wolfSSL_X509_get_pubkey_buffer(x, spki, &spki_len) !=
	    WOLFSSL_SUCCESS || (der = malloc(key_len)) == NULL)
		goto out;
	if (file_type(key, key_len) == WOLFSSL_FILETYPE_PEM) {
		der_len = wc_KeyPemToDer(key, (int)key_len, der, (int)key_len,
		                         NULL);
		if (der_len <= 0)
			goto out;
	} else {
		memcpy(der, key, key_len);
		der_len = (int)key_len;
	}
	rng_ok = wc_InitRng(&rng) == 0;
	priv_ok = wc_ecc_init(&priv) == 0;
	pub_ok = wc_ecc_init(&pub) == 0;
	if (!rng_ok || !priv_ok || !pub_ok ||
	    wc_EccPrivateKeyDecode(der, &idx, &priv, (word32)der_len) != 0)
		goto out;
	idx = 0;
	if (wc_EccPublicKeyDecode(spki, &idx, &pub, (word32)spki_len) != 0 ||
	    wc_ecc_set_rng(&priv, &rng) != 0)
		goto out;
	ok = wc_SignatureGenerate(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC,
	                          msg, sizeof msg, sig, &sig_len, &priv,
	                          sizeof priv, &rng) == 0 &&
	     wc_SignatureVerify(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC, msg,
	                        sizeof msg, sig, sig_len, &pub, sizeof pub) == 0;
out:
	if (priv_ok)
		wc_ecc_free(&priv);
	if (pub_ok)
		wc_ecc_free(&pub);
	if (rng_ok)
		wc_FreeRng(&rng);
	if (der != NULL) {
		explicit_bzero(der, key_len);
		free(der);
	}
	return ok;
}

/* ---- I/O: the caller's socket ----------------------------------------- */

/* Own callbacks rather than wolfSSL_set_fd: MSG_NOSIGNAL (a peer that
 * went away must not SIGPIPE the daemon), and the socket's errno kept for
 * the reason string. */
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct ctl_tls *t = arg;
	(void)ssl;
	for (;;) {
		ssize_t n = recv(t->fd, buf, (size_t)sz, 0);
		if (n > 0)
			return (int)n;
		if (n == 0) {
			t->eof = true;
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return WOLFSSL_CBIO_ERR_WANT_READ;
		t->io_errno = errno;
		return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST :
		       WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct ctl_tls *t = arg;
	(void)ssl;
	for (;;) {
		ssize_t n = send(t->fd, buf, (size_t)sz, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return WOLFSSL_CBIO_ERR_WANT_WRITE;
		t->io_errno = errno;
		if (errno == EPIPE)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST :
		       WOLFSSL_CBIO_ERR_GENERAL;
	}
}

/* ---- the peer check ---------------------------------------------------- */

static void set_error(struct ctl_tls *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct ctl_tls *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
}

/* wolfSSL calls this for every certificate the peer sent, with its own
 * verdict in preverify (WOLFSSL_ALWAYS_VERIFY_CB: also when it passed).
 * Depth 0 is the peer's own certificate: there ours must pass too, and
 * our reason wins. A node sends no chain (its certificate is signed by the
 * CA directly), so anything above depth 0 is wolfSSL's alone to judge and
 * pki_verify_peer refuses a leaf the CA did not sign itself. */
static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct ctl_tls *t = store != NULL ? store->userCtx : NULL;
	if (t == NULL)
		return 0;
	if (wolfSSL_X509_STORE_CTX_get_error_depth(store) > 0) {
		if (!preverify && t->err[0] == '\0')
			set_error(t, "peer certificate refused by wolfSSL: "
			          "chain certificate: %s",
			          wolf_reason(store->error));
		return preverify;
	}
	t->peer_ok = false;
	t->peer[0] = '\0';
	WOLFSSL_X509 *x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
	int len = 0;
	const unsigned char *der = x != NULL ? wolfSSL_X509_get_der(x, &len)
	                                     : NULL;
	if (der == NULL || len <= 0) {
		set_error(t, "peer certificate refused: wolfSSL gave no "
		          "certificate to check");
		return 0;
	}
	/* Without an expected name the CN must still be a node name, and
	 * the SAN the same name: the caller will look it up as one. */
	const char *cn = wolfSSL_X509_get_subjectCN(x);
	const char *name = t->has_expected ? t->expected : cn;
	char why[TLS_ERR_MAX - 64];
	if (name == NULL || !pki_valid_node_name(name)) {
		t->verdict = PKI_VERIFY_WRONG_NAME;
		set_error(t, "peer certificate refused (%s): its CN is not a "
		          "node name", pki_verify_str(PKI_VERIFY_WRONG_NAME));
		return 0;
	}
	t->verdict = pki_verify_peer(t->ctx->set.ca, der, (size_t)len, name,
	                             time(NULL), why, sizeof why);
	if (t->verdict != PKI_VERIFY_OK) {
		set_error(t, "peer certificate refused (%s): %s",
		          pki_verify_str(t->verdict), why);
		return 0;
	}
	if (!preverify) {
		set_error(t, "peer certificate refused by wolfSSL: %s",
		          wolf_reason(store->error));
		return 0;
	}
	snprintf(t->peer, sizeof t->peer, "%s", name);
	t->peer_ok = true;
	return 1;
}

/* ---- contexts ------------------------------------------------------------ */

static void set_free(struct tls_set *s)
{
	pki_ca_free(s->ca);
	/* A link still using a WOLFSSL_CTX holds a reference: wolfSSL frees
	 * it with the last one. */
	wolfSSL_CTX_free(s->client);
	wolfSSL_CTX_free(s->server);
	free(s->self_der);
	memset(s, 0, sizeof *s);
}

struct tls_files {
	const struct pki_ca *ca;
	const uint8_t *cert, *key, *crl;
	size_t cert_len, key_len, crl_len;
};

static WOLFSSL_CTX *make_wolf_ctx(bool server, const struct tls_files *f,
                                  const struct ctl_tls_ctx *paths, char *err,
                                  size_t errlen)
{
	WOLFSSL_CTX *c = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method()
	                                        : wolfTLSv1_3_client_method());
	size_t ca_len;
	const uint8_t *ca_der = pki_ca_der(f->ca, &ca_len);
	int r;
	if (c == NULL) {
		fail(err, errlen, "wolfSSL_CTX_new failed");
		return NULL;
	}
	if ((r = wolfSSL_CTX_use_certificate_buffer(c, f->cert,
	                                            (long)f->cert_len,
	                                            WOLFSSL_FILETYPE_ASN1)) !=
	    WOLFSSL_SUCCESS) {
		fail(err, errlen, "%s: wolfSSL does not take it: %s",
		     paths->cert_file, wolf_reason(r));
		goto bad;
	}
	if ((r = wolfSSL_CTX_use_PrivateKey_buffer(c, f->key, (long)f->key_len,
	                                           file_type(f->key,
	                                                     f->key_len))) !=
	    WOLFSSL_SUCCESS) {
		fail(err, errlen, "%s: not a private key wolfSSL takes: %s",
		     paths->key_file, wolf_reason(r));
		goto bad;
	}
	if (wolfSSL_CTX_check_private_key(c) != WOLFSSL_SUCCESS) {
		fail(err, errlen, "%s does not match the certificate %s",
		     paths->key_file, paths->cert_file);
		goto bad;
	}
	if ((r = wolfSSL_CTX_load_verify_buffer(c, ca_der, (long)ca_len,
	                                        WOLFSSL_FILETYPE_ASN1)) !=
	    WOLFSSL_SUCCESS) {
		fail(err, errlen, "%s: wolfSSL does not take it as a CA: %s",
		     paths->ca_file, wolf_reason(r));
		goto bad;
	}
	if (wolfSSL_CTX_EnableCRL(c, WOLFSSL_CRL_CHECKALL) != WOLFSSL_SUCCESS ||
	    (r = wolfSSL_CTX_LoadCRLBuffer(c, f->crl, (long)f->crl_len,
	                                   file_type(f->crl, f->crl_len))) !=
	    WOLFSSL_SUCCESS) {
		fail(err, errlen, "%s: wolfSSL does not take the CRL: %s",
		     paths->crl_file, wolf_reason(r));
		goto bad;
	}
	/* Every connection is a full handshake with a full peer check: a
	 * resumed session would skip the certificate, and a ticket would
	 * outlive a revocation. */
	wolfSSL_CTX_set_session_cache_mode(c, WOLFSSL_SESS_CACHE_OFF);
	if (server)
		wolfSSL_CTX_no_ticket_TLSv13(c);
	wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_PEER |
	                       (server ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
	                       verify_cb);
	wolfSSL_CTX_SetIORecv(c, io_recv);
	wolfSSL_CTX_SetIOSend(c, io_send);
	return c;
bad:
	wolfSSL_CTX_free(c);
	return NULL;
}

static int set_load(const struct ctl_tls_ctx *paths, struct tls_set *s,
                    char *err, size_t errlen)
{
	struct tls_files f = {0};
	uint8_t *cert = NULL, *key = NULL, *crl = NULL;
	size_t cert_len = 0, key_len = 0, crl_len = 0;
	WOLFSSL_X509 *x = NULL;
	int rc = -1;

	memset(s, 0, sizeof *s);
	if (pki_ca_load(paths->ca_file, paths->crl_file, &s->ca, err,
	                errlen) != 0 ||
	    pki_read_cert_file(paths->cert_file, &cert, &cert_len, err,
	                       errlen) != 0 ||
	    read_all(paths->key_file, &key, &key_len, err, errlen) != 0 ||
	    read_all(paths->crl_file, &crl, &crl_len, err, errlen) != 0)
		goto out;
	x = wolfSSL_X509_load_certificate_buffer(cert, (int)cert_len,
	                                         WOLFSSL_FILETYPE_ASN1);
	const char *cn = x != NULL ? wolfSSL_X509_get_subjectCN(x) : NULL;
	if (x == NULL) {
		fail(err, errlen, "%s: not an X.509 certificate",
		     paths->cert_file);
		goto out;
	}
	if (cn == NULL || !pki_valid_node_name(cn)) {
		fail(err, errlen, "%s: its CN is not a node name",
		     paths->cert_file);
		goto out;
	}
	if (!key_matches(x, key, key_len)) {
		fail(err, errlen, "%s is not an ECDSA private key, or does not "
		     "match the certificate %s", paths->key_file,
		     paths->cert_file);
		goto out;
	}
	snprintf(s->node, sizeof s->node, "%s", cn);
	f.ca = s->ca;
	f.cert = cert;
	f.cert_len = cert_len;
	f.key = key;
	f.key_len = key_len;
	f.crl = crl;
	f.crl_len = crl_len;
	s->client = make_wolf_ctx(false, &f, paths, err, errlen);
	s->server = s->client ? make_wolf_ctx(true, &f, paths, err, errlen)
	                      : NULL;
	if (s->server == NULL)
		goto out;
	s->self_der = cert;
	s->self_len = cert_len;
	cert = NULL;
	rc = 0;
out:
	wolfSSL_X509_free(x);
	free(cert);
	if (key != NULL)
		explicit_bzero(key, key_len);
	free(key);
	free(crl);
	if (rc != 0)
		set_free(s);
	return rc;
}

struct ctl_tls_ctx *ctl_tls_ctx_new(const char *ca_file, const char *cert_file,
                                    const char *key_file, const char *crl_file,
                                    char *err, size_t errlen)
{
	if (ca_file == NULL || cert_file == NULL || key_file == NULL ||
	    crl_file == NULL) {
		fail(err, errlen, "the CA certificate, the node's certificate "
		     "and key, and the CRL are all needed");
		return NULL;
	}
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		fail(err, errlen, "wolfSSL_Init failed");
		return NULL;
	}
	struct ctl_tls_ctx *ctx = calloc(1, sizeof *ctx);
	if (ctx == NULL || (ctx->ca_file = strdup(ca_file)) == NULL ||
	    (ctx->cert_file = strdup(cert_file)) == NULL ||
	    (ctx->key_file = strdup(key_file)) == NULL ||
	    (ctx->crl_file = strdup(crl_file)) == NULL) {
		fail(err, errlen, "out of memory");
		goto bad;
	}
	if (set_load(ctx, &ctx->set, err, errlen) != 0)
		goto bad;
	return ctx;
bad:
	if (ctx != NULL) {
		free(ctx->ca_file);
		free(ctx->cert_file);
		free(ctx->key_file);
		free(ctx->crl_file);
		free(ctx);
	}
	wolfSSL_Cleanup();
	return NULL;
}

int ctl_tls_ctx_reload(struct ctl_tls_ctx *ctx, char *err, size_t errlen)
{
	struct tls_set fresh;
	if (set_load(ctx, &fresh, err, errlen) != 0)
		return -1;
	set_free(&ctx->set);
	ctx->set = fresh;
	return 0;
}

void ctl_tls_ctx_free(struct ctl_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	set_free(&ctx->set);
	free(ctx->ca_file);
	free(ctx->cert_file);
	free(ctx->key_file);
	free(ctx->crl_file);
	free(ctx);
	wolfSSL_Cleanup();
}

const char *ctl_tls_ctx_node(const struct ctl_tls_ctx *ctx)
{
	return ctx->set.node;
}

int ctl_tls_ctx_check_self(const struct ctl_tls_ctx *ctx, time_t now,
                           char *why, size_t whylen)
{
	return pki_verify_peer(ctx->set.ca, ctx->set.self_der,
	                       ctx->set.self_len, ctx->set.node, now, why,
	                       whylen);
}

/* ---- links ------------------------------------------------------------- */

struct ctl_tls *ctl_tls_new(struct ctl_tls_ctx *ctx, int fd, bool client,
                            const char *expected_peer)
{
	if (ctx == NULL || fd < 0 ||
	    (expected_peer != NULL && !pki_valid_node_name(expected_peer))) {
		errno = EINVAL;
		return NULL;
	}
	struct ctl_tls *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->ssl = wolfSSL_new(client ? ctx->set.client : ctx->set.server);
	if (t->ssl == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->ctx = ctx;
	t->fd = fd;
	t->client = client;
	t->state = LINK_HANDSHAKE;
	t->verdict = -1;
	if (expected_peer != NULL) {
		t->has_expected = true;
		snprintf(t->expected, sizeof t->expected, "%s", expected_peer);
	}
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	wolfSSL_SetCertCbCtx(t->ssl, t);
	return t;
}

void ctl_tls_free(struct ctl_tls *t)
{
	if (t == NULL)
		return;
	wolfSSL_free(t->ssl);
	free(t);
}

/* Records why the last wolfSSL call (result ret) failed, unless the verify
 * callback already did, and makes the link final. */
static void link_failed(struct ctl_tls *t, int ret, const char *what)
{
	int e = wolfSSL_get_error(t->ssl, ret);
	WOLFSSL_ALERT_HISTORY h;
	t->state = LINK_FAILED;
	t->peer_ok = false;
	/* The reason is ours from here; wolfSSL's error queue would only
	 * grow in a daemon that never reads it. */
	wolfSSL_ERR_clear_error();
	errno = t->io_errno != 0 ? t->io_errno : EPROTO;
	if (t->err[0] != '\0')
		return;
	memset(&h, 0, sizeof h);
	if (wolfSSL_get_alert_history(t->ssl, &h) == WOLFSSL_SUCCESS &&
	    h.last_rx.level == alert_fatal)
		set_error(t, "%s: the peer sent alert %s (%d)", what,
		          wolfSSL_alert_desc_string_long(h.last_rx.code),
		          h.last_rx.code);
	else if (e == NO_PEER_CERT)
		set_error(t, "peer certificate refused: the peer presented "
		          "none");
	else if (t->eof)
		set_error(t, "%s: the peer closed the connection", what);
	else if (t->io_errno != 0)
		set_error(t, "%s: connection: %s", what,
		          strerror(t->io_errno));
	else
		set_error(t, "%s: %s (%d)", what, wolf_reason(e), e);
}

int ctl_tls_handshake(struct ctl_tls *t)
{
	if (t->state == LINK_DONE)
		return CTL_TLS_DONE;
	if (t->state == LINK_FAILED)
		return CTL_TLS_ERR;
	int r = t->client ? wolfSSL_connect(t->ssl) : wolfSSL_accept(t->ssl);
	if (r == WOLFSSL_SUCCESS) {
		/* Fail closed should wolfSSL ever finish without having
		 * shown us the peer's certificate. */
		if (!t->peer_ok) {
			t->state = LINK_FAILED;
			errno = EPROTO;
			set_error(t, "peer certificate refused: it was not "
			          "checked");
			return CTL_TLS_ERR;
		}
		if (wolfSSL_version(t->ssl) != TLS1_3_VERSION) {
			t->state = LINK_FAILED;
			errno = EPROTO;
			set_error(t, "TLS handshake failed: not TLS 1.3 (%s)",
			          wolfSSL_get_version(t->ssl));
			return CTL_TLS_ERR;
		}
		t->state = LINK_DONE;
		return CTL_TLS_DONE;
	}
	int e = wolfSSL_get_error(t->ssl, r);
	if (e == WOLFSSL_ERROR_WANT_READ)
		return CTL_TLS_WANT_READ;
	if (e == WOLFSSL_ERROR_WANT_WRITE)
		return CTL_TLS_WANT_WRITE;
	link_failed(t, r, "TLS handshake failed");
	return CTL_TLS_ERR;
}

const char *ctl_tls_error(const struct ctl_tls *t)
{
	return t->err;
}

const char *ctl_tls_peer_name(const struct ctl_tls *t)
{
	return t->peer_ok ? t->peer : NULL;
}

int ctl_tls_verdict(const struct ctl_tls *t)
{
	return t->verdict;
}

/* Read and write share the ending: a WANT, the peer's close, or final. */
static ssize_t io_result(struct ctl_tls *t, int r, int *want)
{
	int e = wolfSSL_get_error(t->ssl, r);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
		*want = e == WOLFSSL_ERROR_WANT_READ ? CTL_TLS_WANT_READ
		                                     : CTL_TLS_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	}
	if (e == WOLFSSL_ERROR_ZERO_RETURN) {
		*want = CTL_TLS_DONE;
		return 0;
	}
	link_failed(t, r, "TLS");
	*want = CTL_TLS_ERR;
	return -1;
}

/* Reading or writing before DONE or after a failure is the caller's bug
 * or a dead link; neither touches wolfSSL. */
static bool usable(struct ctl_tls *t, int *want)
{
	*want = CTL_TLS_ERR;
	if (t->state == LINK_DONE)
		return true;
	errno = t->state == LINK_FAILED ? EPROTO : ENOTCONN;
	return false;
}

ssize_t ctl_tls_read(struct ctl_tls *t, void *buf, size_t n, int *want)
{
	if (!usable(t, want))
		return -1;
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	int r = wolfSSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0) {
		*want = CTL_TLS_DONE;
		return r;
	}
	return io_result(t, r, want);
}

ssize_t ctl_tls_write(struct ctl_tls *t, const void *buf, size_t n, int *want)
{
	if (!usable(t, want))
		return -1;
	if (n == 0) {
		*want = CTL_TLS_DONE;
		return 0;
	}
	if (n > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	int r = wolfSSL_write(t->ssl, buf, (int)n);
	if (r > 0) {
		*want = CTL_TLS_DONE;
		return r;
	}
	return io_result(t, r, want);
}

size_t ctl_tls_pending(const struct ctl_tls *t)
{
	int n = t->state == LINK_DONE ? wolfSSL_pending(t->ssl) : 0;
	return n > 0 ? (size_t)n : 0;
}

int ctl_tls_shutdown(struct ctl_tls *t)
{
	if (t->state != LINK_DONE) {
		errno = t->state == LINK_FAILED ? EPROTO : ENOTCONN;
		return CTL_TLS_ERR;
	}
	if (t->shut_sent)
		return CTL_TLS_DONE;
	int r = wolfSSL_shutdown(t->ssl);
	if (r == WOLFSSL_SUCCESS || r == WOLFSSL_SHUTDOWN_NOT_DONE) {
		t->shut_sent = true;
		return CTL_TLS_DONE;
	}
	int e = wolfSSL_get_error(t->ssl, r);
	if (e == WOLFSSL_ERROR_WANT_WRITE)
		return CTL_TLS_WANT_WRITE;
	if (e == WOLFSSL_ERROR_WANT_READ)
		return CTL_TLS_WANT_READ;
	link_failed(t, r, "TLS close");
	return CTL_TLS_ERR;
}

int ctl_tls_export(struct ctl_tls *t, uint16_t epoch,
                   uint8_t out[CTL_TLS_EXPORT_LEN])
{
	const uint8_t context[2] = {(uint8_t)(epoch >> 8), (uint8_t)epoch};
	if (t->state == LINK_DONE &&
	    wolfSSL_export_keying_material(t->ssl, out, CTL_TLS_EXPORT_LEN,
	                                   CTL_TLS_EXPORT_LABEL,
	                                   strlen(CTL_TLS_EXPORT_LABEL),
	                                   context, sizeof context, 1) ==
	    WOLFSSL_SUCCESS)
		return 0;
	explicit_bzero(out, CTL_TLS_EXPORT_LEN);
	return -1;
}

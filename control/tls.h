/*
 * tls.h - loom-controld's links to its peers: TLS 1.3 with mutual
 * authentication over a caller-owned, non-blocking kernel socket, and the
 * export of the data plane's replication secret from each link (DESIGN §5,
 * docs/CONTROL.md "The TLS links").
 *
 * No event loop and no thread here: the caller owns the fd, polls it, and
 * calls ctl_tls_handshake / _read / _write again when it is ready for the
 * direction the last call asked for (CTL_TLS_WANT_READ: POLLIN,
 * CTL_TLS_WANT_WRITE: POLLOUT). Every object is used from one thread.
 *
 * The peer check. Both roles present their node certificate (a server
 * requires the client's) and both check the peer's the same way, during the
 * handshake, in wolfSSL's verify callback on the leaf certificate:
 *   - wolfSSL's own verification (chain to the cluster CA, dates, the CRL)
 *     must pass, and
 *   - pki_verify_peer() (control/pki.h) on the same certificate at
 *     time(NULL) must return PKI_VERIFY_OK: signed by the cluster CA,
 *     inside its dates and the CA's, not on the CRL, and CN = dNSName SAN =
 *     expected_peer (or, without one, CN = SAN = a valid node name).
 * A refusal fails the handshake on the refusing side with our reason (the
 * peer gets a TLS alert). The reason strings (ctl_tls_error):
 *   "peer certificate refused (revoked): certificate serial 5 ('n4') is
 *    revoked (on the CRL)"
 *   "peer certificate refused (wrong-name): certificate serial 3 names
 *    'n3', not 'n2'"
 *   "peer certificate refused (bad-chain): issued by '/CN=loom cluster CA
 *    beta', not by the cluster CA 'loom cluster CA alpha'"
 *   "peer certificate refused (expired): certificate serial 4 expired at
 *    2026-11-26T07:58:49Z (now ...)"
 *   "peer certificate refused: the peer presented none"
 *   "peer certificate refused by wolfSSL: ..." (ours passed, wolfSSL's not)
 *   "TLS handshake failed: the peer sent alert certificate_revoked (44)"
 *    (the peer refused us; "TLS: ..." when it came after DONE)
 *   "TLS handshake failed: the peer closed the connection", "...:
 *    connection: <strerror>", "...: <wolfSSL's reason> (<code>)"
 * i.e. "peer certificate refused (" + pki_verify_str() + "): " + the
 * sentence of pki_verify_peer; ctl_tls_verdict gives the enum.
 *
 * TLS 1.3's order matters to the caller: a client's handshake is DONE once
 * it has checked the server and sent its own certificate and Finished; the
 * server checks the client's certificate after that, so a client the
 * server refuses learns it from the alert on its first ctl_tls_read (ERR,
 * "the peer sent alert ..."). Let the server speak first on a link and
 * hand no key to loomd before the client has read something.
 *
 * No session resumption (no tickets, no session cache): every connection
 * runs the full handshake and the full peer check.
 *
 * wolfSSL: ctl_tls_ctx_new calls wolfSSL_Init() and ctl_tls_ctx_free
 * wolfSSL_Cleanup(); wolfSSL counts them, so contexts may come and go and
 * other users of wolfSSL in the process are not disturbed. This module
 * itself has no global state.
 */
#ifndef LOOM_CONTROL_TLS_H
#define LOOM_CONTROL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The exporter's label (RFC 8446 §7.5); the context is the key epoch as
 * 2 bytes big-endian. */
#define CTL_TLS_EXPORT_LABEL "EXPORTER-loom-replication"
#define CTL_TLS_EXPORT_LEN 32

/* Return values of ctl_tls_handshake and ctl_tls_shutdown, and *want of
 * ctl_tls_read / ctl_tls_write. */
enum {
	CTL_TLS_DONE = 0,
	CTL_TLS_WANT_READ = 1,
	CTL_TLS_WANT_WRITE = 2,
	CTL_TLS_ERR = -1,
};

/* A node's TLS identity and trust, shared by all its links, both roles. */
struct ctl_tls_ctx;
/* One link: one connection, client or server side. */
struct ctl_tls;

/* Loads the cluster CA certificate and the CRL (pki_ca_load: both are
 * required, and the CRL's signature must verify with the CA), the node's
 * certificate and private key (PEM or DER, as `loomctl cert issue` writes
 * them; the certificate's CN must be a node name, and the key must sign
 * what the certificate's key verifies), and makes the TLS 1.3 client and
 * server contexts. There is no "no CRL" mode: every bundle has a crl.pem
 * (`ca init` writes an empty one), and running without one would let a
 * revoked peer in silently. The paths are kept for ctl_tls_ctx_reload.
 * Our own certificate is not judged here (see ctl_tls_ctx_check_self).
 * Returns the context, or NULL with a one-line reason in err. */
struct ctl_tls_ctx *ctl_tls_ctx_new(const char *ca_file, const char *cert_file,
                                    const char *key_file, const char *crl_file,
                                    char *err, size_t errlen);

/* Reads the four files again and swaps them in if they all load: a new
 * crl.pem (a revocation) takes effect for every peer check from now on,
 * also on links still in their handshake, without a restart; a rotated
 * certificate and key for links made from now on (one made before keeps
 * presenting the old one). Links already up are not re-checked (the
 * caller closes the revoked peer's).
 * On failure (-1, reason in err) the context keeps what it had. Returns 0
 * or -1. */
int ctl_tls_ctx_reload(struct ctl_tls_ctx *ctx, char *err, size_t errlen);

/* Frees ctx; every struct ctl_tls made from it must be freed first. NULL
 * is a no-op. */
void ctl_tls_ctx_free(struct ctl_tls_ctx *ctx);

/* Our own node name: the CN of our certificate. */
const char *ctl_tls_ctx_node(const struct ctl_tls_ctx *ctx);

/* The peer check run on our own certificate at `now` (pki_verify_peer with
 * our CN): what every peer will answer. loom-controld calls it at start and
 * after a reload to say "our certificate is revoked/expired" instead of
 * leaving every link to fail. Returns an enum pki_verify value; why gets
 * the sentence (may be NULL). */
int ctl_tls_ctx_check_self(const struct ctl_tls_ctx *ctx, time_t now,
                           char *why, size_t whylen);

/* A link over fd (a connected or accepted stream socket, O_NONBLOCK, owned
 * by the caller and not closed here). client: we connect (TLS client);
 * otherwise we accept. expected_peer: the node name the topology expects
 * at the other end (the peer's CN and DNS SAN must equal it); NULL accepts
 * any member of the cluster, and the caller then looks the name up with
 * ctl_tls_peer_name (a server does not know who dials). NULL on bad
 * arguments (an invalid expected_peer, a negative fd) or out of memory. */
struct ctl_tls *ctl_tls_new(struct ctl_tls_ctx *ctx, int fd, bool client,
                            const char *expected_peer);

/* Frees t without a close_notify (see ctl_tls_shutdown); does not close
 * the fd. NULL is a no-op. */
void ctl_tls_free(struct ctl_tls *t);

/* Advances the handshake: CTL_TLS_DONE (and every later call returns DONE
 * again), CTL_TLS_WANT_READ / CTL_TLS_WANT_WRITE (poll and call again), or
 * CTL_TLS_ERR (final: ctl_tls_error says why; free the link). */
int ctl_tls_handshake(struct ctl_tls *t);

/* Why the link failed, "" if it has not. Valid until ctl_tls_free. */
const char *ctl_tls_error(const struct ctl_tls *t);

/* The peer's node name (its certificate's CN, checked), once the peer
 * check passed (certainly after DONE); NULL before, and once the link has
 * failed. */
const char *ctl_tls_peer_name(const struct ctl_tls *t);

/* The result of our peer check (enum pki_verify: PKI_VERIFY_OK, or why the
 * peer was refused), or -1 if it has not run (the handshake did not reach
 * the peer's certificate, or the peer presented none). */
int ctl_tls_verdict(const struct ctl_tls *t);

/* Application data, after DONE (before it, or after a failure: -1, *want
 * CTL_TLS_ERR, errno ENOTCONN / EPROTO, nothing changes).
 * ctl_tls_read (n > 0, else EINVAL): > 0 bytes read (at most n); 0: the
 * peer closed the link in
 * order (close_notify); -1: *want = CTL_TLS_WANT_READ or CTL_TLS_WANT_WRITE
 * (errno EAGAIN; TLS may need to write to read, or the reverse), or *want
 * = CTL_TLS_ERR (errno EPROTO, or ECONNRESET/EPIPE/... from the socket;
 * ctl_tls_error says why; a close without close_notify is an error).
 * ctl_tls_write: n (all of it) or -1 as above. After a WANT, call again
 * with the same buf and n: TLS may already have taken part of them.
 * Records decrypted ahead sit inside wolfSSL, not in the socket: read
 * until WANT_READ (or check ctl_tls_pending) before polling again. */
ssize_t ctl_tls_read(struct ctl_tls *t, void *buf, size_t n, int *want);
ssize_t ctl_tls_write(struct ctl_tls *t, const void *buf, size_t n, int *want);

/* Bytes already decrypted and waiting for ctl_tls_read. */
size_t ctl_tls_pending(const struct ctl_tls *t);

/* Sends our close_notify (the peer's ctl_tls_read then returns 0); does
 * not wait for the peer's. CTL_TLS_DONE, CTL_TLS_WANT_WRITE (call again)
 * or CTL_TLS_ERR. */
int ctl_tls_shutdown(struct ctl_tls *t);

/* The replication secret of this link for key epoch `epoch`: 32 bytes of
 * the TLS exporter (label CTL_TLS_EXPORT_LABEL, context = epoch as 2 bytes
 * big-endian). Both ends of a link get the same bytes; another epoch or
 * another connection gives unrelated ones. Only after DONE. Returns 0, or
 * -1 (not DONE, or wolfSSL failed; out is zeroed). */
int ctl_tls_export(struct ctl_tls *t, uint16_t epoch,
                   uint8_t out[CTL_TLS_EXPORT_LEN]);

#endif

/*
 * pki.h - the cluster PKI: one cluster CA, one certificate per node, and a
 * CRL, made with wolfSSL's certificate generation (ECDSA P-256, SHA-256).
 * `loomctl ca|cert ...` drives it; loom-controld loads the CA certificate
 * and the CRL and runs pki_verify_peer() on every peer at the handshake.
 * docs/CONTROL.md is the operator's reference; the summary:
 *
 * The CA directory (loomctl --dir, default PKI_DEFAULT_DIR; mode 0700):
 *   ca.key.pem   the CA's P-256 private key, PEM "EC PRIVATE KEY" (SEC 1),
 *                mode 0600
 *   ca.crt.pem   the self-signed CA certificate, PEM: CN "loom cluster CA
 *                CLUSTER", basicConstraints CA:TRUE pathlen:0 (not marked
 *                critical: wolfSSL 5.5 cannot), keyUsage keyCertSign|
 *                cRLSign (critical), subject and authority key ids, a
 *                random serial in [2^62, 2^63)
 *   serial       the next node serial, decimal and a newline (starts at 1)
 *   issued.txt   one line per issued node certificate (the register):
 *                  SERIAL NODE NOT_BEFORE NOT_AFTER valid
 *                  SERIAL NODE NOT_BEFORE NOT_AFTER revoked REVOKED_AT
 *                times as YYYY-MM-DDTHH:MM:SSZ; '#' lines are comments
 *   crl.pem      an X.509 v2 CRL (PEM "X509 CRL") of every revoked serial,
 *                signed ecdsa-with-SHA256 by the CA key, rebuilt from
 *                issued.txt by `ca init` and `cert revoke`; thisUpdate = the
 *                time it was made, nextUpdate = the CA's notAfter (the
 *                list is replaced on change, not on a timer), extensions
 *                authorityKeyIdentifier and cRLNumber (= thisUpdate in Unix
 *                seconds, so it grows)
 *   .lock        flock()ed by every command that changes the directory
 *   nodes/NODE/  `cert issue`'s default output directory (mode 0700)
 *
 * A node's bundle (the output directory of `cert issue`): NODE.key.pem
 * (mode 0600), NODE.crt.pem, and copies of ca.crt.pem and crl.pem as they
 * were at issue time (a later revocation reaches a node only when its
 * crl.pem is replaced).
 *
 * Node certificates: subject CN = NODE, subjectAltName dNSName = NODE,
 * basicConstraints CA:FALSE, keyUsage digitalSignature|keyAgreement,
 * extKeyUsage serverAuth+clientAuth (loom-controld is both client and
 * server), subject and authority key identifiers, serial = the CA's counter.
 *
 * Not thread-safe per struct pki_ca; separate structs are independent.
 * Every function taking err/errlen writes a one-line reason there on failure
 * (naming the file or argument at fault).
 */
#ifndef LOOM_CONTROL_PKI_H
#define LOOM_CONTROL_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PKI_DEFAULT_DIR "/var/lib/loom/ca"
#define PKI_CA_DAYS 3650      /* `ca init` default validity */
#define PKI_CERT_DAYS 365     /* `cert issue` default validity */
#define PKI_DAYS_MAX 36500    /* the most --days takes */
/* loomctl dates notBefore this many seconds before now, so a peer whose
 * clock is a little behind does not see a fresh certificate as not yet
 * valid. */
#define PKI_BACKDATE_SECS 3600
#define PKI_NAME_MAX 63       /* node name characters */
/* The CA's CN "loom cluster CA " + CLUSTER must fit X.509's 64-character
 * CommonName (and wolfSSL's CTC_NAME_SIZE buffer with its NUL). */
#define PKI_CLUSTER_MAX 47
#define PKI_CA_CN_PREFIX "loom cluster CA "

/* The outcome of pki_verify_peer(). The checks run in this order and the
 * first failure is the answer: MALFORMED, BAD_CHAIN, NOT_YET_VALID/EXPIRED,
 * REVOKED, WRONG_NAME. */
enum pki_verify {
	PKI_VERIFY_OK = 0,
	/* not signed by this CA's key, issuer name not the CA's subject, a CA
	 * certificate offered as a node's, or signed with another algorithm */
	PKI_VERIFY_BAD_CHAIN = 1,
	PKI_VERIFY_EXPIRED = 2,       /* now > notAfter (the cert's or the CA's) */
	PKI_VERIFY_NOT_YET_VALID = 3, /* now < notBefore (the cert's or the CA's) */
	/* on the CRL; also when the CRL cannot say (fail closed) */
	PKI_VERIFY_REVOKED = 4,
	/* CN != expect_name, or no dNSName SAN equal to it (exact, case
	 * sensitive) */
	PKI_VERIFY_WRONG_NAME = 5,
	PKI_VERIFY_MALFORMED = 6,     /* not a DER X.509 certificate */
	PKI_VERIFY_ERROR = 7,         /* out of memory, wolfSSL failure */
};

/* "ok", "bad-chain", "expired", "not-yet-valid", "revoked", "wrong-name",
 * "malformed", "error". */
const char *pki_verify_str(int result);

/* One line of issued.txt. */
struct pki_record {
	uint64_t serial;
	char node[PKI_NAME_MAX + 1];
	time_t not_before, not_after;
	bool revoked;
	time_t revoked_at; /* 0 unless revoked */
};

/* An opened CA: its certificate, its CRL and (for issuing) its key. */
struct pki_ca;

/* A node name: [A-Za-z0-9_.-]{1,63} (the config's node_name), and none of
 * ".", ".." (they would name directories) and "ca" (NODE.crt.pem would be
 * the bundle's ca.crt.pem). */
bool pki_valid_node_name(const char *s);
/* A cluster name for the CA's CN: [A-Za-z0-9_.-]{1,47}. */
bool pki_valid_cluster_name(const char *s);

/* Creates a CA in dir (made, with its parents, if missing; mode 0700):
 * a new key, the self-signed certificate valid [not_before, not_after],
 * serial, an empty issued.txt and an empty CRL. Refuses (-1) if dir holds
 * ca.key.pem or ca.crt.pem, unless force: then the CA is replaced and
 * serial, issued.txt and crl.pem start over (every certificate of the old
 * CA stops verifying; nodes/ is left alone). Returns 0 or -1. */
int pki_ca_init(const char *dir, const char *cluster, time_t not_before,
                time_t not_after, bool force, char *err, size_t errlen);

/* Opens the CA in dir: ca.crt.pem and crl.pem (whose signature must verify
 * with the CA), and ca.key.pem when with_key (it must match the
 * certificate). Issuing and revoking need the key; listing and verifying do
 * not. Returns 0 and *out (free with pki_ca_free), or -1. */
int pki_ca_open(const char *dir, bool with_key, struct pki_ca **out,
                char *err, size_t errlen);

/* Opens a CA for verification only, from a CA certificate and a CRL file
 * (PEM or DER each): what a node holds. Both are required. */
int pki_ca_load(const char *ca_cert_file, const char *crl_file,
                struct pki_ca **out, char *err, size_t errlen);

void pki_ca_free(struct pki_ca *ca);

/* The CA certificate's CN and validity. */
const char *pki_ca_name(const struct pki_ca *ca);
time_t pki_ca_not_before(const struct pki_ca *ca);
time_t pki_ca_not_after(const struct pki_ca *ca);
/* The CA certificate, DER. */
const uint8_t *pki_ca_der(const struct pki_ca *ca, size_t *len);

/* Issues a certificate for node valid [not_before, not_after] (inside the
 * CA's validity), with a new P-256 key; writes NODE.key.pem, NODE.crt.pem,
 * ca.crt.pem and crl.pem into out_dir (NULL: DIR/nodes/NODE; made if
 * missing, mode 0700) and records it in issued.txt. Refuses a node that
 * already holds a certificate neither revoked nor expired (now, by the
 * clock), unless force (the older one then stays valid until revoked).
 * The serial is the counter in DIR/serial, which moves first (a failure
 * later leaves a gap, never a reused serial). Needs a CA opened with its
 * key. Returns 0 and *rec (may be NULL), or -1. */
int pki_cert_issue(struct pki_ca *ca, const char *node, time_t not_before,
                   time_t not_after, const char *out_dir, bool force,
                   struct pki_record *rec, char *err, size_t errlen);

/* Marks serial revoked at `now` in issued.txt and rewrites crl.pem; ca's
 * CRL is reloaded, so pki_verify_peer() on ca sees it at once. Returns 0,
 * 1 if it was already revoked (nothing changes), or -1 (unknown serial,
 * I/O, crypto). Needs a CA opened with its key. */
int pki_cert_revoke(struct pki_ca *ca, uint64_t serial, time_t now,
                    char *err, size_t errlen);

/* The records of issued.txt in file order (by serial): *recs (free()) and
 * *n. Returns 0 or -1. Needs a CA opened from a directory. */
int pki_cert_list(const struct pki_ca *ca, struct pki_record **recs,
                  size_t *n, char *err, size_t errlen);

/* Reads a certificate file, PEM ("CERTIFICATE") or DER, into *der
 * (free()). Returns 0, or -1 if unreadable (a PEM that does not decode is
 * handed back as its raw bytes, for pki_verify_peer to call MALFORMED). */
int pki_read_cert_file(const char *path, uint8_t **der, size_t *len,
                       char *err, size_t errlen);

/* The peer check of loom-controld's handshakes (and `loomctl cert verify`):
 * der is the peer's certificate; it must be signed by ca (ECDSA-SHA256,
 * issuer = the CA's subject, not itself a CA), inside its validity and the
 * CA's at `now`, absent from ca's CRL, and, when expect_name is not NULL,
 * carry CN = expect_name and a dNSName SAN = expect_name. Returns an enum
 * pki_verify value; why gets a sentence for any result (may be NULL). */
int pki_verify_peer(const struct pki_ca *ca, const uint8_t *der, size_t len,
                    const char *expect_name, time_t now, char *why,
                    size_t whylen);

/* time_t to "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with the NUL) and back;
 * pki_time_parse returns 0 or -1. */
#define PKI_TIME_LEN 21
void pki_time_format(time_t t, char out[PKI_TIME_LEN]);
int pki_time_parse(const char *s, time_t *out);

#endif

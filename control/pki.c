/*
 * pki.c - the cluster PKI (pki.h): keys and certificates with wolfCrypt's
 * certificate generation, the CRL and the peer check.
 *
 * wolfSSL 5.5 (Debian 12) generates keys and certificates but has no CRL
 * generation (no wc_MakeCRL, no X509_CRL_sign), so the CRL is DER written
 * here (RFC 5280 section 5) and signed with the CA key through
 * wc_SignatureGenerate(); wolfSSL's own CRL loader accepts it (the unit test
 * runs a TLS 1.3 handshake against it). Reading certificates and CRLs for
 * the peer check uses a small strict DER walker, so the check does exactly
 * what it says at the `now` it is given (wolfSSL's CertManager reads the
 * system clock), and wolfSSL's parser (wc_ParseCert) for the names.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/signature.h>

#include "control/pki.h"
#include "common/names.h"
#include "common/base64.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (1u << 20)    /* the largest file the PKI reads */
#define CERT_DER_MAX 4096      /* a generated certificate's buffer */
#define KEY_DER_MAX 512
#define SERIAL_BYTES_MAX 21    /* 20 octets (RFC 5280) and a sign pad */
#define SKID_MAX 64
#define P256_BYTES 32

#define TAG_INT 0x02
#define TAG_BITS 0x03
#define TAG_OCTETS 0x04
#define TAG_OID 0x06
#define TAG_UTC 0x17
#define TAG_GEN 0x18
#define TAG_SEQ 0x30
#define TAG_CTX0 0xa0          /* [0] constructed */
#define TAG_CTX3 0xa3          /* [3] constructed */

/* AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no
 * parameters (RFC 5758). */
static const uint8_t alg_ecdsa_sha256[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
};
static const uint8_t oid_skid[] = {0x55, 0x1d, 0x0e};      /* 2.5.29.14 */
static const uint8_t oid_akid[] = {0x55, 0x1d, 0x23};      /* 2.5.29.35 */
static const uint8_t oid_crl_number[] = {0x55, 0x1d, 0x14}; /* 2.5.29.20 */

struct serial_bytes {
	uint8_t len; /* without leading zero octets */
	uint8_t b[SERIAL_BYTES_MAX];
};

struct pki_ca {
	char dir[PATH_MAX];         /* "" when opened by pki_ca_load() */
	char name[CTC_NAME_SIZE + 1];
	uint8_t *der;               /* the CA certificate */
	size_t der_len;
	uint8_t *subject;           /* its subject Name, DER */
	size_t subject_len;
	uint8_t skid[SKID_MAX];     /* its subjectKeyIdentifier (0: none) */
	size_t skid_len;
	time_t not_before, not_after;
	ecc_key pub;
	ecc_key key;                /* the private key, when have_key */
	bool have_key;
	struct serial_bytes *revoked; /* the CRL's serials */
	size_t n_revoked;
	time_t crl_next_update;     /* 0: the CRL has none */
};

/* ---- errors -------------------------------------------------------- */

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

static int vres(char *why, size_t whylen, int result, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int vres(char *why, size_t whylen, int result, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return result;
}

const char *pki_verify_str(int result)
{
	switch (result) {
	case PKI_VERIFY_OK: return "ok";
	case PKI_VERIFY_BAD_CHAIN: return "bad-chain";
	case PKI_VERIFY_EXPIRED: return "expired";
	case PKI_VERIFY_NOT_YET_VALID: return "not-yet-valid";
	case PKI_VERIFY_REVOKED: return "revoked";
	case PKI_VERIFY_WRONG_NAME: return "wrong-name";
	case PKI_VERIFY_MALFORMED: return "malformed";
	default: return "error";
	}
}

/* Zeroes key material (volatile: not optimized away). */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

/* Printable ASCII of n bytes of untrusted text (anything else as '?'). */
static void printable(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = 0;
	if (cap == 0)
		return;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[k] = '\0';
}

/* ---- names --------------------------------------------------------- */


bool pki_valid_node_name(const char *s)
{
	return loom_name_valid(s, PKI_NAME_MAX) && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0 && strcmp(s, "ca") != 0;
}

bool pki_valid_cluster_name(const char *s)
{
	return loom_name_valid(s, PKI_CLUSTER_MAX);
}

/* ---- time ---------------------------------------------------------- */

/* Years the PKI writes: UTCTime covers 1950-2049, GeneralizedTime the
 * rest up to 9999 (RFC 5280 4.1.2.5). */
static bool time_in_range(time_t t)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		return false;
	return tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 <= 9999;
}

void pki_time_format(time_t t, char out[PKI_TIME_LEN])
{
	struct tm tm;
	char buf[64];
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec);
	snprintf(out, PKI_TIME_LEN, "%.20s", buf);
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Fields to time_t; -1 if they do not name a real UTC second. */
static int fields_to_time(int y, int mo, int d, int h, int mi, int s,
                          time_t *out)
{
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
		return -1;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	time_t t = timegm(&tm);
	struct tm back;
	if (gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
	    back.tm_mon != mo - 1 || back.tm_year != y - 1900)
		return -1; /* 31 April and the like */
	*out = t;
	return 0;
}

int pki_time_parse(const char *s, time_t *out)
{
	if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	return fields_to_time(digits(s, 4), digits(s + 5, 2),
	                      digits(s + 8, 2), digits(s + 11, 2),
	                      digits(s + 14, 2), digits(s + 17, 2), out);
}

/* UTCTime "YYMMDDHHMMSSZ" or GeneralizedTime "YYYYMMDDHHMMSSZ". */
static int asn_time_parse(uint8_t tag, const uint8_t *p, size_t n,
                          time_t *out)
{
	const char *s = (const char *)p;
	int y;
	if (tag == TAG_UTC && n == 13) {
		y = digits(s, 2);
		if (y < 0)
			return -1;
		y += y >= 50 ? 1900 : 2000;
		s += 2;
	} else if (tag == TAG_GEN && n == 15) {
		y = digits(s, 4);
		s += 4;
	} else {
		return -1;
	}
	if (s[10] != 'Z')
		return -1;
	return fields_to_time(y, digits(s, 2), digits(s + 2, 2),
	                      digits(s + 4, 2), digits(s + 6, 2),
	                      digits(s + 8, 2), out);
}

/* The DER Time for t, tag and length included: 15 or 17 bytes. */
static size_t asn_time_encode(time_t t, uint8_t out[17])
{
	struct tm tm;
	char buf[64];
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	int y = tm.tm_year + 1900;
	if (y >= 1950 && y < 2050) {
		snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d%02dZ", y % 100,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec);
		out[0] = TAG_UTC;
		out[1] = 13;
		memcpy(out + 2, buf, 13);
		return 15;
	}
	snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02dZ", y,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	out[0] = TAG_GEN;
	out[1] = 15;
	memcpy(out + 2, buf, 15);
	return 17;
}

/* ---- DER reading --------------------------------------------------- */

struct der {
	const uint8_t *p;
	size_t n;
};

static int der_peek(const struct der *c)
{
	return c->n > 0 ? c->p[0] : -1;
}

/* Takes one TLV with tag `tag` off the front of c: val gets its value, tlv
 * all of it (either may be NULL). Definite lengths only, up to 2^32. */
static int der_take(struct der *c, int tag, struct der *val, struct der *tlv)
{
	if (c->n < 2 || c->p[0] != (uint8_t)tag)
		return -1;
	size_t hl = 2, len = c->p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || c->n < 2 + k || c->p[2] == 0)
			return -1;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = (len << 8) | c->p[2 + i];
		if (len < 0x80)
			return -1;
		hl += k;
	}
	if (len > c->n - hl)
		return -1;
	if (val != NULL) {
		val->p = c->p + hl;
		val->n = len;
	}
	if (tlv != NULL) {
		tlv->p = c->p;
		tlv->n = hl + len;
	}
	c->p += hl + len;
	c->n -= hl + len;
	return 0;
}

static int der_take_time(struct der *c, time_t *out)
{
	int tag = der_peek(c);
	struct der v;
	if ((tag != TAG_UTC && tag != TAG_GEN) || der_take(c, tag, &v, NULL))
		return -1;
	return asn_time_parse((uint8_t)tag, v.p, v.n, out);
}

static bool der_eq(const struct der *d, const uint8_t *p, size_t n)
{
	return d->n == n && memcmp(d->p, p, n) == 0;
}

/* An INTEGER's value as a positive serial; -1 if negative or too long. */
static int serial_from_int(const struct der *v, struct serial_bytes *s)
{
	const uint8_t *p = v->p;
	size_t n = v->n;
	if (n == 0 || (p[0] & 0x80))
		return -1;
	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n > SERIAL_BYTES_MAX)
		return -1;
	s->len = (uint8_t)n;
	memcpy(s->b, p, n);
	return 0;
}

static bool serial_to_u64(const struct serial_bytes *s, uint64_t *out)
{
	if (s->len > 8)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s->len; i++)
		v = (v << 8) | s->b[i];
	*out = v;
	return true;
}

/* Decimal when it fits 64 bits, else 0x and hex. */
static void serial_text(const struct serial_bytes *s, char *out, size_t cap)
{
	uint64_t v;
	if (serial_to_u64(s, &v)) {
		snprintf(out, cap, "%llu", (unsigned long long)v);
		return;
	}
	size_t k = (size_t)snprintf(out, cap, "0x");
	for (size_t i = 0; i < s->len && k + 3 <= cap; i++)
		k += (size_t)snprintf(out + k, cap - k, "%02x", s->b[i]);
}

/* The parts of a certificate the PKI reads itself. */
struct cert_parts {
	struct der tbs;      /* TBSCertificate, TLV: what the signature covers */
	struct der serial;   /* INTEGER value */
	struct der issuer;   /* Name TLV */
	time_t not_before, not_after;
	struct der subject;  /* Name TLV */
	struct der spki;     /* SubjectPublicKeyInfo TLV */
	struct der exts;     /* the Extensions SEQUENCE's value, or empty */
	struct der sig_alg;  /* the outer AlgorithmIdentifier TLV */
	struct der sig;      /* signatureValue without its unused-bits octet */
};

static int cert_split(const uint8_t *der, size_t len, struct cert_parts *cp)
{
	struct der all = {der, len}, cert, tbs, val, bits;
	memset(cp, 0, sizeof *cp);
	if (der_take(&all, TAG_SEQ, &cert, NULL) || all.n != 0 ||
	    der_take(&cert, TAG_SEQ, &tbs, &cp->tbs))
		return -1;
	if (der_peek(&tbs) == TAG_CTX0 && der_take(&tbs, TAG_CTX0, NULL, NULL))
		return -1;
	if (der_take(&tbs, TAG_INT, &cp->serial, NULL) ||
	    der_take(&tbs, TAG_SEQ, NULL, NULL) ||
	    der_take(&tbs, TAG_SEQ, NULL, &cp->issuer) ||
	    der_take(&tbs, TAG_SEQ, &val, NULL) ||
	    der_take_time(&val, &cp->not_before) ||
	    der_take_time(&val, &cp->not_after) || val.n != 0 ||
	    der_take(&tbs, TAG_SEQ, NULL, &cp->subject) ||
	    der_take(&tbs, TAG_SEQ, NULL, &cp->spki))
		return -1;
	while (tbs.n > 0) { /* [1], [2] unique ids, [3] extensions */
		int tag = der_peek(&tbs);
		struct der inner;
		if (tag == TAG_CTX3) {
			if (der_take(&tbs, TAG_CTX3, &inner, NULL) ||
			    der_take(&inner, TAG_SEQ, &cp->exts, NULL) ||
			    inner.n != 0)
				return -1;
		} else if (tag == 0x81 || tag == 0x82) {
			if (der_take(&tbs, tag, NULL, NULL))
				return -1;
		} else {
			return -1;
		}
	}
	if (der_take(&cert, TAG_SEQ, NULL, &cp->sig_alg) ||
	    der_take(&cert, TAG_BITS, &bits, NULL) || cert.n != 0 ||
	    bits.n < 2 || bits.p[0] != 0)
		return -1;
	cp->sig.p = bits.p + 1;
	cp->sig.n = bits.n - 1;
	return 0;
}

/* The value (inside its OCTET STRING) of the extension `oid`; -1 if absent
 * or malformed. */
static int cert_ext(const struct cert_parts *cp, const uint8_t *oid,
                    size_t oid_len, struct der *value)
{
	struct der exts = cp->exts;
	while (exts.n > 0) {
		struct der ext, id;
		if (der_take(&exts, TAG_SEQ, &ext, NULL) ||
		    der_take(&ext, TAG_OID, &id, NULL))
			return -1;
		if (der_peek(&ext) == 0x01 && der_take(&ext, 0x01, NULL, NULL))
			return -1; /* critical */
		if (der_eq(&id, oid, oid_len))
			return der_take(&ext, TAG_OCTETS, value, NULL);
	}
	return -1;
}

/* An ECDSA-SHA256 signature (DER Ecdsa-Sig-Value) over data with pub. */
static bool ecdsa_ok(const ecc_key *pub, const struct der *data,
                     const struct der *sig)
{
	if (data->n > UINT32_MAX || sig->n > UINT32_MAX)
		return false;
	return wc_SignatureVerify(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC,
	                          data->p, (word32)data->n, sig->p,
	                          (word32)sig->n, pub, sizeof *pub) == 0;
}

/* ---- DER writing --------------------------------------------------- */

struct dbuf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
};

static void db_put(struct dbuf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void db_tlv(struct dbuf *b, uint8_t tag, const void *v, size_t n)
{
	uint8_t h[6];
	size_t k = 0;
	h[k++] = tag;
	if (n < 0x80) {
		h[k++] = (uint8_t)n;
	} else if (n < 0x100) {
		h[k++] = 0x81;
		h[k++] = (uint8_t)n;
	} else if (n < 0x10000) {
		h[k++] = 0x82;
		h[k++] = (uint8_t)(n >> 8);
		h[k++] = (uint8_t)n;
	} else if (n < 0x1000000) {
		h[k++] = 0x83;
		h[k++] = (uint8_t)(n >> 16);
		h[k++] = (uint8_t)(n >> 8);
		h[k++] = (uint8_t)n;
	} else {
		b->oom = true;
		return;
	}
	db_put(b, h, k);
	db_put(b, v, n);
}

/* Appends inner as the value of a `tag` TLV and empties inner. */
static void db_wrap(struct dbuf *out, uint8_t tag, struct dbuf *inner)
{
	if (inner->oom)
		out->oom = true;
	else
		db_tlv(out, tag, inner->p, inner->n);
	free(inner->p);
	memset(inner, 0, sizeof *inner);
}

/* The DER INTEGER content of v: minimal, a zero octet first when the top
 * bit is set (so it stays positive). Returns its length (1..9). */
static size_t u64_int_bytes(uint64_t v, uint8_t out[9])
{
	uint8_t be[8];
	size_t i = 0, n = 0;
	for (int k = 0; k < 8; k++)
		be[k] = (uint8_t)(v >> (56 - 8 * k));
	while (i < 7 && be[i] == 0)
		i++;
	if (be[i] & 0x80)
		out[n++] = 0;
	while (i < 8)
		out[n++] = be[i++];
	return n;
}

static void db_uint(struct dbuf *b, uint64_t v)
{
	uint8_t c[9];
	size_t n = u64_int_bytes(v, c);
	db_tlv(b, TAG_INT, c, n);
}

static void db_time(struct dbuf *b, time_t t)
{
	uint8_t tm[17];
	db_put(b, tm, asn_time_encode(t, tm));
}

/* ---- PEM ----------------------------------------------------------- */

/* "-----BEGIN label-----", base64 in 64-column lines, "-----END ...". */
static char *pem_encode(const uint8_t *der, size_t n, const char *label,
                        size_t *outlen)
{
	size_t b64 = BASE64_ENCODED_LEN(n);
	size_t cap = b64 + b64 / 64 + 2 + 2 * strlen(label) + 40;
	char *tmp = malloc(b64 + 1), *out = malloc(cap);
	if (tmp == NULL || out == NULL) {
		free(tmp);
		free(out);
		return NULL;
	}
	base64_encode(der, n, tmp);
	size_t k = (size_t)snprintf(out, cap, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < b64; i += 64) {
		size_t m = b64 - i < 64 ? b64 - i : 64;
		memcpy(out + k, tmp + i, m);
		k += m;
		out[k++] = '\n';
	}
	k += (size_t)snprintf(out + k, cap - k, "-----END %s-----\n", label);
	free(tmp);
	*outlen = k;
	return out;
}

/* Decodes the first "label" block of text. Returns 0 and *der (free()),
 * 1 if text has no such block, -1 if the block does not decode. */
static int pem_decode(const uint8_t *text, size_t n, const char *label,
                      uint8_t **der, size_t *dlen)
{
	char begin[64], end[64];
	snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
	snprintf(end, sizeof end, "-----END %s-----", label);
	const uint8_t *b = memmem(text, n, begin, strlen(begin));
	if (b == NULL)
		return 1;
	const uint8_t *s = b + strlen(begin);
	const uint8_t *e = memmem(s, (size_t)(text + n - s), end, strlen(end));
	if (e == NULL)
		return -1;
	size_t m = 0, span = (size_t)(e - s);
	char *b64 = malloc(span + 1);
	uint8_t *out = malloc(BASE64_DECODED_MAX(span) + 1);
	if (b64 == NULL || out == NULL) {
		free(b64);
		free(out);
		return -1;
	}
	for (size_t i = 0; i < span; i++)
		if (s[i] != '\n' && s[i] != '\r' && s[i] != ' ' && s[i] != '\t')
			b64[m++] = (char)s[i];
	long r = base64_decode(b64, m, out, BASE64_DECODED_MAX(span) + 1);
	free(b64);
	if (r <= 0) {
		free(out);
		return -1;
	}
	*der = out;
	*dlen = (size_t)r;
	return 0;
}

static bool looks_pem(const uint8_t *text, size_t n)
{
	return memmem(text, n, "-----BEGIN ", 11) != NULL;
}

/* ---- files --------------------------------------------------------- */

static int path_in(char out[PATH_MAX], const char *dir, const char *name,
                   char *err, size_t errlen)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_MAX)
		return fail(err, errlen, "path too long: %s/%s", dir, name);
	return 0;
}

/* A whole regular file, NUL-terminated (*len excludes the NUL). */
static int read_file(const char *path, uint8_t **buf, size_t *len,
                     char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		return fail(err, errlen, "%s: not a regular file of at most "
		            "%u bytes", path, FILE_MAX);
	}
	uint8_t *p = malloc((size_t)st.st_size + 1);
	if (p == NULL) {
		close(fd);
		return fail(err, errlen, "%s: out of memory", path);
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			free(p);
			close(fd);
			return fail(err, errlen, "%s: read: %s", path,
			            strerror(e));
		}
		got += (size_t)r;
	}
	close(fd);
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}

/* Replaces path atomically (PATH.tmp, fsync, rename). secret: mode exactly
 * 0600; otherwise mode under the umask. */
static int write_file(const char *path, const void *data, size_t n,
                      mode_t mode, bool secret, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return fail(err, errlen, "path too long: %s", path);
	if (unlink(tmp) != 0 && errno != ENOENT)
		return fail(err, errlen, "%s: %s", tmp, strerror(errno));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	              secret ? 0600 : mode);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", tmp, strerror(errno));
	if (secret && fchmod(fd, 0600) != 0)
		goto bad;
	const uint8_t *p = data;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto bad;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto bad;
	if (close(fd) != 0) {
		fd = -1;
		goto bad;
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return fail(err, errlen, "%s: rename: %s", path, strerror(e));
	}
	return 0;
bad:;
	int e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return fail(err, errlen, "%s: write: %s", tmp, strerror(e));
}

static int copy_file(const char *from, const char *to, char *err,
                     size_t errlen)
{
	uint8_t *buf;
	size_t n;
	if (read_file(from, &buf, &n, err, errlen) != 0)
		return -1;
	int r = write_file(to, buf, n, 0644, false, err, errlen);
	free(buf);
	return r;
}

/* mkdir -p: parents 0755, the last one `leaf` (existing ones as they are). */
static int mkdir_p(const char *path, mode_t leaf, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return fail(err, errlen, "bad directory '%s'", path);
	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	for (size_t i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			int e = errno;
			buf[i] = '/';
			return fail(err, errlen, "%.*s: mkdir: %s", (int)i, buf,
			            strerror(e));
		}
		buf[i] = '/';
	}
	if (mkdir(buf, leaf) != 0 && errno != EEXIST)
		return fail(err, errlen, "%s: mkdir: %s", buf, strerror(errno));
	struct stat st;
	if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
		return fail(err, errlen, "%s: not a directory", buf);
	return 0;
}

/* flock(LOCK_EX) on DIR/.lock; returns the fd to close, or -1. */
static int lock_dir(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (path_in(path, dir, ".lock", err, errlen) != 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return fail(err, errlen, "%s: flock: %s", path,
			            strerror(e));
		}
	}
	return fd;
}

/* A certificate, CRL or key file: PEM block `label`, else DER as is. */
static int read_der_file(const char *path, const char *label, uint8_t **der,
                         size_t *len, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t n;
	if (read_file(path, &buf, &n, err, errlen) != 0)
		return -1;
	if (!looks_pem(buf, n)) {
		*der = buf;
		*len = n;
		return 0;
	}
	int r = pem_decode(buf, n, label, der, len);
	free(buf);
	if (r == 1)
		return fail(err, errlen, "%s: no '-----BEGIN %s-----' block",
		            path, label);
	if (r != 0)
		return fail(err, errlen, "%s: the %s block does not decode",
		            path, label);
	return 0;
}

static int write_pem(const char *path, const uint8_t *der, size_t n,
                     const char *label, bool secret, char *err,
                     size_t errlen)
{
	size_t plen;
	char *pem = pem_encode(der, n, label, &plen);
	if (pem == NULL)
		return fail(err, errlen, "%s: out of memory", path);
	int r = write_file(path, pem, plen, 0644, secret, err, errlen);
	wipe(pem, plen);
	free(pem);
	return r;
}

int pki_read_cert_file(const char *path, uint8_t **der, size_t *len,
                       char *err, size_t errlen)
{
	uint8_t *buf;
	size_t n;
	if (read_file(path, &buf, &n, err, errlen) != 0)
		return -1;
	if (looks_pem(buf, n) &&
	    pem_decode(buf, n, "CERTIFICATE", der, len) == 0) {
		free(buf);
		return 0;
	}
	*der = buf; /* DER, or a broken PEM for the check to refuse */
	*len = n;
	return 0;
}

/* ---- the register (issued.txt) and serial -------------------------- */

static int serial_read(const char *dir, uint64_t *next, char *err,
                       size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *buf;
	size_t n;
	if (path_in(path, dir, "serial", err, errlen) != 0 ||
	    read_file(path, &buf, &n, err, errlen) != 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull((char *)buf, &end, 10);
	bool ok = buf[0] >= '0' && buf[0] <= '9' && errno == 0 && v >= 1 &&
	          v < UINT64_MAX && (*end == '\0' || strcmp(end, "\n") == 0);
	free(buf);
	if (!ok)
		return fail(err, errlen, "%s: not a serial number (a decimal "
		            "integer >= 1 and a newline)", path);
	*next = v;
	return 0;
}

static int serial_write(const char *dir, uint64_t next, char *err,
                        size_t errlen)
{
	char path[PATH_MAX], text[32];
	if (path_in(path, dir, "serial", err, errlen) != 0)
		return -1;
	int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)next);
	return write_file(path, text, (size_t)n, 0644, false, err, errlen);
}

static const char reg_header[] =
	"# loom cluster CA register: SERIAL NODE NOT_BEFORE NOT_AFTER "
	"valid|revoked [REVOKED_AT]\n";

static int reg_line(const char *path, unsigned line, char *s,
                    struct pki_record *r, char *err, size_t errlen)
{
	char *f[7], *save = NULL;
	int n = 0;
	for (char *t = strtok_r(s, " \t\r", &save); t != NULL;
	     t = strtok_r(NULL, " \t\r", &save))
		if (n < 7)
			f[n++] = t;
		else
			n = 8;
	memset(r, 0, sizeof *r);
	char *end;
	errno = 0;
	if (n < 5 || n > 6)
		goto bad;
	r->serial = strtoull(f[0], &end, 10);
	if (f[0][0] < '0' || f[0][0] > '9' || *end != '\0' || errno != 0 ||
	    r->serial == 0 || !pki_valid_node_name(f[1]) ||
	    pki_time_parse(f[2], &r->not_before) != 0 ||
	    pki_time_parse(f[3], &r->not_after) != 0)
		goto bad;
	snprintf(r->node, sizeof r->node, "%s", f[1]);
	if (n == 5 && strcmp(f[4], "valid") == 0)
		return 0;
	if (n == 6 && strcmp(f[4], "revoked") == 0 &&
	    pki_time_parse(f[5], &r->revoked_at) == 0) {
		r->revoked = true;
		return 0;
	}
bad:
	return fail(err, errlen, "%s:%u: not a register line (SERIAL NODE "
	            "NOT_BEFORE NOT_AFTER valid|revoked [REVOKED_AT])", path,
	            line);
}

static int reg_read(const char *dir, struct pki_record **recs, size_t *nrec,
                    char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len;
	*recs = NULL;
	*nrec = 0;
	if (path_in(path, dir, "issued.txt", err, errlen) != 0 ||
	    read_file(path, &buf, &len, err, errlen) != 0)
		return -1;
	size_t cap = 0, n = 0;
	struct pki_record *v = NULL;
	unsigned line = 0;
	int rc = 0;
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return fail(err, errlen, "%s: holds a NUL byte", path);
	}
	/* Line by line (not strtok_r, which would skip empty lines and put
	 * the numbers in messages off). */
	char *p = (char *)buf;
	while (p != NULL && *p != '\0') {
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		line++;
		char *s = p + strspn(p, " \t\r");
		p = nl != NULL ? nl + 1 : NULL;
		if (*s == '\0' || *s == '#')
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct pki_record *nv = realloc(v, nc * sizeof *v);
			if (nv == NULL) {
				rc = fail(err, errlen, "%s: out of memory", path);
				break;
			}
			v = nv;
			cap = nc;
		}
		if (reg_line(path, line, s, &v[n], err, errlen) != 0) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (v[i].serial == v[n].serial) {
				rc = fail(err, errlen, "%s:%u: serial %llu "
				          "listed twice", path, line,
				          (unsigned long long)v[n].serial);
				break;
			}
		if (rc != 0)
			break;
		n++;
	}
	free(buf);
	if (rc != 0) {
		free(v);
		return -1;
	}
	*recs = v;
	*nrec = n;
	return 0;
}

static int reg_write(const char *dir, const struct pki_record *recs,
                     size_t n, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (path_in(path, dir, "issued.txt", err, errlen) != 0)
		return -1;
	size_t cap = sizeof reg_header + (n + 1) * 160, k;
	char *text = malloc(cap);
	if (text == NULL)
		return fail(err, errlen, "%s: out of memory", path);
	k = (size_t)snprintf(text, cap, "%s", reg_header);
	for (size_t i = 0; i < n; i++) {
		char nb[PKI_TIME_LEN], na[PKI_TIME_LEN], ra[PKI_TIME_LEN];
		pki_time_format(recs[i].not_before, nb);
		pki_time_format(recs[i].not_after, na);
		pki_time_format(recs[i].revoked_at, ra);
		k += (size_t)snprintf(text + k, cap - k, "%llu %s %s %s %s%s%s\n",
		                      (unsigned long long)recs[i].serial,
		                      recs[i].node, nb, na,
		                      recs[i].revoked ? "revoked" : "valid",
		                      recs[i].revoked ? " " : "",
		                      recs[i].revoked ? ra : "");
	}
	int r = write_file(path, text, k, 0644, false, err, errlen);
	free(text);
	return r;
}

/* ---- certificate generation ---------------------------------------- */

static int new_key(WC_RNG *rng, ecc_key *key, char *err, size_t errlen)
{
	int r = wc_ecc_make_key_ex(rng, P256_BYTES, key, ECC_SECP256R1);
	if (r != 0)
		return fail(err, errlen, "P-256 key generation failed "
		            "(wolfCrypt: %s)", wc_GetErrorString(r));
	return 0;
}

static int write_key(const char *path, ecc_key *key, char *err,
                     size_t errlen)
{
	uint8_t der[KEY_DER_MAX];
	int n = wc_EccKeyToDer(key, der, sizeof der);
	if (n <= 0)
		return fail(err, errlen, "%s: key encoding failed (wolfCrypt: "
		            "%s)", path, wc_GetErrorString(n));
	int r = write_pem(path, der, (size_t)n, "EC PRIVATE KEY", true, err,
	                  errlen);
	wipe(der, sizeof der);
	return r;
}

struct cert_spec {
	const char *cn;
	bool is_ca;
	uint8_t serial[9];
	size_t serial_len;
	time_t not_before, not_after;
	ecc_key *subject_key;        /* its public key goes in */
	ecc_key *issuer_key;         /* signs */
	const uint8_t *issuer_der;   /* the CA certificate; NULL: self-signed */
	size_t issuer_len;
};

/* The certificate of spec, DER, into out (CERT_DER_MAX); returns its
 * length or -1. */
static long make_cert(WC_RNG *rng, const struct cert_spec *s, uint8_t *out,
                      char *err, size_t errlen)
{
	Cert *c = malloc(sizeof *c);
	if (c == NULL)
		return fail(err, errlen, "out of memory");
	int r = wc_InitCert(c);
	const char *step = "wc_InitCert";
	if (r != 0)
		goto out;
	c->version = 2; /* v3 */
	c->sigType = CTC_SHA256wECDSA;
	c->keyType = ECC_KEY;
	snprintf(c->subject.commonName, sizeof c->subject.commonName, "%s",
	         s->cn);
	memcpy(c->serial, s->serial, s->serial_len);
	c->serialSz = (int)s->serial_len;
	c->beforeDateSz = (int)asn_time_encode(s->not_before, c->beforeDate);
	c->afterDateSz = (int)asn_time_encode(s->not_after, c->afterDate);
	c->basicConstSet = 1;
	if (s->is_ca) {
		c->isCA = 1;
		c->pathLen = 0;
		c->pathLenSet = 1;
		step = "wc_SetKeyUsage";
		if ((r = wc_SetKeyUsage(c, "keyCertSign,cRLSign")) != 0)
			goto out;
	} else {
		size_t n = strlen(s->cn);
		c->isCA = 0;
		step = "wc_SetKeyUsage";
		if ((r = wc_SetKeyUsage(c, "digitalSignature,keyAgreement")) != 0)
			goto out;
		step = "wc_SetExtKeyUsage";
		if ((r = wc_SetExtKeyUsage(c, "serverAuth,clientAuth")) != 0)
			goto out;
		/* GeneralNames: SEQUENCE { [2] IMPLICIT IA5String dNSName } */
		c->altNames[0] = TAG_SEQ;
		c->altNames[1] = (uint8_t)(n + 2);
		c->altNames[2] = 0x82;
		c->altNames[3] = (uint8_t)n;
		memcpy(c->altNames + 4, s->cn, n);
		c->altNamesSz = (int)n + 4;
	}
	step = "wc_SetSubjectKeyIdFromPublicKey_ex";
	if ((r = wc_SetSubjectKeyIdFromPublicKey_ex(c, ECC_TYPE,
	                                            s->subject_key)) != 0)
		goto out;
	if (s->issuer_der != NULL) {
		step = "wc_SetIssuerBuffer";
		if ((r = wc_SetIssuerBuffer(c, s->issuer_der,
		                            (int)s->issuer_len)) != 0)
			goto out;
		step = "wc_SetAuthKeyIdFromCert";
		if ((r = wc_SetAuthKeyIdFromCert(c, s->issuer_der,
		                                 (int)s->issuer_len)) != 0)
			goto out;
	} else {
		c->selfSigned = 1;
		step = "wc_SetAuthKeyIdFromPublicKey_ex";
		if ((r = wc_SetAuthKeyIdFromPublicKey_ex(c, ECC_TYPE,
		                                         s->subject_key)) != 0)
			goto out;
	}
	step = "wc_MakeCert_ex";
	r = wc_MakeCert_ex(c, out, CERT_DER_MAX, ECC_TYPE, s->subject_key, rng);
	if (r < 0)
		goto out;
	step = "wc_SignCert_ex";
	r = wc_SignCert_ex(c->bodySz, c->sigType, out, CERT_DER_MAX, ECC_TYPE,
	                   s->issuer_key, rng);
out:
	free(c);
	/* Success is wc_SignCert_ex's positive length; anything else is the
	 * failing step's error. */
	if (r <= 0 || strcmp(step, "wc_SignCert_ex") != 0)
		return fail(err, errlen, "certificate generation failed: %s: "
		            "%s (%d)", step, wc_GetErrorString(r), r);
	return r;
}

/* ---- the CA -------------------------------------------------------- */

static struct pki_ca *ca_new(void)
{
	struct pki_ca *ca = calloc(1, sizeof *ca);
	if (ca == NULL)
		return NULL;
	if (wc_ecc_init(&ca->pub) != 0 || wc_ecc_init(&ca->key) != 0) {
		free(ca);
		return NULL;
	}
	return ca;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (ca == NULL)
		return;
	wc_ecc_free(&ca->pub);
	wc_ecc_free(&ca->key);
	free(ca->der);
	free(ca->subject);
	free(ca->revoked);
	wipe(ca, sizeof *ca);
	free(ca);
}

const char *pki_ca_name(const struct pki_ca *ca) { return ca->name; }
time_t pki_ca_not_before(const struct pki_ca *ca) { return ca->not_before; }
time_t pki_ca_not_after(const struct pki_ca *ca) { return ca->not_after; }

const uint8_t *pki_ca_der(const struct pki_ca *ca, size_t *len)
{
	*len = ca->der_len;
	return ca->der;
}

/* Takes the CA certificate der (owned from here on). */
static int ca_set_cert(struct pki_ca *ca, uint8_t *der, size_t len,
                       const char *what, char *err, size_t errlen)
{
	struct cert_parts cp;
	struct der skid;
	DecodedCert dc;
	ca->der = der;
	ca->der_len = len;
	if (len > UINT32_MAX || cert_split(der, len, &cp) != 0)
		return fail(err, errlen, "%s: not a DER X.509 certificate", what);
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	int r = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
	if (r != 0) {
		wc_FreeDecodedCert(&dc);
		return fail(err, errlen, "%s: wolfSSL cannot parse it: %s", what,
		            wc_GetErrorString(r));
	}
	bool is_ca = dc.isCA;
	size_t cn_len = dc.subjectCN != NULL && dc.subjectCNLen > 0 ?
	                (size_t)dc.subjectCNLen : 0;
	printable(ca->name, sizeof ca->name, dc.subjectCN, cn_len);
	wc_FreeDecodedCert(&dc);
	if (!is_ca)
		return fail(err, errlen, "%s: not a CA certificate", what);
	if (!der_eq(&cp.sig_alg, alg_ecdsa_sha256, sizeof alg_ecdsa_sha256))
		return fail(err, errlen, "%s: not signed with "
		            "ecdsa-with-SHA256", what);
	word32 idx = 0;
	if (wc_EccPublicKeyDecode(cp.spki.p, &idx, &ca->pub,
	                          (word32)cp.spki.n) != 0 ||
	    ca->pub.dp == NULL || ca->pub.dp->id != ECC_SECP256R1)
		return fail(err, errlen, "%s: the key is not an ECDSA P-256 "
		            "public key", what);
	if (!der_eq(&cp.issuer, cp.subject.p, cp.subject.n) ||
	    !ecdsa_ok(&ca->pub, &cp.tbs, &cp.sig))
		return fail(err, errlen, "%s: not self-signed (its signature "
		            "does not verify with its own key)", what);
	ca->subject = malloc(cp.subject.n);
	if (ca->subject == NULL)
		return fail(err, errlen, "out of memory");
	memcpy(ca->subject, cp.subject.p, cp.subject.n);
	ca->subject_len = cp.subject.n;
	ca->skid_len = 0;
	if (cert_ext(&cp, oid_skid, sizeof oid_skid, &skid) == 0) {
		struct der id;
		if (der_take(&skid, TAG_OCTETS, &id, NULL) == 0 &&
		    id.n <= SKID_MAX) {
			memcpy(ca->skid, id.p, id.n);
			ca->skid_len = id.n;
		}
	}
	ca->not_before = cp.not_before;
	ca->not_after = cp.not_after;
	return 0;
}

/* Takes a CRL (DER): checks it is signed by ca and keeps its serials. */
static int ca_set_crl(struct pki_ca *ca, const uint8_t *der, size_t len,
                      const char *what, char *err, size_t errlen)
{
	struct der all = {der, len}, crl, tbs, tbs_tlv, alg, bits, sig, issuer;
	time_t this_update, next_update = 0;
	if (der_take(&all, TAG_SEQ, &crl, NULL) || all.n != 0 ||
	    der_take(&crl, TAG_SEQ, &tbs, &tbs_tlv) ||
	    der_take(&crl, TAG_SEQ, NULL, &alg) ||
	    der_take(&crl, TAG_BITS, &bits, NULL) || crl.n != 0 ||
	    bits.n < 2 || bits.p[0] != 0)
		return fail(err, errlen, "%s: not a DER X.509 CRL", what);
	sig.p = bits.p + 1;
	sig.n = bits.n - 1;
	if (!der_eq(&alg, alg_ecdsa_sha256, sizeof alg_ecdsa_sha256))
		return fail(err, errlen, "%s: not signed with "
		            "ecdsa-with-SHA256", what);
	if (!ecdsa_ok(&ca->pub, &tbs_tlv, &sig))
		return fail(err, errlen, "%s: its signature does not verify "
		            "with the CA's key (%s)", what, ca->name);
	if (der_peek(&tbs) == TAG_INT && der_take(&tbs, TAG_INT, NULL, NULL))
		goto bad;
	if (der_take(&tbs, TAG_SEQ, NULL, NULL) ||
	    der_take(&tbs, TAG_SEQ, NULL, &issuer) ||
	    der_take_time(&tbs, &this_update))
		goto bad;
	if (!der_eq(&issuer, ca->subject, ca->subject_len))
		return fail(err, errlen, "%s: issued by another CA than %s",
		            what, ca->name);
	if ((der_peek(&tbs) == TAG_UTC || der_peek(&tbs) == TAG_GEN) &&
	    der_take_time(&tbs, &next_update))
		goto bad;
	free(ca->revoked);
	ca->revoked = NULL;
	ca->n_revoked = 0;
	if (der_peek(&tbs) == TAG_SEQ) {
		struct der list, probe;
		size_t count = 0;
		if (der_take(&tbs, TAG_SEQ, &list, NULL))
			goto bad;
		for (probe = list; probe.n > 0; count++)
			if (der_take(&probe, TAG_SEQ, NULL, NULL))
				goto bad;
		ca->revoked = calloc(count ? count : 1, sizeof *ca->revoked);
		if (ca->revoked == NULL)
			return fail(err, errlen, "out of memory");
		while (list.n > 0) {
			struct der entry, sn;
			time_t when;
			if (der_take(&list, TAG_SEQ, &entry, NULL) ||
			    der_take(&entry, TAG_INT, &sn, NULL) ||
			    der_take_time(&entry, &when) ||
			    serial_from_int(&sn, &ca->revoked[ca->n_revoked]))
				goto bad;
			ca->n_revoked++;
		}
	}
	if (der_peek(&tbs) == TAG_CTX0 && der_take(&tbs, TAG_CTX0, NULL, NULL))
		goto bad;
	if (tbs.n != 0)
		goto bad;
	ca->crl_next_update = next_update;
	return 0;
bad:
	return fail(err, errlen, "%s: malformed CRL", what);
}

/* The CRL of recs' revoked entries, signed by ca's key. */
static int crl_build(struct pki_ca *ca, const struct pki_record *recs,
                     size_t n, time_t now, WC_RNG *rng, uint8_t **out,
                     size_t *outlen, char *err, size_t errlen)
{
	struct dbuf tbs = {0}, list = {0}, exts = {0}, ext = {0}, val = {0},
	            crl = {0}, tmp = {0};
	int rc = -1;
	uint8_t sig[128];
	word32 siglen = sizeof sig;

	db_uint(&tbs, 1); /* v2 */
	db_put(&tbs, alg_ecdsa_sha256, sizeof alg_ecdsa_sha256);
	db_put(&tbs, ca->subject, ca->subject_len);
	db_time(&tbs, now);
	db_time(&tbs, ca->not_after);
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].revoked)
			continue;
		struct dbuf entry = {0};
		db_uint(&entry, recs[i].serial);
		db_time(&entry, recs[i].revoked_at);
		db_wrap(&list, TAG_SEQ, &entry);
	}
	if (list.n > 0 || list.oom) /* absent when empty (RFC 5280 5.1.2.6) */
		db_wrap(&tbs, TAG_SEQ, &list);
	free(list.p);
	if (ca->skid_len > 0) { /* authorityKeyIdentifier { [0] keyid } */
		db_tlv(&ext, TAG_OID, oid_akid, sizeof oid_akid);
		db_tlv(&tmp, 0x80, ca->skid, ca->skid_len);
		db_wrap(&val, TAG_SEQ, &tmp);
		db_wrap(&ext, TAG_OCTETS, &val);
		db_wrap(&exts, TAG_SEQ, &ext);
	}
	db_tlv(&ext, TAG_OID, oid_crl_number, sizeof oid_crl_number);
	db_uint(&val, now > 0 ? (uint64_t)now : 0);
	db_wrap(&ext, TAG_OCTETS, &val);
	db_wrap(&exts, TAG_SEQ, &ext);
	db_wrap(&tmp, TAG_SEQ, &exts);
	db_wrap(&tbs, TAG_CTX0, &tmp);
	db_wrap(&crl, TAG_SEQ, &tbs);
	if (crl.oom || crl.n > UINT32_MAX) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	int r = wc_SignatureGenerate(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC,
	                             crl.p, (word32)crl.n, sig, &siglen,
	                             &ca->key, sizeof ca->key, rng);
	if (r != 0) {
		fail(err, errlen, "signing the CRL failed (wolfCrypt: %s)",
		     wc_GetErrorString(r));
		goto out;
	}
	db_put(&crl, alg_ecdsa_sha256, sizeof alg_ecdsa_sha256);
	db_put(&tmp, "", 1); /* no unused bits */
	db_put(&tmp, sig, siglen);
	db_wrap(&crl, TAG_BITS, &tmp);
	db_wrap(&tmp, TAG_SEQ, &crl);
	if (tmp.oom) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	*out = tmp.p;
	*outlen = tmp.n;
	tmp.p = NULL;
	rc = 0;
out:
	free(tbs.p);
	free(exts.p);
	free(ext.p);
	free(val.p);
	free(crl.p);
	free(tmp.p);
	return rc;
}

/* Writes DIR/crl.pem from recs and makes it ca's CRL. */
static int crl_write(struct pki_ca *ca, const struct pki_record *recs,
                     size_t n, time_t now, WC_RNG *rng, char *err,
                     size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *der;
	size_t len;
	if (path_in(path, ca->dir, "crl.pem", err, errlen) != 0 ||
	    crl_build(ca, recs, n, now, rng, &der, &len, err, errlen) != 0)
		return -1;
	int r = write_pem(path, der, len, "X509 CRL", false, err, errlen);
	if (r == 0)
		r = ca_set_crl(ca, der, len, path, err, errlen);
	free(der);
	return r;
}

static int ca_load_key(struct pki_ca *ca, const char *path, char *err,
                       size_t errlen)
{
	uint8_t *der;
	size_t len;
	if (read_der_file(path, "EC PRIVATE KEY", &der, &len, err, errlen))
		return -1;
	word32 idx = 0;
	int r = len <= UINT32_MAX ?
	        wc_EccPrivateKeyDecode(der, &idx, &ca->key, (word32)len) : -1;
	wipe(der, len);
	free(der);
	if (r != 0 || ca->key.dp == NULL || ca->key.dp->id != ECC_SECP256R1)
		return fail(err, errlen, "%s: not an ECDSA P-256 private key "
		            "(PEM \"EC PRIVATE KEY\")", path);
	uint8_t a[2 * P256_BYTES + 1], b[2 * P256_BYTES + 1];
	word32 alen = sizeof a, blen = sizeof b;
	if (wc_ecc_export_x963(&ca->key, a, &alen) != 0 ||
	    wc_ecc_export_x963(&ca->pub, b, &blen) != 0 || alen != blen ||
	    memcmp(a, b, alen) != 0)
		return fail(err, errlen, "%s does not match the CA "
		            "certificate's public key", path);
	ca->have_key = true;
	return 0;
}

static int ca_open_files(struct pki_ca *ca, const char *cert_path,
                         const char *crl_path, char *err, size_t errlen)
{
	uint8_t *der, *crl;
	size_t len, crl_len;
	if (read_der_file(cert_path, "CERTIFICATE", &der, &len, err, errlen) ||
	    ca_set_cert(ca, der, len, cert_path, err, errlen))
		return -1;
	if (read_der_file(crl_path, "X509 CRL", &crl, &crl_len, err, errlen))
		return -1;
	int r = ca_set_crl(ca, crl, crl_len, crl_path, err, errlen);
	free(crl);
	return r;
}

int pki_ca_open(const char *dir, bool with_key, struct pki_ca **out,
                char *err, size_t errlen)
{
	char cert[PATH_MAX], crl[PATH_MAX], key[PATH_MAX];
	*out = NULL;
	if (path_in(cert, dir, "ca.crt.pem", err, errlen) ||
	    path_in(crl, dir, "crl.pem", err, errlen) ||
	    path_in(key, dir, "ca.key.pem", err, errlen))
		return -1;
	struct pki_ca *ca = ca_new();
	if (ca == NULL)
		return fail(err, errlen, "out of memory");
	snprintf(ca->dir, sizeof ca->dir, "%s", dir);
	if (ca_open_files(ca, cert, crl, err, errlen) != 0 ||
	    (with_key && ca_load_key(ca, key, err, errlen) != 0)) {
		pki_ca_free(ca);
		return -1;
	}
	*out = ca;
	return 0;
}

int pki_ca_load(const char *ca_cert_file, const char *crl_file,
                struct pki_ca **out, char *err, size_t errlen)
{
	*out = NULL;
	if (ca_cert_file == NULL || crl_file == NULL)
		return fail(err, errlen, "both the CA certificate and the CRL "
		            "are needed");
	struct pki_ca *ca = ca_new();
	if (ca == NULL)
		return fail(err, errlen, "out of memory");
	if (ca_open_files(ca, ca_cert_file, crl_file, err, errlen) != 0) {
		pki_ca_free(ca);
		return -1;
	}
	*out = ca;
	return 0;
}

static int check_validity(time_t not_before, time_t not_after, char *err,
                          size_t errlen)
{
	if (!time_in_range(not_before) || !time_in_range(not_after))
		return fail(err, errlen, "validity dates must fall in the "
		            "years 1950..9999");
	if (not_after <= not_before)
		return fail(err, errlen, "notAfter must come after notBefore");
	return 0;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int pki_ca_init(const char *dir, const char *cluster, time_t not_before,
                time_t not_after, bool force, char *err, size_t errlen)
{
	char key_path[PATH_MAX], cert_path[PATH_MAX], cn[CTC_NAME_SIZE];
	if (!pki_valid_cluster_name(cluster))
		return fail(err, errlen, "'%s' is not a cluster name "
		            "([A-Za-z0-9_.-]{1,%d})", cluster ? cluster : "",
		            PKI_CLUSTER_MAX);
	if (check_validity(not_before, not_after, err, errlen) != 0 ||
	    path_in(key_path, dir, "ca.key.pem", err, errlen) != 0 ||
	    path_in(cert_path, dir, "ca.crt.pem", err, errlen) != 0 ||
	    mkdir_p(dir, 0700, err, errlen) != 0)
		return -1;
	snprintf(cn, sizeof cn, "%s%s", PKI_CA_CN_PREFIX, cluster);
	int lock = lock_dir(dir, err, errlen);
	if (lock < 0)
		return -1;
	int rc = -1;
	bool rng_ok = false;
	WC_RNG rng;
	ecc_key key;
	struct pki_ca *ca = NULL;
	uint8_t *der = malloc(CERT_DER_MAX);
	if (wc_ecc_init(&key) != 0 || der == NULL) {
		fail(err, errlen, "out of memory");
		free(der);
		close(lock);
		return -1;
	}
	if (!force && (file_exists(key_path) || file_exists(cert_path))) {
		fail(err, errlen, "%s already holds a CA (%s): refusing to "
		     "replace it (--force does, and every certificate it "
		     "issued then stops verifying)", dir,
		     file_exists(cert_path) ? cert_path : key_path);
		goto out;
	}
	int r = wc_InitRng(&rng);
	if (r != 0) {
		fail(err, errlen, "wc_InitRng: %s", wc_GetErrorString(r));
		goto out;
	}
	rng_ok = true;
	struct cert_spec spec = {
		.cn = cn, .is_ca = true, .serial_len = 8,
		.not_before = not_before, .not_after = not_after,
		.subject_key = &key, .issuer_key = &key,
	};
	/* A random serial in [2^62, 2^63): positive in 8 octets, unique per
	 * CA generation, and above every counter serial of its nodes. */
	if ((r = wc_RNG_GenerateBlock(&rng, spec.serial, 8)) != 0) {
		fail(err, errlen, "wc_RNG_GenerateBlock: %s",
		     wc_GetErrorString(r));
		goto out;
	}
	spec.serial[0] = (uint8_t)((spec.serial[0] & 0x3f) | 0x40);
	if (new_key(&rng, &key, err, errlen) != 0)
		goto out;
	long len = make_cert(&rng, &spec, der, err, errlen);
	if (len < 0 || write_key(key_path, &key, err, errlen) != 0 ||
	    write_pem(cert_path, der, (size_t)len, "CERTIFICATE", false, err,
	              errlen) != 0 ||
	    serial_write(dir, 1, err, errlen) != 0 ||
	    reg_write(dir, NULL, 0, err, errlen) != 0)
		goto out;
	/* The empty CRL, signed by the CA as written to disk. */
	ca = ca_new();
	if (ca == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	snprintf(ca->dir, sizeof ca->dir, "%s", dir);
	uint8_t *copy = malloc((size_t)len);
	if (copy == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	memcpy(copy, der, (size_t)len);
	if (ca_set_cert(ca, copy, (size_t)len, cert_path, err, errlen) != 0 ||
	    ca_load_key(ca, key_path, err, errlen) != 0 ||
	    crl_write(ca, NULL, 0, time(NULL), &rng, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	pki_ca_free(ca);
	if (rng_ok)
		wc_FreeRng(&rng);
	wc_ecc_free(&key);
	free(der);
	close(lock);
	return rc;
}

/* ---- issuing, revoking, listing ------------------------------------ */

int pki_cert_issue(struct pki_ca *ca, const char *node, time_t not_before,
                   time_t not_after, const char *out_dir, bool force,
                   struct pki_record *rec, char *err, size_t errlen)
{
	char dir[PATH_MAX], key_path[PATH_MAX], crt_path[PATH_MAX],
	     ca_copy[PATH_MAX], crl_copy[PATH_MAX], ca_src[PATH_MAX],
	     crl_src[PATH_MAX], file[PKI_NAME_MAX + 16];
	char a[PKI_TIME_LEN], b[PKI_TIME_LEN];
	if (ca->dir[0] == '\0' || !ca->have_key)
		return fail(err, errlen, "the CA was not opened from its "
		            "directory with its key: cannot issue");
	if (!pki_valid_node_name(node))
		return fail(err, errlen, "'%s' is not a node name "
		            "([A-Za-z0-9_.-]{1,%d}, not '.', '..' or 'ca')",
		            node ? node : "", PKI_NAME_MAX);
	if (check_validity(not_before, not_after, err, errlen) != 0)
		return -1;
	if (not_before < ca->not_before || not_after > ca->not_after) {
		pki_time_format(ca->not_before, a);
		pki_time_format(ca->not_after, b);
		return fail(err, errlen, "the certificate would be valid "
		            "outside the CA's validity (%s to %s)", a, b);
	}
	int n = out_dir != NULL ?
	        snprintf(dir, sizeof dir, "%s", out_dir) :
	        snprintf(dir, sizeof dir, "%s/nodes/%s", ca->dir, node);
	if (n < 0 || n >= (int)sizeof dir)
		return fail(err, errlen, "output directory path too long");
	snprintf(file, sizeof file, "%s.key.pem", node);
	if (path_in(key_path, dir, file, err, errlen))
		return -1;
	snprintf(file, sizeof file, "%s.crt.pem", node);
	if (path_in(crt_path, dir, file, err, errlen) ||
	    path_in(ca_copy, dir, "ca.crt.pem", err, errlen) ||
	    path_in(crl_copy, dir, "crl.pem", err, errlen) ||
	    path_in(ca_src, ca->dir, "ca.crt.pem", err, errlen) ||
	    path_in(crl_src, ca->dir, "crl.pem", err, errlen))
		return -1;

	int lock = lock_dir(ca->dir, err, errlen);
	if (lock < 0)
		return -1;
	int rc = -1;
	bool rng_ok = false, key_ok = false;
	WC_RNG rng;
	ecc_key key;
	uint64_t serial = 0;
	struct pki_record *recs = NULL, *grown;
	size_t nrec = 0;
	uint8_t *der = malloc(CERT_DER_MAX);
	if (der == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	if (serial_read(ca->dir, &serial, err, errlen) != 0 ||
	    reg_read(ca->dir, &recs, &nrec, err, errlen) != 0)
		goto out;
	time_t now = time(NULL);
	for (size_t i = 0; i < nrec && !force; i++) {
		if (strcmp(recs[i].node, node) != 0 || recs[i].revoked ||
		    recs[i].not_after < now)
			continue;
		pki_time_format(recs[i].not_after, a);
		fail(err, errlen, "node '%s' already holds certificate serial "
		     "%llu (valid until %s): revoke it first (loomctl cert "
		     "revoke %llu) or pass --force", node,
		     (unsigned long long)recs[i].serial, a,
		     (unsigned long long)recs[i].serial);
		goto out;
	}
	for (size_t i = 0; i < nrec; i++)
		if (recs[i].serial >= serial) {
			fail(err, errlen, "%s/serial (%llu) is not above the "
			     "register's serial %llu", ca->dir,
			     (unsigned long long)serial,
			     (unsigned long long)recs[i].serial);
			goto out;
		}
	/* The counter moves first: a crash later leaves a gap, never a
	 * serial used twice. */
	if (serial_write(ca->dir, serial + 1, err, errlen) != 0)
		goto out;
	int r = wc_InitRng(&rng);
	if (r != 0) {
		fail(err, errlen, "wc_InitRng: %s", wc_GetErrorString(r));
		goto out;
	}
	rng_ok = true;
	if (wc_ecc_init(&key) != 0) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	key_ok = true;
	if (new_key(&rng, &key, err, errlen) != 0)
		goto out;
	struct cert_spec spec = {
		.cn = node, .is_ca = false,
		.not_before = not_before, .not_after = not_after,
		.subject_key = &key, .issuer_key = &ca->key,
		.issuer_der = ca->der, .issuer_len = ca->der_len,
	};
	spec.serial_len = u64_int_bytes(serial, spec.serial);
	long len = make_cert(&rng, &spec, der, err, errlen);
	if (len < 0 || mkdir_p(dir, 0700, err, errlen) != 0 ||
	    write_key(key_path, &key, err, errlen) != 0 ||
	    write_pem(crt_path, der, (size_t)len, "CERTIFICATE", false, err,
	              errlen) != 0 ||
	    copy_file(ca_src, ca_copy, err, errlen) != 0 ||
	    copy_file(crl_src, crl_copy, err, errlen) != 0)
		goto out;
	grown = realloc(recs, (nrec + 1) * sizeof *recs);
	if (grown == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	recs = grown;
	memset(&recs[nrec], 0, sizeof recs[nrec]);
	recs[nrec].serial = serial;
	snprintf(recs[nrec].node, sizeof recs[nrec].node, "%s", node);
	recs[nrec].not_before = not_before;
	recs[nrec].not_after = not_after;
	if (reg_write(ca->dir, recs, nrec + 1, err, errlen) != 0)
		goto out;
	if (rec != NULL)
		*rec = recs[nrec];
	rc = 0;
out:
	if (key_ok)
		wc_ecc_free(&key);
	if (rng_ok)
		wc_FreeRng(&rng);
	free(der);
	free(recs);
	close(lock);
	return rc;
}

int pki_cert_revoke(struct pki_ca *ca, uint64_t serial, time_t now,
                    char *err, size_t errlen)
{
	if (ca->dir[0] == '\0' || !ca->have_key)
		return fail(err, errlen, "the CA was not opened from its "
		            "directory with its key: cannot revoke");
	if (!time_in_range(now))
		return fail(err, errlen, "the revocation time must fall in "
		            "the years 1950..9999");
	int lock = lock_dir(ca->dir, err, errlen);
	if (lock < 0)
		return -1;
	struct pki_record *recs = NULL;
	size_t nrec = 0, i;
	int rc = -1;
	WC_RNG rng;
	if (reg_read(ca->dir, &recs, &nrec, err, errlen) != 0)
		goto out;
	for (i = 0; i < nrec && recs[i].serial != serial; i++)
		;
	if (i == nrec) {
		fail(err, errlen, "serial %llu is not in %s/issued.txt",
		     (unsigned long long)serial, ca->dir);
		goto out;
	}
	if (recs[i].revoked) {
		rc = 1;
		goto out;
	}
	recs[i].revoked = true;
	recs[i].revoked_at = now;
	int r = wc_InitRng(&rng);
	if (r != 0) {
		fail(err, errlen, "wc_InitRng: %s", wc_GetErrorString(r));
		goto out;
	}
	/* The CRL first: if the register's update is lost, a second revoke
	 * finishes the job; the other way round it would say "already". */
	r = crl_write(ca, recs, nrec, now, &rng, err, errlen);
	wc_FreeRng(&rng);
	if (r != 0 || reg_write(ca->dir, recs, nrec, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	free(recs);
	close(lock);
	return rc;
}

int pki_cert_list(const struct pki_ca *ca, struct pki_record **recs,
                  size_t *n, char *err, size_t errlen)
{
	*recs = NULL;
	*n = 0;
	if (ca->dir[0] == '\0')
		return fail(err, errlen, "the CA was not opened from its "
		            "directory: no register");
	return reg_read(ca->dir, recs, n, err, errlen);
}

/* ---- the peer check ------------------------------------------------ */

int pki_verify_peer(const struct pki_ca *ca, const uint8_t *der, size_t len,
                    const char *expect_name, time_t now, char *why,
                    size_t whylen)
{
	struct cert_parts cp;
	struct serial_bytes sn;
	char a[PKI_TIME_LEN], b[PKI_TIME_LEN], sntxt[48];
	char cn[CTC_NAME_SIZE + 1], issuer[128];
	DecodedCert dc;
	int res;

	if (ca == NULL)
		return vres(why, whylen, PKI_VERIFY_ERROR, "no CA loaded");
	if (der == NULL || len == 0 || len > FILE_MAX ||
	    cert_split(der, len, &cp) != 0 ||
	    serial_from_int(&cp.serial, &sn) != 0)
		return vres(why, whylen, PKI_VERIFY_MALFORMED,
		            "not a DER X.509 certificate");
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	int r = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
	if (r != 0) {
		res = vres(why, whylen, PKI_VERIFY_MALFORMED, "wolfSSL cannot "
		           "parse the certificate: %s", wc_GetErrorString(r));
		goto out;
	}
	serial_text(&sn, sntxt, sizeof sntxt);
	printable(cn, sizeof cn, dc.subjectCN,
	          dc.subjectCN != NULL && dc.subjectCNLen > 0 ?
	          (size_t)dc.subjectCNLen : 0);

	/* The chain: one link, this CA's key over the TBSCertificate. */
	if (!der_eq(&cp.sig_alg, alg_ecdsa_sha256, sizeof alg_ecdsa_sha256)) {
		res = vres(why, whylen, PKI_VERIFY_BAD_CHAIN, "signed with "
		           "another algorithm than ecdsa-with-SHA256");
		goto out;
	}
	if (!der_eq(&cp.issuer, ca->subject, ca->subject_len)) {
		printable(issuer, sizeof issuer, dc.issuer,
		          strnlen(dc.issuer, sizeof dc.issuer));
		res = vres(why, whylen, PKI_VERIFY_BAD_CHAIN, "issued by "
		           "'%s', not by the cluster CA '%s'", issuer, ca->name);
		goto out;
	}
	if (!ecdsa_ok(&ca->pub, &cp.tbs, &cp.sig)) {
		res = vres(why, whylen, PKI_VERIFY_BAD_CHAIN, "the signature "
		           "does not verify with the key of '%s'", ca->name);
		goto out;
	}
	if (dc.isCA) {
		res = vres(why, whylen, PKI_VERIFY_BAD_CHAIN, "'%s' is a CA "
		           "certificate, not a node certificate", cn);
		goto out;
	}

	/* Dates: the CA's, then the certificate's. */
	pki_time_format(now, b);
	if (now < ca->not_before || now > ca->not_after) {
		bool early = now < ca->not_before;
		pki_time_format(early ? ca->not_before : ca->not_after, a);
		res = vres(why, whylen, early ? PKI_VERIFY_NOT_YET_VALID :
		           PKI_VERIFY_EXPIRED, "the cluster CA %s %s (now %s)",
		           early ? "is valid from" : "expired at", a, b);
		goto out;
	}
	if (now < cp.not_before) {
		pki_time_format(cp.not_before, a);
		res = vres(why, whylen, PKI_VERIFY_NOT_YET_VALID, "certificate "
		           "serial %s is valid from %s (now %s)", sntxt, a, b);
		goto out;
	}
	if (now > cp.not_after) {
		pki_time_format(cp.not_after, a);
		res = vres(why, whylen, PKI_VERIFY_EXPIRED, "certificate "
		           "serial %s expired at %s (now %s)", sntxt, a, b);
		goto out;
	}

	/* Revocation. */
	if (ca->crl_next_update != 0 && now > ca->crl_next_update) {
		pki_time_format(ca->crl_next_update, a);
		res = vres(why, whylen, PKI_VERIFY_REVOKED, "revocation status "
		           "unknown: the CRL's nextUpdate %s has passed", a);
		goto out;
	}
	for (size_t i = 0; i < ca->n_revoked; i++)
		if (ca->revoked[i].len == sn.len &&
		    memcmp(ca->revoked[i].b, sn.b, sn.len) == 0) {
			res = vres(why, whylen, PKI_VERIFY_REVOKED, "certificate "
			           "serial %s ('%s') is revoked (on the CRL)",
			           sntxt, cn);
			goto out;
		}

	/* The name: CN and a dNSName, both exactly expect_name. */
	if (expect_name != NULL) {
		size_t want = strlen(expect_name);
		bool cn_ok = dc.subjectCN != NULL &&
		             (size_t)dc.subjectCNLen == want &&
		             memcmp(dc.subjectCN, expect_name, want) == 0;
		bool san_ok = false;
		for (DNS_entry *e = dc.altNames; e != NULL && !san_ok; e = e->next)
			san_ok = e->type == ASN_DNS_TYPE && e->name != NULL &&
			         (size_t)e->len == want &&
			         memcmp(e->name, expect_name, want) == 0;
		if (!cn_ok || !san_ok) {
			res = vres(why, whylen, PKI_VERIFY_WRONG_NAME,
			           "certificate serial %s names '%s', not '%s'%s",
			           sntxt, cn, expect_name, cn_ok ?
			           " (no such DNS subjectAltName)" : "");
			goto out;
		}
	}
	pki_time_format(cp.not_after, a);
	res = vres(why, whylen, PKI_VERIFY_OK, "node '%s', serial %s, issued "
	           "by '%s', valid until %s", cn, sntxt, ca->name, a);
out:
	wc_FreeDecodedCert(&dc);
	return res;
}

/*
 * auth.c - HTTP Basic authentication with a per-lcore verdict cache (see
 * auth.h for the contract, the cache and the timing choices).
 */
#include "dataplane/http/auth.h"

#include "common/base64.h"
#include "common/siphash.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

/* wolfSSL's build options first: its other headers depend on them. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha256.h>

_Static_assert(sizeof(struct auth_ctx) <= AUTH_CTX_SIZE_MAX,
               "auth.h documents the context's size");
_Static_assert(AUTH_TOKEN_MAX <= UINT16_MAX, "entry length is 16 bits");

/* The unknown-user path hashes with this salt; its result is compared with
 * a zero verifier and thrown away. */
static const uint8_t dummy_salt[16] = {
	'l', 'o', 'o', 'm', '-', 'n', 'o', '-', 's', 'u', 'c', 'h', '-', 'u',
	's', 'r',
};

/* ------------------------------------------------------------------------
 * Helpers
 */

/* Constant-time equality: the loop runs over all n bytes whatever they
 * hold; the volatile accumulator keeps the compiler from ending it at the
 * first difference. */
static bool ct_equal(const uint8_t *x, const uint8_t *y, size_t n)
{
	volatile uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* memset that the compiler may not drop as a dead store. */
static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

static bool is_name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}


/* ------------------------------------------------------------------------
 * API
 */

int auth_hash_password(const char *password, size_t len, const uint8_t *salt,
                       size_t salt_len, uint32_t iterations,
                       uint8_t out[AUTH_HASH_LEN])
{
	if (iterations == 0 || iterations > INT_MAX || len > INT_MAX ||
	    salt_len > INT_MAX || (password == NULL && len > 0) ||
	    (salt == NULL && salt_len > 0))
		return -1;
	/* wolfCrypt wants a pointer even for an empty password. */
	static const char empty[1] = "";
	const byte *pw = (const byte *)(len > 0 ? password : empty);
	int rc = wc_PBKDF2(out, pw, (int)len, salt, (int)salt_len,
	                   (int)iterations, AUTH_HASH_LEN, WC_SHA256);
	return rc == 0 ? 0 : -1;
}

void auth_init(struct auth_ctx *a, enum loom_auth_mode mode,
               const struct loom_user *users, uint16_t n_users)
{
	wipe(a, sizeof *a);
	a->mode = mode;
	if (n_users > LOOM_MAX_USERS)
		n_users = LOOM_MAX_USERS;
	for (uint16_t i = 0; i < n_users; i++) {
		struct loom_user *u = &a->users[a->n_users];
		size_t nlen = strnlen(users[i].name, sizeof u->name - 1);
		/* Names are compared as zero-padded 64-byte blocks. */
		memcpy(u->name, users[i].name, nlen);
		u->iterations = users[i].iterations;
		u->salt_len = users[i].salt_len <= sizeof u->salt
		                      ? users[i].salt_len
		                      : (uint8_t)sizeof u->salt;
		memcpy(u->salt, users[i].salt, u->salt_len);
		memcpy(u->hash, users[i].hash, sizeof u->hash);
		if (nlen == 0)
			continue; /* never matches: a name is never empty */
		if (u->iterations > a->dummy_iterations)
			a->dummy_iterations = u->iterations;
		a->n_users++;
	}
	/* No user at all: the dummy still costs what the config's least
	 * iteration count would. */
	if (a->dummy_iterations == 0)
		a->dummy_iterations = 1000;
	/* Without entropy the fingerprint is merely predictable: it only
	 * picks which entry gets the full constant-time comparison. */
	if (getrandom(a->fp_key, sizeof a->fp_key, 0) !=
	    (ssize_t)sizeof a->fp_key) {
		a->fp_key[0] = 0x6c6f6f6d2d617574ULL;
		a->fp_key[1] = 0x682d6b65792d3031ULL;
	}
}

static enum auth_result bad(struct auth_ctx *a)
{
	a->failures++;
	return AUTH_BAD;
}

static struct auth_cache_entry *cache_find(struct auth_ctx *a, uint64_t fp,
                                           const uint8_t *tok, size_t len)
{
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++) {
		struct auth_cache_entry *e = &a->cache[i];
		if (e->len == len && e->fp == fp && ct_equal(e->token, tok, len))
			return e;
	}
	return NULL;
}

/* Clock: a referenced entry loses its bit and survives this sweep; the
 * first free or unreferenced one is replaced. Ends within two turns. */
static void cache_insert(struct auth_ctx *a, uint64_t fp, const uint8_t *tok,
                         size_t len, enum auth_result r)
{
	struct auth_cache_entry *e;
	for (;;) {
		e = &a->cache[a->hand];
		a->hand = (a->hand + 1) % AUTH_CACHE_SLOTS;
		if (e->len == 0 || !e->ref)
			break;
		e->ref = 0;
	}
	wipe(e->token, e->len);
	memcpy(e->token, tok, len);
	e->len = (uint16_t)len;
	e->fp = fp;
	e->result = (uint8_t)r;
	e->ref = r == AUTH_OK;
}

static bool ascii_ieq(const char *s, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return true;
}

/* The index of the user named name[0..len), or -1: every configured user
 * is compared, each over its whole zero-padded name block. */
static int find_user(const struct auth_ctx *a, const uint8_t *name, size_t len)
{
	uint8_t want[sizeof a->users[0].name];
	memset(want, 0, sizeof want);
	memcpy(want, name, len); /* len < sizeof want: checked by the caller */
	int found = -1;
	for (int i = 0; i < a->n_users; i++) {
		int m = -(int)ct_equal(want, (const uint8_t *)a->users[i].name,
		                       sizeof want);
		found = (found & ~m) | (i & m);
	}
	return found;
}

/* The token of a "Basic" 1*SP token68 value (RFC 7617, 7235: no tab,
 * nothing after), or NULL. */
static const uint8_t *basic_token(struct http_span v, size_t *tlen)
{
	const char *s = v.p;
	size_t n = v.len;
	if (s == NULL || n < 6 || !ascii_ieq(s, "basic", 5) || s[5] != ' ')
		return NULL;
	size_t i = 6;
	while (i < n && s[i] == ' ')
		i++;
	*tlen = n - i;
	if (*tlen == 0 || *tlen > AUTH_TOKEN_MAX)
		return NULL;
	return (const uint8_t *)s + i;
}

/*
 * Decode tok and split it into user and password; false when no
 * configured user could ever match (refused without hashing). dec must
 * hold BASE64_DECODED_MAX(AUTH_TOKEN_MAX) bytes; the caller wipes it.
 */
static bool token_split(const struct auth_ctx *a, const uint8_t *tok,
                        size_t tlen, uint8_t *dec, size_t *dl_out,
                        size_t *ulen_out)
{
	long dl = base64_decode((const char *)tok, tlen, dec,
	                        BASE64_DECODED_MAX(AUTH_TOKEN_MAX));
	if (dl < 0)
		return false;
	const uint8_t *colon = memchr(dec, ':', (size_t)dl);
	size_t ulen = colon ? (size_t)(colon - dec) : 0;
	bool possible = colon != NULL && ulen > 0 &&
	                ulen < sizeof a->users[0].name;
	for (size_t k = 0; possible && k < ulen; k++)
		possible = is_name_char(dec[k]);
	/* RFC 7617 section 2: no control characters in the password either.
	 * This also matters to PBKDF2: HMAC pads its key with zeros, so
	 * "pw" and "pw\0" would otherwise both be right. */
	for (size_t k = ulen + 1; possible && k < (size_t)dl; k++)
		possible = dec[k] >= 0x20 && dec[k] != 0x7f;
	*dl_out = (size_t)dl;
	*ulen_out = ulen;
	return possible;
}

/* The slow check of a well-formed credential. Reads only what auth_init
 * wrote, so it may run on another thread (deferred mode). */
static bool verify(const struct auth_ctx *a, const uint8_t *tok, size_t tlen)
{
	uint8_t dec[BASE64_DECODED_MAX(AUTH_TOKEN_MAX)];
	size_t dl, ulen;
	bool ok = false;
	if (token_split(a, tok, tlen, dec, &dl, &ulen)) {
		int u = find_user(a, dec, ulen);
		const uint8_t *salt = dummy_salt, *want;
		size_t salt_len = sizeof dummy_salt;
		uint32_t iterations = a->dummy_iterations;
		static const uint8_t zero_hash[AUTH_HASH_LEN];
		want = zero_hash;
		if (u >= 0) {
			salt = a->users[u].salt;
			salt_len = a->users[u].salt_len;
			iterations = a->users[u].iterations;
			want = a->users[u].hash;
		}
		uint8_t got[AUTH_HASH_LEN];
		const char *pw = (const char *)dec + ulen + 1;
		int rc = auth_hash_password(pw, dl - ulen - 1, salt, salt_len,
		                            iterations, got);
		bool match = ct_equal(got, want, AUTH_HASH_LEN);
		ok = rc == 0 && u >= 0 && match;
		wipe(got, sizeof got);
	}
	wipe(dec, sizeof dec);
	return ok;
}

static bool is_outstanding(const struct auth_ctx *a, uint64_t fp)
{
	for (unsigned i = 0; i < a->n_outstanding; i++)
		if (a->outstanding[i] == fp)
			return true;
	return false;
}

static void clear_outstanding(struct auth_ctx *a, uint64_t fp)
{
	for (unsigned i = 0; i < a->n_outstanding; i++) {
		if (a->outstanding[i] == fp) {
			a->outstanding[i] = a->outstanding[--a->n_outstanding];
			return;
		}
	}
}

enum auth_result auth_check(struct auth_ctx *a, struct http_span authorization)
{
	a->checks++;
	if (a->mode == LOOM_AUTH_NONE)
		return AUTH_OK;
	if (authorization.p == NULL || authorization.len == 0)
		return AUTH_MISSING;
	size_t tlen;
	const uint8_t *tok = basic_token(authorization, &tlen);
	if (tok == NULL)
		return bad(a);

	uint64_t fp = siphash24(a->fp_key, tok, tlen);
	struct auth_cache_entry *e = cache_find(a, fp, tok, tlen);
	if (e != NULL) {
		a->cache_hits++;
		e->ref = 1;
		return e->result == AUTH_OK ? AUTH_OK : bad(a);
	}

	uint8_t dec[BASE64_DECODED_MAX(AUTH_TOKEN_MAX)];
	size_t dl, ulen;
	bool possible = token_split(a, tok, tlen, dec, &dl, &ulen);
	wipe(dec, sizeof dec);
	if (!possible)
		return bad(a);
	if (a->defer)
		return AUTH_PENDING;

	bool ok = verify(a, tok, tlen);
	a->slow_hashes++;
	cache_insert(a, fp, tok, tlen, ok ? AUTH_OK : AUTH_BAD);
	return ok ? AUTH_OK : bad(a);
}

void auth_set_deferred(struct auth_ctx *a, bool on)
{
	a->defer = on;
}

bool auth_job_take(struct auth_ctx *a, struct http_span authorization,
                   struct auth_job *j)
{
	size_t tlen;
	const uint8_t *tok = basic_token(authorization, &tlen);
	if (tok == NULL || a->n_outstanding == AUTH_OUTSTANDING_MAX)
		return false;
	uint64_t fp = siphash24(a->fp_key, tok, tlen);
	if (is_outstanding(a, fp))
		return false;
	a->outstanding[a->n_outstanding++] = fp;
	a->deferred++;
	j->ctx = a;
	j->fp = fp;
	j->len = (uint16_t)tlen;
	j->result = AUTH_BAD;
	j->hashed = 0;
	memcpy(j->token, tok, tlen);
	return true;
}

void auth_job_cancel(struct auth_ctx *a, const struct auth_job *j)
{
	clear_outstanding(a, j->fp);
}

void auth_job_verify(struct auth_job *j)
{
	j->result = verify(j->ctx, j->token, j->len) ? AUTH_OK : AUTH_BAD;
	j->hashed = 1;
}

void auth_job_done(struct auth_ctx *a, const struct auth_job *j)
{
	clear_outstanding(a, j->fp);
	if (j->hashed)
		a->slow_hashes++;
	if (cache_find(a, j->fp, j->token, j->len) == NULL)
		cache_insert(a, j->fp, j->token, j->len,
		             (enum auth_result)j->result);
}

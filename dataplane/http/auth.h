/*
 * auth.h - HTTP Basic authentication of REST requests (RFC 7617) against
 * the [users] verifiers of the config (common/config.h, docs/CONFIG.md).
 *
 * One struct auth_ctx per io lcore, embedded by the caller (a plain struct,
 * about 23 KiB: AUTH_CTX_SIZE_MAX bounds it). auth_init() fills it; after
 * that nothing allocates and nothing is shared, so no locks. Pure C and
 * wolfCrypt (PBKDF2-HMAC-SHA256); no DPDK.
 *
 * auth_check(ctx, value of the Authorization header) answers:
 *   mode none                                   AUTH_OK (always)
 *   header absent (p NULL or len 0)             AUTH_MISSING (-> 401)
 *   "Basic" (any case) 1*SP token, the token strict base64 of
 *   "user:password" (the first ':' splits; the password may hold ':'),
 *   a configured user and the right password    AUTH_OK
 *   anything else                               AUTH_BAD (-> 401)
 * "Anything else": another scheme, no SP, a tab, an empty or over-long
 * (AUTH_TOKEN_MAX) token, bad base64 or padding, no ':', an empty user,
 * a control character in the password, an unknown user, a wrong password.
 *
 * Cost. The password check is PBKDF2 with the user's iterations (200000
 * from `loomctl passwd`: tens of milliseconds, during which the io lcore
 * polls nothing). It runs at most once per distinct credential per ctx:
 * a cache of AUTH_CACHE_SLOTS entries keyed by the exact token bytes keeps
 * both outcomes (a client retrying a wrong password costs one hash, not
 * one per request). Eviction is a clock: a correct credential enters with
 * its reference bit set and keeps it while in use; a wrong one enters
 * without it, so a flood of wrong credentials evicts other wrong ones
 * before any credential in use. Malformed headers, impossible user
 * names (over 63 characters, or outside [A-Za-z0-9_.-]) and passwords
 * with a control character (0x00-0x1f, 0x7f: RFC 7617 forbids them, and
 * HMAC's zero padding would make "pw" and "pw\0" the same key) are refused
 * without hashing and without a cache entry.
 *
 * Timing. A cached token is found by a keyed 64-bit fingerprint (SipHash,
 * random key per ctx), then confirmed with a constant-time comparison of
 * the whole token; a partial match with a stored credential changes no
 * branch. The hash result is compared in constant time. An unknown (but
 * well-formed) user name still costs one PBKDF2, against a fixed dummy
 * salt with the highest iteration count among the configured users, so
 * response time does not reveal which names exist as long as users share
 * an iteration count (they do with `loomctl passwd`'s default). Every
 * unseen credential costs one slow hash whether the user exists or not;
 * the dummy hash adds no cost an attacker could not already cause with a
 * real user name. In deferred mode (below) the hash runs on another
 * thread, so a flood of new credentials costs that thread, not the
 * caller's; bounding it is the caller's business.
 *
 * The cache holds raw tokens, i.e. base64 passwords, in the lcore's
 * memory (as the receive buffers briefly do); auth_init() wipes it.
 */
#ifndef LOOM_HTTP_AUTH_H
#define LOOM_HTTP_AUTH_H

#include "common/config.h"
#include "dataplane/http/http_parser.h"

#include <stddef.h>
#include <stdint.h>

#define AUTH_CACHE_SLOTS 64
#define AUTH_TOKEN_MAX 256     /* longer tokens are AUTH_BAD, unhashed */
#define AUTH_HASH_LEN 32       /* PBKDF2-HMAC-SHA256 output */
#define AUTH_CTX_SIZE_MAX (24 * 1024)

/* AUTH_PENDING: deferred mode only (see auth_set_deferred). */
enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_BAD, AUTH_PENDING };

#define AUTH_OUTSTANDING_MAX 8 /* deferred verifications at once, per ctx */

struct auth_cache_entry {
	uint64_t fp;      /* keyed fingerprint of token[0..len) */
	uint16_t len;     /* 0: free slot */
	uint8_t result;   /* enum auth_result: AUTH_OK or AUTH_BAD */
	uint8_t ref;      /* clock reference bit */
	uint8_t token[AUTH_TOKEN_MAX];
};

struct auth_ctx {
	/* Counters, for the caller's stats (plain: one lcore writes). */
	uint64_t checks;      /* auth_check() calls */
	uint64_t cache_hits;  /* answered from the cache */
	uint64_t slow_hashes; /* PBKDF2 runs (dummy ones included) */
	uint64_t failures;    /* AUTH_BAD answers (cached ones included) */
	uint64_t deferred;    /* verifications handed out (auth_job_take) */

	/* Private to auth.c. */
	enum loom_auth_mode mode;
	uint16_t n_users;
	uint32_t dummy_iterations;
	unsigned hand;        /* clock hand */
	uint64_t fp_key[2];
	struct loom_user users[LOOM_MAX_USERS]; /* names zero-padded */
	struct auth_cache_entry cache[AUTH_CACHE_SLOTS];
	bool defer;
	uint8_t n_outstanding;
	uint64_t outstanding[AUTH_OUTSTANDING_MAX]; /* fingerprints */
};

/*
 * A verification handed to another thread (deferred mode). The token is
 * copied in, so the request's buffer may move on; ctx is read there only
 * for what auth_init wrote (users, iterations), which never changes.
 */
struct auth_job {
	const struct auth_ctx *ctx;
	uint64_t fp;
	uint32_t owner;   /* the caller's (e.g. which io lcore) */
	uint16_t len;
	uint8_t result;   /* auth_job_verify's verdict: AUTH_OK or AUTH_BAD */
	uint8_t hashed;   /* it ran PBKDF2 (for the slow_hashes counter) */
	uint8_t token[AUTH_TOKEN_MAX];
};

/* Copies the users (at most LOOM_MAX_USERS) into a, empties the cache,
 * zeroes the counters and draws the fingerprint key (getrandom). */
void auth_init(struct auth_ctx *a, enum loom_auth_mode mode,
               const struct loom_user *users, uint16_t n_users);

/* authorization: the Authorization header's value as the request parser
 * found it (http_request.authorization; p NULL / len 0 when absent). */
enum auth_result auth_check(struct auth_ctx *a, struct http_span authorization);

/*
 * Deferred mode keeps the slow hash off the calling thread, the way a
 * poll-mode lcore must (one PBKDF2 at 200000 iterations stalls it for
 * about 200 ms): auth_check answers a well-formed credential it has not
 * cached with AUTH_PENDING instead of hashing. The caller then:
 *   1. auth_job_take(): true fills a job and marks its credential
 *      outstanding (hand the job to a verifier thread; if that fails,
 *      auth_job_cancel); false means it is outstanding already, or
 *      AUTH_OUTSTANDING_MAX are: just retry the request later;
 *   2. on the verifier thread, auth_job_verify() (PBKDF2);
 *   3. back on the ctx's thread, auth_job_done() caches the verdict, and
 *      the retried request gets its answer from the cache.
 * So each distinct credential is still hashed once per ctx.
 */
void auth_set_deferred(struct auth_ctx *a, bool on);
bool auth_job_take(struct auth_ctx *a, struct http_span authorization,
                   struct auth_job *j);
void auth_job_cancel(struct auth_ctx *a, const struct auth_job *j);
void auth_job_verify(struct auth_job *j);
void auth_job_done(struct auth_ctx *a, const struct auth_job *j);

/* PBKDF2-HMAC-SHA256(password, salt, iterations) -> out. The verifier of a
 * [users] line; loomctl passwd and the tests make theirs with it. Returns
 * 0, or -1 (iterations 0 or above INT_MAX, a length above INT_MAX, or a
 * wolfCrypt error). */
int auth_hash_password(const char *password, size_t len, const uint8_t *salt,
                       size_t salt_len, uint32_t iterations,
                       uint8_t out[AUTH_HASH_LEN]);

#endif

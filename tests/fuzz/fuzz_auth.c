/*
 * fuzz_auth - arbitrary Authorization header values into auth_check()
 * (dataplane/http/auth.h), two users with low iteration counts.
 *
 * Byte 0 picks the form: bit 0 set, the header is "Basic " + base64(rest),
 * so the fuzzer explores the decoded "user:password" space; clear, the rest
 * is the raw header value. Bit 1 re-initialises the context (fresh cache).
 *
 * Oracles: the answer is OK, MISSING or BAD, MISSING exactly for an empty
 * value; it agrees with a plain reference check (scheme, blanks, canonical
 * base64 that re-encodes to the same token, one of the two credentials);
 * the same header asked again gives the same answer without a slow hash
 * (from the cache, if the first answer hashed or hit); counters move as
 * documented; a mode-none context says OK to everything.
 */
#include "dataplane/http/auth.h"
#include "common/base64.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_auth: %s:%d: %s\n", __FILE__,  \
			        __LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

#define ITER 10

static const char *const creds[2] = {"alice:wonderland", "bob:b:u:i:l:d"};

static struct auth_ctx ctx, open_ctx;
static struct loom_user users[2];
static bool ready;

static void setup(void)
{
	for (int i = 0; i < 2; i++) {
		const char *colon = strchr(creds[i], ':');
		struct loom_user *u = &users[i];
		memset(u, 0, sizeof *u);
		memcpy(u->name, creds[i], (size_t)(colon - creds[i]));
		u->iterations = ITER;
		u->salt_len = 16;
		for (int j = 0; j < 16; j++)
			u->salt[j] = (uint8_t)(i * 16 + j);
		REQUIRE(auth_hash_password(colon + 1, strlen(colon + 1),
		                           u->salt, u->salt_len, ITER,
		                           u->hash) == 0);
	}
	auth_init(&ctx, LOOM_AUTH_BASIC, users, 2);
	auth_init(&open_ctx, LOOM_AUTH_NONE, users, 2);
	ready = true;
}

static bool ieq(const char *s, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (c != lower[i])
			return false;
	}
	return true;
}

/* What the answer must be, from first principles. */
static enum auth_result reference(const char *h, size_t n)
{
	if (n == 0)
		return AUTH_MISSING;
	if (n < 6 || !ieq(h, "basic ", 6))
		return AUTH_BAD;
	size_t i = 6;
	while (i < n && h[i] == ' ')
		i++;
	size_t tlen = n - i;
	if (tlen == 0 || tlen > AUTH_TOKEN_MAX)
		return AUTH_BAD;
	uint8_t dec[AUTH_TOKEN_MAX];
	long d = base64_decode(h + i, tlen, dec, sizeof dec);
	if (d < 0)
		return AUTH_BAD;
	/* Strict means canonical: re-encoding gives the token back. */
	char again[AUTH_TOKEN_MAX + 4];
	REQUIRE(base64_encode(dec, (size_t)d, again) == tlen);
	REQUIRE(memcmp(again, h + i, tlen) == 0);
	/* Exactly one of the two credentials, byte for byte (so no
	 * trailing NUL that HMAC's key padding would ignore). */
	for (int k = 0; k < 2; k++)
		if ((size_t)d == strlen(creds[k]) &&
		    memcmp(dec, creds[k], (size_t)d) == 0)
			return AUTH_OK;
	return AUTH_BAD;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	if (mode & 2)
		auth_init(&ctx, LOOM_AUTH_BASIC, users, 2);

	static char hdr[6 + BASE64_ENCODED_LEN(4096) + 1];
	size_t n;
	if (mode & 1) {
		if (size > 4096)
			size = 4096;
		memcpy(hdr, "Basic ", 6);
		n = 6 + base64_encode(data, size, hdr + 6);
	} else {
		if (size > sizeof hdr)
			size = sizeof hdr;
		memcpy(hdr, data, size);
		n = size;
	}
	/* An absent header is p NULL; an empty one has len 0 too. */
	struct http_span v = {n ? hdr : NULL, n};

	struct auth_ctx before = ctx;
	enum auth_result r = auth_check(&ctx, v);
	REQUIRE(r == AUTH_OK || r == AUTH_MISSING || r == AUTH_BAD);
	REQUIRE(r == reference(hdr, n));
	REQUIRE(ctx.checks == before.checks + 1);
	REQUIRE(ctx.failures == before.failures + (r == AUTH_BAD));
	uint64_t hashed = ctx.slow_hashes - before.slow_hashes;
	uint64_t hit = ctx.cache_hits - before.cache_hits;
	REQUIRE(hashed + hit <= 1);
	/* Only a well-formed token with a plausible user name is hashed. */
	if (hashed || hit)
		REQUIRE(n > 6);

	uint64_t h1 = ctx.slow_hashes, c1 = ctx.cache_hits;
	REQUIRE(auth_check(&ctx, v) == r);
	REQUIRE(ctx.slow_hashes == h1);
	REQUIRE(ctx.cache_hits == c1 + (hashed || hit));

	REQUIRE(auth_check(&open_ctx, v) == AUTH_OK);
	REQUIRE(open_ctx.slow_hashes == 0 && open_ctx.failures == 0);
	return 0;
}

/*
 * test_auth.c - HTTP Basic authentication (dataplane/http/auth.h) and its
 * base64 codec: answers for good, wrong, unknown, missing and malformed
 * credentials; the slow hash runs once per distinct credential (positive
 * and negative verdicts cached), eviction keeps answers right; mode none.
 * Users are made with 1000 PBKDF2 iterations so the test stays fast.
 */
#include "check.h"

#include "dataplane/http/auth.h"
#include "common/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ITER 1000

static struct auth_ctx ctx; /* ~23 KiB: not on the stack */

static void make_user(struct loom_user *u, const char *name,
                      const char *password, uint8_t salt_byte)
{
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", name);
	u->iterations = ITER;
	u->salt_len = 16;
	for (unsigned i = 0; i < u->salt_len; i++)
		u->salt[i] = (uint8_t)(salt_byte + i);
	CHECK(auth_hash_password(password, strlen(password), u->salt,
	                         u->salt_len, u->iterations, u->hash) == 0);
}

/* "Basic " + base64(cred) in buf; returns it as a span. */
static struct http_span basic(char *buf, const char *scheme, const char *cred)
{
	size_t n = (size_t)snprintf(buf, 512, "%s", scheme);
	base64_encode((const uint8_t *)cred, strlen(cred), buf + n);
	return (struct http_span){buf, strlen(buf)};
}

static struct http_span span(const char *s)
{
	return (struct http_span){s, s ? strlen(s) : 0};
}

static bool hex_eq(const uint8_t *b, size_t n, const char *hex)
{
	char s[2 * 64 + 1];
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return strcmp(s, hex) == 0;
}

static void test_base64(void)
{
	static const struct {
		const char *plain, *b64;
	} v[] = {
		{"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},
		{"foo", "Zm9v"},    {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	char enc[64];
	uint8_t dec[64];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = base64_encode((const uint8_t *)v[i].plain,
		                         strlen(v[i].plain), enc);
		CHECK_EQ_U64(n, strlen(v[i].b64));
		CHECK(strcmp(enc, v[i].b64) == 0);
		CHECK_EQ_U64(n, BASE64_ENCODED_LEN(strlen(v[i].plain)));
		if (n == 0)
			continue;
		long d = base64_decode(v[i].b64, n, dec, sizeof dec);
		CHECK(d == (long)strlen(v[i].plain));
		CHECK(d >= 0 && memcmp(dec, v[i].plain, (size_t)d) == 0);
	}
	/* Every byte value survives a round trip. */
	uint8_t all[256];
	char all_b64[BASE64_ENCODED_LEN(256) + 1];
	uint8_t back[256];
	for (unsigned i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t n = base64_encode(all, sizeof all, all_b64);
	CHECK(base64_decode(all_b64, n, back, sizeof back) == 256);
	CHECK(memcmp(all, back, 256) == 0);
	/* Too small an output buffer. */
	CHECK(base64_decode("Zm9vYmFy", 8, dec, 5) == -1);
	CHECK(base64_decode("Zm9vYmFy", 8, dec, 6) == 6);

	static const char *const bad[] = {
		"",         /* empty */
		"Zg",       /* no padding */
		"Zg=",      /* short padding */
		"Zm9",      /* not a multiple of 4 */
		"Zh==",     /* non-zero bits after the data */
		"Zm9=",     /* the same with one '=' */
		"Z===",     /* too much padding */
		"====",
		"Zg==Zg==", /* padding in the middle */
		"Zm=v",     /* data after padding */
		" Zm9v",    /* blanks */
		"Zm9v ",
		"Zm9v\n",
		"Zm9-",     /* URL-safe alphabet */
		"Zm9_",
		"Zm9v\0AAA",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i]);
		if (i == sizeof bad / sizeof bad[0] - 1)
			len = 8; /* with the NUL inside */
		long d = base64_decode(bad[i], len, dec, sizeof dec);
		if (d != -1)
			fprintf(stderr, "base64_decode(\"%s\") = %ld\n", bad[i],
			        d);
		CHECK(d == -1);
	}
}

static void test_hash_vectors(void)
{
	uint8_t out[AUTH_HASH_LEN];
	/* RFC 7914 section 11 (first 32 bytes of the 64-byte output). */
	CHECK(auth_hash_password("passwd", 6, (const uint8_t *)"salt", 4, 1,
	                         out) == 0);
	CHECK(hex_eq(out, 32, "55ac046e56e3089fec1691c22544b605"
	                      "f94185216dde0465e68b9d57c20dacbc"));
	CHECK(auth_hash_password("password", 8, (const uint8_t *)"salt", 4,
	                         4096, out) == 0);
	CHECK(hex_eq(out, 32, "c5e478d59288c841aa530db6845c4c8d"
	                      "962893a001ce4e11a4963873aa98134a"));
	/* An empty password hashes too (and never matches a real one). */
	CHECK(auth_hash_password("", 0, (const uint8_t *)"salt", 4, 1, out) ==
	      0);
	CHECK(auth_hash_password(NULL, 0, (const uint8_t *)"salt", 4, 1, out) ==
	      0);
	CHECK(auth_hash_password("x", 1, (const uint8_t *)"salt", 4, 0, out) ==
	      -1);
}

static struct loom_user users[3];

static void init_basic(void)
{
	auth_init(&ctx, LOOM_AUTH_BASIC, users, 3);
}

static void test_answers(void)
{
	char b[512];
	init_basic();
	CHECK_EQ_U64(ctx.checks, 0);

	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) == AUTH_OK);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "alice:pa:ss:word")) ==
	      AUTH_OK); /* the first ':' splits */
	CHECK(auth_check(&ctx, basic(b, "Basic ", "bob.o-k_2:x")) == AUTH_OK);
	CHECK_EQ_U64(ctx.slow_hashes, 3);
	CHECK_EQ_U64(ctx.failures, 0);

	/* Scheme case and blanks before the token. */
	CHECK(auth_check(&ctx, basic(b, "basic ", "admin:s3cret")) == AUTH_OK);
	CHECK(auth_check(&ctx, basic(b, "BASIC ", "admin:s3cret")) == AUTH_OK);
	CHECK(auth_check(&ctx, basic(b, "bAsIc    ", "admin:s3cret")) ==
	      AUTH_OK);
	CHECK_EQ_U64(ctx.slow_hashes, 3); /* the same token: cached */

	/* Wrong password, unknown user: a slow hash each (the unknown one
	 * against the dummy), then AUTH_BAD. */
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret ")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:S3cret")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "Admin:s3cret")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "mallory:s3cret")) ==
	      AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "alice:pa:ss")) == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, 9);
	CHECK_EQ_U64(ctx.failures, 6);

	/* Missing. */
	CHECK(auth_check(&ctx, span(NULL)) == AUTH_MISSING);
	CHECK(auth_check(&ctx, (struct http_span){"Basic x", 0}) ==
	      AUTH_MISSING);
	CHECK_EQ_U64(ctx.failures, 6);

	/* Malformed: refused without hashing. */
	uint64_t hashes = ctx.slow_hashes;
	static const char *const malformed[] = {
		"Bearer YWRtaW46czNjcmV0",
		"Digest YWRtaW46czNjcmV0",
		"Basic",
		"Basic ",
		"Basic    ",
		"BasicYWRtaW46czNjcmV0",
		"Basic\tYWRtaW46czNjcmV0",
		"Basi YWRtaW46czNjcmV0",
		"Basics YWRtaW46czNjcmV0",
		" Basic YWRtaW46czNjcmV0",
		"Basic YWRtaW46czNjcmV0 ",       /* trailing blank */
		"Basic YWRtaW46czNjcmV0 x",      /* a second token */
		"Basic YWRtaW46czNjcmV0,",
		"Basic YWRtaW46czNjcmV",         /* length not 4n */
		"Basic YWRtaW46czNjcmV0=",
		"Basic YWRtaW46czNjcmV0====",
		"Basic YWRtaW4=czNjcmV0",        /* padding inside */
		"Basic YWRt aW46czNjcmV0",
		"Basic YWRtaW46czNjcmV0\r\n",
		"Basic YWRtaW46czNjcmV-",        /* base64url */
		"Basic YWRtaW4",                 /* unpadded */
		"Basic YWRtaW4=",                /* "admin": no colon */
		"Basic OnMzY3JldA==",            /* ":s3cret": empty user */
		"Basic Og==",                    /* ":" */
	};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		enum auth_result r = auth_check(&ctx, span(malformed[i]));
		if (r != AUTH_BAD)
			fprintf(stderr, "auth_check(\"%s\") = %d\n",
			        malformed[i], (int)r);
		CHECK(r == AUTH_BAD);
	}
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", ":")) == AUTH_BAD);
	/* Impossible user names are refused unhashed. */
	char longname[100];
	memset(longname, 'a', 64);
	snprintf(longname + 64, sizeof longname - 64, ":s3cret");
	CHECK(auth_check(&ctx, basic(b, "Basic ", longname)) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "ad min:s3cret")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "\xc3\xa9:s3cret")) ==
	      AUTH_BAD);
	/* Control characters in the password (RFC 7617), unhashed too. A
	 * trailing NUL in particular: HMAC zero-pads its key, so PBKDF2
	 * alone would take "s3cret\0" for "s3cret". */
	static const uint8_t nul_pw[] = "admin:s3cret"; /* with its NUL */
	memcpy(b, "Basic ", 6);
	base64_encode(nul_pw, sizeof nul_pw, b + 6);
	CHECK(auth_check(&ctx, span(b)) == AUTH_BAD);
	uint8_t hashed_nul[AUTH_HASH_LEN];
	CHECK(auth_hash_password("s3cret", sizeof "s3cret", users[0].salt,
	                         users[0].salt_len, ITER, hashed_nul) == 0);
	CHECK(memcmp(hashed_nul, users[0].hash, AUTH_HASH_LEN) == 0);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3\tcret")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret\x7f")) ==
	      AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret\r\n")) ==
	      AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, hashes);
	/* Non-ASCII (UTF-8) passwords are hashed like any other (and wrong
	 * here). */
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cr\xc3\xa9t")) ==
	      AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, ++hashes);

	/* Huge: a token over AUTH_TOKEN_MAX is refused unhashed, even when
	 * it encodes a good user. */
	char cred[300];
	snprintf(cred, sizeof cred, "admin:%0200d", 0);
	CHECK(strlen(basic(b, "Basic ", cred).p) - 6 > AUTH_TOKEN_MAX);
	CHECK(auth_check(&ctx, basic(b, "Basic ", cred)) == AUTH_BAD);
	char huge[8192];
	memset(huge, 'A', sizeof huge - 1);
	memcpy(huge, "Basic ", 6);
	huge[sizeof huge - 1] = '\0';
	CHECK(auth_check(&ctx, span(huge)) == AUTH_BAD);
	/* ... but exactly AUTH_TOKEN_MAX characters are looked at: 192
	 * bytes of "user:password". */
	snprintf(cred, sizeof cred, "mallory:%0184d", 0);
	CHECK_EQ_U64(strlen(basic(b, "Basic ", cred).p) - 6, AUTH_TOKEN_MAX);
	CHECK(auth_check(&ctx, basic(b, "Basic ", cred)) == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, hashes + 1);

	/* An empty password is a password like any other (wrong here). */
	CHECK(auth_check(&ctx, basic(b, "Basic ", "bob.o-k_2:")) == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, hashes + 2);

	/* Counters add up: everything but AUTH_OK/MISSING is a failure. */
	CHECK(ctx.checks > ctx.failures);
	CHECK(ctx.cache_hits >= 3);
}

static void test_cache(void)
{
	char b[512];
	init_basic();

	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) == AUTH_OK);
	CHECK_EQ_U64(ctx.slow_hashes, 1);
	CHECK_EQ_U64(ctx.cache_hits, 0);
	for (int i = 0; i < 5; i++)
		CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) ==
		      AUTH_OK);
	CHECK_EQ_U64(ctx.slow_hashes, 1);
	CHECK_EQ_U64(ctx.cache_hits, 5);

	/* Negative verdicts are cached too, unknown users included. */
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:wrong")) == AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "nobody:wrong")) == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, 3);
	for (int i = 0; i < 5; i++) {
		CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:wrong")) ==
		      AUTH_BAD);
		CHECK(auth_check(&ctx, basic(b, "Basic ", "nobody:wrong")) ==
		      AUTH_BAD);
	}
	CHECK_EQ_U64(ctx.slow_hashes, 3);
	CHECK_EQ_U64(ctx.cache_hits, 15);
	CHECK_EQ_U64(ctx.failures, 12);

	/* A token that differs only after a cached one's length, or only in
	 * its last character, is not confused with it. */
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret!")) ==
	      AUTH_BAD);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3creu")) == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, 5);

	/* More distinct credentials than slots: every answer stays right,
	 * and each distinct credential costs one hash while it is cached. A
	 * credential in use keeps its place through a flood of wrong ones. */
	init_basic();
	CHECK(auth_check(&ctx, basic(b, "Basic ", "alice:pa:ss:word")) ==
	      AUTH_OK);
	const int flood = 3 * AUTH_CACHE_SLOTS;
	for (int i = 0; i < flood; i++) {
		char cred[64];
		snprintf(cred, sizeof cred, "%s:guess%d",
		         i % 2 ? "admin" : "nobody", i);
		CHECK(auth_check(&ctx, basic(b, "Basic ", cred)) == AUTH_BAD);
		if (i % 10 == 9)
			CHECK(auth_check(&ctx, basic(b, "Basic ",
			                             "alice:pa:ss:word")) ==
			      AUTH_OK);
	}
	CHECK_EQ_U64(ctx.slow_hashes, 1 + (uint64_t)flood);
	CHECK_EQ_U64(ctx.cache_hits, (uint64_t)flood / 10);

	/* The oldest wrong ones were evicted: asking again hashes again and
	 * still answers right; the recent ones are still cached. */
	uint64_t h = ctx.slow_hashes;
	CHECK(auth_check(&ctx, basic(b, "Basic ", "nobody:guess0")) ==
	      AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, h + 1);
	char last[64];
	snprintf(last, sizeof last, "admin:guess%d", flood - 1);
	CHECK(auth_check(&ctx, basic(b, "Basic ", last)) == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, h + 1);

	/* Good credentials of several users, more than the cache holds
	 * together with a flood: evicted ones hash again, answer right. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2 * AUTH_CACHE_SLOTS; i++) {
			char cred[64];
			snprintf(cred, sizeof cred, "bob.o-k_2:no%d", i);
			CHECK(auth_check(&ctx, basic(b, "Basic ", cred)) ==
			      AUTH_BAD);
		}
		CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) ==
		      AUTH_OK);
		CHECK(auth_check(&ctx, basic(b, "Basic ", "bob.o-k_2:x")) ==
		      AUTH_OK);
	}

	/* auth_init empties the cache and the counters. */
	init_basic();
	CHECK_EQ_U64(ctx.checks + ctx.cache_hits + ctx.slow_hashes +
	             ctx.failures, 0);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) == AUTH_OK);
	CHECK_EQ_U64(ctx.slow_hashes, 1);
}

static void test_mode_none_and_edges(void)
{
	char b[512];
	auth_init(&ctx, LOOM_AUTH_NONE, users, 3);
	CHECK(auth_check(&ctx, span(NULL)) == AUTH_OK);
	CHECK(auth_check(&ctx, span("Bearer x")) == AUTH_OK);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:wrong")) == AUTH_OK);
	CHECK_EQ_U64(ctx.checks, 3);
	CHECK_EQ_U64(ctx.slow_hashes + ctx.failures, 0);

	/* Basic with no users: nobody gets in (config refuses this setup;
	 * the module stays safe on its own). */
	auth_init(&ctx, LOOM_AUTH_BASIC, NULL, 0);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) == AUTH_BAD);
	CHECK(auth_check(&ctx, span(NULL)) == AUTH_MISSING);

	/* A user with an empty name (not from the parser) never matches. */
	struct loom_user odd[2] = {users[0], users[0]};
	odd[1].name[0] = '\0';
	auth_init(&ctx, LOOM_AUTH_BASIC, odd, 2);
	CHECK_EQ_U64(ctx.n_users, 1);
	CHECK(auth_check(&ctx, basic(b, "Basic ", "admin:s3cret")) == AUTH_OK);
	CHECK(auth_check(&ctx, basic(b, "Basic ", ":s3cret")) == AUTH_BAD);

	/* A 63-character name is a name. */
	struct loom_user longest;
	char name[64], cred[128];
	memset(name, 'n', 63);
	name[63] = '\0';
	make_user(&longest, name, "pw", 7);
	auth_init(&ctx, LOOM_AUTH_BASIC, &longest, 1);
	snprintf(cred, sizeof cred, "%s:pw", name);
	CHECK(auth_check(&ctx, basic(b, "Basic ", cred)) == AUTH_OK);

	printf("sizeof(struct auth_ctx) = %zu\n", sizeof(struct auth_ctx));
	CHECK(sizeof(struct auth_ctx) <= AUTH_CTX_SIZE_MAX);
}

/* Deferred mode: the slow hash leaves the ctx's thread as a job. */
static void test_deferred(void)
{
	char b[512], b2[512];
	static struct auth_job jobs[AUTH_OUTSTANDING_MAX + 1];
	init_basic();
	auth_set_deferred(&ctx, true);
	struct http_span good = basic(b, "Basic ", "admin:s3cret");
	struct http_span wrong = basic(b2, "Basic ", "admin:nope");

	/* Unseen and well-formed: pending, no hash here. Malformed and
	 * missing are answered at once, as before. */
	CHECK(auth_check(&ctx, good) == AUTH_PENDING);
	CHECK(auth_check(&ctx, span("Basic !!!")) == AUTH_BAD);
	CHECK(auth_check(&ctx, span(NULL)) == AUTH_MISSING);
	CHECK_EQ_U64(ctx.slow_hashes, 0);

	/* One job per credential, however many requests wait for it. */
	CHECK(auth_job_take(&ctx, good, &jobs[0]));
	CHECK(!auth_job_take(&ctx, good, &jobs[1]));
	CHECK(auth_check(&ctx, good) == AUTH_PENDING);
	CHECK(auth_job_take(&ctx, wrong, &jobs[1]));
	CHECK_EQ_U64(ctx.deferred, 2);

	/* The verifier (any thread), then the verdicts back. */
	auth_job_verify(&jobs[0]);
	auth_job_verify(&jobs[1]);
	CHECK(jobs[0].result == AUTH_OK && jobs[0].hashed);
	CHECK(jobs[1].result == AUTH_BAD);
	CHECK_EQ_U64(ctx.slow_hashes, 0); /* counted on the ctx's thread */
	auth_job_done(&ctx, &jobs[0]);
	auth_job_done(&ctx, &jobs[1]);
	CHECK_EQ_U64(ctx.slow_hashes, 2);
	for (int i = 0; i < 5; i++) {
		CHECK(auth_check(&ctx, good) == AUTH_OK);
		CHECK(auth_check(&ctx, wrong) == AUTH_BAD);
	}
	CHECK_EQ_U64(ctx.slow_hashes, 2);
	/* Done: the credential may be taken again (after eviction). */
	CHECK(auth_job_take(&ctx, good, &jobs[2]));
	auth_job_cancel(&ctx, &jobs[2]);

	/* At most AUTH_OUTSTANDING_MAX out; a cancel frees a place. */
	char cred[AUTH_OUTSTANDING_MAX + 1][64], hb[AUTH_OUTSTANDING_MAX + 1][512];
	unsigned taken = 0;
	for (unsigned i = 0; i <= AUTH_OUTSTANDING_MAX; i++) {
		snprintf(cred[i], sizeof cred[i], "admin:guess%u", i);
		taken += auth_job_take(&ctx, basic(hb[i], "Basic ", cred[i]),
		                       &jobs[i]);
	}
	CHECK_EQ_U64(taken, AUTH_OUTSTANDING_MAX);
	auth_job_cancel(&ctx, &jobs[0]);
	CHECK(auth_job_take(&ctx, basic(hb[AUTH_OUTSTANDING_MAX], "Basic ",
	                                cred[AUTH_OUTSTANDING_MAX]),
	                    &jobs[AUTH_OUTSTANDING_MAX]));
	CHECK(!auth_job_take(&ctx, span("Bearer x"), &jobs[0]));
}

int main(void)
{
	test_base64();
	test_hash_vectors();
	make_user(&users[0], "admin", "s3cret", 1);
	make_user(&users[1], "alice", "pa:ss:word", 40);
	make_user(&users[2], "bob.o-k_2", "x", 90);
	test_answers();
	test_cache();
	test_mode_none_and_edges();
	test_deferred();
	CHECK_DONE();
}

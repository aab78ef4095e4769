/*
 * aead.h - the AEAD under the replication frame layer (frame.h): two
 * wolfCrypt ciphers behind one small interface, chosen per key when the key
 * is installed (so a cluster can move from one to the other at a rekey
 * without a protocol change; both ends of a direction must agree, which the
 * control plane that hands out the keys guarantees).
 *
 *   AEAD_CHACHA20_POLY1305  RFC 8439. Keyed per call: ChaCha20's key setup
 *                           is a copy, and Poly1305's key is derived from
 *                           the nonce anyway, so only the 32 key bytes are
 *                           kept.
 *   AEAD_AES256_GCM         NIST SP 800-38D, 96-bit nonce. The AES key
 *                           schedule and the GHASH table are computed once
 *                           per key (wc_AesGcmSetKey) and kept in struct
 *                           aead.
 *
 * Both take a 32-byte key and a 12-byte nonce and produce a 16-byte tag.
 * The nonce is the caller's business (frame.h derives it from a per-key
 * counter, never repeating one under a key).
 *
 * What Debian 12's libwolfssl (5.5.4-2+deb12u3) enables, from
 * <wolfssl/options.h> and the library's code: HAVE_CHACHA, HAVE_POLY1305,
 * HAVE_AESGCM with GCM_TABLE_4BIT and WOLFSSL_AESGCM_STREAM; no
 * WOLFSSL_AESNI, no USE_INTEL_SPEEDUP / HAVE_INTEL_AVX1/2 (the shared
 * library holds not one aesenc or pclmulqdq instruction).
 * WOLFSSL_X86_64_BUILD is set, but only the public-key math
 * (WOLFSSL_SP_X86_64) has assembly. So both ciphers run wolfCrypt's
 * portable C: AES by T-tables, GHASH by 4-bit tables, ChaCha20 and
 * Poly1305 in 64-bit C. AES-GCM loses the hardware that usually makes it
 * the faster of the two on x86.
 *
 * bench/aead_bench: one frame_seal + one frame_open per frame (both ends'
 * work on one core), payload bytes per second (10^6), best of three 1.5 s
 * runs per cell; 2-core AMD EPYC VM (AES-NI, AVX-512 and VAES present but
 * unused by this wolfSSL build), RelWithDebInfo, other builds running
 * (load ~1.7):
 *
 *   payload   ChaCha20-Poly1305          AES-256-GCM
 *             ns/frame    MB/s           ns/frame    MB/s
 *        64        890      72              1 380      47
 *       512      3 390     151              7 800      66
 *      4096     23 460     175             61 600      67
 *     65536    370 700     177            950 700      69
 *
 * ChaCha20-Poly1305 is 1.5x (64 B) to 2.6x (64 KiB) faster here and is
 * the default (AEAD_DEFAULT). Either way one core seals or opens ~350 MB/s
 * at most, so the cipher, not TCP, bounds a link's replicated bytes per
 * repl lcore. A wolfSSL built with --enable-aesni (or intelasm) would
 * likely reverse the order: re-run bench/aead_bench before changing the
 * default.
 *
 * Nothing here allocates: struct aead is embedded by its owner.
 */
#ifndef LOOM_REPL_AEAD_H
#define LOOM_REPL_AEAD_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN 32
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16

/* The largest message one call takes: wolfCrypt counts in 32-bit words, and
 * frame.h's ceiling is far below this. */
#define AEAD_MAX_LEN 0xffffffffu

enum aead_alg {
	AEAD_NONE = 0, /* no key: every call fails */
	AEAD_CHACHA20_POLY1305 = 1,
	AEAD_AES256_GCM = 2,
};

#define AEAD_DEFAULT AEAD_CHACHA20_POLY1305

struct aead {
	enum aead_alg alg;
	union {
		uint8_t key[AEAD_KEY_LEN]; /* ChaCha20-Poly1305 */
		Aes aes;                   /* AES-256-GCM: schedule + table */
	} u;
};

/* One piece of a gathered plaintext. */
struct aead_iov {
	const void *base;
	size_t len;
};

/* Key a with alg. 0; EINVAL for an unknown alg; EIO if wolfCrypt refuses.
 * On failure a is left wiped (AEAD_NONE). */
int aead_init(struct aead *a, enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN]);

/* Forget the key: zeroes every byte of a (AES schedule included). */
void aead_wipe(struct aead *a);

/* Encrypt in[0..len) into out (in == out is allowed; partial overlap is
 * not) and write the tag. ad is authenticated, not encrypted. 0; EINVAL
 * without a key or for len > AEAD_MAX_LEN; EIO on a wolfCrypt failure. */
int aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
              const uint8_t *ad, size_t ad_len, const uint8_t *in,
              uint8_t *out, size_t len, uint8_t tag[AEAD_TAG_LEN]);

/* aead_seal over the concatenation of iov[0..n): the ciphertext is written
 * contiguously to out, and is byte for byte what aead_seal of the
 * concatenated plaintext gives. Pieces may have any length (0 too); out
 * must not overlap any piece. */
int aead_sealv(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
               const uint8_t *ad, size_t ad_len, const struct aead_iov *iov,
               unsigned n, uint8_t *out, uint8_t tag[AEAD_TAG_LEN]);

/* Verify and decrypt in[0..len) into out (in == out allowed). 0 when the
 * tag verifies; EBADMSG when it does not, and then out[0..len) is zeroed so
 * that no unauthenticated plaintext survives (wolfCrypt's ChaCha20-Poly1305
 * decrypts before it compares the tag); EINVAL/EIO as aead_seal. */
int aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
              const uint8_t *ad, size_t ad_len, const uint8_t *in,
              uint8_t *out, size_t len, const uint8_t tag[AEAD_TAG_LEN]);

/* "chacha20-poly1305", "aes-256-gcm", or "none". */
const char *aead_alg_name(enum aead_alg alg);

/* Zero n bytes at p in a way the compiler cannot drop (key material). */
void aead_memzero(void *p, size_t n);

#endif

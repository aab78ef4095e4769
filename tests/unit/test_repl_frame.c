/*
 * test_repl_frame: the replication frame layer (dataplane/repl/frame.c) and
 * its AEADs. Golden frames from an independent implementation (Python's
 * cryptography, i.e. OpenSSL) pin the wire format; round trips for every
 * type and sizes up to the limit; gathered and in-place sealing give the
 * same bytes; every rejection (each bit of a frame flipped, replay, gap,
 * reorder, wrong key, wrong epoch, truncation, bad lengths) has its status
 * and its counter, leaves the expected counter alone, and the next good
 * frame still opens; epoch switches; nonces never repeat.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dataplane/repl/frame.h"
#include "storage/be.h"

static const enum aead_alg algs[] = {AEAD_CHACHA20_POLY1305, AEAD_AES256_GCM};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

static uint8_t big_in[FRAME_MAX_DEFAULT];
static uint8_t big_out[FRAME_MAX_DEFAULT];
static uint8_t big_ref[FRAME_MAX_DEFAULT];

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void keys_for(struct frame_keys *k, enum aead_alg alg, uint8_t seed)
{
	k->alg = alg;
	for (unsigned i = 0; i < FRAME_KEY_LEN; i++)
		k->key[i] = (uint8_t)(seed * 31u + i);
	for (unsigned i = 0; i < FRAME_SALT_LEN; i++)
		k->salt[i] = (uint8_t)(seed * 17u + 0x80u + i);
}

/* A sender and a receiver sharing one key at epoch. */
static void pair(struct frame_tx *tx, struct frame_rx *rx, enum aead_alg alg,
                 uint16_t epoch, uint8_t seed)
{
	struct frame_keys k;

	keys_for(&k, alg, seed);
	CHECK(frame_tx_init(tx, 0) == FRAME_OK);
	CHECK(frame_rx_init(rx, 0) == FRAME_OK);
	CHECK(frame_tx_set_epoch(tx, epoch, &k) == FRAME_OK);
	CHECK(frame_rx_install_epoch(rx, epoch, &k) == FRAME_OK);
}

static uint64_t rx_next(const struct frame_rx *rx)
{
	return rx->slot[rx->cur].next;
}

static uint64_t rx_errors(const struct frame_rx_stats *s)
{
	return s->err_too_big + s->err_runt + s->err_truncated +
	       s->err_overlong + s->err_epoch + s->err_replay + s->err_gap +
	       s->err_auth + s->err_invalid + s->err_crypto;
}

/* Seal payload and return the frame's size (0 on failure). */
static size_t seal(struct frame_tx *tx, uint8_t type, const void *p,
                   size_t len, uint8_t *out, size_t cap)
{
	size_t n = 0;
	enum frame_status st = frame_seal(tx, type, 0, p, len, out, cap, &n);

	CHECK(st == FRAME_OK);
	return st == FRAME_OK ? n : 0;
}

/* Open a copy of frame[0..n) and check the payload. */
static void open_ok(struct frame_rx *rx, const uint8_t *frame, size_t n,
                    const void *payload, size_t len, uint64_t counter)
{
	uint8_t copy[512];
	struct frame_view v;

	CHECK(n <= sizeof(copy));
	if (n > sizeof(copy))
		return;
	memcpy(copy, frame, n);
	CHECK(frame_open(rx, copy, n, &v) == FRAME_OK);
	CHECK_EQ_U64(v.payload_len, len);
	CHECK_EQ_U64(v.counter, counter);
	CHECK(v.payload == copy + FRAME_HDR_LEN);
	CHECK(len == 0 || memcmp(v.payload, payload, len) == 0);
}

/* --- golden frames ------------------------------------------------------- */

/* key 00..1f, salt f0..fb, epoch 0x0102, type 3, flags 0; counter 0
 * "loom golden frame", counter 1 "second". Made with Python cryptography
 * 48 (OpenSSL 3): frame = hdr || AEAD(key, salt ^ (0^4 || be64(counter)),
 * aad = hdr). */
static const uint8_t golden_chacha0[] =
	"\x00\x00\x00\x2d\x03\x00\x01\x02\x00\x00\x00\x00\x00\x00\x00\x00"
	"\xac\x23\x51\xab\xa7\xcf\xb1\xbb\x3b\x9b\xf5\xdd\xe1\x5f\x59\xbc"
	"\x50\xad\xde\x75\x3e\x89\xae\x38\xa0\x43\x1d\x4a\x6f\x1b\xa4\x5a"
	"\xd6";
static const uint8_t golden_chacha1[] =
	"\x00\x00\x00\x22\x03\x00\x01\x02\x00\x00\x00\x00\x00\x00\x00\x01"
	"\xed\x39\xa9\xd5\x35\x2a\xab\x6c\x0b\x66\xd7\x5e\x9a\x92\xc7\x5a"
	"\xff\x09\xca\x5a\x96\x9d";
static const uint8_t golden_gcm0[] =
	"\x00\x00\x00\x2d\x03\x00\x01\x02\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x05\x69\x2c\x6d\x5c\x5d\xbd\x18\xfb\x92\x99\xba\xe8\x38\x03\xdb"
	"\x75\xc0\xed\xea\xc0\x03\xc8\x5e\xe5\x4d\x8e\x40\x87\xd6\xb4\xea"
	"\x99";
static const uint8_t golden_gcm1[] =
	"\x00\x00\x00\x22\x03\x00\x01\x02\x00\x00\x00\x00\x00\x00\x00\x01"
	"\x70\x20\x7e\xa6\x17\xfd\xe5\xcf\x0c\xc2\x23\xae\x7b\xe7\xfe\x7e"
	"\xc1\xde\x73\x8b\x27\x4a";

static void test_golden(void)
{
	static const char p0[] = "loom golden frame", p1[] = "second";
	const uint8_t *g[2][2] = {{golden_chacha0, golden_chacha1},
	                          {golden_gcm0, golden_gcm1}};
	const size_t glen[2] = {sizeof(golden_chacha0) - 1,
	                        sizeof(golden_chacha1) - 1};
	struct frame_keys k;

	for (size_t a = 0; a < NALGS; a++) {
		struct frame_tx tx;
		struct frame_rx rx;
		uint8_t out[128];

		k.alg = algs[a];
		for (unsigned i = 0; i < FRAME_KEY_LEN; i++)
			k.key[i] = (uint8_t)i;
		for (unsigned i = 0; i < FRAME_SALT_LEN; i++)
			k.salt[i] = (uint8_t)(0xf0 + i);
		CHECK(frame_tx_init(&tx, 0) == FRAME_OK);
		CHECK(frame_rx_init(&rx, 0) == FRAME_OK);
		CHECK(frame_tx_set_epoch(&tx, 0x0102, &k) == FRAME_OK);
		CHECK(frame_rx_install_epoch(&rx, 0x0102, &k) == FRAME_OK);

		/* Our sealer produces exactly the reference bytes... */
		CHECK_EQ_U64(seal(&tx, 3, p0, strlen(p0), out, sizeof(out)),
		             glen[0]);
		CHECK(memcmp(out, g[a][0], glen[0]) == 0);
		CHECK_EQ_U64(seal(&tx, 3, p1, strlen(p1), out, sizeof(out)),
		             glen[1]);
		CHECK(memcmp(out, g[a][1], glen[1]) == 0);
		/* ...and our opener takes the reference frames. */
		open_ok(&rx, g[a][0], glen[0], p0, strlen(p0), 0);
		open_ok(&rx, g[a][1], glen[1], p1, strlen(p1), 1);
	}
}

/* --- nonces ----------------------------------------------------------------- */

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void test_nonce(void)
{
	static uint8_t ks[2000][16];
	const uint8_t salt[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t n[12];

	/* The counter is XORed into the last 8 bytes, big-endian. */
	frame_nonce(salt, UINT64_C(0x1122334455667788), n);
	CHECK(n[0] == 1 && n[1] == 2 && n[2] == 3 && n[3] == 4);
	CHECK(n[4] == (5 ^ 0x11) && n[5] == (6 ^ 0x22) && n[10] == (11 ^ 0x77));
	CHECK(n[11] == (12 ^ 0x88));
	frame_nonce(salt, 0, n);
	CHECK(memcmp(n, salt, 12) == 0);

	/* Two frames never share a nonce: with an all-zero payload each
	 * ciphertext is the keystream of its nonce (both ciphers are
	 * counter-mode), so equal nonces would show as equal ciphertexts. */
	for (size_t a = 0; a < NALGS; a++) {
		struct frame_tx tx;
		struct frame_rx rx;
		struct frame_keys k2;
		uint8_t zero[16] = {0}, out[64], first[16];
		size_t dup = 0;

		pair(&tx, &rx, algs[a], 1, 1);
		for (size_t i = 0; i < 2000; i++) {
			CHECK_EQ_U64(seal(&tx, 3, zero, 16, out, sizeof(out)),
			             16 + FRAME_OVERHEAD);
			memcpy(ks[i], out + FRAME_HDR_LEN, 16);
		}
		qsort(ks, 2000, 16, cmp16);
		for (size_t i = 1; i < 2000; i++)
			dup += memcmp(ks[i - 1], ks[i], 16) == 0;
		CHECK_EQ_U64(dup, 0);

		/* A new epoch restarts the counter under a new key: frame 0
		 * of epoch 2 is not frame 0 of epoch 1. */
		pair(&tx, &rx, algs[a], 1, 1);
		seal(&tx, 3, zero, 16, out, sizeof(out));
		memcpy(first, out + FRAME_HDR_LEN, 16);
		keys_for(&k2, algs[a], 2);
		CHECK(frame_tx_set_epoch(&tx, 2, &k2) == FRAME_OK);
		seal(&tx, 3, zero, 16, out, sizeof(out));
		CHECK_EQ_U64(get_be(out + 8, 8), 0);
		CHECK(memcmp(first, out + FRAME_HDR_LEN, 16) != 0);
	}
}

/* --- round trips --------------------------------------------------------------- */

static void test_round_trip(enum aead_alg alg)
{
	static const size_t sizes[] = {0,    1,    2,     15,    16,  17,
	                               63,   64,   65,    255,   256, 1000,
	                               4095, 4096, 65535, 65536, 300000};
	struct frame_tx tx;
	struct frame_rx rx;
	uint64_t counter = 0, bytes = 0;

	pair(&tx, &rx, alg, 7, 3);
	for (size_t i = 0; i < sizeof(big_in); i++)
		big_in[i] = (uint8_t)rng();

	/* Every message type (and the frame layer does not care: 0, 255). */
	for (unsigned type = 0; type <= 255; type++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t len = sizes[s], n = 0;
			uint8_t flags = (uint8_t)(type * 7);
			struct frame_view v;

			if (type > 10 && type < 255 && len > 64)
				continue; /* keep the run short */
			CHECK(frame_seal(&tx, (uint8_t)type, flags, big_in, len,
			                 big_out, sizeof(big_out),
			                 &n) == FRAME_OK);
			CHECK_EQ_U64(n, len + FRAME_OVERHEAD);
			CHECK_EQ_U64(get_be(big_out, 4), len + FRAME_LENGTH_MIN);
			CHECK(len < 16 || memcmp(big_out + FRAME_HDR_LEN, big_in,
			                         16) != 0); /* encrypted */
			CHECK(frame_open(&rx, big_out, n, &v) == FRAME_OK);
			CHECK_EQ_U64(v.type, type);
			CHECK_EQ_U64(v.flags, flags);
			CHECK_EQ_U64(v.epoch, 7);
			CHECK_EQ_U64(v.counter, counter);
			CHECK(!v.prev_epoch);
			CHECK_EQ_U64(v.payload_len, len);
			CHECK(memcmp(v.payload, big_in, len) == 0);
			counter++;
			bytes += len;
		}
	}

	/* The largest payload the default limit allows, and one more. */
	{
		size_t len = FRAME_PAYLOAD_MAX(FRAME_MAX_DEFAULT), n = 0;
		struct frame_view v;

		CHECK(frame_seal(&tx, 3, 0, big_in, len, big_out,
		                 sizeof(big_out), &n) == FRAME_OK);
		CHECK_EQ_U64(n, FRAME_MAX_DEFAULT);
		CHECK(frame_open(&rx, big_out, n, &v) == FRAME_OK);
		CHECK(memcmp(v.payload, big_in, len) == 0);
		CHECK(frame_seal(&tx, 3, 0, big_in, len + 1, big_out,
		                 sizeof(big_out), &n) == FRAME_E_TOO_BIG);
		CHECK_EQ_U64(tx.stats.err_too_big, 1);
		counter++;
		bytes += len;
	}
	CHECK_EQ_U64(tx.stats.frames, counter);
	CHECK_EQ_U64(rx.stats.frames, counter);
	CHECK_EQ_U64(tx.stats.payload_bytes, bytes);
	CHECK_EQ_U64(rx.stats.payload_bytes, bytes);
	CHECK_EQ_U64(rx_errors(&rx.stats), 0);
	frame_tx_wipe(&tx);
	frame_rx_wipe(&rx);
}

/* Gathered and in-place sealing give frame_seal's bytes exactly. */
static void test_sealv_inplace(enum aead_alg alg)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 64, 100, 1000, 70000};
	struct frame_tx t1, t2, t3;
	struct frame_rx rx;

	pair(&t1, &rx, alg, 4, 9);
	pair(&t2, &rx, alg, 4, 9);
	pair(&t3, &rx, alg, 4, 9);
	for (size_t i = 0; i < 70000; i++)
		big_in[i] = (uint8_t)rng();

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int round = 0; round < 20; round++) {
			size_t len = sizes[s], n1 = 0, n2 = 0, n3 = 0, off = 0;
			struct aead_iov iov[12];
			unsigned niov = 0;

			/* Random cuts, empty pieces included. */
			while (off < len && niov < 11) {
				size_t piece = (size_t)(rng() % (len - off + 1));
				if (rng() % 4 == 0)
					piece = 0;
				iov[niov].base = big_in + off;
				iov[niov++].len = piece;
				off += piece;
			}
			iov[niov].base = big_in + off;
			iov[niov++].len = len - off;

			CHECK(frame_seal(&t1, 3, 1, big_in, len, big_ref,
			                 sizeof(big_ref), &n1) == FRAME_OK);
			CHECK(frame_sealv(&t2, 3, 1, iov, niov, big_out,
			                  sizeof(big_out), &n2) == FRAME_OK);
			CHECK_EQ_U64(n1, n2);
			CHECK(memcmp(big_ref, big_out, n1) == 0);

			memcpy(big_out + FRAME_HDR_LEN, big_in, len);
			CHECK(frame_seal_inplace(&t3, 3, 1, big_out,
			                         len, len + FRAME_OVERHEAD,
			                         &n3) == FRAME_OK);
			CHECK_EQ_U64(n1, n3);
			CHECK(memcmp(big_ref, big_out, n1) == 0);
		}
	}
	/* No pieces at all is an empty payload. */
	{
		size_t n1 = 0, n2 = 0;

		CHECK(frame_seal(&t1, 5, 0, NULL, 0, big_ref, 64, &n1) ==
		      FRAME_OK);
		CHECK(frame_sealv(&t2, 5, 0, NULL, 0, big_out, 64, &n2) ==
		      FRAME_OK);
		CHECK(n1 == FRAME_OVERHEAD && n2 == n1);
		CHECK(memcmp(big_ref, big_out, n1) == 0);
	}
	/* In place needs room for the tag. */
	{
		size_t n = 0;

		CHECK(frame_seal_inplace(&t3, 3, 0, big_out, 100, 100 +
		                         FRAME_OVERHEAD - 1, &n) ==
		      FRAME_E_NO_SPACE);
	}
}

/* --- rejections ------------------------------------------------------------------ */

/* Flip every bit of a small frame: each flip is rejected with the status
 * of the field it hit, counted, and the link still takes the good frame. */
static void test_bitflips(enum aead_alg alg)
{
	struct frame_tx tx;
	struct frame_rx rx;
	uint8_t good[64], bad[64];
	const char payload[] = "8 bytes!";
	size_t n, flips = 0;
	uint64_t by[FRAME_E_CRYPTO + 1] = {0};
	struct frame_view v;

	pair(&tx, &rx, alg, 0x0203, 5);
	n = seal(&tx, 3, payload, 8, good, sizeof(good));
	CHECK_EQ_U64(n, 40);

	for (size_t bit = 0; bit < n * 8; bit++) {
		enum frame_status st;

		memcpy(bad, good, n);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		st = frame_open(&rx, bad, n, &v);
		CHECK(st != FRAME_OK);
		if (st > FRAME_E_CRYPTO)
			continue;
		by[st]++;
		flips++;
		if (bit < 32) /* length */
			CHECK(st == FRAME_E_TOO_BIG || st == FRAME_E_RUNT ||
			      st == FRAME_E_TRUNCATED ||
			      st == FRAME_E_OVERLONG);
		else if (bit < 48) /* type, flags: only the tag sees them */
			CHECK(st == FRAME_E_AUTH);
		else if (bit < 64) /* epoch */
			CHECK(st == FRAME_E_EPOCH);
		else if (bit < 128) /* counter: expected 0, any flip is ahead */
			CHECK(st == FRAME_E_GAP);
		else /* ciphertext, tag */
			CHECK(st == FRAME_E_AUTH);
		CHECK_EQ_U64(rx_next(&rx), 0);
	}
	CHECK_EQ_U64(flips, n * 8);
	CHECK_EQ_U64(rx_errors(&rx.stats), n * 8);
	CHECK_EQ_U64(rx.stats.err_auth, by[FRAME_E_AUTH]);
	CHECK_EQ_U64(rx.stats.err_auth, 16 + (n - 16) * 8);
	CHECK_EQ_U64(rx.stats.err_epoch, 16);
	CHECK_EQ_U64(rx.stats.err_gap, 64);
	CHECK_EQ_U64(rx.stats.err_too_big + rx.stats.err_runt +
	             rx.stats.err_truncated + rx.stats.err_overlong, 32);
	CHECK(by[FRAME_E_TOO_BIG] > 0 && by[FRAME_E_OVERLONG] > 0 &&
	      by[FRAME_E_TRUNCATED] > 0 && by[FRAME_E_RUNT] > 0);
	CHECK_EQ_U64(rx.stats.frames, 0);

	/* The link recovers: the untouched frame opens. */
	open_ok(&rx, good, n, payload, 8, 0);
	CHECK_EQ_U64(rx.stats.frames, 1);
}

static void test_replay_gap(enum aead_alg alg)
{
	struct frame_tx tx;
	struct frame_rx rx;
	uint8_t f[4][64], copy[64];
	size_t n[4];
	struct frame_view v;

	pair(&tx, &rx, alg, 1, 6);
	for (int i = 0; i < 4; i++)
		n[i] = seal(&tx, 4, "ack!", 4, f[i], sizeof(f[i]));

	/* Reordered: 1 before 0 is a gap, then both open in order. */
	memcpy(copy, f[1], n[1]);
	CHECK(frame_open(&rx, copy, n[1], &v) == FRAME_E_GAP);
	CHECK_EQ_U64(rx.stats.err_gap, 1);
	CHECK_EQ_U64(rx_next(&rx), 0);
	open_ok(&rx, f[0], n[0], "ack!", 4, 0);

	/* Replay of an accepted frame. */
	memcpy(copy, f[0], n[0]);
	CHECK(frame_open(&rx, copy, n[0], &v) == FRAME_E_REPLAY);
	CHECK_EQ_U64(rx.stats.err_replay, 1);
	CHECK_EQ_U64(rx_next(&rx), 1);

	/* Skipped counter (frame 1 dropped): 2 is refused... */
	memcpy(copy, f[2], n[2]);
	CHECK(frame_open(&rx, copy, n[2], &v) == FRAME_E_GAP);
	CHECK_EQ_U64(rx.stats.err_gap, 2);
	CHECK_EQ_U64(rx_next(&rx), 1);
	/* ...and the link recovers when 1 arrives. */
	open_ok(&rx, f[1], n[1], "ack!", 4, 1);
	open_ok(&rx, f[2], n[2], "ack!", 4, 2);
	/* Replaying an old one later is still a replay. */
	memcpy(copy, f[1], n[1]);
	CHECK(frame_open(&rx, copy, n[1], &v) == FRAME_E_REPLAY);
	open_ok(&rx, f[3], n[3], "ack!", 4, 3);
	CHECK_EQ_U64(rx.stats.frames, 4);
	CHECK_EQ_U64(rx_errors(&rx.stats), 4);
}

static void test_wrong_key(enum aead_alg alg)
{
	struct frame_tx tx;
	struct frame_rx rx;
	struct frame_keys k;
	uint8_t f[64], copy[64];
	size_t n;
	struct frame_view v;

	pair(&tx, &rx, alg, 1, 7);
	n = seal(&tx, 3, "secret payload", 14, f, sizeof(f));

	for (int variant = 0; variant < 3; variant++) {
		struct frame_rx other;
		int zero = 1;

		keys_for(&k, alg, 7);
		if (variant == 0)
			k.key[5] ^= 1; /* wrong key */
		else if (variant == 1)
			k.salt[11] ^= 1; /* wrong salt: wrong nonce */
		else
			k.alg = alg == AEAD_AES256_GCM ? AEAD_CHACHA20_POLY1305
			                               : AEAD_AES256_GCM;
		CHECK(frame_rx_init(&other, 0) == FRAME_OK);
		CHECK(frame_rx_install_epoch(&other, 1, &k) == FRAME_OK);
		memcpy(copy, f, n);
		CHECK(frame_open(&other, copy, n, &v) == FRAME_E_AUTH);
		CHECK_EQ_U64(other.stats.err_auth, 1);
		CHECK_EQ_U64(rx_next(&other), 0);
		/* No unauthenticated plaintext is left behind. */
		for (size_t i = FRAME_HDR_LEN; i < n - FRAME_TAG_LEN; i++)
			zero &= copy[i] == 0;
		CHECK(zero);
		frame_rx_wipe(&other);
	}
	/* The right receiver still opens it. */
	open_ok(&rx, f, n, "secret payload", 14, 0);
}

static void test_wrong_epoch(enum aead_alg alg)
{
	struct frame_tx tx;
	struct frame_rx rx, none;
	struct frame_keys k;
	uint8_t f[64], copy[64];
	size_t n;
	struct frame_view v;

	keys_for(&k, alg, 8);
	CHECK(frame_tx_init(&tx, 0) == FRAME_OK);
	CHECK(frame_rx_init(&rx, 0) == FRAME_OK);
	CHECK(frame_tx_set_epoch(&tx, 5, &k) == FRAME_OK);
	CHECK(frame_rx_install_epoch(&rx, 6, &k) == FRAME_OK);
	n = seal(&tx, 3, "x", 1, f, sizeof(f));
	memcpy(copy, f, n);
	CHECK(frame_open(&rx, copy, n, &v) == FRAME_E_EPOCH);
	CHECK_EQ_U64(rx.stats.err_epoch, 1);

	/* A receiver without any key knows no epoch. */
	CHECK(frame_rx_init(&none, 0) == FRAME_OK);
	memcpy(copy, f, n);
	CHECK(frame_open(&none, copy, n, &v) == FRAME_E_EPOCH);

	/* A sender without a key seals nothing. */
	CHECK(frame_tx_init(&tx, 0) == FRAME_OK);
	CHECK(frame_seal(&tx, 3, 0, "x", 1, f, sizeof(f), &n) ==
	      FRAME_E_NO_KEY);
	CHECK_EQ_U64(tx.stats.err_no_key, 1);
}

static void test_lengths(enum aead_alg alg)
{
	struct frame_tx tx;
	struct frame_rx rx;
	uint8_t f[128], copy[128];
	size_t n, fl;
	struct frame_view v;

	pair(&tx, &rx, alg, 1, 10);
	n = seal(&tx, 3, "twelve bytes", 12, f, sizeof(f));
	CHECK_EQ_U64(n, 44);

	/* Truncated at every length short of the frame. */
	for (size_t cut = 0; cut < n; cut++) {
		memcpy(copy, f, n);
		CHECK(frame_open(&rx, copy, cut, &v) == FRAME_E_TRUNCATED);
	}
	CHECK(frame_open(&rx, NULL, 0, &v) == FRAME_E_TRUNCATED);
	CHECK_EQ_U64(rx.stats.err_truncated, n + 1);
	/* One byte more than the length declares. */
	memcpy(copy, f, n);
	copy[n] = 0;
	CHECK(frame_open(&rx, copy, n + 1, &v) == FRAME_E_OVERLONG);
	CHECK_EQ_U64(rx.stats.err_overlong, 1);
	/* Length below header + tag. */
	for (uint32_t bad = 0; bad < FRAME_LENGTH_MIN; bad += 9) {
		memcpy(copy, f, n);
		put_be(copy, bad, 4);
		CHECK(frame_open(&rx, copy, n, &v) == FRAME_E_RUNT);
		CHECK(frame_peek_len(&rx, copy, 4, &fl) == FRAME_E_RUNT);
	}
	/* Length past the limit: refused from the 4 length bytes alone. */
	memcpy(copy, f, n);
	put_be(copy, FRAME_MAX_DEFAULT - FRAME_LEN_FIELD + 1, 4);
	CHECK(frame_peek_len(&rx, copy, 4, &fl) == FRAME_E_TOO_BIG);
	CHECK(frame_open(&rx, copy, n, &v) == FRAME_E_TOO_BIG);
	put_be(copy, 0xffffffffu, 4);
	CHECK(frame_peek_len(&rx, copy, 4, &fl) == FRAME_E_TOO_BIG);
	CHECK_EQ_U64(rx.stats.err_too_big, 3);
	/* Exactly the limit is fine as far as peek is concerned. */
	put_be(copy, FRAME_MAX_DEFAULT - FRAME_LEN_FIELD, 4);
	CHECK(frame_peek_len(&rx, copy, 4, &fl) == FRAME_NEED_MORE);
	CHECK_EQ_U64(fl, FRAME_MAX_DEFAULT);
	CHECK_EQ_U64(rx_next(&rx), 0);
	CHECK_EQ_U64(rx.stats.frames, 0);

	/* Peek on the good frame, byte by byte as a stream reader sees it. */
	for (size_t avail = 0; avail <= n + 3; avail++) {
		enum frame_status st = frame_peek_len(&rx, f, avail, &fl);

		if (avail < 4) {
			CHECK(st == FRAME_NEED_MORE);
			CHECK_EQ_U64(fl, 0);
		} else if (avail < n) {
			CHECK(st == FRAME_NEED_MORE);
			CHECK_EQ_U64(fl, n);
		} else {
			CHECK(st == FRAME_OK);
			CHECK_EQ_U64(fl, n);
		}
	}
	open_ok(&rx, f, n, "twelve bytes", 12, 0);
}

static void test_limits(void)
{
	struct frame_tx tx;
	struct frame_rx rx, small;
	struct frame_keys k;
	size_t n;
	struct frame_view v;

	CHECK(frame_tx_init(&tx, 100) == FRAME_E_INVALID);
	CHECK(frame_tx_init(&tx, FRAME_MAX_CEIL + 1) == FRAME_E_INVALID);
	CHECK(frame_rx_init(&rx, FRAME_MAX_FLOOR - 1) == FRAME_E_INVALID);
	CHECK(frame_rx_init(&rx, 0) == FRAME_OK);
	CHECK_EQ_U64(rx.max_frame, FRAME_MAX_DEFAULT);

	keys_for(&k, AEAD_DEFAULT, 11);
	CHECK(frame_tx_init(&tx, 4096) == FRAME_OK);
	CHECK(frame_rx_init(&rx, 4096) == FRAME_OK);
	CHECK(frame_rx_init(&small, 2048) == FRAME_OK);
	CHECK(frame_tx_set_epoch(&tx, 1, &k) == FRAME_OK);
	CHECK(frame_rx_install_epoch(&rx, 1, &k) == FRAME_OK);
	CHECK(frame_rx_install_epoch(&small, 1, &k) == FRAME_OK);

	CHECK(frame_seal(&tx, 3, 0, big_in, 4096 - FRAME_OVERHEAD + 1, big_out,
	                 sizeof(big_out), &n) == FRAME_E_TOO_BIG);
	CHECK(frame_seal(&tx, 3, 0, big_in, 4096 - FRAME_OVERHEAD, big_out,
	                 4095, &n) == FRAME_E_NO_SPACE);
	CHECK_EQ_U64(tx.stats.err_no_space, 1);
	CHECK(frame_seal(&tx, 3, 0, big_in, 4096 - FRAME_OVERHEAD, big_out,
	                 4096, &n) == FRAME_OK);
	CHECK_EQ_U64(n, 4096);
	CHECK(frame_seal(&tx, 3, 0, NULL, 5, big_out, 4096, &n) ==
	      FRAME_E_INVALID);
	memcpy(big_ref, big_out, n);
	/* A receiver with a smaller limit refuses it before decrypting. */
	CHECK(frame_peek_len(&small, big_ref, 4, &n) == FRAME_E_TOO_BIG);
	CHECK(frame_open(&small, big_ref, 4096, &v) == FRAME_E_TOO_BIG);
	CHECK_EQ_U64(small.stats.err_too_big, 2);
	CHECK(frame_open(&rx, big_out, 4096, &v) == FRAME_OK);

	/* The counter never wraps: the sender refuses the last value. */
	tx.slot[tx.cur].next = UINT64_MAX - 1;
	CHECK(frame_seal(&tx, 3, 0, "a", 1, big_out, 64, &n) == FRAME_OK);
	CHECK_EQ_U64(get_be(big_out + 8, 8), UINT64_MAX - 1);
	CHECK(frame_seal(&tx, 3, 0, "a", 1, big_out, 64, &n) ==
	      FRAME_E_EXHAUSTED);
	CHECK_EQ_U64(tx.stats.err_exhausted, 1);
	/* A rekey gets the sender going again. */
	keys_for(&k, AEAD_DEFAULT, 12);
	CHECK(frame_tx_set_epoch(&tx, 2, &k) == FRAME_OK);
	CHECK(frame_seal(&tx, 3, 0, "a", 1, big_out, 64, &n) == FRAME_OK);
	CHECK_EQ_U64(get_be(big_out + 8, 8), 0);
}

/* --- epochs ------------------------------------------------------------------------ */

static void test_epochs(enum aead_alg alg)
{
	struct frame_tx tx;
	struct frame_rx rx;
	struct frame_keys k1, k2, k3;
	uint8_t old[4][64], nw[3][64], copy[64];
	size_t on[4], nn[3];
	struct frame_view v;

	keys_for(&k1, alg, 21);
	keys_for(&k2, alg, 22);
	keys_for(&k3, alg, 23);

	/* Explicit retire: old-epoch frames open until retired. */
	pair(&tx, &rx, alg, 1, 21);
	for (int i = 0; i < 4; i++)
		on[i] = seal(&tx, 3, "old", 3, old[i], sizeof(old[i]));
	CHECK(frame_tx_set_epoch(&tx, 1, &k2) == FRAME_E_INVALID);
	CHECK(frame_tx_set_epoch(&tx, 2, &k1) == FRAME_E_INVALID);
	CHECK_EQ_U64(tx.stats.err_invalid, 2);
	CHECK(frame_tx_set_epoch(&tx, 2, &k2) == FRAME_OK);
	CHECK_EQ_U64(tx.stats.epoch_switches, 1);
	for (int i = 0; i < 3; i++)
		nn[i] = seal(&tx, 3, "new", 3, nw[i], sizeof(nw[i]));
	CHECK_EQ_U64(get_be(nw[0] + 6, 2), 2);
	CHECK_EQ_U64(get_be(nw[0] + 8, 8), 0); /* counter restarted */

	CHECK(frame_rx_install_epoch(&rx, 1, &k2) == FRAME_E_INVALID);
	CHECK(frame_rx_install_epoch(&rx, 2, &k1) == FRAME_E_INVALID);
	CHECK(frame_rx_install_epoch(&rx, 2, &k2) == FRAME_OK);
	CHECK(frame_rx_install_epoch(&rx, 1, &k3) == FRAME_E_INVALID);
	CHECK_EQ_U64(rx.stats.err_invalid, 3);
	memcpy(copy, old[0], on[0]);
	CHECK(frame_open(&rx, copy, on[0], &v) == FRAME_OK);
	CHECK(v.prev_epoch && v.epoch == 1 && v.counter == 0);
	memcpy(copy, old[1], on[1]);
	CHECK(frame_open(&rx, copy, on[1], &v) == FRAME_OK);
	CHECK(v.prev_epoch);
	CHECK_EQ_U64(rx.stats.prev_epoch_frames, 2);
	frame_rx_retire_previous(&rx);
	CHECK_EQ_U64(rx.stats.epoch_retires, 1);
	memcpy(copy, old[2], on[2]);
	CHECK(frame_open(&rx, copy, on[2], &v) == FRAME_E_EPOCH);
	open_ok(&rx, nw[0], nn[0], "new", 3, 0);

	/* Implicit retire: in order, the first new-epoch frame ends the old
	 * epoch; an old frame after it is refused. */
	pair(&tx, &rx, alg, 1, 21);
	for (int i = 0; i < 4; i++)
		on[i] = seal(&tx, 3, "old", 3, old[i], sizeof(old[i]));
	CHECK(frame_tx_set_epoch(&tx, 2, &k2) == FRAME_OK);
	for (int i = 0; i < 3; i++)
		nn[i] = seal(&tx, 3, "new", 3, nw[i], sizeof(nw[i]));
	CHECK(frame_rx_install_epoch(&rx, 2, &k2) == FRAME_OK);
	/* Two old frames still in flight, then the switch. */
	open_ok(&rx, old[0], on[0], "old", 3, 0);
	open_ok(&rx, old[1], on[1], "old", 3, 1);
	open_ok(&rx, nw[0], nn[0], "new", 3, 0);
	CHECK_EQ_U64(rx.stats.epoch_retires, 1);
	memcpy(copy, old[2], on[2]);
	CHECK(frame_open(&rx, copy, on[2], &v) == FRAME_E_EPOCH);
	open_ok(&rx, nw[1], nn[1], "new", 3, 1);

	/* A third install drops the oldest key: at most two. */
	pair(&tx, &rx, alg, 1, 21);
	on[0] = seal(&tx, 3, "old", 3, old[0], sizeof(old[0]));
	CHECK(frame_rx_install_epoch(&rx, 2, &k2) == FRAME_OK);
	CHECK(frame_rx_install_epoch(&rx, 3, &k3) == FRAME_OK);
	CHECK_EQ_U64(rx.stats.epoch_installs, 3);
	CHECK_EQ_U64(rx.stats.epoch_retires, 1);
	memcpy(copy, old[0], on[0]);
	CHECK(frame_open(&rx, copy, on[0], &v) == FRAME_E_EPOCH);
	/* Epoch numbers may wrap: 65535 then 0. */
	CHECK(frame_tx_set_epoch(&tx, 65535, &k2) == FRAME_OK);
	CHECK(frame_tx_set_epoch(&tx, 0, &k3) == FRAME_OK);
	/* Unknown cipher. */
	k1.alg = (enum aead_alg)9;
	CHECK(frame_tx_set_epoch(&tx, 7, &k1) == FRAME_E_INVALID);
	CHECK(frame_rx_install_epoch(&rx, 7, &k1) == FRAME_E_INVALID);
	CHECK(frame_tx_set_epoch(&tx, 7, NULL) == FRAME_E_INVALID);
	frame_tx_wipe(&tx);
	frame_rx_wipe(&rx);
	CHECK(!tx.slot[0].live && !tx.slot[1].live);
	CHECK(!rx.slot[0].live && !rx.slot[1].live);
}

/* --- names -------------------------------------------------------------------------- */

struct visit {
	size_t n;
	int bad;
};

static void visit(void *arg, const char *name, uint64_t value)
{
	struct visit *vs = arg;

	vs->n++;
	vs->bad |= name == NULL || name[0] == '\0' || value != 0;
}

static void test_names(void)
{
	struct frame_tx_stats ts;
	struct frame_rx_stats rs;
	struct visit vt = {0, 0}, vr = {0, 0};
	struct aead a;
	uint8_t key[AEAD_KEY_LEN] = {0};

	memset(&ts, 0, sizeof(ts));
	memset(&rs, 0, sizeof(rs));
	frame_tx_stats_foreach(&ts, visit, &vt);
	frame_rx_stats_foreach(&rs, visit, &vr);
	CHECK_EQ_U64(vt.n, sizeof(ts) / sizeof(uint64_t));
	CHECK_EQ_U64(vr.n, sizeof(rs) / sizeof(uint64_t));
	CHECK(!vt.bad && !vr.bad);

	for (int i = FRAME_OK; i <= FRAME_E_CRYPTO; i++)
		for (int j = FRAME_OK; j < i; j++)
			CHECK(strcmp(frame_status_str((enum frame_status)i),
			             frame_status_str((enum frame_status)j)) != 0);
	CHECK(strcmp(aead_alg_name(AEAD_AES256_GCM), "aes-256-gcm") == 0);
	CHECK(strcmp(aead_alg_name(AEAD_CHACHA20_POLY1305),
	             "chacha20-poly1305") == 0);
	CHECK(aead_init(&a, (enum aead_alg)5, key) == EINVAL);
	CHECK(a.alg == AEAD_NONE);
}

int main(void)
{
	test_golden();
	test_nonce();
	for (size_t a = 0; a < NALGS; a++) {
		test_round_trip(algs[a]);
		test_sealv_inplace(algs[a]);
		test_bitflips(algs[a]);
		test_replay_gap(algs[a]);
		test_wrong_key(algs[a]);
		test_wrong_epoch(algs[a]);
		test_lengths(algs[a]);
		test_epochs(algs[a]);
	}
	test_limits();
	test_names();
	CHECK_DONE();
}

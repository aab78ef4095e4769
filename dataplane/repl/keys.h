/*
 * keys.h - the interim key schedule of a replication link (session.h, step
 * 1), until loom-controld hands out keys from the TLS exporter (issue 6):
 * every TCP connection derives fresh keys for both directions from the
 * cluster secret and the two nonces of the clear preamble, so frame
 * counters may restart at 0 on every connection (frame.h) without ever
 * repeating a (key, nonce) pair or letting frames recorded from an old
 * connection open on a new one.
 *
 * Direction from -> to, in epoch 1:
 *
 *   okm  = HKDF-SHA256(ikm  = secret (32 bytes),
 *                      salt = cluster id (u64 big-endian),
 *                      info = "loom repl" | from id u16 BE | to id u16 BE |
 *                             nonce of the connecting side (32) |
 *                             nonce of the accepting side (32),
 *                      L = 44)
 *   key  = okm[0..32), nonce salt = okm[32..44)
 *
 * The two directions differ by the order of the ids, so a node never
 * seals with the key it opens with (no reflection). Both ends compute
 * both directions from the same inputs.
 */
#ifndef LOOM_REPL_KEYS_H
#define LOOM_REPL_KEYS_H

#include <stdint.h>

#include "dataplane/repl/frame.h"

#define REPL_KEYS_SECRET_LEN 32
#define REPL_KEYS_NONCE_LEN 32
#define REPL_KEYS_INFO_LABEL "loom repl"

/* Fill *out (alg, key, salt) for direction from -> to. 0, EINVAL for a
 * NULL argument, EIO if wolfCrypt fails (then *out is wiped). The caller
 * wipes *out once the frame layer has taken it. */
int repl_keys_derive(const uint8_t secret[REPL_KEYS_SECRET_LEN],
                     uint64_t cluster_id, uint16_t from_id, uint16_t to_id,
                     const uint8_t nonce_connect[REPL_KEYS_NONCE_LEN],
                     const uint8_t nonce_accept[REPL_KEYS_NONCE_LEN],
                     enum aead_alg alg, struct frame_keys *out);

#endif

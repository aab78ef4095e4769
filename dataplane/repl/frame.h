/*
 * frame.h - the replication link's frames (DESIGN §4): counters, AEAD and
 * replay protection, nothing more. WireGuard's data path is the model. Pure
 * C, no DPDK, no sockets: the caller moves the bytes (our TCP), this file
 * only seals and opens them.
 *
 * Wire layout, all integers big-endian:
 *
 *   off   size  field
 *     0      4  length  = bytes after this field = 12 + payload + 16
 *     4      1  type    (msg.h; opaque here)
 *     5      1  flags   (msg.h; opaque here)
 *     6      2  key epoch
 *     8      8  frame counter
 *    16      n  payload, encrypted
 *  16+n     16  tag
 *
 * The 16 header bytes (length included) are the AEAD's additional data, so
 * every header bit is authenticated: a changed type, flag, epoch, counter
 * or length fails. A frame is 4 + length = n + FRAME_OVERHEAD bytes; an
 * empty payload gives length FRAME_LENGTH_MIN (28).
 *
 * Size bound. Each direction has a maximum frame size max_frame, counted as
 * the whole frame (4 + length), default FRAME_MAX_DEFAULT (1 MiB), settable
 * in [FRAME_MAX_FLOOR, FRAME_MAX_CEIL]. A length that makes a frame larger
 * is refused from the first 4 bytes (frame_peek_len), before anything is
 * buffered or decrypted. max_frame must hold the largest BATCH the sender
 * will build, i.e. at least one entry of the configured body limit
 * (msg.h: MSG_FRAME_MAX_FOR_BODY).
 *
 * Keys. Per direction and per key epoch: a 32-byte key and a 12-byte salt
 * (both exported by loom-controld from the pair's mTLS session) and the
 * AEAD (aead.h) chosen at install. nonce = salt XOR (0^4 || counter as 8
 * big-endian bytes), i.e. the counter lands on the last 8 bytes. A key
 * belongs to one TCP connection: counters restart at 0 with every
 * frame_tx/rx, so keys reused on a new connection would let frames
 * recorded from the old one open again (and repeat nonces). DESIGN §5
 * rekeys on every reconnect; any interim key scheme must do the same.
 *
 * Counters and replay. Each direction's counter starts at 0 in every key
 * epoch and grows by one per frame; the sender never wraps it (at
 * UINT64_MAX it refuses with FRAME_E_EXHAUSTED: rekey). Under one key a
 * counter, hence a nonce, is never used twice. TCP delivers in order and
 * exactly once, so the receiver accepts exactly the next expected counter:
 * a lower one is a replay (FRAME_E_REPLAY), a higher one means a frame was
 * dropped or reordered (FRAME_E_GAP). WireGuard needs a sliding window
 * (RFC 6479) because UDP legitimately reorders and drops; over TCP either
 * is impossible from an honest sender, so any deviation is an attack or a
 * bug and strictness costs nothing. The counter is also in the nonce and
 * the AAD, so a forged counter that passed this check would still fail the
 * tag.
 *
 * Epochs. The sender has one key (frame_tx_set_epoch switches at a frame
 * boundary, counter back to 0). The receiver holds the current epoch and,
 * during a switch, the previous one: the control plane installs the new
 * receive key first (frame_rx_install_epoch), then tells the peer to switch.
 * Frames still in flight under the old epoch open with the old key and its
 * own counter. Because TCP is in order, the first frame accepted under the
 * new epoch proves the sender has left the old one, so the receiver retires
 * the previous key right there; frame_rx_retire_previous does it explicitly
 * (a timer, a withdrawn key, a peer that never switched). Epoch numbers
 * must differ from the current and previous ones (they may wrap), and a new
 * key must differ from the current one: restarting the counter under the
 * same key and salt would reuse nonces.
 *
 * Rejection. frame_open checks, in this order: length (runt, over-limit,
 * truncated, overlong), epoch, counter, tag. Each failure has its own
 * status and its own counter in the direction's stats, and none advances
 * the expected counter or changes the epochs: the next good frame still
 * opens. (Over TCP the caller will usually close the link anyway, since an
 * error means corruption or an attack; the codec does not force that.) On
 * a tag failure the payload bytes are zeroed. An error from frame_peek_len
 * is fatal for a byte stream: the frame boundary is lost.
 *
 * Memory: struct frame_tx / frame_rx are embedded by the caller; nothing
 * here allocates. Single-threaded per direction (the repl lcore); the stats
 * are plain counters other threads read relaxed (dataplane/counters.h).
 */
#ifndef LOOM_REPL_FRAME_H
#define LOOM_REPL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/repl/aead.h"

#define FRAME_LEN_FIELD 4
#define FRAME_HDR_LEN 16 /* length, type, flags, epoch, counter: the AAD */
#define FRAME_TAG_LEN AEAD_TAG_LEN
#define FRAME_OVERHEAD (FRAME_HDR_LEN + FRAME_TAG_LEN)              /* 32 */
#define FRAME_LENGTH_MIN (FRAME_OVERHEAD - FRAME_LEN_FIELD)          /* 28 */
#define FRAME_KEY_LEN AEAD_KEY_LEN
#define FRAME_SALT_LEN AEAD_NONCE_LEN

#define FRAME_MAX_DEFAULT (1u << 20)
#define FRAME_MAX_FLOOR 1024u        /* any HELLO, ERROR, small BATCH fits */
#define FRAME_MAX_CEIL (64u << 20)   /* a 16 MiB entry fits, with room */

/* The largest payload of a frame of max_frame bytes. */
#define FRAME_PAYLOAD_MAX(max_frame) ((size_t)(max_frame) - FRAME_OVERHEAD)

/* Results. FRAME_OK is 0; FRAME_NEED_MORE only from frame_peek_len. */
#define FRAME_STATUS_LIST(X)                                                  \
	X(FRAME_OK, "ok")                                                     \
	X(FRAME_NEED_MORE, "need more bytes")                                 \
	X(FRAME_E_TOO_BIG, "frame above the maximum frame size")              \
	X(FRAME_E_RUNT, "length below header + tag")                          \
	X(FRAME_E_TRUNCATED, "fewer bytes than the length declares")          \
	X(FRAME_E_OVERLONG, "more bytes than the length declares")            \
	X(FRAME_E_EPOCH, "unknown or retired key epoch")                      \
	X(FRAME_E_REPLAY, "counter below the next expected (replay)")         \
	X(FRAME_E_GAP, "counter above the next expected (drop or reorder)")   \
	X(FRAME_E_AUTH, "authentication failed (wrong key or altered frame)") \
	X(FRAME_E_NO_KEY, "no key installed")                                 \
	X(FRAME_E_NO_SPACE, "output buffer too small")                        \
	X(FRAME_E_EXHAUSTED, "frame counter exhausted: rekey")                \
	X(FRAME_E_INVALID, "invalid argument")                                \
	X(FRAME_E_CRYPTO, "cipher failure")

enum frame_status {
#define FRAME_STATUS_ENUM(name, text) name,
	FRAME_STATUS_LIST(FRAME_STATUS_ENUM)
#undef FRAME_STATUS_ENUM
};

const char *frame_status_str(enum frame_status st);

/* Per-direction counters, one X-macro list each (names for the stats file
 * and telemetry come from the same list). payload_bytes counts plaintext;
 * err_invalid and err_crypto also count refused key installs. */
#define FRAME_TX_STATS_LIST(X)                                                \
	X(frames) X(payload_bytes) X(epoch_switches)                          \
	X(err_no_key) X(err_too_big) X(err_no_space) X(err_exhausted)         \
	X(err_invalid) X(err_crypto)

#define FRAME_RX_STATS_LIST(X)                                                \
	X(frames) X(payload_bytes) X(prev_epoch_frames)                       \
	X(epoch_installs) X(epoch_retires)                                    \
	X(err_too_big) X(err_runt) X(err_truncated) X(err_overlong)           \
	X(err_epoch) X(err_replay) X(err_gap) X(err_auth) X(err_invalid)      \
	X(err_crypto)

struct frame_tx_stats {
#define FRAME_STATS_FIELD(name) uint64_t name;
	FRAME_TX_STATS_LIST(FRAME_STATS_FIELD)
};

struct frame_rx_stats {
	FRAME_RX_STATS_LIST(FRAME_STATS_FIELD)
#undef FRAME_STATS_FIELD
};

void frame_tx_stats_foreach(const struct frame_tx_stats *s,
                            void (*fn)(void *arg, const char *name,
                                       uint64_t value),
                            void *arg);
void frame_rx_stats_foreach(const struct frame_rx_stats *s,
                            void (*fn)(void *arg, const char *name,
                                       uint64_t value),
                            void *arg);

/* One direction's key material for one epoch, as the control plane hands
 * it over. The frame layer copies what it needs; the caller wipes this. */
struct frame_keys {
	enum aead_alg alg; /* AEAD_DEFAULT unless the cluster says otherwise */
	uint8_t key[FRAME_KEY_LEN];
	uint8_t salt[FRAME_SALT_LEN];
};

/* One live key: the cipher, the salt, the next counter. The raw key is kept
 * only to refuse its reuse at the next install (the AES schedule holds it
 * anyway: its first round key is the key). */
struct frame_key_slot {
	struct aead aead;
	uint8_t key[FRAME_KEY_LEN];
	uint8_t salt[FRAME_SALT_LEN];
	uint64_t next; /* tx: counter of the next frame; rx: next expected */
	uint16_t epoch;
	bool live;
};

/* Two slots each, switched by index: a new key is loaded into the spare
 * slot, so a refused key leaves the current one untouched and wolfCrypt's
 * Aes objects are never copied. For the receiver the spare slot is the
 * previous epoch. */
struct frame_tx {
	struct frame_key_slot slot[2];
	unsigned cur; /* 0 or 1 */
	size_t max_frame;
	struct frame_tx_stats stats;
};

struct frame_rx {
	struct frame_key_slot slot[2];
	unsigned cur; /* 0 or 1; slot[cur ^ 1] is the previous epoch */
	size_t max_frame;
	struct frame_rx_stats stats;
};

/* An opened frame. payload points into the caller's frame buffer. */
struct frame_view {
	uint8_t type;
	uint8_t flags;
	uint16_t epoch;
	uint64_t counter;
	bool prev_epoch; /* opened with the previous epoch's key */
	uint8_t *payload;
	size_t payload_len;
};

/* nonce = salt XOR (0^4 || be64(counter)). */
static inline void frame_nonce(const uint8_t salt[FRAME_SALT_LEN],
                               uint64_t counter,
                               uint8_t nonce[FRAME_SALT_LEN])
{
	for (unsigned i = 0; i < 4; i++)
		nonce[i] = salt[i];
	for (unsigned i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(salt[4 + i] ^ (counter >> (56 - 8 * i)));
}

/* --- sending ----------------------------------------------------------- */

/* max_frame 0 means FRAME_MAX_DEFAULT. FRAME_E_INVALID outside
 * [FRAME_MAX_FLOOR, FRAME_MAX_CEIL]. No key until frame_tx_set_epoch. */
enum frame_status frame_tx_init(struct frame_tx *tx, size_t max_frame);

/* Install (first call) or switch to (later calls) the key of epoch; the
 * counter restarts at 0 and the old key is wiped. FRAME_E_INVALID if epoch
 * is the current one, the key and salt are the current ones, or k->alg is
 * unknown; FRAME_E_CRYPTO if the cipher refuses the key. On an error the
 * current key stays in use. */
enum frame_status frame_tx_set_epoch(struct frame_tx *tx, uint16_t epoch,
                                     const struct frame_keys *k);

/* Wipe the key; the stats stay. */
void frame_tx_wipe(struct frame_tx *tx);

/* Seal payload[0..len) as the next frame into out[0..cap): *out_len =
 * len + FRAME_OVERHEAD. payload must not overlap out, except exactly at
 * out + FRAME_HDR_LEN (that is frame_seal_inplace). Errors: NO_KEY,
 * TOO_BIG (the frame would exceed max_frame), NO_SPACE (cap), EXHAUSTED,
 * CRYPTO; the counter advances only on FRAME_OK. */
enum frame_status frame_seal(struct frame_tx *tx, uint8_t type, uint8_t flags,
                             const void *payload, size_t len, uint8_t *out,
                             size_t cap, size_t *out_len);

/* Zero-copy sealing, variant 1: the payload is already in place at
 * buf + FRAME_HDR_LEN (a BATCH built there with msg_batch_begin, entries
 * copied once from LMDB), FRAME_TAG_LEN bytes of room after it, cap bytes
 * in all. The header is written in front and the payload encrypted where
 * it lies. */
enum frame_status frame_seal_inplace(struct frame_tx *tx, uint8_t type,
                                     uint8_t flags, uint8_t *buf,
                                     size_t payload_len, size_t cap,
                                     size_t *out_len);

/* Zero-copy sealing, variant 2: the payload is gathered from iov[0..n)
 * (the BATCH header from msg_batch_header, then each entry straight from
 * the LMDB read txn's pages); the cipher reads each piece once and writes
 * ciphertext to out + FRAME_HDR_LEN, so the encryption is the only copy.
 * The frame is byte for byte what frame_seal of the concatenation would
 * give. No piece may overlap out. The pieces are aead.h's struct aead_iov
 * { base, len }, passed through to the cipher's streaming API as they are. */
enum frame_status frame_sealv(struct frame_tx *tx, uint8_t type, uint8_t flags,
                              const struct aead_iov *iov, unsigned n,
                              uint8_t *out, size_t cap, size_t *out_len);

/* --- receiving --------------------------------------------------------- */

/* As frame_tx_init. No epoch until frame_rx_install_epoch. */
enum frame_status frame_rx_init(struct frame_rx *rx, size_t max_frame);

/* Make epoch the current receive key with expected counter 0; the current
 * one becomes the previous (a previous one still held is wiped first: at
 * most two keys). FRAME_E_INVALID if epoch equals the current or previous
 * epoch, the key and salt equal the current ones, or k->alg is unknown,
 * and then nothing changes. FRAME_E_CRYPTO if the cipher refuses the key
 * (the current epoch stays; a previous one is gone). */
enum frame_status frame_rx_install_epoch(struct frame_rx *rx, uint16_t epoch,
                                         const struct frame_keys *k);

/* Wipe the previous epoch's key (no-op without one): its frames fail with
 * FRAME_E_EPOCH from now on. */
void frame_rx_retire_previous(struct frame_rx *rx);

/* Wipe every key; the stats stay. */
void frame_rx_wipe(struct frame_rx *rx);

/* For a byte-stream reader: from the first avail bytes of the stream,
 * FRAME_OK and *frame_len (the whole frame, 4 + length) when the frame is
 * complete in buf; FRAME_NEED_MORE (and *frame_len when the length is
 * known, else 0) when more bytes are needed; FRAME_E_TOO_BIG or
 * FRAME_E_RUNT (counted in rx->stats) as soon as the 4 length bytes are
 * there. Nothing is decrypted and nothing but the stats changes. */
enum frame_status frame_peek_len(struct frame_rx *rx, const uint8_t *buf,
                                 size_t avail, size_t *frame_len);

/* Open the frame in frame[0..len) (len must be exactly the frame's size),
 * decrypting the payload in place. FRAME_OK fills *out and advances the
 * expected counter of the frame's epoch; any other status changes nothing
 * but the matching error counter (and zeroes the payload on E_AUTH). */
enum frame_status frame_open(struct frame_rx *rx, uint8_t *frame, size_t len,
                             struct frame_view *out);

#endif

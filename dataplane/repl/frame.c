/* frame.c - sealing and opening replication frames; see frame.h. */
#include "dataplane/repl/frame.h"

#include "storage/be.h"

#include <errno.h>
#include <string.h>

_Static_assert(FRAME_MAX_CEIL <= AEAD_MAX_LEN, "frames fit the cipher");
_Static_assert(FRAME_MAX_CEIL <= UINT32_MAX, "length field is u32");
_Static_assert(FRAME_MAX_FLOOR >= FRAME_OVERHEAD, "a frame fits the floor");

const char *frame_status_str(enum frame_status st)
{
	switch (st) {
#define FRAME_STATUS_CASE(name, text)                                         \
	case name:                                                            \
		return text;
		FRAME_STATUS_LIST(FRAME_STATUS_CASE)
#undef FRAME_STATUS_CASE
	}
	return "unknown frame status";
}

void frame_tx_stats_foreach(const struct frame_tx_stats *s,
                            void (*fn)(void *arg, const char *name,
                                       uint64_t value),
                            void *arg)
{
#define FRAME_STATS_VISIT(name) fn(arg, #name, s->name);
	FRAME_TX_STATS_LIST(FRAME_STATS_VISIT)
}

void frame_rx_stats_foreach(const struct frame_rx_stats *s,
                            void (*fn)(void *arg, const char *name,
                                       uint64_t value),
                            void *arg)
{
	FRAME_RX_STATS_LIST(FRAME_STATS_VISIT)
#undef FRAME_STATS_VISIT
}

/* --- keys ---------------------------------------------------------------- */

static bool max_frame_ok(size_t *max_frame)
{
	if (*max_frame == 0)
		*max_frame = FRAME_MAX_DEFAULT;
	return *max_frame >= FRAME_MAX_FLOOR && *max_frame <= FRAME_MAX_CEIL;
}

static void slot_wipe(struct frame_key_slot *s)
{
	aead_wipe(&s->aead);
	aead_memzero(s, sizeof(*s));
}

/* Key and salt equal to what slot s holds? Restarting the counter under
 * them would repeat every nonce (whatever the cipher: one key under two
 * ciphers is a misuse too). */
static bool slot_same_keys(const struct frame_key_slot *s,
                           const struct frame_keys *k)
{
	return s->live && memcmp(s->salt, k->salt, FRAME_SALT_LEN) == 0 &&
	       memcmp(s->key, k->key, FRAME_KEY_LEN) == 0;
}

/* Load k into the wiped slot s; on failure s stays wiped. */
static enum frame_status slot_load(struct frame_key_slot *s, uint16_t epoch,
                                   const struct frame_keys *k)
{
	if (aead_init(&s->aead, k->alg, k->key) != 0)
		return FRAME_E_CRYPTO;
	memcpy(s->key, k->key, FRAME_KEY_LEN);
	memcpy(s->salt, k->salt, FRAME_SALT_LEN);
	s->next = 0;
	s->epoch = epoch;
	s->live = true;
	return FRAME_OK;
}

static bool alg_known(enum aead_alg alg)
{
	return alg == AEAD_CHACHA20_POLY1305 || alg == AEAD_AES256_GCM;
}

/* --- sending --------------------------------------------------------------- */

enum frame_status frame_tx_init(struct frame_tx *tx, size_t max_frame)
{
	memset(tx, 0, sizeof(*tx));
	if (!max_frame_ok(&max_frame))
		return FRAME_E_INVALID;
	tx->max_frame = max_frame;
	return FRAME_OK;
}

enum frame_status frame_tx_set_epoch(struct frame_tx *tx, uint16_t epoch,
                                     const struct frame_keys *k)
{
	struct frame_key_slot *cur = &tx->slot[tx->cur];
	struct frame_key_slot *spare = &tx->slot[tx->cur ^ 1];

	if (k == NULL || !alg_known(k->alg) ||
	    (cur->live && (cur->epoch == epoch || slot_same_keys(cur, k)))) {
		tx->stats.err_invalid++;
		return FRAME_E_INVALID;
	}
	slot_wipe(spare);
	if (slot_load(spare, epoch, k) != FRAME_OK) {
		tx->stats.err_crypto++;
		return FRAME_E_CRYPTO;
	}
	if (cur->live)
		tx->stats.epoch_switches++;
	slot_wipe(cur);
	tx->cur ^= 1;
	return FRAME_OK;
}

void frame_tx_wipe(struct frame_tx *tx)
{
	slot_wipe(&tx->slot[0]);
	slot_wipe(&tx->slot[1]);
}

static void put_header(uint8_t *out, size_t payload_len, uint8_t type,
                       uint8_t flags, uint16_t epoch, uint64_t counter)
{
	put_be(out, payload_len + FRAME_LENGTH_MIN, 4);
	out[4] = type;
	out[5] = flags;
	put_be(out + 6, epoch, 2);
	put_be(out + 8, counter, 8);
}

/* The checks every seal shares; on FRAME_OK the header is written and the
 * frame's nonce computed. */
static enum frame_status seal_begin(struct frame_tx *tx, uint8_t type,
                                    uint8_t flags, size_t len, uint8_t *out,
                                    size_t cap, uint8_t *nonce)
{
	const struct frame_key_slot *k = &tx->slot[tx->cur];

	if (!k->live) {
		tx->stats.err_no_key++;
		return FRAME_E_NO_KEY;
	}
	if (len > FRAME_PAYLOAD_MAX(tx->max_frame)) {
		tx->stats.err_too_big++;
		return FRAME_E_TOO_BIG;
	}
	if (out == NULL || cap < len + FRAME_OVERHEAD) {
		tx->stats.err_no_space++;
		return FRAME_E_NO_SPACE;
	}
	if (k->next == UINT64_MAX) {
		tx->stats.err_exhausted++;
		return FRAME_E_EXHAUSTED;
	}
	put_header(out, len, type, flags, k->epoch, k->next);
	frame_nonce(k->salt, k->next, nonce);
	return FRAME_OK;
}

static enum frame_status seal_end(struct frame_tx *tx, int rc, size_t len,
                                  size_t *out_len)
{
	if (rc != 0) {
		tx->stats.err_crypto++;
		return FRAME_E_CRYPTO;
	}
	tx->slot[tx->cur].next++;
	tx->stats.frames++;
	tx->stats.payload_bytes += len;
	*out_len = len + FRAME_OVERHEAD;
	return FRAME_OK;
}

enum frame_status frame_seal(struct frame_tx *tx, uint8_t type, uint8_t flags,
                             const void *payload, size_t len, uint8_t *out,
                             size_t cap, size_t *out_len)
{
	uint8_t nonce[FRAME_SALT_LEN];
	enum frame_status st;
	uint8_t *ct;
	int rc;

	if (payload == NULL && len > 0) {
		tx->stats.err_invalid++;
		return FRAME_E_INVALID;
	}
	st = seal_begin(tx, type, flags, len, out, cap, nonce);
	if (st != FRAME_OK)
		return st;
	ct = out + FRAME_HDR_LEN;
	/* wolfCrypt wants a pointer even for 0 bytes; ct is one. */
	rc = aead_seal(&tx->slot[tx->cur].aead, nonce, out, FRAME_HDR_LEN,
	               len ? payload : ct, ct, len, ct + len);
	return seal_end(tx, rc, len, out_len);
}

enum frame_status frame_seal_inplace(struct frame_tx *tx, uint8_t type,
                                     uint8_t flags, uint8_t *buf,
                                     size_t payload_len, size_t cap,
                                     size_t *out_len)
{
	if (buf == NULL || cap < FRAME_HDR_LEN) {
		tx->stats.err_no_space++;
		return FRAME_E_NO_SPACE;
	}
	return frame_seal(tx, type, flags, buf + FRAME_HDR_LEN, payload_len,
	                  buf, cap, out_len);
}

enum frame_status frame_sealv(struct frame_tx *tx, uint8_t type, uint8_t flags,
                              const struct aead_iov *iov, unsigned n,
                              uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t nonce[FRAME_SALT_LEN];
	enum frame_status st;
	size_t len = 0;
	int rc;

	if (iov == NULL && n > 0) {
		tx->stats.err_invalid++;
		return FRAME_E_INVALID;
	}
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].base == NULL && iov[i].len > 0) {
			tx->stats.err_invalid++;
			return FRAME_E_INVALID;
		}
		/* Stop summing past the ceiling: no overflow, and too big. */
		if (iov[i].len > FRAME_MAX_CEIL - len) {
			tx->stats.err_too_big++;
			return FRAME_E_TOO_BIG;
		}
		len += iov[i].len;
	}
	st = seal_begin(tx, type, flags, len, out, cap, nonce);
	if (st != FRAME_OK)
		return st;
	rc = aead_sealv(&tx->slot[tx->cur].aead, nonce, out, FRAME_HDR_LEN,
	                iov, n, out + FRAME_HDR_LEN, out + FRAME_HDR_LEN + len);
	return seal_end(tx, rc, len, out_len);
}

/* --- receiving ------------------------------------------------------------- */

enum frame_status frame_rx_init(struct frame_rx *rx, size_t max_frame)
{
	memset(rx, 0, sizeof(*rx));
	if (!max_frame_ok(&max_frame))
		return FRAME_E_INVALID;
	rx->max_frame = max_frame;
	return FRAME_OK;
}

enum frame_status frame_rx_install_epoch(struct frame_rx *rx, uint16_t epoch,
                                         const struct frame_keys *k)
{
	struct frame_key_slot *cur = &rx->slot[rx->cur];
	struct frame_key_slot *prev = &rx->slot[rx->cur ^ 1];

	if (k == NULL || !alg_known(k->alg) ||
	    (cur->live && (cur->epoch == epoch || slot_same_keys(cur, k))) ||
	    (prev->live && prev->epoch == epoch)) {
		rx->stats.err_invalid++;
		return FRAME_E_INVALID;
	}
	/* The new key takes the previous epoch's slot: at most two keys. */
	if (prev->live)
		rx->stats.epoch_retires++;
	slot_wipe(prev);
	if (slot_load(prev, epoch, k) != FRAME_OK) {
		rx->stats.err_crypto++;
		return FRAME_E_CRYPTO;
	}
	rx->cur ^= 1;
	rx->stats.epoch_installs++;
	return FRAME_OK;
}

void frame_rx_retire_previous(struct frame_rx *rx)
{
	struct frame_key_slot *prev = &rx->slot[rx->cur ^ 1];

	if (!prev->live)
		return; /* already wiped; frame_open calls this per frame */
	rx->stats.epoch_retires++;
	slot_wipe(prev);
}

void frame_rx_wipe(struct frame_rx *rx)
{
	slot_wipe(&rx->slot[0]);
	slot_wipe(&rx->slot[1]);
}

/* Length checks shared by peek and open, on the 4 length bytes. */
static enum frame_status check_length(struct frame_rx *rx, const uint8_t *buf,
                                      size_t *frame_len)
{
	uint64_t length = get_be(buf, 4);

	if (length < FRAME_LENGTH_MIN) {
		rx->stats.err_runt++;
		return FRAME_E_RUNT;
	}
	/* u64: no wrap, and a zeroed (never initialised) rx refuses all. */
	if (length + FRAME_LEN_FIELD > rx->max_frame) {
		rx->stats.err_too_big++;
		return FRAME_E_TOO_BIG;
	}
	*frame_len = (size_t)length + FRAME_LEN_FIELD;
	return FRAME_OK;
}

enum frame_status frame_peek_len(struct frame_rx *rx, const uint8_t *buf,
                                 size_t avail, size_t *frame_len)
{
	enum frame_status st;
	size_t n;

	*frame_len = 0;
	if (buf == NULL || avail < FRAME_LEN_FIELD)
		return FRAME_NEED_MORE;
	st = check_length(rx, buf, &n);
	if (st != FRAME_OK)
		return st;
	*frame_len = n;
	return avail >= n ? FRAME_OK : FRAME_NEED_MORE;
}

enum frame_status frame_open(struct frame_rx *rx, uint8_t *frame, size_t len,
                             struct frame_view *out)
{
	struct frame_key_slot *s;
	uint8_t nonce[FRAME_SALT_LEN];
	enum frame_status st;
	size_t n, plen;
	uint16_t epoch;
	uint64_t counter;
	uint8_t *ct;
	int rc;

	if (frame == NULL || len < FRAME_LEN_FIELD) {
		rx->stats.err_truncated++;
		return FRAME_E_TRUNCATED;
	}
	st = check_length(rx, frame, &n);
	if (st != FRAME_OK)
		return st;
	if (len < n) {
		rx->stats.err_truncated++;
		return FRAME_E_TRUNCATED;
	}
	if (len > n) {
		rx->stats.err_overlong++;
		return FRAME_E_OVERLONG;
	}

	epoch = (uint16_t)get_be(frame + 6, 2);
	s = &rx->slot[rx->cur];
	if (!s->live || s->epoch != epoch) {
		s = &rx->slot[rx->cur ^ 1];
		if (!s->live || s->epoch != epoch) {
			rx->stats.err_epoch++;
			return FRAME_E_EPOCH;
		}
	}

	counter = get_be(frame + 8, 8);
	if (counter < s->next) {
		rx->stats.err_replay++;
		return FRAME_E_REPLAY;
	}
	if (counter > s->next) {
		rx->stats.err_gap++;
		return FRAME_E_GAP;
	}

	plen = n - FRAME_OVERHEAD;
	ct = frame + FRAME_HDR_LEN;
	frame_nonce(s->salt, counter, nonce);
	rc = aead_open(&s->aead, nonce, frame, FRAME_HDR_LEN, ct, ct, plen,
	               ct + plen);
	if (rc == EBADMSG) {
		rx->stats.err_auth++;
		return FRAME_E_AUTH;
	}
	if (rc != 0) {
		rx->stats.err_crypto++;
		return FRAME_E_CRYPTO;
	}

	s->next++;
	rx->stats.frames++;
	rx->stats.payload_bytes += plen;
	out->prev_epoch = s != &rx->slot[rx->cur];
	if (out->prev_epoch)
		rx->stats.prev_epoch_frames++;
	else
		/* In order: the sender has left the previous epoch for good
		 * (a no-op when there is none). */
		frame_rx_retire_previous(rx);
	out->type = frame[4];
	out->flags = frame[5];
	out->epoch = epoch;
	out->counter = counter;
	out->payload = ct;
	out->payload_len = plen;
	return FRAME_OK;
}

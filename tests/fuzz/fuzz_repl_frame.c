/*
 * fuzz_repl_frame: the replication codec (dataplane/repl/) on arbitrary
 * bytes. Every input goes through all of it, so plain-text seeds reach
 * every path:
 *
 *  - frame_peek_len and frame_open on the bytes as a frame (fixed keys);
 *    then again with the length, epoch and counter fixed up so the tag is
 *    checked: a frame not sealed with the key must never open;
 *  - the bytes sealed as a payload (cipher chosen by the first byte) and
 *    opened again: same type, flags and payload (round-trip oracle); the
 *    gathered seal, cut where the input says, gives the same bytes; a
 *    copy with one bit flipped (where the input says) is refused and
 *    leaves the expected counter alone;
 *  - every message decoder; a payload that decodes re-encodes to exactly
 *    the same bytes (each encoding is canonical), and a BATCH's entries
 *    are walked in place, a COPY_BATCH's records too;
 *  - a BATCH built from entries cut out of the input, decoded back;
 *  - a COPY_BATCH built from records cut out of the input, decoded back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/repl/frame.h"
#include "dataplane/repl/msg.h"
#include "storage/be.h"
#include "storage/entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN (FRAME_MAX_DEFAULT - FRAME_OVERHEAD)

static uint8_t frame[FRAME_MAX_DEFAULT + 1];
static uint8_t copy[FRAME_MAX_DEFAULT + 1];
static uint8_t again[FRAME_MAX_DEFAULT + 1];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void keys(struct frame_keys *k, enum aead_alg alg)
{
	k->alg = alg;
	for (unsigned i = 0; i < FRAME_KEY_LEN; i++)
		k->key[i] = (uint8_t)(0x11 * i + 3);
	for (unsigned i = 0; i < FRAME_SALT_LEN; i++)
		k->salt[i] = (uint8_t)(0xc0 + i);
}

static void pair(struct frame_tx *tx, struct frame_rx *rx, enum aead_alg alg)
{
	struct frame_keys k;

	keys(&k, alg);
	check(frame_tx_init(tx, 0) == FRAME_OK);
	check(frame_rx_init(rx, 0) == FRAME_OK);
	check(frame_tx_set_epoch(tx, 1, &k) == FRAME_OK);
	check(frame_rx_install_epoch(rx, 1, &k) == FRAME_OK);
}

/* The bytes as a received frame. */
static void as_frame(const uint8_t *data, size_t size)
{
	struct frame_tx tx;
	struct frame_rx rx;
	struct frame_view v;
	enum frame_status st;
	size_t fl = 1;

	if (size > FRAME_MAX_DEFAULT)
		return;
	pair(&tx, &rx, AEAD_CHACHA20_POLY1305);

	st = frame_peek_len(&rx, data, size, &fl);
	if (st == FRAME_OK)
		check(fl >= FRAME_OVERHEAD && fl <= size &&
		      fl <= FRAME_MAX_DEFAULT);
	else if (st == FRAME_NEED_MORE)
		check(fl == 0 ? size < FRAME_LEN_FIELD : fl > size);
	else
		check(st == FRAME_E_TOO_BIG || st == FRAME_E_RUNT);

	memcpy(copy, data, size);
	st = frame_open(&rx, copy, size, &v);
	if (st == FRAME_OK) {
		check(v.payload == copy + FRAME_HDR_LEN);
		check(v.payload_len == size - FRAME_OVERHEAD);
	}

	/* Header fixed up to what the receiver expects: only the tag is
	 * left to stop it, and nobody without the key can make one. */
	if (size >= FRAME_OVERHEAD) {
		uint64_t before = rx.slot[rx.cur].next;

		memcpy(copy, data, size);
		put_be(copy, size - FRAME_LEN_FIELD, 4);
		put_be(copy + 6, 1, 2);
		put_be(copy + 8, before, 8);
		st = frame_open(&rx, copy, size, &v);
		check(st == FRAME_E_AUTH);
		check(rx.slot[rx.cur].next == before);
	}
	frame_tx_wipe(&tx);
	frame_rx_wipe(&rx);
}

/* The bytes as a payload: seal, open, compare. */
static void as_payload(const uint8_t *data, size_t size)
{
	struct frame_tx tx, tx2;
	struct frame_rx rx;
	struct frame_view v;
	struct aead_iov iov[3];
	enum aead_alg alg;
	uint8_t type, flags;
	size_t n = 0, n2 = 0, cut1, cut2, bit;
	uint64_t h = 1469598103934665603u;

	if (size > MAX_IN)
		return;
	alg = size && (data[0] & 1) ? AEAD_AES256_GCM : AEAD_CHACHA20_POLY1305;
	type = size ? data[0] : 0;
	flags = size > 1 ? data[1] : 0;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	pair(&tx, &rx, alg);
	pair(&tx2, &rx, alg);

	check(frame_seal(&tx, type, flags, data, size, frame, sizeof(frame),
	                 &n) == FRAME_OK);
	check(n == size + FRAME_OVERHEAD);

	/* Gathered, cut in three where the hash says. */
	cut1 = size ? (size_t)(h % (size + 1)) : 0;
	cut2 = cut1 + (size - cut1 ? (size_t)((h >> 32) % (size - cut1 + 1)) : 0);
	iov[0].base = data;
	iov[0].len = cut1;
	iov[1].base = data + cut1;
	iov[1].len = cut2 - cut1;
	iov[2].base = data + cut2;
	iov[2].len = size - cut2;
	check(frame_sealv(&tx2, type, flags, iov, 3, again, sizeof(again),
	                  &n2) == FRAME_OK);
	check(n2 == n && memcmp(again, frame, n) == 0);

	/* One flipped bit: refused, nothing advances. */
	memcpy(copy, frame, n);
	bit = (size_t)((h >> 16) % (n * 8));
	copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	check(frame_open(&rx, copy, n, &v) != FRAME_OK);
	check(rx.slot[rx.cur].next == 0 && rx.stats.frames == 0);

	/* The genuine frame opens to the input. */
	check(frame_open(&rx, frame, n, &v) == FRAME_OK);
	check(v.type == type && v.flags == flags && v.epoch == 1);
	check(v.counter == 0 && v.payload_len == size);
	check(size == 0 || memcmp(v.payload, data, size) == 0);
	/* And only once. */
	memcpy(frame, again, n);
	check(frame_open(&rx, frame, n, &v) == FRAME_E_REPLAY);
	frame_tx_wipe(&tx);
	frame_tx_wipe(&tx2);
	frame_rx_wipe(&rx);
}

/* Re-encode a decoded message; it must give the same bytes. */
static void reencode(const struct msg *m, const uint8_t *data, size_t size)
{
	size_t n = 0;
	int rc = -1;

	switch ((enum msg_type)m->type) {
	case MSG_HELLO:
		rc = msg_hello_encode(&m->u.hello, again, sizeof(again), &n);
		break;
	case MSG_SUBSCRIBE:
		rc = msg_subscribe_encode(&m->u.subscribe, again,
		                          sizeof(again), &n);
		break;
	case MSG_ACK:
		rc = msg_ack_encode(&m->u.ack, again, sizeof(again), &n);
		break;
	case MSG_PING:
	case MSG_PONG:
		rc = msg_ping_encode(&m->u.ping, again, sizeof(again), &n);
		break;
	case MSG_COPY_START:
	case MSG_COPY_END: {
		static struct msg_cursor v[MSG_CURSORS_MAX];

		for (uint16_t i = 0; i < m->u.cursors.count; i++)
			v[i] = msg_cursors_at(&m->u.cursors, i);
		rc = msg_cursors_encode(v, m->u.cursors.count, again,
		                        sizeof(again), &n);
		break;
	}
	case MSG_ERROR: {
		char reason[MSG_ERROR_REASON_MAX + 1];

		memcpy(reason, m->u.error.reason, m->u.error.reason_len);
		reason[m->u.error.reason_len] = '\0';
		check(strlen(reason) == m->u.error.reason_len);
		rc = msg_error_encode(m->u.error.code, reason, again,
		                      sizeof(again), &n);
		break;
	}
	case MSG_BATCH: {
		struct msg_batch_builder b;
		struct msg_batch_iter it;
		struct msg_batch_item item;
		uint64_t seq = m->u.batch.first_seq;
		uint32_t count = 0;

		check(msg_batch_begin(&b, again, sizeof(again),
		                      m->u.batch.origin, seq) == 0);
		msg_batch_iter_init(&it, &m->u.batch);
		while ((rc = msg_batch_next(&it, &item)) == 0) {
			check(item.seq == seq++);
			check(item.raw >= data && item.raw + item.raw_len <=
			                              data + size);
			check(item.entry.version.origin == m->u.batch.origin);
			check(msg_batch_add(&b, item.raw, item.raw_len) == 0);
			count++;
		}
		check(rc == ENOENT && count == m->u.batch.count);
		rc = msg_batch_finish(&b, &n);
		break;
	}
	case MSG_COPY_BATCH: {
		struct msg_copy_builder b;
		struct msg_copy_iter it;
		struct copy_record rec;
		const uint8_t *raw;
		size_t raw_len;
		uint32_t count = 0;

		check(msg_copy_begin(&b, again, sizeof(again)) == 0);
		msg_copy_iter_init(&it, &m->u.copy_batch);
		while ((rc = msg_copy_next(&it, &rec, &raw, &raw_len)) == 0) {
			check(raw >= data && raw + raw_len <= data + size);
			check(copy_record_size(&rec) == raw_len);
			check((const uint8_t *)rec.table == raw + 1);
			check(!rec.tombstone || rec.body_len == 0);
			check(msg_copy_add(&b, &rec) == 0);
			count++;
		}
		check(rc == ENOENT && count == m->u.copy_batch.count);
		rc = msg_copy_finish(&b, &n);
		break;
	}
	}
	check(rc == 0);
	check(n == size && memcmp(again, data, size) == 0);
}

static void as_messages(const uint8_t *data, size_t size)
{
	struct msg m;

	for (unsigned type = 0; type <= 11; type++) {
		int rc = msg_decode((uint8_t)type, 0, data, size, &m);

		if (rc == 0)
			reencode(&m, data, size);
		else
			check(rc == EBADMSG || (rc == ENOTSUP &&
			                        type == MSG_HELLO));
	}
	/* No flag is defined: any set bit is refused. */
	check(msg_decode(MSG_PING, 1, data, size, &m) == EBADMSG);
}

/* Entries cut from the input: byte 0 picks op and sizes, then key and
 * body bytes; built into a BATCH, decoded, walked. */
static void as_entries(const uint8_t *data, size_t size)
{
	static uint8_t ents[1 << 16];
	struct msg_batch_builder b;
	struct msg_batch mb;
	struct msg_batch_iter it;
	struct msg_batch_item item;
	size_t off = 0, eoff = 0, n = 0;
	size_t starts[256], lens[256];
	uint32_t count = 0;

	check(msg_batch_begin(&b, again, 1 << 16, 7, 1000) == 0);
	while (off < size && count < 256) {
		uint8_t sel = data[off++];
		size_t klen = 1 + (sel & 7), blen = (sel >> 3) & 31;
		struct loom_entry e = {
			.op = sel & 0x80 ? LOOM_OP_DELETE : LOOM_OP_PUT,
			.table_len = 3,
			.table = "t_x",
			.version = {.hlc = off, .origin = 7},
		};
		size_t used = 0;

		if (e.op == LOOM_OP_DELETE)
			blen = 0;
		if (size - off < klen + blen)
			break;
		e.key_len = (uint8_t)klen;
		e.key = data + off;
		e.body_len = (uint32_t)blen;
		e.body = blen ? data + off + klen : NULL;
		off += klen + blen;
		check(loom_entry_encode(&e, ents + eoff, sizeof(ents) - eoff,
		                        &used) == 0);
		check(msg_batch_add(&b, ents + eoff, used) == 0);
		starts[count] = eoff;
		lens[count++] = used;
		eoff += used;
	}
	if (count == 0) {
		check(msg_batch_finish(&b, &n) == EINVAL);
		return;
	}
	check(msg_batch_finish(&b, &n) == 0);
	check(n == MSG_BATCH_HDR + eoff);
	check(msg_batch_decode(again, n, &mb) == 0 && mb.count == count);
	msg_batch_iter_init(&it, &mb);
	for (uint32_t i = 0; i < count; i++) {
		check(msg_batch_next(&it, &item) == 0);
		check(item.seq == 1000 + i && item.raw_len == lens[i]);
		check(memcmp(item.raw, ents + starts[i], lens[i]) == 0);
	}
	check(msg_batch_next(&it, &item) == ENOENT);
	/* One byte less is never a BATCH. */
	check(msg_batch_decode(again, n - 1, &mb) == EBADMSG);
}

/* Copied records cut from the input: byte 0 picks tombstone, key and body
 * sizes, byte 1 the version's origin; then key and body bytes; built into
 * a COPY_BATCH (the builder refuses nothing valid), decoded, walked. */
static void as_copy_records(const uint8_t *data, size_t size)
{
	static uint8_t recs[1 << 16];
	struct msg_copy_builder b;
	struct msg_copy_batch cb;
	struct msg_copy_iter it;
	struct copy_record d;
	const uint8_t *raw;
	size_t raw_len, off = 0, roff = 0, n = 0;
	size_t starts[256], lens[256];
	uint32_t count = 0;

	check(msg_copy_begin(&b, again, 1 << 16) == 0);
	while (size - off >= 2 && count < 256) {
		uint8_t sel = data[off], org = data[off + 1];
		size_t klen = 1 + (sel & 7), blen = (sel >> 3) & 15;
		struct copy_record r = {
			.table = "t_copy",
			.table_len = 6,
			.tombstone = (sel & 0x80) != 0,
			.version = {.hlc = off * 0x10001u, .origin = org},
		};
		size_t used = 0;

		off += 2;
		if (r.tombstone)
			blen = 0;
		if (size - off < klen + blen)
			break;
		r.key = data + off;
		r.key_len = (uint16_t)klen;
		r.body = blen ? data + off + klen : NULL;
		r.body_len = (uint32_t)blen;
		off += klen + blen;
		if (org == 0) {
			/* no node has id 0: refused, nothing changes */
			check(copy_record_size(&r) == 0);
			check(msg_copy_add(&b, &r) == EINVAL);
			continue;
		}
		check(copy_record_encode(&r, recs + roff, sizeof(recs) - roff,
		                         &used) == 0);
		check(msg_copy_add(&b, &r) == 0);
		starts[count] = roff;
		lens[count++] = used;
		roff += used;
	}
	if (count == 0) {
		check(msg_copy_finish(&b, &n) == EINVAL);
		return;
	}
	check(msg_copy_finish(&b, &n) == 0);
	check(n == MSG_COPY_BATCH_HDR + roff);
	check(memcmp(again + MSG_COPY_BATCH_HDR, recs, roff) == 0);
	check(msg_copy_batch_decode(again, n, &cb) == 0 && cb.count == count);
	msg_copy_iter_init(&it, &cb);
	for (uint32_t i = 0; i < count; i++) {
		check(msg_copy_next(&it, &d, &raw, &raw_len) == 0);
		check(raw_len == lens[i]);
		check(memcmp(raw, recs + starts[i], lens[i]) == 0);
	}
	check(msg_copy_next(&it, &d, NULL, NULL) == ENOENT);
	/* One byte less is never a COPY_BATCH. */
	check(msg_copy_batch_decode(again, n - 1, &cb) == EBADMSG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_frame(data, size);
	as_payload(data, size);
	as_messages(data, size);
	as_entries(data, size);
	as_copy_records(data, size);
	return 0;
}

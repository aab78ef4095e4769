/*
 * test_repl_msg: the replication message payloads (dataplane/repl/msg.c).
 * Round trips for every type; every malformed decode (each wrong length,
 * zero ids and seqs, counts that disagree with the bytes, trailing bytes,
 * BATCH entries of another origin or broken, seq overflow, unsorted cursor
 * vectors, bad UTF-8); BATCH entries are the storage/entry.h bytes, handed
 * out in place, never re-encoded; COPY_BATCH records are the
 * storage/copy_record.h bytes, likewise, each field's bound checked.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "dataplane/repl/msg.h"
#include "storage/be.h"
#include "storage/entry.h"

static size_t make_entry(uint8_t *buf, size_t cap, uint16_t origin,
                         uint64_t hlc, uint8_t op, const char *table,
                         const char *key, const char *body)
{
	struct loom_entry e = {
		.op = op,
		.table_len = (uint8_t)strlen(table),
		.key_len = (uint8_t)strlen(key),
		.body_len = body ? (uint32_t)strlen(body) : 0,
		.table = table,
		.key = (const uint8_t *)key,
		.body = (const uint8_t *)body,
		.version = {.hlc = hlc, .origin = origin},
	};
	size_t n = 0;

	CHECK(loom_entry_encode(&e, buf, cap, &n) == 0);
	return n;
}

static void test_types(void)
{
	for (unsigned t = 1; t <= 10; t++) {
		CHECK(msg_type_name((uint8_t)t) != NULL);
		CHECK(msg_check_header((uint8_t)t, 0) == 0);
		CHECK(msg_check_header((uint8_t)t, 1) == EBADMSG);
		CHECK(msg_check_header((uint8_t)t, 0x80) == EBADMSG);
	}
	CHECK(msg_type_name(0) == NULL && msg_type_name(11) == NULL);
	CHECK(msg_type_name(255) == NULL);
	CHECK(msg_check_header(0, 0) == EBADMSG);
	CHECK(msg_check_header(11, 0) == EBADMSG);
	CHECK(strcmp(msg_type_name(MSG_BATCH), "BATCH") == 0);
	CHECK_EQ_U64(MSG_COPY_BATCH, 10);
	CHECK(strcmp(msg_type_name(MSG_COPY_BATCH), "COPY_BATCH") == 0);
	CHECK(strcmp(msg_error_name(MSG_ERR_CLUSTER), "wrong cluster") == 0);
	CHECK(strcmp(msg_error_name(999), "unknown error") == 0);
}

static void test_hello(void)
{
	struct msg_hello h = {
		.version = MSG_PROTOCOL_VERSION,
		.node_id = 2,
		.peer_id = 5,
		.cluster_id = UINT64_C(0x1122334455667788),
		.max_frame = FRAME_MAX_DEFAULT,
		.head_seq = UINT64_C(0xa1a2a3a4a5a6a7a8),
	};
	struct msg_hello d, bad;
	uint8_t buf[64];
	size_t n = 0;

	CHECK(msg_hello_encode(&h, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, MSG_HELLO_LEN);
	CHECK_EQ_U64(get_be(buf, 2), MSG_PROTOCOL_VERSION); /* version first */
	CHECK(msg_hello_decode(buf, n, &d) == 0);
	CHECK(d.version == h.version && d.node_id == 2 && d.peer_id == 5);
	CHECK(d.cluster_id == h.cluster_id && d.max_frame == h.max_frame);
	CHECK(d.head_seq == h.head_seq);
	CHECK(msg_hello_encode(&h, buf, MSG_HELLO_LEN - 1, &n) == ENOSPC);

	/* Every other length. */
	for (size_t len = 0; len <= MSG_HELLO_LEN + 2; len++)
		if (len != MSG_HELLO_LEN)
			CHECK(msg_hello_decode(buf, len, &d) == EBADMSG);

	/* Another version: ENOTSUP with the version, whatever the length. */
	put_be(buf, 2, 2);
	CHECK(msg_hello_decode(buf, MSG_HELLO_LEN, &d) == ENOTSUP);
	CHECK_EQ_U64(d.version, 2);
	CHECK(msg_hello_decode(buf, 40, &d) == ENOTSUP);
	CHECK(msg_hello_decode(buf, 2, &d) == ENOTSUP);
	put_be(buf, MSG_PROTOCOL_VERSION, 2);

	/* Values a HELLO may not carry, both ways. */
	for (int v = 0; v < 6; v++) {
		bad = h;
		switch (v) {
		case 0: bad.node_id = 0; break;
		case 1: bad.peer_id = 0; break;
		case 2: bad.peer_id = bad.node_id; break;
		case 3: bad.max_frame = FRAME_MAX_FLOOR - 1; break;
		case 4: bad.max_frame = FRAME_MAX_CEIL + 1; break;
		case 5: bad.version = 0; break;
		}
		CHECK(msg_hello_encode(&bad, buf, sizeof(buf), &n) == EINVAL);
		put_be(buf, bad.version, 2);
		put_be(buf + 2, bad.node_id, 2);
		put_be(buf + 4, bad.peer_id, 2);
		put_be(buf + 6, bad.cluster_id, 8);
		put_be(buf + 14, bad.max_frame, 4);
		put_be(buf + 18, bad.head_seq, 8);
		CHECK(msg_hello_decode(buf, MSG_HELLO_LEN, &d) ==
		      (v == 5 ? ENOTSUP : EBADMSG));
	}

	/* Stranger checks: self 5, cluster as sent, expecting node 2. */
	CHECK(msg_hello_check(&h, 5, h.cluster_id, 2) == MSG_ERR_NONE);
	CHECK(msg_hello_check(&h, 5, h.cluster_id + 1, 2) == MSG_ERR_CLUSTER);
	CHECK(msg_hello_check(&h, 5, h.cluster_id, 3) == MSG_ERR_IDENTITY);
	CHECK(msg_hello_check(&h, 6, h.cluster_id, 2) == MSG_ERR_IDENTITY);
	bad = h;
	bad.version = 2;
	CHECK(msg_hello_check(&bad, 5, h.cluster_id, 2) == MSG_ERR_VERSION);
}

static void test_fixed(void)
{
	struct msg_subscribe s = {.origin = 7, .from_seq = UINT64_MAX}, sd;
	struct msg_ack a = {.origin = 65535, .seq = 0}, ad;
	struct msg_ping p = {.nonce = UINT64_C(0xdeadbeefcafef00d),
	                     .head_seq = 12345}, pd;
	uint8_t buf[32];
	size_t n = 0;

	CHECK(msg_subscribe_encode(&s, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, MSG_SUBSCRIBE_LEN);
	CHECK(msg_subscribe_decode(buf, n, &sd) == 0);
	CHECK(sd.origin == 7 && sd.from_seq == UINT64_MAX);
	for (size_t len = 0; len < 14; len++)
		if (len != MSG_SUBSCRIBE_LEN)
			CHECK(msg_subscribe_decode(buf, len, &sd) == EBADMSG);
	put_be(buf, 0, 2);
	CHECK(msg_subscribe_decode(buf, MSG_SUBSCRIBE_LEN, &sd) == EBADMSG);
	put_be(buf, 7, 2);
	put_be(buf + 2, 0, 8);
	CHECK(msg_subscribe_decode(buf, MSG_SUBSCRIBE_LEN, &sd) == EBADMSG);
	s.from_seq = 0;
	CHECK(msg_subscribe_encode(&s, buf, sizeof(buf), &n) == EINVAL);
	s.from_seq = 1;
	s.origin = 0;
	CHECK(msg_subscribe_encode(&s, buf, sizeof(buf), &n) == EINVAL);
	s.origin = 1;
	CHECK(msg_subscribe_encode(&s, buf, 9, &n) == ENOSPC);

	CHECK(msg_ack_encode(&a, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, MSG_ACK_LEN);
	CHECK(msg_ack_decode(buf, n, &ad) == 0);
	CHECK(ad.origin == 65535 && ad.seq == 0); /* cursor 0 is fine */
	for (size_t len = 0; len < 14; len++)
		if (len != MSG_ACK_LEN)
			CHECK(msg_ack_decode(buf, len, &ad) == EBADMSG);
	put_be(buf, 0, 2);
	CHECK(msg_ack_decode(buf, MSG_ACK_LEN, &ad) == EBADMSG);
	a.origin = 0;
	CHECK(msg_ack_encode(&a, buf, sizeof(buf), &n) == EINVAL);

	CHECK(msg_ping_encode(&p, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, MSG_PING_LEN);
	CHECK(msg_ping_decode(buf, n, &pd) == 0);
	CHECK(pd.nonce == p.nonce && pd.head_seq == 12345);
	for (size_t len = 0; len < 20; len++)
		if (len != MSG_PING_LEN)
			CHECK(msg_ping_decode(buf, len, &pd) == EBADMSG);
	CHECK(msg_ping_encode(&p, buf, MSG_PING_LEN - 1, &n) == ENOSPC);
	CHECK(msg_ping_decode(NULL, MSG_PING_LEN, &pd) == EBADMSG);
}

/* Three entries of origin 3: a put, a delete, a put with a body. */
static size_t three_entries(uint8_t *e, size_t cap, size_t len[3],
                            uint16_t origin)
{
	size_t off = 0;

	len[0] = make_entry(e, cap, origin, 1000, LOOM_OP_PUT, "users", "k1",
	                    "{\"a\":1}");
	off += len[0];
	len[1] = make_entry(e + off, cap - off, origin, 1001, LOOM_OP_DELETE,
	                    "users", "k0", NULL);
	off += len[1];
	len[2] = make_entry(e + off, cap - off, origin, 1002, LOOM_OP_PUT,
	                    "t_2", "key-three", "{\"body\":\"third\"}");
	off += len[2];
	return off;
}

static void test_batch(void)
{
	uint8_t ents[512], buf[1024], hdr[MSG_BATCH_HDR], other[128];
	size_t elen[3], total, n = 0, olen;
	struct msg_batch_builder b;
	struct msg_batch mb;
	struct msg_batch_iter it;
	struct msg_batch_item item;
	struct msg m;

	total = three_entries(ents, sizeof(ents), elen, 3);

	/* Build, decode, walk. */
	CHECK(msg_batch_begin(&b, buf, sizeof(buf), 3, 100) == 0);
	CHECK(msg_batch_add(&b, ents, elen[0]) == 0);
	CHECK(msg_batch_add(&b, ents + elen[0], elen[1]) == 0);
	CHECK(msg_batch_add(&b, ents + elen[0] + elen[1], elen[2]) == 0);
	CHECK(msg_batch_finish(&b, &n) == 0);
	CHECK_EQ_U64(n, MSG_BATCH_HDR + total);
	/* The entries are the storage bytes, verbatim, after the header. */
	CHECK(memcmp(buf + MSG_BATCH_HDR, ents, total) == 0);
	CHECK(msg_batch_header(hdr, 3, 100, 3) == 0);
	CHECK(memcmp(hdr, buf, MSG_BATCH_HDR) == 0);

	CHECK(msg_batch_decode(buf, n, &mb) == 0);
	CHECK(mb.origin == 3 && mb.first_seq == 100 && mb.count == 3);
	CHECK(mb.entries == buf + MSG_BATCH_HDR && mb.entries_len == total);
	msg_batch_iter_init(&it, &mb);
	for (unsigned i = 0; i < 3; i++) {
		size_t off = i == 0 ? 0 : i == 1 ? elen[0] : elen[0] + elen[1];

		CHECK(msg_batch_next(&it, &item) == 0);
		CHECK_EQ_U64(item.seq, 100 + i);
		CHECK(item.raw == buf + MSG_BATCH_HDR + off); /* zero-copy */
		CHECK_EQ_U64(item.raw_len, elen[i]);
		CHECK(memcmp(item.raw, ents + off, elen[i]) == 0);
		CHECK_EQ_U64(item.entry.version.origin, 3);
		CHECK_EQ_U64(item.entry.version.hlc, 1000 + i);
	}
	CHECK(item.entry.key_len == 9 && memcmp(item.entry.key, "key-three",
	                                        9) == 0);
	CHECK(msg_batch_next(&it, &item) == ENOENT);
	CHECK(msg_batch_next(&it, &item) == ENOENT);
	CHECK(msg_decode(MSG_BATCH, 0, buf, n, &m) == 0);
	CHECK(m.type == MSG_BATCH && m.u.batch.count == 3);

	/* Every truncation is refused. */
	for (size_t len = 0; len < n; len++)
		CHECK(msg_batch_decode(buf, len, &mb) == EBADMSG);
	/* A trailing byte. */
	buf[n] = 0;
	CHECK(msg_batch_decode(buf, n + 1, &mb) == EBADMSG);
	/* Counts that disagree with the entries. */
	put_be(buf + 10, 2, 4);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf + 10, 4, 4);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf + 10, 0, 4);
	CHECK(msg_batch_decode(buf, MSG_BATCH_HDR, &mb) == EBADMSG);
	put_be(buf + 10, UINT32_MAX, 4);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf + 10, 3, 4);
	CHECK(msg_batch_decode(buf, n, &mb) == 0);
	/* origin 0, first seq 0, last seq past UINT64_MAX; and just at it. */
	put_be(buf, 0, 2);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf, 3, 2);
	put_be(buf + 2, 0, 8);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf + 2, UINT64_MAX - 1, 8);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf + 2, UINT64_MAX - 2, 8);
	CHECK(msg_batch_decode(buf, n, &mb) == 0);
	CHECK(msg_batch_header(hdr, 3, UINT64_MAX - 1, 3) == EINVAL);
	CHECK(msg_batch_header(hdr, 3, UINT64_MAX - 2, 3) == 0);
	CHECK(msg_batch_header(hdr, 0, 1, 1) == EINVAL);
	CHECK(msg_batch_header(hdr, 1, 0, 1) == EINVAL);
	CHECK(msg_batch_header(hdr, 1, 1, 0) == EINVAL);
	put_be(buf + 2, 100, 8);
	/* The batch's origin differs from its entries'. */
	put_be(buf, 4, 2);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	put_be(buf, 3, 2);
	/* One entry of another origin in the middle. */
	olen = make_entry(other, sizeof(other), 4, 1001, LOOM_OP_DELETE,
	                  "users", "k0", NULL);
	CHECK_EQ_U64(olen, elen[1]);
	memcpy(buf + MSG_BATCH_HDR + elen[0], other, olen);
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	memcpy(buf + MSG_BATCH_HDR + elen[0], ents + elen[0], elen[1]);
	CHECK(msg_batch_decode(buf, n, &mb) == 0);
	/* A broken entry: bad op, nonzero entry flags, bad table byte. */
	buf[MSG_BATCH_HDR + 10] = 7;
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	buf[MSG_BATCH_HDR + 10] = LOOM_OP_PUT;
	buf[MSG_BATCH_HDR + 13] = 1;
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	buf[MSG_BATCH_HDR + 13] = 0;
	buf[MSG_BATCH_HDR + LOOM_ENTRY_HDR] = '-';
	CHECK(msg_batch_decode(buf, n, &mb) == EBADMSG);
	buf[MSG_BATCH_HDR + LOOM_ENTRY_HDR] = 'u';
	CHECK(msg_batch_decode(buf, n, &mb) == 0);

	/* The builder refuses what the decoder would. */
	CHECK(msg_batch_begin(&b, buf, sizeof(buf), 0, 1) == EINVAL);
	CHECK(msg_batch_begin(&b, buf, sizeof(buf), 3, 0) == EINVAL);
	CHECK(msg_batch_begin(&b, buf, MSG_BATCH_HDR - 1, 3, 1) == ENOSPC);
	CHECK(msg_batch_begin(&b, buf, sizeof(buf), 3, 1) == 0);
	CHECK(msg_batch_finish(&b, &n) == EINVAL); /* empty */
	CHECK(msg_batch_add(&b, other, olen) == EINVAL); /* origin 4 */
	CHECK(msg_batch_add(&b, ents, elen[0] - 1) == EBADMSG);
	CHECK(msg_batch_add(&b, ents, elen[0] + 1) == EBADMSG); /* 2 entries */
	CHECK(msg_batch_add(&b, ents, elen[0] + elen[1]) == EBADMSG);
	CHECK(b.count == 0 && b.len == MSG_BATCH_HDR);
	CHECK(msg_batch_entry_check(3, ents, elen[0]) == 0);
	CHECK(msg_batch_entry_check(4, ents, elen[0]) == EINVAL);

	/* Full: ENOSPC leaves the batch as it was, ready to send. */
	CHECK(msg_batch_begin(&b, buf, MSG_BATCH_HDR + elen[0] + elen[1] - 1, 3,
	                      50) == 0);
	CHECK(msg_batch_add(&b, ents, elen[0]) == 0);
	CHECK(msg_batch_add(&b, ents + elen[0], elen[1]) == ENOSPC);
	CHECK(b.count == 1 && b.len == MSG_BATCH_HDR + elen[0]);
	CHECK(msg_batch_finish(&b, &n) == 0);
	CHECK(msg_batch_decode(buf, n, &mb) == 0 && mb.count == 1);

	/* The last seq is UINT64_MAX: one entry fits, a second would wrap. */
	CHECK(msg_batch_begin(&b, buf, sizeof(buf), 3, UINT64_MAX) == 0);
	CHECK(msg_batch_add(&b, ents, elen[0]) == 0);
	CHECK(msg_batch_add(&b, ents, elen[0]) == EINVAL);
	CHECK(msg_batch_finish(&b, &n) == 0);
	CHECK(msg_batch_decode(buf, n, &mb) == 0);
	msg_batch_iter_init(&it, &mb);
	CHECK(msg_batch_next(&it, &item) == 0 && item.seq == UINT64_MAX);
	CHECK(msg_batch_next(&it, &item) == ENOENT);

	/* Gathered: header + the entries as separate pieces decode the same
	 * (what frame_sealv will concatenate). */
	CHECK(msg_batch_header(buf, 3, 9, 3) == 0);
	memcpy(buf + MSG_BATCH_HDR, ents, total);
	CHECK(msg_batch_decode(buf, MSG_BATCH_HDR + total, &mb) == 0);
	CHECK(mb.first_seq == 9 && mb.count == 3);

	/* Size helper: a frame that carries one entry of the body limit. */
	CHECK(MSG_FRAME_MAX_FOR_BODY(64u << 10) < FRAME_MAX_DEFAULT);
	CHECK(MSG_FRAME_MAX_FOR_BODY(LOOM_ENTRY_BODY_MAX) <= FRAME_MAX_CEIL);
}

/* COPY_BATCH: records in the storage/copy_record.h encoding, verbatim. */
static void test_copy_batch(void)
{
	static const uint8_t bin_key[] = {'b', 0x00, 0xff, '\n'};
	const struct copy_record recs[3] = {
		{.table = "users", .table_len = 5, .key = (const uint8_t *)"k0",
		 .key_len = 2, .body = (const uint8_t *)"{\"a\":1}",
		 .body_len = 7, .version = {.hlc = 1000, .origin = 3}},
		{.table = "t_2", .table_len = 3,
		 .key = (const uint8_t *)"key-two", .key_len = 7,
		 .version = {.hlc = 2000, .origin = 7}, .tombstone = true},
		{.table = "users", .table_len = 5, .key = bin_key,
		 .key_len = sizeof bin_key, .body = (const uint8_t *)"{}",
		 .body_len = 2, .version = {.hlc = UINT64_MAX, .origin = 65535}},
	};
	uint8_t enc[256], buf[512];
	size_t elen[3], total = 0, n = 0, used;
	struct msg_copy_builder b;
	struct msg_copy_batch cb;
	struct msg_copy_iter it;
	struct copy_record d;
	const uint8_t *raw;
	size_t raw_len;
	struct msg m;

	for (unsigned i = 0; i < 3; i++) {
		CHECK(copy_record_encode(&recs[i], enc + total,
		                         sizeof(enc) - total, &elen[i]) == 0);
		total += elen[i];
	}
	CHECK_EQ_U64(elen[0], COPY_RECORD_FIXED + 5 + 2 + 7);
	CHECK_EQ_U64(elen[1], COPY_RECORD_FIXED + 3 + 7);

	/* Build, decode, walk. */
	CHECK(msg_copy_begin(&b, buf, sizeof(buf)) == 0);
	for (unsigned i = 0; i < 3; i++)
		CHECK(msg_copy_add(&b, &recs[i]) == 0);
	CHECK(msg_copy_finish(&b, &n) == 0);
	CHECK_EQ_U64(n, MSG_COPY_BATCH_HDR + total);
	CHECK_EQ_U64(get_be(buf, 4), 3);
	/* The records are the storage encoding, verbatim, after the count. */
	CHECK(memcmp(buf + MSG_COPY_BATCH_HDR, enc, total) == 0);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == 0);
	CHECK(cb.count == 3 && cb.records == buf + MSG_COPY_BATCH_HDR);
	CHECK_EQ_U64(cb.records_len, total);
	msg_copy_iter_init(&it, &cb);
	size_t off = MSG_COPY_BATCH_HDR;
	for (unsigned i = 0; i < 3; i++) {
		CHECK(msg_copy_next(&it, &d, &raw, &raw_len) == 0);
		CHECK(raw == buf + off && raw_len == elen[i]); /* zero-copy */
		CHECK(d.table == (const char *)buf + off + 1);
		CHECK(d.table_len == recs[i].table_len &&
		      memcmp(d.table, recs[i].table, d.table_len) == 0);
		CHECK(d.key_len == recs[i].key_len &&
		      memcmp(d.key, recs[i].key, d.key_len) == 0);
		CHECK(d.body_len == recs[i].body_len);
		CHECK(d.body_len == 0 ||
		      memcmp(d.body, recs[i].body, d.body_len) == 0);
		CHECK(d.version.hlc == recs[i].version.hlc &&
		      d.version.origin == recs[i].version.origin);
		CHECK(d.tombstone == recs[i].tombstone);
		off += elen[i];
	}
	CHECK(d.key_len == 4 && d.key[1] == 0x00 && d.key[2] == 0xff);
	CHECK(msg_copy_next(&it, &d, NULL, NULL) == ENOENT);
	CHECK(msg_copy_next(&it, &d, NULL, NULL) == ENOENT);
	msg_copy_iter_init(&it, &cb);
	CHECK(msg_copy_next(&it, &d, NULL, NULL) == 0 && d.body_len == 7);
	CHECK(msg_decode(MSG_COPY_BATCH, 0, buf, n, &m) == 0);
	CHECK(m.type == MSG_COPY_BATCH && m.u.copy_batch.count == 3);
	CHECK(msg_decode(MSG_COPY_BATCH, 1, buf, n, &m) == EBADMSG); /* flag */
	/* Type and layout go together. */
	CHECK(msg_decode(MSG_BATCH, 0, buf, n, &m) == EBADMSG);
	CHECK(msg_decode(MSG_COPY_START, 0, buf, n, &m) == EBADMSG);

	/* Every truncation is refused, and a trailing byte. */
	for (size_t len = 0; len < n; len++)
		CHECK(msg_copy_batch_decode(buf, len, &cb) == EBADMSG);
	buf[n] = 0;
	CHECK(msg_copy_batch_decode(buf, n + 1, &cb) == EBADMSG);
	CHECK(msg_copy_batch_decode(NULL, n, &cb) == EBADMSG);
	/* Counts that disagree with the records. */
	put_be(buf, 2, 4);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == EBADMSG);
	put_be(buf, 4, 4);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == EBADMSG);
	put_be(buf, UINT32_MAX, 4);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == EBADMSG);
	put_be(buf, 0, 4);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == EBADMSG);
	CHECK(msg_copy_batch_decode(buf, MSG_COPY_BATCH_HDR, &cb) == EBADMSG);
	put_be(buf, 3, 4);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == 0);

	/* A broken first record, field by field (offsets in its layout:
	 * table_len 4, table 5.., key_len 10, key 12, hlc 14, origin 22,
	 * flags 24, body_len 25). */
	struct {
		size_t at;
		uint8_t bad;
	} breaks[] = {
		{4, 0},      /* table length 0 */
		{4, 64},     /* table length above 63 */
		{5, '-'},    /* a byte no table name has */
		{10, 0x01},  /* key length 256+: above 255 */
		{11, 0},     /* key length 0 */
		{22, 0},     /* origin 0 (with 23) */
		{24, 0x02},  /* an unknown flag */
		{24, 0x01},  /* a tombstone with a body */
		{25, 0x02},  /* body length past LOOM_ENTRY_BODY_MAX */
	};
	for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
		uint8_t keep = buf[breaks[i].at], keep2 = buf[23];
		buf[breaks[i].at] = breaks[i].bad;
		if (breaks[i].at == 22)
			buf[23] = 0;
		CHECK(msg_copy_batch_decode(buf, n, &cb) == EBADMSG);
		buf[breaks[i].at] = keep;
		buf[23] = keep2;
		CHECK(msg_copy_batch_decode(buf, n, &cb) == 0);
	}
	/* A body length one more than there is: the next record slides. */
	put_be(buf + 25, 8, 4);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == EBADMSG);
	put_be(buf + 25, 7, 4);
	CHECK(copy_record_decode(buf + 4, n - 4, &d, &used) == 0 &&
	      used == elen[0]);

	/* The builder refuses what the decoder would, unchanged. */
	struct copy_record bad = recs[0];
	CHECK(msg_copy_begin(&b, buf, MSG_COPY_BATCH_HDR - 1) == ENOSPC);
	CHECK(msg_copy_begin(&b, NULL, 100) == ENOSPC);
	CHECK(msg_copy_begin(&b, buf, sizeof(buf)) == 0);
	CHECK(msg_copy_finish(&b, &n) == EINVAL); /* empty */
	bad.version.origin = 0;
	CHECK(msg_copy_add(&b, &bad) == EINVAL);
	bad = recs[0];
	bad.tombstone = true; /* with a body */
	CHECK(msg_copy_add(&b, &bad) == EINVAL);
	bad = recs[0];
	bad.table = "no-dash";
	bad.table_len = 7;
	CHECK(msg_copy_add(&b, &bad) == EINVAL);
	bad = recs[0];
	bad.key_len = 0;
	CHECK(msg_copy_add(&b, &bad) == EINVAL);
	CHECK(b.count == 0 && b.len == MSG_COPY_BATCH_HDR);

	/* Full: ENOSPC leaves the batch as it was, ready to send. */
	CHECK(msg_copy_begin(&b, buf, MSG_COPY_BATCH_HDR + elen[0] + elen[1] -
	                                  1) == 0);
	CHECK(msg_copy_add(&b, &recs[0]) == 0);
	CHECK(msg_copy_add(&b, &recs[1]) == ENOSPC);
	CHECK(b.count == 1 && b.len == MSG_COPY_BATCH_HDR + elen[0]);
	CHECK(msg_copy_finish(&b, &n) == 0);
	CHECK(msg_copy_batch_decode(buf, n, &cb) == 0 && cb.count == 1);
	/* The smallest record. */
	const struct copy_record tiny = {
		.table = "t", .table_len = 1, .key = (const uint8_t *)"k",
		.key_len = 1, .version = {.hlc = 0, .origin = 1}};
	CHECK_EQ_U64(copy_record_size(&tiny), MSG_COPY_RECORD_MIN);
}

static void test_cursors(void)
{
	const struct msg_cursor v[3] = {{1, 0}, {2, 77}, {65535, UINT64_MAX}};
	struct msg_cursor bad[2];
	struct msg_cursors c;
	struct msg m;
	uint8_t buf[64];
	size_t n = 0;

	CHECK(msg_cursors_encode(v, 3, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, MSG_CURSORS_HDR + 3 * MSG_CURSOR_LEN);
	CHECK(msg_cursors_decode(buf, n, &c) == 0);
	CHECK_EQ_U64(c.count, 3);
	for (uint16_t i = 0; i < 3; i++) {
		struct msg_cursor got = msg_cursors_at(&c, i);
		CHECK(got.origin == v[i].origin && got.seq == v[i].seq);
	}
	CHECK(msg_decode(MSG_COPY_START, 0, buf, n, &m) == 0);
	CHECK(msg_decode(MSG_COPY_END, 0, buf, n, &m) == 0);
	CHECK(m.u.cursors.count == 3);
	/* Every other length. */
	for (size_t len = 0; len < n + 3; len++)
		if (len != n)
			CHECK(msg_cursors_decode(buf, len, &c) == EBADMSG);
	/* Count that disagrees with the bytes. */
	put_be(buf, 2, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == EBADMSG);
	put_be(buf, 4, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == EBADMSG);
	put_be(buf, 3, 2);
	/* Unsorted, duplicate, zero origin. */
	put_be(buf + 2 + MSG_CURSOR_LEN, 1, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == EBADMSG);
	put_be(buf + 2 + MSG_CURSOR_LEN, 0x0100, 2);
	put_be(buf + 2, 0x0200, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == EBADMSG);
	put_be(buf + 2, 0, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == EBADMSG);
	put_be(buf + 2, 1, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == 0);

	/* An empty vector is a node that knows no origin yet. */
	CHECK(msg_cursors_encode(NULL, 0, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, 2);
	CHECK(msg_cursors_decode(buf, n, &c) == 0 && c.count == 0);

	bad[0] = v[1];
	bad[1] = v[0];
	CHECK(msg_cursors_encode(bad, 2, buf, sizeof(buf), &n) == EINVAL);
	bad[1] = v[1];
	CHECK(msg_cursors_encode(bad, 2, buf, sizeof(buf), &n) == EINVAL);
	bad[0].origin = 0;
	CHECK(msg_cursors_encode(bad, 1, buf, sizeof(buf), &n) == EINVAL);
	CHECK(msg_cursors_encode(v, 3, buf, 31, &n) == ENOSPC);
	CHECK(msg_cursors_encode(v, MSG_CURSORS_MAX + 1, buf, sizeof(buf),
	                         &n) == EINVAL);
}

static void test_error(void)
{
	static const char *const bad_utf8[] = {
		"\xc0\x80",         /* overlong NUL */
		"\xe0\x80\xaf",     /* overlong '/' */
		"\xed\xa0\x80",     /* surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xf5\x80\x80\x80", /* never a lead byte */
		"\x80",             /* stray continuation */
		"ab\xc3",           /* cut short */
		"\xe4\xb8",         /* cut short */
		"line\nbreak",      /* control */
		"del\x7f",          /* DEL */
		"\xc2\x85",         /* C1 control (NEL) */
	};
	const char *good = "gap at 17: r\xc3\xa9sum\xc3\xa9 \xe4\xb8\xad "
	                   "\xf0\x9f\x98\x80";
	char longer[512];
	struct msg_error e;
	struct msg m;
	uint8_t buf[300];
	size_t n = 0;

	CHECK(msg_error_encode(MSG_ERR_GAP, good, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(n, MSG_ERROR_HDR + strlen(good));
	CHECK(msg_error_decode(buf, n, &e) == 0);
	CHECK(e.code == MSG_ERR_GAP && e.reason_len == strlen(good));
	CHECK(memcmp(e.reason, good, e.reason_len) == 0);
	CHECK(e.reason == (const char *)buf + MSG_ERROR_HDR);
	CHECK(msg_decode(MSG_ERROR, 0, buf, n, &m) == 0);
	for (size_t len = 0; len < n + 2; len++)
		if (len != n)
			CHECK(msg_error_decode(buf, len, &e) == EBADMSG);

	/* Empty reason; unknown but nonzero code; code 0. */
	CHECK(msg_error_encode(4242, "", buf, sizeof(buf), &n) == 0);
	CHECK(n == MSG_ERROR_HDR && msg_error_decode(buf, n, &e) == 0);
	CHECK(e.code == 4242 && e.reason_len == 0);
	CHECK(msg_error_encode(0, "x", buf, sizeof(buf), &n) == EINVAL);
	put_be(buf, 0, 2);
	CHECK(msg_error_decode(buf, MSG_ERROR_HDR, &e) == EBADMSG);

	/* Reason length past the maximum, even with the bytes there. */
	put_be(buf, 1, 2);
	buf[2] = MSG_ERROR_REASON_MAX + 1;
	memset(buf + 3, 'a', MSG_ERROR_REASON_MAX + 1);
	CHECK(msg_error_decode(buf, MSG_ERROR_HDR + MSG_ERROR_REASON_MAX + 1,
	                       &e) == EBADMSG);
	buf[2] = MSG_ERROR_REASON_MAX;
	CHECK(msg_error_decode(buf, MSG_ERROR_HDR + MSG_ERROR_REASON_MAX,
	                       &e) == 0);

	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		size_t l = strlen(bad_utf8[i]);

		CHECK(msg_error_encode(1, bad_utf8[i], buf, sizeof(buf), &n) ==
		      EINVAL);
		put_be(buf, 1, 2);
		buf[2] = (uint8_t)l;
		memcpy(buf + 3, bad_utf8[i], l);
		CHECK(msg_error_decode(buf, MSG_ERROR_HDR + l, &e) == EBADMSG);
	}

	/* Long reasons are cut on a character boundary. */
	for (size_t i = 0; i < 150; i++)
		memcpy(longer + 2 * i, "\xc3\xa9", 2); /* 300 bytes */
	longer[300] = '\0';
	CHECK(msg_error_encode(1, longer, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(buf[2], MSG_ERROR_REASON_MAX);
	CHECK(msg_error_decode(buf, n, &e) == 0);
	memset(longer, 'a', 199);
	memcpy(longer + 199, "\xe4\xb8\xad", 4); /* 3 bytes + NUL */
	CHECK(msg_error_encode(1, longer, buf, sizeof(buf), &n) == 0);
	CHECK_EQ_U64(buf[2], 199);
	CHECK(msg_error_decode(buf, n, &e) == 0);
	CHECK(msg_error_encode(1, "abc", buf, 5, &n) == ENOSPC);
}

static void test_dispatch(void)
{
	uint8_t buf[32];
	struct msg m;
	size_t n = 0;
	struct msg_ping p = {.nonce = 42};
	struct msg_ack a = {.origin = 1, .seq = 2};
	struct msg_subscribe s = {.origin = 1, .from_seq = 2};

	CHECK(msg_ping_encode(&p, buf, sizeof(buf), &n) == 0);
	CHECK(msg_decode(MSG_PING, 0, buf, n, &m) == 0 && m.u.ping.nonce == 42);
	CHECK(msg_decode(MSG_PONG, 0, buf, n, &m) == 0 && m.type == MSG_PONG);
	CHECK(msg_decode(MSG_PING, 1, buf, n, &m) == EBADMSG); /* flags */
	CHECK(msg_decode(0, 0, buf, n, &m) == EBADMSG);
	CHECK(msg_decode(200, 0, buf, n, &m) == EBADMSG);
	/* A PING's bytes as a HELLO: "version" 0 is another version. */
	CHECK(msg_decode(MSG_HELLO, 0, buf, n, &m) == ENOTSUP);
	CHECK(m.u.hello.version == 0);
	CHECK(msg_decode(MSG_HELLO, 0, buf, 1, &m) == EBADMSG);
	CHECK(msg_ack_encode(&a, buf, sizeof(buf), &n) == 0);
	CHECK(msg_decode(MSG_ACK, 0, buf, n, &m) == 0 && m.u.ack.seq == 2);
	CHECK(msg_subscribe_encode(&s, buf, sizeof(buf), &n) == 0);
	CHECK(msg_decode(MSG_SUBSCRIBE, 0, buf, n, &m) == 0);
	CHECK(m.u.subscribe.from_seq == 2);
	/* Type and layout go together: a SUBSCRIBE is not a PING. */
	CHECK(msg_decode(MSG_PING, 0, buf, n, &m) == EBADMSG);
	CHECK(msg_decode(MSG_BATCH, 0, buf, n, &m) == EBADMSG);
}

int main(void)
{
	test_types();
	test_hello();
	test_fixed();
	test_batch();
	test_copy_batch();
	test_cursors();
	test_error();
	test_dispatch();
	CHECK_DONE();
}

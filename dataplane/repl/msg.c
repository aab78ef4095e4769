/* msg.c - replication message payload codecs; see msg.h for the layouts. */
#include "dataplane/repl/msg.h"

#include "storage/be.h"

#include <errno.h>
#include <string.h>

const char *msg_type_name(uint8_t type)
{
	switch (type) {
#define MSG_TYPE_CASE(name, value, text)                                      \
	case value:                                                           \
		return text;
		MSG_TYPE_LIST(MSG_TYPE_CASE)
#undef MSG_TYPE_CASE
	}
	return NULL;
}

const char *msg_error_name(uint16_t code)
{
	switch (code) {
#define MSG_ERROR_CASE(name, value, text)                                     \
	case value:                                                           \
		return text;
		MSG_ERROR_LIST(MSG_ERROR_CASE)
#undef MSG_ERROR_CASE
	}
	return "unknown error";
}

int msg_check_header(uint8_t type, uint8_t flags)
{
	return msg_type_name(type) != NULL && flags == 0 ? 0 : EBADMSG;
}

/* Fixed-size encoders share this: room and length. */
static int room(uint8_t *buf, size_t cap, size_t need, size_t *out_len)
{
	if (buf == NULL || cap < need)
		return ENOSPC;
	*out_len = need;
	return 0;
}

/* --- HELLO ----------------------------------------------------------------- */

static bool hello_valid(const struct msg_hello *h)
{
	return h->node_id != 0 && h->peer_id != 0 && h->node_id != h->peer_id &&
	       h->max_frame >= FRAME_MAX_FLOOR && h->max_frame <= FRAME_MAX_CEIL;
}

int msg_hello_encode(const struct msg_hello *h, uint8_t *buf, size_t cap,
                     size_t *out_len)
{
	if (h->version != MSG_PROTOCOL_VERSION || !hello_valid(h))
		return EINVAL;
	if (room(buf, cap, MSG_HELLO_LEN, out_len))
		return ENOSPC;
	put_be(buf, h->version, 2);
	put_be(buf + 2, h->node_id, 2);
	put_be(buf + 4, h->peer_id, 2);
	put_be(buf + 6, h->cluster_id, 8);
	put_be(buf + 14, h->max_frame, 4);
	put_be(buf + 18, h->head_seq, 8);
	return 0;
}

int msg_hello_decode(const uint8_t *p, size_t len, struct msg_hello *h)
{
	struct msg_hello d;

	if (p == NULL || len < 2)
		return EBADMSG;
	d.version = (uint16_t)get_be(p, 2);
	if (d.version != MSG_PROTOCOL_VERSION) {
		/* Another version's layout may differ: report only that. */
		memset(h, 0, sizeof(*h));
		h->version = d.version;
		return ENOTSUP;
	}
	if (len != MSG_HELLO_LEN)
		return EBADMSG;
	d.node_id = (uint16_t)get_be(p + 2, 2);
	d.peer_id = (uint16_t)get_be(p + 4, 2);
	d.cluster_id = get_be(p + 6, 8);
	d.max_frame = (uint32_t)get_be(p + 14, 4);
	d.head_seq = get_be(p + 18, 8);
	if (!hello_valid(&d))
		return EBADMSG;
	*h = d;
	return 0;
}

enum msg_error_code msg_hello_check(const struct msg_hello *h,
                                    uint16_t self_id, uint64_t cluster_id,
                                    uint16_t expected_peer)
{
	if (h->version != MSG_PROTOCOL_VERSION)
		return MSG_ERR_VERSION;
	if (h->cluster_id != cluster_id)
		return MSG_ERR_CLUSTER;
	if (h->node_id != expected_peer || h->peer_id != self_id)
		return MSG_ERR_IDENTITY;
	return MSG_ERR_NONE;
}

/* --- SUBSCRIBE, ACK, PING/PONG -------------------------------------------- */

/* origin u16 | seq u64: SUBSCRIBE and ACK. */
static int pair_encode(uint16_t origin, uint64_t seq, uint8_t *buf,
                       size_t cap, size_t *out_len)
{
	if (room(buf, cap, MSG_CURSOR_LEN, out_len))
		return ENOSPC;
	put_be(buf, origin, 2);
	put_be(buf + 2, seq, 8);
	return 0;
}

int msg_subscribe_encode(const struct msg_subscribe *s, uint8_t *buf,
                         size_t cap, size_t *out_len)
{
	if (s->origin == 0 || s->from_seq == 0)
		return EINVAL;
	return pair_encode(s->origin, s->from_seq, buf, cap, out_len);
}

int msg_subscribe_decode(const uint8_t *p, size_t len, struct msg_subscribe *s)
{
	uint16_t origin;
	uint64_t seq;

	if (p == NULL || len != MSG_SUBSCRIBE_LEN)
		return EBADMSG;
	origin = (uint16_t)get_be(p, 2);
	seq = get_be(p + 2, 8);
	if (origin == 0 || seq == 0)
		return EBADMSG;
	s->origin = origin;
	s->from_seq = seq;
	return 0;
}

int msg_ack_encode(const struct msg_ack *a, uint8_t *buf, size_t cap,
                   size_t *out_len)
{
	if (a->origin == 0)
		return EINVAL;
	return pair_encode(a->origin, a->seq, buf, cap, out_len);
}

int msg_ack_decode(const uint8_t *p, size_t len, struct msg_ack *a)
{
	uint16_t origin;

	if (p == NULL || len != MSG_ACK_LEN)
		return EBADMSG;
	origin = (uint16_t)get_be(p, 2);
	if (origin == 0)
		return EBADMSG;
	a->origin = origin;
	a->seq = get_be(p + 2, 8);
	return 0;
}

int msg_ping_encode(const struct msg_ping *pg, uint8_t *buf, size_t cap,
                    size_t *out_len)
{
	if (room(buf, cap, MSG_PING_LEN, out_len))
		return ENOSPC;
	put_be(buf, pg->nonce, 8);
	put_be(buf + 8, pg->head_seq, 8);
	return 0;
}

int msg_ping_decode(const uint8_t *p, size_t len, struct msg_ping *pg)
{
	if (p == NULL || len != MSG_PING_LEN)
		return EBADMSG;
	pg->nonce = get_be(p, 8);
	pg->head_seq = get_be(p + 8, 8);
	return 0;
}

/* --- COPY_START / COPY_END --------------------------------------------------- */

int msg_cursors_encode(const struct msg_cursor *v, size_t n, uint8_t *buf,
                       size_t cap, size_t *out_len)
{
	size_t need;

	if (n > MSG_CURSORS_MAX || (v == NULL && n > 0))
		return EINVAL;
	for (size_t i = 0; i < n; i++)
		if (v[i].origin == 0 || (i > 0 && v[i].origin <= v[i - 1].origin))
			return EINVAL;
	need = MSG_CURSORS_HDR + n * MSG_CURSOR_LEN;
	if (room(buf, cap, need, out_len))
		return ENOSPC;
	put_be(buf, n, 2);
	for (size_t i = 0; i < n; i++) {
		uint8_t *q = buf + MSG_CURSORS_HDR + i * MSG_CURSOR_LEN;
		put_be(q, v[i].origin, 2);
		put_be(q + 2, v[i].seq, 8);
	}
	return 0;
}

int msg_cursors_decode(const uint8_t *p, size_t len, struct msg_cursors *c)
{
	uint16_t count, last = 0;

	if (p == NULL || len < MSG_CURSORS_HDR)
		return EBADMSG;
	count = (uint16_t)get_be(p, 2);
	if (len != MSG_CURSORS_HDR + (size_t)count * MSG_CURSOR_LEN)
		return EBADMSG;
	for (uint16_t i = 0; i < count; i++) {
		uint16_t o = (uint16_t)get_be(p + MSG_CURSORS_HDR +
		                              (size_t)i * MSG_CURSOR_LEN, 2);
		if (o <= last) /* 0, duplicate or out of order */
			return EBADMSG;
		last = o;
	}
	c->count = count;
	c->pairs = p + MSG_CURSORS_HDR;
	return 0;
}

struct msg_cursor msg_cursors_at(const struct msg_cursors *c, uint16_t i)
{
	const uint8_t *q = c->pairs + (size_t)i * MSG_CURSOR_LEN;
	struct msg_cursor r = {
		.origin = (uint16_t)get_be(q, 2),
		.seq = get_be(q + 2, 8),
	};

	return r;
}

/* --- BATCH ------------------------------------------------------------------- */

int msg_batch_entry_check(uint16_t origin, const void *entry, size_t len)
{
	struct loom_entry e;
	size_t used;

	if (loom_entry_decode(entry, len, &e, &used) != 0 || used != len)
		return EBADMSG;
	return e.version.origin == origin ? 0 : EINVAL;
}

/* first .. first + n - 1 within 1..UINT64_MAX, n >= 1. */
static bool seq_range_ok(uint64_t first, uint64_t n)
{
	return first != 0 && n != 0 && n - 1 <= UINT64_MAX - first;
}

int msg_batch_header(uint8_t out[MSG_BATCH_HDR], uint16_t origin,
                     uint64_t first_seq, uint32_t n)
{
	if (origin == 0 || !seq_range_ok(first_seq, n))
		return EINVAL;
	put_be(out, origin, 2);
	put_be(out + 2, first_seq, 8);
	put_be(out + 10, n, 4);
	return 0;
}

int msg_batch_begin(struct msg_batch_builder *b, uint8_t *buf, size_t cap,
                    uint16_t origin, uint64_t first_seq)
{
	if (origin == 0 || first_seq == 0)
		return EINVAL;
	if (buf == NULL || cap < MSG_BATCH_HDR)
		return ENOSPC;
	b->buf = buf;
	b->cap = cap;
	b->len = MSG_BATCH_HDR;
	b->origin = origin;
	b->first_seq = first_seq;
	b->count = 0;
	return 0;
}

int msg_batch_add(struct msg_batch_builder *b, const void *entry, size_t len)
{
	int rc = msg_batch_entry_check(b->origin, entry, len);

	if (rc != 0)
		return rc;
	if (b->count == UINT32_MAX || !seq_range_ok(b->first_seq,
	                                            (uint64_t)b->count + 1))
		return EINVAL;
	if (len > b->cap - b->len)
		return ENOSPC;
	memcpy(b->buf + b->len, entry, len);
	b->len += len;
	b->count++;
	return 0;
}

int msg_batch_finish(struct msg_batch_builder *b, size_t *out_len)
{
	int rc = msg_batch_header(b->buf, b->origin, b->first_seq, b->count);

	if (rc != 0)
		return rc;
	*out_len = b->len;
	return 0;
}

int msg_batch_decode(const uint8_t *p, size_t len, struct msg_batch *b)
{
	struct msg_batch d;
	size_t off = MSG_BATCH_HDR;

	if (p == NULL || len < MSG_BATCH_HDR)
		return EBADMSG;
	d.origin = (uint16_t)get_be(p, 2);
	d.first_seq = get_be(p + 2, 8);
	d.count = (uint32_t)get_be(p + 10, 4);
	if (d.origin == 0 || !seq_range_ok(d.first_seq, d.count))
		return EBADMSG;
	/* Every entry is at least 20 bytes, so this loop is bounded by len
	 * whatever count says. */
	for (uint32_t i = 0; i < d.count; i++) {
		struct loom_entry e;
		size_t used;

		if (off == len) /* fewer entries than count */
			return EBADMSG;
		if (loom_entry_decode(p + off, len - off, &e, &used) != 0)
			return EBADMSG;
		if (e.version.origin != d.origin)
			return EBADMSG;
		off += used;
	}
	if (off != len) /* trailing bytes, or more entries than count */
		return EBADMSG;
	d.entries = p + MSG_BATCH_HDR;
	d.entries_len = len - MSG_BATCH_HDR;
	*b = d;
	return 0;
}

void msg_batch_iter_init(struct msg_batch_iter *it, const struct msg_batch *b)
{
	it->p = b->entries;
	it->end = b->entries + b->entries_len;
	it->seq = b->first_seq;
	it->left = b->count;
}

int msg_batch_next(struct msg_batch_iter *it, struct msg_batch_item *item)
{
	size_t used;

	if (it->left == 0)
		return ENOENT;
	if (loom_entry_decode(it->p, (size_t)(it->end - it->p), &item->entry,
	                      &used) != 0)
		return EBADMSG;
	item->seq = it->seq;
	item->raw = it->p;
	item->raw_len = used;
	it->p += used;
	it->seq++;
	it->left--;
	return 0;
}

/* --- COPY_BATCH -------------------------------------------------------------- */

int msg_copy_begin(struct msg_copy_builder *b, uint8_t *buf, size_t cap)
{
	if (buf == NULL || cap < MSG_COPY_BATCH_HDR)
		return ENOSPC;
	b->buf = buf;
	b->cap = cap;
	b->len = MSG_COPY_BATCH_HDR;
	b->count = 0;
	return 0;
}

int msg_copy_add(struct msg_copy_builder *b, const struct copy_record *rec)
{
	size_t n = copy_record_size(rec), used;

	if (n == 0 || b->count == UINT32_MAX)
		return EINVAL;
	if (n > b->cap - b->len)
		return ENOSPC;
	if (copy_record_encode(rec, b->buf + b->len, b->cap - b->len, &used) !=
	    0)
		return EINVAL; /* cannot happen: size checked both */
	b->len += used;
	b->count++;
	return 0;
}

int msg_copy_finish(struct msg_copy_builder *b, size_t *out_len)
{
	if (b->count == 0)
		return EINVAL;
	put_be(b->buf, b->count, 4);
	*out_len = b->len;
	return 0;
}

int msg_copy_batch_decode(const uint8_t *p, size_t len,
                          struct msg_copy_batch *cb)
{
	size_t off = MSG_COPY_BATCH_HDR;
	uint32_t count;

	if (p == NULL || len < MSG_COPY_BATCH_HDR)
		return EBADMSG;
	count = (uint32_t)get_be(p, 4);
	if (count == 0)
		return EBADMSG;
	/* Every record is at least MSG_COPY_RECORD_MIN bytes, so this loop
	 * is bounded by len whatever count says. */
	for (uint32_t i = 0; i < count; i++) {
		struct copy_record r;
		size_t used;

		if (off == len) /* fewer records than count */
			return EBADMSG;
		if (copy_record_decode(p + off, len - off, &r, &used) != 0)
			return EBADMSG;
		off += used;
	}
	if (off != len) /* trailing bytes, or more records than count */
		return EBADMSG;
	cb->count = count;
	cb->records = p + MSG_COPY_BATCH_HDR;
	cb->records_len = len - MSG_COPY_BATCH_HDR;
	return 0;
}

void msg_copy_iter_init(struct msg_copy_iter *it,
                        const struct msg_copy_batch *cb)
{
	it->p = cb->records;
	it->end = cb->records + cb->records_len;
	it->left = cb->count;
}

int msg_copy_next(struct msg_copy_iter *it, struct copy_record *rec,
                  const uint8_t **raw, size_t *raw_len)
{
	size_t used;

	if (it->left == 0)
		return ENOENT;
	if (copy_record_decode(it->p, (size_t)(it->end - it->p), rec, &used) !=
	    0)
		return EBADMSG;
	if (raw != NULL) {
		*raw = it->p;
		*raw_len = used;
	}
	it->p += used;
	it->left--;
	return 0;
}

/* --- ERROR ------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 character at p[0..n) (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), 0 if there is none or
 * it is a C0/C1 control character or DEL. */
static size_t utf8_char(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80)
		return c >= 0x20 && c != 0x7f ? 1 : 0;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		need = 2;
		if (c == 0xc2)
			lo = 0xa0; /* U+0080..U+009F: C1 controls */
	} else if (c < 0xf0) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	}
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

/* Bytes of the longest run of whole valid characters in p[0..n) that fits
 * in max; *bad when an invalid sequence stops it before n. */
static size_t utf8_prefix(const uint8_t *p, size_t n, size_t max, bool *bad)
{
	size_t off = 0;

	*bad = false;
	while (off < n) {
		size_t k = utf8_char(p + off, n - off);
		if (k == 0) {
			*bad = true;
			break;
		}
		if (off + k > max)
			break;
		off += k;
	}
	return off;
}

int msg_error_encode(uint16_t code, const char *reason, uint8_t *buf,
                     size_t cap, size_t *out_len)
{
	size_t n = reason ? strlen(reason) : 0, keep;
	bool bad;

	if (code == 0)
		return EINVAL;
	/* Validate all of it, then keep what fits. */
	if (utf8_prefix((const uint8_t *)reason, n, SIZE_MAX, &bad) != n || bad)
		return EINVAL;
	keep = utf8_prefix((const uint8_t *)reason, n, MSG_ERROR_REASON_MAX,
	                   &bad);
	if (room(buf, cap, MSG_ERROR_HDR + keep, out_len))
		return ENOSPC;
	put_be(buf, code, 2);
	buf[2] = (uint8_t)keep;
	if (keep)
		memcpy(buf + MSG_ERROR_HDR, reason, keep);
	return 0;
}

int msg_error_decode(const uint8_t *p, size_t len, struct msg_error *e)
{
	uint16_t code;
	uint8_t n;
	bool bad;

	if (p == NULL || len < MSG_ERROR_HDR)
		return EBADMSG;
	code = (uint16_t)get_be(p, 2);
	n = p[2];
	if (code == 0 || n > MSG_ERROR_REASON_MAX ||
	    len != (size_t)MSG_ERROR_HDR + n)
		return EBADMSG;
	if (utf8_prefix(p + MSG_ERROR_HDR, n, n, &bad) != n || bad)
		return EBADMSG;
	e->code = code;
	e->reason_len = n;
	e->reason = (const char *)p + MSG_ERROR_HDR;
	return 0;
}

/* --- any ------------------------------------------------------------------------ */

int msg_decode(uint8_t type, uint8_t flags, const uint8_t *p, size_t len,
               struct msg *m)
{
	if (msg_check_header(type, flags) != 0)
		return EBADMSG;
	m->type = type;
	switch ((enum msg_type)type) {
	case MSG_HELLO:
		return msg_hello_decode(p, len, &m->u.hello);
	case MSG_SUBSCRIBE:
		return msg_subscribe_decode(p, len, &m->u.subscribe);
	case MSG_BATCH:
		return msg_batch_decode(p, len, &m->u.batch);
	case MSG_ACK:
		return msg_ack_decode(p, len, &m->u.ack);
	case MSG_PING:
	case MSG_PONG:
		return msg_ping_decode(p, len, &m->u.ping);
	case MSG_COPY_START:
	case MSG_COPY_END:
		return msg_cursors_decode(p, len, &m->u.cursors);
	case MSG_ERROR:
		return msg_error_decode(p, len, &m->u.error);
	case MSG_COPY_BATCH:
		return msg_copy_batch_decode(p, len, &m->u.copy_batch);
	}
	return EBADMSG;
}

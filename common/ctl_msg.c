/*
 * ctl_msg.c - the control plane's message codec (see ctl_msg.h).
 *
 * One layout per type, written once for both directions of the encoder
 * (a counting pass, then a writing pass) and once for the decoder; one
 * range check (check_msg) serves both, so the encoder refuses exactly what
 * the decoder would and every encoding is canonical.
 */
#include "common/ctl_msg.h"

#include "common/names.h"

#include <string.h>

const char *ctl_type_name(enum ctl_type type)
{
	switch (type) {
#define CTL_TYPE_CASE(name, value, text)                                      \
	case value:                                                           \
		return text;
		CTL_TYPE_LIST(CTL_TYPE_CASE)
#undef CTL_TYPE_CASE
	}
	return "unknown";
}

static bool type_known(uint32_t type)
{
	switch (type) {
#define CTL_TYPE_KNOWN(name, value, text) case value:
		CTL_TYPE_LIST(CTL_TYPE_KNOWN)
#undef CTL_TYPE_KNOWN
		return true;
	}
	return false;
}

const char *ctl_msg_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CTL_ERR_CASE(name, value, text)                                       \
	case value:                                                           \
		return text;
		CTL_ERR_LIST(CTL_ERR_CASE)
#undef CTL_ERR_CASE
	}
	return "unknown error";
}

const char *ctl_code_name(uint16_t code)
{
	switch (code) {
#define CTL_CODE_CASE(name, value, text)                                      \
	case value:                                                           \
		return text;
		CTL_CODE_LIST(CTL_CODE_CASE)
#undef CTL_CODE_CASE
	}
	return "unknown error code";
}

void ctl_msg_wipe(struct ctl_msg *m)
{
	/* Through a volatile pointer: a plain memset of a struct about to go
	 * out of scope is a dead store the compiler may drop. */
	volatile uint8_t *p = (volatile uint8_t *)m;

	if (m == NULL)
		return;
	for (size_t i = 0; i < sizeof(*m); i++)
		p[i] = 0;
}

/* --- range checks, shared by encoder and decoder ------------------------- */

/* The length of one UTF-8 character at p (n bytes left), or 0 if it is not
 * one or is a control character other than those allowed (newline and tab
 * when nl_tab). Shortest forms only, no surrogates, nothing past U+10FFFF,
 * no C1 controls. */
static size_t utf8_char(const uint8_t *p, size_t n, bool nl_tab)
{
	uint8_t c = p[0];
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80) {
		if (c >= 0x20 && c != 0x7f)
			return 1;
		return nl_tab && (c == '\n' || c == '\t') ? 1 : 0;
	}
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		need = 2;
		if (c == 0xc2)
			lo = 0xa0; /* U+0080..U+009F: C1 controls */
	} else if (c < 0xf0) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	}
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

static bool utf8_ok(const char *s, size_t n, bool nl_tab)
{
	const uint8_t *p = (const uint8_t *)s;

	for (size_t off = 0; off < n;) {
		size_t k = utf8_char(p + off, n - off, nl_tab);
		if (k == 0)
			return false;
		off += k;
	}
	return true;
}

/* A name array holds a NUL within its CTL_NAME_MAX + 1 bytes (strnlen, not
 * strlen: the caller's array may be unterminated) and is a loom name. */
static int check_name(const char *name)
{
	if (strnlen(name, CTL_NAME_MAX + 1) > CTL_NAME_MAX)
		return CTL_E_NAME;
	return loom_name_valid(name, CTL_NAME_MAX) ? 0 : CTL_E_NAME;
}

static int check_blob(const char *p, size_t len, size_t max)
{
	if (len > max)
		return CTL_E_TOO_LONG;
	return p == NULL && len > 0 ? CTL_E_INVALID : 0;
}

static int check_msg(const struct ctl_msg *m)
{
	int r;

	switch (m->type) {
	case CTL_HELLO: {
		const struct ctl_hello *h = &m->u.hello;
		if (h->version != CTL_VERSION)
			return CTL_E_VERSION;
		/* node id 0: the sender is in no topology yet (a fresh
		 * loom-controld, or a tool such as tests/cluster/ctl_keys.py) */
		return check_name(h->name);
	}
	case CTL_OK:
		return type_known(m->u.ok.acked) ? 0 : CTL_E_RANGE;
	case CTL_ERROR: {
		const struct ctl_error *e = &m->u.error;
		size_t n = strnlen(e->message, CTL_ERROR_MSG_MAX + 1);
		if (e->code == 0)
			return CTL_E_RANGE;
		if (n > CTL_ERROR_MSG_MAX)
			return CTL_E_TOO_LONG;
		return utf8_ok(e->message, n, false) ? 0 : CTL_E_TEXT;
	}
	case CTL_PEER_SET: {
		const struct ctl_peer_set *s = &m->u.peer_set;
		return s->peer_id != 0 && s->ip_be != 0 && s->epoch != 0
		               ? 0
		               : CTL_E_RANGE;
	}
	case CTL_PEER_REMOVE:
		return m->u.peer_remove.peer_id != 0 ? 0 : CTL_E_RANGE;
	case CTL_STATUS_REQ:
	case CTL_STATS_REQ:
		return m->u.req.format <= CTL_FMT_JSON ? 0 : CTL_E_RANGE;
	case CTL_STATUS: {
		const struct ctl_status *st = &m->u.status;
		if (st->node_id == 0 || st->n_peers > CTL_STATUS_PEERS_MAX)
			return CTL_E_RANGE;
		for (unsigned i = 0; i < st->n_peers; i++)
			if (st->peers[i].peer_id == 0)
				return CTL_E_RANGE;
		return 0;
	}
	case CTL_TEXT: {
		const struct ctl_text *t = &m->u.text;
		if (t->format != CTL_FMT_TEXT && t->format != CTL_FMT_JSON)
			return CTL_E_RANGE;
		if ((r = check_blob(t->text, t->text_len, CTL_TEXT_MAX)) != 0)
			return r;
		return utf8_ok(t->text, t->text_len, true) ? 0 : CTL_E_TEXT;
	}
	case CTL_NODE_ADD: {
		const struct ctl_node_add *a = &m->u.node_add;
		if (a->node_id == 0 || a->mgmt_ip_be == 0 ||
		    a->mgmt_port == 0 || a->dp_ip_be == 0)
			return CTL_E_RANGE;
		return check_name(a->name);
	}
	case CTL_NODE_REMOVE:
		return m->u.node_remove.node_id != 0 ? 0 : CTL_E_RANGE;
	case CTL_TOPOLOGY:
		return check_blob(m->u.topology.text, m->u.topology.text_len,
		                  CTL_TOPOLOGY_MAX);
	case CTL_EPOCH:
	case CTL_PING:
	case CTL_PONG:
		return 0;
	}
	return CTL_E_TYPE;
}

/* --- encoder -------------------------------------------------------------- */

/* Counts when p is NULL, writes when not: one layout for both passes. */
struct wr {
	uint8_t *p;
	size_t n;
};

static void put(struct wr *w, uint64_t v, unsigned bytes)
{
	if (w->p != NULL)
		for (unsigned i = 0; i < bytes; i++)
			w->p[w->n + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	w->n += bytes;
}

static void put_raw(struct wr *w, const void *src, size_t len)
{
	if (w->p != NULL && len > 0)
		memcpy(w->p + w->n, src, len);
	w->n += len;
}

static void put_str(struct wr *w, const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	put(w, len, 2);
	put_raw(w, s, len);
}

static void put_blob(struct wr *w, const char *p, size_t len)
{
	put(w, len, 4);
	put_raw(w, p, len);
}

static void put_payload(struct wr *w, const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		put(w, m->u.hello.version, 2);
		put(w, m->u.hello.node_id, 2);
		put(w, m->u.hello.cluster_id, 8);
		put_str(w, m->u.hello.name, CTL_NAME_MAX);
		break;
	case CTL_OK:
		put(w, m->u.ok.acked, 2);
		put(w, m->u.ok.req_id, 4);
		break;
	case CTL_ERROR:
		put(w, m->u.error.code, 2);
		put(w, m->u.error.req_id, 4);
		put_str(w, m->u.error.message, CTL_ERROR_MSG_MAX);
		break;
	case CTL_PEER_SET:
		put(w, m->u.peer_set.req_id, 4);
		put(w, m->u.peer_set.peer_id, 2);
		put_raw(w, &m->u.peer_set.ip_be, 4);
		put(w, m->u.peer_set.epoch, 2);
		/* Straight from the caller's struct to the caller's buffer. */
		put_raw(w, m->u.peer_set.secret, CTL_SECRET_LEN);
		break;
	case CTL_PEER_REMOVE:
		put(w, m->u.peer_remove.req_id, 4);
		put(w, m->u.peer_remove.peer_id, 2);
		break;
	case CTL_STATUS_REQ:
	case CTL_STATS_REQ:
		put(w, m->u.req.req_id, 4);
		put(w, m->u.req.format, 1);
		break;
	case CTL_STATUS: {
		const struct ctl_status *st = &m->u.status;
		put(w, st->req_id, 4);
		put(w, st->node_id, 2);
		put(w, st->own_seq, 8);
		put(w, st->now_ms, 8);
		put(w, st->n_peers, 2);
		for (unsigned i = 0; i < st->n_peers; i++) {
			const struct ctl_peer_status *ps = &st->peers[i];
			put(w, ps->peer_id, 2);
			put(w, ps->up ? 1 : 0, 1);
			put(w, ps->epoch, 2);
			put(w, ps->cursor, 8);
			put(w, ps->head, 8);
			put(w, ps->acked, 8);
			put(w, ps->sent, 8);
			put(w, ps->lag_ms, 8);
			put(w, ps->reconnects, 8);
			put(w, ps->frames_rejected, 8);
		}
		break;
	}
	case CTL_TEXT:
		put(w, m->u.text.req_id, 4);
		put(w, m->u.text.format, 1);
		put_blob(w, m->u.text.text, m->u.text.text_len);
		break;
	case CTL_NODE_ADD:
		put(w, m->u.node_add.req_id, 4);
		put(w, m->u.node_add.node_id, 2);
		put_str(w, m->u.node_add.name, CTL_NAME_MAX);
		put_raw(w, &m->u.node_add.mgmt_ip_be, 4);
		put(w, m->u.node_add.mgmt_port, 2);
		put_raw(w, &m->u.node_add.dp_ip_be, 4);
		break;
	case CTL_NODE_REMOVE:
		put(w, m->u.node_remove.req_id, 4);
		put(w, m->u.node_remove.node_id, 2);
		break;
	case CTL_TOPOLOGY:
		put(w, m->u.topology.version, 8);
		put_blob(w, m->u.topology.text, m->u.topology.text_len);
		break;
	case CTL_EPOCH:
		put(w, m->u.epoch.epoch, 2);
		break;
	case CTL_PING:
	case CTL_PONG:
		put(w, m->u.ping.token, 8);
		break;
	}
}

int ctl_msg_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap,
                   size_t *len)
{
	struct wr w = {NULL, CTL_HDR_LEN};
	int r;

	if (m == NULL || len == NULL)
		return CTL_E_INVALID;
	if ((r = check_msg(m)) != 0)
		return r;
	put_payload(&w, m);
	/* The blob limits keep every valid message inside a frame. */
	if (w.n > CTL_FRAME_MAX)
		return CTL_E_TOO_LONG;
	if (buf == NULL || cap < w.n)
		return CTL_E_SPACE;
	*len = w.n;
	w.p = buf;
	w.n = 0;
	put(&w, *len - CTL_LEN_FIELD, 4);
	put(&w, (uint64_t)m->type, 2);
	put(&w, 0, 2);
	put_payload(&w, m);
	return 0;
}

/* --- decoder -------------------------------------------------------------- */

/* A cursor over the payload. err: the payload ended inside a field (sticky:
 * later reads give 0 and move nothing). bad: the first value refused while
 * reading, reported only if the payload's shape is right (SHORT and
 * TRAILING come first, so a truncation is always CTL_E_SHORT). */
struct rd {
	const uint8_t *p;
	size_t left;
	int err;
	int bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->err != 0 || r->left < n) {
		r->err = CTL_E_SHORT;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint64_t get(struct rd *r, unsigned bytes)
{
	const uint8_t *p = take(r, bytes);
	uint64_t v = 0;

	if (p == NULL)
		return 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void get_raw(struct rd *r, void *dst, size_t n)
{
	const uint8_t *p = take(r, n);

	if (p != NULL)
		memcpy(dst, p, n);
}

static void refuse(struct rd *r, int err)
{
	if (r->bad == 0)
		r->bad = err;
}

/* A u16-length string into dst[0..max] with a NUL. Longer than max is
 * too_long; an embedded NUL is refused here because the copy would hide
 * it (check_msg sees only the C string). */
static void get_str(struct rd *r, char *dst, size_t max, int too_long,
                    int has_nul)
{
	size_t len = (size_t)get(r, 2);
	const uint8_t *p = take(r, len);

	if (p == NULL)
		return;
	if (len > max) {
		refuse(r, too_long);
		return;
	}
	if (memchr(p, 0, len) != NULL) {
		refuse(r, has_nul);
		return;
	}
	memcpy(dst, p, len);
	dst[len] = '\0';
}

/* A u32-length blob, left where it is. */
static void get_blob(struct rd *r, const char **dst, size_t *len)
{
	size_t n = (size_t)get(r, 4);
	const uint8_t *p = take(r, n);

	if (p == NULL)
		return;
	*dst = (const char *)p;
	*len = n;
}

static void get_payload(struct rd *r, struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		/* version was read by the caller */
		m->u.hello.node_id = (uint16_t)get(r, 2);
		m->u.hello.cluster_id = get(r, 8);
		get_str(r, m->u.hello.name, CTL_NAME_MAX, CTL_E_NAME,
		        CTL_E_NAME);
		break;
	case CTL_OK:
		m->u.ok.acked = (uint16_t)get(r, 2);
		m->u.ok.req_id = (uint32_t)get(r, 4);
		break;
	case CTL_ERROR:
		m->u.error.code = (uint16_t)get(r, 2);
		m->u.error.req_id = (uint32_t)get(r, 4);
		get_str(r, m->u.error.message, CTL_ERROR_MSG_MAX,
		        CTL_E_TOO_LONG, CTL_E_TEXT);
		break;
	case CTL_PEER_SET:
		m->u.peer_set.req_id = (uint32_t)get(r, 4);
		m->u.peer_set.peer_id = (uint16_t)get(r, 2);
		get_raw(r, &m->u.peer_set.ip_be, 4);
		m->u.peer_set.epoch = (uint16_t)get(r, 2);
		/* Straight from the caller's frame to the caller's struct. */
		get_raw(r, m->u.peer_set.secret, CTL_SECRET_LEN);
		break;
	case CTL_PEER_REMOVE:
		m->u.peer_remove.req_id = (uint32_t)get(r, 4);
		m->u.peer_remove.peer_id = (uint16_t)get(r, 2);
		break;
	case CTL_STATUS_REQ:
	case CTL_STATS_REQ:
		m->u.req.req_id = (uint32_t)get(r, 4);
		m->u.req.format = (uint8_t)get(r, 1);
		break;
	case CTL_STATUS: {
		struct ctl_status *st = &m->u.status;
		st->req_id = (uint32_t)get(r, 4);
		st->node_id = (uint16_t)get(r, 2);
		st->own_seq = get(r, 8);
		st->now_ms = get(r, 8);
		st->n_peers = (uint16_t)get(r, 2);
		if (st->n_peers > CTL_STATUS_PEERS_MAX) {
			/* No room to keep them; their bytes still decide
			 * between SHORT, TRAILING and this. */
			refuse(r, CTL_E_RANGE);
			take(r, (size_t)st->n_peers * CTL_STATUS_ENTRY_LEN);
			st->n_peers = 0;
			break;
		}
		for (unsigned i = 0; i < st->n_peers; i++) {
			struct ctl_peer_status *ps = &st->peers[i];
			uint64_t up;
			ps->peer_id = (uint16_t)get(r, 2);
			up = get(r, 1);
			if (up > 1)
				refuse(r, CTL_E_RANGE);
			ps->up = up == 1;
			ps->epoch = (uint16_t)get(r, 2);
			ps->cursor = get(r, 8);
			ps->head = get(r, 8);
			ps->acked = get(r, 8);
			ps->sent = get(r, 8);
			ps->lag_ms = get(r, 8);
			ps->reconnects = get(r, 8);
			ps->frames_rejected = get(r, 8);
		}
		break;
	}
	case CTL_TEXT:
		m->u.text.req_id = (uint32_t)get(r, 4);
		m->u.text.format = (uint8_t)get(r, 1);
		get_blob(r, &m->u.text.text, &m->u.text.text_len);
		break;
	case CTL_NODE_ADD:
		m->u.node_add.req_id = (uint32_t)get(r, 4);
		m->u.node_add.node_id = (uint16_t)get(r, 2);
		get_str(r, m->u.node_add.name, CTL_NAME_MAX, CTL_E_NAME,
		        CTL_E_NAME);
		get_raw(r, &m->u.node_add.mgmt_ip_be, 4);
		m->u.node_add.mgmt_port = (uint16_t)get(r, 2);
		get_raw(r, &m->u.node_add.dp_ip_be, 4);
		break;
	case CTL_NODE_REMOVE:
		m->u.node_remove.req_id = (uint32_t)get(r, 4);
		m->u.node_remove.node_id = (uint16_t)get(r, 2);
		break;
	case CTL_TOPOLOGY:
		m->u.topology.version = get(r, 8);
		get_blob(r, &m->u.topology.text, &m->u.topology.text_len);
		break;
	case CTL_EPOCH:
		m->u.epoch.epoch = (uint16_t)get(r, 2);
		break;
	case CTL_PING:
	case CTL_PONG:
		m->u.ping.token = get(r, 8);
		break;
	}
}

ssize_t ctl_frame_need(const uint8_t *buf, size_t have)
{
	uint32_t len;

	if (buf == NULL || have < CTL_LEN_FIELD)
		return 0;
	len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	      (uint32_t)buf[2] << 8 | buf[3];
	if (len < CTL_LEN_MIN || len > CTL_MSG_MAX)
		return CTL_E_LENGTH;
	return have >= CTL_LEN_FIELD + (size_t)len
	               ? (ssize_t)(CTL_LEN_FIELD + (size_t)len)
	               : 0;
}

/* The frame's shape, type and flags; the payload left in *r. */
static int decode_header(const uint8_t *frame, size_t len, uint32_t *type,
                         struct rd *r)
{
	ssize_t need;

	if (len < CTL_LEN_FIELD)
		return CTL_E_TRUNCATED;
	need = ctl_frame_need(frame, len);
	if (need < 0)
		return (int)need;
	if (need == 0)
		return CTL_E_TRUNCATED;
	if ((size_t)need != len)
		return CTL_E_EXCESS;
	if ((frame[6] | frame[7]) != 0)
		return CTL_E_FLAGS;
	*type = (uint32_t)frame[4] << 8 | frame[5];
	if (!type_known(*type))
		return CTL_E_TYPE;
	r->p = frame + CTL_HDR_LEN;
	r->left = len - CTL_HDR_LEN;
	return 0;
}

static int decode(const uint8_t *frame, size_t len, struct ctl_msg *m)
{
	struct rd r = {NULL, 0, 0, 0};
	uint32_t type = 0;
	int err;

	if ((err = decode_header(frame, len, &type, &r)) != 0)
		return err;
	m->type = (enum ctl_type)type;
	if (m->type == CTL_HELLO) {
		/* First, so another version's layout is never judged by
		 * this one's. */
		m->u.hello.version = (uint16_t)get(&r, 2);
		if (r.err == 0 && m->u.hello.version != CTL_VERSION)
			return CTL_E_VERSION;
	}
	get_payload(&r, m);
	if (r.err != 0)
		return r.err;
	if (r.left != 0)
		return CTL_E_TRAILING;
	if (r.bad != 0)
		return r.bad;
	return check_msg(m);
}

int ctl_msg_decode(const uint8_t *frame, size_t len, struct ctl_msg *m)
{
	int err;

	if (m == NULL)
		return CTL_E_INVALID;
	if (frame == NULL && len > 0) {
		ctl_msg_wipe(m);
		return CTL_E_INVALID;
	}
	/* Zeroed first: fields a type does not use read as 0, and the
	 * padding too, so two decodes of one frame compare equal. */
	memset(m, 0, sizeof(*m));
	err = decode(frame, len, m);
	if (err != 0) {
		uint16_t version = m->u.hello.version;
		ctl_msg_wipe(m);
		if (err == CTL_E_VERSION) {
			m->type = CTL_HELLO;
			m->u.hello.version = version;
		}
	}
	return err;
}

/*
 * test_ctl_msg.c - the control plane's message codec (common/ctl_msg.c):
 * every type round trips with typical and boundary values and re-encodes
 * to the same bytes; every truncation, flag, wrong length, trailing byte
 * and out-of-range value is refused with its own code, by the decoder and
 * (where a struct can say it) the encoder; two frames are pinned byte for
 * byte; a stream cut anywhere is reassembled by ctl_frame_need.
 */
#include "check.h"
#include "common/ctl_msg.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A frame up to CTL_FRAME_MAX, plus room for one byte too many. */
static uint8_t frame[CTL_FRAME_MAX + 16];
static uint8_t again[CTL_FRAME_MAX + 16];
static char big_text[CTL_TEXT_MAX + 1];
static char big_topology[CTL_TOPOLOGY_MAX + 1];

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static bool blob_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Field by field: blobs by content (a decode points into its own frame). */
static bool msg_equal(const struct ctl_msg *a, const struct ctl_msg *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case CTL_HELLO:
		return a->u.hello.version == b->u.hello.version &&
		       a->u.hello.node_id == b->u.hello.node_id &&
		       a->u.hello.cluster_id == b->u.hello.cluster_id &&
		       strcmp(a->u.hello.name, b->u.hello.name) == 0;
	case CTL_OK:
		return a->u.ok.acked == b->u.ok.acked &&
		       a->u.ok.req_id == b->u.ok.req_id;
	case CTL_ERROR:
		return a->u.error.code == b->u.error.code &&
		       a->u.error.req_id == b->u.error.req_id &&
		       strcmp(a->u.error.message, b->u.error.message) == 0;
	case CTL_PEER_SET:
		return a->u.peer_set.req_id == b->u.peer_set.req_id &&
		       a->u.peer_set.peer_id == b->u.peer_set.peer_id &&
		       a->u.peer_set.ip_be == b->u.peer_set.ip_be &&
		       a->u.peer_set.epoch == b->u.peer_set.epoch &&
		       memcmp(a->u.peer_set.secret, b->u.peer_set.secret,
		              CTL_SECRET_LEN) == 0;
	case CTL_PEER_REMOVE:
		return a->u.peer_remove.req_id == b->u.peer_remove.req_id &&
		       a->u.peer_remove.peer_id == b->u.peer_remove.peer_id;
	case CTL_STATUS_REQ:
	case CTL_STATS_REQ:
		return a->u.req.req_id == b->u.req.req_id &&
		       a->u.req.format == b->u.req.format;
	case CTL_STATUS: {
		const struct ctl_status *x = &a->u.status, *y = &b->u.status;
		if (x->req_id != y->req_id || x->node_id != y->node_id ||
		    x->own_seq != y->own_seq || x->now_ms != y->now_ms ||
		    x->n_peers != y->n_peers)
			return false;
		for (unsigned i = 0; i < x->n_peers; i++) {
			const struct ctl_peer_status *p = &x->peers[i];
			const struct ctl_peer_status *q = &y->peers[i];
			if (p->peer_id != q->peer_id || p->up != q->up ||
			    p->epoch != q->epoch || p->cursor != q->cursor ||
			    p->head != q->head || p->acked != q->acked ||
			    p->sent != q->sent || p->lag_ms != q->lag_ms ||
			    p->reconnects != q->reconnects ||
			    p->frames_rejected != q->frames_rejected)
				return false;
		}
		return true;
	}
	case CTL_TEXT:
		return a->u.text.req_id == b->u.text.req_id &&
		       a->u.text.format == b->u.text.format &&
		       blob_eq(a->u.text.text, a->u.text.text_len,
		               b->u.text.text, b->u.text.text_len);
	case CTL_NODE_ADD:
		return a->u.node_add.req_id == b->u.node_add.req_id &&
		       a->u.node_add.node_id == b->u.node_add.node_id &&
		       strcmp(a->u.node_add.name, b->u.node_add.name) == 0 &&
		       a->u.node_add.mgmt_ip_be == b->u.node_add.mgmt_ip_be &&
		       a->u.node_add.mgmt_port == b->u.node_add.mgmt_port &&
		       a->u.node_add.dp_ip_be == b->u.node_add.dp_ip_be;
	case CTL_NODE_REMOVE:
		return a->u.node_remove.req_id == b->u.node_remove.req_id &&
		       a->u.node_remove.node_id == b->u.node_remove.node_id;
	case CTL_TOPOLOGY:
		return a->u.topology.version == b->u.topology.version &&
		       blob_eq(a->u.topology.text, a->u.topology.text_len,
		               b->u.topology.text, b->u.topology.text_len);
	case CTL_EPOCH:
		return a->u.epoch.epoch == b->u.epoch.epoch;
	case CTL_PING:
	case CTL_PONG:
		return a->u.ping.token == b->u.ping.token;
	}
	return false;
}

static const enum ctl_type all_types[] = {
	CTL_HELLO,       CTL_OK,        CTL_ERROR,     CTL_PEER_SET,
	CTL_PEER_REMOVE, CTL_STATUS_REQ, CTL_STATUS,   CTL_TEXT,
	CTL_NODE_ADD,    CTL_NODE_REMOVE, CTL_TOPOLOGY, CTL_EPOCH,
	CTL_PING,        CTL_PONG,      CTL_STATS_REQ,
};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))

/* The 63-character name: every class of name character. */
static const char long_name[] =
	"Node-0123456789.abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRST";
_Static_assert(sizeof(long_name) == CTL_NAME_MAX + 1, "63 characters");

/* A message of type t: variant 0 typical, 1 the low bounds (zeros, empty
 * strings and blobs, ids 1), 2 the high bounds (all ones, longest strings
 * and blobs, 64 peers). */
static void sample(struct ctl_msg *m, enum ctl_type t, int variant)
{
	bool lo = variant == 1, hi = variant == 2;
	uint64_t big = hi ? UINT64_MAX : lo ? 0 : 1234567890123ull;
	uint32_t req = hi ? UINT32_MAX : lo ? 0 : 42;
	uint16_t id = hi ? 65535 : lo ? 1 : 2;
	/* An address: 255.255.255.255, 0.0.0.1, or 10.0.0.3. */
	uint32_t ip = htonl(hi ? 0xffffffffu : lo ? 1 : 0x0a000003);

	memset(m, 0, sizeof(*m));
	m->type = t;
	switch (t) {
	case CTL_HELLO:
		m->u.hello.version = CTL_VERSION;
		m->u.hello.node_id = id;
		m->u.hello.cluster_id = big;
		strcpy(m->u.hello.name, hi ? long_name : lo ? "a" : "n2");
		break;
	case CTL_OK:
		m->u.ok.acked = hi ? CTL_STATS_REQ : lo ? CTL_HELLO
		                                        : CTL_PEER_SET;
		m->u.ok.req_id = req;
		break;
	case CTL_ERROR:
		m->u.error.code = hi ? 65535 : lo ? 1 : CTL_CODE_NO_NODE;
		m->u.error.req_id = req;
		if (hi) {
			/* 1024 bytes: 1022 ASCII and one two-byte "é". */
			memset(m->u.error.message, 'x', CTL_ERROR_MSG_MAX);
			m->u.error.message[500] = (char)0xc3;
			m->u.error.message[501] = (char)0xa9;
			m->u.error.message[CTL_ERROR_MSG_MAX] = '\0';
		} else if (!lo) {
			strcpy(m->u.error.message, "no such node: 7 (n7)");
		}
		break;
	case CTL_PEER_SET:
		m->u.peer_set.req_id = req;
		m->u.peer_set.peer_id = id;
		m->u.peer_set.ip_be = ip;
		m->u.peer_set.epoch = hi ? 65535 : lo ? 1 : 7;
		for (unsigned i = 0; i < CTL_SECRET_LEN; i++)
			m->u.peer_set.secret[i] =
				hi ? 0xff : lo ? 0 : (uint8_t)(i * 37 + 1);
		break;
	case CTL_PEER_REMOVE:
		m->u.peer_remove.req_id = req;
		m->u.peer_remove.peer_id = id;
		break;
	case CTL_STATUS_REQ:
	case CTL_STATS_REQ:
		m->u.req.req_id = req;
		m->u.req.format = hi ? CTL_FMT_JSON : lo ? CTL_FMT_BINARY
		                                         : CTL_FMT_TEXT;
		break;
	case CTL_STATUS: {
		struct ctl_status *st = &m->u.status;
		st->req_id = req;
		st->node_id = id;
		st->own_seq = big;
		st->now_ms = hi ? UINT64_MAX : lo ? 0 : 1700000000000ull;
		st->n_peers = hi ? CTL_STATUS_PEERS_MAX : lo ? 0 : 2;
		for (unsigned i = 0; i < st->n_peers; i++) {
			struct ctl_peer_status *p = &st->peers[i];
			p->peer_id = (uint16_t)(hi ? 65535 - i : i + 3);
			p->up = i % 2 == 0;
			p->epoch = hi ? 65535 : (uint16_t)i; /* 0: no key */
			p->cursor = big - i;
			p->head = big;
			p->acked = big - 2 * i;
			p->sent = hi ? UINT64_MAX : 1000 + i;
			p->lag_ms = hi ? UINT64_MAX : 17 * i;
			p->reconnects = hi ? UINT64_MAX : i;
			p->frames_rejected = hi ? UINT64_MAX : 0;
		}
		break;
	}
	case CTL_TEXT:
		m->u.text.req_id = req;
		m->u.text.format = lo ? CTL_FMT_TEXT : CTL_FMT_JSON;
		if (hi) {
			m->u.text.text = big_text;
			m->u.text.text_len = CTL_TEXT_MAX;
		} else if (!lo) {
			m->u.text.text = "{\"node\": \"n1\",\n\t\"peers\": []}";
			m->u.text.text_len = strlen(m->u.text.text);
		}
		break;
	case CTL_NODE_ADD:
		m->u.node_add.req_id = req;
		m->u.node_add.node_id = id;
		strcpy(m->u.node_add.name, hi ? long_name : lo ? "Z" : "n4");
		m->u.node_add.mgmt_ip_be = ip ^ htonl(0x40000000);
		m->u.node_add.mgmt_port = hi ? 65535 : lo ? 1 : 9925;
		m->u.node_add.dp_ip_be = ip;
		break;
	case CTL_NODE_REMOVE:
		m->u.node_remove.req_id = req;
		m->u.node_remove.node_id = id;
		break;
	case CTL_TOPOLOGY:
		m->u.topology.version = big;
		if (hi) {
			m->u.topology.text = big_topology;
			m->u.topology.text_len = CTL_TOPOLOGY_MAX;
		} else if (!lo) {
			m->u.topology.text = "node 1 n1 10.1.0.1:9925 10.0.0.1";
			m->u.topology.text_len = strlen(m->u.topology.text);
		}
		break;
	case CTL_EPOCH:
		m->u.epoch.epoch = hi ? 65535 : lo ? 0 : 3;
		break;
	case CTL_PING:
	case CTL_PONG:
		m->u.ping.token = big;
		break;
	}
}

/*
 * Encode m, then everything a decoder must say about that frame and about
 * every damaged copy of it: the round trip, the same bytes again, every
 * cut-off prefix, every cut-off payload, a trailing byte, a byte after the
 * frame, each flag bit, and ctl_frame_need on every prefix.
 */
static void round_trip(const struct ctl_msg *m, const char *what)
{
	struct ctl_msg d, d2;
	size_t len = 0, len2 = 0, n = 0;
	int r;

	r = ctl_msg_encode(m, frame, sizeof(frame), &len);
	if (r != 0) {
		fprintf(stderr, "%s: encode: %s\n", what, ctl_msg_strerror(r));
		CHECK(r == 0);
		return;
	}
	CHECK(len >= CTL_HDR_LEN && len <= CTL_FRAME_MAX);
	CHECK_EQ_U64((uint64_t)frame[0] << 24 | frame[1] << 16 | frame[2] << 8 |
	                     frame[3],
	             len - 4);
	CHECK_EQ_U64(frame[4] << 8 | frame[5], m->type);
	CHECK(frame[6] == 0 && frame[7] == 0);

	r = ctl_msg_decode(frame, len, &d);
	if (r != 0)
		fprintf(stderr, "%s: decode: %s\n", what, ctl_msg_strerror(r));
	CHECK(r == 0);
	CHECK(msg_equal(m, &d));
	/* Canonical: the decoded message gives the same bytes back. */
	CHECK(ctl_msg_encode(&d, again, sizeof(again), &len2) == 0);
	CHECK(len2 == len && memcmp(again, frame, len) == 0);
	CHECK(ctl_msg_decode(again, len2, &d2) == 0 && msg_equal(&d, &d2));

	/* The exact size is enough, a byte less is not (and writes nothing). */
	CHECK(ctl_msg_encode(m, again, len, &n) == 0 && n == len);
	memset(again, 0xa5, len);
	n = 7;
	CHECK(ctl_msg_encode(m, again, len - 1, &n) == CTL_E_SPACE);
	CHECK(n == 7);
	for (size_t i = 0; i < len; i++)
		if (again[i] != 0xa5) {
			CHECK(again[i] == 0xa5);
			break;
		}
	CHECK(ctl_msg_encode(m, NULL, 0, &n) == CTL_E_SPACE);

	/* Every prefix: the frame is not all there. */
	for (size_t k = 0; k < len; k++) {
		r = ctl_msg_decode(frame, k, &d);
		if (r != CTL_E_TRUNCATED) {
			fprintf(stderr, "%s: prefix %zu: %s\n", what, k,
			        ctl_msg_strerror(r));
			CHECK(r == CTL_E_TRUNCATED);
			break;
		}
		if (ctl_frame_need(frame, k) != 0) {
			CHECK(ctl_frame_need(frame, k) == 0);
			break;
		}
	}
	CHECK(ctl_frame_need(frame, len) == (ssize_t)len);
	CHECK(ctl_frame_need(frame, len + 1) == (ssize_t)len);

	/* Every cut-off payload, its length field saying so: a whole frame
	 * whose payload ends inside a field. */
	for (size_t k = CTL_HDR_LEN; k < len; k++) {
		put_be(frame, k - 4, 4);
		r = ctl_msg_decode(frame, k, &d);
		if (r != CTL_E_SHORT) {
			fprintf(stderr, "%s: payload cut at %zu: %s\n", what, k,
			        ctl_msg_strerror(r));
			CHECK(r == CTL_E_SHORT);
			break;
		}
	}
	put_be(frame, len - 4, 4);

	/* A byte after the frame; a byte more in the payload. */
	frame[len] = 0;
	CHECK(ctl_msg_decode(frame, len + 1, &d) == CTL_E_EXCESS);
	put_be(frame, len + 1 - 4, 4);
	r = ctl_msg_decode(frame, len + 1, &d);
	CHECK(r == (len == CTL_FRAME_MAX ? CTL_E_LENGTH : CTL_E_TRAILING));
	put_be(frame, len - 4, 4);

	/* Each flag bit alone. */
	for (unsigned bit = 0; bit < 16; bit++) {
		put_be(frame + 6, 1u << bit, 2);
		CHECK(ctl_msg_decode(frame, len, &d) == CTL_E_FLAGS);
	}
	put_be(frame + 6, 0, 2);
	CHECK(ctl_msg_decode(frame, len, &d) == 0);
}

static void test_round_trips(void)
{
	struct ctl_msg m;
	char what[64];

	for (size_t i = 0; i < sizeof(big_text); i++)
		big_text[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
	big_text[100] = (char)0xe2; /* U+2192 RIGHTWARDS ARROW */
	big_text[101] = (char)0x86;
	big_text[102] = (char)0x92;
	big_text[103] = '\t';
	for (size_t i = 0; i < sizeof(big_topology); i++)
		big_topology[i] = (char)(i * 7); /* opaque: NULs and all */

	for (size_t t = 0; t < N_TYPES; t++)
		for (int v = 0; v < 3; v++) {
			snprintf(what, sizeof(what), "%s/%d",
			         ctl_type_name(all_types[t]), v);
			sample(&m, all_types[t], v);
			round_trip(&m, what);
		}

	/* The sizes the header promises. */
	size_t len = 0;
	sample(&m, CTL_TEXT, 2);
	CHECK(ctl_msg_encode(&m, frame, sizeof(frame), &len) == 0);
	CHECK_EQ_U64(len, CTL_FRAME_MAX);
	sample(&m, CTL_TOPOLOGY, 2);
	CHECK(ctl_msg_encode(&m, frame, sizeof(frame), &len) == 0);
	CHECK_EQ_U64(len, CTL_FRAME_MAX);
	sample(&m, CTL_STATUS, 2);
	CHECK(ctl_msg_encode(&m, frame, sizeof(frame), &len) == 0);
	CHECK_EQ_U64(len, CTL_HDR_LEN + 24 +
	                          CTL_STATUS_PEERS_MAX * CTL_STATUS_ENTRY_LEN);
}

/* The wire format, pinned: these bytes are what peers and loomd speak. */
static void test_golden(void)
{
	static const uint8_t hello[] = {
		0x00, 0x00, 0x00, 0x14, /* length 20 */
		0x00, 0x01, 0x00, 0x00, /* HELLO, no flags */
		0x00, 0x01,             /* version 1 */
		0x00, 0x02,             /* node 2 */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* cluster */
		0x00, 0x02, 0x6e, 0x32, /* "n2" */
	};
	static const uint8_t peer_set[] = {
		0x00, 0x00, 0x00, 0x30, /* length 48 */
		0x00, 0x04, 0x00, 0x00, /* PEER_SET, no flags */
		0x01, 0x02, 0x03, 0x04, /* request 0x01020304 */
		0x00, 0x03,             /* peer 3 */
		0x0a, 0x00, 0x00, 0x03, /* 10.0.0.3 */
		0x00, 0x07,             /* epoch 7 */
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, /* secret */
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
		0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	};
	struct ctl_msg m, d;
	uint8_t buf[128];
	size_t len = 0;

	memset(&m, 0, sizeof(m));
	m.type = CTL_HELLO;
	m.u.hello.version = 1;
	m.u.hello.node_id = 2;
	m.u.hello.cluster_id = 0x0123456789abcdefull;
	strcpy(m.u.hello.name, "n2");
	CHECK(ctl_msg_encode(&m, buf, sizeof(buf), &len) == 0);
	CHECK(len == sizeof(hello) && memcmp(buf, hello, len) == 0);
	CHECK(ctl_msg_decode(hello, sizeof(hello), &d) == 0);
	CHECK(msg_equal(&m, &d));

	memset(&m, 0, sizeof(m));
	m.type = CTL_PEER_SET;
	m.u.peer_set.req_id = 0x01020304;
	m.u.peer_set.peer_id = 3;
	CHECK(inet_pton(AF_INET, "10.0.0.3", &m.u.peer_set.ip_be) == 1);
	m.u.peer_set.epoch = 7;
	for (unsigned i = 0; i < CTL_SECRET_LEN; i++)
		m.u.peer_set.secret[i] = (uint8_t)i;
	CHECK(ctl_msg_encode(&m, buf, sizeof(buf), &len) == 0);
	CHECK(len == sizeof(peer_set) && memcmp(buf, peer_set, len) == 0);
	CHECK(ctl_msg_decode(peer_set, sizeof(peer_set), &d) == 0);
	CHECK(msg_equal(&m, &d));
	CHECK(d.u.peer_set.ip_be == htonl(0x0a000003));

	/* Epoch 0 is not an epoch: refused both ways. */
	memcpy(buf, peer_set, sizeof(peer_set));
	put_be(buf + 18, 0, 2);
	CHECK(ctl_msg_decode(buf, sizeof(peer_set), &d) == CTL_E_RANGE);
	m.u.peer_set.epoch = 0;
	CHECK(ctl_msg_encode(&m, buf, sizeof(buf), &len) == CTL_E_RANGE);
	ctl_msg_wipe(&m);
	ctl_msg_wipe(&d);
}

/* A hand-made frame for values no struct can hold. */
struct builder {
	uint8_t b[CTL_FRAME_MAX + 16];
	size_t n;
};

static void b_start(struct builder *b, uint16_t type)
{
	b->n = CTL_HDR_LEN;
	put_be(b->b + 4, type, 2);
	put_be(b->b + 6, 0, 2);
}

static void b_put(struct builder *b, uint64_t v, unsigned bytes)
{
	put_be(b->b + b->n, v, bytes);
	b->n += bytes;
}

static void b_raw(struct builder *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static int b_decode(struct builder *b, struct ctl_msg *m)
{
	put_be(b->b, b->n - 4, 4);
	return ctl_msg_decode(b->b, b->n, m);
}

static struct builder bld;

static int hello_named(const void *name, size_t len, struct ctl_msg *m)
{
	b_start(&bld, CTL_HELLO);
	b_put(&bld, 1, 2);
	b_put(&bld, 9, 2);
	b_put(&bld, 77, 8);
	b_put(&bld, len, 2);
	b_raw(&bld, name, len);
	return b_decode(&bld, m);
}

static int node_add_named(const void *name, size_t len, struct ctl_msg *m)
{
	b_start(&bld, CTL_NODE_ADD);
	b_put(&bld, 5, 4);
	b_put(&bld, 4, 2);
	b_put(&bld, len, 2);
	b_raw(&bld, name, len);
	b_put(&bld, 0xc0a80104, 4);
	b_put(&bld, 9925, 2);
	b_put(&bld, 0x0a000004, 4);
	return b_decode(&bld, m);
}

static void test_names(void)
{
	static const struct {
		const char *name;
		size_t len;
	} bad[] = {
		{"", 0},           {"a b", 3},      {"n/1", 3},
		{"n\0" "1", 3},    {"\xc3\xa9", 2}, {"n1\n", 3},
		{"n:1", 3},        {"*", 1},
	};
	char name64[CTL_NAME_MAX + 2];
	struct ctl_msg m, e;
	size_t len;

	CHECK(hello_named("n1", 2, &m) == 0);
	CHECK(strcmp(m.u.hello.name, "n1") == 0);
	CHECK(hello_named(long_name, CTL_NAME_MAX, &m) == 0);
	CHECK(strcmp(m.u.hello.name, long_name) == 0);
	CHECK(node_add_named("x.y-z_0", 7, &m) == 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(hello_named(bad[i].name, bad[i].len, &m) == CTL_E_NAME);
		CHECK(m.type == 0 && m.u.hello.name[0] == '\0');
		CHECK(node_add_named(bad[i].name, bad[i].len, &m) ==
		      CTL_E_NAME);
		/* The encoder refuses what fits its C string. */
		if (memchr(bad[i].name, 0, bad[i].len) == NULL) {
			sample(&e, CTL_HELLO, 0);
			memcpy(e.u.hello.name, bad[i].name, bad[i].len + 1);
			CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) ==
			      CTL_E_NAME);
			sample(&e, CTL_NODE_ADD, 0);
			memcpy(e.u.node_add.name, bad[i].name, bad[i].len + 1);
			CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) ==
			      CTL_E_NAME);
		}
	}

	/* 64 characters: one too many, both ways. */
	memset(name64, 'a', CTL_NAME_MAX + 1);
	name64[CTL_NAME_MAX + 1] = '\0';
	CHECK(hello_named(name64, CTL_NAME_MAX + 1, &m) == CTL_E_NAME);
	CHECK(node_add_named(name64, CTL_NAME_MAX + 1, &m) == CTL_E_NAME);
	/* An array with no NUL in it at all. */
	sample(&e, CTL_HELLO, 0);
	memset(e.u.hello.name, 'a', sizeof(e.u.hello.name));
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_NAME);
	/* A name longer than its payload: SHORT before anything else. */
	b_start(&bld, CTL_HELLO);
	b_put(&bld, 1, 2);
	b_put(&bld, 9, 2);
	b_put(&bld, 77, 8);
	b_put(&bld, 200, 2);
	b_raw(&bld, "abc", 3);
	CHECK(b_decode(&bld, &m) == CTL_E_SHORT);
}

static int error_with(uint16_t code, const void *msg, size_t len,
                      struct ctl_msg *m)
{
	b_start(&bld, CTL_ERROR);
	b_put(&bld, code, 2);
	b_put(&bld, 99, 4);
	b_put(&bld, len, 2);
	b_raw(&bld, msg, len);
	return b_decode(&bld, m);
}

static int text_with(uint8_t format, const void *text, size_t len,
                     struct ctl_msg *m)
{
	b_start(&bld, CTL_TEXT);
	b_put(&bld, 1, 4);
	b_put(&bld, format, 1);
	b_put(&bld, len, 4);
	b_raw(&bld, text, len);
	return b_decode(&bld, m);
}

static void test_strings(void)
{
	static char msg[CTL_ERROR_MSG_MAX + 2];
	static const char *bad_text[] = {
		"\x1b[2J",        /* ESC: a terminal escape */
		"a\rb",           /* CR */
		"\x7f",           /* DEL */
		"\xc2\x85",       /* C1 control U+0085 */
		"\xc0\xaf",       /* overlong '/' */
		"\xed\xa0\x80",   /* surrogate */
		"\xf4\x90\x80\x80", /* past U+10FFFF */
		"\xe2\x86",       /* cut short */
		"\xff",
	};
	struct ctl_msg m, e;
	size_t len;

	/* ERROR: up to 1024 bytes, UTF-8, no control characters. */
	memset(msg, 'm', sizeof(msg));
	CHECK(error_with(CTL_CODE_INTERNAL, msg, CTL_ERROR_MSG_MAX, &m) == 0);
	CHECK_EQ_U64(strlen(m.u.error.message), CTL_ERROR_MSG_MAX);
	CHECK(error_with(CTL_CODE_INTERNAL, msg, CTL_ERROR_MSG_MAX + 1, &m) ==
	      CTL_E_TOO_LONG);
	CHECK(error_with(CTL_CODE_INTERNAL, "", 0, &m) == 0);
	CHECK(error_with(1000, "newer", 5, &m) == 0); /* unknown codes pass */
	CHECK(m.u.error.code == 1000);
	CHECK(error_with(0, "zero", 4, &m) == CTL_E_RANGE);
	CHECK(error_with(1, "a\0b", 3, &m) == CTL_E_TEXT);
	CHECK(error_with(1, "two\nlines", 9, &m) == CTL_E_TEXT);
	CHECK(error_with(1, "tab\t", 4, &m) == CTL_E_TEXT);
	sample(&e, CTL_ERROR, 0);
	memset(e.u.error.message, 'm', sizeof(e.u.error.message));
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) ==
	      CTL_E_TOO_LONG);
	e.u.error.message[CTL_ERROR_MSG_MAX] = '\0';
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == 0);
	e.u.error.code = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_ERROR, 0);
	strcpy(e.u.error.message, "bell\a");
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_TEXT);

	/* TEXT: UTF-8, newline and tab allowed, no other control. */
	CHECK(text_with(CTL_FMT_TEXT, "a\tb\n\xe2\x86\x92\n", 8, &m) == 0);
	CHECK(m.u.text.text == (const char *)bld.b + 17); /* zero copy */
	CHECK_EQ_U64(m.u.text.text_len, 8);
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		const char *t = bad_text[i];
		CHECK(text_with(CTL_FMT_TEXT, t, strlen(t), &m) == CTL_E_TEXT);
		CHECK(error_with(1, t, strlen(t), &m) == CTL_E_TEXT);
		sample(&e, CTL_TEXT, 0);
		e.u.text.text = t;
		e.u.text.text_len = strlen(t);
		CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) ==
		      CTL_E_TEXT);
	}
	CHECK(text_with(CTL_FMT_BINARY, "x", 1, &m) == CTL_E_RANGE);
	CHECK(text_with(3, "x", 1, &m) == CTL_E_RANGE);
	/* A blob longer than what follows it. */
	b_start(&bld, CTL_TEXT);
	b_put(&bld, 1, 4);
	b_put(&bld, CTL_FMT_TEXT, 1);
	b_put(&bld, 0xffffffffu, 4);
	b_raw(&bld, "abc", 3);
	CHECK(b_decode(&bld, &m) == CTL_E_SHORT);

	/* Blobs too long for a frame, and NULL with a length. */
	sample(&e, CTL_TEXT, 2);
	e.u.text.text_len = CTL_TEXT_MAX + 1;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) ==
	      CTL_E_TOO_LONG);
	e.u.text.text = NULL;
	e.u.text.text_len = 1;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_INVALID);
	e.u.text.text_len = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == 0);
	sample(&e, CTL_TOPOLOGY, 2);
	e.u.topology.text_len = CTL_TOPOLOGY_MAX + 1;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) ==
	      CTL_E_TOO_LONG);
	e.u.topology.text = NULL;
	e.u.topology.text_len = 3;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_INVALID);
}

/* One STATUS entry on the wire. */
static void b_entry(struct builder *b, uint16_t peer, uint8_t up)
{
	b_put(b, peer, 2);
	b_put(b, up, 1);
	b_put(b, 1, 2);
	for (int i = 0; i < 7; i++)
		b_put(b, (uint64_t)i, 8);
}

static int status_with(unsigned n_field, unsigned n_entries, uint16_t peer,
                       uint8_t up, struct ctl_msg *m)
{
	b_start(&bld, CTL_STATUS);
	b_put(&bld, 1, 4);
	b_put(&bld, 2, 2);
	b_put(&bld, 3, 8);
	b_put(&bld, 4, 8);
	b_put(&bld, n_field, 2);
	for (unsigned i = 0; i < n_entries; i++)
		b_entry(&bld, peer, up);
	return b_decode(&bld, m);
}

static void test_ranges(void)
{
	struct ctl_msg m, e;
	size_t len = 0;

	/* STATUS: at most 64 peers; the count must match the bytes. */
	CHECK(status_with(64, 64, 5, 1, &m) == 0);
	CHECK(m.u.status.n_peers == 64 && m.u.status.peers[63].up);
	CHECK(status_with(65, 65, 5, 1, &m) == CTL_E_RANGE);
	CHECK(m.type == 0 && m.u.status.n_peers == 0);
	CHECK(status_with(65535, 65, 5, 1, &m) == CTL_E_SHORT);
	CHECK(status_with(65, 66, 5, 1, &m) == CTL_E_TRAILING);
	CHECK(status_with(3, 2, 5, 1, &m) == CTL_E_SHORT);
	CHECK(status_with(2, 3, 5, 1, &m) == CTL_E_TRAILING);
	CHECK(status_with(1, 1, 5, 2, &m) == CTL_E_RANGE);   /* up is 0/1 */
	CHECK(status_with(1, 1, 5, 0xff, &m) == CTL_E_RANGE);
	CHECK(status_with(1, 1, 0, 1, &m) == CTL_E_RANGE);   /* peer 0 */
	sample(&e, CTL_STATUS, 2);
	e.u.status.n_peers = CTL_STATUS_PEERS_MAX + 1;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_STATUS, 0);
	e.u.status.peers[1].peer_id = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);

	/* Every zero id or address, every out-of-range small field: the
	 * encoder refuses it, and its valid frame patched to it is refused
	 * by the decoder. Offsets are into the frame. */
	static const struct {
		enum ctl_type type;
		size_t off;
		unsigned bytes;
		uint64_t value;
	} patch[] = {
		{CTL_OK, 8, 2, 0},              /* acked type 0 */
		{CTL_OK, 8, 2, 16},             /* acked type unknown */
		{CTL_ERROR, 8, 2, 0},           /* code 0 */
		{CTL_PEER_SET, 12, 2, 0},       /* peer 0 */
		{CTL_PEER_SET, 14, 4, 0},       /* address 0.0.0.0 */
		{CTL_PEER_SET, 18, 2, 0},       /* epoch 0 */
		{CTL_PEER_REMOVE, 12, 2, 0},    /* peer 0 */
		{CTL_STATUS_REQ, 12, 1, 3},     /* format 3 */
		{CTL_STATS_REQ, 12, 1, 0xff},   /* format 255 */
		{CTL_STATUS, 12, 2, 0},         /* node 0 */
		{CTL_TEXT, 12, 1, 0},           /* format binary */
		{CTL_NODE_ADD, 12, 2, 0},       /* node 0 */
		{CTL_NODE_ADD, 18, 4, 0},       /* mgmt address 0 (past "n4") */
		{CTL_NODE_ADD, 22, 2, 0},       /* mgmt port 0 */
		{CTL_NODE_ADD, 24, 4, 0},       /* dataplane address 0 */
		{CTL_NODE_REMOVE, 12, 2, 0},    /* node 0 */
	};
	for (size_t i = 0; i < sizeof(patch) / sizeof(patch[0]); i++) {
		sample(&e, patch[i].type, 0);
		CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == 0);
		put_be(frame + patch[i].off, patch[i].value, patch[i].bytes);
		int r = ctl_msg_decode(frame, len, &m);
		if (r != CTL_E_RANGE)
			fprintf(stderr, "patch %zu (%s): %s\n", i,
			        ctl_type_name(patch[i].type),
			        ctl_msg_strerror(r));
		CHECK(r == CTL_E_RANGE);
	}
	/* HELLO's node id 0 (a sender in no topology yet) is valid. */
	sample(&e, CTL_HELLO, 0);
	e.u.hello.node_id = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == 0);
	CHECK(ctl_msg_decode(frame, len, &m) == 0 && m.type == CTL_HELLO &&
	      m.u.hello.node_id == 0);
	/* The same values set in the struct. */
	sample(&e, CTL_OK, 0);
	e.u.ok.acked = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_PEER_SET, 0);
	e.u.peer_set.peer_id = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_PEER_SET, 0);
	e.u.peer_set.ip_be = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_PEER_REMOVE, 0);
	e.u.peer_remove.peer_id = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_STATUS_REQ, 0);
	e.u.req.format = 3;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_STATUS, 0);
	e.u.status.node_id = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_TEXT, 0);
	e.u.text.format = CTL_FMT_BINARY;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_NODE_ADD, 0);
	e.u.node_add.mgmt_port = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_NODE_ADD, 0);
	e.u.node_add.dp_ip_be = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
	sample(&e, CTL_NODE_REMOVE, 0);
	e.u.node_remove.node_id = 0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_RANGE);
}

static void test_frame(void)
{
	struct ctl_msg m, e;
	uint8_t b[16];
	size_t len = 0;

	/* The length field: 4..65536, else the stream is lost. */
	static const uint32_t bad_len[] = {0, 1, 2, 3, CTL_MSG_MAX + 1,
	                                   0x01000000, 0xffffffffu};
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		memset(b, 0, sizeof(b));
		put_be(b, bad_len[i], 4);
		CHECK(ctl_frame_need(b, 4) == CTL_E_LENGTH);
		CHECK(ctl_frame_need(b, sizeof(b)) == CTL_E_LENGTH);
		CHECK(ctl_msg_decode(b, sizeof(b), &m) == CTL_E_LENGTH);
		CHECK(ctl_msg_decode(b, 4, &m) == CTL_E_LENGTH);
	}
	put_be(b, CTL_MSG_MAX, 4);
	CHECK(ctl_frame_need(b, 4) == 0);
	CHECK(ctl_frame_need(b, 3) == 0);
	CHECK(ctl_frame_need(NULL, 0) == 0);

	/* A length field of 4: a header and no payload. Every type has a
	 * payload, so a known type is short; others are unknown. */
	put_be(b, 4, 4);
	put_be(b + 6, 0, 2);
	for (uint32_t t = 0; t <= 0xffff; t++) {
		put_be(b + 4, t, 2);
		int r = ctl_msg_decode(b, 8, &m);
		int want = t >= 1 && t <= 15 ? CTL_E_SHORT : CTL_E_TYPE;
		if (r != want) {
			CHECK(r == want);
			break;
		}
	}

	/* Unknown types with any payload; flags before type. */
	sample(&e, CTL_PING, 0);
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == 0);
	put_be(frame + 4, 16, 2);
	CHECK(ctl_msg_decode(frame, len, &m) == CTL_E_TYPE);
	put_be(frame + 6, 1, 2);
	CHECK(ctl_msg_decode(frame, len, &m) == CTL_E_FLAGS);
	e.type = (enum ctl_type)16;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_TYPE);
	e.type = (enum ctl_type)0;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_TYPE);

	/* HELLO of another version: said so, whatever follows. */
	b_start(&bld, CTL_HELLO);
	b_put(&bld, 2, 2);
	b_put(&bld, 0xabcdef, 8);
	CHECK(b_decode(&bld, &m) == CTL_E_VERSION);
	CHECK(m.type == CTL_HELLO && m.u.hello.version == 2);
	CHECK(m.u.hello.node_id == 0 && m.u.hello.cluster_id == 0);
	b_start(&bld, CTL_HELLO);
	b_put(&bld, 0, 2);
	CHECK(b_decode(&bld, &m) == CTL_E_VERSION);
	CHECK(m.type == CTL_HELLO && m.u.hello.version == 0);
	b_start(&bld, CTL_HELLO);
	b_put(&bld, 1, 1);
	CHECK(b_decode(&bld, &m) == CTL_E_SHORT);
	sample(&e, CTL_HELLO, 0);
	e.u.hello.version = 2;
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), &len) == CTL_E_VERSION);

	/* Arguments. */
	CHECK(ctl_msg_decode(NULL, 0, &m) == CTL_E_TRUNCATED);
	CHECK(ctl_msg_decode(NULL, 8, &m) == CTL_E_INVALID);
	CHECK(ctl_msg_decode(b, 8, NULL) == CTL_E_INVALID);
	CHECK(ctl_msg_encode(NULL, frame, sizeof(frame), &len) ==
	      CTL_E_INVALID);
	CHECK(ctl_msg_encode(&e, frame, sizeof(frame), NULL) == CTL_E_INVALID);
}

/* A decode that fails leaves nothing behind, the secret included. */
static void test_secret(void)
{
	struct ctl_msg m, d;
	size_t len = 0;
	const uint8_t *p;
	bool zero = true;

	sample(&m, CTL_PEER_SET, 0);
	CHECK(ctl_msg_encode(&m, frame, sizeof(frame), &len) == 0);
	CHECK(ctl_msg_decode(frame, len, &d) == 0);
	CHECK(memcmp(d.u.peer_set.secret, m.u.peer_set.secret,
	             CTL_SECRET_LEN) == 0);
	/* Epoch 0 is found after the secret is in d: d is wiped. */
	put_be(frame + 18, 0, 2);
	CHECK(ctl_msg_decode(frame, len, &d) == CTL_E_RANGE);
	p = (const uint8_t *)&d;
	for (size_t i = 0; i < sizeof(d); i++)
		zero = zero && p[i] == 0;
	CHECK(zero);

	put_be(frame + 18, 7, 2);
	CHECK(ctl_msg_decode(frame, len, &d) == 0);
	ctl_msg_wipe(&d);
	zero = true;
	for (size_t i = 0; i < sizeof(d); i++)
		zero = zero && p[i] == 0;
	CHECK(zero);
	ctl_msg_wipe(NULL);
	ctl_msg_wipe(&m);
}

/*
 * A stream of every sample frame, delivered in pieces of every size from 1
 * up and of an irregular pattern: the reader finds each frame whole, in
 * order, and nothing else.
 */
static uint8_t stream[1 << 20];
static uint8_t rbuf[CTL_FRAME_MAX * 2];

static size_t stream_build(size_t *offs, size_t *n_frames)
{
	struct ctl_msg m;
	size_t total = 0, len = 0;

	*n_frames = 0;
	for (size_t t = 0; t < N_TYPES; t++)
		for (int v = 0; v < 3; v++) {
			sample(&m, all_types[t], v);
			size_t room = sizeof(stream) - total;
			CHECK(ctl_msg_encode(&m, stream + total, room, &len) ==
			      0);
			offs[(*n_frames)++] = total;
			total += len;
		}
	offs[*n_frames] = total;
	return total;
}

static bool read_stream(size_t total, const size_t *offs, size_t n_frames,
                        size_t step)
{
	struct ctl_msg d;
	size_t have = 0, pos = 0, got = 0, k = 0;

	while (pos < total || have > 0) {
		size_t chunk = step ? step : 1 + (k * 7919) % 5000;
		k++;
		if (chunk > total - pos)
			chunk = total - pos;
		if (have + chunk > sizeof(rbuf))
			chunk = sizeof(rbuf) - have;
		memcpy(rbuf + have, stream + pos, chunk);
		have += chunk;
		pos += chunk;
		for (;;) {
			ssize_t need = ctl_frame_need(rbuf, have);
			if (need < 0)
				return false;
			if (need == 0)
				break;
			if (got >= n_frames ||
			    (size_t)need != offs[got + 1] - offs[got])
				return false;
			if (memcmp(rbuf, stream + offs[got], (size_t)need) ||
			    ctl_msg_decode(rbuf, (size_t)need, &d) != 0)
				return false;
			got++;
			memmove(rbuf, rbuf + need, have - (size_t)need);
			have -= (size_t)need;
		}
		if (pos == total && have > 0)
			return false; /* bytes that never became a frame */
	}
	return got == n_frames;
}

static void test_stream(void)
{
	size_t offs[N_TYPES * 3 + 1], n_frames, total;
	uint8_t bad[12] = {0x00, 0x01, 0x00, 0x01}; /* 65537 */

	total = stream_build(offs, &n_frames);
	CHECK(total < sizeof(stream));
	static const size_t steps[] = {1, 2, 3, 5, 7, 8, 9, 61, 4096,
	                               CTL_FRAME_MAX, 0};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		bool ok = read_stream(total, offs, n_frames, steps[i]);
		if (!ok)
			fprintf(stderr, "stream in steps of %zu\n", steps[i]);
		CHECK(ok);
	}

	/* A bad length is known from 4 bytes on, not sooner. */
	CHECK(ctl_frame_need(bad, 3) == 0);
	CHECK(ctl_frame_need(bad, 4) == CTL_E_LENGTH);
	/* Two PINGs back to back: the first, then the second. */
	struct ctl_msg m;
	size_t len = 0;
	sample(&m, CTL_PING, 0);
	CHECK(ctl_msg_encode(&m, frame, sizeof(frame), &len) == 0);
	memcpy(frame + len, frame, len);
	CHECK(ctl_frame_need(frame, 2 * len - 1) == (ssize_t)len);
	CHECK(ctl_frame_need(frame + len, len - 1) == 0);
	CHECK(ctl_frame_need(frame + len, len) == (ssize_t)len);
}

static void test_names_of_things(void)
{
	const char *seen[32];
	size_t n = 0;

	for (size_t t = 0; t < N_TYPES; t++)
		CHECK(strcmp(ctl_type_name(all_types[t]), "unknown") != 0);
	CHECK(strcmp(ctl_type_name(CTL_PEER_SET), "PEER_SET") == 0);
	CHECK(strcmp(ctl_type_name((enum ctl_type)0), "unknown") == 0);
	CHECK(strcmp(ctl_type_name((enum ctl_type)16), "unknown") == 0);

	/* Every codec error has its own text. */
	for (int e = -1; e >= CTL_E_INVALID; e--) {
		const char *s = ctl_msg_strerror(e);
		CHECK(strcmp(s, "unknown error") != 0);
		for (size_t i = 0; i < n; i++)
			CHECK(strcmp(seen[i], s) != 0);
		seen[n++] = s;
	}
	CHECK(strcmp(ctl_msg_strerror(0), "success") == 0);
	CHECK(strcmp(ctl_msg_strerror(CTL_E_INVALID - 1), "unknown error") ==
	      0);
	CHECK(strcmp(ctl_msg_strerror(1), "unknown error") == 0);
	CHECK_STR_CONTAINS(ctl_msg_strerror(CTL_E_LENGTH), "length");

	CHECK(strcmp(ctl_code_name(CTL_CODE_VERSION),
	             "unsupported protocol version") == 0);
	CHECK(strcmp(ctl_code_name(0), "unknown error code") == 0);
	CHECK(strcmp(ctl_code_name(1000), "unknown error code") == 0);
}

int main(void)
{
	test_round_trips();
	test_golden();
	test_names();
	test_strings();
	test_ranges();
	test_frame();
	test_secret();
	test_stream();
	test_names_of_things();
	CHECK_DONE();
}

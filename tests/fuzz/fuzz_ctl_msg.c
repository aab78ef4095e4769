/*
 * fuzz_ctl_msg.c - libFuzzer target for the control plane's message codec
 * (common/ctl_msg.c) on arbitrary bytes.
 *
 * The input is taken twice: as one whole frame, and as a stream cut into
 * frames by ctl_frame_need (so seeds of several frames reach every type
 * from one input). For every frame:
 *
 *  - ctl_frame_need and ctl_msg_decode agree on the frame's shape;
 *  - a refusal is one of the codec's errors and leaves the struct zeroed
 *    (but for CTL_E_VERSION, which reports the version only);
 *  - a frame that decodes re-encodes to exactly the same bytes (every
 *    encoding is canonical), and those decode to the same message: blobs
 *    by content, everything else byte for byte (the decoder zeroes the
 *    struct first, so padding and unused members compare too).
 */
#include "common/ctl_msg.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): NDEBUG must not silence the oracle. */
#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_ctl_msg: %s:%d: %s\n",          \
			        __FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static uint8_t out[CTL_FRAME_MAX];

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Blobs by content, then the pointers made equal so that memcmp judges
 * the rest of the struct. */
static bool same(struct ctl_msg *a, struct ctl_msg *b)
{
	const char **pa = NULL, **pb = NULL;
	size_t la = 0, lb = 0;

	if (a->type == CTL_TEXT) {
		pa = &a->u.text.text, la = a->u.text.text_len;
		pb = &b->u.text.text, lb = b->u.text.text_len;
	} else if (a->type == CTL_TOPOLOGY) {
		pa = &a->u.topology.text, la = a->u.topology.text_len;
		pb = &b->u.topology.text, lb = b->u.topology.text_len;
	}
	if (pa != NULL) {
		if (la != lb || (la > 0 && memcmp(*pa, *pb, la) != 0))
			return false;
		*pb = *pa;
	}
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void one_frame(const uint8_t *f, size_t len)
{
	static struct ctl_msg m, m2;
	ssize_t need = ctl_frame_need(f, len);
	size_t n = 0;
	int r;

	r = ctl_msg_decode(f, len, &m);
	if (need < 0)
		REQUIRE(need == CTL_E_LENGTH && r == CTL_E_LENGTH);
	else if (need == 0)
		REQUIRE(r == CTL_E_TRUNCATED);
	else if ((size_t)need < len)
		REQUIRE(r == CTL_E_EXCESS);
	else
		REQUIRE(r != CTL_E_LENGTH && r != CTL_E_TRUNCATED &&
		        r != CTL_E_EXCESS);

	if (r != 0) {
		REQUIRE(r < 0 && r >= CTL_E_INVALID && r != CTL_E_SPACE);
		REQUIRE(strcmp(ctl_msg_strerror(r), "unknown error") != 0);
		if (r == CTL_E_VERSION) {
			REQUIRE(m.type == CTL_HELLO &&
			        m.u.hello.version != CTL_VERSION);
			m.u.hello.version = 0;
			m.type = 0;
		}
		REQUIRE(all_zero(&m, sizeof(m)));
		return;
	}

	REQUIRE(strcmp(ctl_type_name(m.type), "unknown") != 0);
	REQUIRE(ctl_msg_encode(&m, out, sizeof(out), &n) == 0);
	REQUIRE(n == len && memcmp(out, f, len) == 0);
	REQUIRE(ctl_msg_decode(out, n, &m2) == 0);
	REQUIRE(same(&m, &m2));
	/* One byte short of room: refused, nothing claimed written. */
	n = 0;
	REQUIRE(ctl_msg_encode(&m, out, len - 1, &n) == CTL_E_SPACE && n == 0);
	ctl_msg_wipe(&m);
	ctl_msg_wipe(&m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	one_frame(data, size);

	/* The input as a stream: frames while ctl_frame_need finds them. */
	while (off < size) {
		ssize_t need = ctl_frame_need(data + off, size - off);
		if (need <= 0)
			break;
		REQUIRE((size_t)need >= CTL_HDR_LEN &&
		        (size_t)need <= size - off &&
		        (size_t)need <= CTL_FRAME_MAX);
		one_frame(data + off, (size_t)need);
		off += (size_t)need;
	}
	return 0;
}

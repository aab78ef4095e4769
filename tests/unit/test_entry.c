/* Log/wire entry codec: round trip, zero-copy pointers, every truncation
 * and every out-of-range field rejected, encoder bounds. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "storage/entry.h"

static struct loom_entry sample(void)
{
	static const char body[] = "{\"id\":\"k1\",\"n\":1}";
	struct loom_entry e = {
		.op = LOOM_OP_PUT,
		.table = "users_2",
		.table_len = 7,
		.key = (const uint8_t *)"k1",
		.key_len = 2,
		.body = (const uint8_t *)body,
		.body_len = sizeof(body) - 1,
		.version = {hlc_pack(1700000000000ULL, 3), 0xabcd},
	};
	return e;
}

static void round_trip(void)
{
	struct loom_entry e = sample(), d;
	uint8_t buf[256];
	size_t n = 0, used = 0;

	CHECK_EQ_U64(loom_entry_size(&e), LOOM_ENTRY_HDR + 7 + 2 + e.body_len);
	CHECK_EQ_U64(loom_entry_encode(&e, buf, sizeof(buf), &n), 0);
	CHECK_EQ_U64(n, loom_entry_size(&e));
	CHECK_EQ_U64(loom_entry_decode(buf, n, &d, &used), 0);
	CHECK_EQ_U64(used, n);
	CHECK_EQ_U64(d.op, LOOM_OP_PUT);
	CHECK_EQ_U64(d.version.hlc, e.version.hlc);
	CHECK_EQ_U64(d.version.origin, 0xabcd);
	CHECK_EQ_U64(d.table_len, 7);
	CHECK(memcmp(d.table, "users_2", 7) == 0);
	CHECK(memcmp(d.key, "k1", 2) == 0);
	CHECK_EQ_U64(d.body_len, e.body_len);
	CHECK(memcmp(d.body, e.body, e.body_len) == 0);
	/* zero-copy: pointers into the input */
	CHECK((const uint8_t *)d.table == buf + LOOM_ENTRY_HDR);
	CHECK(d.key == buf + LOOM_ENTRY_HDR + 7);
	CHECK(d.body == buf + LOOM_ENTRY_HDR + 9);
	/* big-endian header */
	CHECK_EQ_U64(buf[8], 0xab);
	CHECK_EQ_U64(buf[9], 0xcd);

	/* a delete: no body */
	e.op = LOOM_OP_DELETE;
	e.body = NULL;
	e.body_len = 0;
	CHECK_EQ_U64(loom_entry_encode(&e, buf, sizeof(buf), &n), 0);
	CHECK_EQ_U64(n, LOOM_ENTRY_HDR + 9);
	CHECK_EQ_U64(loom_entry_decode(buf, n, &d, &used), 0);
	CHECK_EQ_U64(d.op, LOOM_OP_DELETE);
	CHECK_EQ_U64(d.body_len, 0);
	CHECK(d.body == NULL);

	/* two entries back to back: decode leaves the trailing one */
	e = sample();
	size_t n2 = 0;
	CHECK_EQ_U64(loom_entry_encode(&e, buf, sizeof(buf), &n), 0);
	CHECK_EQ_U64(loom_entry_encode(&e, buf + n, sizeof(buf) - n, &n2), 0);
	CHECK_EQ_U64(loom_entry_decode(buf, n + n2, &d, &used), 0);
	CHECK_EQ_U64(used, n);
	CHECK_EQ_U64(loom_entry_decode(buf + used, n2, &d, &used), 0);
	CHECK_EQ_U64(used, n2);

	/* limits: 63-byte table, 255-byte key */
	char tbl[64];
	uint8_t key[255];
	static uint8_t big[LOOM_ENTRY_HDR + 63 + 255 + 8];
	memset(tbl, 'Z', 63);
	memset(key, 0, sizeof(key)); /* any bytes, even NUL */
	e.table = tbl;
	e.table_len = 63;
	e.key = key;
	e.key_len = 255;
	e.body_len = 8;
	e.body = (const uint8_t *)"{\"a\":1}";
	CHECK_EQ_U64(loom_entry_encode(&e, big, sizeof(big), &n), 0);
	CHECK_EQ_U64(n, sizeof(big));
	CHECK_EQ_U64(loom_entry_decode(big, n, &d, &used), 0);
	CHECK_EQ_U64(d.key_len, 255);
}

static void truncations(void)
{
	struct loom_entry e = sample(), d;
	uint8_t buf[256];
	size_t n = 0, used;

	CHECK_EQ_U64(loom_entry_encode(&e, buf, sizeof(buf), &n), 0);
	for (size_t len = 0; len < n; len++) {
		/* exact-size heap copy so ASan sees any overread */
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, buf, len);
		int rc = loom_entry_decode(p, len, &d, &used);
		CHECK_EQ_U64(rc, ENODATA);
		free(p);
	}
	CHECK_EQ_U64(loom_entry_decode(NULL, 0, &d, &used), ENODATA);
	/* encoder: every short buffer refused */
	for (size_t cap = 0; cap < n; cap++)
		CHECK_EQ_U64(loom_entry_encode(&e, buf, cap, &used), ENOSPC);
}

static void bad_fields(void)
{
	struct loom_entry e = sample(), d;
	uint8_t ok[256], b[256];
	size_t n = 0, used;

	CHECK_EQ_U64(loom_entry_encode(&e, ok, sizeof(ok), &n), 0);
#define MUT(off, val)                                                        \
	do {                                                                 \
		memcpy(b, ok, n);                                            \
		b[off] = (uint8_t)(val);                                     \
		CHECK_EQ_U64(loom_entry_decode(b, n, &d, &used), EBADMSG);   \
	} while (0)
	MUT(10, 0);       /* op 0 */
	MUT(10, 3);       /* op 3 */
	MUT(10, LOOM_OP_DELETE); /* delete with a body */
	MUT(11, 0);       /* empty table */
	MUT(11, 64);      /* table too long */
	MUT(11, 255);
	MUT(12, 0);       /* empty key */
	MUT(13, 1);       /* flags */
	MUT(14, 0x01);    /* body 16 MiB + ... oversize */
	MUT(14, 0xff);
	MUT(LOOM_ENTRY_HDR, '-'); /* bad table byte */
	MUT(LOOM_ENTRY_HDR + 3, 0);
	MUT(LOOM_ENTRY_HDR + 6, ' ');
#undef MUT
	/* body length larger than the input but under the cap: truncated */
	memcpy(b, ok, n);
	b[15] = 0x10;
	CHECK_EQ_U64(loom_entry_decode(b, n, &d, &used), ENODATA);

	/* encoder refuses invalid entries */
	e = sample();
	e.table = "bad-name";
	e.table_len = 8;
	CHECK_EQ_U64(loom_entry_encode(&e, b, sizeof(b), &used), EINVAL);
	CHECK_EQ_U64(loom_entry_size(&e), 0);
	e = sample();
	e.table_len = 0;
	CHECK_EQ_U64(loom_entry_encode(&e, b, sizeof(b), &used), EINVAL);
	e = sample();
	e.key_len = 0;
	CHECK_EQ_U64(loom_entry_encode(&e, b, sizeof(b), &used), EINVAL);
	e = sample();
	e.op = 9;
	CHECK_EQ_U64(loom_entry_encode(&e, b, sizeof(b), &used), EINVAL);
	e = sample();
	e.op = LOOM_OP_DELETE; /* with a body */
	CHECK_EQ_U64(loom_entry_encode(&e, b, sizeof(b), &used), EINVAL);
	e = sample();
	e.body_len = LOOM_ENTRY_BODY_MAX + 1;
	CHECK_EQ_U64(loom_entry_size(&e), 0);
	e = sample();
	e.body = NULL;
	CHECK_EQ_U64(loom_entry_encode(&e, b, sizeof(b), &used), EINVAL);

	CHECK(loom_table_valid("A_z09", 5));
	CHECK(!loom_table_valid("a.b", 3));
	CHECK(!loom_table_valid("", 0));
	CHECK(!loom_table_valid(NULL, 3));
}

int main(void)
{
	round_trip();
	truncations();
	bad_fields();
	CHECK_DONE();
}

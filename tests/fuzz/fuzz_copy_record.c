/*
 * fuzz_copy_record: the merge-copy record decoder (storage/copy_record.h)
 * on arbitrary bytes. Decodes records back to back like a COPY_BATCH /
 * WRITE_COPY payload; every decoded record must lie inside the input,
 * satisfy the field limits, and re-encode to exactly the bytes it was
 * decoded from. A truncated input must say ENODATA, never read past it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/copy_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[COPY_RECORD_FIXED + 63 + 255 + (64u << 10)];
	size_t off = 0;

	while (off < size) {
		struct copy_record r;
		size_t used = 0, n = 0;
		int rc = copy_record_decode(data + off, size - off, &r, &used);

		if (rc != 0) {
			check(rc == ENODATA || rc == EBADMSG);
			break;
		}
		check(used >= COPY_RECORD_FIXED + 2 && used <= size - off);
		check(r.table_len >= 1 && r.table_len <= LOOM_TABLE_MAX);
		check(loom_table_valid(r.table, r.table_len));
		check(r.key_len >= 1 && r.key_len <= LOOM_KEY_MAX);
		check(r.version.origin != 0);
		check(r.body_len <= LOOM_ENTRY_BODY_MAX);
		check(!r.tombstone || r.body_len == 0);
		check((r.body == NULL) == (r.body_len == 0));
		check((const uint8_t *)r.table == data + off + 1);
		check(r.key + r.key_len <= data + off + used);
		if (r.body_len)
			check(r.body + r.body_len == data + off + used);
		check(copy_record_size(&r) == used);
		/* any shorter prefix is truncated, not malformed */
		check(copy_record_decode(data + off, used - 1, &r, &n) ==
		      ENODATA);
		check(copy_record_decode(data + off, size - off, &r, &used) ==
		      0);
		if (used <= sizeof(out)) {
			check(copy_record_encode(&r, out, sizeof(out), &n) == 0);
			check(n == used && memcmp(out, data + off, n) == 0);
		}
		off += used;
	}
	return 0;
}

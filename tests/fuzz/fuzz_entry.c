/*
 * fuzz_entry: the log/wire entry decoder on arbitrary bytes. Decodes entries
 * back to back like a BATCH payload; every decoded entry must lie inside the
 * input, satisfy the field limits, and re-encode to exactly the bytes it was
 * decoded from.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[LOOM_ENTRY_HDR + 63 + 255 + (64u << 10)];
	size_t off = 0;

	while (off < size) {
		struct loom_entry e;
		size_t used = 0, n = 0;
		int rc = loom_entry_decode(data + off, size - off, &e, &used);

		if (rc != 0) {
			check(rc == ENODATA || rc == EBADMSG);
			break;
		}
		check(used >= LOOM_ENTRY_HDR && used <= size - off);
		check(e.op == LOOM_OP_PUT || e.op == LOOM_OP_DELETE);
		check(e.table_len >= 1 && e.table_len <= LOOM_TABLE_MAX);
		check(e.key_len >= 1);
		check(e.body_len <= LOOM_ENTRY_BODY_MAX);
		check((const uint8_t *)e.table >= data + off);
		check(e.key + e.key_len <= data + off + used);
		check(loom_entry_size(&e) == used);
		if (used <= sizeof(out)) {
			check(loom_entry_encode(&e, out, sizeof(out), &n) == 0);
			check(n == used && memcmp(out, data + off, n) == 0);
		}
		off += used;
	}
	return 0;
}

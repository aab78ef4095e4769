/*
 * entry.h - the log entry codec. The bytes stored as a `log.<origin>` value
 * are exactly the bytes sent in a replication BATCH (DESIGN §4: records are
 * never re-encoded on the way).
 *
 * Layout, all integers big-endian, 18-byte header:
 *
 *   off  size  field
 *     0     8  version hlc (48-bit ms | 16-bit logical)
 *     8     2  version origin (node id)
 *    10     1  op: 1 put, 2 delete
 *    11     1  table length, 1..63
 *    12     1  key length, 1..255
 *    13     1  flags, must be 0
 *    14     4  body length, 0..LOOM_ENTRY_BODY_MAX (0 for a delete)
 *    18        table bytes [A-Za-z0-9_], key bytes, body bytes
 *
 * Decoding checks every bound; the decoded entry points into the input.
 */
#ifndef LOOM_STORAGE_ENTRY_H
#define LOOM_STORAGE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/hlc.h"

#define LOOM_ENTRY_HDR 18
#define LOOM_TABLE_MAX 63
#define LOOM_KEY_MAX 255
#define LOOM_ENTRY_BODY_MAX (16u << 20)

enum loom_op {
	LOOM_OP_PUT = 1,
	LOOM_OP_DELETE = 2,
};

struct loom_entry {
	uint8_t op;
	uint8_t table_len;
	uint8_t key_len;
	uint32_t body_len;
	const char *table; /* not NUL-terminated */
	const uint8_t *key;
	const uint8_t *body; /* may be NULL when body_len is 0 */
	struct loom_version version;
};

/* true if t[0..len) is a valid table name. */
bool loom_table_valid(const char *t, size_t len);

/* Encoded size of e (header + table + key + body), 0 if e is invalid. */
size_t loom_entry_size(const struct loom_entry *e);

/* Encode e into buf[0..cap). Returns 0 and sets *out_len, EINVAL if e is
 * invalid, ENOSPC if cap is too small. */
int loom_entry_encode(const struct loom_entry *e, void *buf, size_t cap,
                      size_t *out_len);

/* Decode one entry from the start of buf[0..len); trailing bytes are left
 * for the caller (a BATCH carries several entries back to back). Returns 0
 * and sets *e and *consumed; ENODATA if buf is a truncated entry; EBADMSG if
 * a field is out of range. */
int loom_entry_decode(const void *buf, size_t len, struct loom_entry *e,
                      size_t *consumed);

#endif

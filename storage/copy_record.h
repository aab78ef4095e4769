/*
 * copy_record.h - one record of a merge copy (DESIGN §2, docs/
 * REPLICATION.md): the encoding of the records a COPY_BATCH message
 * carries and a WRITE_COPY request holds (write_req.h), n of them back to
 * back. Storage owns it (the store applies it, batch.c validates it);
 * dataplane/repl/msg.h's COPY_BATCH uses it as is, so a copied record is
 * never re-encoded between the wire and the store.
 *
 * Layout, all integers big-endian (18 bytes of fixed fields):
 *
 *   size  field
 *      1  table_len, 1..63
 *      t  table, [A-Za-z0-9_]
 *      2  key_len, 1..255
 *      k  key (any bytes)
 *      8  version hlc
 *      2  version origin, 1..65535 (a node id)
 *      1  flags: bit 0 = tombstone; the other bits must be 0
 *      4  body_len, 0..LOOM_ENTRY_BODY_MAX; 0 for a tombstone
 *      b  body
 *
 * Decoding checks every bound and points into the input (zero-copy); a
 * record is valid exactly when store_apply_copy() takes its fields, so a
 * request validated here is never half-applied. Header-only: used by
 * loom_storage, loom_repl and the fuzz target alike.
 */
#ifndef LOOM_STORAGE_COPY_RECORD_H
#define LOOM_STORAGE_COPY_RECORD_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/be.h"
#include "storage/entry.h"
#include "storage/hlc.h"
#include "storage/store.h"

#define COPY_RECORD_FIXED 18 /* every byte but table, key and body */
#define COPY_RECORD_TOMBSTONE 0x01
/* The largest encoded record. */
#define COPY_RECORD_MAX                                                      \
	((size_t)COPY_RECORD_FIXED + LOOM_TABLE_MAX + LOOM_KEY_MAX +         \
	 LOOM_ENTRY_BODY_MAX)

struct copy_record {
	const char *table; /* NOT NUL-terminated; table_len bytes */
	uint8_t table_len;
	uint16_t key_len;
	uint32_t body_len;
	const uint8_t *key;
	const uint8_t *body; /* NULL when body_len is 0 */
	struct loom_version version;
	bool tombstone;
};

/* Encoded size of r, 0 if r is invalid (see the layout). */
static inline size_t copy_record_size(const struct copy_record *r)
{
	if (r == NULL || !loom_table_valid(r->table, r->table_len) ||
	    r->key == NULL || r->key_len < 1 || r->key_len > LOOM_KEY_MAX ||
	    r->version.origin == 0 || r->body_len > LOOM_ENTRY_BODY_MAX ||
	    (r->body_len != 0 && r->body == NULL) ||
	    (r->tombstone && r->body_len != 0))
		return 0;
	return (size_t)COPY_RECORD_FIXED + r->table_len + r->key_len +
	       r->body_len;
}

/* Encode r into buf[0..cap): 0 and *out_len, EINVAL if r is invalid,
 * ENOSPC if cap is too small. */
static inline int copy_record_encode(const struct copy_record *r, void *buf,
                                     size_t cap, size_t *out_len)
{
	size_t n = copy_record_size(r);
	uint8_t *p = buf;

	if (n == 0)
		return EINVAL;
	if (buf == NULL || cap < n)
		return ENOSPC;
	*p++ = r->table_len;
	memcpy(p, r->table, r->table_len);
	p += r->table_len;
	put_be(p, r->key_len, 2);
	p += 2;
	memcpy(p, r->key, r->key_len);
	p += r->key_len;
	put_be(p, r->version.hlc, 8);
	put_be(p + 8, r->version.origin, 2);
	p[10] = r->tombstone ? COPY_RECORD_TOMBSTONE : 0;
	put_be(p + 11, r->body_len, 4);
	p += 15;
	if (r->body_len)
		memcpy(p, r->body, r->body_len);
	*out_len = n;
	return 0;
}

/* Decode one record from the start of buf[0..len); trailing bytes are left
 * for the caller (records come back to back). 0 with *r (pointing into
 * buf) and *consumed; ENODATA if buf holds only part of a record; EBADMSG
 * if a field is out of range. Reads nothing outside buf[0..len). */
static inline int copy_record_decode(const void *buf, size_t len,
                                     struct copy_record *r, size_t *consumed)
{
	const uint8_t *p = buf;
	struct copy_record d;
	size_t off;
	uint8_t flags;

	if (buf == NULL || len < 1)
		return ENODATA;
	d.table_len = p[0];
	if (d.table_len < 1 || d.table_len > LOOM_TABLE_MAX)
		return EBADMSG;
	off = 1;
	if (len - off < (size_t)d.table_len + 2)
		return ENODATA;
	d.table = (const char *)p + off;
	if (!loom_table_valid(d.table, d.table_len))
		return EBADMSG;
	off += d.table_len;
	d.key_len = (uint16_t)get_be(p + off, 2);
	off += 2;
	if (d.key_len < 1 || d.key_len > LOOM_KEY_MAX)
		return EBADMSG;
	/* key and the 15 bytes of version, flags and body_len */
	if (len - off < (size_t)d.key_len + 15)
		return ENODATA;
	d.key = p + off;
	off += d.key_len;
	d.version.hlc = get_be(p + off, 8);
	d.version.origin = (uint16_t)get_be(p + off + 8, 2);
	flags = p[off + 10];
	d.body_len = (uint32_t)get_be(p + off + 11, 4);
	off += 15;
	if (d.version.origin == 0 || (flags & ~COPY_RECORD_TOMBSTONE) != 0 ||
	    d.body_len > LOOM_ENTRY_BODY_MAX)
		return EBADMSG;
	d.tombstone = (flags & COPY_RECORD_TOMBSTONE) != 0;
	if (d.tombstone && d.body_len != 0)
		return EBADMSG;
	if (len - off < d.body_len)
		return ENODATA;
	d.body = d.body_len ? p + off : NULL;
	off += d.body_len;
	*r = d;
	*consumed = off;
	return 0;
}

/* The copy of one record as store_record_iter_next() yields it (the
 * source side of a merge copy); pointers into the reader's snapshot.
 * EBADMSG if the stored record cannot be copied (it always can: the store
 * only holds what this encoding carries). */
static inline int copy_record_from_item(const struct store_record_item *it,
                                        struct copy_record *r)
{
	if (it == NULL || it->table_len > LOOM_TABLE_MAX ||
	    it->key_len > LOOM_KEY_MAX || it->rec.body_len > LOOM_ENTRY_BODY_MAX)
		return EBADMSG;
	r->table = it->table;
	r->table_len = (uint8_t)it->table_len;
	r->key = it->key;
	r->key_len = (uint16_t)it->key_len;
	r->version = it->rec.version;
	r->tombstone = it->rec.tombstone;
	r->body = it->rec.body_len ? it->rec.body : NULL;
	r->body_len = (uint32_t)it->rec.body_len;
	return copy_record_size(r) != 0 ? 0 : EBADMSG;
}

#endif

/* entry.c - the log/wire entry codec; see entry.h for the layout. */
#include "storage/entry.h"

#include "storage/be.h"

#include <errno.h>
#include <string.h>

bool loom_table_valid(const char *t, size_t len)
{
	if (t == NULL || len < 1 || len > LOOM_TABLE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static bool entry_valid(const struct loom_entry *e)
{
	if (e->op != LOOM_OP_PUT && e->op != LOOM_OP_DELETE)
		return false;
	if (!loom_table_valid(e->table, e->table_len))
		return false;
	if (e->key_len < 1 || e->key == NULL)
		return false;
	if (e->body_len > LOOM_ENTRY_BODY_MAX)
		return false;
	if (e->body_len > 0 && e->body == NULL)
		return false;
	if (e->op == LOOM_OP_DELETE && e->body_len != 0)
		return false;
	return true;
}

size_t loom_entry_size(const struct loom_entry *e)
{
	if (!entry_valid(e))
		return 0;
	return (size_t)LOOM_ENTRY_HDR + e->table_len + e->key_len + e->body_len;
}

int loom_entry_encode(const struct loom_entry *e, void *buf, size_t cap,
                      size_t *out_len)
{
	size_t n = loom_entry_size(e);
	uint8_t *p = buf;

	if (n == 0)
		return EINVAL;
	if (buf == NULL || cap < n)
		return ENOSPC;
	put_be(p, e->version.hlc, 8);
	put_be(p + 8, e->version.origin, 2);
	p[10] = e->op;
	p[11] = e->table_len;
	p[12] = e->key_len;
	p[13] = 0;
	put_be(p + 14, e->body_len, 4);
	p += LOOM_ENTRY_HDR;
	memcpy(p, e->table, e->table_len);
	p += e->table_len;
	memcpy(p, e->key, e->key_len);
	p += e->key_len;
	if (e->body_len)
		memcpy(p, e->body, e->body_len);
	*out_len = n;
	return 0;
}

int loom_entry_decode(const void *buf, size_t len, struct loom_entry *e,
                      size_t *consumed)
{
	const uint8_t *p = buf;
	struct loom_entry d;
	size_t total;

	if (buf == NULL || len < LOOM_ENTRY_HDR)
		return ENODATA;
	d.version.hlc = get_be(p, 8);
	d.version.origin = (uint16_t)get_be(p + 8, 2);
	d.op = p[10];
	d.table_len = p[11];
	d.key_len = p[12];
	d.body_len = (uint32_t)get_be(p + 14, 4);
	if (d.op != LOOM_OP_PUT && d.op != LOOM_OP_DELETE)
		return EBADMSG;
	if (d.table_len < 1 || d.table_len > LOOM_TABLE_MAX || d.key_len < 1)
		return EBADMSG;
	if (p[13] != 0 || d.body_len > LOOM_ENTRY_BODY_MAX)
		return EBADMSG;
	if (d.op == LOOM_OP_DELETE && d.body_len != 0)
		return EBADMSG;
	total = (size_t)LOOM_ENTRY_HDR + d.table_len + d.key_len + d.body_len;
	if (len < total)
		return ENODATA;
	d.table = (const char *)p + LOOM_ENTRY_HDR;
	d.key = p + LOOM_ENTRY_HDR + d.table_len;
	d.body = d.body_len ? d.key + d.key_len : NULL;
	if (!loom_table_valid(d.table, d.table_len))
		return EBADMSG;
	*e = d;
	*consumed = total;
	return 0;
}

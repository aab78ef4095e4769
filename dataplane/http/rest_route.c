#include "dataplane/http/rest_route.h"

#include <string.h>

static bool span_is(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len == n && memcmp(p, lit, n) == 0;
}

bool rest_table_valid(const char *p, size_t len)
{
	if (len == 0 || len > REST_TABLE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

bool rest_id_valid(const char *p, size_t len)
{
	if (len == 0 || len > REST_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (c == 0 || strchr("-._~!$&'()*+,;=:@", c) == NULL)
			return false;
	}
	return true;
}

void rest_route_parse(struct http_span target, struct rest_route *r)
{
	memset(r, 0, sizeof *r);
	r->kind = ROUTE_NOT_FOUND;
	const char *p = target.p;
	size_t len = target.len;
	const char *q = p != NULL ? memchr(p, '?', len) : NULL;
	if (q != NULL)
		len = (size_t)(q - p);
	if (len == 0 || p[0] != '/')
		return; /* absolute-form or '*': no such resource here */
	p++;
	len--;
	if (span_is(p, len, "health")) {
		r->kind = ROUTE_HEALTH;
		return;
	}
	if (span_is(p, len, "metrics")) {
		r->kind = ROUTE_METRICS;
		return;
	}
	const char *slash = memchr(p, '/', len);
	size_t tlen = slash != NULL ? (size_t)(slash - p) : len;
	if (tlen == 0)
		return;
	if (!rest_table_valid(p, tlen)) {
		r->kind = ROUTE_BAD;
		r->why = "table names are 1-63 characters of [A-Za-z0-9_]";
		return;
	}
	r->table = (struct http_span){p, tlen};
	if (slash == NULL || tlen + 1 == len) {
		r->kind = ROUTE_TABLE;
		return;
	}
	const char *id = slash + 1;
	size_t idlen = len - tlen - 1;
	if (memchr(id, '/', idlen) != NULL)
		return; /* deeper paths name nothing */
	if (!rest_id_valid(id, idlen)) {
		r->kind = ROUTE_BAD;
		r->why = "ids are 1-255 characters of [A-Za-z0-9-._~!$&'()*+,;=:@] "
		         "(no percent-encoding)";
		return;
	}
	r->id = (struct http_span){id, idlen};
	r->kind = ROUTE_RECORD;
}

size_t rest_etag(struct loom_version v, char out[REST_ETAG_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	out[n++] = '"';
	for (int sh = 60; sh >= 0; sh -= 4)
		out[n++] = hex[(v.hlc >> sh) & 15];
	out[n++] = '-';
	char d[5];
	size_t k = 0;
	unsigned o = v.origin;
	do {
		d[k++] = (char)('0' + o % 10);
		o /= 10;
	} while (o != 0);
	while (k > 0)
		out[n++] = d[--k];
	out[n++] = '"';
	out[n] = '\0';
	return n;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

bool rest_etag_matches(struct http_span inm, const char *etag, size_t etag_len)
{
	if (inm.p == NULL)
		return false;
	const char *p = inm.p, *end = inm.p + inm.len;
	while (p < end) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		const char *s = p;
		while (p < end && *p != ',')
			p++;
		const char *e = p;
		while (e > s && is_ows(e[-1]))
			e--;
		size_t n = (size_t)(e - s);
		if (n == 1 && *s == '*')
			return true;
		if (n >= 2 && s[0] == 'W' && s[1] == '/') {
			s += 2;
			n -= 2;
		}
		if (n == etag_len && memcmp(s, etag, n) == 0)
			return true;
	}
	return false;
}

static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *rest_insert_id(char *body, size_t len, size_t room, const char *id,
                     size_t id_len, size_t *new_len)
{
	size_t k = 0;
	while (k < len && json_ws(body[k]))
		k++;
	if (k == len || body[k] != '{')
		return NULL;
	size_t j = k + 1;
	while (j < len && json_ws(body[j]))
		j++;
	bool empty = j < len && body[j] == '}';
	size_t prefix = 7 + id_len + 1 + (empty ? 0 : 1);
	/* The prefix ends where the brace ended: body + k + 1. */
	if (prefix > room + k + 1)
		return NULL;
	char *start = body + k + 1 - prefix;
	memcpy(start, "{\"id\":\"", 7);
	memcpy(start + 7, id, id_len);
	start[7 + id_len] = '"';
	if (!empty)
		start[8 + id_len] = ',';
	*new_len = len - (k + 1) + prefix;
	return start;
}

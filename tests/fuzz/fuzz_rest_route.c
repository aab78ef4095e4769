/*
 * fuzz_rest_route - the pure pieces of the REST API (rest_route.h) and its
 * error bodies (http_response.h) under libFuzzer.
 *
 * Input: byte 0 is a control byte (bits 0-1 pick the id to insert: a
 * UUIDv4, "x", 255 id bytes, or the payload's id-valid bytes; bits 2-5
 * give the room in front of the body beyond id_len), bytes 1-8 a version
 * (its ETag, and the UUID seed), the rest the payload. Seeds are plain
 * text. The payload is tried as all of:
 *   - a request-target for rest_route_parse: the kind equals an
 *     independent reference router; spans lie inside the payload, before
 *     any '?', table right after the leading '/', id right after the
 *     table's '/'; TABLE/RECORD parts pass rest_table_valid /
 *     rest_id_valid (and an independent character-class check); BAD has
 *     a reason;
 *   - an If-None-Match value for rest_etag_matches: equals a reference
 *     list matcher; adding the tag (or "*") to the list always matches;
 *   - a body for rest_insert_id when json_validate_object accepts it and
 *     it has no top-level id: success exactly when the room suffices
 *     (always with room >= id_len + 10); the result lies in the room,
 *     re-validates with the id as its first member and the original's
 *     bytes after the brace unchanged, nothing written before it; on
 *     failure nothing written at all;
 *   - an error message for http_resp_error: the length is 0 or the whole
 *     response; with an ASCII message the body is a valid JSON object.
 */
#include "dataplane/http/http_response.h"
#include "dataplane/http/json_validate.h"
#include "dataplane/http/rest_route.h"
#include "dataplane/http/uuid.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_rest_route: %s:%d: %s\n",      \
			        __FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

#define MAX_PAYLOAD 4096
#define FILL 0x5c

/* --- independent references ----------------------------------------------- */

static bool ref_table_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static bool ref_id_char(unsigned char c)
{
	static const char extra[] = "-._~!$&'()*+,;=:@";
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	for (const char *p = extra; *p != '\0'; p++)
		if ((unsigned char)*p == c)
			return true;
	return false;
}

static bool ref_valid(const char *p, size_t n, size_t max, bool table)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(table ? ref_table_char((unsigned char)p[i])
		            : ref_id_char((unsigned char)p[i])))
			return false;
	return true;
}

static bool eq_lit(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static enum rest_route_kind ref_route(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '?') {
			n = i;
			break;
		}
	if (n == 0 || p[0] != '/')
		return ROUTE_NOT_FOUND;
	p++;
	n--;
	if (eq_lit(p, n, "health"))
		return ROUTE_HEALTH;
	if (eq_lit(p, n, "metrics"))
		return ROUTE_METRICS;
	size_t t = 0;
	while (t < n && p[t] != '/')
		t++;
	if (t == 0)
		return ROUTE_NOT_FOUND;
	if (!ref_valid(p, t, REST_TABLE_MAX, true))
		return ROUTE_BAD;
	if (t == n || t + 1 == n)
		return ROUTE_TABLE;
	const char *id = p + t + 1;
	size_t il = n - t - 1;
	for (size_t i = 0; i < il; i++)
		if (id[i] == '/')
			return ROUTE_NOT_FOUND;
	return ref_valid(id, il, REST_ID_MAX, false) ? ROUTE_RECORD
	                                             : ROUTE_BAD;
}

static bool ref_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool ref_matches(const char *p, size_t n, const char *tag, size_t tl)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && p[j] != ',')
			j++;
		size_t s = i, e = j;
		while (s < e && ref_ows(p[s]))
			s++;
		while (e > s && ref_ows(p[e - 1]))
			e--;
		const char *q = p + s;
		size_t l = e - s;
		if (l == 1 && q[0] == '*')
			return true;
		if (l >= 2 && q[0] == 'W' && q[1] == '/') {
			q += 2;
			l -= 2;
		}
		if (l > 0 && l == tl && memcmp(q, tag, l) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* --- the pieces ----------------------------------------------------------- */

static void fuzz_route(const char *p, size_t n)
{
	struct rest_route r;
	memset(&r, 0xa5, sizeof r);
	rest_route_parse((struct http_span){n > 0 ? p : NULL, n}, &r);
	REQUIRE(r.kind == ref_route(p, n));
	size_t path_len = n;
	const char *q = memchr(p, '?', n);
	if (q != NULL)
		path_len = (size_t)(q - p);
	switch (r.kind) {
	case ROUTE_RECORD:
		REQUIRE(r.id.p > p && r.id.p + r.id.len == p + path_len);
		REQUIRE(r.id.p[-1] == '/');
		REQUIRE(r.id.p == r.table.p + r.table.len + 1);
		REQUIRE(rest_id_valid(r.id.p, r.id.len));
		REQUIRE(ref_valid(r.id.p, r.id.len, REST_ID_MAX, false));
		/* fall through */
	case ROUTE_TABLE:
		REQUIRE(r.table.p == p + 1);
		REQUIRE(r.table.len >= 1 && 1 + r.table.len <= path_len);
		REQUIRE(rest_table_valid(r.table.p, r.table.len));
		REQUIRE(ref_valid(r.table.p, r.table.len, REST_TABLE_MAX, true));
		if (r.kind == ROUTE_TABLE) {
			REQUIRE(r.id.p == NULL && r.id.len == 0);
			REQUIRE(1 + r.table.len == path_len ||
			        2 + r.table.len == path_len);
		}
		break;
	case ROUTE_BAD:
		REQUIRE(r.why != NULL && strlen(r.why) > 0);
		break;
	case ROUTE_HEALTH:
	case ROUTE_METRICS:
	case ROUTE_NOT_FOUND:
		break;
	default:
		REQUIRE(!"unknown route kind");
	}
	/* validity functions agree with the references on the raw bytes */
	size_t k = n < 300 ? n : 300;
	REQUIRE(rest_table_valid(p, k) == ref_valid(p, k, REST_TABLE_MAX,
	                                             true));
	REQUIRE(rest_id_valid(p, k) == ref_valid(p, k, REST_ID_MAX, false));
}

static void fuzz_etag(const char *p, size_t n, struct loom_version v)
{
	char tag[REST_ETAG_MAX];
	size_t tl = rest_etag(v, tag);
	REQUIRE(tl >= 20 && tl < REST_ETAG_MAX);
	REQUIRE(tag[0] == '"' && tag[tl - 1] == '"');
	char again[REST_ETAG_MAX];
	REQUIRE(rest_etag(v, again) == tl && memcmp(again, tag, tl) == 0);

	bool m = rest_etag_matches((struct http_span){n > 0 ? p : NULL, n},
	                           tag, tl);
	REQUIRE(m == ref_matches(p, n, tag, tl));
	REQUIRE(rest_etag_matches((struct http_span){tag, tl}, tag, tl));
	/* a list that names the tag matches wherever it is */
	static char list[MAX_PAYLOAD + 64];
	memcpy(list, p, n);
	memcpy(list + n, ", W/", 4);
	memcpy(list + n + 4, tag, tl);
	REQUIRE(rest_etag_matches((struct http_span){list, n + 4 + tl}, tag,
	                          tl));
	memcpy(list, tag, tl);
	list[tl] = ',';
	memcpy(list + tl + 1, p, n);
	REQUIRE(rest_etag_matches((struct http_span){list, tl + 1 + n}, tag,
	                          tl));
	memcpy(list, p, n);
	memcpy(list + n, ",*", 2);
	REQUIRE(rest_etag_matches((struct http_span){list, n + 2}, tag, tl));
}

static bool is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void fuzz_insert(const char *p, size_t n, const char *id, size_t il,
                        size_t room)
{
	struct json_result jr;
	if (json_validate_object(p, n, 0, &jr) != JSON_OK || jr.id_present)
		return;
	static char buf[REST_ID_MAX + 32 + MAX_PAYLOAD];
	REQUIRE(room <= REST_ID_MAX + 32);
	memset(buf, FILL, sizeof buf);
	char *body = buf + room;
	memcpy(body, p, n);
	size_t k = 0;
	while (is_json_ws(body[k]))
		k++;
	REQUIRE(k < n && body[k] == '{');
	size_t j = k + 1;
	while (j < n && is_json_ws(body[j]))
		j++;
	bool empty = body[j] == '}';
	size_t prefix = 8 + il + (empty ? 0 : 1);
	bool fits = prefix <= room + k + 1;

	size_t nl = 0;
	char *s = rest_insert_id(body, n, room, id, il, &nl);
	if (room >= il + 10)
		REQUIRE(s != NULL);
	REQUIRE((s != NULL) == fits);
	if (s == NULL) {
		for (size_t i = 0; i < room; i++)
			REQUIRE(buf[i] == FILL);
		REQUIRE(memcmp(body, p, n) == 0);
		return;
	}
	REQUIRE(s >= buf && s <= body + k + 1);
	/* the room before the result is untouched (and so is leading
	 * whitespace of the original the result does not cover) */
	for (char *q = buf; q < s && q < body; q++)
		REQUIRE(*q == FILL);
	for (char *q = body; q < s; q++)
		REQUIRE(is_json_ws(*q));
	REQUIRE(nl == n - (k + 1) + prefix);
	REQUIRE(s + nl == body + n);
	/* everything after the original brace is unchanged */
	REQUIRE(memcmp(body + k + 1, p + k + 1, n - k - 1) == 0);
	struct json_result jr2;
	REQUIRE(json_validate_object(s, nl, 0, &jr2) == JSON_OK);
	REQUIRE(jr2.id_present && !jr2.id_escaped);
	REQUIRE(jr2.id == s + 7 && jr2.id_len == il);
	REQUIRE(memcmp(jr2.id, id, il) == 0);
	REQUIRE(memcmp(s, "{\"id\":\"", 7) == 0);
}

static void fuzz_error(const char *p, size_t n)
{
	static char msg[MAX_PAYLOAD + 1];
	memcpy(msg, p, n);
	msg[n] = '\0';
	bool ascii = true;
	for (size_t i = 0; i < n && msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] >= 0x80)
			ascii = false;
	static char out[2048];
	int status = 400 + (int)(n % 200);
	size_t len = http_resp_error(out, sizeof out, status, msg, n & 1);
	REQUIRE(len < sizeof out);
	if (len == 0)
		return;
	const char *end = NULL;
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(out + i, "\r\n\r\n", 4) == 0) {
			end = out + i + 4;
			break;
		}
	REQUIRE(end != NULL);
	size_t bl = len - (size_t)(end - out);
	char cl[48];
	int cn = snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", bl);
	REQUIRE(cn > 0 && memmem(out, (size_t)(end - out), cl, (size_t)cn) !=
	                          NULL);
	REQUIRE(memcmp(end, "{\"error\":\"", 10) == 0);
	if (ascii) {
		struct json_result jr;
		REQUIRE(json_validate_object(end, bl, 0, &jr) == JSON_OK);
	}
	/* one byte less room: nothing */
	REQUIRE(http_resp_error(out, len - 1, status, msg, n & 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9 || size > 9 + MAX_PAYLOAD)
		return 0;
	uint8_t ctl = data[0];
	uint64_t vbits = 0;
	for (int i = 0; i < 8; i++)
		vbits = vbits << 8 | data[1 + i];
	struct loom_version v = {vbits, (uint16_t)(vbits ^ (vbits >> 48))};
	const char *p = (const char *)data + 9;
	size_t n = size - 9;

	fuzz_route(p, n);
	fuzz_etag(p, n, v);

	char id[REST_ID_MAX];
	size_t il;
	switch (ctl & 3) {
	case 0: {
		struct uuid_gen g;
		uuid_gen_seed(&g, vbits);
		uuid_v4(&g, id);
		il = UUID_STR_LEN;
		break;
	}
	case 1:
		id[0] = 'x';
		il = 1;
		break;
	case 2:
		for (il = 0; il < REST_ID_MAX; il++)
			id[il] = "aZ9-._~!$&'()*+,;=:@"[il % 20];
		break;
	default:
		il = 0;
		for (size_t i = 0; i < n && il < REST_ID_MAX; i++)
			if (ref_id_char((unsigned char)p[i]))
				id[il++] = p[i];
		if (il == 0)
			id[il++] = 'k';
		break;
	}
	REQUIRE(rest_id_valid(id, il));
	size_t room = il + ((ctl >> 2) & 15u);
	fuzz_insert(p, n, id, il, room);
	fuzz_error(p, n);
	return 0;
}

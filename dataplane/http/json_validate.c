/*
 * json_validate.c - see json_validate.h. An iterative scanner: the only
 * state besides the position is one bit per open container (object or
 * array), so depth costs no stack and no allocation.
 */
#include "dataplane/http/json_validate.h"

#include <string.h>

struct scan {
	const uint8_t *b;
	size_t len;
	size_t pos;
	struct json_result *r;
};

static enum json_err fail(struct scan *s, enum json_err e, size_t at)
{
	s->r->err = e;
	s->r->offset = at;
	return e;
}

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len) {
		uint8_t c = s->b[s->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		s->pos++;
	}
}

static int hex4(const uint8_t *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		int h;
		if (c >= '0' && c <= '9')
			h = c - '0';
		else if (c >= 'a' && c <= 'f')
			h = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			h = c - 'A' + 10;
		else
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

/* One UTF-8 sequence at s->pos (first byte >= 0x80): its code point. */
static enum json_err utf8(struct scan *s, uint32_t *cp)
{
	const uint8_t *b = s->b;
	size_t p = s->pos;
	uint8_t c = b[p];
	uint8_t lo = 0x80, hi = 0xbf;
	int n;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return fail(s, JSON_ERR_UTF8, p);
	}
	for (int i = 1; i <= n; i++) {
		if (p + (size_t)i >= s->len)
			return fail(s, JSON_ERR_UTF8, p);
		uint8_t k = b[p + (size_t)i];
		if (k < lo || k > hi)
			return fail(s, JSON_ERR_UTF8, p + (size_t)i);
		lo = 0x80;
		hi = 0xbf;
		*cp = (*cp << 6) | (k & 0x3f);
	}
	s->pos = p + (size_t)n + 1;
	return JSON_OK;
}

/*
 * The end of the run of plain bytes from pos: printable ASCII other than
 * '"' and '\\', which need no decoding or checking. Most of a record's
 * bytes are such runs, so they are skipped eight at a time (SWAR); the
 * byte that ends a run goes through the full per-character path. This
 * halved the validator's cost on the reference record (callgrind,
 * bench/rest_insn.sh).
 */
static size_t plain_run(const uint8_t *b, size_t pos, size_t len)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	while (len - pos >= 8) {
		uint64_t w;
		memcpy(&w, b + pos, 8);
		uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
		/* Bytes >= 0x80, < 0x20, == '"' or == '\\' (exact "any" tests:
		 * a borrow only follows a byte that matched). */
		uint64_t stop = (w | ((w - ones * 0x20) & ~w) |
		                 ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
		if (stop != 0)
			break;
		pos += 8;
	}
	while (pos < len && b[pos] >= 0x20 && b[pos] < 0x80 && b[pos] != '"' &&
	       b[pos] != '\\')
		pos++;
	return pos;
}

/*
 * The string whose opening quote is at s->pos; s->pos ends after the
 * closing quote. *match: in, 0 to compare the decoded text with "id"
 * (out: 2 on a match) or -1 not to.
 */
static enum json_err string(struct scan *s, bool *escaped, int *match)
{
	static const char id[] = "id";
	const uint8_t *b = s->b;

	s->pos++;
	*escaped = false;
	for (;;) {
		uint32_t cp;

		if (*match < 0)
			s->pos = plain_run(b, s->pos, s->len);
		if (s->pos >= s->len)
			return fail(s, JSON_ERR_SYNTAX, s->len);
		uint8_t c = b[s->pos];
		if (c == '"') {
			s->pos++;
			return JSON_OK;
		}
		if (c == '\\') {
			size_t at = s->pos;
			*escaped = true;
			if (s->pos + 1 >= s->len)
				return fail(s, JSON_ERR_SYNTAX, s->len);
			c = b[s->pos + 1];
			s->pos += 2;
			switch (c) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u': {
				if (s->len - s->pos < 4)
					return fail(s, JSON_ERR_SYNTAX, s->len);
				int v = hex4(b + s->pos);
				if (v < 0)
					return fail(s, JSON_ERR_STRING, at);
				s->pos += 4;
				cp = (uint32_t)v;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(s, JSON_ERR_STRING, at);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (s->len - s->pos < 6)
						return fail(s, s->len - s->pos >= 2 &&
						               (b[s->pos] != '\\' ||
						                b[s->pos + 1] != 'u')
						               ? JSON_ERR_STRING
						               : JSON_ERR_SYNTAX,
						            at);
					if (b[s->pos] != '\\' ||
					    b[s->pos + 1] != 'u')
						return fail(s, JSON_ERR_STRING, at);
					int w = hex4(b + s->pos + 2);
					if (w < 0xdc00 || w > 0xdfff)
						return fail(s, JSON_ERR_STRING, at);
					s->pos += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     ((uint32_t)w - 0xdc00);
				}
				break;
			}
			default:
				return fail(s, JSON_ERR_STRING, at);
			}
		} else if (c < 0x20) {
			return fail(s, JSON_ERR_STRING, s->pos);
		} else if (c < 0x80) {
			cp = c;
			s->pos++;
		} else if (utf8(s, &cp) != JSON_OK) {
			return s->r->err;
		}
		if (*match >= 0) {
			if (*match < 2 && cp == (uint8_t)id[*match])
				(*match)++;
			else
				*match = -1;
		}
	}
}

static bool digit(struct scan *s)
{
	return s->pos < s->len && s->b[s->pos] >= '0' && s->b[s->pos] <= '9';
}

static enum json_err number(struct scan *s)
{
	size_t start = s->pos;

	if (s->b[s->pos] == '-')
		s->pos++;
	if (!digit(s))
		return fail(s, JSON_ERR_NUMBER, s->pos);
	if (s->b[s->pos] == '0') {
		s->pos++;
		if (digit(s))
			return fail(s, JSON_ERR_NUMBER, start);
	} else {
		while (digit(s))
			s->pos++;
	}
	if (s->pos < s->len && s->b[s->pos] == '.') {
		s->pos++;
		if (!digit(s))
			return fail(s, JSON_ERR_NUMBER, s->pos);
		while (digit(s))
			s->pos++;
	}
	if (s->pos < s->len && (s->b[s->pos] == 'e' || s->b[s->pos] == 'E')) {
		s->pos++;
		if (s->pos < s->len &&
		    (s->b[s->pos] == '+' || s->b[s->pos] == '-'))
			s->pos++;
		if (!digit(s))
			return fail(s, JSON_ERR_NUMBER, s->pos);
		while (digit(s))
			s->pos++;
	}
	return JSON_OK;
}

static enum json_err literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->len - s->pos < n || memcmp(s->b + s->pos, lit, n) != 0)
		return fail(s, JSON_ERR_SYNTAX, s->pos);
	s->pos += n;
	return JSON_OK;
}

enum json_err json_validate_object(const void *buf, size_t len,
                                   unsigned max_depth, struct json_result *r)
{
	struct scan s = { buf, len, 0, r };
	uint64_t is_obj = 0; /* bit d: the container at depth d+1 */
	unsigned depth = 0;
	bool esc;
	int match;

	memset(r, 0, sizeof(*r));
	if (max_depth == 0 || max_depth > JSON_MAX_DEPTH)
		max_depth = JSON_MAX_DEPTH;
	skip_ws(&s);
	if (s.pos >= len)
		return fail(&s, JSON_ERR_EMPTY, s.pos);
	if (s.b[s.pos] != '{')
		return fail(&s, JSON_ERR_NOT_OBJECT, s.pos);

value:
	skip_ws(&s);
	if (s.pos >= len)
		return fail(&s, JSON_ERR_SYNTAX, s.pos);
	switch (s.b[s.pos]) {
	case '{':
	case '[': {
		bool obj = s.b[s.pos] == '{';
		if (depth >= max_depth)
			return fail(&s, JSON_ERR_DEPTH, s.pos);
		if (obj)
			is_obj |= (uint64_t)1 << depth;
		else
			is_obj &= ~((uint64_t)1 << depth);
		depth++;
		s.pos++;
		skip_ws(&s);
		if (s.pos < len && s.b[s.pos] == (obj ? '}' : ']')) {
			s.pos++;
			depth--;
			goto after;
		}
		if (obj)
			goto key;
		goto value;
	}
	case '"':
		match = -1;
		if (string(&s, &esc, &match) != JSON_OK)
			return r->err;
		goto after;
	case 't':
		if (literal(&s, "true") != JSON_OK)
			return r->err;
		goto after;
	case 'f':
		if (literal(&s, "false") != JSON_OK)
			return r->err;
		goto after;
	case 'n':
		if (literal(&s, "null") != JSON_OK)
			return r->err;
		goto after;
	default:
		if (s.b[s.pos] == '-' ||
		    (s.b[s.pos] >= '0' && s.b[s.pos] <= '9')) {
			if (number(&s) != JSON_OK)
				return r->err;
			goto after;
		}
		return fail(&s, JSON_ERR_SYNTAX, s.pos);
	}

after:
	if (depth == 0) {
		skip_ws(&s);
		if (s.pos != len)
			return fail(&s, JSON_ERR_TRAILING, s.pos);
		return JSON_OK;
	}
	skip_ws(&s);
	if (s.pos >= len)
		return fail(&s, JSON_ERR_SYNTAX, s.pos);
	{
		bool obj = (is_obj >> (depth - 1)) & 1;
		uint8_t c = s.b[s.pos++];
		if (c == ',')
			goto maybe_key;
		if (c == (obj ? '}' : ']')) {
			depth--;
			goto after;
		}
		return fail(&s, JSON_ERR_SYNTAX, s.pos - 1);
	}

maybe_key:
	if (!((is_obj >> (depth - 1)) & 1))
		goto value;
key:
	skip_ws(&s);
	if (s.pos >= len || s.b[s.pos] != '"')
		return fail(&s, JSON_ERR_SYNTAX, s.pos);
	{
		size_t key_at = s.pos;
		match = depth == 1 ? 0 : -1;
		if (string(&s, &esc, &match) != JSON_OK)
			return r->err;
		skip_ws(&s);
		if (s.pos >= len || s.b[s.pos] != ':')
			return fail(&s, JSON_ERR_SYNTAX, s.pos);
		s.pos++;
		if (match != 2)
			goto value;
		if (r->id_present)
			return fail(&s, JSON_ERR_ID_DUP, key_at);
		skip_ws(&s);
		if (s.pos >= len)
			return fail(&s, JSON_ERR_SYNTAX, s.pos);
		if (s.b[s.pos] != '"')
			return fail(&s, JSON_ERR_ID_TYPE, s.pos);
		size_t q = s.pos;
		match = -1;
		if (string(&s, &esc, &match) != JSON_OK)
			return r->err;
		r->id_present = true;
		r->id_escaped = esc;
		r->id = (const char *)s.b + q + 1;
		r->id_len = s.pos - q - 2;
		goto after;
	}
}

const char *json_err_str(enum json_err e)
{
	switch (e) {
	case JSON_OK: return "ok";
	case JSON_ERR_EMPTY: return "empty body";
	case JSON_ERR_NOT_OBJECT: return "body is not a JSON object";
	case JSON_ERR_SYNTAX: return "JSON syntax error";
	case JSON_ERR_STRING: return "bad JSON string";
	case JSON_ERR_UTF8: return "invalid UTF-8";
	case JSON_ERR_NUMBER: return "bad JSON number";
	case JSON_ERR_DEPTH: return "JSON nested too deeply";
	case JSON_ERR_TRAILING: return "data after the JSON object";
	case JSON_ERR_ID_TYPE: return "\"id\" must be a string";
	case JSON_ERR_ID_DUP: return "duplicate \"id\"";
	}
	return "unknown JSON error";
}

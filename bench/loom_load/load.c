#include "bench/loom_load/load.h"

#include <stdio.h>
#include <string.h>

/* --- ids ------------------------------------------------------------------ */


static bool prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool load_prefix_valid(const char *prefix)
{
	size_t n = strlen(prefix);
	if (n == 0 || n > LOAD_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!prefix_char(prefix[i]))
			return false;
	return true;
}

int load_keygen_init(struct load_keygen *k, enum load_keys kind,
                     const char *prefix, unsigned lane, uint64_t seed)
{
	memset(k, 0, sizeof *k);
	if (lane > 99)
		return -1;
	k->kind = kind;
	k->lane = lane;
	uuid_gen_seed(&k->rng, seed ^ ((uint64_t)lane << 56));
	if (kind == LOAD_KEYS_SEQ) {
		if (prefix == NULL || !load_prefix_valid(prefix))
			return -1;
		k->prefix_len = strlen(prefix);
		memcpy(k->prefix, prefix, k->prefix_len);
	}
	return 0;
}

size_t load_key_next(struct load_keygen *k, char out[LOAD_ID_MAX])
{
	if (k->kind == LOAD_KEYS_SEQ) {
		/* PREFIX-LL-NNNNNNNNNNNN: at most 24 + 1 + 2 + 1 + 12 (more
		 * digits only past 10^12 requests). */
		size_t n = k->prefix_len;
		memcpy(out, k->prefix, n);
		out[n++] = '-';
		out[n++] = (char)('0' + k->lane / 10);
		out[n++] = (char)('0' + k->lane % 10);
		out[n++] = '-';
		uint64_t c = ++k->counter;
		char d[20];
		size_t nd = load_u64_dec(d, c);
		for (size_t i = nd; i < 12; i++)
			out[n++] = '0';
		memcpy(out + n, d, nd);
		return n + nd;
	}
	uuid_v4(&k->rng, out);
	return UUID_STR_LEN;
}

/* --- requests --------------------------------------------------------------- */

size_t load_u64_dec(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static bool path_valid(const char *p)
{
	if (p == NULL || p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

int load_req_tmpl_init(struct load_req_tmpl *t, bool post, const char *path,
                       const char *host, const char *auth_b64)
{
	memset(t, 0, sizeof *t);
	t->post = post;
	if (!path_valid(path) || host == NULL || host[0] == '\0' ||
	    strpbrk(host, " \r\n") != NULL ||
	    (auth_b64 != NULL && strpbrk(auth_b64, " \r\n") != NULL))
		return -1;
	int n;
	if (post)
		n = snprintf(t->head, sizeof t->head,
		             "POST %s HTTP/1.1\r\n"
		             "Host: %s\r\n"
		             "Content-Type: application/json\r\n"
		             "Content-Length: %u\r\n"
		             "%s%s%s"
		             "Connection: keep-alive\r\n"
		             "\r\n",
		             path, host, LOAD_BODY_LEN,
		             auth_b64 ? "Authorization: Basic " : "",
		             auth_b64 ? auth_b64 : "", auth_b64 ? "\r\n" : "");
	else
		n = snprintf(t->head, sizeof t->head,
		             "GET %s HTTP/1.1\r\n"
		             "Host: %s\r\n"
		             "%s%s%s"
		             "Connection: keep-alive\r\n"
		             "\r\n",
		             path, host,
		             auth_b64 ? "Authorization: Basic " : "",
		             auth_b64 ? auth_b64 : "", auth_b64 ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof t->head)
		return -1;
	t->head_len = (size_t)n;
	return 0;
}

static inline size_t put(char *out, size_t at, const char *s, size_t n)
{
	memcpy(out + at, s, n);
	return at + n;
}

#define PUT_LIT(out, at, lit) put(out, at, lit, sizeof(lit) - 1)

size_t load_body_build(char *out, const char *id, size_t id_len, uint64_t n)
{
	if (id_len == 0 || id_len > LOAD_ID_MAX)
		return 0;
	char d[20];
	size_t nd = load_u64_dec(d, n);
	size_t at = 0;
	at = PUT_LIT(out, at, "{\"id\":\"");
	at = put(out, at, id, id_len);
	at = PUT_LIT(out, at, "\",\"name\":\"user ");
	at = put(out, at, d, nd);
	at = PUT_LIT(out, at, "\",\"email\":\"user");
	at = put(out, at, d, nd);
	at = PUT_LIT(out, at, "@example.com\",\"age\":");
	at += load_u64_dec(out + at, n % 90u);
	at = PUT_LIT(out, at, ",\"city\":\"Amsterdam\",\"score\":");
	at += load_u64_dec(out + at, n % 1000u);
	at = PUT_LIT(out, at, ".5,\"active\":true,\"note\":\"");
	/* At most 221 bytes so far (64-byte id, 20-digit counters). */
	size_t pad = LOAD_BODY_LEN - at - 2;
	memset(out + at, 'x', pad);
	at += pad;
	at = PUT_LIT(out, at, "\"}");
	return at;
}

size_t load_req_build(const struct load_req_tmpl *t, char *out,
                      const char *id, size_t id_len, uint64_t n)
{
	memcpy(out, t->head, t->head_len);
	if (!t->post)
		return t->head_len;
	size_t b = load_body_build(out + t->head_len, id, id_len, n);
	return b == 0 ? 0 : t->head_len + b;
}

/* --- responses ------------------------------------------------------------- */

enum {
	RS_STATUS = 0, /* reading the status line */
	RS_HEADER,     /* reading header lines */
	RS_BODY,
	RS_DONE,
	RS_ERROR,
};

void load_resp_init(struct load_resp *r, const char *expect,
                    size_t expect_len)
{
	memset(r, 0, sizeof *r);
	r->state = RS_STATUS;
	r->expect = expect;
	r->expect_len = expect_len;
}

static int fail(struct load_resp *r, const char *why)
{
	r->state = RS_ERROR;
	r->err = why;
	return LOAD_RESP_ERROR;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality of [p, p+n) with the lower-case word w. */
static bool word_is(const char *p, size_t n, const char *w)
{
	size_t wl = strlen(w);
	if (n != wl)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != w[i])
			return false;
	return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int status_line(struct load_resp *r)
{
	const char *l = r->line;
	size_t n = r->line_len;
	/* HTTP/1.x SP DIGIT DIGIT DIGIT [SP reason] */
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 ||
	    (l[7] != '0' && l[7] != '1') || l[8] != ' ' || !is_digit(l[9]) ||
	    !is_digit(l[10]) || !is_digit(l[11]) ||
	    (n > 12 && l[12] != ' '))
		return fail(r, "malformed status line");
	r->http10 = l[7] == '0';
	r->status = (uint16_t)((l[9] - '0') * 100 + (l[10] - '0') * 10 +
	                       (l[11] - '0'));
	if (r->status < 100 || r->status > 599)
		return fail(r, "status code out of range");
	r->state = RS_HEADER;
	return LOAD_RESP_MORE;
}

/* "close" / "keep-alive" among the comma-separated Connection tokens. */
static void connection_tokens(struct load_resp *r, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		if (word_is(v + s, i - s, "close"))
			r->close = true;
		else if (word_is(v + s, i - s, "keep-alive"))
			r->keep_alive = true;
	}
}

static int end_of_head(struct load_resp *r)
{
	if (r->status < 200) {
		if (r->status == 101)
			return fail(r, "101 Switching Protocols");
		/* An interim response: the real one follows. */
		const char *e = r->expect;
		size_t el = r->expect_len;
		uint32_t hb = r->head_bytes;
		load_resp_init(r, e, el);
		r->head_bytes = hb;
		return LOAD_RESP_MORE;
	}
	if (r->http10 && !r->keep_alive)
		r->close = true;
	if (r->status == 204 || r->status == 304) {
		r->body_left = 0;
	} else if (!r->has_clen) {
		return fail(r, "no Content-Length");
	} else {
		r->body_left = r->clen;
	}
	if (r->body_left == 0) {
		if (r->status == 201 && r->expect != NULL && r->expect_len != 0)
			r->body_mismatch = true;
		r->state = RS_DONE;
		return LOAD_RESP_DONE;
	}
	r->state = RS_BODY;
	return LOAD_RESP_MORE;
}

static int header_line(struct load_resp *r)
{
	const char *l = r->line;
	size_t n = r->line_len;
	if (n == 0 && !r->line_long)
		return end_of_head(r);
	if (l[0] == ' ' || l[0] == '\t')
		return fail(r, "obsolete header line folding");
	const char *colon = memchr(l, ':', n);
	if (colon == NULL)
		return fail(r, r->line_long ? "header name too long"
		                            : "header line without ':'");
	size_t nl = (size_t)(colon - l);
	if (nl == 0)
		return fail(r, "empty header name");
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar(l[i]))
			return fail(r, "invalid header name");
	const char *v = colon + 1;
	size_t vl = n - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (word_is(l, nl, "content-length")) {
		if (r->line_long || vl == 0 || vl > 15)
			return fail(r, "bad Content-Length");
		uint64_t x = 0;
		for (size_t i = 0; i < vl; i++) {
			if (!is_digit(v[i]))
				return fail(r, "bad Content-Length");
			x = x * 10u + (uint64_t)(v[i] - '0');
		}
		if (r->has_clen && x != r->clen)
			return fail(r, "conflicting Content-Length");
		r->has_clen = true;
		r->clen = x;
	} else if (word_is(l, nl, "transfer-encoding")) {
		return fail(r, "Transfer-Encoding is not supported");
	} else if (word_is(l, nl, "connection")) {
		connection_tokens(r, v, vl);
	}
	return LOAD_RESP_MORE;
}

/* Body bytes go in runs; head bytes one at a time into line[] (without
 * the CR), each line parsed at its LF. */
int load_resp_feed(struct load_resp *r, const uint8_t *p, size_t len,
                   size_t *used)
{
	size_t i = 0;
	int rc = LOAD_RESP_MORE;
	if (r->state == RS_ERROR) {
		*used = 0;
		return LOAD_RESP_ERROR;
	}
	if (r->state == RS_DONE) {
		*used = 0;
		return LOAD_RESP_DONE;
	}
	while (i < len) {
		if (r->state == RS_BODY) {
			size_t take = len - i;
			if (take > r->body_left)
				take = (size_t)r->body_left;
			if (r->status == 201 && r->expect != NULL &&
			    !r->body_mismatch) {
				for (size_t k = 0; k < take; k++) {
					uint64_t at = r->body_seen + k;
					if (at >= r->expect_len ||
					    (uint8_t)r->expect[at] != p[i + k]) {
						r->body_mismatch = true;
						break;
					}
				}
			}
			r->body_seen += take;
			r->body_left -= take;
			i += take;
			if (r->body_left == 0) {
				if (r->status == 201 && r->expect != NULL &&
				    r->body_seen != r->expect_len)
					r->body_mismatch = true;
				r->state = RS_DONE;
				rc = LOAD_RESP_DONE;
				break;
			}
			continue;
		}
		uint8_t c = p[i++];
		if (++r->head_bytes > LOAD_RESP_HEAD_MAX) {
			rc = fail(r, "response head too long");
			break;
		}
		if (c == '\n') {
			r->cr = false;
			rc = r->state == RS_STATUS ? status_line(r)
			                           : header_line(r);
			r->line_len = 0;
			r->line_long = false;
			if (rc != LOAD_RESP_MORE)
				break;
			continue;
		}
		/* A CR only ends a line: the next byte (maybe in the next
		 * piece) must be the LF. */
		if (r->cr) {
			rc = fail(r, "bare CR in the head");
			break;
		}
		if (c == '\r') {
			r->cr = true;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			rc = fail(r, "control byte in the head");
			break;
		}
		if (r->line_len < LOAD_RESP_LINE_KEEP)
			r->line[r->line_len++] = (char)c;
		else
			r->line_long = true;
	}
	*used = i;
	return rc;
}

/*
 * http_parser.c - see http_parser.h. One pass over the head, line by line;
 * each complete line is judged (syntax, then the fields the server needs)
 * before the next is looked at, which is what makes prefixes agree with the
 * whole.
 */
#include "dataplane/http/http_parser.h"

#include <string.h>

/* tchar (RFC 9110 5.6.2): "!#$%&'*+-.^_`|~" DIGIT ALPHA */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool mem_ieq(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n != l)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != lower((unsigned char)lit[i]))
			return false;
	return true;
}

bool http_span_ieq(struct http_span s, const char *lit)
{
	return s.p != NULL && mem_ieq(s.p, s.len, lit);
}

const struct http_header *http_find_header(const struct http_request *req,
                                           const char *name)
{
	for (size_t i = 0; i < req->num_headers; i++)
		if (http_span_ieq(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

enum line_res { LINE_FOUND, LINE_MORE, LINE_BAD };

/* Find the CR of the CR LF ending the line at pos, looking in [pos, end). */
static enum line_res find_eol(const char *b, size_t pos, size_t end,
                             size_t *eol)
{
	for (size_t i = pos; i < end; i++) {
		if (b[i] == '\n') {
			*eol = i;
			return LINE_BAD; /* bare LF */
		}
		if (b[i] == '\r') {
			if (i + 1 >= end)
				return LINE_MORE;
			*eol = i;
			return b[i + 1] == '\n' ? LINE_FOUND : LINE_BAD;
		}
	}
	return LINE_MORE;
}

/* Per-request scratch the caller never sees. */
struct parse_state {
	struct http_request *req;
	size_t max_headers;
	struct http_span te;
	unsigned te_count;
	unsigned host_count;
	bool conn_close;
	bool conn_keep_alive;
};

static enum http_parse_status fail(struct http_request *req, int status,
                                   size_t off)
{
	req->status = status;
	req->error_offset = off;
	return HTTP_PARSE_ERROR;
}

static enum http_parse_status parse_request_line(const char *b, size_t eol,
                                                 const struct http_limits *lim,
                                                 struct http_request *req)
{
	size_t i = 0;

	while (i < eol && is_tchar((unsigned char)b[i]))
		i++;
	if (i == 0 || i >= eol || b[i] != ' ')
		return fail(req, 400, i);
	req->method_tok.p = b;
	req->method_tok.len = i;
	if (i == 3 && memcmp(b, "GET", 3) == 0)
		req->method = HTTP_M_GET;
	else if (i == 4 && memcmp(b, "POST", 4) == 0)
		req->method = HTTP_M_POST;
	else if (i == 3 && memcmp(b, "PUT", 3) == 0)
		req->method = HTTP_M_PUT;
	else if (i == 6 && memcmp(b, "DELETE", 6) == 0)
		req->method = HTTP_M_DELETE;
	else if (i == 4 && memcmp(b, "HEAD", 4) == 0)
		req->method = HTTP_M_HEAD;
	else
		req->method = HTTP_M_OTHER;

	size_t t = ++i;
	while (i < eol && (unsigned char)b[i] > 0x20 &&
	       (unsigned char)b[i] < 0x7f)
		i++;
	if (i == t || i >= eol || b[i] != ' ')
		return fail(req, 400, i);
	req->path.p = b + t;
	req->path.len = i - t;
	if (lim->max_uri != 0 && req->path.len > lim->max_uri)
		return fail(req, 414, t);

	const char *v = b + i + 1;
	size_t vlen = eol - (i + 1);
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
	    v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return fail(req, 400, i + 1);
	if (v[5] != '1' || v[7] > '1')
		return fail(req, 505, i + 1);
	req->minor_version = v[7] - '0';
	return HTTP_PARSE_OK;
}

/* Each element of a comma list, OWS-trimmed; true if any equals lit. */
static bool list_has(struct http_span v, const char *lit)
{
	size_t i = 0;

	while (i <= v.len) {
		size_t s = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		size_t e = i;
		while (s < e && (v.p[s] == ' ' || v.p[s] == '\t'))
			s++;
		while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		if (mem_ieq(v.p + s, e - s, lit))
			return true;
		i++;
	}
	return false;
}

static bool is_json_type(struct http_span v)
{
	static const char mt[] = "application/json";
	size_t n = sizeof(mt) - 1;

	if (v.len < n || !mem_ieq(v.p, n, mt))
		return false;
	size_t i = n;
	while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
		i++;
	return i == v.len || v.p[i] == ';';
}

/* Set a single-instance field; a second one is 400. */
static bool set_once(struct http_span *dst, struct http_span v)
{
	if (dst->p != NULL)
		return false;
	dst->p = v.p != NULL ? v.p : "";
	dst->len = v.len;
	return true;
}

static enum http_parse_status interpret(struct parse_state *st,
                                        const struct http_header *h,
                                        size_t off)
{
	struct http_request *req = st->req;
	struct http_span n = h->name, v = h->value;

	if (v.p == NULL) /* empty value: keep a valid pointer */
		v.p = n.p + n.len;
	if (http_span_ieq(n, "content-length")) {
		uint64_t cl = 0;
		if (v.len == 0)
			return fail(req, 400, off);
		for (size_t i = 0; i < v.len; i++) {
			unsigned char c = (unsigned char)v.p[i];
			if (c < '0' || c > '9')
				return fail(req, 400, off);
			/* saturate: an absurd length is still "too large" */
			if (cl > (UINT64_MAX - 9) / 10)
				cl = UINT64_MAX;
			else
				cl = cl * 10 + (c - '0');
		}
		if (req->has_content_length && req->content_length != cl)
			return fail(req, 400, off);
		req->has_content_length = true;
		req->content_length = cl;
	} else if (http_span_ieq(n, "transfer-encoding")) {
		st->te = v;
		st->te_count++;
	} else if (http_span_ieq(n, "host")) {
		if (++st->host_count > 1)
			return fail(req, 400, off);
		req->host = v;
	} else if (http_span_ieq(n, "connection")) {
		if (list_has(v, "close"))
			st->conn_close = true;
		if (list_has(v, "keep-alive"))
			st->conn_keep_alive = true;
	} else if (http_span_ieq(n, "expect")) {
		if (mem_ieq(v.p, v.len, "100-continue") &&
		    req->minor_version == 1)
			req->expect_100_continue = true;
	} else if (http_span_ieq(n, "content-type")) {
		if (req->has_content_type)
			return fail(req, 400, off);
		req->has_content_type = true;
		req->content_type_json = is_json_type(v);
	} else if (http_span_ieq(n, "authorization")) {
		if (!set_once(&req->authorization, v))
			return fail(req, 400, off);
	} else if (http_span_ieq(n, "if-none-match")) {
		if (!set_once(&req->if_none_match, v))
			return fail(req, 400, off);
	} else if (http_span_ieq(n, "x-replicate-to")) {
		if (!set_once(&req->x_replicate_to, v))
			return fail(req, 400, off);
	}
	return HTTP_PARSE_OK;
}

/* Field line b[pos, eol): syntax, then store and interpret. */
static enum http_parse_status parse_field(struct parse_state *st,
                                          const char *b, size_t pos,
                                          size_t eol)
{
	struct http_request *req = st->req;
	size_t i = pos;

	while (i < eol && is_tchar((unsigned char)b[i]))
		i++;
	if (i == pos || i >= eol || b[i] != ':')
		return fail(req, 400, i); /* obs-fold, empty name, SP before : */
	struct http_header h;
	h.name.p = b + pos;
	h.name.len = i - pos;
	i++;
	while (i < eol && (b[i] == ' ' || b[i] == '\t'))
		i++;
	size_t vs = i, ve = i;
	for (; i < eol; i++) {
		unsigned char c = (unsigned char)b[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(req, 400, i);
		if (c != ' ' && c != '\t')
			ve = i + 1;
	}
	h.value.p = b + vs;
	h.value.len = ve - vs;
	if (req->num_headers >= st->max_headers)
		return fail(req, 431, pos);
	req->headers[req->num_headers++] = h;
	return interpret(st, &h, pos);
}

/* Whole head seen: framing and the checks that need every field. */
static enum http_parse_status finish(struct parse_state *st, size_t end,
                                     const struct http_limits *lim)
{
	struct http_request *req = st->req;

	if (req->minor_version == 1 && st->host_count == 0)
		return fail(req, 400, end);
	if (st->te_count > 0) {
		if (req->minor_version == 0 || req->has_content_length)
			return fail(req, 400, end);
		if (st->te_count > 1 || !mem_ieq(st->te.p, st->te.len,
		                                 "chunked"))
			return fail(req, 501, end);
		req->chunked = true;
	}
	if (req->has_content_length && req->content_length > lim->max_body)
		return fail(req, 413, end);
	if ((req->method == HTTP_M_POST || req->method == HTTP_M_PUT) &&
	    !req->has_content_length && !req->chunked)
		return fail(req, 411, end);
	return HTTP_PARSE_OK;
}

enum http_parse_status http_parse_request(const void *buf, size_t len,
                                          const struct http_limits *lim,
                                          struct http_header *hdrs,
                                          size_t hdr_cap,
                                          struct http_request *req)
{
	const char *b = buf;
	struct parse_state st;
	size_t end = len < lim->max_header_bytes ? len : lim->max_header_bytes;
	bool at_limit = len >= lim->max_header_bytes;
	size_t pos = 0, eol = 0;
	enum line_res lr;
	enum http_parse_status ps;

	memset(req, 0, sizeof(*req));
	req->headers = hdrs;
	memset(&st, 0, sizeof(st));
	st.req = req;
	st.max_headers = lim->max_headers < hdr_cap ? lim->max_headers
	                                            : hdr_cap;

	lr = find_eol(b, 0, end, &eol);
	if (lr == LINE_BAD)
		return fail(req, 400, eol);
	if (lr == LINE_MORE)
		return at_limit ? fail(req, 414, end) : HTTP_PARSE_INCOMPLETE;
	ps = parse_request_line(b, eol, lim, req);
	if (ps != HTTP_PARSE_OK)
		return ps;

	for (pos = eol + 2;; pos = eol + 2) {
		lr = find_eol(b, pos, end, &eol);
		if (lr == LINE_BAD)
			return fail(req, 400, eol);
		if (lr == LINE_MORE)
			return at_limit ? fail(req, 431, end)
			                : HTTP_PARSE_INCOMPLETE;
		if (eol == pos)
			break;
		ps = parse_field(&st, b, pos, eol);
		if (ps != HTTP_PARSE_OK)
			return ps;
	}
	req->header_bytes = eol + 2;
	req->keep_alive = !st.conn_close &&
	                  (req->minor_version == 1 || st.conn_keep_alive);
	return finish(&st, req->header_bytes, lim);
}

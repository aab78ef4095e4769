#include "dataplane/http/http_response.h"

#include <stdio.h>
#include <string.h>

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

void hout_u64(struct http_out *o, uint64_t v)
{
	char d[20];
	size_t n = 0;
	do {
		d[sizeof d - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	hout_mem(o, d + sizeof d - n, n);
}

size_t http_resp_head(char *buf, size_t cap, int status, const char *ctype,
                      size_t body_len, bool close, const char *extra)
{
	struct http_out o = {buf, 0, cap, false};
	hout_str(&o, "HTTP/1.1 ");
	hout_u64(&o, (uint64_t)status);
	hout_mem(&o, " ", 1);
	hout_str(&o, http_reason(status));
	hout_mem(&o, "\r\n", 2);
	if (ctype != NULL) {
		hout_str(&o, "Content-Type: ");
		hout_str(&o, ctype);
		hout_mem(&o, "\r\n", 2);
	}
	if (body_len != HTTP_NO_LENGTH) {
		hout_str(&o, "Content-Length: ");
		hout_u64(&o, body_len);
		hout_mem(&o, "\r\n", 2);
	}
	if (close)
		hout_str(&o, "Connection: close\r\n");
	if (extra != NULL)
		hout_str(&o, extra);
	hout_mem(&o, "\r\n", 2);
	/* Room for a NUL too, as snprintf needed: callers rely on it. */
	if (o.overflow || o.len >= cap)
		return 0;
	buf[o.len] = '\0';
	return o.len;
}

/* Escape msg as the inside of a JSON string; messages are our own ASCII,
 * but quotes and backslashes are escaped and control bytes dropped. */
static size_t json_escape(char *out, size_t cap, const char *msg)
{
	size_t o = 0;
	for (const char *p = msg; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			continue;
		if (c == '"' || c == '\\') {
			if (o + 2 >= cap)
				break;
			out[o++] = '\\';
		} else if (o + 1 >= cap) {
			break;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

size_t http_resp_error(char *buf, size_t cap, int status, const char *msg,
                       bool close)
{
	char esc[256];
	char body[300];
	json_escape(esc, sizeof esc, msg);
	int bl = snprintf(body, sizeof body, "{\"error\":\"%s\"}", esc);
	if (bl < 0)
		return 0;
	size_t h = http_resp_head(buf, cap, status, "application/json",
	                          (size_t)bl, close,
	                          status == 401
	                          ? "WWW-Authenticate: Basic realm=\"loom\"\r\n"
	                          : NULL);
	if (h == 0 || h + (size_t)bl > cap)
		return 0;
	memcpy(buf + h, body, (size_t)bl);
	return h + (size_t)bl;
}

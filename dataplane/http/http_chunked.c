/*
 * http_chunked.c - see http_chunked.h. A byte-at-a-time state machine for
 * the framing; chunk data is handed to the sink a span at a time.
 */
#include "dataplane/http/http_chunked.h"

#include <string.h>

enum {
	S_SIZE_FIRST, /* need the first hex digit */
	S_SIZE,       /* more hex digits, BWS, ';' or CR */
	S_SIZE_BWS,   /* after whitespace: more whitespace, ';' or CR */
	S_EXT,        /* extension bytes up to CR */
	S_SIZE_LF,    /* CR seen, need LF */
	S_DATA,
	S_DATA_CR,
	S_DATA_LF,
	S_TRAILER_START, /* start of a trailer line, or the final CRLF */
	S_TRAILER,
	S_TRAILER_LF,
	S_LAST_LF,
	S_DONE,
	S_ERROR,
};

void http_chunked_init(struct http_chunked *d, uint64_t max_body)
{
	memset(d, 0, sizeof(*d));
	d->state = S_SIZE_FIRST;
	d->max_body = max_body;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum http_chunked_status err(struct http_chunked *d, int status,
                                    size_t at, size_t *consumed)
{
	d->state = S_ERROR;
	d->status = status;
	*consumed = at;
	return HTTP_CHUNKED_ERROR;
}

/* The size line is complete: start the data, or the trailers on size 0. */
static int size_done(struct http_chunked *d)
{
	if (d->remaining > d->max_body - d->total)
		return 413;
	d->total += d->remaining;
	d->state = d->remaining == 0 ? S_TRAILER_START : S_DATA;
	return 0;
}

enum http_chunked_status http_chunked_feed(struct http_chunked *d,
                                           const uint8_t *p, size_t len,
                                           size_t *consumed,
                                           http_chunked_sink sink, void *arg)
{
	size_t i = 0;

	if (d->state == S_DONE) {
		*consumed = 0;
		return HTTP_CHUNKED_DONE;
	}
	if (d->state == S_ERROR) {
		*consumed = 0;
		return HTTP_CHUNKED_ERROR;
	}
	while (i < len) {
		uint8_t c = p[i];

		if (d->state == S_DATA) {
			size_t n = len - i;
			if (n > d->remaining)
				n = (size_t)d->remaining;
			if (sink != NULL) {
				int st = sink(arg, p + i, n);
				if (st != 0)
					return err(d, st, i, consumed);
			}
			d->remaining -= n;
			i += n;
			if (d->remaining == 0)
				d->state = S_DATA_CR;
			continue;
		}
		if (d->state <= S_SIZE_LF &&
		    ++d->line_bytes > HTTP_CHUNKED_MAX_LINE)
			return err(d, 400, i, consumed);
		if (d->state >= S_TRAILER_START && d->state <= S_LAST_LF &&
		    ++d->trailer_bytes > HTTP_CHUNKED_MAX_TRAILER)
			return err(d, 431, i, consumed);
		switch (d->state) {
		case S_SIZE_FIRST:
		case S_SIZE: {
			int h = hexval(c);
			if (h >= 0) {
				/* leading zeros are free; 16 digits fit */
				if (d->remaining > (UINT64_MAX >> 4))
					return err(d, 400, i, consumed);
				d->remaining = (d->remaining << 4) | (uint64_t)h;
				d->state = S_SIZE;
				break;
			}
			if (d->state == S_SIZE_FIRST)
				return err(d, 400, i, consumed);
			if (c == ' ' || c == '\t')
				d->state = S_SIZE_BWS;
			else if (c == ';')
				d->state = S_EXT;
			else if (c == '\r')
				d->state = S_SIZE_LF;
			else
				return err(d, 400, i, consumed);
			break;
		}
		case S_SIZE_BWS:
			if (c == ';')
				d->state = S_EXT;
			else if (c == '\r')
				d->state = S_SIZE_LF;
			else if (c != ' ' && c != '\t')
				return err(d, 400, i, consumed);
			break;
		case S_EXT:
			if (c == '\r')
				d->state = S_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return err(d, 400, i, consumed);
			break;
		case S_SIZE_LF: {
			if (c != '\n')
				return err(d, 400, i, consumed);
			int st = size_done(d);
			if (st != 0)
				return err(d, st, i, consumed);
			break;
		}
		case S_DATA_CR:
			if (c != '\r')
				return err(d, 400, i, consumed);
			d->state = S_DATA_LF;
			break;
		case S_DATA_LF:
			if (c != '\n')
				return err(d, 400, i, consumed);
			d->state = S_SIZE_FIRST;
			d->line_bytes = 0;
			break;
		case S_TRAILER_START:
			if (c == '\r')
				d->state = S_LAST_LF;
			else if (c < 0x20 || c == 0x7f)
				return err(d, 400, i, consumed);
			else
				d->state = S_TRAILER;
			break;
		case S_TRAILER:
			if (c == '\r')
				d->state = S_TRAILER_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return err(d, 400, i, consumed);
			break;
		case S_TRAILER_LF:
			if (c != '\n')
				return err(d, 400, i, consumed);
			d->state = S_TRAILER_START;
			break;
		case S_LAST_LF:
			if (c != '\n')
				return err(d, 400, i, consumed);
			d->state = S_DONE;
			*consumed = i + 1;
			return HTTP_CHUNKED_DONE;
		default:
			return err(d, 500, i, consumed);
		}
		i++;
	}
	*consumed = len;
	return HTTP_CHUNKED_MORE;
}

struct inplace {
	uint8_t *dst;
	size_t n;
};

static int inplace_sink(void *arg, const uint8_t *p, size_t n)
{
	struct inplace *ip = arg;

	/* p is never before dst + n: the output only ever shrinks */
	memmove(ip->dst + ip->n, p, n);
	ip->n += n;
	return 0;
}

enum http_chunked_status http_chunked_decode_inplace(struct http_chunked *d,
                                                     uint8_t *buf, size_t len,
                                                     size_t *out_len,
                                                     size_t *consumed)
{
	struct inplace ip = { buf, 0 };
	enum http_chunked_status r;

	r = http_chunked_feed(d, buf, len, consumed, inplace_sink, &ip);
	*out_len = ip.n;
	return r;
}

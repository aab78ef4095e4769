/*
 * base64.c - strict standard base64 (see base64.h).
 */
#include "common/base64.h"

#include <stdbool.h>

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];
		out[o++] = alphabet[w >> 18];
		out[o++] = alphabet[(w >> 12) & 63];
		out[o++] = alphabet[(w >> 6) & 63];
		out[o++] = alphabet[w & 63];
	}
	if (len - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;
		out[o++] = alphabet[w >> 18];
		out[o++] = alphabet[(w >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[w >> 18];
		out[o++] = alphabet[(w >> 12) & 63];
		out[o++] = alphabet[(w >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	if (len == 0 || len % 4 != 0)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = in[i + (size_t)j];
			if (c == '=' && last && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			/* A data character after '=' ("ab=c") is junk. */
			if (pad > 0 || (v[j] = value_of(c)) < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		             (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Non-zero bits after the data: a second spelling. */
		if ((pad == 2 && (w & 0xffff) != 0) ||
		    (pad == 1 && (w & 0xff) != 0))
			return -1;
		size_t k = 3 - (size_t)pad;
		if (n + k > cap)
			return -1;
		out[n++] = (uint8_t)(w >> 16);
		if (k > 1)
			out[n++] = (uint8_t)(w >> 8);
		if (k > 2)
			out[n++] = (uint8_t)w;
	}
	return (long)n;
}

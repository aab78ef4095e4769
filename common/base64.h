/*
 * base64.h - standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /)
 * with '=' padding, for HTTP Basic credentials and the [users] verifiers.
 *
 * Decoding is strict: the length is a multiple of 4, '=' appears only as
 * the last one or two characters, nothing else (no blanks, no line breaks,
 * no URL-safe alphabet), and the bits after the data are zero, so every
 * byte string has exactly one accepted spelling. Pure C, no allocation.
 *
 * Used by HTTP Basic authentication (dataplane/http/auth.c), the [users]
 * verifiers of the config and loomctl passwd.
 */
#ifndef LOOM_COMMON_BASE64_H
#define LOOM_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters base64_encode() writes for n bytes (without the NUL). */
#define BASE64_ENCODED_LEN(n) (((size_t)(n) + 2) / 3 * 4)
/* Most bytes a text of n characters can decode to. */
#define BASE64_DECODED_MAX(n) ((size_t)(n) / 4 * 3)

/* Writes BASE64_ENCODED_LEN(len) characters and a NUL to out; returns the
 * number of characters. */
size_t base64_encode(const uint8_t *in, size_t len, char *out);

/* Decodes len characters into out (cap bytes). Returns the decoded length,
 * or -1 if the text is not strict base64 or does not fit. Branches depend
 * only on the input text (the caller's own data, never a stored secret). */
long base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif

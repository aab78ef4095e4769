/*
 * json_validate.h - check that a buffer is exactly one JSON object
 * (RFC 8259) and find its top-level "id", without allocating.
 *
 * Accepted: ws object ws, nothing else. Strings must be valid UTF-8 (no
 * overlongs, no encoded surrogates, nothing above U+10FFFF), have no raw
 * control bytes, and use only the RFC escapes; a \uXXXX high surrogate must
 * be followed by a \uXXXX low one and a low one must not stand alone.
 * Numbers follow the RFC grammar (no leading zeros, no '+', no bare '.').
 * Nesting deeper than max_depth (the top object is depth 1; capped at
 * JSON_MAX_DEPTH) is an error.
 *
 * The "id" member counts only at the top level; its key is compared after
 * unescaping ("\u0069d" is "id"). Its value must be a string: the result
 * gives its raw bytes between the quotes (escapes not decoded) and whether
 * it has any escapes. A non-string id is JSON_ERR_ID_TYPE (offset: the
 * value), a second top-level id is JSON_ERR_ID_DUP (offset: its key). The
 * scan stops at the first error, so these are reported even if the rest of
 * the document would have been malformed too.
 */
#ifndef LOOM_JSON_VALIDATE_H
#define LOOM_JSON_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

enum json_err {
	JSON_OK = 0,
	JSON_ERR_EMPTY,      /* nothing but whitespace */
	JSON_ERR_NOT_OBJECT, /* top-level value is not an object */
	JSON_ERR_SYNTAX,     /* unexpected byte or end of input */
	JSON_ERR_STRING,     /* raw control byte, bad escape, bad surrogate */
	JSON_ERR_UTF8,       /* invalid UTF-8 */
	JSON_ERR_NUMBER,     /* number grammar */
	JSON_ERR_DEPTH,      /* nesting deeper than max_depth */
	JSON_ERR_TRAILING,   /* non-whitespace after the object */
	JSON_ERR_ID_TYPE,    /* top-level "id" is not a string */
	JSON_ERR_ID_DUP,     /* more than one top-level "id" */
};

struct json_result {
	enum json_err err;
	size_t offset;        /* on error: byte offset where it was found */
	bool id_present;
	bool id_escaped;      /* the id's raw bytes contain a backslash */
	const char *id;       /* raw bytes between the quotes (in buf) */
	size_t id_len;
};

/* Validate buf[0, len); returns r->err. max_depth 0 means JSON_MAX_DEPTH. */
enum json_err json_validate_object(const void *buf, size_t len,
                                   unsigned max_depth, struct json_result *r);

/* A short English name for an error code (static string). */
const char *json_err_str(enum json_err e);

#endif

/*
 * fuzz_json - arbitrary bytes into the JSON object validator.
 *
 * Byte 0 picks the depth limit (0..7 -> 1..8, or the default); the rest is
 * the document. Oracles: no crash; an error offset lies within the input;
 * on success the input starts (after whitespace) with '{' and ends with
 * '}', and a found id lies inside the buffer between quotes, has a
 * backslash iff id_escaped, and no unescaped quote; with a larger depth
 * limit a valid document stays valid (with the same id).
 */
#include "dataplane/http/json_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_json: %s:%d: %s\n", __FILE__,  \
			        __LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_result r, r2;

	if (size < 1)
		return 0;
	unsigned depth = (data[0] & 8) ? 0 : (data[0] & 7) + 1u;
	data++;
	size--;

	enum json_err e = json_validate_object(data, size, depth, &r);
	REQUIRE(e == r.err);
	REQUIRE(strlen(json_err_str(e)) > 0);
	if (e != JSON_OK) {
		REQUIRE(r.offset <= size);
		return 0;
	}
	size_t s = 0, t = size;
	while (s < size && is_ws(data[s]))
		s++;
	while (t > s && is_ws(data[t - 1]))
		t--;
	REQUIRE(t - s >= 2 && data[s] == '{' && data[t - 1] == '}');
	if (r.id_present) {
		const uint8_t *p = (const uint8_t *)r.id;
		REQUIRE(p > data && p + r.id_len < data + size);
		REQUIRE(p[-1] == '"' && p[r.id_len] == '"');
		bool bs = memchr(p, '\\', r.id_len) != NULL;
		REQUIRE(bs == r.id_escaped);
		if (!bs)
			REQUIRE(memchr(p, '"', r.id_len) == NULL);
	}
	e = json_validate_object(data, size, JSON_MAX_DEPTH, &r2);
	REQUIRE(e == JSON_OK);
	REQUIRE(r2.id_present == r.id_present && r2.id == r.id &&
	        r2.id_len == r.id_len);
	return 0;
}

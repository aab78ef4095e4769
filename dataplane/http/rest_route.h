/*
 * rest_route.h - the pure pieces of the REST API (DESIGN §3): which route a
 * request-target names, what a valid table name and record id are, ETags,
 * and placing a server-assigned id into a JSON body. No I/O, no allocation;
 * unit-tested and fuzzed on their own.
 *
 * Routes (the query string, from '?', is ignored):
 *   /health               ROUTE_HEALTH
 *   /metrics              ROUTE_METRICS
 *   /{table} or /{table}/ ROUTE_TABLE      (POST)
 *   /{table}/{id}         ROUTE_RECORD     (GET, HEAD, PUT, DELETE)
 *   anything else         ROUTE_NOT_FOUND  (404)
 *   a malformed table/id  ROUTE_BAD        (400)
 *
 * Table names: [A-Za-z0-9_]{1,63}. Record ids (in URLs and in a body's
 * "id"): 1..255 bytes of RFC 3986 pchar without percent-encoding, i.e.
 * [A-Za-z0-9] and -._~!$&'()*+,;=:@ — so every id is usable verbatim in
 * a URL and a Location header. A '%' (percent-encoding) is refused rather
 * than decoded, so one record has exactly one spelling.
 */
#ifndef LOOM_HTTP_REST_ROUTE_H
#define LOOM_HTTP_REST_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/http/http_parser.h"
#include "storage/hlc.h"

#define REST_TABLE_MAX 63
#define REST_ID_MAX 255
/* "%016llx-%u" in quotes: 1 + 16 + 1 + 5 + 1 */
#define REST_ETAG_MAX 32

enum rest_route_kind {
	ROUTE_NOT_FOUND = 0,
	ROUTE_BAD,
	ROUTE_HEALTH,
	ROUTE_METRICS,
	ROUTE_TABLE,
	ROUTE_RECORD,
};

struct rest_route {
	enum rest_route_kind kind;
	struct http_span table; /* ROUTE_TABLE, ROUTE_RECORD */
	struct http_span id;    /* ROUTE_RECORD */
	const char *why;        /* ROUTE_BAD: what is wrong, for the error body */
};

void rest_route_parse(struct http_span target, struct rest_route *r);

bool rest_table_valid(const char *p, size_t len);
bool rest_id_valid(const char *p, size_t len);

/* The ETag of a version, quotes included; returns its length. */
size_t rest_etag(struct loom_version v, char out[REST_ETAG_MAX]);
/* True when an If-None-Match value (a list of entity tags or "*") names
 * etag; weak tags (W/"...") match by their opaque part (RFC 9110 13.1.2:
 * If-None-Match uses the weak comparison). */
bool rest_etag_matches(struct http_span if_none_match, const char *etag,
                       size_t etag_len);

/*
 * Give a JSON object body a leading "id" member. body[0, len) is a valid
 * object (json_validate_object said so) without a top-level id; the caller
 * reserved `room` writable bytes in front of body. The member
 *     {"id":"ID",  (or {"id":"ID"} for an empty object)
 * replaces the object's opening brace and the whitespace before it.
 * Returns the new start (inside the reserved room) and sets *new_len, or
 * NULL if room is too small (room >= id_len + 10 always suffices).
 */
char *rest_insert_id(char *body, size_t len, size_t room, const char *id,
                     size_t id_len, size_t *new_len);

#endif

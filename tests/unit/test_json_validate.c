/*
 * test_json_validate.c - the JSON object validator: a valid/invalid corpus,
 * top-level "id" extraction, the depth limit, error offsets.
 */
#include "dataplane/http/json_validate.h"

#include "check.h"

static enum json_err v(const char *s, struct json_result *r)
{
	return json_validate_object(s, strlen(s), 0, r);
}

static const char *const valid[] = {
	"{}",
	" \t\r\n{ } \n",
	"{\"a\":1}",
	"{\"a\":-0}",
	"{\"a\":0.5e+10, \"b\":-1E-2, \"c\":12345678901234567890123}",
	"{\"a\":[]}",
	"{\"a\":[1,2,[3,[]],{}]}",
	"{\"a\":true,\"b\":false,\"c\":null}",
	"{\"a\":\"\"}",
	"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	"{\"a\":\"\\u0000\\u00e9\\uFFFF\"}",
	"{\"a\":\"\\ud83d\\ude00\"}",
	"{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}",
	"{\"a\":{\"b\":{\"c\":{}}}}",
	"{\"\":0}",
	"{\"a\":1,\"a\":2}",
	"{\"a\" : [ 1 , \"x\" ] , \"b\" : { } }",
	"{\"a\":1e5}",
	"{\"a\":[0,-0.0,10,1.25]}",
	"{\"k\":\"\x7f\"}",
};

struct bad {
	const char *s;
	enum json_err e;
	size_t off;
};

static const struct bad invalid[] = {
	{ "", JSON_ERR_EMPTY, 0 },
	{ "  \n", JSON_ERR_EMPTY, 3 },
	{ "[]", JSON_ERR_NOT_OBJECT, 0 },
	{ "\"x\"", JSON_ERR_NOT_OBJECT, 0 },
	{ " 1", JSON_ERR_NOT_OBJECT, 1 },
	{ "null", JSON_ERR_NOT_OBJECT, 0 },
	{ "{", JSON_ERR_SYNTAX, 1 },
	{ "{\"a\"", JSON_ERR_SYNTAX, 4 },
	{ "{\"a\":", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":1", JSON_ERR_SYNTAX, 6 },
	{ "{\"a\":1,}", JSON_ERR_SYNTAX, 7 },
	{ "{,}", JSON_ERR_SYNTAX, 1 },
	{ "{a:1}", JSON_ERR_SYNTAX, 1 },
	{ "{'a':1}", JSON_ERR_SYNTAX, 1 },
	{ "{\"a\" 1}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":[1,]}", JSON_ERR_SYNTAX, 8 },
	{ "{\"a\":[1 2]}", JSON_ERR_SYNTAX, 8 },
	{ "{\"a\":[}", JSON_ERR_SYNTAX, 6 },
	{ "{\"a\":]}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":{]}", JSON_ERR_SYNTAX, 6 },
	{ "{\"a\":tru}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":True}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":nul", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":undefined}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":01}", JSON_ERR_NUMBER, 5 },
	{ "{\"a\":+1}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":.5}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":1.}", JSON_ERR_NUMBER, 7 },
	{ "{\"a\":1e}", JSON_ERR_NUMBER, 7 },
	{ "{\"a\":1e+}", JSON_ERR_NUMBER, 8 },
	{ "{\"a\":-}", JSON_ERR_NUMBER, 6 },
	{ "{\"a\":--1}", JSON_ERR_NUMBER, 6 },
	{ "{\"a\":0x10}", JSON_ERR_SYNTAX, 6 },
	{ "{\"a\":NaN}", JSON_ERR_SYNTAX, 5 },
	{ "{\"a\":\"x}", JSON_ERR_SYNTAX, 8 },
	{ "{\"a\":\"\x01\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\t\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\x\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\u12G4\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\ud83d\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\ud83dx\\ude00\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\ud83d\\u0041\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\ude00\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\\ud83d\\ud83d\"}", JSON_ERR_STRING, 6 },
	{ "{\"a\":\"\xc0\xaf\"}", JSON_ERR_UTF8, 6 },
	{ "{\"a\":\"\xe0\x80\xaf\"}", JSON_ERR_UTF8, 7 },
	{ "{\"a\":\"\xed\xa0\x80\"}", JSON_ERR_UTF8, 7 },
	{ "{\"a\":\"\xf4\x90\x80\x80\"}", JSON_ERR_UTF8, 7 },
	{ "{\"a\":\"\xf5\x80\x80\x80\"}", JSON_ERR_UTF8, 6 },
	{ "{\"a\":\"\x80\"}", JSON_ERR_UTF8, 6 },
	{ "{\"a\":\"\xc3\"}", JSON_ERR_UTF8, 7 },
	{ "{\"a\":\"\xe2\x82\"}", JSON_ERR_UTF8, 8 },
	{ "{\"a\":\"\xff\"}", JSON_ERR_UTF8, 6 },
	{ "{}x", JSON_ERR_TRAILING, 2 },
	{ "{} {}", JSON_ERR_TRAILING, 3 },
	{ "{}\n,", JSON_ERR_TRAILING, 3 },
	{ "{\"id\":1}", JSON_ERR_ID_TYPE, 6 },
	{ "{\"id\":null}", JSON_ERR_ID_TYPE, 6 },
	{ "{\"id\": {\"x\":1}}", JSON_ERR_ID_TYPE, 7 },
	{ "{\"id\":[\"a\"]}", JSON_ERR_ID_TYPE, 6 },
	{ "{\"id\":\"a\",\"id\":\"b\"}", JSON_ERR_ID_DUP, 10 },
	{ "{\"id\":\"a\",\"\\u0069d\":\"b\"}", JSON_ERR_ID_DUP, 10 },
};

static void test_corpus(void)
{
	struct json_result r;

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		enum json_err e = v(valid[i], &r);
		if (e != JSON_OK)
			fprintf(stderr, "valid[%zu] %s: %s at %zu\n", i,
			        valid[i], json_err_str(e), r.offset);
		CHECK_EQ_U64(e, JSON_OK);
		CHECK(!r.id_present);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		enum json_err e = v(invalid[i].s, &r);
		if (e != invalid[i].e || r.offset != invalid[i].off)
			fprintf(stderr, "invalid[%zu] %s: got %s at %zu\n", i,
			        invalid[i].s, json_err_str(e), r.offset);
		CHECK_EQ_U64(e, invalid[i].e);
		CHECK_EQ_U64(r.offset, invalid[i].off);
		CHECK(strlen(json_err_str(e)) > 0);
	}
	/* a NUL byte inside a string is a control byte */
	CHECK_EQ_U64(json_validate_object("{\"a\":\"\0\"}", 8, 0, &r),
	             JSON_ERR_STRING);
	/* ... and after the object it is trailing garbage */
	CHECK_EQ_U64(json_validate_object("{}\0", 3, 0, &r), JSON_ERR_TRAILING);
}

static bool id_is(const struct json_result *r, const char *s)
{
	return r->id_present && r->id_len == strlen(s) &&
	       memcmp(r->id, s, r->id_len) == 0;
}

static void test_id(void)
{
	struct json_result r;
	const char *s;

	s = "{\"name\":\"x\",\"id\":\"abc-1\"}";
	CHECK_EQ_U64(v(s, &r), JSON_OK);
	CHECK(id_is(&r, "abc-1"));
	CHECK(!r.id_escaped);
	CHECK(r.id == s + 18);

	CHECK_EQ_U64(v("{ \"id\" : \"\" }", &r), JSON_OK);
	CHECK(id_is(&r, ""));

	CHECK_EQ_U64(v("{\"id\":\"a\\\"b\\u00e9\"}", &r), JSON_OK);
	CHECK(id_is(&r, "a\\\"b\\u00e9"));
	CHECK(r.id_escaped);

	/* the key is compared unescaped */
	CHECK_EQ_U64(v("{\"\\u0069\\u0064\":\"k\"}", &r), JSON_OK);
	CHECK(id_is(&r, "k"));

	/* nested ids do not count, and may be anything */
	CHECK_EQ_U64(v("{\"a\":{\"id\":1},\"b\":[{\"id\":null}]}", &r), JSON_OK);
	CHECK(!r.id_present);
	CHECK_EQ_U64(v("{\"a\":{\"id\":1},\"id\":\"top\",\"c\":{\"id\":\"n\"}}",
	               &r), JSON_OK);
	CHECK(id_is(&r, "top"));

	/* near misses */
	CHECK_EQ_U64(v("{\"ID\":1,\"idx\":2,\"i\":3,\"\":4,\"xid\":5}", &r),
	             JSON_OK);
	CHECK(!r.id_present);
	/* a string value "id" is not a key */
	CHECK_EQ_U64(v("{\"a\":\"id\"}", &r), JSON_OK);
	CHECK(!r.id_present);
	/* an id before a later syntax error is not reported as valid */
	CHECK_EQ_U64(v("{\"id\":\"a\",}", &r), JSON_ERR_SYNTAX);
}

static void test_depth(void)
{
	char s[300];
	struct json_result r;
	size_t n;

	/* depth d: d-1 nested arrays inside the top object */
	for (unsigned d = 1; d <= 70; d++) {
		n = 0;
		s[n++] = '{';
		if (d > 1) {
			memcpy(s + n, "\"a\":", 4);
			n += 4;
			for (unsigned i = 1; i < d; i++)
				s[n++] = '[';
			for (unsigned i = 1; i < d; i++)
				s[n++] = ']';
		}
		s[n++] = '}';
		enum json_err e = json_validate_object(s, n, 0, &r);
		CHECK_EQ_U64(e, d <= JSON_MAX_DEPTH ? JSON_OK : JSON_ERR_DEPTH);
		if (e == JSON_ERR_DEPTH)
			/* the first '[' is at 5 and is depth 2 */
			CHECK_EQ_U64(r.offset, 5 + JSON_MAX_DEPTH - 1);
		e = json_validate_object(s, n, 3, &r);
		CHECK_EQ_U64(e, d <= 3 ? JSON_OK : JSON_ERR_DEPTH);
	}
	/* objects count too */
	CHECK_EQ_U64(json_validate_object("{\"a\":{\"b\":{}}}", 14, 2, &r),
	             JSON_ERR_DEPTH);
	CHECK_EQ_U64(json_validate_object("{\"a\":{\"b\":{}}}", 14, 3, &r),
	             JSON_OK);
}

static void test_truncations(void)
{
	/* every proper prefix of a valid document is invalid */
	const char *s = "{\"id\":\"x\\u00e9\",\"a\":[1.5e3,true,{\"b\":null}]}";
	struct json_result r;

	for (size_t i = 0; i < strlen(s); i++)
		CHECK(json_validate_object(s, i, 0, &r) != JSON_OK);
	CHECK_EQ_U64(json_validate_object(s, strlen(s), 0, &r), JSON_OK);
	CHECK(id_is(&r, "x\\u00e9"));
}

int main(void)
{
	test_corpus();
	test_id();
	test_depth();
	test_truncations();
	CHECK_DONE();
}

/* Group commit (storage/batch.h) on a real LMDB store: per-request results
 * inside one txn, versions and seqs in order, counters, refusals that do
 * not cost the batch, and a batch that overflows the map (or cannot begin)
 * failing as a whole with nothing visible. Every environment lives in a
 * mkdtemp directory under /tmp that the test removes itself. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "storage/batch.h"

#define TMP_PREFIX "/tmp/loom-batch-"

struct fake_clock {
	uint64_t ms;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->ms;
}

/* A monotonic clock that moves 1000 ns per read: one batch = 1000 ns. */
static uint64_t fake_ns;

static uint64_t fake_now_ns(void)
{
	fake_ns += 1000;
	return fake_ns;
}

static char *make_dir(char *buf, size_t cap)
{
	snprintf(buf, cap, "%sXXXXXX", TMP_PREFIX);
	return mkdtemp(buf);
}

static void remove_dir(const char *dir)
{
	char p[256];

	/* only ever remove what we created */
	if (dir == NULL || strncmp(dir, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
	    strstr(dir, "..") != NULL)
		return;
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static struct store *open_node(const char *dir, size_t map_size,
                               struct fake_clock *clk)
{
	struct store_config cfg = {
		.path = dir,
		.map_size = map_size,
		.node_id = 1,
		.sync = STORE_SYNC_COMMIT,
		.clock_ms = fake_now,
		.clock_ctx = clk,
	};
	struct store *s = NULL;
	int rc = store_open(&cfg, &s);

	CHECK_EQ_U64(rc, 0);
	if (rc)
		fprintf(stderr, "store_open: %s\n", mdb_strerror(rc));
	return s;
}

/* A request as an io lcore builds it (write_req.h): table NUL key in
 * data[], then a gap (the room an io lcore keeps to insert an "id"), the
 * body at body_off. A DELETE has no body: body_off is the key's end, as
 * the REST server sets it. The storage fields get junk so the test sees
 * that they are all written. */
#define BODY_GAP 16

static struct write_req *mk_req_n(uint8_t op, const char *table,
                                  const char *key, const void *body,
                                  size_t body_len)
{
	size_t tl = strlen(table), kl = strlen(key);
	size_t off = tl + 1 + kl + (op == WRITE_DELETE ? 0 : BODY_GAP);
	size_t cap = off + body_len;
	struct write_req *r = malloc(sizeof(*r) + cap);

	if (r == NULL)
		abort();
	memset(r, 0, sizeof(*r));
	memset(r->data, '#', cap); /* the gap is not part of anything */
	r->op = op;
	r->table_len = (uint16_t)tl;
	r->key_len = (uint16_t)kl;
	r->body_off = (uint32_t)off;
	r->body_len = (uint32_t)body_len;
	r->cap = (uint32_t)cap;
	memcpy(r->data, table, tl + 1);
	memcpy(r->data + tl + 1, key, kl);
	if (body_len)
		memcpy(r->data + off, body, body_len);
	r->result = -1;
	r->store_err = -12345;
	r->version = (struct loom_version){~0ull, 0xffff};
	r->seq = ~0ull;
	return r;
}

static struct write_req *mk_req(uint8_t op, const char *table,
                                const char *key, const char *body)
{
	return mk_req_n(op, table, key, body, body ? strlen(body) : 0);
}

static void free_reqs(struct write_req **r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(r[i]);
}

static bool body_is(const struct store_record *r, const char *s)
{
	return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

static bool version_eq(struct loom_version a, struct loom_version b)
{
	return a.hlc == b.hlc && a.origin == b.origin;
}

/* Every request counted once in entries and once in an outcome. */
static void check_invariant(const struct storage_counters *c)
{
	CHECK_EQ_U64(c->entries, c->posts + c->puts + c->deletes +
	                             c->remote_batches + c->remote_gaps +
	                             c->exists + c->not_found + c->invalid +
	                             c->full + c->failed);
	CHECK(c->remote_superseded <= c->remote_entries_applied);
}

/* One encoded entry (storage/entry.h) of a peer's BATCH. */
struct rentry {
	uint8_t b[128];
	size_t n;
};

static struct rentry mk_entry(uint8_t op, const char *table, const char *key,
                              const char *body, uint64_t hlc, uint16_t origin)
{
	struct rentry r;
	struct loom_entry e = {
		.op = op,
		.table = table,
		.table_len = (uint8_t)strlen(table),
		.key = (const uint8_t *)key,
		.key_len = (uint8_t)strlen(key),
		.body = (const uint8_t *)body,
		.body_len = body ? (uint32_t)strlen(body) : 0,
		.version = {hlc, origin},
	};

	r.n = 0;
	CHECK_EQ_U64(loom_entry_encode(&e, r.b, sizeof(r.b), &r.n), 0);
	return r;
}

/* A WRITE_REMOTE request as the repl lcore builds it (write_req.h): no
 * table or key, entries e[first..first+n) back to back at body_off (after
 * a gap, so body_off is not 0), seqs first_seq.. */
static struct write_req *mk_remote(uint16_t origin, uint64_t first_seq,
                                   const struct rentry *e, unsigned n)
{
	size_t len = 0, off = 8;
	struct write_req *r;

	for (unsigned i = 0; i < n; i++)
		len += e[i].n;
	r = malloc(sizeof(*r) + off + len);
	if (r == NULL)
		abort();
	memset(r, 0, sizeof(*r));
	memset(r->data, 0, off);
	r->op = WRITE_REMOTE;
	r->body_off = (uint32_t)off;
	r->body_len = (uint32_t)len;
	r->cap = (uint32_t)(off + len);
	r->origin = origin;
	r->n_entries = n;
	r->first_seq = first_seq;
	len = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(r->data + off + len, e[i].b, e[i].n);
		len += e[i].n;
	}
	r->result = -1;
	r->store_err = -12345;
	r->version = (struct loom_version){~0ull, 0xffff};
	r->seq = ~0ull;
	return r;
}

/* The digest rows of a store, to compare two of them. */
struct drow {
	char name[LOOM_TABLE_MAX + 1];
	uint64_t n, sum;
};

static unsigned digest_rows(struct store *s, struct drow *out, unsigned cap)
{
	struct store_reader r;
	struct store_digest_iter it;
	unsigned n = 0;

	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_digest_iter_open(&r, &it), 0);
	while (n < cap && store_digest_next(&it, out[n].name,
	                                    sizeof(out[n].name), &out[n].n,
	                                    &out[n].sum) == 0)
		n++;
	store_digest_iter_close(&it);
	store_reader_fini(&r);
	return n;
}

static bool same_digests(struct store *a, struct store *b)
{
	struct drow da[8], db[8];
	unsigned na = digest_rows(a, da, 8), nb = digest_rows(b, db, 8);

	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (strcmp(da[i].name, db[i].name) != 0 || da[i].n != db[i].n ||
		    da[i].sum != db[i].sum)
			return false;
	return true;
}

static uint64_t cursor_of(struct store *s, uint16_t origin)
{
	struct store_reader r;
	uint64_t cur = ~0ull;

	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_cursor(&r, origin, &cur), 0);
	store_reader_fini(&r);
	return cur;
}

static void buckets(void)
{
	CHECK_EQ_U64(storage_batch_bucket(1), 0);
	CHECK_EQ_U64(storage_batch_bucket(2), 1);
	CHECK_EQ_U64(storage_batch_bucket(3), 1);
	CHECK_EQ_U64(storage_batch_bucket(4), 2);
	CHECK_EQ_U64(storage_batch_bucket(7), 2);
	CHECK_EQ_U64(storage_batch_bucket(8), 3);
	CHECK_EQ_U64(storage_batch_bucket(15), 3);
	CHECK_EQ_U64(storage_batch_bucket(16), 4);
	CHECK_EQ_U64(storage_batch_bucket(63), 5);
	CHECK_EQ_U64(storage_batch_bucket(64), 6);
	CHECK_EQ_U64(storage_batch_bucket(127), 6);
	CHECK_EQ_U64(storage_batch_bucket(128), 7);
	CHECK_EQ_U64(storage_batch_bucket(65536), 7);
	CHECK_EQ_U64(storage_batch_bucket(UINT32_MAX), 7);
}

static void mixed_batch(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct storage_counters c = {0};
	struct store *s;
	struct store_reader rd;
	struct store_record rec;
	struct write_req *r[5];
	uint64_t cur;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 16u << 20, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &rd), 0);

	/* nothing to do: no txn, no counters */
	CHECK_EQ_U64(storage_apply_batch(s, r, 0, &c, fake_now_ns), 0);
	CHECK_EQ_U64(c.entries, 0);
	CHECK_EQ_U64(c.commits, 0);

	r[0] = mk_req(WRITE_POST, "users", "a", "{\"v\":1}");
	r[1] = mk_req(WRITE_POST, "users", "a", "{\"v\":2}"); /* same batch */
	r[2] = mk_req(WRITE_PUT, "users", "b", "{\"b\":1}");
	r[3] = mk_req(WRITE_DELETE, "users", "c", NULL);      /* never written */
	r[4] = mk_req(WRITE_DELETE, "users", "a", NULL);
	fake_ns = 0;
	CHECK_EQ_U64(storage_apply_batch(s, r, 5, &c, fake_now_ns), 0);

	CHECK_EQ_U64(r[0]->result, WRITE_OK);
	CHECK_EQ_U64(r[1]->result, WRITE_EXISTS);
	CHECK_EQ_U64(r[2]->result, WRITE_OK);
	CHECK_EQ_U64(r[3]->result, WRITE_NOT_FOUND);
	CHECK_EQ_U64(r[4]->result, WRITE_OK);
	CHECK_EQ_U64(r[0]->store_err, 0);
	CHECK_EQ_U64(r[1]->store_err, EEXIST);
	CHECK_EQ_U64(r[2]->store_err, 0);
	CHECK_EQ_U64(r[3]->store_err, ENOENT);
	CHECK_EQ_U64(r[4]->store_err, 0);
	/* the successful ones: versions strictly increasing in array order,
	 * consecutive own seqs from 1 */
	CHECK(loom_version_cmp(r[2]->version, r[0]->version) > 0);
	CHECK(loom_version_cmp(r[4]->version, r[2]->version) > 0);
	CHECK_EQ_U64(r[0]->version.origin, 1);
	CHECK_EQ_U64(r[0]->version.hlc, hlc_pack(clk.ms, 0));
	CHECK_EQ_U64(r[0]->seq, 1);
	CHECK_EQ_U64(r[2]->seq, 2);
	CHECK_EQ_U64(r[4]->seq, 3);
	/* the refused ones carry no version or seq */
	CHECK_EQ_U64(r[1]->seq, 0);
	CHECK_EQ_U64(r[1]->version.hlc, 0);
	CHECK_EQ_U64(r[3]->seq, 0);
	CHECK_EQ_U64(r[3]->version.hlc, 0);

	/* committed: a reader sees b, a tombstone for a, nothing for c */
	CHECK_EQ_U64(store_read_begin(&rd), 0);
	CHECK_EQ_U64(store_get(&rd, "users", "b", 1, &rec), 0);
	CHECK(!rec.tombstone);
	CHECK(body_is(&rec, "{\"b\":1}"));
	CHECK(version_eq(rec.version, r[2]->version));
	CHECK_EQ_U64(rec.seq, 2);
	CHECK_EQ_U64(store_get(&rd, "users", "a", 1, &rec), 0);
	CHECK(rec.tombstone);
	CHECK(version_eq(rec.version, r[4]->version));
	CHECK_EQ_U64(rec.seq, 3);
	CHECK_EQ_U64(store_get(&rd, "users", "c", 1, &rec), ENOENT);
	CHECK_EQ_U64(store_cursor(&rd, 1, &cur), 0);
	CHECK_EQ_U64(cur, 3);
	store_read_end(&rd);

	CHECK_EQ_U64(c.commits, 1);
	CHECK_EQ_U64(c.entries, 5);
	CHECK_EQ_U64(c.posts, 1);
	CHECK_EQ_U64(c.puts, 1);
	CHECK_EQ_U64(c.deletes, 1);
	CHECK_EQ_U64(c.exists, 1);
	CHECK_EQ_U64(c.not_found, 1);
	CHECK_EQ_U64(c.invalid, 0);
	CHECK_EQ_U64(c.full, 0);
	CHECK_EQ_U64(c.failed, 0);
	CHECK_EQ_U64(c.txn_errors, 0);
	for (unsigned b = 0; b < STORAGE_BATCH_HIST_BUCKETS; b++)
		CHECK_EQ_U64(c.batch_hist[b], b == 2); /* 5: the 4-7 bucket */
	CHECK_EQ_U64(c.commit_ns_total, 1000);
	CHECK_EQ_U64(c.commit_ns_max, 1000);
	check_invariant(&c);
	free_reqs(r, 5);

	/* Refusals of the arguments: each is WRITE_INVALID and the rest of
	 * the batch still commits. */
	enum { NQ = 9, NBAD = 7 };
	struct write_req *q[NQ];
	q[0] = mk_req(WRITE_PUT, "bad-table", "k", "{}");  /* table chars */
	q[1] = mk_req(9, "users", "k", "{}");              /* unknown op */
	q[2] = mk_req(WRITE_PUT, "users", "", "{}");       /* empty key */
	q[3] = mk_req(WRITE_PUT, "users", "k", "{}");
	q[3]->body_len = 1000;                             /* beyond cap */
	q[4] = mk_req(WRITE_PUT, "users", "k", "{}");
	q[4]->data[2] = '\0';              /* "us\0rs": the store would see
	                                      table "us" */
	q[5] = mk_req(WRITE_PUT, "users", "k", "{}");
	q[5]->body_off = 6;                /* body over the key */
	q[6] = mk_req(WRITE_POST, "users", "k", "{}");
	q[6]->body_off = UINT32_MAX;       /* offset beyond cap */
	q[7] = mk_req(WRITE_PUT, "users", "d", "{\"d\":1}");
	q[8] = mk_req(WRITE_POST, "users", "a", "{\"again\":1}"); /* over a
	                                                      tombstone */
	CHECK_EQ_U64(storage_apply_batch(s, q, NQ, &c, NULL), 0);
	for (unsigned i = 0; i < NBAD; i++) {
		CHECK_EQ_U64(q[i]->result, WRITE_INVALID);
		CHECK_EQ_U64(q[i]->store_err, EINVAL);
		CHECK_EQ_U64(q[i]->seq, 0);
	}
	CHECK_EQ_U64(q[7]->result, WRITE_OK);
	CHECK_EQ_U64(q[7]->seq, 4);
	CHECK_EQ_U64(q[8]->result, WRITE_OK);
	CHECK_EQ_U64(q[8]->seq, 5);
	CHECK(loom_version_cmp(q[8]->version, q[7]->version) > 0);
	CHECK_EQ_U64(store_read_begin(&rd), 0);
	CHECK_EQ_U64(store_get(&rd, "us", "k", 1, &rec), ENOENT);
	CHECK_EQ_U64(store_get(&rd, "users", "k", 1, &rec), ENOENT);
	CHECK_EQ_U64(store_get(&rd, "users", "a", 1, &rec), 0);
	CHECK(!rec.tombstone);
	CHECK(body_is(&rec, "{\"again\":1}"));
	store_read_end(&rd);
	CHECK_EQ_U64(c.commits, 2);
	CHECK_EQ_U64(c.entries, 5 + NQ);
	CHECK_EQ_U64(c.invalid, NBAD);
	CHECK_EQ_U64(c.puts, 2);
	CHECK_EQ_U64(c.posts, 2);
	CHECK_EQ_U64(c.batch_hist[2], 1);
	CHECK_EQ_U64(c.batch_hist[3], 1);  /* 9: the 8-15 bucket */
	CHECK_EQ_U64(c.commit_ns_total, 1000); /* untimed batch */
	check_invariant(&c);
	free_reqs(q, NQ);

	/* A single request and a pair land in the first two buckets. A
	 * DELETE's body fields are not read, whatever they say. */
	q[0] = mk_req(WRITE_DELETE, "users", "d", NULL);
	q[0]->body_off = 0;
	q[0]->body_len = 99;
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 6);
	free_reqs(q, 1);
	q[0] = mk_req(WRITE_DELETE, "users", "d", NULL); /* already deleted */
	q[1] = mk_req(WRITE_PUT, "users", "d", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 2, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_NOT_FOUND);
	CHECK_EQ_U64(q[1]->result, WRITE_OK);
	CHECK_EQ_U64(q[1]->seq, 7);
	free_reqs(q, 2);
	CHECK_EQ_U64(c.batch_hist[0], 1);
	CHECK_EQ_U64(c.batch_hist[1], 1);
	CHECK_EQ_U64(c.commits, 4);
	check_invariant(&c);

	store_reader_fini(&rd);
	store_close(s);
out:
	remove_dir(dir);
}

/* The whole batch fails when one of its writes fills the map: every
 * request (the refusals too) says WRITE_FULL, nothing is visible, the
 * seqs it used are not consumed, and the store takes the next batch. */
static void map_full(void)
{
	enum { N = 8, BIG = 200 * 1024 };
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct storage_counters c = {0};
	struct store *s;
	struct store_reader rd;
	struct store_record rec;
	struct write_req *r[N];
	char *body = malloc(BIG);
	uint64_t cur;

	CHECK(body != NULL);
	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1u << 20, &clk);
	if (s == NULL || body == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &rd), 0);
	memset(body, 'x', BIG);
	body[0] = '"';
	body[BIG - 1] = '"';

	/* one committed record, so the big batch can hold a refusal */
	r[0] = mk_req(WRITE_POST, "t", "exists", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, r, 1, &c, NULL), 0);
	CHECK_EQ_U64(r[0]->result, WRITE_OK);
	free_reqs(r, 1);

	r[0] = mk_req(WRITE_POST, "t", "exists", "{}");  /* would be 409 */
	r[1] = mk_req(WRITE_DELETE, "t", "absent", NULL); /* would be 404 */
	r[2] = mk_req(WRITE_PUT, "t", "small", "{}");     /* would be OK */
	for (unsigned i = 3; i < N; i++) {
		char key[16];
		snprintf(key, sizeof key, "big%u", i);
		r[i] = mk_req_n(WRITE_PUT, "t", key, body, BIG);
	}
	CHECK_EQ_U64((uint64_t)(int64_t)storage_apply_batch(s, r, N, &c,
	                                                    fake_now_ns),
	             (uint64_t)(int64_t)MDB_MAP_FULL);
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ_U64(r[i]->result, WRITE_FULL);
		CHECK_EQ_U64((uint64_t)(int64_t)r[i]->store_err,
		             (uint64_t)(int64_t)MDB_MAP_FULL);
		CHECK_EQ_U64(r[i]->seq, 0);
		CHECK_EQ_U64(r[i]->version.hlc, 0);
	}
	CHECK_EQ_U64(store_read_begin(&rd), 0);
	CHECK_EQ_U64(store_get(&rd, "t", "small", 5, &rec), ENOENT);
	CHECK_EQ_U64(store_get(&rd, "t", "big3", 4, &rec), ENOENT);
	CHECK_EQ_U64(store_get(&rd, "t", "exists", 6, &rec), 0);
	CHECK(!rec.tombstone);
	CHECK_EQ_U64(store_cursor(&rd, 1, &cur), 0);
	CHECK_EQ_U64(cur, 1);
	store_read_end(&rd);
	CHECK_EQ_U64(c.commits, 1);
	CHECK_EQ_U64(c.entries, 1 + N);
	CHECK_EQ_U64(c.full, N);
	CHECK_EQ_U64(c.failed, 0);
	CHECK_EQ_U64(c.txn_errors, 1);
	CHECK_EQ_U64(c.exists, 0);    /* the aborted batch's refusals */
	CHECK_EQ_U64(c.not_found, 0); /* are not counted as such */
	CHECK_EQ_U64(c.puts, 0);
	CHECK_EQ_U64(c.posts, 1);
	CHECK_EQ_U64(c.batch_hist[0], 1);
	CHECK_EQ_U64(c.batch_hist[3], 1); /* 8: the 8-15 bucket */
	CHECK_EQ_U64(c.commit_ns_total, 0); /* only committed batches */
	check_invariant(&c);
	free_reqs(r, N);

	/* the store still takes a small batch, with the next seq */
	r[0] = mk_req(WRITE_PUT, "t", "after", "{\"ok\":true}");
	r[1] = mk_req(WRITE_POST, "t", "exists", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, r, 2, &c, NULL), 0);
	CHECK_EQ_U64(r[0]->result, WRITE_OK);
	CHECK_EQ_U64(r[0]->seq, 2);
	CHECK_EQ_U64(r[1]->result, WRITE_EXISTS);
	CHECK_EQ_U64(store_read_begin(&rd), 0);
	CHECK_EQ_U64(store_get(&rd, "t", "after", 5, &rec), 0);
	CHECK(body_is(&rec, "{\"ok\":true}"));
	CHECK_EQ_U64(rec.seq, 2);
	store_read_end(&rd);
	CHECK_EQ_U64(c.commits, 2);
	check_invariant(&c);
	free_reqs(r, 2);

	store_reader_fini(&rd);
	store_close(s);
out:
	free(body);
	remove_dir(dir);
}

/* A batch whose txn cannot begin (another write txn is open) fails as a
 * whole with WRITE_FAILED and the begin error. */
static void begin_fails(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct storage_counters c = {0};
	struct store *s;
	struct store_txn *t;
	struct write_req *r[2];

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 16u << 20, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	r[0] = mk_req(WRITE_PUT, "t", "k", "{}");
	r[1] = mk_req(WRITE_DELETE, "t", "nope", NULL);
	CHECK_EQ_U64(storage_apply_batch(s, r, 2, &c, NULL), EBUSY);
	for (unsigned i = 0; i < 2; i++) {
		CHECK_EQ_U64(r[i]->result, WRITE_FAILED);
		CHECK_EQ_U64(r[i]->store_err, EBUSY);
		CHECK_EQ_U64(r[i]->seq, 0);
	}
	CHECK_EQ_U64(c.failed, 2);
	CHECK_EQ_U64(c.txn_errors, 1);
	CHECK_EQ_U64(c.commits, 0);
	check_invariant(&c);
	store_txn_abort(t);
	/* with the other txn gone the same requests go through */
	CHECK_EQ_U64(storage_apply_batch(s, r, 2, &c, NULL), 0);
	CHECK_EQ_U64(r[0]->result, WRITE_OK);
	CHECK_EQ_U64(r[0]->store_err, 0);
	CHECK_EQ_U64(r[0]->seq, 1);
	CHECK_EQ_U64(r[1]->result, WRITE_NOT_FOUND);
	free_reqs(r, 2);
	store_close(s);
out:
	remove_dir(dir);
}

static struct store *open_node_id(const char *dir, uint16_t node,
                                  struct fake_clock *clk)
{
	struct store_config cfg = {
		.path = dir,
		.map_size = 16u << 20,
		.node_id = node,
		.sync = STORE_SYNC_COMMIT,
		.clock_ms = fake_now,
		.clock_ctx = clk,
	};
	struct store *s = NULL;

	CHECK_EQ_U64(store_open(&cfg, &s), 0);
	return s;
}

static bool record_body_is(struct store *s, const char *table,
                           const char *key, const char *body)
{
	struct store_reader r;
	struct store_record rec;
	bool ok;

	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	ok = store_get(&r, table, key, strlen(key), &rec) == 0 &&
	     (body ? !rec.tombstone && body_is(&rec, body) : rec.tombstone);
	store_reader_fini(&r);
	return ok;
}

/* WRITE_REMOTE: in order, duplicate, overlapping, gap, malformed (nothing
 * applied), LWW losers; counters; digests equal to a store fed the same
 * entries directly. */
static void remote_requests(void)
{
	char dir[64], dref[64];
	struct fake_clock clk = {1700000000000ULL}, cref = clk;
	struct storage_counters c = {0};
	struct store *s = NULL, *ref = NULL;
	struct write_req *q[12];
	struct rentry e[10], bad[2];
	uint64_t H = hlc_pack(clk.ms + 5000, 0);

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	CHECK(make_dir(dref, sizeof(dref)) != NULL);
	s = open_node_id(dir, 1, &clk);
	ref = open_node_id(dref, 9, &cref);
	if (s == NULL || ref == NULL)
		goto out;

	/* origin 2's seqs 1..9 are e[1..9] */
	e[1] = mk_entry(LOOM_OP_PUT, "t", "a", "{\"a\":1}", H + 1, 2);
	e[2] = mk_entry(LOOM_OP_PUT, "t", "b", "{\"b\":1}", H + 2, 2);
	e[3] = mk_entry(LOOM_OP_PUT, "t", "a", "{\"a\":2}", H + 3, 2);
	e[4] = mk_entry(LOOM_OP_DELETE, "t", "b", NULL, H + 4, 2);
	e[5] = mk_entry(LOOM_OP_PUT, "u", "c", "{\"c\":1}", H + 5, 2);
	e[6] = mk_entry(LOOM_OP_PUT, "t", "a", "{\"a\":3}", H + 6, 2);
	e[7] = mk_entry(LOOM_OP_PUT, "t", "z", "{\"z\":1}", H + 7, 2);
	e[8] = mk_entry(LOOM_OP_PUT, "t", "b", "{\"b\":2}", H + 8, 2);
	e[9] = mk_entry(LOOM_OP_PUT, "t", "late", "{\"old\":1}", H + 2, 2);

	/* 1. in order: 1..3 */
	q[0] = mk_remote(2, 1, &e[1], 3);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->store_err, 0);
	CHECK_EQ_U64(q[0]->seq, 3);
	CHECK_EQ_U64(q[0]->version.hlc, 0);
	CHECK_EQ_U64(c.remote_entries_applied, 3);
	CHECK(record_body_is(s, "t", "a", "{\"a\":2}"));
	CHECK_EQ_U64(cursor_of(s, 2), 3);
	free_reqs(q, 1);

	/* 2. the same batch again: all duplicates, OK, cursor unchanged */
	q[0] = mk_remote(2, 1, &e[1], 3);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 3);
	CHECK_EQ_U64(c.remote_duplicates, 3);
	CHECK_EQ_U64(c.remote_entries_applied, 3);
	free_reqs(q, 1);

	/* 3. overlapping: 2..5, two duplicates then two new */
	q[0] = mk_remote(2, 2, &e[2], 4);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 5);
	CHECK_EQ_U64(c.remote_duplicates, 5);
	CHECK_EQ_U64(c.remote_entries_applied, 5);
	CHECK(record_body_is(s, "t", "b", NULL)); /* the delete, seq 4 */
	free_reqs(q, 1);

	/* 4. a gap (8 after cursor 5) between two local writes: the gap is
	 * that request's answer only */
	q[0] = mk_req(WRITE_POST, "t", "l1", "{}");
	q[1] = mk_remote(2, 8, &e[8], 1);
	q[2] = mk_req(WRITE_POST, "t", "l2", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 3, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[1]->result, WRITE_GAP);
	CHECK_EQ_U64(q[1]->store_err, STORE_EGAP);
	CHECK_EQ_U64(q[1]->seq, 5);
	CHECK_EQ_U64(q[2]->result, WRITE_OK);
	CHECK_EQ_U64(q[2]->seq, 2);
	CHECK_EQ_U64(c.remote_gaps, 1);
	CHECK(record_body_is(s, "t", "b", NULL)); /* 8 not applied */
	CHECK_EQ_U64(cursor_of(s, 2), 5);
	free_reqs(q, 3);

	/* 5. malformed requests, each refused whole, in one group commit
	 * with a good one (6..7) that goes through */
	unsigned nq = 0;
	q[nq] = mk_remote(2, 6, &e[6], 2); /* says 3, holds 2 */
	q[nq++]->n_entries = 3;
	q[nq] = mk_remote(2, 6, &e[6], 2); /* says 1, holds 2 */
	q[nq++]->n_entries = 1;
	bad[0] = e[6];
	bad[1] = mk_entry(LOOM_OP_PUT, "t", "x", "{}", H + 7, 3);
	q[nq++] = mk_remote(2, 6, bad, 2); /* 2nd entry of origin 3: the
	                                      1st (seq 6) would apply */
	bad[1] = e[7];
	bad[1].b[13] = 1; /* flags must be 0 */
	q[nq++] = mk_remote(2, 6, bad, 2);
	bad[0] = mk_entry(LOOM_OP_PUT, "t", "self", "{}", H + 6, 1);
	q[nq++] = mk_remote(1, 1, bad, 1); /* our own origin */
	q[nq++] = mk_remote(2, 0, &e[6], 1); /* seq 0 */
	q[nq] = mk_remote(2, 6, &e[6], 1);
	q[nq++]->body_len += 1; /* beyond cap */
	q[nq++] = mk_remote(2, 6, &e[6], 0); /* no entries */
	q[nq++] = mk_remote(2, UINT64_MAX, &e[6], 2); /* seq overflow */
	const unsigned n_bad = nq;
	q[nq++] = mk_remote(2, 6, &e[6], 2);
	CHECK_EQ_U64(storage_apply_batch(s, q, nq, &c, NULL), 0);
	for (unsigned i = 0; i < n_bad; i++) {
		CHECK_EQ_U64(q[i]->result, WRITE_INVALID);
		CHECK_EQ_U64(q[i]->store_err, EINVAL);
		CHECK_EQ_U64(q[i]->seq, 0);
	}
	CHECK_EQ_U64(q[n_bad]->result, WRITE_OK);
	CHECK_EQ_U64(q[n_bad]->seq, 7);
	CHECK_EQ_U64(c.invalid, n_bad);
	CHECK_EQ_U64(c.remote_entries_applied, 7);
	CHECK(record_body_is(s, "t", "a", "{\"a\":3}"));
	CHECK(record_body_is(s, "t", "z", "{\"z\":1}"));
	free_reqs(q, nq);
	/* nothing of the refused ones: no t/x, no t/self, no origin 3 */
	{
		struct store_reader r;
		struct store_record rec;
		uint64_t cur;
		CHECK_EQ_U64(store_reader_init(s, &r), 0);
		CHECK_EQ_U64(store_read_begin(&r), 0);
		CHECK_EQ_U64(store_get(&r, "t", "x", 1, &rec), ENOENT);
		CHECK_EQ_U64(store_get(&r, "t", "self", 4, &rec), ENOENT);
		CHECK_EQ_U64(store_cursor(&r, 3, &cur), 0);
		CHECK_EQ_U64(cur, 0);
		store_reader_fini(&r);
	}

	/* 6. a local write after the remote ones is newer than all it saw
	 * (the HLC observed them); then two requests of origin 2 in one
	 * group commit, the second an older version of that key: LWW lost,
	 * still logged, cursor moved */
	q[0] = mk_req(WRITE_PUT, "t", "late", "{\"local\":1}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK(q[0]->version.hlc > H + 7);
	free_reqs(q, 1);
	q[0] = mk_remote(2, 8, &e[8], 1);
	q[1] = mk_remote(2, 9, &e[9], 1);
	CHECK_EQ_U64(storage_apply_batch(s, q, 2, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 8);
	CHECK_EQ_U64(q[1]->result, WRITE_OK);
	CHECK_EQ_U64(q[1]->seq, 9);
	CHECK_EQ_U64(c.remote_superseded, 1);
	CHECK(record_body_is(s, "t", "late", "{\"local\":1}"));
	CHECK(record_body_is(s, "t", "b", "{\"b\":2}"));
	free_reqs(q, 2);

	CHECK_EQ_U64(c.remote_batches, 6);
	CHECK_EQ_U64(c.remote_gaps, 1);
	CHECK_EQ_U64(c.remote_entries_applied, 9);
	CHECK_EQ_U64(c.remote_duplicates, 5);
	CHECK_EQ_U64(c.remote_superseded, 1);
	check_invariant(&c);

	/* 7. a batch that cannot begin: the remote request fails with it,
	 * nothing moves and no remote counter counts it */
	{
		struct store_txn *t;
		struct storage_counters before = c;
		CHECK_EQ_U64(store_txn_begin(s, &t), 0);
		q[0] = mk_remote(2, 10, &e[1], 1);
		CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), EBUSY);
		CHECK_EQ_U64(q[0]->result, WRITE_FAILED);
		CHECK_EQ_U64(q[0]->seq, 0);
		store_txn_abort(t);
		free_reqs(q, 1);
		CHECK_EQ_U64(c.remote_batches, before.remote_batches);
		CHECK_EQ_U64(c.remote_entries_applied,
		             before.remote_entries_applied);
		CHECK_EQ_U64(c.failed, before.failed + 1);
		CHECK_EQ_U64(cursor_of(s, 2), 9);
		check_invariant(&c);
	}

	/* 8. the same writes reach ref another way - origin 2's entries
	 * directly, newest first attempted (gaps), then in order, and s's own
	 * log after them - and the digests agree */
	{
		struct store_txn *t;
		struct store_reader r;
		struct store_log_iter it;
		enum store_apply_result res;
		const void *ent;
		size_t len;
		uint64_t seq;

		CHECK(!same_digests(s, ref));
		CHECK_EQ_U64(store_txn_begin(ref, &t), 0);
		CHECK_EQ_U64(store_reader_init(s, &r), 0);
		CHECK_EQ_U64(store_read_begin(&r), 0);
		CHECK_EQ_U64(store_log_iter_open(&r, 1, 1, &it), 0);
		while (store_log_iter_next(&it, &seq, &ent, &len) == 0)
			CHECK_EQ_U64(store_apply_remote(t, 1, seq, ent, len,
			                                &res), 0);
		store_log_iter_close(&it);
		store_reader_fini(&r);
		for (unsigned i = 9; i >= 2; i--)
			CHECK_EQ_U64(store_apply_remote(t, 2, i, e[i].b,
			                                e[i].n, &res),
			             STORE_EGAP);
		for (unsigned i = 1; i <= 9; i++)
			CHECK_EQ_U64(store_apply_remote(t, 2, i, e[i].b,
			                                e[i].n, &res), 0);
		CHECK_EQ_U64(store_txn_commit(t), 0);
		CHECK(same_digests(s, ref));
	}
out:
	store_close(s);
	store_close(ref);
	remove_dir(dir);
	remove_dir(dref);
}

int main(void)
{
	buckets();
	mixed_batch();
	map_full();
	begin_fails();
	remote_requests();
	CHECK_DONE();
}

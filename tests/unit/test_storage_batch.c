/* Group commit (storage/batch.h) on a real LMDB store: per-request results
 * inside one txn, versions and seqs in order, counters, refusals that do
 * not cost the batch, and a batch that overflows the map (or cannot begin)
 * failing as a whole with nothing visible; peers' WRITE_REMOTE, the merge
 * copy (WRITE_COPY with the storage/copy_record.h codec, WRITE_COPY_END)
 * and log retention (storage_prune_step). Every environment lives in a
 * mkdtemp directory under /tmp that the test removes itself. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "storage/batch.h"
#include "storage/be.h"
#include "storage/copy_record.h"

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
	                             c->copy_batches + c->copy_ends +
	                             c->exists + c->not_found + c->invalid +
	                             c->full + c->failed);
	CHECK(c->remote_superseded <= c->remote_entries_applied);
	CHECK(c->copy_superseded <= c->copy_records);
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

/* ---- merge copy ---------------------------------------------------------- */

/* One encoded copied record (storage/copy_record.h). */
struct crec {
	uint8_t b[256];
	size_t n;
};

static struct crec mk_crec(const char *table, const char *key,
                           const char *body, uint64_t hlc, uint16_t origin,
                           bool tombstone)
{
	struct crec c;
	struct copy_record r = {
		.table = table,
		.table_len = (uint8_t)strlen(table),
		.key = (const uint8_t *)key,
		.key_len = (uint16_t)strlen(key),
		.body = (const uint8_t *)body,
		.body_len = body ? (uint32_t)strlen(body) : 0,
		.version = {hlc, origin},
		.tombstone = tombstone,
	};

	c.n = 0;
	CHECK_EQ_U64(copy_record_encode(&r, c.b, sizeof(c.b), &c.n), 0);
	return c;
}

/* Offsets inside an encoded record of table t and key k. */
static size_t crec_key_len_off(const char *t)
{
	return 1 + strlen(t);
}

static size_t crec_origin_off(const char *t, const char *k)
{
	return 1 + strlen(t) + 2 + strlen(k) + 8;
}

/* A repl-lcore request (WRITE_COPY, WRITE_COPY_END): len payload bytes at
 * body_off, after an 8-byte gap; storage fields junk. */
static struct write_req *mk_payload(uint8_t op, uint16_t origin, uint32_t n,
                                    const void *p, size_t len)
{
	size_t off = 8;
	struct write_req *r = malloc(sizeof(*r) + off + len);

	if (r == NULL)
		abort();
	memset(r, 0, sizeof(*r));
	memset(r->data, 0, off);
	r->op = op;
	r->body_off = (uint32_t)off;
	r->body_len = (uint32_t)len;
	r->cap = (uint32_t)(off + len);
	r->origin = origin;
	r->n_entries = n;
	if (len)
		memcpy(r->data + off, p, len);
	r->result = -1;
	r->store_err = -12345;
	r->version = (struct loom_version){~0ull, 0xffff};
	r->seq = ~0ull;
	return r;
}

static struct write_req *mk_copy(uint16_t origin, const struct crec *c,
                                 unsigned n)
{
	uint8_t buf[4096];
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		if (len + c[i].n > sizeof(buf))
			abort();
		memcpy(buf + len, c[i].b, c[i].n);
		len += c[i].n;
	}
	return mk_payload(WRITE_COPY, origin, n, buf, len);
}

static struct write_req *mk_copy_end(uint16_t origin, const uint16_t *o,
                                     const uint64_t *seq, unsigned n)
{
	uint8_t buf[10 * 8];

	if (n > 8)
		abort();
	for (unsigned i = 0; i < n; i++) {
		put_be(buf + 10 * i, o[i], 2);
		put_be(buf + 10 * i + 2, seq[i], 8);
	}
	return mk_payload(WRITE_COPY_END, origin, n, buf, 10 * n);
}

static struct store_record get_rec(struct store *s, const char *table,
                                   const char *key, int *rc)
{
	struct store_reader r;
	struct store_record rec;

	memset(&rec, 0, sizeof(rec));
	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	*rc = store_get(&r, table, key, strlen(key), &rec);
	rec.body = NULL; /* not valid past the read txn */
	store_reader_fini(&r);
	return rec;
}

static uint64_t floor_of(struct store *s, uint16_t origin)
{
	struct store_reader r;
	uint64_t f = ~0ull;

	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_log_floor(&r, origin, &f), 0);
	store_reader_fini(&r);
	return f;
}

/* The first seq in log.<origin>, 0 if the log is empty or absent. */
static uint64_t oldest_of(struct store *s, uint16_t origin)
{
	struct store_reader r;
	uint64_t seq = 0;
	int rc;

	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	rc = store_log_oldest(&r, origin, &seq);
	CHECK(rc == 0 || rc == ENOENT);
	store_reader_fini(&r);
	return rc == 0 ? seq : 0;
}

/* The codec alone: round trip, every truncation ENODATA, bad fields
 * EBADMSG, invalid records not encoded. */
static void copy_record_codec(void)
{
	struct crec c = mk_crec("tab_1", "key", "{\"x\":1}",
	                        hlc_pack(1700000000000ull, 7), 513, false);
	struct crec t = mk_crec("t", "k", NULL, 42, 2, true);
	struct copy_record r, bad;
	size_t used = 0;
	uint8_t b[256];

	CHECK_EQ_U64(c.n, COPY_RECORD_FIXED + 5 + 3 + 7);
	/* the layout, byte by byte where it matters */
	CHECK_EQ_U64(c.b[0], 5);
	CHECK(memcmp(c.b + 1, "tab_1", 5) == 0);
	CHECK_EQ_U64(get_be(c.b + 6, 2), 3);
	CHECK(memcmp(c.b + 8, "key", 3) == 0);
	CHECK_EQ_U64(get_be(c.b + 11, 8), hlc_pack(1700000000000ull, 7));
	CHECK_EQ_U64(get_be(c.b + 19, 2), 513);
	CHECK_EQ_U64(c.b[21], 0);
	CHECK_EQ_U64(get_be(c.b + 22, 4), 7);
	CHECK(memcmp(c.b + 26, "{\"x\":1}", 7) == 0);
	CHECK_EQ_U64(copy_record_decode(c.b, c.n, &r, &used), 0);
	CHECK_EQ_U64(used, c.n);
	CHECK(r.table == (const char *)c.b + 1 && r.table_len == 5);
	CHECK(r.key == c.b + 8 && r.key_len == 3);
	CHECK(r.body == c.b + 26 && r.body_len == 7);
	CHECK_EQ_U64(r.version.hlc, hlc_pack(1700000000000ull, 7));
	CHECK_EQ_U64(r.version.origin, 513);
	CHECK(!r.tombstone);
	for (size_t n = 0; n < c.n; n++)
		CHECK_EQ_U64(copy_record_decode(c.b, n, &r, &used), ENODATA);
	/* trailing bytes are the next record's */
	memcpy(b, c.b, c.n);
	memcpy(b + c.n, t.b, t.n);
	CHECK_EQ_U64(copy_record_decode(b, c.n + t.n, &r, &used), 0);
	CHECK_EQ_U64(used, c.n);
	CHECK_EQ_U64(copy_record_decode(b + used, t.n, &r, &used), 0);
	CHECK(r.tombstone && r.body == NULL && r.body_len == 0);
	CHECK_EQ_U64(t.b[t.n - 5], COPY_RECORD_TOMBSTONE);

	/* bad fields */
	struct {
		size_t off;
		uint8_t v;
	} patch[] = {
		{0, 0},          /* table_len 0 */
		{0, 64},         /* table_len 64 */
		{1, '-'},        /* table character */
		{6, 0}, {7, 0},  /* key_len 0 */
		{6, 1}, {7, 0},  /* key_len 256 */
		{19, 0}, {20, 0},/* origin 0 */
		{21, 2},         /* unknown flag */
		{21, 1},         /* tombstone with a body */
		{22, 1},         /* body_len 16 MiB + 7 */
	};
	for (unsigned i = 0; i < sizeof(patch) / sizeof(patch[0]); i++) {
		unsigned k = i;

		memcpy(b, c.b, c.n);
		b[patch[i].off] = patch[i].v;
		/* the two-byte patches */
		if (i == 3 || i == 5 || i == 7) {
			b[patch[i + 1].off] = patch[i + 1].v;
			i++;
		}
		CHECK_EQ_U64(copy_record_decode(b, c.n, &r, &used), EBADMSG);
		if (copy_record_decode(b, c.n, &r, &used) != EBADMSG)
			fprintf(stderr, "patch %u\n", k);
	}
	/* not encoded: invalid records */
	copy_record_decode(c.b, c.n, &r, &used);
	bad = r;
	bad.table_len = 0;
	CHECK_EQ_U64(copy_record_encode(&bad, b, sizeof(b), &used), EINVAL);
	bad = r;
	bad.key_len = 256;
	CHECK_EQ_U64(copy_record_encode(&bad, b, sizeof(b), &used), EINVAL);
	bad = r;
	bad.version.origin = 0;
	CHECK_EQ_U64(copy_record_encode(&bad, b, sizeof(b), &used), EINVAL);
	bad = r;
	bad.tombstone = true;
	CHECK_EQ_U64(copy_record_encode(&bad, b, sizeof(b), &used), EINVAL);
	CHECK_EQ_U64(copy_record_encode(&r, b, c.n - 1, &used), ENOSPC);
}

/* WRITE_COPY: LWW both ways (tombstones too), no log, no cursor, the HLC
 * observes; malformed requests refused whole. */
static void copy_requests(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	const uint64_t T = clk.ms;
	struct storage_counters c = {0};
	struct store *s;
	struct write_req *q[24];
	struct crec cr[8];
	struct loom_version va, vd;
	struct store_record rec;
	int rc;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node_id(dir, 1, &clk);
	if (s == NULL)
		goto out;

	/* ours, at T: t/a, t/b, t/e live; t/d a tombstone */
	q[0] = mk_req(WRITE_PUT, "t", "a", "{\"a\":\"ours\"}");
	q[1] = mk_req(WRITE_PUT, "t", "b", "{\"b\":\"ours\"}");
	q[2] = mk_req(WRITE_PUT, "t", "d", "{}");
	q[3] = mk_req(WRITE_DELETE, "t", "d", NULL);
	q[4] = mk_req(WRITE_PUT, "t", "e", "{\"e\":\"ours\"}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 5, &c, NULL), 0);
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ_U64(q[i]->result, WRITE_OK);
	va = q[0]->version;
	vd = q[3]->version;
	free_reqs(q, 5);

	cr[0] = mk_crec("t", "a", "{\"a\":\"old\"}", hlc_pack(T - 1000, 0), 2,
	                false); /* older: ours stays */
	cr[1] = mk_crec("t", "b", "{\"b\":\"new\"}", hlc_pack(T + 1000, 0), 2,
	                false); /* newer: wins */
	cr[2] = mk_crec("t", "new", "{\"n\":1}", hlc_pack(T - 5000, 0), 3,
	                false); /* absent here: written */
	cr[3] = mk_crec("t", "d", "{\"d\":\"old\"}", hlc_pack(T - 1000, 0), 2,
	                false); /* older than our tombstone: no resurrection */
	cr[4] = mk_crec("t", "e", NULL, hlc_pack(T + 2000, 0), 3,
	                true);  /* newer tombstone: deletes ours */
	cr[5] = mk_crec("t", "gone", NULL, hlc_pack(T - 9000, 0), 2,
	                true);  /* tombstone of a key we never had: kept, so
	                           an older put cannot bring it back */
	cr[6] = mk_crec("t", "a", "{\"a\":\"same\"}", va.hlc, va.origin,
	                false); /* our very version: SAME, ours stays */
	cr[7] = mk_crec("u", "x", "{}", hlc_pack(T + 3000, 0), 2, false);
	q[0] = mk_copy(2, cr, 8);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->store_err, 0);
	CHECK_EQ_U64(q[0]->seq, 0);
	CHECK_EQ_U64(q[0]->version.hlc, 0);
	CHECK_EQ_U64(q[0]->version.origin, 0);
	free_reqs(q, 1);
	CHECK_EQ_U64(c.copy_batches, 1);
	CHECK_EQ_U64(c.copy_records, 8);
	CHECK_EQ_U64(c.copy_superseded, 3); /* cr 0, 3, 6 */

	CHECK(record_body_is(s, "t", "a", "{\"a\":\"ours\"}"));
	rec = get_rec(s, "t", "a", &rc);
	CHECK(rc == 0 && version_eq(rec.version, va) && rec.seq == 1);
	CHECK(record_body_is(s, "t", "b", "{\"b\":\"new\"}"));
	rec = get_rec(s, "t", "b", &rc);
	CHECK(rc == 0 && rec.version.hlc == hlc_pack(T + 1000, 0) &&
	      rec.version.origin == 2 && rec.seq == 0);
	CHECK(record_body_is(s, "t", "new", "{\"n\":1}"));
	CHECK(record_body_is(s, "t", "d", NULL));
	rec = get_rec(s, "t", "d", &rc);
	CHECK(rc == 0 && version_eq(rec.version, vd));
	CHECK(record_body_is(s, "t", "e", NULL));
	rec = get_rec(s, "t", "e", &rc);
	CHECK(rc == 0 && rec.version.hlc == hlc_pack(T + 2000, 0) &&
	      rec.version.origin == 3);
	CHECK(record_body_is(s, "t", "gone", NULL));
	CHECK(record_body_is(s, "u", "x", "{}"));
	/* no log, no cursor: a copy is not a stream of entries */
	CHECK_EQ_U64(cursor_of(s, 2), 0);
	CHECK_EQ_U64(cursor_of(s, 3), 0);
	CHECK_EQ_U64(cursor_of(s, 1), 5);
	CHECK_EQ_U64(oldest_of(s, 2), 0);
	CHECK_EQ_U64(oldest_of(s, 3), 0);
	CHECK_EQ_U64(store_own_seq(s), 5);

	/* The HLC observed the copies: our next write is newer than all,
	 * with the wall clock still at T. Then the other way round: a newer
	 * live record over our tombstone brings the key back, and an older
	 * copy of a copied record loses to it. */
	q[0] = mk_req(WRITE_PUT, "t", "after", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 6);
	CHECK(q[0]->version.hlc > hlc_pack(T + 3000, 0));
	free_reqs(q, 1);
	cr[0] = mk_crec("t", "d", "{\"d\":\"new\"}", hlc_pack(T + 5000, 0), 2,
	                false);
	cr[1] = mk_crec("t", "b", "{\"b\":\"older\"}", hlc_pack(T + 500, 0), 3,
	                false);
	cr[2] = mk_crec("t", "b", "{\"b\":\"tie\"}", hlc_pack(T + 1000, 0), 3,
	                false); /* same hlc, higher origin: wins the tie */
	q[0] = mk_copy(3, cr, 3);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	free_reqs(q, 1);
	CHECK(record_body_is(s, "t", "d", "{\"d\":\"new\"}"));
	CHECK(record_body_is(s, "t", "b", "{\"b\":\"tie\"}"));
	CHECK_EQ_U64(c.copy_records, 11);
	CHECK_EQ_U64(c.copy_superseded, 4);

	/* Malformed requests, each refused whole: the first record of each
	 * (t/m) is valid and must not appear. One good request in the same
	 * group commit goes through. */
	{
		struct crec m[2], ok;
		unsigned nq = 0, n_bad;

		m[0] = mk_crec("t", "m", "{}", hlc_pack(T + 9000, 0), 2, false);
		m[1] = mk_crec("t", "m2", "{\"z\":2}", hlc_pack(T + 9000, 1), 2,
		               false);
		ok = mk_crec("t", "ok", "{}", hlc_pack(T + 9000, 2), 2, false);
		q[nq] = mk_copy(2, m, 2); /* says 3, holds 2 */
		q[nq++]->n_entries = 3;
		q[nq] = mk_copy(2, m, 2); /* says 1, holds 2: trailing bytes */
		q[nq++]->n_entries = 1;
		q[nq] = mk_copy(2, m, 2);
		q[nq]->body_len -= 1;     /* the 2nd record cut short */
		nq++;
		q[nq] = mk_copy(2, m, 2);
		q[nq++]->body_len += 1;   /* beyond cap */
		q[nq++] = mk_copy(2, m, 0); /* no records */
		q[nq++] = mk_copy(1, m, 2); /* from ourselves */
		q[nq++] = mk_copy(0, m, 2); /* from origin 0 */
		{
			/* patches of the 2nd record */
			struct crec p[2];
			size_t ko = crec_key_len_off("t");
			size_t oo = crec_origin_off("t", "m2");

			p[0] = m[0];
			p[1] = m[1];
			p[1].b[oo + 2] = 2; /* unknown flag */
			q[nq++] = mk_copy(2, p, 2);
			p[1] = m[1];
			p[1].b[oo + 2] = 1; /* tombstone with a body */
			q[nq++] = mk_copy(2, p, 2);
			p[1] = m[1];
			p[1].b[oo] = p[1].b[oo + 1] = 0; /* origin 0 */
			q[nq++] = mk_copy(2, p, 2);
			p[1] = m[1];
			p[1].b[1] = '.'; /* table character */
			q[nq++] = mk_copy(2, p, 2);
			p[1] = m[1];
			p[1].b[ko] = p[1].b[ko + 1] = 0; /* key_len 0 */
			q[nq++] = mk_copy(2, p, 2);
			p[1] = m[1];
			p[1].b[0] = 0; /* table_len 0 */
			q[nq++] = mk_copy(2, p, 2);
			p[1] = m[1];
			p[1].b[oo + 3] = 0xff; /* body_len > 16 MiB */
			q[nq++] = mk_copy(2, p, 2);
		}
		n_bad = nq;
		q[nq++] = mk_copy(2, &ok, 1);
		uint64_t inv = c.invalid, recs = c.copy_records;
		CHECK_EQ_U64(storage_apply_batch(s, q, nq, &c, NULL), 0);
		for (unsigned i = 0; i < n_bad; i++) {
			CHECK_EQ_U64(q[i]->result, WRITE_INVALID);
			CHECK_EQ_U64(q[i]->store_err, EINVAL);
			CHECK_EQ_U64(q[i]->seq, 0);
			if (q[i]->result != WRITE_INVALID)
				fprintf(stderr, "malformed copy %u taken\n", i);
		}
		CHECK_EQ_U64(q[n_bad]->result, WRITE_OK);
		CHECK_EQ_U64(c.invalid, inv + n_bad);
		CHECK_EQ_U64(c.copy_records, recs + 1);
		free_reqs(q, nq);
		rec = get_rec(s, "t", "m", &rc);
		CHECK_EQ_U64(rc, ENOENT);
		rec = get_rec(s, "t", "m2", &rc);
		CHECK_EQ_U64(rc, ENOENT);
		CHECK(record_body_is(s, "t", "ok", "{}"));
	}
	CHECK_EQ_U64(c.copy_batches, 3);
	check_invariant(&c);
out:
	store_close(s);
	remove_dir(dir);
}

/* WRITE_COPY_END: cursors raised, never lowered, the log floor follows;
 * the answer is the copying peer's cursor; the stream resumes above it;
 * malformed vectors raise nothing. */
static void copy_end_requests(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	const uint64_t H = hlc_pack(clk.ms, 0);
	struct storage_counters c = {0};
	struct store *s;
	struct write_req *q[12];
	struct rentry e[5];

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node_id(dir, 1, &clk);
	if (s == NULL)
		goto out;
	for (unsigned i = 1; i <= 3; i++) {
		char key[8];
		snprintf(key, sizeof key, "k%u", i);
		e[i] = mk_entry(LOOM_OP_PUT, "t", key, "{}", H + i, 2);
	}
	e[4] = mk_entry(LOOM_OP_PUT, "t", "k51", "{}", H + 51, 2);
	q[0] = mk_remote(2, 1, &e[1], 3);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->seq, 3);
	free_reqs(q, 1);
	CHECK_EQ_U64(floor_of(s, 2), 0);
	CHECK_EQ_U64(oldest_of(s, 2), 1);

	/* the copy's cursor vector, from peer 2 */
	{
		uint16_t o[] = {2, 3};
		uint64_t sq[] = {50, 7};
		q[0] = mk_copy_end(2, o, sq, 2);
	}
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->store_err, 0);
	CHECK_EQ_U64(q[0]->seq, 50);
	CHECK_EQ_U64(q[0]->version.hlc, 0);
	free_reqs(q, 1);
	CHECK_EQ_U64(cursor_of(s, 2), 50);
	CHECK_EQ_U64(cursor_of(s, 3), 7);
	CHECK_EQ_U64(floor_of(s, 2), 50); /* (3, 50] was never logged here */
	CHECK_EQ_U64(floor_of(s, 3), 7);
	CHECK_EQ_U64(oldest_of(s, 2), 1); /* what was logged stays */
	CHECK_EQ_U64(c.copy_ends, 1);

	/* never lowered: 2 stays at 50, 3 goes up to 9 */
	{
		uint16_t o[] = {2, 3};
		uint64_t sq[] = {40, 9};
		q[0] = mk_copy_end(2, o, sq, 2);
	}
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 50);
	free_reqs(q, 1);
	CHECK_EQ_U64(cursor_of(s, 2), 50);
	CHECK_EQ_U64(floor_of(s, 2), 50);
	CHECK_EQ_U64(cursor_of(s, 3), 9);
	CHECK_EQ_U64(floor_of(s, 3), 9);

	/* an empty vector (a peer that holds nothing): OK, the cursor */
	q[0] = mk_copy_end(3, NULL, NULL, 0);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 9);
	free_reqs(q, 1);

	/* our own origin (a node restored from an old backup): the next own
	 * seq follows, so nothing the peers hold is reissued */
	{
		uint16_t o[] = {1};
		uint64_t sq[] = {100};
		q[0] = mk_copy_end(2, o, sq, 1);
	}
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 50);
	free_reqs(q, 1);
	CHECK_EQ_U64(cursor_of(s, 1), 100);
	CHECK_EQ_U64(store_own_seq(s), 100);
	q[0] = mk_req(WRITE_POST, "t", "mine", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 101);
	free_reqs(q, 1);

	/* the stream resumes above the copy: 51 applies, 45 is a duplicate */
	q[0] = mk_remote(2, 51, &e[4], 1);
	q[1] = mk_remote(2, 45, &e[1], 1);
	CHECK_EQ_U64(storage_apply_batch(s, q, 2, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->result, WRITE_OK);
	CHECK_EQ_U64(q[0]->seq, 51);
	CHECK_EQ_U64(q[1]->result, WRITE_OK);
	CHECK_EQ_U64(q[1]->seq, 51);
	free_reqs(q, 2);
	CHECK(record_body_is(s, "t", "k51", "{}"));

	/* malformed: nothing of any of them is raised (origin 4 stays 0,
	 * though each first pair is valid) */
	{
		uint16_t o[] = {4, 0};
		uint64_t sq[] = {5, 9};
		unsigned nq = 0;
		uint64_t inv = c.invalid;

		q[nq] = mk_copy_end(2, o, sq, 1);
		q[nq++]->n_entries = 2;      /* 20 bytes said, 10 held */
		q[nq] = mk_copy_end(2, o, sq, 2);
		q[nq++]->n_entries = 1;      /* trailing pair */
		q[nq++] = mk_copy_end(2, o, sq, 2); /* origin 0 in a pair */
		q[nq++] = mk_copy_end(1, o, sq, 1); /* from ourselves */
		q[nq++] = mk_copy_end(0, o, sq, 1); /* from origin 0 */
		q[nq] = mk_copy_end(2, o, sq, 1);
		q[nq++]->body_len += 10;     /* beyond cap */
		q[nq] = mk_copy_end(2, o, sq, 1);
		q[nq++]->n_entries = 0;      /* 0 pairs, 10 bytes */
		CHECK_EQ_U64(storage_apply_batch(s, q, nq, &c, NULL), 0);
		for (unsigned i = 0; i < nq; i++) {
			CHECK_EQ_U64(q[i]->result, WRITE_INVALID);
			CHECK_EQ_U64(q[i]->store_err, EINVAL);
			CHECK_EQ_U64(q[i]->seq, 0);
		}
		CHECK_EQ_U64(c.invalid, inv + nq);
		free_reqs(q, nq);
		CHECK_EQ_U64(cursor_of(s, 4), 0);
		CHECK_EQ_U64(floor_of(s, 4), 0);
	}
	CHECK_EQ_U64(c.copy_ends, 4);
	check_invariant(&c);
out:
	store_close(s);
	remove_dir(dir);
}

/* The source side of a copy as the session streams it: every record of
 * `from` (store_record_iter, copy_record_from_item, encoded) in WRITE_COPY
 * requests of at most 3 records, applied on `to`. */
static void copy_all(struct store *from, struct store *to, uint16_t peer,
                     struct storage_counters *c)
{
	struct store_reader r;
	struct store_record_iter it;
	struct store_record_item item;
	uint8_t buf[2048];
	size_t len = 0;
	unsigned n = 0;
	int rc;

	CHECK_EQ_U64(store_reader_init(from, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_record_iter_open(&r, NULL, NULL, 0, &it), 0);
	do {
		rc = store_record_iter_next(&it, &item);
		CHECK(rc == 0 || rc == ENOENT);
		if (rc == 0) {
			struct copy_record cr;
			size_t used = 0;

			CHECK_EQ_U64(copy_record_from_item(&item, &cr), 0);
			CHECK_EQ_U64(copy_record_encode(&cr, buf + len,
			                                sizeof(buf) - len,
			                                &used), 0);
			len += used;
			n++;
		}
		if (n == 3 || (rc != 0 && n != 0)) {
			struct write_req *q = mk_payload(WRITE_COPY, peer, n,
			                                 buf, len);
			CHECK_EQ_U64(storage_apply_batch(to, &q, 1, c, NULL), 0);
			CHECK_EQ_U64(q->result, WRITE_OK);
			free(q);
			n = 0;
			len = 0;
		}
	} while (rc == 0);
	store_record_iter_close(&it);
	store_reader_fini(&r);
}

/* Two nodes that diverged converge by a merge copy each way: same
 * digests, the newer version of every key on both, deletes included. */
static void copy_converges(void)
{
	char da[64], db[64];
	struct fake_clock ca = {1700000000000ULL}, cb = {1700000000010ULL};
	struct storage_counters c = {0};
	struct store *a = NULL, *b = NULL;
	struct write_req *q[6];

	CHECK(make_dir(da, sizeof(da)) != NULL);
	CHECK(make_dir(db, sizeof(db)) != NULL);
	a = open_node_id(da, 1, &ca);
	b = open_node_id(db, 2, &cb);
	if (a == NULL || b == NULL)
		goto out;
	q[0] = mk_req(WRITE_PUT, "t", "x", "{\"x\":\"A\"}");
	q[1] = mk_req(WRITE_PUT, "t", "y", "{\"y\":\"A\"}");
	q[2] = mk_req(WRITE_PUT, "t", "z", "{\"z\":\"A\"}");
	q[3] = mk_req(WRITE_DELETE, "t", "z", NULL);
	q[4] = mk_req(WRITE_PUT, "u", "only_a", "{}");
	q[5] = mk_req(WRITE_PUT, "t", "w", "{\"w\":\"A\"}");
	CHECK_EQ_U64(storage_apply_batch(a, q, 6, &c, NULL), 0);
	free_reqs(q, 6);
	q[0] = mk_req(WRITE_PUT, "t", "x", "{\"x\":\"B\"}"); /* later: wins */
	q[1] = mk_req(WRITE_PUT, "t", "z", "{\"z\":\"B\"}"); /* after A's
	                                                        delete */
	q[2] = mk_req(WRITE_PUT, "v", "only_b", "{}");
	CHECK_EQ_U64(storage_apply_batch(b, q, 3, &c, NULL), 0);
	free_reqs(q, 3);
	ca.ms += 100; /* A deletes w after everything B did */
	q[0] = mk_req(WRITE_DELETE, "t", "w", NULL);
	CHECK_EQ_U64(storage_apply_batch(a, q, 1, &c, NULL), 0);
	free_reqs(q, 1);
	/* B got w before the delete, by some earlier copy */
	{
		struct crec w = mk_crec("t", "w", "{\"w\":\"A\"}",
		                        hlc_pack(1700000000000ULL, 5), 1, false);
		q[0] = mk_copy(1, &w, 1);
		CHECK_EQ_U64(storage_apply_batch(b, q, 1, &c, NULL), 0);
		free_reqs(q, 1);
	}
	CHECK(!same_digests(a, b));

	copy_all(a, b, 1, &c);
	copy_all(b, a, 2, &c);
	CHECK(same_digests(a, b));
	for (int k = 0; k < 2; k++) {
		struct store *s = k ? b : a;
		CHECK(record_body_is(s, "t", "x", "{\"x\":\"B\"}"));
		CHECK(record_body_is(s, "t", "y", "{\"y\":\"A\"}"));
		CHECK(record_body_is(s, "t", "z", "{\"z\":\"B\"}"));
		CHECK(record_body_is(s, "t", "w", NULL));
		CHECK(record_body_is(s, "u", "only_a", "{}"));
		CHECK(record_body_is(s, "v", "only_b", "{}"));
	}
	/* a second round changes nothing: every record is SAME */
	{
		uint64_t sup = c.copy_superseded, recs = c.copy_records;
		copy_all(a, b, 1, &c);
		CHECK_EQ_U64(c.copy_records - recs, c.copy_superseded - sup);
		CHECK(same_digests(a, b));
	}
	check_invariant(&c);
out:
	store_close(a);
	store_close(b);
	remove_dir(da);
	remove_dir(db);
}

/* ---- log retention ------------------------------------------------------- */

static void digests_equal(const struct drow *x, unsigned nx,
                          const struct drow *y, unsigned ny)
{
	CHECK_EQ_U64(nx, ny);
	for (unsigned i = 0; i < nx && i < ny; i++)
		CHECK(strcmp(x[i].name, y[i].name) == 0 && x[i].n == y[i].n &&
		      x[i].sum == y[i].sum);
}

/* storage_prune_step: only acknowledged and old entries of our own
 * origin, nothing of it with no peer up; other origins by cursor and age;
 * bounded per step with a fair resume; tombstones go with their delete;
 * the floors follow; a failed txn prunes nothing. */
static void retention(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	const uint64_t T0 = clk.ms, T1 = T0 + 3600000;
	struct storage_counters c = {0};
	struct storage_prune_state st = {0};
	struct storage_prune_policy p;
	struct store_reader rd;
	struct store *s;
	struct write_req *q[10];
	struct rentry e[9], f[4];
	struct drow before[8], after[8];
	unsigned nb, na, pruned;
	bool more;
	int rc;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node_id(dir, 1, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &rd), 0);

	/* own seqs 1..10 at T0: t/del put then deleted (2), t/keep deleted
	 * (4) and put again (5), then t/o6..o10 */
	q[0] = mk_req(WRITE_PUT, "t", "del", "{}");
	q[1] = mk_req(WRITE_DELETE, "t", "del", NULL);
	q[2] = mk_req(WRITE_PUT, "t", "keep", "{}");
	q[3] = mk_req(WRITE_DELETE, "t", "keep", NULL);
	q[4] = mk_req(WRITE_PUT, "t", "keep", "{\"again\":1}");
	for (unsigned i = 5; i < 10; i++) {
		char key[8];
		snprintf(key, sizeof key, "o%u", i + 1);
		q[i] = mk_req(WRITE_PUT, "t", key, "{}");
	}
	CHECK_EQ_U64(storage_apply_batch(s, q, 10, &c, NULL), 0);
	CHECK_EQ_U64(q[9]->seq, 10);
	free_reqs(q, 10);
	/* origin 2: seqs 1..6 at T0, 7..8 at T1; origin 3: 1..3 at T0 */
	for (unsigned i = 1; i <= 8; i++) {
		char key[8];
		snprintf(key, sizeof key, "r%u", i);
		e[i] = mk_entry(LOOM_OP_PUT, "r", key, "{}",
		                hlc_pack(i <= 6 ? T0 : T1, (uint16_t)i), 2);
	}
	for (unsigned i = 1; i <= 3; i++) {
		char key[8];
		snprintf(key, sizeof key, "s%u", i);
		f[i] = mk_entry(LOOM_OP_PUT, "s", key, "{}",
		                hlc_pack(T0, (uint16_t)i), 3);
	}
	q[0] = mk_remote(2, 1, &e[1], 6);
	q[1] = mk_remote(3, 1, &f[1], 3);
	CHECK_EQ_U64(storage_apply_batch(s, q, 2, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->seq, 6);
	CHECK_EQ_U64(q[1]->seq, 3);
	free_reqs(q, 2);
	/* an hour later: own seqs 11..20, origin 2's 7..8 */
	clk.ms = T1;
	for (unsigned i = 0; i < 10; i++) {
		char key[8];
		snprintf(key, sizeof key, "n%u", i + 11);
		q[i] = mk_req(WRITE_PUT, "t", key, "{}");
	}
	CHECK_EQ_U64(storage_apply_batch(s, q, 10, &c, NULL), 0);
	CHECK_EQ_U64(q[9]->seq, 20);
	free_reqs(q, 10);
	q[0] = mk_remote(2, 7, &e[7], 2);
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->seq, 8);
	free_reqs(q, 1);
	nb = digest_rows(s, before, 8);

	/* nothing to do: no budget, or nothing can be old enough yet */
	p = (struct storage_prune_policy){T1 + 1000, 1800000, true, 20, 0, 0};
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 0);
	p = (struct storage_prune_policy){1000, 1800000, true, 20, 1000, 0};
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 0);
	CHECK_EQ_U64(c.prunes, 0);

	/* 1. no peer up: none of our own log; the other origins' entries of
	 * T0 (30 min retention, now T1 + 1 s), not those of T1 */
	p = (struct storage_prune_policy){T1 + 1000, 1800000, false, 0, 1000, 0};
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 9);
	CHECK(!more);
	CHECK_EQ_U64(c.prunes, 1);
	CHECK_EQ_U64(c.pruned_entries, 9);
	CHECK_EQ_U64(oldest_of(s, 1), 1);
	CHECK_EQ_U64(floor_of(s, 1), 0);
	CHECK_EQ_U64(oldest_of(s, 2), 7);
	CHECK_EQ_U64(floor_of(s, 2), 6);
	CHECK_EQ_U64(oldest_of(s, 3), 0);
	CHECK_EQ_U64(floor_of(s, 3), 3);
	CHECK_EQ_U64(cursor_of(s, 2), 8); /* cursors are not the log */
	CHECK_EQ_U64(cursor_of(s, 3), 3);
	CHECK(record_body_is(s, "r", "r1", "{}")); /* nor the records */

	/* 2. a peer up that acknowledged nothing: nothing */
	p = (struct storage_prune_policy){T1 + 1000, 1800000, true, 0, 1000, 0};
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 0);
	CHECK_EQ_U64(c.prunes, 1); /* no txn for nothing */

	/* 3. acknowledged up to 15 by the peers up, 4 per step: 1..4 go;
	 * a peer that is down acknowledged only 1, so the tombstone of seq
	 * 2 stays in the records (a merge copy to that peer must carry the
	 * delete); t/keep's delete (4) goes but its record, rewritten at 5,
	 * stays */
	p = (struct storage_prune_policy){T1 + 1000, 1800000, true, 15, 4, 1};
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 4);
	CHECK(more);
	CHECK_EQ_U64(oldest_of(s, 1), 5);
	CHECK_EQ_U64(floor_of(s, 1), 4);
	{
		struct store_record tr = get_rec(s, "t", "del", &rc);
		CHECK_EQ_U64(rc, 0);
		CHECK(tr.tombstone);
	}
	CHECK(record_body_is(s, "t", "keep", "{\"again\":1}"));

	/* 4. the next step starts after origin 1 (2 and 3 have nothing old
	 * left) and wraps around to it: 5..8 */
	CHECK_EQ_U64(st.next_origin, 2);
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 4);
	CHECK(more);
	CHECK_EQ_U64(oldest_of(s, 1), 9);

	/* 5. 9..10; 11..15 are acknowledged but young */
	p.max_entries = 1000;
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 2);
	CHECK(!more);
	CHECK_EQ_U64(oldest_of(s, 1), 11);
	CHECK_EQ_U64(floor_of(s, 1), 10);
	CHECK_EQ_U64(oldest_of(s, 2), 7);

	/* 6. an hour on, all old: up to the acknowledged 15, and origin 2's
	 * 7..8 (its cursor) */
	p.now_ms = T1 + 3600000;
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 7);
	CHECK_EQ_U64(oldest_of(s, 1), 16);
	CHECK_EQ_U64(floor_of(s, 1), 15);
	CHECK_EQ_U64(oldest_of(s, 2), 0);
	CHECK_EQ_U64(floor_of(s, 2), 8);

	/* 7. an ack past our cursor is bounded by the cursor */
	p.own_acked = 25;
	CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned, &more),
	             0);
	CHECK_EQ_U64(pruned, 5);
	CHECK_EQ_U64(oldest_of(s, 1), 0);
	CHECK_EQ_U64(floor_of(s, 1), 20);
	CHECK_EQ_U64(c.pruned_entries, 9 + 4 + 4 + 2 + 7 + 5);
	CHECK_EQ_U64(c.prunes, 6);
	/* live records and digests untouched: only a tombstone went */
	na = digest_rows(s, after, 8);
	digests_equal(before, nb, after, na);

	/* 8. the log goes on from 21 */
	q[0] = mk_req(WRITE_PUT, "t", "n21", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	CHECK_EQ_U64(q[0]->seq, 21);
	free_reqs(q, 1);
	CHECK_EQ_U64(oldest_of(s, 1), 21);

	/* 9. a step whose txn cannot begin prunes nothing and says so */
	{
		struct store_txn *t;
		p.own_acked = 21;
		p.now_ms = T1 + 7200000;
		CHECK_EQ_U64(store_txn_begin(s, &t), 0);
		CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned,
		                                &more),
		             EBUSY);
		CHECK_EQ_U64(pruned, 0);
		store_txn_abort(t);
		CHECK_EQ_U64(c.prune_errors, 1);
		CHECK_EQ_U64(oldest_of(s, 1), 21);
		CHECK_EQ_U64(storage_prune_step(s, &rd, &p, &st, &c, &pruned,
		                                &more),
		             0);
		CHECK_EQ_U64(pruned, 1);
		CHECK_EQ_U64(oldest_of(s, 1), 0);
		CHECK_EQ_U64(floor_of(s, 1), 21);
	}
	check_invariant(&c); /* prune txns are not requests */
	store_reader_fini(&rd);
out:
	store_close(s);
	remove_dir(dir);
}

/* The cursors iterator (store.h) that retention and /metrics walk. */
static void cursor_iter(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct storage_counters c = {0};
	struct store_reader r;
	struct store_cursor_iter it;
	struct store *s;
	struct write_req *q[1];
	uint16_t origin;
	uint64_t seq;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node_id(dir, 5, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_cursor_iter_open(&r, 0, &it), 0);
	CHECK_EQ_U64(store_cursor_iter_next(&it, &origin, &seq), ENOENT);
	store_cursor_iter_close(&it);
	store_read_end(&r);
	{
		uint16_t o[] = {700, 2, 9};
		uint64_t sq[] = {1, 20, 3};
		q[0] = mk_copy_end(2, o, sq, 3);
		CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
		free_reqs(q, 1);
	}
	q[0] = mk_req(WRITE_PUT, "t", "k", "{}");
	CHECK_EQ_U64(storage_apply_batch(s, q, 1, &c, NULL), 0);
	free_reqs(q, 1);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_cursor_iter_open(&r, 0, &it), 0);
	{
		const uint16_t want_o[] = {2, 5, 9, 700};
		const uint64_t want_s[] = {20, 1, 3, 1};
		for (unsigned i = 0; i < 4; i++) {
			CHECK_EQ_U64(store_cursor_iter_next(&it, &origin, &seq),
			             0);
			CHECK_EQ_U64(origin, want_o[i]);
			CHECK_EQ_U64(seq, want_s[i]);
		}
	}
	CHECK_EQ_U64(store_cursor_iter_next(&it, &origin, &seq), ENOENT);
	store_cursor_iter_close(&it);
	/* from an origin on */
	CHECK_EQ_U64(store_cursor_iter_open(&r, 6, &it), 0);
	CHECK_EQ_U64(store_cursor_iter_next(&it, &origin, &seq), 0);
	CHECK_EQ_U64(origin, 9);
	store_cursor_iter_close(&it);
	CHECK_EQ_U64(store_cursor_iter_open(&r, 701, &it), 0);
	CHECK_EQ_U64(store_cursor_iter_next(&it, &origin, &seq), ENOENT);
	store_cursor_iter_close(&it);
	store_reader_fini(&r);
out:
	store_close(s);
	remove_dir(dir);
}

int main(void)
{
	buckets();
	mixed_batch();
	map_full();
	begin_fails();
	remote_requests();
	copy_record_codec();
	copy_requests();
	copy_end_requests();
	copy_converges();
	retention();
	cursor_iter();
	CHECK_DONE();
}

/* LMDB store: local writes (POST/PUT/DELETE, tombstones), LWW apply of
 * remote entries with atomic cursors, log read-back, HLC floor across a
 * restart with the clock moved back, both sync modes. Every environment
 * lives in a mkdtemp directory under /tmp that the test removes itself. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "storage/store.h"

#define TMP_PREFIX "/tmp/loom-store-"

struct fake_clock {
	uint64_t ms;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->ms;
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

static struct store *open_node(const char *dir, uint16_t node,
                               enum store_sync sync, struct fake_clock *clk)
{
	struct store_config cfg = {
		.path = dir,
		.map_size = 16u << 20,
		.node_id = node,
		.sync = sync,
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

static size_t mk_entry(uint8_t *buf, size_t cap, uint8_t op,
                       const char *table, const char *key, const char *body,
                       uint64_t hlc, uint16_t origin)
{
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
	size_t n = 0;

	CHECK_EQ_U64(loom_entry_encode(&e, buf, cap, &n), 0);
	return n;
}

static bool body_is(const struct store_record *r, const char *s)
{
	return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

static void local_writes(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t, *t2;
	struct store_reader r;
	struct store_record rec;
	struct loom_version v1, v2, v3, v4;
	uint64_t seq = 0, cur;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_node_id(s), 1);
	CHECK_EQ_U64(store_reader_init(s, &r), 0);

	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_txn_begin(s, &t2), EBUSY); /* one writer */
	CHECK_EQ_U64(store_local_put(t, "users", "k1", 2, "{\"a\":1}", 7, &v1,
	                             &seq), 0);
	CHECK_EQ_U64(seq, 1);
	CHECK_EQ_U64(v1.origin, 1);
	CHECK_EQ_U64(v1.hlc, hlc_pack(clk.ms, 0));
	/* POST on an existing key: 409, and the txn stays usable */
	CHECK_EQ_U64(store_local_put(t, "users", "k1", 2, "{}", 2, NULL, NULL),
	             EEXIST);
	CHECK_EQ_U64(store_local_upsert(t, "users", "k1", 2, "{\"a\":2}", 7,
	                                &v2, &seq), 0);
	CHECK_EQ_U64(seq, 2);
	CHECK(loom_version_cmp(v2, v1) > 0);
	/* the same key in another table is another record */
	CHECK_EQ_U64(store_local_put(t, "orders", "k1", 2, "{}", 2, NULL, &seq),
	             0);
	CHECK_EQ_U64(seq, 3);
	/* invalid arguments */
	CHECK_EQ_U64(store_local_put(t, "bad-name", "k", 1, "{}", 2, NULL,
	                             NULL), EINVAL);
	CHECK_EQ_U64(store_local_put(t, "", "k", 1, "{}", 2, NULL, NULL),
	             EINVAL);
	CHECK_EQ_U64(store_local_put(t, "users", "k", 0, "{}", 2, NULL, NULL),
	             EINVAL);
	static const char longkey[256] = {0};
	CHECK_EQ_U64(store_local_put(t, "users", longkey, 256, "{}", 2, NULL,
	                             NULL), EINVAL);
	CHECK_EQ_U64(store_local_put(t, "users", longkey, 255, "{}", 2, NULL,
	                             &seq), 0);
	CHECK_EQ_U64(seq, 4);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "users", "k1", 2, &rec), 0);
	CHECK(body_is(&rec, "{\"a\":2}"));
	CHECK(!rec.tombstone);
	CHECK_EQ_U64(rec.seq, 2);
	CHECK_EQ_U64(rec.version.hlc, v2.hlc);
	CHECK_EQ_U64(store_get(&r, "orders", "k1", 2, &rec), 0);
	CHECK(body_is(&rec, "{}"));
	CHECK_EQ_U64(store_get(&r, "users", "nope", 4, &rec), ENOENT);
	CHECK_EQ_U64(store_get(&r, "users", "k1", 1, &rec), ENOENT);
	CHECK_EQ_U64(store_cursor(&r, 1, &cur), 0);
	CHECK_EQ_U64(cur, 4);
	store_read_end(&r);

	/* delete: tombstone; delete again: 404; put after delete works */
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_delete(t, "users", "k1", 2, &v3, &seq), 0);
	CHECK_EQ_U64(seq, 5);
	CHECK(loom_version_cmp(v3, v2) > 0);
	CHECK_EQ_U64(store_local_delete(t, "users", "k1", 2, NULL, NULL),
	             ENOENT);
	CHECK_EQ_U64(store_local_delete(t, "users", "never", 5, NULL, NULL),
	             ENOENT);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "users", "k1", 2, &rec), 0);
	CHECK(rec.tombstone);
	CHECK_EQ_U64(rec.body_len, 0);
	CHECK_EQ_U64(rec.version.hlc, v3.hlc);
	store_read_end(&r);

	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "users", "k1", 2, "{\"b\":3}", 7, &v4,
	                             &seq), 0);
	CHECK_EQ_U64(seq, 6);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	/* a reader sees the snapshot it began with */
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_upsert(t, "users", "k1", 2, "{\"c\":4}", 7,
	                                NULL, &seq), 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_get(&r, "users", "k1", 2, &rec), 0);
	CHECK(body_is(&rec, "{\"b\":3}"));
	store_read_end(&r);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "users", "k1", 2, &rec), 0);
	CHECK(body_is(&rec, "{\"c\":4}"));

	/* the own log reads back in order, one entry per write */
	struct store_log_iter it;
	const void *ent;
	size_t elen, used;
	uint64_t lseq, want = 1;
	struct loom_entry e;
	static const uint8_t ops[] = {0, LOOM_OP_PUT, LOOM_OP_PUT, LOOM_OP_PUT,
	                              LOOM_OP_PUT, LOOM_OP_DELETE, LOOM_OP_PUT,
	                              LOOM_OP_PUT};
	CHECK_EQ_U64(store_log_iter_open(&r, 1, 1, &it), 0);
	while (store_log_iter_next(&it, &lseq, &ent, &elen) == 0) {
		CHECK_EQ_U64(lseq, want);
		CHECK_EQ_U64(loom_entry_decode(ent, elen, &e, &used), 0);
		CHECK_EQ_U64(used, elen);
		CHECK_EQ_U64(e.op, ops[want < 8 ? want : 0]);
		CHECK_EQ_U64(e.version.origin, 1);
		if (want == 6)
			CHECK_EQ_U64(e.version.hlc, v4.hlc);
		want++;
	}
	CHECK_EQ_U64(want, 8);
	store_log_iter_close(&it);
	CHECK_EQ_U64(store_log_iter_open(&r, 1, 5, &it), 0);
	CHECK_EQ_U64(store_log_iter_next(&it, &lseq, &ent, &elen), 0);
	CHECK_EQ_U64(lseq, 5);
	store_log_iter_close(&it);
	CHECK_EQ_U64(store_log_iter_open(&r, 9, 1, &it), 0); /* no such log */
	CHECK_EQ_U64(store_log_iter_next(&it, &lseq, &ent, &elen), ENOENT);
	store_log_iter_close(&it);
	store_read_end(&r);

	store_reader_fini(&r);
	store_close(s);

	/* another node id cannot open this environment */
	{
		struct store_config cfg = {.path = dir, .node_id = 2,
		                           .clock_ms = fake_now,
		                           .clock_ctx = &clk};
		struct store *o = NULL;
		CHECK_EQ_U64(store_open(&cfg, &o), EINVAL);
		CHECK(o == NULL);
	}
out:
	remove_dir(dir);
}

static void remote_apply(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct store_reader r;
	struct store_record rec;
	enum store_apply_result res;
	uint8_t e[8][128];
	size_t n[8];
	uint64_t H = hlc_pack(clk.ms + 5000, 0), cur;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &r), 0);

	n[1] = mk_entry(e[1], 128, LOOM_OP_PUT, "t", "k", "{\"v\":1}", H, 2);
	n[2] = mk_entry(e[2], 128, LOOM_OP_PUT, "t", "k", "{\"v\":0}", H - 5, 2);
	n[3] = mk_entry(e[3], 128, LOOM_OP_PUT, "t", "k", "{\"v\":1}", H, 2);
	n[4] = mk_entry(e[4], 128, LOOM_OP_DELETE, "t", "k", NULL, H + 9, 2);
	n[5] = mk_entry(e[5], 128, LOOM_OP_PUT, "t", "k", "{\"v\":5}", H + 20, 2);

	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_apply_remote(t, 2, 1, e[1], n[1], &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	CHECK_EQ_U64(store_apply_remote(t, 2, 2, e[2], n[2], &res), 0);
	CHECK_EQ_U64(res, STORE_SUPERSEDED); /* older loses */
	CHECK_EQ_U64(store_apply_remote(t, 2, 3, e[3], n[3], &res), 0);
	CHECK_EQ_U64(res, STORE_SAME); /* equal version+origin */
	CHECK_EQ_U64(store_apply_remote(t, 2, 3, e[3], n[3], &res), 0);
	CHECK_EQ_U64(res, STORE_DUPLICATE); /* seq <= cursor */
	CHECK_EQ_U64(store_apply_remote(t, 2, 1, e[1], n[1], &res), 0);
	CHECK_EQ_U64(res, STORE_DUPLICATE);
	CHECK_EQ_U64(store_apply_remote(t, 2, 5, e[5], n[5], &res), STORE_EGAP);
	/* malformed or mismatched: refused, txn still usable */
	CHECK_EQ_U64(store_apply_remote(t, 3, 1, e[1], n[1], &res), EINVAL);
	CHECK_EQ_U64(store_apply_remote(t, 1, 1, e[1], n[1], &res), EINVAL);
	CHECK_EQ_U64(store_apply_remote(t, 2, 4, e[4], n[4] - 1, &res),
	             EBADMSG);
	CHECK_EQ_U64(store_apply_remote(t, 2, 4, e[4], n[4] + 1, &res),
	             EBADMSG);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "k", 1, &rec), 0);
	CHECK(body_is(&rec, "{\"v\":1}"));
	CHECK_EQ_U64(rec.version.hlc, H);
	CHECK_EQ_U64(rec.version.origin, 2);
	CHECK_EQ_U64(rec.seq, 1);
	CHECK_EQ_U64(store_cursor(&r, 2, &cur), 0);
	CHECK_EQ_U64(cur, 3);
	store_read_end(&r);

	/* crash simulation: an aborted txn changes neither data nor cursor */
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_apply_remote(t, 2, 4, e[4], n[4], &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	store_txn_abort(t);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "k", 1, &rec), 0);
	CHECK(!rec.tombstone);
	CHECK_EQ_U64(store_cursor(&r, 2, &cur), 0);
	CHECK_EQ_U64(cur, 3);
	store_read_end(&r);

	/* newer delete wins; then a newer put; origin 3 with a new log DBI
	 * created in an aborted txn and again in a committed one */
	uint8_t o3[128];
	size_t n3 = mk_entry(o3, 128, LOOM_OP_PUT, "t", "k", "{\"v\":3}",
	                     H + 20, 3);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_apply_remote(t, 3, 1, o3, n3, &res), 0);
	store_txn_abort(t);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_apply_remote(t, 2, 4, e[4], n[4], &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	CHECK_EQ_U64(store_apply_remote(t, 2, 5, e[5], n[5], &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	/* same hlc, higher origin: wins the tie */
	CHECK_EQ_U64(store_apply_remote(t, 3, 1, o3, n3, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "k", 1, &rec), 0);
	CHECK(body_is(&rec, "{\"v\":3}"));
	CHECK_EQ_U64(rec.version.origin, 3);
	CHECK_EQ_U64(store_cursor(&r, 2, &cur), 0);
	CHECK_EQ_U64(cur, 5);
	CHECK_EQ_U64(store_cursor(&r, 3, &cur), 0);
	CHECK_EQ_U64(cur, 1);

	/* log.2 holds exactly the applied bytes, superseded ones included */
	struct store_log_iter it;
	const void *ent;
	size_t elen;
	uint64_t lseq, want = 1;
	CHECK_EQ_U64(store_log_iter_open(&r, 2, 1, &it), 0);
	while (store_log_iter_next(&it, &lseq, &ent, &elen) == 0) {
		CHECK_EQ_U64(lseq, want);
		CHECK_EQ_U64(elen, n[want]);
		CHECK(elen == n[want] && memcmp(ent, e[want], elen) == 0);
		want++;
	}
	CHECK_EQ_U64(want, 6);
	store_log_iter_close(&it);
	CHECK_EQ_U64(store_log_iter_open(&r, 3, 1, &it), 0);
	CHECK_EQ_U64(store_log_iter_next(&it, &lseq, &ent, &elen), 0);
	CHECK(elen == n3 && memcmp(ent, o3, n3) == 0);
	CHECK_EQ_U64(store_log_iter_next(&it, &lseq, &ent, &elen), ENOENT);
	store_log_iter_close(&it);
	store_read_end(&r);

	/* a remote delete of a key we never had still leaves a tombstone, so
	 * an older put arriving later loses */
	uint8_t d1[128], p1[128];
	size_t dn = mk_entry(d1, 128, LOOM_OP_DELETE, "t", "gone", NULL,
	                     H + 100, 2);
	size_t pn = mk_entry(p1, 128, LOOM_OP_PUT, "t", "gone", "{}", H + 50,
	                     3);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_apply_remote(t, 2, 6, d1, dn, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	CHECK_EQ_U64(store_apply_remote(t, 3, 2, p1, pn, &res), 0);
	CHECK_EQ_U64(res, STORE_SUPERSEDED);
	/* local write after observing a remote version is newer than it */
	struct loom_version lv;
	uint64_t lseq2;
	CHECK_EQ_U64(store_local_upsert(t, "t", "k", 1, "{\"l\":1}", 7, &lv,
	                                &lseq2), 0);
	CHECK(lv.hlc > H + 100);
	CHECK_EQ_U64(lseq2, 1);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "gone", 4, &rec), 0);
	CHECK(rec.tombstone);
	store_read_end(&r);

	store_reader_fini(&r);
	store_close(s);
out:
	remove_dir(dir);
}

static void floor_across_restart(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct loom_version v, last = {0, 0};
	uint64_t seq;
	uint8_t e[128];
	size_t n;
	enum store_apply_result res;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 7, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	for (int i = 0; i < 50; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		CHECK_EQ_U64(store_local_put(t, "t", key, strlen(key), "{}", 2,
		                             &v, &seq), 0);
		CHECK(v.hlc > last.hlc);
		last = v;
		clk.ms += 300; /* crosses the 10 s margin: floor rewritten */
	}
	CHECK_EQ_U64(store_txn_commit(t), 0);
	store_close(s);

	/* restart with the wall clock an hour back */
	clk.ms -= 3600 * 1000;
	s = open_node(dir, 7, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK(store_hlc_last(s) >= last.hlc);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "t", "after", 5, "{}", 2, &v, &seq),
	             0);
	CHECK(v.hlc > last.hlc);
	CHECK_EQ_U64(seq, 51);
	last = v;
	/* an observed remote version far ahead is also covered by the floor */
	uint64_t remote = hlc_pack(clk.ms + 86400000ULL, 0);
	n = mk_entry(e, sizeof(e), LOOM_OP_PUT, "t", "r", "{}", remote, 8);
	CHECK_EQ_U64(store_apply_remote(t, 8, 1, e, n, &res), 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	store_close(s);

	clk.ms -= 3600 * 1000;
	s = open_node(dir, 7, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "t", "again", 5, "{}", 2, &v, &seq),
	             0);
	CHECK(v.hlc > remote);
	CHECK(v.hlc > last.hlc);
	CHECK_EQ_U64(seq, 52);
	/* an aborted txn's floor is not trusted: the next commit rewrites */
	store_txn_abort(t);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "t", "again", 5, "{}", 2, &v, &seq),
	             0);
	CHECK_EQ_U64(seq, 52); /* the aborted seq is reused, never skipped */
	CHECK_EQ_U64(store_txn_commit(t), 0);
	store_close(s);
out:
	remove_dir(dir);
}

static void sync_modes(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct store_reader r;
	struct store_record rec;
	uint64_t seq;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 3, STORE_SYNC_INTERVAL, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "t", "a", 1, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_sync(s), 0);
	store_close(s);

	s = open_node(dir, 3, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "t", "b", 1, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(seq, 2);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_sync(s), 0);
	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "a", 1, &rec), 0);
	CHECK_EQ_U64(store_get(&r, "t", "b", 1, &rec), 0);
	store_read_end(&r);
	store_reader_fini(&r);
	store_close(s);

	{
		struct store_config cfg = {.path = dir, .node_id = 3,
		                           .sync = (enum store_sync)9};
		struct store *o = NULL;
		CHECK_EQ_U64(store_open(&cfg, &o), EINVAL);
	}
out:
	remove_dir(dir);
}

int main(void)
{
	local_writes();
	remote_apply();
	floor_across_restart();
	sync_modes();
	CHECK_DONE();
}

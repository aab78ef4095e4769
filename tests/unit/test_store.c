/* LMDB store: local writes (POST/PUT/DELETE, tombstones), LWW apply of
 * remote entries with atomic cursors, log read-back, HLC floor across a
 * restart with the clock moved back, both sync modes; per-table digests
 * (checked against a recompute from scratch, and equal on stores fed the
 * same writes in different orders), log retention (prune, floor, tombstone
 * purge), merge copy (record iterator, LWW copy, cursor raise) and the
 * schema 1 -> 2 upgrade. Every environment lives in a mkdtemp directory
 * under /tmp that the test removes itself. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "storage/be.h"
#include "storage/store.h"

/* The reference SipHash (common/), compiled into the test: the digest
 * recompute below must not share code with the store's own bookkeeping
 * beyond the algorithm itself. */
#include "common/siphash.c"

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

static unsigned check_digests(struct store *s);

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
	/* users: k1 and the long key live; orders: k1 */
	CHECK_EQ_U64(check_digests(s), 2);

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
	CHECK_EQ_U64(check_digests(s), 1);

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

/* ---- digests --------------------------------------------------------- */

#define MAX_TABLES 8

struct tdigest {
	char name[LOOM_TABLE_MAX + 1];
	uint64_t n, sum;
};

/* The digests recomputed from scratch: every record through the record
 * iterator, store.h's definition with the reference SipHash. Tables come
 * out in name order (the records' key order), like the digest rows. */
static unsigned recompute(struct store_reader *r, struct tdigest *out,
                          unsigned cap)
{
	static const uint64_t K[2] = {STORE_DIGEST_K0, STORE_DIGEST_K1};
	static uint8_t buf[LOOM_TABLE_MAX + LOOM_KEY_MAX + 12 + 4096];
	struct store_record_iter it;
	struct store_record_item x;
	unsigned n = 0;
	int rc;

	CHECK_EQ_U64(store_record_iter_open(r, NULL, NULL, 0, &it), 0);
	while ((rc = store_record_iter_next(&it, &x)) == 0) {
		struct tdigest *d = n ? &out[n - 1] : NULL;
		size_t len;

		if (x.rec.tombstone)
			continue;
		if (d == NULL || strlen(d->name) != x.table_len ||
		    memcmp(d->name, x.table, x.table_len) != 0) {
			if (n == cap) {
				CHECK(n < cap);
				break;
			}
			d = &out[n++];
			memcpy(d->name, x.table, x.table_len);
			d->name[x.table_len] = '\0';
			d->n = d->sum = 0;
		}
		CHECK(x.rec.body_len <= 4096);
		if (x.rec.body_len > 4096)
			continue;
		memcpy(buf, x.table, x.table_len);
		len = x.table_len;
		buf[len++] = 0;
		memcpy(buf + len, x.key, x.key_len);
		len += x.key_len;
		buf[len++] = 0;
		put_be(buf + len, x.rec.version.hlc, 8);
		put_be(buf + len + 8, x.rec.version.origin, 2);
		len += 10;
		if (x.rec.body_len)
			memcpy(buf + len, x.rec.body, x.rec.body_len);
		len += x.rec.body_len;
		d->n++;
		d->sum += siphash24(K, buf, len);
	}
	CHECK(rc == 0 || rc == ENOENT);
	store_record_iter_close(&it);
	return n;
}

/* The digest rows through store_digest_next. */
static unsigned digest_rows(struct store_reader *r, struct tdigest *out,
                            unsigned cap)
{
	struct store_digest_iter it;
	unsigned n = 0;
	int rc;

	CHECK_EQ_U64(store_digest_iter_open(r, &it), 0);
	while (n < cap && (rc = store_digest_next(&it, out[n].name,
	                                          sizeof(out[n].name),
	                                          &out[n].n, &out[n].sum)) ==
	                          0)
		n++;
	store_digest_iter_close(&it);
	return n;
}

static bool same_digests(const struct tdigest *a, unsigned na,
                         const struct tdigest *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) != 0 || a[i].n != b[i].n ||
		    a[i].sum != b[i].sum)
			return false;
	return true;
}

/* s's maintained digests equal the recompute; every row also reads back
 * through store_digest. Returns the number of tables. */
static unsigned check_digests(struct store *s)
{
	struct tdigest want[MAX_TABLES], got[MAX_TABLES];
	struct store_reader r;
	unsigned nw, ng;

	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	nw = recompute(&r, want, MAX_TABLES);
	ng = digest_rows(&r, got, MAX_TABLES);
	CHECK(same_digests(want, nw, got, ng));
	for (unsigned i = 0; i < ng; i++) {
		uint64_t n = 0, sum = 0;
		CHECK_EQ_U64(store_digest(&r, got[i].name, &n, &sum), 0);
		CHECK_EQ_U64(n, got[i].n);
		CHECK_EQ_U64(sum, got[i].sum);
		CHECK(n > 0);
	}
	store_read_end(&r);
	store_reader_fini(&r);
	return ng;
}

static bool stores_agree(struct store *a, struct store *b)
{
	struct tdigest da[MAX_TABLES], db[MAX_TABLES];
	struct store_reader ra, rb;
	unsigned na, nb;

	CHECK_EQ_U64(store_reader_init(a, &ra), 0);
	CHECK_EQ_U64(store_reader_init(b, &rb), 0);
	CHECK_EQ_U64(store_read_begin(&ra), 0);
	CHECK_EQ_U64(store_read_begin(&rb), 0);
	na = digest_rows(&ra, da, MAX_TABLES);
	nb = digest_rows(&rb, db, MAX_TABLES);
	store_reader_fini(&ra);
	store_reader_fini(&rb);
	return na > 0 && same_digests(da, na, db, nb);
}

/* Remote entries of one origin: random tables, keys, puts and deletes,
 * HLCs increasing per origin but interleaved with the other origin's, so
 * that arrival order decides which versions lose LWW on the way. */
#define GEN_N 40

struct gen_entry {
	uint8_t b[128];
	size_t n;
};

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void gen_origin(struct gen_entry *g, uint16_t origin, uint64_t base,
                       uint32_t seed)
{
	for (unsigned i = 1; i <= GEN_N; i++) {
		uint32_t r = xorshift(&seed);
		char key[8], body[48];
		bool del = (r >> 4) % 4 == 0;

		snprintf(key, sizeof(key), "k%u", (r >> 1) % 5);
		snprintf(body, sizeof(body), "{\"o\":%u,\"i\":%u}", origin, i);
		g[i].n = mk_entry(g[i].b, sizeof(g[i].b),
		                  del ? LOOM_OP_DELETE : LOOM_OP_PUT,
		                  r & 1 ? "ta" : "tb", key, del ? NULL : body,
		                  base + i * 8 + (r >> 8) % 6, origin);
	}
}

static int apply_gen(struct store_txn *t, uint16_t origin,
                     const struct gen_entry *g, unsigned seq,
                     enum store_apply_result *res)
{
	return store_apply_remote(t, origin, seq, g[seq].b, g[seq].n, res);
}

/* Copy every record of from into to (a merge copy in one txn), then raise
 * to's cursors to from's for the given origins. */
static void merge_copy(struct store *from, struct store *to,
                       const uint16_t *origins, unsigned n_origins)
{
	struct store_reader r;
	struct store_record_iter it;
	struct store_record_item x;
	struct store_txn *t;
	enum store_apply_result res;
	char table[LOOM_TABLE_MAX + 1];

	CHECK_EQ_U64(store_reader_init(from, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_txn_begin(to, &t), 0);
	CHECK_EQ_U64(store_record_iter_open(&r, NULL, NULL, 0, &it), 0);
	while (store_record_iter_next(&it, &x) == 0) {
		memcpy(table, x.table, x.table_len);
		table[x.table_len] = '\0';
		CHECK_EQ_U64(store_apply_copy(t, table, x.key, x.key_len,
		                              x.rec.version, x.rec.tombstone,
		                              x.rec.body, x.rec.body_len, &res),
		             0);
	}
	store_record_iter_close(&it);
	for (unsigned i = 0; i < n_origins; i++) {
		uint64_t cur;
		CHECK_EQ_U64(store_cursor(&r, origins[i], &cur), 0);
		CHECK_EQ_U64(store_cursor_raise(t, origins[i], cur), 0);
	}
	CHECK_EQ_U64(store_txn_commit(t), 0);
	store_reader_fini(&r);
}

/* Ship log.<origin> of from (seqs > to's cursor) to to as remote entries. */
static void ship_log(struct store *from, struct store *to, uint16_t origin)
{
	struct store_reader r, rt;
	struct store_log_iter it;
	struct store_txn *t;
	enum store_apply_result res;
	const void *ent;
	size_t len;
	uint64_t seq, cur;

	CHECK_EQ_U64(store_reader_init(to, &rt), 0);
	CHECK_EQ_U64(store_read_begin(&rt), 0);
	CHECK_EQ_U64(store_cursor(&rt, origin, &cur), 0);
	store_reader_fini(&rt);
	CHECK_EQ_U64(store_reader_init(from, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_txn_begin(to, &t), 0);
	CHECK_EQ_U64(store_log_iter_open(&r, origin, cur + 1, &it), 0);
	while (store_log_iter_next(&it, &seq, &ent, &len) == 0) {
		CHECK_EQ_U64(store_apply_remote(t, origin, seq, ent, len, &res),
		             0);
		CHECK(res != STORE_DUPLICATE);
	}
	store_log_iter_close(&it);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	store_reader_fini(&r);
}

static void digest_convergence(void)
{
	char da[64], db[64], dc[64], dd[64];
	struct fake_clock ca = {1700000000000ULL}, cb = ca, cc = ca, cd = ca;
	struct store *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	struct store_txn *t;
	struct store_reader r;
	enum store_apply_result res;
	static struct gen_entry g3[GEN_N + 1], g4[GEN_N + 1];
	uint64_t H = hlc_pack(ca.ms + 5000, 0), n, sum, seq;
	unsigned superseded_a = 0, superseded_b = 0;

	CHECK(make_dir(da, sizeof(da)) != NULL);
	CHECK(make_dir(db, sizeof(db)) != NULL);
	CHECK(make_dir(dc, sizeof(dc)) != NULL);
	CHECK(make_dir(dd, sizeof(dd)) != NULL);
	a = open_node(da, 1, STORE_SYNC_COMMIT, &ca);
	b = open_node(db, 2, STORE_SYNC_COMMIT, &cb);
	c = open_node(dc, 5, STORE_SYNC_COMMIT, &cc);
	d = open_node(dd, 6, STORE_SYNC_COMMIT, &cd);
	if (!a || !b || !c || !d)
		goto out;
	gen_origin(g3, 3, H, 0x1234567u);
	gen_origin(g4, 4, H + 3, 0x89abcdefu);

	/* empty store: no rows */
	CHECK_EQ_U64(check_digests(a), 0);
	CHECK_EQ_U64(store_reader_init(a, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_digest(&r, "ta", &n, &sum), ENOENT);
	CHECK_EQ_U64(store_digest(&r, "bad-name", &n, &sum), EINVAL);
	store_reader_fini(&r);

	/* a: all of origin 3, then all of 4, then a replay of 3 (duplicates)
	 * in one txn */
	CHECK_EQ_U64(store_txn_begin(a, &t), 0);
	for (unsigned i = 1; i <= GEN_N; i++) {
		CHECK_EQ_U64(apply_gen(t, 3, g3, i, &res), 0);
		superseded_a += res == STORE_SUPERSEDED;
	}
	for (unsigned i = 1; i <= GEN_N; i++) {
		CHECK_EQ_U64(apply_gen(t, 4, g4, i, &res), 0);
		superseded_a += res == STORE_SUPERSEDED;
	}
	for (unsigned i = 1; i <= GEN_N; i++) {
		CHECK_EQ_U64(apply_gen(t, 3, g3, i, &res), 0);
		CHECK_EQ_U64(res, STORE_DUPLICATE);
	}
	CHECK_EQ_U64(store_txn_commit(t), 0);

	/* b: 4 and 3 interleaved, a txn every 7 steps, with duplicates, gap
	 * attempts (refused, txn still usable) and an aborted txn between */
	for (unsigned i = 1; i <= GEN_N;) {
		CHECK_EQ_U64(store_txn_begin(b, &t), 0);
		for (unsigned k = 0; k < 7 && i <= GEN_N; k++, i++) {
			CHECK_EQ_U64(apply_gen(t, 4, g4, i, &res), 0);
			superseded_b += res == STORE_SUPERSEDED;
			if (i > 1) {
				CHECK_EQ_U64(apply_gen(t, 4, g4, i - 1, &res),
				             0);
				CHECK_EQ_U64(res, STORE_DUPLICATE);
			}
			if (i + 2 <= GEN_N)
				CHECK_EQ_U64(apply_gen(t, 3, g3, i + 2, &res),
				             STORE_EGAP);
			CHECK_EQ_U64(apply_gen(t, 3, g3, i, &res), 0);
			superseded_b += res == STORE_SUPERSEDED;
		}
		CHECK_EQ_U64(store_txn_commit(t), 0);
		if (i <= GEN_N) {
			CHECK_EQ_U64(store_txn_begin(b, &t), 0);
			CHECK_EQ_U64(apply_gen(t, 3, g3, i, &res), 0);
			store_txn_abort(t); /* must leave no digest trace */
		}
	}
	/* the data really exercises LWW: older versions arrived after newer
	 * ones (which ones depends on the order) */
	CHECK(superseded_a > 0);
	CHECK(superseded_b > 0);

	CHECK(check_digests(a) > 0);
	CHECK(check_digests(b) > 0);
	CHECK(stores_agree(a, b));

	/* local writes on both, then each ships its own log to the other */
	CHECK_EQ_U64(store_txn_begin(a, &t), 0);
	CHECK_EQ_U64(store_local_upsert(t, "ta", "k1", 2, "{\"a\":1}", 7, NULL,
	                                &seq), 0);
	CHECK_EQ_U64(store_local_put(t, "tc", "x", 1, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(store_local_upsert(t, "tb", "new", 3, "{}", 2, NULL, &seq),
	             0);
	CHECK_EQ_U64(store_local_delete(t, "tb", "new", 3, NULL, &seq), 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	cb.ms += 1; /* b's write to ta/k1 is the newer one */
	CHECK_EQ_U64(store_txn_begin(b, &t), 0);
	CHECK_EQ_U64(store_local_upsert(t, "ta", "k1", 2, "{\"b\":1}", 7, NULL,
	                                &seq), 0);
	CHECK_EQ_U64(store_local_upsert(t, "tc", "y", 1, "{}", 2, NULL, &seq),
	             0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK(!stores_agree(a, b));
	CHECK(check_digests(a) == 3);
	ship_log(a, b, 1);
	ship_log(b, a, 2);
	CHECK(check_digests(a) == 3);
	CHECK(check_digests(b) == 3);
	CHECK(stores_agree(a, b));

	/* c: a merge copy of a, then nothing else: equal too */
	const uint16_t origins[] = {1, 2, 3, 4};
	merge_copy(a, c, origins, 4);
	CHECK(check_digests(c) == 3);
	CHECK(stores_agree(a, c));
	/* copying again changes nothing (all STORE_SAME) */
	merge_copy(b, c, origins, 4);
	CHECK(stores_agree(a, c));

	/* d: resync mid-stream. Copy of a node that had the first half of 3
	 * and 4, then the rest from the logs. */
	{
		char de[64];
		struct fake_clock ce = ca;
		struct store *e;

		CHECK(make_dir(de, sizeof(de)) != NULL);
		e = open_node(de, 7, STORE_SYNC_COMMIT, &ce);
		if (e != NULL) {
			CHECK_EQ_U64(store_txn_begin(e, &t), 0);
			for (unsigned i = 1; i <= GEN_N / 2; i++) {
				CHECK_EQ_U64(apply_gen(t, 4, g4, i, &res), 0);
				CHECK_EQ_U64(apply_gen(t, 3, g3, i, &res), 0);
			}
			CHECK_EQ_U64(store_txn_commit(t), 0);
			merge_copy(e, d, origins + 2, 2);
			store_close(e);
		}
		remove_dir(de);
	}
	ship_log(a, d, 3); /* from cursor + 1 = GEN_N / 2 + 1 */
	ship_log(a, d, 4);
	ship_log(a, d, 1);
	ship_log(a, d, 2);
	CHECK(check_digests(d) == 3);
	CHECK(stores_agree(a, d));

	/* a table whose last live record goes loses its row */
	CHECK_EQ_U64(store_txn_begin(a, &t), 0);
	CHECK_EQ_U64(store_local_delete(t, "tc", "x", 1, NULL, &seq), 0);
	CHECK_EQ_U64(store_local_delete(t, "tc", "y", 1, NULL, &seq), 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(check_digests(a), 2);
	CHECK_EQ_U64(store_reader_init(a, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_digest(&r, "tc", &n, &sum), ENOENT);
	store_reader_fini(&r);
	/* and on b, which gets the deletes remotely, too */
	ship_log(a, b, 1);
	CHECK_EQ_U64(check_digests(b), 2);
	CHECK(stores_agree(a, b));
	/* a store reopened keeps the digests it maintained */
	store_close(a);
	a = open_node(da, 1, STORE_SYNC_COMMIT, &ca);
	if (a != NULL) {
		CHECK_EQ_U64(check_digests(a), 2);
		CHECK(stores_agree(a, b));
	}
out:
	store_close(a);
	store_close(b);
	store_close(c);
	store_close(d);
	remove_dir(da);
	remove_dir(db);
	remove_dir(dc);
	remove_dir(dd);
}

/* digest_next: a name that does not fit is ENOSPC, never a truncation. */
static void digest_iter_small_buffer(void)
{
	char dir[64], name[4];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct store_reader r;
	struct store_digest_iter it;
	uint64_t n, sum;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_local_put(t, "abcd", "k", 1, "{}", 2, NULL, NULL),
	             0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_digest_iter_open(&r, &it), EINVAL); /* inactive */
	store_digest_iter_close(&it);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_digest_iter_open(&r, &it), 0);
	CHECK_EQ_U64(store_digest_next(&it, name, sizeof(name), &n, &sum),
	             ENOSPC);
	store_digest_iter_close(&it);
	CHECK_EQ_U64(store_digest(&r, "abcd", &n, &sum), 0);
	CHECK_EQ_U64(n, 1);
	store_reader_fini(&r);
	store_close(s);
out:
	remove_dir(dir);
}

/* ---- log retention --------------------------------------------------- */

static void retention(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct store_reader r;
	struct store_record rec;
	enum store_apply_result res;
	uint8_t e[10][128], o3[128];
	size_t n[10], n3;
	uint64_t H = hlc_pack(clk.ms + 5000, 0), seq, cnt, cnt0;
	unsigned pruned;
	struct tdigest before[MAX_TABLES], after[MAX_TABLES];
	unsigned nb, na;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &r), 0);

	/* nothing yet */
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), ENOENT);
	CHECK_EQ_U64(store_log_floor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 0);
	store_read_end(&r);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_log_prune(t, 2, 100, UINT64_MAX, 10, &pruned), 0);
	CHECK_EQ_U64(pruned, 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	/* origin 2: 1 put a, 2 put b, 3 del a, 4 put c, 5 del b, 6 put b
	 * (newer: b is live again), 7 del c, 8 del d (never had d),
	 * origin 3 then deletes c again with a newer version */
	n[1] = mk_entry(e[1], 128, LOOM_OP_PUT, "t", "a", "{\"a\":1}", H + 1, 2);
	n[2] = mk_entry(e[2], 128, LOOM_OP_PUT, "t", "b", "{\"b\":1}", H + 2, 2);
	n[3] = mk_entry(e[3], 128, LOOM_OP_DELETE, "t", "a", NULL, H + 3, 2);
	n[4] = mk_entry(e[4], 128, LOOM_OP_PUT, "t", "c", "{\"c\":1}", H + 4, 2);
	n[5] = mk_entry(e[5], 128, LOOM_OP_DELETE, "t", "b", NULL, H + 5, 2);
	n[6] = mk_entry(e[6], 128, LOOM_OP_PUT, "t", "b", "{\"b\":2}", H + 6, 2);
	n[7] = mk_entry(e[7], 128, LOOM_OP_DELETE, "t", "c", NULL, H + 7, 2);
	n[8] = mk_entry(e[8], 128, LOOM_OP_DELETE, "t", "d", NULL, H + 8, 2);
	n3 = mk_entry(o3, 128, LOOM_OP_DELETE, "t", "c", NULL, H + 9, 3);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	for (unsigned i = 1; i <= 8; i++)
		CHECK_EQ_U64(store_apply_remote(t, 2, i, e[i], n[i], &res), 0);
	CHECK_EQ_U64(store_apply_remote(t, 3, 1, o3, n3, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	/* and one local delete of our own, for the own log */
	CHECK_EQ_U64(store_local_put(t, "t", "own", 3, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(store_local_delete(t, "t", "own", 3, NULL, &seq), 0);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 1);
	CHECK_EQ_U64(store_record_count(&r, &cnt0), 0);
	CHECK_EQ_U64(cnt0, 5); /* a, b, c, d, own */
	nb = digest_rows(&r, before, MAX_TABLES);
	store_read_end(&r);

	/* bounded: two per call */
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_log_prune(t, 2, 5, UINT64_MAX, 2, &pruned), 0);
	CHECK_EQ_U64(pruned, 2);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 3);
	CHECK_EQ_U64(store_log_floor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 2);
	CHECK_EQ_U64(store_get(&r, "t", "a", 1, &rec), 0); /* tombstone */
	CHECK(rec.tombstone);
	store_read_end(&r);

	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_log_prune(t, 2, 5, UINT64_MAX, 2, &pruned), 0);
	CHECK_EQ_U64(pruned, 2); /* 3 (del a: purged), 4 */
	CHECK_EQ_U64(store_log_prune(t, 2, 5, UINT64_MAX, 2, &pruned), 0);
	CHECK_EQ_U64(pruned, 1); /* 5 (del b: b is live again, stays) */
	CHECK_EQ_U64(store_log_prune(t, 2, 5, UINT64_MAX, 2, &pruned), 0);
	CHECK_EQ_U64(pruned, 0); /* 6 > 5 */
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "a", 1, &rec), ENOENT); /* purged */
	CHECK_EQ_U64(store_get(&r, "t", "b", 1, &rec), 0);
	CHECK(!rec.tombstone);
	CHECK(body_is(&rec, "{\"b\":2}"));
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 6);
	CHECK_EQ_U64(store_log_floor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 5);
	/* the log from an old seq starts at what is left */
	{
		struct store_log_iter it;
		const void *ent;
		size_t len;
		CHECK_EQ_U64(store_log_iter_open(&r, 2, 1, &it), 0);
		CHECK_EQ_U64(store_log_iter_next(&it, &seq, &ent, &len), 0);
		CHECK_EQ_U64(seq, 6);
		store_log_iter_close(&it);
	}
	store_read_end(&r);

	/* the rest: 7 (del c: c's tombstone is now origin 3's, stays), 8
	 * (del d: purged); an upto below the floor never lowers it */
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_log_prune(t, 2, UINT64_MAX, UINT64_MAX, 100, &pruned), 0);
	CHECK_EQ_U64(pruned, 3);
	CHECK_EQ_U64(store_log_prune(t, 2, 1, UINT64_MAX, 100, &pruned), 0);
	CHECK_EQ_U64(pruned, 0);
	CHECK_EQ_U64(store_log_prune(t, 9, 100, UINT64_MAX, 100, &pruned), 0); /* no log */
	CHECK_EQ_U64(pruned, 0);
	CHECK_EQ_U64(store_log_prune(t, 1, 100, UINT64_MAX, 0, &pruned), 0); /* max 0 */
	CHECK_EQ_U64(pruned, 0);
	/* our own log: the local delete's tombstone goes with it */
	CHECK_EQ_U64(store_log_prune(t, 1, 2, UINT64_MAX, 10, &pruned), 0);
	CHECK_EQ_U64(pruned, 2);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), ENOENT);
	CHECK_EQ_U64(store_log_floor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 8);
	CHECK_EQ_U64(store_log_floor(&r, 1, &seq), 0);
	CHECK_EQ_U64(seq, 2);
	CHECK_EQ_U64(store_log_oldest(&r, 1, &seq), ENOENT);
	CHECK_EQ_U64(store_cursor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 8); /* cursors are not the log's business */
	CHECK_EQ_U64(store_get(&r, "t", "c", 1, &rec), 0);
	CHECK(rec.tombstone);
	CHECK_EQ_U64(rec.version.origin, 3);
	CHECK_EQ_U64(store_get(&r, "t", "d", 1, &rec), ENOENT);
	CHECK_EQ_U64(store_get(&r, "t", "own", 3, &rec), ENOENT);
	CHECK_EQ_U64(store_record_count(&r, &cnt), 0);
	CHECK_EQ_U64(cnt, 2); /* b live, c origin 3's tombstone */
	/* tombstones are in no digest: purging them changed nothing */
	na = digest_rows(&r, after, MAX_TABLES);
	CHECK(same_digests(before, nb, after, na));
	store_read_end(&r);
	check_digests(s);

	/* the emptied logs still append: new entries after the floor, and
	 * our own next seq follows the cursor, not the log */
	n[9] = mk_entry(e[9], 128, LOOM_OP_PUT, "t", "a", "{\"a\":9}", H + 20, 2);
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_apply_remote(t, 2, 9, e[9], n[9], &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED); /* a was purged: nothing to beat */
	CHECK_EQ_U64(store_local_put(t, "t", "own2", 4, "{}", 2, NULL, &seq),
	             0);
	CHECK_EQ_U64(seq, 3);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 9);
	CHECK_EQ_U64(store_log_oldest(&r, 1, &seq), 0);
	CHECK_EQ_U64(seq, 3);
	store_read_end(&r);
	check_digests(s);

	store_reader_fini(&r);
	store_close(s);
out:
	remove_dir(dir);
}

/* ---- merge copy ------------------------------------------------------ */

static void copy_and_cursor_raise(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct store_reader r;
	struct store_record rec;
	struct store_record_iter it;
	struct store_record_item x;
	enum store_apply_result res;
	uint64_t H = hlc_pack(clk.ms + 5000, 0), seq;
	struct loom_version v;
	uint8_t e[128];
	size_t n;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &r), 0);

	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	/* absent key: applied */
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1, (struct loom_version){H, 2},
	                              false, "{\"v\":1}", 7, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	/* older: superseded; equal: same; newer: applied */
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1,
	                              (struct loom_version){H - 1, 9}, false,
	                              "{\"v\":0}", 7, &res), 0);
	CHECK_EQ_U64(res, STORE_SUPERSEDED);
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1, (struct loom_version){H, 2},
	                              false, "{\"v\":1}", 7, &res), 0);
	CHECK_EQ_U64(res, STORE_SAME);
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1, (struct loom_version){H, 3},
	                              false, "{\"v\":2}", 7, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED); /* same hlc, higher origin */
	/* a newer tombstone wins over the live record; an older put loses to
	 * it; a tombstone for an absent key is kept (it must beat older puts
	 * that arrive later) */
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1,
	                              (struct loom_version){H + 5, 2}, true,
	                              NULL, 0, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1,
	                              (struct loom_version){H + 4, 4}, false,
	                              "{}", 2, &res), 0);
	CHECK_EQ_U64(res, STORE_SUPERSEDED);
	CHECK_EQ_U64(store_apply_copy(t, "u", "gone", 4,
	                              (struct loom_version){H + 1, 2}, true,
	                              NULL, 0, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	/* a local record older than a copy loses; a local one newer wins */
	CHECK_EQ_U64(store_local_put(t, "u", "l1", 2, "{\"l\":1}", 7, &v, &seq),
	             0);
	CHECK(v.hlc > H + 5); /* the HLC observed the copies */
	CHECK_EQ_U64(store_apply_copy(t, "u", "l1", 2,
	                              (struct loom_version){v.hlc + 1, 2}, false,
	                              "{\"c\":1}", 7, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	CHECK_EQ_U64(store_local_put(t, "u", "l2", 2, "{\"l\":2}", 7, &v, &seq),
	             0);
	CHECK_EQ_U64(store_apply_copy(t, "u", "l2", 2,
	                              (struct loom_version){v.hlc - 1, 2}, false,
	                              "{\"c\":2}", 7, &res), 0);
	CHECK_EQ_U64(res, STORE_SUPERSEDED);
	/* refused arguments; the txn stays usable */
	CHECK_EQ_U64(store_apply_copy(t, "bad-t", "k", 1,
	                              (struct loom_version){H, 2}, false, "{}",
	                              2, &res), EINVAL);
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 0, (struct loom_version){H, 2},
	                              false, "{}", 2, &res), EINVAL);
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1, (struct loom_version){H, 2},
	                              true, "{}", 2, &res), EINVAL);
	CHECK_EQ_U64(store_apply_copy(t, "t", "k", 1, (struct loom_version){H, 2},
	                              false, NULL, 2, &res), EINVAL);
	/* a copy far ahead moves the HLC (and so the floor) */
	uint64_t far = hlc_pack(clk.ms + 86400000ULL, 0);
	CHECK_EQ_U64(store_apply_copy(t, "u", "far", 3,
	                              (struct loom_version){far, 2}, false, "{}",
	                              2, &res), 0);
	CHECK(store_hlc_last(s) >= far);
	CHECK_EQ_U64(store_txn_commit(t), 0);

	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_get(&r, "t", "k", 1, &rec), 0);
	CHECK(rec.tombstone);
	CHECK_EQ_U64(rec.version.hlc, H + 5);
	CHECK_EQ_U64(rec.seq, 0); /* copies carry no seq */
	CHECK_EQ_U64(store_get(&r, "u", "l1", 2, &rec), 0);
	CHECK(body_is(&rec, "{\"c\":1}"));
	CHECK_EQ_U64(store_get(&r, "u", "l2", 2, &rec), 0);
	CHECK(body_is(&rec, "{\"l\":2}"));
	CHECK_EQ_U64(store_get(&r, "u", "gone", 4, &rec), 0);
	CHECK(rec.tombstone);
	/* copies touch no log and no cursor */
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), ENOENT);
	CHECK_EQ_U64(store_cursor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 0);

	/* the record iterator: every record in (table, key) order, with
	 * what store_get says about it */
	static const char *const want[][2] = {
		{"t", "k"}, {"u", "far"}, {"u", "gone"}, {"u", "l1"}, {"u", "l2"}};
	unsigned i = 0;
	CHECK_EQ_U64(store_record_iter_open(&r, NULL, NULL, 0, &it), 0);
	while (store_record_iter_next(&it, &x) == 0) {
		struct store_record g;
		char table[LOOM_TABLE_MAX + 1];

		CHECK(i < 5);
		if (i >= 5)
			break;
		CHECK(x.table_len == strlen(want[i][0]) &&
		      memcmp(x.table, want[i][0], x.table_len) == 0);
		CHECK(x.key_len == strlen(want[i][1]) &&
		      memcmp(x.key, want[i][1], x.key_len) == 0);
		memcpy(table, x.table, x.table_len);
		table[x.table_len] = '\0';
		CHECK_EQ_U64(store_get(&r, table, x.key, x.key_len, &g), 0);
		CHECK_EQ_U64(g.version.hlc, x.rec.version.hlc);
		CHECK_EQ_U64(g.version.origin, x.rec.version.origin);
		CHECK_EQ_U64(g.seq, x.rec.seq);
		CHECK_EQ_U64(g.tombstone, x.rec.tombstone);
		CHECK(g.body_len == x.rec.body_len && g.body == x.rec.body);
		i++;
	}
	CHECK_EQ_U64(i, 5);
	store_record_iter_close(&it);
	/* resumed strictly after a record, present or not */
	CHECK_EQ_U64(store_record_iter_open(&r, "u", "gone", 4, &it), 0);
	CHECK_EQ_U64(store_record_iter_next(&it, &x), 0);
	CHECK(x.key_len == 2 && memcmp(x.key, "l1", 2) == 0);
	store_record_iter_close(&it);
	CHECK_EQ_U64(store_record_iter_open(&r, "t", "zz", 2, &it), 0);
	CHECK_EQ_U64(store_record_iter_next(&it, &x), 0);
	CHECK(x.key_len == 3 && memcmp(x.key, "far", 3) == 0);
	store_record_iter_close(&it);
	CHECK_EQ_U64(store_record_iter_open(&r, "u", "l2", 2, &it), 0);
	CHECK_EQ_U64(store_record_iter_next(&it, &x), ENOENT);
	store_record_iter_close(&it);
	CHECK_EQ_U64(store_record_iter_open(&r, "u", NULL, 0, &it), EINVAL);
	store_record_iter_close(&it);
	store_read_end(&r);
	check_digests(s);

	/* cursor raise: up, never down; the log floor follows; the next
	 * remote entry is the one after it */
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_cursor_raise(t, 2, 10), 0);
	CHECK_EQ_U64(store_cursor_raise(t, 2, 5), 0);
	CHECK_EQ_U64(store_txn_cursor(t, 2, &seq), 0);
	CHECK_EQ_U64(seq, 10);
	n = mk_entry(e, sizeof(e), LOOM_OP_PUT, "t", "after", "{}", far + 1, 2);
	CHECK_EQ_U64(store_apply_remote(t, 2, 10, e, n, &res), 0);
	CHECK_EQ_U64(res, STORE_DUPLICATE);
	CHECK_EQ_U64(store_apply_remote(t, 2, 12, e, n, &res), STORE_EGAP);
	CHECK_EQ_U64(store_apply_remote(t, 2, 11, e, n, &res), 0);
	CHECK_EQ_U64(res, STORE_APPLIED);
	/* our own origin: the next local seq follows a raise */
	CHECK_EQ_U64(store_local_put(t, "t", "o1", 2, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(seq, 3);
	CHECK_EQ_U64(store_cursor_raise(t, 1, 2), 0); /* lower: no change */
	CHECK_EQ_U64(store_local_put(t, "t", "o2", 2, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(seq, 4);
	CHECK_EQ_U64(store_cursor_raise(t, 1, 50), 0);
	CHECK_EQ_U64(store_local_put(t, "t", "o3", 2, "{}", 2, NULL, &seq), 0);
	CHECK_EQ_U64(seq, 51);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_own_seq(s), 51);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_cursor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 11);
	CHECK_EQ_U64(store_log_floor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 10);
	CHECK_EQ_U64(store_log_oldest(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 11);
	CHECK_EQ_U64(store_log_floor(&r, 1, &seq), 0);
	CHECK_EQ_U64(seq, 50);
	CHECK_EQ_U64(store_cursor(&r, 1, &seq), 0);
	CHECK_EQ_U64(seq, 51);
	store_read_end(&r);
	/* an aborted raise leaves nothing */
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	CHECK_EQ_U64(store_cursor_raise(t, 2, 1000), 0);
	store_txn_abort(t);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	CHECK_EQ_U64(store_cursor(&r, 2, &seq), 0);
	CHECK_EQ_U64(seq, 11);
	store_read_end(&r);
	check_digests(s);

	store_reader_fini(&r);
	store_close(s);
	/* the own seq is what the next open starts from */
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s != NULL)
		CHECK_EQ_U64(store_own_seq(s), 51);
	store_close(s);
out:
	remove_dir(dir);
}

/* ---- schema 1 -> 2 ---------------------------------------------------- */

/* Turn dir's environment back into what schema 1 left: no digests DBI,
 * meta.schema = 1. Raw LMDB, as the old code would have seen it. */
static void downgrade_to_schema_1(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dig, meta;
	uint8_t one[4] = {0, 0, 0, 1};
	MDB_val k = {.mv_size = 6, .mv_data = "schema"};
	MDB_val v = {.mv_size = 4, .mv_data = one};

	CHECK_EQ_U64(mdb_env_create(&env), 0);
	CHECK_EQ_U64(mdb_env_set_maxdbs(env, 80), 0);
	CHECK_EQ_U64(mdb_env_set_mapsize(env, 16u << 20), 0);
	CHECK_EQ_U64(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	CHECK_EQ_U64(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CHECK_EQ_U64(mdb_dbi_open(txn, "digests", 0, &dig), 0);
	CHECK_EQ_U64(mdb_drop(txn, dig, 1), 0);
	CHECK_EQ_U64(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	CHECK_EQ_U64(mdb_put(txn, meta, &k, &v, 0), 0);
	CHECK_EQ_U64(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void schema_upgrade(void)
{
	char dir[64];
	struct fake_clock clk = {1700000000000ULL};
	struct store *s;
	struct store_txn *t;
	struct store_reader r;
	struct tdigest before[MAX_TABLES], after[MAX_TABLES];
	unsigned nb = 0, na = 0;

	CHECK(make_dir(dir, sizeof(dir)) != NULL);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_txn_begin(s, &t), 0);
	for (int i = 0; i < 30; i++) {
		char key[16], body[32];
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(body, sizeof(body), "{\"i\":%d}", i);
		CHECK_EQ_U64(store_local_upsert(t, i % 3 ? "a" : "b", key,
		                                strlen(key), body, strlen(body),
		                                NULL, NULL), 0);
		if (i % 4 == 0)
			CHECK_EQ_U64(store_local_delete(t, i % 3 ? "a" : "b",
			                                key, strlen(key), NULL,
			                                NULL), 0);
	}
	CHECK_EQ_U64(store_txn_commit(t), 0);
	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	nb = digest_rows(&r, before, MAX_TABLES);
	store_reader_fini(&r);
	CHECK_EQ_U64(nb, 2);
	store_close(s);

	downgrade_to_schema_1(dir);
	s = open_node(dir, 1, STORE_SYNC_COMMIT, &clk);
	if (s == NULL)
		goto out;
	CHECK_EQ_U64(store_reader_init(s, &r), 0);
	CHECK_EQ_U64(store_read_begin(&r), 0);
	na = digest_rows(&r, after, MAX_TABLES);
	store_reader_fini(&r);
	CHECK(same_digests(before, nb, after, na));
	check_digests(s);
	store_close(s);

	/* a schema from the future is refused */
	{
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi meta;
		uint8_t nine[4] = {0, 0, 0, 9};
		MDB_val k = {.mv_size = 6, .mv_data = "schema"};
		MDB_val v = {.mv_size = 4, .mv_data = nine};
		struct store_config cfg = {.path = dir, .node_id = 1,
		                           .clock_ms = fake_now,
		                           .clock_ctx = &clk};
		struct store *o = NULL;

		CHECK_EQ_U64(mdb_env_create(&env), 0);
		CHECK_EQ_U64(mdb_env_set_maxdbs(env, 80), 0);
		CHECK_EQ_U64(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
		CHECK_EQ_U64(mdb_txn_begin(env, NULL, 0, &txn), 0);
		CHECK_EQ_U64(mdb_dbi_open(txn, "meta", 0, &meta), 0);
		CHECK_EQ_U64(mdb_put(txn, meta, &k, &v, 0), 0);
		CHECK_EQ_U64(mdb_txn_commit(txn), 0);
		mdb_env_close(env);
		CHECK_EQ_U64(store_open(&cfg, &o), EINVAL);
		CHECK(o == NULL);
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
	digest_convergence();
	digest_iter_small_buffer();
	retention();
	copy_and_cursor_raise();
	schema_upgrade();
	CHECK_DONE();
}

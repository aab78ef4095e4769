/* store.c - LMDB storage; see store.h for the layout and the contracts. */
#include "storage/store.h"

#include "storage/be.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/siphash.h"

#define REC_HDR 20 /* hlc 8 | origin 2 | flags 1 | 0 1 | seq 8 */
#define REC_TOMBSTONE 0x01
#define RKEY_MAX (LOOM_TABLE_MAX + 1 + LOOM_KEY_MAX)
#define N_ORIGINS 65536
#define DIGEST_VAL 16 /* records u64 | sum u64 */
/* A digest term's input: table \0 key \0 hlc origin body. */
#define TERM_MAX (RKEY_MAX + 1 + 10 + (size_t)LOOM_ENTRY_BODY_MAX)
#define N_FIXED_DBIS 4 /* records, cursors, digests, meta */

struct store_txn {
	struct store *s;
	MDB_txn *txn;
	uint64_t own_seq;
	uint64_t floor;
	unsigned n_new; /* log DBIs created in this txn, published on commit */
	uint16_t *new_origin;
	MDB_dbi *new_dbi;
};

struct store {
	MDB_env *env;
	MDB_dbi records, cursors, digests, meta;
	uint16_t node_id;
	unsigned max_origins;
	unsigned n_origins; /* log DBIs known (committed) */
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	struct hlc hlc;
	uint64_t floor;   /* committed meta.hlc_floor */
	uint64_t own_seq; /* committed last own seq */
	bool txn_open;
	struct store_txn wtxn;
	/* The writer's scratch for a digest term (siphash24 hashes one
	 * buffer). TERM_MAX bytes allocated at open, so the write path never
	 * allocates; the OS commits its pages only as large bodies reach
	 * them. */
	uint8_t *term_buf;
	/* log.<origin> handles, 0 = not opened; written by the writer after
	 * commit, read by readers. */
	_Atomic uint32_t log_dbi[N_ORIGINS];
};

static MDB_val mval(void *p, size_t n)
{
	MDB_val v = {.mv_size = n, .mv_data = p};
	return v;
}

/* ---- meta and cursors ------------------------------------------------ */

static int meta_get_u(MDB_txn *txn, MDB_dbi dbi, const char *name,
                      unsigned width, uint64_t *out, bool *found)
{
	MDB_val k = mval((void *)name, strlen(name)), v;
	int rc = mdb_get(txn, dbi, &k, &v);

	*found = false;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (v.mv_size != width)
		return EBADMSG;
	*out = get_be(v.mv_data, width);
	*found = true;
	return 0;
}

static int meta_put_u(MDB_txn *txn, MDB_dbi dbi, const char *name,
                      unsigned width, uint64_t val)
{
	uint8_t b[8];
	MDB_val k = mval((void *)name, strlen(name)), v = mval(b, width);

	put_be(b, val, width);
	return mdb_put(txn, dbi, &k, &v, 0);
}

static int cursor_get(MDB_txn *txn, MDB_dbi dbi, uint16_t origin,
                      uint64_t *seq)
{
	uint8_t kb[2];
	MDB_val k = mval(kb, 2), v;
	int rc;

	put_be(kb, origin, 2);
	rc = mdb_get(txn, dbi, &k, &v);
	*seq = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return EBADMSG;
	*seq = get_be(v.mv_data, 8);
	return 0;
}

static int cursor_put(MDB_txn *txn, MDB_dbi dbi, uint16_t origin,
                      uint64_t seq)
{
	uint8_t kb[2], vb[8];
	MDB_val k = mval(kb, 2), v = mval(vb, 8);

	put_be(kb, origin, 2);
	put_be(vb, seq, 8);
	return mdb_put(txn, dbi, &k, &v, 0);
}

static void log_floor_name(char *buf, size_t cap, uint16_t origin)
{
	snprintf(buf, cap, "log_floor.%u", (unsigned)origin);
}

static int log_floor_get(MDB_txn *txn, MDB_dbi meta, uint16_t origin,
                         uint64_t *seq)
{
	char name[32];
	bool found;

	log_floor_name(name, sizeof(name), origin);
	*seq = 0;
	return meta_get_u(txn, meta, name, 8, seq, &found);
}

/* log_floor.<origin> = max(log_floor, seq). */
static int log_floor_raise(MDB_txn *txn, MDB_dbi meta, uint16_t origin,
                           uint64_t seq)
{
	char name[32];
	uint64_t cur;
	int rc = log_floor_get(txn, meta, origin, &cur);

	if (rc || seq <= cur)
		return rc;
	log_floor_name(name, sizeof(name), origin);
	return meta_put_u(txn, meta, name, 8, seq);
}

/* ---- records and digests --------------------------------------------- */

static size_t rec_key(uint8_t *buf, const char *table, size_t tlen,
                      const void *key, size_t klen)
{
	memcpy(buf, table, tlen);
	buf[tlen] = 0;
	memcpy(buf + tlen + 1, key, klen);
	return tlen + 1 + klen;
}

static int rec_parse(const MDB_val *v, struct store_record *r)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size < REC_HDR)
		return EBADMSG;
	r->version.hlc = get_be(p, 8);
	r->version.origin = (uint16_t)get_be(p + 8, 2);
	r->tombstone = (p[10] & REC_TOMBSTONE) != 0;
	r->seq = get_be(p + 12, 8);
	r->body_len = v->mv_size - REC_HDR;
	r->body = p + REC_HDR;
	return 0;
}

/* Split a records key into table and key; EBADMSG if it is not one. */
static int rkey_split(const MDB_val *k, const char **table, size_t *tlen,
                      const uint8_t **key, size_t *klen)
{
	const uint8_t *p = k->mv_data;
	const uint8_t *nul = k->mv_size ? memchr(p, 0, k->mv_size) : NULL;

	if (nul == NULL)
		return EBADMSG;
	*table = (const char *)p;
	*tlen = (size_t)(nul - p);
	*key = nul + 1;
	*klen = k->mv_size - *tlen - 1;
	if (*tlen < 1 || *tlen > LOOM_TABLE_MAX || *klen < 1 ||
	    *klen > LOOM_KEY_MAX)
		return EBADMSG;
	return 0;
}

/* siphash24(K, table \0 key \0 hlc | origin | body) of a live record (the
 * definition in store.h), assembled in the writer's term_buf. */
static int digest_term(struct store *s, const char *table, size_t tlen,
                       const void *key, size_t klen, struct loom_version v,
                       const void *body, size_t blen, uint64_t *term)
{
	static const uint64_t K[2] = {STORE_DIGEST_K0, STORE_DIGEST_K1};
	uint8_t *p = s->term_buf;
	size_t n = rec_key(p, table, tlen, key, klen);

	if (blen > LOOM_ENTRY_BODY_MAX)
		return EBADMSG; /* no write path stores one: the map is bad */
	p[n++] = 0;
	put_be(p + n, v.hlc, 8);
	put_be(p + n + 8, v.origin, 2);
	n += 10;
	if (blen)
		memcpy(p + n, body, blen);
	*term = siphash24(K, p, n + blen);
	return 0;
}

static int digest_put(MDB_txn *txn, MDB_dbi dbi, const char *table,
                      size_t tlen, uint64_t n, uint64_t sum)
{
	uint8_t b[DIGEST_VAL];
	MDB_val k = mval((void *)table, tlen), v = mval(b, DIGEST_VAL);

	put_be(b, n, 8);
	put_be(b + 8, sum, 8);
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* The table's row += (dn live records, dsum) mod 2^64. With no live record
 * left the row goes (its sum must then be 0, or the digest was already
 * wrong): the rows are exactly the tables with live records, whatever the
 * order the writes came in. */
static int digest_update(struct store_txn *t, const char *table, size_t tlen,
                         int dn, uint64_t dsum)
{
	struct store *s = t->s;
	MDB_val k = mval((void *)table, tlen), v;
	uint64_t n = 0, sum = 0;
	int rc = mdb_get(t->txn, s->digests, &k, &v);

	if (rc == 0) {
		if (v.mv_size != DIGEST_VAL)
			return EBADMSG;
		n = get_be(v.mv_data, 8);
		sum = get_be((const uint8_t *)v.mv_data + 8, 8);
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if (dn < 0 && n < (uint64_t)-dn)
		return EBADMSG;
	n = dn < 0 ? n - (uint64_t)-dn : n + (uint64_t)dn;
	sum += dsum;
	if (n == 0) {
		if (sum != 0)
			return EBADMSG;
		rc = mdb_del(t->txn, s->digests, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	return digest_put(t->txn, s->digests, table, tlen, n, sum);
}

static int rec_put(struct store_txn *t, MDB_val *k, const struct loom_entry *e,
                   uint64_t seq)
{
	MDB_val v = mval(NULL, REC_HDR + e->body_len);
	uint8_t *p;
	int rc = mdb_put(t->txn, t->s->records, k, &v, MDB_RESERVE);

	if (rc)
		return rc;
	p = v.mv_data;
	put_be(p, e->version.hlc, 8);
	put_be(p + 8, e->version.origin, 2);
	p[10] = e->op == LOOM_OP_DELETE ? REC_TOMBSTONE : 0;
	p[11] = 0;
	put_be(p + 12, seq, 8);
	if (e->body_len)
		memcpy(p + REC_HDR, e->body, e->body_len);
	return 0;
}

/* Every change of `records` goes through here: write e (with seq) at k,
 * the record of (e->table, e->key), replacing old (NULL: there was none),
 * and move the table's digest by the difference. Both terms are taken
 * before the put, which may reuse the page old->body points into. */
static int rec_replace(struct store_txn *t, MDB_val *k,
                       const struct loom_entry *e,
                       const struct store_record *old, uint64_t seq)
{
	struct store *s = t->s;
	uint64_t term, dsum = 0;
	int dn = 0;
	int rc;

	if (old != NULL && !old->tombstone) {
		rc = digest_term(s, e->table, e->table_len, e->key, e->key_len,
		                 old->version, old->body, old->body_len, &term);
		if (rc)
			return rc;
		dn--;
		dsum -= term;
	}
	if (e->op == LOOM_OP_PUT) {
		rc = digest_term(s, e->table, e->table_len, e->key, e->key_len,
		                 e->version, e->body, e->body_len, &term);
		if (rc)
			return rc;
		dn++;
		dsum += term;
	}
	if ((rc = rec_put(t, k, e, seq)))
		return rc;
	if (dn == 0 && dsum == 0)
		return 0;
	return digest_update(t, e->table, e->table_len, dn, dsum);
}

/* Build the digests from records (an environment of schema 1). Records
 * are sorted by table first ("t\0..." sorts before any "t?..."), so each
 * table is one run. */
static int digest_rebuild(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k, v;
	char cur[LOOM_TABLE_MAX];
	size_t cur_len = 0;
	uint64_t n = 0, sum = 0;
	int rc = mdb_cursor_open(txn, s->records, &c);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct store_record r;
		const char *table;
		const uint8_t *key;
		size_t tlen, klen;
		uint64_t term;

		if ((rc = rkey_split(&k, &table, &tlen, &key, &klen)) ||
		    (rc = rec_parse(&v, &r)))
			break;
		if (tlen != cur_len || memcmp(table, cur, tlen) != 0) {
			if (n && (rc = digest_put(txn, s->digests, cur,
			                          cur_len, n, sum)))
				break;
			memcpy(cur, table, tlen);
			cur_len = tlen;
			n = sum = 0;
		}
		if (r.tombstone)
			continue;
		if ((rc = digest_term(s, table, tlen, key, klen, r.version,
		                      r.body, r.body_len, &term)))
			break;
		n++;
		sum += term;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	return n ? digest_put(txn, s->digests, cur, cur_len, n, sum) : 0;
}

/* ---- open / close ---------------------------------------------------- */

static uint64_t no_clock(void *ctx)
{
	(void)ctx;
	return 0;
}

static int open_existing_logs(struct store *s, MDB_txn *txn)
{
	MDB_dbi main_dbi;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);

	if (rc)
		return rc;
	rc = mdb_cursor_open(txn, main_dbi, &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		char name[16];
		unsigned long o;
		char *end;
		MDB_dbi dbi;

		if (k.mv_size < 5 || k.mv_size >= sizeof(name) ||
		    memcmp(k.mv_data, "log.", 4) != 0)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		o = strtoul(name + 4, &end, 10);
		if (*end != '\0' || o >= N_ORIGINS)
			continue;
		if (s->n_origins >= s->max_origins) {
			rc = MDB_DBS_FULL;
			break;
		}
		rc = mdb_dbi_open(txn, name, 0, &dbi);
		if (rc)
			break;
		atomic_store(&s->log_dbi[o], dbi);
		s->n_origins++;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The digests DBI; built from records when it is new or the environment
 * predates it (schema 1). */
static int open_digests(struct store *s, MDB_txn *txn, uint64_t schema)
{
	int rc = mdb_dbi_open(txn, "digests", 0, &s->digests);

	if (rc == MDB_NOTFOUND)
		rc = mdb_dbi_open(txn, "digests", MDB_CREATE, &s->digests);
	else if (rc == 0 && schema < 2)
		rc = mdb_drop(txn, s->digests, 0); /* not ours to trust */
	else
		return rc;
	if (rc)
		return rc;
	return digest_rebuild(s, txn);
}

static int open_dbis(struct store *s)
{
	MDB_txn *txn;
	uint64_t v, schema;
	bool found;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

	if (rc)
		return rc;
	if ((rc = mdb_dbi_open(txn, "records", MDB_CREATE, &s->records)) ||
	    (rc = mdb_dbi_open(txn, "cursors", MDB_CREATE, &s->cursors)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)))
		goto fail;
	if ((rc = meta_get_u(txn, s->meta, "node_id", 2, &v, &found)))
		goto fail;
	if (found && v != s->node_id) {
		rc = EINVAL; /* another node's environment */
		goto fail;
	}
	if (!found && (rc = meta_put_u(txn, s->meta, "node_id", 2, s->node_id)))
		goto fail;
	if ((rc = meta_get_u(txn, s->meta, "schema", 4, &schema, &found)))
		goto fail;
	if (!found)
		schema = STORE_SCHEMA_VERSION; /* a new environment */
	if (schema < 1 || schema > STORE_SCHEMA_VERSION) {
		rc = EINVAL;
		goto fail;
	}
	if ((rc = open_digests(s, txn, schema)))
		goto fail;
	if ((!found || schema != STORE_SCHEMA_VERSION) &&
	    (rc = meta_put_u(txn, s->meta, "schema", 4, STORE_SCHEMA_VERSION)))
		goto fail;
	if ((rc = meta_get_u(txn, s->meta, "hlc_floor", 8, &v, &found)))
		goto fail;
	s->floor = found ? v : 0;
	if ((rc = cursor_get(txn, s->cursors, s->node_id, &s->own_seq)))
		goto fail;
	if ((rc = open_existing_logs(s, txn)))
		goto fail;
	rc = mdb_txn_commit(txn);
	if (rc)
		memset(s->log_dbi, 0, sizeof(s->log_dbi));
	return rc;
fail:
	mdb_txn_abort(txn);
	memset(s->log_dbi, 0, sizeof(s->log_dbi));
	return rc;
}

int store_open(const struct store_config *cfg, struct store **out)
{
	struct store *s;
	unsigned flags = MDB_NOTLS;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->path == NULL)
		return EINVAL;
	if (mkdir(cfg->path, 0700) != 0 && errno != EEXIST)
		return errno;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ENOMEM;
	s->node_id = cfg->node_id;
	s->max_origins = cfg->max_origins ? cfg->max_origins : 64;
	s->clock_ms = cfg->clock_ms ? cfg->clock_ms : no_clock;
	s->clock_ctx = cfg->clock_ctx;
	s->wtxn.s = s;
	s->wtxn.new_origin = calloc(s->max_origins, sizeof(uint16_t));
	s->wtxn.new_dbi = calloc(s->max_origins, sizeof(MDB_dbi));
	s->term_buf = malloc(TERM_MAX); /* not calloc: stays uncommitted */
	if (s->wtxn.new_origin == NULL || s->wtxn.new_dbi == NULL ||
	    s->term_buf == NULL) {
		rc = ENOMEM;
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)))
		goto fail;
	if ((rc = mdb_env_set_mapsize(s->env, cfg->map_size ? cfg->map_size
	                                                    : (size_t)1 << 30)))
		goto fail;
	if ((rc = mdb_env_set_maxdbs(s->env, N_FIXED_DBIS + s->max_origins)))
		goto fail;
	if (cfg->sync == STORE_SYNC_INTERVAL)
		flags |= MDB_NOMETASYNC;
	else if (cfg->sync != STORE_SYNC_COMMIT) {
		rc = EINVAL;
		goto fail;
	}
	if ((rc = mdb_env_open(s->env, cfg->path, flags, 0600)))
		goto fail;
	if ((rc = open_dbis(s)))
		goto fail;
	hlc_init(&s->hlc, s->floor);
	*out = s;
	return 0;
fail:
	if (s->env)
		mdb_env_close(s->env);
	free(s->wtxn.new_origin);
	free(s->wtxn.new_dbi);
	free(s->term_buf);
	free(s);
	return rc;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->txn_open)
		store_txn_abort(&s->wtxn);
	mdb_env_close(s->env);
	free(s->wtxn.new_origin);
	free(s->wtxn.new_dbi);
	free(s->term_buf);
	free(s);
}

int store_sync(struct store *s)
{
	return mdb_env_sync(s->env, 1);
}

uint16_t store_node_id(const struct store *s)
{
	return s->node_id;
}

uint64_t store_hlc_last(const struct store *s)
{
	return s->hlc.last;
}

uint64_t store_own_seq(const struct store *s)
{
	return s->own_seq;
}

/* ---- write txn ------------------------------------------------------- */

int store_txn_begin(struct store *s, struct store_txn **out)
{
	struct store_txn *t = &s->wtxn;
	int rc;

	*out = NULL;
	if (s->txn_open)
		return EBUSY;
	rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
	if (rc)
		return rc;
	t->own_seq = s->own_seq;
	t->floor = s->floor;
	t->n_new = 0;
	s->txn_open = true;
	*out = t;
	return 0;
}

int store_txn_commit(struct store_txn *t)
{
	struct store *s = t->s;
	int rc = mdb_txn_commit(t->txn);

	s->txn_open = false;
	t->txn = NULL;
	if (rc)
		return rc; /* LMDB freed the txn; nothing of it is visible */
	s->own_seq = t->own_seq;
	s->floor = t->floor;
	for (unsigned i = 0; i < t->n_new; i++) {
		atomic_store_explicit(&s->log_dbi[t->new_origin[i]],
		                      t->new_dbi[i], memory_order_release);
		s->n_origins++;
	}
	return 0;
}

void store_txn_abort(struct store_txn *t)
{
	mdb_txn_abort(t->txn);
	t->txn = NULL;
	t->s->txn_open = false;
}

/* log.<origin> as this txn sees it, without creating it. */
static bool log_dbi_find(struct store_txn *t, uint16_t origin, MDB_dbi *dbi)
{
	uint32_t d = atomic_load_explicit(&t->s->log_dbi[origin],
	                                  memory_order_acquire);

	if (d) {
		*dbi = d;
		return true;
	}
	for (unsigned i = 0; i < t->n_new; i++) {
		if (t->new_origin[i] == origin) {
			*dbi = t->new_dbi[i];
			return true;
		}
	}
	return false;
}

static int log_dbi_for(struct store_txn *t, uint16_t origin, MDB_dbi *dbi)
{
	struct store *s = t->s;
	char name[16];
	int rc;

	if (log_dbi_find(t, origin, dbi))
		return 0;
	if (s->n_origins + t->n_new >= s->max_origins)
		return MDB_DBS_FULL;
	snprintf(name, sizeof(name), "log.%u", (unsigned)origin);
	rc = mdb_dbi_open(t->txn, name, MDB_CREATE, dbi);
	if (rc)
		return rc;
	t->new_origin[t->n_new] = origin;
	t->new_dbi[t->n_new] = *dbi;
	t->n_new++;
	return 0;
}

/* Persist a higher floor in this txn when the clock has crossed it. */
static int bump_floor(struct store_txn *t)
{
	struct store *s = t->s;
	uint64_t f;
	int rc;

	if (s->hlc.last <= t->floor)
		return 0;
	f = s->hlc.last + STORE_HLC_FLOOR_MARGIN;
	rc = meta_put_u(t->txn, s->meta, "hlc_floor", 8, f);
	if (rc == 0)
		t->floor = f;
	return rc;
}

static int log_append(struct store_txn *t, MDB_dbi dbi, uint64_t seq,
                      const struct loom_entry *e, const void *raw,
                      size_t raw_len)
{
	uint8_t kb[8];
	MDB_val k = mval(kb, 8), v = mval(NULL, raw_len);
	size_t n;
	int rc;

	put_be(kb, seq, 8);
	rc = mdb_put(t->txn, dbi, &k, &v, MDB_APPEND | MDB_RESERVE);
	if (rc)
		return rc;
	if (raw)
		memcpy(v.mv_data, raw, raw_len);
	else
		return loom_entry_encode(e, v.mv_data, raw_len, &n);
	return 0;
}

enum local_mode { LOCAL_INSERT, LOCAL_UPSERT, LOCAL_DELETE };

static int local_write(struct store_txn *t, enum local_mode mode,
                       const char *table, const void *key, size_t klen,
                       const void *body, size_t blen,
                       struct loom_version *version_out, uint64_t *seq_out)
{
	struct store *s;
	uint8_t kb[RKEY_MAX];
	size_t tlen = table ? strnlen(table, LOOM_TABLE_MAX + 1) : 0;
	struct loom_entry e;
	struct store_record old;
	MDB_val k, v;
	MDB_dbi log;
	size_t esize;
	uint64_t seq;
	bool found, live;
	int rc;

	if (t == NULL || t->txn == NULL)
		return EINVAL;
	s = t->s;
	if (!loom_table_valid(table, tlen) || key == NULL || klen < 1 ||
	    klen > LOOM_KEY_MAX || blen > LOOM_ENTRY_BODY_MAX ||
	    (blen && body == NULL))
		return EINVAL;
	k = mval(kb, rec_key(kb, table, tlen, key, klen));
	rc = mdb_get(t->txn, s->records, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	found = rc == 0;
	if (found && (rc = rec_parse(&v, &old)))
		return rc;
	live = found && !old.tombstone;
	if (mode == LOCAL_INSERT && live)
		return EEXIST;
	if (mode == LOCAL_DELETE && !live)
		return ENOENT;

	e.op = mode == LOCAL_DELETE ? LOOM_OP_DELETE : LOOM_OP_PUT;
	e.table = table;
	e.table_len = (uint8_t)tlen;
	e.key = key;
	e.key_len = (uint8_t)klen;
	e.body = mode == LOCAL_DELETE ? NULL : body;
	e.body_len = mode == LOCAL_DELETE ? 0 : (uint32_t)blen;
	esize = loom_entry_size(&e);
	if (esize == 0)
		return EINVAL;
	if ((rc = log_dbi_for(t, s->node_id, &log)))
		return rc;
	e.version.hlc = hlc_now(&s->hlc, s->clock_ms(s->clock_ctx));
	e.version.origin = s->node_id;
	seq = t->own_seq + 1;
	if ((rc = log_append(t, log, seq, &e, NULL, esize)) ||
	    (rc = rec_replace(t, &k, &e, found ? &old : NULL, seq)) ||
	    (rc = cursor_put(t->txn, s->cursors, s->node_id, seq)) ||
	    (rc = bump_floor(t)))
		return rc;
	t->own_seq = seq;
	if (version_out)
		*version_out = e.version;
	if (seq_out)
		*seq_out = seq;
	return 0;
}

int store_local_put(struct store_txn *t, const char *table, const void *key,
                    size_t key_len, const void *body, size_t body_len,
                    struct loom_version *version_out, uint64_t *seq_out)
{
	return local_write(t, LOCAL_INSERT, table, key, key_len, body,
	                   body_len, version_out, seq_out);
}

int store_local_upsert(struct store_txn *t, const char *table,
                       const void *key, size_t key_len, const void *body,
                       size_t body_len, struct loom_version *version_out,
                       uint64_t *seq_out)
{
	return local_write(t, LOCAL_UPSERT, table, key, key_len, body,
	                   body_len, version_out, seq_out);
}

int store_local_delete(struct store_txn *t, const char *table,
                       const void *key, size_t key_len,
                       struct loom_version *version_out, uint64_t *seq_out)
{
	return local_write(t, LOCAL_DELETE, table, key, key_len, NULL, 0,
	                   version_out, seq_out);
}

int store_apply_remote(struct store_txn *t, uint16_t origin, uint64_t seq,
                       const void *entry, size_t entry_len,
                       enum store_apply_result *result)
{
	struct store *s;
	struct loom_entry e;
	struct store_record old;
	uint8_t kb[RKEY_MAX];
	MDB_val k, v;
	MDB_dbi log;
	uint64_t cur;
	size_t used;
	bool found, newer = true;
	int rc;

	if (t == NULL || t->txn == NULL || result == NULL)
		return EINVAL;
	s = t->s;
	if (origin == s->node_id || seq == 0)
		return EINVAL;
	rc = loom_entry_decode(entry, entry_len, &e, &used);
	if (rc || used != entry_len)
		return EBADMSG;
	if (e.version.origin != origin)
		return EINVAL;
	if ((rc = cursor_get(t->txn, s->cursors, origin, &cur)))
		return rc;
	if (seq <= cur) {
		*result = STORE_DUPLICATE;
		return 0;
	}
	if (seq != cur + 1)
		return STORE_EGAP;
	if ((rc = log_dbi_for(t, origin, &log)))
		return rc;

	k = mval(kb, rec_key(kb, e.table, e.table_len, e.key, e.key_len));
	rc = mdb_get(t->txn, s->records, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	found = rc == 0;
	if (found) {
		int c;
		if ((rc = rec_parse(&v, &old)))
			return rc;
		c = loom_version_cmp(e.version, old.version);
		newer = c > 0;
		*result = c == 0 ? STORE_SAME
		                 : (c < 0 ? STORE_SUPERSEDED : STORE_APPLIED);
	} else {
		*result = STORE_APPLIED;
	}
	if (newer && (rc = rec_replace(t, &k, &e, found ? &old : NULL, seq)))
		return rc;
	if ((rc = log_append(t, log, seq, &e, entry, entry_len)) ||
	    (rc = cursor_put(t->txn, s->cursors, origin, seq)))
		return rc;
	hlc_observe(&s->hlc, e.version.hlc);
	return bump_floor(t);
}

int store_txn_cursor(struct store_txn *t, uint16_t origin, uint64_t *seq)
{
	if (t == NULL || t->txn == NULL || seq == NULL)
		return EINVAL;
	return cursor_get(t->txn, t->s->cursors, origin, seq);
}

/* ---- merge copy and retention ---------------------------------------- */

int store_apply_copy(struct store_txn *t, const char *table, const void *key,
                     size_t key_len, struct loom_version v, bool tombstone,
                     const void *body, size_t body_len,
                     enum store_apply_result *res)
{
	struct store *s;
	uint8_t kb[RKEY_MAX];
	size_t tlen = table ? strnlen(table, LOOM_TABLE_MAX + 1) : 0;
	struct loom_entry e;
	struct store_record old;
	MDB_val k, val;
	bool found;
	int rc;

	if (t == NULL || t->txn == NULL || res == NULL)
		return EINVAL;
	s = t->s;
	if (!loom_table_valid(table, tlen) || key == NULL || key_len < 1 ||
	    key_len > LOOM_KEY_MAX || body_len > LOOM_ENTRY_BODY_MAX ||
	    (body_len && body == NULL) || (tombstone && body_len))
		return EINVAL;
	e.op = tombstone ? LOOM_OP_DELETE : LOOM_OP_PUT;
	e.table = table;
	e.table_len = (uint8_t)tlen;
	e.key = key;
	e.key_len = (uint8_t)key_len;
	e.body = body;
	e.body_len = (uint32_t)body_len;
	e.version = v;

	k = mval(kb, rec_key(kb, table, tlen, key, key_len));
	rc = mdb_get(t->txn, s->records, &k, &val);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	found = rc == 0;
	*res = STORE_APPLIED;
	if (found) {
		int c;
		if ((rc = rec_parse(&val, &old)))
			return rc;
		c = loom_version_cmp(v, old.version);
		if (c <= 0)
			*res = c == 0 ? STORE_SAME : STORE_SUPERSEDED;
	}
	/* seq 0: the seq of the write in its origin's log is not part of a
	 * copy (nor needed: LWW and the cursors never read a record's seq) */
	if (*res == STORE_APPLIED &&
	    (rc = rec_replace(t, &k, &e, found ? &old : NULL, 0)))
		return rc;
	hlc_observe(&s->hlc, v.hlc);
	return bump_floor(t);
}

int store_cursor_raise(struct store_txn *t, uint16_t origin, uint64_t seq)
{
	struct store *s;
	uint64_t cur;
	int rc;

	if (t == NULL || t->txn == NULL)
		return EINVAL;
	s = t->s;
	if ((rc = cursor_get(t->txn, s->cursors, origin, &cur)) || seq <= cur)
		return rc;
	/* the log now misses (cur, seq]: say so before anyone serves it */
	if ((rc = cursor_put(t->txn, s->cursors, origin, seq)) ||
	    (rc = log_floor_raise(t->txn, s->meta, origin, seq)))
		return rc;
	if (origin == s->node_id)
		t->own_seq = seq;
	return 0;
}

/* A pruned delete entry takes its tombstone along if the record is still
 * exactly that tombstone (a newer write, or a tombstone of another delete,
 * stays). */
static int purge_tombstone(struct store_txn *t, const void *ent, size_t len)
{
	struct store *s = t->s;
	uint8_t kb[RKEY_MAX];
	struct loom_entry e;
	struct store_record rec;
	MDB_val k, v;
	size_t used;
	int rc;

	if (loom_entry_decode(ent, len, &e, &used) != 0 || used != len)
		return EBADMSG;
	if (e.op != LOOM_OP_DELETE)
		return 0;
	k = mval(kb, rec_key(kb, e.table, e.table_len, e.key, e.key_len));
	rc = mdb_get(t->txn, s->records, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc || (rc = rec_parse(&v, &rec)))
		return rc;
	if (!rec.tombstone || loom_version_cmp(rec.version, e.version) != 0)
		return 0;
	return mdb_del(t->txn, s->records, &k, NULL);
}

int store_log_prune(struct store_txn *t, uint16_t origin, uint64_t upto_seq,
                    uint64_t purge_upto, unsigned max_entries,
                    unsigned *pruned)
{
	MDB_cursor *c;
	MDB_dbi log;
	MDB_val k, v;
	uint64_t top = 0;
	unsigned n = 0;
	int rc;

	if (t == NULL || t->txn == NULL || pruned == NULL)
		return EINVAL;
	*pruned = 0;
	if (max_entries == 0 || !log_dbi_find(t, origin, &log))
		return 0;
	if ((rc = mdb_cursor_open(t->txn, log, &c)))
		return rc;
	while (n < max_entries) {
		uint64_t seq;

		/* always the first: the cursor's position after a delete is
		 * LMDB's business, the first key is not */
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (k.mv_size != 8) {
			rc = EBADMSG;
			break;
		}
		seq = get_be(k.mv_data, 8);
		if (seq > upto_seq)
			break;
		if ((seq <= purge_upto &&
		     (rc = purge_tombstone(t, v.mv_data, v.mv_size))) ||
		    (rc = mdb_cursor_del(c, 0)))
			break;
		top = seq;
		n++;
	}
	mdb_cursor_close(c);
	if (rc == 0 && n)
		rc = log_floor_raise(t->txn, t->s->meta, origin, top);
	if (rc == 0)
		*pruned = n;
	return rc;
}

/* ---- readers --------------------------------------------------------- */

int store_reader_init(struct store *s, struct store_reader *r)
{
	int rc;

	r->s = s;
	r->active = false;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
	if (rc)
		return rc;
	mdb_txn_reset(r->txn);
	return 0;
}

int store_read_begin(struct store_reader *r)
{
	int rc;

	if (r->active)
		return 0;
	rc = mdb_txn_renew(r->txn);
	if (rc == 0)
		r->active = true;
	return rc;
}

void store_read_end(struct store_reader *r)
{
	if (r->active)
		mdb_txn_reset(r->txn);
	r->active = false;
}

void store_reader_fini(struct store_reader *r)
{
	if (r->txn)
		mdb_txn_abort(r->txn);
	r->txn = NULL;
	r->active = false;
}

int store_get(struct store_reader *r, const char *table, const void *key,
              size_t key_len, struct store_record *rec)
{
	uint8_t kb[RKEY_MAX];
	size_t tlen = table ? strnlen(table, LOOM_TABLE_MAX + 1) : 0;
	MDB_val k, v;
	int rc;

	if (!r->active || !loom_table_valid(table, tlen) || key == NULL ||
	    key_len < 1 || key_len > LOOM_KEY_MAX)
		return EINVAL;
	k = mval(kb, rec_key(kb, table, tlen, key, key_len));
	rc = mdb_get(r->txn, r->s->records, &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	return rec_parse(&v, rec);
}

int store_cursor(struct store_reader *r, uint16_t origin, uint64_t *seq)
{
	if (!r->active)
		return EINVAL;
	return cursor_get(r->txn, r->s->cursors, origin, seq);
}

int store_record_count(struct store_reader *r, uint64_t *n)
{
	if (!r->active)
		return EINVAL;
	MDB_stat st;
	int rc = mdb_stat(r->txn, r->s->records, &st);
	if (rc != 0)
		return rc;
	*n = st.ms_entries;
	return 0;
}

static int digest_parse(const MDB_val *v, uint64_t *records, uint64_t *sum)
{
	if (v->mv_size != DIGEST_VAL)
		return EBADMSG;
	*records = get_be(v->mv_data, 8);
	*sum = get_be((const uint8_t *)v->mv_data + 8, 8);
	return 0;
}

int store_digest(struct store_reader *r, const char *table,
                 uint64_t *records, uint64_t *sum)
{
	size_t tlen = table ? strnlen(table, LOOM_TABLE_MAX + 1) : 0;
	MDB_val k, v;
	int rc;

	if (!r->active || !loom_table_valid(table, tlen))
		return EINVAL;
	k = mval((void *)table, tlen);
	rc = mdb_get(r->txn, r->s->digests, &k, &v);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	return digest_parse(&v, records, sum);
}

int store_digest_iter_open(struct store_reader *r,
                           struct store_digest_iter *it)
{
	it->cur = NULL;
	it->first = true;
	if (!r->active)
		return EINVAL;
	return mdb_cursor_open(r->txn, r->s->digests, &it->cur);
}

int store_digest_next(struct store_digest_iter *it, char *table_out,
                      size_t cap, uint64_t *records, uint64_t *sum)
{
	MDB_val k, v;
	int rc;

	if (it->cur == NULL)
		return ENOENT;
	rc = mdb_cursor_get(it->cur, &k, &v, it->first ? MDB_FIRST : MDB_NEXT);
	it->first = false;
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	if (k.mv_size < 1 || k.mv_size > LOOM_TABLE_MAX)
		return EBADMSG;
	if (k.mv_size >= cap)
		return ENOSPC;
	memcpy(table_out, k.mv_data, k.mv_size);
	table_out[k.mv_size] = '\0';
	return digest_parse(&v, records, sum);
}

void store_digest_iter_close(struct store_digest_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

/* log.<origin> in a reader; false if this snapshot has no such log. */
static int reader_log_cursor(struct store_reader *r, uint16_t origin,
                             MDB_cursor **cur)
{
	uint32_t d = atomic_load_explicit(&r->s->log_dbi[origin],
	                                  memory_order_acquire);
	int rc;

	*cur = NULL;
	if (d == 0)
		return 0; /* no log yet */
	rc = mdb_cursor_open(r->txn, d, cur);
	if (rc == EINVAL) {
		/* created after this snapshot began: empty in this snapshot */
		*cur = NULL;
		return 0;
	}
	return rc;
}

int store_log_iter_open(struct store_reader *r, uint16_t origin,
                        uint64_t from_seq, struct store_log_iter *it)
{
	it->cur = NULL;
	it->first = true;
	put_be(it->from, from_seq, 8);
	if (!r->active)
		return EINVAL;
	return reader_log_cursor(r, origin, &it->cur);
}

int store_log_iter_next(struct store_log_iter *it, uint64_t *seq,
                        const void **entry, size_t *entry_len)
{
	MDB_val k = mval(it->from, 8), v;
	int rc;

	if (it->cur == NULL)
		return ENOENT;
	rc = mdb_cursor_get(it->cur, &k, &v,
	                    it->first ? MDB_SET_RANGE : MDB_NEXT);
	it->first = false;
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	if (k.mv_size != 8)
		return EBADMSG;
	*seq = get_be(k.mv_data, 8);
	*entry = v.mv_data;
	*entry_len = v.mv_size;
	return 0;
}

void store_log_iter_close(struct store_log_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

int store_log_oldest(struct store_reader *r, uint16_t origin, uint64_t *seq)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (!r->active)
		return EINVAL;
	if ((rc = reader_log_cursor(r, origin, &c)))
		return rc;
	if (c == NULL)
		return ENOENT;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	if (k.mv_size != 8)
		return EBADMSG;
	*seq = get_be(k.mv_data, 8);
	return 0;
}

int store_log_floor(struct store_reader *r, uint16_t origin, uint64_t *seq)
{
	if (!r->active)
		return EINVAL;
	return log_floor_get(r->txn, r->s->meta, origin, seq);
}

int store_cursor_iter_open(struct store_reader *r, uint16_t from_origin,
                           struct store_cursor_iter *it)
{
	it->cur = NULL;
	it->first = true;
	put_be(it->from, from_origin, 2);
	if (!r->active)
		return EINVAL;
	return mdb_cursor_open(r->txn, r->s->cursors, &it->cur);
}

int store_cursor_iter_next(struct store_cursor_iter *it, uint16_t *origin,
                           uint64_t *seq)
{
	MDB_val k = mval(it->from, 2), v;
	int rc;

	if (it->cur == NULL)
		return ENOENT;
	rc = mdb_cursor_get(it->cur, &k, &v,
	                    it->first ? MDB_SET_RANGE : MDB_NEXT);
	it->first = false;
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	if (k.mv_size != 2 || v.mv_size != 8)
		return EBADMSG;
	*origin = (uint16_t)get_be(k.mv_data, 2);
	*seq = get_be(v.mv_data, 8);
	return 0;
}

void store_cursor_iter_close(struct store_cursor_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

int store_record_iter_open(struct store_reader *r, const char *after_table,
                           const void *after_key, size_t after_key_len,
                           struct store_record_iter *it)
{
	it->cur = NULL;
	it->from_len = 0;
	it->first = true;
	if (!r->active)
		return EINVAL;
	if (after_table != NULL) {
		size_t tlen = strnlen(after_table, LOOM_TABLE_MAX + 1);

		if (!loom_table_valid(after_table, tlen) ||
		    after_key == NULL || after_key_len < 1 ||
		    after_key_len > LOOM_KEY_MAX)
			return EINVAL;
		it->from_len = rec_key(it->from, after_table, tlen, after_key,
		                       after_key_len);
	}
	return mdb_cursor_open(r->txn, r->s->records, &it->cur);
}

int store_record_iter_next(struct store_record_iter *it,
                           struct store_record_item *item)
{
	MDB_val k = mval(it->from, it->from_len), v;
	const uint8_t *key;
	int rc;

	if (it->cur == NULL)
		return ENOENT;
	if (!it->first)
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
	else if (it->from_len == 0)
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_FIRST);
	else {
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
		/* strictly after the resume point */
		if (rc == 0 && k.mv_size == it->from_len &&
		    memcmp(k.mv_data, it->from, it->from_len) == 0)
			rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
	}
	it->first = false;
	if (rc == MDB_NOTFOUND)
		return ENOENT;
	if (rc)
		return rc;
	if ((rc = rkey_split(&k, &item->table, &item->table_len, &key,
	                     &item->key_len)))
		return rc;
	item->key = key;
	return rec_parse(&v, &item->rec);
}

void store_record_iter_close(struct store_record_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

/* batch.c - group commit of client writes; see batch.h for the contract. */
#include "storage/batch.h"

#include <errno.h>
#include <string.h>

/* Outcomes of one batch, merged into the counters only once the commit
 * has decided them. */
struct tally {
	uint64_t posts, puts, deletes, exists, not_found, invalid;
};

/* The request's own layout (write_req.h) must fit its buffer, a body (POST,
 * PUT; a DELETE's body fields are not read) may not overlap the key, and
 * the table must be a C string of exactly table_len bytes: an embedded NUL
 * would make the store see a shorter (valid) table name and write to the
 * wrong table. 64-bit sums: no u32 field can overflow them. */
static bool req_well_formed(const struct write_req *r)
{
	uint64_t key_end = (uint64_t)r->table_len + 1 + r->key_len;
	uint64_t body_end = (uint64_t)r->body_off + r->body_len;

	if (key_end > r->cap ||
	    strnlen(r->data, r->table_len + 1u) != r->table_len)
		return false;
	return r->op == WRITE_DELETE ||
	       (r->body_off >= key_end && body_end <= r->cap);
}

/* Apply one request inside t. Returns 0 when the request got its result
 * (OK or a refusal that leaves the txn usable), else the code that must
 * abort the txn. */
static int apply_one(struct store_txn *t, struct write_req *r,
                     struct tally *y)
{
	struct loom_version v = {0, 0};
	uint64_t seq = 0;
	int rc;

	if (!req_well_formed(r)) {
		rc = EINVAL;
	} else {
		const char *table = write_req_table(r);
		const char *key = write_req_key(r);

		switch (r->op) {
		case WRITE_POST:
			rc = store_local_put(t, table, key, r->key_len,
			                     write_req_body(r), r->body_len,
			                     &v, &seq);
			break;
		case WRITE_PUT:
			rc = store_local_upsert(t, table, key, r->key_len,
			                        write_req_body(r), r->body_len,
			                        &v, &seq);
			break;
		case WRITE_DELETE:
			rc = store_local_delete(t, table, key, r->key_len, &v,
			                        &seq);
			break;
		default:
			rc = EINVAL; /* nothing to call: refuse like the store */
			break;
		}
	}

	r->store_err = rc;
	r->version = (struct loom_version){0, 0};
	r->seq = 0;
	switch (rc) {
	case 0:
		r->result = WRITE_OK;
		r->version = v;
		r->seq = seq;
		if (r->op == WRITE_POST)
			y->posts++;
		else if (r->op == WRITE_PUT)
			y->puts++;
		else
			y->deletes++;
		return 0;
	case EEXIST:
		r->result = WRITE_EXISTS;
		y->exists++;
		return 0;
	case ENOENT:
		r->result = WRITE_NOT_FOUND;
		y->not_found++;
		return 0;
	case EINVAL:
		r->result = WRITE_INVALID;
		y->invalid++;
		return 0;
	default:
		/* An LMDB error, or a positive code store.h does not list as
		 * harmless: the txn may hold half a write. */
		return rc;
	}
}

/* Nothing of the batch was committed: say so to every request. */
static void fail_all(struct write_req *const *reqs, unsigned n, int rc,
                     struct storage_counters *c)
{
	int32_t res = rc == MDB_MAP_FULL ? WRITE_FULL : WRITE_FAILED;

	for (unsigned i = 0; i < n; i++) {
		reqs[i]->result = res;
		reqs[i]->store_err = rc;
		reqs[i]->version = (struct loom_version){0, 0};
		reqs[i]->seq = 0;
	}
	if (res == WRITE_FULL)
		c->full += n;
	else
		c->failed += n;
	c->txn_errors++;
}

int storage_apply_batch(struct store *s, struct write_req *const *reqs,
                        unsigned n, struct storage_counters *c,
                        uint64_t (*now_ns)(void))
{
	struct tally y = {0};
	struct store_txn *t;
	uint64_t t0 = 0, dt;
	int rc;

	if (n == 0)
		return 0;
	c->entries += n;
	c->batch_hist[storage_batch_bucket(n)]++;
	if (now_ns != NULL)
		t0 = now_ns();

	rc = store_txn_begin(s, &t);
	if (rc) {
		fail_all(reqs, n, rc, c);
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		rc = apply_one(t, reqs[i], &y);
		if (rc) {
			store_txn_abort(t);
			fail_all(reqs, n, rc, c);
			return rc;
		}
	}
	rc = store_txn_commit(t); /* frees the txn on failure too */
	if (rc) {
		fail_all(reqs, n, rc, c);
		return rc;
	}

	c->commits++;
	c->posts += y.posts;
	c->puts += y.puts;
	c->deletes += y.deletes;
	c->exists += y.exists;
	c->not_found += y.not_found;
	c->invalid += y.invalid;
	if (now_ns != NULL) {
		dt = now_ns() - t0;
		c->commit_ns_total += dt;
		if (dt > c->commit_ns_max)
			c->commit_ns_max = dt;
	}
	return 0;
}

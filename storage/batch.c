/* batch.c - group commit of client writes; see batch.h for the contract. */
#include "storage/batch.h"

#include <errno.h>
#include <string.h>

/* Outcomes of one batch, merged into the counters only once the commit
 * has decided them. */
struct tally {
	uint64_t posts, puts, deletes, exists, not_found, invalid;
	uint64_t remote_batches, remote_gaps, remote_applied, remote_dups,
		remote_superseded;
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

/* A WRITE_REMOTE request as batch.h requires it, checked whole before any
 * entry is applied: store_apply_remote would refuse a bad entry too, but
 * only once the entries before it were applied, and a malformed request
 * must not be left half-applied. */
static bool remote_well_formed(const struct write_req *r, uint16_t self)
{
	uint64_t body_end = (uint64_t)r->body_off + r->body_len;
	const uint8_t *p;
	size_t off = 0;

	if (body_end > r->cap || r->n_entries == 0 || r->origin == self ||
	    r->first_seq == 0 || r->first_seq > UINT64_MAX - r->n_entries)
		return false;
	p = (const uint8_t *)write_req_body(r);
	for (uint32_t i = 0; i < r->n_entries; i++) {
		struct loom_entry e;
		size_t used;

		if (loom_entry_decode(p + off, r->body_len - off, &e, &used) !=
		        0 ||
		    e.version.origin != r->origin)
			return false;
		off += used;
	}
	return off == r->body_len;
}

/* Apply a well-formed WRITE_REMOTE inside t (batch.h). Returns 0 when the
 * request got its result, else the code that must abort the txn. */
static int apply_remote(struct store_txn *t, struct write_req *r,
                        struct tally *y)
{
	const uint8_t *p = (const uint8_t *)write_req_body(r);
	uint64_t applied = 0, dups = 0, superseded = 0, cur;
	bool gap = false;
	size_t off = 0;
	int rc;

	for (uint32_t i = 0; i < r->n_entries; i++) {
		enum store_apply_result res;
		struct loom_entry e;
		size_t used;

		/* validated: cannot fail, but say so to the compiler */
		if (loom_entry_decode(p + off, r->body_len - off, &e, &used))
			return EBADMSG;
		rc = store_apply_remote(t, r->origin, r->first_seq + i,
		                        p + off, used, &res);
		if (rc == STORE_EGAP) {
			gap = true;
			break;
		}
		if (rc == EINVAL || rc == EBADMSG) {
			/* validation let through what the store refuses:
			 * harmless while nothing of the request is written,
			 * else it would be half-applied */
			if (applied != 0)
				return rc;
			r->result = WRITE_INVALID;
			r->store_err = rc;
			y->invalid++;
			return 0;
		}
		if (rc)
			return rc;
		if (res == STORE_DUPLICATE) {
			dups++;
		} else {
			applied++;
			if (res != STORE_APPLIED)
				superseded++;
		}
		off += used;
	}
	if ((rc = store_txn_cursor(t, r->origin, &cur)))
		return rc;
	r->seq = cur;
	r->result = gap ? WRITE_GAP : WRITE_OK;
	r->store_err = gap ? STORE_EGAP : 0;
	if (gap)
		y->remote_gaps++;
	else
		y->remote_batches++;
	y->remote_applied += applied;
	y->remote_dups += dups;
	y->remote_superseded += superseded;
	return 0;
}

/* Apply one request inside t. Returns 0 when the request got its result
 * (OK or a refusal that leaves the txn usable), else the code that must
 * abort the txn. */
static int apply_one(struct store_txn *t, uint16_t self, struct write_req *r,
                     struct tally *y)
{
	struct loom_version v = {0, 0};
	uint64_t seq = 0;
	int rc;

	if (r->op == WRITE_REMOTE) {
		r->version = (struct loom_version){0, 0};
		r->seq = 0;
		if (remote_well_formed(r, self))
			return apply_remote(t, r, y);
		r->result = WRITE_INVALID;
		r->store_err = EINVAL;
		y->invalid++;
		return 0;
	}
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
		rc = apply_one(t, store_node_id(s), reqs[i], &y);
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
	c->remote_batches += y.remote_batches;
	c->remote_gaps += y.remote_gaps;
	c->remote_entries_applied += y.remote_applied;
	c->remote_duplicates += y.remote_dups;
	c->remote_superseded += y.remote_superseded;
	if (now_ns != NULL) {
		dt = now_ns() - t0;
		c->commit_ns_total += dt;
		if (dt > c->commit_ns_max)
			c->commit_ns_max = dt;
	}
	return 0;
}

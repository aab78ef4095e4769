/* batch.c - group commit of client writes; see batch.h for the contract. */
#include "storage/batch.h"

#include <errno.h>
#include <string.h>

#include "storage/be.h"
#include "storage/copy_record.h"

#define COPY_END_PAIR 10 /* origin u16 | seq u64 */

/* Outcomes of one batch, merged into the counters only once the commit
 * has decided them. */
struct tally {
	uint64_t posts, puts, deletes, exists, not_found, invalid;
	uint64_t remote_batches, remote_gaps, remote_applied, remote_dups,
		remote_superseded;
	uint64_t copy_batches, copy_ends, copy_records, copy_superseded;
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

/* A WRITE_COPY request as batch.h requires it, checked whole before any
 * record is applied (the decoder's checks are exactly what
 * store_apply_copy accepts). */
static bool copy_well_formed(const struct write_req *r, uint16_t self)
{
	uint64_t body_end = (uint64_t)r->body_off + r->body_len;
	const uint8_t *p;
	size_t off = 0;

	if (body_end > r->cap || r->n_entries == 0 || r->origin == 0 ||
	    r->origin == self)
		return false;
	p = (const uint8_t *)write_req_body(r);
	for (uint32_t i = 0; i < r->n_entries; i++) {
		struct copy_record cr;
		size_t used;

		if (copy_record_decode(p + off, r->body_len - off, &cr,
		                       &used) != 0)
			return false;
		off += used;
	}
	return off == r->body_len;
}

/* Apply a well-formed WRITE_COPY inside t. Returns 0 when the request got
 * its result, else the code that must abort the txn. */
static int apply_copy(struct store_txn *t, struct write_req *r,
                      struct tally *y)
{
	const uint8_t *p = (const uint8_t *)write_req_body(r);
	uint64_t superseded = 0;
	size_t off = 0;
	int rc;

	for (uint32_t i = 0; i < r->n_entries; i++) {
		char table[LOOM_TABLE_MAX + 1];
		enum store_apply_result res;
		struct copy_record cr;
		size_t used;

		/* validated: cannot fail, but say so to the compiler */
		if (copy_record_decode(p + off, r->body_len - off, &cr, &used))
			return EBADMSG;
		memcpy(table, cr.table, cr.table_len);
		table[cr.table_len] = '\0';
		rc = store_apply_copy(t, table, cr.key, cr.key_len, cr.version,
		                      cr.tombstone, cr.body, cr.body_len, &res);
		if (rc == EINVAL && i == 0) {
			/* validation let through what the store refuses:
			 * harmless while nothing of the request is written */
			r->result = WRITE_INVALID;
			r->store_err = rc;
			y->invalid++;
			return 0;
		}
		if (rc)
			return rc; /* half-applied otherwise: abort */
		if (res != STORE_APPLIED)
			superseded++;
		off += used;
	}
	r->result = WRITE_OK;
	r->store_err = 0;
	y->copy_batches++;
	y->copy_records += r->n_entries;
	y->copy_superseded += superseded;
	return 0;
}

/* A WRITE_COPY_END request as batch.h requires it. */
static bool copy_end_well_formed(const struct write_req *r, uint16_t self)
{
	uint64_t body_end = (uint64_t)r->body_off + r->body_len;
	const uint8_t *p;

	if (body_end > r->cap || r->origin == 0 || r->origin == self ||
	    (uint64_t)r->n_entries * COPY_END_PAIR != r->body_len)
		return false;
	p = (const uint8_t *)write_req_body(r);
	for (uint32_t i = 0; i < r->n_entries; i++)
		if (get_be(p + (size_t)i * COPY_END_PAIR, 2) == 0)
			return false;
	return true;
}

/* Raise the cursors of a well-formed WRITE_COPY_END inside t. */
static int apply_copy_end(struct store_txn *t, struct write_req *r,
                          struct tally *y)
{
	const uint8_t *p = (const uint8_t *)write_req_body(r);
	uint64_t cur;
	int rc;

	for (uint32_t i = 0; i < r->n_entries; i++) {
		const uint8_t *q = p + (size_t)i * COPY_END_PAIR;

		rc = store_cursor_raise(t, (uint16_t)get_be(q, 2),
		                        get_be(q + 2, 8));
		if (rc == EINVAL && i == 0) {
			r->result = WRITE_INVALID;
			r->store_err = rc;
			y->invalid++;
			return 0;
		}
		if (rc)
			return rc;
	}
	if ((rc = store_txn_cursor(t, r->origin, &cur)))
		return rc;
	r->seq = cur;
	r->result = WRITE_OK;
	r->store_err = 0;
	y->copy_ends++;
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
	bool ok;
	int rc;

	if (r->op == WRITE_REMOTE || r->op == WRITE_COPY ||
	    r->op == WRITE_COPY_END) {
		r->version = (struct loom_version){0, 0};
		r->seq = 0;
		if (r->op == WRITE_REMOTE)
			ok = remote_well_formed(r, self);
		else if (r->op == WRITE_COPY)
			ok = copy_well_formed(r, self);
		else
			ok = copy_end_well_formed(r, self);
		if (ok && r->op == WRITE_REMOTE)
			return apply_remote(t, r, y);
		if (ok && r->op == WRITE_COPY)
			return apply_copy(t, r, y);
		if (ok)
			return apply_copy_end(t, r, y);
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
	c->copy_batches += y.copy_batches;
	c->copy_ends += y.copy_ends;
	c->copy_records += y.copy_records;
	c->copy_superseded += y.copy_superseded;
	if (now_ns != NULL) {
		dt = now_ns() - t0;
		c->commit_ns_total += dt;
		if (dt > c->commit_ns_max)
			c->commit_ns_max = dt;
	}
	return 0;
}

/* ---- log retention ---------------------------------------------------- */

/* What one step deletes from one log: its first n entries, up to seq upto. */
struct prune_plan {
	uint16_t origin;
	unsigned n;
	uint64_t upto;
};

/* Walk log.<origin> from its oldest entry while the entries have seq <=
 * bound and a version no younger than cutoff_ms, at most budget of them:
 * *n of them pass, the last being *upto. */
static int prune_scan(struct store_reader *rd, uint16_t origin,
                      uint64_t bound, uint64_t cutoff_ms, unsigned budget,
                      uint64_t *upto, unsigned *n)
{
	struct store_log_iter it;
	int rc;

	*n = 0;
	*upto = 0;
	rc = store_log_iter_open(rd, origin, 0, &it);
	while (rc == 0 && *n < budget) {
		struct loom_entry e;
		const void *ent;
		size_t len, used;
		uint64_t seq;

		rc = store_log_iter_next(&it, &seq, &ent, &len);
		if (rc)
			break;
		if (seq > bound)
			break;
		if (loom_entry_decode(ent, len, &e, &used) != 0 ||
		    used != len) {
			rc = EBADMSG;
			break;
		}
		if (hlc_ms(e.version.hlc) > cutoff_ms)
			break; /* too young, and so is every later entry */
		*upto = seq;
		(*n)++;
	}
	store_log_iter_close(&it);
	return rc == ENOENT ? 0 : rc;
}

/* The read half of a step: plan[] from the cursors and the logs. Returns
 * 0 or the reader's error; *stopped when the budget or plan[] ran out. */
static int prune_plan_step(struct store *s, struct store_reader *rd,
                           const struct storage_prune_policy *p,
                           struct storage_prune_state *st,
                           struct prune_plan *plan, unsigned *np,
                           bool *stopped)
{
	uint64_t cutoff = p->now_ms - p->retention_ms;
	uint32_t resume = st->next_origin & 0xffff;
	unsigned budget = p->max_entries;
	uint16_t self = store_node_id(s);
	int rc = 0;

	*np = 0;
	*stopped = false;
	/* origins resume..65535, then 0..resume-1 */
	for (int pass = 0; pass < 2 && rc == 0 && !*stopped; pass++) {
		struct store_cursor_iter it;

		if (pass == 1 && resume == 0)
			break;
		rc = store_cursor_iter_open(rd, pass == 0 ? (uint16_t)resume : 0,
		                            &it);
		while (rc == 0 && !*stopped) {
			uint64_t cur, bound, upto;
			uint16_t origin;
			unsigned n;

			rc = store_cursor_iter_next(&it, &origin, &cur);
			if (rc)
				break;
			if (pass == 1 && origin >= resume) {
				rc = ENOENT;
				break;
			}
			bound = cur;
			if (origin == self) {
				/* no peer up: nobody said what it holds */
				if (!p->own_acked_known)
					continue;
				if (p->own_acked < bound)
					bound = p->own_acked;
			}
			if (bound == 0)
				continue;
			rc = prune_scan(rd, origin, bound, cutoff, budget, &upto,
			                &n);
			if (rc)
				break;
			if (n != 0) {
				plan[*np] = (struct prune_plan){origin, n, upto};
				(*np)++;
				budget -= n;
			}
			if (budget == 0 || *np == STORAGE_PRUNE_MAX_ORIGINS) {
				*stopped = true;
				st->next_origin = ((uint32_t)origin + 1) & 0xffff;
			}
		}
		store_cursor_iter_close(&it);
		if (rc == ENOENT)
			rc = 0;
	}
	return rc;
}

int storage_prune_step(struct store *s, struct store_reader *reader,
                       const struct storage_prune_policy *p,
                       struct storage_prune_state *st,
                       struct storage_counters *c, unsigned *pruned,
                       bool *more)
{
	struct prune_plan plan[STORAGE_PRUNE_MAX_ORIGINS];
	struct store_txn *t;
	unsigned np = 0, total = 0;
	bool stopped = false;
	int rc;

	*pruned = 0;
	*more = false;
	/* nothing can be retention_ms old yet */
	if (p->max_entries == 0 || p->now_ms < p->retention_ms)
		return 0;

	/* Decide in a read txn, ended before the write txn begins: this
	 * thread is the only writer, so the write txn starts from the very
	 * snapshot the plan was made on. */
	rc = store_read_begin(reader);
	if (rc == 0)
		rc = prune_plan_step(s, reader, p, st, plan, &np, &stopped);
	store_read_end(reader);
	if (rc)
		goto fail;
	if (np == 0)
		return 0;

	if ((rc = store_txn_begin(s, &t)))
		goto fail;
	for (unsigned i = 0; i < np; i++) {
		unsigned got;

		uint64_t purge = plan[i].origin == store_node_id(s)
			? p->own_acked_all : 0;
		rc = store_log_prune(t, plan[i].origin, plan[i].upto, purge,
		                     plan[i].n, &got);
		if (rc) {
			store_txn_abort(t);
			goto fail;
		}
		total += got;
	}
	if ((rc = store_txn_commit(t)))
		goto fail;
	c->prunes++;
	c->pruned_entries += total;
	*pruned = total;
	*more = stopped;
	return 0;
fail:
	c->prune_errors++;
	return rc;
}

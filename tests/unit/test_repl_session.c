/* The replication sessions (dataplane/repl/session.h) end to end without
 * DPDK.
 *
 * Two or three nodes (node id k at 10.0.0.k), each a harness TCP stack
 * (tcp_harness.h), a real LMDB store in a mkdtemp directory and a repl
 * session. The test routes every sent frame to the node owning its
 * destination address (the harness's th_pump knows two nodes only), and
 * can drop, corrupt or replay frames in flight (the TCP checksum fixed up,
 * so the damage reaches the frame layer). Each node's repl_ops take
 * buffers from a small counted pool and queue WRITE_REMOTEs; the test's
 * "storage step" applies the queue with storage_apply_batch() and hands
 * every request back through repl_complete(), as the storage lcore and
 * the completion ring would. Local writes go straight into a node's store
 * (store_txn_begin / store_local_upsert / commit) and ops->own_seq returns
 * store_own_seq(). Time moves in STEP_MS steps on every node; each step
 * runs rounds of route / storage / repl_poll until the nodes are quiet.
 * Merge resyncs: a node's own log is pruned directly (store_log_prune)
 * past a peer's cursor, so the peer's SUBSCRIBE (or the stream running
 * into the pruned entries) starts a copy.
 *
 * Every case builds a fresh fixture and tears it down checking that every
 * pool buffer came back exactly once, no node leaked a frame, and the
 * stores close and their directories go.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "tcp_harness.h"
#include "dataplane/repl/frame.h"
#include "dataplane/repl/msg.h"
#include "dataplane/repl/session.h"
#include "storage/batch.h"

#define TMP_PREFIX "/tmp/loom-repl-"
#define PORT 9933
#define MAXN 3
#define POOL_N 32
#define MAX_FRAME 65536
#define STEP_MS 5
#define IO_INDEX 5
#define CLUSTER 0x10c0ffee5eedull
#define TABLE "items"
#define BATCH_MAX 64
#define WINDOW 256
#define PING_MS 100
#define DEAD_MS 600

/* --- the fixture ---------------------------------------------------------- */

struct pool {
	struct write_req *buf[POOL_N];
	bool used[POOL_N];
	unsigned in_use, allocs, frees, bad_frees;
};

struct node {
	uint16_t id;
	struct th_node *th;
	struct store *st;
	char dir[64];
	struct repl *repl;
	struct pool pool;
	struct write_req *q[256];
	unsigned qn;
	bool alloc_fail, submit_fail;
	unsigned gap_once, forced_gaps;
	unsigned copy_fail_once, forced_copy_fails;
	unsigned submits, completes, bad_submits;
	uint64_t written; /* local writes */
	struct storage_counters sc;
};

/* Damage in flight, from node index `from` to `to`. */
enum tamper { T_NONE, T_FLIP, T_REPLAY };

struct fx {
	struct node n[MAXN];
	unsigned nn;
	uint64_t clock_ms;
	bool cut[MAXN][MAXN];
	enum tamper tamper;
	unsigned t_from, t_to;
	unsigned flips, replays;
	uint8_t captured[2048];
	uint16_t captured_len;
	unsigned loss_pct; /* random loss on every link */
	unsigned drop_rst_from; /* node index + 1: its RSTs are lost */
	uint32_t seed;
};

static struct fx F;

static uint64_t fake_now(void *ctx)
{
	return *(uint64_t *)ctx;
}

static struct write_req *p_alloc(void *user, size_t bytes)
{
	struct node *n = user;
	struct pool *p = &n->pool;
	if (n->alloc_fail || bytes > MAX_FRAME)
		return NULL;
	for (unsigned i = 0; i < POOL_N; i++) {
		if (p->used[i])
			continue;
		p->used[i] = true;
		p->in_use++;
		p->allocs++;
		struct write_req *r = p->buf[i];
		memset(r, 0xa5, sizeof *r + 64); /* garbage to overwrite */
		r->cap = MAX_FRAME;
		r->pool = p;
		return r;
	}
	return NULL;
}

static void p_free(void *user, struct write_req *r)
{
	struct pool *p = &((struct node *)user)->pool;
	for (unsigned i = 0; i < POOL_N; i++) {
		if (p->buf[i] != r)
			continue;
		if (!p->used[i] || r->pool != p) {
			p->bad_frees++;
			return;
		}
		p->used[i] = false;
		p->in_use--;
		p->frees++;
		return;
	}
	p->bad_frees++;
}

/* What the storage lcore may rely on (write_req.h), per submit. */
static bool req_ok(const struct node *n, const struct write_req *r)
{
	if (r->pool != &n->pool || r->io_index != IO_INDEX ||
	    r->table_len != 0 || r->key_len != 0 || r->origin == 0 ||
	    r->origin == n->id || r->conn_slot >= F.nn - 1 ||
	    (uint64_t)r->body_off + r->body_len > r->cap)
		return false;
	if (r->op == WRITE_COPY)
		return r->n_entries != 0 &&
		       r->body_len >= (uint64_t)r->n_entries *
		                              MSG_COPY_RECORD_MIN;
	if (r->op == WRITE_COPY_END)
		return r->n_entries != 0 &&
		       r->body_len == (uint64_t)r->n_entries * MSG_CURSOR_LEN;
	if (r->op != WRITE_REMOTE || r->table_len != 0 || r->key_len != 0 ||
	    r->n_entries == 0 || r->first_seq == 0 || r->origin == 0 ||
	    r->origin == n->id || r->conn_slot >= F.nn - 1)
		return false;
	return (uint64_t)r->body_off + r->body_len <= r->cap &&
	       r->body_len >= LOOM_ENTRY_HDR;
}

static int p_submit(void *user, struct write_req *r)
{
	struct node *n = user;
	if (n->submit_fail || n->qn == sizeof n->q / sizeof n->q[0])
		return -1;
	if (!req_ok(n, r))
		n->bad_submits++;
	n->submits++;
	n->q[n->qn++] = r;
	return 0;
}

static uint64_t p_own_seq(void *user)
{
	return store_own_seq(((struct node *)user)->st);
}

static void *t_zalloc(void *user, size_t size)
{
	(void)user;
	return calloc(1, size);
}

static void t_free(void *user, void *p)
{
	(void)user;
	free(p);
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

/* An ARP reply for ip/mac into n (the harness learns only its peer). */
static void arp_learn(struct th_node *n, const uint8_t *mac, uint32_t ip)
{
	uint8_t f[60] = {0};
	memcpy(f, n->net.mac, 6);
	memcpy(f + 6, mac, 6);
	th_p16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	th_p16(a, 1);
	th_p16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	th_p16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, &ip, 4);
	memcpy(a + 18, n->net.mac, 6);
	memcpy(a + 24, &n->net.ip_be, 4);
	struct net_rx_result res;
	net_rx(&n->net, f, 60, &res);
}

/* Per-case options, reset by every setup. */
static bool opt_other_secret; /* the last node gets another secret */
static uint32_t opt_tcp_buf;   /* TCP send/receive buffers; 0: 64 KiB */
static bool opt_dynamic;       /* no static peers: repl_peer_set only */

static bool setup(unsigned nn)
{
	bool other_secret = opt_other_secret;
	uint32_t tcp_buf = opt_tcp_buf;
	bool dynamic = opt_dynamic;
	opt_other_secret = false;
	opt_tcp_buf = 0;
	opt_dynamic = false;
	memset(&F, 0, sizeof F);
	F.nn = nn;
	F.clock_ms = 1700000000000ull;
	F.seed = 0x2545f491u;
	struct tcp_config tc;
	th_default_cfg(&tc);
	tc.rto_init_ms = 200;
	if (tcp_buf != 0)
		tc.sndbuf = tc.rcvbuf = tcp_buf;
	for (unsigned i = 0; i < nn; i++) {
		struct node *n = &F.n[i];
		n->id = (uint16_t)(i + 1);
		n->th = th_node_new_cfg((int)n->id, &tc);
		snprintf(n->dir, sizeof n->dir, "%sXXXXXX", TMP_PREFIX);
		if (mkdtemp(n->dir) == NULL) {
			CHECK(!"mkdtemp");
			return false;
		}
		struct store_config scfg = {
			.path = n->dir,
			.map_size = 64u << 20,
			.node_id = n->id,
			.sync = STORE_SYNC_INTERVAL,
			.clock_ms = fake_now,
			.clock_ctx = &F.clock_ms,
		};
		int rc = store_open(&scfg, &n->st);
		CHECK_EQ_U64(rc, 0);
		if (rc != 0)
			return false;
		for (unsigned k = 0; k < POOL_N; k++) {
			n->pool.buf[k] = calloc(1, sizeof(struct write_req) +
			                               MAX_FRAME);
			if (n->pool.buf[k] == NULL)
				abort();
		}
	}
	/* every node knows every other's MAC (the router delivers by IP) */
	for (unsigned i = 0; i < nn; i++)
		for (unsigned j = 0; j < nn; j++)
			if (i != j)
				arp_learn(F.n[i].th, F.n[j].th->net.mac,
				          F.n[j].th->net.ip_be);
	for (unsigned i = 0; i < nn; i++) {
		struct node *n = &F.n[i];
		struct repl_peer_cfg peers[MAXN];
		uint16_t np = 0;
		for (unsigned j = 0; j < nn; j++)
			if (j != i)
				peers[np++] = (struct repl_peer_cfg){
					F.n[j].id, F.n[j].th->net.ip_be};
		struct repl_config rc = {
			.node_id = n->id,
			.cluster_id = CLUSTER,
			.port = PORT,
			.peers = dynamic ? NULL : peers,
			.n_peers = dynamic ? 0 : np,
			.batch_max = BATCH_MAX,
			.window = WINDOW,
			.ping_ms = PING_MS,
			.dead_ms = DEAD_MS,
			.reconnect_min_ms = 50,
			.reconnect_max_ms = 800,
			.max_frame = MAX_FRAME,
			.io_index = IO_INDEX,
		};
		for (unsigned k = 0; k < REPL_SECRET_LEN; k++)
			rc.secret[k] = (uint8_t)(0x40 + k);
		if (other_secret && i == nn - 1)
			rc.secret[7] ^= 0x01;
		struct repl_ops ops = {p_alloc, p_free, p_submit, p_own_seq, n};
		struct tcp_alloc al = {t_zalloc, t_free, NULL};
		n->repl = repl_create(&rc, n->th->tcp, &n->th->net, n->st, &ops,
		                      &al);
		CHECK(n->repl != NULL);
		if (n->repl == NULL)
			return false;
	}
	for (unsigned i = 0; i < nn; i++)
		CHECK_EQ_U64(repl_start(F.n[i].repl), 0);
	return true;
}

/* --- frames in flight ----------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

struct tcpv {
	uint8_t *ip, *th, *payload;
	uint16_t l4, plen, sport, dport;
};

static bool tcp_view(uint8_t *f, uint16_t len, struct tcpv *v)
{
	if (len < 54 || th_g16(f + 12) != 0x0800)
		return false;
	v->ip = f + 14;
	if (v->ip[9] != 6)
		return false;
	unsigned ihl = (v->ip[0] & 15u) * 4u;
	unsigned tot = th_g16(v->ip + 2);
	v->th = v->ip + ihl;
	unsigned thl = (unsigned)(v->th[12] >> 4) * 4u;
	if (tot < ihl + thl || 14u + tot > len)
		return false;
	v->l4 = (uint16_t)(tot - ihl);
	v->payload = v->th + thl;
	v->plen = (uint16_t)(tot - ihl - thl);
	v->sport = th_g16(v->th);
	v->dport = th_g16(v->th + 2);
	return true;
}

static void tcp_fix_csum(struct tcpv *v)
{
	v->th[16] = v->th[17] = 0;
	uint32_t sum = sum16(v->ip + 12, 8, 0) + 6 + v->l4;
	sum = sum16(v->th, v->l4, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	th_p16(v->th + 16, (uint16_t)~sum);
}

/* A segment of the replication link carrying exactly one BATCH frame. */
static bool one_batch_frame(const struct tcpv *v)
{
	if ((v->sport != PORT && v->dport != PORT) ||
	    v->plen < FRAME_OVERHEAD + MSG_BATCH_HDR)
		return false;
	const uint8_t *p = v->payload;
	return 4u + th_g32(p) == v->plen && p[4] == MSG_BATCH && p[5] == 0 &&
	       th_g16(p + 6) == 1;
}

static void tamper(unsigned from, unsigned to, uint8_t *f, uint16_t len)
{
	struct tcpv v;
	if (F.tamper == T_NONE || from != F.t_from || to != F.t_to ||
	    !tcp_view(f, len, &v) || !one_batch_frame(&v))
		return;
	if (F.tamper == T_FLIP) {
		v.payload[FRAME_HDR_LEN + 3] ^= 0x10; /* in the ciphertext */
		tcp_fix_csum(&v);
		F.flips++;
		F.tamper = T_NONE;
		return;
	}
	/* T_REPLAY: keep the first, put it in place of the next one of the
	 * same size (TCP sees new bytes; the frame layer an old counter). */
	if (F.captured_len == 0) {
		if (v.plen <= sizeof F.captured) {
			memcpy(F.captured, v.payload, v.plen);
			F.captured_len = v.plen;
		}
		return;
	}
	if (v.plen != F.captured_len)
		return;
	memcpy(v.payload, F.captured, v.plen);
	tcp_fix_csum(&v);
	F.replays++;
	F.tamper = T_NONE;
}

static int node_by_ip(uint32_t ip)
{
	for (unsigned i = 0; i < F.nn; i++)
		if (F.n[i].th->net.ip_be == ip)
			return (int)i;
	return -1;
}

static void deliver(struct th_node *n, const uint8_t *data, uint16_t len)
{
	uint8_t *d;
	void *f = n->net.ops.frame_alloc(n->net.ops.user, len, &d);
	if (f == NULL)
		abort();
	memcpy(d, data, len);
	memcpy(d, n->net.mac, 6);
	struct net_rx_result res;
	enum net_rx_verdict v = net_rx(&n->net, d, len, &res);
	if (v == NET_RX_L4_TCP)
		tcp_input(n->tcp, f, d, len, &res);
	else if (v == NET_RX_REPLY)
		n->net.ops.frame_send(n->net.ops.user, f, res.reply_len);
	else
		n->net.ops.frame_free(n->net.ops.user, f);
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Move every queued frame to the node of its destination address (or
 * drop it: a cut link, or random loss). */
static unsigned route(void)
{
	unsigned moved = 0;
	for (unsigned i = 0; i < F.nn; i++) {
		struct th_node *from = F.n[i].th;
		unsigned cnt = from->out_n;
		for (unsigned k = 0; k < cnt; k++) {
			struct th_frame fr = from->out[from->out_head];
			from->out_head = (from->out_head + 1) % TH_OUTBOX;
			from->out_n--;
			uint32_t dst = 0;
			if (fr.len >= 34 && th_g16(fr.data + 12) == 0x0800)
				memcpy(&dst, fr.data + 14 + 16, 4);
			int j = node_by_ip(dst);
			bool lost = F.loss_pct != 0 &&
			            xorshift(&F.seed) % 100 < F.loss_pct;
			struct tcpv v;
			if (F.drop_rst_from == i + 1 &&
			    tcp_view(fr.data, fr.len, &v) &&
			    (v.th[13] & TH_RST) != 0)
				lost = true;
			if (j >= 0 && !F.cut[i][j] && !lost) {
				tamper(i, (unsigned)j, fr.data, fr.len);
				deliver(F.n[j].th, fr.data, fr.len);
				moved++;
			}
			free(fr.data);
		}
	}
	for (unsigned i = 0; i < F.nn; i++)
		tcp_flush(F.n[i].th->tcp);
	return moved;
}

/* --- the storage lcore ---------------------------------------------------- */

static uint64_t cursor_of(struct node *n, uint16_t origin)
{
	struct store_reader rd;
	uint64_t c = UINT64_MAX;
	if (store_reader_init(n->st, &rd) != 0)
		return c;
	if (store_read_begin(&rd) == 0)
		store_cursor(&rd, origin, &c);
	store_read_end(&rd);
	store_reader_fini(&rd);
	return c;
}

/* Apply the queue in one batch and complete every request in order. A
 * forced gap (gap_once) answers one WRITE_REMOTE WRITE_GAP unapplied; a
 * forced copy failure (copy_fail_once) one WRITE_COPY WRITE_FAILED. */
static unsigned storage_step(struct node *n)
{
	struct write_req *batch[256], *apply[256];
	unsigned cnt = n->qn, na = 0;
	if (cnt == 0)
		return 0;
	memcpy(batch, n->q, cnt * sizeof batch[0]);
	n->qn = 0;
	for (unsigned i = 0; i < cnt; i++) {
		struct write_req *w = batch[i];
		if (w->op == WRITE_COPY && n->copy_fail_once > 0) {
			/* as if its group commit had failed */
			n->copy_fail_once--;
			n->forced_copy_fails++;
			w->result = WRITE_FAILED;
			w->store_err = EIO;
			w->version = (struct loom_version){0, 0};
			w->seq = 0;
			continue;
		}
		if (w->op == WRITE_REMOTE && n->gap_once > 0) {
			n->gap_once--;
			n->forced_gaps++;
			w->result = WRITE_GAP;
			w->store_err = STORE_EGAP;
			w->version = (struct loom_version){0, 0};
			w->seq = cursor_of(n, w->origin);
			continue;
		}
		apply[na++] = w;
	}
	int rc = storage_apply_batch(n->st, (struct write_req *const *)apply,
	                             na, &n->sc, NULL);
	CHECK_EQ_U64(rc, 0);
	for (unsigned i = 0; i < cnt; i++) {
		n->completes++;
		repl_complete(n->repl, batch[i]);
	}
	return cnt;
}

/* --- time ----------------------------------------------------------------- */

static bool quiet(void)
{
	for (unsigned i = 0; i < F.nn; i++)
		if (th_pending(F.n[i].th) != 0 || F.n[i].qn != 0)
			return false;
	return true;
}

/* One pass of every node's poll loop: input, completions, repl_poll,
 * flush. */
static void round_once(void)
{
	route();
	for (unsigned i = 0; i < F.nn; i++)
		storage_step(&F.n[i]);
	for (unsigned i = 0; i < F.nn; i++) {
		repl_poll(F.n[i].repl);
		tcp_flush(F.n[i].th->tcp);
	}
}

static void step(void)
{
	F.clock_ms += STEP_MS;
	for (unsigned i = 0; i < F.nn; i++)
		th_advance(F.n[i].th, STEP_MS);
	for (int k = 0; k < 100; k++) {
		round_once();
		if (quiet())
			break;
	}
}

static void run_ms(uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += STEP_MS)
		step();
}

/* --- writes and convergence ----------------------------------------------- */

/* count upserts on n in one txn: keys k<base..base+count) mod key_mod. */
static void local_writes(struct node *n, unsigned count, unsigned base,
                         unsigned key_mod, unsigned tag)
{
	struct store_txn *t;
	CHECK_EQ_U64(store_txn_begin(n->st, &t), 0);
	for (unsigned i = 0; i < count; i++) {
		char key[32], body[128];
		unsigned k = (base + i) % key_mod;
		int kl = snprintf(key, sizeof key, "k%u", k);
		int bl = snprintf(body, sizeof body,
		                  "{\"id\":\"k%u\",\"node\":%u,\"tag\":%u}", k,
		                  n->id, tag);
		struct loom_version v;
		uint64_t seq;
		CHECK_EQ_U64(store_local_upsert(t, TABLE, key, (size_t)kl, body,
		                                (size_t)bl, &v, &seq),
		             0);
	}
	CHECK_EQ_U64(store_txn_commit(t), 0);
	n->written += count;
}

struct digest {
	uint64_t records, sum;
};

static struct digest digest_of(struct node *n)
{
	struct digest d = {0, 0};
	struct store_reader rd;
	if (store_reader_init(n->st, &rd) != 0)
		return d;
	if (store_read_begin(&rd) == 0 &&
	    store_digest(&rd, TABLE, &d.records, &d.sum) != 0)
		d.records = d.sum = 0;
	store_read_end(&rd);
	store_reader_fini(&rd);
	return d;
}

/* Every node holds every origin up to its own seq, and the digests agree. */
static bool converged(void)
{
	if (!quiet())
		return false;
	struct digest d0 = digest_of(&F.n[0]);
	for (unsigned i = 0; i < F.nn; i++) {
		struct digest d = digest_of(&F.n[i]);
		if (d.records != d0.records || d.sum != d0.sum)
			return false;
		for (unsigned j = 0; j < F.nn; j++)
			if (j != i && cursor_of(&F.n[i], F.n[j].id) !=
			                      store_own_seq(F.n[j].st))
				return false;
	}
	return true;
}

static bool run_until_converged(uint64_t max_ms)
{
	for (uint64_t t = 0; t < max_ms; t += STEP_MS) {
		step();
		if (converged())
			return true;
	}
	return false;
}

/* The info of node n about peer id. */
static struct repl_peer_info info(struct node *n, uint16_t id)
{
	struct repl_peer_info pi;
	memset(&pi, 0, sizeof pi);
	for (uint16_t i = 0; i < repl_peer_count(n->repl); i++) {
		repl_peer_info(n->repl, i, &pi);
		if (pi.id == id)
			return pi;
	}
	CHECK(!"no such peer");
	return pi;
}

static bool all_up(void)
{
	for (unsigned i = 0; i < F.nn; i++)
		for (unsigned j = 0; j < F.nn; j++)
			if (i != j && !info(&F.n[i], F.n[j].id).up)
				return false;
	return true;
}

struct rj {
	const char *reason;
	uint64_t n;
	unsigned seen;
};

static void rj_visit(void *arg, const char *reason, uint64_t n)
{
	struct rj *r = arg;
	r->seen++;
	if (strcmp(reason, r->reason) == 0)
		r->n = n;
}

static uint64_t rejects(struct node *n, const char *reason)
{
	struct rj r = {reason, 0, 0};
	repl_rx_rejects(n->repl, rj_visit, &r);
	CHECK(r.seen >= 10); /* every err_ reason of FRAME_RX_STATS_LIST */
	return r.n;
}

static const struct repl_stats *stats(struct node *n)
{
	return repl_stats(n->repl);
}

static bool record_present(struct node *n, const char *key)
{
	struct store_reader rd;
	struct store_record rec;
	bool ok = false;
	if (store_reader_init(n->st, &rd) != 0)
		return false;
	if (store_read_begin(&rd) == 0)
		ok = store_get(&rd, TABLE, key, strlen(key), &rec) == 0 &&
		     !rec.tombstone;
	store_read_end(&rd);
	store_reader_fini(&rd);
	return ok;
}

static void teardown(void)
{
	/* let the storage answer what is queued */
	for (int k = 0; k < 1000 && !quiet(); k++)
		round_once();
	for (unsigned i = 0; i < F.nn; i++) {
		struct node *n = &F.n[i];
		CHECK_EQ_U64(n->qn, 0);
		CHECK_EQ_U64(n->bad_submits, 0);
		CHECK_EQ_U64(n->submits, n->completes);
	}
	/* the stacks first (no callbacks after), then the sessions */
	for (unsigned i = 0; i < F.nn; i++)
		CHECK_EQ_U64(th_node_free(F.n[i].th), 0);
	for (unsigned i = 0; i < F.nn; i++) {
		struct node *n = &F.n[i];
		repl_destroy(n->repl);
		CHECK_EQ_U64(n->pool.in_use, 0);
		CHECK_EQ_U64(n->pool.bad_frees, 0);
		CHECK_EQ_U64(n->pool.allocs, n->pool.frees);
		for (unsigned k = 0; k < POOL_N; k++)
			free(n->pool.buf[k]);
		store_close(n->st);
		remove_dir(n->dir);
	}
}

static void print_stats(const char *what, struct node *n)
{
	const struct repl_stats *s = stats(n);
	printf("  %s node %u: batches sent %llu entries sent %llu, batches "
	       "received %llu entries received %llu applied %llu, acks %llu/"
	       "%llu, subscribes %llu/%llu, links up %llu down %llu dead %llu "
	       "reconnects %llu, rejected %llu, backpressure %llu, gaps %llu\n",
	       what, n->id, (unsigned long long)s->batches_sent,
	       (unsigned long long)s->entries_sent,
	       (unsigned long long)s->batches_received,
	       (unsigned long long)s->entries_received,
	       (unsigned long long)s->entries_applied,
	       (unsigned long long)s->acks_sent,
	       (unsigned long long)s->acks_received,
	       (unsigned long long)s->subscribes_sent,
	       (unsigned long long)s->subscribes_received,
	       (unsigned long long)s->links_up,
	       (unsigned long long)s->links_down,
	       (unsigned long long)s->dead_links,
	       (unsigned long long)s->reconnects,
	       (unsigned long long)s->frames_rejected,
	       (unsigned long long)s->backpressure_waits,
	       (unsigned long long)s->gaps);
}

/* --- cases ---------------------------------------------------------------- */

/* Two nodes: 1,000 writes on A in ten commits reach B; then both write the
 * same keys at once and both converge (LWW, equal digests). */
static void test_two_nodes(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	CHECK(all_up());
	CHECK_EQ_U64(stats(a)->connects, 1);
	CHECK_EQ_U64(stats(b)->accepts, 1);
	for (unsigned k = 0; k < 10; k++) {
		local_writes(a, 100, k * 100, 100000, 1);
		run_ms(10);
	}
	CHECK(run_until_converged(10000));
	CHECK_EQ_U64(store_own_seq(a->st), 1000);
	CHECK_EQ_U64(cursor_of(b, a->id), 1000);
	struct digest da = digest_of(a), db = digest_of(b);
	CHECK_EQ_U64(db.records, 1000);
	CHECK_EQ_U64(da.sum, db.sum);
	CHECK(record_present(b, "k0"));
	CHECK(record_present(b, "k999"));
	CHECK_EQ_U64(stats(b)->entries_received, 1000);
	CHECK_EQ_U64(stats(b)->entries_applied, 1000);
	CHECK_EQ_U64(stats(a)->entries_sent, 1000);
	CHECK(stats(a)->batches_sent >= 1000 / BATCH_MAX);
	CHECK_EQ_U64(stats(a)->batches_sent, stats(b)->batches_received);
	CHECK(stats(b)->acks_sent > 0);
	CHECK_EQ_U64(stats(b)->acks_sent, stats(a)->acks_received);
	struct repl_peer_info ab = info(a, b->id), ba = info(b, a->id);
	CHECK_EQ_U64(ab.acked, 1000);
	CHECK_EQ_U64(ab.sent, 1000);
	CHECK_EQ_U64(ba.cursor, 1000);
	CHECK_EQ_U64(ba.head, 1000);
	/* the hlc of A's last write: its ms part is the fake clock's */
	CHECK(ba.last_applied_hlc >> 16 >= 1700000000000ull);
	CHECK(ba.last_applied_hlc >> 16 <= F.clock_ms);
	CHECK_EQ_U64(b->sc.remote_entries_applied, 1000);
	CHECK_EQ_U64(b->sc.remote_duplicates, 0);
	print_stats("two nodes, one way:", a);
	print_stats("two nodes, one way:", b);

	/* concurrent writes on the same keys, both ways */
	for (unsigned k = 0; k < 5; k++) {
		local_writes(a, 60, 500 + k * 37, 1000, 2);
		local_writes(b, 60, 500 + k * 41, 1000, 3);
		run_ms(5);
	}
	CHECK(run_until_converged(10000));
	CHECK_EQ_U64(cursor_of(b, a->id), 1300);
	CHECK_EQ_U64(cursor_of(a, b->id), 300);
	da = digest_of(a);
	db = digest_of(b);
	CHECK_EQ_U64(da.records, 1000);
	CHECK_EQ_U64(da.records, db.records);
	CHECK_EQ_U64(da.sum, db.sum);
	CHECK_EQ_U64(stats(a)->entries_received, 300);
	CHECK_EQ_U64(stats(b)->entries_received, 1300);
	CHECK_EQ_U64(stats(a)->frames_rejected + stats(b)->frames_rejected, 0);
	CHECK_EQ_U64(stats(a)->links_up, 1);
	CHECK_EQ_U64(stats(b)->links_up, 1);
	print_stats("two nodes, both ways:", a);
	print_stats("two nodes, both ways:", b);

	/* the higher id does not connect: A refuses B (RST), the link
	 * stays as it is */
	struct th_app app;
	memset(&app, 0, sizeof app);
	CHECK(tcp_connect(b->th->tcp, a->th->net.ip_be, PORT, &th_callbacks,
	                  &app) != NULL);
	tcp_flush(b->th->tcp);
	run_ms(20);
	CHECK_EQ_U64(app.connected, 1);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_RESET);
	CHECK_EQ_U64(stats(a)->refused, 1);
	CHECK_EQ_U64(stats(a)->accepts, 0);
	CHECK(all_up());
	free(app.rx);
	teardown();
}

/* Three nodes, full mesh (1-2, 1-3, 2-3): concurrent writes converge. */
static void test_three_nodes(void)
{
	if (!setup(3))
		return;
	run_ms(100);
	CHECK(all_up());
	CHECK_EQ_U64(stats(&F.n[0])->connects, 2);
	CHECK_EQ_U64(stats(&F.n[1])->connects, 1);
	CHECK_EQ_U64(stats(&F.n[1])->accepts, 1);
	CHECK_EQ_U64(stats(&F.n[2])->accepts, 2);
	for (unsigned k = 0; k < 4; k++) {
		for (unsigned i = 0; i < 3; i++)
			local_writes(&F.n[i], 50, k * 50 + i * 13, 300, k);
		run_ms(5);
	}
	CHECK(run_until_converged(10000));
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ_U64(store_own_seq(F.n[i].st), 200);
		CHECK_EQ_U64(stats(&F.n[i])->entries_received, 400);
		CHECK_EQ_U64(stats(&F.n[i])->links_up, 2);
		CHECK_EQ_U64(stats(&F.n[i])->entries_sent, 400);
	}
	/* the keys written, from any node */
	bool key[300] = {false};
	unsigned keys = 0;
	for (unsigned k = 0; k < 4; k++)
		for (unsigned i = 0; i < 3; i++)
			for (unsigned j = 0; j < 50; j++)
				key[(k * 50 + i * 13 + j) % 300] = true;
	for (unsigned k = 0; k < 300; k++)
		keys += key[k];
	struct digest d = digest_of(&F.n[2]);
	CHECK_EQ_U64(d.records, keys);
	for (unsigned i = 0; i < 3; i++)
		print_stats("three nodes:", &F.n[i]);
	teardown();
}

/* The link is cut (every frame dropped) longer than dead_ms while A
 * writes: both sides declare it dead, A reconnects once the cut heals, and
 * both resume from the cursors: B receives every entry exactly once. */
static void test_link_cut(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	local_writes(a, 200, 0, 100000, 1);
	CHECK(run_until_converged(5000));
	F.cut[0][1] = F.cut[1][0] = true;
	for (unsigned k = 0; k < 6; k++) {
		local_writes(a, 50, 200 + k * 50, 100000, 1);
		run_ms(100);
	}
	run_ms(3 * DEAD_MS);
	CHECK(!info(a, b->id).up);
	CHECK(!info(b, a->id).up);
	CHECK(stats(a)->dead_links >= 1);
	CHECK(stats(b)->dead_links >= 1);
	CHECK_EQ_U64(stats(a)->links_down, 1);
	CHECK_EQ_U64(stats(b)->links_down, 1);
	uint64_t attempts = stats(a)->connects;
	CHECK(attempts >= 2); /* kept trying through the cut */
	CHECK(cursor_of(b, a->id) < 500);
	F.cut[0][1] = F.cut[1][0] = false;
	CHECK(run_until_converged(20000));
	CHECK(all_up());
	CHECK_EQ_U64(cursor_of(b, a->id), 500);
	CHECK_EQ_U64(stats(a)->reconnects, 1);
	CHECK_EQ_U64(stats(b)->reconnects, 1);
	CHECK_EQ_U64(info(a, b->id).reconnects, 1);
	CHECK_EQ_U64(stats(a)->links_up, 2);
	CHECK_EQ_U64(stats(b)->links_up, 2);
	/* nothing received twice; A resent at most what was unacked */
	CHECK_EQ_U64(stats(b)->entries_received, 500);
	CHECK_EQ_U64(stats(b)->entries_applied, 500);
	CHECK_EQ_U64(b->sc.remote_duplicates, 0);
	CHECK(stats(a)->entries_sent >= 500);
	CHECK(stats(a)->entries_sent <= 500 + WINDOW);
	printf("  link cut: %llu connects, %llu entries sent for 500 (%llu "
	       "resent)\n", (unsigned long long)stats(a)->connects,
	       (unsigned long long)stats(a)->entries_sent,
	       (unsigned long long)(stats(a)->entries_sent - 500));
	print_stats("link cut:", a);
	print_stats("link cut:", b);
	teardown();
}

/* A gives the link up (it hears nothing from B) while B's side lives on
 * (A's RSTs are lost): A's new connection replaces B's old one, which B
 * aborts at its next poll. */
static void test_replace(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	local_writes(a, 100, 0, 100000, 1);
	CHECK(run_until_converged(5000));
	F.drop_rst_from = 1;
	F.cut[1][0] = true;
	for (unsigned k = 0; k < 40 && info(a, b->id).up; k++) {
		local_writes(a, 5, 100 + k * 5, 100000, 1);
		run_ms(50);
	}
	CHECK(!info(a, b->id).up);
	CHECK(info(b, a->id).up); /* B still hears A's PINGs */
	CHECK_EQ_U64(stats(a)->dead_links, 1);
	F.cut[1][0] = false;
	CHECK(run_until_converged(5000));
	CHECK(all_up());
	CHECK_EQ_U64(stats(b)->accepts, 2);
	CHECK_EQ_U64(stats(b)->links_down, 1);
	CHECK_EQ_U64(stats(b)->dead_links, 0);
	CHECK_EQ_U64(stats(b)->reconnects, 1);
	CHECK_EQ_U64(stats(a)->reconnects, 1);
	CHECK_EQ_U64(cursor_of(b, a->id), store_own_seq(a->st));
	print_stats("replaced:", a);
	print_stats("replaced:", b);
	teardown();
}

/* A flipped bit and a replayed frame are rejected by reason, the link
 * comes back and the data converges; a node with another secret never
 * comes up and keeps counting. */
static void test_tamper(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	local_writes(a, 50, 0, 100000, 1);
	CHECK(run_until_converged(5000));

	/* a bit flipped in a BATCH's ciphertext */
	F.tamper = T_FLIP;
	F.t_from = 0;
	F.t_to = 1;
	local_writes(a, 5, 50, 100000, 1);
	run_ms(20);
	CHECK_EQ_U64(F.flips, 1);
	CHECK_EQ_U64(rejects(b, "auth"), 1);
	CHECK_EQ_U64(stats(b)->frames_rejected, 1);
	CHECK(run_until_converged(5000));
	CHECK_EQ_U64(cursor_of(b, a->id), 55);
	CHECK_EQ_U64(stats(a)->reconnects, 1);

	/* a frame captured and played again in place of the next one */
	F.tamper = T_REPLAY;
	for (unsigned k = 0; k < 20 && F.replays == 0; k++) {
		local_writes(a, 1, 1000 + k, 100000, 7);
		run_ms(30);
	}
	CHECK_EQ_U64(F.replays, 1);
	CHECK_EQ_U64(rejects(b, "replay"), 1);
	CHECK_EQ_U64(rejects(b, "auth"), 1);
	CHECK_EQ_U64(stats(b)->frames_rejected, 2);
	CHECK(run_until_converged(5000));
	CHECK_EQ_U64(cursor_of(b, a->id), store_own_seq(a->st));
	CHECK_EQ_U64(stats(a)->reconnects, 2);
	CHECK_EQ_U64(rejects(a, "auth") + rejects(a, "replay"), 0);
	printf("  tamper: B rejected auth %llu replay %llu; %llu reconnects\n",
	       (unsigned long long)rejects(b, "auth"),
	       (unsigned long long)rejects(b, "replay"),
	       (unsigned long long)stats(a)->reconnects);
	teardown();

	/* B holds another secret: every connection fails its first frame */
	opt_other_secret = true;
	if (!setup(2))
		return;
	a = &F.n[0];
	b = &F.n[1];
	local_writes(a, 10, 0, 100000, 1);
	run_ms(2000);
	uint64_t r1 = rejects(a, "auth") + rejects(b, "auth");
	CHECK(r1 >= 2);
	run_ms(5000);
	uint64_t r2 = rejects(a, "auth") + rejects(b, "auth");
	CHECK(r2 > r1);
	CHECK_EQ_U64(stats(a)->links_up + stats(b)->links_up, 0);
	CHECK_EQ_U64(stats(a)->frames_rejected + stats(b)->frames_rejected, r2);
	CHECK_EQ_U64(stats(a)->hello_refused + stats(b)->hello_refused, 0);
	CHECK(!info(a, b->id).up);
	CHECK_EQ_U64(cursor_of(b, a->id), 0);
	CHECK(stats(a)->connects >= 3);
	printf("  wrong secret: %llu connects, auth rejects %llu after 2 s, "
	       "%llu after 7 s\n", (unsigned long long)stats(a)->connects,
	       (unsigned long long)r1, (unsigned long long)r2);
	teardown();
}

/* No buffer, then a full ring, for longer than dead_ms: the frames wait
 * in TCP, the link stays up, nothing is lost. */
static void test_backpressure(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	local_writes(a, 10, 0, 100000, 1);
	CHECK(run_until_converged(5000));

	b->alloc_fail = true;
	for (unsigned k = 0; k < 5; k++) {
		local_writes(a, 100, 10 + k * 100, 100000, 1);
		run_ms(20);
	}
	run_ms(2 * DEAD_MS);
	uint64_t waits = stats(b)->backpressure_waits;
	CHECK(waits >= 1);
	CHECK_EQ_U64(cursor_of(b, a->id), 10);
	CHECK(all_up());
	CHECK_EQ_U64(stats(a)->dead_links + stats(b)->dead_links, 0);

	b->alloc_fail = false;
	CHECK(run_until_converged(10000));
	CHECK_EQ_U64(cursor_of(b, a->id), 510);
	CHECK_EQ_U64(stats(b)->backpressure_waits, waits);

	/* the storage ring is full: the opened BATCH is held, not dropped */
	b->submit_fail = true;
	for (unsigned k = 0; k < 3; k++) {
		local_writes(a, 100, 510 + k * 100, 100000, 1);
		run_ms(20);
	}
	run_ms(2 * DEAD_MS);
	CHECK(stats(b)->backpressure_waits > waits);
	CHECK_EQ_U64(b->pool.in_use, 1); /* the opened BATCH, held */
	CHECK_EQ_U64(cursor_of(b, a->id), 510);
	CHECK(all_up());

	b->submit_fail = false;
	CHECK(run_until_converged(10000));
	CHECK_EQ_U64(cursor_of(b, a->id), 810);
	CHECK_EQ_U64(stats(b)->entries_received, 810);
	CHECK_EQ_U64(stats(a)->entries_sent, 810);
	CHECK_EQ_U64(stats(a)->dead_links + stats(b)->dead_links, 0);
	CHECK_EQ_U64(stats(a)->links_up, 1);
	print_stats("back-pressure:", b);
	teardown();
}

/* The storage answers one WRITE_GAP: B resubscribes once from its cursor
 * and converges. */
static void test_gap(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	local_writes(a, 100, 0, 100000, 1);
	CHECK(run_until_converged(5000));
	CHECK_EQ_U64(stats(b)->subscribes_sent, 1);

	b->gap_once = 1;
	for (unsigned k = 0; k < 4; k++) {
		local_writes(a, 50, 100 + k * 50, 100000, 1);
		run_ms(1);
	}
	CHECK(run_until_converged(5000));
	CHECK_EQ_U64(b->forced_gaps, 1);
	CHECK(stats(b)->gaps >= 1);
	CHECK_EQ_U64(stats(b)->subscribes_sent, 2);
	CHECK_EQ_U64(stats(a)->subscribes_received, 2);
	CHECK_EQ_U64(cursor_of(b, a->id), 300);
	CHECK_EQ_U64(stats(b)->links_up, 1);
	struct digest da = digest_of(a), db = digest_of(b);
	CHECK_EQ_U64(db.records, 300);
	CHECK_EQ_U64(da.sum, db.sum);
	print_stats("gap:", a);
	print_stats("gap:", b);
	teardown();
}

/* One upsert of a body of about size bytes on n. */
static void big_write(struct node *n, unsigned key, size_t size)
{
	static char body[40000];
	char k[32];
	int kl = snprintf(k, sizeof k, "big%u", key);
	int hl = snprintf(body, sizeof body, "{\"id\":\"big%u\",\"pad\":\"",
	                  key);
	size_t len = (size_t)hl;
	for (; len < size - 2 && len < sizeof body - 2; len++)
		body[len] = (char)('a' + len % 26);
	body[len++] = '"';
	body[len++] = '}';
	struct store_txn *t;
	struct loom_version v;
	uint64_t seq;
	CHECK_EQ_U64(store_txn_begin(n->st, &t), 0);
	CHECK_EQ_U64(store_local_upsert(t, TABLE, k, (size_t)kl, body, len, &v,
	                                &seq),
	             0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	n->written++;
}

/* TCP buffers of 16 KiB and entries of 30 KB: frames larger than the
 * whole send buffer leave in parts, and larger than the receive ring are
 * copied into their request buffer as they arrive. */
static void test_large_frames(void)
{
	opt_tcp_buf = 16384;
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	CHECK(all_up());
	for (unsigned k = 0; k < 6; k++) {
		big_write(a, k, 30000);
		local_writes(a, 20, k * 20, 100000, 1);
		big_write(b, 100 + k, 20000 + k * 1000);
		run_ms(5);
	}
	CHECK(run_until_converged(20000));
	CHECK_EQ_U64(cursor_of(b, a->id), 126);
	CHECK_EQ_U64(cursor_of(a, b->id), 6);
	CHECK(record_present(b, "big5"));
	CHECK(record_present(a, "big105"));
	CHECK_EQ_U64(stats(b)->entries_received, 126);
	CHECK_EQ_U64(stats(a)->entries_received, 6);
	CHECK_EQ_U64(stats(a)->links_up + stats(b)->links_up, 2);
	CHECK_EQ_U64(stats(a)->frames_rejected + stats(b)->frames_rejected, 0);
	print_stats("large frames:", a);
	print_stats("large frames:", b);
	teardown();
}

/* Three nodes over links that drop loss_pct% of the frames while all
 * write (for 1 s, then 5 s more of loss): TCP retransmits, links that
 * stall past dead_ms reconnect (connects lost too), and every node still
 * converges with nothing applied twice. */
static void test_lossy_mesh(unsigned loss_pct)
{
	if (!setup(3))
		return;
	run_ms(100);
	CHECK(all_up());
	F.loss_pct = loss_pct;
	for (unsigned k = 0; k < 20; k++) {
		for (unsigned i = 0; i < 3; i++)
			local_writes(&F.n[i], 25, k * 25 + i * 7, 400, k);
		run_ms(50);
	}
	run_ms(5000);
	F.loss_pct = 0;
	CHECK(run_until_converged(30000));
	uint64_t reconnects = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct node *n = &F.n[i];
		CHECK_EQ_U64(stats(n)->entries_applied, 1000);
		CHECK_EQ_U64(n->sc.remote_entries_applied, 1000);
		CHECK_EQ_U64(n->sc.invalid, 0);
		CHECK_EQ_U64(stats(n)->frames_rejected, 0);
		CHECK_EQ_U64(stats(n)->links_up, 2 + stats(n)->reconnects);
		reconnects += stats(n)->reconnects;
		char what[32];
		snprintf(what, sizeof what, "%u%% loss:", loss_pct);
		print_stats(what, n);
	}
	if (loss_pct >= 20)
		CHECK(reconnects > 0);
	teardown();
}

/* --- merge resync ----------------------------------------------------------- */

/* Delete entries of n's own log up to seq (as retention would, without
 * asking anyone): the number deleted. */
static unsigned prune_own(struct node *n, uint64_t upto)
{
	unsigned total = 0, pruned;
	do {
		struct store_txn *t;
		pruned = 0;
		CHECK_EQ_U64(store_txn_begin(n->st, &t), 0);
		CHECK_EQ_U64(store_log_prune(t, n->id, upto, UINT64_MAX, 1000,
		                             &pruned), 0);
		CHECK_EQ_U64(store_txn_commit(t), 0);
		total += pruned;
	} while (pruned == 1000);
	return total;
}

static uint64_t floor_of(struct node *n, uint16_t origin)
{
	struct store_reader rd;
	uint64_t f = UINT64_MAX;
	if (store_reader_init(n->st, &rd) != 0)
		return f;
	if (store_read_begin(&rd) == 0)
		store_log_floor(&rd, origin, &f);
	store_read_end(&rd);
	store_reader_fini(&rd);
	return f;
}

static void delete_key(struct node *n, const char *key)
{
	struct store_txn *t;
	struct loom_version v;
	uint64_t seq;
	CHECK_EQ_U64(store_txn_begin(n->st, &t), 0);
	CHECK_EQ_U64(store_local_delete(t, TABLE, key, strlen(key), &v, &seq),
	             0);
	CHECK_EQ_U64(store_txn_commit(t), 0);
	n->written++;
}

/* The "node" field of key's body on n (local_writes), 0 if absent. */
static unsigned record_node(struct node *n, const char *key)
{
	struct store_reader rd;
	struct store_record rec;
	unsigned who = 0;
	if (store_reader_init(n->st, &rd) != 0)
		return 0;
	if (store_read_begin(&rd) == 0 &&
	    store_get(&rd, TABLE, key, strlen(key), &rec) == 0 &&
	    !rec.tombstone) {
		char body[256];
		size_t len = rec.body_len < sizeof body - 1 ? rec.body_len
		                                            : sizeof body - 1;
		memcpy(body, rec.body, len);
		body[len] = '\0';
		const char *p = strstr(body, "\"node\":");
		if (p != NULL)
			who = (unsigned)strtoul(p + 7, NULL, 10);
	}
	store_read_end(&rd);
	store_reader_fini(&rd);
	return who;
}

/* Steps of time as step(), checking cond after every round. */
static bool run_until(bool (*cond)(void), uint64_t max_ms)
{
	for (uint64_t t = 0; t < max_ms; t += STEP_MS) {
		F.clock_ms += STEP_MS;
		for (unsigned i = 0; i < F.nn; i++)
			th_advance(F.n[i].th, STEP_MS);
		for (int k = 0; k < 100; k++) {
			round_once();
			if (cond())
				return true;
			if (quiet())
				break;
		}
	}
	return false;
}

static void cut(bool on)
{
	for (unsigned i = 0; i < F.nn; i++)
		for (unsigned j = 0; j < F.nn; j++)
			F.cut[i][j] = on && i != j;
}

static void print_copy_stats(const char *what, struct node *n)
{
	const struct repl_stats *s = stats(n);
	printf("  %s node %u: copies sent %llu (records %llu in %llu "
	       "batches), received %llu (records %llu), batches dropped "
	       "%llu, copy failures %llu\n",
	       what, n->id, (unsigned long long)s->copies,
	       (unsigned long long)s->copy_records_sent,
	       (unsigned long long)s->copy_batches_sent,
	       (unsigned long long)s->copies_received,
	       (unsigned long long)s->copy_records_received,
	       (unsigned long long)s->copy_batches_dropped,
	       (unsigned long long)s->copy_failures);
}

/*
 * B's log of its own origin is pruned past A's cursor while the link is
 * cut; A wrote a record B never had and a newer version of a key B wrote;
 * B deleted a key A holds. When the link heals, A's SUBSCRIBE is below
 * B's floor: B copies every record to A (LWW, nothing of A's replaced),
 * A's cursor for B becomes B's own seq, A's own record reaches B through
 * A's stream, both converge, and B's later writes stream as usual.
 */
static void test_copy(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	unsigned up = 99;
	run_ms(100);
	local_writes(b, 200, 0, 100000, 1);   /* k0..k199, seqs 1..200 */
	local_writes(a, 50, 1000, 100000, 1); /* k1000..k1049 */
	CHECK(run_until_converged(5000));
	CHECK_EQ_U64(repl_min_acked_up(b->repl, &up), 200);
	CHECK_EQ_U64(up, 1);
	CHECK_EQ_U64(repl_min_acked_up(a->repl, &up), 50);

	cut(true);
	run_ms(3 * DEAD_MS);
	CHECK(!info(a, b->id).up && !info(b, a->id).up);
	CHECK_EQ_U64(repl_min_acked_up(b->repl, &up), UINT64_MAX);
	CHECK_EQ_U64(up, 0);
	local_writes(b, 300, 100, 100000, 2); /* k100..k399: 201..500 */
	delete_key(b, "k5");                  /* 501 */
	local_writes(b, 5, 400, 100000, 2);   /* k400..k404: 502..506 */
	run_ms(20);
	local_writes(a, 1, 5000, 100000, 3);  /* k5000: only A has it */
	local_writes(a, 1, 150, 100000, 3);   /* k150: newer than B's */
	/* Retention without asking A: the delete at 501 stays logged (and
	 * its tombstone with it). */
	CHECK_EQ_U64(prune_own(b, 500), 500);
	CHECK_EQ_U64(floor_of(b, b->id), 500);
	CHECK_EQ_U64(cursor_of(a, b->id), 200);
	uint64_t received = stats(a)->entries_received;

	cut(false);
	CHECK(run_until_converged(20000));
	CHECK(all_up());
	CHECK_EQ_U64(stats(b)->copies, 1);
	CHECK_EQ_U64(stats(a)->copies, 0);
	CHECK_EQ_U64(stats(a)->copies_received, 1);
	CHECK_EQ_U64(stats(b)->copies_received, 0);
	CHECK_EQ_U64(stats(a)->copy_failures + stats(b)->copy_failures, 0);
	CHECK_EQ_U64(stats(a)->copy_batches_dropped, 0);
	/* every row of B: 405 keys (k5 a tombstone) and A's 50, and maybe
	 * A's two new ones if A's stream got there first */
	uint64_t copied = stats(b)->copy_records_sent;
	CHECK(copied >= 455 && copied <= 457);
	CHECK_EQ_U64(stats(a)->copy_records_received, copied);
	CHECK_EQ_U64(a->sc.copy_records, copied);
	CHECK(stats(b)->copy_batches_sent >= (copied + BATCH_MAX - 1) /
	                                        BATCH_MAX);
	/* the copy's cursor vector: A's cursor for B is B's own seq */
	CHECK_EQ_U64(store_own_seq(b->st), 506);
	CHECK_EQ_U64(cursor_of(a, b->id), 506);
	CHECK_EQ_U64(info(a, b->id).cursor, 506);
	/* nothing of B's origin streamed: all of it came by the copy */
	CHECK_EQ_U64(stats(a)->entries_received, received);
	/* merged, not replaced: A's record survives and reaches B */
	CHECK(record_present(a, "k5000"));
	CHECK(record_present(b, "k5000"));
	CHECK_EQ_U64(record_node(a, "k150"), 1);
	CHECK_EQ_U64(record_node(b, "k150"), 1);
	CHECK_EQ_U64(record_node(a, "k404"), 2);
	CHECK(!record_present(a, "k5")); /* the tombstone came along */
	CHECK(!record_present(b, "k5"));
	CHECK(record_present(a, "k1049"));
	struct digest da = digest_of(a), db = digest_of(b);
	CHECK_EQ_U64(da.records, 405 - 1 + 50 + 1);
	CHECK_EQ_U64(da.records, db.records);
	CHECK_EQ_U64(da.sum, db.sum);
	print_copy_stats("copy:", a);
	print_copy_stats("copy:", b);

	/* streaming goes on from the copy's cursor */
	local_writes(b, 40, 2000, 100000, 4);
	CHECK(run_until_converged(5000));
	CHECK_EQ_U64(cursor_of(a, b->id), 546);
	CHECK_EQ_U64(stats(a)->entries_received, received + 40);
	CHECK_EQ_U64(stats(b)->copies, 1);
	CHECK(record_present(a, "k2039"));
	CHECK_EQ_U64(repl_min_acked_up(b->repl, &up), 546);
	CHECK_EQ_U64(up, 1);
	print_stats("copy, then streaming:", a);
	print_stats("copy, then streaming:", b);
	teardown();
}

static bool mid_copy(void)
{
	const struct repl_stats *sa = stats(&F.n[0]);
	return sa->copy_records_received >= 500 && sa->copies_received == 0;
}

/* A copy cut off half-way (the link dies) restarts with the next link and
 * completes: the records applied before the cut are merged again (LWW,
 * nothing lost or doubled), the cursors move only at the end. */
static void test_copy_interrupted(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	cut(true);
	run_ms(3 * DEAD_MS);
	for (unsigned k = 0; k < 4; k++)
		local_writes(b, 1000, k * 1000, 100000, 1);
	CHECK_EQ_U64(prune_own(b, 4000), 4000);
	cut(false);
	CHECK(run_until(mid_copy, 5000));
	uint64_t sent_before = stats(b)->copy_records_sent;
	CHECK(sent_before < 4000);
	cut(true);
	run_ms(3 * DEAD_MS);
	CHECK(!info(a, b->id).up);
	CHECK_EQ_U64(stats(a)->copies_received, 0);
	CHECK_EQ_U64(cursor_of(a, b->id), 0); /* no cursor before the end */
	CHECK(digest_of(a).records >= 500);   /* but merged records stay */
	CHECK(digest_of(a).records < 4000);
	/* what went into TCP before the link was declared dead */
	uint64_t sent_first = stats(b)->copy_records_sent;
	CHECK(sent_first < 4000);
	cut(false);
	CHECK(run_until_converged(30000));
	CHECK_EQ_U64(stats(b)->copies, 2);
	CHECK_EQ_U64(stats(a)->copies_received, 1);
	CHECK_EQ_U64(cursor_of(a, b->id), 4000);
	CHECK_EQ_U64(digest_of(a).records, 4000);
	CHECK_EQ_U64(stats(b)->copy_records_sent, sent_first + 4000);
	CHECK_EQ_U64(stats(a)->entries_received, 0);
	CHECK_EQ_U64(stats(a)->links_down, 2);
	printf("  copy interrupted: %llu of 4000 records sent when the cut "
	       "was noticed, %llu before the link died\n",
	       (unsigned long long)sent_before,
	       (unsigned long long)sent_first);
	print_copy_stats("interrupted copy:", a);
	print_copy_stats("interrupted copy:", b);
	teardown();
}

/* One WRITE_COPY fails at the storage: the copy's end raises nothing, A
 * subscribes again and B copies again. */
static void test_copy_failed(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	cut(true);
	run_ms(3 * DEAD_MS);
	local_writes(b, 300, 0, 100000, 1);
	CHECK_EQ_U64(prune_own(b, 300), 300);
	a->copy_fail_once = 1;
	cut(false);
	CHECK(run_until_converged(20000));
	CHECK_EQ_U64(a->forced_copy_fails, 1);
	CHECK_EQ_U64(stats(a)->copy_failures, 1);
	CHECK_EQ_U64(stats(b)->copies, 2);
	CHECK_EQ_U64(stats(a)->copies_received, 1);
	CHECK_EQ_U64(cursor_of(a, b->id), 300);
	CHECK_EQ_U64(digest_of(a).records, 300);
	/* the link stayed up: the one before the cut and the one after */
	CHECK_EQ_U64(stats(a)->links_up, 2);
	CHECK_EQ_U64(stats(a)->links_down, 1);
	print_copy_stats("failed copy:", a);
	teardown();
}

/* The log is pruned under a live stream (A held B's batches back, then
 * retention took entries B had not sent yet): the stream runs into the
 * floor and turns into a copy on the same link. */
static void test_copy_hole(void)
{
	if (!setup(2))
		return;
	struct node *a = &F.n[0], *b = &F.n[1];
	run_ms(100);
	local_writes(b, 100, 0, 100000, 1);
	CHECK(run_until_converged(5000));
	a->alloc_fail = true;
	for (unsigned k = 0; k < 5; k++) {
		local_writes(b, 200, 100 + k * 200, 100000, 1);
		run_ms(10);
	}
	CHECK_EQ_U64(cursor_of(a, b->id), 100);
	uint64_t sent = info(b, a->id).sent;
	CHECK(sent < 1100);
	CHECK_EQ_U64(prune_own(b, 1100), 1100);
	a->alloc_fail = false;
	CHECK(run_until_converged(20000));
	CHECK_EQ_U64(stats(b)->copies, 1);
	CHECK_EQ_U64(stats(a)->copies_received, 1);
	CHECK_EQ_U64(stats(a)->links_up, 1);
	CHECK_EQ_U64(cursor_of(a, b->id), 1100);
	CHECK_EQ_U64(digest_of(a).records, 1100);
	/* the SUBSCRIBE at link up and the one after the copy */
	CHECK_EQ_U64(stats(b)->subscribes_received, 2);
	printf("  hole: B had sent up to %llu of 1100 when its log was "
	       "pruned\n", (unsigned long long)sent);
	print_copy_stats("stream into a hole:", b);
	teardown();
}

/* Three nodes: C is cut off while A and B write and prune their own logs
 * past C's cursors. C comes back: both copy to it (each copy's vector also
 * raises C's cursor of the third origin), C's own writes of the cut reach
 * A and B by its stream, and all three converge. */
static void test_copy_three(void)
{
	if (!setup(3))
		return;
	struct node *a = &F.n[0], *b = &F.n[1], *c = &F.n[2];
	run_ms(100);
	for (unsigned i = 0; i < 3; i++)
		local_writes(&F.n[i], 100, i * 100, 100000, 1);
	CHECK(run_until_converged(5000));
	for (unsigned i = 0; i < 2; i++)
		F.cut[i][2] = F.cut[2][i] = true;
	run_ms(3 * DEAD_MS);
	CHECK(!info(a, c->id).up && !info(c, b->id).up);
	CHECK(info(a, b->id).up);
	local_writes(a, 300, 1000, 100000, 2);
	local_writes(b, 300, 2000, 100000, 2);
	local_writes(c, 20, 3000, 100000, 2); /* only C has them */
	run_ms(100);
	CHECK_EQ_U64(cursor_of(a, b->id), 400);
	CHECK_EQ_U64(prune_own(a, 400), 400);
	CHECK_EQ_U64(prune_own(b, 400), 400);
	CHECK_EQ_U64(cursor_of(c, a->id), 100);
	for (unsigned i = 0; i < 2; i++)
		F.cut[i][2] = F.cut[2][i] = false;
	CHECK(run_until_converged(20000));
	CHECK_EQ_U64(stats(a)->copies, 1);
	CHECK_EQ_U64(stats(b)->copies, 1);
	CHECK_EQ_U64(stats(c)->copies, 0);
	CHECK_EQ_U64(stats(c)->copies_received, 2);
	CHECK_EQ_U64(stats(a)->copies_received + stats(b)->copies_received, 0);
	CHECK_EQ_U64(cursor_of(c, a->id), 400);
	CHECK_EQ_U64(cursor_of(c, b->id), 400);
	CHECK_EQ_U64(cursor_of(a, c->id), 120);
	CHECK_EQ_U64(cursor_of(b, c->id), 120);
	CHECK(record_present(a, "k3019") && record_present(b, "k3019"));
	CHECK_EQ_U64(digest_of(c).records, 100 * 3 + 300 * 2 + 20);
	print_copy_stats("three nodes:", a);
	print_copy_stats("three nodes:", b);
	print_copy_stats("three nodes:", c);
	teardown();
}

/* Failover: the A-B link is cut (both still reach C) while A and B write.
 * After dead_ms each asks C for the other's origin (SUBSCRIBE of a foreign
 * origin), C relays those logs from its own copies, and all three
 * converge with the link still cut. When the link heals, A and B take
 * each other's origin straight again, the relays end, and later writes
 * converge too; no write is lost. */
static void test_relay(void)
{
	if (!setup(3))
		return;
	struct node *a = &F.n[0], *b = &F.n[1], *c = &F.n[2];
	run_ms(100);
	CHECK(all_up());
	local_writes(a, 100, 0, 100000, 1);
	local_writes(b, 100, 1000, 100000, 1);
	CHECK(run_until_converged(5000));
	F.cut[0][1] = F.cut[1][0] = true;
	for (unsigned k = 0; k < 8; k++) {
		local_writes(a, 40, 100 + k * 40, 100000, 2);
		local_writes(b, 40, 1100 + k * 40, 100000, 2);
		local_writes(c, 10, 2000 + k * 10, 100000, 2);
		run_ms(100);
	}
	CHECK(run_until_converged(20000));
	CHECK(!info(a, b->id).up);
	CHECK(!info(b, a->id).up);
	CHECK_EQ_U64(info(a, b->id).via, c->id);
	CHECK_EQ_U64(info(b, a->id).via, c->id);
	CHECK_EQ_U64(info(c, a->id).via, 0);
	CHECK_EQ_U64(cursor_of(b, a->id), 420);
	CHECK_EQ_U64(cursor_of(a, b->id), 420);
	CHECK(stats(a)->relays_started >= 1);
	CHECK(stats(b)->relays_started >= 1);
	CHECK(stats(a)->relay_subscribes_sent >= 1);
	CHECK(stats(c)->relay_subscribes_received >= 2);
	CHECK(stats(c)->relay_entries_sent >= 640);
	CHECK(stats(a)->relay_entries_received >= 320);
	CHECK(stats(b)->relay_entries_received >= 320);
	CHECK_EQ_U64(stats(a)->copies + stats(b)->copies + stats(c)->copies, 0);
	/* healed: straight links again, relays over */
	F.cut[0][1] = F.cut[1][0] = false;
	for (unsigned k = 0; k < 4; k++) {
		local_writes(a, 25, 500 + k * 25, 100000, 3);
		local_writes(b, 25, 1500 + k * 25, 100000, 3);
		run_ms(50);
	}
	CHECK(run_until_converged(20000));
	run_ms(3 * DEAD_MS);
	CHECK(all_up());
	CHECK_EQ_U64(info(a, b->id).via, 0);
	CHECK_EQ_U64(info(b, a->id).via, 0);
	CHECK(stats(a)->relays_ended >= 1);
	CHECK(stats(b)->relays_ended >= 1);
	CHECK_EQ_U64(cursor_of(b, a->id), 520);
	CHECK_EQ_U64(cursor_of(c, b->id), 520);
	struct digest d = digest_of(a);
	CHECK_EQ_U64(d.records, 520 + 520 + 80);
	for (unsigned i = 0; i < 3; i++) {
		const struct repl_stats *s = stats(&F.n[i]);
		printf("  relay: node %u: relays started %llu ended %llu, "
		       "entries relayed sent %llu received %llu, stale "
		       "dropped %llu\n", F.n[i].id,
		       (unsigned long long)s->relays_started,
		       (unsigned long long)s->relays_ended,
		       (unsigned long long)s->relay_entries_sent,
		       (unsigned long long)s->relay_entries_received,
		       (unsigned long long)s->relay_batches_dropped);
	}
	teardown();
}

/* --- keys from loom-controld ------------------------------------------------ */

/* The secret of pair {a, b} in an epoch: what both ends' loom-controld
 * would export from their TLS session. */
static void pair_secret(uint8_t out[REPL_SECRET_LEN], uint16_t a, uint16_t b,
                        uint16_t epoch)
{
	uint16_t lo = a < b ? a : b, hi = a < b ? b : a;
	for (unsigned k = 0; k < REPL_SECRET_LEN; k++)
		out[k] = (uint8_t)(lo * 31u + hi * 7u + epoch * 13u + k);
}

/* Node index i learns the key of epoch `epoch` for node index j. */
static void give_key(unsigned i, unsigned j, uint16_t epoch)
{
	uint8_t sec[REPL_SECRET_LEN];
	pair_secret(sec, F.n[i].id, F.n[j].id, epoch);
	CHECK_EQ_U64(repl_peer_set(F.n[i].repl, F.n[j].id,
	                           F.n[j].th->net.ip_be, epoch, sec),
	             0);
}

static void give_all_keys(uint16_t epoch)
{
	for (unsigned i = 0; i < F.nn; i++)
		for (unsigned j = 0; j < F.nn; j++)
			if (i != j)
				give_key(i, j, epoch);
}

static bool link_up_with(struct node *n, struct node *m)
{
	return info(n, m->id).up && info(m, n->id).up;
}

static bool a_b_up(void)
{
	return link_up_with(&F.n[0], &F.n[1]);
}

/* Peers and keys only from repl_peer_set (loom-controld's path): no link
 * without a key; a different secret per pair; a new epoch on one side
 * reopens the link and the other side refuses it (unknown epoch) until it
 * has that key too, while writes go on and nothing is lost; an older
 * epoch is refused once a link under the newer one has been up; a removed
 * peer is refused and gets nothing more; added again, it resumes from its
 * cursor. */
static void test_keys(void)
{
	opt_dynamic = true;
	if (!setup(3))
		return;
	struct node *a = &F.n[0], *b = &F.n[1], *c = &F.n[2];
	run_ms(300);
	CHECK_EQ_U64(repl_peer_count(a->repl), 0);
	CHECK_EQ_U64(stats(a)->connects, 0);
	uint8_t sec[REPL_SECRET_LEN];
	pair_secret(sec, 1, 2, 1);
	CHECK_EQ_U64(repl_peer_set(a->repl, 1, b->th->net.ip_be, 1, sec),
	             EINVAL); /* itself */
	CHECK_EQ_U64(repl_peer_set(a->repl, 2, b->th->net.ip_be, 0, sec),
	             EINVAL); /* epoch 0 */
	give_all_keys(1);
	give_all_keys(1); /* again (loom-controld reconnected): no change */
	CHECK_EQ_U64(stats(a)->keys_installed, 2);
	sec[0] ^= 1;
	CHECK_EQ_U64(repl_peer_set(a->repl, 2, b->th->net.ip_be, 1, sec),
	             EINVAL); /* the same epoch, another secret */
	run_ms(200);
	CHECK(all_up());
	CHECK_EQ_U64(info(a, b->id).epoch, 1);
	local_writes(a, 100, 0, 100000, 1);
	local_writes(b, 100, 1000, 100000, 1);
	CHECK(run_until_converged(5000));

	/* rekey of the A-B pair, A first, under writes */
	uint64_t unknown0 = stats(b)->unknown_epoch;
	give_key(0, 1, 2);
	for (unsigned k = 0; k < 4; k++) {
		local_writes(a, 25, 100 + k * 25, 100000, 2);
		local_writes(b, 25, 1100 + k * 25, 100000, 2);
		run_ms(50);
	}
	CHECK(!a_b_up());
	CHECK(stats(b)->unknown_epoch > unknown0);
	give_key(1, 0, 2);
	CHECK(run_until(a_b_up, 5000));
	CHECK_EQ_U64(info(a, b->id).epoch, 2);
	CHECK_EQ_U64(info(b, a->id).epoch, 2);
	CHECK(run_until_converged(10000));
	CHECK_EQ_U64(cursor_of(b, a->id), 200);
	CHECK_EQ_U64(cursor_of(a, b->id), 200);

	/* B moves on to epoch 3 first: A reconnects under 2 and B still
	 * takes it (the previous key) */
	give_key(1, 0, 3);
	CHECK(run_until(a_b_up, 5000));
	CHECK_EQ_U64(info(b, a->id).epoch, 3);
	give_key(0, 1, 3);
	CHECK(run_until(a_b_up, 5000));
	run_ms(100);
	CHECK(a_b_up());
	/* epoch 2 is gone at B now: A under it is refused */
	unknown0 = stats(b)->unknown_epoch;
	give_key(0, 1, 2);
	run_ms(500);
	CHECK(!a_b_up());
	CHECK(stats(b)->unknown_epoch > unknown0);
	give_key(0, 1, 4);
	give_key(1, 0, 4);
	CHECK(run_until(a_b_up, 5000));

	/* C removes A: the link goes, A's attempts are refused, A's writes
	 * no longer reach C (not even relayed through B) */
	uint64_t refused0 = stats(c)->refused;
	CHECK_EQ_U64(repl_peer_remove(c->repl, a->id), 0);
	CHECK_EQ_U64(repl_peer_remove(c->repl, a->id), ENOENT);
	CHECK(info(c, a->id).removed);
	local_writes(a, 50, 300, 100000, 3);
	run_ms(3 * DEAD_MS);
	CHECK(!info(c, a->id).up);
	CHECK(stats(c)->refused > refused0);
	CHECK_EQ_U64(stats(c)->peers_removed, 1);
	CHECK_EQ_U64(cursor_of(c, a->id), 200);
	CHECK_EQ_U64(cursor_of(b, a->id), 250);
	/* back in the cluster under a new key: resumes from its cursor */
	give_key(2, 0, 5);
	give_key(0, 2, 5);
	CHECK(run_until_converged(10000));
	CHECK(all_up());
	CHECK_EQ_U64(cursor_of(c, a->id), 250);
	CHECK_EQ_U64(stats(a)->copies + stats(b)->copies + stats(c)->copies, 0);
	printf("  keys: node 1 installed %llu keys; node 2 refused %llu "
	       "connections under an epoch it had no key for\n",
	       (unsigned long long)stats(a)->keys_installed,
	       (unsigned long long)stats(b)->unknown_epoch);
	teardown();
}

int main(void)
{
	test_two_nodes();
	test_three_nodes();
	test_link_cut();
	test_replace();
	test_tamper();
	test_backpressure();
	test_gap();
	test_large_frames();
	test_lossy_mesh(5);
	test_lossy_mesh(30);
	test_copy();
	test_copy_interrupted();
	test_copy_failed();
	test_copy_hole();
	test_copy_three();
	test_relay();
	test_keys();
	CHECK_DONE();
}

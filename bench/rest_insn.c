/*
 * rest_insn.c - the server's software path of one insert, in process, for
 * instruction counts under callgrind (bench/rest_insn.sh).
 *
 * One node runs the real code of an io lcore and the storage lcore without
 * DPDK: the TCP stack and the REST server over the unit tests' fake frame
 * layer (tests/unit/tcp_harness.c), a real LMDB store, and
 * storage_apply_batch as the storage lcore's group commit. CONNS scripted
 * clients each send one POST of the reference record (400 bytes of JSON, 8
 * fields) per round, one segment each, carrying the ACK of the previous
 * answer as a real client's next request does; then one group commit of the
 * round's CONNS writes and their answers, one segment each.
 *
 * The server's work is exactly what runs inside four functions, which
 * rest_insn.sh sums from callgrind's inclusive costs:
 *   net_rx, tcp_input      every received segment (HTTP parsing, JSON
 *                          validation, id, submission run in tcp_input's
 *                          callbacks)
 *   bench_storage_step     storage_apply_batch (one LMDB txn and commit)
 *                          and rest_complete for each answer
 *   bench_poll             tcp_flush (segments out), rest_poll
 * Building the clients' segments and parsing the answers happens outside
 * them and is not counted. Frames are heap copies here (a NIC would DMA
 * them), and request buffers come from a free list (loomd: a mempool
 * cache); both are cheap next to the rest.
 *
 *   rest_insn [--keys uuid|seq] [--inserts N] [--conns C] [--dir DIR]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/http/rest_server.h"
#include "dataplane/http/uuid.h"
#include "storage/batch.h"
#include "storage/store.h"
#include "tests/unit/tcp_harness.h"

#define MAX_CONNS 256
#define POOL 1024
#define BUF_DATA 4096

struct bench {
	struct th_node *n;
	struct rest_server *rs;
	struct store *st;
	struct write_req *q[POOL];
	unsigned nq;
	struct write_req *free_list[POOL];
	unsigned n_free;
	struct storage_counters sc;
};

static struct write_req *b_alloc(void *user, size_t bytes)
{
	struct bench *b = user;
	if (bytes > BUF_DATA || b->n_free == 0)
		return NULL;
	struct write_req *r = b->free_list[--b->n_free];
	r->cap = BUF_DATA;
	r->next = NULL;
	return r;
}

static void b_free(void *user, struct write_req *r)
{
	struct bench *b = user;
	b->free_list[b->n_free++] = r;
}

static int b_submit(void *user, struct write_req *r)
{
	struct bench *b = user;
	b->q[b->nq++] = r;
	return 0;
}

static void *heap_zalloc(void *user, size_t size)
{
	(void)user;
	return calloc(1, size);
}

static void heap_free(void *user, void *p)
{
	(void)user;
	free(p);
}

static uint64_t fake_now_ns(void)
{
	return 0;
}

static uint64_t wall_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Kept out of line so callgrind reports them by name. */
__attribute__((noinline)) void bench_storage_step(struct bench *b);
__attribute__((noinline)) void bench_poll(struct bench *b);

void bench_storage_step(struct bench *b)
{
	storage_apply_batch(b->st, b->q, b->nq, &b->sc, fake_now_ns);
	for (unsigned i = 0; i < b->nq; i++)
		rest_complete(b->rs, b->q[i]);
	b->nq = 0;
}

void bench_poll(struct bench *b)
{
	rest_poll(b->rs);
	tcp_flush(b->n->tcp);
}

static void send_seg(struct th_peer *p, uint8_t flags, const void *data,
                     uint16_t len)
{
	struct th_in in = {0};
	in.sport = p->port;
	in.dport = p->our_port;
	in.seq = p->seq;
	in.ack = p->ack;
	in.flags = flags;
	in.win = p->win;
	in.data = data;
	in.len = len;
	in.no_flush = true;
	th_inject(p->n, &in);
	p->seq += len + ((flags & (TH_SYN | TH_FIN)) ? 1u : 0u);
}

/* Read every segment the node sent; advance each peer's ack; count the
 * 201s. Returns how many answers were not 201. */
static unsigned drain(struct bench *b, struct th_peer *peers, unsigned conns,
                      unsigned *created)
{
	struct th_seg s;
	unsigned bad = 0;
	while (th_pop(b->n, &s)) {
		unsigned i = s.dport - 20000u;
		if (i >= conns)
			continue;
		if (s.flags & TH_SYN)
			peers[i].ack = s.seq + 1;
		else if (s.len > 0)
			peers[i].ack = s.seq + s.len;
		if (s.len >= 12) {
			if (memcmp(s.data, "HTTP/1.1 201", 12) == 0)
				(*created)++;
			else
				bad++;
		}
	}
	return bad;
}

static size_t make_request(char *out, size_t cap, const char *keys,
                           struct uuid_gen *g, unsigned long seq)
{
	char id[64];
	if (strcmp(keys, "seq") == 0) {
		snprintf(id, sizeof id, "seq-%012lu", seq);
	} else {
		uuid_v4(g, id);
		id[UUID_STR_LEN] = '\0';
	}
	char body[512];
	int hl = snprintf(body, sizeof body,
	                  "{\"id\":\"%s\",\"name\":\"user %lu\",\"email\":"
	                  "\"user%lu@example.com\",\"age\":%lu,\"city\":"
	                  "\"Amsterdam\",\"score\":%lu.5,\"active\":true,"
	                  "\"note\":\"", id, seq, seq, seq % 90, seq % 1000);
	int pad = 400 - hl - 2;
	memset(body + hl, 'x', (size_t)pad);
	memcpy(body + hl + pad, "\"}", 3);
	int n = snprintf(out, cap,
	                 "POST /bench/ HTTP/1.1\r\nHost: node\r\n"
	                 "Content-Type: application/json\r\n"
	                 "Content-Length: 400\r\n\r\n%s", body);
	return (size_t)n;
}

int main(int argc, char **argv)
{
	const char *keys = "uuid";
	unsigned long inserts = 10000;
	unsigned conns = 64;
	const char *dir = NULL;
	static const struct option opts[] = {
		{"keys", required_argument, NULL, 'k'},
		{"inserts", required_argument, NULL, 'n'},
		{"conns", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k': keys = optarg; break;
		case 'n': inserts = strtoul(optarg, NULL, 10); break;
		case 'c': conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		default:
			fputs("usage: rest_insn [--keys uuid|seq] [--inserts N] "
			      "[--conns C] [--dir DIR]\n", stderr);
			return 2;
		}
	}
	if (dir == NULL || conns == 0 || conns > MAX_CONNS || inserts == 0 ||
	    (strcmp(keys, "uuid") != 0 && strcmp(keys, "seq") != 0)) {
		fputs("rest_insn: --dir DIR is required; conns 1..256; keys "
		      "uuid|seq\n", stderr);
		return 2;
	}

	static struct bench b;
	struct tcp_config tc;
	th_default_cfg(&tc);
	tc.max_conns = MAX_CONNS * 2;
	tc.sndbuf = 16384;
	tc.rcvbuf = 16384;
	b.n = th_node_new_cfg(1, &tc);
	const struct store_config scfg = {
		.path = dir, .map_size = (size_t)1 << 30, .node_id = 1,
		.sync = STORE_SYNC_INTERVAL, .clock_ms = wall_ms,
	};
	if (store_open(&scfg, &b.st) != 0) {
		fprintf(stderr, "rest_insn: cannot open a store in %s\n", dir);
		return 1;
	}
	for (unsigned i = 0; i < POOL; i++) {
		b.free_list[i] = calloc(1, sizeof(struct write_req) + BUF_DATA);
		if (b.free_list[i] == NULL)
			return 1;
	}
	b.n_free = POOL;
	const struct rest_config rc = {
		.limits = {.max_header_bytes = 8192, .max_headers = 64,
		           .max_body = 65536},
		.header_timeout_ms = 10000, .idle_timeout_ms = 60000,
		.backpressure_ms = 5000, .max_inflight = 32, .node_id = 1,
		.max_conns = tc.max_conns, .large_data = BUF_DATA,
		.auth_mode = LOOM_AUTH_NONE,
	};
	const struct rest_ops ops = {.req_alloc = b_alloc, .req_free = b_free,
	                             .submit = b_submit, .user = &b};
	const struct tcp_alloc heap = {heap_zalloc, heap_free, NULL};
	b.rs = rest_create(&rc, b.n->tcp, &b.n->net, b.st, &ops, &heap);
	if (b.rs == NULL || rest_listen(b.rs, 80) != 0) {
		fputs("rest_insn: rest_create/listen failed\n", stderr);
		return 1;
	}

	/* Handshakes (counted too, but the same in every run: rest_insn.sh
	 * takes the difference of two run lengths). */
	static struct th_peer peers[MAX_CONNS];
	for (unsigned i = 0; i < conns; i++) {
		peers[i] = (struct th_peer){.n = b.n, .port = (uint16_t)(20000 + i),
		                            .our_port = 80, .seq = 1000u * (i + 1),
		                            .win = 65535};
		th_peer_syn(&peers[i], TH_SYN, 1460, -1, false);
	}
	unsigned created = 0, bad = 0;
	bad += drain(&b, peers, conns, &created);
	for (unsigned i = 0; i < conns; i++)
		send_seg(&peers[i], TH_ACK, NULL, 0);
	bench_poll(&b);
	bad += drain(&b, peers, conns, &created);

	struct uuid_gen g;
	uuid_gen_seed(&g, 42);
	char req[1024];
	unsigned long sent = 0;
	while (sent < inserts) {
		for (unsigned i = 0; i < conns && sent < inserts; i++) {
			size_t len = make_request(req, sizeof req, keys, &g, sent);
			send_seg(&peers[i], TH_ACK | TH_PSH, req, (uint16_t)len);
			sent++;
		}
		bench_poll(&b);
		bench_storage_step(&b);
		bench_poll(&b);
		bad += drain(&b, peers, conns, &created);
	}
	printf("{\"keys\":\"%s\",\"conns\":%u,\"inserts\":%lu,"
	       "\"created\":%u,\"other\":%u,\"commits\":%llu}\n", keys,
	       conns, inserts, created, bad,
	       (unsigned long long)b.sc.commits);
	rest_destroy(b.rs);
	th_node_free(b.n);
	store_close(b.st);
	for (unsigned i = 0; i < b.n_free; i++)
		free(b.free_list[i]);
	return created == inserts && bad == 0 ? 0 : 1;
}

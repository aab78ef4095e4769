/* TCP loss recovery: RTO with exponential back-off and the final timeout,
 * fast retransmit and NewReno fast recovery, and bulk transfers both ways
 * between two stacks over a lossy link. */
#include <stdlib.h>

#include "check.h"
#include "tcp_harness.h"

static uint8_t pat[20000];

static void test_rto_backoff(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6200, 1, 1460, -1, false);
	/* samples 0 (handshake) and 100 ms: srtt 12.5 ms, rttvar 25 ms,
	 * rto = 112.5 ms, clamped to rto_min */
	tcp_send(c, "a", 1);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	n->net.now_us += 100000;
	p.ack++;
	th_peer_send(&p, TH_ACK, NULL, 0);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.srtt_us, 12500);
	CHECK_EQ_U64(ci.rttvar_us, 25000);
	CHECK_EQ_U64(ci.rto_us, 200000);
	tcp_send(c, pat, 1000);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	uint32_t seq = s.seq;
	uint64_t iv = 200;
	for (int i = 0; i < 6; i++) {
		th_advance(n, iv - 1);
		CHECK_EQ_U64(th_pending(n), 0);
		th_advance(n, 1);
		CHECK(th_pop(n, &s));
		CHECK_EQ_U64(s.seq, seq);
		CHECK_EQ_U64(s.len, 1000);
		iv *= 2;
	}
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.retransmits, 6);
	CHECK_EQ_U64(ci.cwnd, 1460);
	CHECK_EQ_U64(th_stat(n, "rto_expired"), 6);
	CHECK_EQ_U64(th_stat(n, "retransmits"), 6);
	th_advance(n, iv);
	CHECK(th_pop(n, &s));
	CHECK(s.flags & TH_RST);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_TIMEOUT);
	CHECK_EQ_U64(th_stat(n, "timeouts"), 1);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_rto_recovers(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6201, 1, 1460, -1, false);
	tcp_send(c, pat, 5000);
	tcp_flush(n->tcp);
	struct th_seg s;
	int k = 0;
	while (th_pop(n, &s))
		k++;
	CHECK_EQ_U64(k, 4);
	th_advance(n, 200); /* all lost: go back N, one segment */
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.seq, p.ack);
	CHECK(!th_pop(n, &s));
	p.ack += 1460;
	th_peer_send(&p, TH_ACK, NULL, 0); /* slow start: 2 segments */
	CHECK(th_pop(n, &s));
	CHECK(th_pop(n, &s));
	CHECK(!th_pop(n, &s));
	/* an ACK for everything sent before the timeout */
	p.ack += 5000 - 1460;
	th_peer_send(&p, TH_ACK, NULL, 0);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.send_queued, 0);
	CHECK_EQ_U64(ci.retransmits, 0);
	CHECK_EQ_U64(ci.snd_nxt, p.ack);
	th_advance(n, 5000);
	CHECK_EQ_U64(th_pending(n), 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_newreno(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6202, 1, 1460, -1, false);
	uint32_t una = p.ack;
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.cwnd, 14600); /* RFC 6928 initial window */
	tcp_send(c, pat, 20000);
	tcp_flush(n->tcp);
	struct th_seg s;
	int k = 0;
	while (th_pop(n, &s))
		k++;
	CHECK_EQ_U64(k, 10);
	th_peer_send(&p, TH_ACK, NULL, 0);
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK_EQ_U64(th_pending(n), 0);
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK(th_pop(n, &s)); /* fast retransmit */
	CHECK_EQ_U64(s.seq, una);
	CHECK_EQ_U64(s.len, 1460);
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.ssthresh, 7300);
	CHECK_EQ_U64(ci.cwnd, 7300 + 3 * 1460);
	CHECK_EQ_U64(th_stat(n, "fast_retransmits"), 1);
	CHECK_EQ_U64(th_stat(n, "dup_acks"), 3);
	/* inflation: each further dup ACK adds an MSS; three more let one
	 * new segment out (flight 14600, cwnd 14600 + 1460) */
	th_peer_send(&p, TH_ACK, NULL, 0);
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK_EQ_U64(th_pending(n), 0);
	th_peer_send(&p, TH_ACK, NULL, 0);
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.cwnd, 7300 + 6 * 1460);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.seq, una + 14600);
	CHECK(!th_pop(n, &s));
	/* partial ACK: retransmit the next hole, deflate */
	p.ack = una + 2920;
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.seq, una + 2920);
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.cwnd, 7300 + 6 * 1460 - 2920 + 1460);
	/* and with cwnd 14600 from una + 2920, one more new segment */
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.seq, una + 16060);
	CHECK(!th_pop(n, &s));
	/* full ACK (covers recover = una + 14600): cwnd = min(ssthresh,
	 * flight + mss), flight being the two new segments */
	p.ack = una + 14600;
	th_peer_send(&p, TH_ACK, NULL, 0);
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.cwnd, 2 * 1460 + 1460);
	CHECK_EQ_U64(ci.ssthresh, 7300);
	CHECK_EQ_U64(th_node_free(n), 0);
}

/* Two stacks, 4 MiB each way, 5% loss both ways. */
struct bulk_side {
	struct th_node *n;
	struct th_app app;
	struct tcp_conn *c;
	size_t sent;
};

static uint8_t byte_at(size_t i, unsigned salt)
{
	return (uint8_t)((i * 2654435761u >> 13) + salt);
}

static void push(struct bulk_side *b, size_t total, unsigned salt)
{
	uint8_t buf[4096];
	while (b->c && b->sent < total) {
		size_t want = total - b->sent < sizeof buf ? total - b->sent
		                                           : sizeof buf;
		for (size_t i = 0; i < want; i++)
			buf[i] = byte_at(b->sent + i, salt);
		size_t got = tcp_send(b->c, buf, want);
		b->sent += got;
		if (got < want)
			break;
	}
}

static void bulk_lossy(size_t ta, size_t tb)
{
	size_t total = ta > tb ? ta : tb;
	struct tcp_config cfg;
	th_default_cfg(&cfg);
	cfg.sndbuf = 1u << 18;
	cfg.rcvbuf = 1u << 18;
	cfg.rto_init_ms = 100;
	cfg.rto_min_ms = 20;
	cfg.max_retries = 30;
	struct bulk_side a = {0}, b = {0};
	a.n = th_node_new_cfg(1, &cfg);
	cfg.secret[0] ^= 0x55;
	b.n = th_node_new_cfg(2, &cfg);
	a.app.auto_consume = b.app.auto_consume = true;
	CHECK(tcp_listen(b.n->tcp, 80, &th_callbacks, &b.app) == 0);
	a.c = tcp_connect(a.n->tcp, TH_PEER, 80, &th_callbacks, &a.app);
	tcp_flush(a.n->tcp);
	uint32_t seed = 12345;
	int steps = 0;
	for (; steps < 200000; steps++) {
		b.c = b.app.conn;
		push(&a, ta, 1);
		push(&b, tb, 2);
		tcp_flush(a.n->tcp);
		tcp_flush(b.n->tcp);
		th_pump(a.n, b.n, 5, &seed);
		if (a.app.rx_len == tb && b.app.rx_len == ta)
			break;
		if (a.app.closed || b.app.closed)
			break;
		th_advance(a.n, 1);
		th_advance(b.n, 1);
	}
	CHECK_EQ_U64(a.app.rx_len, tb);
	CHECK_EQ_U64(b.app.rx_len, ta);
	if (a.app.rx_len != tb || b.app.rx_len != ta) {
		struct tcp_conn_info x;
		struct bulk_side *sd[2] = {&a, &b};
		for (int i = 0; i < 2; i++) {
			if (!sd[i]->c)
				continue;
			tcp_conn_get_info(sd[i]->c, &x);
			fprintf(stderr, "%d: st %d una %u nxt %u sw %u rn %u rw %u cwnd %u ss %u rto %u retr %u q %zu av %zu\n", i, x.state, x.snd_una, x.snd_nxt, x.snd_wnd, x.rcv_nxt, x.rcv_wnd, x.cwnd, x.ssthresh, x.rto_us, x.retransmits, x.send_queued, x.recv_avail);
		}
	}
	size_t bad = 0;
	for (size_t i = 0; i < a.app.rx_len; i++)
		bad += a.app.rx[i] != byte_at(i, 2);
	for (size_t i = 0; i < b.app.rx_len; i++)
		bad += b.app.rx[i] != byte_at(i, 1);
	CHECK_EQ_U64(bad, 0);
	printf("bulk: %d ms simulated; A retransmits %llu (fast %llu, rto "
	       "%llu), B retransmits %llu\n",
	       steps, (unsigned long long)th_stat(a.n, "retransmits"),
	       (unsigned long long)th_stat(a.n, "fast_retransmits"),
	       (unsigned long long)th_stat(a.n, "rto_expired"),
	       (unsigned long long)th_stat(b.n, "retransmits"));
	(void)total;
	CHECK(th_stat(a.n, "retransmits") + th_stat(b.n, "retransmits") > 0);
	if (ta && !tb)
		CHECK(th_stat(a.n, "fast_retransmits") > 0);
	/* graceful close both ways, still lossy */
	tcp_close(a.c);
	tcp_close(b.c);
	for (int i = 0; i < 20000 && (!a.app.closed || !b.app.closed); i++) {
		tcp_flush(a.n->tcp);
		tcp_flush(b.n->tcp);
		th_pump(a.n, b.n, 5, &seed);
		th_advance(a.n, 1);
		th_advance(b.n, 1);
	}
	CHECK_EQ_U64(a.app.closed, 1);
	CHECK_EQ_U64(b.app.closed, 1);
	CHECK_EQ_U64(a.app.reason, TCP_CLOSE_NORMAL);
	CHECK_EQ_U64(b.app.reason, TCP_CLOSE_NORMAL);
	CHECK_EQ_U64(a.app.peer_closed, 1);
	CHECK_EQ_U64(b.app.peer_closed, 1);
	th_advance(a.n, 100000);
	th_advance(b.n, 100000);
	CHECK_EQ_U64(tcp_stack_conn_count(a.n->tcp), 0);
	CHECK_EQ_U64(tcp_stack_conn_count(b.n->tcp), 0);
	free(a.app.rx);
	free(b.app.rx);
	CHECK_EQ_U64(th_node_free(a.n), 0);
	CHECK_EQ_U64(th_node_free(b.n), 0);
}

int main(void)
{
	for (size_t i = 0; i < sizeof pat; i++)
		pat[i] = (uint8_t)(i * 13);
	test_rto_backoff();
	test_rto_recovers();
	test_newreno();
	bulk_lossy(4u << 20, 0);
	bulk_lossy(0, 4u << 20);
	bulk_lossy(4u << 20, 4u << 20);
	CHECK_DONE();
}

/* TCP under hostile input: checksum, header and flag checks, RFC 5961
 * RST and SYN handling with rate-limited challenge ACKs, ACKs out of
 * range, SYN cookies, aborts from inside callbacks. */
#include "check.h"
#include "tcp_harness.h"

static struct th_node *node_backlog(uint32_t backlog)
{
	struct tcp_config cfg;
	th_default_cfg(&cfg);
	cfg.syn_backlog = backlog;
	return th_node_new_cfg(1, &cfg);
}

static void test_header_checks(void)
{
	struct th_node *n = node_backlog(8);
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6300, 1, 1460, -1, false);
	struct th_in in = {p.port, 80, p.seq, p.ack, TH_ACK, 1000, NULL, 0,
	                   (const uint8_t *)"abc", 3, true, false, 0};
	th_inject(n, &in);
	CHECK_EQ_U64(th_stat(n, "drop_csum"), 1);
	in.bad_csum = false;
	in.doff = 4;
	th_inject(n, &in);
	in.doff = 15; /* beyond the segment */
	th_inject(n, &in);
	CHECK_EQ_U64(th_stat(n, "drop_short"), 2);
	in.doff = 0;
	in.flags = TH_SYN | TH_FIN;
	th_inject(n, &in);
	in.flags = TH_SYN | TH_RST;
	th_inject(n, &in);
	CHECK_EQ_U64(th_stat(n, "drop_bad_flags"), 2);
	CHECK_EQ_U64(tcp_recv_avail(c), 0);
	CHECK_EQ_U64(th_pending(n), 0);
	/* malformed options are ignored, the segment is not */
	uint8_t bad_opts[8] = {1, 2, 9, 8, 0, 0, 0, 0};
	in.flags = TH_ACK;
	in.opts = bad_opts;
	in.optlen = 8;
	th_inject(n, &in);
	CHECK_EQ_U64(tcp_recv_avail(c), 3);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_rst_rules(void)
{
	struct th_node *n = node_backlog(8);
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6301, 1, 1460, -1, false);
	struct th_seg s;
	uint32_t nxt = p.seq;
	/* out of window: ignored, nothing sent */
	p.seq = nxt + 1000000;
	th_peer_send(&p, TH_RST, NULL, 0);
	CHECK_EQ_U64(th_pending(n), 0);
	CHECK_EQ_U64(app.closed, 0);
	/* in window, not exact: challenge ACK */
	p.seq = nxt + 10;
	th_peer_send(&p, TH_RST, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK);
	CHECK_EQ_U64(s.ack, nxt);
	CHECK_EQ_U64(app.closed, 0);
	/* SYN on an established connection: challenge ACK */
	p.seq = nxt + 5;
	th_peer_send(&p, TH_SYN, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK);
	CHECK_EQ_U64(s.ack, nxt);
	CHECK_EQ_U64(th_stat(n, "challenge_acks"), 2);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_ESTABLISHED);
	/* rate limit: 100 per second */
	for (int i = 0; i < 150; i++) {
		p.seq = nxt + 10;
		th_peer_send(&p, TH_RST, NULL, 0);
	}
	CHECK_EQ_U64(th_stat(n, "challenge_acks"), 100);
	th_drain(n);
	/* an ACK for data never sent: ACK back, dropped */
	p.seq = nxt;
	p.ack += 5000;
	th_peer_send(&p, TH_ACK, "zz", 2);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.ack, nxt);
	CHECK_EQ_U64(tcp_recv_avail(c), 0);
	p.ack -= 5000;
	/* exact RST: reset */
	p.seq = nxt;
	th_peer_send(&p, TH_RST, NULL, 0);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_RESET);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	CHECK_EQ_U64(th_stat(n, "resets_in"), 1);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_abort_in_callback(void)
{
	struct th_node *n = node_backlog(8);
	struct th_app app = {0};
	struct th_peer p;
	th_accept(n, &p, &app, 6302, 1, 1460, -1, false);
	app.abort_on_read = true;
	th_peer_send(&p, TH_ACK | TH_FIN, "data", 4);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_ABORT);
	CHECK_EQ_U64(app.peer_closed, 0);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK(s.flags & TH_RST);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	/* close from the callback: FIN follows */
	memset(&app, 0, sizeof app); /* still the listener's arg */
	CHECK(th_accept(n, &p, &app, 6303, 1, 1460, -1, false) != NULL);
	app.close_on_read = true;
	th_peer_send(&p, TH_ACK, "data", 4);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK | TH_FIN);
	CHECK_EQ_U64(s.ack, p.seq);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_cookies(void)
{
	struct th_node *n = node_backlog(2);
	struct th_app app = {0};
	tcp_listen(n->tcp, 80, &th_callbacks, &app);
	struct th_seg s;
	for (uint16_t port = 7000; port < 7002; port++) {
		struct th_peer p = {n, port, 80, 100, 0, 1000};
		th_peer_syn(&p, TH_SYN, 1460, 7, true);
		CHECK(th_pop(n, &s));
		CHECK(s.has_ws && s.has_ts);
	}
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 2);
	struct th_peer p = {n, 7002, 80, 5000, 0, 1000};
	th_peer_syn(&p, TH_SYN, 1400, 7, true);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN | TH_ACK);
	CHECK_EQ_U64(s.ack, 5001);
	CHECK(s.has_mss && !s.has_ws && !s.has_ts);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 2);
	CHECK_EQ_U64(th_stat(n, "syn_cookies_sent"), 1);
	CHECK_EQ_U64(th_stat(n, "syn_backlog_full"), 1);
	uint32_t cookie = s.seq;
	/* a forged cookie: RST */
	struct th_peer f = {n, 7003, 80, 5001, cookie + 1, 1000};
	th_peer_send(&f, TH_ACK, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_RST);
	CHECK_EQ_U64(s.seq, cookie + 1);
	CHECK_EQ_U64(th_stat(n, "syn_cookies_bad"), 1);
	CHECK_EQ_U64(app.accepted, 0);
	/* the right ACK, with data: established with the encoded MSS */
	p.ack = cookie + 1;
	th_peer_send(&p, TH_ACK | TH_PSH, "hello", 5);
	CHECK_EQ_U64(app.accepted, 1);
	CHECK_EQ_U64(th_stat(n, "syn_cookies_ok"), 1);
	CHECK(app.conn != NULL);
	struct tcp_conn_info ci;
	tcp_conn_get_info(app.conn, &ci);
	CHECK_EQ_U64(ci.state, TCP_ESTABLISHED);
	CHECK_EQ_U64(ci.mss, 1400);
	CHECK_EQ_U64(ci.snd_wscale, 0);
	CHECK(!ci.ts_ok);
	CHECK_EQ_U64(ci.snd_wnd, 1000);
	CHECK_EQ_U64(tcp_recv_avail(app.conn), 5);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 3);
	/* an old cookie (minutes later) is rejected */
	struct th_peer q = {n, 7004, 80, 9000, 0, 1000};
	th_peer_syn(&q, TH_SYN, 1460, -1, false);
	CHECK(th_pop(n, &s));
	q.ack = s.seq + 1;
	th_drain(n);
	th_advance(n, 300000);
	th_drain(n);
	th_peer_send(&q, TH_ACK, NULL, 0);
	CHECK_EQ_U64(th_stat(n, "syn_cookies_bad"), 2);
	CHECK_EQ_U64(app.accepted, 1);
	th_drain(n);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_pool_full(void)
{
	struct tcp_config cfg;
	th_default_cfg(&cfg);
	cfg.max_conns = 2;
	struct th_node *n = th_node_new_cfg(1, &cfg);
	struct th_app app = {0};
	tcp_listen(n->tcp, 80, &th_callbacks, &app);
	struct th_seg s;
	for (uint16_t port = 7100; port < 7103; port++) {
		struct th_peer p = {n, port, 80, 100, 0, 1000};
		th_peer_syn(&p, TH_SYN, 1460, -1, false);
		CHECK(th_pop(n, &s));
	}
	CHECK_EQ_U64(th_stat(n, "conns_full"), 1);
	CHECK_EQ_U64(th_stat(n, "syn_cookies_sent"), 1);
	struct th_app a2 = {0};
	CHECK(tcp_connect(n->tcp, TH_PEER, 80, &th_callbacks, &a2) == NULL);
	CHECK_EQ_U64(th_node_free(n), 0);
}

int main(void)
{
	test_header_checks();
	test_rst_rules();
	test_abort_in_callback();
	test_cookies();
	test_pool_full();
	CHECK_DONE();
}

/* TCP opens and closes: passive and active handshakes with option
 * negotiation, simultaneous open and close, FIN in each state, TIME_WAIT
 * and FIN_WAIT_2 bounds, refusal, RSTs for segments to no connection. */
#include "check.h"
#include "tcp_harness.h"

static void test_passive(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p = {0};
	CHECK(tcp_listen(n->tcp, 80, &th_callbacks, &app) == 0);
	CHECK(tcp_listen(n->tcp, 80, &th_callbacks, &app) == -1);
	p.n = n;
	p.port = 5555;
	p.our_port = 80;
	p.seq = 1000;
	p.win = 65535;
	th_peer_syn(&p, TH_SYN, 1400, 7, true);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN | TH_ACK);
	CHECK_EQ_U64(s.ack, 1001);
	CHECK(s.has_mss && s.mss == 1460);
	CHECK(s.has_ws && s.ws == 1); /* 65536 >> 1 fits 16 bits */
	CHECK(s.has_ts && s.tsecr == 12345);
	CHECK_EQ_U64(s.win, 65535);
	CHECK_EQ_U64(s.sport, 80);
	CHECK_EQ_U64(s.dport, 5555);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 1);
	CHECK_EQ_U64(app.accepted, 0);
	p.ack = s.seq + 1;
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK_EQ_U64(app.accepted, 1);
	CHECK(app.conn != NULL);
	CHECK_EQ_U64(th_pending(n), 0);
	struct tcp_conn_info ci;
	tcp_conn_get_info(app.conn, &ci);
	CHECK_EQ_U64(ci.state, TCP_ESTABLISHED);
	CHECK_EQ_U64(ci.mss, 1400 - 12);
	CHECK_EQ_U64(ci.snd_wscale, 7);
	CHECK_EQ_U64(ci.rcv_wscale, 1);
	CHECK(ci.ts_ok);
	CHECK_EQ_U64(ci.snd_wnd, 65535u << 7);
	CHECK_EQ_U64(th_stat(n, "passive_opens"), 1);
	CHECK_EQ_U64(th_stat(n, "established"), 1);
	/* data flows and carries timestamps */
	CHECK_EQ_U64(tcp_send(app.conn, "hello", 5), 5);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.len, 5);
	CHECK(s.has_ts);
	CHECK_EQ_U64(s.flags, TH_ACK | TH_PSH);
	CHECK_EQ_U64(s.seq, p.ack);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_active(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct tcp_conn *c =
	        tcp_connect(n->tcp, TH_PEER, 80, &th_callbacks, &app);
	CHECK(c != NULL);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN);
	CHECK(s.has_mss && s.mss == 1460);
	CHECK(s.has_ws && s.ws == 1);
	CHECK(s.has_ts);
	CHECK(s.sport >= 40000 && s.sport <= 40999);
	CHECK_EQ_U64(s.dport, 80);
	struct th_peer p = {n, 80, s.sport, 7777, s.seq + 1, 65535};
	/* a SYN-ACK acking the wrong thing gets a RST, the conn stays */
	p.ack = s.seq + 5;
	th_peer_syn(&p, TH_SYN | TH_ACK, 1460, -1, false);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_RST);
	CHECK_EQ_U64(s.seq, p.ack);
	p.ack -= 4;
	p.seq = 7777;
	th_peer_syn(&p, TH_SYN | TH_ACK, 1000, -1, false);
	CHECK_EQ_U64(app.connected, 1);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK);
	CHECK_EQ_U64(s.ack, 7778);
	CHECK(!s.has_ts);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_ESTABLISHED);
	CHECK_EQ_U64(tcp_conn_state(c), ci.state);
	CHECK_EQ_U64(ci.mss, 1000);
	CHECK_EQ_U64(ci.snd_wscale, 0);
	CHECK_EQ_U64(ci.rcv_wscale, 0); /* peer did not scale: neither do we */
	CHECK(!ci.ts_ok);
	CHECK_EQ_U64(th_stat(n, "active_opens"), 1);
	/* refused: RST|ACK in SYN_SENT */
	struct th_app app2 = {0};
	struct tcp_conn *c2 =
	        tcp_connect(n->tcp, TH_PEER, 80, &th_callbacks, &app2);
	CHECK(c2 != NULL);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	struct th_peer p2 = {n, 80, s.sport, 0, s.seq + 1, 0};
	th_peer_send(&p2, TH_RST | TH_ACK, NULL, 0);
	CHECK_EQ_U64(app2.closed, 1);
	CHECK_EQ_U64(app2.reason, TCP_CLOSE_REFUSED);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 1);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_simultaneous_open(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct tcp_conn *c =
	        tcp_connect(n->tcp, TH_PEER, 80, &th_callbacks, &app);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	uint32_t iss = s.seq;
	struct th_peer p = {n, 80, s.sport, 5000, 0, 65535};
	th_peer_syn(&p, TH_SYN, 1460, 2, false); /* crossing SYN */
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN | TH_ACK);
	CHECK_EQ_U64(s.seq, iss);
	CHECK_EQ_U64(s.ack, 5001);
	CHECK(s.has_ws);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(tcp_conn_state(c), TCP_SYN_RCVD);
	CHECK_EQ_U64(ci.state, TCP_SYN_RCVD);
	/* the peer's SYN-ACK: a duplicate SYN for us, answered by ACK */
	p.seq = 5000;
	p.ack = iss + 1;
	th_peer_syn(&p, TH_SYN | TH_ACK, 1460, 2, false);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK);
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK_EQ_U64(app.connected, 1);
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_ESTABLISHED);
	CHECK_EQ_U64(ci.snd_wscale, 2);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_simultaneous_close(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6000, 100, 1460, -1, false);
	CHECK(c != NULL);
	tcp_close(c);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_FIN | TH_ACK);
	uint32_t fin = s.seq;
	/* peer's FIN crosses ours */
	th_peer_send(&p, TH_FIN | TH_ACK, NULL, 0);
	CHECK_EQ_U64(app.peer_closed, 1);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_CLOSING);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK);
	CHECK_EQ_U64(s.ack, p.seq);
	p.ack = fin + 1;
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_NORMAL);
	CHECK_EQ_U64(th_stat(n, "time_wait"), 1);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 1);
	th_advance(n, 1999);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 1);
	th_advance(n, 2);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_passive_close(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6001, 100, 1460, -1, false);
	/* data then FIN in one segment: readable first, then peer_closed */
	th_peer_send(&p, TH_FIN | TH_ACK | TH_PSH, "abc", 3);
	CHECK_EQ_U64(app.readable, 1);
	CHECK_EQ_U64(app.peer_closed, 1);
	CHECK_EQ_U64(tcp_recv_avail(c), 3);
	struct th_seg s;
	CHECK(th_pop(n, &s)); /* immediate ACK of the FIN */
	CHECK_EQ_U64(s.ack, p.seq);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_CLOSE_WAIT);
	/* we may still send */
	CHECK_EQ_U64(tcp_send(c, "xy", 2), 2);
	tcp_close(c);
	CHECK_EQ_U64(tcp_send(c, "z", 1), 0);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK | TH_PSH | TH_FIN);
	CHECK_EQ_U64(s.len, 2);
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_LAST_ACK);
	p.ack = s.seq + 3;
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_NORMAL);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_active_close_and_reuse(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6002, 100, 1460, -1, false);
	tcp_send(c, "data", 4);
	tcp_close(c);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK | TH_PSH | TH_FIN);
	p.ack = s.seq + 5;
	th_peer_send(&p, TH_ACK, NULL, 0);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.state, TCP_FIN_WAIT_2);
	/* data still arrives in FIN_WAIT_2 */
	th_peer_send(&p, TH_ACK, "more", 4);
	CHECK_EQ_U64(tcp_recv_avail(c), 4);
	th_peer_send(&p, TH_FIN | TH_ACK, NULL, 0);
	CHECK_EQ_U64(app.peer_closed, 1);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_NORMAL);
	th_drain(n);
	/* a retransmitted FIN in TIME_WAIT is ACKed again */
	p.seq--;
	th_peer_send(&p, TH_FIN | TH_ACK, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK);
	CHECK_EQ_U64(s.ack, p.seq);
	/* a new SYN with a higher sequence number reuses the 4-tuple */
	p.seq += 100000;
	th_peer_syn(&p, TH_SYN, 1460, -1, false);
	CHECK_EQ_U64(th_stat(n, "time_wait_reused"), 1);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN | TH_ACK);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 1);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_fin_wait2_timeout(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6003, 100, 1460, -1, false);
	tcp_close(c);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	p.ack = s.seq + 1;
	th_peer_send(&p, TH_ACK, NULL, 0);
	th_advance(n, 59000);
	CHECK_EQ_U64(app.closed, 0);
	th_advance(n, 1001);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_TIMEOUT);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_fin_in_syn_rcvd_and_refuse(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	app.refuse = true;
	struct th_peer p;
	CHECK(th_accept(n, &p, &app, 6004, 100, 1460, -1, false) == NULL);
	CHECK_EQ_U64(app.accepted, 1);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK(s.flags & TH_RST);
	CHECK_EQ_U64(app.closed, 0);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	/* ACK + FIN completing the handshake: accepted, then peer closed */
	app.refuse = false;
	p.seq = 9000;
	p.ack = 0;
	th_peer_syn(&p, TH_SYN, 1460, -1, false);
	CHECK(th_pop(n, &s));
	p.ack = s.seq + 1;
	th_peer_send(&p, TH_ACK | TH_FIN, NULL, 0);
	CHECK_EQ_U64(app.accepted, 2);
	CHECK_EQ_U64(app.peer_closed, 1);
	struct tcp_conn_info ci;
	tcp_conn_get_info(app.conn, &ci);
	CHECK_EQ_U64(ci.state, TCP_CLOSE_WAIT);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_rst_no_conn(void)
{
	struct th_node *n = th_node_new();
	struct th_peer p = {n, 7000, 81, 5000, 0, 100};
	struct th_seg s;
	th_peer_send(&p, TH_SYN, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_RST | TH_ACK);
	CHECK_EQ_U64(s.seq, 0);
	CHECK_EQ_U64(s.ack, 5001);
	p.ack = 4242;
	th_peer_send(&p, TH_ACK, "abc", 3);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_RST);
	CHECK_EQ_U64(s.seq, 4242);
	th_peer_send(&p, TH_FIN, "abc", 3); /* no ACK: seq + len + FIN */
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_RST | TH_ACK);
	CHECK_EQ_U64(s.ack, p.seq);
	th_peer_send(&p, TH_RST, NULL, 0);
	th_peer_send(&p, TH_RST | TH_ACK, NULL, 0);
	CHECK_EQ_U64(th_pending(n), 0);
	CHECK_EQ_U64(th_stat(n, "drop_no_conn"), 5);
	CHECK_EQ_U64(th_stat(n, "resets_out"), 3);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_syn_retries(void)
{
	struct th_node *n = th_node_new();
	struct th_app app = {0};
	tcp_connect(n->tcp, TH_PEER, 80, &th_callbacks, &app);
	tcp_flush(n->tcp);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	uint64_t t = 1000;
	for (int i = 0; i < 4; i++) {
		th_advance(n, t - 1);
		CHECK_EQ_U64(th_pending(n), 0);
		th_advance(n, 1);
		CHECK(th_pop(n, &s));
		CHECK_EQ_U64(s.flags, TH_SYN);
		t *= 2;
	}
	th_advance(n, t);
	CHECK_EQ_U64(app.closed, 1);
	CHECK_EQ_U64(app.reason, TCP_CLOSE_TIMEOUT);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	/* passive: SYN-ACK retries then silent free */
	struct th_app la = {0};
	tcp_listen(n->tcp, 80, &th_callbacks, &la);
	struct th_peer p = {n, 7001, 80, 100, 0, 1000};
	th_peer_syn(&p, TH_SYN, 1460, -1, false);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN | TH_ACK);
	/* a retransmitted SYN is answered by the SYN-ACK again */
	p.seq--;
	th_peer_syn(&p, TH_SYN, 1460, -1, false);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_SYN | TH_ACK);
	for (int i = 0; i < 10; i++)
		th_advance(n, 20000);
	CHECK_EQ_U64(tcp_stack_conn_count(n->tcp), 0);
	CHECK_EQ_U64(la.closed, 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

int main(void)
{
	test_passive();
	test_active();
	test_simultaneous_open();
	test_simultaneous_close();
	test_passive_close();
	test_active_close_and_reuse();
	test_fin_wait2_timeout();
	test_fin_in_syn_rcvd_and_refuse();
	test_rst_no_conn();
	test_syn_retries();
	CHECK_DONE();
}

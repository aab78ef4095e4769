/* TCP data path: delayed ACKs, out-of-order reassembly, zero window and
 * persist probes, receive back-pressure and window updates, window
 * scaling arithmetic, sequence wraparound. */
#include <stdlib.h>

#include "check.h"
#include "tcp_harness.h"

static struct th_node *node_cfg(uint32_t rcvbuf, uint32_t sndbuf)
{
	struct tcp_config cfg;
	th_default_cfg(&cfg);
	cfg.rcvbuf = rcvbuf;
	cfg.sndbuf = sndbuf;
	return th_node_new_cfg(1, &cfg);
}

static uint8_t pat[70000];

static void test_delack(void)
{
	struct th_node *n = node_cfg(65536, 65536);
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6100, 1, 1460, -1, false);
	CHECK(c != NULL);
	struct th_seg s;
	th_peer_send(&p, TH_ACK, pat, 1460);
	CHECK_EQ_U64(th_pending(n), 0); /* delayed */
	th_advance(n, 39);
	CHECK_EQ_U64(th_pending(n), 0);
	th_advance(n, 1);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.ack, p.seq);
	CHECK_EQ_U64(th_stat(n, "delayed_acks"), 1);
	/* every second full segment: at once */
	th_peer_send(&p, TH_ACK, pat, 1460);
	CHECK_EQ_U64(th_pending(n), 0);
	th_peer_send(&p, TH_ACK, pat, 1460);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.ack, p.seq);
	th_advance(n, 100);
	CHECK_EQ_U64(th_pending(n), 0);
	/* a reply piggybacks the ACK */
	th_peer_send(&p, TH_ACK, pat, 100);
	tcp_send(c, "r", 1);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.len, 1);
	CHECK_EQ_U64(s.ack, p.seq);
	th_advance(n, 100);
	CHECK_EQ_U64(th_pending(n), 0);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_ooo(void)
{
	struct th_node *n = node_cfg(65536, 65536);
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6101, 5000, 1460, -1, false);
	uint32_t base = p.seq;
	struct th_seg s;
	for (int k = 2; k >= 0; k--) {
		p.seq = base + (uint32_t)k * 1000;
		th_peer_send(&p, TH_ACK, pat + k * 1000, 1000);
		CHECK(th_pop(n, &s)); /* immediate ACK each time */
		if (k > 0) {
			CHECK_EQ_U64(s.ack, base); /* dup ACK */
			CHECK_EQ_U64(tcp_recv_avail(c), 0);
		} else {
			CHECK_EQ_U64(s.ack, base + 3000);
		}
	}
	CHECK_EQ_U64(app.readable, 1);
	uint8_t buf[3000];
	CHECK_EQ_U64(tcp_recv(c, buf, sizeof buf), 3000);
	CHECK(memcmp(buf, pat, 3000) == 0);
	CHECK_EQ_U64(th_stat(n, "ooo_segs"), 2);
	/* overlapping, duplicate and beyond-interval-capacity pieces */
	base += 3000;
	for (int k = 9; k >= 1; k--) {
		p.seq = base + (uint32_t)k * 200;
		th_peer_send(&p, TH_ACK, pat + 3000 + k * 200, 100);
	}
	CHECK_EQ_U64(th_stat(n, "ooo_dropped"), 1);
	/* fill everything with overlapping segments */
	p.seq = base;
	th_peer_send(&p, TH_ACK, pat + 3000, 1100);
	p.seq = base + 1000;
	th_peer_send(&p, TH_ACK, pat + 4000, 1000);
	CHECK_EQ_U64(tcp_recv_avail(c), 2000);
	CHECK_EQ_U64(tcp_recv(c, buf, sizeof buf), 2000);
	CHECK(memcmp(buf, pat + 3000, 2000) == 0);
	/* an out-of-order FIN is taken when the hole fills */
	p.seq = base + 2500;
	th_peer_send(&p, TH_ACK | TH_FIN, pat + 5500, 500);
	CHECK_EQ_U64(app.peer_closed, 0);
	p.seq = base + 2000;
	th_peer_send(&p, TH_ACK, pat + 5000, 500);
	CHECK_EQ_U64(app.peer_closed, 1);
	CHECK_EQ_U64(tcp_recv(c, buf, sizeof buf), 1000);
	CHECK(memcmp(buf, pat + 5000, 1000) == 0);
	th_drain(n);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_backpressure(void)
{
	/* 8 KiB receive buffer, no scaling */
	struct th_node *n = node_cfg(8192, 65536);
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6102, 77, 1000, -1, false);
	struct th_seg s;
	uint16_t last_win = 0;
	for (int i = 0; i < 8; i++) {
		th_peer_send(&p, TH_ACK, pat, 1024);
		th_advance(n, 50);
		while (th_pop(n, &s))
			last_win = s.win;
	}
	CHECK_EQ_U64(tcp_recv_avail(c), 8192);
	CHECK_EQ_U64(last_win, 0);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.rcv_wnd, 0);
	/* beyond the window: dropped and ACKed */
	th_peer_send(&p, TH_ACK, pat, 100);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.win, 0);
	p.seq -= 100;
	/* consuming a little: no update; enough: an update */
	tcp_recv_consume(c, 1000);
	tcp_flush(n->tcp);
	CHECK_EQ_U64(th_pending(n), 0);
	tcp_recv_consume(c, 2000);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.win, 3000);
	CHECK_EQ_U64(s.ack, p.seq);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_zero_window(void)
{
	struct th_node *n = node_cfg(65536, 65536);
	struct th_app app = {0};
	struct th_peer p;
	struct tcp_conn *c = th_accept(n, &p, &app, 6103, 1, 1460, -1, false);
	struct th_seg s;
	p.win = 0;
	th_peer_send(&p, TH_ACK, NULL, 0);
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.snd_wnd, 0);
	CHECK_EQ_U64(tcp_send(c, pat, 5000), 5000);
	tcp_flush(n->tcp);
	CHECK_EQ_U64(th_pending(n), 0);
	/* probes at rto (200 ms: the handshake's RTT sample was 0, so the
	 * minimum), then 400, 800 ms */
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.rto_us, 200000);
	uint64_t iv = 200;
	for (int i = 0; i < 3; i++) {
		th_advance(n, iv - 1);
		CHECK_EQ_U64(th_pending(n), 0);
		th_advance(n, 1);
		CHECK(th_pop(n, &s));
		CHECK_EQ_U64(s.len, 0);
		CHECK_EQ_U64(s.seq, p.ack - 1);
		/* the peer answers: still zero */
		th_peer_send(&p, TH_ACK, NULL, 0);
		while (th_pop(n, &s))
			fprintf(stderr, "unexpected seq %u ack %u flags %x len %u\n", s.seq, s.ack, s.flags, s.len);
		iv *= 2;
	}
	CHECK_EQ_U64(th_stat(n, "zero_window_probes"), 3);
	/* window opens: data flows */
	p.win = 3000;
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.len, 1460);
	CHECK_EQ_U64(s.seq, p.ack);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.len, 1460);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.len, 80);
	CHECK(!th_pop(n, &s));
	p.ack += 3000;
	p.win = 65535;
	th_peer_send(&p, TH_ACK, NULL, 0);
	CHECK(th_pop(n, &s));
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.flags, TH_ACK | TH_PSH);
	CHECK_EQ_U64(s.seq + s.len, p.ack + 2000);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_wscale(void)
{
	/* 1 MiB receive buffer: shift 5 (1 MiB >> 5 = 32768) */
	struct th_node *n = node_cfg(1u << 20, 65536);
	struct th_app app = {0};
	struct th_peer p;
	tcp_listen(n->tcp, 80, &th_callbacks, &app);
	p = (struct th_peer){n, 6104, 80, 10, 0, 1000};
	th_peer_syn(&p, TH_SYN, 1460, 3, false);
	struct th_seg s;
	CHECK(th_pop(n, &s));
	CHECK(s.has_ws && s.ws == 5);
	CHECK_EQ_U64(s.win, 65535); /* SYN windows are unscaled */
	p.ack = s.seq + 1;
	th_peer_send(&p, TH_ACK, NULL, 0); /* window 1000 << 3 */
	struct tcp_conn *c = app.conn;
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	CHECK_EQ_U64(ci.snd_wnd, 8000);
	tcp_send(c, "x", 1);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.win, (1u << 20) >> 5);
	/* 100 bytes in: the window shrinks by that, rounded up so the
	 * right edge does not move left */
	th_peer_send(&p, TH_ACK, pat, 100);
	th_advance(n, 40);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.win, ((1u << 20) - 100 + 31) >> 5);
	/* no scaling without the peer's option, even with a big buffer */
	p = (struct th_peer){n, 6105, 80, 10, 0, 1000};
	th_peer_syn(&p, TH_SYN, 1460, -1, false);
	CHECK(th_pop(n, &s));
	CHECK(!s.has_ws);
	p.ack = s.seq + 1;
	th_peer_send(&p, TH_ACK, NULL, 0);
	tcp_conn_get_info(app.conn, &ci);
	CHECK_EQ_U64(ci.snd_wnd, 1000);
	CHECK_EQ_U64(ci.rcv_wscale, 0);
	tcp_send(app.conn, "x", 1);
	tcp_flush(n->tcp);
	CHECK(th_pop(n, &s));
	CHECK_EQ_U64(s.win, 65535);
	CHECK_EQ_U64(th_node_free(n), 0);
}

static void test_wrap(void)
{
	/* both ISNs just below 2^32; 200 KB each way crosses the wrap */
	struct th_node *n = node_cfg(65536, 65536);
	struct th_app app = {0};
	app.auto_consume = true;
	struct th_peer p;
	struct tcp_conn *c =
	        th_accept(n, &p, &app, 6106, 0xffffff00u, 1460, -1, false);
	CHECK(c != NULL);
	/* our ISN is keyed: make the send side wrap by volume instead */
	uint32_t total = 0, got = 0;
	uint8_t data[1000];
	for (int i = 0; i < 300; i++) {
		for (int k = 0; k < 1000; k++)
			data[k] = (uint8_t)(total + (uint32_t)k);
		th_peer_send(&p, TH_ACK, data, 1000);
		total += 1000;
		th_advance(n, 1);
		th_drain(n);
	}
	CHECK_EQ_U64(app.rx_len, total);
	int bad = 0;
	for (uint32_t k = 0; k < app.rx_len; k++)
		bad += app.rx[k] != (uint8_t)k;
	CHECK_EQ_U64(bad, 0);
	CHECK(p.seq < 0x10000000u); /* it did wrap */
	/* send side */
	for (int i = 0; i < 100; i++) {
		tcp_send(c, pat, 1000);
		tcp_flush(n->tcp);
		struct th_seg s;
		while (th_pop(n, &s)) {
			got += s.len;
			p.ack = s.seq + s.len;
		}
		th_peer_send(&p, TH_ACK, NULL, 0);
	}
	CHECK_EQ_U64(got, 100000);
	free(app.rx);
	CHECK_EQ_U64(th_node_free(n), 0);
}

int main(void)
{
	for (size_t i = 0; i < sizeof pat; i++)
		pat[i] = (uint8_t)(i * 7 + (i >> 8));
	test_delack();
	test_ooo();
	test_backpressure();
	test_zero_window();
	test_wscale();
	test_wrap();
	CHECK_DONE();
}

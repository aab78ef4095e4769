/*
 * fuzz_tcp - segments, time and application actions into one long-lived
 * TCP stack (static: state accumulates across inputs like on an lcore).
 *
 * The input is a list of commands; each starts with an op byte:
 *   0-3  a segment from peer 10.0.0.2: [sel][flags][win][dseq][dack]
 *        [optlen][opts...][plen][payload...]. sel picks the 4-tuple (a
 *        tracked connection, the listener from a random port, a closed
 *        port) and whether seq/ack are taken near what the stack expects
 *        (tracked from the frames it sends) or as raw numbers; bit 7 of
 *        sel keeps the checksum wrong.
 *   4    time advances 2^(b % 26) us; tcp_timer, tcp_flush
 *   5    an application action on a tracked connection: send, consume,
 *        close, abort, connect
 *   6    the rest as a raw TCP header+payload behind valid IPv4
 *   7    frame_alloc fails / works again
 * Frames the stack allocates are exact-size heap blocks (ASan sees any
 * overflow); every frame is freed; after each input no frame is live.
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"
#include "tests/unit/tcp_harness.h" /* th_ip, th_g16 ... th_p32 */

#define NCONN 6

struct frame {
	uint16_t cap;
	uint8_t data[];
};

struct track {
	struct tcp_conn *c;
	uint16_t lport, rport;
	uint32_t peer_seq, peer_ack; /* what the peer would send next */
};

static struct net_ctx net;
static struct tcp_stack *stack;
static uint64_t arp_table[64 * 8], pending[8 * 8];
static struct track tr[NCONN];
static int live;
static int alloc_fails;
static int ready;
static int listen_arg;

static void *op_alloc(void *user, uint16_t len, uint8_t **data)
{
	(void)user;
	if (alloc_fails)
		return NULL;
	struct frame *f = malloc(sizeof *f + len);
	if (!f)
		abort();
	f->cap = len;
	*data = f->data;
	live++;
	return f;
}

static struct track *find_track(uint16_t lport, uint16_t rport)
{
	for (int i = 0; i < NCONN; i++)
		if (tr[i].c && tr[i].lport == lport && tr[i].rport == rport)
			return &tr[i];
	return NULL;
}

static void op_send(void *user, void *frame, uint16_t len)
{
	(void)user;
	struct frame *f = frame;
	if (len > f->cap || len < 54)
		__builtin_trap();
	const uint8_t *ip = f->data + 14;
	uint16_t tot = th_g16(ip + 2);
	if (ip[9] == 6 && tot + 14u <= len &&
	    net_csum_partial(ip, 20, 0) == 0xffff) {
		const uint8_t *th = ip + 20;
		uint32_t seed = (uint32_t)th_g16(ip + 12) + th_g16(ip + 14) +
		                th_g16(ip + 16) + th_g16(ip + 18) + 6 + (tot - 20u);
		if (net_csum_partial(th, tot - 20u, seed) != 0xffff)
			__builtin_trap(); /* we never send a bad checksum */
		struct track *t = find_track(th_g16(th), th_g16(th + 2));
		if (t) {
			uint32_t dlen = tot - 20u - (th[12] >> 4) * 4u;
			uint32_t end = th_g32(th + 4) + dlen +
			               ((th[13] & 2) ? 1 : 0) +
			               ((th[13] & 1) ? 1 : 0);
			if ((int32_t)(end - t->peer_ack) > 0)
				t->peer_ack = end;
			if (th[13] & 0x10)
				t->peer_seq = th_g32(th + 8);
		}
	}
	live--;
	free(f);
}

static void op_free(void *user, void *frame)
{
	(void)user;
	live--;
	free(frame);
}

static void *z(void *u, size_t n)
{
	(void)u;
	return calloc(1, n);
}

static void zf(void *u, void *p)
{
	(void)u;
	free(p);
}

static struct track *slot_for(struct tcp_conn *c)
{
	for (int i = 0; i < NCONN; i++)
		if (tr[i].c == c)
			return &tr[i];
	for (int i = 0; i < NCONN; i++)
		if (!tr[i].c)
			return &tr[i];
	return NULL;
}

static void adopt(struct tcp_conn *c)
{
	struct track *t = slot_for(c);
	if (!t)
		return;
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	t->c = c;
	t->lport = ci.local_port;
	t->rport = ci.remote_port;
	t->peer_seq = ci.rcv_nxt;
	t->peer_ack = ci.snd_nxt;
}

static void *cb_accept(void *la, struct tcp_conn *c)
{
	(void)la;
	adopt(c);
	return &listen_arg;
}

static void cb_connected(void *arg, struct tcp_conn *c)
{
	(void)arg;
	adopt(c);
}

static void cb_readable(void *arg, struct tcp_conn *c)
{
	(void)arg;
	struct tcp_conn_info ci;
	tcp_conn_get_info(c, &ci);
	if (ci.recv_avail > 3000)
		tcp_recv_consume(c, 1000);
}

static void cb_writable(void *arg, struct tcp_conn *c)
{
	(void)arg;
	(void)c;
}

static void cb_peer_closed(void *arg, struct tcp_conn *c)
{
	(void)arg;
	(void)c;
}

static void cb_closed(void *arg, struct tcp_conn *c, enum tcp_close_reason r)
{
	(void)arg;
	(void)r;
	for (int i = 0; i < NCONN; i++)
		if (tr[i].c == c)
			tr[i].c = NULL;
}

static const struct tcp_callbacks cbs = {cb_accept,     cb_connected,
                                         cb_readable,   cb_writable,
                                         cb_peer_closed, cb_closed};

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 1};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 2};

/* net_rx + tcp_input on an exact-size heap copy */
static void deliver(const uint8_t *buf, uint16_t len)
{
	struct frame *f = malloc(sizeof *f + len);
	if (!f)
		abort();
	f->cap = len;
	memcpy(f->data, buf, len);
	live++;
	struct net_rx_result res;
	enum net_rx_verdict v = net_rx(&net, f->data, len, &res);
	if (v == NET_RX_L4_TCP) {
		tcp_input(stack, f, f->data, len, &res);
	} else if (v == NET_RX_REPLY) {
		op_send(NULL, f, res.reply_len);
	} else {
		op_free(NULL, f);
	}
}

static uint16_t wrap(uint8_t *f, const uint8_t *l4, uint16_t l4len)
{
	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	th_p16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	th_p16(ip + 2, (uint16_t)(20 + l4len));
	ip[8] = 64;
	ip[9] = 6;
	uint32_t src = th_ip(10, 0, 0, 2);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &net.ip_be, 4);
	th_p16(ip + 10, net_csum(ip, 20));
	memcpy(ip + 20, l4, l4len);
	return (uint16_t)(34 + l4len);
}

static void fix_tcp_csum(uint8_t *f, uint16_t l4len)
{
	uint8_t *ip = f + 14, *th = ip + 20;
	th_p16(th + 16, 0);
	uint32_t seed = (uint32_t)th_g16(ip + 12) + th_g16(ip + 14) + th_g16(ip + 16) +
	                th_g16(ip + 18) + 6 + l4len;
	th_p16(th + 16, (uint16_t)~net_csum_partial(th, l4len, seed));
}

static uint8_t fbuf[14 + 20 + 60 + 2048];

static void segment(uint16_t sport, uint16_t dport, uint32_t seq,
                    uint32_t ack, uint8_t flags, uint16_t win,
                    const uint8_t *opts, uint8_t optlen, const uint8_t *pl,
                    uint16_t plen, bool good_csum)
{
	uint8_t l4[60 + 2048];
	uint8_t ol = (uint8_t)((optlen + 3) & ~3);
	memset(l4, 0, 20u + ol);
	th_p16(l4, sport);
	th_p16(l4 + 2, dport);
	th_p32(l4 + 4, seq);
	th_p32(l4 + 8, ack);
	l4[12] = (uint8_t)((5 + ol / 4) << 4);
	l4[13] = flags;
	th_p16(l4 + 14, win);
	if (optlen)
		memcpy(l4 + 20, opts, optlen);
	if (plen)
		memcpy(l4 + 20 + ol, pl, plen);
	uint16_t l4len = (uint16_t)(20 + ol + plen);
	uint16_t len = wrap(fbuf, l4, l4len);
	if (good_csum)
		fix_tcp_csum(fbuf, l4len);
	deliver(fbuf, len);
}

static void flush(void)
{
	tcp_flush(stack);
}

static void handshake(uint16_t port)
{
	static const uint8_t opts[] = {2, 4, 5, 0xb4, 1, 3, 3, 2};
	segment(port, 80, 1000u * port, 0, 0x02, 8192, opts, sizeof opts, NULL,
	        0, true);
	flush(); /* op_send_capture notes the SYN-ACK's ISS */
}

static uint32_t last_synack_seq;

static void op_send_capture(void *user, void *frame, uint16_t len)
{
	struct frame *f = frame;
	const uint8_t *th = f->data + 34;
	if (len >= 54 && (th[13] & 0x12) == 0x12)
		last_synack_seq = th_g32(th + 4);
	op_send(user, frame, len);
}

static void setup(void)
{
	memcpy(net.mac, our_mac, 6);
	net.ip_be = th_ip(10, 0, 0, 1);
	net.netmask_be = th_ip(255, 255, 255, 0);
	net.gateway_be = th_ip(10, 0, 0, 254);
	net.mtu = 1500;
	net.ops = (struct net_ops){op_alloc, op_send_capture, op_free, NULL};
	net.now_us = 1000000000ull;
	net.arp_table = (struct net_arp_entry *)(void *)arp_table;
	net.arp_table_size = 64;
	net.arp_timeout_us = 1ull << 60;
	net.pending = (struct net_arp_pending *)(void *)pending;
	net.arp_pending_max = 8;
	net.pending_timeout_us = 1000000;
	if (net_init(&net) != 0)
		abort();
	/* learn the peer */
	uint8_t a[60] = {0};
	memcpy(a, our_mac, 6);
	memcpy(a + 6, peer_mac, 6);
	th_p16(a + 12, 0x0806);
	th_p16(a + 14, 1);
	th_p16(a + 16, 0x0800);
	a[18] = 6;
	a[19] = 4;
	th_p16(a + 20, 2);
	memcpy(a + 22, peer_mac, 6);
	uint32_t pip = th_ip(10, 0, 0, 2);
	memcpy(a + 28, &pip, 4);
	memcpy(a + 32, our_mac, 6);
	memcpy(a + 38, &net.ip_be, 4);
	struct net_rx_result res;
	net_rx(&net, a, 60, &res);

	struct tcp_config cfg = {0};
	cfg.max_conns = 16;
	cfg.sndbuf = 4096;
	cfg.rcvbuf = 4096;
	cfg.mss = 1460;
	cfg.syn_backlog = 3;
	cfg.time_wait_ms = 1000;
	cfg.rto_init_ms = 1000;
	cfg.rto_min_ms = 200;
	cfg.rto_max_ms = 60000;
	cfg.delack_ms = 40;
	cfg.max_retries = 5;
	cfg.syn_retries = 3;
	cfg.max_listeners = 2;
	cfg.eph_lo = 40000;
	cfg.eph_hi = 40015;
	cfg.secret[0] = 1;
	cfg.secret[1] = 2;
	struct tcp_alloc al = {z, zf, NULL};
	stack = tcp_stack_create(&cfg, &net, &al);
	if (!stack || tcp_listen(stack, 80, &cbs, &listen_arg) != 0)
		abort();
	ready = 1;
}

static void ensure_conns(void)
{
	int n = 0;
	for (int i = 0; i < NCONN; i++)
		n += tr[i].c != NULL;
	for (uint16_t port = 1000; n < 3 && port < 1003; port++) {
		if (find_track(80, port))
			continue;
		handshake(port);
		segment(port, 80, 1000u * port + 1, last_synack_seq + 1, 0x10,
		        8192, NULL, 0, NULL, 0, true);
		flush();
		n++;
	}
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static void cmd_segment(struct in *in)
{
	uint8_t sel = take(in), flags = take(in), w = take(in);
	int8_t dseq = (int8_t)take(in), dack = (int8_t)take(in);
	uint8_t optlen = take(in) % 41;
	uint8_t opts[40];
	for (uint8_t i = 0; i < optlen; i++)
		opts[i] = take(in);
	uint16_t plen = (uint16_t)(take(in) * 8);
	if (plen > in->n)
		plen = (uint16_t)in->n;
	const uint8_t *pl = in->p;
	in->p += plen;
	in->n -= plen;
	bool good = !(sel & 0x80);
	uint16_t win = (uint16_t)(w << 8 | w);
	struct track *t = &tr[(sel >> 2) % NCONN];
	switch (sel & 3) {
	case 0:
	case 1:
		if (t->c) {
			segment(t->rport, t->lport,
			        t->peer_seq + (uint32_t)(int32_t)dseq * 64,
			        t->peer_ack + (uint32_t)(int32_t)dack * 64, flags,
			        win, opts, optlen, pl, plen, good);
			break;
		}
		/* fall through */
	case 2:
		segment((uint16_t)(2000 + (sel >> 2)), 80,
		        (uint32_t)dseq << 20 | (uint32_t)dack, last_synack_seq + 1 +
		        (uint32_t)(int32_t)dack, flags, win, opts, optlen, pl, plen,
		        good);
		break;
	default:
		segment((uint16_t)(3000 + sel), (uint16_t)(81 + (flags & 1)),
		        (uint32_t)dseq, (uint32_t)dack, flags, win, opts, optlen,
		        pl, plen, good);
		break;
	}
	flush();
}

static void cmd_app(struct in *in)
{
	uint8_t a = take(in), b = take(in);
	struct track *t = &tr[(a >> 3) % NCONN];
	static uint8_t junk[255 * 12];
	switch (a & 7) {
	case 0:
	case 1:
		if (t->c)
			tcp_send(t->c, junk, (size_t)b * 12);
		break;
	case 2:
		if (t->c) {
			uint8_t buf[512];
			tcp_recv(t->c, buf, b * 2u);
		}
		break;
	case 3:
		if (t->c)
			tcp_recv_consume(t->c, (size_t)b * 16);
		break;
	case 4:
		if (t->c)
			tcp_close(t->c);
		break;
	case 5:
		if (t->c && b < 64)
			tcp_abort(t->c);
		break;
	default: {
		struct tcp_conn *c = tcp_connect(stack, th_ip(10, 0, 0, 2),
		                                 (uint16_t)(80 + (b & 3)), &cbs,
		                                 &listen_arg);
		if (c) {
			struct track *s = slot_for(NULL);
			if (s) {
				s->c = c;
				adopt(c);
			}
		}
		break;
	}
	}
	flush();
}

static void cmd_raw(struct in *in)
{
	uint16_t l4 = (uint16_t)(in->n > 1500 ? 1500 : in->n);
	if (l4 < 20) {
		in->n = 0;
		return;
	}
	static uint8_t buf[34 + 1500];
	uint16_t len = wrap(buf, in->p, l4);
	if (in->p[0] & 1)
		fix_tcp_csum(buf, l4);
	in->p += l4;
	in->n -= l4;
	deliver(buf, len);
	flush();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	alloc_fails = 0;
	ensure_conns();
	struct in in = {data, size};
	while (in.n) {
		uint8_t op = take(&in);
		switch (op & 7) {
		case 0:
		case 1:
		case 2:
		case 3:
			cmd_segment(&in);
			break;
		case 4:
			net.now_us += (1ull << (take(&in) % 26));
			tcp_timer(stack);
			flush();
			break;
		case 5:
			cmd_app(&in);
			break;
		case 6:
			cmd_raw(&in);
			break;
		default:
			alloc_fails = !alloc_fails;
			break;
		}
		if (tcp_stack_conn_count(stack) > 16)
			__builtin_trap();
	}
	alloc_fails = 0;
	net.now_us += 1000;
	tcp_timer(stack);
	flush();
	if (live != 0)
		__builtin_trap();
	return 0;
}

#include "dataplane/testsvc/echo.h"

#include <stdbool.h>

/* Send back as much of what is readable as the send buffer takes, and
 * finish the close once the peer is done and nothing is left to echo. */
static void echo_pump(struct echo_svc *svc, struct tcp_conn *c)
{
	const uint8_t *p1, *p2;
	size_t l1, l2;
	while (tcp_recv_peek(c, &p1, &l1, &p2, &l2) > 0) {
		size_t n = tcp_send(c, p1, l1);
		if (n == l1 && l2 > 0)
			n += tcp_send(c, p2, l2);
		if (n == 0)
			break; /* send buffer full: on_writable resumes */
		tcp_recv_consume(c, n);
		svc->stats.bytes += n;
	}
	if (tcp_conn_state(c) == TCP_CLOSE_WAIT && tcp_recv_avail(c) == 0)
		tcp_close(c);
}

static void *echo_on_accept(void *listen_arg, struct tcp_conn *c)
{
	struct echo_svc *svc = listen_arg;
	(void)c;
	svc->stats.accepted++;
	return svc;
}

static void echo_on_connected(void *arg, struct tcp_conn *c)
{
	struct echo_svc *svc = arg;
	svc->stats.connected++;
	echo_pump(svc, c);
}

static void echo_on_data(void *arg, struct tcp_conn *c)
{
	echo_pump(arg, c);
}

static void echo_on_closed(void *arg, struct tcp_conn *c,
                           enum tcp_close_reason r)
{
	struct echo_svc *svc = arg;
	(void)c;
	if (r == TCP_CLOSE_NORMAL)
		svc->stats.closed_ok++;
	else if (r == TCP_CLOSE_REFUSED || r == TCP_CLOSE_NO_ROUTE)
		svc->stats.connect_failed++;
	else
		svc->stats.closed_error++;
}

static const struct tcp_callbacks echo_callbacks = {
	.on_accept = echo_on_accept,
	.on_connected = echo_on_connected,
	.on_readable = echo_on_data,
	.on_writable = echo_on_data,
	.on_peer_closed = echo_on_data,
	.on_closed = echo_on_closed,
};

int echo_listen(struct echo_svc *svc, struct tcp_stack *tcp, uint16_t port)
{
	svc->tcp = tcp;
	return tcp_listen(tcp, port, &echo_callbacks, svc);
}

uint32_t echo_connect(struct echo_svc *svc, struct tcp_stack *tcp,
                      uint32_t dst_be, uint16_t port, uint32_t n)
{
	svc->tcp = tcp;
	uint32_t started = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (tcp_connect(tcp, dst_be, port, &echo_callbacks, svc) == NULL) {
			svc->stats.connect_failed++;
			continue;
		}
		started++;
	}
	return started;
}

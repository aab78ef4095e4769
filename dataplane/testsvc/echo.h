/*
 * echo.h - the test-only TCP echo service ([test] echo_port, connect).
 *
 * Every byte a connection receives is sent back; when the peer closes, the
 * connection closes once everything has been echoed. Used by the net tests
 * (thousands of kernel clients, faults, bulk transfers) and the TCP
 * benchmark, passively on echo_port and actively towards [test] connect.
 * It moves data with tcp_recv_peek/tcp_send/tcp_recv_consume, so it only
 * takes what the send buffer can hold: a slow reader closes the window of
 * the connection that feeds it, which is exactly the back-pressure the
 * tests want to see. One struct echo_svc per io lcore.
 */
#ifndef LOOM_TESTSVC_ECHO_H
#define LOOM_TESTSVC_ECHO_H

#include <stdint.h>

#include "dataplane/net/tcp.h"

struct echo_stats {
	uint64_t accepted, connected, connect_failed;
	uint64_t closed_ok, closed_error;
	uint64_t bytes;
};

struct echo_svc {
	struct tcp_stack *tcp;
	struct echo_stats stats;
};

/* Listen on port (host order). -1 if the stack refuses the port. */
int echo_listen(struct echo_svc *svc, struct tcp_stack *tcp, uint16_t port);

/* Open n connections to dst_be:port (host order) and echo on them.
 * Returns how many were started. */
uint32_t echo_connect(struct echo_svc *svc, struct tcp_stack *tcp,
                      uint32_t dst_be, uint16_t port, uint32_t n);

#endif

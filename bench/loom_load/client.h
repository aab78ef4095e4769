/*
 * client.h - one load lcore's HTTP clients over its own TCP stack
 * (dataplane/net/tcp.h): plain C, no DPDK, so it runs over the unit tests'
 * frame harness as well as over a DPDK port.
 *
 * A client owns `conns` connections, spread round-robin over the targets.
 * Each carries at most one request at a time (no pipelining): its bytes
 * are built into the connection's fixed buffer from the target's
 * preformatted head (load.h), the answer is parsed as it arrives and its
 * latency recorded in the client's histogram. Nothing is allocated after
 * load_client_create().
 *
 * Closed loop (rate 0): a connection sends its next request as soon as the
 * previous answer is in. Open loop (rate R): requests are due every 1/R s
 * from the first established connection on; a due request goes out on an
 * idle connection, and its latency counts from when it was due, so a
 * server that falls behind shows in the figures (no coordinated
 * omission); requests still due when the run stops are `unsent`.
 *
 * quota N (> 0): the client issues requests until N have been answered
 * (any status), then stops by itself. A request lost with its connection
 * (reset, peer close, timeout) is counted and issued again. load_client_stop
 * ends a run early: no new request; connections close once their answer is
 * in. Connections that close while the run goes on are reopened.
 *
 * Time is net->now_us, which the caller sets before every poll.
 */
#ifndef LOOM_LOAD_CLIENT_H
#define LOOM_LOAD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/loom_load/hist.h"
#include "bench/loom_load/load.h"
#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"

struct load_client;

struct load_target {
	uint32_t ip_be;
	uint16_t port; /* host order */
	struct load_req_tmpl tmpl;
};

struct load_client_config {
	const struct load_target *targets;
	uint16_t n_targets;
	uint32_t conn_base;  /* global index of our first connection: conn i
	                        goes to target (conn_base + i) % n_targets */
	uint32_t conns;
	enum load_keys keys;
	const char *prefix;  /* seq ids' run prefix */
	unsigned lane;       /* this client's number in ids (0..99) */
	uint64_t seed;
	uint64_t quota;      /* answers to reach; 0 = until stopped */
	double rate;         /* requests per second; 0 = closed loop */
	uint16_t expect_status; /* the success status: 201 (POST), 200 (GET) */
	bool check_body;     /* a 201 must carry "ID" (the id as JSON) */
	uint32_t reconnect_ms; /* first back-off after a failed connect */
	/* Every successful answer of a POST: the id it acknowledged. */
	void (*on_ack)(void *user, const char *id, size_t len);
	void *user;
};

struct load_counters {
	uint64_t sent;          /* requests written */
	uint64_t answered;      /* complete responses, any status */
	uint64_t ok;            /* answered with expect_status (and the id) */
	uint64_t status[6];     /* by class: [1] 1xx .. [5] 5xx; [0] other */
	uint64_t bad_status;    /* answered, but not expect_status */
	uint64_t body_mismatch; /* a 201 whose body was not the id */
	uint64_t lost;          /* requests whose connection died first */
	uint64_t parse_errors;  /* malformed responses (connection aborted) */
	uint64_t unexpected;    /* bytes with no request outstanding */
	uint64_t connects;      /* tcp_connect calls that started */
	uint64_t established;
	uint64_t connect_failed;/* refused, timed out, no route, no slot */
	uint64_t closed_by_peer;/* the server closed (FIN or RST) */
	uint64_t unsent;        /* open loop: due but never sent */
	uint64_t abandoned;     /* in flight when load_client_abort ran */
	uint64_t answered_at_stop; /* `answered` when the run was stopped
	                              (the rest are the drain's answers) */
};

/* NULL when the config is invalid or memory is short (alloc as tcp.h). */
struct load_client *load_client_create(const struct load_client_config *cfg,
                                       struct tcp_stack *tcp,
                                       struct net_ctx *net,
                                       const struct tcp_alloc *alloc);
void load_client_destroy(struct load_client *c);

/* Open every connection (SYNs go out on the caller's next tcp_flush). */
void load_client_start(struct load_client *c);
/* Due work: open-loop sends, quota checks, reconnects. Every poll. */
void load_client_poll(struct load_client *c);
/* No new requests; close idle connections now and busy ones after their
 * answer. Open loop: what is due and unsent is counted. Idempotent. */
void load_client_stop(struct load_client *c);
/* RST every connection still open (the end of a bounded drain). */
void load_client_abort(struct load_client *c);

bool load_client_stopping(const struct load_client *c);
/* quota > 0 and reached. */
bool load_client_quota_done(const struct load_client *c);
/* Connections with a TCP connection object (any state before closed). */
uint32_t load_client_live(const struct load_client *c);
/* Requests written and not answered yet. */
uint32_t load_client_in_flight(const struct load_client *c);
/* net->now_us of the last answer (0: none yet). */
uint64_t load_client_last_answer_us(const struct load_client *c);

const struct load_counters *load_client_counters(const struct load_client *c);
const struct hist *load_client_hist(const struct load_client *c);

#endif

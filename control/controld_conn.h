/*
 * controld_conn.h - one framed, buffered, non-blocking stream of
 * loom-controld: a TLS link to a peer (control/tls.h, after its handshake)
 * or a plain Unix socket (loomd, loomctl). common/ctl_msg.h framing both
 * ways; bounded buffers (one whole frame in, CONN_TX_CAP out); no event
 * loop here: the caller polls conn_events() and calls conn_fill /
 * conn_flush when the fd is ready.
 *
 * Secrets: bytes that left the transmit buffer are wiped at once (a
 * PEER_SET to loomd carries one); both buffers are wiped when closed.
 */
#ifndef LOOM_CONTROL_CONTROLD_CONN_H
#define LOOM_CONTROL_CONTROLD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/ctl_msg.h"

struct ctl_tls;

/* What one connection may hold: one whole frame received, four queued. */
#define CONN_RX_CAP CTL_FRAME_MAX
#define CONN_TX_CAP (4u * CTL_FRAME_MAX)
#define CONN_ERR_MAX 256

struct conn {
	int fd;               /* -1: closed */
	struct ctl_tls *tls;  /* NULL: a plain socket */
	uint8_t *rx, *tx;
	size_t rx_len;
	size_t tx_off, tx_len;
	size_t tx_try;        /* TLS: a write to repeat as it was (0: none) */
	bool rd_wants_write;  /* TLS: the last read needs POLLOUT */
	bool wr_wants_read;   /* TLS: the last write needs POLLIN */
	bool eof;             /* the other end closed in order */
	char err[CONN_ERR_MAX];
};

/* A closed connection (fd -1): what a zeroed slot is made into. */
void conn_reset(struct conn *c);

/* Takes fd (non-blocking; closed by conn_close) and, for a link, its TLS
 * object (freed by conn_close). Allocates the buffers: 0, or -1 (out of
 * memory; nothing is taken over then). */
int conn_open(struct conn *c, int fd, struct ctl_tls *tls);

/* Frees the TLS object, closes the fd, wipes and frees the buffers. A
 * closed connection is a no-op. */
void conn_close(struct conn *c);

/* Queues m as one frame: 0, or -1 with c->err set (it does not fit: the
 * other end has not read for CONN_TX_CAP bytes; or the codec refused m).
 * Nothing is written to the socket here (conn_flush). */
int conn_send(struct conn *c, const struct ctl_msg *m);

/* Writes what it can: 0 (all sent, or the socket is full), -1 failed
 * (c->err). */
int conn_flush(struct conn *c);

/* Reads what there is into the receive buffer. 1 read something, 0
 * nothing to read, 2 the buffer is full (take frames out, call again),
 * -1 closed by the other end (c->eof) or failed (c->err). */
int conn_fill(struct conn *c);

/* The next whole frame: its size (> 0) with *rc = ctl_msg_decode's result
 * into *m (0 or a codec error; the stream stays in step either way), 0
 * when more bytes are needed, -1 when the stream is lost (a length out of
 * range; c->err). Call conn_consume(size) once done with *m (TOPOLOGY and
 * TEXT point into the buffer). */
ssize_t conn_frame(struct conn *c, struct ctl_msg *m, int *rc);
void conn_consume(struct conn *c, size_t n);

/* POLLIN, and POLLOUT when something waits to be written (or TLS asks). */
short conn_events(const struct conn *c);

/* Bytes still queued. */
size_t conn_pending(const struct conn *c);

#endif

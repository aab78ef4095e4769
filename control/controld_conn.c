/*
 * controld_conn.c - loom-controld's framed streams; see controld_conn.h.
 */
#include "control/controld_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/tls.h"

/* A TLS record holds 16 KiB: one write per record. */
#define CONN_TLS_CHUNK 16384

void conn_reset(struct conn *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

int conn_open(struct conn *c, int fd, struct ctl_tls *tls)
{
	conn_reset(c);
	c->rx = malloc(CONN_RX_CAP);
	c->tx = malloc(CONN_TX_CAP);
	if (c->rx == NULL || c->tx == NULL) {
		free(c->rx);
		free(c->tx);
		conn_reset(c);
		return -1;
	}
	c->fd = fd;
	c->tls = tls;
	return 0;
}

void conn_close(struct conn *c)
{
	if (c->tls != NULL)
		ctl_tls_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	if (c->rx != NULL) {
		explicit_bzero(c->rx, CONN_RX_CAP);
		free(c->rx);
	}
	if (c->tx != NULL) {
		explicit_bzero(c->tx, CONN_TX_CAP);
		free(c->tx);
	}
	conn_reset(c);
}

static void set_err(struct conn *c, const char *what, const char *why)
{
	snprintf(c->err, sizeof c->err, "%s%s%s", what, *why ? ": " : "",
	         why);
}

int conn_send(struct conn *c, const struct ctl_msg *m)
{
	size_t n = 0;
	if (c->fd < 0 || c->tx == NULL) {
		set_err(c, "not connected", "");
		return -1;
	}
	/* Move what waits to the front, unless TLS must see a write again
	 * exactly as it was. */
	if (c->tx_try == 0 && c->tx_off > 0) {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		explicit_bzero(c->tx + c->tx_len, c->tx_off);
		c->tx_off = 0;
	}
	int rc = ctl_msg_encode(m, c->tx + c->tx_len, CONN_TX_CAP - c->tx_len,
	                        &n);
	if (rc == CTL_E_SPACE) {
		set_err(c, "the other end does not read", "send buffer full");
		return -1;
	}
	if (rc != 0) {
		set_err(c, ctl_type_name(m->type), ctl_msg_strerror(rc));
		return -1;
	}
	c->tx_len += n;
	return 0;
}

static void sent(struct conn *c, size_t n)
{
	explicit_bzero(c->tx + c->tx_off, n);
	c->tx_off += n;
	if (c->tx_off == c->tx_len)
		c->tx_off = c->tx_len = 0;
}

int conn_flush(struct conn *c)
{
	c->wr_wants_read = false;
	while (c->fd >= 0 && c->tx_off < c->tx_len) {
		if (c->tls != NULL) {
			size_t n = c->tx_try;
			if (n == 0) {
				n = c->tx_len - c->tx_off;
				if (n > CONN_TLS_CHUNK)
					n = CONN_TLS_CHUNK;
			}
			int want = 0;
			ssize_t r = ctl_tls_write(c->tls, c->tx + c->tx_off, n,
			                          &want);
			if (r > 0) {
				c->tx_try = 0;
				sent(c, (size_t)r);
				continue;
			}
			if (want == CTL_TLS_WANT_WRITE ||
			    want == CTL_TLS_WANT_READ) {
				c->tx_try = n;
				c->wr_wants_read = want == CTL_TLS_WANT_READ;
				return 0;
			}
			set_err(c, "TLS write", ctl_tls_error(c->tls));
			return -1;
		}
		ssize_t r = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off,
		                 MSG_NOSIGNAL);
		if (r > 0) {
			sent(c, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		set_err(c, "send", r < 0 ? strerror(errno) : "nothing sent");
		return -1;
	}
	return 0;
}

int conn_fill(struct conn *c)
{
	int got = 0;
	c->rd_wants_write = false;
	while (c->fd >= 0) {
		if (c->rx_len == CONN_RX_CAP)
			return 2;
		size_t room = CONN_RX_CAP - c->rx_len;
		if (c->tls != NULL) {
			int want = 0;
			ssize_t r = ctl_tls_read(c->tls, c->rx + c->rx_len, room,
			                         &want);
			if (r > 0) {
				c->rx_len += (size_t)r;
				got = 1;
				continue;
			}
			if (r == 0) {
				c->eof = true;
				set_err(c, "the peer closed the link", "");
				return -1;
			}
			if (want == CTL_TLS_WANT_READ)
				return got;
			if (want == CTL_TLS_WANT_WRITE) {
				c->rd_wants_write = true;
				return got;
			}
			set_err(c, ctl_tls_error(c->tls), "");
			return -1;
		}
		ssize_t r = recv(c->fd, c->rx + c->rx_len, room, 0);
		if (r > 0) {
			c->rx_len += (size_t)r;
			got = 1;
			continue;
		}
		if (r == 0) {
			c->eof = true;
			set_err(c, "closed by the other end", "");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return got;
		set_err(c, "recv", strerror(errno));
		return -1;
	}
	return got;
}

ssize_t conn_frame(struct conn *c, struct ctl_msg *m, int *rc)
{
	ssize_t need = ctl_frame_need(c->rx, c->rx_len);
	*rc = 0;
	if (need < 0) {
		set_err(c, "stream lost", ctl_msg_strerror((int)need));
		return -1;
	}
	if (need == 0)
		return 0;
	*rc = ctl_msg_decode(c->rx, (size_t)need, m);
	return need;
}

void conn_consume(struct conn *c, size_t n)
{
	if (n > c->rx_len)
		n = c->rx_len;
	memmove(c->rx, c->rx + n, c->rx_len - n);
	c->rx_len -= n;
	explicit_bzero(c->rx + c->rx_len, n);
}

short conn_events(const struct conn *c)
{
	short ev = POLLIN;
	if (c->tx_off < c->tx_len || c->rd_wants_write)
		ev |= POLLOUT;
	return ev;
}

size_t conn_pending(const struct conn *c)
{
	return c->tx_len - c->tx_off;
}

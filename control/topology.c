/*
 * topology.c - the cluster topology (topology.h): validation, the
 * canonical text and the file.
 *
 * The decoder is a strict left-to-right reader of exactly the grammar
 * topo_encode writes, not a tolerant parser followed by a re-encode: every
 * byte is either expected or refused with its line number, so a peer's
 * broken blob gets a reason in the log. tests/fuzz/fuzz_topology.c holds it
 * to encode(decode(x)) == x.
 */
#include "control/topology.h"
#include "common/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest lines topo_encode writes; TOPO_TEXT_MAX must hold them all. */
#define MAGIC_LINE (sizeof TOPO_MAGIC)                   /* and "\n" */
#define CLUSTER_LINE (sizeof "cluster " - 1 + 16 + 1)
#define VERSION_LINE (sizeof "version " - 1 + 20 + 1)
#define NODE_LINE (sizeof "node " - 1 + 5 + 1 + TOPO_NAME_MAX + 1 + \
                   (TOPO_ADDR_STR - 1) + 1 + 15 + 1)
_Static_assert(MAGIC_LINE + CLUSTER_LINE + VERSION_LINE +
               TOPO_MAX_NODES * NODE_LINE + 1 <= TOPO_TEXT_MAX,
               "TOPO_TEXT_MAX does not hold the longest topology text");

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *topo_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case EINVAL: return "invalid node (id, name, address or port)";
	case EEXIST: return "a unique field is taken by another node";
	case ENOSPC: return "the topology is full";
	case ENOENT: return "no such node or file";
	case EOVERFLOW: return "the topology version cannot grow";
	case ENOBUFS: return "buffer too small for the topology text";
	case EBADMSG: return "not a canonical topology text";
	default: return strerror(err);
	}
}

/* ---- nodes ---------------------------------------------------------- */

/* Untrusted name bytes (up to the NUL or cap) as printable ASCII, for
 * messages. */
static void printable(char *dst, size_t dcap, const char *src, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < cap && src[i] != '\0' && k + 1 < dcap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (dcap > 0)
		dst[k] = '\0';
}

/* Addresses a peer can be reached at: not "this network" (0/8), not
 * multicast (224/4), not reserved or broadcast (240/4). */
static bool unicast(uint32_t ip_be)
{
	uint32_t first = ntohl(ip_be) >> 24;
	return first != 0 && first < 224;
}

static bool name_ok(const char *s)
{
	return loom_name_valid(s, TOPO_NAME_MAX) && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

void topo_addr_str(uint32_t ip_be, uint16_t port, char out[TOPO_ADDR_STR])
{
	uint32_t h = ntohl(ip_be);
	if (port != 0)
		snprintf(out, TOPO_ADDR_STR, "%u.%u.%u.%u:%u", h >> 24,
		         (h >> 16) & 255, (h >> 8) & 255, h & 255, port);
	else
		snprintf(out, TOPO_ADDR_STR, "%u.%u.%u.%u", h >> 24,
		         (h >> 16) & 255, (h >> 8) & 255, h & 255);
}

int topo_node_check(const struct topo_node *n, char *err, size_t errlen)
{
	char a[TOPO_ADDR_STR], name[TOPO_NAME_MAX + 2];
	if (n->id == 0)
		return fail(err, errlen, EINVAL, "node id 0: ids are 1..65535");
	/* Bounded: a caller's name need not be terminated. */
	if (memchr(n->name, '\0', sizeof n->name) == NULL || !name_ok(n->name)) {
		printable(name, sizeof name, n->name, sizeof n->name);
		return fail(err, errlen, EINVAL, "node %u: name '%s' is not "
		            "[A-Za-z0-9_.-]{1,%d} (nor '.' or '..')", n->id,
		            name, TOPO_NAME_MAX);
	}
	if (!unicast(n->mgmt_ip_be)) {
		topo_addr_str(n->mgmt_ip_be, 0, a);
		return fail(err, errlen, EINVAL, "node %s: management address "
		            "%s is not a unicast address", n->name, a);
	}
	if (n->mgmt_port == 0)
		return fail(err, errlen, EINVAL, "node %s: management port 0",
		            n->name);
	if (!unicast(n->dp_ip_be)) {
		topo_addr_str(n->dp_ip_be, 0, a);
		return fail(err, errlen, EINVAL, "node %s: data-plane address "
		            "%s is not a unicast address", n->name, a);
	}
	return 0;
}

/* Whether n collides with any of nodes[0..count) on a unique field;
 * EEXIST names the field and the holder. */
static int check_unique(const struct topo_node *nodes, size_t count,
                        const struct topo_node *n, char *err, size_t errlen)
{
	char a[TOPO_ADDR_STR];
	for (size_t i = 0; i < count; i++) {
		const struct topo_node *o = &nodes[i];
		if (o->id == n->id)
			return fail(err, errlen, EEXIST, "node id %u is taken "
			            "by %s", n->id, o->name);
		if (strcmp(o->name, n->name) == 0)
			return fail(err, errlen, EEXIST, "node name %s is taken "
			            "by id %u", n->name, o->id);
		if (o->mgmt_ip_be == n->mgmt_ip_be &&
		    o->mgmt_port == n->mgmt_port) {
			topo_addr_str(n->mgmt_ip_be, n->mgmt_port, a);
			return fail(err, errlen, EEXIST, "management address "
			            "%s is taken by %s (id %u)", a, o->name,
			            o->id);
		}
		if (o->dp_ip_be == n->dp_ip_be) {
			topo_addr_str(n->dp_ip_be, 0, a);
			return fail(err, errlen, EEXIST, "data-plane address %s "
			            "is taken by %s (id %u)", a, o->name, o->id);
		}
	}
	return 0;
}

/* A clean copy: the name's bytes after its NUL are zero, so two equal
 * nodes hold equal name arrays. */
static void node_copy(struct topo_node *dst, const struct topo_node *src)
{
	memset(dst, 0, sizeof *dst);
	dst->id = src->id;
	memcpy(dst->name, src->name, strlen(src->name));
	dst->mgmt_ip_be = src->mgmt_ip_be;
	dst->mgmt_port = src->mgmt_port;
	dst->dp_ip_be = src->dp_ip_be;
}

/* ---- the topology --------------------------------------------------- */

void topo_init(struct topology *t, uint64_t cluster_id)
{
	memset(t, 0, sizeof *t);
	t->cluster_id = cluster_id;
}

int topo_add(struct topology *t, const struct topo_node *n, char *err,
             size_t errlen)
{
	int r = topo_node_check(n, err, errlen);
	if (r != 0)
		return r;
	r = check_unique(t->nodes, t->n, n, err, errlen);
	if (r != 0)
		return r;
	if (t->n >= TOPO_MAX_NODES)
		return fail(err, errlen, ENOSPC, "the topology holds %d nodes "
		            "already", TOPO_MAX_NODES);
	if (t->version == UINT64_MAX)
		return fail(err, errlen, EOVERFLOW, "the topology version is "
		            "at its maximum");
	size_t i = 0;
	while (i < t->n && t->nodes[i].id < n->id)
		i++;
	memmove(&t->nodes[i + 1], &t->nodes[i],
	        (t->n - i) * sizeof t->nodes[0]);
	node_copy(&t->nodes[i], n);
	t->n++;
	t->version++;
	return 0;
}

int topo_remove(struct topology *t, uint16_t id)
{
	size_t i = 0;
	while (i < t->n && t->nodes[i].id != id)
		i++;
	if (i == t->n)
		return ENOENT;
	if (t->version == UINT64_MAX)
		return EOVERFLOW;
	memmove(&t->nodes[i], &t->nodes[i + 1],
	        (t->n - i - 1) * sizeof t->nodes[0]);
	t->n--;
	memset(&t->nodes[t->n], 0, sizeof t->nodes[0]);
	t->version++;
	return 0;
}

const struct topo_node *topo_find_id(const struct topology *t, uint16_t id)
{
	for (size_t i = 0; i < t->n && i < TOPO_MAX_NODES; i++)
		if (t->nodes[i].id == id)
			return &t->nodes[i];
	return NULL;
}

const struct topo_node *topo_find_name(const struct topology *t,
                                       const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < t->n && i < TOPO_MAX_NODES; i++)
		if (strncmp(t->nodes[i].name, name, sizeof t->nodes[i].name) == 0)
			return &t->nodes[i];
	return NULL;
}

bool topo_should_adopt(const struct topology *mine,
                       const struct topology *theirs)
{
	if (theirs->cluster_id == 0 || theirs->version <= mine->version)
		return false;
	return theirs->cluster_id == mine->cluster_id ||
	       (mine->cluster_id == 0 && mine->n == 0);
}

/* ---- the text ------------------------------------------------------- */

/* Every invariant of a struct topology, so that topo_encode never writes a
 * text topo_decode would refuse. */
static int check_all(const struct topology *t)
{
	if (t->n > TOPO_MAX_NODES)
		return EINVAL;
	for (size_t i = 0; i < t->n; i++) {
		if (topo_node_check(&t->nodes[i], NULL, 0) != 0 ||
		    (i > 0 && t->nodes[i - 1].id >= t->nodes[i].id) ||
		    check_unique(t->nodes, i, &t->nodes[i], NULL, 0) != 0)
			return EINVAL;
	}
	return 0;
}

struct out {
	char *buf;
	size_t cap, len;
	bool full;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

int topo_encode(const struct topology *t, char *buf, size_t cap,
                size_t *len)
{
	char mgmt[TOPO_ADDR_STR], dp[TOPO_ADDR_STR];
	if (check_all(t) != 0)
		return EINVAL;
	if (cap == 0)
		return ENOBUFS;
	struct out o = {.buf = buf, .cap = cap};
	put(&o, "%s\ncluster %016" PRIx64 "\nversion %" PRIu64 "\n",
	    TOPO_MAGIC, t->cluster_id, t->version);
	for (size_t i = 0; i < t->n; i++) {
		const struct topo_node *n = &t->nodes[i];
		topo_addr_str(n->mgmt_ip_be, n->mgmt_port, mgmt);
		topo_addr_str(n->dp_ip_be, 0, dp);
		put(&o, "node %u %s %s %s\n", n->id, n->name, mgmt, dp);
	}
	if (o.full) {
		buf[0] = '\0';
		return ENOBUFS;
	}
	if (len != NULL)
		*len = o.len;
	return 0;
}

/* The decoder's position: p in [start, end), line counting from 1. */
struct in {
	const char *p, *end;
	unsigned line;
	char *err;
	size_t errlen;
};

static int bad(struct in *in, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(struct in *in, const char *fmt, ...)
{
	if (in->err != NULL && in->errlen > 0) {
		char msg[192];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		snprintf(in->err, in->errlen, "line %u: %s", in->line, msg);
	}
	return EBADMSG;
}

static bool literal(struct in *in, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(in->end - in->p) < n || memcmp(in->p, s, n) != 0)
		return false;
	in->p += n;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal of at most max, at least one digit, no leading zero ("0"
 * itself is fine). Returns the byte after it, or NULL. */
static const char *dec(const char *p, const char *end, uint64_t max,
                       uint64_t *out)
{
	uint64_t v = 0;
	const char *s = p;
	if (p == end || !is_digit(*p))
		return NULL;
	if (*p == '0' && p + 1 < end && is_digit(p[1]))
		return NULL;
	while (p < end && is_digit(*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (max - d) / 10)
			return NULL;
		v = v * 10 + d;
		p++;
	}
	*out = v;
	return p > s ? p : NULL;
}

/* A dotted quad, each byte as dec() wants it: "010" means 8 to inet_aton
 * and 10 to a human, so it is refused rather than guessed. */
static const char *quad(const char *p, const char *end, uint32_t *ip_be)
{
	uint32_t h = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t b;
		if (i > 0) {
			if (p == end || *p != '.')
				return NULL;
			p++;
		}
		p = dec(p, end, 255, &b);
		if (p == NULL)
			return NULL;
		h = h << 8 | (uint32_t)b;
	}
	*ip_be = htonl(h);
	return p;
}

static int decode_node(struct in *in, struct topo_node *n)
{
	uint64_t v;
	const char *q;
	memset(n, 0, sizeof *n);
	if (!literal(in, "node "))
		return bad(in, "expected 'node ID NAME MGMT_IP:PORT DP_IP'");
	if ((q = dec(in->p, in->end, UINT16_MAX, &v)) == NULL)
		return bad(in, "the node id is not a decimal 1..65535 without "
		           "leading zeros");
	n->id = (uint16_t)v;
	in->p = q;
	if (!literal(in, " "))
		return bad(in, "expected one space after the node id");
	size_t k = 0;
	while (in->p < in->end && loom_name_char(*in->p)) {
		if (k == TOPO_NAME_MAX)
			return bad(in, "node name longer than %d characters",
			           TOPO_NAME_MAX);
		n->name[k++] = *in->p++;
	}
	if (!literal(in, " "))
		return bad(in, "the node name is not [A-Za-z0-9_.-]{1,%d} and "
		           "one space", TOPO_NAME_MAX);
	if ((q = quad(in->p, in->end, &n->mgmt_ip_be)) == NULL)
		return bad(in, "the management address is not a dotted quad "
		           "without leading zeros");
	in->p = q;
	if (!literal(in, ":"))
		return bad(in, "expected ':' and the management port");
	if ((q = dec(in->p, in->end, UINT16_MAX, &v)) == NULL)
		return bad(in, "the management port is not a decimal "
		           "1..65535 without leading zeros");
	n->mgmt_port = (uint16_t)v;
	in->p = q;
	if (!literal(in, " "))
		return bad(in, "expected one space after the management port");
	if ((q = quad(in->p, in->end, &n->dp_ip_be)) == NULL)
		return bad(in, "the data-plane address is not a dotted quad "
		           "without leading zeros");
	in->p = q;
	if (!literal(in, "\n"))
		return bad(in, "expected the end of the line ('\\n' only) "
		           "after the data-plane address");
	return 0;
}

int topo_decode(const char *buf, size_t len, struct topology *t, char *err,
                size_t errlen)
{
	struct topology d;
	char why[160];
	uint64_t v;
	const char *q;

	/* NULL + 0 is undefined; an empty text is just refused below. */
	if (buf == NULL) {
		buf = "";
		len = 0;
	}
	struct in in = {.p = buf, .end = buf + len, .line = 1, .err = err,
	                .errlen = errlen};
	if (len > TOPO_TEXT_MAX)
		return bad(&in, "%zu bytes, more than any topology text (%d)",
		           len, TOPO_TEXT_MAX);
	topo_init(&d, 0);
	if (!literal(&in, TOPO_MAGIC "\n"))
		return bad(&in, "expected '" TOPO_MAGIC "'");
	in.line++;
	if (!literal(&in, "cluster "))
		return bad(&in, "expected 'cluster ' and 16 lowercase hex digits");
	for (int i = 0; i < 16; i++, in.p++) {
		char c = in.p < in.end ? *in.p : '\0';
		unsigned x;
		if (is_digit(c))
			x = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = (unsigned)(c - 'a' + 10);
		else
			return bad(&in, "the cluster id is not 16 lowercase hex "
			           "digits");
		d.cluster_id = d.cluster_id << 4 | x;
	}
	if (!literal(&in, "\n"))
		return bad(&in, "expected the end of the line after the cluster "
		           "id");
	in.line++;
	if (!literal(&in, "version "))
		return bad(&in, "expected 'version ' and a decimal");
	if ((q = dec(in.p, in.end, UINT64_MAX, &v)) == NULL)
		return bad(&in, "the version is not a decimal below 2^64 "
		           "without leading zeros");
	d.version = v;
	in.p = q;
	if (!literal(&in, "\n"))
		return bad(&in, "expected the end of the line after the version");
	while (in.p < in.end) {
		struct topo_node n;
		in.line++;
		if (d.n == TOPO_MAX_NODES)
			return bad(&in, "more than %d nodes", TOPO_MAX_NODES);
		int r = decode_node(&in, &n);
		if (r != 0)
			return r;
		if (topo_node_check(&n, why, sizeof why) != 0)
			return bad(&in, "%s", why);
		if (d.n > 0 && d.nodes[d.n - 1].id >= n.id)
			return bad(&in, "node id %u after %u: ids must ascend",
			           n.id, d.nodes[d.n - 1].id);
		if (check_unique(d.nodes, d.n, &n, why, sizeof why) != 0)
			return bad(&in, "%s", why);
		node_copy(&d.nodes[d.n++], &n);
	}
	*t = d;
	return 0;
}

int topo_parse_addr(const char *s, uint32_t *ip_be, uint16_t *port)
{
	uint32_t ip;
	uint64_t v = TOPO_MGMT_PORT;
	if (s == NULL)
		return EINVAL;
	const char *end = s + strlen(s);
	const char *p = quad(s, end, &ip);
	if (p == NULL)
		return EINVAL;
	if (p < end) {
		if (port == NULL || *p != ':')
			return EINVAL;
		p = dec(p + 1, end, UINT16_MAX, &v);
		if (p == NULL || p != end || v == 0)
			return EINVAL;
	}
	*ip_be = ip;
	if (port != NULL)
		*port = (uint16_t)v;
	return 0;
}

/* ---- the file ------------------------------------------------------- */

static int path_plus(char *out, const char *path, const char *suffix,
                     char *err, size_t errlen)
{
	int n = snprintf(out, PATH_MAX, "%s%s", path, suffix);
	if (n < 0 || n >= PATH_MAX)
		return fail(err, errlen, ENAMETOOLONG, "%s: path too long",
		            path);
	return 0;
}

int topo_load(const char *path, struct topology *t, char *err,
              size_t errlen)
{
	/* One byte more than any text can be, to tell "too long" from
	 * "exactly full". */
	char buf[TOPO_TEXT_MAX + 1], why[256];
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return fail(err, errlen, e, "%s: %s", path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, EBADMSG, "%s: not a regular file",
		            path);
	}
	while (got < sizeof buf) {
		ssize_t r = read(fd, buf + got, sizeof buf - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return fail(err, errlen, e, "%s: read: %s", path,
			            strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	int r = topo_decode(buf, got, t, why, sizeof why);
	if (r != 0)
		return fail(err, errlen, r, "%s: %s", path, why);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return fail(err, errlen, e, "%s: %s", dir, strerror(e));
	}
	/* EINVAL: a file system that cannot sync directories; the rename
	 * is as durable there as it gets. */
	int e = fsync(fd) != 0 && errno != EINVAL ? errno : 0;
	close(fd);
	if (e != 0)
		return fail(err, errlen, e, "%s: fsync: %s", dir, strerror(e));
	return 0;
}

int topo_save(const char *path, const struct topology *t, char *err,
              size_t errlen)
{
	char text[TOPO_TEXT_MAX], tmp[PATH_MAX], lock[PATH_MAX];
	size_t len;
	int r = topo_encode(t, text, sizeof text, &len);
	if (r != 0)
		return fail(err, errlen, r, "%s: the topology breaks an "
		            "invariant: not saved", path);
	if (path_plus(tmp, path, ".tmp", err, errlen) != 0 ||
	    path_plus(lock, path, ".lock", err, errlen) != 0)
		return ENAMETOOLONG;

	/* Two savers would otherwise share PATH.tmp: one's rename could
	 * publish the other's half-written file. Read-only: flock() needs no
	 * more, and a lock file the umask made 0400 still opens. */
	int lfd = open(lock, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0) {
		int e = errno;
		return fail(err, errlen, e, "%s: %s", lock, strerror(e));
	}
	while (flock(lfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;
			close(lfd);
			return fail(err, errlen, e, "%s: flock: %s", lock,
			            strerror(e));
		}
	}
	/* A crash may have left a stale PATH.tmp; O_EXCL then refuses a
	 * symlink planted in its place. */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		r = errno;
		fail(err, errlen, r, "%s: %s", tmp, strerror(r));
		goto out;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	              0600);
	if (fd < 0) {
		r = errno;
		fail(err, errlen, r, "%s: %s", tmp, strerror(r));
		goto out;
	}
	/* The umask may have taken bits off 0600; the file must be exactly
	 * 0600 whatever it is. */
	r = fchmod(fd, 0600) != 0 ? errno : write_all(fd, text, len);
	if (r == 0 && fsync(fd) != 0)
		r = errno;
	if (close(fd) != 0 && r == 0)
		r = errno;
	if (r == 0 && rename(tmp, path) != 0)
		r = errno;
	if (r != 0) {
		fail(err, errlen, r, "%s: %s", tmp, strerror(r));
		unlink(tmp);
		goto out;
	}
	r = sync_dir(path, err, errlen);
out:
	close(lfd);
	return r;
}

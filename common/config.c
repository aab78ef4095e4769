/*
 * config.c - the INI configuration of one node (see config.h, docs/CONFIG.md).
 *
 * libinih splits "key=value" and tracks sections, but on its own it is too
 * forgiving for a file that decides which NIC a DPDK process may touch: it
 * ignores text after "[section]", treats an indented key as a continuation
 * of the previous value, splits lines longer than its buffer into two, and
 * its line numbers drift after such a split. So inih reads through
 * line_reader() below, which sees every physical line first, counts lines
 * itself, rejects malformed ones with a precise message, strips comments and
 * hands inih a normalised "key=value" (or "=value" for a continuation line).
 * inih's own behaviour (inline comments, multi-line values, BOM) never comes
 * into play, so the result does not depend on how the library was built.
 */
#include "common/config.h"
#include "common/base64.h"

#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any real config is a few KiB; the bound keeps a wrong path (a disk image,
 * /dev/zero) from being slurped. */
#define CONFIG_FILE_MAX (1u << 20)

/* DPDK builds cap RTE_MAX_LCORE and RTE_MAX_ETHPORTS at 1024 or below; the
 * EAL checks the real bound of the build at start. */
#define LCORE_ID_MAX 1023
#define PORT_ID_MAX 1023

/* What ini.h calls a line must also hold '\n' and the NUL. */
#define READER_SLACK 2

/* Quoted values are cut so that one bad line cannot flood the message. */
#define QUOTE_MAX 48

enum section_id {
	S_NODE,
	S_EAL,
	S_DATAPLANE,
	S_LCORES,
	S_IDLE,
	S_MEMPOOL,
	S_STORAGE,
	S_FAULT,
	S_RUN,
	S_TCP,
	S_TEST,
	S_HOST,
	S_HTTP,
	S_USERS,
	S_REPL,
	S_CONTROL,
	S_COUNT
};

static const char *const section_names[S_COUNT] = {
	"node", "eal", "dataplane", "lcores", "idle",
	"mempool", "storage", "fault", "run", "tcp", "test", "host",
	"http", "users", "repl", "control",
};

enum key_id {
	K_NODE_ID,
	K_NODE_NAME,
	K_CLUSTER_ID,
	K_EAL_ARGS,
	K_IP,
	K_GATEWAY,
	K_MTU,
	K_PORT,
	K_RX_DESC,
	K_TX_DESC,
	K_BURST,
	K_ARP_TIMEOUT,
	K_ARP_CACHE,
	K_ARP_PENDING,
	K_HTTP_PORT,
	K_REPL_PORT,
	K_MAIN_LCORE,
	K_IO_LCORES,
	K_REPL_LCORES,
	K_STORAGE_LCORE,
	K_SPIN_POLLS,
	K_SLEEP_MAX,
	K_MBUFS,
	K_MBUF_CACHE,
	K_DATA_ROOM,
	K_STORAGE_PATH,
	K_MAP_SIZE,
	K_MAX_BODY,
	K_SYNC,
	K_SYNC_INTERVAL,
	K_BATCH_MAX,
	K_FAULT_DROP,
	K_FAULT_DUP,
	K_FAULT_REORDER,
	K_FAULT_CORRUPT,
	K_FAULT_SEED,
	K_STATS_FILE,
	K_STATS_INTERVAL,
	K_LOG_LEVEL,
	K_TCP_MAX_CONNS,
	K_TCP_SNDBUF,
	K_TCP_RCVBUF,
	K_TCP_SYN_BACKLOG,
	K_TCP_TIME_WAIT,
	K_TCP_RTO_INIT,
	K_TCP_RTO_MIN,
	K_TCP_RTO_MAX,
	K_TCP_DELACK,
	K_TCP_MAX_RETRIES,
	K_TCP_SYN_RETRIES,
	K_TEST_ECHO_PORT,
	K_TEST_CONNECT,
	K_TEST_CONNECT_COUNT,
	K_FLOW_ISOLATE,
	K_HOST_ISOLCPUS,
	K_HOST_NOHZ_FULL,
	K_HOST_IRQ_CPUS,
	K_HOST_HUGEPAGE_SIZE,
	K_HOST_HUGEPAGES,
	K_HOST_NUMA_NODE,
	K_HOST_GOVERNOR,
	K_HOST_THP,
	K_HOST_IOMMU,
	K_HOST_NIC,
	K_HOST_NIC_DRIVER,
	K_HTTP_MAX_HEADER_BYTES,
	K_HTTP_MAX_HEADERS,
	K_HTTP_HEADER_TIMEOUT,
	K_HTTP_IDLE_TIMEOUT,
	K_HTTP_BACKPRESSURE,
	K_HTTP_MAX_INFLIGHT,
	K_HTTP_WRITE_POOL,
	K_HTTP_LARGE_POOL,
	K_HTTP_AUTH,
	K_USER, /* every [users] line: the key is the user's name */
	K_REPL_BATCH,
	K_REPL_WINDOW,
	K_REPL_PING,
	K_REPL_DEAD,
	K_REPL_MAX_FRAME,
	K_REPL_LOG_RETENTION,
	K_REPL_PRUNE_INTERVAL,
	K_CONTROL_SOCKET,
	K_COUNT
};

enum key_kind {
	T_UINT,  /* decimal, min..max */
	T_POW2,  /* decimal power of two, min..max */
	T_U64X,  /* decimal or 0x hex, full u64 */
	T_OTHER, /* parsed by a dedicated function */
};

struct key_desc {
	enum section_id section;
	const char *name;
	enum key_kind kind;
	bool mandatory;
	uint64_t min, max;
	size_t offset, size; /* of the field, for the T_UINT/T_POW2/T_U64X kinds */
};

#define FIELD(f) offsetof(struct loom_config, f), sizeof(((struct loom_config *)0)->f)
#define UINT(s, n, f, lo, hi) {s, n, T_UINT, false, lo, hi, FIELD(f)}
#define POW2(s, n, f, lo, hi) {s, n, T_POW2, false, lo, hi, FIELD(f)}
#define U64X(s, n, f) {s, n, T_U64X, false, 0, UINT64_MAX, FIELD(f)}
#define OTHER(s, n, mand) {s, n, T_OTHER, mand, 0, 0, 0, 0}

/* arp_cache_size: the field is a uint16_t, so 32768 is the largest power
 * of two it can hold. */
static const struct key_desc keys[K_COUNT] = {
	[K_NODE_ID] = {S_NODE, "id", T_UINT, true, 1, 65535, FIELD(node_id)},
	[K_NODE_NAME] = OTHER(S_NODE, "name", true),
	[K_CLUSTER_ID] = U64X(S_NODE, "cluster_id", cluster_id),
	[K_EAL_ARGS] = OTHER(S_EAL, "args", true),
	[K_IP] = OTHER(S_DATAPLANE, "ip", true),
	[K_GATEWAY] = OTHER(S_DATAPLANE, "gateway", false),
	[K_MTU] = UINT(S_DATAPLANE, "mtu", mtu, 576, 9000),
	[K_PORT] = UINT(S_DATAPLANE, "port", port_id, 0, PORT_ID_MAX),
	[K_RX_DESC] = POW2(S_DATAPLANE, "rx_desc", rx_desc, 64, 16384),
	[K_TX_DESC] = POW2(S_DATAPLANE, "tx_desc", tx_desc, 64, 16384),
	[K_BURST] = UINT(S_DATAPLANE, "burst", burst, 1, 256),
	[K_ARP_TIMEOUT] = UINT(S_DATAPLANE, "arp_timeout_s", arp_timeout_s, 1, 86400),
	[K_ARP_CACHE] = POW2(S_DATAPLANE, "arp_cache_size", arp_cache_size, 16, 32768),
	[K_ARP_PENDING] = UINT(S_DATAPLANE, "arp_pending_max", arp_pending_max, 1, 4096),
	[K_HTTP_PORT] = UINT(S_DATAPLANE, "http_port", http_port, 1, 65535),
	[K_REPL_PORT] = UINT(S_DATAPLANE, "repl_port", repl_port, 1, 65535),
	[K_MAIN_LCORE] = UINT(S_LCORES, "main", main_lcore, 0, LCORE_ID_MAX),
	[K_IO_LCORES] = OTHER(S_LCORES, "io", true),
	[K_REPL_LCORES] = OTHER(S_LCORES, "repl", false),
	[K_STORAGE_LCORE] = OTHER(S_LCORES, "storage", false),
	[K_SPIN_POLLS] = UINT(S_IDLE, "spin_polls", idle_spin_polls, 0, 1000000000),
	[K_SLEEP_MAX] = UINT(S_IDLE, "sleep_max_us", idle_sleep_max_us, 0, 100000),
	[K_MBUFS] = UINT(S_MEMPOOL, "mbufs", mbufs, 1023, 16777215),
	[K_MBUF_CACHE] = UINT(S_MEMPOOL, "cache", mbuf_cache, 0, 512),
	[K_DATA_ROOM] = UINT(S_MEMPOOL, "data_room", mbuf_data_room, 1024, 65535),
	[K_STORAGE_PATH] = OTHER(S_STORAGE, "path", false),
	[K_MAP_SIZE] = OTHER(S_STORAGE, "map_size_mb", false),
	[K_MAX_BODY] = UINT(S_STORAGE, "max_body", max_body_bytes, 64, 16777216),
	[K_SYNC] = OTHER(S_STORAGE, "sync", false),
	[K_SYNC_INTERVAL] = UINT(S_STORAGE, "sync_interval_ms", sync_interval_ms, 1, 60000),
	[K_BATCH_MAX] = UINT(S_STORAGE, "batch_max", commit_batch_max, 1, 65536),
	[K_FAULT_DROP] = OTHER(S_FAULT, "drop", false),
	[K_FAULT_DUP] = OTHER(S_FAULT, "dup", false),
	[K_FAULT_REORDER] = OTHER(S_FAULT, "reorder", false),
	[K_FAULT_CORRUPT] = OTHER(S_FAULT, "corrupt", false),
	[K_FAULT_SEED] = U64X(S_FAULT, "seed", fault_seed),
	[K_STATS_FILE] = OTHER(S_RUN, "stats_file", false),
	[K_STATS_INTERVAL] = UINT(S_RUN, "stats_interval_ms", stats_interval_ms, 100, 60000),
	[K_LOG_LEVEL] = OTHER(S_RUN, "log_level", false),
	[K_TCP_MAX_CONNS] = UINT(S_TCP, "max_conns", tcp_max_conns, 16, 1048576),
	[K_TCP_SNDBUF] = POW2(S_TCP, "sndbuf", tcp_sndbuf, 4096, 16777216),
	[K_TCP_RCVBUF] = POW2(S_TCP, "rcvbuf", tcp_rcvbuf, 4096, 16777216),
	[K_TCP_SYN_BACKLOG] = UINT(S_TCP, "syn_backlog", tcp_syn_backlog, 1, 65536),
	[K_TCP_TIME_WAIT] = UINT(S_TCP, "time_wait_ms", tcp_time_wait_ms, 1, 240000),
	[K_TCP_RTO_INIT] = UINT(S_TCP, "rto_init_ms", tcp_rto_init_ms, 10, 60000),
	[K_TCP_RTO_MIN] = UINT(S_TCP, "rto_min_ms", tcp_rto_min_ms, 1, 60000),
	[K_TCP_RTO_MAX] = UINT(S_TCP, "rto_max_ms", tcp_rto_max_ms, 100, 600000),
	[K_TCP_DELACK] = UINT(S_TCP, "delack_ms", tcp_delack_ms, 1, 500),
	[K_TCP_MAX_RETRIES] = UINT(S_TCP, "max_retries", tcp_max_retries, 1, 30),
	[K_TCP_SYN_RETRIES] = UINT(S_TCP, "syn_retries", tcp_syn_retries, 1, 10),
	[K_TEST_ECHO_PORT] = UINT(S_TEST, "echo_port", test_echo_port, 0, 65535),
	[K_TEST_CONNECT] = OTHER(S_TEST, "connect", false),
	[K_TEST_CONNECT_COUNT] = UINT(S_TEST, "connect_count", test_connect_count, 0, 65535),
	[K_FLOW_ISOLATE] = OTHER(S_DATAPLANE, "flow_isolate", false),
	[K_HOST_ISOLCPUS] = OTHER(S_HOST, "isolcpus", false),
	[K_HOST_NOHZ_FULL] = OTHER(S_HOST, "nohz_full", false),
	[K_HOST_IRQ_CPUS] = OTHER(S_HOST, "irq_cpus", false),
	[K_HOST_HUGEPAGE_SIZE] = OTHER(S_HOST, "hugepage_size", false),
	[K_HOST_HUGEPAGES] = UINT(S_HOST, "hugepages", host_hugepages, 0, 1048576),
	[K_HOST_NUMA_NODE] = OTHER(S_HOST, "numa_node", false),
	[K_HOST_GOVERNOR] = OTHER(S_HOST, "governor", false),
	[K_HOST_THP] = OTHER(S_HOST, "thp", false),
	[K_HOST_IOMMU] = OTHER(S_HOST, "iommu", false),
	[K_HOST_NIC] = OTHER(S_HOST, "nic", false),
	[K_HOST_NIC_DRIVER] = OTHER(S_HOST, "nic_driver", false),
	[K_HTTP_MAX_HEADER_BYTES] = UINT(S_HTTP, "max_header_bytes",
	                                 http_max_header_bytes, 1024, 65536),
	[K_HTTP_MAX_HEADERS] = UINT(S_HTTP, "max_headers", http_max_headers,
	                            8, 256),
	[K_HTTP_HEADER_TIMEOUT] = UINT(S_HTTP, "header_timeout_ms",
	                               http_header_timeout_ms, 100, 600000),
	[K_HTTP_IDLE_TIMEOUT] = UINT(S_HTTP, "idle_timeout_ms",
	                             http_idle_timeout_ms, 100, 3600000),
	[K_HTTP_BACKPRESSURE] = UINT(S_HTTP, "backpressure_timeout_ms",
	                             http_backpressure_ms, 1, 600000),
	[K_HTTP_MAX_INFLIGHT] = UINT(S_HTTP, "max_inflight", http_max_inflight,
	                             1, 1024),
	[K_HTTP_WRITE_POOL] = UINT(S_HTTP, "write_pool", http_write_pool, 64,
	                           1048576),
	[K_HTTP_LARGE_POOL] = UINT(S_HTTP, "large_pool", http_large_pool, 4,
	                           65536),
	[K_HTTP_AUTH] = OTHER(S_HTTP, "auth", false),
	/* Never found by name: line_handler() sends [users] lines to
	 * set_user() before the key lookup. */
	[K_USER] = OTHER(S_USERS, "", false),
	[K_REPL_BATCH] = UINT(S_REPL, "batch_max", repl_batch_max, 1, 4096),
	[K_REPL_WINDOW] = UINT(S_REPL, "window", repl_window, 16, 1048576),
	[K_REPL_PING] = UINT(S_REPL, "ping_interval_ms", repl_ping_ms, 50,
	                     60000),
	[K_REPL_DEAD] = UINT(S_REPL, "dead_after_ms", repl_dead_ms, 200,
	                     600000),
	[K_REPL_MAX_FRAME] = UINT(S_REPL, "max_frame", repl_max_frame, 65536,
	                          16777216),
	/* 365 days in ms: past 2^32 ms (49.7 days), so a u64 field */
	[K_REPL_LOG_RETENTION] = UINT(S_REPL, "log_retention_ms",
	                              repl_log_retention_ms, 0,
	                              UINT64_C(31536000000)),
	[K_REPL_PRUNE_INTERVAL] = UINT(S_REPL, "prune_interval_ms",
	                               repl_prune_interval_ms, 10, 600000),
	[K_CONTROL_SOCKET] = OTHER(S_CONTROL, "socket", false),
};

/* [users] values: "pbkdf2-sha256$" ITERATIONS "$" SALT_B64 "$" HASH_B64. */
#define USER_SCHEME "pbkdf2-sha256"
#define USER_ITER_MIN 1000
#define USER_ITER_MAX 10000000
#define USER_SALT_MIN 8
#define USER_SALT_MAX 64
#define USER_HASH_LEN 32

/* Everything one parse needs; handed to inih as both the reader's stream
 * and the handler's user pointer, so the parser keeps no state of its own. */
struct parse_state {
	const char *name; /* stands in for FILE in messages */
	const char *pos;  /* next unread byte of the text */
	int lineno;       /* physical line last handed to inih */
	bool continuation;/* that line was indented: it continues a value */
	int section;      /* enum section_id, -1 before the first header */
	int last_key;     /* key last set in the current section, -1 if none */
	int key_line[K_COUNT]; /* line each key was set on, 0 = default */
	int user_line[LOOM_MAX_USERS]; /* line of each [users] entry */
	char last_user[LOOM_NAME_MAX]; /* name of the last [users] line, for
	                                  a continuation line's message */
	struct loom_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
};

/* ------------------------------------------------------------------------
 * Error messages
 */

/* The contract promises exactly one line; a file name or a quoted value
 * may carry control characters, and they must not break it. */
static void sanitize_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Only the first error counts: later ones are usually its consequences. */
static void vfail(struct parse_state *st, int line, int section,
                  const char *key, const char *fmt, va_list ap)
{
	if (st->failed)
		return;
	st->failed = true;
	if (st->err == NULL || st->errlen == 0)
		return;
	char what[512];
	vsnprintf(what, sizeof what, fmt, ap);
	char where[96] = "";
	if (section >= 0 && key != NULL)
		snprintf(where, sizeof where, "[%s] %.48s: ",
		         section_names[section], key);
	else if (section >= 0)
		snprintf(where, sizeof where, "[%s] ", section_names[section]);
	if (line > 0)
		snprintf(st->err, st->errlen, "%s:%d: %s%s", st->name, line,
		         where, what);
	else
		snprintf(st->err, st->errlen, "%s: %s%s", st->name, where, what);
	sanitize_line(st->err);
}

/* An error on the line being parsed. */
__attribute__((format(printf, 4, 5))) static int
fail_line(struct parse_state *st, int section, const char *key,
          const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(st, st->lineno, section, key, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error found after the whole file was read. */
__attribute__((format(printf, 3, 4))) static int
fail_key(struct parse_state *st, enum key_id k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(st, 0, (int)keys[k].section, keys[k].name, fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 3, 4))) static int
fail_value(struct parse_state *st, enum key_id k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(st, st->lineno, (int)keys[k].section, keys[k].name, fmt, ap);
	va_end(ap);
	return -1;
}

struct quoted {
	char s[QUOTE_MAX + 8];
};

static struct quoted quote(const char *v, size_t len)
{
	struct quoted q;
	if (len > QUOTE_MAX)
		snprintf(q.s, sizeof q.s, "'%.*s...'", QUOTE_MAX, v);
	else
		snprintf(q.s, sizeof q.s, "'%.*s'", (int)len, v);
	return q;
}

#define Q(v) (quote((v), strlen(v)).s)

/* Where a key's value came from, for cross-field messages. */
struct origin {
	char s[32];
};

static struct origin origin_of(const struct parse_state *st, enum key_id k)
{
	struct origin o;
	if (st->key_line[k] > 0)
		snprintf(o.s, sizeof o.s, "line %d", st->key_line[k]);
	else
		snprintf(o.s, sizeof o.s, "default");
	return o;
}

#define AT(k) (origin_of(st, (k)).s)

/* ------------------------------------------------------------------------
 * Value syntax
 */

/* inih trims with isspace(); the reader must agree on what is blank. */
static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum num_status { NUM_OK, NUM_MALFORMED, NUM_OVERFLOW };

/* strtoull accepts signs, leading blanks and wraps "-1" to UINT64_MAX: none
 * of that belongs in a config file, so digits are taken by hand. */
static enum num_status parse_dec(const char *s, size_t len, uint64_t *out)
{
	if (len == 0)
		return NUM_MALFORMED;
	uint64_t v = 0;
	bool overflow = false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return NUM_MALFORMED;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	*out = v;
	return overflow ? NUM_OVERFLOW : NUM_OK;
}

static enum num_status parse_dec_or_hex(const char *s, uint64_t *out)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		if (*s == '\0')
			return NUM_MALFORMED;
		uint64_t v = 0;
		bool overflow = false;
		for (; *s; s++) {
			int d = hex_val(*s);
			if (d < 0)
				return NUM_MALFORMED;
			if (v >> 60)
				overflow = true;
			else
				v = v << 4 | (unsigned)d;
		}
		*out = v;
		return overflow ? NUM_OVERFLOW : NUM_OK;
	}
	return parse_dec(s, strlen(s), out);
}

static int parse_uint_key(struct parse_state *st, enum key_id k,
                          const char *v, uint64_t *out)
{
	const struct key_desc *d = &keys[k];
	enum num_status ns = d->kind == T_U64X ? parse_dec_or_hex(v, out)
	                                       : parse_dec(v, strlen(v), out);
	if (ns == NUM_MALFORMED)
		return fail_value(st, k, "%s is not %s", Q(v),
		                  d->kind == T_U64X
		                      ? "an integer (decimal or 0x hex)"
		                      : "a decimal integer");
	if (ns == NUM_OVERFLOW || *out < d->min || *out > d->max)
		return fail_value(st, k, "%s is out of range %" PRIu64
		                  "..%" PRIu64, Q(v), d->min, d->max);
	if (d->kind == T_POW2 && (*out & (*out - 1)) != 0)
		return fail_value(st, k, "%s is not a power of two (%" PRIu64
		                  "..%" PRIu64 ")", Q(v), d->min, d->max);
	return 0;
}

static void store_uint(struct loom_config *cfg, const struct key_desc *d,
                       uint64_t v)
{
	unsigned char *p = (unsigned char *)cfg + d->offset;
	switch (d->size) {
	case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

/* One dotted quad with no leading zeros: "010" means 8 to inet_aton and 10
 * to a human, so it is refused rather than guessed. Returns the byte after
 * the address, or NULL. */
static const char *parse_quad(const char *s, uint32_t *host)
{
	uint32_t a = 0;
	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (*s != '.')
				return NULL;
			s++;
		}
		if (!is_digit(*s))
			return NULL;
		unsigned o = 0;
		int n = 0;
		while (is_digit(*s) && n < 4) {
			o = o * 10 + (unsigned)(*s - '0');
			s++;
			n++;
		}
		if (n > 3 || o > 255 || (n > 1 && s[-n] == '0'))
			return NULL;
		a = a << 8 | o;
	}
	*host = a;
	return s;
}

static uint32_t be_from_host(uint32_t h)
{
	unsigned char b[4] = {(unsigned char)(h >> 24), (unsigned char)(h >> 16),
	                      (unsigned char)(h >> 8), (unsigned char)h};
	uint32_t be;
	memcpy(&be, b, 4);
	return be;
}

static uint32_t host_from_be(uint32_t be)
{
	unsigned char b[4];
	memcpy(b, &be, 4);
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

struct dotted {
	char s[16];
};

static struct dotted dotted(uint32_t h)
{
	struct dotted d;
	snprintf(d.s, sizeof d.s, "%u.%u.%u.%u", h >> 24, (h >> 16) & 255,
	         (h >> 8) & 255, h & 255);
	return d;
}

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
}

/* 0/8 ("this network"), loopback, multicast and class E cannot be a
 * dataplane interface address or a next hop. */
static bool is_unicast(uint32_t h)
{
	unsigned first = h >> 24;
	return first != 0 && first != 127 && first < 224;
}

static int set_ip(struct parse_state *st, const char *v)
{
	uint32_t h;
	const char *p = parse_quad(v, &h);
	if (p == NULL || *p != '/' || !is_digit(p[1]))
		return fail_value(st, K_IP, "%s is not an IPv4 address with a "
		                  "prefix (A.B.C.D/P)", Q(v));
	uint64_t prefix;
	if (parse_dec(p + 1, strlen(p + 1), &prefix) != NUM_OK ||
	    (p[1] == '0' && p[2] != '\0'))
		return fail_value(st, K_IP, "%s is not an IPv4 address with a "
		                  "prefix (A.B.C.D/P)", Q(v));
	if (prefix < 1 || prefix > 32)
		return fail_value(st, K_IP, "%s: prefix length must be 1..32",
		                  Q(v));
	if (!is_unicast(h))
		return fail_value(st, K_IP, "%s: %s is not a unicast host "
		                  "address", Q(v), dotted(h).s);
	/* /31 (RFC 3021) and /32 have no network or broadcast address. */
	uint32_t mask = prefix_mask((unsigned)prefix);
	if (prefix < 31 && (h & ~mask) == 0)
		return fail_value(st, K_IP, "%s is the network address of its "
		                  "subnet", Q(v));
	if (prefix < 31 && (h & ~mask) == ~mask)
		return fail_value(st, K_IP, "%s is the broadcast address of its "
		                  "subnet", Q(v));
	st->cfg->ip_be = be_from_host(h);
	st->cfg->prefix_len = (uint8_t)prefix;
	return 0;
}

static int set_gateway(struct parse_state *st, const char *v)
{
	if (*v == '\0' || strcmp(v, "none") == 0) {
		st->cfg->gateway_be = 0;
		return 0;
	}
	uint32_t h;
	const char *p = parse_quad(v, &h);
	if (p == NULL || *p != '\0')
		return fail_value(st, K_GATEWAY, "%s is not an IPv4 address "
		                  "(A.B.C.D, or none)", Q(v));
	if (!is_unicast(h))
		return fail_value(st, K_GATEWAY, "%s is not a unicast host "
		                  "address (use none for no gateway)", Q(v));
	st->cfg->gateway_be = be_from_host(h);
	return 0;
}

static bool valid_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || c == '_' || c == '.' || c == '-';
}

static int set_name(struct parse_state *st, const char *v)
{
	size_t len = strlen(v);
	if (len == 0)
		return fail_value(st, K_NODE_NAME, "is empty");
	if (len >= LOOM_NAME_MAX)
		return fail_value(st, K_NODE_NAME, "%s is longer than %d "
		                  "characters", Q(v), LOOM_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (!valid_name_char(v[i]))
			return fail_value(st, K_NODE_NAME, "%s has a character "
			                  "outside [A-Za-z0-9_.-]", Q(v));
	memcpy(st->cfg->node_name, v, len + 1);
	return 0;
}

static int set_string(struct parse_state *st, enum key_id k, char *dst,
                      size_t cap, const char *v, bool may_be_empty)
{
	size_t len = strlen(v);
	if (len == 0 && !may_be_empty)
		return fail_value(st, k, "is empty");
	if (len >= cap)
		return fail_value(st, k, "%s is longer than %zu characters",
		                  Q(v), cap - 1);
	memcpy(dst, v, len + 1);
	return 0;
}

/* "1,2, 3": lcore ids, no repeats. */
static int set_lcore_list(struct parse_state *st, enum key_id k,
                          const char *v, uint16_t *ids, uint16_t *n,
                          unsigned max, bool may_be_empty)
{
	*n = 0;
	if (*v == '\0' || strcmp(v, "none") == 0) {
		if (may_be_empty)
			return 0;
		return fail_value(st, k, "needs at least one lcore id");
	}
	const char *p = v;
	for (;;) {
		while (is_ws(*p))
			p++;
		const char *start = p;
		while (*p && *p != ',' && !is_ws(*p))
			p++;
		size_t len = (size_t)(p - start);
		while (is_ws(*p))
			p++;
		if (*p != '\0' && *p != ',')
			return fail_value(st, k, "%s is not a list of lcore ids "
			                  "(N[,N...])", Q(v));
		uint64_t id;
		enum num_status ns = parse_dec(start, len, &id);
		if (ns == NUM_MALFORMED)
			return fail_value(st, k, "%s is not a list of lcore ids "
			                  "(N[,N...])", Q(v));
		if (ns == NUM_OVERFLOW || id > LCORE_ID_MAX)
			return fail_value(st, k, "lcore %s is out of range 0..%d",
			                  quote(start, len).s, LCORE_ID_MAX);
		for (unsigned i = 0; i < *n; i++)
			if (ids[i] == id)
				return fail_value(st, k, "lcore %" PRIu64
				                  " is listed twice", id);
		if (*n >= max)
			return fail_value(st, k, "more than %u lcores", max);
		ids[(*n)++] = (uint16_t)id;
		if (*p == '\0')
			return 0;
		p++; /* ',' */
	}
}

static int set_storage_lcore(struct parse_state *st, const char *v)
{
	if (*v == '\0' || strcmp(v, "none") == 0 || strcmp(v, "-1") == 0) {
		st->cfg->storage_lcore = -1;
		return 0;
	}
	uint64_t id;
	enum num_status ns = parse_dec(v, strlen(v), &id);
	if (ns == NUM_MALFORMED)
		return fail_value(st, K_STORAGE_LCORE, "%s is not an lcore id "
		                  "(N, or none)", Q(v));
	if (ns == NUM_OVERFLOW || id > LCORE_ID_MAX)
		return fail_value(st, K_STORAGE_LCORE, "%s is out of range 0..%d",
		                  Q(v), LCORE_ID_MAX);
	st->cfg->storage_lcore = (int32_t)id;
	return 0;
}

/* strtod is locale-dependent; loomd never calls setlocale(), so the C
 * locale's '.' applies. Hex floats, "inf" and "nan" are refused up front
 * because no operator means them. */
static int set_rate(struct parse_state *st, enum key_id k, const char *v,
                    double *dst)
{
	/* A '-' is let through to strtod so that "-0.1" is reported as out
	 * of range, which is what it is. */
	const char *num = v[0] == '-' ? v + 1 : v;
	bool plausible = is_digit(num[0]) || (num[0] == '.' && is_digit(num[1]));
	for (const char *p = num; plausible && *p; p++)
		if (!is_digit(*p) && *p != '.' && *p != 'e' && *p != 'E' &&
		    *p != '+' && *p != '-')
			plausible = false;
	char *end = NULL;
	errno = 0;
	double r = plausible ? strtod(v, &end) : 0.0;
	if (!plausible || end == v || *end != '\0' || errno == ERANGE)
		return fail_value(st, k, "%s is not a decimal number (a "
		                  "probability such as 0.02)", Q(v));
	if (v[0] == '-' || !isfinite(r) || r < 0.0 || r >= 1.0)
		return fail_value(st, k, "%s is out of range: a probability is "
		                  "in [0, 1)", Q(v));
	*dst = r;
	return 0;
}

/* "true"/"false" and the usual synonyms. */
static int set_bool(struct parse_state *st, enum key_id k, const char *v,
                    bool *dst)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*dst = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*dst = false;
			return 0;
		}
	}
	return fail_value(st, k, "%s is not true or false", Q(v));
}

/* A Linux CPU list as isolcpus= takes it: "2-7,10,12-13". */
static int set_cpu_list(struct parse_state *st, enum key_id k, const char *v,
                        char *dst, size_t cap)
{
	const char *p = v;
	while (*p) {
		const char *a = p;
		while (is_digit(*p))
			p++;
		if (p == a)
			goto bad;
		if (*p == '-') {
			const char *b = ++p;
			while (is_digit(*p))
				p++;
			if (p == b)
				goto bad;
		}
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			goto bad;
	}
	return set_string(st, k, dst, cap, v, true);
bad:
	return fail_value(st, k, "%s is not a CPU list (such as 2-7,10)", Q(v));
}

/* One of a fixed set of words. */
static int set_word(struct parse_state *st, enum key_id k, const char *v,
                    char *dst, size_t cap, const char *const *words,
                    const char *list)
{
	if (*v == '\0')
		return set_string(st, k, dst, cap, v, true);
	for (; *words != NULL; words++)
		if (strcmp(v, *words) == 0)
			return set_string(st, k, dst, cap, v, true);
	return fail_value(st, k, "%s is not one of %s", Q(v), list);
}

/* "A.B.C.D:P", or empty for none. */
static int set_endpoint(struct parse_state *st, enum key_id k, const char *v,
                        uint32_t *ip_be, uint16_t *port)
{
	if (*v == '\0' || strcmp(v, "none") == 0) {
		*ip_be = 0;
		*port = 0;
		return 0;
	}
	uint32_t h;
	uint64_t p;
	const char *colon = parse_quad(v, &h);
	if (colon == NULL || *colon != ':' ||
	    parse_dec(colon + 1, strlen(colon + 1), &p) != NUM_OK)
		return fail_value(st, k, "%s is not an address and port "
		                  "(A.B.C.D:P)", Q(v));
	if (!is_unicast(h))
		return fail_value(st, k, "%s: %s is not a unicast host address",
		                  Q(v), dotted(h).s);
	if (p < 1 || p > 65535)
		return fail_value(st, k, "%s: port must be 1..65535", Q(v));
	*ip_be = be_from_host(h);
	*port = (uint16_t)p;
	return 0;
}

/* One [users] line. The value is not quoted in messages: a hash is
 * material for an offline guessing attack, and a mistyped line may be a
 * plain password. */
static int set_user(struct parse_state *st, const char *name, const char *v)
{
	struct loom_config *cfg = st->cfg;
	size_t nlen = strlen(name);
	if (nlen >= sizeof cfg->users[0].name)
		return fail_line(st, S_USERS, name, "a user name is at most %zu "
		                 "characters", sizeof cfg->users[0].name - 1);
	/* The reader admitted only [A-Za-z0-9_.-] in the key. */
	for (unsigned i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return fail_line(st, S_USERS, name, "user listed twice "
			                 "(first on line %d, again on line %d)",
			                 st->user_line[i], st->lineno);
	if (cfg->n_users >= LOOM_MAX_USERS)
		return fail_line(st, S_USERS, name, "more than %d users",
		                 LOOM_MAX_USERS);

	/* Four '$'-separated fields. */
	const char *f[4];
	size_t flen[4];
	const char *p = v;
	int n = 0;
	for (;;) {
		const char *end = strchr(p, '$');
		if (n == 4)
			goto malformed;
		f[n] = p;
		flen[n] = end ? (size_t)(end - p) : strlen(p);
		n++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (n != 4 || flen[0] != strlen(USER_SCHEME) ||
	    memcmp(f[0], USER_SCHEME, flen[0]) != 0)
		goto malformed;

	struct loom_user u;
	memset(&u, 0, sizeof u);
	memcpy(u.name, name, nlen + 1);
	uint64_t iter;
	enum num_status ns = parse_dec(f[1], flen[1], &iter);
	if (ns == NUM_MALFORMED)
		return fail_line(st, S_USERS, name, "iterations %s is not a "
		                 "decimal integer", quote(f[1], flen[1]).s);
	if (ns == NUM_OVERFLOW || iter < USER_ITER_MIN || iter > USER_ITER_MAX)
		return fail_line(st, S_USERS, name, "iterations %s is out of "
		                 "range %d..%d", quote(f[1], flen[1]).s,
		                 USER_ITER_MIN, USER_ITER_MAX);
	u.iterations = (uint32_t)iter;

	/* Base64 of the largest salt is 88 characters; 160 characters decode
	 * into at most 120 bytes. A longer field is too long whatever it
	 * holds (the line limit keeps it from occurring with Debian's inih). */
	uint8_t buf[120];
	long got = flen[2] > 160 ? LONG_MAX : base64_decode(f[2], flen[2], buf, sizeof buf);
	if (got < 0)
		return fail_line(st, S_USERS, name, "the salt is not standard "
		                 "base64 with padding (A-Z a-z 0-9 + /, '=')");
	if (got < USER_SALT_MIN || got > USER_SALT_MAX)
		return fail_line(st, S_USERS, name, "the salt is %s%ld bytes, "
		                 "must be %d..%d", got == LONG_MAX ? "over " : "",
		                 got == LONG_MAX ? 120L : got, USER_SALT_MIN,
		                 USER_SALT_MAX);
	memcpy(u.salt, buf, (size_t)got);
	u.salt_len = (uint8_t)got;

	got = flen[3] > 160 ? LONG_MAX : base64_decode(f[3], flen[3], buf, sizeof buf);
	if (got < 0)
		return fail_line(st, S_USERS, name, "the hash is not standard "
		                 "base64 with padding (A-Z a-z 0-9 + /, '=')");
	if (got != USER_HASH_LEN)
		return fail_line(st, S_USERS, name, "the hash is %s%ld bytes, "
		                 "must be %d (PBKDF2-HMAC-SHA256)",
		                 got == LONG_MAX ? "over " : "",
		                 got == LONG_MAX ? 120L : got, USER_HASH_LEN);
	memcpy(u.hash, buf, USER_HASH_LEN);

	st->user_line[cfg->n_users] = st->lineno;
	cfg->users[cfg->n_users++] = u;
	return 0;

malformed:
	return fail_line(st, S_USERS, name, "the value is not " USER_SCHEME
	                 "$ITERATIONS$SALT_B64$HASH_B64 (`loomctl passwd %s` "
	                 "prints the line; a plain password is never accepted)",
	                 name);
}

static int set_value(struct parse_state *st, enum key_id k, const char *v)
{
	struct loom_config *cfg = st->cfg;
	const struct key_desc *d = &keys[k];
	uint64_t u = 0; /* set by parse_uint_key on success; gcc -O3 cannot tell */

	if (d->kind != T_OTHER) {
		if (parse_uint_key(st, k, v, &u) != 0)
			return -1;
		store_uint(cfg, d, u);
		return 0;
	}
	switch (k) {
	case K_NODE_NAME:
		return set_name(st, v);
	case K_EAL_ARGS:
		return set_string(st, k, cfg->eal_args, sizeof cfg->eal_args, v,
		                  true);
	case K_IP:
		return set_ip(st, v);
	case K_GATEWAY:
		return set_gateway(st, v);
	case K_IO_LCORES:
		return set_lcore_list(st, k, v, cfg->io_lcores,
		                      &cfg->n_io_lcores, LOOM_MAX_IO_LCORES,
		                      false);
	case K_REPL_LCORES:
		return set_lcore_list(st, k, v, cfg->repl_lcores,
		                      &cfg->n_repl_lcores, LOOM_MAX_REPL_LCORES,
		                      true);
	case K_STORAGE_LCORE:
		return set_storage_lcore(st, v);
	case K_STORAGE_PATH:
		return set_string(st, k, cfg->storage_path,
		                  sizeof cfg->storage_path, v, false);
	case K_MAP_SIZE: {
		enum num_status ns = parse_dec(v, strlen(v), &u);
		if (ns == NUM_MALFORMED)
			return fail_value(st, k, "%s is not a decimal integer",
			                  Q(v));
		if (ns == NUM_OVERFLOW || u < 16 || u > 16777216)
			return fail_value(st, k, "%s is out of range 16..16777216 "
			                  "(MiB)", Q(v));
		cfg->storage_map_size = u << 20;
		return 0;
	}
	case K_SYNC:
		if (strcmp(v, "commit") == 0)
			cfg->sync = LOOM_SYNC_COMMIT;
		else if (strcmp(v, "interval") == 0)
			cfg->sync = LOOM_SYNC_INTERVAL;
		else
			return fail_value(st, k, "%s is not commit or interval",
			                  Q(v));
		return 0;
	case K_CONTROL_SOCKET:
		if (v[0] != '/')
			return fail_value(st, k, "%s is not an absolute path",
			                  Q(v));
		if (strlen(v) >= sizeof cfg->control_socket)
			return fail_value(st, k, "longer than %zu characters",
			                  sizeof cfg->control_socket - 1);
		snprintf(cfg->control_socket, sizeof cfg->control_socket, "%s",
		         v);
		return 0;
	case K_HTTP_AUTH:
		if (strcmp(v, "basic") == 0)
			cfg->auth_mode = LOOM_AUTH_BASIC;
		else if (strcmp(v, "none") == 0)
			cfg->auth_mode = LOOM_AUTH_NONE;
		else
			return fail_value(st, k, "%s is not basic or none", Q(v));
		return 0;
	case K_FAULT_DROP:
		return set_rate(st, k, v, &cfg->fault_drop);
	case K_FAULT_DUP:
		return set_rate(st, k, v, &cfg->fault_dup);
	case K_FAULT_REORDER:
		return set_rate(st, k, v, &cfg->fault_reorder);
	case K_FAULT_CORRUPT:
		return set_rate(st, k, v, &cfg->fault_corrupt);
	case K_STATS_FILE:
		return set_string(st, k, cfg->stats_file, sizeof cfg->stats_file,
		                  v, true);
	case K_TEST_CONNECT:
		return set_endpoint(st, k, v, &cfg->test_connect_ip_be,
		                    &cfg->test_connect_port);
	case K_FLOW_ISOLATE:
		return set_bool(st, k, v, &cfg->flow_isolate);
	case K_HOST_ISOLCPUS:
		return set_cpu_list(st, k, v, cfg->host_isolcpus,
		                    sizeof cfg->host_isolcpus);
	case K_HOST_NOHZ_FULL:
		return set_cpu_list(st, k, v, cfg->host_nohz_full,
		                    sizeof cfg->host_nohz_full);
	case K_HOST_IRQ_CPUS:
		return set_cpu_list(st, k, v, cfg->host_irq_cpus,
		                    sizeof cfg->host_irq_cpus);
	case K_HOST_HUGEPAGE_SIZE: {
		static const char *const sizes[] = {"2M", "1G", NULL};
		return set_word(st, k, v, cfg->host_hugepage_size,
		                sizeof cfg->host_hugepage_size, sizes, "2M, 1G");
	}
	case K_HOST_NUMA_NODE: {
		if (*v == '\0' || strcmp(v, "any") == 0 || strcmp(v, "-1") == 0) {
			cfg->host_numa_node = -1;
			return 0;
		}
		if (parse_dec(v, strlen(v), &u) != NUM_OK || u > 63)
			return fail_value(st, k, "%s is not a NUMA node 0..63 "
			                  "(or any)", Q(v));
		cfg->host_numa_node = (int32_t)u;
		return 0;
	}
	case K_HOST_GOVERNOR: {
		static const char *const govs[] = {"performance", "powersave",
		                                   "schedutil", "ondemand",
		                                   "conservative", "userspace",
		                                   NULL};
		return set_word(st, k, v, cfg->host_governor,
		                sizeof cfg->host_governor, govs,
		                "performance, powersave, schedutil, ondemand, "
		                "conservative, userspace");
	}
	case K_HOST_THP: {
		static const char *const thp[] = {"never", "madvise", "always",
		                                  NULL};
		return set_word(st, k, v, cfg->host_thp, sizeof cfg->host_thp,
		                thp, "never, madvise, always");
	}
	case K_HOST_IOMMU: {
		static const char *const io[] = {"on", "off", "pt", NULL};
		return set_word(st, k, v, cfg->host_iommu, sizeof cfg->host_iommu,
		                io, "on, off, pt");
	}
	case K_HOST_NIC:
		return set_string(st, k, cfg->host_nic, sizeof cfg->host_nic, v,
		                  true);
	case K_HOST_NIC_DRIVER:
		return set_string(st, k, cfg->host_nic_driver,
		                  sizeof cfg->host_nic_driver, v, true);
	case K_LOG_LEVEL:
		if (loom_log_level_parse(v) < 0)
			return fail_value(st, k, "%s is not error, warn, info or "
			                  "debug", Q(v));
		/* Every accepted level name fits: the longest is "debug". */
		snprintf(cfg->log_level, sizeof cfg->log_level, "%s", v);
		return 0;
	default:
		return fail_value(st, k, "internal error: no parser for this key");
	}
}

/* ------------------------------------------------------------------------
 * Lines: the reader in front of inih, and the handler behind it
 */

static int find_section(const char *s, size_t len)
{
	for (int i = 0; i < S_COUNT; i++)
		if (strlen(section_names[i]) == len &&
		    memcmp(section_names[i], s, len) == 0)
			return i;
	return -1;
}

static int find_key(int section, const char *name)
{
	for (int k = 0; k < K_COUNT; k++)
		if ((int)keys[k].section == section &&
		    strcmp(keys[k].name, name) == 0)
			return k;
	return -1;
}

static bool valid_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || c == '_';
}

/* Hands inih the next physical line in a form it cannot misread:
 *   blank or comment  -> "\n"
 *   [section]         -> "[section]\n"     (checked: known, nothing after)
 *   key = value ; c   -> "key=value\n"     (comment cut, blanks trimmed)
 *   <indent>more      -> "=more\n"         (a continuation; continuation set)
 * Returning NULL ends inih's loop: that is how the first error stops the
 * parse. */
static char *line_reader(char *buf, int num, void *stream)
{
	struct parse_state *st = stream;
	if (st->failed || *st->pos == '\0' || num < 8)
		return NULL;

	const char *line = st->pos;
	const char *eol = strchr(line, '\n');
	if (eol == NULL)
		eol = line + strlen(line);
	st->pos = *eol ? eol + 1 : eol;
	st->lineno++;
	st->continuation = false;

	if (st->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	const char *s = line;
	while (s < eol && is_ws(*s))
		s++;
	if (s == eol || *s == ';' || *s == '#') {
		snprintf(buf, (size_t)num, "\n");
		return buf;
	}
	/* ';' or '#' after a blank starts a comment; "a;b" stays a value. */
	const char *e = s;
	while (e < eol && !((*e == ';' || *e == '#') && is_ws(e[-1])))
		e++;
	while (e > s && is_ws(e[-1]))
		e--;

	size_t cap = (size_t)num - READER_SLACK;
	if (s > line) {
		st->continuation = true;
		if ((size_t)(e - s) + 1 > cap)
			goto too_long;
		snprintf(buf, (size_t)num, "=%.*s\n", (int)(e - s), s);
		return buf;
	}

	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(e - s));
		if (close == NULL) {
			fail_line(st, -1, NULL, "%s: section header without a "
			          "closing ']'", quote(s, (size_t)(e - s)).s);
			return NULL;
		}
		int sec = find_section(s + 1, (size_t)(close - s - 1));
		if (sec < 0 && (size_t)(close - s - 1) == 5 &&
		    memcmp(s + 1, "peers", 5) == 0) {
			fail_line(st, -1, NULL, "[peers]: no longer read: the "
			          "peers and their keys come from loom-controld "
			          "([control] socket, docs/CONTROL.md)");
			return NULL;
		}
		if (sec < 0) {
			size_t n = (size_t)(close - s - 1);
			fail_line(st, -1, NULL, "[%.*s%s]: unknown section (known: "
			          "node, eal, dataplane, lcores, idle, mempool, "
			          "storage, fault, run, tcp, test, host, http, "
			          "users, repl, control)",
			          (int)(n > QUOTE_MAX ? QUOTE_MAX : n), s + 1,
			          n > QUOTE_MAX ? "..." : "");
			return NULL;
		}
		if (close + 1 != e) {
			fail_line(st, sec, NULL, "unexpected text after the "
			          "section header: %s",
			          quote(close + 1, (size_t)(e - close - 1)).s);
			return NULL;
		}
		st->section = sec;
		st->last_key = -1;
		snprintf(buf, (size_t)num, "[%s]\n", section_names[sec]);
		return buf;
	}

	const char *eq = memchr(s, '=', (size_t)(e - s));
	if (eq == NULL) {
		fail_line(st, st->section, NULL, "expected 'key = value', got %s",
		          quote(s, (size_t)(e - s)).s);
		return NULL;
	}
	const char *kend = eq;
	while (kend > s && is_ws(kend[-1]))
		kend--;
	/* In [users] the key is a user name, which may also hold '.' and
	 * '-' (never ':' or '=', so inih splits the line where we do). */
	bool users = st->section == S_USERS;
	for (const char *p = s; p < kend; p++) {
		if (users && !valid_name_char(*p)) {
			fail_line(st, st->section, NULL, "%s is not a user name "
			          "([A-Za-z0-9_.-]{1,63})",
			          quote(s, (size_t)(kend - s)).s);
			return NULL;
		}
		if (!users && !valid_key_char(*p)) {
			fail_line(st, st->section, NULL, "%s is not a key name "
			          "(letters, digits and '_')",
			          quote(s, (size_t)(kend - s)).s);
			return NULL;
		}
	}
	if (kend == s) {
		fail_line(st, st->section, NULL, "a line starts with '=': the "
		          "key name is missing");
		return NULL;
	}
	const char *v = eq + 1;
	while (v < e && is_ws(*v))
		v++;
	if ((size_t)(kend - s) + 1 + (size_t)(e - v) > cap)
		goto too_long;
	snprintf(buf, (size_t)num, "%.*s=%.*s\n", (int)(kend - s), s,
	         (int)(e - v), v);
	return buf;

too_long:
	/* inih's line buffer is fixed at build time (200 bytes in Debian's
	 * libinih); a longer line would be split, not rejected. */
	fail_line(st, st->section, NULL, "line too long: key=value may hold at "
	          "most %zu characters without comments and blanks around '='"
	          " (long [eal] args continue on indented lines)", cap);
	return NULL;
}

static int continue_value(struct parse_state *st, const char *v)
{
	if (st->last_key < 0)
		return fail_line(st, st->section, NULL, "indented line %s has "
		                 "no value to continue (indentation continues "
		                 "the previous key's value)", Q(v));
	if (st->last_key == K_USER)
		return fail_line(st, S_USERS, st->last_user, "indented line "
		                 "would continue this value, but only [eal] args "
		                 "may span lines");
	if (st->last_key != K_EAL_ARGS)
		return fail_value(st, (enum key_id)st->last_key,
		                  "indented line %s would continue this value, "
		                  "but only [eal] args may span lines", Q(v));
	char *args = st->cfg->eal_args;
	size_t have = strlen(args), add = strlen(v);
	size_t sep = have > 0 ? 1 : 0;
	if (have + sep + add >= sizeof st->cfg->eal_args)
		return fail_value(st, K_EAL_ARGS, "longer than %zu characters",
		                  sizeof st->cfg->eal_args - 1);
	if (sep)
		args[have++] = ' ';
	memcpy(args + have, v, add + 1);
	return 0;
}

static int line_handler(void *user, const char *section, const char *name,
                        const char *value)
{
	struct parse_state *st = user;
	(void)section; /* the reader tracked it, with validation */
	if (st->failed)
		return 0;
	/* Builds with INI_CALL_HANDLER_ON_NEW_SECTION announce sections. */
	if (name == NULL || value == NULL)
		return 1;
	if (st->continuation)
		return continue_value(st, value) == 0;
	if (st->section < 0) {
		fail_line(st, -1, NULL, "%s: a key outside any section (start "
		          "with a header such as [node])", Q(name));
		return 0;
	}
	if (st->section == S_USERS) {
		st->last_key = K_USER;
		snprintf(st->last_user, sizeof st->last_user, "%s", name);
		return set_user(st, name, value) == 0;
	}

	int k = find_key(st->section, name);
	if (k < 0 && st->section == S_REPL &&
	    strcmp(name, "secret_file") == 0) {
		fail_line(st, st->section, name, "no longer read: the link keys "
		          "come from loom-controld ([control] socket, "
		          "docs/CONTROL.md)");
		return 0;
	}
	if (k < 0) {
		fail_line(st, st->section, name, "unknown key");
		return 0;
	}
	if (st->key_line[k] > 0) {
		fail_line(st, st->section, name, "set twice (first on line %d, "
		          "again on line %d)", st->key_line[k], st->lineno);
		return 0;
	}
	st->key_line[k] = st->lineno;
	st->last_key = k;
	return set_value(st, (enum key_id)k, value) == 0;
}

/* ------------------------------------------------------------------------
 * Whole-file checks
 */

struct role {
	uint16_t lcore;
	enum key_id key;
	const char *what;
};

static int check_lcores(struct parse_state *st)
{
	const struct loom_config *c = st->cfg;
	struct role roles[1 + LOOM_MAX_IO_LCORES + LOOM_MAX_REPL_LCORES + 1];
	unsigned n = 0;
	roles[n++] = (struct role){c->main_lcore, K_MAIN_LCORE, "the main lcore"};
	for (unsigned i = 0; i < c->n_io_lcores; i++)
		roles[n++] = (struct role){c->io_lcores[i], K_IO_LCORES,
		                           "an io lcore"};
	for (unsigned i = 0; i < c->n_repl_lcores; i++)
		roles[n++] = (struct role){c->repl_lcores[i], K_REPL_LCORES,
		                           "a repl lcore"};
	if (c->storage_lcore >= 0)
		roles[n++] = (struct role){(uint16_t)c->storage_lcore,
		                           K_STORAGE_LCORE, "the storage lcore"};
	for (unsigned j = 1; j < n; j++) {
		for (unsigned i = 0; i < j; i++) {
			if (roles[i].lcore != roles[j].lcore ||
			    roles[i].key == roles[j].key)
				continue;
			return fail_key(st, roles[j].key,
			                "lcore %u is %s (%s %s) and %s (%s %s); "
			                "every role needs its own lcore",
			                roles[j].lcore, roles[i].what,
			                keys[roles[i].key].name, AT(roles[i].key),
			                roles[j].what, keys[roles[j].key].name,
			                AT(roles[j].key));
		}
	}
	return 0;
}

static int check_gateway(struct parse_state *st)
{
	const struct loom_config *c = st->cfg;
	if (c->gateway_be == 0)
		return 0;
	uint32_t ip = host_from_be(c->ip_be), gw = host_from_be(c->gateway_be);
	uint32_t mask = prefix_mask(c->prefix_len);
	uint32_t net = ip & mask;
	char subnet[24];
	snprintf(subnet, sizeof subnet, "%s/%u", dotted(net).s, c->prefix_len);
	if ((gw & mask) != net)
		return fail_key(st, K_GATEWAY, "%s (%s) is outside the subnet %s "
		                "of ip (%s)", dotted(gw).s, AT(K_GATEWAY), subnet,
		                AT(K_IP));
	if (gw == ip)
		return fail_key(st, K_GATEWAY, "%s (%s) is the node's own ip (%s)",
		                dotted(gw).s, AT(K_GATEWAY), AT(K_IP));
	if (c->prefix_len < 31 && gw == net)
		return fail_key(st, K_GATEWAY, "%s (%s) is the network address "
		                "of %s", dotted(gw).s, AT(K_GATEWAY), subnet);
	if (c->prefix_len < 31 && gw == (net | ~mask))
		return fail_key(st, K_GATEWAY, "%s (%s) is the broadcast address "
		                "of %s", dotted(gw).s, AT(K_GATEWAY), subnet);
	return 0;
}

static int validate(struct parse_state *st)
{
	const struct loom_config *c = st->cfg;
	for (int k = 0; k < K_COUNT; k++)
		if (keys[k].mandatory && st->key_line[k] == 0)
			return fail_key(st, (enum key_id)k, "missing (a mandatory "
			                "key)");
	if (c->eal_args[0] == '\0')
		return fail_key(st, K_EAL_ARGS, "is empty (%s)", AT(K_EAL_ARGS));
	if (!loom_eal_args_safe(c->eal_args))
		return fail_key(st, K_EAL_ARGS, "must contain --no-pci or an "
		                "explicit allow-list (-a/--allow): Loom never "
		                "probes every PCI device");
	if (check_lcores(st) != 0 || check_gateway(st) != 0)
		return -1;
	if (c->repl_port == c->http_port)
		return fail_key(st, K_REPL_PORT, "%u (%s) is also http_port (%s)",
		                c->repl_port, AT(K_REPL_PORT), AT(K_HTTP_PORT));
	/* rte_mempool_create() refuses a cache whose flush threshold (1.5 x
	 * cache) exceeds the pool. */
	if ((uint64_t)c->mbuf_cache * 3 / 2 > c->mbufs)
		return fail_key(st, K_MBUF_CACHE, "%u (%s) is more than mbufs/1.5 "
		                "(mbufs = %u, %s)", c->mbuf_cache,
		                AT(K_MBUF_CACHE), c->mbufs, AT(K_MBUFS));
	/* A whole frame (mtu + Ethernet header) fits one mbuf after the
	 * 128-byte RTE_PKTMBUF_HEADROOM, so received frames never arrive as
	 * chained segments that the stack would have to reassemble. */
	if ((unsigned)c->mbuf_data_room < (unsigned)c->mtu + 14 + 128)
		return fail_key(st, K_DATA_ROOM, "%u (%s) cannot hold an mtu-sized "
		                "frame: needs mtu + 14 + 128 headroom = %u (mtu %u, "
		                "%s)", c->mbuf_data_room, AT(K_DATA_ROOM),
		                (unsigned)c->mtu + 14 + 128, c->mtu, AT(K_MTU));
	if (c->tcp_rto_min_ms > c->tcp_rto_init_ms)
		return fail_key(st, K_TCP_RTO_MIN, "%u (%s) is above rto_init_ms "
		                "%u (%s)", c->tcp_rto_min_ms, AT(K_TCP_RTO_MIN),
		                c->tcp_rto_init_ms, AT(K_TCP_RTO_INIT));
	if (c->tcp_rto_init_ms > c->tcp_rto_max_ms)
		return fail_key(st, K_TCP_RTO_MAX, "%u (%s) is below rto_init_ms "
		                "%u (%s)", c->tcp_rto_max_ms, AT(K_TCP_RTO_MAX),
		                c->tcp_rto_init_ms, AT(K_TCP_RTO_INIT));
	if (c->test_echo_port != 0 &&
	    (c->test_echo_port == c->http_port ||
	     c->test_echo_port == c->repl_port))
		return fail_key(st, K_TEST_ECHO_PORT, "%u (%s) is also http_port "
		                "or repl_port", c->test_echo_port,
		                AT(K_TEST_ECHO_PORT));
	if (c->test_connect_count > 0 && c->test_connect_port == 0)
		return fail_key(st, K_TEST_CONNECT_COUNT, "%u (%s) needs [test] "
		                "connect = A.B.C.D:P", c->test_connect_count,
		                AT(K_TEST_CONNECT_COUNT));
	/* The parser keeps a request head contiguous in the connection's
	 * receive buffer until it is complete. */
	if (c->http_max_header_bytes > c->tcp_rcvbuf)
		return fail_key(st, K_HTTP_MAX_HEADER_BYTES, "%u (%s) is larger "
		                "than [tcp] rcvbuf %u (%s): a request head must "
		                "fit in the receive buffer",
		                c->http_max_header_bytes,
		                AT(K_HTTP_MAX_HEADER_BYTES), c->tcp_rcvbuf,
		                AT(K_TCP_RCVBUF));
	if (c->repl_dead_ms <= c->repl_ping_ms)
		return fail_key(st, K_REPL_DEAD, "%u (%s) must be above "
		                "ping_interval_ms %u: a live link pings before it "
		                "is declared dead", c->repl_dead_ms,
		                AT(K_REPL_DEAD), c->repl_ping_ms);
	if (c->repl_max_frame < c->max_body_bytes + 4096u)
		return fail_key(st, K_REPL_MAX_FRAME, "%u (%s) cannot carry one "
		                "entry of max_body %u plus its headers (%u)",
		                c->repl_max_frame, AT(K_REPL_MAX_FRAME),
		                c->max_body_bytes, c->max_body_bytes + 4096u);
	if (c->control_socket[0] != '\0' && c->n_repl_lcores == 0)
		return fail_key(st, K_REPL_LCORES, "[control] socket: this node "
		                "replicates, so it needs a repl lcore");
	/* Last: every config written before [http] existed fails here, and
	 * its other mistakes are worth reporting first. */
	if (c->auth_mode == LOOM_AUTH_BASIC && c->n_users == 0)
		return fail_key(st, K_HTTP_AUTH, "basic (%s) needs at least one "
		                "user in [users]: add one (`loomctl passwd NAME` "
		                "prints the line to paste), or set auth = none "
		                "explicitly to serve the API without "
		                "authentication", AT(K_HTTP_AUTH));
	return 0;
}

/* ------------------------------------------------------------------------
 * API
 */

void loom_config_defaults(struct loom_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->cluster_id = 1;
	cfg->mtu = 1500;
	cfg->port_id = 0;
	cfg->rx_desc = 1024;
	cfg->tx_desc = 1024;
	cfg->burst = 32;
	cfg->arp_timeout_s = 60;
	cfg->arp_cache_size = 256;
	cfg->arp_pending_max = 64;
	cfg->http_port = 9926;
	cfg->repl_port = 9933;
	cfg->main_lcore = 0;
	cfg->storage_lcore = -1;
	cfg->idle_spin_polls = 1000;
	cfg->idle_sleep_max_us = 1000;
	cfg->mbufs = 8191;
	cfg->mbuf_cache = 256;
	cfg->mbuf_data_room = 2176;
	snprintf(cfg->storage_path, sizeof cfg->storage_path, "/var/lib/loom");
	cfg->storage_map_size = (uint64_t)4096 << 20;
	cfg->max_body_bytes = 65536;
	cfg->sync = LOOM_SYNC_COMMIT;
	cfg->sync_interval_ms = 100;
	cfg->commit_batch_max = 1024;
	cfg->fault_seed = 1;
	cfg->stats_interval_ms = 1000;
	cfg->tcp_max_conns = 4096;
	cfg->tcp_sndbuf = 16384;
	cfg->tcp_rcvbuf = 16384;
	cfg->tcp_syn_backlog = 256;
	cfg->tcp_time_wait_ms = 2000;
	cfg->tcp_rto_init_ms = 1000;
	cfg->tcp_rto_min_ms = 200;
	cfg->tcp_rto_max_ms = 60000;
	cfg->tcp_delack_ms = 40;
	cfg->tcp_max_retries = 12;
	cfg->tcp_syn_retries = 5;
	cfg->http_max_header_bytes = 8192;
	cfg->http_max_headers = 64;
	cfg->http_header_timeout_ms = 10000;
	cfg->http_idle_timeout_ms = 60000;
	cfg->http_backpressure_ms = 5000;
	cfg->http_max_inflight = 32;
	cfg->http_write_pool = 8192;
	cfg->http_large_pool = 64;
	cfg->auth_mode = LOOM_AUTH_BASIC;
	cfg->repl_batch_max = 256;
	cfg->repl_window = 8192;
	cfg->repl_ping_ms = 1000;
	cfg->repl_dead_ms = 5000;
	cfg->repl_max_frame = 1048576;
	cfg->repl_log_retention_ms = 86400000;
	cfg->repl_prune_interval_ms = 1000;
	cfg->n_users = 0;
	cfg->host_numa_node = -1;
	snprintf(cfg->log_level, sizeof cfg->log_level, "info");
}

int loom_config_parse_string(const char *name, const char *text,
                             struct loom_config *cfg, char *err, size_t errlen)
{
	/* Parsed into a copy so that a failed load leaves the caller's
	 * struct as it was. */
	struct loom_config work;
	loom_config_defaults(&work);
	struct parse_state st = {
		.name = name ? name : "<config>",
		.pos = text ? text : "",
		.section = -1,
		.last_key = -1,
		.cfg = &work,
		.err = err,
		.errlen = errlen,
	};
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	int r = ini_parse_stream(line_reader, &st, line_handler, &st);
	if (st.failed)
		return -1;
	if (r == -2) {
		fail_key(&st, K_NODE_ID, "out of memory while parsing");
		return -1;
	}
	if (r != 0) {
		/* The reader hands inih only well-formed lines, so this means
		 * the library disagrees with it; say where rather than guess. */
		st.lineno = r;
		fail_line(&st, -1, NULL, "libinih rejected this line");
		return -1;
	}
	if (validate(&st) != 0)
		return -1;
	*cfg = work;
	return 0;
}

/* A message about the file as a whole, before any line was read. */
static int fail_file(const char *path, char *err, size_t errlen,
                     const char *what, int e)
{
	if (err != NULL && errlen > 0) {
		snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
		sanitize_line(err);
	}
	return -1;
}

int loom_config_load(const char *path, struct loom_config *cfg, char *err,
                     size_t errlen)
{
	if (path == NULL)
		return fail_file("<config>", err, errlen, "cannot open", EINVAL);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return fail_file(path, err, errlen, "cannot open", errno);

	/* One read into memory: the text then goes through the same parser
	 * as loom_config_parse_string(), so the two cannot drift apart. */
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		fclose(f);
		return fail_file(path, err, errlen, "cannot read", ENOMEM);
	}
	for (;;) {
		if (len + 1 == cap) {
			if (cap > CONFIG_FILE_MAX)
				break;
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				free(buf);
				fclose(f);
				return fail_file(path, err, errlen, "cannot read",
				                 ENOMEM);
			}
			buf = grown;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - 1 - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int read_errno = ferror(f) ? errno : 0;
	fclose(f);
	if (read_errno != 0 || len > CONFIG_FILE_MAX) {
		free(buf);
		if (read_errno != 0)
			return fail_file(path, err, errlen, "cannot read",
			                 read_errno);
		if (err != NULL && errlen > 0) {
			snprintf(err, errlen, "%s: larger than %u bytes: not a "
			         "config file", path, CONFIG_FILE_MAX);
			sanitize_line(err);
		}
		return -1;
	}
	buf[len] = '\0';

	/* A NUL would silently end the text early. */
	const char *nul = memchr(buf, '\0', len);
	if (nul != NULL) {
		int line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		if (err != NULL && errlen > 0) {
			snprintf(err, errlen, "%s:%d: contains a NUL byte: not a "
			         "text file", path, line);
			sanitize_line(err);
		}
		free(buf);
		return -1;
	}
	int rc = loom_config_parse_string(path, buf, cfg, err, errlen);
	free(buf);
	return rc;
}

static bool is_space_tok(char c) { return is_ws(c) || c == '\n'; }

/* An allow-list entry names a device; one that starts with '-' is the next
 * option, which getopt would swallow as the address. */
static bool allow_value_ok(const char *tok, size_t len)
{
	return len > 0 && tok[0] != '-';
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

static bool tok_has_prefix(const char *tok, size_t len, const char *pfx)
{
	size_t n = strlen(pfx);
	return len > n && memcmp(tok, pfx, n) == 0;
}

bool loom_eal_args_safe(const char *eal_args)
{
	if (eal_args == NULL)
		return false;
	const char *p = eal_args;
	bool want_value = false; /* the previous token was -a, --allow, ... */
	for (;;) {
		while (is_space_tok(*p))
			p++;
		if (*p == '\0')
			return false;
		const char *tok = p;
		while (*p && !is_space_tok(*p))
			p++;
		size_t len = (size_t)(p - tok);
		if (want_value && allow_value_ok(tok, len))
			return true;
		want_value = false;
		if (tok_is(tok, len, "--no-pci"))
			return true;
		if (tok_is(tok, len, "-a") || tok_is(tok, len, "--allow") ||
		    tok_is(tok, len, "-w") || tok_is(tok, len, "--pci-whitelist")) {
			want_value = true;
			continue;
		}
		/* "-aADDR": getopt would read "-allow" as -a "llow" too, so
		 * only a bus address (which always has a ':') counts. */
		if ((tok_has_prefix(tok, len, "-a") ||
		     tok_has_prefix(tok, len, "-w")) &&
		    tok[2] != '-' && memchr(tok + 2, ':', len - 2) != NULL)
			return true;
		if (tok_has_prefix(tok, len, "--allow=") &&
		    allow_value_ok(tok + 8, len - 8))
			return true;
		if (tok_has_prefix(tok, len, "--pci-whitelist=") &&
		    allow_value_ok(tok + 16, len - 16))
			return true;
	}
}

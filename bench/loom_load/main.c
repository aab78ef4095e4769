/*
 * loom-load: a packet-level HTTP load generator on DPDK over Loom's own
 * TCP stack (dataplane/net). bench/README.md documents it.
 *
 * Process layout: EAL with --no-pci and the caller's --file-prefix, one
 * DPDK port (usually net_af_packet on a veth) opened with port.c exactly as
 * loomd opens it, one queue pair per load lcore (every EAL worker lcore).
 * A load lcore owns its queue pair, an L2/L3 context (net.h) with the
 * address given by --ip, a TCP stack whose active opens take source ports
 * from the lcore's own slice of 32768..60999, and a load_client (client.h)
 * with its share of the connections, quota and rate. Without RSS (af_packet
 * spreads flows by the kernel's fanout) a segment that reaches another
 * lcore's queue is steered to its owner by destination port, and ARP
 * frames are copied to every sibling, as loomd's io lcores do. The main
 * lcore only supervises: signals, duration, count, time limits, progress,
 * then the summary.
 *
 * The request path allocates nothing: frames come from the port's pool,
 * requests are built in each connection's fixed buffer, acknowledged ids go
 * to a per-lcore buffer written out in large blocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bench/loom_load/client.h"
#include "bench/loom_load/hist.h"
#include "bench/loom_load/load.h"
#include "common/base64.h"
#include "common/config.h"
#include "common/log.h"
#include "dataplane/idle.h"
#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"
#include "dataplane/port/port.h"

#define LL_VERSION "0.1.0"
#define MAX_LCORES 16
#define MAX_TARGETS 64
#define MAX_VDEVS 8
#define MAX_EXTRA_EAL 32
#define BURST 32
#define TX_BUF_MAX 512
#define ARP_RING_SIZE 256
#define STEER_RING_SIZE 4096
#define NET_TIMER_PERIOD_US 10000
#define EPH_LO 32768u
#define EPH_HI 60999u
#define IDS_BUF (256u * 1024u)
#define CONNECT_TIMEOUT_US 5000000ull /* no connection at all by then: fail */
#define DRAIN_US 5000000ull           /* answers still due after a stop */
#define SUPERVISE_NS 1000000L         /* the main lcore's tick */

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_HARD_CAP 3

enum cmd { CMD_RUN = 0, CMD_STOP, CMD_QUIT };

struct opts {
	const char *file_prefix;
	const char *lcores;
	const char *iface;
	const char *vdevs[MAX_VDEVS];
	int n_vdevs;
	unsigned mem_mb;
	bool huge;
	uint16_t port;
	uint16_t mtu;
	uint32_t ip_be;
	uint8_t prefix_len;
	uint32_t gateway_be;
	bool has_gw_mac;
	uint8_t gw_mac[6];
	const char *targets[MAX_TARGETS];
	int n_targets;
	uint32_t conns;
	double duration_s;
	uint64_t count;
	double timeout_s;
	double grace_s;
	double rate;
	enum load_keys keys;
	const char *prefix;
	const char *path;
	const char *user, *password;
	bool health;
	const char *ids_path;
	bool json;
	bool progress;
	bool verbose;
	uint64_t seed;
	bool has_seed;
	uint32_t tcp_buf;
	uint32_t idle_sleep_us;
	char **extra_eal;
	int n_extra_eal;
};

struct ll; /* one load lcore */

struct app {
	struct opts o;
	struct loom_config pcfg; /* what port.c reads */
	struct loom_port port;
	bool port_open;
	uint64_t tsc_hz, start_tsc;
	uint16_t n;
	struct ll *ll[MAX_LCORES];
	struct load_target targets[MAX_TARGETS];
	uint16_t n_targets;
	char prefix[LOAD_PREFIX_MAX + 1];
	int ids_fd;
	atomic_int cmd;
};

struct ll {
	unsigned lcore_id;
	uint16_t index;
	struct app *app;
	struct net_ctx net;
	void *arp_mem;
	struct tcp_stack *tcp;
	struct load_client *cl;
	struct rte_ring *arp_ring, *steer_ring;
	struct idle_backoff idle;
	uint32_t conns;
	uint64_t quota;
	char *ids_buf;
	size_t ids_len;
	uint64_t ids_written, ids_errors;
	/* For the main lcore (relaxed). */
	atomic_uint_fast64_t pub_answered, pub_established;
	atomic_uint_fast32_t pub_live;
	atomic_bool pub_stopping, pub_done;
	/* Own counters. */
	uint64_t rx_pkts, tx_pkts, tx_drop, no_mbuf, rx_multiseg;
	uint64_t steer_tx, steer_rx, steer_drop, arp_copy_drop;
	uint16_t tx_n;
	struct rte_mbuf *tx_buf[TX_BUF_MAX];
} __rte_cache_aligned;

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

#define ERR(...) fprintf(stderr, "loom-load: " __VA_ARGS__)

/* --- options ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs(
"usage: loom-load --file-prefix P (--iface IF | --vdev ARGS) --ip A.B.C.D[/N]\n"
"                 --target IP:PORT [--target ...] [options] [-- EAL_ARGS...]\n"
"\n"
"HTTP load on Loom's REST API from a DPDK port over Loom's own TCP stack:\n"
"POSTs of the 400-byte reference record (bench/wrk/insert.lua), or GET\n"
"/health, on many keep-alive connections; a latency histogram per lcore.\n"
"\n"
"DPDK:\n"
"  --file-prefix P      EAL --file-prefix (required; unique per process)\n"
"  --iface IF           net_af_packet on IF (qpairs = load lcores)\n"
"  --vdev ARGS          an EAL --vdev instead (repeatable)\n"
"  --lcores LIST        EAL --lcores (default \"0,1\"): the first lcore\n"
"                       supervises, every other one is a load lcore\n"
"  --mem MB             memory (default 512; --no-huge unless --huge)\n"
"  --huge               use reserved hugepages\n"
"  --port N             DPDK port id (default 0)\n"
"  --mtu N              (default 1500)\n"
"Network:\n"
"  --ip A.B.C.D[/N]     our address (default /24); we answer ARP for it.\n"
"                       On a kernel interface, pick one the kernel does not own\n"
"  --gateway A.B.C.D    next hop for off-subnet targets\n"
"  --gw-mac MAC         the targets' (or gateway's) MAC: no ARP resolution\n"
"  --target IP:PORT     a loomd REST endpoint (repeatable: connections go\n"
"                       round-robin over the targets)\n"
"Load:\n"
"  --conns N            connections in all, spread over the load lcores (64)\n"
"  --duration S         run S seconds (default 10 without --count)\n"
"  --count N            stop after N answered requests; exit 1 if that is\n"
"                       not reached within --duration (if given) or --timeout\n"
"  --timeout S          time limit of a --count run without --duration (120)\n"
"  --grace S            hard cap = time limit + S (default 10): exit 3\n"
"  --rate R             open loop at R requests/s in all (default: closed\n"
"                       loop, each connection sends on the previous answer)\n"
"  --keys uuid|seq      ids: random UUIDv4 (default) or PREFIX-LL-NNNNNNNNNNNN\n"
"  --prefix STR         seq ids' run prefix (default: random)\n"
"  --path /TABLE        where to POST (default /bench)\n"
"  --user U --password P  HTTP Basic credentials\n"
"  --health             GET /health instead (the null endpoint)\n"
"  --seed N             id generator seed (default: random)\n"
"  --tcp-buf B          TCP send/receive buffer per connection (8192)\n"
"  --idle-sleep-us N    back-off sleep bound of an idle load lcore (100; 0 spins)\n"
"Output:\n"
"  --ids FILE           every acknowledged id, one per line\n"
"  --json               the summary as one JSON object\n"
"  --progress           a line a second on stderr\n"
"  -v, --verbose        EAL and stack logs\n"
"  -h, --help\n"
"\n"
"Exit status: 0 every request answered as expected (201, or 200 with\n"
"--health, with the id) and the count reached; 1 errors or a failed run;\n"
"2 usage; 3 the hard cap was reached.\n",
	      f);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo) || !(v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_ip(const char *s, uint32_t *be)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*be = a.s_addr;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int parse_target(const char *s, uint32_t *ip_be, uint16_t *port)
{
	char buf[64];
	const char *colon = strrchr(s, ':');
	if (colon == NULL || (size_t)(colon - s) >= sizeof buf)
		return -1;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	uint64_t p;
	if (parse_ip(buf, ip_be) != 0 || parse_u64(colon + 1, 1, 65535, &p) != 0)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

enum {
	OPT_FILE_PREFIX = 256, OPT_IFACE, OPT_VDEV, OPT_LCORES, OPT_MEM,
	OPT_HUGE, OPT_PORT, OPT_MTU, OPT_IP, OPT_GATEWAY, OPT_GW_MAC,
	OPT_TARGET, OPT_CONNS, OPT_DURATION, OPT_COUNT, OPT_TIMEOUT,
	OPT_GRACE, OPT_RATE, OPT_KEYS, OPT_PREFIX, OPT_PATH, OPT_USER,
	OPT_PASSWORD, OPT_HEALTH, OPT_SEED, OPT_TCP_BUF, OPT_IDLE, OPT_IDS,
	OPT_JSON, OPT_PROGRESS,
};

/* 0 ok, 1 --help printed, -1 usage error (reported). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"file-prefix", required_argument, NULL, OPT_FILE_PREFIX},
		{"iface", required_argument, NULL, OPT_IFACE},
		{"vdev", required_argument, NULL, OPT_VDEV},
		{"lcores", required_argument, NULL, OPT_LCORES},
		{"mem", required_argument, NULL, OPT_MEM},
		{"huge", no_argument, NULL, OPT_HUGE},
		{"port", required_argument, NULL, OPT_PORT},
		{"mtu", required_argument, NULL, OPT_MTU},
		{"ip", required_argument, NULL, OPT_IP},
		{"gateway", required_argument, NULL, OPT_GATEWAY},
		{"gw-mac", required_argument, NULL, OPT_GW_MAC},
		{"target", required_argument, NULL, OPT_TARGET},
		{"conns", required_argument, NULL, OPT_CONNS},
		{"duration", required_argument, NULL, OPT_DURATION},
		{"count", required_argument, NULL, OPT_COUNT},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"grace", required_argument, NULL, OPT_GRACE},
		{"rate", required_argument, NULL, OPT_RATE},
		{"keys", required_argument, NULL, OPT_KEYS},
		{"prefix", required_argument, NULL, OPT_PREFIX},
		{"path", required_argument, NULL, OPT_PATH},
		{"user", required_argument, NULL, OPT_USER},
		{"password", required_argument, NULL, OPT_PASSWORD},
		{"health", no_argument, NULL, OPT_HEALTH},
		{"seed", required_argument, NULL, OPT_SEED},
		{"tcp-buf", required_argument, NULL, OPT_TCP_BUF},
		{"idle-sleep-us", required_argument, NULL, OPT_IDLE},
		{"ids", required_argument, NULL, OPT_IDS},
		{"json", no_argument, NULL, OPT_JSON},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->lcores = "0,1";
	o->mem_mb = 512;
	o->mtu = 1500;
	o->prefix_len = 24;
	o->conns = 64;
	o->timeout_s = 120;
	o->grace_s = 10;
	o->keys = LOAD_KEYS_UUID;
	o->path = "/bench";
	o->tcp_buf = 8192;
	o->idle_sleep_us = 100;
	bool has_ip = false;
	uint64_t u;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hvV", lo, NULL)) != -1) {
		const char *a = optarg;
		switch (c) {
		case OPT_FILE_PREFIX:
			o->file_prefix = a;
			break;
		case OPT_IFACE:
			o->iface = a;
			break;
		case OPT_VDEV:
			if (o->n_vdevs == MAX_VDEVS) {
				ERR("at most %d --vdev\n", MAX_VDEVS);
				return -1;
			}
			o->vdevs[o->n_vdevs++] = a;
			break;
		case OPT_LCORES:
			o->lcores = a;
			break;
		case OPT_MEM:
			if (parse_u64(a, 64, 1u << 20, &u) != 0) {
				ERR("--mem: 64..1048576 MB\n");
				return -1;
			}
			o->mem_mb = (unsigned)u;
			break;
		case OPT_HUGE:
			o->huge = true;
			break;
		case OPT_PORT:
			if (parse_u64(a, 0, RTE_MAX_ETHPORTS - 1, &u) != 0) {
				ERR("--port: a DPDK port id\n");
				return -1;
			}
			o->port = (uint16_t)u;
			break;
		case OPT_MTU:
			if (parse_u64(a, 576, 9000, &u) != 0) {
				ERR("--mtu: 576..9000\n");
				return -1;
			}
			o->mtu = (uint16_t)u;
			break;
		case OPT_IP: {
			char buf[32];
			const char *slash = strchr(a, '/');
			size_t n = slash ? (size_t)(slash - a) : strlen(a);
			if (n >= sizeof buf) {
				ERR("--ip: A.B.C.D[/N]\n");
				return -1;
			}
			memcpy(buf, a, n);
			buf[n] = '\0';
			if (parse_ip(buf, &o->ip_be) != 0 ||
			    (slash && parse_u64(slash + 1, 1, 32, &u) != 0)) {
				ERR("--ip: A.B.C.D[/N], got '%s'\n", a);
				return -1;
			}
			if (slash)
				o->prefix_len = (uint8_t)u;
			has_ip = true;
			break;
		}
		case OPT_GATEWAY:
			if (parse_ip(a, &o->gateway_be) != 0) {
				ERR("--gateway: A.B.C.D\n");
				return -1;
			}
			break;
		case OPT_GW_MAC:
			if (parse_mac(a, o->gw_mac) != 0) {
				ERR("--gw-mac: xx:xx:xx:xx:xx:xx\n");
				return -1;
			}
			o->has_gw_mac = true;
			break;
		case OPT_TARGET:
			if (o->n_targets == MAX_TARGETS) {
				ERR("at most %d --target\n", MAX_TARGETS);
				return -1;
			}
			o->targets[o->n_targets++] = a;
			break;
		case OPT_CONNS:
			if (parse_u64(a, 1, 60000, &u) != 0) {
				ERR("--conns: 1..60000\n");
				return -1;
			}
			o->conns = (uint32_t)u;
			break;
		case OPT_DURATION:
			if (parse_double(a, 0.001, 86400, &o->duration_s) != 0) {
				ERR("--duration: seconds, 0.001..86400\n");
				return -1;
			}
			break;
		case OPT_COUNT:
			if (parse_u64(a, 1, UINT64_MAX / 2, &o->count) != 0) {
				ERR("--count: a positive number\n");
				return -1;
			}
			break;
		case OPT_TIMEOUT:
			if (parse_double(a, 0.001, 86400, &o->timeout_s) != 0) {
				ERR("--timeout: seconds, 0.001..86400\n");
				return -1;
			}
			break;
		case OPT_GRACE:
			if (parse_double(a, 1, 3600, &o->grace_s) != 0) {
				ERR("--grace: seconds, 1..3600\n");
				return -1;
			}
			break;
		case OPT_RATE:
			if (parse_double(a, 0.001, 1e9, &o->rate) != 0) {
				ERR("--rate: requests per second, > 0\n");
				return -1;
			}
			break;
		case OPT_KEYS:
			if (strcmp(a, "uuid") == 0) {
				o->keys = LOAD_KEYS_UUID;
			} else if (strcmp(a, "seq") == 0) {
				o->keys = LOAD_KEYS_SEQ;
			} else {
				ERR("--keys: uuid or seq\n");
				return -1;
			}
			break;
		case OPT_PREFIX:
			if (!load_prefix_valid(a)) {
				ERR("--prefix: 1..%d of [A-Za-z0-9_.-]\n",
				    LOAD_PREFIX_MAX);
				return -1;
			}
			o->prefix = a;
			break;
		case OPT_PATH:
			o->path = a;
			break;
		case OPT_USER:
			o->user = a;
			break;
		case OPT_PASSWORD:
			o->password = a;
			break;
		case OPT_HEALTH:
			o->health = true;
			break;
		case OPT_SEED:
			if (parse_u64(a, 0, UINT64_MAX, &o->seed) != 0) {
				ERR("--seed: a number\n");
				return -1;
			}
			o->has_seed = true;
			break;
		case OPT_TCP_BUF:
			if (parse_u64(a, 4096, 1u << 24, &u) != 0 ||
			    (u & (u - 1)) != 0) {
				ERR("--tcp-buf: a power of two, 4096..16777216\n");
				return -1;
			}
			o->tcp_buf = (uint32_t)u;
			break;
		case OPT_IDLE:
			if (parse_u64(a, 0, 100000, &u) != 0) {
				ERR("--idle-sleep-us: 0..100000\n");
				return -1;
			}
			o->idle_sleep_us = (uint32_t)u;
			break;
		case OPT_IDS:
			o->ids_path = a;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_PROGRESS:
			o->progress = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("loom-load %s\n", LL_VERSION);
			return 1;
		default:
			ERR("unknown or incomplete option '%s' (see --help)\n",
			    argv[optind - 1]);
			return -1;
		}
	}
	o->extra_eal = argv + optind;
	o->n_extra_eal = argc - optind;
	if (o->n_extra_eal > MAX_EXTRA_EAL) {
		ERR("at most %d EAL arguments after --\n", MAX_EXTRA_EAL);
		return -1;
	}
	if (o->file_prefix == NULL || o->file_prefix[0] == '\0') {
		ERR("--file-prefix is required (a unique one per process)\n");
		return -1;
	}
	if (o->iface == NULL && o->n_vdevs == 0) {
		ERR("give --iface IF or --vdev ARGS\n");
		return -1;
	}
	if (!has_ip) {
		ERR("--ip is required\n");
		return -1;
	}
	if (o->n_targets == 0) {
		ERR("--target IP:PORT is required\n");
		return -1;
	}
	if ((o->user == NULL) != (o->password == NULL)) {
		ERR("--user and --password go together\n");
		return -1;
	}
	if (o->count == 0 && o->duration_s == 0)
		o->duration_s = 10;
	if (o->health && o->ids_path != NULL) {
		ERR("--ids logs POSTed ids; not with --health\n");
		return -1;
	}
	return 0;
}

/* --- frames: mbufs from the port's pool (as dataplane/lcore.c) ------------- */

static void ll_flush_tx(struct ll *ll)
{
	if (ll->tx_n == 0)
		return;
	uint16_t n = ll->tx_n;
	uint16_t sent = rte_eth_tx_burst(ll->app->port.port_id, ll->index,
	                                 ll->tx_buf, n);
	if (sent < n)
		sent += rte_eth_tx_burst(ll->app->port.port_id, ll->index,
		                         ll->tx_buf + sent, (uint16_t)(n - sent));
	ll->tx_pkts += sent;
	for (uint16_t i = sent; i < n; i++) {
		rte_pktmbuf_free(ll->tx_buf[i]);
		ll->tx_drop++;
	}
	ll->tx_n = 0;
}

static void *ll_frame_alloc(void *user, uint16_t len, uint8_t **data)
{
	struct ll *ll = user;
	struct rte_mbuf *m = rte_pktmbuf_alloc(ll->app->port.pool);
	if (m == NULL) {
		ll->no_mbuf++;
		return NULL;
	}
	char *p = rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		ll->no_mbuf++;
		return NULL;
	}
	*data = (uint8_t *)p;
	return m;
}

static void ll_frame_send(void *user, void *frame, uint16_t len)
{
	struct ll *ll = user;
	struct rte_mbuf *m = frame;
	m->data_len = len;
	m->pkt_len = len;
	if (ll->tx_n == TX_BUF_MAX)
		ll_flush_tx(ll);
	ll->tx_buf[ll->tx_n++] = m;
}

static void ll_frame_free(void *user, void *frame)
{
	(void)user;
	rte_pktmbuf_free(frame);
}

/* --- receive ---------------------------------------------------------------- */

static struct ll *port_owner(const struct app *app, uint16_t port)
{
	if (app->n <= 1 || port < EPH_LO || port > EPH_HI)
		return NULL;
	uint32_t slice = (EPH_HI - EPH_LO + 1) / app->n;
	uint32_t i = (port - EPH_LO) / slice;
	return i < app->n ? app->ll[i] : NULL;
}

static void ll_share_arp(struct ll *ll, struct rte_mbuf *m)
{
	struct app *app = ll->app;
	for (uint16_t i = 0; i < app->n; i++) {
		struct ll *peer = app->ll[i];
		if (peer == ll)
			continue;
		struct rte_mbuf *c = rte_pktmbuf_copy(m, app->port.pool, 0,
		                                      UINT32_MAX);
		if (c == NULL || rte_ring_mp_enqueue(peer->arp_ring, c) != 0) {
			rte_pktmbuf_free(c);
			ll->arp_copy_drop++;
		}
	}
}

static void ll_rx_one(struct ll *ll, struct rte_mbuf *m)
{
	if (m->nb_segs != 1) {
		ll->rx_multiseg++;
		rte_pktmbuf_free(m);
		return;
	}
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	if (ll->app->n > 1 && len >= NET_ETH_HLEN && d[12] == 0x08 &&
	    d[13] == 0x06)
		ll_share_arp(ll, m);
	struct net_rx_result res;
	switch (net_rx(&ll->net, d, len, &res)) {
	case NET_RX_REPLY:
		ll_frame_send(ll, m, res.reply_len);
		return;
	case NET_RX_L4_TCP: {
		const uint8_t *th = d + res.l4_off;
		struct ll *owner = port_owner(ll->app,
		                              (uint16_t)(th[2] << 8 | th[3]));
		if (owner != NULL && owner != ll) {
			if (rte_ring_mp_enqueue(owner->steer_ring, m) == 0) {
				ll->steer_tx++;
			} else {
				ll->steer_drop++;
				rte_pktmbuf_free(m);
			}
			return;
		}
		tcp_input(ll->tcp, m, d, len, &res);
		return;
	}
	default:
		rte_pktmbuf_free(m);
		return;
	}
}

static bool ll_drain_rings(struct ll *ll)
{
	void *objs[32];
	bool work = false;
	unsigned n = rte_ring_sc_dequeue_burst(ll->arp_ring, objs, 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];
		net_arp_observe(&ll->net, rte_pktmbuf_mtod(m, uint8_t *),
		                rte_pktmbuf_data_len(m));
		rte_pktmbuf_free(m);
	}
	work |= n != 0;
	n = rte_ring_sc_dequeue_burst(ll->steer_ring, objs, 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		uint16_t ihl = (uint16_t)((d[NET_ETH_HLEN] & 0x0f) * 4);
		uint16_t tot = (uint16_t)(d[NET_ETH_HLEN + 2] << 8 |
		                          d[NET_ETH_HLEN + 3]);
		struct net_rx_result res = {
			.l3_off = NET_ETH_HLEN,
			.l4_off = (uint16_t)(NET_ETH_HLEN + ihl),
			.l4_len = (uint16_t)(tot - ihl),
		};
		tcp_input(ll->tcp, m, d, rte_pktmbuf_data_len(m), &res);
	}
	ll->steer_rx += n;
	return work || n != 0;
}

/* --- acknowledged ids ------------------------------------------------------- */

static void ids_flush(struct ll *ll)
{
	size_t off = 0;
	while (off < ll->ids_len) {
		ssize_t w = write(ll->app->ids_fd, ll->ids_buf + off,
		                  ll->ids_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ll->ids_errors++;
			break;
		}
		off += (size_t)w;
	}
	ll->ids_len = 0;
}

static void on_ack(void *user, const char *id, size_t len)
{
	struct ll *ll = user;
	if (ll->ids_buf == NULL)
		return;
	if (ll->ids_len + len + 1 > IDS_BUF)
		ids_flush(ll);
	memcpy(ll->ids_buf + ll->ids_len, id, len);
	ll->ids_buf[ll->ids_len + len] = '\n';
	ll->ids_len += len + 1;
	ll->ids_written++;
}

/* --- the load lcore ---------------------------------------------------------- */

static inline uint64_t now_us(const struct app *app)
{
	return (uint64_t)((__uint128_t)(rte_get_tsc_cycles() - app->start_tsc) *
	                  1000000u / app->tsc_hz);
}

static void ll_publish(struct ll *ll)
{
	const struct load_counters *k = load_client_counters(ll->cl);
	atomic_store_explicit(&ll->pub_answered, k->answered,
	                      memory_order_relaxed);
	atomic_store_explicit(&ll->pub_established, k->established,
	                      memory_order_relaxed);
	atomic_store_explicit(&ll->pub_live, load_client_live(ll->cl),
	                      memory_order_relaxed);
	atomic_store_explicit(&ll->pub_stopping, load_client_stopping(ll->cl),
	                      memory_order_relaxed);
}

static int ll_main(void *arg)
{
	struct ll *ll = arg;
	struct app *app = ll->app;
	struct rte_mbuf *rx[BURST];
	uint64_t next_timer = 0;

	ll->net.now_us = now_us(app);
	load_client_start(ll->cl);
	tcp_flush(ll->tcp);
	ll_flush_tx(ll);
	for (;;) {
		int cmd = atomic_load_explicit(&app->cmd, memory_order_relaxed);
		if (cmd == CMD_QUIT)
			break;
		if (cmd == CMD_STOP && !load_client_stopping(ll->cl))
			load_client_stop(ll->cl);
		uint16_t n = rte_eth_rx_burst(app->port.port_id, ll->index, rx,
		                              BURST);
		ll->net.now_us = now_us(app);
		bool work = n != 0;
		ll->rx_pkts += n;
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void *));
			ll_rx_one(ll, rx[i]);
		}
		if (app->n > 1)
			work |= ll_drain_rings(ll);
		load_client_poll(ll->cl);
		tcp_timer(ll->tcp);
		tcp_flush(ll->tcp);
		if (ll->net.now_us >= next_timer) {
			net_timer(&ll->net);
			next_timer = ll->net.now_us + NET_TIMER_PERIOD_US;
		}
		if (ll->tx_n != 0) {
			ll_flush_tx(ll);
			work = true;
		}
		ll_publish(ll);
		if (work) {
			idle_work(&ll->idle);
		} else {
			uint32_t us = idle_empty(&ll->idle);
			if (us != 0)
				rte_delay_us_sleep(us);
		}
	}
	/* The drain is over: whatever is still open is reset. */
	ll->net.now_us = now_us(app);
	load_client_abort(ll->cl);
	tcp_flush(ll->tcp);
	ll_flush_tx(ll);
	if (ll->ids_buf != NULL)
		ids_flush(ll);
	ll_publish(ll);
	atomic_store(&ll->pub_done, true);
	return 0;
}

/* --- set-up ------------------------------------------------------------------- */

static void *ll_zalloc(void *user, size_t size)
{
	return rte_zmalloc_socket("loom_load", size, RTE_CACHE_LINE_SIZE,
	                          (int)(intptr_t)user);
}

static void ll_free_mem(void *user, void *p)
{
	(void)user;
	rte_free(p);
}

/* The next hop of a target: itself on-link, else the gateway. */
static uint32_t next_hop(const struct app *app, uint32_t dst_be)
{
	uint32_t mask = app->o.prefix_len == 0
		? 0 : htonl(~0u << (32 - app->o.prefix_len));
	if ((dst_be & mask) == (app->o.ip_be & mask))
		return dst_be;
	return app->o.gateway_be;
}

/* --gw-mac: teach the ARP cache the next hops' MAC as if each had answered
 * us (net_arp_observe on a synthetic reply), so nothing is resolved. */
static void ll_static_arp(struct ll *ll)
{
	struct app *app = ll->app;
	for (uint16_t t = 0; t < app->n_targets; t++) {
		uint32_t hop = next_hop(app, app->targets[t].ip_be);
		uint8_t f[42];
		memset(f, 0, sizeof f);
		memcpy(f, ll->net.mac, 6);
		memcpy(f + 6, app->o.gw_mac, 6);
		f[12] = 0x08;
		f[13] = 0x06;
		uint8_t *a = f + 14;
		a[1] = 1;       /* Ethernet */
		a[2] = 0x08;    /* IPv4 */
		a[4] = 6;
		a[5] = 4;
		a[7] = 2;       /* reply */
		memcpy(a + 8, app->o.gw_mac, 6);
		memcpy(a + 14, &hop, 4);
		memcpy(a + 18, ll->net.mac, 6);
		memcpy(a + 24, &ll->net.ip_be, 4);
		net_arp_observe(&ll->net, f, sizeof f);
	}
}

static struct ll *ll_create(struct app *app, uint16_t index,
                            unsigned lcore_id, uint32_t conns,
                            uint32_t conn_base, uint64_t quota, double rate)
{
	const struct opts *o = &app->o;
	int socket = (int)rte_lcore_to_socket_id(lcore_id);
	struct ll *ll = rte_zmalloc_socket("loom_load_lcore", sizeof *ll,
	                                   RTE_CACHE_LINE_SIZE, socket);
	if (ll == NULL)
		return NULL;
	ll->lcore_id = lcore_id;
	ll->index = index;
	ll->app = app;
	ll->conns = conns;
	ll->quota = quota;
	idle_init(&ll->idle, 2000, o->idle_sleep_us);

	uint32_t arp_size = 64, pending = conns + 64;
	size_t tbytes = NET_ARP_ENTRY_SIZE * arp_size;
	size_t pbytes = NET_ARP_PENDING_SIZE * pending;
	ll->arp_mem = rte_zmalloc_socket("loom_load_arp", tbytes + pbytes,
	                                 RTE_CACHE_LINE_SIZE, socket);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof name, "ll_arp_%u", lcore_id);
	ll->arp_ring = rte_ring_create(name, ARP_RING_SIZE, socket,
	                               RING_F_SC_DEQ);
	snprintf(name, sizeof name, "ll_steer_%u", lcore_id);
	ll->steer_ring = rte_ring_create(name, STEER_RING_SIZE, socket,
	                                 RING_F_SC_DEQ);
	if (ll->arp_mem == NULL || ll->arp_ring == NULL ||
	    ll->steer_ring == NULL) {
		ERR("lcore %u: out of memory for ARP state and rings\n",
		    lcore_id);
		return ll;
	}
	struct net_ctx *net = &ll->net;
	memcpy(net->mac, app->port.mac.addr_bytes, 6);
	net->ip_be = o->ip_be;
	net->netmask_be = htonl(~0u << (32 - o->prefix_len));
	net->gateway_be = o->gateway_be;
	net->mtu = o->mtu;
	net->ops = (struct net_ops){ll_frame_alloc, ll_frame_send,
	                            ll_frame_free, ll};
	net->arp_table = ll->arp_mem;
	net->arp_table_size = arp_size;
	/* A static --gw-mac never ages out; a resolved one is refreshed. */
	net->arp_timeout_us = o->has_gw_mac ? 1000000000000ull : 300000000ull;
	net->pending = (struct net_arp_pending *)((uint8_t *)ll->arp_mem +
	                                          tbytes);
	net->arp_pending_max = pending;
	net->pending_timeout_us = 3000000u;
	if (net_init(net) != 0) {
		ERR("lcore %u: stack init failed\n", lcore_id);
		return ll;
	}
	uint32_t slice = (EPH_HI - EPH_LO + 1) / app->n;
	struct tcp_config tc = {
		/* Our connections, plus those we closed first (the run's end,
		 * protocol errors) waiting out TIME_WAIT while reopened. */
		.max_conns = conns * 2u + 256u,
		.sndbuf = o->tcp_buf,
		.rcvbuf = o->tcp_buf,
		.mss = (uint16_t)(o->mtu - 40),
		.syn_backlog = 16,
		.time_wait_ms = 1000,
		.rto_init_ms = 1000,
		.rto_min_ms = 200,
		.rto_max_ms = 10000,
		.delack_ms = 40,
		.max_retries = 8,
		.syn_retries = 4,
		.max_listeners = 1,
		.eph_lo = (uint16_t)(EPH_LO + index * slice),
		.eph_hi = (uint16_t)(EPH_LO + (index + 1u) * slice - 1),
	};
	if (getrandom(tc.secret, sizeof tc.secret, 0) != sizeof tc.secret) {
		ERR("getrandom failed\n");
		return ll;
	}
	const struct tcp_alloc alloc = {ll_zalloc, ll_free_mem,
	                                (void *)(intptr_t)socket};
	ll->tcp = tcp_stack_create(&tc, net, &alloc);
	if (ll->tcp == NULL) {
		ERR("lcore %u: TCP stack of %u connections x 2 x %u bytes: "
		    "out of memory (raise --mem)\n", lcore_id, tc.max_conns,
		    o->tcp_buf);
		return ll;
	}
	if (o->ids_path != NULL) {
		ll->ids_buf = rte_malloc_socket("loom_load_ids", IDS_BUF, 0,
		                                socket);
		if (ll->ids_buf == NULL) {
			ERR("lcore %u: out of memory for the ids buffer\n",
			    lcore_id);
			return ll;
		}
	}
	const struct load_client_config cc = {
		.targets = app->targets,
		.n_targets = app->n_targets,
		.conn_base = conn_base,
		.conns = conns,
		.keys = o->keys,
		.prefix = app->prefix,
		.lane = index,
		.seed = o->seed + index * 0x9E3779B97F4A7C15ull,
		.quota = quota,
		.rate = rate,
		.expect_status = o->health ? 200 : 201,
		.check_body = !o->health,
		.reconnect_ms = 50,
		.on_ack = on_ack,
		.user = ll,
	};
	ll->cl = load_client_create(&cc, ll->tcp, net, &alloc);
	if (ll->cl == NULL) {
		ERR("lcore %u: load client: bad config or out of memory\n",
		    lcore_id);
		return ll;
	}
	ll->net.now_us = now_us(app);
	if (o->has_gw_mac)
		ll_static_arp(ll);
	return ll;
}

static bool ll_ok(const struct ll *ll)
{
	return ll != NULL && ll->cl != NULL;
}

static void ll_destroy(struct ll *ll)
{
	if (ll == NULL)
		return;
	load_client_destroy(ll->cl);
	if (ll->tcp != NULL)
		tcp_stack_destroy(ll->tcp);
	if (ll->arp_mem != NULL)
		net_fini(&ll->net);
	for (uint16_t i = 0; i < ll->tx_n; i++)
		rte_pktmbuf_free(ll->tx_buf[i]);
	void *m = NULL;
	if (ll->arp_ring != NULL) {
		while (rte_ring_dequeue(ll->arp_ring, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(ll->arp_ring);
	}
	if (ll->steer_ring != NULL) {
		while (rte_ring_dequeue(ll->steer_ring, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(ll->steer_ring);
	}
	rte_free(ll->ids_buf);
	rte_free(ll->arp_mem);
	rte_free(ll);
}

/* --- EAL ------------------------------------------------------------------- */

struct eal_argv {
	int argc;
	char *argv[64 + MAX_EXTRA_EAL];
	char vdev[256];
	char mem[16];
};

static int eal_argv_build(struct eal_argv *e, const struct opts *o,
                          unsigned n_load)
{
	memset(e, 0, sizeof *e);
	char **a = e->argv;
	int n = 0;
	a[n++] = "loom-load";
	a[n++] = "--no-pci";
	a[n++] = "--no-telemetry";
	a[n++] = "--file-prefix";
	a[n++] = (char *)o->file_prefix;
	a[n++] = "--lcores";
	a[n++] = (char *)o->lcores;
	snprintf(e->mem, sizeof e->mem, "%u", o->mem_mb);
	if (!o->huge)
		a[n++] = "--no-huge";
	a[n++] = "-m";
	a[n++] = e->mem;
	if (o->iface != NULL) {
		int k = snprintf(e->vdev, sizeof e->vdev,
		                 "net_af_packet0,iface=%s,qpairs=%u,"
		                 "framecnt=8192", o->iface, n_load);
		if (k < 0 || (size_t)k >= sizeof e->vdev)
			return -1;
		a[n++] = "--vdev";
		a[n++] = e->vdev;
	}
	for (int i = 0; i < o->n_vdevs; i++) {
		a[n++] = "--vdev";
		a[n++] = (char *)o->vdevs[i];
	}
	if (!o->verbose) {
		a[n++] = "--log-level";
		a[n++] = "warning";
	}
	for (int i = 0; i < o->n_extra_eal; i++)
		a[n++] = o->extra_eal[i];
	a[n] = NULL;
	e->argc = n;
	return 0;
}

/* How many lcores an --lcores list names. The vdev built for --iface
 * needs qpairs = load lcores before EAL starts, so the list is counted
 * here: entries "A", "A-B" and "A@CPU" / "A@(CPU,CPU)" separated by
 * commas; lcore groups in parentheses ("(0,1)@0") are refused. main()
 * checks the count against the worker lcores EAL then reports. */
static int count_lcores(const char *list)
{
	int n = 0;
	const char *p = list;
	while (*p) {
		char *end;
		if (*p == '(')
			return -1;
		long a = strtol(p, &end, 10);
		if (end == p || a < 0)
			return -1;
		long b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -1;
			p = end;
		}
		if (*p == '@') {
			p++;
			while (*p && *p != ',') {
				if (*p == '(') /* CPU set: skip to ')' */
					while (*p && *p != ')')
						p++;
				if (*p)
					p++;
			}
		}
		n += (int)(b - a + 1);
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return n;
}

/* --- summary ------------------------------------------------------------------ */

struct totals {
	struct load_counters k;
	struct hist h;
	uint64_t ids_written, ids_errors;
	uint64_t tx_drop, no_mbuf, steer_drop;
	uint64_t last_answer_us;
};

static void totals_sum(struct app *app, struct totals *t)
{
	memset(t, 0, sizeof *t);
	hist_init(&t->h);
	for (uint16_t i = 0; i < app->n; i++) {
		struct ll *ll = app->ll[i];
		const struct load_counters *k = load_client_counters(ll->cl);
		const uint64_t *s = (const uint64_t *)k;
		uint64_t *d = (uint64_t *)&t->k;
		for (size_t j = 0; j < sizeof *k / sizeof(uint64_t); j++)
			d[j] += s[j];
		hist_merge(&t->h, load_client_hist(ll->cl));
		t->ids_written += ll->ids_written;
		t->ids_errors += ll->ids_errors;
		t->tx_drop += ll->tx_drop;
		t->no_mbuf += ll->no_mbuf;
		t->steer_drop += ll->steer_drop;
		uint64_t la = load_client_last_answer_us(ll->cl);
		if (la > t->last_answer_us)
			t->last_answer_us = la;
	}
}

static const char *stop_names[] = {
	"duration", "count", "signal", "timeout", "no-connection", "hard-cap",
};
enum stop_reason {
	STOP_DURATION = 0, STOP_COUNT, STOP_SIGNAL, STOP_TIMEOUT,
	STOP_NO_CONN, STOP_HARD_CAP,
};

static void report(struct app *app, const struct totals *t, double secs,
                   enum stop_reason why, int status)
{
	const struct opts *o = &app->o;
	const struct load_counters *k = &t->k;
	uint64_t errors = k->bad_status + k->body_mismatch + k->lost +
	                  k->parse_errors + k->unexpected;
	/* The rate is over the measured window: a stopped run's drain
	 * answers (at most one per connection) are counted, not rated. */
	uint64_t rated = why == STOP_COUNT ? k->answered : k->answered_at_stop;
	double rps = secs > 0 ? (double)rated / secs : 0.0;
	const struct hist *h = &t->h;
	uint64_t p50 = hist_percentile(h, 50), p90 = hist_percentile(h, 90),
	         p99 = hist_percentile(h, 99), p999 = hist_percentile(h, 99.9),
	         mx = h->count ? h->max : 0, mn = h->count ? h->min : 0;
	char tg[64];
	snprintf(tg, sizeof tg, "%s%s", o->targets[0],
	         o->n_targets > 1 ? ",..." : "");
	if (o->json) {
		printf("{\"tool\":\"loom-load\",\"method\":\"%s\",\"path\":\"%s\","
		       "\"targets\":%d,\"target\":\"%s\",\"keys\":\"%s\","
		       "\"conns\":%u,\"lcores\":%u,\"rate\":%.3f,"
		       "\"stopped\":\"%s\",\"requests\":%" PRIu64 ","
		       "\"ok\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"duration_s\":%.6f,\"rps\":%.1f,"
		       "\"status\":{\"1xx\":%" PRIu64 ",\"2xx\":%" PRIu64
		       ",\"3xx\":%" PRIu64 ",\"4xx\":%" PRIu64 ",\"5xx\":%" PRIu64
		       ",\"other\":%" PRIu64 "},"
		       "\"unexpected_status\":%" PRIu64 ",\"id_mismatch\":%" PRIu64
		       ",\"lost\":%" PRIu64 ",\"malformed\":%" PRIu64
		       ",\"unsolicited\":%" PRIu64 ",\"unsent\":%" PRIu64
		       ",\"abandoned\":%" PRIu64 ",\"sent\":%" PRIu64
		       ",\"connects\":%" PRIu64 ",\"established\":%" PRIu64
		       ",\"connect_failed\":%" PRIu64
		       ",\"closed_by_server\":%" PRIu64 ","
		       "\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
		       ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64
		       ",\"min\":%" PRIu64 ",\"mean\":%.1f},"
		       "\"ids_written\":%" PRIu64 ",\"tx_drop\":%" PRIu64
		       ",\"no_mbuf\":%" PRIu64 ",\"exit\":%d}\n",
		       o->health ? "GET" : "POST", o->health ? "/health" : o->path,
		       o->n_targets, tg,
		       o->health ? "none" : o->keys == LOAD_KEYS_SEQ ? "seq" : "uuid",
		       o->conns, app->n, o->rate, stop_names[why], k->answered,
		       k->ok, errors, secs, rps, k->status[1], k->status[2],
		       k->status[3], k->status[4], k->status[5], k->status[0],
		       k->bad_status, k->body_mismatch, k->lost, k->parse_errors,
		       k->unexpected, k->unsent, k->abandoned, k->sent,
		       k->connects, k->established, k->connect_failed,
		       k->closed_by_peer, p50, p90, p99, p999, mx, mn,
		       hist_mean(h), t->ids_written, t->tx_drop, t->no_mbuf,
		       status);
		fflush(stdout);
		return;
	}
	printf("loom-load: %s %s to %s, %u connections on %u lcore(s), %s",
	       o->health ? "GET" : "POST", o->health ? "/health" : o->path, tg,
	       o->conns, app->n, o->rate > 0 ? "open loop" : "closed loop");
	if (o->rate > 0)
		printf(" at %.0f/s", o->rate);
	if (!o->health)
		printf(", %s keys", o->keys == LOAD_KEYS_SEQ ? "seq" : "uuid");
	printf("\n");
	printf("requests  %" PRIu64 " answered in %.3f s: %.0f req/s "
	       "(stopped: %s)\n", k->answered, secs, rps, stop_names[why]);
	printf("ok        %" PRIu64 "; errors %" PRIu64 " (unexpected status %"
	       PRIu64 ", id mismatch %" PRIu64 ", lost %" PRIu64
	       ", malformed %" PRIu64 ", unsolicited %" PRIu64 ")\n", k->ok,
	       errors, k->bad_status, k->body_mismatch, k->lost,
	       k->parse_errors, k->unexpected);
	printf("statuses  1xx %" PRIu64 "  2xx %" PRIu64 "  3xx %" PRIu64
	       "  4xx %" PRIu64 "  5xx %" PRIu64 "\n", k->status[1],
	       k->status[2], k->status[3], k->status[4], k->status[5]);
	printf("latency   us: p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64
	       "  p99.9 %" PRIu64 "  max %" PRIu64 "  mean %.0f\n", p50, p90,
	       p99, p999, mx, hist_mean(h));
	printf("conns     %" PRIu64 " opened, %" PRIu64 " established, %" PRIu64
	       " failed, %" PRIu64 " closed by the server\n", k->connects,
	       k->established, k->connect_failed, k->closed_by_peer);
	if (k->unsent)
		printf("unsent    %" PRIu64 " requests fell due with every "
		       "connection busy (open loop: the server fell behind)\n",
		       k->unsent);
	if (k->abandoned)
		printf("abandoned %" PRIu64 " requests still unanswered when "
		       "the drain ended\n", k->abandoned);
	if (o->ids_path != NULL)
		printf("ids       %" PRIu64 " written to %s\n", t->ids_written,
		       o->ids_path);
	fflush(stdout);
}

/* --- the run ------------------------------------------------------------------- */

static void sleep_tick(void)
{
	struct timespec ts = {0, SUPERVISE_NS};
	nanosleep(&ts, NULL);
}

static uint64_t sum_pub(struct app *app, size_t off)
{
	uint64_t s = 0;
	for (uint16_t i = 0; i < app->n; i++)
		s += atomic_load_explicit(
			(atomic_uint_fast64_t *)((char *)app->ll[i] + off),
			memory_order_relaxed);
	return s;
}

static uint32_t sum_live(struct app *app)
{
	uint32_t s = 0;
	for (uint16_t i = 0; i < app->n; i++)
		s += (uint32_t)atomic_load_explicit(&app->ll[i]->pub_live,
		                                    memory_order_relaxed);
	return s;
}

static bool all_stopping(struct app *app)
{
	for (uint16_t i = 0; i < app->n; i++)
		if (!atomic_load_explicit(&app->ll[i]->pub_stopping,
		                          memory_order_relaxed))
			return false;
	return true;
}

static bool all_done(struct app *app)
{
	for (uint16_t i = 0; i < app->n; i++)
		if (!atomic_load(&app->ll[i]->pub_done))
			return false;
	return true;
}

/* Supervise from launch to the end; returns why the run stopped and
 * when (*stopped_at: the deadline, the signal, ...). */
static enum stop_reason supervise(struct app *app, uint64_t t0,
                                  bool *hard_cap, uint64_t *stopped_at)
{
	const struct opts *o = &app->o;
	uint64_t deadline = o->duration_s > 0
		? t0 + (uint64_t)(o->duration_s * 1e6) : UINT64_MAX;
	/* A --count run must finish within --duration, or else --timeout. */
	uint64_t limit = deadline;
	if (o->count > 0 && o->duration_s == 0)
		limit = t0 + (uint64_t)(o->timeout_s * 1e6);
	uint64_t hard = limit + (uint64_t)(o->grace_s * 1e6);
	enum stop_reason why = STOP_DURATION;
	bool stopping = false;
	uint64_t stop_at = 0, next_progress = t0 + 1000000u;
	uint64_t last_answered = 0;
	int sig_seen = 0;
	*hard_cap = false;
	*stopped_at = 0;

	for (;;) {
		sleep_tick();
		uint64_t now = now_us(app);
		uint64_t answered = sum_pub(app, offsetof(struct ll,
		                                          pub_answered));
		if (o->progress && now >= next_progress) {
			fprintf(stderr, "loom-load: %5.1f s  %" PRIu64
			        " answered  %" PRIu64 "/s  %u connections\n",
			        (double)(now - t0) / 1e6, answered,
			        answered - last_answered, sum_live(app));
			last_answered = answered;
			next_progress += 1000000u;
		}
		if (now >= hard) {
			*hard_cap = true;
			if (!stopping)
				why = STOP_HARD_CAP;
			break;
		}
		if (!stopping) {
			if (got_signal) {
				why = STOP_SIGNAL;
				sig_seen = got_signal;
			} else if (o->count > 0 && all_stopping(app)) {
				why = STOP_COUNT;
			} else if (now >= limit) {
				why = o->count > 0 ? STOP_TIMEOUT
				                   : STOP_DURATION;
			} else if (now - t0 >= CONNECT_TIMEOUT_US &&
			           sum_pub(app, offsetof(struct ll,
			                                 pub_established)) == 0) {
				why = STOP_NO_CONN;
			} else {
				continue;
			}
			stopping = true;
			stop_at = now;
			*stopped_at = why == STOP_DURATION && now > deadline
				? deadline : now;
			atomic_store(&app->cmd, CMD_STOP);
			continue;
		}
		/* Draining: answers still due, then the closes. A second
		 * signal ends it at once. */
		if (sum_live(app) == 0 && all_stopping(app))
			break;
		if (now - stop_at >= DRAIN_US)
			break;
		if (got_signal && got_signal != sig_seen)
			break;
		if (got_signal && sig_seen == 0)
			sig_seen = got_signal;
	}
	atomic_store(&app->cmd, CMD_QUIT);
	/* The lcores leave their loops within a poll; bounded anyway. */
	uint64_t join_by = now_us(app) + 2000000u;
	while (!all_done(app)) {
		if (now_us(app) >= join_by) {
			ERR("load lcores did not stop\n");
			*hard_cap = true;
			break;
		}
		sleep_tick();
	}
	return why;
}

static int setup_targets(struct app *app)
{
	const struct opts *o = &app->o;
	char auth[BASE64_ENCODED_LEN(512) + 1];
	const char *auth_b64 = NULL;
	if (o->user != NULL) {
		char cred[512];
		int n = snprintf(cred, sizeof cred, "%s:%s", o->user,
		                 o->password);
		if (n < 0 || (size_t)n >= sizeof cred) {
			ERR("--user/--password: too long\n");
			return -1;
		}
		base64_encode((const uint8_t *)cred, (size_t)n, auth);
		memset(cred, 0, sizeof cred);
		auth_b64 = auth;
	}
	char path[256];
	if (o->health) {
		snprintf(path, sizeof path, "/health");
	} else {
		int n = snprintf(path, sizeof path, "%s%s",
		                 o->path[0] == '/' ? "" : "/", o->path);
		if (n < 0 || (size_t)n >= sizeof path) {
			ERR("--path: too long\n");
			return -1;
		}
	}
	for (int i = 0; i < o->n_targets; i++) {
		struct load_target *t = &app->targets[i];
		if (parse_target(o->targets[i], &t->ip_be, &t->port) != 0) {
			ERR("--target: IP:PORT, got '%s'\n", o->targets[i]);
			return -1;
		}
		if (next_hop(app, t->ip_be) == 0) {
			ERR("--target %s is off our subnet and there is no "
			    "--gateway\n", o->targets[i]);
			return -1;
		}
		if (load_req_tmpl_init(&t->tmpl, !o->health, path,
		                       o->targets[i], auth_b64) != 0) {
			ERR("--path '%s': malformed or too long\n", o->path);
			return -1;
		}
	}
	memset(auth, 0, sizeof auth);
	app->n_targets = (uint16_t)o->n_targets;
	return 0;
}

static int open_port(struct app *app)
{
	const struct opts *o = &app->o;
	struct loom_config *pc = &app->pcfg;
	loom_config_defaults(pc);
	pc->port_id = o->port;
	pc->mtu = o->mtu;
	pc->ip_be = o->ip_be;
	pc->prefix_len = o->prefix_len;
	pc->burst = BURST;
	/* Descriptors, bursts and caches (port.c's check), parked SYNs
	 * while ARP resolves, and what every connection may hold. */
	uint32_t need = (uint32_t)app->n * (pc->rx_desc + pc->tx_desc +
	                                    2u * BURST + pc->mbuf_cache +
	                                    TX_BUF_MAX + STEER_RING_SIZE / 4) +
	                o->conns * 4u + 1024u;
	pc->mbufs = need > 8191 ? need : 8191;
	pc->arp_pending_max = 64;
	if (port_open(&app->port, pc, app->n) != 0)
		return -1;
	app->port_open = true;
	return 0;
}

int main(int argc, char **argv)
{
	static struct app app;
	int rc = parse_opts(argc, argv, &app.o);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	struct opts *o = &app.o;
	loom_log_set_level(o->verbose ? LOOM_LOG_INFO : LOOM_LOG_WARN);

	int nl = count_lcores(o->lcores);
	if (nl < 2 || nl - 1 > MAX_LCORES) {
		ERR("--lcores '%s': a list like 0,1 or 0-2 or 0@0,1@0 with the "
		    "supervising lcore first and 1..%d load lcores\n",
		    o->lcores, MAX_LCORES);
		return EXIT_USAGE;
	}
	if (!o->has_seed &&
	    getrandom(&o->seed, sizeof o->seed, 0) != sizeof o->seed) {
		ERR("getrandom failed\n");
		return EXIT_FAIL;
	}
	if (o->prefix != NULL) {
		snprintf(app.prefix, sizeof app.prefix, "%s", o->prefix);
	} else {
		uint32_t r;
		if (getrandom(&r, sizeof r, 0) != sizeof r)
			r = (uint32_t)o->seed;
		snprintf(app.prefix, sizeof app.prefix, "r%08x", r);
	}
	if (setup_targets(&app) != 0)
		return EXIT_USAGE;
	app.ids_fd = -1;
	if (o->ids_path != NULL) {
		app.ids_fd = open(o->ids_path,
		                  O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		                  0644);
		if (app.ids_fd < 0) {
			ERR("--ids %s: %s\n", o->ids_path, strerror(errno));
			return EXIT_FAIL;
		}
	}

	static struct eal_argv eargv;
	if (eal_argv_build(&eargv, o, (unsigned)(nl - 1)) != 0) {
		ERR("EAL arguments too long\n");
		return EXIT_USAGE;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (rte_eal_init(eargv.argc, eargv.argv) < 0) {
		ERR("EAL init failed: %s\n", rte_strerror(rte_errno));
		return EXIT_FAIL;
	}
	int status = EXIT_FAIL;
	app.tsc_hz = rte_get_tsc_hz();
	app.start_tsc = rte_get_tsc_cycles();
	atomic_init(&app.cmd, CMD_RUN);
	unsigned workers[MAX_LCORES];
	unsigned nw = 0, lid;
	RTE_LCORE_FOREACH_WORKER(lid) {
		if (nw == MAX_LCORES)
			break;
		workers[nw++] = lid;
	}
	if (nw == 0 || nw != (unsigned)(nl - 1)) {
		ERR("EAL gave %u worker lcore(s), --lcores '%s' names %d load "
		    "lcore(s)\n", nw, o->lcores, nl - 1);
		goto out_eal;
	}
	app.n = (uint16_t)nw;
	if (o->count > 0 && o->count < app.n) {
		ERR("--count %" PRIu64 " is below the %u load lcores\n",
		    o->count, app.n);
		goto out_eal;
	}
	if (open_port(&app) != 0)
		goto out_eal;

	uint32_t base = 0;
	for (uint16_t i = 0; i < app.n; i++) {
		uint32_t c = o->conns / app.n + (i < o->conns % app.n);
		uint64_t q = o->count ? o->count / app.n + (i < o->count % app.n)
		                      : 0;
		if (c == 0) {
			ERR("--conns %u is below the %u load lcores\n", o->conns,
			    app.n);
			goto out_lcores;
		}
		app.ll[i] = ll_create(&app, i, workers[i], c, base, q,
		                      o->rate / app.n);
		if (!ll_ok(app.ll[i]))
			goto out_lcores;
		base += c;
	}
	if (o->verbose)
		ERR("port %u (%s) mac " RTE_ETHER_ADDR_PRT_FMT ", %u load "
		    "lcore(s), %u connections\n", app.port.port_id,
		    app.port.driver, RTE_ETHER_ADDR_BYTES(&app.port.mac), app.n,
		    o->conns);

	uint64_t t0 = now_us(&app);
	for (uint16_t i = 0; i < app.n; i++) {
		if (rte_eal_remote_launch(ll_main, app.ll[i],
		                          app.ll[i]->lcore_id) != 0) {
			ERR("cannot launch lcore %u\n", app.ll[i]->lcore_id);
			atomic_store(&app.cmd, CMD_QUIT);
			rte_eal_mp_wait_lcore();
			goto out_lcores;
		}
	}
	bool hard_cap = false;
	uint64_t stopped_at = 0;
	enum stop_reason why = supervise(&app, t0, &hard_cap, &stopped_at);
	if (hard_cap && !all_done(&app)) {
		/* Lcores stuck past the hard cap: report what we have and
		 * exit at once. */
		struct totals t;
		totals_sum(&app, &t);
		report(&app, &t, (double)(now_us(&app) - t0) / 1e6,
		       STOP_HARD_CAP, EXIT_HARD_CAP);
		ERR("hard cap reached (time limit + %.0f s): giving up\n",
		    o->grace_s);
		_exit(EXIT_HARD_CAP);
	}
	rte_eal_mp_wait_lcore();

	struct totals t;
	totals_sum(&app, &t);
	/* A count run lasts until its last answer; any other until it was
	 * stopped (its deadline, a signal). */
	uint64_t end = why == STOP_COUNT ? t.last_answer_us : stopped_at;
	if (end <= t0)
		end = now_us(&app);
	double secs = (double)(end - t0) / 1e6;
	uint64_t errors = t.k.bad_status + t.k.body_mismatch + t.k.lost +
	                  t.k.parse_errors + t.k.unexpected;
	status = EXIT_OK;
	if (errors != 0 || t.ids_errors != 0 || why == STOP_NO_CONN ||
	    why == STOP_TIMEOUT || t.k.answered == 0 ||
	    (o->count > 0 && t.k.answered < o->count))
		status = EXIT_FAIL;
	if (hard_cap)
		status = EXIT_HARD_CAP;
	report(&app, &t, secs, why, status);
	if (hard_cap)
		ERR("hard cap reached (time limit + %.0f s)\n", o->grace_s);
	if (why == STOP_NO_CONN) {
		uint64_t arp_req = 0, arp_learned = 0;
		for (uint16_t i = 0; i < app.n; i++) {
			arp_req += app.ll[i]->net.stats.arp_tx_request;
			arp_learned += app.ll[i]->net.stats.arp_learned;
		}
		ERR("no connection established within %llu s%s\n",
		    CONNECT_TIMEOUT_US / 1000000ull,
		    arp_req > 0 && arp_learned == 0
			    ? ": the target (or gateway) never answered ARP"
			    : " (refused or unanswered SYNs)");
	}
	if (t.ids_errors != 0)
		ERR("--ids %s: %" PRIu64 " write errors\n", o->ids_path,
		    t.ids_errors);

out_lcores:
	for (uint16_t i = 0; i < app.n; i++)
		ll_destroy(app.ll[i]);
	if (app.port_open)
		port_close(&app.port);
out_eal:
	rte_eal_cleanup();
	if (app.ids_fd >= 0 && close(app.ids_fd) != 0 && status == EXIT_OK) {
		ERR("--ids %s: %s\n", o->ids_path, strerror(errno));
		status = EXIT_FAIL;
	}
	return status;
}

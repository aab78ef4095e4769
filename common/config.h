/*
 * config.h - one node's configuration: an INI file, parsed and validated.
 *
 * Contract:
 *  - loom_config_defaults() fills every field with its documented default.
 *  - loom_config_load() reads FILE (libinih), applies each known key over the
 *    defaults, then validates the whole result. Unknown sections or keys,
 *    malformed values, values out of range and cross-field inconsistencies
 *    (an lcore in two roles, a gateway outside the subnet, ...) are errors.
 *  - On error it returns -1 and writes exactly one human-readable line to
 *    err (NUL-terminated, truncated to errlen) of the form
 *        "FILE:LINE: [section] key: what is wrong"
 *    or, for whole-file checks after parsing (missing mandatory key,
 *    cross-field), "FILE: [section] key: what is wrong" naming the key.
 *  - loom_config_parse_string() is the same over an in-memory buffer (used by
 *    the unit tests and the fuzz target); `name` stands in for FILE.
 *  - No allocation survives the call: the struct is plain data, so it may be
 *    copied into per-lcore contexts.
 *
 * docs/CONFIG.md is the reference for every key; keep the two in step.
 */
#ifndef LOOM_COMMON_CONFIG_H
#define LOOM_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOOM_NAME_MAX 64       /* node name, incl. NUL */
#define LOOM_PATH_MAX 256      /* filesystem paths, incl. NUL */
#define LOOM_EAL_ARGS_MAX 1024 /* raw EAL argument string, incl. NUL */
#define LOOM_MAX_IO_LCORES 16
#define LOOM_MAX_REPL_LCORES 4
#define LOOM_MAX_PEERS 15      /* clusters of up to 16 nodes */
#define LOOM_MAX_USERS 32      /* [users] entries */

enum loom_sync_mode { LOOM_SYNC_COMMIT = 0, LOOM_SYNC_INTERVAL = 1 };

/* Another node of the cluster (docs/REPLICATION.md). */
/* [http] auth: who may use the REST API (dataplane/http/auth.h). */
enum loom_auth_mode { LOOM_AUTH_BASIC = 0, LOOM_AUTH_NONE = 1 };

/* One [users] line: NAME = pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64, the
 * stored verifier of an HTTP Basic password: hash = PBKDF2-HMAC-SHA256(
 * password, salt, iterations, 32 bytes). `loomctl passwd NAME` prints one. */
struct loom_user {
	char name[64];       /* [A-Za-z0-9_.-]{1,63}, NUL-terminated */
	uint32_t iterations; /* 1000..10000000 */
	uint8_t salt[64];    /* salt_len bytes used */
	uint8_t salt_len;    /* 8..64 */
	uint8_t hash[32];
};

struct loom_config {
	/* [node] */
	uint16_t node_id;              /* id = 1..65535, mandatory */
	char node_name[LOOM_NAME_MAX]; /* name = [A-Za-z0-9_.-]{1,63}, mandatory */
	uint64_t cluster_id;           /* cluster_id = u64 (decimal or 0x hex), default 1 */

	/* [eal] */
	char eal_args[LOOM_EAL_ARGS_MAX]; /* args = whitespace-separated EAL argv
	                                    (without argv[0]), mandatory. Must
	                                    contain --no-pci or -a/--allow: the
	                                    check is loom_eal_args_safe(). */

	/* [dataplane] */
	uint32_t ip_be;      /* ip = A.B.C.D/P (mandatory); network byte order */
	uint8_t prefix_len;  /* P from ip, 1..32 */
	uint32_t gateway_be; /* gateway = A.B.C.D (optional, 0 = none); must be
	                        inside ip/prefix and differ from ip */
	uint16_t mtu;        /* mtu = 576..9000, default 1500 */
	uint16_t port_id;    /* port = DPDK port id, default 0 */
	uint16_t rx_desc;    /* rx_desc = power of two 64..16384, default 1024 */
	uint16_t tx_desc;    /* tx_desc = power of two 64..16384, default 1024 */
	uint16_t burst;      /* burst = 1..256, default 32 */
	uint32_t arp_timeout_s;  /* arp_timeout_s = 1..86400, default 60 */
	uint16_t arp_cache_size; /* arp_cache_size = power of two 16..32768, default 256 */
	uint16_t arp_pending_max;/* arp_pending_max = 1..4096, default 64 */
	uint16_t http_port;  /* http_port = 1..65535, default 9926 */
	uint16_t repl_port;  /* repl_port = 1..65535, default 9933, != http_port */
	bool flow_isolate;   /* flow_isolate = true|false, default false: rte_flow
	                        isolated mode, so only traffic loomd claims with
	                        flow rules reaches it and the kernel keeps the rest
	                        (mlx5 bifurcated driver: management stays on the
	                        kernel netdev) */

	/* [lcores]: DPDK lcore ids (as given to EAL with -l/--lcores). Every
	 * role is a distinct lcore; main must not appear in the other roles. */
	uint16_t main_lcore;                      /* main = N, default 0 */
	uint16_t io_lcores[LOOM_MAX_IO_LCORES];   /* io = N[,N...] mandatory, >= 1 */
	uint16_t n_io_lcores;
	uint16_t repl_lcores[LOOM_MAX_REPL_LCORES]; /* repl = N[,N...], optional */
	uint16_t n_repl_lcores;
	int32_t storage_lcore;                    /* storage = N, -1 = none (default) */

	/* [idle] */
	uint32_t idle_spin_polls;   /* spin_polls = 0..10^9, empty polls before the
	                               first sleep, default 1000 */
	uint32_t idle_sleep_max_us; /* sleep_max_us = 0..100000 (0 = never sleep),
	                               default 1000 */

	/* [mempool] */
	uint32_t mbufs;         /* mbufs = 1023..16777215, default 8191 */
	uint16_t mbuf_cache;    /* cache = 0..512, <= mbufs/1.5, default 256 */
	uint16_t mbuf_data_room;/* data_room = 1024..65535, default 2176
	                           (2048 + RTE_PKTMBUF_HEADROOM); must hold mtu+14 */

	/* [storage] */
	char storage_path[LOOM_PATH_MAX]; /* path = dir, default /var/lib/loom */
	uint64_t storage_map_size;  /* map_size_mb = 16..16777216 (MiB), default 4096;
	                               stored in bytes */
	uint32_t max_body_bytes;    /* max_body = 64..16777216, default 65536 */
	enum loom_sync_mode sync;   /* sync = commit|interval, default commit */
	uint32_t sync_interval_ms;  /* sync_interval_ms = 1..60000, default 100 */
	uint32_t commit_batch_max;  /* batch_max = 1..65536, default 1024 */

	/* [fault]: port-layer fault injection, all off by default: keys drop,
	 * dup, reorder, corrupt, seed. Rates apply to each direction. They are
	 * probabilities in [0, 1) written as decimals ("0.02"). */
	double fault_drop;
	double fault_dup;
	double fault_reorder;
	double fault_corrupt;
	uint64_t fault_seed; /* seed = u64, default 1 */

	/* [tcp]: the io lcores' TCP (dataplane/net/tcp.h). Memory per io lcore
	 * is about tcp_max_conns * (tcp_sndbuf + tcp_rcvbuf). */
	uint32_t tcp_max_conns;   /* max_conns = 16..1048576, default 4096 */
	uint32_t tcp_sndbuf;      /* sndbuf = power of two 4096..16777216, default 16384 */
	uint32_t tcp_rcvbuf;      /* rcvbuf = power of two 4096..16777216, default 16384 */
	uint32_t tcp_syn_backlog; /* syn_backlog = 1..65536 half-open per listener
	                             before SYN cookies, default 256 */
	uint32_t tcp_time_wait_ms;/* time_wait_ms = 1..240000, default 2000 */
	uint32_t tcp_rto_init_ms; /* rto_init_ms = 10..60000, default 1000 */
	uint32_t tcp_rto_min_ms;  /* rto_min_ms = 1..60000, default 200 */
	uint32_t tcp_rto_max_ms;  /* rto_max_ms = 100..600000, default 60000;
	                             rto_min <= rto_init <= rto_max */
	uint32_t tcp_delack_ms;   /* delack_ms = 1..500, default 40 */
	uint32_t tcp_max_retries; /* max_retries = 1..30, default 12 */
	uint32_t tcp_syn_retries; /* syn_retries = 1..10, default 5 */

	/* [http]: the REST API's ingress limits, per io lcore, and its
	 * authentication. */
	uint32_t http_max_header_bytes;  /* max_header_bytes = 1024..65536,
	                                    default 8192; must be <= [tcp]
	                                    rcvbuf (a request head must fit in
	                                    the receive buffer) */
	uint16_t http_max_headers;       /* max_headers = 8..256, default 64 */
	uint32_t http_header_timeout_ms; /* header_timeout_ms = 100..600000,
	                                    default 10000: a request head (or a
	                                    body) not complete in this time gets
	                                    408 and the connection closes
	                                    (slowloris) */
	uint32_t http_idle_timeout_ms;   /* idle_timeout_ms = 100..3600000,
	                                    default 60000: a keep-alive
	                                    connection with nothing pending is
	                                    closed */
	uint32_t http_backpressure_ms;   /* backpressure_timeout_ms = 1..600000,
	                                    default 5000: how long a request may
	                                    wait for the storage ring/pool
	                                    before 503 */
	uint16_t http_max_inflight;      /* max_inflight = 1..1024, default 32:
	                                    pipelined writes per connection in
	                                    flight to storage */
	uint32_t http_write_pool;        /* write_pool = 64..1048576, default
	                                    8192: small write buffers (4 KiB
	                                    each) per io lcore */
	uint32_t http_large_pool;        /* large_pool = 4..65536, default 64:
	                                    buffers of max_body + 4 KiB per io
	                                    lcore, for big bodies and big
	                                    responses */
	enum loom_auth_mode auth_mode;   /* auth = basic|none, default basic;
	                                    basic needs >= 1 user in [users] */

	/* [users]: one key per user, NAME = pbkdf2-sha256$ITERATIONS$SALT_B64$
	 * HASH_B64 (standard base64 with padding; salt 8..64 bytes, hash 32
	 * bytes). Names are unique. Kept (and unused) with auth = none. */
	struct loom_user users[LOOM_MAX_USERS];
	uint16_t n_users;

	/* [test]: test-only services, all off by default. */
	uint16_t test_echo_port;      /* echo_port = 0..65535 (0 = off): a TCP
	                                 echo service on every io lcore */
	uint32_t test_connect_ip_be;  /* connect = A.B.C.D:P: actively open
	                                 connect_count connections there at start
	                                 and echo what they receive */
	uint16_t test_connect_port;
	uint16_t test_connect_count;  /* connect_count = 0..65535, default 0;
	                                 > 0 needs connect */

	/* [host]: what the machine is assumed to provide (scripts/host-check.sh
	 * compares it with the host; loomd itself only validates the syntax).
	 * Strings; "" = no expectation. */
	char host_isolcpus[64];   /* isolcpus = CPU list ("2-7,10"): kernel isolcpus */
	char host_nohz_full[64];  /* nohz_full = CPU list */
	char host_irq_cpus[64];   /* irq_cpus = CPU list the dataplane NIC's IRQs
	                             belong on (housekeeping CPUs) */
	char host_hugepage_size[8]; /* hugepage_size = 2M|1G */
	uint32_t host_hugepages;  /* hugepages = 0..1048576 pages of that size */
	int32_t host_numa_node;   /* numa_node = 0..63, -1 = any (default) */
	char host_governor[32];   /* governor = performance|powersave|schedutil|... */
	char host_thp[16];        /* thp = never|madvise|always */
	char host_iommu[8];       /* iommu = on|off|pt */
	char host_nic[32];        /* nic = PCI address (0000:3b:00.0) of the
	                             dataplane NIC */
	char host_nic_driver[32]; /* nic_driver = vfio-pci|mlx5_core|... */

	/* [repl]: replication (docs/REPLICATION.md), with [control] socket */
	uint32_t repl_batch_max;  /* batch_max = 1..4096 entries per BATCH, default 256 */
	uint32_t repl_window;     /* window = 16..1048576 entries sent beyond the
	                             peer's last ACK, default 8192 */
	uint32_t repl_ping_ms;    /* ping_interval_ms = 50..60000, default 1000 */
	uint32_t repl_dead_ms;    /* dead_after_ms = 200..600000, default 5000,
	                             > ping_interval_ms */
	uint32_t repl_max_frame;  /* max_frame = 65536..16777216 bytes, default
	                             1048576 (>= max_body + headroom) */
	uint64_t repl_log_retention_ms; /* log_retention_ms = 0..31536000000
	                             (365 days), default 86400000 (one day):
	                             a log entry is pruned only once every
	                             peer whose link is up has acknowledged it
	                             AND its version is at least this old, so
	                             a node down for less catches up from the
	                             log rather than by a merge copy */
	uint32_t repl_prune_interval_ms; /* prune_interval_ms = 10..600000,
	                             default 1000: how often the storage lcore
	                             runs one bounded prune txn (sooner while
	                             a backlog remains) */

	/* [control]: loom-controld (docs/CONTROL.md) */
	char control_socket[LOOM_PATH_MAX]; /* socket = absolute path of the
	                                  Unix socket loomd listens on (mode
	                                  0600) for loom-controld, which hands
	                                  out the peers and their keys; "" =
	                                  none (default): a node alone */

	/* [run] */
	char stats_file[LOOM_PATH_MAX]; /* stats_file = path, "" = none (default);
	                                   counters as JSON, rewritten every
	                                   stats_interval_ms and at exit */
	uint32_t stats_interval_ms;     /* stats_interval_ms = 100..60000, default 1000 */
	char log_level[16];             /* log_level = error|warn|info|debug, default info */
};

void loom_config_defaults(struct loom_config *cfg);

int loom_config_load(const char *path, struct loom_config *cfg, char *err,
                     size_t errlen);

int loom_config_parse_string(const char *name, const char *text,
                             struct loom_config *cfg, char *err, size_t errlen);

/* True when the whitespace-separated EAL argument string contains --no-pci,
 * or an explicit allow-list (-a X, -aX, --allow X, --allow=X). Legacy -w /
 * --pci-whitelist count as an allow-list too. */
bool loom_eal_args_safe(const char *eal_args);

/* This node replicates (a repl lcore, its queue and its links): its peers
 * and their keys come from loom-controld over [control] socket. */
static inline bool loom_config_replicates(const struct loom_config *c)
{
	return c->control_socket[0] != '\0';
}

#endif

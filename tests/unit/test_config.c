/*
 * test_config.c - the config parser against its contract (common/config.h):
 * the shipped profiles parse, defaults hold, and every class of mistake is
 * reported once, on the right line, naming the key. [http] and [users]
 * (HTTP ingress limits and Basic authentication) have their own tests at
 * the end.
 */
#include "check.h"

#include "common/config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LOOM_SOURCE_DIR
#error "LOOM_SOURCE_DIR must name the source tree (see tests/unit/config.cmake)"
#endif

#define ERRLEN 512

/* The mandatory keys, nine lines. */
#define NODE_LINES                                                           \
	"[node]\n"                          /* 1 */                          \
	"id = 1\n"                          /* 2 */                          \
	"name = t1\n"                       /* 3 */                          \
	"[eal]\n"                           /* 4 */                          \
	"args = --no-pci --vdev net_null0\n" /* 5 */                         \
	"[dataplane]\n"                     /* 6 */                          \
	"ip = 10.0.0.11/24\n"               /* 7 */                          \
	"[lcores]\n"                        /* 8 */                          \
	"io = 1\n"                          /* 9 */

/* The smallest valid file: auth = basic, the default, would need a
 * [users] entry. Error cases append to it, so their lines start at 12. */
#define MIN_CONFIG                                                           \
	NODE_LINES                                                           \
	"[http]\n"                          /* 10 */                         \
	"auth = none\n"                     /* 11 */

static char err[ERRLEN];

static int parse(const char *text, struct loom_config *cfg)
{
	return loom_config_parse_string("t.ini", text, cfg, err, sizeof err);
}

/* A macro so that a failure points at the case, not at a helper. */
#define EXPECT_ERR(text, where, what)                                        \
	do {                                                                 \
		struct loom_config c_;                                       \
		err[0] = '\0';                                               \
		CHECK(parse((text), &c_) == -1);                             \
		CHECK_STR_CONTAINS(err, (where));                            \
		CHECK_STR_CONTAINS(err, (what));                             \
		CHECK(strchr(err, '\n') == NULL);                            \
	} while (0)

static uint32_t be(unsigned a, unsigned b, unsigned c, unsigned d)
{
	unsigned char x[4] = {(unsigned char)a, (unsigned char)b,
	                      (unsigned char)c, (unsigned char)d};
	uint32_t v;
	memcpy(&v, x, 4);
	return v;
}

static void test_veth_profile(void)
{
	struct loom_config c;
	const char *path = LOOM_SOURCE_DIR "/hw-configs/veth.ini";
	int rc = loom_config_load(path, &c, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	CHECK_EQ_U64(c.node_id, 1);
	CHECK(strcmp(c.node_name, "n1") == 0);
	CHECK_EQ_U64(c.cluster_id, 0x10c0);
	CHECK(strcmp(c.eal_args,
	             "--no-pci --no-huge -m 512 --file-prefix "
	             "loom-n1 --lcores 0@0,1@1 --vdev "
	             "net_af_packet0,iface=dp0,qpairs=1") == 0);
	CHECK(loom_eal_args_safe(c.eal_args));
	CHECK_EQ_U64(c.ip_be, be(10, 77, 0, 11));
	CHECK_EQ_U64(c.prefix_len, 24);
	CHECK_EQ_U64(c.gateway_be, be(10, 77, 0, 1));
	CHECK_EQ_U64(c.mtu, 1500);
	CHECK_EQ_U64(c.port_id, 0);
	CHECK_EQ_U64(c.rx_desc, 512);
	CHECK_EQ_U64(c.tx_desc, 512);
	CHECK_EQ_U64(c.http_port, 9926);
	CHECK_EQ_U64(c.repl_port, 9933);
	CHECK_EQ_U64(c.main_lcore, 0);
	CHECK_EQ_U64(c.n_io_lcores, 1);
	CHECK_EQ_U64(c.io_lcores[0], 1);
	CHECK_EQ_U64(c.n_repl_lcores, 0);
	CHECK(c.storage_lcore == -1);
	CHECK_EQ_U64(c.idle_spin_polls, 1000);
	CHECK_EQ_U64(c.idle_sleep_max_us, 1000);
	CHECK_EQ_U64(c.mbufs, 8191);
	CHECK_EQ_U64(c.mbuf_cache, 256);
	CHECK_EQ_U64(c.mbuf_data_room, 2176);
	CHECK(strcmp(c.storage_path, "/var/lib/loom/n1") == 0);
	CHECK_EQ_U64(c.storage_map_size, (uint64_t)1024 << 20);
	CHECK(c.sync == LOOM_SYNC_COMMIT);
	CHECK(c.fault_drop == 0.0 && c.fault_dup == 0.0 &&
	      c.fault_reorder == 0.0 && c.fault_corrupt == 0.0);
	CHECK_EQ_U64(c.fault_seed, 1);
	CHECK(c.stats_file[0] == '\0');
	CHECK(strcmp(c.log_level, "info") == 0);
	/* The test profile serves the API without authentication. */
	CHECK(c.auth_mode == LOOM_AUTH_NONE);
	CHECK_EQ_U64(c.n_users, 0);
	CHECK_EQ_U64(c.http_max_header_bytes, 8192);
}

static void test_defaults(void)
{
	struct loom_config d, c;
	loom_config_defaults(&d);
	CHECK_EQ_U64(d.cluster_id, 1);
	CHECK_EQ_U64(d.gateway_be, 0);
	CHECK_EQ_U64(d.mtu, 1500);
	CHECK_EQ_U64(d.port_id, 0);
	CHECK_EQ_U64(d.rx_desc, 1024);
	CHECK_EQ_U64(d.tx_desc, 1024);
	CHECK_EQ_U64(d.burst, 32);
	CHECK_EQ_U64(d.arp_timeout_s, 60);
	CHECK_EQ_U64(d.arp_cache_size, 256);
	CHECK_EQ_U64(d.arp_pending_max, 64);
	CHECK_EQ_U64(d.http_port, 9926);
	CHECK_EQ_U64(d.repl_port, 9933);
	CHECK_EQ_U64(d.main_lcore, 0);
	CHECK_EQ_U64(d.n_io_lcores, 0);
	CHECK_EQ_U64(d.n_repl_lcores, 0);
	CHECK(d.storage_lcore == -1);
	CHECK_EQ_U64(d.idle_spin_polls, 1000);
	CHECK_EQ_U64(d.idle_sleep_max_us, 1000);
	CHECK_EQ_U64(d.mbufs, 8191);
	CHECK_EQ_U64(d.mbuf_cache, 256);
	CHECK_EQ_U64(d.mbuf_data_room, 2176);
	CHECK(strcmp(d.storage_path, "/var/lib/loom") == 0);
	CHECK_EQ_U64(d.storage_map_size, (uint64_t)4096 << 20);
	CHECK_EQ_U64(d.max_body_bytes, 65536);
	CHECK(d.sync == LOOM_SYNC_COMMIT);
	CHECK_EQ_U64(d.sync_interval_ms, 100);
	CHECK_EQ_U64(d.commit_batch_max, 1024);
	CHECK(d.fault_drop == 0.0 && d.fault_dup == 0.0 &&
	      d.fault_reorder == 0.0 && d.fault_corrupt == 0.0);
	CHECK_EQ_U64(d.fault_seed, 1);
	CHECK(d.stats_file[0] == '\0');
	CHECK_EQ_U64(d.stats_interval_ms, 1000);
	CHECK(strcmp(d.log_level, "info") == 0);
	CHECK_EQ_U64(d.http_max_header_bytes, 8192);
	CHECK_EQ_U64(d.http_max_headers, 64);
	CHECK_EQ_U64(d.http_header_timeout_ms, 10000);
	CHECK_EQ_U64(d.http_idle_timeout_ms, 60000);
	CHECK_EQ_U64(d.http_backpressure_ms, 5000);
	CHECK_EQ_U64(d.http_max_inflight, 32);
	CHECK_EQ_U64(d.http_write_pool, 8192);
	CHECK_EQ_U64(d.http_large_pool, 64);
	CHECK(d.auth_mode == LOOM_AUTH_BASIC);
	CHECK_EQ_U64(d.n_users, 0);
	CHECK_EQ_U64(d.repl_log_retention_ms, 86400000);
	CHECK_EQ_U64(d.repl_prune_interval_ms, 1000);

	/* The minimal file changes only what it sets. */
	CHECK(parse(MIN_CONFIG, &c) == 0);
	CHECK_EQ_U64(c.node_id, 1);
	CHECK(strcmp(c.node_name, "t1") == 0);
	CHECK(strcmp(c.eal_args, "--no-pci --vdev net_null0") == 0);
	CHECK_EQ_U64(c.ip_be, be(10, 0, 0, 11));
	CHECK_EQ_U64(c.prefix_len, 24);
	CHECK_EQ_U64(c.n_io_lcores, 1);
	CHECK_EQ_U64(c.io_lcores[0], 1);
	CHECK(c.auth_mode == LOOM_AUTH_NONE);
	struct loom_config masked = c;
	masked.node_id = d.node_id;
	memcpy(masked.node_name, d.node_name, sizeof masked.node_name);
	memcpy(masked.eal_args, d.eal_args, sizeof masked.eal_args);
	masked.ip_be = d.ip_be;
	masked.prefix_len = d.prefix_len;
	masked.io_lcores[0] = d.io_lcores[0];
	masked.n_io_lcores = d.n_io_lcores;
	masked.auth_mode = d.auth_mode;
	CHECK(memcmp(&masked, &d, sizeof d) == 0);
}

/* A [users] value: 16-byte salt 00..0f, 32-byte hash 0x64..0x83 (the
 * parser checks the form, not the password). */
#define SALT16 "AAECAwQFBgcICQoLDA0ODw=="
#define HASH32 "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="
#define GOOD_HASH "pbkdf2-sha256$1000$" SALT16 "$" HASH32

static void test_every_key(void)
{
	struct loom_config c;
	const char *text =
		"[node]\n"
		"id = 65535\n"
		"name = node-A_1.x\n"
		"cluster_id = 0xFFFFFFFFFFFFFFFF\n"
		"[eal]\n"
		"args = -l 0-5 -a 0000:01:00.0 --file-prefix x\n"
		"[dataplane]\n"
		"ip = 192.168.7.2/31\n"
		"gateway = 192.168.7.3\n"
		"mtu = 9000\n"
		"port = 3\n"
		"rx_desc = 16384\n"
		"tx_desc = 64\n"
		"burst = 256\n"
		"arp_timeout_s = 86400\n"
		"arp_cache_size = 16\n"
		"arp_pending_max = 4096\n"
		"http_port = 80\n"
		"repl_port = 65535\n"
		"[lcores]\n"
		"main = 5\n"
		"io = 0,1, 2 ,\t3\n"
		"repl = 4\n"
		"storage = 6\n"
		"[idle]\n"
		"spin_polls = 1000000000\n"
		"sleep_max_us = 0\n"
		"[mempool]\n"
		"mbufs = 16777215\n"
		"cache = 512\n"
		"data_room = 9142\n"
		"[storage]\n"
		"path = /srv/loom\n"
		"map_size_mb = 16777216\n"
		"max_body = 64\n"
		"sync = interval\n"
		"sync_interval_ms = 60000\n"
		"batch_max = 65536\n"
		"[fault]\n"
		"drop = 0.02\n"
		"dup = 1e-3\n"
		"reorder = .5\n"
		"corrupt = 0.999999\n"
		"seed = 18446744073709551615\n"
		"[run]\n"
		"stats_file = /tmp/s.json\n"
		"stats_interval_ms = 100\n"
		"log_level = debug\n"
		"[http]\n"
		"max_header_bytes = 16384\n"
		"max_headers = 256\n"
		"header_timeout_ms = 100\n"
		"idle_timeout_ms = 3600000\n"
		"backpressure_timeout_ms = 600000\n"
		"max_inflight = 1024\n"
		"write_pool = 1048576\n"
		"large_pool = 4\n"
		"auth = basic\n"
		"[users]\n"
		"ops-1.x = " GOOD_HASH "\n";
	int rc = parse(text, &c);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	CHECK_EQ_U64(c.node_id, 65535);
	CHECK(strcmp(c.node_name, "node-A_1.x") == 0);
	CHECK_EQ_U64(c.cluster_id, UINT64_MAX);
	CHECK_EQ_U64(c.ip_be, be(192, 168, 7, 2));
	CHECK_EQ_U64(c.prefix_len, 31);
	CHECK_EQ_U64(c.gateway_be, be(192, 168, 7, 3));
	CHECK_EQ_U64(c.mtu, 9000);
	CHECK_EQ_U64(c.port_id, 3);
	CHECK_EQ_U64(c.rx_desc, 16384);
	CHECK_EQ_U64(c.tx_desc, 64);
	CHECK_EQ_U64(c.burst, 256);
	CHECK_EQ_U64(c.arp_timeout_s, 86400);
	CHECK_EQ_U64(c.arp_cache_size, 16);
	CHECK_EQ_U64(c.arp_pending_max, 4096);
	CHECK_EQ_U64(c.http_port, 80);
	CHECK_EQ_U64(c.repl_port, 65535);
	CHECK_EQ_U64(c.main_lcore, 5);
	CHECK_EQ_U64(c.n_io_lcores, 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ_U64(c.io_lcores[i], i);
	CHECK_EQ_U64(c.n_repl_lcores, 1);
	CHECK_EQ_U64(c.repl_lcores[0], 4);
	CHECK(c.storage_lcore == 6);
	CHECK_EQ_U64(c.idle_spin_polls, 1000000000);
	CHECK_EQ_U64(c.idle_sleep_max_us, 0);
	CHECK_EQ_U64(c.mbufs, 16777215);
	CHECK_EQ_U64(c.mbuf_cache, 512);
	CHECK_EQ_U64(c.mbuf_data_room, 9142);
	CHECK(strcmp(c.storage_path, "/srv/loom") == 0);
	CHECK_EQ_U64(c.storage_map_size, (uint64_t)16777216 << 20);
	CHECK_EQ_U64(c.max_body_bytes, 64);
	CHECK(c.sync == LOOM_SYNC_INTERVAL);
	CHECK_EQ_U64(c.sync_interval_ms, 60000);
	CHECK_EQ_U64(c.commit_batch_max, 65536);
	CHECK(c.fault_drop == 0.02);
	CHECK(c.fault_dup == 0.001);
	CHECK(c.fault_reorder == 0.5);
	CHECK(c.fault_corrupt == 0.999999);
	CHECK_EQ_U64(c.fault_seed, UINT64_MAX);
	CHECK(strcmp(c.stats_file, "/tmp/s.json") == 0);
	CHECK_EQ_U64(c.stats_interval_ms, 100);
	CHECK(strcmp(c.log_level, "debug") == 0);
	CHECK_EQ_U64(c.http_max_header_bytes, 16384);
	CHECK_EQ_U64(c.http_max_headers, 256);
	CHECK_EQ_U64(c.http_header_timeout_ms, 100);
	CHECK_EQ_U64(c.http_idle_timeout_ms, 3600000);
	CHECK_EQ_U64(c.http_backpressure_ms, 600000);
	CHECK_EQ_U64(c.http_max_inflight, 1024);
	CHECK_EQ_U64(c.http_write_pool, 1048576);
	CHECK_EQ_U64(c.http_large_pool, 4);
	CHECK(c.auth_mode == LOOM_AUTH_BASIC);
	CHECK_EQ_U64(c.n_users, 1);
	CHECK(strcmp(c.users[0].name, "ops-1.x") == 0);

	/* The other spellings of "nothing" and of numbers. */
	CHECK(parse(MIN_CONFIG "[dataplane]\ngateway = none\n[lcores]\n"
	            "repl = none\nstorage = -1\n[node]\ncluster_id = 0x0\n"
	            "[fault]\nseed = 0X1f\n", &c) == 0);
	CHECK_EQ_U64(c.gateway_be, 0);
	CHECK_EQ_U64(c.n_repl_lcores, 0);
	CHECK(c.storage_lcore == -1);
	CHECK_EQ_U64(c.cluster_id, 0);
	CHECK_EQ_U64(c.fault_seed, 0x1f);
	CHECK(parse(MIN_CONFIG "[dataplane]\ngateway =\n", &c) == 0);
	CHECK_EQ_U64(c.gateway_be, 0);
	/* Leading zeros are decimal, not octal. */
	CHECK(parse(MIN_CONFIG "[dataplane]\nmtu = 01500\n", &c) == 0);
	CHECK_EQ_U64(c.mtu, 1500);
	/* /32: no subnet, no network or broadcast address. */
	CHECK(parse("[node]\nid=1\nname=a\n[eal]\nargs=--no-pci\n[dataplane]\n"
	            "ip=10.1.2.3/32\n[lcores]\nio=1\n[http]\nauth=none\n",
	            &c) == 0);
	CHECK_EQ_U64(c.prefix_len, 32);
}

static void test_syntax(void)
{
	struct loom_config c;
	/* Comments, CRLF, a BOM, blanks, ':' and ';' inside values. */
	const char *text =
		"\xEF\xBB\xBF# a comment\r\n"
		"; another\r\n"
		"   # an indented comment\r\n"
		"\r\n"
		"[node]   ; trailing comment on a header\r\n"
		"id=7 ; inline comment\r\n"
		"name   =   x1   # inline hash comment\r\n"
		"[eal]\r\n"
		"args = --no-pci --vdev=net_pcap0,iface=a;b\r\n"
		"[dataplane]\r\n"
		"ip = 10.0.0.11/24\r\n"
		"[lcores]\r\n"
		"io = 1\r\n"
		"[storage]\r\n"
		"path = /data/a;b#c:d\r\n"
		"[http]\r\n"
		"auth = none\r\n";
	int rc = parse(text, &c);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	CHECK_EQ_U64(c.node_id, 7);
	CHECK(strcmp(c.node_name, "x1") == 0);
	CHECK(strcmp(c.eal_args, "--no-pci --vdev=net_pcap0,iface=a;b") == 0);
	CHECK(strcmp(c.storage_path, "/data/a;b#c:d") == 0);

	/* No final newline; a repeated section header is fine. */
	CHECK(parse(MIN_CONFIG "[node]\ncluster_id = 9", &c) == 0);
	CHECK_EQ_U64(c.cluster_id, 9);

	/* Long EAL arguments continue on indented lines. */
	CHECK(parse("[node]\nid=1\nname=a\n[eal]\nargs = --no-pci\n"
	            "  --vdev net_null0 ; first\n"
	            "\n"
	            "# a comment between continuation lines\n"
	            "\t--vdev net_null1\n"
	            "[dataplane]\nip=10.0.0.11/24\n[lcores]\nio=1\n"
	            "[http]\nauth=none\n", &c) == 0);
	CHECK(strcmp(c.eal_args, "--no-pci --vdev net_null0 --vdev net_null1") ==
	      0);
	/* ... even from an empty first line. */
	CHECK(parse("[node]\nid=1\nname=a\n[eal]\nargs =\n  --no-pci\n"
	            "[dataplane]\nip=10.0.0.11/24\n[lcores]\nio=1\n"
	            "[http]\nauth=none\n", &c) == 0);
	CHECK(strcmp(c.eal_args, "--no-pci") == 0);

	/* Only args may continue; indentation elsewhere is a mistake. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 1500\n  9000\n",
	           "t.ini:14: [dataplane] mtu:", "only [eal] args");
	EXPECT_ERR(MIN_CONFIG "[run]\n  log_level = info\n",
	           "t.ini:13: [run]", "no value to continue");
	EXPECT_ERR("  [node]\nid=1\n", "t.ini:1: indented line '[node]' has no value",
	           "indentation continues");

	/* Structure. */
	EXPECT_ERR("id = 1\n[node]\n", "t.ini:1:", "outside any section");
	EXPECT_ERR(MIN_CONFIG "[node\n", "t.ini:12:", "closing ']'");
	EXPECT_ERR(MIN_CONFIG "[node] x\n", "t.ini:12: [node]",
	           "unexpected text after the section header");
	EXPECT_ERR(MIN_CONFIG "[node]\njust words\n", "t.ini:13: [node]",
	           "expected 'key = value'");
	EXPECT_ERR(MIN_CONFIG "[node]\nname: x\n", "t.ini:13: [node]",
	           "expected 'key = value'");
	EXPECT_ERR(MIN_CONFIG "[node]\n= 5\n", "t.ini:13: [node]",
	           "key name is missing");
	EXPECT_ERR(MIN_CONFIG "[node]\nclu ster = 5\n", "t.ini:13: [node]",
	           "'clu ster' is not a key name");

	/* A line longer than inih's buffer is refused, not split. */
	char long_line[1024];
	snprintf(long_line, sizeof long_line, MIN_CONFIG "[storage]\npath = /%0400d\n", 0);
	EXPECT_ERR(long_line, "t.ini:13: [storage]", "line too long");
	/* ... but a long comment is harmless. */
	snprintf(long_line, sizeof long_line, MIN_CONFIG "# %0400d\n[node]\n"
	         "cluster_id = 3 ; %0300d\n", 0, 0);
	CHECK(parse(long_line, &c) == 0);
	CHECK_EQ_U64(c.cluster_id, 3);
}

static void test_exact_format(void)
{
	struct loom_config c;
	const char *text = "[node]\nid = 1\nname = t1\n[eal]\nargs = --no-pci\n"
	                   "[dataplane]\nip = 10.0.0.300/24\n[lcores]\nio = 1\n";
	CHECK(loom_config_parse_string("node1.ini", text, &c, err, sizeof err) ==
	      -1);
	CHECK(strcmp(err, "node1.ini:7: [dataplane] ip: '10.0.0.300/24' is not "
	                  "an IPv4 address with a prefix (A.B.C.D/P)") == 0);

	/* Truncated to errlen, always NUL-terminated. */
	char small[12];
	memset(small, 'x', sizeof small);
	CHECK(loom_config_parse_string("node1.ini", text, &c, small,
	                               sizeof small) == -1);
	CHECK(strcmp(small, "node1.ini:7") == 0);
	CHECK(loom_config_parse_string("node1.ini", text, &c, NULL, 0) == -1);

	/* A failed parse leaves the caller's struct alone. */
	memset(&c, 0xA5, sizeof c);
	struct loom_config before = c;
	CHECK(parse(MIN_CONFIG "[dataplane]\nmtu = 100\n", &c) == -1);
	CHECK(memcmp(&c, &before, sizeof c) == 0);

	/* Control characters cannot split the one-line message. */
	CHECK(loom_config_parse_string("a\nb.ini", "[node]\nid = \x01\n", &c,
	                               err, sizeof err) == -1);
	CHECK(strchr(err, '\n') == NULL && strchr(err, '\x01') == NULL);
	CHECK_STR_CONTAINS(err, "a?b.ini:2: [node] id:");
}

static void test_errors(void)
{
	/* Unknown section and key. */
	EXPECT_ERR(MIN_CONFIG "[nodes]\nid = 1\n", "t.ini:12:",
	           "[nodes]: unknown section");
	CHECK_STR_CONTAINS(err, "host, http, users, repl, control)");
	EXPECT_ERR(MIN_CONFIG "[node]\ncolour = blue\n", "t.ini:13: [node] colour:",
	           "unknown key");
	/* A key in the wrong section is unknown there. */
	EXPECT_ERR(MIN_CONFIG "[node]\nmtu = 1500\n", "t.ini:13: [node] mtu:",
	           "unknown key");
	/* Keys are case-sensitive. */
	EXPECT_ERR(MIN_CONFIG "[node]\nID = 1\n", "t.ini:13: [node] ID:",
	           "unknown key");

	/* Malformed integers. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 12a\n",
	           "t.ini:13: [dataplane] mtu:", "'12a' is not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = +1500\n",
	           "t.ini:13: [dataplane] mtu:", "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = -1500\n",
	           "t.ini:13: [dataplane] mtu:", "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 1 500\n",
	           "t.ini:13: [dataplane] mtu:", "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 0x5dc\n",
	           "t.ini:13: [dataplane] mtu:", "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu =\n",
	           "t.ini:13: [dataplane] mtu:", "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[node]\ncluster_id = 0x\n",
	           "t.ini:13: [node] cluster_id:", "decimal or 0x hex");
	EXPECT_ERR(MIN_CONFIG "[node]\ncluster_id = 0x12g\n",
	           "t.ini:13: [node] cluster_id:", "decimal or 0x hex");

	/* Out of range, including overflow of every width. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 575\n",
	           "t.ini:13: [dataplane] mtu:", "'575' is out of range 576..9000");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 9001\n",
	           "t.ini:13: [dataplane] mtu:", "out of range");
	EXPECT_ERR("[node]\nid = 0\n", "t.ini:2: [node] id:",
	           "out of range 1..65535");
	EXPECT_ERR("[node]\nid = 65536\n", "t.ini:2: [node] id:",
	           "out of range");
	EXPECT_ERR(MIN_CONFIG "[node]\ncluster_id = 18446744073709551616\n",
	           "t.ini:13: [node] cluster_id:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[fault]\nseed = 0x10000000000000000\n",
	           "t.ini:13: [fault] seed:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[idle]\nspin_polls = 99999999999999999999999\n",
	           "t.ini:13: [idle] spin_polls:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[idle]\nsleep_max_us = 100001\n",
	           "t.ini:13: [idle] sleep_max_us:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[storage]\nmap_size_mb = 15\n",
	           "t.ini:13: [storage] map_size_mb:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[mempool]\nmbufs = 1022\n",
	           "t.ini:13: [mempool] mbufs:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[run]\nstats_interval_ms = 99\n",
	           "t.ini:13: [run] stats_interval_ms:", "out of range");

	/* Powers of two. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nrx_desc = 1000\n",
	           "t.ini:13: [dataplane] rx_desc:", "not a power of two");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ntx_desc = 96\n",
	           "t.ini:13: [dataplane] tx_desc:", "not a power of two");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ntx_desc = 32\n",
	           "t.ini:13: [dataplane] tx_desc:", "out of range 64..16384");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\narp_cache_size = 300\n",
	           "t.ini:13: [dataplane] arp_cache_size:", "not a power of two");

	/* Addresses. */
	EXPECT_ERR("[node]\nid=1\nname=a\n[eal]\nargs=--no-pci\n[dataplane]\n"
	           "ip = 10.0.0.1\n", "t.ini:7: [dataplane] ip:",
	           "not an IPv4 address with a prefix");
	static const char *const bad_ips[] = {
		"10.0.0.256/24", "10.0.0/24", "10.0.0.1.2/24", "010.0.0.1/24",
		" 10.0.0.1/24x", "10.0.0.1/", "10.0.0.1/24/8", "10..0.1/24",
		"a.b.c.d/24", "10.0.0.1/024", "10.0.0.1 /24", "10.0.0.-1/24",
		"10.0.0.1/+24", "1000.0.0.1/24",
	};
	for (size_t i = 0; i < sizeof bad_ips / sizeof bad_ips[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, "[dataplane]\nip = %s\n",
		         bad_ips[i]);
		EXPECT_ERR(text, "t.ini:2: [dataplane] ip:", "not an IPv4 address");
	}
	EXPECT_ERR("[dataplane]\nip = 10.0.0.1/33\n", "t.ini:2: [dataplane] ip:",
	           "prefix length must be 1..32");
	EXPECT_ERR("[dataplane]\nip = 10.0.0.1/0\n", "t.ini:2: [dataplane] ip:",
	           "prefix length must be 1..32");
	EXPECT_ERR("[dataplane]\nip = 10.0.0.0/24\n", "t.ini:2: [dataplane] ip:",
	           "network address");
	EXPECT_ERR("[dataplane]\nip = 10.0.0.255/24\n", "t.ini:2: [dataplane] ip:",
	           "broadcast address");
	EXPECT_ERR("[dataplane]\nip = 127.0.0.1/8\n", "t.ini:2: [dataplane] ip:",
	           "not a unicast host address");
	EXPECT_ERR("[dataplane]\nip = 224.0.0.1/24\n", "t.ini:2: [dataplane] ip:",
	           "not a unicast host address");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ngateway = 10.0.0.1/24\n",
	           "t.ini:13: [dataplane] gateway:", "not an IPv4 address");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ngateway = 0.0.0.0\n",
	           "t.ini:13: [dataplane] gateway:", "use none");

	/* Gateway against the subnet: checked after the whole file. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ngateway = 10.0.1.1\n",
	           "t.ini: [dataplane] gateway:",
	           "10.0.1.1 (line 13) is outside the subnet 10.0.0.0/24 of ip "
	           "(line 7)");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ngateway = 10.0.0.11\n",
	           "t.ini: [dataplane] gateway:", "own ip");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ngateway = 10.0.0.0\n",
	           "t.ini: [dataplane] gateway:", "network address");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\ngateway = 10.0.0.255\n",
	           "t.ini: [dataplane] gateway:", "broadcast address");
	/* The order of ip and gateway in the file does not matter. */
	EXPECT_ERR("[node]\nid=1\nname=a\n[eal]\nargs=--no-pci\n[lcores]\nio=1\n"
	           "[dataplane]\ngateway = 10.9.0.1\nip = 10.0.0.11/24\n",
	           "t.ini: [dataplane] gateway:", "(line 9) is outside");

	/* Duplicates. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nip = 10.0.0.12/24\n",
	           "t.ini:13: [dataplane] ip:", "set twice (first on line 7");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nio = 2\n", "t.ini:13: [lcores] io:",
	           "set twice");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2, 3, 2\n",
	           "t.ini:13: [lcores] repl:", "lcore 2 is listed twice");

	/* Lists. */
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2,,3\n", "t.ini:13: [lcores] repl:",
	           "not a list of lcore ids");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2,\n", "t.ini:13: [lcores] repl:",
	           "not a list of lcore ids");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2 3\n", "t.ini:13: [lcores] repl:",
	           "not a list of lcore ids");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2,3,4,5,6\n",
	           "t.ini:13: [lcores] repl:", "more than 4 lcores");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2,1024\n",
	           "t.ini:13: [lcores] repl:", "out of range 0..1023");
	EXPECT_ERR("[lcores]\nio = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
	           "t.ini:2: [lcores] io:", "more than 16 lcores");
	EXPECT_ERR("[lcores]\nio =\n", "t.ini:2: [lcores] io:",
	           "at least one lcore");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nstorage = -2\n",
	           "t.ini:13: [lcores] storage:", "not an lcore id");

	/* Roles: checked after the whole file, naming both lines. */
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 2, 1\n", "t.ini: [lcores] repl:",
	           "lcore 1 is an io lcore (io line 9) and a repl lcore (repl "
	           "line 13)");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nmain = 1\n", "t.ini: [lcores] io:",
	           "lcore 1 is the main lcore (main line 13)");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nstorage = 0\n",
	           "t.ini: [lcores] storage:",
	           "lcore 0 is the main lcore (main default)");
	EXPECT_ERR(MIN_CONFIG "[lcores]\nrepl = 3\nstorage = 3\n",
	           "t.ini: [lcores] storage:", "(repl line 13)");

	/* Mandatory keys. */
	EXPECT_ERR("", "t.ini: [node] id:", "missing");
	EXPECT_ERR("[node]\nid = 1\n", "t.ini: [node] name:", "missing");
	EXPECT_ERR("[node]\nid = 1\nname = a\n", "t.ini: [eal] args:", "missing");
	EXPECT_ERR("[node]\nid = 1\nname = a\n[eal]\nargs=--no-pci\n",
	           "t.ini: [dataplane] ip:", "missing");
	EXPECT_ERR("[node]\nid = 1\nname = a\n[eal]\nargs=--no-pci\n"
	           "[dataplane]\nip=10.0.0.11/24\n",
	           "t.ini: [lcores] io:", "missing");

	/* EAL safety. */
	const char *unsafe =
		"[node]\nid = 1\nname = a\n[eal]\nargs = --no-huge --vdev x\n"
		"[dataplane]\nip=10.0.0.11/24\n[lcores]\nio=1\n";
	struct loom_config c;
	CHECK(parse(unsafe, &c) == -1);
	CHECK(strcmp(err, "t.ini: [eal] args: must contain --no-pci or an "
	                  "explicit allow-list (-a/--allow): Loom never probes "
	                  "every PCI device") == 0);
	EXPECT_ERR("[node]\nid = 1\nname = a\n[eal]\nargs =\n"
	           "[dataplane]\nip=10.0.0.11/24\n[lcores]\nio=1\n",
	           "t.ini: [eal] args:", "is empty (line 5)");

	/* Strings. */
	char text[512];
	snprintf(text, sizeof text, "[node]\nname = %064d\n", 0);
	EXPECT_ERR(text, "t.ini:2: [node] name:", "longer than 63 characters");
	snprintf(text, sizeof text, "[node]\nname = %063d\n[eal]\n", 0);
	EXPECT_ERR(text, "t.ini: [node] id:", "missing"); /* 63 is fine */
	EXPECT_ERR("[node]\nname = my node\n", "t.ini:2: [node] name:",
	           "outside [A-Za-z0-9_.-]");
	EXPECT_ERR("[node]\nname = n/1\n", "t.ini:2: [node] name:",
	           "outside [A-Za-z0-9_.-]");
	EXPECT_ERR("[node]\nname =\n", "t.ini:2: [node] name:", "is empty");
	EXPECT_ERR("[storage]\npath =\n", "t.ini:2: [storage] path:", "is empty");
	char args[1400];
	int n = snprintf(args, sizeof args, "[eal]\nargs = --no-pci\n");
	for (int i = 0; i < 7; i++)
		n += snprintf(args + n, sizeof args - (size_t)n, "  --vdev %0150d\n",
		              i);
	EXPECT_ERR(args, "t.ini:9: [eal] args:", "longer than 1023 characters");

	/* Fault rates. */
	static const char *const bad_rates[] = {"1.0", "1", "-0.1", "nan",
	                                        "inf", "2e0"};
	for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
		snprintf(text, sizeof text, "[fault]\ndrop = %s\n", bad_rates[i]);
		EXPECT_ERR(text, "t.ini:2: [fault] drop:", "a probability");
		CHECK_STR_CONTAINS(err, bad_rates[i]);
	}
	EXPECT_ERR("[fault]\nreorder = -0.1\n", "t.ini:2: [fault] reorder:",
	           "out of range");
	EXPECT_ERR("[fault]\ndup = 1.0\n", "t.ini:2: [fault] dup:", "out of range");
	static const char *const junk_rates[] = {"0.1x", "0x0.1", "", ".",
	                                         "1e", "0.1 0.2", "+0.1"};
	for (size_t i = 0; i < sizeof junk_rates / sizeof junk_rates[0]; i++) {
		snprintf(text, sizeof text, "[fault]\ncorrupt = %s\n",
		         junk_rates[i]);
		EXPECT_ERR(text, "t.ini:2: [fault] corrupt:",
		           "is not a decimal number");
	}

	/* Enumerations. */
	EXPECT_ERR("[storage]\nsync = always\n", "t.ini:2: [storage] sync:",
	           "'always' is not commit or interval");
	EXPECT_ERR("[storage]\nsync = Commit\n", "t.ini:2: [storage] sync:",
	           "not commit or interval");
	EXPECT_ERR("[run]\nlog_level = verbose\n", "t.ini:2: [run] log_level:",
	           "not error, warn, info or debug");

	/* Whole-file numeric relations. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nrepl_port = 9926\n",
	           "t.ini: [dataplane] repl_port:", "also http_port");
	/* cache <= mbufs / 1.5 holds for every in-range pair (512 * 1.5 <
	 * 1023), so the smallest pool takes the largest cache. */
	CHECK(parse(MIN_CONFIG "[mempool]\nmbufs = 1023\ncache = 512\n", &c) ==
	      0);
	EXPECT_ERR(MIN_CONFIG "[mempool]\ncache = 513\n",
	           "t.ini:13: [mempool] cache:", "out of range 0..512");
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = 9000\n",
	           "t.ini: [mempool] data_room:", "needs mtu + 14 + 128 headroom = 9142");
	CHECK(parse(MIN_CONFIG "[dataplane]\nmtu = 2034\n", &c) == 0);
	CHECK(parse(MIN_CONFIG "[dataplane]\nmtu = 2035\n", &c) == -1);

	/* The first error wins even when later lines are also wrong. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmtu = x\n[bogus]\n",
	           "t.ini:13: [dataplane] mtu:", "not a decimal integer");
}

static void test_eal_args_safe(void)
{
	static const struct {
		const char *args;
		bool safe;
	} cases[] = {
		{"--no-pci", true},
		{"  --no-huge\t--no-pci\n", true},
		{"-l 0-1 --no-pci --vdev net_null0", true},
		{"-a 0000:01:00.0", true},
		{"-a 01:00.0 -l 0", true},
		{"-a0000:01:00.0", true},
		{"--allow 0000:01:00.0", true},
		{"--allow=0000:01:00.0", true},
		{"-w 0000:01:00.0", true},
		{"-w0000:01:00.0", true},
		{"--pci-whitelist 0000:01:00.0", true},
		{"--pci-whitelist=0000:01:00.0", true},
		{"", false},
		{"   ", false},
		{"--no-huge --vdev net_null0", false},
		{"--no-pcix", false},
		{"--no-pci=1", false},
		{"-no-pci", false},
		{"no-pci", false},
		{"-allow", false},
		{"--allowed 0000:01:00.0", false},
		{"-a", false},
		{"--no-huge -a", false},
		{"--allow", false},
		{"--allow=", false},
		{"-w", false},
		{"--pci-whitelist", false},
		{"--pci-whitelist=", false},
		{"-a --no-huge", false},
		{"--allow=-l", false},
		{"-b 0000:01:00.0", false},
		{"-A 0000:01:00.0", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = loom_eal_args_safe(cases[i].args);
		if (got != cases[i].safe)
			fprintf(stderr, "loom_eal_args_safe(\"%s\") = %d\n",
			        cases[i].args, got);
		CHECK(got == cases[i].safe);
	}
	CHECK(!loom_eal_args_safe(NULL));
}

static void test_load_errors(void)
{
	struct loom_config c;
	const char *path = LOOM_SOURCE_DIR "/hw-configs/no-such-profile.ini";
	CHECK(loom_config_load(path, &c, err, sizeof err) == -1);
	CHECK_STR_CONTAINS(err, path);
	CHECK_STR_CONTAINS(err, ": cannot open: ");
	CHECK_STR_CONTAINS(err, strerror(ENOENT));

	/* Through a real file: the name in messages is the path given. */
	char tmp[] = "/tmp/loom-test-config-XXXXXX";
	int fd = mkstemp(tmp);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	FILE *f = fdopen(fd, "w");
	fputs(MIN_CONFIG "[dataplane]\nmtu = 12a\n", f);
	fclose(f);
	CHECK(loom_config_load(tmp, &c, err, sizeof err) == -1);
	char want[64];
	snprintf(want, sizeof want, "%s:13: [dataplane] mtu:", tmp);
	CHECK_STR_CONTAINS(err, want);

	/* A NUL byte would otherwise end the text early, silently. */
	f = fopen(tmp, "wb");
	fwrite(MIN_CONFIG "[node]\nclus\0ter_id = 1\n",
	       sizeof(MIN_CONFIG "[node]\nclus\0ter_id = 1\n") - 1, 1, f);
	fclose(f);
	CHECK(loom_config_load(tmp, &c, err, sizeof err) == -1);
	snprintf(want, sizeof want, "%s:13: contains a NUL byte", tmp);
	CHECK_STR_CONTAINS(err, want);

	f = fopen(tmp, "w");
	fputs(MIN_CONFIG, f);
	fclose(f);
	CHECK(loom_config_load(tmp, &c, err, sizeof err) == 0);
	CHECK_EQ_U64(c.node_id, 1);
	remove(tmp);
}

/* Every profile in hw-configs/ must load: a profile added later is checked
 * without touching this file. */
static void test_all_profiles(void)
{
	const char *dir = LOOM_SOURCE_DIR "/hw-configs";
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct loom_config c;
		int rc = loom_config_load(path, &c, err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "profile %s: %s\n", e->d_name, err);
		CHECK(rc == 0);
		/* A real-machine profile authenticates; only the test
		 * profile may run open. */
		if (rc == 0 && strcmp(e->d_name, "veth.ini") != 0) {
			if (c.auth_mode != LOOM_AUTH_BASIC || c.n_users < 1)
				fprintf(stderr, "profile %s: not auth = basic "
				        "with a user\n", e->d_name);
			CHECK(c.auth_mode == LOOM_AUTH_BASIC && c.n_users >= 1);
		}
		n++;
	}
	closedir(d);
	CHECK(n >= 1);
}

/* [tcp] and [test]: defaults, a full set, and the cross-field rules. */
static void test_tcp_and_test_sections(void)
{
	struct loom_config c;
	CHECK(parse(MIN_CONFIG, &c) == 0);
	CHECK_EQ_U64(c.tcp_max_conns, 4096);
	CHECK_EQ_U64(c.tcp_sndbuf, 16384);
	CHECK_EQ_U64(c.tcp_rcvbuf, 16384);
	CHECK_EQ_U64(c.tcp_syn_backlog, 256);
	CHECK_EQ_U64(c.tcp_time_wait_ms, 2000);
	CHECK_EQ_U64(c.tcp_rto_init_ms, 1000);
	CHECK_EQ_U64(c.tcp_rto_min_ms, 200);
	CHECK_EQ_U64(c.tcp_rto_max_ms, 60000);
	CHECK_EQ_U64(c.tcp_delack_ms, 40);
	CHECK_EQ_U64(c.test_echo_port, 0);
	CHECK_EQ_U64(c.test_connect_count, 0);

	CHECK(parse(MIN_CONFIG "[tcp]\nmax_conns = 2048\nsndbuf = 262144\n"
	            "rcvbuf = 131072\nsyn_backlog = 128\ntime_wait_ms = 500\n"
	            "rto_init_ms = 300\nrto_min_ms = 50\nrto_max_ms = 5000\n"
	            "delack_ms = 10\nmax_retries = 8\nsyn_retries = 3\n"
	            "[test]\necho_port = 7\nconnect = 10.0.0.101:5001\n"
	            "connect_count = 50\n", &c) == 0);
	CHECK_EQ_U64(c.tcp_max_conns, 2048);
	CHECK_EQ_U64(c.tcp_sndbuf, 262144);
	CHECK_EQ_U64(c.tcp_rcvbuf, 131072);
	CHECK_EQ_U64(c.tcp_syn_backlog, 128);
	CHECK_EQ_U64(c.tcp_time_wait_ms, 500);
	CHECK_EQ_U64(c.tcp_rto_init_ms, 300);
	CHECK_EQ_U64(c.tcp_rto_min_ms, 50);
	CHECK_EQ_U64(c.tcp_rto_max_ms, 5000);
	CHECK_EQ_U64(c.tcp_delack_ms, 10);
	CHECK_EQ_U64(c.tcp_max_retries, 8);
	CHECK_EQ_U64(c.tcp_syn_retries, 3);
	CHECK_EQ_U64(c.test_echo_port, 7);
	CHECK_EQ_U64(c.test_connect_ip_be, be(10, 0, 0, 101));
	CHECK_EQ_U64(c.test_connect_port, 5001);
	CHECK_EQ_U64(c.test_connect_count, 50);

	EXPECT_ERR(MIN_CONFIG "[tcp]\nsndbuf = 100000\n", "t.ini:13: [tcp] sndbuf:",
	           "not a power of two");
	EXPECT_ERR(MIN_CONFIG "[tcp]\nmax_conns = 8\n", "t.ini:13: [tcp] max_conns:",
	           "out of range");
	EXPECT_ERR(MIN_CONFIG "[tcp]\nrto_min_ms = 2000\n", "t.ini: [tcp] rto_min_ms:",
	           "above rto_init_ms");
	EXPECT_ERR(MIN_CONFIG "[tcp]\nrto_max_ms = 500\n", "t.ini: [tcp] rto_max_ms:",
	           "below rto_init_ms");
	EXPECT_ERR(MIN_CONFIG "[test]\necho_port = 9926\n",
	           "t.ini: [test] echo_port:", "also http_port");
	EXPECT_ERR(MIN_CONFIG "[test]\nconnect_count = 3\n",
	           "t.ini: [test] connect_count:", "needs [test] connect");
	EXPECT_ERR(MIN_CONFIG "[test]\nconnect = 10.0.0.1\n", "t.ini:13: [test] connect:",
	           "A.B.C.D:P");
	EXPECT_ERR(MIN_CONFIG "[test]\nconnect = 10.0.0.1:0\n", "t.ini:13: [test] connect:",
	           "port must be 1..65535");
	EXPECT_ERR(MIN_CONFIG "[test]\nconnect = 224.0.0.1:80\n",
	           "t.ini:13: [test] connect:", "not a unicast");
}

/* [host] expectations and [dataplane] flow_isolate. */
static void test_host_section(void)
{
	struct loom_config c;
	CHECK(parse(MIN_CONFIG, &c) == 0);
	CHECK(!c.flow_isolate);
	CHECK_EQ_U64(c.host_numa_node, (uint64_t)(int64_t)-1);
	CHECK(c.host_isolcpus[0] == '\0');
	CHECK(parse(MIN_CONFIG "flow_isolate = yes\n[host]\nisolcpus = 2-7,10\n"
	            "nohz_full = 2-7\nirq_cpus = 0-1\nhugepage_size = 1G\n"
	            "hugepages = 8\nnuma_node = 1\ngovernor = performance\n"
	            "thp = madvise\niommu = pt\nnic = 0000:3b:00.0\n"
	            "nic_driver = vfio-pci\n", &c) == -1);
	/* flow_isolate belongs to [dataplane], not to [http] (where
	 * MIN_CONFIG ends). */
	CHECK_STR_CONTAINS(err, "[http] flow_isolate: unknown key");
	CHECK(parse(MIN_CONFIG "[dataplane]\nflow_isolate = yes\n[host]\n"
	            "isolcpus = 2-7,10\nnohz_full = 2-7\nirq_cpus = 0-1\n"
	            "hugepage_size = 1G\nhugepages = 8\nnuma_node = 1\n"
	            "governor = performance\nthp = madvise\niommu = pt\n"
	            "nic = 0000:3b:00.0\nnic_driver = vfio-pci\n", &c) == 0);
	CHECK(c.flow_isolate);
	CHECK(strcmp(c.host_isolcpus, "2-7,10") == 0);
	CHECK(strcmp(c.host_nohz_full, "2-7") == 0);
	CHECK(strcmp(c.host_irq_cpus, "0-1") == 0);
	CHECK(strcmp(c.host_hugepage_size, "1G") == 0);
	CHECK_EQ_U64(c.host_hugepages, 8);
	CHECK_EQ_U64(c.host_numa_node, 1);
	CHECK(strcmp(c.host_governor, "performance") == 0);
	CHECK(strcmp(c.host_thp, "madvise") == 0);
	CHECK(strcmp(c.host_iommu, "pt") == 0);
	CHECK(strcmp(c.host_nic, "0000:3b:00.0") == 0);
	CHECK(strcmp(c.host_nic_driver, "vfio-pci") == 0);

	EXPECT_ERR(MIN_CONFIG "[dataplane]\nflow_isolate = maybe\n",
	           "t.ini:13: [dataplane] flow_isolate:", "not true or false");
	EXPECT_ERR(MIN_CONFIG "[host]\nisolcpus = 2-\n", "t.ini:13: [host] isolcpus:",
	           "not a CPU list");
	EXPECT_ERR(MIN_CONFIG "[host]\nisolcpus = 1,,2\n", "t.ini:13: [host] isolcpus:",
	           "not a CPU list");
	EXPECT_ERR(MIN_CONFIG "[host]\nhugepage_size = 4M\n",
	           "t.ini:13: [host] hugepage_size:", "not one of 2M, 1G");
	EXPECT_ERR(MIN_CONFIG "[host]\nthp = sometimes\n", "t.ini:13: [host] thp:",
	           "not one of never, madvise, always");
	EXPECT_ERR(MIN_CONFIG "[host]\nnuma_node = 64\n", "t.ini:13: [host] numa_node:",
	           "not a NUMA node");
}

static uint64_t field(const struct loom_config *c, size_t off, size_t size)
{
	const unsigned char *p = (const unsigned char *)c + off;
	if (size == 2) {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

#define HTTP_FIELD(f)                                                        \
	offsetof(struct loom_config, f), sizeof(((struct loom_config *)0)->f)

/* [http]: every integer key's bounds and malformed values, auth, and the
 * two whole-file rules (head within rcvbuf; basic needs a user). */
static void test_http_section(void)
{
	static const struct {
		const char *key;
		uint64_t lo, hi, def;
		size_t off, size;
	} keys[] = {
		{"max_header_bytes", 1024, 65536, 8192,
		 HTTP_FIELD(http_max_header_bytes)},
		{"max_headers", 8, 256, 64, HTTP_FIELD(http_max_headers)},
		{"header_timeout_ms", 100, 600000, 10000,
		 HTTP_FIELD(http_header_timeout_ms)},
		{"idle_timeout_ms", 100, 3600000, 60000,
		 HTTP_FIELD(http_idle_timeout_ms)},
		{"backpressure_timeout_ms", 1, 600000, 5000,
		 HTTP_FIELD(http_backpressure_ms)},
		{"max_inflight", 1, 1024, 32, HTTP_FIELD(http_max_inflight)},
		{"write_pool", 64, 1048576, 8192, HTTP_FIELD(http_write_pool)},
		{"large_pool", 4, 65536, 64, HTTP_FIELD(http_large_pool)},
	};
	struct loom_config c;
	char text[1024], where[96];
	CHECK(parse(MIN_CONFIG, &c) == 0);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		CHECK_EQ_U64(field(&c, keys[i].off, keys[i].size), keys[i].def);
		/* rcvbuf 65536 lets max_header_bytes reach its maximum;
		 * the key sits on line 15. */
		const uint64_t ok[] = {keys[i].lo, keys[i].hi,
		                       (keys[i].lo + keys[i].hi) / 2};
		for (size_t j = 0; j < 3; j++) {
			snprintf(text, sizeof text, MIN_CONFIG "[tcp]\nrcvbuf = "
			         "65536\n[http]\n%s = %" PRIu64 "\n", keys[i].key,
			         ok[j]);
			struct loom_config k;
			int rc = parse(text, &k);
			if (rc != 0)
				fprintf(stderr, "%s\n", err);
			CHECK(rc == 0);
			if (rc == 0)
				CHECK_EQ_U64(field(&k, keys[i].off, keys[i].size),
				             ok[j]);
		}
		snprintf(where, sizeof where, "t.ini:15: [http] %s:", keys[i].key);
		const uint64_t out[] = {keys[i].lo - 1, keys[i].hi + 1,
		                        (uint64_t)1 << 32};
		for (size_t j = 0; j < 3; j++) {
			snprintf(text, sizeof text, MIN_CONFIG "[tcp]\nrcvbuf = "
			         "65536\n[http]\n%s = %" PRIu64 "\n", keys[i].key,
			         out[j]);
			EXPECT_ERR(text, where, "is out of range");
		}
		static const char *const junk[] = {"", "x", "-1", "+5", "1e3",
		                                   "0x10", "1 0", "5ms"};
		for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
			snprintf(text, sizeof text, MIN_CONFIG "[tcp]\nrcvbuf = "
			         "65536\n[http]\n%s = %s\n", keys[i].key, junk[j]);
			EXPECT_ERR(text, where, "is not a decimal integer");
		}
		/* Set once only, like every key. */
		snprintf(text, sizeof text, MIN_CONFIG "%s = %" PRIu64 "\n"
		         "[http]\n%s = %" PRIu64 "\n", keys[i].key, keys[i].lo,
		         keys[i].key, keys[i].lo);
		snprintf(where, sizeof where, "t.ini:14: [http] %s:", keys[i].key);
		EXPECT_ERR(text, where, "set twice (first on line 12");
	}
	/* [http] keys live in [http] only. */
	EXPECT_ERR(MIN_CONFIG "[dataplane]\nmax_inflight = 4\n",
	           "t.ini:13: [dataplane] max_inflight:", "unknown key");
	EXPECT_ERR(MIN_CONFIG "max_body = 4096\n", "t.ini:12: [http] max_body:",
	           "unknown key");

	/* auth. */
	EXPECT_ERR(NODE_LINES "[http]\nauth = Basic\n", "t.ini:11: [http] auth:",
	           "'Basic' is not basic or none");
	EXPECT_ERR(NODE_LINES "[http]\nauth = off\n", "t.ini:11: [http] auth:",
	           "not basic or none");
	EXPECT_ERR(NODE_LINES "[http]\nauth =\n", "t.ini:11: [http] auth:",
	           "not basic or none");
	EXPECT_ERR(MIN_CONFIG "auth = basic\n", "t.ini:12: [http] auth:",
	           "set twice");

	/* basic (the default) with no user: the whole-file check, with the
	 * way out in the message. */
	CHECK(parse(NODE_LINES, &c) == -1);
	CHECK(strcmp(err, "t.ini: [http] auth: basic (default) needs at least "
	                  "one user in [users]: add one (`loomctl passwd NAME` "
	                  "prints the line to paste), or set auth = none "
	                  "explicitly to serve the API without "
	                  "authentication") == 0);
	EXPECT_ERR(NODE_LINES "[http]\nauth = basic\n[users]\n",
	           "t.ini: [http] auth:", "basic (line 11) needs at least one "
	           "user in [users]");
	/* It is the last check: other mistakes are reported first. */
	EXPECT_ERR(NODE_LINES "[dataplane]\nrepl_port = 9926\n",
	           "t.ini: [dataplane] repl_port:", "also http_port");
	EXPECT_ERR(NODE_LINES "[http]\nmax_header_bytes = 32768\n",
	           "t.ini: [http] max_header_bytes:", "rcvbuf");

	/* A request head must fit the receive buffer. */
	CHECK(parse(MIN_CONFIG "max_header_bytes = 16384\n", &c) == 0);
	EXPECT_ERR(MIN_CONFIG "max_header_bytes = 16385\n",
	           "t.ini: [http] max_header_bytes:",
	           "16385 (line 12) is larger than [tcp] rcvbuf 16384 (default): "
	           "a request head must fit in the receive buffer");
	EXPECT_ERR(MIN_CONFIG "[tcp]\nrcvbuf = 4096\n",
	           "t.ini: [http] max_header_bytes:",
	           "8192 (default) is larger than [tcp] rcvbuf 4096 (line 13)");
	CHECK(parse(MIN_CONFIG "max_header_bytes = 4096\n[tcp]\nrcvbuf = 4096\n",
	            &c) == 0);
	CHECK(parse(MIN_CONFIG "max_header_bytes = 65536\n[tcp]\n"
	            "rcvbuf = 1048576\n", &c) == 0);
}

/* [users]: NAME = pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64. The first
 * user line of these cases is line 13. */
#define USERS_HEAD NODE_LINES "[http]\nauth = basic\n[users]\n"

static void test_users_section(void)
{
	struct loom_config c;
	char text[4096], where[128];

	int rc = parse(USERS_HEAD "admin = " GOOD_HASH "\n", &c);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	CHECK(c.auth_mode == LOOM_AUTH_BASIC);
	CHECK_EQ_U64(c.n_users, 1);
	CHECK(strcmp(c.users[0].name, "admin") == 0);
	CHECK_EQ_U64(c.users[0].iterations, 1000);
	CHECK_EQ_U64(c.users[0].salt_len, 16);
	bool salt_ok = true, hash_ok = true;
	for (unsigned i = 0; i < 16; i++)
		salt_ok &= c.users[0].salt[i] == i;
	for (unsigned i = 0; i < 32; i++)
		hash_ok &= c.users[0].hash[i] == 100 + i;
	CHECK(salt_ok && hash_ok);

	/* Several users, in file order; names with every allowed kind of
	 * character; the bounds of iterations and salt length; a comment
	 * after the value. */
	rc = parse(USERS_HEAD
	           "admin = " GOOD_HASH "\n"
	           "Ops_2.backup-x = pbkdf2-sha256$10000000$AAECAwQFBgc=$"
	           HASH32 " ; eight-byte salt\n"
	           "z = pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
	           "GBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==$"
	           HASH32 "\n"
	           "[users]\n"
	           "late = " GOOD_HASH "\n", &c);
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	CHECK_EQ_U64(c.n_users, 4);
	CHECK(strcmp(c.users[1].name, "Ops_2.backup-x") == 0);
	CHECK_EQ_U64(c.users[1].iterations, 10000000);
	CHECK_EQ_U64(c.users[1].salt_len, 8);
	CHECK_EQ_U64(c.users[2].salt_len, 64);
	CHECK_EQ_U64(c.users[2].salt[63], 63);
	CHECK(strcmp(c.users[3].name, "late") == 0);

	/* Users are kept with auth = none (and unused). */
	CHECK(parse(MIN_CONFIG "[users]\nadmin = " GOOD_HASH "\n", &c) == 0);
	CHECK(c.auth_mode == LOOM_AUTH_NONE);
	CHECK_EQ_U64(c.n_users, 1);

	/* A 63-character name is the longest. */
	char name[80];
	memset(name, 'u', 64);
	name[63] = '\0';
	snprintf(text, sizeof text, USERS_HEAD "%s = " GOOD_HASH "\n", name);
	CHECK(parse(text, &c) == 0);
	CHECK(strcmp(c.users[0].name, name) == 0);
	name[63] = 'u';
	name[64] = '\0';
	snprintf(text, sizeof text, USERS_HEAD "%s = " GOOD_HASH "\n", name);
	snprintf(where, sizeof where, "t.ini:13: [users] %.48s", name);
	EXPECT_ERR(text, where, "a user name is at most 63 characters");
	/* A 63-character name with a 64-byte salt no longer fits libinih's
	 * line (the limit is what the library reports). */
	name[63] = '\0';
	snprintf(text, sizeof text, USERS_HEAD "%s = pbkdf2-sha256$1000$"
	         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygp"
	         "KissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==$" HASH32 "\n", name);
	EXPECT_ERR(text, "t.ini:13: [users]", "line too long");

	/* 32 users at most. */
	int n = snprintf(text, sizeof text, USERS_HEAD);
	for (int i = 0; i < LOOM_MAX_USERS; i++)
		n += snprintf(text + n, sizeof text - (size_t)n,
		              "u%d = " GOOD_HASH "\n", i);
	CHECK(parse(text, &c) == 0);
	CHECK_EQ_U64(c.n_users, LOOM_MAX_USERS);
	CHECK(strcmp(c.users[31].name, "u31") == 0);
	snprintf(text + n, sizeof text - (size_t)n, "u32 = " GOOD_HASH "\n");
	EXPECT_ERR(text, "t.ini:45: [users] u32:", "more than 32 users");

	/* Duplicates (names are case-sensitive). */
	EXPECT_ERR(USERS_HEAD "admin = " GOOD_HASH "\nAdmin = " GOOD_HASH
	           "\n[users]\nadmin = " GOOD_HASH "\n",
	           "t.ini:16: [users] admin:",
	           "user listed twice (first on line 13, again on line 16)");

	/* Names. */
	EXPECT_ERR(USERS_HEAD "a:b = " GOOD_HASH "\n", "t.ini:13: [users]",
	           "'a:b' is not a user name ([A-Za-z0-9_.-]{1,63})");
	EXPECT_ERR(USERS_HEAD "a b = " GOOD_HASH "\n", "t.ini:13: [users]",
	           "'a b' is not a user name");
	EXPECT_ERR(USERS_HEAD "a/b = " GOOD_HASH "\n", "t.ini:13: [users]",
	           "is not a user name");
	EXPECT_ERR(USERS_HEAD "\xc3\xa9 = " GOOD_HASH "\n", "t.ini:13: [users]",
	           "is not a user name");
	EXPECT_ERR(USERS_HEAD "= " GOOD_HASH "\n", "t.ini:13: [users]",
	           "key name is missing");
	/* ... and '.' or '-' are still not key characters elsewhere. */
	EXPECT_ERR(MIN_CONFIG "max.inflight = 4\n", "t.ini:12: [http]",
	           "'max.inflight' is not a key name");

	/* Values. The value itself is never echoed: it may be a password. */
	static const struct {
		const char *value, *what;
	} bad[] = {
		{"hunter2", "the value is not pbkdf2-sha256$ITERATIONS$SALT_B64"
		            "$HASH_B64 (`loomctl passwd admin` prints the line; "
		            "a plain password is never accepted)"},
		{"", "the value is not pbkdf2-sha256$"},
		{"$$$", "the value is not pbkdf2-sha256$"},
		{"pbkdf2-sha1$1000$" SALT16 "$" HASH32,
		 "the value is not pbkdf2-sha256$"},
		{"PBKDF2-SHA256$1000$" SALT16 "$" HASH32,
		 "the value is not pbkdf2-sha256$"},
		{"pbkdf2-sha256$1000$" SALT16, "the value is not pbkdf2-sha256$"},
		{"pbkdf2-sha256$1000$" SALT16 "$" HASH32 "$",
		 "the value is not pbkdf2-sha256$"},
		{"pbkdf2-sha256$1000$" SALT16 "$" HASH32 "$x",
		 "the value is not pbkdf2-sha256$"},
		{"pbkdf2-sha256$$" SALT16 "$" HASH32,
		 "iterations '' is not a decimal integer"},
		{"pbkdf2-sha256$1e3$" SALT16 "$" HASH32,
		 "iterations '1e3' is not a decimal integer"},
		{"pbkdf2-sha256$-1000$" SALT16 "$" HASH32,
		 "is not a decimal integer"},
		{"pbkdf2-sha256$999$" SALT16 "$" HASH32,
		 "iterations '999' is out of range 1000..10000000"},
		{"pbkdf2-sha256$10000001$" SALT16 "$" HASH32,
		 "iterations '10000001' is out of range"},
		{"pbkdf2-sha256$99999999999999999999999$" SALT16 "$" HASH32,
		 "is out of range"},
		{"pbkdf2-sha256$1000$$" HASH32,
		 "the salt is not standard base64 with padding"},
		{"pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$" HASH32,
		 "the salt is not standard base64"},
		{"pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0OD-==$" HASH32,
		 "the salt is not standard base64"},
		{"pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODx==$" HASH32,
		 "the salt is not standard base64"},
		{"pbkdf2-sha256$1000$AAEC AwQFBgcICQoLDA0ODw==$" HASH32,
		 "the salt is not standard base64"},
		{"pbkdf2-sha256$1000$AAECAwQFBg==$" HASH32,
		 "the salt is 7 bytes, must be 8..64"},
		{"pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
		 "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=$" HASH32,
		 "the salt is 65 bytes, must be 8..64"},
		{"pbkdf2-sha256$1000$" SALT16 "$",
		 "the hash is not standard base64 with padding"},
		{"pbkdf2-sha256$1000$" SALT16
		 "$ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgg==",
		 "the hash is 31 bytes, must be 32 (PBKDF2-HMAC-SHA256)"},
		{"pbkdf2-sha256$1000$" SALT16
		 "$ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOE",
		 "the hash is 33 bytes, must be 32"},
		{"pbkdf2-sha256$1000$" SALT16
		 "$ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoN=",
		 "the hash is not standard base64"},
		{"pbkdf2-sha256$1000$" SALT16
		 "$ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM",
		 "the hash is not standard base64"},
		{"pbkdf2-sha256$1000$" SALT16
		 "$ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1_f4CBgoM=",
		 "the hash is not standard base64"},
		{"pbkdf2-sha256$1000$" SALT16 "$" SALT16,
		 "the hash is 16 bytes, must be 32"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, USERS_HEAD "admin = %s\n",
		         bad[i].value);
		EXPECT_ERR(text, "t.ini:13: [users] admin: ", bad[i].what);
		CHECK(strstr(err, "hunter2") == NULL);
		CHECK(strstr(err, "ZGVmZ2hp") == NULL);
		CHECK(strstr(err, "AAECAwQF") == NULL);
	}

	/* Only [eal] args continues on indented lines. */
	EXPECT_ERR(USERS_HEAD "admin = " GOOD_HASH "\n  " HASH32 "\n",
	           "t.ini:14: [users] admin:",
	           "indented line would continue this value, but only [eal] "
	           "args may span lines");
	CHECK(strstr(err, "ZGVmZ2hp") == NULL);
}

/* [repl] and [control] (docs/REPLICATION.md, docs/CONTROL.md). */
static void test_repl_sections(void)
{
	struct loom_config c;
	CHECK(parse(MIN_CONFIG, &c) == 0);
	CHECK(c.control_socket[0] == '\0');
	CHECK(!loom_config_replicates(&c));
	CHECK_EQ_U64(c.repl_batch_max, 256);
	CHECK_EQ_U64(c.repl_window, 8192);
	CHECK_EQ_U64(c.repl_ping_ms, 1000);
	CHECK_EQ_U64(c.repl_dead_ms, 5000);
	CHECK_EQ_U64(c.repl_max_frame, 1048576);
	CHECK_EQ_U64(c.repl_log_retention_ms, 86400000);
	CHECK_EQ_U64(c.repl_prune_interval_ms, 1000);

	/* Log retention: 0 (prune as soon as acknowledged) up to 365 days,
	 * which needs the u64 (past 2^32 ms); the prune period. */
	CHECK(parse(MIN_CONFIG "[repl]\nlog_retention_ms = 0\n"
	            "prune_interval_ms = 10\n", &c) == 0);
	CHECK_EQ_U64(c.repl_log_retention_ms, 0);
	CHECK_EQ_U64(c.repl_prune_interval_ms, 10);
	CHECK(parse(MIN_CONFIG "[repl]\nlog_retention_ms = 31536000000\n"
	            "prune_interval_ms = 600000\n", &c) == 0);
	CHECK_EQ_U64(c.repl_log_retention_ms, UINT64_C(31536000000));
	CHECK_EQ_U64(c.repl_prune_interval_ms, 600000);
	CHECK(parse(MIN_CONFIG "[repl]\nlog_retention_ms = 4294967296\n",
	            &c) == 0);
	CHECK_EQ_U64(c.repl_log_retention_ms, UINT64_C(4294967296));
	EXPECT_ERR(MIN_CONFIG "[repl]\nlog_retention_ms = 31536000001\n",
	           "t.ini:13: [repl] log_retention_ms:",
	           "out of range 0..31536000000");
	EXPECT_ERR(MIN_CONFIG "[repl]\nlog_retention_ms = "
	           "99999999999999999999999\n",
	           "t.ini:13: [repl] log_retention_ms:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[repl]\nlog_retention_ms = -1\n",
	           "t.ini:13: [repl] log_retention_ms:",
	           "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[repl]\nlog_retention_ms = 1d\n",
	           "t.ini:13: [repl] log_retention_ms:",
	           "not a decimal integer");
	EXPECT_ERR(MIN_CONFIG "[repl]\nprune_interval_ms = 9\n",
	           "t.ini:13: [repl] prune_interval_ms:",
	           "out of range 10..600000");
	EXPECT_ERR(MIN_CONFIG "[repl]\nprune_interval_ms = 600001\n",
	           "t.ini:13: [repl] prune_interval_ms:", "out of range");
	EXPECT_ERR(MIN_CONFIG "[repl]\nprune_interval_ms = 100\n"
	           "prune_interval_ms = 200\n",
	           "t.ini:14: [repl] prune_interval_ms:", "set twice");

	/* A node of a cluster: lines 10.. are [lcores] repl, [repl],
	 * [control]; its peers and keys come from loom-controld. */
#define REPL_OK                                                              \
	NODE_LINES "repl = 2\nstorage = 3\n[http]\nauth = none\n"            \
	"[repl]\nbatch_max = 64\n[control]\nsocket = /run/loom/loomd.sock\n"
	CHECK(parse(REPL_OK, &c) == 0);
	CHECK(strcmp(c.control_socket, "/run/loom/loomd.sock") == 0);
	CHECK(loom_config_replicates(&c));
	CHECK_EQ_U64(c.repl_batch_max, 64);
	EXPECT_ERR(MIN_CONFIG "[control]\nsocket = /run/loom/loomd.sock\n",
	           "[lcores] repl", "needs a repl lcore");
	EXPECT_ERR(MIN_CONFIG "[control]\nsocket = loomd.sock\n",
	           "t.ini:13: [control] socket:", "not an absolute path");
	/* The static peers of before loom-controld are refused, saying
	 * where peers and keys come from now. */
	EXPECT_ERR(REPL_OK "[peers]\n2 = 10.0.0.12\n", "t.ini:18: [peers]",
	           "loom-controld");
	EXPECT_ERR(NODE_LINES "repl = 2\nstorage = 3\n[http]\nauth = none\n"
	           "[repl]\nsecret_file = /etc/loom/cluster.key\n",
	           "t.ini:15: [repl] secret_file:", "loom-controld");
	EXPECT_ERR(MIN_CONFIG "[repl]\nping_interval_ms = 5000\n"
	           "dead_after_ms = 5000\n", "[repl] dead_after_ms",
	           "must be above ping_interval_ms");
	EXPECT_ERR(MIN_CONFIG "[storage]\nmax_body = 1048576\n",
	           "[repl] max_frame", "cannot carry one entry");
	EXPECT_ERR(MIN_CONFIG "[repl]\nwindow = 8\n", "t.ini:13: [repl] window:",
	           "is out of range");
}

int main(void)
{
	test_veth_profile();
	test_defaults();
	test_every_key();
	test_syntax();
	test_exact_format();
	test_errors();
	test_eal_args_safe();
	test_load_errors();
	test_all_profiles();
	test_tcp_and_test_sections();
	test_host_section();
	test_http_section();
	test_users_section();
	test_repl_sections();
	CHECK_DONE();
}

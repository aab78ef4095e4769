/*
 * test_topology.c - the cluster topology (control/topology.c): adding,
 * removing and finding nodes, every refusal (each unique field, each bad
 * field, a full topology, a version at its end), the canonical text byte
 * for byte, a list of texts that are not canonical and must be refused,
 * the file in a mkdtemp directory (atomic, mode 0600, ENOENT when absent)
 * and the adopt rule.
 */
#include "check.h"
#include "control/topology.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLUSTER 0x0123456789abcdefULL

/* The text of the example in topology.h and docs/CONTROL.md. */
static const char golden[] =
	"loom-topology 1\n"
	"cluster 0123456789abcdef\n"
	"version 7\n"
	"node 1 n1 10.78.0.11:9925 10.77.0.11\n"
	"node 2 n2 10.78.0.12:9925 10.77.0.12\n";

static uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 |
	             (uint32_t)d);
}

/* Node i of the usual test cluster: n<i>, 10.78.0.<10+i>:9925,
 * 10.77.0.<10+i>. */
static struct topo_node node(uint16_t i)
{
	struct topo_node n;
	memset(&n, 0, sizeof n);
	n.id = i;
	snprintf(n.name, sizeof n.name, "n%u", i);
	n.mgmt_ip_be = ip(10, 78, 0, 10 + i);
	n.mgmt_port = TOPO_MGMT_PORT;
	n.dp_ip_be = ip(10, 77, 0, 10 + i);
	return n;
}

static int add(struct topology *t, struct topo_node n)
{
	char err[256];
	int r = topo_add(t, &n, err, sizeof err);
	if (r != 0)
		fprintf(stderr, "  (add %u: %s)\n", n.id, err);
	return r;
}

/* The text of t, or "" (and a failed check) if it does not encode. */
static const char *text(const struct topology *t, char buf[TOPO_TEXT_MAX])
{
	size_t len = 0;
	int r = topo_encode(t, buf, TOPO_TEXT_MAX, &len);
	CHECK(r == 0);
	if (r != 0)
		buf[0] = '\0';
	else
		CHECK_EQ_U64(len, strlen(buf));
	return buf;
}

static void test_add_remove_find(void)
{
	struct topology t;
	char err[256];

	topo_init(&t, CLUSTER);
	CHECK_EQ_U64(t.version, 0);
	CHECK_EQ_U64(t.cluster_id, CLUSTER);
	CHECK_EQ_U64(t.n, 0);
	CHECK(topo_find_id(&t, 1) == NULL);
	CHECK(topo_find_name(&t, "n1") == NULL);

	/* Out of order in, sorted by id inside, one version per change. */
	CHECK(add(&t, node(3)) == 0);
	CHECK_EQ_U64(t.version, 1);
	CHECK(add(&t, node(1)) == 0);
	CHECK(add(&t, node(2)) == 0);
	CHECK_EQ_U64(t.version, 3);
	CHECK_EQ_U64(t.n, 3);
	CHECK(t.nodes[0].id == 1 && t.nodes[1].id == 2 && t.nodes[2].id == 3);

	const struct topo_node *f = topo_find_id(&t, 2);
	CHECK(f != NULL && strcmp(f->name, "n2") == 0);
	CHECK(f != NULL && f->mgmt_ip_be == ip(10, 78, 0, 12) &&
	      f->mgmt_port == 9925 && f->dp_ip_be == ip(10, 77, 0, 12));
	CHECK(topo_find_name(&t, "n3") == &t.nodes[2]);
	CHECK(topo_find_name(&t, "N3") == NULL); /* case-sensitive */
	CHECK(topo_find_name(&t, "n") == NULL);
	CHECK(topo_find_name(&t, "n33") == NULL);
	CHECK(topo_find_name(&t, NULL) == NULL);
	CHECK(topo_find_id(&t, 4) == NULL);
	CHECK(topo_find_id(&t, 0) == NULL);

	/* Removing: the middle one, then an absent one changes nothing. */
	CHECK(topo_remove(&t, 2) == 0);
	CHECK_EQ_U64(t.version, 4);
	CHECK_EQ_U64(t.n, 2);
	CHECK(t.nodes[0].id == 1 && t.nodes[1].id == 3);
	CHECK(topo_find_name(&t, "n2") == NULL);
	CHECK(topo_remove(&t, 2) == ENOENT);
	CHECK(topo_remove(&t, 0) == ENOENT);
	CHECK_EQ_U64(t.version, 4);
	CHECK_EQ_U64(t.n, 2);

	/* A removed node's id, name and addresses are free again. */
	CHECK(add(&t, node(2)) == 0);
	CHECK_EQ_U64(t.version, 5);
	CHECK(topo_remove(&t, 1) == 0 && topo_remove(&t, 2) == 0 &&
	      topo_remove(&t, 3) == 0);
	CHECK_EQ_U64(t.n, 0);
	CHECK_EQ_U64(t.version, 8);

	/* The name is copied up to its NUL, whatever follows it. */
	struct topo_node g = node(9);
	memset(g.name, 'x', sizeof g.name);
	memcpy(g.name, "n9", 3);
	CHECK(topo_add(&t, &g, err, sizeof err) == 0);
	f = topo_find_id(&t, 9);
	CHECK(f != NULL && strcmp(f->name, "n9") == 0 && f->name[3] == '\0' &&
	      f->name[TOPO_NAME_MAX] == '\0');
}

/* Each unique field refused alone, with the holder named; a refusal leaves
 * the topology as it was. */
static void test_unique(void)
{
	struct topology t;
	struct topo_node n;
	char err[256];

	topo_init(&t, CLUSTER);
	CHECK(add(&t, node(1)) == 0);
	CHECK(add(&t, node(2)) == 0);

	n = node(5);
	n.id = 2;
	CHECK(topo_add(&t, &n, err, sizeof err) == EEXIST);
	CHECK(strcmp(err, "node id 2 is taken by n2") == 0);

	n = node(5);
	snprintf(n.name, sizeof n.name, "n2");
	CHECK(topo_add(&t, &n, err, sizeof err) == EEXIST);
	CHECK(strcmp(err, "node name n2 is taken by id 2") == 0);

	n = node(5);
	n.mgmt_ip_be = ip(10, 78, 0, 12);
	CHECK(topo_add(&t, &n, err, sizeof err) == EEXIST);
	CHECK(strcmp(err, "management address 10.78.0.12:9925 is taken by n2 "
	             "(id 2)") == 0);

	n = node(5);
	n.dp_ip_be = ip(10, 77, 0, 11);
	CHECK(topo_add(&t, &n, err, sizeof err) == EEXIST);
	CHECK(strcmp(err, "data-plane address 10.77.0.11 is taken by n1 "
	             "(id 1)") == 0);

	CHECK_EQ_U64(t.version, 2);
	CHECK_EQ_U64(t.n, 2);

	/* Pairs are unique, not their parts: one management IP with
	 * another port is a node of its own (several on one host), and a
	 * node's dp may equal another's management IP. */
	n = node(5);
	n.mgmt_ip_be = ip(10, 78, 0, 12);
	n.mgmt_port = 9926;
	n.dp_ip_be = ip(10, 78, 0, 11);
	CHECK(topo_add(&t, &n, err, sizeof err) == 0);
	CHECK_EQ_U64(t.version, 3);

	/* err may be NULL. */
	CHECK(topo_add(&t, &n, NULL, 0) == EEXIST);
}

static void test_invalid(void)
{
	struct topology t;
	struct topo_node n;
	char err[256];

	topo_init(&t, CLUSTER);
	CHECK(add(&t, node(1)) == 0);

	n = node(0);
	CHECK(topo_add(&t, &n, err, sizeof err) == EINVAL);
	CHECK_STR_CONTAINS(err, "id 0");

	static const char *bad_names[] = {
		"", ".", "..", "a b", "a/b", "n\xc3\xa9", "tab\t", "a:b",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		n = node(2);
		snprintf(n.name, sizeof n.name, "%s", bad_names[i]);
		if (strlen(bad_names[i]) >= sizeof n.name)
			memcpy(n.name, bad_names[i], sizeof n.name); /* no NUL */
		err[0] = '\0';
		CHECK(topo_add(&t, &n, err, sizeof err) == EINVAL);
		CHECK_STR_CONTAINS(err, "name");
	}
	n = node(2);
	snprintf(n.name, sizeof n.name, "%s",
	         "012345678901234567890123456789012345678901234567890123456789012");
	CHECK(strlen(n.name) == 63);
	CHECK(topo_add(&t, &n, err, sizeof err) == 0);
	n = node(3);
	snprintf(n.name, sizeof n.name, "...");
	CHECK(topo_add(&t, &n, err, sizeof err) == 0);
	n = node(4);
	snprintf(n.name, sizeof n.name, "Node-4_rack.2");
	CHECK(topo_add(&t, &n, err, sizeof err) == 0);

	uint32_t not_unicast[] = {
		ip(0, 0, 0, 0), ip(0, 1, 2, 3), ip(224, 0, 0, 1),
		ip(239, 255, 255, 255), ip(240, 0, 0, 1),
		ip(255, 255, 255, 255),
	};
	for (size_t i = 0; i < sizeof not_unicast / sizeof not_unicast[0];
	     i++) {
		n = node(9);
		n.mgmt_ip_be = not_unicast[i];
		CHECK(topo_add(&t, &n, err, sizeof err) == EINVAL);
		CHECK_STR_CONTAINS(err, "management address");
		n = node(9);
		n.dp_ip_be = not_unicast[i];
		CHECK(topo_add(&t, &n, err, sizeof err) == EINVAL);
		CHECK_STR_CONTAINS(err, "data-plane address");
	}
	n = node(9);
	n.mgmt_port = 0;
	CHECK(topo_add(&t, &n, err, sizeof err) == EINVAL);
	CHECK_STR_CONTAINS(err, "port");
	CHECK(topo_node_check(&n, NULL, 0) == EINVAL);

	/* The edges that are fine: loopback, 223.x, port 65535. */
	n = node(9);
	n.mgmt_ip_be = ip(127, 0, 0, 1);
	n.mgmt_port = 65535;
	n.dp_ip_be = ip(223, 255, 255, 255);
	CHECK(topo_node_check(&n, err, sizeof err) == 0);
	CHECK(topo_add(&t, &n, err, sizeof err) == 0);
	CHECK_EQ_U64(t.n, 5);
	CHECK_EQ_U64(t.version, 5);
}

static void test_full_and_overflow(void)
{
	struct topology t;
	char err[256];

	topo_init(&t, CLUSTER);
	for (uint16_t i = 1; i <= TOPO_MAX_NODES; i++)
		CHECK(add(&t, node(i)) == 0);
	CHECK_EQ_U64(t.n, TOPO_MAX_NODES);
	struct topo_node n = node(TOPO_MAX_NODES + 1);
	CHECK(topo_add(&t, &n, err, sizeof err) == ENOSPC);
	CHECK_STR_CONTAINS(err, "16 nodes");
	CHECK_EQ_U64(t.version, TOPO_MAX_NODES);

	/* The version never wraps to below a peer's. */
	topo_init(&t, CLUSTER);
	CHECK(add(&t, node(1)) == 0);
	t.version = UINT64_MAX;
	n = node(2);
	CHECK(topo_add(&t, &n, err, sizeof err) == EOVERFLOW);
	CHECK(topo_remove(&t, 1) == EOVERFLOW);
	CHECK_EQ_U64(t.n, 1);
	CHECK(t.version == UINT64_MAX);
	t.version = UINT64_MAX - 1;
	CHECK(topo_remove(&t, 1) == 0);
	CHECK(t.version == UINT64_MAX);
}

static void test_encode(void)
{
	struct topology t;
	char buf[TOPO_TEXT_MAX], small[sizeof golden];
	size_t len = 0;

	topo_init(&t, CLUSTER);
	t.version = 5;
	CHECK(add(&t, node(2)) == 0);
	CHECK(add(&t, node(1)) == 0);
	CHECK(strcmp(text(&t, buf), golden) == 0);

	/* cap must hold the NUL too. */
	CHECK(topo_encode(&t, small, sizeof golden, &len) == 0);
	CHECK_EQ_U64(len, sizeof golden - 1);
	CHECK(strcmp(small, golden) == 0);
	CHECK(topo_encode(&t, small, sizeof golden - 1, &len) == ENOBUFS);
	CHECK(topo_encode(&t, small, 1, NULL) == ENOBUFS);
	CHECK(topo_encode(&t, small, 0, NULL) == ENOBUFS);

	/* Empty, version 0, cluster 0. */
	topo_init(&t, 0);
	CHECK(strcmp(text(&t, buf), "loom-topology 1\n"
	             "cluster 0000000000000000\nversion 0\n") == 0);

	/* The longest text there is fits TOPO_TEXT_MAX and comes back. */
	topo_init(&t, UINT64_MAX);
	for (uint16_t i = 0; i < TOPO_MAX_NODES; i++) {
		struct topo_node n;
		memset(&n, 0, sizeof n);
		n.id = (uint16_t)(65535 - i);
		memset(n.name, 'a' + i, TOPO_NAME_MAX);
		n.mgmt_ip_be = ip(223, 255, 255, 255 - i);
		n.mgmt_port = 65535;
		n.dp_ip_be = ip(199, 255, 255, 255 - i);
		CHECK(add(&t, n) == 0);
	}
	t.version = UINT64_MAX;
	CHECK(topo_encode(&t, buf, sizeof buf, &len) == 0);
	CHECK_EQ_U64(len, 16 + 25 + 29 + 16 * 113);
	CHECK_STR_CONTAINS(buf, "cluster ffffffffffffffff\n"
	                   "version 18446744073709551615\nnode 65520 ");
	struct topology back;
	CHECK(topo_decode(buf, len, &back, NULL, 0) == 0);
	CHECK(back.version == UINT64_MAX && back.cluster_id == UINT64_MAX);
	CHECK_EQ_U64(back.n, TOPO_MAX_NODES);

	/* A struct that breaks an invariant is not written. */
	topo_init(&t, CLUSTER);
	CHECK(add(&t, node(1)) == 0);
	CHECK(add(&t, node(2)) == 0);
	struct topology bad = t;
	bad.nodes[1].id = 1;
	CHECK(topo_encode(&bad, buf, sizeof buf, &len) == EINVAL);
	bad = t;
	bad.nodes[1].dp_ip_be = bad.nodes[0].dp_ip_be;
	CHECK(topo_encode(&bad, buf, sizeof buf, &len) == EINVAL);
	bad = t;
	bad.n = TOPO_MAX_NODES + 1;
	CHECK(topo_encode(&bad, buf, sizeof buf, &len) == EINVAL);
	bad = t;
	bad.nodes[0].name[0] = ' ';
	CHECK(topo_encode(&bad, buf, sizeof buf, &len) == EINVAL);
}

static void test_decode(void)
{
	struct topology t;
	char buf[TOPO_TEXT_MAX], err[256];

	CHECK(topo_decode(golden, sizeof golden - 1, &t, err, sizeof err) == 0);
	CHECK(t.cluster_id == CLUSTER);
	CHECK_EQ_U64(t.version, 7);
	CHECK_EQ_U64(t.n, 2);
	const struct topo_node *n2 = topo_find_name(&t, "n2");
	CHECK(n2 != NULL && n2->id == 2 && n2->mgmt_ip_be == ip(10, 78, 0, 12) &&
	      n2->mgmt_port == 9925 && n2->dp_ip_be == ip(10, 77, 0, 12));
	CHECK(strcmp(text(&t, buf), golden) == 0);

	/* Other accepted texts, each its own encoding. */
	static const char *good[] = {
		"loom-topology 1\ncluster 0000000000000000\nversion 0\n",
		"loom-topology 1\ncluster ffffffffffffffff\n"
		"version 18446744073709551615\n",
		"loom-topology 1\ncluster 00000000000000a0\nversion 10\n"
		"node 7 a 1.0.0.0:1 9.0.0.0\n",
		"loom-topology 1\ncluster 00000000000000a0\nversion 10\n"
		"node 65535 ... 223.255.255.255:65535 127.0.0.1\n",
		"loom-topology 1\ncluster 00000000000000a0\nversion 10\n"
		"node 1 a 127.0.0.1:9925 10.0.0.1\n"
		"node 2 b 127.0.0.1:9926 10.0.0.2\n"
		"node 300 c-3 127.0.0.1:9927 127.0.0.1\n",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int r = topo_decode(good[i], strlen(good[i]), &t, err,
		                    sizeof err);
		if (r != 0)
			fprintf(stderr, "good[%zu]: %d (%s)\n", i, r, err);
		CHECK(r == 0);
		if (r == 0)
			CHECK(strcmp(text(&t, buf), good[i]) == 0);
	}
}

/* Texts a decoder must refuse: each differs from a canonical one in one
 * way. The topology passed in stays as it was. */
static void test_refused(void)
{
#define H "loom-topology 1\ncluster 0123456789abcdef\nversion 7\n"
#define N1 "node 1 n1 10.78.0.11:9925 10.77.0.11\n"
#define N2 "node 2 n2 10.78.0.12:9925 10.77.0.12\n"
	static const struct {
		const char *why;
		const char *text;
		size_t len; /* 0: strlen */
	} bad[] = {
		{"empty", "", 0},
		{"magic only", "loom-topology 1\n", 0},
		{"wrong magic", "loom-topology 2\ncluster 0123456789abcdef\n"
		                "version 7\n" N1, 0},
		{"magic case", "Loom-topology 1\ncluster 0123456789abcdef\n"
		               "version 7\n", 0},
		{"space after magic", "loom-topology 1 \ncluster "
		                      "0123456789abcdef\nversion 7\n", 0},
		{"CR after magic", "loom-topology 1\r\ncluster "
		                   "0123456789abcdef\nversion 7\n", 0},
		{"CRLF node", H "node 1 n1 10.78.0.11:9925 10.77.0.11\r\n", 0},
		{"BOM", "\xef\xbb\xbfloom-topology 1\ncluster 0123456789abcdef\n"
		        "version 7\n", 0},
		{"lines swapped", "loom-topology 1\nversion 7\ncluster "
		                  "0123456789abcdef\n", 0},
		{"cluster upper", "loom-topology 1\ncluster 0123456789ABCDEF\n"
		                  "version 7\n", 0},
		{"cluster short", "loom-topology 1\ncluster 123456789abcdef\n"
		                  "version 7\n", 0},
		{"cluster long", "loom-topology 1\ncluster 00123456789abcdef\n"
		                 "version 7\n", 0},
		{"cluster 0x", "loom-topology 1\ncluster 0x23456789abcdef\n"
		               "version 7\n", 0},
		{"two spaces", "loom-topology 1\ncluster  0123456789abcdef\n"
		               "version 7\n", 0},
		{"version leading zero", "loom-topology 1\ncluster "
		                         "0123456789abcdef\nversion 07\n", 0},
		{"version 00", "loom-topology 1\ncluster 0123456789abcdef\n"
		               "version 00\n", 0},
		{"version plus", "loom-topology 1\ncluster 0123456789abcdef\n"
		                 "version +7\n", 0},
		{"version minus", "loom-topology 1\ncluster 0123456789abcdef\n"
		                  "version -7\n", 0},
		{"version empty", "loom-topology 1\ncluster 0123456789abcdef\n"
		                  "version \n", 0},
		{"version 2^64", "loom-topology 1\ncluster 0123456789abcdef\n"
		                 "version 18446744073709551616\n", 0},
		{"version hex", "loom-topology 1\ncluster 0123456789abcdef\n"
		                "version 0x7\n", 0},
		{"version trailing space", "loom-topology 1\ncluster "
		                           "0123456789abcdef\nversion 7 \n", 0},
		{"missing final newline", H "node 1 n1 10.78.0.11:9925 "
		                          "10.77.0.11", 0},
		{"missing newline after version", "loom-topology 1\ncluster "
		                                  "0123456789abcdef\nversion 7", 0},
		{"blank line at end", H N1 "\n", 0},
		{"blank line between", H "\n" N1, 0},
		{"trailing garbage", H N1 "x", 0},
		{"trailing NUL", H N1 "\0", sizeof(H N1)},
		{"NUL inside", H "node 1 n\0 10.78.0.11:9925 10.77.0.11\n",
		 sizeof(H "node 1 n\0 10.78.0.11:9925 10.77.0.11\n") - 1},
		{"comment", H "# a comment\n" N1, 0},
		{"extra space in node", H "node  1 n1 10.78.0.11:9925 "
		                        "10.77.0.11\n", 0},
		{"extra space before dp", H "node 1 n1 10.78.0.11:9925  "
		                          "10.77.0.11\n", 0},
		{"trailing space in node", H "node 1 n1 10.78.0.11:9925 "
		                           "10.77.0.11 \n", 0},
		{"tab", H "node 1\tn1 10.78.0.11:9925 10.77.0.11\n", 0},
		{"extra field", H "node 1 n1 10.78.0.11:9925 10.77.0.11 x\n", 0},
		{"missing dp", H "node 1 n1 10.78.0.11:9925\n", 0},
		{"missing port", H "node 1 n1 10.78.0.11 10.77.0.11\n", 0},
		{"port on dp", H "node 1 n1 10.78.0.11:9925 10.77.0.11:1\n", 0},
		{"Node", H "Node 1 n1 10.78.0.11:9925 10.77.0.11\n", 0},
		{"id leading zero", H "node 01 n1 10.78.0.11:9925 "
		                    "10.77.0.11\n", 0},
		{"id 0", H "node 0 n1 10.78.0.11:9925 10.77.0.11\n", 0},
		{"id 65536", H "node 65536 n1 10.78.0.11:9925 10.77.0.11\n", 0},
		{"id sign", H "node +1 n1 10.78.0.11:9925 10.77.0.11\n", 0},
		{"ip leading zero", H "node 1 n1 010.78.0.11:9925 "
		                    "10.77.0.11\n", 0},
		{"ip 00", H "node 1 n1 10.78.00.11:9925 10.77.0.11\n", 0},
		{"dp leading zero", H "node 1 n1 10.78.0.11:9925 "
		                    "10.77.0.011\n", 0},
		{"ip byte 256", H "node 1 n1 10.78.0.256:9925 10.77.0.11\n", 0},
		{"ip three bytes", H "node 1 n1 10.78.0:9925 10.77.0.11\n", 0},
		{"ip five bytes", H "node 1 n1 10.78.0.11.1:9925 "
		                  "10.77.0.11\n", 0},
		{"ip empty byte", H "node 1 n1 10..0.11:9925 10.77.0.11\n", 0},
		{"port leading zero", H "node 1 n1 10.78.0.11:09925 "
		                      "10.77.0.11\n", 0},
		{"port 0", H "node 1 n1 10.78.0.11:0 10.77.0.11\n", 0},
		{"port 65536", H "node 1 n1 10.78.0.11:65536 10.77.0.11\n", 0},
		{"mgmt 0.0.0.0", H "node 1 n1 0.0.0.0:9925 10.77.0.11\n", 0},
		{"dp multicast", H "node 1 n1 10.78.0.11:9925 224.0.0.1\n", 0},
		{"dp broadcast", H "node 1 n1 10.78.0.11:9925 "
		                 "255.255.255.255\n", 0},
		{"name slash", H "node 1 n/1 10.78.0.11:9925 10.77.0.11\n", 0},
		{"name dot", H "node 1 . 10.78.0.11:9925 10.77.0.11\n", 0},
		{"name dotdot", H "node 1 .. 10.78.0.11:9925 10.77.0.11\n", 0},
		{"name empty", H "node 1  10.78.0.11:9925 10.77.0.11\n", 0},
		{"name utf-8", H "node 1 n\xc3\xa9 10.78.0.11:9925 "
		               "10.77.0.11\n", 0},
		{"name 64", H "node 1 "
		  "0123456789012345678901234567890123456789012345678901234567890123"
		  " 10.78.0.11:9925 10.77.0.11\n", 0},
		{"unsorted", H N2 N1, 0},
		{"duplicate id", H N1 "node 1 n2 10.78.0.12:9925 10.77.0.12\n", 0},
		{"duplicate line", H N1 N1, 0},
		{"duplicate name", H N1 "node 2 n1 10.78.0.12:9925 10.77.0.12\n",
		 0},
		{"duplicate mgmt", H N1 "node 2 n2 10.78.0.11:9925 10.77.0.12\n",
		 0},
		{"duplicate dp", H N1 "node 2 n2 10.78.0.12:9925 10.77.0.11\n", 0},
		{"17 nodes", H
		 "node 1 a 10.0.0.1:1 10.1.0.1\nnode 2 b 10.0.0.2:1 10.1.0.2\n"
		 "node 3 c 10.0.0.3:1 10.1.0.3\nnode 4 d 10.0.0.4:1 10.1.0.4\n"
		 "node 5 e 10.0.0.5:1 10.1.0.5\nnode 6 f 10.0.0.6:1 10.1.0.6\n"
		 "node 7 g 10.0.0.7:1 10.1.0.7\nnode 8 h 10.0.0.8:1 10.1.0.8\n"
		 "node 9 i 10.0.0.9:1 10.1.0.9\nnode 10 j 10.0.0.10:1 10.1.0.10\n"
		 "node 11 k 10.0.0.11:1 10.1.0.11\n"
		 "node 12 l 10.0.0.12:1 10.1.0.12\n"
		 "node 13 m 10.0.0.13:1 10.1.0.13\n"
		 "node 14 n 10.0.0.14:1 10.1.0.14\n"
		 "node 15 o 10.0.0.15:1 10.1.0.15\n"
		 "node 16 p 10.0.0.16:1 10.1.0.16\n"
		 "node 17 q 10.0.0.17:1 10.1.0.17\n", 0},
	};
	char err[256];
	struct topology t, was;

	topo_init(&t, 42);
	CHECK(add(&t, node(5)) == 0);
	was = t;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		err[0] = '\0';
		int r = topo_decode(bad[i].text, len, &t, err, sizeof err);
		if (r != EBADMSG)
			fprintf(stderr, "refused[%zu] %s: got %d\n", i,
			        bad[i].why, r);
		CHECK(r == EBADMSG);
		CHECK_STR_CONTAINS(err, "line ");
		CHECK(t.version == was.version && t.cluster_id == was.cluster_id &&
		      t.n == was.n && t.nodes[0].id == 5);
	}

	/* The 16-node prefix of the last one is fine: 17 is the fault. */
	const char *sixteen = bad[sizeof bad / sizeof bad[0] - 1].text;
	size_t cut = (size_t)(strstr(sixteen, "node 17 ") - sixteen);
	CHECK(topo_decode(sixteen, cut, &t, err, sizeof err) == 0);
	CHECK_EQ_U64(t.n, 16);

	/* Reasons name the line and the fault. */
	CHECK(topo_decode(H N2 N1, strlen(H N2 N1), &t, err, sizeof err) ==
	      EBADMSG);
	CHECK(strcmp(err, "line 5: node id 1 after 2: ids must ascend") == 0);
	CHECK(topo_decode(H N1 "node 2 n1 10.78.0.12:9925 10.77.0.12\n",
	                  strlen(H N1) + 37, &t, err, sizeof err) == EBADMSG);
	CHECK(strcmp(err, "line 5: node name n1 is taken by id 1") == 0);
	CHECK(topo_decode("loom-topology 2\n", 16, &t, err, sizeof err) ==
	      EBADMSG);
	CHECK_STR_CONTAINS(err, "line 1: ");

	/* Longer than any text: refused before reading it. */
	static char big[TOPO_TEXT_MAX + 2];
	memset(big, 'x', sizeof big);
	CHECK(topo_decode(big, sizeof big, &t, err, sizeof err) == EBADMSG);
	CHECK(topo_decode(NULL, 0, &t, NULL, 0) == EBADMSG);
#undef H
#undef N1
#undef N2
}

static void test_parse_addr(void)
{
	uint32_t a = 0;
	uint16_t port = 0;
	char s[TOPO_ADDR_STR];

	CHECK(topo_parse_addr("10.78.0.11", &a, &port) == 0);
	CHECK(a == ip(10, 78, 0, 11));
	CHECK_EQ_U64(port, TOPO_MGMT_PORT);
	CHECK(topo_parse_addr("10.78.0.11:1234", &a, &port) == 0);
	CHECK_EQ_U64(port, 1234);
	CHECK(topo_parse_addr("255.255.255.255:65535", &a, &port) == 0);
	CHECK(a == ip(255, 255, 255, 255) && port == 65535);
	CHECK(topo_parse_addr("0.0.0.0", &a, NULL) == 0);
	CHECK(a == 0);
	CHECK(topo_parse_addr("10.77.0.11", &a, NULL) == 0);
	CHECK(a == ip(10, 77, 0, 11));

	static const char *bad[] = {
		"", "10.78.0", "10.78.0.11.", "10.78.0.11:", "10.78.0.11:0",
		"10.78.0.11:65536", "10.78.0.11:09925", "010.78.0.11",
		"10.78.0.256", " 10.78.0.11", "10.78.0.11 ", "10.78.0.11:1 ",
		"10.78.0.11:-1", "10.78.0.11:+1", "host:9925", "::1",
		"10.78.0.11:9925:1", "1.2.3.4/24", "0x0a.1.2.3",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (topo_parse_addr(bad[i], &a, &port) != EINVAL)
			fprintf(stderr, "parse_addr accepted '%s'\n", bad[i]);
		CHECK(topo_parse_addr(bad[i], &a, &port) == EINVAL);
	}
	/* Without a port wanted, one given is refused. */
	CHECK(topo_parse_addr("10.77.0.11:9925", &a, NULL) == EINVAL);
	CHECK(topo_parse_addr(NULL, &a, &port) == EINVAL);

	topo_addr_str(ip(10, 78, 0, 11), 9925, s);
	CHECK(strcmp(s, "10.78.0.11:9925") == 0);
	topo_addr_str(ip(255, 255, 255, 255), 65535, s);
	CHECK(strcmp(s, "255.255.255.255:65535") == 0);
	topo_addr_str(ip(10, 77, 0, 11), 0, s);
	CHECK(strcmp(s, "10.77.0.11") == 0);
}

/* ---- the file ------------------------------------------------------- */

static char dir[64];

static const char *in_dir(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return out;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool write_bytes(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return false;
	bool ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

static size_t read_bytes(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void test_files(void)
{
	char path[PATH_MAX], tmp[PATH_MAX], lock[PATH_MAX], other[PATH_MAX];
	char buf[TOPO_TEXT_MAX], want[TOPO_TEXT_MAX], err[512];
	struct topology t, back;

	snprintf(dir, sizeof dir, "/tmp/loom-test-topology.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		CHECK(!"mkdtemp");
		return;
	}
	in_dir(path, "topology");
	in_dir(tmp, "topology.tmp");
	in_dir(lock, "topology.lock");

	/* A node that has not joined has no file. */
	topo_init(&back, 77);
	CHECK(topo_load(path, &back, err, sizeof err) == ENOENT);
	CHECK_STR_CONTAINS(err, path);
	CHECK(back.cluster_id == 77 && back.n == 0);

	topo_init(&t, CLUSTER);
	t.version = 5;
	CHECK(add(&t, node(1)) == 0);
	CHECK(add(&t, node(2)) == 0);
	/* The file is 0600 whatever the umask took off. */
	mode_t old = umask(0277);
	CHECK(topo_save(path, &t, err, sizeof err) == 0);
	umask(old);
	CHECK(file_mode(path) == 0600);
	CHECK(!exists(tmp));
	CHECK(exists(lock));
	size_t n = read_bytes(path, buf, sizeof buf);
	CHECK_EQ_U64(n, sizeof golden - 1);
	CHECK(n == sizeof golden - 1 && memcmp(buf, golden, n) == 0);
	CHECK(topo_load(path, &back, err, sizeof err) == 0);
	CHECK(strcmp(text(&back, buf), golden) == 0);

	/* Replaced whole, over a stale PATH.tmp a crash left behind. */
	CHECK(write_bytes(tmp, "half a topo", 11));
	CHECK(add(&t, node(3)) == 0);
	CHECK(topo_save(path, &t, err, sizeof err) == 0);
	CHECK(!exists(tmp));
	CHECK(file_mode(path) == 0600);
	CHECK(topo_load(path, &back, err, sizeof err) == 0);
	CHECK_EQ_U64(back.version, 8);
	CHECK_EQ_U64(back.n, 3);
	CHECK(strcmp(text(&back, buf), text(&t, want)) == 0);

	/* A file that is not a canonical text: EBADMSG naming the file and
	 * the line, and *t left alone. */
	in_dir(other, "bad");
	CHECK(write_bytes(other, golden, sizeof golden - 2)); /* no "\n" */
	CHECK(topo_load(other, &back, err, sizeof err) == EBADMSG);
	CHECK_STR_CONTAINS(err, other);
	CHECK_STR_CONTAINS(err, "line 5");
	CHECK_EQ_U64(back.version, 8);
	unlink(other);

	/* Too big, even if a text began it. */
	static char big[TOPO_TEXT_MAX + 100];
	memset(big, '\n', sizeof big);
	memcpy(big, golden, sizeof golden - 1);
	in_dir(other, "big");
	CHECK(write_bytes(other, big, sizeof big));
	CHECK(topo_load(other, &back, err, sizeof err) == EBADMSG);
	unlink(other);

	/* A directory is not a topology file. */
	CHECK(topo_load(dir, &back, err, sizeof err) == EBADMSG);

	/* Nowhere to write: the errno, and nothing left behind. */
	in_dir(other, "no/such/dir/topology");
	CHECK(topo_save(other, &t, err, sizeof err) == ENOENT);

	/* A struct breaking an invariant is not saved. */
	struct topology broken = t;
	broken.nodes[2].id = 1;
	in_dir(other, "broken");
	CHECK(topo_save(other, &broken, err, sizeof err) == EINVAL);
	CHECK(!exists(other));
	in_dir(other, "broken.lock");
	CHECK(!exists(other));

	unlink(path);
	unlink(lock);
	CHECK(rmdir(dir) == 0);
}

static void test_adopt(void)
{
	struct topology mine, theirs;

	topo_init(&mine, CLUSTER);
	CHECK(add(&mine, node(1)) == 0);
	CHECK(add(&mine, node(2)) == 0);
	theirs = mine;
	CHECK(!topo_should_adopt(&mine, &theirs));   /* same version */
	CHECK(add(&theirs, node(3)) == 0);
	CHECK(topo_should_adopt(&mine, &theirs));    /* higher */
	CHECK(!topo_should_adopt(&theirs, &mine));   /* lower */

	/* Higher, but another cluster's. */
	struct topology stranger = theirs;
	stranger.cluster_id = CLUSTER + 1;
	stranger.version = 100;
	CHECK(!topo_should_adopt(&mine, &stranger));

	/* A removal spreads like an addition. */
	struct topology smaller = mine;
	CHECK(topo_remove(&smaller, 2) == 0);
	CHECK(topo_should_adopt(&mine, &smaller));

	/* Not joined: empty and cluster 0 takes any cluster's first text. */
	struct topology fresh;
	topo_init(&fresh, 0);
	CHECK(topo_should_adopt(&fresh, &theirs));
	CHECK(topo_should_adopt(&fresh, &stranger));
	/* ... but not a version-0 one, nor one of cluster 0. */
	struct topology empty;
	topo_init(&empty, CLUSTER);
	CHECK(!topo_should_adopt(&fresh, &empty));
	struct topology zero = theirs;
	zero.cluster_id = 0;
	CHECK(!topo_should_adopt(&fresh, &zero));
	CHECK(!topo_should_adopt(&mine, &zero));
	/* Cluster 0 with nodes is not "not joined". */
	struct topology odd;
	topo_init(&odd, 0);
	CHECK(add(&odd, node(1)) == 0);
	CHECK(!topo_should_adopt(&odd, &theirs));

	/* Equal versions, different content: neither side moves. */
	struct topology a = mine, b = mine;
	CHECK(add(&a, node(7)) == 0);
	CHECK(add(&b, node(8)) == 0);
	CHECK(!topo_should_adopt(&a, &b) && !topo_should_adopt(&b, &a));
}

static void test_strerror(void)
{
	int codes[] = {EINVAL, EEXIST, ENOSPC, ENOENT, EOVERFLOW, ENOBUFS,
	               EBADMSG, EACCES};
	CHECK(strcmp(topo_strerror(0), "ok") == 0);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		CHECK(topo_strerror(codes[i]) != NULL &&
		      topo_strerror(codes[i])[0] != '\0');
	CHECK_STR_CONTAINS(topo_strerror(EBADMSG), "canonical");
}

int main(void)
{
	test_add_remove_find();
	test_unique();
	test_invalid();
	test_full_and_overflow();
	test_encode();
	test_decode();
	test_refused();
	test_parse_addr();
	test_files();
	test_adopt();
	test_strerror();
	CHECK_DONE();
}

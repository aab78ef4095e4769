/*
 * topology.h - the cluster topology of loom-controld: the list of member
 * nodes, its validation, its canonical text and its file. loom-controld
 * persists it and sends every new version to all members as an opaque text
 * blob (topo_encode), which they check (topo_decode) and adopt or not
 * (topo_should_adopt). docs/CONTROL.md "The topology" is the reference.
 *
 * A node: id 1..65535; name [A-Za-z0-9_.-]{1,63} but not "." or ".."
 * (common/names.h; it is the CN its certificate must carry); mgmt, the
 * IPv4 address and port where its loom-controld listens (port default
 * TOPO_MGMT_PORT, 0 refused); dp, the data-plane IPv4 address loomd
 * replicates over. Both addresses are unicast: not in 0.0.0.0/8, nor in
 * 224.0.0.0/4 (multicast) or 240.0.0.0/4 (reserved, broadcast); loopback
 * is allowed (several nodes on one host, told apart by mgmt port).
 *
 * A topology: cluster_id (random, chosen when the cluster is formed; 0 =
 * this node has not joined one), version (0 when initialized, +1 on every
 * add and remove), and at most TOPO_MAX_NODES nodes sorted by id, whose
 * ids, names, mgmt address:port pairs and dp addresses are each unique.
 * Every function keeps these invariants, and topo_decode refuses any text
 * that breaks one. Nothing here allocates or keeps global state; a struct
 * topology is plain data (copy it with =), not thread-safe on its own.
 *
 * The canonical text (what topo_save writes and loom-controld sends):
 *
 *   loom-topology 1
 *   cluster 0123456789abcdef
 *   version 7
 *   node 1 n1 10.78.0.11:9925 10.77.0.11
 *   node 2 n2 10.78.0.12:9925 10.77.0.12
 *
 * ASCII; fields separated by exactly one space; every line, the last
 * included, ends in "\n" (no "\r"); cluster is 16 lowercase hex digits;
 * version, id, port and each address byte are decimal without leading
 * zeros; node lines in strictly ascending id order, zero to
 * TOPO_MAX_NODES of them; nothing else (no comments, no blank lines).
 * There is one text per topology: topo_decode accepts only what
 * topo_encode writes, so encode(decode(x)) == x, byte for byte.
 *
 * Errors are positive errno values, 0 = success; topo_strerror() says what
 * each means here. Functions taking err/errlen write a one-line reason
 * there on failure, e.g. "node name n2 is taken by id 2" (err may be NULL).
 *   EINVAL    a node field is invalid (id 0, bad name, address, port 0)
 *   EEXIST    a unique field is taken by another node (err says which)
 *   ENOSPC    TOPO_MAX_NODES nodes already
 *   ENOENT    no node of that id; topo_load: no file
 *   EOVERFLOW the version is at UINT64_MAX and cannot move
 *   ENOBUFS   topo_encode: cap is too small (TOPO_TEXT_MAX always fits)
 *   EBADMSG   topo_decode, topo_load: not a canonical topology text
 *   other     topo_load, topo_save: the system call's errno
 * A function that fails leaves *t as it was.
 */
#ifndef LOOM_CONTROL_TOPOLOGY_H
#define LOOM_CONTROL_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPO_MAX_NODES 16
#define TOPO_NAME_MAX 63        /* node name characters */
#define TOPO_MGMT_PORT 9925     /* loom-controld's default port */
#define TOPO_MAGIC "loom-topology 1"
/* Bytes that always hold topo_encode's output and its NUL: the header
 * (16 + 25 + 29) and 16 node lines of at most 113 bytes make 1878. */
#define TOPO_TEXT_MAX 2048
/* "255.255.255.255:65535" and its NUL (topo_addr_str). */
#define TOPO_ADDR_STR 22

struct topo_node {
	uint16_t id;                    /* 1..65535 */
	char name[TOPO_NAME_MAX + 1];   /* NUL-terminated */
	uint32_t mgmt_ip_be;            /* network byte order */
	uint16_t mgmt_port;             /* host byte order, 1..65535 */
	uint32_t dp_ip_be;              /* network byte order */
};

struct topology {
	uint64_t version;
	uint64_t cluster_id;            /* 0: not joined */
	uint16_t n;                     /* nodes[0..n), ascending id */
	struct topo_node nodes[TOPO_MAX_NODES];
};

/* A sentence for an error code above (strerror() for other errno values). */
const char *topo_strerror(int err);

/* An empty topology, version 0, of cluster_id (0: not joined yet). */
void topo_init(struct topology *t, uint64_t cluster_id);

/* Checks one node on its own (the fields, not uniqueness): 0 or EINVAL. */
int topo_node_check(const struct topo_node *n, char *err, size_t errlen);

/* Adds a copy of *n in id order and bumps the version. Refuses an invalid
 * node (EINVAL), a node sharing its id, name, mgmt address:port or dp
 * address with one already there (EEXIST; err names the field and the
 * holder), a full topology (ENOSPC) and a version at UINT64_MAX
 * (EOVERFLOW). */
int topo_add(struct topology *t, const struct topo_node *n, char *err,
             size_t errlen);

/* Removes node id and bumps the version: 0, ENOENT or EOVERFLOW. */
int topo_remove(struct topology *t, uint16_t id);

/* The node of that id or name (exact, case-sensitive), or NULL. The
 * pointer is into t and valid until t changes. */
const struct topo_node *topo_find_id(const struct topology *t, uint16_t id);
const struct topo_node *topo_find_name(const struct topology *t,
                                       const char *name);

/* Writes the canonical text and a NUL into buf[0..cap); *len (may be NULL)
 * gets the text's length without the NUL. 0, or ENOBUFS when it does not
 * fit (cap >= TOPO_TEXT_MAX always does), or EINVAL if t breaks an
 * invariant (not made by these functions). */
int topo_encode(const struct topology *t, char *buf, size_t cap,
                size_t *len);

/* Reads buf[0..len) (no NUL needed) into *t: 0, or EBADMSG when it is not
 * exactly a canonical text of a valid topology; err then gets the line
 * number and the fault. */
int topo_decode(const char *buf, size_t len, struct topology *t, char *err,
                size_t errlen);

/* Reads the file at path into *t. ENOENT when it does not exist (a node
 * that has not joined: start from topo_init(t, 0)); EBADMSG when it is not
 * a canonical text; another errno when it cannot be read. */
int topo_load(const char *path, struct topology *t, char *err,
              size_t errlen);

/* Replaces the file at path atomically with t's text: PATH.tmp created
 * with mode 0600, written, fsync()ed, renamed over path, then the
 * directory fsync()ed, so after a crash path holds the old or the new
 * topology, whole. Savers of one path are serialized by flock() on
 * PATH.lock (created mode 0600 and left in place). 0 or an errno. */
int topo_save(const char *path, const struct topology *t, char *err,
              size_t errlen);

/* Whether a member should replace its topology `mine` with `theirs`,
 * received from a peer (and accepted by topo_decode). Yes only when
 * theirs->version > mine->version and theirs belongs to mine's cluster:
 * the same cluster_id, or mine is empty with cluster_id 0 (this node has
 * not joined, and the first topology naming a cluster brings it in).
 * theirs with cluster_id 0 is never adopted. Who may send one is the TLS
 * layer's question (a peer certified by the cluster CA); this is only the
 * ordering.
 *
 * The rule is last-writer-wins by version, with no merge: the operator
 * makes changes through one node at a time (loomctl node add|remove goes
 * to one loom-controld, which bumps the version, saves and spreads), and
 * the higher version wins everywhere. Two different topologies of one
 * version (changes made through two nodes at once) are not reconciled:
 * each side keeps its own until a higher version reaches it; a caller sees
 * the conflict as equal versions with different encodings. */
bool topo_should_adopt(const struct topology *mine,
                       const struct topology *theirs);

/* Parses an address for the CLI and the config: "A.B.C.D" or
 * "A.B.C.D:PORT" (decimal, no leading zeros, PORT 1..65535, nothing
 * around). port NULL: only the address alone is accepted; otherwise *port
 * gets PORT, or TOPO_MGMT_PORT when there is none. 0 or EINVAL; the
 * address is not checked for being unicast (topo_add does that). */
int topo_parse_addr(const char *s, uint32_t *ip_be, uint16_t *port);

/* "A.B.C.D", or "A.B.C.D:PORT" when port != 0, into out. */
void topo_addr_str(uint32_t ip_be, uint16_t port, char out[TOPO_ADDR_STR]);

#endif

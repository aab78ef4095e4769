/*
 * fuzz_topology: the topology's text (control/topology.c) on arbitrary
 * bytes, as a peer's blob would reach loom-controld.
 *
 *  - topo_decode on the bytes. Refused: EBADMSG, a reason that starts with
 *    the line number, and the caller's struct untouched. Accepted: the
 *    text is canonical, so topo_encode gives back the input byte for byte;
 *    the invariants hold, checked by rebuilding the topology through
 *    topo_add (which must take every node, in order) and by finding each
 *    node by id and by name.
 *  - topo_parse_addr on the bytes as a string: an accepted address prints
 *    back (topo_addr_str) as exactly the input, so the CLI's parser has
 *    one spelling per address too.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): NDEBUG must not silence the oracle. */
#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_topology: %s:%d: %s\n",        \
			        __FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static void check_accepted(const struct topology *t, const uint8_t *data,
                           size_t size)
{
	char buf[TOPO_TEXT_MAX], err[256];
	size_t len = 0;

	REQUIRE(topo_encode(t, buf, sizeof buf, &len) == 0);
	REQUIRE(len == size && memcmp(buf, data, size) == 0);
	REQUIRE(buf[len] == '\0');

	/* Every node, added one by one to an empty topology, is taken:
	 * decode let nothing in that add would refuse. */
	struct topology r;
	topo_init(&r, t->cluster_id);
	REQUIRE(t->n <= TOPO_MAX_NODES);
	for (size_t i = 0; i < t->n; i++) {
		const struct topo_node *n = &t->nodes[i];
		REQUIRE(i == 0 || t->nodes[i - 1].id < n->id);
		REQUIRE(topo_add(&r, n, err, sizeof err) == 0);
		REQUIRE(topo_find_id(t, n->id) == n);
		REQUIRE(topo_find_name(t, n->name) == n);
		/* A second copy of it is refused as a duplicate. */
		REQUIRE(topo_add(&r, n, NULL, 0) == EEXIST);
	}
	REQUIRE(r.version == t->n);
	r.version = t->version;
	char again[TOPO_TEXT_MAX];
	REQUIRE(topo_encode(&r, again, sizeof again, &len) == 0);
	REQUIRE(len == size && memcmp(again, data, size) == 0);

	/* Never adopt what one holds already. */
	REQUIRE(!topo_should_adopt(t, t));
}

static void fuzz_decode(const uint8_t *data, size_t size)
{
	struct topology t, sentinel;
	char err[256];

	memset(&sentinel, 0xa5, sizeof sentinel);
	t = sentinel;
	int r = topo_decode((const char *)data, size, &t, err, sizeof err);
	if (r == 0) {
		check_accepted(&t, data, size);
		return;
	}
	REQUIRE(r == EBADMSG);
	REQUIRE(memchr(err, '\0', sizeof err) != NULL);
	REQUIRE(strncmp(err, "line ", 5) == 0);
	REQUIRE(memcmp(&t, &sentinel, sizeof t) == 0);
}

static void fuzz_addr(const uint8_t *data, size_t size)
{
	char s[64], out[TOPO_ADDR_STR];
	uint32_t ip;
	uint16_t port = 0;

	if (size >= sizeof s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (topo_parse_addr(s, &ip, &port) == 0) {
		bool with_port = strchr(s, ':') != NULL;
		REQUIRE(port != 0);
		REQUIRE(with_port || port == TOPO_MGMT_PORT);
		topo_addr_str(ip, with_port ? port : 0, out);
		REQUIRE(strcmp(out, s) == 0);
	}
	if (topo_parse_addr(s, &ip, NULL) == 0) {
		topo_addr_str(ip, 0, out);
		REQUIRE(strcmp(out, s) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);
	fuzz_addr(data, size);
	return 0;
}

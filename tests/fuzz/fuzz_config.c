/*
 * fuzz_config.c - libFuzzer target for the config parser.
 *
 * The input is a config file's text. Whatever it is, the parser must not
 * crash, and its answer must hold up: an accepted config satisfies every
 * rule config.h promises (so nothing downstream re-checks them), and a
 * rejected one gets exactly one line naming the file, truncated cleanly.
 */
#include "common/config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz.ini"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): NDEBUG must not silence the oracle. */
#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_config: %s:%d: %s\n", __FILE__, \
			        __LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

static uint32_t host(uint32_t be)
{
	unsigned char b[4];
	memcpy(b, &be, 4);
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static bool rate_ok(double r)
{
	return isfinite(r) && r >= 0.0 && r < 1.0;
}

static void check_accepted(const struct loom_config *c)
{
	REQUIRE(terminated(c->node_name, sizeof c->node_name));
	REQUIRE(terminated(c->eal_args, sizeof c->eal_args));
	REQUIRE(terminated(c->storage_path, sizeof c->storage_path));
	REQUIRE(terminated(c->stats_file, sizeof c->stats_file));
	REQUIRE(terminated(c->log_level, sizeof c->log_level));

	REQUIRE(c->node_id >= 1);
	size_t nlen = strlen(c->node_name);
	REQUIRE(nlen >= 1 && nlen <= 63);
	REQUIRE(strspn(c->node_name, "abcdefghijklmnopqrstuvwxyz"
	                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                             "0123456789_.-") == nlen);
	REQUIRE(c->eal_args[0] != '\0');
	REQUIRE(loom_eal_args_safe(c->eal_args));

	REQUIRE(c->prefix_len >= 1 && c->prefix_len <= 32);
	uint32_t ip = host(c->ip_be);
	uint32_t mask = c->prefix_len == 32 ? UINT32_MAX
	                                    : ~(UINT32_MAX >> c->prefix_len);
	REQUIRE(ip != 0);
	if (c->prefix_len < 31)
		REQUIRE((ip & ~mask) != 0 && (ip & ~mask) != ~mask);
	if (c->gateway_be != 0) {
		uint32_t gw = host(c->gateway_be);
		REQUIRE((gw & mask) == (ip & mask));
		REQUIRE(gw != ip);
		if (c->prefix_len < 31)
			REQUIRE((gw & ~mask) != 0 && (gw & ~mask) != ~mask);
	}

	REQUIRE(c->mtu >= 576 && c->mtu <= 9000);
	REQUIRE(pow2_in(c->rx_desc, 64, 16384));
	REQUIRE(pow2_in(c->tx_desc, 64, 16384));
	REQUIRE(c->burst >= 1 && c->burst <= 256);
	REQUIRE(c->arp_timeout_s >= 1 && c->arp_timeout_s <= 86400);
	REQUIRE(pow2_in(c->arp_cache_size, 16, 65536));
	REQUIRE(c->arp_pending_max >= 1 && c->arp_pending_max <= 4096);
	REQUIRE(c->http_port >= 1 && c->repl_port >= 1);
	REQUIRE(c->http_port != c->repl_port);

	/* Every role on its own lcore. */
	REQUIRE(c->n_io_lcores >= 1 && c->n_io_lcores <= LOOM_MAX_IO_LCORES);
	REQUIRE(c->n_repl_lcores <= LOOM_MAX_REPL_LCORES);
	REQUIRE(c->storage_lcore >= -1);
	int32_t all[1 + LOOM_MAX_IO_LCORES + LOOM_MAX_REPL_LCORES + 1];
	unsigned n = 0;
	all[n++] = c->main_lcore;
	for (unsigned i = 0; i < c->n_io_lcores; i++)
		all[n++] = c->io_lcores[i];
	for (unsigned i = 0; i < c->n_repl_lcores; i++)
		all[n++] = c->repl_lcores[i];
	if (c->storage_lcore >= 0)
		all[n++] = c->storage_lcore;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			REQUIRE(all[i] != all[j]);

	REQUIRE(c->idle_spin_polls <= 1000000000u);
	REQUIRE(c->idle_sleep_max_us <= 100000);
	REQUIRE(c->mbufs >= 1023 && c->mbufs <= 16777215);
	REQUIRE(c->mbuf_cache <= 512);
	REQUIRE((uint64_t)c->mbuf_cache * 3 / 2 <= c->mbufs);
	REQUIRE(c->mbuf_data_room >= 1024);
	REQUIRE((unsigned)c->mbuf_data_room >= (unsigned)c->mtu + 14 + 128);

	REQUIRE(c->storage_path[0] != '\0');
	REQUIRE(c->storage_map_size % (1u << 20) == 0);
	REQUIRE(c->storage_map_size >= (uint64_t)16 << 20 &&
	        c->storage_map_size <= (uint64_t)16777216 << 20);
	REQUIRE(c->max_body_bytes >= 64 && c->max_body_bytes <= 16777216);
	REQUIRE(c->sync == LOOM_SYNC_COMMIT || c->sync == LOOM_SYNC_INTERVAL);
	REQUIRE(c->sync_interval_ms >= 1 && c->sync_interval_ms <= 60000);
	REQUIRE(c->commit_batch_max >= 1 && c->commit_batch_max <= 65536);

	REQUIRE(rate_ok(c->fault_drop) && rate_ok(c->fault_dup) &&
	        rate_ok(c->fault_reorder) && rate_ok(c->fault_corrupt));

	REQUIRE(c->stats_interval_ms >= 100 && c->stats_interval_ms <= 60000);
	REQUIRE(strcmp(c->log_level, "error") == 0 ||
	        strcmp(c->log_level, "warn") == 0 ||
	        strcmp(c->log_level, "info") == 0 ||
	        strcmp(c->log_level, "debug") == 0);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void check_rejected(const char *err)
{
	REQUIRE(strncmp(err, NAME ":", strlen(NAME) + 1) == 0);
	REQUIRE(strlen(err) > strlen(NAME) + 2);
	for (const char *p = err; *p; p++)
		REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f);
	/* The line reader hands inih only lines it has checked; these
	 * messages mean the two disagree about the syntax, or a key has no
	 * parser. Matched at the end: user text inside a message is quoted,
	 * so the input cannot forge the suffix. */
	REQUIRE(!ends_with(err, ": libinih rejected this line"));
	REQUIRE(!ends_with(err, "internal error: no parser for this key"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* The safety check must cope with any string, not only parsed ones. */
	(void)loom_eal_args_safe(text);

	struct loom_config cfg;
	char err[512];
	int rc = loom_config_parse_string(NAME, text, &cfg, err, sizeof err);
	REQUIRE(rc == 0 || rc == -1);
	if (rc == 0) {
		check_accepted(&cfg);
	} else {
		check_rejected(err);
		/* A short buffer gets a NUL-terminated prefix of the same
		 * message. */
		char small[40];
		size_t cap = 1 + (size ? data[0] % sizeof small : 0);
		memset(small, 'x', sizeof small);
		struct loom_config again;
		REQUIRE(loom_config_parse_string(NAME, text, &again, small,
		                                 cap) == -1);
		REQUIRE(strlen(small) == cap - 1 || strlen(small) == strlen(err));
		REQUIRE(strncmp(small, err, strlen(small)) == 0);
	}
	free(text);
	return 0;
}

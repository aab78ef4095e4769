/* Counter names, order and the drop sum. */
#include <string.h>

#include "check.h"
#include "dataplane/net/net.h"
#include "test_net_util.h"

/* Spelled out on purpose: the names are an interface (stats file,
 * /metrics), so a rename must break this test. */
static const char *const names[] = {
	"rx_frames", "rx_bytes", "eth_drop_runt", "eth_drop_not_ours",
	"eth_drop_ethertype", "arp_rx_request", "arp_rx_reply",
	"arp_tx_request", "arp_tx_reply", "arp_tx_gratuitous",
	"arp_drop_malformed", "arp_drop_not_ours", "arp_drop_conflict",
	"arp_learned", "arp_cache_full", "arp_pending_queued",
	"arp_pending_sent", "arp_pending_drop_full",
	"arp_pending_drop_timeout", "arp_no_frame", "ip_rx", "ip_drop_short",
	"ip_drop_version", "ip_drop_ihl", "ip_drop_len", "ip_drop_csum",
	"ip_drop_frag", "ip_drop_options", "ip_drop_not_ours", "ip_drop_src",
	"ip_drop_proto", "ip_tx_drop_noroute", "ip_tx_drop_short",
	"icmp_rx_echo", "icmp_tx_echo_reply", "icmp_drop_short",
	"icmp_drop_csum", "icmp_drop_type", "udp_rx", "tcp_drop_short",
	"tcp_rx",
};
#define NNAMES (sizeof names / sizeof names[0])

struct visit {
	size_t n;
	int misnamed;
	const char *seen[NNAMES + 8];
	uint64_t values[NNAMES + 8];
};

static void visit(void *arg, const char *name, uint64_t value)
{
	struct visit *v = arg;
	if (v->n < NNAMES + 8) {
		v->seen[v->n] = name;
		v->values[v->n] = value;
	}
	if (v->n >= NNAMES || strcmp(name, names[v->n]) != 0)
		v->misnamed++;
	v->n++;
}

static bool is_drop(const char *name)
{
	return strstr(name, "drop") != NULL || strcmp(name, "udp_rx") == 0;
}

int main(void)
{
	/* one uint64_t per counter, nothing else in the struct */
	CHECK_EQ_U64(sizeof(struct net_stats), NNAMES * sizeof(uint64_t));

	struct net_stats s;
	memset(&s, 0, sizeof s);
	struct visit v = {0};
	net_stats_foreach(&s, visit, &v);
	CHECK_EQ_U64(v.n, NNAMES);
	CHECK_EQ_U64(v.misnamed, 0);
	CHECK_EQ_U64(net_stats_drops(&s), 0);

	/* Each counter alone: foreach reports it at its place with its
	 * value, and the drop sum includes exactly the drop counters. */
	int wrong_value = 0, wrong_sum = 0;
	for (size_t i = 0; i < NNAMES; i++) {
		uint64_t raw[NNAMES] = {0};
		raw[i] = 1000 + i;
		memcpy(&s, raw, sizeof s);
		struct visit w = {0};
		net_stats_foreach(&s, visit, &w);
		for (size_t k = 0; k < NNAMES; k++)
			if (w.values[k] != (k == i ? 1000 + i : 0))
				wrong_value++;
		if (net_stats_drops(&s) != (is_drop(names[i]) ? 1000 + i : 0)) {
			wrong_sum++;
			fprintf(stderr, "drop sum wrong for %s\n", names[i]);
		}
	}
	CHECK_EQ_U64(wrong_value, 0);
	CHECK_EQ_U64(wrong_sum, 0);

	/* all at once */
	uint64_t raw[NNAMES], want = 0;
	for (size_t i = 0; i < NNAMES; i++) {
		raw[i] = (uint64_t)1 << i;
		if (is_drop(names[i]))
			want += raw[i];
	}
	memcpy(&s, raw, sizeof s);
	CHECK_EQ_U64(net_stats_drops(&s), want);
	CHECK_EQ_U64(s.ip_drop_csum, tn_stat(&s, "ip_drop_csum"));
	CHECK_DONE();
}

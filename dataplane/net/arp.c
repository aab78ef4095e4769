/*
 * ARP (RFC 826): the neighbour cache, answering requests for our address,
 * and the queue of frames waiting for an address to resolve.
 *
 * The cache is an open-addressing table with linear probing. Deletion shifts
 * the rest of the probe run back (Knuth's algorithm R) instead of leaving
 * tombstones, so lookups stay short however much the table churns.
 */
#include "dataplane/net/net_priv.h"
#include "dataplane/net/wire.h"

enum arp_state {
	ARP_FREE = 0,
	/* requested, no answer yet: remembers when we last asked, and lets
	 * the reply in */
	ARP_INCOMPLETE,
	ARP_VALID,
};

struct net_arp_entry {
	uint64_t updated_us;      /* learnt (VALID) or created (INCOMPLETE) */
	uint64_t last_request_us; /* meaningful once `requested` is set */
	uint32_t ip_be;
	uint8_t mac[6];
	uint8_t state;
	uint8_t requested;
};

struct net_arp_pending {
	void *frame;
	uint8_t *data;
	uint64_t queued_us;
	uint32_t next_hop_be;
	uint16_t len;
};

const size_t NET_ARP_ENTRY_SIZE = sizeof(struct net_arp_entry);
const size_t NET_ARP_PENDING_SIZE = sizeof(struct net_arp_pending);

static const uint8_t mac_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mac_zero[6];

/* The clock is the caller's; if it ever steps back, things just look new. */
static uint64_t age(const struct net_ctx *ctx, uint64_t then_us)
{
	return ctx->now_us > then_us ? ctx->now_us - then_us : 0;
}

int net_arp_init(struct net_ctx *ctx)
{
	uint32_t n = ctx->arp_table_size;
	if (!ctx->arp_table || n == 0 || (n & (n - 1)) != 0 || !ctx->pending ||
	    ctx->arp_pending_max == 0)
		return -1;
	memset(ctx->arp_table, 0, (size_t)n * sizeof *ctx->arp_table);
	memset(ctx->pending, 0,
	       (size_t)ctx->arp_pending_max * sizeof *ctx->pending);
	ctx->arp_pending_count = 0;
	return 0;
}

void net_arp_fini(struct net_ctx *ctx)
{
	for (uint32_t i = 0; i < ctx->arp_pending_count; i++)
		ctx->ops.frame_free(ctx->ops.user, ctx->pending[i].frame);
	ctx->arp_pending_count = 0;
}

/* --- the table ---------------------------------------------------------- */

static struct net_arp_entry *arp_find(struct net_ctx *ctx, uint32_t ip_be)
{
	uint32_t mask = ctx->arp_table_size - 1;
	uint32_t i = net_arp_hash(ip_be, ctx->arp_table_size);
	for (uint32_t n = 0; n < ctx->arp_table_size; n++, i = (i + 1) & mask) {
		struct net_arp_entry *e = &ctx->arp_table[i];
		if (e->state == ARP_FREE)
			return NULL;
		if (e->ip_be == ip_be)
			return e;
	}
	return NULL;
}

/* The entry for ip_be, created (INCOMPLETE) if absent. With no free slot the
 * least recently updated entry makes room: a table that only stops learning
 * would never meet a new peer until the old ones aged out. Any slot of a
 * full table is on every probe run, so the new entry can take the victim's
 * place directly. */
static struct net_arp_entry *arp_insert(struct net_ctx *ctx, uint32_t ip_be)
{
	uint32_t mask = ctx->arp_table_size - 1;
	uint32_t i = net_arp_hash(ip_be, ctx->arp_table_size);
	struct net_arp_entry *victim = NULL;
	struct net_arp_entry *e = NULL;

	for (uint32_t n = 0; n < ctx->arp_table_size; n++, i = (i + 1) & mask) {
		struct net_arp_entry *c = &ctx->arp_table[i];
		if (c->state == ARP_FREE) {
			e = c;
			break;
		}
		if (c->ip_be == ip_be)
			return c;
		if (!victim || c->updated_us < victim->updated_us)
			victim = c;
	}
	if (!e) {
		ctx->stats.arp_cache_full++;
		e = victim;
	}
	*e = (struct net_arp_entry){
		.updated_us = ctx->now_us,
		.ip_be = ip_be,
		.state = ARP_INCOMPLETE,
	};
	return e;
}

/* Frees slot i and moves later members of its probe run back into the hole
 * when their home slot allows it, so no run is ever cut by a free slot. */
static void arp_delete(struct net_ctx *ctx, uint32_t i)
{
	uint32_t size = ctx->arp_table_size, mask = size - 1;
	struct net_arp_entry *t = ctx->arp_table;
	uint32_t hole = i, j = i;

	t[hole].state = ARP_FREE;
	for (uint32_t n = 1; n < size; n++) {
		j = (j + 1) & mask;
		if (t[j].state == ARP_FREE)
			return;
		uint32_t home = net_arp_hash(t[j].ip_be, size);
		/* Movable iff the hole lies on its path from home to j. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			t[hole] = t[j];
			t[j].state = ARP_FREE;
			hole = j;
		}
	}
}

static bool arp_expired(const struct net_ctx *ctx,
                        const struct net_arp_entry *e)
{
	if (e->state == ARP_VALID) {
		uint64_t a = age(ctx, e->updated_us);
		return a >= ctx->arp_timeout_us &&
		       a - ctx->arp_timeout_us >= ctx->arp_timeout_us;
	}
	/* Kept while we keep asking, and at least a request interval so the
	 * rate limit holds even with a short pending timeout. */
	uint64_t keep = ctx->pending_timeout_us;
	if (keep < NET_ARP_REQUEST_INTERVAL_US)
		keep = NET_ARP_REQUEST_INTERVAL_US;
	return age(ctx, e->requested ? e->last_request_us : e->updated_us) >=
	       keep;
}

/* --- sending ------------------------------------------------------------ */

static int arp_send_request(struct net_ctx *ctx, uint32_t target_be,
                            bool gratuitous)
{
	uint8_t *p;
	void *frame =
		ctx->ops.frame_alloc(ctx->ops.user, ETH_MIN_FRAME_LEN, &p);
	if (!frame) {
		ctx->stats.arp_no_frame++;
		return -1;
	}
	memset(p, 0, ETH_MIN_FRAME_LEN);
	memcpy(p + ETH_DST, mac_broadcast, 6);
	memcpy(p + ETH_SRC, ctx->mac, 6);
	wire_put16(p + ETH_TYPE, NET_ETHERTYPE_ARP);

	uint8_t *a = p + NET_ETH_HLEN;
	wire_put16(a + ARP_HTYPE, ARP_HTYPE_ETHER);
	wire_put16(a + ARP_PTYPE, NET_ETHERTYPE_IPV4);
	a[ARP_HLEN] = 6;
	a[ARP_PLEN] = 4;
	wire_put16(a + ARP_OP, ARP_OP_REQUEST);
	memcpy(a + ARP_SHA, ctx->mac, 6);
	wire_put_addr(a + ARP_SPA, ctx->ip_be);
	wire_put_addr(a + ARP_TPA, target_be);

	ctx->ops.frame_send(ctx->ops.user, frame, ETH_MIN_FRAME_LEN);
	if (gratuitous)
		ctx->stats.arp_tx_gratuitous++;
	else
		ctx->stats.arp_tx_request++;
	return 0;
}

/* Stamps the attempt even when no frame was free: an empty pool is not
 * helped by asking again for every packet. */
static void arp_solicit(struct net_ctx *ctx, struct net_arp_entry *e)
{
	if (e->requested &&
	    age(ctx, e->last_request_us) < NET_ARP_REQUEST_INTERVAL_US)
		return;
	e->requested = 1;
	e->last_request_us = ctx->now_us;
	(void)arp_send_request(ctx, e->ip_be, false);
}

int net_arp_announce(struct net_ctx *ctx)
{
	return arp_send_request(ctx, ctx->ip_be, true);
}

/* --- the pending queue -------------------------------------------------- */

/* The queue is kept packed in arrival order, so frames for one address
 * leave in the order they were output; it is short, so compacting is
 * cheap. */
static void pending_release(struct net_ctx *ctx, uint32_t ip_be,
                            const uint8_t mac[6])
{
	uint32_t w = 0;
	for (uint32_t r = 0; r < ctx->arp_pending_count; r++) {
		struct net_arp_pending p = ctx->pending[r];
		if (p.next_hop_be != ip_be) {
			ctx->pending[w++] = p;
			continue;
		}
		memcpy(p.data + ETH_DST, mac, 6);
		ctx->ops.frame_send(ctx->ops.user, p.frame, p.len);
		ctx->stats.arp_pending_sent++;
	}
	ctx->arp_pending_count = w;
}

static bool pending_has(const struct net_ctx *ctx, uint32_t ip_be)
{
	for (uint32_t i = 0; i < ctx->arp_pending_count; i++)
		if (ctx->pending[i].next_hop_be == ip_be)
			return true;
	return false;
}

enum net_tx_verdict net_arp_park(struct net_ctx *ctx, uint32_t next_hop_be,
                                 void *frame, uint8_t *data, uint16_t len)
{
	enum net_tx_verdict v;
	if (ctx->arp_pending_count == ctx->arp_pending_max) {
		ctx->ops.frame_free(ctx->ops.user, frame);
		ctx->stats.arp_pending_drop_full++;
		v = NET_TX_DROP;
	} else {
		uint32_t k = ctx->arp_pending_count++;
		ctx->pending[k] = (struct net_arp_pending){
			.frame = frame,
			.data = data,
			.queued_us = ctx->now_us,
			.next_hop_be = next_hop_be,
			.len = len,
		};
		ctx->stats.arp_pending_queued++;
		v = NET_TX_PENDING;
	}
	/* Still ask when the queue is full: later frames need the answer. */
	struct net_arp_entry *e = arp_find(ctx, next_hop_be);
	if (!e)
		e = arp_insert(ctx, next_hop_be);
	arp_solicit(ctx, e);
	return v;
}

/* --- lookups, learning, timers ------------------------------------------ */

bool net_arp_lookup(struct net_ctx *ctx, uint32_t ip_be, uint8_t mac[6])
{
	struct net_arp_entry *e = arp_find(ctx, ip_be);
	if (!e || e->state != ARP_VALID)
		return false;
	memcpy(mac, e->mac, 6);
	if (age(ctx, e->updated_us) >= ctx->arp_timeout_us)
		arp_solicit(ctx, e);
	return true;
}

/* Updates a known sender; creates it only when `create`. Becoming VALID
 * sends whatever was parked for it. */
static bool arp_learn(struct net_ctx *ctx, uint32_t ip_be,
                      const uint8_t mac[6], bool create)
{
	struct net_arp_entry *e =
		create ? arp_insert(ctx, ip_be) : arp_find(ctx, ip_be);
	if (!e)
		return false;
	memcpy(e->mac, mac, 6);
	e->state = ARP_VALID;
	e->updated_us = ctx->now_us;
	e->requested = 0;
	ctx->stats.arp_learned++;
	pending_release(ctx, ip_be, mac);
	return true;
}

void net_timer(struct net_ctx *ctx)
{
	uint32_t w = 0;
	for (uint32_t r = 0; r < ctx->arp_pending_count; r++) {
		struct net_arp_pending p = ctx->pending[r];
		if (age(ctx, p.queued_us) < ctx->pending_timeout_us) {
			ctx->pending[w++] = p;
			continue;
		}
		ctx->ops.frame_free(ctx->ops.user, p.frame);
		ctx->stats.arp_pending_drop_timeout++;
	}
	ctx->arp_pending_count = w;

	/* A deletion may shift a later entry into slot i, so look at i again;
	 * entries shifted from the wrapped start of the table were already
	 * seen and are simply seen twice. */
	for (uint32_t i = 0; i < ctx->arp_table_size;) {
		struct net_arp_entry *e = &ctx->arp_table[i];
		if (e->state != ARP_FREE && arp_expired(ctx, e))
			arp_delete(ctx, i);
		else
			i++;
	}
}

/* --- receive ------------------------------------------------------------ */

/* A sender no entry may ever hold: a probe (0.0.0.0), someone claiming our
 * address, or addresses that cannot be a single station. */
static bool arp_sender_invalid(const struct net_ctx *ctx, uint32_t sip_be,
                               const uint8_t *sha)
{
	uint32_t sip = wire_addr_host(sip_be);
	return sip == 0 || sip_be == ctx->ip_be || sip >> 28 >= 0xe ||
	       (sha[0] & 1) != 0 || memcmp(sha, mac_zero, 6) == 0;
}

/* Turns the request into our reply in place. */
static uint16_t arp_make_reply(struct net_ctx *ctx, uint8_t *data,
                               uint16_t len)
{
	uint8_t *a = data + NET_ETH_HLEN;
	uint8_t sha[6];
	memcpy(sha, a + ARP_SHA, 6);
	uint32_t sip = wire_get_addr(a + ARP_SPA);

	memcpy(data + ETH_DST, sha, 6);
	memcpy(data + ETH_SRC, ctx->mac, 6);
	wire_put16(a + ARP_OP, ARP_OP_REPLY);
	memcpy(a + ARP_THA, sha, 6);
	wire_put_addr(a + ARP_TPA, sip);
	memcpy(a + ARP_SHA, ctx->mac, 6);
	wire_put_addr(a + ARP_SPA, ctx->ip_be);

	/* The buffer already has minimum-frame room: zero it rather than echo
	 * the requester's padding back. */
	if (len >= ETH_MIN_FRAME_LEN) {
		memset(data + ARP_FRAME_LEN, 0,
		       ETH_MIN_FRAME_LEN - ARP_FRAME_LEN);
		return ETH_MIN_FRAME_LEN;
	}
	return ARP_FRAME_LEN;
}

/* Validates and learns; NET_RX_REPLY means "answer it" (never when
 * observing). Counts only when !observe, apart from what learning counts. */
static enum net_rx_verdict arp_process(struct net_ctx *ctx,
                                       const uint8_t *data, uint16_t len,
                                       bool observe)
{
	struct net_stats *st = &ctx->stats;
	const uint8_t *a = data + NET_ETH_HLEN;

	if (len < ARP_FRAME_LEN ||
	    wire_get16(a + ARP_HTYPE) != ARP_HTYPE_ETHER ||
	    wire_get16(a + ARP_PTYPE) != NET_ETHERTYPE_IPV4 ||
	    a[ARP_HLEN] != 6 || a[ARP_PLEN] != 4) {
		if (!observe)
			st->arp_drop_malformed++;
		return NET_RX_DROP;
	}
	uint16_t op = wire_get16(a + ARP_OP);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
		if (!observe)
			st->arp_drop_malformed++;
		return NET_RX_DROP;
	}
	if (!observe) {
		if (op == ARP_OP_REQUEST)
			st->arp_rx_request++;
		else
			st->arp_rx_reply++;
	}

	const uint8_t *sha = a + ARP_SHA;
	uint32_t sip = wire_get_addr(a + ARP_SPA);
	uint32_t tip = wire_get_addr(a + ARP_TPA);
	if (arp_sender_invalid(ctx, sip, sha)) {
		if (!observe)
			st->arp_drop_conflict++;
		return NET_RX_DROP;
	}

	/* RFC 826: refresh a sender we know; add it only if it is talking to
	 * us. A reply we asked for counts as talking to us even when its
	 * target is not (a proxy, or the entry was evicted meanwhile). */
	bool for_us = tip == ctx->ip_be;
	bool learnt = arp_learn(ctx, sip, sha, for_us || pending_has(ctx, sip));

	if (op == ARP_OP_REPLY || observe)
		return NET_RX_CONSUMED;
	if (for_us)
		return NET_RX_REPLY;
	if (learnt)
		return NET_RX_CONSUMED;
	st->arp_drop_not_ours++;
	return NET_RX_DROP;
}

enum net_rx_verdict net_arp_input(struct net_ctx *ctx, uint8_t *data,
                                  uint16_t len, struct net_rx_result *res)
{
	enum net_rx_verdict v = arp_process(ctx, data, len, false);
	if (v == NET_RX_REPLY) {
		res->reply_len = arp_make_reply(ctx, data, len);
		ctx->stats.arp_tx_reply++;
	}
	return v;
}

void net_arp_observe(struct net_ctx *ctx, const uint8_t *data, uint16_t len)
{
	if (len < NET_ETH_HLEN ||
	    wire_get16(data + ETH_TYPE) != NET_ETHERTYPE_ARP)
		return;
	(void)arp_process(ctx, data, len, true);
}

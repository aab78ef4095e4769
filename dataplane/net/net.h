/*
 * net.h - the L2/L3 stack of one io lcore: Ethernet, ARP, IPv4, ICMP echo.
 *
 * Plain C over byte buffers. It knows nothing of DPDK: a frame is an opaque
 * handle (an rte_mbuf in loomd, a test buffer in the unit tests) plus a
 * pointer to its contiguous bytes. The lcore that owns a struct net_ctx is the
 * only one that touches it (shared-nothing), so nothing here locks.
 *
 * Receive:  net_rx() classifies one frame and either drops it (a counter
 *           says why), turns it into a reply in place (ARP reply, ICMP echo
 *           reply: the caller transmits the same buffer, no allocation), or
 *           hands an L4 payload up (TCP, later issues).
 * Transmit: net_output_ipv4() fills the Ethernet header of an outgoing IPv4
 *           frame from the ARP cache; on a miss it parks the frame in a
 *           bounded pending queue and sends one ARP request.
 * Time:     the caller sets ctx->now_us once per burst; ARP aging and the
 *           pending queue's timeouts read it. net_timer() expires them.
 *
 * Addresses are kept in network byte order (suffix _be) as on the wire.
 */
#ifndef LOOM_NET_H
#define LOOM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ETH_HLEN 14
#define NET_ETHERTYPE_IPV4 0x0800
#define NET_ETHERTYPE_ARP 0x0806
#define NET_IP_PROTO_ICMP 1
#define NET_IP_PROTO_TCP 6
#define NET_IP_PROTO_UDP 17

/* Frames the stack creates or releases go through these; in loomd they wrap
 * rte_pktmbuf_alloc / the lcore's TX buffer / rte_pktmbuf_free. */
struct net_ops {
	/* A new frame with at least `len` writable contiguous bytes; *data points
	 * at them. NULL when the pool is empty (the caller counts it). */
	void *(*frame_alloc)(void *user, uint16_t len, uint8_t **data);
	/* Queue `frame` for transmission with `len` bytes; ownership passes. */
	void (*frame_send)(void *user, void *frame, uint16_t len);
	/* Release a frame the stack owns and will not send. */
	void (*frame_free)(void *user, void *frame);
	void *user;
};
/* The ops must not call back into the stack: they run while it walks its
 * pending queue. */

/* Every reason a frame can be dropped or a notable event, one counter each.
 * Counters are only written by the owning lcore; readers on other lcores
 * read them relaxed (they may be a burst stale, never torn on x86-64).
 *
 * One list drives the struct, the names net_stats_foreach reports and the
 * sum net_stats_drops takes, so they cannot drift apart. X(name, drop):
 * drop is 1 for a counter that counts frames the stack discarded (received
 * frames answered NET_RX_DROP, and outgoing frames it freed), 0 for events.
 * Every NET_RX_DROP verdict bumps exactly one drop counter. */
#define NET_STATS_LIST(X)                                                     \
	X(rx_frames, 0)                                                       \
	X(rx_bytes, 0)                                                        \
	X(eth_drop_runt, 1)      /* shorter than an Ethernet header */        \
	X(eth_drop_not_ours, 1)  /* unicast to another MAC, or multicast */   \
	X(eth_drop_ethertype, 1) /* not IPv4 or ARP (VLAN, IPv6, ...) */      \
                                                                              \
	X(arp_rx_request, 0)                                                  \
	X(arp_rx_reply, 0)                                                    \
	X(arp_tx_request, 0)                                                  \
	X(arp_tx_reply, 0)                                                    \
	X(arp_tx_gratuitous, 0)                                               \
	X(arp_drop_malformed, 1) /* short, wrong htype/ptype/hlen/plen/op */  \
	X(arp_drop_not_ours, 1)  /* request for another IP, nothing learnt */ \
	/* a sender claiming our IP, or src 0.0.0.0 probe (probes are         \
	 * answered nothing, counted), or a sender that can never be an        \
	 * entry (multicast/broadcast/zero MAC, multicast/broadcast IP) */     \
	X(arp_drop_conflict, 1)                                               \
	X(arp_learned, 0)        /* entries created or refreshed */           \
	/* no free slot for a new entry: the least recently updated entry    \
	 * was evicted to make room */                                        \
	X(arp_cache_full, 0)                                                  \
	X(arp_pending_queued, 0)                                              \
	X(arp_pending_sent, 0)                                                \
	X(arp_pending_drop_full, 1)    /* pending queue full on enqueue */    \
	X(arp_pending_drop_timeout, 1) /* never resolved */                   \
	X(arp_no_frame, 0)             /* frame_alloc failed for a request */ \
                                                                              \
	X(ip_rx, 0)              /* every frame with ethertype IPv4 */        \
	X(ip_drop_short, 1)      /* shorter than 20 bytes or than IHL*4 */    \
	X(ip_drop_version, 1)    /* version != 4 */                           \
	X(ip_drop_ihl, 1)        /* IHL < 5, or a malformed option list */    \
	X(ip_drop_len, 1)        /* total length < IHL*4 or > bytes present */\
	X(ip_drop_csum, 1)       /* header checksum wrong */                  \
	X(ip_drop_frag, 1)       /* MF set or fragment offset != 0 */         \
	X(ip_drop_options, 1)    /* well-formed but unsupported options */    \
	X(ip_drop_not_ours, 1)   /* destination is not our address */         \
	/* source is 0, broadcast (limited or our subnet's), multicast,       \
	 * loopback, or our own address */                                    \
	X(ip_drop_src, 1)                                                     \
	X(ip_drop_proto, 1)      /* no handler for the protocol */            \
	/* net_output_ipv4: off-link destination and no gateway */            \
	X(ip_tx_drop_noroute, 1)                                              \
	/* net_output_ipv4: frame shorter than Ethernet + IPv4 headers (a     \
	 * caller bug; the frame is freed, not written) */                    \
	X(ip_tx_drop_short, 1)                                                \
                                                                              \
	X(icmp_rx_echo, 0)                                                    \
	X(icmp_tx_echo_reply, 0)                                              \
	X(icmp_drop_short, 1)                                                 \
	X(icmp_drop_csum, 1)                                                  \
	X(icmp_drop_type, 1)     /* anything but echo request */              \
	/* counted then dropped until a UDP user exists: so it is a drop */   \
	X(udp_rx, 1)                                                          \
	X(tcp_drop_short, 1)     /* IPv4 payload shorter than a TCP header */ \
	X(tcp_rx, 0)             /* delivered up as NET_RX_L4_TCP */

struct net_stats {
#define NET_STATS_FIELD_(name, drop) uint64_t name;
	NET_STATS_LIST(NET_STATS_FIELD_)
#undef NET_STATS_FIELD_
};

/* Sum of every drop counter above: what a test compares with what it sent. */
uint64_t net_stats_drops(const struct net_stats *s);

/* Visits every counter with its stable snake_case name ("ip_drop_csum"):
 * the stats file and /metrics print them from this one list. */
void net_stats_foreach(const struct net_stats *s,
                       void (*fn)(void *arg, const char *name, uint64_t value),
                       void *arg);

struct net_arp_entry;   /* private to arp.c */
struct net_arp_pending; /* private to arp.c */

struct net_ctx {
	/* identity; set before net_init and read-only afterwards */
	uint8_t mac[6];
	uint32_t ip_be;
	uint32_t netmask_be;
	uint32_t gateway_be; /* 0 = no gateway: off-link destinations are dropped */
	uint16_t mtu;

	struct net_ops ops;
	uint64_t now_us; /* set by the caller before net_rx / net_output / net_timer */
	struct net_stats stats;

	/* ARP state: storage supplied by the caller (sizes from config), so the
	 * stack never allocates. Use NET_ARP_ENTRY_SIZE / NET_ARP_PENDING_SIZE. */
	struct net_arp_entry *arp_table; /* arp_table_size entries */
	uint32_t arp_table_size;         /* power of two */
	uint64_t arp_timeout_us;         /* entry fresh for this long */
	struct net_arp_pending *pending; /* arp_pending_max slots */
	uint32_t arp_pending_max;
	uint32_t arp_pending_count;
	uint64_t pending_timeout_us;     /* parked frames older than this are freed */
};

/* Storage sizes, so callers can allocate the arrays at init. */
extern const size_t NET_ARP_ENTRY_SIZE;
extern const size_t NET_ARP_PENDING_SIZE;

/* Zero the tables and counters. Returns -1 if a size is not valid
 * (arp_table_size not a power of two, zero pending slots, NULL storage). */
int net_init(struct net_ctx *ctx);

/* Release every parked frame through ops.frame_free (at shutdown). */
void net_fini(struct net_ctx *ctx);

enum net_rx_verdict {
	NET_RX_DROP = 0,  /* caller frees the frame; a counter was bumped */
	NET_RX_CONSUMED,  /* the stack learnt from it; caller frees the frame */
	NET_RX_REPLY,     /* frame rewritten in place as a reply of *reply_len
	                     bytes: caller transmits it */
	NET_RX_L4_TCP,    /* valid IPv4/TCP for us: *l4_off is the TCP header's
	                     offset in the frame, *l4_len its length incl. payload
	                     (Ethernet padding excluded); caller owns the frame */
};

struct net_rx_result {
	uint16_t reply_len;
	uint16_t l3_off; /* IPv4 header offset (14) when applicable */
	uint16_t l4_off;
	uint16_t l4_len;
};

/* Classify and handle one received frame of `len` bytes at `data`. Learning
 * an ARP reply releases parked frames for that address (sent via ops). Never
 * reads outside [data, data+len). Any input is safe (it is fuzzed). *res is
 * zeroed first, then filled as the verdict says. The TCP checksum is not
 * checked here (the TCP layer does it, or the NIC did). */
enum net_rx_verdict net_rx(struct net_ctx *ctx, uint8_t *data, uint16_t len,
                           struct net_rx_result *res);

/* Like net_rx for an ARP frame, but only learns: no reply, no counters except
 * arp_learned. For io lcores that are shown copies of ARP frames another lcore
 * received (so every lcore's cache sees every reply). Learning releases this
 * ctx's parked frames for the address (arp_pending_sent), and a full table
 * still evicts (arp_cache_full): both are about this ctx's own state. */
void net_arp_observe(struct net_ctx *ctx, const uint8_t *data, uint16_t len);

/* Send a gratuitous ARP (request form, sender = target = our IP), at start. */
int net_arp_announce(struct net_ctx *ctx);

/* Look up dst; true and the MAC copied out on a usable entry. A stale entry
 * still answers true but schedules a refresh request (rate-limited to one per
 * second per entry). */
bool net_arp_lookup(struct net_ctx *ctx, uint32_t ip_be, uint8_t mac[6]);

enum net_tx_verdict {
	NET_TX_SEND = 0, /* Ethernet header filled: caller transmits */
	NET_TX_PENDING,  /* parked until ARP resolves; the stack owns the frame */
	NET_TX_DROP,     /* unroutable or queue full; the stack freed the frame */
};

/* Route an outgoing IPv4 frame whose IPv4 header starts at data+14 and whose
 * destination is dst_be: next hop is dst if on-link, else the gateway. Fills
 * the Ethernet header (dst, src, type). On a miss the frame is parked and an
 * ARP request for the next hop goes out, at most one per second per address
 * while it stays unresolved. `len` must cover Ethernet + IPv4 headers. */
enum net_tx_verdict net_output_ipv4(struct net_ctx *ctx, void *frame,
                                    uint8_t *data, uint16_t len,
                                    uint32_t dst_be);

/* Expire ARP entries (evicted after 2 x timeout without refresh) and parked
 * frames older than pending_timeout_us. Call every few milliseconds. An
 * unresolved address's entry (kept to rate-limit requests and to accept the
 * late reply) goes once no request was sent for it for
 * max(pending_timeout_us, 1 s). */
void net_timer(struct net_ctx *ctx);

/* Internet checksum (RFC 1071) over buf, folded, not inverted. Any length
 * and alignment. Values are numbers in host order whose big-endian bytes are
 * the wire bytes: store a result with a big-endian write (p[0] = v >> 8,
 * p[1] = v), and build `seed` the same way (e.g. the pseudo-header's 16-bit
 * words added as numbers; a previous result chains as a seed when the
 * earlier buffer had an even length). A buffer whose checksum field is right
 * sums to 0xffff. */
uint16_t net_csum_partial(const void *buf, size_t len, uint32_t seed);
/* ~fold(sum): the value to store in a header's checksum field. */
uint16_t net_csum(const void *buf, size_t len);

#endif

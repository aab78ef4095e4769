/* RFC 1071 checksum: known vectors, odd lengths, odd alignment, seeds. */
#include <stdlib.h>

#include "check.h"
#include "dataplane/net/net.h"
#include "test_net_util.h"

static void known_vectors(void)
{
	/* RFC 1071 section 3: the sum of these words is ddf2. */
	static const uint8_t rfc[8] = {0x00, 0x01, 0xf2, 0x03,
	                               0xf4, 0xf5, 0xf6, 0xf7};
	CHECK_EQ_U64(net_csum_partial(rfc, 8, 0), 0xddf2);
	CHECK_EQ_U64(net_csum(rfc, 8), 0x220d);

	/* A textbook IPv4 header, its checksum field (b861) zeroed. */
	uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
	                  0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
	                  0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	CHECK_EQ_U64(net_csum(ip, 20), 0xb861);
	ip[10] = 0xb8;
	ip[11] = 0x61;
	CHECK_EQ_U64(net_csum_partial(ip, 20, 0), 0xffff);
	CHECK_EQ_U64(net_csum(ip, 20), 0);

	CHECK_EQ_U64(net_csum_partial(NULL, 0, 0), 0);
	CHECK_EQ_U64(net_csum(rfc, 0), 0xffff);
}

static void odd_lengths(void)
{
	/* The odd byte is the high half of a padded word. */
	static const uint8_t one[1] = {0x01};
	CHECK_EQ_U64(net_csum_partial(one, 1, 0), 0x0100);
	static const uint8_t three[3] = {0x01, 0x02, 0x03};
	CHECK_EQ_U64(net_csum_partial(three, 3, 0), 0x0402);
	/* ff ff ff: ffff + ff00 = 1feff -> feff + 1 = ff00 */
	static const uint8_t ff3[3] = {0xff, 0xff, 0xff};
	CHECK_EQ_U64(net_csum_partial(ff3, 3, 0), 0xff00);
}

/* Every length up to a few hundred bytes at every alignment in a word,
 * against the byte-at-a-time reference. */
static void against_reference(void)
{
	enum { MAXLEN = 300 };
	uint8_t *buf = malloc(MAXLEN + 16);
	srand(1071);
	for (int i = 0; i < MAXLEN + 16; i++)
		buf[i] = (uint8_t)rand();
	int bad = 0;
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= MAXLEN; len++) {
			/* exact-size copy so a sanitizer sees overreads */
			uint8_t *p = malloc(len ? len : 1);
			memcpy(p, buf + off, len);
			if (net_csum_partial(p, len, 0) != tn_ref_sum(p, len))
				bad++;
			free(p);
		}
	}
	CHECK_EQ_U64(bad, 0);

	/* all-ones data stresses the carries */
	enum { BIG = 70001 };
	uint8_t *ones = malloc(BIG);
	memset(ones, 0xff, BIG);
	CHECK_EQ_U64(net_csum_partial(ones, BIG, 0), tn_ref_sum(ones, BIG));
	CHECK_EQ_U64(net_csum_partial(ones + 1, BIG - 1, 0),
	             tn_ref_sum(ones + 1, BIG - 1));
	free(ones);
	free(buf);
}

static void seeds(void)
{
	uint8_t buf[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	/* chaining at an even boundary equals one pass */
	for (size_t cut = 0; cut <= 64; cut += 2) {
		uint16_t a = net_csum_partial(buf, cut, 0);
		CHECK_EQ_U64(net_csum_partial(buf + cut, 64 - cut, a),
		             net_csum_partial(buf, 64, 0));
	}
	/* a seed wider than 16 bits is folded, not truncated */
	CHECK_EQ_U64(net_csum_partial(NULL, 0, 0x0001ffffu), 0x0001);
	CHECK_EQ_U64(net_csum_partial(NULL, 0, 0xffffffffu), 0xffff);
	static const uint8_t w[2] = {0x12, 0x34};
	CHECK_EQ_U64(net_csum_partial(w, 2, 0x00010000u), 0x1235);
}

int main(void)
{
	known_vectors();
	odd_lengths();
	against_reference();
	seeds();
	CHECK_DONE();
}

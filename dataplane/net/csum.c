/* Internet checksum (RFC 1071). */
#include "dataplane/net/net.h"

#include <string.h>

static uint32_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)sum;
}

static uint16_t swap16(uint32_t v)
{
	return (uint16_t)((v & 0xff) << 8 | (v >> 8 & 0xff));
}

/* The one's complement sum does not care which byte of a 16-bit word is the
 * high one (RFC 1071 2.(B)): words are summed in host order, eight bytes per
 * memcpy'd load, and only the folded result is swapped to the big-endian
 * number the callers deal in. */
uint16_t net_csum_partial(const void *buf, size_t len, uint32_t seed)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const int little = 1;
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	const int little = 0;
#else
#error "unknown byte order"
#endif
	const uint8_t *p = buf;
	uint64_t sum = 0;

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		/* 32-bit halves: sums of 32-bit chunks fold to the same 16-bit
		 * sum, and 2^32 of them still fit the accumulator. */
		sum += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the high half of a zero-padded big-endian
		 * word; in host order that is where it sits in memory. */
		uint8_t last[2] = {p[0], 0};
		uint16_t w;
		memcpy(&w, last, 2);
		sum += w;
	}

	uint32_t s = fold(sum);
	if (little)
		s = swap16(s);
	return (uint16_t)fold((uint64_t)s + seed);
}

uint16_t net_csum(const void *buf, size_t len)
{
	return (uint16_t)~net_csum_partial(buf, len, 0);
}

/*
 * siphash.h - SipHash-2-4: a keyed 64-bit hash that an attacker who does
 * not know the key cannot steer (hash-flooding resistant). Used for the TCP
 * connection table, ISNs and SYN cookies, and the auth cache's
 * fingerprints. Pure C, no allocation.
 */
#ifndef LOOM_COMMON_SIPHASH_H
#define LOOM_COMMON_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len);

#endif

/*
 * uuid.h - per-lcore UUIDv4 generator for server-assigned record ids.
 *
 * Each io lcore owns one generator, seeded once from getrandom(2), so ids
 * cost no syscall and no shared state. The stream is xoshiro256**: not a
 * cryptographic RNG, which ids do not need (they must be unique, not
 * secret); 122 random bits make a collision across a cluster's lifetime
 * negligible, and the store still refuses a duplicate key (409) rather than
 * overwrite. Output: 36 lower-case characters, RFC 9562 layout, version 4,
 * variant 10.
 */
#ifndef LOOM_HTTP_UUID_H
#define LOOM_HTTP_UUID_H

#include <stdint.h>

#define UUID_STR_LEN 36

struct uuid_gen {
	uint64_t s[4];
};

/* Seed from getrandom(2). Returns 0, or -1 if the kernel gave no entropy. */
int uuid_gen_init(struct uuid_gen *g);
/* Seed from a value (tests and benchmarks: a reproducible stream). */
void uuid_gen_seed(struct uuid_gen *g, uint64_t seed);
/* Write the next id into out[0, 36) (not NUL-terminated). */
void uuid_v4(struct uuid_gen *g, char out[UUID_STR_LEN]);

#endif

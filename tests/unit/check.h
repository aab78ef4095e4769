/*
 * check.h - the unit tests' few assertions. A failed CHECK prints where and
 * what, counts, and the test carries on; CHECK_DONE() ends main with the
 * count so ctest sees a failure. No framework, no allocation.
 */
#ifndef LOOM_TESTS_CHECK_H
#define LOOM_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_total;

#define CHECK(cond)                                                          \
	do {                                                                 \
		check_total++;                                               \
		if (!(cond)) {                                               \
			check_failures++;                                    \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",         \
			        __FILE__, __LINE__, #cond);                  \
		}                                                            \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                   \
	do {                                                                 \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b); \
		check_total++;                                               \
		if (check_a_ != check_b_) {                                  \
			check_failures++;                                    \
			fprintf(stderr,                                      \
			        "%s:%d: %s == %s failed: %" PRIu64           \
			        " != %" PRIu64 "\n",                         \
			        __FILE__, __LINE__, #a, #b, check_a_,        \
			        check_b_);                                   \
		}                                                            \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                      \
	do {                                                                 \
		check_total++;                                               \
		if (strstr((hay), (needle)) == NULL) {                       \
			check_failures++;                                    \
			fprintf(stderr,                                      \
			        "%s:%d: \"%s\" does not contain \"%s\"\n",   \
			        __FILE__, __LINE__, (hay), (needle));        \
		}                                                            \
	} while (0)

#define CHECK_DONE()                                                         \
	do {                                                                 \
		printf("%d checks, %d failed\n", check_total,                \
		       check_failures);                                      \
		return check_failures ? 1 : 0;                               \
	} while (0)

#endif

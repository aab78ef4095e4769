/*
 * aead_bench.c - seal + open throughput of the replication frame layer
 * (dataplane/repl/frame.h) for both AEADs, to choose AEAD_DEFAULT.
 *
 * For each cipher and payload size, one sender and one receiver keyed
 * alike; each iteration seals one frame and opens it in place (the work a
 * link does per frame, both ends on one core). Reported: ns per frame and
 * payload MB/s (10^6 bytes) over the timed loop, after a warm-up. The
 * payload is re-filled only once: the cipher's cost does not depend on the
 * bytes.
 *
 *   aead_bench [--seconds S]   (default 0.5 s per cell)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/repl/frame.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(enum aead_alg alg, struct frame_tx *tx, struct frame_rx *rx)
{
	struct frame_keys k = {.alg = alg};

	for (unsigned i = 0; i < FRAME_KEY_LEN; i++)
		k.key[i] = (uint8_t)(0x40 + i);
	for (unsigned i = 0; i < FRAME_SALT_LEN; i++)
		k.salt[i] = (uint8_t)(0xa0 + i);
	if (frame_tx_init(tx, 0) != FRAME_OK || frame_rx_init(rx, 0) != FRAME_OK)
		return -1;
	if (frame_tx_set_epoch(tx, 1, &k) != FRAME_OK ||
	    frame_rx_install_epoch(rx, 1, &k) != FRAME_OK)
		return -1;
	return 0;
}

/* One seal + open; -1 on any failure (the bench then stops: a number for
 * a broken path would be meaningless). */
static int round_trip(struct frame_tx *tx, struct frame_rx *rx,
                      const uint8_t *payload, size_t len, uint8_t *frame,
                      size_t cap)
{
	struct frame_view v;
	size_t n;

	if (frame_seal(tx, 3, 0, payload, len, frame, cap, &n) != FRAME_OK)
		return -1;
	if (frame_open(rx, frame, n, &v) != FRAME_OK || v.payload_len != len)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 512, 4096, 65536};
	static const enum aead_alg algs[] = {AEAD_CHACHA20_POLY1305,
	                                     AEAD_AES256_GCM};
	double budget = 0.5;
	uint8_t *payload, *frame;
	size_t cap = 65536 + FRAME_OVERHEAD;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			budget = strtod(argv[++i], NULL);
		} else {
			fprintf(stderr, "usage: aead_bench [--seconds S]\n");
			return 2;
		}
	}
	if (!(budget > 0)) {
		fprintf(stderr, "aead_bench: --seconds must be > 0\n");
		return 2;
	}
	payload = malloc(cap);
	frame = malloc(cap);
	if (payload == NULL || frame == NULL) {
		perror("malloc");
		return 1;
	}
	for (size_t i = 0; i < cap; i++)
		payload[i] = (uint8_t)(i * 131u + 7u);

	printf("%-18s %8s %12s %10s %12s\n", "aead", "payload", "frames",
	       "ns/frame", "MB/s");
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct frame_tx tx;
			struct frame_rx rx;
			size_t len = sizes[s];
			uint64_t iters = 0, batch = 1;
			double t0, t;

			if (setup(algs[a], &tx, &rx) != 0) {
				fprintf(stderr, "aead_bench: key setup failed\n");
				return 1;
			}
			for (int w = 0; w < 16; w++)
				if (round_trip(&tx, &rx, payload, len, frame,
				               cap) != 0)
					goto broken;
			/* Time whole batches; grow them so the clock is read
			 * rarely compared with the work. */
			t0 = now_s();
			do {
				for (uint64_t i = 0; i < batch; i++)
					if (round_trip(&tx, &rx, payload, len,
					               frame, cap) != 0)
						goto broken;
				iters += batch;
				if (batch < 4096)
					batch *= 2;
				t = now_s() - t0;
			} while (t < budget);
			printf("%-18s %8zu %12llu %10.0f %12.1f\n",
			       aead_alg_name(algs[a]), len,
			       (unsigned long long)iters, t * 1e9 / (double)iters,
			       (double)len * (double)iters / t / 1e6);
			fflush(stdout);
			frame_tx_wipe(&tx);
			frame_rx_wipe(&rx);
		}
	}
	printf("default: %s\n", aead_alg_name(AEAD_DEFAULT));
	free(payload);
	free(frame);
	return 0;
broken:
	fprintf(stderr, "aead_bench: seal/open failed\n");
	return 1;
}

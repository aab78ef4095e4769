/*
 * metrics.h - GET /metrics: the node's counters in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Rendered on the io lcore that serves the request, from every lcore's
 * counters read relaxed (dataplane/counters.h): a scrape may be a burst
 * stale, never torn. Names are loom_<area>_<what>[_total|_seconds...];
 * totals over all io lcores unless a label says otherwise. The same
 * counters are in the DPDK telemetry /loom/stats.
 */
#ifndef LOOM_DATAPLANE_METRICS_H
#define LOOM_DATAPLANE_METRICS_H

#include <stddef.h>

#include "dataplane/loomd.h"
#include "storage/store.h"

/* Render into buf[0, cap); returns the length written. When cap is too
 * small the output is cut at a line boundary. reader (may be NULL) is an
 * active read txn for the record-count gauge. */
size_t metrics_render(const struct loomd *app, struct store_reader *reader,
                      char *buf, size_t cap);

#endif

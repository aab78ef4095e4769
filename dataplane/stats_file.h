/*
 * stats_file.h - loomd's counters as one JSON document, written by the main
 * lcore to [run] stats_file (write to a temporary name, then rename, so a
 * reader never sees half a file) every stats_interval_ms and at exit.
 *
 * Layout: {"node":..,"uptime_ms":..,"ports":[{ethdev stats}],
 *          "lcores":[{"lcore":N,"role":"io",...counters,"net":{...}}],
 *          "totals":{"net_drops":N,"rx_pkts":N,...}}
 */
#ifndef LOOM_DATAPLANE_STATS_FILE_H
#define LOOM_DATAPLANE_STATS_FILE_H

#include <stdio.h>

#include "dataplane/loomd.h"

/* Print the document to f. */
void stats_print_json(const struct loomd *app, FILE *f);

/* Rewrite path atomically; -1 (logged once by the caller) on I/O error. */
int stats_write_file(const struct loomd *app, const char *path);

#endif

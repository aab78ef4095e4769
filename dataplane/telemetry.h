/*
 * telemetry.h - loomd's DPDK telemetry commands, read with dpdk-telemetry.py
 * (`echo /loom/stats | dpdk-telemetry.py -f FILE_PREFIX`):
 *
 *   /loom/stats  one flat dict: node, uptime, the port's ethdev counters
 *                ("port_ipackets"...), every io lcore counter summed over
 *                the io lcores ("io_rx_pkts"...), every L2/L3 stack counter
 *                ("net_ip_drop_csum"...) and TCP counter ("tcp_retransmits"...):
 *                the stats file's names with their group as a prefix
 *                (telemetry keys allow only letters, digits, '_' and '/')
 *   /loom/peers  the replication peers and their links (none until the
 *                replication issue; the command exists so tools can rely on
 *                it)
 *
 * The telemetry thread reads the counters the way the stats-file writer
 * does: relaxed, possibly a burst stale.
 */
#ifndef LOOM_DATAPLANE_TELEMETRY_H
#define LOOM_DATAPLANE_TELEMETRY_H

#include "dataplane/loomd.h"

/* Register the commands for app (once, after the lcores exist). DPDK 22.11
 * callbacks carry no user argument, so the app is remembered in one
 * write-once pointer; telemetry_unregister() clears it before shutdown
 * frees what it points to. */
int telemetry_register(const struct loomd *app);
void telemetry_unregister(void);

#endif

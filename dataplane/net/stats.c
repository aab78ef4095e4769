/* Counter names and sums, generated from NET_STATS_LIST in net.h. */
#include "dataplane/net/net.h"

uint64_t net_stats_drops(const struct net_stats *s)
{
	uint64_t sum = 0;
#define NET_STATS_ADD_(name, drop) sum += (drop) ? s->name : 0;
	NET_STATS_LIST(NET_STATS_ADD_)
#undef NET_STATS_ADD_
	return sum;
}

void net_stats_foreach(const struct net_stats *s,
                       void (*fn)(void *arg, const char *name, uint64_t value),
                       void *arg)
{
#define NET_STATS_VISIT_(name, drop) fn(arg, #name, s->name);
	NET_STATS_LIST(NET_STATS_VISIT_)
#undef NET_STATS_VISIT_
}

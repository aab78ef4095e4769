# The L2/L3 stack's receive path (and its ARP state) under libFuzzer. The
# stack's sources are compiled into the target so they get the fuzzer's
# coverage and sanitizers.
set(LOOM_NET_SOURCES
  ${CMAKE_SOURCE_DIR}/dataplane/net/csum.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/stats.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/eth.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/arp.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/ipv4.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/icmp.c)
loom_fuzz_target(fuzz_net_rx ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_net_rx.c
                 ${LOOM_NET_SOURCES})

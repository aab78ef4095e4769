# The TCP over libFuzzer: a long-lived stack fed segments, time and
# application actions. Seeds in corpus/fuzz_tcp. tcp_harness.c for its
# byte-order and address helpers.
loom_fuzz_target(fuzz_tcp
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_tcp.c
  ${CMAKE_SOURCE_DIR}/tests/unit/tcp_harness.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/csum.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/stats.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/eth.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/arp.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/ipv4.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/icmp.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_conn.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_hash.c
  ${CMAKE_SOURCE_DIR}/common/siphash.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_opt.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_buf.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_cc.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_out.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_in.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_timer.c
  ${CMAKE_SOURCE_DIR}/dataplane/net/tcp_api.c)

# The TCP (dataplane/net/tcp_*.c): scripted-peer tests through
# tcp_harness.c, which fakes the frame ops and plays the peer.
foreach(area handshake data loss sec)
  loom_unit_test(test_tcp_${area}
    ${CMAKE_SOURCE_DIR}/tests/unit/test_tcp_${area}.c
    ${CMAKE_SOURCE_DIR}/tests/unit/tcp_harness.c)
  target_link_libraries(test_tcp_${area} PRIVATE loom_net)
endforeach()

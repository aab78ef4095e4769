# The benchmark tools' pure parts.
# test_loom_load: loom-load's histogram, ids, request bytes (checked with
# the server's HTTP parser and JSON validator), response parser, and its
# client state machine over tcp_harness.c against a scripted HTTP server.
loom_unit_test(test_loom_load
  ${CMAKE_SOURCE_DIR}/tests/unit/test_loom_load.c
  ${CMAKE_SOURCE_DIR}/tests/unit/tcp_harness.c)
target_link_libraries(test_loom_load PRIVATE loom_load_pure loom_http)

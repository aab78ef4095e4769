# The REST API (dataplane/http/rest_*.c, http_response.c, uuid.c).
# test_rest_route: routes, ids, ETags, id insertion, response heads (pure).
# test_uuid: the per-lcore UUIDv4 generator.
foreach(area rest_route uuid)
  loom_unit_test(test_${area} ${CMAKE_SOURCE_DIR}/tests/unit/test_${area}.c)
  target_link_libraries(test_${area} PRIVATE loom_http)
endforeach()

# test_rest_server: the server end to end without DPDK: a client node and
# the server's node wired through tcp_harness.c, a real LMDB store in a
# mkdtemp directory, writes applied with storage_apply_batch.
loom_unit_test(test_rest_server
  ${CMAKE_SOURCE_DIR}/tests/unit/test_rest_server.c
  ${CMAKE_SOURCE_DIR}/tests/unit/tcp_harness.c)
target_link_libraries(test_rest_server PRIVATE loom_rest)

# Replication codec (dataplane/repl/): AEAD frames (counters, epochs, every
# rejection) and the message payloads.
foreach(area frame msg)
  loom_unit_test(test_repl_${area}
                 ${CMAKE_SOURCE_DIR}/tests/unit/test_repl_${area}.c)
  target_link_libraries(test_repl_${area} PRIVATE loom_repl)
endforeach()

# test_repl_session: the replication sessions end to end without DPDK: two
# or three nodes wired through tcp_harness.c (frames routed by address, with
# loss, corruption and replay in flight), real LMDB stores in mkdtemp
# directories, WRITE_REMOTE applied with storage_apply_batch.
loom_unit_test(test_repl_session
  ${CMAKE_SOURCE_DIR}/tests/unit/test_repl_session.c
  ${CMAKE_SOURCE_DIR}/tests/unit/tcp_harness.c)
target_link_libraries(test_repl_session PRIVATE loom_repl loom_storage
                      loom_net)
set_tests_properties(test_repl_session PROPERTIES TIMEOUT 300)

# Replication codec (dataplane/repl/): AEAD frames (counters, epochs, every
# rejection) and the message payloads.
foreach(area frame msg)
  loom_unit_test(test_repl_${area}
                 ${CMAKE_SOURCE_DIR}/tests/unit/test_repl_${area}.c)
  target_link_libraries(test_repl_${area} PRIVATE loom_repl)
endforeach()

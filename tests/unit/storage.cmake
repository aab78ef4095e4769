# Storage (storage/): HLC, the log/wire entry codec, the LMDB store.
foreach(area hlc entry store)
  loom_unit_test(test_${area} ${CMAKE_SOURCE_DIR}/tests/unit/test_${area}.c)
  target_link_libraries(test_${area} PRIVATE loom_storage)
endforeach()

# Group commit (storage/batch.c) over a real store.
loom_unit_test(test_storage_batch
               ${CMAKE_SOURCE_DIR}/tests/unit/test_storage_batch.c)
target_link_libraries(test_storage_batch PRIVATE loom_storage)

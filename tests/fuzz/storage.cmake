# The log/wire entry decoder (storage/entry.c) over libFuzzer. Seeds in
# corpus/fuzz_entry.
loom_fuzz_target(fuzz_entry
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_entry.c
  ${CMAKE_SOURCE_DIR}/storage/entry.c)

# The merge-copy record decoder (storage/copy_record.h, header-only; it
# uses entry.c's table check). Seeds in corpus/fuzz_copy_record if present.
loom_fuzz_target(fuzz_copy_record
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_copy_record.c
  ${CMAKE_SOURCE_DIR}/storage/entry.c)

# The log/wire entry decoder (storage/entry.c) over libFuzzer. Seeds in
# corpus/fuzz_entry.
loom_fuzz_target(fuzz_entry
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_entry.c
  ${CMAKE_SOURCE_DIR}/storage/entry.c)

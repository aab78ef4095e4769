# Config parser over arbitrary text; seeds in corpus/fuzz_config.
loom_fuzz_target(fuzz_config
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_config.c
  ${CMAKE_SOURCE_DIR}/common/config.c
  ${CMAKE_SOURCE_DIR}/common/base64.c
  ${CMAKE_SOURCE_DIR}/common/log.c)

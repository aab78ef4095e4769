# The control plane's message codec (common/ctl_msg.c) on arbitrary bytes,
# with a canonical re-encoding oracle. Seeds in corpus/fuzz_ctl_msg.
loom_fuzz_target(fuzz_ctl_msg
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ctl_msg.c
  ${CMAKE_SOURCE_DIR}/common/ctl_msg.c)

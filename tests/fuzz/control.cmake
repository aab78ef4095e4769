# The control plane's pure pieces under libFuzzer: the topology's canonical
# text (control/topology.c), compiled in for coverage (it needs nothing of
# loom_control's wolfSSL). Seeds in corpus/fuzz_topology.
loom_fuzz_target(fuzz_topology
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_topology.c
  ${CMAKE_SOURCE_DIR}/control/topology.c)

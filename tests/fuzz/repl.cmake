# The replication codec (dataplane/repl/: frames, AEAD, messages) under
# libFuzzer, with the entry codec it carries; the sources are compiled in
# for coverage, wolfCrypt supplies the ciphers (not instrumented, not under
# test). Seeds in corpus/fuzz_repl_frame.
loom_fuzz_target(fuzz_repl_frame
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_repl_frame.c
  ${CMAKE_SOURCE_DIR}/dataplane/repl/aead.c
  ${CMAKE_SOURCE_DIR}/dataplane/repl/frame.c
  ${CMAKE_SOURCE_DIR}/dataplane/repl/msg.c
  ${CMAKE_SOURCE_DIR}/storage/entry.c)
if(LOOM_FUZZ)
  target_link_libraries(fuzz_repl_frame PRIVATE PkgConfig::WOLFSSL)
endif()

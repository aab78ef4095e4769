# The HTTP request parser (+ chunked decoder over the body) and the JSON
# validator under libFuzzer; the sources are compiled in for coverage.
loom_fuzz_target(fuzz_http_parser ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_http_parser.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/http_parser.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/http_chunked.c)
loom_fuzz_target(fuzz_json ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_json.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/json_validate.c)
# HTTP Basic authentication (auth_check) over arbitrary header values;
# wolfCrypt supplies PBKDF2 (not instrumented, it is not under test).
loom_fuzz_target(fuzz_auth ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_auth.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/auth.c
                 ${CMAKE_SOURCE_DIR}/common/base64.c
                 ${CMAKE_SOURCE_DIR}/common/siphash.c)
if(LOOM_FUZZ)
  target_link_libraries(fuzz_auth PRIVATE PkgConfig::WOLFSSL)
endif()

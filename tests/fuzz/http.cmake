# The HTTP request parser (+ chunked decoder over the body) and the JSON
# validator under libFuzzer; the sources are compiled in for coverage.
loom_fuzz_target(fuzz_http_parser ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_http_parser.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/http_parser.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/http_chunked.c)
loom_fuzz_target(fuzz_json ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_json.c
                 ${CMAKE_SOURCE_DIR}/dataplane/http/json_validate.c)

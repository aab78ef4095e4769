# The REST API's pure pieces (routes, ids, ETags, id insertion, error
# bodies) under libFuzzer; the sources are compiled in for coverage.
# Seeds in corpus/fuzz_rest_route.
loom_fuzz_target(fuzz_rest_route
  ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_rest_route.c
  ${CMAKE_SOURCE_DIR}/dataplane/http/rest_route.c
  ${CMAKE_SOURCE_DIR}/dataplane/http/json_validate.c
  ${CMAKE_SOURCE_DIR}/dataplane/http/http_response.c
  ${CMAKE_SOURCE_DIR}/dataplane/http/uuid.c)

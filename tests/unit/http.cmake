# The HTTP/1.1 request parser, chunked decoder, JSON validator and Basic
# authentication with its base64 codec (dataplane/http, library loom_http):
# one test per concern.
foreach(area http_parser http_chunked json_validate auth)
  loom_unit_test(test_${area} ${CMAKE_SOURCE_DIR}/tests/unit/test_${area}.c)
  target_link_libraries(test_${area} PRIVATE loom_http)
endforeach()

# Config parser (common/config.c). LOOM_SOURCE_DIR lets the test read the
# shipped profiles in hw-configs/ from the source tree, wherever it builds.
loom_unit_test(test_config ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c)
target_link_libraries(test_config PRIVATE loom_common)
target_compile_definitions(test_config PRIVATE
                           LOOM_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

# The control plane's message codec (common/ctl_msg.c): round trips, every
# refusal, every truncation, golden bytes, stream splitting.
loom_unit_test(test_ctl_msg ${CMAKE_SOURCE_DIR}/tests/unit/test_ctl_msg.c)
target_link_libraries(test_ctl_msg PRIVATE loom_common)

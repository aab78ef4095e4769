loom_unit_test(test_fault ${CMAKE_SOURCE_DIR}/tests/unit/test_fault.c)
target_link_libraries(test_fault PRIVATE loom_port_pure m)
loom_unit_test(test_idle ${CMAKE_SOURCE_DIR}/tests/unit/test_idle.c)
target_link_libraries(test_idle PRIVATE loom_port_pure)

# The L2/L3 stack (dataplane/net): one test per concern; test_net_util.c
# holds the fake frame ops and frame builders they share.
foreach(area csum stats eth arp ipv4 icmp)
  loom_unit_test(test_net_${area}
    ${CMAKE_SOURCE_DIR}/tests/unit/test_net_${area}.c
    ${CMAKE_SOURCE_DIR}/tests/unit/test_net_util.c)
  target_link_libraries(test_net_${area} PRIVATE loom_net)
endforeach()

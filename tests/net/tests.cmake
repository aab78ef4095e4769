# net: root, network namespaces, one node.
loom_script_test(net_l2l3 net tests/net/test_l2l3.sh)
set_tests_properties(net_l2l3 PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)

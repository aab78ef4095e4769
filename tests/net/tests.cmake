# net: root, network namespaces, one node. Each script exits 77 (skipped)
# without root; RUN_SERIAL because they share the machine's 2 cores with
# loomd and would skew each other's deadlines.
loom_script_test(net_l2l3 net tests/net/test_l2l3.sh)
set_tests_properties(net_l2l3 PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)

# The TCP test tools checked kernel to kernel (no loomd), including that
# every checker fails against a corrupting or resetting peer.
loom_script_test(net_tools_selftest net tests/net/selftest_tools.sh)
set_tests_properties(net_tools_selftest PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 300)

# loomd's TCP (the [test] echo service and active open). TIMEOUTs sit well
# above each script's own deadlines (ECHO_DEADLINE_S, FAULTS_BOUND_S, ...),
# which are the real bounds: a script fails with a message before ctest
# would kill it.
loom_script_test(net_tcp_echo net tests/net/test_tcp_echo.sh)
set_tests_properties(net_tcp_echo PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)
loom_script_test(net_tcp_faults net tests/net/test_tcp_faults.sh)
set_tests_properties(net_tcp_faults PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)
loom_script_test(net_tcp_bulk net tests/net/test_tcp_bulk.sh)
set_tests_properties(net_tcp_bulk PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)
loom_script_test(net_tcp_active net tests/net/test_tcp_active.sh)
set_tests_properties(net_tcp_active PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)
loom_script_test(net_tcp_synflood net tests/net/test_tcp_synflood.sh)
set_tests_properties(net_tcp_synflood PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)

# The echo test again with two io lcores: flows spread over two queues by
# the kernel's fanout, placed on their owning lcore by software steering.
add_test(NAME net_tcp_echo_io2 COMMAND ${CMAKE_SOURCE_DIR}/tests/net/test_tcp_echo.sh
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
set_tests_properties(net_tcp_echo_io2 PROPERTIES LABELS net SKIP_RETURN_CODE 77
  RUN_SERIAL TRUE TIMEOUT 600
  ENVIRONMENT "LOOM_BUILD_DIR=${CMAKE_BINARY_DIR};LOOM_SOURCE_DIR=${CMAKE_SOURCE_DIR};LOOM_NODE_FLAGS=--io 2;TCP_ECHO_CONNS=300;TCP_ECHO_BYTES=262144")

# Real 2 MiB hugepages reserved and given back through scripts/hugepages.sh.
loom_script_test(hugepages_real net tests/net/test_hugepages_real.sh)
set_tests_properties(hugepages_real PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 120)

# The REST API (DESIGN §3) from kernel clients in the client namespace:
# every route with curl plus pipelining/chunked/Expect by hand and basic
# auth; 100,000 POSTs over 200 connections, all acknowledged ids read back;
# kill -9 mid-load loses no acknowledged write; 10,000 abusive requests
# while a good client keeps working. TIMEOUTs sit above each script's own
# deadlines (load: 600 s for the client run; crash: 180 s to reach the kill,
# 60 s for the client to stop, 300 s to verify; abuse: 400 s).
loom_script_test(net_http_routes net tests/net/test_http_routes.sh)
set_tests_properties(net_http_routes PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)
loom_script_test(net_http_load net tests/net/test_http_load.sh)
set_tests_properties(net_http_load PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 900)
loom_script_test(net_http_crash net tests/net/test_http_crash.sh)
set_tests_properties(net_http_crash PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 900)
loom_script_test(net_http_abuse net tests/net/test_http_abuse.sh)
set_tests_properties(net_http_abuse PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)

# loom-load (bench/loom_load/), the DPDK load generator, against loomd:
# 20,000 POSTs all acknowledged, ids read back, /health, SIGTERM. Its own
# bounds: 150 s for the count run, 60 s for /health, 10 s after SIGTERM.
loom_script_test(net_loom_load net tests/net/test_loom_load.sh)
set_tests_properties(net_loom_load PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)

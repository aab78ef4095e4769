# cluster: root, network namespaces, several loomd nodes replicating to each
# other (DESIGN §2-§4, docs/REPLICATION.md); harness in tests/cluster/lib.sh.
# Each script exits 77 (skipped) without root. RUN_SERIAL: every node shares
# the machine's 2 cores. The TIMEOUTs are backstops well above each
# script's own bounds (every wait is bounded and fails with a message
# first); typical runs take a few minutes.
#   converge: 3 x 5,000 concurrent POSTs, convergence, every id everywhere
#   kill:     5 rounds of kill -9 of a random node mid-load, restart, catch up
#   linkcut:  a node's link down 10 s under load; resume from cursors, no copy
#   samekey:  the same keys PUT at once on two nodes; one winner everywhere
#   sizes:    5 and 8 nodes under a moderate load; RSS per node printed
#   resync:   a node back after its peers pruned their logs (retention 0)
#             is merge-copied; its own records still reach them
#   confirm:  X-Replicate-To: confirm=2 answers after both peers; 504 with
#             a peer down; the write still replicates
#   faults:   converge with 2% drop and 1% reorder on every port
#   relay:    the link of two nodes cut (bridge port isolation): each
#             gets the other's writes relayed by the third; heal
#   keys:     peers and keys over loomd's control socket only: rekeys of
#             every pair under load (no client error, nothing lost), an
#             old epoch refused, a removed node's links closed and refused
#   control:  loom-controld on every node, the cluster formed with loomctl
#             only; status, rekeys under load, a controld killed under
#             load, node remove
#   refuse:   a fourth node presenting another CA's, an expired, a revoked
#             and another name's certificate: refused, no key, the others
#             unaffected
# Every test runs the control plane: each node a loomd and a loom-controld,
# certificates from a test CA, the cluster formed with `loomctl node add`.
loom_script_test(cluster_converge cluster tests/cluster/test_cluster_converge.sh)
set_tests_properties(cluster_converge PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1800)
loom_script_test(cluster_kill cluster tests/cluster/test_cluster_kill.sh)
set_tests_properties(cluster_kill PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 3600)
loom_script_test(cluster_linkcut cluster tests/cluster/test_cluster_linkcut.sh)
set_tests_properties(cluster_linkcut PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1800)
loom_script_test(cluster_samekey cluster tests/cluster/test_cluster_samekey.sh)
set_tests_properties(cluster_samekey PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1200)
loom_script_test(cluster_sizes cluster tests/cluster/test_cluster_sizes.sh)
set_tests_properties(cluster_sizes PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 3600)
loom_script_test(cluster_resync cluster tests/cluster/test_cluster_resync.sh)
set_tests_properties(cluster_resync PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1800)
loom_script_test(cluster_confirm cluster tests/cluster/test_cluster_confirm.sh)
set_tests_properties(cluster_confirm PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 900)
loom_script_test(cluster_faults cluster tests/cluster/test_cluster_faults.sh)
set_tests_properties(cluster_faults PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1800)
loom_script_test(cluster_relay cluster tests/cluster/test_cluster_relay.sh)
set_tests_properties(cluster_relay PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1200)
loom_script_test(cluster_keys cluster tests/cluster/test_cluster_keys.sh)
set_tests_properties(cluster_keys PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1200)
loom_script_test(cluster_control cluster tests/cluster/test_cluster_control.sh)
set_tests_properties(cluster_control PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1500)
loom_script_test(cluster_refuse cluster tests/cluster/test_cluster_refuse.sh)
set_tests_properties(cluster_refuse PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 1200)

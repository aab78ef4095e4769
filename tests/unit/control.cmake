# The control plane: the cluster PKI (control/pki.c, library loom_control)
# in C, and `loomctl ca|cert` end to end on the built binary. Both work in
# mktemp directories only.
loom_unit_test(test_pki ${CMAKE_SOURCE_DIR}/tests/unit/test_pki.c)
target_link_libraries(test_pki PRIVATE loom_control)

loom_script_test(loomctl_pki unit tests/unit/test_loomctl_pki.sh)
set_tests_properties(loomctl_pki PROPERTIES TIMEOUT 120)

# The cluster topology (control/topology.c): nodes, the canonical text, the
# file (in a mkdtemp directory) and the adopt rule.
loom_unit_test(test_topology ${CMAKE_SOURCE_DIR}/tests/unit/test_topology.c)
target_link_libraries(test_topology PRIVATE loom_control)

# loom-controld's TLS 1.3 links (control/tls.c): mutual authentication over
# socketpairs stepped in one thread, every refusal in both directions, the
# key export; certificates made with control/pki.h in a mkdtemp directory.
loom_unit_test(test_ctl_tls ${CMAKE_SOURCE_DIR}/tests/unit/test_ctl_tls.c)
target_link_libraries(test_ctl_tls PRIVATE loom_control)

# loom-controld end to end (tests/control/test_controld.sh): seven daemons
# and fake loomds (tests/control/fake_loomd.py) on loopback, no root: a
# cluster formed by `loomctl node add`, keys equal at both ends of every
# pair, rekey, restarts, dead links, refusals (another CA, expired,
# revoked, wrong name) both ways, node remove. pki_issue_at makes the
# expired certificate (loomctl cannot backdate one).
add_executable(pki_issue_at ${CMAKE_SOURCE_DIR}/tests/control/pki_issue_at.c)
target_link_libraries(pki_issue_at PRIVATE loom_control)
# next to loomctl and loom-controld, where the script looks
set_target_properties(pki_issue_at PROPERTIES
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
loom_script_test(controld unit tests/control/test_controld.sh)
set_tests_properties(controld PROPERTIES TIMEOUT 300)

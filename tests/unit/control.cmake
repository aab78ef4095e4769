# The control plane: the cluster PKI (control/pki.c, library loom_control)
# in C, and `loomctl ca|cert` end to end on the built binary. Both work in
# mktemp directories only.
loom_unit_test(test_pki ${CMAKE_SOURCE_DIR}/tests/unit/test_pki.c)
target_link_libraries(test_pki PRIVATE loom_control)

loom_script_test(loomctl_pki unit tests/unit/test_loomctl_pki.sh)
set_tests_properties(loomctl_pki PROPERTIES TIMEOUT 120)

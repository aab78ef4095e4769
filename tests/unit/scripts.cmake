# Operations scripts (scripts/*.sh): lint, hugepages on a fake sysfs, and the
# namespace test topology. Script paths are relative to the source dir.
loom_script_test(scripts_shellcheck unit tests/unit/test_shellcheck.sh)
loom_script_test(hugepages_fake_sysfs unit tests/unit/test_hugepages.sh)
set_tests_properties(scripts_shellcheck hugepages_fake_sysfs PROPERTIES TIMEOUT 120)

# Needs root (network namespaces); exits 77 (skipped) otherwise.
loom_script_test(devnet_updown net tests/net/test_devnet.sh)
set_tests_properties(devnet_updown PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180)

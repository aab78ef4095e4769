# Host tooling (scripts/host-check.sh) on a fake sysfs; the hugepages.sh test
# (persist/boot included) is registered in scripts.cmake. Script paths are
# relative to the source dir.
loom_script_test(host_check_fake_sysfs unit tests/unit/test_host_check.sh)
set_tests_properties(host_check_fake_sysfs PROPERTIES TIMEOUT 120)

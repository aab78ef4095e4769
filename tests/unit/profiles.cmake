# Machine profiles (hw-configs/*.ini) and the NIC binding script.
loom_script_test(hw_profiles_check_config unit tests/unit/test_profiles.sh)
loom_script_test(nic_bind_fake_sysfs unit tests/unit/test_nic_bind.sh)
set_tests_properties(hw_profiles_check_config nic_bind_fake_sysfs PROPERTIES TIMEOUT 120)

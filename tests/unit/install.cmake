# scripts/install.sh into throw-away sysroots (no root, no systemctl).
loom_script_test(install_sysroot unit tests/unit/test_install.sh)
set_tests_properties(install_sysroot PROPERTIES TIMEOUT 120)

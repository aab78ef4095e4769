#!/usr/bin/env bash
# test.sh: the whole test suite from a fresh Debian 12 machine, as root.
#   1. installs every package (scripts/install-deps.sh; a no-op when present)
#   2. builds everything with clang into build/, libFuzzer targets included
#   3. builds again with AddressSanitizer+UBSan into build-san/ and runs the
#      unit and net tests there (loomd under ASan/LSan: a leak or an error
#      at shutdown makes its exit status, and so the test, fail)
#   4. runs every ctest label in build/: unit, net, cluster, fuzz
# Options: --label L (only that ctest label), --fuzz-seconds N (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

label="" fuzz_secs=20
while [[ $# -gt 0 ]]; do
  case $1 in
    --label) label=$2; shift 2 ;;
    --fuzz-seconds) fuzz_secs=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
jobs=$(nproc)

CC=clang cmake -S . -B build -DLOOM_FUZZ=ON -DLOOM_FUZZ_SECONDS="$fuzz_secs" >/dev/null
cmake --build build -j"$jobs"

if [[ -z $label || $label == unit || $label == net ]]; then
  CC=clang cmake -S . -B build-san -DLOOM_SANITIZE=address,undefined >/dev/null
  cmake --build build-san -j"$jobs"
  echo "== ${label:-unit and net} tests under AddressSanitizer + UBSan"
  (cd build-san && ctest -L "${label:-unit|net}" --output-on-failure)
fi

echo "== ctest ${label:-all labels}"
cd build
if [[ -n $label ]]; then
  ctest -L "$label" --output-on-failure
else
  ctest --output-on-failure
fi

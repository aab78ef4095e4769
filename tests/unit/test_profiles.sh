#!/usr/bin/env bash
# test_profiles.sh: every hw-configs/*.ini passes `loomd --check-config`;
# every real-NIC profile (all but veth.ini) has an EAL allow-list (-a),
# no --no-pci, and a [host] section stating hugepages and numa_node.
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
loomd=${LOOM_BUILD_DIR:-$src/build}/loomd
[[ -x $loomd ]] || { echo "FAIL: $loomd not built" >&2; exit 1; }

fails=0 n=0
for f in "$src"/hw-configs/*.ini; do
  n=$((n + 1))
  name=${f##*/}
  if out=$("$loomd" --check-config "$f" 2>&1); then
    echo "PASS: $name: $out"
  else
    echo "FAIL: $name: $out" >&2; fails=$((fails + 1))
  fi
  [[ $name == veth.ini ]] && continue
  # [eal] args, continuation lines included (indented lines after args =).
  eal=$(awk '/^\[/ { s = $0 } s == "[eal]" && /^args[ \t]*=/ { on = 1 }
             on && !/^[ \t]/ && !/^args/ { on = 0 } on { print }' "$f")
  if [[ " $eal " != *" -a "* ]]; then
    echo "FAIL: $name: [eal] args has no '-a PCI_ADDR' allow-list" >&2; fails=$((fails + 1))
  fi
  if grep -v '^[[:space:]]*#' "$f" | grep -q -- '--no-pci'; then
    echo "FAIL: $name: --no-pci in a real-NIC profile" >&2; fails=$((fails + 1))
  fi
  host=$(awk '/^\[/ { s = $0; next } s == "[host]" && !/^[ \t]*#/ { print }' "$f")
  for key in hugepages numa_node; do
    if ! grep -Eq "^${key}[[:space:]]*=[[:space:]]*[0-9]+" <<<"$host"; then
      echo "FAIL: $name: [host] $key missing or empty" >&2; fails=$((fails + 1))
    fi
  done
done
((n > 0)) || { echo "FAIL: no hw-configs/*.ini" >&2; exit 1; }
if ((fails)); then echo "FAIL: $fails problem(s) in $n profile(s)" >&2; exit 1; fi
echo "PASS: $n profile(s)"

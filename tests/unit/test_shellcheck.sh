#!/usr/bin/env bash
# test_shellcheck.sh: shellcheck every shell script in the tree:
# scripts/*.sh, tests/**/*.sh and .ci/run (when present). Fails if shellcheck
# is not installed (scripts/install-deps.sh installs it).
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$src"

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "FAIL: shellcheck not found; run scripts/install-deps.sh" >&2
  exit 1
fi

files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
  {
    find scripts -maxdepth 1 -type f -name '*.sh' -print0 2>/dev/null
    find tests -type f -name '*.sh' -print0 2>/dev/null
    if [[ -f .ci/run ]]; then printf '%s\0' .ci/run; fi
  } | sort -z)

if ((${#files[@]} == 0)); then
  echo "FAIL: no shell scripts found under $src" >&2
  exit 1
fi

echo "shellcheck $(shellcheck --version | awk '/^version:/ {print $2}') on ${#files[@]} file(s):"
printf '  %s\n' "${files[@]}"
if shellcheck -x "${files[@]}"; then
  echo "PASS: shellcheck clean"
else
  echo "FAIL: shellcheck reported problems (above)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Everything CI checks, in one command: setup, then ruff, mypy, import-linter contracts and the
# whole pytest suite, real-server tests included (they are never skipped: a missing server fails).
# Runs every step even after a failure, prints a summary, exits non-zero if any step failed.
#   scripts/test.sh                 # all of it
#   scripts/test.sh tests/unit -x   # extra arguments go to pytest
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash "$REPO/scripts/setup.sh" || { echo "[test] setup failed"; exit 1; }
VENV="${STREAMVERSE_VENV:-$REPO/.venv}"
export PATH="$VENV/bin:$PATH"          # the e2e tests run the installed `streamverse` script
export PYTHONDONTWRITEBYTECODE=1
unset STREAMVERSE_STATE_DIR STREAMVERSE_INVENTORY STREAMVERSE_PLATFORM
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

names=(); results=(); times=()
run_step() {  # run_step NAME COMMAND...
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  echo; echo "==== $name: $*"
  "$@"
  local rc=$?
  names+=("$name"); results+=("$rc")
  times+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')")
  return 0
}

run_step "ruff"         ruff check --no-cache .
run_step "mypy"         mypy --cache-dir "$WORK/mypy"
run_step "import-linter" lint-imports --no-cache
# pytest: the whole suite, bounded well under CI's limit; exit 5 (no tests collected) is a failure.
run_step "pytest"       timeout --signal=INT --kill-after=60 1500 \
                        python -m pytest -p no:cacheprovider -ra --durations=10 \
                        --junitxml="$WORK/junit.xml" "$@"

echo; echo "==== summary"
failed=0
for i in "${!names[@]}"; do
  rc=${results[$i]}
  if [[ $rc -eq 0 ]]; then status="ok"; else status="FAILED (exit $rc)"; failed=1; fi
  printf '  %-14s %-18s %6s s\n' "${names[$i]}" "$status" "${times[$i]}"
done
if [[ -f "$WORK/junit.xml" ]]; then
  python - "$WORK/junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
n = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(f"tests: {n - f - sk} passed, {f} failed, {sk} skipped")
PY
fi
if [[ $failed -ne 0 ]]; then echo "[test] FAILED"; exit 1; fi
echo "[test] all checks passed"

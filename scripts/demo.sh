#!/usr/bin/env bash
# The demo from the README: set up, then validate, plan and apply inventories/demo on the embedded
# sim platform in a clean state directory, and show that a second plan has nothing left to do.
#   scripts/demo.sh                 # state in a fresh temporary directory, removed afterwards
#   STREAMVERSE_STATE_DIR=/tmp/sv scripts/demo.sh   # keep the state to explore it afterwards
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
VENV="${STREAMVERSE_VENV:-$REPO/.venv}"
export PATH="$VENV/bin:$PATH"
cd "$REPO"
if [[ -z "${STREAMVERSE_STATE_DIR:-}" ]]; then
  STREAMVERSE_STATE_DIR="$(mktemp -d)"
  trap 'rm -rf "$STREAMVERSE_STATE_DIR"' EXIT
fi
export STREAMVERSE_STATE_DIR
INV=inventories/demo
# a state directory given explicitly is never created by plan/apply (a typo must not start a new,
# empty store): the demo creates the one it was given, deliberately
[[ -d "$STREAMVERSE_STATE_DIR" ]] || streamverse ctl state init -i "$INV"

show() { echo; echo "\$ $*"; "$@"; }
show streamverse ctl validate -i "$INV"
show streamverse ctl plan -i "$INV" --platform sim
show streamverse ctl apply -i "$INV" --platform sim --auto-approve
set +e
show streamverse ctl plan -i "$INV" --platform sim --detailed-exitcode
rc=$?
set -e
echo
if [[ $rc -eq 0 ]]; then
  echo "[demo] converged: the second plan has no changes (exit 0). State was in $STREAMVERSE_STATE_DIR"
else
  echo "[demo] expected no changes after apply, but plan --detailed-exitcode exited $rc"
  exit 1
fi

#!/usr/bin/env bash
# Refresh constraints.txt: resolve pyproject.toml's dependencies and test extras afresh (the newest
# releases that fit its ranges) in a throw-away virtualenv, and pin every package that resolution
# installed, pip and setuptools included. scripts/setup.sh installs only from constraints.txt, so a
# release elsewhere changes nothing here until someone runs this, reviews the diff and commits it.
#   bash scripts/lock.sh            # rewrite constraints.txt
#   PYTHON=python3.12 bash scripts/lock.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$PYTHON" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$TMP/venv/bin/python" -m pip install -q "$REPO[test]"
{
  echo "# Pinned by scripts/lock.sh on $(date -u +%Y-%m-%d) with $("$TMP/venv/bin/python" --version)."
  echo "# scripts/setup.sh installs from this file only; refresh: bash scripts/lock.sh, review, commit."
  "$TMP/venv/bin/python" -m pip freeze --all --exclude-editable | grep -iv '^streamverse[-_]ctl'
} >"$REPO/constraints.txt"
echo "[lock] wrote $REPO/constraints.txt ($(grep -vc '^#' "$REPO/constraints.txt") packages)"

#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root) for StreamVerse Control development and CI:
#   1. the real servers the test suite starts on 127.0.0.1 (apt; skipped when all are installed),
#   2. a virtualenv at <repo>/.venv with the package installed editable plus its test extras
#      (skipped when pyproject.toml has not changed since the last successful install).
# Idempotent: run it as often as you like; a second run takes about a second.
#
# Environment:
#   STREAMVERSE_SKIP_APT=1   do not touch apt (e.g. no root and the servers are already there)
#   STREAMVERSE_VENV=DIR     use another virtualenv directory (default: <repo>/.venv)
#   PYTHON=python3.11        the interpreter to create the virtualenv with (default: python3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STREAMVERSE_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
APT_PACKAGES=(bind9 bind9-utils bind9-dnsutils pdns-server pdns-backend-sqlite3 sqlite3
              knot knot-dnsutils prometheus nginx postgresql
              ffmpeg openssl curl)

T0=$(date +%s.%N)
step_start=$T0
say() { printf '[setup] %s\n' "$*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step_done() { say "$1 ($(elapsed "$step_start") s)"; step_start=$(date +%s.%N); }

# ---- 1. system packages ------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  step_done "apt: all ${#APT_PACKAGES[@]} server packages already installed"
elif [[ "${STREAMVERSE_SKIP_APT:-}" == 1 ]]; then
  say "apt: STREAMVERSE_SKIP_APT=1 but these are missing: ${missing[*]} (server tests will fail)"
else
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to apt-get install: ${missing[*]}"; exit 1; }
    SUDO=(sudo -n)
  fi
  say "apt: installing ${missing[*]}"
  # Debian's maintainer scripts would start bind9 and pdns as system services (both want port 53):
  # a policy-rc.d that exits 101 stops that. Remove it afterwards only if we created it.
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  cleanup_policy() { if [[ $created_policy == 1 ]]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
  cleanup_policy
  trap - EXIT
  created_policy=0
  step_done "apt: installed ${#missing[@]} package(s)"
fi

# ---- 2. virtualenv -----------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
  step_done "venv: created $VENV"
fi
stamp="$VENV/.streamverse-setup"
CONSTRAINTS="$REPO/constraints.txt"
want="$(cat "$REPO/pyproject.toml" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1) $REPO"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
    && "$VENV/bin/python" -c "import streamverse_ctl, pytest, hypothesis" 2>/dev/null \
    && [[ -x "$VENV/bin/streamverse" ]]; then
  step_done "pip: $VENV is up to date with pyproject.toml and constraints.txt"
else
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  log="$VENV/pip-install.log"
  # Every package, pip and the build backend included, comes from constraints.txt (refresh it with
  # scripts/lock.sh): a release elsewhere cannot change what a fresh machine installs. The build runs
  # without isolation so it uses the pinned setuptools instead of fetching the newest.
  if ! { "$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" --upgrade pip setuptools wheel \
         && (cd "$REPO" && "$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" --no-build-isolation \
             -e '.[test]'); } >"$log" 2>&1; then
    tail -n 60 "$log"
    say "pip install failed (full log: $log)"
    exit 1
  fi
  printf '%s\n' "$want" >"$stamp"
  step_done "pip: installed streamverse-ctl (editable) with test extras into $VENV from constraints.txt"
fi

say "ready in $(elapsed "$T0") s: $("$VENV/bin/streamverse" --version)  (activate: source $VENV/bin/activate)"

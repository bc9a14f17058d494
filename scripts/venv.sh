#!/usr/bin/env bash
# Shared by scripts/kmip.sh and scripts/aws-kms.sh: installs pinned PyPI packages into a
# project-local venv, idempotently (a marker names the pins; quick when they are in place).
# Usage: source scripts/venv.sh; install_venv NAME VENV_DIR IMPORT_CHECK PIN...
install_venv() {
  local name=$1 venv=$2 check=$3
  shift 3
  local marker
  marker="$venv/.complete-$(printf '%s ' "$@" | sha1sum | cut -c1-12)"
  die() { printf '%s: ERROR: %s\n' "$name" "$*" >&2; exit 1; }
  if [ -f "$marker" ] && "$venv/bin/python" -W ignore -c "$check" 2>/dev/null; then return 0; fi
  command -v python3 >/dev/null || die "python3 is needed. Fix: install Python >= 3.9 (Debian: apt-get install -y python3 python3-venv)."
  printf '%s: installing %s into %s\n' "$name" "$*" "$venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || die "could not create a Python venv. Fix: apt-get install -y python3-venv, then re-run."
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2 || die "pip could not install $* (see above)."
  "$venv/bin/python" -W ignore -c "$check" || die "$* installed but does not import (see above)."
  touch "$marker"
}

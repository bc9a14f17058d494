#!/usr/bin/env bash
# Installs PyKMIP, a real KMIP key server (the one MongoDB's own driver tests use for the `kmip`
# KMS provider), into a project-local venv at .tools/kmip-venv. Idempotent and quick when done.
#
# Pins, checked on Python 3.11: PyKMIP 0.10.0 is the last release (2021). It was written against
# SQLAlchemy 1.x (2.1.9 happened to work for the operations libmongocrypt uses, but 1.4 is what it
# supports). cryptography 50.0.2 works; PyKMIP imports algorithms that cryptography has announced
# it will remove, so it is pinned rather than left to float.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.tools/kmip-venv"
PINS=(PyKMIP==0.10.0 SQLAlchemy==1.4.54 cryptography==50.0.2 requests==2.34.2 six==1.17.0)
marker="$VENV/.complete-$(printf '%s ' "${PINS[@]}" | sha1sum | cut -c1-12)"
die() { printf 'kmip.sh: ERROR: %s\n' "$*" >&2; exit 1; }

if [ -f "$marker" ] && "$VENV/bin/python" -c 'import kmip.services.server' 2>/dev/null; then exit 0; fi

command -v python3 >/dev/null || die "python3 is needed for the KMIP test server. Fix: install Python >= 3.8 (Debian: apt-get install -y python3 python3-venv)."
printf 'kmip.sh: installing PyKMIP into %s\n' "$VENV" >&2
rm -rf "$VENV"
python3 -m venv "$VENV" || die "could not create a Python venv. Fix: apt-get install -y python3-venv, then re-run."
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2 \
  || die "pip could not install ${PINS[*]} (see above)."
"$VENV/bin/python" -W ignore -c 'from kmip.services.server import KmipServer' \
  || die "PyKMIP was installed but does not import (see above)."
touch "$marker"

#!/usr/bin/env bash
# Installs moto, an AWS emulator whose server mode answers the AWS KMS API (CreateKey, Encrypt,
# Decrypt), into a project-local venv at .tools/aws-kms-venv. The tests put it behind a TLS front
# with the test CA, because libmongocrypt always speaks TLS to a KMS. Idempotent and quick when done.
#
# Pin, checked on Python 3.11: moto[server] 5.2.5 (the server extra brings Flask; boto3 comes with
# moto and is used to create the emulator's master key).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.tools/aws-kms-venv"
PINS=('moto[server]==5.2.5')
marker="$VENV/.complete-$(printf '%s ' "${PINS[@]}" | sha1sum | cut -c1-12)"
die() { printf 'aws-kms.sh: ERROR: %s\n' "$*" >&2; exit 1; }

if [ -f "$marker" ] && "$VENV/bin/python" -c 'import moto.server, boto3' 2>/dev/null; then exit 0; fi

command -v python3 >/dev/null || die "python3 is needed for the AWS KMS emulator. Fix: install Python >= 3.9 (Debian: apt-get install -y python3 python3-venv)."
printf 'aws-kms.sh: installing moto into %s\n' "$VENV" >&2
rm -rf "$VENV"
python3 -m venv "$VENV" || die "could not create a Python venv. Fix: apt-get install -y python3-venv, then re-run."
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2 \
  || die "pip could not install ${PINS[*]} (see above)."
"$VENV/bin/python" -c 'from moto.server import ThreadedMotoServer; import boto3' \
  || die "moto was installed but does not import (see above)."
touch "$marker"

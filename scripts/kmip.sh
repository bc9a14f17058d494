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
source scripts/venv.sh
install_venv kmip.sh "$PWD/.tools/kmip-venv" 'from kmip.services.server import KmipServer' \
  PyKMIP==0.10.0 SQLAlchemy==1.4.54 cryptography==50.0.2 requests==2.34.2 six==1.17.0

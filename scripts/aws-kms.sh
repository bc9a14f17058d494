#!/usr/bin/env bash
# Installs moto, an AWS emulator whose server mode answers the AWS KMS API (CreateKey, Encrypt,
# Decrypt), into a project-local venv at .tools/aws-kms-venv. The tests put it behind a TLS front
# with the test CA, because libmongocrypt always speaks TLS to a KMS. Idempotent and quick when done.
#
# Pin, checked on Python 3.11: moto[server] 5.2.5 (the server extra brings Flask; boto3 comes with
# moto and is used to create the emulator's master key).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
install_venv aws-kms.sh "$PWD/.tools/aws-kms-venv" 'from moto.server import ThreadedMotoServer; import boto3' 'moto[server]==5.2.5'

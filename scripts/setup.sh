#!/usr/bin/env bash
# One idempotent set-up for both README commands: system library, npm packages with the
# encryption binding really built, the local test server (FerretDB) and the test PKI; with
# --tests also the KMIP server and the AWS KMS emulator the tests use. Quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRETDB_VERSION=v1.24.2
TOOLS="$PWD/.tools"
step() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# 1. libmongocrypt (the crypto core) — the binding links against Debian's 1.7.2.
if ! dpkg -s libmongocrypt-dev >/dev/null 2>&1; then
  command -v apt-get >/dev/null || die "libmongocrypt-dev is missing and apt-get is not available. Fix: install libmongocrypt (>= 1.7) development files with your package manager."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  step "installing libmongocrypt-dev (apt)"
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq libmongocrypt-dev openssl >/dev/null \
    || die "apt-get install libmongocrypt-dev failed. Fix: run 'apt-get update && apt-get install -y libmongocrypt-dev' and retry."
fi

# 2. npm packages. Prebuilt binding binaries cannot be downloaded here, so node-gyp builds
#    mongodb-client-encryption 6.0.0 against the system libmongocrypt.
BINDING=node_modules/mongodb-client-encryption/build/Release/mongocrypt.node
stamp=node_modules/.strongbox-install-stamp
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; } || [ ! -f "$BINDING" ]; then
  step "installing npm packages (builds the encryption binding)"
  if [ -f package-lock.json ]; then cmd=ci; else cmd=install; fi
  BUILD_TYPE=dynamic CXXFLAGS=-fpermissive npm "$cmd" --no-audit --no-fund --loglevel=error >&2 \
    || die "npm $cmd failed (see above)."
  [ -f "$BINDING" ] || die "$BINDING was not built, so encryption cannot work. Cause: npm skipped the package's install script or node-gyp failed. Fix: check \"allowScripts\" in package.json, install libmongocrypt-dev, then run 'BUILD_TYPE=dynamic CXXFLAGS=-fpermissive npm rebuild mongodb-client-encryption'."
  touch "$stamp"
fi

# 3. FerretDB, the MongoDB-compatible server used for tests and the demo (skipped when
#    MONGODB_URI points at a real server). Built from the Go module proxy; `go install …@version`
#    cannot be used because its deprecation lookup is refused by the proxy here, and the module
#    needs build/version/version.txt, which `git describe` normally writes.
FERRETDB="$TOOLS/bin/ferretdb"
if [ -z "${MONGODB_URI:-}" ]; then
  if [ ! -x "$FERRETDB" ] || ! "$FERRETDB" --version 2>/dev/null | grep -q "version: $FERRETDB_VERSION"; then
    command -v go >/dev/null || die "Go is needed once to build the local test server (FerretDB). Fix: install Go >= 1.24, or set MONGODB_URI to an existing MongoDB."
    step "building FerretDB $FERRETDB_VERSION (once, about a minute)"
    dir=$(cd /tmp && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] && [ -d "$dir" ] || die "could not download FerretDB $FERRETDB_VERSION from the Go module proxy."
    rm -rf "$TOOLS/src/ferretdb"; mkdir -p "$TOOLS/src" "$TOOLS/bin"
    cp -r "$dir" "$TOOLS/src/ferretdb"; chmod -R u+w "$TOOLS/src/ferretdb"
    echo "$FERRETDB_VERSION" > "$TOOLS/src/ferretdb/build/version/version.txt"
    (cd "$TOOLS/src/ferretdb" && go build -o "$FERRETDB" ./cmd/ferretdb) >&2 \
      || (cd "$TOOLS/src/ferretdb" && go build -ldflags=-checklinkname=0 -o "$FERRETDB" ./cmd/ferretdb) >&2 \
      || die "building FerretDB failed (see above)."
    rm -rf "$TOOLS/src/ferretdb"
  fi
fi

# 4. Test PKI (CA, server/client certificates, broken ones for the TLS tests).
bash scripts/pki.sh "$TOOLS/pki" >&2

# 5. Tests only: a real KMIP key server (PyKMIP) and an AWS KMS emulator (moto), each in a
#    project-local venv, for KMS over TLS.
if [ "${1:-}" = "--tests" ]; then bash scripts/kmip.sh >&2; bash scripts/aws-kms.sh >&2; fi

#!/usr/bin/env bash
# Generates the test PKI into $1 (default .tools/pki): a CA, server and client certificates,
# an encrypted client key, and the broken certificates the TLS tests need (expired, wrong host,
# revoked + CRL, and a second CA nobody trusts). Idempotent: does nothing when complete.
set -euo pipefail
out="$(realpath -m "${1:-.tools/pki}")"
marker="$out/.complete-v1"
[ -f "$marker" ] && exit 0

rm -rf "$out"; mkdir -p "$out"; cd "$out"
PASS="strongbox-test-passphrase"

mkdir -p ca/newcerts; : > ca/index.txt; echo 1000 > ca/serial; echo 1000 > ca/crlnumber
cat > ca.cnf <<CNF
[ ca ]
default_ca = testca
[ testca ]
dir = ca
database = ca/index.txt
new_certs_dir = ca/newcerts
serial = ca/serial
crlnumber = ca/crlnumber
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_crl_days = 3650
policy = anything
unique_subject = no
copy_extensions = copy
[ anything ]
commonName = supplied
organizationName = optional
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
[ client_ext ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
CNF

q() { "$@" >/dev/null 2>&1 || { echo "pki.sh: failed: $*" >&2; "$@"; exit 1; }; }

# Root CA, and a second CA that nothing trusts.
for name in ca other-ca; do
  q openssl req -x509 -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.pem" -days 3650 \
    -subj "/O=Strongbox Test/CN=Strongbox Test ${name}" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
done

# issue NAME CN SAN EXT [startdate enddate]
issue() {
  local name=$1 cn=$2 san=$3 ext=$4 start=${5:-} end=${6:-}
  q openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/O=Strongbox Test/CN=$cn" \
    ${san:+-addext "subjectAltName=$san"}
  local dates=(-days 3650)
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  q openssl ca -batch -config ca.cnf -extensions "$ext" -in "$name.csr" -out "$name.crt" -notext "${dates[@]}"
  rm -f "$name.csr"
  cat "$name.crt" "$name.key" > "$name.pem"   # the MongoDB manual's TLS client page: certificate and key in one PEM
}

issue server          localhost      "DNS:localhost,IP:127.0.0.1"   server_ext
issue server-expired  localhost      "DNS:localhost,IP:127.0.0.1"   server_ext 20200101000000Z 20200201000000Z
issue server-wronghost wrong.example "DNS:wrong.example"            server_ext
issue server-revoked  localhost      "DNS:localhost,IP:127.0.0.1"   server_ext
issue client          strongbox-client ""                           client_ext
issue client-expired  strongbox-client ""                           client_ext 20200101000000Z 20200201000000Z

# The same client key, encrypted under a passphrase.
q openssl pkey -in client.key -out client-encrypted.key -aes256 -passout "pass:$PASS"
cat client.crt client-encrypted.key > client-encrypted.pem
echo "$PASS" > client-encrypted.passphrase

# Halves for the "certificate without key" / "key without certificate" checks.
cp client.crt client-cert-only.pem
cp client.key client-key-only.pem

# A certificate signed by the untrusted CA.
q openssl req -newkey rsa:2048 -nodes -keyout server-otherca.key -out server-otherca.csr -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
q openssl x509 -req -in server-otherca.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial \
  -out server-otherca.crt -days 3650 -copy_extensions copy
rm -f server-otherca.csr; cat server-otherca.crt server-otherca.key > server-otherca.pem

q openssl ca -batch -config ca.cnf -revoke server-revoked.crt
q openssl ca -batch -config ca.cnf -gencrl -out crl.pem
q openssl crl -in crl.pem -outform DER -out crl.der

chmod 600 ./*.key
touch "$marker"
echo "pki.sh: test PKI written to $out"

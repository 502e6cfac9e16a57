#!/usr/bin/env bash
# Writes a throw-away test CA and a server certificate for the fakes into DIR (idempotent):
#   DIR/ca.pem (trust it: NODE_EXTRA_CA_CERTS, curl --cacert, or a Rust client's root store),
#   DIR/server.pem + DIR/server-key.pem (FAKE_TLS_CERT / FAKE_TLS_KEY of every fake).
# The certificate names 127.0.0.1, localhost and the real hosts of the Microsoft and Google
# endpoints, so a client redirected to a fake (see tests/fixtures/node/cloud-harness.md)
# verifies it under the original host name. Valid 30 days; needs openssl.
set -euo pipefail
DIR="${1:?usage: $0 DIR}"
mkdir -p "$DIR"
cd "$DIR"
if [ -f server.pem ] && openssl x509 -checkend 86400 -noout -in server.pem >/dev/null 2>&1; then exit 0; fi
SANS="DNS:localhost,IP:127.0.0.1,DNS:login.microsoftonline.com,DNS:graph.microsoft.com"
SANS="$SANS,DNS:login.microsoftonline.us,DNS:graph.microsoft.us,DNS:login.chinacloudapi.cn,DNS:microsoftgraph.chinacloudapi.cn"
SANS="$SANS,DNS:accounts.google.com,DNS:www.googleapis.com,DNS:oauth2.googleapis.com,DNS:openidconnect.googleapis.com"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=stagedoor test CA" \
  -keyout ca-key.pem -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=stagedoor fake IdP" -keyout server-key.pem -out server.csr 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$SANS" >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 600 ca-key.pem server-key.pem
echo "$DIR"

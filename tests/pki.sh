#!/bin/bash
# tests/pki.sh DIR - generate the test PKI into DIR (created if missing).
#
# Everything is EC P-256 unless said otherwise, valid for 30 days from now
# (the expired certificate excepted). Generation takes well under a second.
# Tests normally do not call this directly: lib.sh's pki_setup generates one
# cached copy per day and per version of this file and sets $PKI to it.
# Treat $PKI as read-only; copy files into $W before changing them.
# All files, keys included, are mode 644 so that tests can run a program as
# nobody against them; never use this PKI for anything else.
#
# Files (X.pem = certificate, X.key = its private key, PKCS#8 PEM):
#   ca.pem ca.key             "Test CA" (CN=Test CA,O=ucspi-tls tests), trusts all below
#   server.pem server.key     CN=localhost, SAN DNS:localhost, IP:127.0.0.1;
#                             EKU serverAuth+clientAuth (qmail-tls habit)
#   combined.pem              server.pem then server.key in one file
#   inter.pem inter.key       intermediate CA "Test Intermediate CA", signed by ca
#   chain.pem chain.key       CN=localhost (SAN DNS:localhost, IP:127.0.0.1), signed by
#                             the intermediate: a client holding ca.pem verifies it only
#                             when the server also sends inter.pem
#   servercert.pem            qmail-tls style: chain.pem leaf, inter.pem, then chain.key
#   sni-a.pem/.key            CN/SAN a.test.example
#   sni-b.pem/.key            CN/SAN b.test.example
#   wild.pem/.key             CN/SAN *.wild.test.example
#   rsa.pem/.key              RSA-2048 server cert, CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   client.pem/.key           subject CN=client.test,emailAddress=client@test.example,
#                             SAN email:client@test.example, EKU clientAuth
#   clientsan.pem/.key        CN=clientsan.test, no emailAddress in the subject,
#                             SAN email:san@test.example (the e-mail comes from SAN only)
#   revoked.pem/.key          CN=revoked.test,emailAddress=revoked@test.example, signed
#                             by ca and revoked in crl.pem
#   crl.pem                   CRL of ca listing revoked.pem (PEM)
#   selfclient.pem/.key       self-signed CN=self.test,emailAddress=self@test.example
#   expired.pem/.key          CN=localhost (SAN DNS:localhost, IP:127.0.0.1) signed by ca,
#                             valid 2020-01-01 .. 2020-02-01 only
#   wrongca.pem wrongca.key   an unrelated CA ("Wrong CA")
#   wrongserver.pem/.key      CN=localhost (SAN DNS:localhost, IP:127.0.0.1) signed by wrongca
#   wrongclient.pem/.key      CN=wrongclient.test,emailAddress=wrong@test.example, by wrongca
#   badkey.key                a P-256 key matching no certificate (e.g. with server.pem)
#   all-cas.pem               ca.pem + wrongca.pem
#   srvonly.pem/.key          CN=srvonly.test,emailAddress=srvonly@test.example, signed by
#                             ca, EKU serverAuth only: not a client certificate
#   cliauth.pem/.key          CN=localhost (SAN DNS:localhost, IP:127.0.0.1) signed by ca,
#                             EKU clientAuth only: not a server certificate
#   ipsrv.pem/.key            CN=ip.test, SAN IP:127.0.0.1 and IP:::1 only (no DNS name),
#                             EKU serverAuth
#   longdn.pem/.key           client cert (clientAuth) whose subject is CN=longdn.test plus
#                             20 OU values of 60 bytes: its DN is over 1024 bytes in every form
#   okdn.pem/.key             the same with 12 such OU values: just under 1024 bytes
#   bidi.pem/.key             client cert, CN "bidi<U+202E>txt.test", SAN email
#                             "bidi<U+2066>@test.example" (bidi override and isolate)
#   c1.pem/.key               client cert, CN "c1<U+0085>line<U+2028>.test", SAN email
#                             "c1<U+0085>@test.example" (C1 control, line separator)
#   utf8.pem/.key             client cert, CN "M<U+00FC>ller.test" (plain non-ASCII, exported),
#                             SAN email utf8@test.example
#   ocsp-server.der           DER OCSP response: server.pem is "good" (signed by ca, 30 days)
#   SERIALS                   "name serial-hex" for every certificate issued here
#
# Exit status 0 on success; on failure the openssl output is on stderr.

set -eu
umask 022

[ $# -eq 1 ] || { echo "usage: pki.sh DIR" >&2; exit 100; }
D=$1
mkdir -p "$D"
cd "$D"

OPENSSL=${OPENSSL:-openssl}
LOG=$D/pki.log
: > "$LOG"

o() { "$OPENSSL" "$@" >>"$LOG" 2>&1 || { echo "pki.sh: openssl $* failed:" >&2; tail -n 20 "$LOG" >&2; exit 111; }; }

eckey() { o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
rsakey() { o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

# One openssl-ca database per CA, so that the CRL can be made and expired
# certificates can get explicit dates (OpenSSL 3.0's x509 lacks -not_before).
ca_conf() { # name
  mkdir -p "ca-$1/new"
  : > "ca-$1/index.txt"
  echo 1000 > "ca-$1/serial"
  cat > "ca-$1/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
dir = $D/ca-$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
default_days = 30
default_crl_days = 30
policy = anything
preserve = yes
email_in_dn = yes
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
emailAddress = optional
organizationName = optional
organizationalUnitName = optional
EOF
}

cat > ext.cnf <<'EOF'
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_inter ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server_localhost ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost,IP:127.0.0.1
[ server_a ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:a.test.example
[ server_b ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:b.test.example
[ server_wild ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:*.wild.test.example
[ client_email ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = email:copy
[ client_san ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = email:san@test.example
[ server_only ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = email:copy
[ client_only_localhost ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost,IP:127.0.0.1
[ server_ip ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1,IP:::1
[ client_plain ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[ client_bidi ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = email:bidi⁦@test.example
[ client_c1 ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = email:c1@test.example
[ client_utf8 ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectAltName = email:utf8@test.example
[ self_client ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = email:copy
EOF

selfsign() { # name subject extsection
  o req -new -x509 -key "$1.key" -subj "$2" -days 30 -sha256 \
    -config ext.cnf -extensions "$3" -out "$1.pem"
}

issue() { # ca name subject extsection [extra openssl-ca args]
  local ca=$1 name=$2 subj=$3 ext=$4; shift 4
  o req -new -utf8 -key "$name.key" -subj "$subj" -out "$name.csr"
  o ca -batch -notext -config "ca-$ca/ca.cnf" -cert "$ca.pem" -keyfile "$ca.key" \
    -extfile ext.cnf -extensions "$ext" -in "$name.csr" -out "$name.pem" "$@"
  rm -f "$name.csr"
  printf '%s %s\n' "$name" "$("$OPENSSL" x509 -in "$name.pem" -noout -serial | sed 's/^serial=//')" >> SERIALS
}

: > SERIALS

# Root CAs
eckey ca.key;      selfsign ca "/O=ucspi-tls tests/CN=Test CA" v3_ca;   ca_conf ca
eckey wrongca.key; selfsign wrongca "/O=elsewhere/CN=Wrong CA" v3_ca;  ca_conf wrongca

# Intermediate CA and a leaf below it
eckey inter.key
issue ca inter "/O=ucspi-tls tests/CN=Test Intermediate CA" v3_inter
ca_conf inter

for k in server chain sni-a sni-b wild client clientsan revoked selfclient expired \
         wrongserver wrongclient badkey srvonly cliauth ipsrv longdn okdn bidi c1 utf8; do
  eckey "$k.key"
done
rsakey rsa.key

issue ca server      "/CN=localhost"                                   server_localhost
issue inter chain    "/CN=localhost"                                   server_localhost
issue ca sni-a       "/CN=a.test.example"                              server_a
issue ca sni-b       "/CN=b.test.example"                              server_b
issue ca wild        "/CN=*.wild.test.example"                         server_wild
issue ca rsa         "/CN=localhost"                                   server_localhost
issue ca client      "/CN=client.test/emailAddress=client@test.example" client_email
issue ca clientsan   "/CN=clientsan.test"                              client_san
issue ca revoked     "/CN=revoked.test/emailAddress=revoked@test.example" client_email
issue ca expired     "/CN=localhost"                                   server_localhost \
      -startdate 20200101000000Z -enddate 20200201000000Z
issue wrongca wrongserver "/CN=localhost"                              server_localhost
issue wrongca wrongclient "/CN=wrongclient.test/emailAddress=wrong@test.example" client_email
issue ca srvonly     "/CN=srvonly.test/emailAddress=srvonly@test.example" server_only
issue ca cliauth     "/CN=localhost"                                   client_only_localhost
issue ca ipsrv       "/CN=ip.test"                                     server_ip
ou60=$(printf 'u%.0s' $(seq 60))
issue ca longdn      "/CN=longdn.test$(for i in $(seq 20); do printf '/OU=%02d%s' "$i" "${ou60:2}"; done)" client_plain
issue ca okdn        "/CN=okdn.test$(for i in $(seq 12); do printf '/OU=%02d%s' "$i" "${ou60:2}"; done)" client_plain
issue ca bidi        "/CN=bidi$(printf '\342\200\256')txt.test"               client_bidi
issue ca c1          "/CN=c1$(printf '\302\205')line$(printf '\342\200\250').test"  client_c1
issue ca utf8        "/CN=M$(printf '\303\274')ller.test"                 client_utf8
selfsign selfclient  "/CN=self.test/emailAddress=self@test.example"    self_client

o ca -batch -config ca-ca/ca.cnf -cert ca.pem -keyfile ca.key -revoke revoked.pem -crl_reason keyCompromise
o ca -batch -config ca-ca/ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out crl.pem

# OCSP response for server.pem ("good", signed by the CA itself), DER, for stapling
o ocsp -issuer ca.pem -cert server.pem -no_nonce -reqout ocsp-req.der
o ocsp -index ca-ca/index.txt -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin ocsp-req.der \
  -respout ocsp-server.der -ndays 30
rm -f ocsp-req.der

cat server.pem server.key > combined.pem
cat chain.pem inter.pem chain.key > servercert.pem
cat ca.pem wrongca.pem > all-cas.pem

# Self-check: the properties the tests rely on.
v() { "$OPENSSL" verify "$@" >>"$LOG" 2>&1; }
v -CAfile ca.pem server.pem
v -CAfile ca.pem -untrusted inter.pem chain.pem
! v -CAfile ca.pem chain.pem
v -CAfile ca.pem client.pem
v -CAfile ca.pem revoked.pem
! v -CAfile ca.pem -crl_check -CRLfile crl.pem revoked.pem
v -CAfile ca.pem -crl_check -CRLfile crl.pem client.pem
! v -CAfile ca.pem expired.pem
! v -CAfile ca.pem wrongserver.pem
v -CAfile wrongca.pem wrongserver.pem
! v -CAfile ca.pem selfclient.pem
v -CAfile ca.pem -purpose sslserver ipsrv.pem
! v -CAfile ca.pem -purpose sslclient srvonly.pem
! v -CAfile ca.pem -purpose sslserver cliauth.pem
v -CAfile ca.pem -purpose sslclient longdn.pem
[ "$("$OPENSSL" x509 -in longdn.pem -noout -subject -nameopt RFC2253 | wc -c)" -gt 1040 ]
[ "$("$OPENSSL" x509 -in okdn.pem -noout -subject -nameopt RFC2253 | wc -c)" -lt 1000 ]
pub() { "$OPENSSL" pkey -in "$1" -pubout 2>/dev/null; }
xpub() { "$OPENSSL" x509 -in "$1" -noout -pubkey 2>/dev/null; }
[ "$(pub server.key)" = "$(xpub server.pem)" ]
[ "$(pub badkey.key)" != "$(xpub server.pem)" ]

chmod 644 ./*.pem ./*.key ./*.der
echo ok > .complete

#!/bin/bash
# Client certificates. tlsserver in optional mode (-y, or CAFILE set) and in
# required mode (-Y), with no certificate, a valid one, a self-signed one, one
# from an unrelated CA and one revoked by a CRL (-r and CRLFILE); checks the
# SSL_CLIENT_* variables prog saw, the log line, and that required mode
# refuses (exit 97, one log line, prog never runs). Then tlsclient presenting
# CERTFILE/KEYFILE (and -c/-k) to openssl s_server -Verify 1, and the
# SSL_SERVER_* variables its prog saw.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup

S_KEYS=(-c "$PKI/server.pem" -k "$PKI/server.key")
ENVP=("$FIX/envdump.sh")

# session SRV PORT CERT [s_client args...]: one s_client session to SRV with
# client certificate CERT ("none" for none; a name in $PKI, or a path without
# .pem/.key when it holds a slash); env dump in $W/env.SRV; waits for
# the session to end. Sets RC (s_client's exit status).
declare -A NSESS=()
session() {
  local srv=$1 port=$2 cert=$3; shift 3
  local a=()
  local p=$PKI/$cert
  [[ "$cert" == */* ]] && { p=$cert; cert=${cert##*/}; }
  [ "$cert" != none ] && a=(-cert "$p.pem" -key "$p.key")
  rm -f "$W/env.$srv"
  sclient "sc.$srv.$cert" "$port" -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost "${a[@]}" "$@"
  NSESS[$srv]=$(( ${NSESS[$srv]:-0} + 1 ))
  wait_sessions "$srv" "${NSESS[$srv]}" 10 || diag "session ${NSESS[$srv]} of $srv did not end"
}
ev() { envval "$W/env.$1" "$2"; }

# ------------------------------------------------ optional mode, options -y -a -r
serve opt 4401 "$TLSSERVER" "${S_KEYS[@]}" -y -a "$PKI/ca.pem" -r "$PKI/crl.pem" \
  "${ENVP[@]}" "$W/env.opt" "$FIX/reply.sh" || bail_out "tcpserver did not start"

session opt 4401 none
is "$RC" 0 "-y, no client certificate: handshake succeeds"
file_like "$W/sc.opt.none.out" '^reply:ping$' "-y, no certificate: prog ran and answered"
is "$(ev opt SSL_CLIENT_VERIFY)" NONE "-y, no certificate: SSL_CLIENT_VERIFY=NONE"
is "$(ev opt SSL_CLIENT_S_DN)|$(ev opt SSL_CLIENT_CERT_HASH)|$(ev opt SSL_PEER_CERT_HASH)|$(ev opt SSL_PEER_CERT_SUBJECT)" \
   "<unset>|<unset>|<unset>|<unset>" "-y, no certificate: no subject, no hash, no alias"
is "$(logfield "$W/opt.err" verify)/$(logfield "$W/opt.err" subject)" "NONE/-" "log: verify=NONE subject=-"

session opt 4401 client
E=$W/env.opt
is "$RC" 0 "-y, valid certificate: handshake succeeds"
is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "valid: SSL_CLIENT_VERIFY=SUCCESS"
is "$(ev opt SSL_CLIENT_S_DN)" "$(cert_dn "$PKI/client.pem" subject)" "valid: SSL_CLIENT_S_DN (RFC 2253)"
is "$(ev opt SSL_CLIENT_S_DN)" "emailAddress=client@test.example,CN=client.test" "valid: SSL_CLIENT_S_DN literal"
is "$(ev opt SSL_CLIENT_I_DN)" "CN=Test CA,O=ucspi-tls tests" "valid: SSL_CLIENT_I_DN is the test CA"
is "$(ev opt SSL_CLIENT_S_DN_CN)" client.test "valid: SSL_CLIENT_S_DN_CN"
is "$(ev opt SSL_CLIENT_S_DN_Email)" client@test.example "valid: SSL_CLIENT_S_DN_Email from the subject emailAddress"
like "$(ev opt SSL_CLIENT_V_END)" "$(v_end_re)" "valid: SSL_CLIENT_V_END has the 'Dec 21 20:37:12 2026 GMT' format"
is "$(ev opt SSL_CLIENT_V_END)" "$(cert_end "$PKI/client.pem")" "valid: SSL_CLIENT_V_END is the certificate's notAfter"
is "$(ev opt SSL_CLIENT_CERT_HASH)" "$(cert_hash "$PKI/client.pem")" "valid: SSL_CLIENT_CERT_HASH = SHA256: + sha256 of the DER certificate"
like "$(ev opt SSL_CLIENT_CERT_HASH)" '^SHA256:[0-9a-f]{64}$' "valid: hash is 64 lower-case hex digits"
is "$(ev opt SSL_PEER_CERT_HASH)" "$(cert_hash "$PKI/client.pem")" "valid: alias SSL_PEER_CERT_HASH is the same hash"
is "$(ev opt SSL_PEER_CERT_SUBJECT)" "/CN=client.test/emailAddress=client@test.example" "valid: alias SSL_PEER_CERT_SUBJECT in /CN=... form"
is "$(ev opt SSL_SERVER_VERIFY)|$(ev opt SSL_SERVER_S_DN)" "<unset>|<unset>" "valid: no SSL_SERVER_* on the server side"
is "$(logfield "$W/opt.err" verify)" SUCCESS "log: verify=SUCCESS"
is "$(logfield "$W/opt.err" subject)" "emailAddress=client@test.example,CN=client.test" "log: subject of the client certificate"

session opt 4401 clientsan
is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "SAN-only e-mail certificate: SUCCESS"
is "$(ev opt SSL_CLIENT_S_DN)" "CN=clientsan.test" "SAN-only: SSL_CLIENT_S_DN has no emailAddress"
is "$(ev opt SSL_CLIENT_S_DN_Email)" san@test.example "SAN-only: SSL_CLIENT_S_DN_Email from subjectAltName rfc822Name"
is "$(ev opt SSL_CLIENT_CERT_HASH)" "$(cert_hash "$PKI/clientsan.pem")" "SAN-only: hash of that certificate"

session opt 4401 selfclient
is "$RC" 0 "-y, self-signed certificate: the handshake still succeeds (optional mode)"
file_like "$W/sc.opt.selfclient.out" '^reply:ping$' "self-signed: prog ran and answered"
like "$(ev opt SSL_CLIENT_VERIFY)" '^FAILED:.*[Ss]elf[- ]signed' "self-signed: SSL_CLIENT_VERIFY=FAILED:<self-signed reason>"
is "$(ev opt SSL_CLIENT_S_DN_CN)|$(ev opt SSL_CLIENT_S_DN_Email)" "self.test|self@test.example" "self-signed: subject still reported"
is "$(ev opt SSL_CLIENT_I_DN)" "$(cert_dn "$PKI/selfclient.pem" subject)" "self-signed: issuer = subject"
is "$(ev opt SSL_CLIENT_CERT_HASH)" "$(cert_hash "$PKI/selfclient.pem")" "self-signed: hash reported"
like "$(logfield "$W/opt.err" verify)" '^FAILED:' "log: verify=FAILED:..."

session opt 4401 wrongclient
is "$RC" 0 "-y, certificate of an unrelated CA: handshake succeeds"
like "$(ev opt SSL_CLIENT_VERIFY)" '^FAILED:.+' "unrelated CA: SSL_CLIENT_VERIFY=FAILED:<reason>"
is "$(ev opt SSL_CLIENT_I_DN)" "CN=Wrong CA,O=elsewhere" "unrelated CA: SSL_CLIENT_I_DN"

session opt 4401 revoked
is "$RC" 0 "-y -r crl.pem, revoked certificate: handshake succeeds (optional)"
like "$(ev opt SSL_CLIENT_VERIFY)" '^FAILED:.*revoked' "revoked (-r): SSL_CLIENT_VERIFY=FAILED:certificate revoked"
is "$(ev opt SSL_CLIENT_S_DN_Email)" revoked@test.example "revoked: e-mail still reported"

session opt 4401 selfclient -tls1_2
is "$RC" 0 "TLS 1.2, self-signed: handshake succeeds"
is "$(ev opt SSL_PROTOCOL)" TLSv1.2 "TLS 1.2 session"
like "$(ev opt SSL_CLIENT_VERIFY)" '^FAILED:' "TLS 1.2, self-signed: FAILED:..."
session opt 4401 client -tls1_2
is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "TLS 1.2, valid: SUCCESS"
is "$(session_exits opt | sort -u | tr '\n' ' ')" "0 " "optional mode: every session ended with exit 0"

# ------------------------------------------------ optional mode from CAFILE + CRLFILE (no -y)
CAFILE=$PKI/ca.pem CRLFILE=$PKI/crl.pem \
  serve envca 4402 "$TLSSERVER" "${S_KEYS[@]}" "${ENVP[@]}" "$W/env.envca" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session envca 4402 none
is "$RC/$(ev envca SSL_CLIENT_VERIFY)" "0/NONE" "CAFILE set, no -y: no certificate is fine, NONE"
session envca 4402 client
is "$(ev envca SSL_CLIENT_VERIFY)" SUCCESS "CAFILE set, no -y: the certificate is requested and verifies (SUCCESS)"
is "$(ev envca SSL_CLIENT_CERT_HASH)" "$(cert_hash "$PKI/client.pem")" "CAFILE set: hash"
session envca 4402 revoked
is "$RC" 0 "CRLFILE, revoked: handshake succeeds"
like "$(ev envca SSL_CLIENT_VERIFY)" '^FAILED:.*revoked' "CRLFILE from the environment: revoked -> FAILED:certificate revoked"
session envca 4402 selfclient
like "$(ev envca SSL_CLIENT_VERIFY)" '^FAILED:' "CAFILE set: self-signed -> FAILED"
is "$(ev envca CAFILE)|$(ev envca CRLFILE)" "<unset>|<unset>" "CAFILE and CRLFILE removed from prog's environment"

# ------------------------------------------------ not requested: no CA, no -y
serve noca 4403 "$TLSSERVER" "${S_KEYS[@]}" "${ENVP[@]}" "$W/env.noca" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session noca 4403 client
is "$RC" 0 "no CA, no -y: a client offering a certificate connects"
is "$(ev noca SSL_CLIENT_VERIFY)" NONE "no CA, no -y: certificate not requested, SSL_CLIENT_VERIFY=NONE"
is "$(ev noca SSL_CLIENT_CERT_HASH)" "<unset>" "no CA, no -y: no hash"

# ------------------------------------------------ -y without any CA: nothing can verify
serve yonly 4404 "$TLSSERVER" "${S_KEYS[@]}" -y "${ENVP[@]}" "$W/env.yonly" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session yonly 4404 client
is "$RC" 0 "-y without CAFILE: handshake succeeds"
like "$(ev yonly SSL_CLIENT_VERIFY)" '^FAILED:' "-y without CAFILE: test-CA certificate is FAILED (not in the system store)"
is "$(ev yonly SSL_CLIENT_S_DN_CN)" client.test "-y without CAFILE: subject still reported"

# ------------------------------------------------ required mode -Y -a -r
serve req 4405 "$TLSSERVER" "${S_KEYS[@]}" -Y -a "$PKI/ca.pem" -r "$PKI/crl.pem" \
  "${ENVP[@]}" "$W/env.req" "$FIX/reply.sh" || bail_out "tcpserver did not start"

session req 4405 client
is "$RC" 0 "-Y, valid certificate: accepted"
file_like "$W/sc.req.client.out" '^reply:ping$' "-Y, valid: prog ran and answered"
is "$(ev req SSL_CLIENT_VERIFY)" SUCCESS "-Y, valid: SUCCESS"
is "$(ev req SSL_CLIENT_CERT_HASH)" "$(cert_hash "$PKI/client.pem")" "-Y, valid: hash"
is "$(session_exits req | tail -n 1)" 0 "-Y, valid: engine exit 0"

refused() { # CERT DESC [s_client args]
  local c=$1 d=$2; shift 2
  local before
  before=$(count_lines "$W/req.err" '^tlsserver: fatal: ')
  session req 4405 "$c" "$@"
  isnt "$RC" 0 "-Y, $d: s_client fails"
  file_unlike "$W/sc.req.$c.out" '^reply:' "-Y, $d: no data from prog"
  ok "-Y, $d: prog never ran (no environment dump)" test ! -e "$W/env.req"
  is "$(session_exits req | tail -n 1)" 97 "-Y, $d: engine exit 97"
  is "$(count_lines "$W/req.err" '^tlsserver: fatal: handshake failed: peer=127\.0\.0\.1:[0-9]+ ')" $((before + 1)) \
     "-Y, $d: one 'fatal: handshake failed: peer=...' log line"
}
refused none "no certificate"
file_like "$W/req.err" 'fatal: handshake failed: .*certificate' "-Y, no certificate: the log line says why"
refused selfclient "self-signed certificate"
refused wrongclient "certificate of an unrelated CA"
refused revoked "revoked certificate (-r)"
refused selfclient "self-signed certificate, TLS 1.2" -tls1_2

# ------------------------------------------------ required mode, CAFILE/CRLFILE from the environment
CAFILE=$PKI/ca.pem CRLFILE=$PKI/crl.pem \
  serve reqenv 4406 "$TLSSERVER" "${S_KEYS[@]}" -Y "${ENVP[@]}" "$W/env.reqenv" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session reqenv 4406 revoked
isnt "$RC" 0 "-Y with CRLFILE from the environment: revoked certificate refused"
ok "-Y + CRLFILE: prog never ran" test ! -e "$W/env.reqenv"
is "$(session_exits reqenv | tail -n 1)" 97 "-Y + CRLFILE: exit 97"
session reqenv 4406 clientsan
is "$RC/$(ev reqenv SSL_CLIENT_VERIFY)/$(ev reqenv SSL_CLIENT_S_DN_Email)" "0/SUCCESS/san@test.example" \
   "-Y + CAFILE from the environment: valid SAN-only certificate accepted"

# ------------------------------------------------ chains, expiry, CADIR
# chain.pem is issued by the intermediate CA (its EKU includes clientAuth);
# only the root is trusted, so the result depends on the client sending
# inter.pem along.
session opt 4401 expired
is "$RC" 0 "-y, expired certificate: handshake succeeds"
like "$(ev opt SSL_CLIENT_VERIFY)" '^FAILED:.*expired' "expired: SSL_CLIENT_VERIFY=FAILED:certificate has expired"
is "$(ev opt SSL_CLIENT_V_END)" "Feb  1 00:00:00 2020 GMT" "expired: SSL_CLIENT_V_END with a one-digit day is space-padded like openssl prints it"
is "$(ev opt SSL_CLIENT_V_END)" "$(cert_end "$PKI/expired.pem")" "expired: SSL_CLIENT_V_END = notAfter"

mkdir -p "$W/cadir"
cp "$PKI/ca.pem" "$W/cadir/"
openssl rehash "$W/cadir" >/dev/null 2>&1 || c_rehash "$W/cadir" >/dev/null 2>&1
serve cadir 4407 "$TLSSERVER" "${S_KEYS[@]}" -y -A "$W/cadir" "${ENVP[@]}" "$W/env.cadir" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session cadir 4407 client
is "$(ev cadir SSL_CLIENT_VERIFY)" SUCCESS "-y -A hashed directory: valid certificate SUCCESS"
session cadir 4407 selfclient
like "$(ev cadir SSL_CLIENT_VERIFY)" '^FAILED:' "-y -A hashed directory: self-signed FAILED"
session cadir 4407 chain -cert_chain "$PKI/inter.pem"
is "$(ev cadir SSL_CLIENT_VERIFY)" SUCCESS "-y, leaf under an intermediate the client sends: SUCCESS"
is "$(ev cadir SSL_CLIENT_I_DN)" "$(cert_dn "$PKI/inter.pem" subject)" "intermediate: SSL_CLIENT_I_DN is the intermediate"
session cadir 4407 chain
like "$(ev cadir SSL_CLIENT_VERIFY)" '^FAILED:.*issuer' "-y, same leaf without its intermediate: FAILED:unable to get local issuer certificate"
# With a CRL file every CA of the chain needs a CRL (X509_V_FLAG_CRL_CHECK_ALL,
# as libtls sets it for -Y and qmail-tls for clientcrl.pem): crl.pem covers
# the root only, so a leaf under the intermediate cannot be checked.
session opt 4401 chain -cert_chain "$PKI/inter.pem"
like "$(ev opt SSL_CLIENT_VERIFY)" '^FAILED:unable to get certificate CRL' "-y -r crl.pem (root's CRL only), leaf under the intermediate: FAILED:unable to get certificate CRL"
CADIR=$W/cadir serve cadirreq 4408 "$TLSSERVER" "${S_KEYS[@]}" -Y "${ENVP[@]}" "$W/env.cadirreq" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session cadirreq 4408 client
is "$RC/$(ev cadirreq SSL_CLIENT_VERIFY)" "0/SUCCESS" "-Y with CADIR from the environment: valid certificate accepted"
session cadirreq 4408 wrongclient
is "$(session_exits cadirreq | tail -n 1)" 97 "-Y with CADIR: certificate of an unrelated CA refused (97)"

# ------------------------------------------------ embedded NUL bytes (null-prefix certificates)
# A CA-signed certificate for "client@test.example\0@evil.example" must not
# be reported as client@test.example (qmail's relay by certificate compares
# SSL_CLIENT_S_DN_Email with control/tlsclients). The subjectAltName path
# refuses such a value; the subject path must too.
if "$PY" -c 'import cryptography' 2>/dev/null &&
   "$PY" "$FIX/mknulcert.py" "$PKI" "$W/nulsubj" subject 2>"$W/mknul.err" &&
   "$PY" "$FIX/mknulcert.py" "$PKI" "$W/nulsan" san 2>>"$W/mknul.err"; then
  session opt 4401 "$W/nulsubj"
  is "$RC/$(ev opt SSL_CLIENT_VERIFY)" "0/SUCCESS" "NUL in the subject: the certificate verifies (signed by the trusted CA)"
  like "$(ev opt SSL_CLIENT_S_DN)" 'emailAddress=client@test\.example\\00@evil\.example' "NUL in the subject: SSL_CLIENT_S_DN shows it escaped (\\00)"
  is "$(ev opt SSL_CLIENT_S_DN_Email)" "<unset>" "NUL in the subject emailAddress: SSL_CLIENT_S_DN_Email is unset, not the truncated client@test.example"
  is "$(ev opt SSL_CLIENT_S_DN_CN)" "<unset>" "NUL in the subject commonName: SSL_CLIENT_S_DN_CN is unset, not the truncated nul.test"
  session opt 4401 "$W/nulsan"
  is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "NUL in the SAN e-mail: the certificate verifies"
  is "$(ev opt SSL_CLIENT_S_DN_Email)" "<unset>" "NUL in the SAN e-mail: SSL_CLIENT_S_DN_Email unset (not san@test.example)"
else
  diag_file "$W/mknul.err" 5
  skip_n 6 "python3-cryptography missing: cannot make the NUL-byte certificates"
fi

# A trust setting that cannot work must stop the server (exit 96, one line),
# not turn every client into FAILED / a refused handshake.
badtrust() { # NAME PORT DESC tlsserver-args...
  local name=$1 port=$2 d=$3; shift 3
  serve "$name" "$port" "$TLSSERVER" "${S_KEYS[@]}" "$@" "${ENVP[@]}" "$W/env.$name" "$FIX/reply.sh" \
    || bail_out "tcpserver did not start"
  session "$name" "$port" client
  is "$(session_exits "$name" | tail -n 1)" 96 "$d: exit 96"
  is "$(count_lines "$W/$name.err" '^tlsserver: fatal: ')" 1 "$d: one fatal line"
  ok "$d: prog never ran" test ! -e "$W/env.$name"
}
badtrust badca 4414 "-y -a <a key file, no certificate>" -y -a "$PKI/server.key"
badtrust badcrl 4415 "-y -a ca.pem -r <a file holding no CRL>" -y -a "$PKI/ca.pem" -r "$PKI/ca.pem"
badtrust nodir 4416 "-y -A <missing directory>" -y -A "$W/no-such-dir"
# required mode: every session is refused anyway (97), but the server
# should not start at all
serve nodirY 4417 "$TLSSERVER" "${S_KEYS[@]}" -Y -A "$W/no-such-dir" "${ENVP[@]}" "$W/env.nodirY" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session nodirY 4417 client
ok "-Y -A <missing directory>: prog never ran" test ! -e "$W/env.nodirY"
is "$(session_exits nodirY | tail -n 1)" 96 "-Y -A <missing directory>: exit 96 (configuration), not 97 per client"

# ------------------------------------------------ tlsclient presents a certificate
mk_client_prog "$W/cprog"
S_SERVER=(openssl s_server -cert "$PKI/server.pem" -key "$PKI/server.key" -CAfile "$PKI/ca.pem"
          -Verify 1 -naccept 1 -rev)

spawn ss1 "${S_SERVER[@]}" -accept 127.0.0.1:4410; SS=$SPAWN_PID
wait_port 4410 || diag "s_server did not listen"
CERTFILE=$PKI/client.pem KEYFILE=$PKI/client.key CAFILE=$PKI/ca.pem \
  run cli1 tcpclient -RHl0 127.0.0.1 4410 "$TLSCLIENT" -h localhost "$W/cprog" "$W/cenv1"
wait_pid "$SS" 5 >/dev/null; cat "$W/ss1.out" "$W/ss1.err" > "$W/ss1.all"
is "$RC" 0 "tlsclient with CERTFILE/KEYFILE: exit 0"
is "$(cat "$W/cenv1.reply" 2>/dev/null)" olleh "tlsclient: s_server -rev answered through the tunnel"
file_like "$W/ss1.all" '^Peer certificate: CN = client\.test, emailAddress = client@test\.example' \
  "s_server -Verify 1 saw the client certificate from CERTFILE"
file_like "$W/ss1.all" '^Verification: OK' "s_server verified it"
E=$W/cenv1
is "$(envval "$E" SSL_SERVER_VERIFY)" SUCCESS "tlsclient prog: SSL_SERVER_VERIFY=SUCCESS"
is "$(envval "$E" SSL_SERVER_S_DN)" "CN=localhost" "tlsclient prog: SSL_SERVER_S_DN"
is "$(envval "$E" SSL_SERVER_I_DN)" "CN=Test CA,O=ucspi-tls tests" "tlsclient prog: SSL_SERVER_I_DN"
is "$(envval "$E" SSL_SERVER_S_DN_CN)" localhost "tlsclient prog: SSL_SERVER_S_DN_CN"
is "$(envval "$E" SSL_SERVER_V_END)" "$(cert_end "$PKI/server.pem")" "tlsclient prog: SSL_SERVER_V_END"
is "$(envval "$E" SSL_SERVER_CERT_HASH)" "$(cert_hash "$PKI/server.pem")" "tlsclient prog: SSL_SERVER_CERT_HASH"
is "$(envval "$E" SSL_PEER_CERT_HASH)" "$(cert_hash "$PKI/server.pem")" "tlsclient prog: SSL_PEER_CERT_HASH alias"
is "$(envval "$E" SSL_PEER_CERT_SUBJECT)" "/CN=localhost" "tlsclient prog: SSL_PEER_CERT_SUBJECT alias"
is "$(envval "$E" SSL_TLS_SNI_SERVERNAME)" localhost "tlsclient prog: SSL_TLS_SNI_SERVERNAME = -h name"
is "$(envval "$E" SSL_CLIENT_VERIFY)|$(envval "$E" SSL_CLIENT_S_DN)" "<unset>|<unset>" "tlsclient prog: no SSL_CLIENT_*"
is "$(envval "$E" CERTFILE)|$(envval "$E" KEYFILE)|$(envval "$E" CAFILE)" "<unset>|<unset>|<unset>" \
   "tlsclient prog: CERTFILE, KEYFILE, CAFILE removed"
file_like "$W/cli1.err" '^tlsclient: info: done peer=127\.0\.0\.1:4410 sni=localhost .*verify="SUCCESS" subject="CN=localhost"' \
  "tlsclient log line: verify and server subject"

# -c/-k options, a SAN-only certificate, TLS 1.2
spawn ss2 "${S_SERVER[@]}" -tls1_2 -accept 127.0.0.1:4411; SS=$SPAWN_PID
wait_port 4411 || diag "s_server did not listen"
run cli2 tcpclient -RHl0 127.0.0.1 4411 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" \
  -c "$PKI/clientsan.pem" -k "$PKI/clientsan.key" "$W/cprog" "$W/cenv2"
wait_pid "$SS" 5 >/dev/null; cat "$W/ss2.out" "$W/ss2.err" > "$W/ss2.all"
is "$RC" 0 "tlsclient -c/-k (TLS 1.2): exit 0"
file_like "$W/ss2.all" '^Peer certificate: CN = clientsan\.test' "s_server saw the certificate given with -c/-k"
is "$(envval "$W/cenv2" SSL_PROTOCOL)/$(envval "$W/cenv2" SSL_SERVER_VERIFY)" TLSv1.2/SUCCESS "tlsclient prog: TLS 1.2, SUCCESS"

# without a certificate, s_server -Verify 1 refuses the client
spawn ss3 "${S_SERVER[@]}" -accept 127.0.0.1:4412; SS=$SPAWN_PID
wait_port 4412 || diag "s_server did not listen"
run cli3 tcpclient -RHl0 127.0.0.1 4412 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/cprog" "$W/cenv3"
wait_pid "$SS" 5 >/dev/null; cat "$W/ss3.out" "$W/ss3.err" > "$W/ss3.all"
isnt "$(cat "$W/cenv3.reply" 2>/dev/null)" olleh "tlsclient without a certificate: s_server -Verify 1 gives no answer"
file_unlike "$W/ss3.all" '^Peer certificate:' "s_server saw no peer certificate"
isnt "$RC" 0 "tlsclient without a certificate to a server that requires one: non-zero exit ($RC)"

done_testing

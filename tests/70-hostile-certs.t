#!/bin/bash
# Hostile and unusual peer certificates, with real peers: tlsserver under
# tcpserver with openssl s_client as client, tlsclient -i against openssl
# s_server.
#  - purpose: a serverAuth-only client certificate is FAILED:unsuitable
#    certificate purpose in optional mode (as -Y refuses it); a clientAuth-only
#    server certificate likewise in tlsclient -i's report (as libtls refuses it);
#  - IP literals: -h 127.0.0.1 / -h ::1 are matched against iPAddress entries;
#  - one bound (1024 bytes) for every exported name: a longer one is refused,
#    never cut (variable unset, name in SSL_PEER_CERT_REFUSED, the same list in
#    the log's refused= field); one just under it is exported whole; the Y
#    reply stays small;
#  - unsafe text (C1 controls, U+2028, bidi override/isolate) in CN and e-mail
#    is refused; plain non-ASCII text is exported.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup

S_KEYS=(-c "$PKI/server.pem" -k "$PKI/server.key")
ENVP=("$FIX/envdump.sh")

declare -A NSESS=()
session() { # SRV PORT CERT [s_client args...]; env dump in $W/env.SRV
  local srv=$1 port=$2 cert=$3; shift 3
  rm -f "$W/env.$srv"
  sclient "sc.$srv.$cert" "$port" -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost \
    -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" "$@"
  NSESS[$srv]=$(( ${NSESS[$srv]:-0} + 1 ))
  wait_sessions "$srv" "${NSESS[$srv]}" 10 || diag "session ${NSESS[$srv]} of $srv did not end"
}
ev() { envval "$W/env.$1" "$2"; }

# ------------------------------------------------ point: client certificate purpose
serve opt 4701 "$TLSSERVER" "${S_KEYS[@]}" -y -a "$PKI/ca.pem" "${ENVP[@]}" "$W/env.opt" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session opt 4701 client
is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "clientAuth certificate: SUCCESS"
is "$(ev opt SSL_PEER_CERT_REFUSED)" "<unset>" "ordinary certificate: SSL_PEER_CERT_REFUSED unset"
session opt 4701 srvonly
is "$RC" 0 "serverAuth-only client certificate, optional mode: the handshake succeeds"
# OpenSSL 3 words X509_V_ERR_INVALID_PURPOSE "unsuitable", LibreSSL and
# OpenSSL 1.1 "unsupported".
PURPOSE_RE='^FAILED:(unsuitable|unsupported) certificate purpose$'
like "$(ev opt SSL_CLIENT_VERIFY)" "$PURPOSE_RE" \
   "serverAuth-only client certificate: SSL_CLIENT_VERIFY=FAILED:unsuitable certificate purpose"
is "$(logfield "$W/opt.err" verify)" "$(ev opt SSL_CLIENT_VERIFY)" "log: the same verify value"
is "$(ev opt SSL_CLIENT_S_DN_Email)" srvonly@test.example "its e-mail is still reported (the verify result says not to trust it)"

serve req 4702 "$TLSSERVER" "${S_KEYS[@]}" -Y -a "$PKI/ca.pem" "${ENVP[@]}" "$W/env.req" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
session req 4702 srvonly
is "$(session_exits req | tail -n 1)" 97 "-Y refuses the same certificate (libtls checks the purpose): exit 97"
file_like "$W/req.err" 'fatal: handshake failed: .*certificate verify failed' "-Y: one handshake-failed line"

# ------------------------------------------------ point: bound on exported names
session opt 4701 longdn
is "$RC" 0 "subject over 1024 bytes: the session still runs"
file_like "$W/sc.opt.longdn.out" '^reply:ping$' "subject over 1024 bytes: prog ran and answered"
is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "long subject: verify SUCCESS"
is "$(ev opt SSL_CLIENT_S_DN)" "<unset>" "long subject: SSL_CLIENT_S_DN unset (refused, not cut)"
is "$(ev opt SSL_PEER_CERT_SUBJECT)" "<unset>" "long subject: SSL_PEER_CERT_SUBJECT unset (refused, not cut)"
is "$(ev opt SSL_PEER_CERT_REFUSED)" "SSL_CLIENT_S_DN,SSL_PEER_CERT_SUBJECT" "long subject: SSL_PEER_CERT_REFUSED names both"
is "$(ev opt SSL_CLIENT_S_DN_CN)|$(ev opt SSL_CLIENT_I_DN)" "longdn.test|CN=Test CA,O=ucspi-tls tests" "long subject: CN and issuer still exported"
is "$(logfield "$W/opt.err" subject)" - "log: subject=- (the same as prog sees)"
is "$(logfield "$W/opt.err" refused)" "SSL_CLIENT_S_DN,SSL_PEER_CERT_SUBJECT" "log: refused= lists the same names"
session opt 4701 okdn
want=$(cert_dn "$PKI/okdn.pem" subject)
num_cmp "${#want}" -gt 700 "okdn's subject is long ($(( ${#want} )) bytes)"
is "$(ev opt SSL_CLIENT_S_DN)" "$want" "subject under 1024 bytes: exported whole"
like "$(ev opt SSL_PEER_CERT_SUBJECT)" '^/CN=okdn\.test/OU=01u+/.*/OU=12u+$' "subject under 1024 bytes: SSL_PEER_CERT_SUBJECT whole"
is "$(ev opt SSL_PEER_CERT_REFUSED)" "<unset>" "subject under 1024 bytes: nothing refused"
is "$(logfield "$W/opt.err" subject)" "$want" "log: the whole subject"

# ------------------------------------------------ point: unsafe text in CN and e-mail
session opt 4701 bidi
is "$(ev opt SSL_CLIENT_VERIFY)" SUCCESS "bidi override in CN, isolate in e-mail: the certificate verifies"
is "$(ev opt SSL_CLIENT_S_DN_CN)|$(ev opt SSL_CLIENT_S_DN_Email)" "<unset>|<unset>" "U+202E in CN, U+2066 in e-mail: both unset"
is "$(ev opt SSL_PEER_CERT_REFUSED)" "SSL_CLIENT_S_DN_CN,SSL_CLIENT_S_DN_Email" "bidi: SSL_PEER_CERT_REFUSED names CN and e-mail"
is "$(ev opt SSL_CLIENT_S_DN)" 'CN=bidi\E2\80\AEtxt.test' "bidi: the DN shows it as \\XX escapes"
is "$(logfield "$W/opt.err" refused)" "SSL_CLIENT_S_DN_CN,SSL_CLIENT_S_DN_Email" "bidi: log refused= the same"
session opt 4701 c1
is "$(ev opt SSL_CLIENT_S_DN_CN)|$(ev opt SSL_CLIENT_S_DN_Email)" "<unset>|<unset>" "U+0085 and U+2028 in CN, U+0085 in e-mail: both unset"
is "$(ev opt SSL_PEER_CERT_REFUSED)" "SSL_CLIENT_S_DN_CN,SSL_CLIENT_S_DN_Email" "C1: SSL_PEER_CERT_REFUSED names CN and e-mail"
session opt 4701 utf8
is "$(ev opt SSL_CLIENT_S_DN_CN)" "$(printf 'M\303\274ller.test')" "plain non-ASCII CN (U+00FC): exported as UTF-8"
is "$(ev opt SSL_CLIENT_S_DN_Email)|$(ev opt SSL_PEER_CERT_REFUSED)" "utf8@test.example|<unset>" "non-ASCII CN: e-mail exported, nothing refused"
ok "no raw byte above 0x7e in any done line" sh -c "! grep -a ': info: done ' '$W/opt.err' | LC_ALL=C grep -aq '[^ -~]'"

# ------------------------------------------------ the Y reply (delayed mode) for the long subject
cat > "$W/yprog" <<'YEOF'
#!/bin/bash
# delayed-mode prog: Y, the reply into $1, then one reply line over TLS
printf Y >&"$SSLCTLFD"
cat <&"$SSLCTLFD" > "$1"
IFS= read -r l <&"$SSLREADFD"
printf 'reply:%s\n' "$l" >&"$SSLWRITEFD"
YEOF
chmod 755 "$W/yprog"
serve ydelay 4703 "$TLSSERVER" -n "${S_KEYS[@]}" -y -a "$PKI/ca.pem" "$W/yprog" "$W/yreply" \
  || bail_out "tcpserver did not start"
session ydelay 4703 longdn
file_like "$W/sc.ydelay.longdn.out" '^reply:ping$' "delayed mode, long subject: the session works"
yl=$(wc -c < "$W/yreply" 2>/dev/null || echo 0)
num_cmp "$yl" -le 8192 "the Y reply for a refused long subject is within 8 KiB ($yl bytes)"
ok "Y reply: SSL_PEER_CERT_REFUSED entry" grep -aq 'SSL_PEER_CERT_REFUSED=SSL_CLIENT_S_DN,SSL_PEER_CERT_SUBJECT' "$W/yreply"
nok "Y reply: no SSL_CLIENT_S_DN= value" grep -aq 'SSL_CLIENT_S_DN=' "$W/yreply"
session ydelay 4703 okdn
yl=$(wc -c < "$W/yreply" 2>/dev/null || echo 0)
num_cmp "$yl" -le 8192 "the Y reply for a subject just under the bound is within 8 KiB ($yl bytes)"

# ------------------------------------------------ tlsclient -i: server purpose and IP literals
mk_client_prog "$W/cprog"
# one s_server session with CERT, tlsclient ARGS... against it; env in $W/cenv.NAME
csession() { # NAME CERT tlsclient-args...
  local name=$1 cert=$2 ss; shift 2
  rm -f "$W/cenv.$name"
  spawn "ss.$name" openssl s_server -accept 127.0.0.1:4710 -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" -naccept 1 -rev
  ss=$SPAWN_PID
  wait_port 4710 || diag "s_server did not listen"
  run "cli.$name" tcpclient -RHl0 127.0.0.1 4710 "$TLSCLIENT" -a "$PKI/ca.pem" "$@" "$W/cprog" "$W/cenv.$name"
  wait_pid "$ss" 5 >/dev/null
}
cv() { envval "$W/cenv.$1" SSL_SERVER_VERIFY; }

csession cliauth cliauth -i -h localhost
is "$RC" 0 "tlsclient -i, clientAuth-only server certificate: connects (-i)"
like "$(cv cliauth)" "$PURPOSE_RE" "-i report: FAILED:unsuitable certificate purpose"
csession cliauthv cliauth -h localhost
isnt "$RC" 0 "tlsclient verifying (no -i): libtls refuses the same certificate"
csession okpurpose server -i -h localhost
is "$(cv okpurpose)" SUCCESS "-i report, serverAuth certificate: SUCCESS"

csession ip4 server -i -h 127.0.0.1
is "$(cv ip4)" SUCCESS "-i -h 127.0.0.1, certificate with IP:127.0.0.1: SUCCESS (not hostname mismatch)"
csession iponly ipsrv -i -h 127.0.0.1
is "$(cv iponly)" SUCCESS "-i -h 127.0.0.1, certificate with IP SANs only: SUCCESS"
csession ip6 ipsrv -i -h ::1
is "$(cv ip6)" SUCCESS "-i -h ::1, certificate with IP:::1: SUCCESS"
csession ipwrong ipsrv -i -h 127.0.0.2
is "$(cv ipwrong)" "FAILED:IP address mismatch" "-i -h 127.0.0.2: FAILED:IP address mismatch"
csession ipname ipsrv -i -h localhost
is "$(cv ipname)" "FAILED:hostname mismatch" "-i -h localhost, IP-only certificate: FAILED:hostname mismatch"
csession ipdns sni-a -i -h 127.0.0.1
is "$(cv ipdns)" "FAILED:IP address mismatch" "-i -h 127.0.0.1, DNS-only certificate: FAILED:IP address mismatch"
csession ipverify ipsrv -h 127.0.0.1
is "$RC/$(cv ipverify)" "0/SUCCESS" "verifying tlsclient -h 127.0.0.1 (libtls): accepted, SUCCESS (the report agrees with it)"

done_testing

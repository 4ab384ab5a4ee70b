#!/bin/bash
# The application's environment (and descriptors). Variables naming key,
# certificate, trust and privilege settings (CERTFILE, KEYFILE, CAFILE,
# CADIR, CRLFILE, TLS_UID, TLS_GID, TLS_CHROOT, TLS_TICKETKEYFILE,
# TLS_OCSPFILE, CERTFILE:name, KEYFILE:name) never reach prog; inherited SSL_* values are
# replaced by the session's real ones or unset; tcpserver's TCP* variables
# and unrelated variables pass through; SSL_SESSION_RESUMED=Initial and a
# numeric SSL_CIPHER_USEKEYSIZE. Immediate and delayed (-n) mode, tlsserver
# and tlsclient. Also: prog's descriptors are the engine's pipes, never the
# network socket, and nothing else leaks into it.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup

mkdir -p "$W/cadir"
cp "$PKI/ca.pem" "$W/cadir/ca.pem"
openssl rehash "$W/cadir" >/dev/null 2>&1 || c_rehash "$W/cadir" >/dev/null 2>&1
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$W/ticketkeys"; echo >> "$W/ticketkeys"
# a real OCSP response for server.pem, signed by the test CA
openssl ocsp -issuer "$PKI/ca.pem" -cert "$PKI/server.pem" -no_nonce -reqout "$W/ocsp.req" >/dev/null 2>&1
openssl ocsp -index "$PKI/ca-ca/index.txt" -rsigner "$PKI/ca.pem" -rkey "$PKI/ca.key" -CA "$PKI/ca.pem" \
  -reqin "$W/ocsp.req" -respout "$W/ocsp.der" -ndays 1 >/dev/null 2>&1

PRIVATE=(CERTFILE KEYFILE CAFILE CADIR CRLFILE TLS_UID TLS_GID TLS_CHROOT TLS_TICKETKEYFILE TLS_OCSPFILE
         "CERTFILE:a.test.example" "KEYFILE:a.test.example")
# the full engine environment: every private variable set, plus forged SSL_*
SRV_ENV=(
  CERTFILE="$PKI/server.pem" KEYFILE="$PKI/server.key"
  CAFILE="$PKI/ca.pem" CADIR="$W/cadir" CRLFILE="$PKI/crl.pem"
  TLS_CHROOT=/ TLS_TICKETKEYFILE="$W/ticketkeys" TLS_OCSPFILE="$W/ocsp.der"
  "CERTFILE:a.test.example=$PKI/sni-a.pem" "KEYFILE:a.test.example=$PKI/sni-a.key"
  SSL_CLIENT_VERIFY=SUCCESS SSL_CLIENT_S_DN=CN=forged SSL_CLIENT_S_DN_CN=forged
  SSL_CLIENT_S_DN_Email=forged@example.org SSL_CLIENT_CERT_HASH=SHA256:forged
  SSL_PEER_CERT_HASH=SHA256:forged SSL_PEER_CERT_SUBJECT=/CN=forged
  SSL_SERVER_VERIFY=SUCCESS SSL_TLS_SNI_SERVERNAME=forged.example SSL_TLS_SNI=forged.example
  SSL_SESSION_RESUMED=Resumed SSL_PROTOCOL=SSLv2 SSL_CIPHER=NULL
  APP_SETTING=kept TLSCIPHERS=ECDHE+AESGCM:ECDHE+CHACHA20
)
# Dropping to uid 0 is a no-op for real root; in the user namespace of an
# ordinary user's run, setgroups is forbidden, so the pair is left out there.
is_root && SRV_ENV+=(TLS_UID=0 TLS_GID=0)

private_gone() { # DUMPFILE WHAT
  local v got=
  for v in "${PRIVATE[@]}"; do
    [ "$(envval "$1" "$v")" != "<unset>" ] && got="$got $v"
  done
  is "${got:-none}" none "$2: no CERTFILE/KEYFILE/CAFILE/CADIR/CRLFILE/TLS_UID/TLS_GID/TLS_CHROOT/TLS_TICKETKEYFILE/TLS_OCSPFILE/CERTFILE:name/KEYFILE:name"
  is "$(grep -cE '^(CERTFILE|KEYFILE)' "$1")" 0 "$2: no variable starting with CERTFILE or KEYFILE at all"
}

# ------------------------------------------------ tlsserver, immediate mode
spawn srv env "${SRV_ENV[@]}" tcpserver -v -RHl0 127.0.0.1 4470 \
  "$TLSSERVER" "$FIX/envdump.sh" "$W/env.srv" "$FIX/reply.sh"
wait_port 4470 || { diag_file "$W/srv.err"; bail_out "tcpserver did not start"; }

sclient s1 4470 -CAfile "$PKI/ca.pem" -verify_return_error -noservername
wait_sessions srv 1 10
E=$W/env.srv
is "$RC" 0 "session with every private variable set: works (the engine read them)"
private_gone "$E" "immediate mode"
is "$(envval "$E" SSL_CLIENT_VERIFY)" NONE "inherited SSL_CLIENT_VERIFY=SUCCESS replaced by the real value NONE"
is "$(envval "$E" SSL_CLIENT_S_DN)|$(envval "$E" SSL_CLIENT_S_DN_CN)|$(envval "$E" SSL_CLIENT_S_DN_Email)|$(envval "$E" SSL_CLIENT_CERT_HASH)" \
   "<unset>|<unset>|<unset>|<unset>" "forged SSL_CLIENT_S_DN, _CN, _Email, _CERT_HASH unset (no certificate)"
is "$(envval "$E" SSL_PEER_CERT_HASH)|$(envval "$E" SSL_PEER_CERT_SUBJECT)" "<unset>|<unset>" "forged SSL_PEER_CERT_HASH / _SUBJECT unset"
is "$(envval "$E" SSL_SERVER_VERIFY)" "<unset>" "forged SSL_SERVER_VERIFY unset on the server side"
is "$(envval "$E" SSL_TLS_SNI_SERVERNAME)|$(envval "$E" SSL_TLS_SNI)" "<unset>|<unset>" "forged SNI variables unset (client sent no SNI)"
is "$(envval "$E" SSL_SESSION_RESUMED)" Initial "SSL_SESSION_RESUMED=Initial (forged Resumed replaced)"
is "$(envval "$E" SSL_PROTOCOL)/$(envval "$E" SSL_CIPHER)" "TLSv1.3/TLS_AES_256_GCM_SHA384" "SSL_PROTOCOL and SSL_CIPHER are the session's"
like "$(envval "$E" SSL_CIPHER_USEKEYSIZE)" '^[0-9]+$' "SSL_CIPHER_USEKEYSIZE is numeric"
is "$(envval "$E" SSL_CIPHER_USEKEYSIZE)" 256 "SSL_CIPHER_USEKEYSIZE=256 for AES-256-GCM"
is "$(envval "$E" TCPREMOTEIP)|$(envval "$E" TCPLOCALIP)|$(envval "$E" TCPLOCALPORT)|$(envval "$E" PROTO)" \
   "127.0.0.1|127.0.0.1|4470|TCP" "tcpserver's TCPREMOTEIP, TCPLOCALIP, TCPLOCALPORT, PROTO pass through"
like "$(envval "$E" TCPREMOTEPORT)" '^[0-9]+$' "TCPREMOTEPORT passes through"
is "$(envval "$E" APP_SETTING)" kept "an unrelated variable passes through"
is "$(envval "$E" TLSCIPHERS)" "ECDHE+AESGCM:ECDHE+CHACHA20" "TLSCIPHERS passes through (documented)"
is "$(envval "$E" SSLCTLFD)|$(envval "$E" SSLREADFD)|$(envval "$E" SSLWRITEFD)" "<unset>|<unset>|<unset>" "immediate mode: no SSLCTLFD/SSLREADFD/SSLWRITEFD"

# with a client certificate over TLS 1.2: the real values replace the forged ones
sclient s2 4470 -CAfile "$PKI/ca.pem" -cert "$PKI/client.pem" -key "$PKI/client.key" -tls1_2 \
  -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -servername a.test.example
wait_sessions srv 2 10
is "$(envval "$E" SSL_CLIENT_VERIFY)|$(envval "$E" SSL_CLIENT_S_DN_CN)|$(envval "$E" SSL_CLIENT_S_DN_Email)" \
   "SUCCESS|client.test|client@test.example" "client certificate: real verify result, CN and e-mail"
is "$(envval "$E" SSL_PEER_CERT_HASH)" "$(cert_hash "$PKI/client.pem")" "client certificate: real SSL_PEER_CERT_HASH"
is "$(envval "$E" SSL_TLS_SNI_SERVERNAME)" a.test.example "client certificate session: real SNI"
is "$(envval "$E" SSL_CIPHER_USEKEYSIZE)" 128 "SSL_CIPHER_USEKEYSIZE=128 for ECDHE-ECDSA-AES128-GCM-SHA256"
is "$(envval "$E" SSL_SESSION_RESUMED)" Initial "TLS 1.2: SSL_SESSION_RESUMED=Initial"
private_gone "$E" "immediate mode, second session"
sclient_info s3 4470 -CAfile "$PKI/ca.pem" -status
wait_sessions srv 3 10
file_like "$W/s3.out" 'OCSP Response Status: successful' "TLS_OCSPFILE was in effect: s_client -status got the staple"
private_gone "$E" "immediate mode, third session (OCSP staple)"
stop "$SPAWN_PID"

# ------------------------------------------------ tlsserver -n: before and after STARTTLS
SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
if [ -x "$SMTPD" ]; then
  spawn dly env "${SRV_ENV[@]}" FIXTURE_LOG="$W/fx.log" tcpserver -v -RHl0 127.0.0.1 4471 \
    "$TLSSERVER" -n "$FIX/envdump.sh" "$W/env.dly" "$SMTPD"
  wait_port 4471 || bail_out "tcpserver did not start"
  printf 'EHLO c.test\r\nQUIT\r\n' > "$W/smtp.in"
  run_in "$W/smtp.in" s3 openssl s_client -connect 127.0.0.1:4471 -starttls smtp -CAfile "$PKI/ca.pem" -quiet
  wait_sessions dly 1 10
  is "$RC" 0 "delayed mode: STARTTLS session works"
  E=$W/env.dly
  private_gone "$E" "delayed mode, at prog's start"
  is "$(grep -c '^SSL_' "$E" | tr -d ' ')" 0 "delayed mode: no inherited SSL_* variable at prog's start (forged ones unset)"
  like "$(envval "$E" SSLCTLFD)/$(envval "$E" SSLREADFD)/$(envval "$E" SSLWRITEFD)" '^[0-9]+/[0-9]+/[0-9]+$' "delayed mode: SSLCTLFD, SSLREADFD, SSLWRITEFD set"
  is "$(envval "$E" TCPREMOTEIP)/$(envval "$E" APP_SETTING)" "127.0.0.1/kept" "delayed mode: TCPREMOTEIP and unrelated variables pass through"
  file_unlike "$W/fx.log" '^env-start SSL_' "fixture saw no SSL_* before STARTTLS"
  file_like "$W/fx.log" '^env SSL_CLIENT_VERIFY=NONE$' "after 'Y': SSL_CLIENT_VERIFY=NONE from the reply"
  file_like "$W/fx.log" '^env SSL_SESSION_RESUMED=Initial$' "after 'Y': SSL_SESSION_RESUMED=Initial"
  file_like "$W/fx.log" '^env SSL_CIPHER_USEKEYSIZE=[0-9]+$' "after 'Y': numeric SSL_CIPHER_USEKEYSIZE"
  file_unlike "$W/fx.log" '^env [A-Z_]*=.*forged' "after 'Y': no forged value anywhere"
  stop "$SPAWN_PID"
else
  skip_n 12 "fixture-smtpd not built: make all"
fi

# ------------------------------------------------ tlsclient
mk_client_prog "$W/cprog"
spawn ss openssl s_server -accept 127.0.0.1:4472 -cert "$PKI/wrongserver.pem" -key "$PKI/wrongserver.key" \
  -CAfile "$PKI/ca.pem" -verify 1 -naccept 1 -rev
SS=$SPAWN_PID; wait_port 4472
IDS=(); is_root && IDS=(TLS_UID=0 TLS_GID=0)
env CERTFILE="$PKI/client.pem" KEYFILE="$PKI/client.key" CAFILE="$PKI/ca.pem" CADIR="$W/cadir" \
    CRLFILE="$PKI/crl.pem" "${IDS[@]}" \
    SSL_SERVER_VERIFY=SUCCESS SSL_SERVER_S_DN_CN=forged SSL_CLIENT_VERIFY=SUCCESS SSL_CLIENT_S_DN=CN=forged \
    APP_SETTING=kept \
  tcpclient -RHl0 127.0.0.1 4472 "$TLSCLIENT" -i "$W/cprog" "$W/cenv" >"$W/cli.out" 2>"$W/cli.err"
RC=$?
wait_pid "$SS" 5 >/dev/null
E=$W/cenv
is "$RC" 0 "tlsclient -i against an untrusted server: session works"
is "$(cat "$E.reply" 2>/dev/null)" olleh "tlsclient: data came back"
private_gone "$E" "tlsclient"
like "$(envval "$E" SSL_SERVER_VERIFY)" '^FAILED:' "tlsclient -i: forged SSL_SERVER_VERIFY=SUCCESS replaced by the real FAILED:..."
is "$(envval "$E" SSL_SERVER_S_DN_CN)" localhost "tlsclient: forged SSL_SERVER_S_DN_CN replaced"
is "$(envval "$E" SSL_CLIENT_VERIFY)|$(envval "$E" SSL_CLIENT_S_DN)" "<unset>|<unset>" "tlsclient: forged SSL_CLIENT_* unset"
is "$(envval "$E" SSL_SESSION_RESUMED)" Initial "tlsclient: SSL_SESSION_RESUMED=Initial"
like "$(envval "$E" SSL_CIPHER_USEKEYSIZE)" '^[0-9]+$' "tlsclient: numeric SSL_CIPHER_USEKEYSIZE"
is "$(envval "$E" TCPREMOTEIP)|$(envval "$E" TCPREMOTEPORT)|$(envval "$E" APP_SETTING)" "127.0.0.1|4472|kept" \
   "tlsclient: tcpclient's TCPREMOTEIP/TCPREMOTEPORT and unrelated variables pass through"

# ------------------------------------------------ descriptors prog gets
cat > "$W/fds.py" <<'EOF'
import os, sys, stat
out = []
for n in sorted(int(x) for x in os.listdir("/proc/self/fd")):
    try:
        t = os.readlink("/proc/self/fd/%d" % n)
    except OSError:
        continue            # the directory listdir used, already closed
    out.append("%d %s" % (n, t.split(":")[0]))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF
fdnums() { cut -d' ' -f1 "$1" | tr '\n' ' '; }
serve base 4473 "$PY" "$W/fds.py" "$W/fd.base" || bail_out "tcpserver did not start"
run_in /dev/null b0 openssl s_client -connect 127.0.0.1:4473 -quiet   # plain TCP: s_client just fails
wait_sessions base 1 10
stop "$SPAWN_PID"
serve imm 4474 "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" "$PY" "$W/fds.py" "$W/fd.imm" \
  || bail_out "tcpserver did not start"
sclient b1 4474 -CAfile "$PKI/ca.pem"
wait_sessions imm 1 10
stop "$SPAWN_PID"
if [ -s "$W/fd.base" ] && [ -s "$W/fd.imm" ]; then
  is "$(fdnums "$W/fd.imm")" "$(fdnums "$W/fd.base")" "immediate mode: prog has exactly the descriptors tcpserver would give it"
  is "$(sed -n 's/^0 //p' "$W/fd.imm")/$(sed -n 's/^1 //p' "$W/fd.imm")" "pipe/pipe" "immediate mode: prog's 0 and 1 are pipes, not the network socket"
  is "$(grep -c ' socket$' "$W/fd.imm")" 0 "immediate mode: no socket at all in prog"
else
  fail "descriptor listings were written" "$(cat "$W/fd.base" "$W/fd.imm" 2>&1)"
  skip_n 2 "no listing"
fi
serve dfd 4475 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" \
  "$FIX/envdump.sh" "$W/env.dfd" "$PY" "$W/fds.py" "$W/fd.dly" || bail_out "tcpserver did not start"
run_in /dev/null b2 openssl s_client -connect 127.0.0.1:4475 -quiet
wait_sessions dfd 1 10
stop "$SPAWN_PID"
if [ -s "$W/fd.dly" ]; then
  extra="$(envval "$W/env.dfd" SSLCTLFD) $(envval "$W/env.dfd" SSLREADFD) $(envval "$W/env.dfd" SSLWRITEFD)"
  want=$( { fdnums "$W/fd.base" | tr ' ' '\n'; printf '%s\n' $extra; } | grep . | sort -n | tr '\n' ' ')
  is "$(fdnums "$W/fd.dly")" "$want" "delayed mode: prog has tcpserver's descriptors plus SSLCTLFD, SSLREADFD, SSLWRITEFD only"
  is "$(sed -n "s/^$(envval "$W/env.dfd" SSLCTLFD) //p" "$W/fd.dly")" socket "delayed mode: SSLCTLFD is a socket"
else
  fail "delayed mode: descriptor listing written"; skip "no listing"
fi

done_testing

#!/bin/bash
# tlsd and its front end tlsdserver: the TLS configuration loaded once by a
# daemon, the connection handed over by tcpserver's child. Checked here:
#   * immediate mode with openssl s_client: prog gets the plaintext, the
#     session's SSL_* and tcpserver's TCP* variables, not the daemon's
#     files; tlsd logs the done line with the peer address of the passed
#     socket (not what the front end says);
#   * a handshake that fails: prog never runs, tlsdserver exits 97;
#   * a large transfer both ways, SHA-256 intact (pump.sh);
#   * delayed mode (STARTTLS) with swaks against fixture-smtpd, SSLCTLFD
#     at 3 as with tlsserver; a session without STARTTLS (declined);
#   * tcprules variables reach the daemon: a per-client TLSCIPHERS;
#     tcpserver -c still limits the sessions;
#   * tlsdserver links no TLS library.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsd tlsdserver
need_cmds tcpserver tcprules openssl swaks
pki_setup
smtp_fixtures

TLSD=$UCSPI_TLS_BIN/tlsd
FRONT=$UCSPI_TLS_BIN/tlsdserver
CA=$PKI/ca.pem
SOCK=$W/tlsd/socket
mkdir -m 700 "$W/tlsd"

start_tlsd() { # NAME ARGS...
  local name=$1; shift
  spawn "$name" "$TLSD" -v2 -c "$PKI/server.pem" -k "$PKI/server.key" "$@" "$SOCK"
  TLSD_PID=$SPAWN_PID
  wait_until 5 test -S "$SOCK"
}

ok "tlsdserver links no TLS library" sh -c "! ldd '$FRONT' | grep -Eq 'libtls|libssl|libcrypto'"

start_tlsd d1
file_like "$W/d1.err" 'tlsd: info: listening on' "tlsd logs where it listens"

# ---- immediate mode
serve im 4001 "$FRONT" "$SOCK" "$FIX/envdump.sh" "$W/im.env" "$FIX/reply.sh"
sclient im-c 4001 -CAfile "$CA" -servername localhost
like "$(cat "$W/im-c.out")" '^reply:ping' "immediate: prog answers through the daemon"
like "$(cat "$W/im-c.out")" 'SSL_PROTOCOL=TLSv1\.[23]' "immediate: prog gets SSL_PROTOCOL"
is "$(envval "$W/im.env" TCPREMOTEIP)" 127.0.0.1 "immediate: prog keeps tcpserver's TCPREMOTEIP"
is "$(envval "$W/im.env" PROTO)" TCP "immediate: prog keeps PROTO"
is "$(envval "$W/im.env" SSLCTLFD)" "<unset>" "immediate: no SSLCTLFD"
wait_sessions im 1
is "$(session_exits im)" 0 "immediate: tcpserver sees prog's exit 0"
wait_until 3 grep -q 'tlsd: info: done' "$W/d1.err"
like "$(done_line "$W/d1.err")" 'peer=127\.0\.0\.1:[0-9]+ .*close=(clean|unclean)' "immediate: tlsd logs one done line with the peer"
like "$(done_line "$W/d1.err")" 'local=127\.0\.0\.1:4001 ' "immediate: the local address is the passed socket's"
stop "$SPAWN_PID"

# The peer address comes from the socket, not from the front end's word.
serve forged 4002 env TCPREMOTEIP=10.9.9.9 TCPREMOTEPORT=9 "$FRONT" "$SOCK" "$FIX/envdump.sh" "$W/forged.env" "$FIX/reply.sh"
sclient forged-c 4002 -CAfile "$CA" -servername localhost
wait_until 3 sh -c "grep -c 'tlsd: info: done' '$W/d1.err' | grep -qx 2"
like "$(done_line "$W/d1.err")" 'peer=127\.0\.0\.1:' "a forged TCPREMOTEIP does not reach the log"
is "$(envval "$W/forged.env" TCPREMOTEIP)" 10.9.9.9 "(prog itself sees what tcpserver's chain set)"
stop "$SPAWN_PID"

# A failed handshake: prog never runs, the engine's code reaches tcpserver.
rm -f "$W/hs.ran"
serve hs 4003 "$FRONT" "$SOCK" sh -c "touch '$W/hs.ran'"
run hs-c sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 5 socat -t2 - TCP:127.0.0.1:4003 || true'
wait_sessions hs 1
is "$(session_exits hs)" 97 "handshake failure: tlsdserver exits 97"
ok "handshake failure: prog never ran" test ! -e "$W/hs.ran"
stop "$SPAWN_PID"

# ---- large transfer both ways
MIB=16
mkdata "$W/up" $MIB; mkdata "$W/down" $MIB
serve big 4004 "$FRONT" "$SOCK" "$FIX/pump.sh" both "$W/down" "$W/big.srecv"
run big-c tcpclient -RHl0 127.0.0.1 4004 "$TLSCLIENT" -a "$CA" -h localhost "$FIX/pump.sh" -c both "$W/up" "$W/big.crecv"
wait_sessions big 1 10
is "$(sha "$W/big.srecv")" "$(sha "$W/up")" "$MIB MiB client -> server intact"
is "$(sha "$W/big.crecv")" "$(sha "$W/down")" "$MIB MiB server -> client intact"
is "$(session_exits big)" 0 "transfer: exit 0"
stop "$SPAWN_PID"

# ---- delayed mode: STARTTLS with swaks against fixture-smtpd
serve dl 4025 "$FRONT" -n "$SOCK" "$FIX/envdump.sh" "$W/dl.env" "$SMTPD"
run dl-c swaks --server 127.0.0.1:4025 --tls --tls-verify --tls-ca-path "$CA" --tls-sni localhost \
  --from a@example.org --to b@example.org --helo client.example.org --timeout 10
is "$RC" 0 "delayed: swaks STARTTLS delivers"
like "$(cat "$W/dl-c.out")" '250.*(queued|ok|OK|Ok)' "delayed: the message is accepted"
is "$(envval "$W/dl.env" SSLCTLFD)/$(envval "$W/dl.env" SSLREADFD)/$(envval "$W/dl.env" SSLWRITEFD)" 3/4/5 \
  "delayed: SSLCTLFD/SSLREADFD/SSLWRITEFD are 3/4/5 as with tlsserver"
wait_sessions dl 1
is "$(session_exits dl)" 0 "delayed: tcpserver sees prog's exit 0"
wait_until 3 sh -c "grep -c 'tlsd: info: done' '$W/d1.err' | grep -qx 5"
like "$(done_line "$W/d1.err")" 'proto=TLSv1\.[23] .*close=(clean|unclean)' "delayed: done line after STARTTLS"
run dl-plain swaks --server 127.0.0.1:4025 --from a@example.org --to b@example.org --helo c.example.org --timeout 10
is "$RC" 0 "delayed: a session without STARTTLS delivers"
wait_until 3 sh -c "grep -c 'tlsd: info: done' '$W/d1.err' | grep -qx 6"
like "$(done_line "$W/d1.err")" 'close=declined' "delayed: declined when prog ends without TLS"
stop "$SPAWN_PID"

# SMTPS (set per client by tcprules, qmail-tls's habit): implicit TLS even with -n
serve smtps 4465 env SMTPS=1 "$FRONT" -n "$SOCK" "$FIX/envdump.sh" "$W/smtps.env" "$FIX/reply.sh"
sclient smtps-c 4465 -CAfile "$CA" -servername localhost
like "$(cat "$W/smtps-c.out")" '^reply:ping' "SMTPS set: -n runs immediate mode through the daemon"
is "$(envval "$W/smtps.env" SSLCTLFD)" "<unset>" "SMTPS set: no SSLCTLFD"
stop "$SPAWN_PID"

# ---- tcprules: TLSCIPHERS per client; tcpserver -c
AES128=ECDHE-ECDSA-AES128-GCM-SHA256
printf '127.0.0.2:allow,TLSCIPHERS="%s"\n:allow\n' "$AES128" | tcprules "$W/rules.cdb" "$W/rules.tmp"
spawn rules tcpserver -v -RHl0 -x "$W/rules.cdb" 0 4005 "$FRONT" "$SOCK" "$FIX/reply.sh"
wait_port 4005
sclient ru1 4005 -CAfile "$CA" -servername localhost -bind 127.0.0.2 -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
unlike "$(cat "$W/ru1.out")" '^reply:' "tcprules TLSCIPHERS: a cipher outside the client's list is refused"
sclient ru2 4005 -CAfile "$CA" -servername localhost -bind 127.0.0.2 -tls1_2 -cipher "$AES128"
like "$(cat "$W/ru2.out")" '^reply:' "tcprules TLSCIPHERS: the client's cipher works"
sclient ru3 4005 -CAfile "$CA" -servername localhost -bind 127.0.0.1 -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
like "$(cat "$W/ru3.out")" '^reply:' "tcprules TLSCIPHERS: other clients keep the daemon's list"
stop "$SPAWN_PID"

TCPSERVER_OPTS="-c 1" serve cl 4006 "$FRONT" "$SOCK" sh -c 'read l; echo "got:$l"; sleep 1'
run_in "$(ping_file)" cl1 openssl s_client -connect 127.0.0.1:4006 -quiet -CAfile "$CA" &
CL1=$!
wait_until 3 grep -q 'status: 1/1' "$W/cl.err"
wait_pid "$CL1" 10 >/dev/null
file_like "$W/cl.err" 'tcpserver: status: 1/1' "tcpserver -c 1 still applies in front of the daemon"
stop "$SPAWN_PID"

stop "$TLSD_PID"
done_testing

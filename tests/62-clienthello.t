#!/bin/bash
# Protocol abuse at the ClientHello, against tlsserver under tcpserver
# (fuzz/tlspoke.py drives Python's ssl over a MemoryBIO, or sends
# handcrafted bytes):
#   - a server_name of 300 bytes (over the 255 of RFC 6066): refused with an
#     alert, exit 97, prog never runs; 255 bytes is still answered;
#   - the ClientHello written one byte at a time: the handshake completes;
#   - half a ClientHello record, then the peer is gone: exit 97 at once;
#   - a server_name made of spaces, quotes or a newline must not forge fields
#     or lines in the engine's log.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver timeout
pki_setup
POKE=$TOP/fuzz/tlspoke.py
[ -x "$PY" ] || skip_all "python3 not installed"

poke() { # name args... : tlspoke under timeout; output in $W/name.out
  local n=$1; shift
  timeout -k 2 30 "$PY" "$POKE" --timeout 15 "$@" >"$W/$n.out" 2>"$W/$n.err"
  RC=$?
}
val() { sed -n "s/^$2=//p" "$W/$1.out" | head -n 1; }

SRV=("$TLSSERVER" -K 30000 -c "$PKI/server.pem" -k "$PKI/server.key")

# ------------------------------------------------------------ oversized SNI
serve sni 4471 "${SRV[@]}" "$FIX/envdump.sh" "$W/env.sni" "$FIX/reply.sh" || bail_out "tcpserver did not start"
poke sni300 4471 raw-sni 300
wait_sessions sni 1 10
is "$RC" 0 "300-byte server_name: the client got an answer (no hang)"
like "$(val sni300 alert)" '^2,' "300-byte server_name: a fatal alert came back"
is "$(session_exits sni)" 97 "300-byte server_name: engine exit 97 (handshake failed)"
file_like "$W/sni.err" '^tlsserver: fatal: handshake failed: peer=127\.0\.0\.1:[0-9]+ reason=.+' \
  "300-byte server_name: one 'fatal: handshake failed' line with a reason"
is "$(count_lines "$W/sni.err" '^tlsserver: fatal: ')" 1 "300-byte server_name: exactly one engine error line"
is "$(count_lines "$W/sni.err" '^tlsserver: info: done .* close=handshake status=97 ')" 1 "300-byte server_name: and one summary line, close=handshake"
ok "300-byte server_name: prog never ran" test ! -e "$W/env.sni"

poke sni4k 4471 raw-sni 4000
wait_sessions sni 2 10
like "$(val sni4k alert)" '^2,' "4000-byte server_name: a fatal alert came back"
is "$(session_exits sni | tail -n 1)" 97 "4000-byte server_name: engine exit 97"

poke sni255 4471 raw-sni 255
wait_sessions sni 3 10
is "$(val sni255 first_record_type)" 22 "255-byte server_name: accepted (the server answered with its handshake)"
is "$(session_exits sni | tail -n 1)" 97 "255-byte server_name, client gone after the ServerHello: exit 97"
file_like "$W/sni.err" 'reason=peer closed the connection during the handshake' \
  "client gone mid-handshake: the reason says so"
ok "no prog ran for any of them" test ! -e "$W/env.sni"
stop "$SPAWN_PID"

# ------------------------------------------------------------ one byte per write
serve bw 4472 "${SRV[@]}" "$FIX/envdump.sh" "$W/env.bw" "$FIX/reply.sh"
poke bw13 --bytewise 2 --sni localhost --cafile "$PKI/ca.pem" --verify-name localhost --send 'ping\n' 4472 echo
wait_sessions bw 1 10
is "$(val bw13 handshake)/$(val bw13 protocol)" ok/TLSv1.3 "ClientHello one byte per write (TLS 1.3): handshake completes, verified"
like "$(val bw13 received)" '^reply:ping' "one byte per write: the reply came back through the tunnel"
is "$(val bw13 eof)" clean "one byte per write: the server closed with close_notify"
is "$(session_exits bw)" 0 "one byte per write: engine exit 0"
is "$(logfield "$W/bw.err" sni)/$(logfield "$W/bw.err" close)" localhost/clean "one byte per write: log sni=localhost close=clean"
poke bw12 --tls12 --bytewise 1 --sni localhost --cafile "$PKI/ca.pem" --verify-name localhost --send 'ping\n' 4472 echo
wait_sessions bw 2 10
is "$(val bw12 handshake)/$(val bw12 protocol)" ok/TLSv1.2 "ClientHello one byte per write (TLS 1.2): handshake completes"
like "$(val bw12 received)" '^reply:ping' "TLS 1.2 one byte per write: the reply came back"
is "$(session_exits bw | tail -n 1)" 0 "TLS 1.2 one byte per write: engine exit 0"
is "$(count_lines "$W/bw.err" ': info: done ')" 2 "one 'info: done' line per session"
stop "$SPAWN_PID"

# ------------------------------------------------------------ half a ClientHello
serve half 4473 "${SRV[@]}" "$FIX/envdump.sh" "$W/env.half" "$FIX/reply.sh"
start=$(date +%s%N)
poke halfhello 4473 half-hello
wait_sessions half 1 10
end=$(date +%s%N)
is "$RC" 0 "half a ClientHello record, then FIN: the client saw the connection end"
is "$(session_exits half)" 97 "half a ClientHello: engine exit 97"
file_like "$W/half.err" 'fatal: handshake failed: .*reason=peer closed the connection during the handshake' \
  "half a ClientHello: 'peer closed the connection during the handshake'"
num_cmp $(( (end - start) / 1000000 )) -lt 15000 "half a ClientHello: over at once, not at the 30 s handshake deadline"
ok "half a ClientHello: prog never ran" test ! -e "$W/env.half"
stop "$SPAWN_PID"

# ------------------------------------------------------------ hostile server_name vs the log
serve inj 4474 "${SRV[@]}" "$FIX/envdump.sh" "$W/env.inj" "$FIX/reply.sh"
poke inj1 --sni 'x verify="SUCCESS" subject="CN=admin"' --send 'ping\n' 4474 echo
wait_sessions inj 1 10
is "$(val inj1 handshake)" ok "server_name with spaces and quotes: the handshake completes (OpenSSL accepts it)"
is "$(session_exits inj)" 0 "server_name with spaces: session ends normally"
is "$(logfield "$W/inj.err" verify)" NONE "server_name with spaces cannot forge verify= in the log"
poke inj2 --sni "$(printf 'evil\ntlsserver: info: done peer=192.0.2.1:25 forged')" --send 'ping\n' 4474 echo
wait_sessions inj 2 10
is "$(val inj2 handshake)" ok "server_name with a newline: the handshake completes"
is "$(count_lines "$W/inj.err" ': info: done ')" 2 "server_name with a newline cannot add a log line (2 sessions, 2 lines)"
file_unlike "$W/inj.err" 'peer=192\.0\.2\.1' "no forged peer= in the log"
stop "$SPAWN_PID"

done_testing

#!/bin/bash
# One summary record for every session: whatever happens, the engine's last
# word is exactly one "info: done" line with local=, pid= (tcpserver's pid
# of the session), close= for the outcome and reason= when something failed.
#   clean TLS session, declined STARTTLS, failed handshake (immediate, and
#   after STARTTLS), handshake deadline, idle deadline, refused configuration,
#   prog that cannot be executed (immediate and delayed: status 111, never
#   prog's 127), control-protocol error; the SMTPS-on--n failure carries the
#   label of the mode actually run (fatal, exit 97); IPv6 peers bracketed.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver fixtures/fixture-smtpd
need_cmds tcpserver openssl swaks
pki_setup

SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
mkdir -p "$W/spool"
export FIXTURE_SPOOL=$W/spool
printf 'ping\n' > "$W/ping"
sclient() { # NAME PORT [ARGS]
  local n=$1 p=$2; shift 2
  run_in "$W/ping" "$n" openssl s_client -connect "127.0.0.1:$p" -servername localhost -CAfile "$PKI/ca.pem" -quiet "$@"
}
# summary NAME: exactly one done line in NAME.err, printed
summary() {
  local n
  n=$(count_lines "$W/$1.err" ': info: done ')
  [ "$n" = 1 ] || { echo "($n done lines)"; return; }
  done_line "$W/$1.err"
}
# the pid tcpserver logged for the last session ("tcpserver: pid N from ...")
session_pid() { sed -n 's/^tcpserver: pid \([0-9]*\) from .*/\1/p' "$W/$1.err" | tail -n 1; }

# ---------------------------------------------------------------- clean
serve ok 4700 "${SRV[@]}" "$FIX/reply.sh"
sclient c-ok 4700
wait_sessions ok 1 5
S=$(summary ok)
like "$S" ' close=clean status=0 ' "clean session: close=clean status=0"
like "$S" ' local=127\.0\.0\.1:4700 ' "local= names the address and port the client reached"
is "$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' <<<"$S")" "$(session_pid ok)" "pid= is tcpserver's pid of the session"
unlike "$S" ' reason=' "a clean session has no reason="

# ---------------------------------------------------------------- declined
FIXTURE_MODE=decline serve dec 4701 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
run c-dec swaks -s 127.0.0.1 -p 4701 -f a@example.org -t d@test.example
wait_sessions dec 1 5
S=$(summary dec)
like "$S" ' proto=- .* close=declined status=0 prog=0 ' "declined STARTTLS: close=declined, prog's status"
unlike "$S" ' reason=' "declined is not a failure: no reason="

# ---------------------------------------------------------------- failed handshake, immediate
serve hs 4702 "${SRV[@]}" "$FIX/reply.sh"
run c-hs "$PY" -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",4702)); s.sendall(b"EHLO plain\r\n"); s.recv(100)'
wait_sessions hs 1 5
S=$(summary hs)
like "$S" ' close=handshake status=97 .*reason="[^"]+"' "failed handshake (immediate): close=handshake status=97 reason=..."
is "$(session_exits hs)" 97 "failed handshake (immediate): tcpserver sees 97"
file_like "$W/hs.err" '^tlsserver: fatal: handshake failed: peer=127\.0\.0\.1:[0-9]+ reason=' "immediate mode's failure is labelled fatal"

# ---------------------------------------------------------------- failed handshake after STARTTLS
serve dhs 4703 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
run c-dhs swaks -s 127.0.0.1 -p 4703 -f a@example.org -t d@test.example --tls --tls-protocol tlsv1_1
wait_sessions dhs 1 5
S=$(summary dhs)
like "$S" ' close=handshake .*reason="[^"]+"' "failed handshake after STARTTLS: close=handshake with a reason"
file_like "$W/dhs.err" '^tlsserver: warning: handshake failed: peer=' "delayed mode's failure is labelled warning (the engine goes on waiting for prog)"
is "$(session_exits dhs)" "$(sed -n 's/.* prog=\([0-9]*\).*/\1/p' <<<"$S")" "delayed mode: the exit status is prog's"

# ---------------------------------------------------------------- SMTPS on -n: the immediate path, its label
SMTPS=1 serve smtps 4704 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
run c-smtps "$PY" -c 'import socket; s=socket.create_connection(("127.0.0.1",4704)); s.sendall(b"EHLO plain\r\n"); s.recv(100)'
wait_sessions smtps 1 5
is "$(session_exits smtps)" 97 "SMTPS=1 on -n, failed handshake: exit 97 (the immediate path)"
file_like "$W/smtps.err" '^tlsserver: fatal: handshake failed: ' "SMTPS=1 on -n: labelled fatal, as the mode actually run"
file_unlike "$W/smtps.err" '^tlsserver: warning: handshake failed' "SMTPS=1 on -n: not the delayed mode's warning"
like "$(summary smtps)" ' close=handshake status=97 ' "SMTPS=1 on -n: summary close=handshake status=97"

# ---------------------------------------------------------------- handshake deadline
serve hsto 4705 "$TLSSERVER" -K 300 -c "$PKI/server.pem" -k "$PKI/server.key" "$FIX/reply.sh"
run c-hsto "$PY" -c 'import socket,time; s=socket.create_connection(("127.0.0.1",4705)); time.sleep(1.5)'
wait_sessions hsto 1 5
like "$(summary hsto)" ' close=handshake-timeout status=98 .*reason="handshake deadline passed"' \
  "handshake deadline: close=handshake-timeout status=98"

# ---------------------------------------------------------------- idle deadline
serve idle 4706 "$TLSSERVER" -T 300 -c "$PKI/server.pem" -k "$PKI/server.key" sh -c 'sleep 3'
run c-idle timeout 3 openssl s_client -connect 127.0.0.1:4706 -quiet -ign_eof
wait_sessions idle 1 5
like "$(summary idle)" ' close=idle status=3 ' "idle deadline: close=idle status=3"

# ---------------------------------------------------------------- refused configuration
serve cfg 4707 "$TLSSERVER" -c "$W/no-such.pem" "$FIX/reply.sh"
sclient c-cfg 4707
wait_sessions cfg 1 5
S=$(summary cfg)
like "$S" ' close=config status=96 .*reason="unable to read certificate [^"]*no-such\.pem: No such file or directory"' \
  "refused configuration: close=config status=96, reason names the file and why"
unlike "$S" ' prog=' "refused configuration: prog never ran (no prog=)"

# ---------------------------------------------------------------- prog cannot be executed
serve noexec 4708 "${SRV[@]}" "$W/no-such-prog"
sclient c-noexec 4708
wait_sessions noexec 1 5
S=$(summary noexec)
like "$S" ' close=exec status=111 .*reason="unable to exec [^"]*no-such-prog: No such file or directory"' \
  "prog that cannot be executed (immediate): close=exec status=111"
is "$(session_exits noexec)" 111 "immediate: tcpserver logs status 111, not 0 or 127"
printf '#!/bin/sh\necho hi\n' > "$W/noperm"; chmod 644 "$W/noperm"
serve dnoexec 4709 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$W/noperm"
run c-dnoexec "$PY" -c 'import socket; s=socket.create_connection(("127.0.0.1",4709)); s.settimeout(5); s.recv(100)'
wait_sessions dnoexec 1 5
like "$(summary dnoexec)" ' close=exec status=111 .*reason="unable to exec [^"]*noperm: Permission denied"' \
  "prog that cannot be executed (delayed): close=exec status=111"
is "$(session_exits dnoexec)" 111 "delayed: status 111 (qmail-rspawn would read 126/127 as permanent)"

# ---------------------------------------------------------------- control protocol error
FIXTURE_MODE=unknown FIXTURE_BYTE=Q serve proto 4710 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
run c-proto swaks -s 127.0.0.1 -p 4710 -f a@example.org -t d@test.example --tls
wait_sessions proto 1 10
like "$(summary proto)" ' close=protocol status=99 .*reason="unknown control command 0x51"' \
  "control protocol error: close=protocol status=99, the byte named"
is "$(session_exits proto)" 99 "control protocol error: exit 99"

# ---------------------------------------------------------------- IPv6 peer, bracketed
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
  spawn v6 "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" ::1 4711 "$FIX/reply.sh"
  wait_port 4711
  run_in "$W/ping" c-v6 openssl s_client -connect '[::1]:4711' -quiet
  wait_until 5 grep -q ': info: done ' "$W/v6.err"
  like "$(done_line "$W/v6.err")" '^tlsserver: info: done peer=\[::1\]:[0-9]+ .* local=\[::1\]:4711 ' \
    "IPv6: peer=[::1]:port and local=[::1]:4711"
  stop "$SPAWN_PID"
else
  skip "no IPv6 on loopback"
fi

done_testing

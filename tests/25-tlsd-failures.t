#!/bin/bash
# tlsd's failure semantics and trust boundary:
#   * daemon down: immediate mode exits 111 and prog never runs; delayed
#     mode runs prog on the plaintext connection without SSLCTLFD & co.
#     (no STARTTLS offered); one line naming the socket each time;
#   * a daemon restart with a session in flight: the session completes,
#     SHA-256 intact, and new sessions go to the new daemon;
#   * SIGHUP with a broken certificate file keeps the old configuration;
#   * the busy refusal at the concurrency limit (-m);
#   * a session's fork killed by a signal does not take the daemon down;
#   * (real root only) a uid not allowed by -U is refused (SO_PEERCRED),
#     an allowed one is served and its prog runs under its own uid.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient tlsd tlsdserver
need_cmds tcpserver tcpclient openssl swaks
pki_setup
smtp_fixtures

TLSD=$UCSPI_TLS_BIN/tlsd
FRONT=$UCSPI_TLS_BIN/tlsdserver
CA=$PKI/ca.pem
mkdir -m 755 "$W/tlsd"
SOCK=$W/tlsd/socket
cp "$PKI/server.pem" "$W/cert.pem"; cp "$PKI/server.key" "$W/key.pem"

start_tlsd() { # NAME ARGS...
  local name=$1; shift
  rm -f "$SOCK"
  spawn "$name" "$TLSD" -c "$W/cert.pem" -k "$W/key.pem" "$@" "$SOCK"
  TLSD_PID=$SPAWN_PID
  wait_until 5 grep -q 'listening on' "$W/$name.err"
}
sclient_ok() { # NAME PORT: one s_client session answered by reply.sh
  sclient "$1" "$2" -CAfile "$CA" -servername localhost
  grep -q '^reply:ping' "$W/$1.out"
}

# ---- daemon down
rm -f "$W/down.ran"
serve down 4001 "$FRONT" "$SOCK" sh -c "touch '$W/down.ran'"
sclient down-c 4001 -CAfile "$CA"
wait_sessions down 1
is "$(session_exits down)" 111 "daemon down, immediate: exit 111"
ok "daemon down, immediate: prog never ran" test ! -e "$W/down.ran"
file_like "$W/down.err" "tlsdserver: fatal: $SOCK: unable to connect: .*: prog not run" \
  "daemon down, immediate: one line naming the socket"
stop "$SPAWN_PID"

serve downd 4025 "$FRONT" -n "$SOCK" "$FIX/envdump.sh" "$W/downd.env" "$SMTPD"
run downd-c swaks --server 127.0.0.1:4025 --from a@example.org --to b@example.org --helo c.example.org --timeout 10
is "$RC" 0 "daemon down, delayed: mail still flows in plaintext"
unlike "$(cat "$W/downd-c.out")" 'STARTTLS' "daemon down, delayed: no STARTTLS offered"
is "$(envval "$W/downd.env" SSLCTLFD)/$(envval "$W/downd.env" SSLREADFD)" "<unset>/<unset>" \
  "daemon down, delayed: no SSLCTLFD/SSLREADFD"
file_like "$W/downd.err" "tlsdserver: warning: $SOCK: unable to connect: .*: prog runs without TLS" \
  "daemon down, delayed: one warning line naming the socket"
stop "$SPAWN_PID"

# ---- restart with a session in flight
mkdata "$W/down.dat" 8
cat > "$W/hold.sh" <<EOF
#!/bin/sh
read l
touch "$W/hold.started"
i=0; while [ ! -e "$W/release" ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i+1)); done
cat "$W/down.dat"
EOF
chmod 755 "$W/hold.sh"
start_tlsd d1
serve rs 4002 "$FRONT" "$SOCK" "$W/hold.sh"
RS_SRV=$SPAWN_PID
spawn rs-c tcpclient -RHl0 127.0.0.1 4002 "$TLSCLIENT" -a "$CA" -h localhost sh -c "echo hi >&7; cat <&6 > '$W/rs.recv'"
RS_CLI=$SPAWN_PID
ok "restart: the session started" wait_until 5 test -e "$W/hold.started"
stop "$TLSD_PID"
file_like "$W/d1.err" 'exiting: current sessions continue' "SIGTERM: the daemon says sessions continue"
start_tlsd d2
touch "$W/release"
wait_pid "$RS_CLI" 10; is "$?" 0 "restart: the client of the session in flight exits 0"
is "$(sha "$W/rs.recv")" "$(sha "$W/down.dat")" "restart: 8 MiB sent after the restart arrive intact"
wait_until 3 grep -q 'info: done' "$W/d1.err"
like "$(done_line "$W/d1.err")" 'close=clean' "restart: the old daemon's session logs its done line"
stop "$RS_SRV"
serve rs2 4003 "$FRONT" "$SOCK" "$FIX/reply.sh"
ok "restart: the new daemon serves new sessions" sclient_ok rs2-c 4003
stop "$SPAWN_PID"

# ---- SIGHUP with a broken file
echo garbage > "$W/cert.pem"
kill -HUP "$TLSD_PID"
ok "SIGHUP, broken file: a warning" wait_until 5 grep -q 'reload failed keep=previous' "$W/d2.err"
serve hup 4004 "$FRONT" "$SOCK" "$FIX/reply.sh"
ok "SIGHUP, broken file: still serving with the old configuration" sclient_ok hup-c 4004
cp "$PKI/server.pem" "$W/cert.pem"
stop "$SPAWN_PID"

# ---- a session's fork killed: the daemon goes on
rm -f "$W/release" "$W/hold.started"
serve kill 4005 "$FRONT" "$SOCK" "$W/hold.sh"
KILL_SRV=$SPAWN_PID
spawn kill-c tcpclient -RHl0 127.0.0.1 4005 "$TLSCLIENT" -a "$CA" -h localhost sh -c "echo hi >&7; cat <&6 > /dev/null"
KILL_CLI=$SPAWN_PID
wait_until 5 test -e "$W/hold.started"
CHILD=$(pgrep -P "$TLSD_PID" | head -n 1)
ok "crash: the session runs in a fork of the daemon" test -n "$CHILD"
# SIGKILL: under the sanitizers a SIGSEGV is caught and turned into an exit
[ -n "$CHILD" ] && kill -KILL "$CHILD"
ok "crash: the daemon logs the signal" wait_until 5 grep -q 'killed by signal 9' "$W/d2.err"
ok "crash: the daemon is still running" kill -0 "$TLSD_PID"
touch "$W/release"
wait_pid "$KILL_CLI" 10 >/dev/null
stop "$KILL_SRV"
serve after 4006 "$FRONT" "$SOCK" "$FIX/reply.sh"
ok "crash: the daemon serves the next session" sclient_ok after-c 4006
stop "$SPAWN_PID"
stop "$TLSD_PID"

# ---- busy
rm -f "$W/release" "$W/hold.started"
start_tlsd busy -m 1
serve b1 4007 "$FRONT" "$SOCK" "$W/hold.sh"
B1_SRV=$SPAWN_PID
spawn b1-c tcpclient -RHl0 127.0.0.1 4007 "$TLSCLIENT" -a "$CA" -h localhost sh -c "echo hi >&7; cat <&6 > /dev/null"
B1_CLI=$SPAWN_PID
wait_until 5 test -e "$W/hold.started"
serve b2 4008 "$FRONT" "$SOCK" "$FIX/reply.sh"
sclient b2-c 4008 -CAfile "$CA"
wait_sessions b2 1
is "$(session_exits b2)" 111 "busy: the second session exits 111"
file_like "$W/b2.err" "tlsdserver: fatal: $SOCK: busy" "busy: the front end logs the refusal with the socket"
file_like "$W/busy.err" 'tlsd: warning: busy active=1' "busy: the daemon logs it"
touch "$W/release"
wait_pid "$B1_CLI" 10 >/dev/null
stop "$B1_SRV"
ok "busy: the limit frees with the session" wait_until 5 sh -c "! pgrep -P $TLSD_PID >/dev/null"
serve b3 4009 "$FRONT" "$SOCK" "$FIX/reply.sh"
ok "busy: served again once a session ended" sclient_ok b3-c 4009
stop "$SPAWN_PID"
stop "$TLSD_PID"

# ---- access control (SO_PEERCRED): needs another user
if is_root && have setpriv; then
  start_tlsd acl-d
  serve acl 4010 setpriv --reuid nobody --regid nogroup --clear-groups "$FRONT" "$SOCK" "$FIX/reply.sh"
  sclient acl-c 4010 -CAfile "$CA"
  wait_sessions acl 1
  is "$(session_exits acl)" 111 "uid not allowed: exit 111"
  file_like "$W/acl.err" "tlsdserver: fatal: $SOCK: this uid is not allowed" "uid not allowed: the front end says so"
  file_like "$W/acl-d.err" 'tlsd: warning: deny uid=65534' "uid not allowed: the daemon logs the uid"
  stop "$SPAWN_PID"; stop "$TLSD_PID"
  start_tlsd acl2 -U "0,$(id -u nobody)"
  serve acl2s 4011 setpriv --reuid nobody --regid nogroup --clear-groups "$FRONT" "$SOCK" \
    sh -c 'read l; echo "reply:$l uid=$(id -u)"'
  sclient acl2-c 4011 -CAfile "$CA" -servername localhost
  like "$(cat "$W/acl2-c.out")" "^reply:ping uid=$(id -u nobody)\$" "-U allows the uid; prog runs under the front end's uid"
  stop "$SPAWN_PID"; stop "$TLSD_PID"
else
  skip_n 4 "needs real root and setpriv (switches to another user)"
fi
done_testing

#!/bin/bash
# tlsserver -L: listening mode. tlsserver accepts connections itself
# (configuration and keys loaded once, one fork per connection) instead of
# running under tcpserver. Checked here, against openssl s_client and
# tlsclient:
#   * sessions work, and prog sees what tcpserver would give it (PROTO=TCP,
#     TCPLOCALIP/PORT, TCPREMOTEIP/PORT; no TCPLOCALHOST, TCPREMOTEHOST,
#     TCPREMOTEINFO) plus the session's SSL_*, without CERTFILE & co.;
#   * -x rules.cdb made by tcprules, read per connection: deny (connection
#     closed, prog never runs, an "info: deny" line), allow with variables,
#     prefix rules, a per-client TLSCIPHERS (a cipher outside it is refused
#     for that client only; s_client -bind picks the client address) and
#     TLSPROTOCOLS, -C on the command line winning over the rule, a
#     replaced cdb taking effect at once, a missing cdb dropping connections;
#   * -m 1: a second client waits until the first session ends;
#   * SIGHUP with new certificate file content: the next client gets the new
#     certificate; a broken file keeps the old one and logs a warning;
#   * SIGTERM: the listener stops accepting, a session in progress completes;
#   * -n in a listener: STARTTLS with package/demo's SMTP pair; a declined
#     session is logged with close=declined;
#   * started as root with TLS_UID/TLS_GID: the listener keeps root, each
#     connection's engine drops, prog keeps the listener's uid; TLS_UID
#     without TLS_GID is refused (100); a bad certificate is refused (96);
#   * run as an unprivileged user: prog (same uid) cannot read the memory or
#     environment of its engine, nor of the listener, nor (during a
#     handshake) of the not yet exec'd fork that will become prog
#     (non-dumpable);
#   * nothing is left running at the end.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcprules tcpclient openssl
pki_setup

CA=$PKI/ca.pem
AES128=ECDHE-ECDSA-AES128-GCM-SHA256
CHACHA=ECDHE-ECDSA-CHACHA20-POLY1305

# hold.sh LOG: a prog that logs "start PORT", echoes lines until end of
# input, logs "end PORT", says bye. The session lasts as long as the client
# keeps its side open.
cat > "$W/hold.sh" <<'EOF'
#!/bin/sh
echo "start $TCPREMOTEPORT" >> "$1"
while IFS= read -r l; do echo "echo:$l"; done
echo "end $TCPREMOTEPORT" >> "$1"
echo bye
EOF
chmod 755 "$W/hold.sh"

# holding_client NAME PORT RELEASEFILE: tlsclient that sends one line, keeps
# its side open until RELEASEFILE exists (at most 20 s), then half-closes and
# prints everything the server sends.
holding_client() {
  spawn "$1" tcpclient -RHl0 127.0.0.1 "$2" "$TLSCLIENT" -h localhost -a "$CA" \
    sh -c 'echo "$1" >&7; i=0; while [ ! -e "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; exec 7>&-; cat <&6' \
    hold "line-$1" "$3"
}

served_hash() { # NAME: SHA256:hex of the certificate s_client printed
  served_pem "$1" > "$W/$1.served.pem"
  if [ -s "$W/$1.served.pem" ]; then cert_hash "$W/$1.served.pem"; else echo none; fi
}

listener() { # NAME PORT CMD... : spawn the listener CMD, wait for PORT
  local name=$1 port=$2; shift 2
  spawn "$name" "$@"
  wait_port "$port" || { diag "listener $name did not listen on $port"; diag_file "$W/$name.err"; return 1; }
}

# ------------------------------------------------ basic sessions, environment
listener lsn 4460 env CERTFILE="$PKI/server.pem" KEYFILE="$PKI/server.key" \
  TCPLOCALHOST=forged.local TCPREMOTEHOST=forged.remote TCPREMOTEINFO=forged \
  SSL_CLIENT_VERIFY=SUCCESS APP_SETTING=kept \
  "$TLSSERVER" -L 127.0.0.1 4460 "$FIX/envdump.sh" "$W/env.1" "$FIX/reply.sh"
ok "listener logs where it listens" wait_until 5 grep -qx 'tlsserver: info: listening on 127\.0\.0\.1 port 4460' "$W/lsn.err"

sclient s1 4460 -CAfile "$CA" -verify_return_error -verify_hostname localhost -servername localhost
is "$RC" 0 "openssl s_client: session through the listener, certificate verified"
file_like "$W/s1.out" '^reply:ping$' "s_client: prog answered over TLS"
E=$W/env.1
is "$(envval "$E" PROTO)|$(envval "$E" TCPLOCALIP)|$(envval "$E" TCPLOCALPORT)|$(envval "$E" TCPREMOTEIP)" \
   "TCP|127.0.0.1|4460|127.0.0.1" "prog sees PROTO=TCP, TCPLOCALIP, TCPLOCALPORT, TCPREMOTEIP"
like "$(envval "$E" TCPREMOTEPORT)" '^[0-9]+$' "prog sees a numeric TCPREMOTEPORT"
is "$(envval "$E" TCPLOCALHOST)|$(envval "$E" TCPREMOTEHOST)|$(envval "$E" TCPREMOTEINFO)" \
   "<unset>|<unset>|<unset>" "no TCPLOCALHOST, TCPREMOTEHOST, TCPREMOTEINFO (no lookups; inherited values removed)"
is "$(envval "$E" SSL_PROTOCOL)|$(envval "$E" SSL_CIPHER)|$(envval "$E" SSL_TLS_SNI_SERVERNAME)" \
   "TLSv1.3|TLS_AES_256_GCM_SHA384|localhost" "prog sees the session's SSL_PROTOCOL, SSL_CIPHER, SNI"
is "$(envval "$E" SSL_CLIENT_VERIFY)|$(envval "$E" SSL_SESSION_RESUMED)" "NONE|Initial" \
   "inherited SSL_CLIENT_VERIFY=SUCCESS replaced by the real NONE; SSL_SESSION_RESUMED=Initial"
is "$(envval "$E" CERTFILE)|$(envval "$E" KEYFILE)|$(envval "$E" APP_SETTING)" "<unset>|<unset>|kept" \
   "CERTFILE and KEYFILE removed from prog's environment, other variables kept"
ok "one done line for the session, with the client's address" \
  wait_until 5 grep -qE "^tlsserver: info: done peer=127\.0\.0\.1:$(envval "$E" TCPREMOTEPORT) sni=localhost .* close=clean status=0" "$W/lsn.err"

rm -f "$E"
run tc1 tcpclient -RHl0 127.0.0.1 4460 "$TLSCLIENT" -h localhost -a "$CA" \
  sh -c 'echo hello >&7; exec 7>&-; cat <&6'
is "$RC" 0 "tlsclient: session through the listener"
file_like "$W/tc1.out" '^reply:hello$' "tlsclient: prog's answer came back"
file_like "$W/tc1.err" '^tlsclient: info: done peer=127\.0\.0\.1:4460 sni=localhost .*verify="SUCCESS" .*close=clean status=0' \
  "tlsclient verified the listener's certificate"

# several clients at once
pids=()
for i in 1 2 3 4 5; do
  run_in "$(ping_file)" "par$i" openssl s_client -connect 127.0.0.1:4460 -quiet -CAfile "$CA" -verify_return_error &
  pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait_pid "$p" 20 || bad=$((bad + 1)); done
for i in 1 2 3 4 5; do grep -q '^reply:ping$' "$W/par$i.out" || bad=$((bad + 1)); done
is "$bad" 0 "five concurrent s_client sessions all answered"

# ------------------------------------------------ -x rules (tcprules cdb)
cat > "$W/rules.txt" <<'EOF'
127.0.0.3:deny
127.0.0.2:allow,TLSCIPHERS="ECDHE+CHACHA20"
127.0.0.4:allow,TLSPROTOCOLS="tlsv1.2"
127.0.0.1:allow,GREETING="hello from tcprules",SSL_CLIENT_VERIFY="SUCCESS",TCPREMOTEHOST="forged.rule"
127.0.0.:allow,NETRULE="loopback net"
:allow
EOF
ok "tcprules builds the cdb" sh -c "tcprules '$W/rules.cdb' '$W/rules.tmp' < '$W/rules.txt'"
listener lr 4461 "$TLSSERVER" -L -x "$W/rules.cdb" -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4461 \
  "$FIX/envdump.sh" "$W/env.r" "$FIX/reply.sh"
LR=$SPAWN_PID
R=$W/env.r

rm -f "$R"
sclient r1 4461 -CAfile "$CA" -verify_return_error
is "$RC" 0 "127.0.0.1 (allow rule): session works"
is "$(envval "$R" GREETING)" "hello from tcprules" "allow rule: its variable reaches prog"
is "$(envval "$R" SSL_CLIENT_VERIFY)" NONE "a rule cannot forge SSL_CLIENT_VERIFY (prog sees the real NONE)"
is "$(envval "$R" NETRULE)" "<unset>" "the exact address rule wins over the prefix rule"

rm -f "$R"
sclient r5 4461 -bind 127.0.0.5 -CAfile "$CA" -verify_return_error
is "$RC" 0 "127.0.0.5 (prefix rule 127.0.0.): session works"
is "$(envval "$R" NETRULE)|$(envval "$R" TCPREMOTEIP)|$(envval "$R" GREETING)" "loopback net|127.0.0.5|<unset>" \
   "prefix rule applies to 127.0.0.5, and only its variables"

rm -f "$R"
sclient r3 4461 -bind 127.0.0.3 -CAfile "$CA"
isnt "$RC" 0 "127.0.0.3 (deny rule): s_client fails, the connection is closed"
ok "deny: prog never ran" test ! -e "$R"
file_like "$W/lr.err" '^tlsserver: info: deny peer=127\.0\.0\.3:[0-9]+$' "deny: logged as 'info: deny peer=127.0.0.3:N'"
file_unlike "$W/lr.err" '(done|handshake failed:) peer=127\.0\.0\.3:' "deny: no session and no handshake for 127.0.0.3"

rm -f "$R"
sclient r2a 4461 -bind 127.0.0.2 -CAfile "$CA" -tls1_2 -cipher "$AES128"
isnt "$RC" 0 "127.0.0.2 (rule TLSCIPHERS=ECDHE+CHACHA20): $AES128 refused"
ok "refused cipher: prog never ran" test ! -e "$R"
ok "refused cipher: 'handshake failed' for 127.0.0.2 in the log" \
  wait_until 5 grep -qE '^tlsserver: fatal: handshake failed: peer=127\.0\.0\.2:[0-9]+ reason=.*(no shared cipher|handshake)' "$W/lr.err"

rm -f "$R"
sclient r2b 4461 -bind 127.0.0.2 -CAfile "$CA" -tls1_2 -cipher "$CHACHA"
is "$RC" 0 "127.0.0.2: $CHACHA (inside the rule's list) accepted"
is "$(envval "$R" SSL_CIPHER)|$(envval "$R" TLSCIPHERS)" "$CHACHA|ECDHE+CHACHA20" "127.0.0.2: session cipher $CHACHA; the rule's TLSCIPHERS passes through"

rm -f "$R"
sclient r1b 4461 -CAfile "$CA" -tls1_2 -cipher "$AES128"
is "$RC" 0 "127.0.0.1: $AES128 still accepted (the narrower list is per client)"
is "$(envval "$R" SSL_CIPHER)" "$AES128" "127.0.0.1: session cipher $AES128"

rm -f "$R"
sclient r4a 4461 -bind 127.0.0.4 -CAfile "$CA" -tls1_3
isnt "$RC" 0 "127.0.0.4 (rule TLSPROTOCOLS=tlsv1.2): TLS 1.3 refused"
rm -f "$R"
sclient r4b 4461 -bind 127.0.0.4 -CAfile "$CA"
is "$RC|$(envval "$R" SSL_PROTOCOL)" "0|TLSv1.2" "127.0.0.4: the session falls back to TLS 1.2"

# the cdb is read for each connection: a new one applies without a restart
printf '127.0.0.5:deny\n:allow\n' | tcprules "$W/rules.cdb.new" "$W/rules.tmp" && mv -f "$W/rules.cdb.new" "$W/rules.cdb"
rm -f "$R"
sclient r5b 4461 -bind 127.0.0.5 -CAfile "$CA"
isnt "$RC" 0 "a replaced cdb applies to the next connection (127.0.0.5 now denied)"
file_like "$W/lr.err" '^tlsserver: info: deny peer=127\.0\.0\.5:' "127.0.0.5 denied by the new cdb"

# a cdb that cannot be read drops the connection, with a warning
mv -f "$W/rules.cdb" "$W/rules.cdb.away"
rm -f "$R"
sclient r6 4461 -CAfile "$CA"
isnt "$RC" 0 "missing cdb: the connection is dropped"
ok "missing cdb: prog never ran" test ! -e "$R"
file_like "$W/lr.err" '^tlsserver: warning: unable to read rules .*rules\.cdb' "missing cdb: a warning names the file"
ok "missing cdb: the listener keeps running" kill -0 "$LR"

# -C on the command line wins over the rule's TLSCIPHERS
listener lc 4462 "$TLSSERVER" -L -x "$W/rules2.cdb" -C 'ECDHE+AESGCM' -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4462 \
  "$FIX/envdump.sh" "$W/env.c" "$FIX/reply.sh"
# (the cdb is made after the start: it is only read per connection)
printf '127.0.0.2:allow,TLSCIPHERS="ECDHE+CHACHA20"\n:allow\n' | tcprules "$W/rules2.cdb" "$W/rules2.tmp"
sclient c1 4462 -bind 127.0.0.2 -CAfile "$CA" -tls1_2 -cipher "$AES128"
is "$RC" 0 "-C ECDHE+AESGCM wins over the rule: 127.0.0.2 gets $AES128"
sclient c2 4462 -bind 127.0.0.2 -CAfile "$CA" -tls1_2 -cipher "$CHACHA"
isnt "$RC" 0 "-C ECDHE+AESGCM wins over the rule: 127.0.0.2 refused $CHACHA"

# ------------------------------------------------ -m 1
: > "$W/m.log"
listener lm 4463 "$TLSSERVER" -L -m 1 -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4463 "$W/hold.sh" "$W/m.log"
holding_client m1 4463 "$W/m1.release"
M1=$SPAWN_PID
ok "-m 1: first session starts" wait_until 10 grep -q '^start' "$W/m.log"
holding_client m2 4463 "$W/m2.release"
M2=$SPAWN_PID
touch "$W/m2.release"       # the second client would end at once if it got a session
sleep 1
is "$(count_lines "$W/m.log" '^start')" 1 "-m 1: a second client gets no session while the first runs"
ok "-m 1: the second client is still waiting" kill -0 "$M2"
touch "$W/m1.release"
wait_pid "$M1" 10; rc1=$?
is "$rc1" 0 "-m 1: first client ends cleanly"
wait_pid "$M2" 10; rc2=$?
is "$rc2" 0 "-m 1: second client then gets its session and ends cleanly"
file_like "$W/m2.out" '^echo:line-m2$' "-m 1: the second session was served in full"
is "$(sed 's/ .*//' "$W/m.log" | tr '\n' ' ')" "start end start end " "-m 1: the sessions ran one after the other"

# ------------------------------------------------ SIGHUP: reload certificates
cp "$PKI/combined.pem" "$W/hup.pem"
: > "$W/h.log"
listener lh 4464 env CERTFILE="$W/hup.pem" "$TLSSERVER" -L 127.0.0.1 4464 "$W/hold.sh" "$W/h.log"
LH=$SPAWN_PID
sclient_info h1 4464 -CAfile "$CA" -servername localhost
is "$(served_hash h1)" "$(cert_hash "$PKI/server.pem")" "before SIGHUP: the listener serves server.pem"

cat "$PKI/rsa.pem" "$PKI/rsa.key" > "$W/hup.pem.new" && mv -f "$W/hup.pem.new" "$W/hup.pem"
holding_client hold 4464 "$W/h.release"     # a session in progress across the reload
HOLD=$SPAWN_PID
ok "a session is in progress before SIGHUP" wait_until 10 grep -q '^start' "$W/h.log"
kill -HUP "$LH"
ok "SIGHUP: 'reload done' logged with the new certificate's subject and notAfter" \
  wait_until 5 grep -qE '^tlsserver: info: reload done subject="[^"]+" notafter="[^"]+ GMT"$' "$W/lh.err"
sclient_info h2 4464 -CAfile "$CA" -servername localhost
is "$(served_hash h2)" "$(cert_hash "$PKI/rsa.pem")" "after SIGHUP: the next client gets the new certificate (rsa.pem)"
touch "$W/h.release"
wait_pid "$HOLD" 10; rc=$?
is "$rc" 0 "a session that started before SIGHUP completes normally"
file_like "$W/hold.out" '^bye$' "the session that started before SIGHUP got every byte"

printf 'this is not a certificate\n' > "$W/hup.pem.new" && mv -f "$W/hup.pem.new" "$W/hup.pem"
kill -HUP "$LH"
ok "SIGHUP with a broken file: a warning is logged" \
  wait_until 5 grep -qE '^tlsserver: warning: reload failed keep=previous reason=".+"$' "$W/lh.err"
ok "SIGHUP with a broken file: the listener is still running" kill -0 "$LH"
sclient_info h3 4464 -CAfile "$CA" -servername localhost
is "$(served_hash h3)" "$(cert_hash "$PKI/rsa.pem")" "after a failed reload: the previous certificate (rsa.pem) is still served"

# ------------------------------------------------ SIGTERM: stop accepting, finish sessions
: > "$W/t.log"
listener lt 4465 "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4465 "$W/hold.sh" "$W/t.log"
LT=$SPAWN_PID
holding_client t1 4465 "$W/t1.release"
T1=$SPAWN_PID
ok "SIGTERM test: a session is running" wait_until 10 grep -q '^start' "$W/t.log"
kill -TERM "$LT"
wait_pid "$LT" 5; rc=$?
is "$rc" 0 "SIGTERM: the listener exits 0"
file_like "$W/lt.err" '^tlsserver: info: exiting' "SIGTERM: the listener says it exits"
ok "SIGTERM: nothing listens on the port any more" wait_port_closed 4465 3
run t2 tcpclient -RHl0 127.0.0.1 4465 "$TLSCLIENT" -h localhost -a "$CA" true
isnt "$RC" 0 "SIGTERM: a new client is refused"
touch "$W/t1.release"
wait_pid "$T1" 10; rc=$?
is "$rc" 0 "SIGTERM: the session in progress completes"
file_like "$W/t1.out" '^bye$' "SIGTERM: the session in progress got every byte"
ok "SIGTERM: the session's engine logs its done line" \
  wait_until 5 grep -qE '^tlsserver: info: done peer=127\.0\.0\.1:[0-9]+ .* close=clean status=0' "$W/lt.err"

# ------------------------------------------------ delayed mode (-n) in a listener
printf '127.0.0.6:allow,SMTPS="1"\n:allow\n' | tcprules "$W/rules3.cdb" "$W/rules3.tmp"
listener ld 4469 "$TLSSERVER" -L -n -x "$W/rules3.cdb" -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4469 \
  sh "$TOP/package/demo" smtp-app
run d1 tcpclient -RHl0 127.0.0.1 4469 "$TLSCLIENT" -n -h localhost -a "$CA" sh "$TOP/package/demo" smtp-client
is "$RC" 0 "-L -n: STARTTLS through the listener (package/demo's SMTP client and server)"
file_like "$W/ld.err" 'demo smtp-app: message from .* over TLSv1\.[23] ' "-L -n: the message went over TLS"
run d2 tcpclient -RHl0 127.0.0.1 4469 sh -c 'IFS= read -r greeting <&6; printf "QUIT\r\n" >&7; cat <&6 >/dev/null'
is "$RC" 0 "-L -n: a plain-text client that never asks for TLS"
ok "-L -n: the declined session is logged with close=declined" \
  wait_until 5 grep -qE '^tlsserver: info: done peer=127\.0\.0\.1:[0-9]+ sni=- proto=- .*close=declined status=0 prog=0' "$W/ld.err"
printf 'QUIT\r\n' > "$W/quit"
run_in "$W/quit" d3 openssl s_client -connect 127.0.0.1:4469 -quiet -bind 127.0.0.6 -CAfile "$CA" -verify_return_error
is "$RC" 0 "-L -n with SMTPS=1 from a rule: 127.0.0.6 gets TLS at once (SMTPS)"
file_like "$W/d3.out" '^220 localhost ESMTP' "-L -n, SMTPS rule: the SMTP greeting came inside TLS"
# the engine logs once its session ends, which may be after s_client has
ok "-L -n, SMTPS rule: logged as a TLS session" \
  wait_until 5 grep -qE '^tlsserver: info: done peer=127\.0\.0\.6:[0-9]+ .*proto=TLSv1\.3 ' "$W/ld.err"

# ------------------------------------------------ privileges
cat > "$W/ids.sh" <<'EOF'
#!/bin/sh
# prog: record prog's, its engine's and the listener's uid/gid
engine=$(awk '{print $4}' /proc/$$/stat)
listener=$(awk '{print $4}' /proc/$engine/stat)
{
  echo "prog $(id -u) $(id -g)"
  echo "engine $(awk '/^Uid:/{u=$2} /^Gid:/{g=$2} END{print u, g}' /proc/$engine/status)"
  echo "listener $(awk '/^Uid:/{u=$2} /^Gid:/{g=$2} END{print u, g}' /proc/$listener/status)"
} > "$1.tmp" && mv -f "$1.tmp" "$1"
read -r l; echo "reply:$l"
EOF
chmod 755 "$W/ids.sh"
if is_root; then
  listener lu 4466 env TLS_UID=65534 TLS_GID=65534 "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" \
    127.0.0.1 4466 "$W/ids.sh" "$W/ids"
  sclient u1 4466 -CAfile "$CA" -verify_return_error
  is "$RC" 0 "TLS_UID/TLS_GID: session works"
  is "$(grep '^engine' "$W/ids" 2>/dev/null)" "engine 65534 65534" "TLS_UID/TLS_GID: the connection's engine dropped to 65534:65534"
  is "$(grep '^listener' "$W/ids" 2>/dev/null)" "listener 0 0" "TLS_UID/TLS_GID: the listener keeps root (for SIGHUP reloads)"
  is "$(grep '^prog' "$W/ids" 2>/dev/null)" "prog 0 0" "TLS_UID/TLS_GID: prog keeps the listener's uid (setuidgid is prog's business)"
else
  skip_n 4 "not root: cannot test TLS_UID/TLS_GID"
fi

RUN_TIMEOUT=5
run uonly env TLS_UID=65534 "$TLSSERVER" -L -c "$PKI/combined.pem" 127.0.0.1 4467 "$FIX/reply.sh"
is "$RC" 100 "-L with TLS_UID without TLS_GID: refused, exit 100"
file_like "$W/uonly.err" '^tlsserver: fatal: .*TLS_GID' "-L with TLS_UID alone: says it needs TLS_GID"
run badcert "$TLSSERVER" -L -c "$W/no-such.pem" 127.0.0.1 4467 "$FIX/reply.sh"
is "$RC" 96 "-L with a missing certificate: refused, exit 96"
file_like "$W/badcert.err" '^tlsserver: fatal: unable to read certificate .*no-such\.pem: No such file or directory' "-L with a missing certificate: names the file"
RUN_TIMEOUT=30

# Non-dumpable: run everything as one unprivileged uid; prog tries to read
# the environment of its engine and of the listener through /proc.
cat > "$W/peek.sh" <<'EOF'
#!/bin/sh
engine=$(awk '{print $4}' /proc/$$/stat)
listener=$(awk '{print $4}' /proc/$engine/stat)
r() { if head -c 1 "/proc/$1/environ" >/dev/null 2>&1; then echo readable; else echo denied; fi; }
echo "engine $(r $engine) listener $(r $listener) self $(r $$)" > "$1.tmp" && mv -f "$1.tmp" "$1"
read -r l; echo "reply:$l"
EOF
chmod 755 "$W/peek.sh"
mkdir -p "$W/nobody" && chmod 777 "$W/nobody"
if is_root && have setpriv; then
  listener ln 4468 setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4468 "$W/peek.sh" "$W/nobody/peek"
  sclient n1 4468 -CAfile "$CA" -verify_return_error
  is "$RC" 0 "as an unprivileged uid: session works"
  P=$(cat "$W/nobody/peek" 2>/dev/null)
  like "$P" 'self readable' "prog can read its own /proc environ (the check works)"
  like "$P" 'engine denied' "prog cannot read its engine's /proc environ (engine non-dumpable)"
  like "$P" 'listener denied' \
    "prog cannot read the listener's /proc environ (the listener holds the keys: non-dumpable)"
  # While a handshake is pending, the engine's child (the process that will
  # exec prog) waits for its start message. In listening mode it is a fork
  # of a process that holds the keys: until its exec it must be as
  # unreadable as the engine.
  exec {HS}<>/dev/tcp/127.0.0.1/4468     # a client that never says hello
  waiting=
  for ((i = 0; i < 40; i++)); do
    for eng in $(cat "/proc/$SPAWN_PID/task/$SPAWN_PID/children" 2>/dev/null); do
      read -r waiting _ < "/proc/$eng/task/$eng/children" 2>/dev/null
      [ -n "$waiting" ] && break
    done
    [ -n "$waiting" ] && break
    sleep 0.05
  done
  if [ -n "$waiting" ]; then
    is \
      "$(setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "head -c 1 /proc/$waiting/environ >/dev/null 2>&1 && echo readable || echo denied")" \
      denied "during a handshake, the process that will exec prog (a fork of the listener) is not readable by its uid"
  else
    fail "found the engine's waiting child during a pending handshake"
  fi
  exec {HS}>&-
else
  skip_n 5 "not root or no setpriv: cannot run the listener as another uid"
fi

done_testing

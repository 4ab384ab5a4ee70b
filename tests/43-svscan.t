#!/bin/bash
# tlsserver as a daemontools service, the way an administrator runs it: a
# service directory whose run script is `exec envdir ./env tcpserver ...
# tlsserver ...`, a log/run with multilog, a private svscan started here.
# Checks a TLS session through it, the settings from ./env, the session's
# log line in multilog's `current`, a configuration change picked up by
# `svc -t`, a broken certificate path reported in the log, and a clean
# teardown (svscan first, then svc -dx, bounded wait).
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver envdir svscan supervise svc svok svstat multilog openssl
pki_setup

PORT=4450
SV=$W/service
S=$SV/tls
CHACHA=ECDHE-ECDSA-CHACHA20-POLY1305
AES128=ECDHE-ECDSA-AES128-GCM-SHA256
mkdir -p "$S/log" "$S/env"
mk_envdir "$S/env" CERTFILE="$PKI/server.pem" KEYFILE="$PKI/server.key" TLSCIPHERS="$CHACHA"
cat > "$S/run" <<EOF
#!/bin/sh
exec 2>&1
exec envdir ./env tcpserver -v -RHl0 127.0.0.1 $PORT $TLSSERVER $FIX/envdump.sh $W/env $FIX/reply.sh
EOF
cat > "$S/log/run" <<'EOF'
#!/bin/sh
exec multilog t ./main
EOF
chmod 755 "$S/run" "$S/log/run"
LOG=$S/log/main/current

svscan "$SV" >"$W/svscan.out" 2>&1 &
SVSCAN=$!
# fallback teardown if the test dies half-way (the real one is below)
at_exit "kill $SVSCAN; svc -dx '$S' '$S/log'"

ok "svscan brings the service up: tcpserver listens on $PORT" wait_port $PORT 10
ok "svok: the service is supervised" wait_until 5 svok "$S"
like "$(svstat "$S")" ": up \(pid [0-9]+\)" "svstat says up"

# log_has ERE: wait (5 s at most) until multilog's current has a matching line
log_has() { wait_until 5 grep -Eq -- "$1" "$LOG"; }
svpid() { svstat "$S" | sed -n 's/.*(pid \([0-9]*\)).*/\1/p'; }

# -- a session through the service
rm -f "$W/env"
sclient s1 $PORT -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -tls1_2
is "$RC" 0 "s_client through the supervised tlsserver: exit 0"
file_like "$W/s1.out" '^reply:ping$' "prog answered through TLS"
file_like "$W/s1.out" "^SSL_CIPHER=$CHACHA\$" "TLSCIPHERS from ./env applied: $CHACHA"
is "$(envval "$W/env" CERTFILE)|$(envval "$W/env" KEYFILE)" "<unset>|<unset>" "CERTFILE/KEYFILE from ./env removed before prog"
ok "multilog's current gets the session's 'info: done' line" log_has 'tlsserver: info: done peer=127\.0\.0\.1:'
L=$(grep -a 'tlsserver: info: done' "$LOG" | tail -n 1)
like "$L" '^@4000[0-9a-f]{20} tlsserver: info: done ' "the line is tai64n-stamped by multilog and starts with the program name"
like "$L" " proto=TLSv1\.2 cipher=$CHACHA " "log line: proto and cipher"
like "$L" ' verify="?NONE"? subject=- in=5 out=[0-9]+ time=[0-9]+\.[0-9]{3} close=clean status=0' "log line: verify, subject, bytes, time, close=clean status=0"
ok "tcpserver's own lines are in the same log" grep -Eq 'tcpserver: end [0-9]+ status 0' "$LOG"

# -- configuration change: edit ./env, svc -t
P1=$(svpid)
mk_envdir "$S/env" TLSCIPHERS="$AES128"
svc -t "$S"
ok "svc -t: a new tcpserver runs" wait_until 5 sh -c "p=\$(svstat '$S' | sed -n 's/.*(pid \\([0-9]*\\)).*/\\1/p'); [ -n \"\$p\" ] && [ \"\$p\" != '$P1' ]"
wait_port $PORT 5
rm -f "$W/env"
sclient s2 $PORT -CAfile "$PKI/ca.pem" -verify_return_error -tls1_2
is "$RC" 0 "after svc -t: session works"
file_like "$W/s2.out" "^SSL_CIPHER=$AES128\$" "after svc -t: the new TLSCIPHERS ($AES128) is in effect"
sclient s3 $PORT -CAfile "$PKI/ca.pem" -tls1_2 -cipher "$CHACHA"
isnt "$RC" 0 "after svc -t: the old cipher is refused"
ok "the refusal is logged: fatal: handshake failed ... no shared cipher" log_has 'tlsserver: fatal: handshake failed: peer=127\.0\.0\.1:[0-9]+ .*no shared cipher'

# -- a broken certificate path: no plaintext service, a clear line in the log
P2=$(svpid)
mk_envdir "$S/env" CERTFILE="$W/missing/server.pem"
svc -t "$S"
wait_until 5 sh -c "p=\$(svstat '$S' | sed -n 's/.*(pid \\([0-9]*\\)).*/\\1/p'); [ -n \"\$p\" ] && [ \"\$p\" != '$P2' ]"
wait_port $PORT 5
rm -f "$W/env"
sclient s4 $PORT -CAfile "$PKI/ca.pem"
isnt "$RC" 0 "missing certificate: the client gets no TLS"
file_unlike "$W/s4.out" '^reply:' "missing certificate: prog does not answer"
ok "missing certificate: prog never ran" test ! -e "$W/env"
ok "missing certificate: the log names the file" log_has "tlsserver: fatal: .*$W/missing/server\.pem"
ok "missing certificate: tcpserver logs exit status 96 (96*256=24576)" log_has 'tcpserver: end [0-9]+ status 24576'

# -- teardown: svscan first (else it restarts supervise), then svc -dx, bounded wait
kill "$SVSCAN"; wait "$SVSCAN" 2>/dev/null
svc -dx "$S" "$S/log"
ok "svc -dx: both supervise processes gone within 5 s" wait_until 5 sh -c "! svok '$S' && ! svok '$S/log'"
ok "the port is closed after teardown" wait_port_closed $PORT 5

done_testing

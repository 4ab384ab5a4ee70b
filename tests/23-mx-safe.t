#!/bin/bash
# A TLS mistake never stops plaintext mail and never bounces it.
#   tlsserver -n whose configuration cannot be loaded (truncated certificate,
#   missing CA file, bad cipher string from tcprules): prog still runs on the
#   plaintext connection, without SSLCTLFD, so STARTTLS is not offered and
#   mail is delivered; one warning line names the file or string at every
#   connection and the summary says close=notls with the reason.
#   UCSPITLS=! then refuses MAIL (TLS required stays fail-closed).
#   -F / TLS_STRICT keep the fail-closed behaviour; immediate mode (SMTPS)
#   refuses as before.
#   tlsclient's late socket (the qmail-remote wrapper): a wrapper mistake
#   (TLS_UID without TLS_GID, a bad option value, an unknown option, a
#   garbage client certificate) reaches prog as SSL_ERROR, and the exit
#   status is prog's: nothing from tlsclient itself that qmail-rspawn could
#   read as permanent. No prog at all: 111.
#   Messages: no stray ": Success"; a terminal instead of a connection is
#   named as such.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient fixtures/fixture-smtpd fixtures/fixture-smtpc
need_cmds tcpserver tcprules swaks
pki_setup

smtp_fixtures
msg_for() { grep -l "^X-Fixture-Envelope: .*to=<$1>" "$W/spool"/msg.* 2>/dev/null | head -n 1; }
head -c 300 "$PKI/server.pem" > "$W/truncated.pem"     # a renewal caught half-written
SWAKS=(swaks -s 127.0.0.1 -f a@example.org)

# ---------------------------------------------------------------- truncated certificate, swaks
FIXTURE_LOG=$W/trunc.smtpd serve trunc 2601 "$TLSSERVER" -n -c "$W/truncated.pem" "$SMTPD"
run c-trunc "${SWAKS[@]}" -p 2601 -t t1@test.example
wait_sessions trunc 1 5
is "$RC" 0 "truncated certificate on -n: swaks delivers in plaintext"
file_like "$W/trunc.smtpd" '^start pid=[0-9]+ ctl=0 encrypted=0 avail=0$' "prog ran without SSLCTLFD"
file_unlike "$W/c-trunc.out" 'STARTTLS' "STARTTLS is not offered"
M=$(msg_for t1@test.example); file_like "${M:-$W/none}" '^X-Fixture-TLS: proto=- ' "the message was queued (plaintext)"
file_like "$W/trunc.err" "^tlsserver: warning: TLS unavailable, prog runs without it: peer=127\\.0\\.0\\.1:[0-9]+ reason=certificate .*truncated\\.pem is not PEM text" \
  "one warning line names the file"
like "$(done_line "$W/trunc.err")" ' close=notls status=0 prog=0 .*reason="certificate [^"]*truncated\.pem is not PEM text' "summary: close=notls, prog's status, the reason"
is "$(session_exits trunc)" 0 "the session's exit status is prog's (0)"
file_unlike "$W/trunc.err" 'Success' "no stray ': Success' in any message"

# a second connection: logged again (at every connection, as Postfix does)
run c-trunc2 "${SWAKS[@]}" -p 2601 -t t2@test.example
wait_sessions trunc 2 5
is "$(count_lines "$W/trunc.err" 'warning: TLS unavailable')" 2 "the broken file is named at every connection"

# ---------------------------------------------------------------- missing CA file, smtplib
cat > "$W/smtpsend.py" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("client.test")
print("starttls" if s.has_extn("starttls") else "no-starttls")
s.sendmail("a@example.org", [sys.argv[2]], b"Subject: x\r\n\r\nbody\r\n")
s.quit()
print("sent")
EOF
FIXTURE_LOG=$W/noca.smtpd CAFILE=$W/no-such-ca.pem serve noca 2602 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
run c-noca "$PY" "$W/smtpsend.py" 2602 t3@test.example
wait_sessions noca 1 5
is "$(cat "$W/c-noca.out" 2>/dev/null | tr '\n' ' ')" "no-starttls sent " "missing CAFILE on -n: smtplib sees no STARTTLS and delivers"
file_like "$W/noca.err" 'warning: TLS unavailable.* reason=unable to read CA file .*no-such-ca\.pem: No such file or directory' "the CA file is named, with the reason"

# ---------------------------------------------------------------- bad cipher string from tcprules
printf '127.0.0.1:allow,TLSCIPHERS="NO-SUCH-CIPHER"\n' | tcprules "$W/rules.cdb" "$W/rules.tmp"
FIXTURE_LOG=$W/cip.smtpd TCPSERVER_OPTS="-x $W/rules.cdb" serve cip 2603 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
run c-cip "${SWAKS[@]}" -p 2603 -t t4@test.example
wait_sessions cip 1 5
is "$RC" 0 "bad TLSCIPHERS from tcprules on -n: mail still flows"
file_like "$W/cip.err" 'warning: TLS unavailable.* reason=invalid cipher list: NO-SUCH-CIPHER' "the cipher string is named"

# ---------------------------------------------------------------- TLS required stays fail-closed
FIXTURE_LOG=$W/req.smtpd UCSPITLS='!' serve req 2604 "$TLSSERVER" -n -c "$W/truncated.pem" "$SMTPD"
run c-req "${SWAKS[@]}" -p 2604 -t t5@test.example
wait_sessions req 1 5
file_like "$W/c-req.out" '<\*\* +530 ' "UCSPITLS=! and no TLS available: MAIL refused with 530"
is "$(msg_for t5@test.example)" "" "UCSPITLS=!: nothing queued"

# ---------------------------------------------------------------- -F, TLS_STRICT: the old fail-closed behaviour
FIXTURE_LOG=$W/strict.smtpd serve strict 2605 "$TLSSERVER" -n -F -c "$W/truncated.pem" "$SMTPD"
run c-strict "${SWAKS[@]}" -p 2605 -t t6@test.example
wait_sessions strict 1 5
isnt "$RC" 0 "-F: the client gets no greeting"
is "$(session_exits strict)" 96 "-F: exit 96"
ok "-F: prog never ran" test ! -s "$W/strict.smtpd"
like "$(done_line "$W/strict.err")" ' close=config status=96 ' "-F: summary close=config"
FIXTURE_LOG=$W/strict2.smtpd TLS_STRICT=1 serve strict2 2606 "$TLSSERVER" -n -c "$W/truncated.pem" "$SMTPD"
run c-strict2 "${SWAKS[@]}" -p 2606 -t t7@test.example
wait_sessions strict2 1 5
is "$(session_exits strict2)" 96 "TLS_STRICT=1 (envdir habit): exit 96, as -F"

# ---------------------------------------------------------------- immediate mode refuses
FIXTURE_LOG=$W/imm.smtpd SMTPS=1 serve imm 2607 "$TLSSERVER" -n -c "$W/truncated.pem" "$SMTPD"
run c-imm "$PY" -c 'import socket; s=socket.create_connection(("127.0.0.1",2607)); s.settimeout(5); print(len(s.recv(100)))'
wait_sessions imm 1 5
is "$(session_exits imm)" 96 "SMTPS=1 (immediate) with a broken certificate: refused, 96"
ok "SMTPS=1: prog never ran (no plaintext on an implicit-TLS port)" test ! -s "$W/imm.smtpd"

# ---------------------------------------------------------------- late socket: a wrapper mistake reaches prog
FIXTURE_LOG=$W/ls.smtpd serve ls 2608 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD"
NS=0
late() { # NAME TLSCLIENT-ARGS... -- : run the late-socket client, TLS required (-r)
  local n=$1; shift
  run "$n" "$@" "$SMTPC" -c 127.0.0.1:2608 -h localhost -a "$PKI/ca.pem" -o "$W/$n.rec" -r
  NS=$((NS + 1)); wait_sessions ls "$NS" 10
}
late l-uid env TLS_UID=65534 "$TLSCLIENT" -n
is "$RC" 3 "TLS_UID without TLS_GID: tlsclient exits with prog's status (3, TLS failed), not 100"
file_like "$W/l-uid.rec" '^starttls result=0 err=configuration refused: TLS_UID \(-u\) needs TLS_GID \(-g\) too$' \
  "prog got SSL_ERROR naming the mistake"
late l-opt "$TLSCLIENT" -n -K soon
is "$RC" 3 "bad option value: prog's status, not 100"
file_like "$W/l-opt.rec" '^starttls result=0 err=configuration refused: option -K needs a number' "bad option value: prog got the reason"
late l-unk "$TLSCLIENT" -n -Z
is "$RC" 3 "unknown option: prog's status, not 100"
file_like "$W/l-unk.rec" '^starttls result=0 err=configuration refused: usage: tlsclient ' "unknown option: prog got the usage as the reason"
printf 'not a certificate\n' > "$W/garbage.pem"
late l-cert env CERTFILE="$W/garbage.pem" "$TLSCLIENT" -n
is "$RC" 3 "garbage client certificate: prog's status"
file_like "$W/l-cert.rec" '^starttls result=0 err=configuration refused: certificate .*garbage\.pem is not PEM text' "garbage client certificate: prog got the file and the reason"
file_unlike "$W/l-cert.rec" 'Success' "no ': Success' in the reason"
run l-noprog "$TLSCLIENT" -n
is "$RC" 111 "late socket without a prog: 111 (deferred), not 100 (bounced)"

# ---------------------------------------------------------------- tlsclient -n under tcpclient: refuses
run cdeg tcpclient -RHl0 127.0.0.1 2608 env CERTFILE="$W/garbage.pem" "$TLSCLIENT" -n -h localhost sh -c 'touch "$0"' "$W/cdeg.ran"
is "$RC" 96 "tlsclient -n under tcpclient with a refused configuration: 96 (a client does not go on without TLS)"
ok "tlsclient -n: prog never ran" test ! -e "$W/cdeg.ran"

# ---------------------------------------------------------------- a terminal is not a connection
if have script; then
  script -qec "$TLSSERVER -c $PKI/server.pem -k $PKI/server.key true" /dev/null > "$W/tty.out" 2>&1
  like "$(tr -d '\r' < "$W/tty.out")" 'tlsserver: fatal: descriptor 0 is a terminal, not a connection: run tlsserver under tcpserver, or use -L ip port' \
    "on a terminal: says to run it under tcpserver (or -L), at once"
else
  skip "script (util-linux) not installed"
fi

# ---------------------------------------------------------------- -L takes tcpserver's habits
spawn lsmtp "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" 0 smtp "$FIX/reply.sh"
LS=$SPAWN_PID
ok "-L 0 smtp: listens on every address, port 25 (tcpserver's '0' and service names)" wait_port 25
run_in "$(ping_file)" c-lsmtp openssl s_client -connect 127.0.0.1:25 -quiet
file_like "$W/c-lsmtp.out" '^reply:ping' "-L 0 smtp: serves"
file_like "$W/lsmtp.err" '^tlsserver: info: listening on 0 port smtp$' "the listening line says what was asked"
stop "$LS"
run lbad "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" 0 no-such-service "$FIX/reply.sh"
is "$RC/$(cat "$W/lbad.err")" "100/tlsserver: fatal: invalid port: no-such-service" "-L with an unknown service name: 100, one line"

done_testing

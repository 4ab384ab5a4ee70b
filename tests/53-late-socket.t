#!/bin/bash
# tlsclient -n late socket: tlsclient runs with no descriptors 6/7; the
# program (fixture-smtpc -c) connects by itself, talks plaintext SMTP up to
# the "220" answering STARTTLS, then passes the socket with
# ucspitls_send_socket(sock, host, cafile, verify) and sends 'Y'.
# The name, the CA file and the verify flag come from that message only
# (tlsclient gets no -h and no -a here, and the system store does not know
# the test CA): success, name mismatch, untrusted certificate, and verify=0.
# In late-socket mode the engine writes nothing on its 0/1/2 (under
# qmail-rspawn they are the delivery report): failures come back as
# SSL_ERROR on the control socket.
. "$(dirname "$0")/lib.sh"
need_bins tlsclient tlsserver fixtures/fixture-smtpc fixtures/fixture-smtpd
need_cmds tcpserver
pki_setup

SMTPC=$UCSPI_TLS_BIN/fixtures/fixture-smtpc
SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
mkdir -p "$W/spool"
export FIXTURE_LOG=$W/smtpd.log FIXTURE_SPOOL=$W/spool
serve srv 25 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD" \
  || bail_out "tcpserver did not start"
NS=0
next() { # NAME: wait for the server's session, keep its fixture log
  NS=$((NS + 1))
  wait_sessions srv "$NS" 10 || diag "session $NS did not end"
  mv -f "$W/smtpd.log" "$W/$1.smtpd" 2>/dev/null || : > "$W/$1.smtpd"
}

# -- verification succeeds: name localhost, CA file from the message
run ok1 "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -a "$PKI/ca.pem" -o "$W/ok1.rec" -t late@test.example -r
next ok1
is "$RC" 0 "late socket, verified: exit 0"
R=$W/ok1.rec
file_like "$R" '^start mode=late ctl=1 avail=1 tls=0$' "prog started without 6/7, with the three descriptors"
file_like "$R" '^reply tls=0 220 ready for tls$' "STARTTLS answered in plaintext on the program's own socket"
file_like "$R" '^starttls result=1 err=-$' "Y reply complete"
file_like "$R" '^env SSL_SERVER_VERIFY=SUCCESS$' "SSL_SERVER_VERIFY=SUCCESS (CA file from the late-socket message)"
file_like "$R" '^env SSL_SERVER_S_DN_CN=localhost$' "SSL_SERVER_S_DN_CN=localhost"
file_like "$R" '^reply tls=1 250 ok queued as fixture$' "message accepted inside TLS, through the socketpair"
file_like "$R" '^reply tls=1 221 bye$' "QUIT answered inside TLS"
file_like "$W/ok1.smtpd" '^env SSL_TLS_SNI_SERVERNAME=localhost$' "the server saw SNI localhost (host= of the message)"
file_like "$W/ok1.smtpd" '^cmd tls=1 RCPT TO:<late@test\.example>$' "the server got RCPT inside TLS"
is "$(wc -c < "$W/ok1.out")" 0 "nothing written on stdout (the engine's fd 1 is /dev/null)"
file_unlike "$W/ok1.err" '^tlsclient:' "the engine wrote nothing on stderr"
like "$(grep -a 'tlsserver: info: done' "$W/srv.err" | tail -n 1)" 'sni=localhost proto=TLSv1\.3' "server's log: SNI and TLS 1.3"

# -- name mismatch
run bad1 "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h wrong.example -a "$PKI/ca.pem" -o "$W/bad1.rec" -r
next bad1
is "$RC" 3 "late socket, name mismatch: fixture-smtpc exit 3 (helper returned 0)"
file_like "$W/bad1.rec" '^starttls result=0 err=.+' "name mismatch: SSL_ERROR reason over the control socket"
file_unlike "$W/bad1.rec" '^send tls=1 ' "name mismatch: nothing sent inside TLS"
file_unlike "$W/bad1.err" '^tlsclient:' "name mismatch: the engine kept quiet on stderr"
file_unlike "$W/bad1.smtpd" '^cmd tls=1 (MAIL|RCPT)' "name mismatch: the server saw no mail command"

# -- untrusted certificate
run bad2 "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -a "$PKI/wrongca.pem" -o "$W/bad2.rec" -r
next bad2
is "$RC" 3 "late socket, untrusted certificate: exit 3"
file_like "$W/bad2.rec" '^starttls result=0 err=.+' "untrusted: SSL_ERROR reason over the control socket"
file_unlike "$W/bad2.err" '^tlsclient:' "untrusted: the engine kept quiet on stderr"

# -- no cafile: the default store (the system's) does not know the test CA
run bad3 "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -o "$W/bad3.rec" -r
next bad3
is "$RC" 3 "late socket without cafile: the system store refuses the test CA (exit 3)"

# -- verify=0: opportunistic, the report still says what failed
run opp "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -a "$PKI/wrongca.pem" -i -o "$W/opp.rec" -t opp@test.example -r
next opp
is "$RC" 0 "late socket, verify=0 with an untrusted certificate: exit 0"
file_like "$W/opp.rec" '^env SSL_SERVER_VERIFY=FAILED' "verify=0: SSL_SERVER_VERIFY=FAILED:... still reported"
file_like "$W/opp.smtpd" '^cmd tls=1 RCPT TO:<opp@test\.example>$' "verify=0: mail went inside TLS"

# -- 'y' after the socket
run ly "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -a "$PKI/ca.pem" -y -o "$W/ly.rec" -t ly@test.example -r
next ly
is "$RC" 0 "late socket with 'y': exit 0"
file_like "$W/ly.rec" '^reply tls=1 250 ok queued as fixture$' "'y': message accepted inside TLS"

# -- a program that never sends the socket and declines: plaintext, no TLS
run dec "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -N -o "$W/dec.rec" -t dec@test.example
next dec
is "$RC" 0 "late-socket mode, declined: plaintext session, exit 0"
file_like "$W/dec.smtpd" '^cmd tls=0 RCPT TO:<dec@test\.example>$' "declined: mail went in plaintext"

# -- a CA file that cannot be loaded: a handshake failure with a reason
run nocaf "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -a "$W/no-such-ca.pem" -o "$W/nocaf.rec" -r
next nocaf
is "$RC" 3 "late socket, unreadable cafile: exit 3"
file_like "$W/nocaf.rec" '^starttls result=0 err=.*CA file' "unreadable cafile: the reason names the CA file"

# -- 'S' without a descriptor, and a malformed block: protocol errors
cat > "$W/badblock.sh" <<'EOF'
#!/bin/bash
# $1 = the bytes to send (printf format) on the control socket, then Y
trap "" PIPE
printf "$1" >&"$SSLCTLFD" || exit 5
printf Y >&"$SSLCTLFD" 2>/dev/null
n=$(od -An -c <&"$SSLCTLFD" | tr -d ' \n')
echo "reply:$n"
exit 0
EOF
chmod 755 "$W/badblock.sh"
run nofd "$TLSCLIENT" -n "$W/badblock.sh" 'Shost=localhost\0\0'
is "$RC/$(cat "$W/nofd.out")" "99/reply:" "'S' block without a descriptor: protocol error, exit 99, no reply"
run badkey "$TLSCLIENT" -n "$W/badblock.sh" 'Shost=localhost\0colour=blue\0\0'
is "$RC/$(cat "$W/badkey.out")" "99/reply:" "'S' block with an unknown key: protocol error, exit 99"

# -- 'Y' before any socket: a protocol error, the program gets EOF
cat > "$W/ynosock.sh" <<'EOF'
#!/bin/bash
# write Y on the control socket without a late socket; report what comes back
printf Y >&"$SSLCTLFD" || exit 5
n=$(od -An -c <&"$SSLCTLFD" | tr -d ' \n')
echo "reply:$n"
EOF
chmod 755 "$W/ynosock.sh"
run nosock "$TLSCLIENT" -n "$W/ynosock.sh"
is "$(cat "$W/nosock.out")" "reply:" "'Y' before the late socket: control socket closed, no reply"
is "$RC" 99 "'Y' before the late socket: protocol error, exit 99"

done_testing

#!/bin/bash
# Delayed mode against a real MTA client: a private Postfix relays mail for
# (Postfix refuses to relay to its own interface on port 25 -- "loops back to
# myself" -- so the program listens on 2600/2601.)
# out.example over STARTTLS to `tcpserver ... tlsserver -n fixture-smtpd`,
# verifying the server certificate and presenting a client certificate.
# A second destination demands a name the certificate does not carry: Postfix
# must refuse the session after the handshake, and the program must not see
# the message.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"          # pf_start, pf_delivered
. "$TESTDIR/postfix-setup.sh"            # pf_prepare: installed or unpacked Postfix
need_bins tlsserver fixtures/fixture-smtpd
need_cmds tcpserver swaks
need_root   # postfix starts as root and drops to its own users
pf_prepare || skip_all "no usable Postfix: $PF_WHY"
pki_setup

SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
mkdir -p "$W/spool"
export FIXTURE_LOG=$W/smtpd.log FIXTURE_SPOOL=$W/spool

serve srv 2600 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" -a "$PKI/ca.pem" "$SMTPD" \
  || bail_out "tcpserver did not start"
serve srvbad 2601 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD" \
  || bail_out "tcpserver did not start"

PF=$W/pf
cp "$PKI/client.pem" "$W/pfclient.pem"; cp "$PKI/client.key" "$W/pfclient.key"
pf_start "$PF" "127.0.0.1:2587 inet n - n - - smtpd -o smtpd_tls_security_level=none" "$PF_MAIN
transport_maps = inline:{ out.example=smtp:[127.0.0.1]:2600, bad.example=smtp:[127.0.0.1]:2601 }
smtp_tls_security_level = encrypt
smtp_tls_policy_maps = inline:{ {[127.0.0.1]:2600 = verify match=localhost}, {[127.0.0.1]:2601 = verify match=wrong.example} }
smtp_tls_cert_file = $W/pfclient.pem
smtp_tls_key_file = $W/pfclient.key
" || bail_out "postfix did not start"
wait_port 2587 || bail_out "postfix smtpd did not listen on 2587"

run inject swaks -s 127.0.0.1 -p 2587 -f a@example.org -t x@out.example \
  --header 'Subject: via postfix' --body 'relayed by postfix over STARTTLS'
is "$RC" 0 "message injected into Postfix"
wait_until 15 sh -c "ls '$W/spool'/msg.* >/dev/null 2>&1"
wait_until 5 grep -q 'status=sent' "$PF/maillog"
MSG=$(ls "$W/spool"/msg.* 2>/dev/null | head -n 1)
MSG=${MSG:-$W/spool/none}
file_like "$PF/maillog" 'Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:2600: TLSv1\.3' \
  "Postfix: verified TLS 1.3 connection to tlsserver -n (name localhost checked)"
file_like "$PF/maillog" 'to=<x@out\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:2600.*status=sent \(250 ok queued as fixture\)' \
  "Postfix: delivered, 250 from the program inside TLS"
L=$W/smtpd.log
file_like "$L" '^cmd tls=0 STARTTLS$' "fixture: STARTTLS in plaintext"
file_like "$L" '^starttls mode=Y result=1 err=-$' "fixture: Y reply complete"
file_like "$L" '^env SSL_CLIENT_VERIFY=SUCCESS$' "fixture: Postfix's client certificate verified (SSL_CLIENT_VERIFY=SUCCESS)"
file_like "$L" '^env SSL_CLIENT_S_DN_Email=client@test\.example$' "fixture: SSL_CLIENT_S_DN_Email from the client certificate"
file_like "$L" '^cmd tls=1 EHLO mx\.test\.example$' "fixture: Postfix said EHLO again inside TLS"
file_like "$L" '^cmd tls=1 RCPT TO:<x@out\.example>' "fixture: RCPT inside TLS"
file_unlike "$L" '^cmd tls=0 (MAIL|RCPT|DATA)' "fixture: nothing but EHLO/STARTTLS in plaintext"
file_like "$MSG" '^X-Fixture-TLS: proto=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384 verify=SUCCESS subject=.*CN=client\.test' \
  "fixture: message recorded with TLS 1.3 and the client certificate"
file_like "$MSG" '^relayed by postfix over STARTTLS$' "fixture: body arrived"
wait_sessions srv 1 10
is "$(session_exits srv | tail -n 1)" 0 "session exit status 0"
is "$(logfield "$W/srv.err" verify)" SUCCESS "engine log verify=SUCCESS"

# -- name mismatch: Postfix aborts after the handshake, before MAIL
rm -f "$L"
run inject2 swaks -s 127.0.0.1 -p 2587 -f a@example.org -t y@bad.example --header 'Subject: bad'
is "$RC" 0 "second message injected"
wait_until 15 grep -q 'to=<y@bad\.example>.*status=deferred' "$PF/maillog"
file_like "$PF/maillog" 'to=<y@bad\.example>.*status=deferred' "Postfix defers the message for a server whose name does not match"
file_like "$PF/maillog" 'certificate verification failed|Server certificate not verified|not verified' \
  "Postfix says why (certificate not verified for wrong.example)"
wait_sessions srvbad 1 10
file_unlike "$L" '^cmd tls=1 (MAIL|RCPT)' "fixture: no MAIL/RCPT after a handshake the client rejected"
is "$(ls "$W/spool"/msg.* 2>/dev/null | wc -l)" 1 "no second message reached the program"

done_testing

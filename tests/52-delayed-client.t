#!/bin/bash
# Delayed mode on the client side, descriptors 6/7 from tcpclient:
#   tcpclient 127.0.0.1 PORT tlsclient -n -h localhost -a ca.pem fixture-smtpc
# into a private Postfix (smtpd_tls_security_level=may) and into aiosmtpd
# (which refuses MAIL before STARTTLS). Checked from the servers' logs and
# mailboxes, and from what fixture-smtpc recorded (the Y reply's
# SSL_SERVER_* variables, every reply line before and after the switch).
# Also: 'y' instead of 'Y', declining, a server the client does not trust,
# and a server name mismatch.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"          # pf_start, pf_delivered
. "$TESTDIR/postfix-setup.sh"            # pf_prepare: installed or unpacked Postfix
need_bins tlsclient fixtures/fixture-smtpc
need_cmds tcpclient
pki_setup

SMTPC=$UCSPI_TLS_BIN/fixtures/fixture-smtpc
TC=(tcpclient -RHl0 -T 5)

# ---------------------------------------------------------------- Postfix
if is_root && pf_prepare; then
  PF=$W/pf
  if pf_start "$PF" "127.0.0.1:25 inet n - n - - smtpd" "$PF_MAIN" && wait_port 25; then
    # -- Y, verification on (CA file), EHLO STARTTLS EHLO MAIL RCPT DATA QUIT
    run pf1 "${TC[@]}" 127.0.0.1 25 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/pf1.rec" -t pf1@test.example -r
    is "$RC" 0 "fixture-smtpc through tlsclient -n into Postfix: exit 0"
    R=$W/pf1.rec
    file_like "$R" '^start mode=fd ctl=1 avail=1 tls=0$' "prog started at once on 6/7 with the three descriptors"
    file_like "$R" '^reply tls=0 250-STARTTLS$' "Postfix offered STARTTLS in plaintext"
    file_like "$R" '^starttls result=1 err=-$' "the Y reply ended with its terminator"
    file_like "$R" '^env SSL_SERVER_VERIFY=SUCCESS$' "Y reply: SSL_SERVER_VERIFY=SUCCESS"
    file_like "$R" '^env SSL_SERVER_S_DN_CN=localhost$' "Y reply: SSL_SERVER_S_DN_CN=localhost"
    file_like "$R" "^env SSL_SERVER_CERT_HASH=$(cert_hash "$PKI/server.pem")$" "Y reply: SSL_SERVER_CERT_HASH of Postfix's certificate"
    file_like "$R" '^env SSL_PROTOCOL=TLSv1\.3$' "Y reply: SSL_PROTOCOL=TLSv1.3"
    file_unlike "$R" '^reply tls=1 250-STARTTLS$' "STARTTLS no longer offered inside TLS (the second EHLO went through TLS)"
    file_like "$R" '^reply tls=1 250 2\.0\.0 Ok: queued' "Postfix queued the message inside TLS"
    wait_until 5 pf_delivered "$PF" '^Subject: fixture-smtpc'
    F=$(pf_delivered "$PF" '^Delivered-To: pf1@test\.example$'); F=${F:-$W/none}
    file_like "$F" 'with ESMTPS' "Postfix's Received header says ESMTPS"
    file_like "$PF/maillog" 'TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.3' "Postfix logged the TLS 1.3 session"
    file_like "$PF/maillog" 'disconnect from localhost\[127\.0\.0\.1\] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1' "Postfix counted ehlo=2 starttls=1"
    like "$(grep -a 'tlsclient: info: done' "$W/pf1.err" | tail -n 1)" 'proto=TLSv1\.3 .*verify="?SUCCESS"? .*status=0' "engine log: TLS 1.3, verify=SUCCESS, status 0"

    # -- client certificate from CERTFILE/KEYFILE: Postfix trusts it
    run pf2 env CERTFILE="$PKI/client.pem" KEYFILE="$PKI/client.key" \
      "${TC[@]}" 127.0.0.1 25 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/pf2.rec" -t pf2@test.example -r
    is "$RC" 0 "with a client certificate: exit 0"
    wait_until 5 pf_delivered "$PF" '^Delivered-To: pf2@test\.example$'
    file_like "$PF/maillog" 'Trusted TLS connection established from localhost\[127\.0\.0\.1\]' "Postfix verified tlsclient's certificate"
    F=$(pf_delivered "$PF" '^Delivered-To: pf2@test\.example$'); F=${F:-$W/none}
    file_like "$F" 'Client CN "client\.test"' "Received header names the client certificate"

    # -- 'y': TLS without a reply; the program knows nothing about the session
    run pf3 "${TC[@]}" 127.0.0.1 25 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/pf3.rec" -t pf3@test.example -r -y
    is "$RC" 0 "'y' command: exit 0"
    file_like "$W/pf3.rec" '^starttls result=sent mode=y$' "'y' sent"
    file_unlike "$W/pf3.rec" '^env SSL_SERVER_VERIFY=' "'y': no variables came back"
    file_like "$W/pf3.rec" '^reply tls=1 250 2\.0\.0 Ok: queued' "'y': message queued inside TLS"
    like "$(grep -a 'tlsclient: info: done' "$W/pf3.err" | tail -n 1)" 'proto=TLSv1\.3 .*status=0' "'y': engine log shows the TLS session"

    # -- decline: the program closes SSLCTLFD and goes on in plaintext
    run pf4 "${TC[@]}" 127.0.0.1 25 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/pf4.rec" -t pf4@test.example -N
    is "$RC" 0 "declined: plaintext delivery, exit 0"
    wait_until 5 pf_delivered "$PF" '^Delivered-To: pf4@test\.example$'
    F=$(pf_delivered "$PF" '^Delivered-To: pf4@test\.example$'); F=${F:-$W/none}
    file_like "$F" 'with ESMTP id' "declined: Received says ESMTP (no TLS)"
    file_like "$W/pf4.err" 'tlsclient: info: done .*close=declined' "declined: engine log close=declined"

    # -- a server certificate the client does not trust
    run pf5 "${TC[@]}" 127.0.0.1 25 "$TLSCLIENT" -n -h localhost -a "$PKI/wrongca.pem" \
      "$SMTPC" -o "$W/pf5.rec" -t pf5@test.example -r
    is "$RC" 3 "untrusted server: fixture-smtpc exit 3 (helper returned 0)"
    file_like "$W/pf5.rec" '^starttls result=0 err=.+' "untrusted server: the failure came with a reason"
    file_like "$W/pf5.err" 'tlsclient: .*(handshake failed|verif)' "untrusted server: engine says why"
    file_unlike "$W/pf5.rec" '^send tls=1 ' "untrusted server: nothing sent after the failed handshake"

    # -- server name mismatch
    run pf6 "${TC[@]}" 127.0.0.1 25 "$TLSCLIENT" -n -h wrong.example -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/pf6.rec" -t pf6@test.example -r
    is "$RC" 3 "name mismatch: fixture-smtpc exit 3"
    file_like "$W/pf6.rec" '^starttls result=0 err=.*(name|wrong\.example|match)' "name mismatch: reason names the problem"
    sleep 0.3
    is "$(pf_delivered "$PF" '^Delivered-To: pf[56]@test\.example$')" "" "no message delivered after a failed verification"
  else
    diag_file "$PF/maillog"
    skip_n 32 "private Postfix did not start"
  fi
else
  skip_n 32 "no usable Postfix (or not real root: postfix starts as root): ${PF_WHY:-}"
fi

# ---------------------------------------------------------------- aiosmtpd
if "$PY" -c 'import aiosmtpd' 2>/dev/null; then
  mkdir -p "$W/md/new" "$W/md/cur" "$W/md/tmp"
  spawn aio "$PY" -m aiosmtpd -n -l 127.0.0.1:2526 --tlscert "$PKI/server.pem" --tlskey "$PKI/server.key" \
    -c aiosmtpd.handlers.Mailbox "$W/md"
  if wait_port 2526 10; then
    run aio1 "${TC[@]}" 127.0.0.1 2526 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/aio1.rec" -t aio@test.example -r
    is "$RC" 0 "fixture-smtpc through tlsclient -n into aiosmtpd: exit 0"
    file_like "$W/aio1.rec" '^starttls result=1 err=-$' "aiosmtpd: Y reply complete"
    file_like "$W/aio1.rec" '^env SSL_SERVER_VERIFY=SUCCESS$' "aiosmtpd: server verified"
    wait_until 5 sh -c "ls '$W/md/new'/* >/dev/null 2>&1"
    is "$(grep -l '^Subject: fixture-smtpc' "$W/md/new"/* 2>/dev/null | wc -l)" 1 "aiosmtpd (STARTTLS required) stored the message"
    # declining: aiosmtpd answers 530 to MAIL
    run aio2 "${TC[@]}" 127.0.0.1 2526 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
      "$SMTPC" -o "$W/aio2.rec" -t aio2@test.example -N
    is "$RC" 1 "declined against aiosmtpd: MAIL refused (exit 1)"
    file_like "$W/aio2.rec" '^reply tls=0 530' "aiosmtpd: 530 must issue STARTTLS"
  else
    diag_file "$W/aio.err"
    skip_n 6 "aiosmtpd did not start"
  fi
else
  skip_n 6 "aiosmtpd not installed"
fi

done_testing

#!/bin/bash
# Delayed mode (tlsserver -n, UCSPI-TLS): independent SMTP clients do
# STARTTLS into `tcpserver ... tlsserver -n fixture-smtpd`. Each session is
# checked from the peer's side (its exit status and what it printed) and
# from the program's side (what fixture-smtpd recorded: the commands before
# and after the switch, the Y reply, the message and its X-Fixture-TLS line)
# and from the engine's end-of-session line.
# Peers: swaks (Net::SSLeay/OpenSSL), openssl s_client, gnutls-cli (GnuTLS),
# curl, Python smtplib, msmtp (GnuTLS).
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/lib-tlsd.sh"
need_bins tlsserver fixtures/fixture-smtpd
need_cmds tcpserver openssl
pki_setup

SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
mkdir -p "$W/spool"
export FIXTURE_LOG=$W/smtpd.log FIXTURE_SPOOL=$W/spool

# forged SSL_* values in the server's environment (as from a careless
# tcprules or envdir) must never reach the program, before or after TLS
SSL_CLIENT_VERIFY=SUCCESS SSL_CLIENT_S_DN_CN=forged SSL_PROTOCOL=forged \
serve_tls srv 25 -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD" \
  || bail_out "tcpserver did not start"
# the same, asking for a client certificate (CAFILE turns the request on)
serve_tls srvc 26 -n -c "$PKI/server.pem" -k "$PKI/server.key" -a "$PKI/ca.pem" "$SMTPD" \
  || bail_out "tcpserver did not start"

declare -A NSESS=()
# finish NAME SRV: wait until SRV's next session ended, then move the
# fixture's log to $W/NAME.smtpd and its messages to $W/NAME.msgs/
finish() {
  local name=$1 srv=${2:-srv}
  NSESS[$srv]=$(( ${NSESS[$srv]:-0} + 1 ))
  wait_sessions "$srv" "${NSESS[$srv]}" 10 || diag "session ${NSESS[$srv]} of $srv did not end"
  mv -f "$W/smtpd.log" "$W/$name.smtpd" 2>/dev/null || : > "$W/$name.smtpd"
  mkdir -p "$W/$name.msgs"
  mv -f "$W/spool"/msg.* "$W/$name.msgs/" 2>/dev/null
  MSG=$(ls "$W/$name.msgs"/msg.* 2>/dev/null | head -n 1)
  MSG=${MSG:-$W/$name.msgs/none}
}

# fixture_checks NAME RCPT: the program's view of a good STARTTLS session
fixture_checks() {
  local name=$1 rcpt=$2 L=$W/$1.smtpd
  file_like "$L" '^start pid=[0-9]+ ctl=1 encrypted=0 avail=1$' "$name: prog started at once with SSLCTLFD/SSLREADFD/SSLWRITEFD"
  file_unlike "$L" '^env-start SSL_' "$name: no SSL_* variable before TLS (forged ones removed)"
  file_unlike "$L" 'forged' "$name: no forged value after TLS either"
  file_like "$L" '^cmd tls=0 STARTTLS$' "$name: STARTTLS arrived in plaintext"
  file_like "$L" '^starttls mode=Y result=1 err=-$' "$name: the Y reply ended with its terminator (helper returned 1)"
  file_like "$L" '^env SSL_PROTOCOL=TLSv1\.[23]$' "$name: the Y reply carried SSL_PROTOCOL"
  file_like "$L" '^env SSL_CIPHER=[A-Z0-9_-]+$' "$name: the Y reply carried SSL_CIPHER"
  file_like "$L" '^cmd tls=1 ([Ee][Hh][Ll][Oo]|[Hh][Ee][Ll][Oo]) ' "$name: the client said EHLO again inside TLS"
  file_like "$L" "^cmd tls=1 ([Rr][Cc][Pp][Tt]) [Tt][Oo]:<$rcpt>" "$name: RCPT arrived inside TLS"
  file_unlike "$L" '^cmd tls=0 ([Mm][Aa][Ii][Ll]|[Rr][Cc][Pp][Tt]|[Dd][Aa][Tt][Aa])' "$name: no mail command went in plaintext"
  file_like "$MSG" '^X-Fixture-TLS: proto=TLSv1\.[23] cipher=[A-Z0-9_-]+ verify=' "$name: the message was accepted inside TLS"
  file_like "$MSG" "^X-Fixture-Envelope: from=<a@example.org> to=<$rcpt>$" "$name: envelope as sent"
}

engine_checks() { # NAME SRV
  local name=$1 srv=${2:-srv} c
  is "$(session_exits "$srv" | tail -n 1)" 0 "$name: session exit status 0 (the program's)"
  is "$(logfield "$W/$srv.err" proto)" TLSv1.3 "$name: engine log proto=TLSv1.3"
  # SMTP clients often close the socket right after 221 without waiting for
  # the engine's close_notify; the reset that may follow is an unclean
  # close, never an error: everything was delivered
  like "$(logfield "$W/$srv.err" close)" '^(clean|unclean)$' "$name: engine log close=clean|unclean"
}

printf 'Subject: peer test\r\n\r\nhello through STARTTLS\r\n' > "$W/msg.txt"

# ------------------------------------------------------------------ swaks
if have swaks && swaks --support 2>&1 | grep -q '^=== TLS supported'; then
  run swaks swaks -s 127.0.0.1 -p 25 --tls --tls-verify --tls-ca-path "$PKI/ca.pem" \
    -f a@example.org -t swaks@test.example --header 'Subject: swaks' --body 'hi from swaks'
  finish swaks
  is "$RC" 0 "swaks: STARTTLS session succeeded (exit 0)"
  file_like "$W/swaks.out" '=== TLS started with cipher TLSv1\.3:TLS_AES_256_GCM_SHA384' "swaks: TLS 1.3 started"
  file_like "$W/swaks.out" '<~ +250 ok queued' "swaks: message accepted inside TLS"
  fixture_checks swaks swaks@test.example
  file_like "$MSG" '^hi from swaks$' "swaks: body arrived"
  engine_checks swaks

  # client certificate: the Y reply carries the SSL_CLIENT_* variables
  run swaksc swaks -s 127.0.0.1 -p 26 --tls --tls-verify --tls-ca-path "$PKI/ca.pem" \
    --tls-cert "$PKI/client.pem" --tls-key "$PKI/client.key" \
    -f a@example.org -t cert@test.example --header 'Subject: swaks cert'
  finish swaksc srvc
  is "$RC" 0 "swaks with a client certificate: exit 0"
  file_like "$W/swaksc.smtpd" '^env SSL_CLIENT_VERIFY=SUCCESS$' "client cert: SSL_CLIENT_VERIFY=SUCCESS in the Y reply"
  file_like "$W/swaksc.smtpd" '^env SSL_CLIENT_S_DN_CN=client\.test$' "client cert: SSL_CLIENT_S_DN_CN in the Y reply"
  file_like "$W/swaksc.smtpd" "^env SSL_CLIENT_CERT_HASH=$(cert_hash "$PKI/client.pem")$" "client cert: SSL_CLIENT_CERT_HASH matches the certificate"
  file_like "$MSG" '^X-Fixture-TLS: proto=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384 verify=SUCCESS subject=.*CN=client\.test' \
    "client cert: the message records verify=SUCCESS and the subject"
  engine_checks swaksc srvc
  is "$(logfield "$W/srvc.err" verify)" SUCCESS "client cert: engine log verify=SUCCESS"
else
  skip_n 28 "swaks with TLS support not installed"
fi

# ------------------------------------------------------------------ openssl s_client
printf 'EHLO sc.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<sclient@test.example>\r\nDATA\r\nSubject: s_client\r\n\r\nhi from s_client\r\n.\r\nQUIT\r\n' > "$W/sc.in"
run_in "$W/sc.in" sc openssl s_client -connect 127.0.0.1:25 -starttls smtp -name sc.test \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -quiet
finish sc
is "$RC" 0 "s_client -starttls smtp: exit 0 (server verified)"
file_like "$W/sc.out" '^250 ok queued as fixture' "s_client: message accepted"
file_like "$W/sc.out" '^221 bye' "s_client: QUIT answered inside TLS"
fixture_checks sc sclient@test.example
engine_checks sc

# TLS 1.2
run_in "$W/sc.in" sc12 openssl s_client -connect 127.0.0.1:25 -starttls smtp -name sc.test -tls1_2 \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -quiet
finish sc12
is "$RC" 0 "s_client -tls1_2 -starttls smtp: exit 0"
file_like "$W/sc12.smtpd" '^env SSL_PROTOCOL=TLSv1\.2$' "TLS 1.2: SSL_PROTOCOL=TLSv1.2 in the Y reply"
file_like "$MSG" '^X-Fixture-TLS: proto=TLSv1\.2 cipher=ECDHE-' "TLS 1.2: message recorded with an ECDHE suite"

# ------------------------------------------------------------------ gnutls-cli
if have gnutls-cli; then
  fifo_open gin $'EHLO gnutls.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<gnutls@test.example>\r\nDATA\r\nSubject: gnutls\r\n\r\nhi from gnutls\r\n.\r\nQUIT\r\n'
  run_in "$W/gin.fifo" gnutls gnutls-cli --starttls-proto=smtp --x509cafile="$PKI/ca.pem" \
    --verify-hostname=localhost -p 25 127.0.0.1
  fifo_close
  finish gnutls
  is "$RC" 0 "gnutls-cli --starttls-proto=smtp: exit 0"
  file_like "$W/gnutls.out" '^250 ok queued as fixture' "gnutls-cli: message accepted"
  file_like "$W/gnutls.out" '^221 bye' "gnutls-cli: QUIT answered"
  file_like "$W/gnutls.out" 'Peer has closed the GnuTLS connection' "gnutls-cli: the engine sent close_notify when the program ended"
  fixture_checks gnutls gnutls@test.example
  engine_checks gnutls
else
  skip_n 19 "gnutls-cli not installed"
fi

# ------------------------------------------------------------------ curl
if have curl; then
  run curl curl -sS -v --max-time 20 smtp://127.0.0.1:25 --ssl-reqd --cacert "$PKI/ca.pem" \
    --mail-from a@example.org --mail-rcpt curl@test.example -T "$W/msg.txt"
  finish curl
  is "$RC" 0 "curl --ssl-reqd: exit 0"
  file_like "$W/curl.err" 'SSL connection using TLSv1\.3' "curl: TLS 1.3"
  fixture_checks curl curl@test.example
  engine_checks curl
else
  skip_n 17 "curl not installed"
fi

# ------------------------------------------------------------------ Python smtplib
if [ -x "$PY" ] && "$PY" -c 'import smtplib, ssl' 2>/dev/null; then
  run py "$PY" -c '
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
s.ehlo("py.test")
assert s.has_extn("starttls"), "no STARTTLS offered"
s.starttls(context=ssl.create_default_context(cafile=sys.argv[1]))
print("tls", s.sock.version(), s.sock.cipher()[0])
s.ehlo("py.test")
print("starttls-after", s.has_extn("starttls"))
assert s.sendmail("a@example.org", ["py@test.example"], "Subject: py\r\n\r\nhi from python\r\n") == {}
s.quit()
' "$PKI/ca.pem"
  finish py
  is "$RC" 0 "Python smtplib starttls() with the default context (name checked against the IP SAN): exit 0"
  file_like "$W/py.out" '^tls TLSv1\.3 TLS_AES_256_GCM_SHA384$' "Python: TLS 1.3"
  file_like "$W/py.out" '^starttls-after False$' "Python: STARTTLS is no longer offered inside TLS"
  fixture_checks py py@test.example
  engine_checks py
else
  skip_n 18 "Python with ssl not available"
fi

# ------------------------------------------------------------------ msmtp
if have msmtp; then
  run_in "$W/msg.txt" msmtp msmtp --host=127.0.0.1 --port=25 --tls=on --tls-starttls=on \
    --tls-trust-file="$PKI/ca.pem" --auth=off --from=a@example.org msmtp@test.example
  finish msmtp
  is "$RC" 0 "msmtp --tls-starttls=on: exit 0"
  fixture_checks msmtp msmtp@test.example
  engine_checks msmtp
else
  skip_n 16 "msmtp not installed"
fi

# A peer that does not trust the server: the program learns the failure
# from the control socket (helper returns 0), the session ends.
run_in "$W/sc.in" scbad openssl s_client -connect 127.0.0.1:25 -starttls smtp -name sc.test \
  -CAfile "$PKI/wrongca.pem" -verify_return_error -quiet
finish scbad
isnt "$RC" 0 "s_client with the wrong CA fails"
file_like "$W/scbad.smtpd" '^starttls mode=Y result=0 err=.+' "untrusted by the peer: the program got a failure (no terminator) with a reason"
file_unlike "$W/scbad.smtpd" '^cmd tls=1 ' "untrusted by the peer: no command executed after the failed handshake"
is "$(session_exits srv | tail -n 1)" 1 "untrusted by the peer: session status is the program's (1)"
like "$(grep -aE '^(tlsserver|tlsd):' "$W/srv.err" | tail -n 1)" 'handshake failed|close=error|proto=-' "untrusted by the peer: the engine logged the failed handshake"

done_testing

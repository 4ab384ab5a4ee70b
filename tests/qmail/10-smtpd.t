#!/bin/bash
# Patched qmail-smtpd (src/qmail/*.patch) under tcpserver + tlsserver, with
# real clients: swaks, openssl s_client, Python smtplib, Postfix's smtp
# client. Needs QMAIL_SMTPD and QMAIL_HOME (see qmail-lib.sh).
. "$(dirname "$0")/../lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"
need_qmail QMAIL_SMTPD QMAIL_HOME
need_bins tlsserver
need_cmds tcpserver swaks openssl
pki_setup
qhome_setup

printf 'CLIENT@Test.Example\n# comment\nother@test.example\n' > "$Q/control/tlsclients"
export CERTFILE=$PKI/servercert.pem       # qmail-tls style: chain and key in one file
export CAFILE=$PKI/ca.pem                 # asks for (optional) client certificates
CA=$PKI/ca.pem

serve starttls 25 "$TLSSERVER" -n "$QMAIL_SMTPD" || bail_out "no server on 25"
serve smtps 465 "$TLSSERVER" "$QMAIL_SMTPD" || bail_out "no server on 465"
UCSPITLS='!' serve required 587 "$TLSSERVER" -n "$QMAIL_SMTPD" || bail_out "no server on 587"
UCSPITLS=- serve off 2626 "$TLSSERVER" -n "$QMAIL_SMTPD" || bail_out "no server on 2626"
serve plain 2727 "$QMAIL_SMTPD" || bail_out "no server on 2727"
# no engine (as when tlsserver -n could not load its configuration and ran
# qmail-smtpd without SSLCTLFD), TLS required: fail closed
UCSPITLS='!' serve plainreq 2728 "$QMAIL_SMTPD" || bail_out "no server on 2728"
serve starttls2 2600 "$TLSSERVER" -n "$QMAIL_SMTPD" || bail_out "no server on 2600"

ESMTPS='with ESMTPS \((TLS_|ECDHE-)[A-Za-z0-9_-]+ encrypted\)'
received() { sed -n '/^Received:/{N;p;q}' "$1" | tr '\n' ' '; }

swaks_to() { # PORT TAG [swaks args]: one message with header X-Tag: TAG
  local port=$1 tag=$2; shift 2
  swaks -s 127.0.0.1 -p "$port" -f a@example.org -t rcpt@test.example \
    --header "X-Tag: $tag" --body hi "$@"
}

# --- EHLO and the STARTTLS command itself
ok "EHLO on 25 offers STARTTLS" smtpchat 127.0.0.1 25 '<^220 ' '>EHLO c.test' '<250-STARTTLS' '>QUIT' '<^221'
ok "STARTTLS with an argument: 501" smtpchat 127.0.0.1 25 '<^220 ' '>EHLO c.test' '<^250' '>STARTTLS now' '<^501 ' '>QUIT' '<^221'
ok "after STARTTLS: no STARTTLS in EHLO, STARTTLS again is 503" \
  smtpchat 127.0.0.1 25 '<^220 ' '>EHLO c.test' '<^250' '>STARTTLS' '<^220 ready for tls' "tls:$CA" \
  '>EHLO c.test' '!STARTTLS' '>STARTTLS' '<^503 ' '>QUIT' '<^221'
ok "HELO/MAIL forgotten after STARTTLS (RCPT right after: 503 MAIL first)" \
  smtpchat 127.0.0.1 25 '<^220 ' '>EHLO c.test' '<^250' '>MAIL FROM:<a@example.org>' '<^250' \
  '>STARTTLS' '<^220' "tls:$CA" '>RCPT TO:<rcpt@test.example>' '<^503 MAIL first' '>QUIT' '<^221'
ok "plaintext pipelined behind STARTTLS is discarded (CVE-2011-0411)" \
  smtpchat 127.0.0.1 25 '<^220 ' '>EHLO c.test' '<^250' '+STARTTLS' '>MAIL FROM:<evil@example.org>' \
  '<^220 ready for tls' "tls:$CA" '>RCPT TO:<rcpt@test.example>' '<^503 MAIL first' '>QUIT' '<^221'
ok "tlsserver without -n (port 465): no STARTTLS offered" \
  smtpchat 127.0.0.1 465 "tls:$CA" '<^220 ' '>EHLO c.test' '!STARTTLS' '>STARTTLS' '<^50[23] ' '>QUIT' '<^221'
ok "UCSPITLS=-: no STARTTLS offered, STARTTLS is 502" \
  smtpchat 127.0.0.1 2626 '<^220 ' '>EHLO c.test' '!STARTTLS' '>STARTTLS' '<^502 ' '>QUIT' '<^221'
ok "no tlsserver at all: behaves as unpatched (no STARTTLS, 502)" \
  smtpchat 127.0.0.1 2727 '<^220 ' '>EHLO c.test' '!STARTTLS' '>STARTTLS' '<^502 ' '>QUIT' '<^221'

# --- deliveries over STARTTLS and SMTPS
ok "swaks STARTTLS delivers" swaks_to 25 swaks-starttls --tls --tls-verify --tls-ca-path "$CA"
f=$(queued 'X-Tag: swaks-starttls')
like "$(received "$f")" "$ESMTPS" "Received: with ESMTPS (<cipher> encrypted) after STARTTLS"
like "$(received "$f")" '^Received: from .*\(127\.0\.0\.1\)' "Received: names the client IP"
file_like "$(ls "$Q"/queue-out/env.* | head -n 1)" '^Trcpt@test.example$' "envelope recipient queued"

ok "swaks SMTPS (port 465) delivers" swaks_to 465 swaks-smtps --tlsc --tls-verify --tls-ca-path "$CA"
like "$(received "$(queued 'X-Tag: swaks-smtps')")" "$ESMTPS" "Received: with ESMTPS when tlsserver did the handshake first"

printf 'EHLO c.test\nMAIL FROM:<a@example.org>\nRCPT TO:<rcpt@test.example>\nDATA\nX-Tag: s_client-starttls\n\nhi\n.\nQUIT\n' > "$W/s_client.in"
run_in "$W/s_client.in" sclient timeout 20 openssl s_client -connect 127.0.0.1:25 -starttls smtp \
  -CAfile "$CA" -verify_return_error -verify_hostname localhost -crlf -quiet
is "$RC" 0 "openssl s_client STARTTLS: exit 0"
file_like "$W/sclient.out" '^250 ok [0-9]+ qp [0-9]+' "openssl s_client STARTTLS: message accepted"
like "$(received "$(queued 'X-Tag: s_client-starttls')")" "$ESMTPS" "openssl s_client STARTTLS: Received with ESMTPS"

sed 's/s_client-starttls/s_client-smtps/' "$W/s_client.in" > "$W/s_client2.in"
run_in "$W/s_client2.in" sclient2 timeout 20 openssl s_client -connect 127.0.0.1:465 \
  -CAfile "$CA" -verify_return_error -verify_hostname localhost -crlf -quiet
file_like "$W/sclient2.out" '^250 ok [0-9]+ qp [0-9]+' "openssl s_client SMTPS: message accepted"
like "$(received "$(queued 'X-Tag: s_client-smtps')")" "$ESMTPS" "openssl s_client SMTPS: Received with ESMTPS"

ok "Python smtplib STARTTLS delivers" "$PY" -c '
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
s.starttls(context=ssl.create_default_context(cafile=sys.argv[1]))
assert s.sendmail("a@example.org", ["rcpt@test.example"], "X-Tag: smtplib\r\n\r\nhi\r\n") == {}
s.quit()' "$CA"
like "$(received "$(queued 'X-Tag: smtplib')")" "$ESMTPS" "smtplib: Received with ESMTPS"

ok "plaintext delivery on 25 still works" swaks_to 25 plain-25
like "$(received "$(queued 'X-Tag: plain-25')")" 'with SMTP;' "plaintext: Received says with SMTP"

# --- UCSPITLS=!
ok "no SSLCTLFD, UCSPITLS=!: no STARTTLS offered, MAIL gets 530" \
  smtpchat 127.0.0.1 2728 '<^220 ' '>EHLO c.test' '!STARTTLS' '>MAIL FROM:<a@example.org>' '<^530 ' '>QUIT' '<^221'
ok "UCSPITLS=!: MAIL before STARTTLS gets 530" \
  smtpchat 127.0.0.1 587 '<^220 ' '>EHLO c.test' '<250-STARTTLS' '>MAIL FROM:<a@example.org>' '<^530 ' '>QUIT' '<^221'
ok "UCSPITLS=!: delivery after STARTTLS" swaks_to 587 required --tls --tls-ca-path "$CA"
like "$(received "$(queued 'X-Tag: required')")" "$ESMTPS" "UCSPITLS=!: Received with ESMTPS"

# --- relaying by client certificate (control/tlsclients)
relay_to() { # PORT TAG [swaks args]
  local port=$1 tag=$2; shift 2
  swaks -s 127.0.0.1 -p "$port" -f a@example.org -t someone@elsewhere.example \
    --header "X-Tag: $tag" --body hi "$@"
}
relay_run() { # NAME PORT TAG [swaks args]: like relay_to, output in $W/NAME.out
  local name=$1; shift
  relay_to "$@" >"$W/$name.out" 2>&1
}
ok "relay allowed: verified client certificate listed in tlsclients (any case)" \
  relay_to 25 relay-cert --tls --tls-ca-path "$CA" --tls-cert "$PKI/client.pem" --tls-key "$PKI/client.key"
like "$(received "$(queued 'X-Tag: relay-cert')")" "$ESMTPS \(cert client@test\.example\)" \
  "relay by certificate noted as (cert <email>) in Received"
ok "relay allowed over SMTPS too" \
  relay_to 465 relay-cert-465 --tlsc --tls-ca-path "$CA" --tls-cert "$PKI/client.pem" --tls-key "$PKI/client.key"

relay_run relay1 25 relay-nocert --tls --tls-ca-path "$CA"
file_like "$W/relay1.out" '553 sorry, that domain isn.t in my list of allowed rcpthosts; no valid cert for gatewaying: no client certificate \(#5\.7\.1\)' \
  "relay refused without certificate, 553 says why"
relay_run relay2 25 relay-self --tls --tls-ca-path "$CA" --tls-cert "$PKI/selfclient.pem" --tls-key "$PKI/selfclient.key"
file_like "$W/relay2.out" '553 .*; no valid cert for gatewaying: FAILED' "relay refused: unverifiable certificate (FAILED:...)"
relay_run relay3 25 relay-san --tls --tls-ca-path "$CA" --tls-cert "$PKI/clientsan.pem" --tls-key "$PKI/clientsan.key"
file_like "$W/relay3.out" '553 .*; no valid cert for gatewaying: san@test\.example not in control/tlsclients' \
  "relay refused: certificate e-mail (from subjectAltName) not in tlsclients"
relay_run relay4 25 relay-plain
file_like "$W/relay4.out" "553 sorry, that domain isn.t in my list of allowed rcpthosts \(#5\.7\.1\)" \
  "relay refused in plaintext: stock 553, no certificate talk"
is "$(queued 'X-Tag: relay-(nocert|self|san|plain)')" "" "no refused relay message was queued"

# --- tcprules per client, as doc/qmail.md shows: SMTPS, TLSCIPHERS, UCSPITLS
if have tcprules; then
  printf '127.0.0.1:allow,SMTPS="1"\n:allow\n' | tcprules "$W/smtps.cdb" "$W/smtps.tmp"
  printf '127.:allow,TLSCIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256",TLSPROTOCOLS="tlsv1.2",UCSPITLS="!"\n:allow\n' |
    tcprules "$W/ciphers.cdb" "$W/ciphers.tmp"
  TCPSERVER_OPTS="-x $W/smtps.cdb" serve rules-smtps 2801 "$TLSSERVER" -n "$QMAIL_SMTPD"
  TCPSERVER_OPTS="-x $W/ciphers.cdb" serve rules-ciphers 2802 "$TLSSERVER" -n "$QMAIL_SMTPD"
  ok "tcprules SMTPS=\"1\" on a tlsserver -n service: implicit TLS" swaks_to 2801 rules-smtps --tlsc --tls-ca-path "$CA"
  like "$(received "$(queued 'X-Tag: rules-smtps')")" "$ESMTPS" "tcprules SMTPS: Received with ESMTPS"
  ok "tcprules UCSPITLS=\"!\" per client: 530 before STARTTLS" \
    smtpchat 127.0.0.1 2802 '<^220 ' '>EHLO c.test' '<250-STARTTLS' '>MAIL FROM:<a@example.org>' '<^530 ' '>QUIT' '<^221'
  ok "tcprules TLSCIPHERS/TLSPROTOCOLS per client: delivery" swaks_to 2802 rules-ciphers --tls --tls-ca-path "$CA"
  like "$(received "$(queued 'X-Tag: rules-ciphers')")" 'with ESMTPS \(ECDHE-ECDSA-AES128-GCM-SHA256 encrypted\)' \
    "tcprules TLSCIPHERS: that cipher in Received"
else
  skip_n 5 "tcprules not installed"
fi

# --- the documented run script under svscan with multilog and an envdir:
# tcpserver as root, engine drops to TLS_UID/TLS_GID, qmail-smtpd under setuidgid
if have svscan && have multilog && have envdir && have setuidgid && have svc; then
  S=$W/service
  mkdir -p "$S/smtpd/env" "$S/smtpd/log"
  echo "$PKI/servercert.pem" > "$S/smtpd/env/CERTFILE"
  echo 65534 > "$S/smtpd/env/TLS_UID"; echo 65534 > "$S/smtpd/env/TLS_GID"
  echo 'ECDHE+AESGCM' > "$S/smtpd/env/TLSCIPHERS"; echo tlsv1.2 > "$S/smtpd/env/TLSPROTOCOLS"
  printf '#!/bin/sh\nexec 2>&1\nexec envdir ./env tcpserver -v -R -l mx.qmail.test 127.0.0.1 2900 %s -n setuidgid nobody %s\n' \
    "$TLSSERVER" "$QMAIL_SMTPD" > "$S/smtpd/run"
  printf '#!/bin/sh\nexec multilog t ./main\n' > "$S/smtpd/log/run"
  chmod 755 "$S/smtpd/run" "$S/smtpd/log/run"
  spawn svscan svscan "$S"; SVSCAN=$SPAWN_PID
  if wait_port 2900 10; then
    ok "run script under svscan: STARTTLS delivery" swaks_to 2900 svscan --tls --tls-ca-path "$CA"
    like "$(received "$(queued 'X-Tag: svscan')")" 'with ESMTPS \(ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384) encrypted\)' \
      "envdir TLSCIPHERS/TLSPROTOCOLS: a TLS 1.2 ECDHE-ECDSA AES-GCM cipher in Received"
    wait_until 5 grep -q 'tlsserver: info: done' "$S/smtpd/log/main/current"
    file_like "$S/smtpd/log/main/current" '^@[0-9a-f]{24} tlsserver: info: done .*proto=TLSv1\.2 ' "multilog has tlsserver's session line"
  else
    fail "run script under svscan: STARTTLS delivery" "nothing listens on 2900"; skip_n 2 "no service"
    diag_file "$S/smtpd/log/main/current"
  fi
  stop "$SVSCAN"
  svc -dx "$S/smtpd" "$S/smtpd/log" 2>/dev/null
  wait_until 5 sh -c "! svok '$S/smtpd' && ! svok '$S/smtpd/log'"
else
  skip_n 3 "daemontools not installed"
fi

# --- Postfix's smtp client as the sender, STARTTLS and SMTPS
if have postfix; then
  P=$W/pf
  if pf_start "$P" '127.0.0.1:2525 inet n - n - - smtpd -o smtpd_tls_security_level=none' \
      "transport_maps = inline:{ out.test.example=smtp:[127.0.0.1]:2600, smtps.test.example=smtps:[127.0.0.1]:465 }
smtp_tls_security_level = encrypt"; then
    wait_port 2525
    echo 'out.test.example' >> "$Q/control/rcpthosts"
    echo 'smtps.test.example' >> "$Q/control/rcpthosts"
    swaks -s 127.0.0.1 -p 2525 -f a@example.org -t x@out.test.example --header 'X-Tag: postfix-starttls' --body hi >"$W/pf1.log" 2>&1
    swaks -s 127.0.0.1 -p 2525 -f a@example.org -t x@smtps.test.example --header 'X-Tag: postfix-smtps' --body hi >"$W/pf2.log" 2>&1
    if wait_queued 15 'X-Tag: postfix-starttls'; then pass "Postfix smtp client delivered over STARTTLS"
    else fail "Postfix smtp client delivered over STARTTLS"; diag_file "$P/maillog"; fi
    like "$(received "$(queued 'X-Tag: postfix-starttls')")" "$ESMTPS" "Postfix STARTTLS: Received with ESMTPS"
    file_like "$P/maillog" 'TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:2600' "Postfix log: TLS to the STARTTLS port"
    if wait_queued 15 'X-Tag: postfix-smtps'; then pass "Postfix smtp client delivered over SMTPS (wrapper mode)"
    else fail "Postfix smtp client delivered over SMTPS (wrapper mode)"; diag_file "$P/maillog"; fi
    like "$(received "$(queued 'X-Tag: postfix-smtps')")" "$ESMTPS" "Postfix SMTPS: Received with ESMTPS"
    file_like "$P/maillog" 'relay=127\.0\.0\.1\[127\.0\.0\.1\]:465, .*status=sent' "Postfix log: sent to port 465"
  else
    fail "private Postfix started"
  fi
else
  skip_n 6 "postfix not installed"
fi

file_unlike "$W/starttls.err" 'fatal' "no fatal line from tlsserver on 25"
done_testing

#!/bin/bash
# Patched qmail-remote (src/qmail/*.patch) under the wrapper
# `tlsclient -n qmail-remote ...` (late-socket mode) delivering to a private
# Postfix: opportunistic TLS, verification through control/tlshosts/<FQDN>.pem,
# the deferrals of qmail-tls, notlshosts and exhaustivelist, port 465, client
# certificate and ciphers from the wrapper's environment, and plain
# qmail-remote without the wrapper. Needs QMAIL_REMOTE and QMAIL_HOME.
. "$(dirname "$0")/../lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"
need_qmail QMAIL_REMOTE QMAIL_HOME
need_bins tlsclient
need_cmds postfix tcpserver
pki_setup
qhome_setup
# The MX is 127.0.0.2: qmail-remote refuses to deliver to an MX that is one
# of its own interface addresses (127.0.0.1 on lo), 127.0.0.2 is not one.
# twomx.example: the primary MX (127.0.0.4) breaks every TLS handshake, the
# backup (127.0.0.3) is Postfix.
fakedns_start 'localhost A 127.0.0.2
viamx.example MX 10 localhost
wrongname.test A 127.0.0.2
twomx.example MX 10 mx1.twomx.example
twomx.example MX 20 mx2.twomx.example
mx1.twomx.example A 127.0.0.4
mx2.twomx.example A 127.0.0.3'
echo mx.qmail.test > "$Q/control/helohost"

P=$W/pf
pf_start "$P" '127.0.0.2:25 inet n - n - - smtpd
127.0.0.2:465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
127.0.0.2:587 inet n - n - - smtpd -o smtpd_tls_security_level=none
127.0.0.3:25 inet n - n - - smtpd' '' || bail_out "private Postfix did not start"
wait_port 25 && wait_port 465 && wait_port 587 || bail_out "Postfix ports not up"

# A server that offers STARTTLS and refuses it, then takes mail in plaintext.
cat > "$W/refuser" <<'EOF'
#!/bin/bash
printf '220 refuser ESMTP\r\n'
while IFS= read -r l; do
  l=${l%$'\r'}
  case ${l^^} in
    EHLO*) printf '250-refuser\r\n250-STARTTLS\r\n250 8BITMIME\r\n' ;;
    STARTTLS) printf '454 4.7.0 TLS not available due to local problem\r\n' ;;
    DATA) printf '354 go\r\n'
          while IFS= read -r l && [ "${l%$'\r'}" != . ]; do echo "$l"; done >> "$0.mail"
          printf '250 accepted\r\n' ;;
    QUIT) printf '221 bye\r\n'; exit 0 ;;
    *) printf '250 ok\r\n' ;;
  esac
done
EOF
chmod 755 "$W/refuser"
spawn refuser tcpserver -RHl0 127.0.0.2 2600 "$W/refuser"
wait_port 2600 || bail_out "no refuser on 2600"
# A server that says 220 to STARTTLS, then answers the ClientHello with text.
cat > "$W/breaker" <<'BRK'
#!/bin/bash
printf '220 breaker ESMTP\r\n'
while IFS= read -r -t 10 l; do
  case ${l^^} in
    EHLO*) printf '250-breaker\r\n250 STARTTLS\r\n' ;;
    STARTTLS*) printf '220 go ahead\r\nthis is not TLS\r\n'; exit 0 ;;
    *) printf '250 ok\r\n' ;;
  esac
done
BRK
chmod 755 "$W/breaker"
spawn breaker tcpserver -RHl0 127.0.0.4 25 "$W/breaker"
wait_until 5 sh -c "ss -Hltn 'sport = :25' | grep -q 127.0.0.4" || bail_out "no breaker on 127.0.0.4:25"

# remote NAME HOST TAG [env...]: one delivery through the wrapper; the
# report (NULs as newlines) in $W/NAME.report, exit status in RC
remote() {
  local name=$1 host=$2 tag=$3; shift 3
  printf 'From: a@example.org\nX-Tag: %s\n\nhi\n' "$tag" > "$W/$name.msg"
  run_in "$W/$name.msg" "$name" env "$@" "$TLSCLIENT" -n "$QMAIL_REMOTE" "$host" a@example.org rcpt@test.example
  tr '\0' '\n' < "$W/$name.out" > "$W/$name.report"
}
plain_remote() { # like remote, without the wrapper
  local name=$1 host=$2 tag=$3; shift 3
  printf 'From: a@example.org\nX-Tag: %s\n\nhi\n' "$tag" > "$W/$name.msg"
  run_in "$W/$name.msg" "$name" "$QMAIL_REMOTE" "$host" a@example.org rcpt@test.example
  tr '\0' '\n' < "$W/$name.out" > "$W/$name.report"
}
arrived() { wait_until 10 pf_delivered "$P" "X-Tag: $1"; }
pf_received() { # TAG: Postfix's Received header of that message, one line
  local f; f=$(pf_delivered "$P" "X-Tag: $1") || return 0
  sed -n '/^Received:/{:a;N;/\n[^ \t]/!ba;p;q}' "$f" | head -n -1 | tr -s '\n\t ' ' '
}
ctl() { rm -rf "$Q/control/tlshosts" "$Q/control/notlshosts" "$Q/control/smtproutes"; mkdir -p "$Q/control/tlshosts" "$Q/control/notlshosts"; }

# --- opportunistic (no file names the host): MX lookup, TLS, not verified
ctl
remote opp viamx.example opp
is "$RC" 0 "opportunistic: the wrapper exits 0"
file_like "$W/opp.report" '^K127\.0\.0\.2 accepted message over TLSv1\.[23] ' "opportunistic: delivered, report says over TLS"
ok "opportunistic: message arrived" arrived opp
like "$(pf_received opp)" 'using TLSv1\.[23] with cipher .* with ESMTPS' "opportunistic: Postfix's Received shows TLS"

# --- required and verified: control/tlshosts/<MX name>.pem
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
remote ver viamx.example verified
file_like "$W/ver.report" '^K127\.0\.0\.2 accepted message over TLSv1\.[23] .*verify=SUCCESS' "tlshosts/<MX>.pem: delivered, server verified"
ok "tlshosts/<MX>.pem: message arrived" arrived verified

ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
printf 'route.example:LocalHost:25\n' > "$Q/control/smtproutes"
remote route route.example routed
file_like "$W/route.report" 'verify=SUCCESS' "smtproutes host name (any case) is the name verified against tlshosts/"

# --- verification failures defer, nothing is sent
ctl; cp "$PKI/wrongca.pem" "$Q/control/tlshosts/localhost.pem"
remote wrongca viamx.example wrongca
file_like "$W/wrongca.report" '^ZTLS connect failed: .+; connected to 127\.0\.0\.2\.$' "untrusted server certificate: ZTLS connect failed: <why>"
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/wrongname.test.pem"
printf 'mismatch.example:wrongname.test:25\n' > "$Q/control/smtproutes"
remote mismatch mismatch.example mismatch
file_like "$W/mismatch.report" '^ZTLS connect failed: ' "name not in the server certificate: ZTLS connect failed"
sleep 1
is "$(pf_delivered "$P" 'X-Tag: (wrongca|mismatch)')" "" "nothing delivered after a failed verification"

# --- required but no TLS
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
printf 'notls.example:localhost:587\n' > "$Q/control/smtproutes"
remote notls notls.example notls
file_like "$W/notls.report" '^ZNo TLS achieved while control/tlshosts/localhost\.pem exists; connected to 127\.0\.0\.2\.$' \
  "STARTTLS not offered: ZNo TLS achieved while <file> exists"
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
printf 'refuse.example:localhost:2600\n' > "$Q/control/smtproutes"
remote refused refuse.example refused
file_like "$W/refused.report" '^ZSTARTTLS rejected while control/tlshosts/localhost\.pem exists; connected to 127\.0\.0\.2\.$' \
  "STARTTLS refused: ZSTARTTLS rejected while <file> exists"
file_like "$W/refused.report" '^Remote host said: 454 ' "STARTTLS refused: the server's reply is in the report"
ctl; printf 'refuse.example:localhost:2600\n' > "$Q/control/smtproutes"
remote refused2 refuse.example refused-opp
file_like "$W/refused2.report" '^K127\.0\.0\.2 accepted message\.$' "opportunistic, STARTTLS refused: delivered in plaintext"

# --- no TLS by configuration
ctl; touch "$Q/control/notlshosts/localhost"
remote notlshosts viamx.example notlshosts
file_like "$W/notlshosts.report" '^K127\.0\.0\.2 accepted message\.$' "notlshosts/<FQDN>: delivered without TLS"
ok "notlshosts: message arrived" arrived notlshosts
unlike "$(pf_received notlshosts)" 'using TLS|ESMTPS' "notlshosts: Postfix's Received shows no TLS"
ctl; touch "$Q/control/tlshosts/exhaustivelist"
remote exhaustive viamx.example exhaustive
file_like "$W/exhaustive.report" '^K127\.0\.0\.2 accepted message\.$' "tlshosts/exhaustivelist: delivered without TLS"
ok "exhaustivelist: message arrived" arrived exhaustive
ctl; touch "$Q/control/tlshosts/exhaustivelist"; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
remote exhaustive2 viamx.example exhaustive2
file_like "$W/exhaustive2.report" 'verify=SUCCESS' "exhaustivelist: hosts listed in tlshosts/ still get verified TLS"

# --- IP literal: files skipped, opportunistic
ctl; cp "$PKI/wrongca.pem" "$Q/control/tlshosts/127.0.0.2.pem"; touch "$Q/control/notlshosts/127.0.0.2"
printf 'iplit.example:127.0.0.2:25\n' > "$Q/control/smtproutes"
remote iplit iplit.example iplit
file_like "$W/iplit.report" '^K127\.0\.0\.2 accepted message over TLS' "IP literal: tlshosts/notlshosts skipped, opportunistic TLS"

# --- port 465: TLS right after connect
ctl; printf 'smtps.example:localhost:465\n' > "$Q/control/smtproutes"
remote smtps smtps.example smtps
file_like "$W/smtps.report" '^K127\.0\.0\.2 accepted message over TLS' "port 465: implicit TLS, delivered"
ok "port 465: message arrived" arrived smtps
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"; printf 'smtps.example:localhost:465\n' > "$Q/control/smtproutes"
remote smtps2 smtps.example smtps2
file_like "$W/smtps2.report" 'over TLS.*verify=SUCCESS' "port 465 with tlshosts/<FQDN>.pem: verified"

# --- the wrapper's environment: client certificate and ciphers
ctl
remote ccert viamx.example ccert CERTFILE="$PKI/client.pem" KEYFILE="$PKI/client.key"
ok "client certificate (clientcert.pem -> CERTFILE): message arrived" arrived ccert
file_like "$P/maillog" 'Trusted TLS connection established from localhost\[127\.0\.0\.1\]' "Postfix saw a verified client certificate"
remote ciphers viamx.example ciphers TLSPROTOCOLS=tlsv1.2 TLSCIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256
file_like "$W/ciphers.report" 'over TLSv1\.2 ECDHE-ECDSA-AES128-GCM-SHA256' "TLSCIPHERS/TLSPROTOCOLS (tlsclientciphers) honoured"

# --- the QMAILREMOTE wrapper exactly as doc/qmail.md prints it (paths adapted):
# clientcert.pem -> CERTFILE, tlsclientciphers -> TLSCIPHERS, failures -> 111
sed -n '/^`\/var\/qmail\/bin\/qmail-remote-tls`/,/^```$/{/^```sh$/,/^```$/p}' "$TOP/doc/qmail.md" | sed '1d;$d' |
  sed "s#/usr/local/bin/tlsclient#$TLSCLIENT#; s#/var/qmail/bin/qmail-remote #$QMAIL_REMOTE #; s#^C=/var/qmail/control#C=$QMAIL_HOME/control#" \
  > "$W/qmail-remote-tls"
chmod 755 "$W/qmail-remote-tls"
if grep -q "^$TLSCLIENT -n $QMAIL_REMOTE " "$W/qmail-remote-tls"; then
  wrapped() { # NAME TAG [env...]
    local name=$1 tag=$2; shift 2
    printf 'From: a@example.org\nX-Tag: %s\n\nhi\n' "$tag" > "$W/$name.msg"
    run_in "$W/$name.msg" "$name" env "$@" "$W/qmail-remote-tls" viamx.example a@example.org rcpt@test.example
    tr '\0' '\n' < "$W/$name.out" > "$W/$name.report"
  }
  ctl; cat "$PKI/client.pem" "$PKI/client.key" > "$Q/control/clientcert.pem"
  printf 'ECDHE-ECDSA-CHACHA20-POLY1305\n# comment\nECDHE-ECDSA-AES128-GCM-SHA256\n' > "$Q/control/tlsclientciphers"
  n0=$(count_lines "$P/maillog" 'Trusted TLS connection established from')
  wrapped wrap1 wrapper TLSPROTOCOLS=tlsv1.2
  is "$RC" 0 "doc's wrapper: exit 0"
  file_like "$W/wrap1.report" 'over TLSv1\.2 ECDHE-ECDSA-(CHACHA20-POLY1305|AES128-GCM-SHA256) ' \
    "doc's wrapper: control/tlsclientciphers lines joined into TLSCIPHERS"
  ok "doc's wrapper: message arrived" arrived wrapper
  num_cmp "$(count_lines "$P/maillog" 'Trusted TLS connection established from')" -gt "$n0" \
    "doc's wrapper: control/clientcert.pem presented as client certificate"
  echo garbage > "$Q/control/clientcert.pem"
  wrapped wrap2 wrapper-bad
  # the refusal reaches qmail-remote as SSL_ERROR: TLS was only
  # opportunistic here, so the message goes in plaintext, saying why
  is "$RC" 0 "doc's wrapper: tlsclient refusing its configuration: qmail-remote still runs (exit 0, never a bounce)"
  file_like "$W/wrap2.report" 'configuration refused' "doc's wrapper: the delivery report names the refused configuration"
  rm -f "$Q/control/clientcert.pem" "$Q/control/tlsclientciphers"
else
  fail "doc/qmail.md's QMAILREMOTE wrapper found and adapted" "$(cat "$W/qmail-remote-tls")"
  skip_n 4 "no wrapper"
fi

# --- the primary MX's handshake fails: opportunistic TLS tries the next MX
# (without TLS: the engine serves one connection); required TLS defers
ctl
remote nextmx twomx.example nextmx
file_like "$W/nextmx.report" '^K127\.0\.0\.3 accepted message without TLS, as TLS connect failed with 127\.0\.0\.4: .+\.$' \
  "opportunistic, primary MX's handshake fails: the next MX takes it, the report names the failed MX and why"
ok "opportunistic, primary MX's handshake fails: message arrived at the backup" arrived nextmx
unlike "$(pf_received nextmx)" 'using TLS|ESMTPS' "the backup MX was used without TLS"
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/mx1.twomx.example.pem"
remote nextmxreq twomx.example nextmx-required
file_like "$W/nextmxreq.report" '^ZTLS connect failed: .+; connected to 127\.0\.0\.4\.$' \
  "tlshosts/<primary>.pem, its handshake fails: deferral, the backup is not tried"
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/mx2.twomx.example.pem"
remote nextmxreq2 twomx.example nextmx-backup-required
file_like "$W/nextmxreq2.report" '^ZTLS connect failed: .+; connected to 127\.0\.0\.4\.$' \
  "primary fails, tlshosts/<backup>.pem: deferral naming the primary's failure, no plain text to the backup"
sleep 1
is "$(pf_delivered "$P" 'X-Tag: nextmx-(required|backup-required)')" "" "nothing delivered where TLS was required"

# --- a configuration refusal the engine reports as SSL_ERROR (late socket);
# refusing-engine.py plays the engine's part of the protocol for it
REFUSAL='configuration refused: unable to read certificate /nonexistent/clientcert.pem: No such file or directory'
refused_remote() { # NAME HOST TAG
  printf 'From: a@example.org\nX-Tag: %s\n\nhi\n' "$3" > "$W/$1.msg"
  run_in "$W/$1.msg" "$1" "$PY" "$QTEST/refusing-engine.py" "$REFUSAL" "$QMAIL_REMOTE" "$2" a@example.org rcpt@test.example
  tr '\0' '\n' < "$W/$1.out" > "$W/$1.report"
}
ctl
refused_remote cfgopp viamx.example cfg-opportunistic
file_like "$W/cfgopp.report" '^K127\.0\.0\.2 accepted message without TLS, as TLS configuration refused: unable to read certificate .+\.$' \
  "opportunistic, engine refused its configuration: delivered as without STARTTLS, the report says why"
ok "opportunistic, configuration refused: message arrived" arrived cfg-opportunistic
unlike "$(pf_received cfg-opportunistic)" 'using TLS|ESMTPS' "configuration refused: the message went without TLS"
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
refused_remote cfgreq viamx.example cfg-required
file_like "$W/cfgreq.report" '^ZTLS configuration refused: unable to read certificate .+; connected to 127\.0\.0\.2\.$' \
  "tlshosts/<MX>.pem, engine refused its configuration: ZTLS configuration refused: <why>"
sleep 1
is "$(pf_delivered "$P" 'X-Tag: cfg-required')" "" "configuration refused where TLS is required: nothing delivered"

# --- without the wrapper: exactly the unpatched program (HELO, no TLS)
ctl; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
plain_remote bare viamx.example bare
file_like "$W/bare.report" '^K127\.0\.0\.2 accepted message\.$' "no SSLCTLFD: delivered as by the unpatched qmail-remote"
ok "no SSLCTLFD: message arrived" arrived bare
like "$(pf_received bare)" 'with SMTP id' "no SSLCTLFD: HELO, plaintext (Postfix: with SMTP)"

done_testing

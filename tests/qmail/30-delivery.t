#!/bin/bash
# The whole chain on an installed qmail (make check-qmail): swaks sends over
# STARTTLS to tcpserver + tlsserver -n + the patched qmail-smtpd, the real
# qmail-queue queues it, qmail-send (under svscan, multilog) hands it to
# qmail-rspawn, which runs the qmail-remote wrapper of doc/qmail.md
# (QMAILREMOTE on notqmail, bin/qmail-remote on netqmail): tlsclient -n with
# the late socket, verified TLS (control/tlshosts/<MX>.pem) and a client
# certificate (control/clientcert.pem) into a private Postfix. Then the
# failure paths through the same chain: a wrong CA, a server that stalls the
# handshake, a wrapper configuration mistake. Each must stay queued as a
# deferral with its reason in qmail-send's log; none may bounce.
. "$(dirname "$0")/../lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"
need_qmail QMAIL_HOME
need_installed
need_bins tlsserver tlsclient
need_cmds postfix tcpserver swaks
pki_setup
qinst_setup
C=$Q/control
printf 'test.example\nstall.example\n' >> "$C/rcpthosts"
# The MX is 127.0.0.2: qmail-remote refuses an MX that is one of its own
# addresses (127.0.0.1 is lo's).
fakedns_start 'localhost A 127.0.0.2
test.example MX 10 localhost'
echo mx.qmail.test > "$C/helohost"
cp "$PKI/ca.pem" "$C/tlshosts/localhost.pem"
cat "$PKI/client.pem" "$PKI/client.key" > "$C/clientcert.pem"
chown qmailr "$C/clientcert.pem"; chmod 400 "$C/clientcert.pem"

P=$W/pf
pf_start "$P" '127.0.0.2:25 inet n - n - - smtpd' '' || bail_out "private Postfix did not start"
wait_port 25 || bail_out "Postfix port not up"

# The stalling server: offers STARTTLS, says 220, then never answers the
# ClientHello (it only waits for the client to give up).
cat > "$W/staller" <<'EOF'
#!/bin/bash
printf '220 staller ESMTP\r\n'
while IFS= read -r -t 20 l; do
  case ${l^^} in
    EHLO*) printf '250-staller\r\n250 STARTTLS\r\n' ;;
    STARTTLS*) printf '220 go ahead\r\n'; exec timeout 20 cat > /dev/null ;;
    *) printf '250 ok\r\n' ;;
  esac
done
EOF
chmod 755 "$W/staller"
spawn staller tcpserver -RHl0 127.0.0.2 2600 "$W/staller"
wait_port 2600 || bail_out "no staller on 2600"

# The engine's handshake deadline (-K, 60 s by default) shortened for the
# stalling server; otherwise the wrapper is the one doc/qmail.md prints.
ok "the qmail-remote wrapper of doc/qmail.md installed ($(qmail_flavour))" wrapper_install "s#^$TLSCLIENT -n #$TLSCLIENT -K 2000 -n #"

# The inbound side, as doc/qmail.md's run script (engine as root here).
CERTFILE=$PKI/servercert.pem spawn smtpd tcpserver -v -RH -l mx.qmail.test 127.0.0.1 25 \
  "$TLSSERVER" -n setuidgid qmaild "$QMAIL_HOME/bin/qmail-smtpd"
wait_port 25 || bail_out "no qmail-smtpd on 25"
qsend_start || { diag_file "$QLOG"; bail_out "qmail-send did not start"; }
pass "qmail-send runs under svscan"

send() { # TAG RCPT: swaks over STARTTLS into qmail-smtpd
  swaks -s 127.0.0.1 -p 25 --tls --tls-verify --tls-ca-path "$PKI/ca.pem" \
    -f a@example.org -t "$2" --header "X-Tag: $1" --body "hello $1" > "$W/swaks.$1.log" 2>&1
}
# Only the log written since deliver() began counts: delivery numbers start
# again at 1 when qmail-send restarts.
newlog() { tail -n +"$((LOG0 + 1))" "$QLOG"; }
deliver() { # TAG RCPT: send, then wait for the result of its first delivery
  LOG0=$(wc -l < "$QLOG")
  ok "$1: swaks delivers over STARTTLS into qmail-smtpd" send "$1" "$2" || diag_file "$W/swaks.$1.log"
  wait_until 10 sh -c "tail -n +$((LOG0 + 1)) '$QLOG' | grep -q ' new msg '"
  MSG=$(newlog | sed -n 's/.* new msg \([0-9]*\)$/\1/p' | tail -n 1)
  wait_until 10 sh -c "tail -n +$((LOG0 + 1)) '$QLOG' | grep -q 'starting delivery [0-9]*: msg $MSG to remote'"
  DLV=$(newlog | sed -n "s/.*starting delivery \([0-9]*\): msg $MSG to remote .*/\1/p" | tail -n 1)
  wait_until 15 sh -c "tail -n +$((LOG0 + 1)) '$QLOG' | grep -Eq 'delivery $DLV: (success|deferral|failure):'"
  OUT=$(newlog | grep -E "delivery $DLV: (success|deferral|failure):" | tail -n 1 | sed 's/^@[0-9a-f]* //')
}
held() { # MSG: still queued, never bounced
  local m=$1
  ok "$2: message $m still in the queue" test -n "$(find "$Q/queue/mess" -name "$m" -type f)"
  file_unlike "$QLOG" "bounce msg $m|delivery [0-9]+: failure:" "$2: no bounce, no permanent failure"
}

# --- verified TLS with a client certificate, all the way
deliver e2e rcpt@test.example
like "$OUT" "^delivery $DLV: success: 127\.0\.0\.2_accepted_message_over_TLSv1\.[23]_[A-Z0-9_-]+_verify=SUCCESS\./Remote_host_said:_250_" \
  "qmail-send's log: success over verified TLS ($OUT)"
ok "qmail-send's log: end msg" qlog_wait 5 "end msg $MSG\$"
ok "Postfix delivered the message" wait_until 10 pf_delivered "$P" "X-Tag: e2e"
f=$(pf_delivered "$P" "X-Tag: e2e")
# the Received lines of both hops, unfolded (qmail-queue adds its own
# "invoked from network" line between them)
recv=$(sed -n '/^$/q;p' "$f" | sed -e ':a;N;$!ba;s/\n[ \t]\+/ /g' | grep '^Received:')
pfr=$(printf '%s\n' "$recv" | grep '(Postfix)'); qmr=$(printf '%s\n' "$recv" | grep ' by mx\.qmail\.test with ')
like "$pfr" 'from mx\.qmail\.test .*\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ .*\(Client CN "client\.test", Issuer "Test CA" \(verified OK\)\).* by mx\.test\.example \(Postfix\) with ESMTPS' \
  "Postfix's Received: TLS, client certificate verified"
like "$qmr" '^Received: from unknown \(HELO [^)]*\) \(127\.0\.0\.1\) by mx\.qmail\.test with ESMTPS \((TLS_|ECDHE-)[A-Za-z0-9_-]+ encrypted\);' \
  "qmail-smtpd's Received: with ESMTPS (<cipher> encrypted)"
file_like "$P/maillog" 'Trusted TLS connection established from localhost\[127\.0\.0\.1\]' "Postfix's log: trusted client certificate"
file_like "$f" '^hello e2e' "the body arrived"
is "$(queue_count)" 0 "the queue is empty after the delivery"
note "transcript of the delivery:" "$recv" "$(grep -E "msg $MSG|delivery $DLV:" "$QLOG" | sed 's/^@[0-9a-f]* //')"

# --- wrong CA in tlshosts/<MX>.pem: deferral with the engine's reason
cp "$PKI/wrongca.pem" "$C/tlshosts/localhost.pem"
deliver wrongca rcpt@test.example
like "$OUT" "^delivery $DLV: deferral: TLS_connect_failed:_.*verif.*connected_to_127\.0\.0\.2\./" "wrong CA: deferral, reason in the log ($OUT)"
held "$MSG" "wrong CA"
cp "$PKI/ca.pem" "$C/tlshosts/localhost.pem"

# --- a server that stalls the handshake
printf 'stall.example:localhost:2600\n' > "$C/smtproutes"
deliver stall rcpt@stall.example
like "$OUT" "^delivery $DLV: deferral: TLS_connect_failed:_.*connected_to_127\.0\.0\.2\./" "stalled handshake: deferral, reason in the log ($OUT)"
held "$MSG" "stalled handshake"
rm -f "$C/smtproutes"

# --- a wrapper configuration mistake: a cipher string tlsclient refuses
echo 'NO-SUCH-CIPHER' > "$C/tlsclientciphers"
deliver badcipher rcpt@test.example
like "$OUT" "^delivery $DLV: deferral: " "bad tlsclientciphers: deferral ($OUT)"
held "$MSG" "bad tlsclientciphers"
like "$OUT" "TLS_configuration_refused|cipher" "bad tlsclientciphers: the reason is in qmail-send's log"
rm -f "$C/tlsclientciphers"

# --- another wrapper mistake: TLS_UID without TLS_GID in qmail-send's
# environment (the wrapper and tlsclient inherit it)
S=$W/service/qmail-send
sed -i 's#^exec env - #exec env - TLS_UID=65534 #' "$S/run"
n=$(grep -c 'status: local 0/' "$QLOG")
svc -t "$S"
wait_until 10 sh -c "[ \$(grep -c 'status: local 0/' '$QLOG') -gt $n ]"
deliver tlsuid rcpt@test.example
like "$OUT" "^delivery $DLV: deferral: " "TLS_UID without TLS_GID: deferral ($OUT)"
held "$MSG" "TLS_UID without TLS_GID"
like "$OUT" "TLS_configuration_refused|TLS_GID" "TLS_UID without TLS_GID: the reason is in qmail-send's log"

sleep 1
is "$(pf_delivered "$P" 'X-Tag: (wrongca|stall|badcipher|tlsuid)')" "" "none of the failed messages reached Postfix"
num_cmp "$(queue_count)" -eq 4 "the four deferred messages are queued"
file_unlike "$QLOG" 'bounce msg|failure:' "qmail-send's log: no bounce at all"

qsend_stop
done_testing

#!/bin/bash
# Resumption with Postfix on either side.
#   * Postfix's smtp client, with smtp_tls_session_cache_database, delivers
#     twice to `tcpserver ... tlsserver -n fixture-smtpd` (a ticket key
#     file): the second delivery logs a reused session, TLS 1.3 and 1.2;
#     the fixture's SSL_SESSION_RESUMED and the engine's resumed= agree
#   * tlsclient -n (two separate processes, TLS_SESSIONCACHE) into
#     Postfix's smtpd: the second session is resumed, TLS 1.3 and 1.2, with
#     descriptors from tcpclient and with a late socket (qmail-remote's way)
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"          # pf_start, pf_delivered
need_bins tlsserver tlsclient fixtures/fixture-smtpd fixtures/fixture-smtpc
need_cmds tcpserver tcpclient postfix swaks
need_root   # postfix starts as root and drops to its own users
pki_setup

SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
SMTPC=$UCSPI_TLS_BIN/fixtures/fixture-smtpc
mkdir -p "$W/spool"
export FIXTURE_LOG=$W/smtpd.log FIXTURE_SPOOL=$W/spool
{ openssl rand -hex 48; openssl rand -hex 48; } > "$W/keys"; chmod 600 "$W/keys"

TLS_TICKETKEYFILE=$W/keys serve srv13 2600 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD" \
  || bail_out "tcpserver did not start"
TLS_TICKETKEYFILE=$W/keys TLSPROTOCOLS=tlsv1.2 serve srv12 2601 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$SMTPD" \
  || bail_out "tcpserver did not start"

PF=$W/pf
pf_start "$PF" "127.0.0.1:2587 inet n - n - - smtpd -o smtpd_tls_security_level=none
127.0.0.1:25 inet n - n - - smtpd" "
transport_maps = inline:{ one.example=smtp:[127.0.0.1]:2600, two.example=smtp:[127.0.0.1]:2601 }
smtp_tls_security_level = encrypt
smtp_tls_session_cache_database = btree:$PF/data/smtp_scache
smtp_tls_loglevel = 2
smtp_tls_policy_maps = inline:{ {[127.0.0.1]:2600 = verify match=localhost}, {[127.0.0.1]:2601 = verify match=localhost} }
" || bail_out "postfix did not start"
wait_port 2587 || bail_out "postfix smtpd did not listen on 2587"
wait_port 25 || bail_out "postfix smtpd did not listen on 25"

# ------------------------------------------- Postfix's smtp client, twice
deliver() { # N DOMAIN: inject one message, wait until Postfix sent it
  run "inject$1" swaks -s 127.0.0.1 -p 2587 -f a@example.org -t "x$1@$2" --header "Subject: m$1" --body "message $1"
  wait_until 15 grep -q "to=<x$1@$2>.*status=sent" "$PF/maillog"
}
for v in 13 12; do
  dom=one.example port=2600
  [ "$v" = 12 ] && dom=two.example port=2601
  deliver "${v}a" "$dom"
  deliver "${v}b" "$dom"
  is "$(grep -c "to=<x${v}[ab]@$dom>.*status=sent" "$PF/maillog")" 2 "TLS 1.${v#1}: Postfix delivered both messages"
  file_like "$PF/maillog" "Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$port: TLSv1\.${v#1}" \
    "TLS 1.${v#1}: the first delivery made a new session"
  # (smtp_tls_loglevel 2: the cache lookups; "Reusing old session" is a resumed one)
  is "$(grep -c "127\.0\.0\.1\[127\.0\.0\.1\]:$port: Reusing old session" "$PF/maillog")" 1 \
    "TLS 1.${v#1}: Postfix logged a reused session for the second delivery only"
  wait_sessions "srv$v" 2 10
  is "$(logfield "$W/srv$v.err" resumed 2)" no "TLS 1.${v#1}: engine: the first session resumed=no"
  is "$(logfield "$W/srv$v.err" resumed)" yes "TLS 1.${v#1}: engine: the second session resumed=yes"
done
is "$(grep -c '^env SSL_SESSION_RESUMED=Resumed$' "$W/smtpd.log")" 2 "fixture-smtpd saw SSL_SESSION_RESUMED=Resumed twice"
is "$(grep -c '^env SSL_SESSION_RESUMED=Initial$' "$W/smtpd.log")" 2 "fixture-smtpd saw SSL_SESSION_RESUMED=Initial twice"

# ------------------------------------------- tlsclient into Postfix's smtpd
mkdir -m 700 "$W/cache"
for v in 13 12; do
  pe=(); [ "$v" = 12 ] && pe=(TLSPROTOCOLS=tlsv1.2)
  for n in 1 2; do
    run "c$v-$n" env TLS_SESSIONCACHE="$W/cache" "${pe[@]}" tcpclient -RHl0 -T 5 127.0.0.1 25 \
      "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" "$SMTPC" -o "$W/c$v-$n.rec" -t "c$v$n@test.example" -r
    is "$RC" 0 "TLS 1.${v#1}: tlsclient -n process $n into Postfix smtpd: exit 0"
  done
  is "$(logfield "$W/c$v-1.err" proto)" "TLSv1.${v#1}" "TLS 1.${v#1}: protocol"
  is "$(logfield "$W/c$v-1.err" resumed)" no "TLS 1.${v#1}: the first tlsclient made a new session"
  is "$(logfield "$W/c$v-2.err" resumed)" yes "TLS 1.${v#1}: the second tlsclient resumed it"
  file_like "$W/c$v-2.rec" '^env SSL_SESSION_RESUMED=Resumed$' "TLS 1.${v#1}: the program's Y reply says Resumed"
done
# the qmail-remote way: late socket (the program connects, then hands the
# socket over), stderr on /dev/null; the Y reply tells
mkdir -m 700 "$W/cache2"
for n in 1 2; do
  run "late-$n" env TLS_SESSIONCACHE="$W/cache2" "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:25 -h localhost -a "$PKI/ca.pem" \
    -o "$W/late-$n.rec" -t "late$n@test.example" -r
  is "$RC" 0 "late socket, process $n: exit 0"
done
file_like "$W/late-1.rec" '^env SSL_SESSION_RESUMED=Initial$' "late socket: the first session is Initial"
file_like "$W/late-2.rec" '^env SSL_SESSION_RESUMED=Resumed$' "late socket: a second tlsclient resumed it"
wait_until 10 sh -c "[ \$(grep -c 'status=sent' '$PF/maillog') -ge 10 ]"
like "$(grep -c 'to=<\(c1[23][12]\|late[12]\)@test.example>.*status=sent' "$PF/maillog")" '^6$' "Postfix stored the six messages tlsclient sent"

done_testing

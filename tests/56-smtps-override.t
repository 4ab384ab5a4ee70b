#!/bin/bash
# SMTPS override: tlsserver -n with SMTPS set and non-empty behaves as
# immediate mode (qmail-tls's per-connection switch), so one command line
# serves port 465 too, and tcprules can choose per client address.
# The program then starts inside TLS, without SSLCTLFD, with the SSL_*
# environment, and offers no STARTTLS. SMTPS set but empty changes nothing.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver fixtures/fixture-smtpd
need_cmds tcpserver tcprules swaks
pki_setup

smtp_fixtures
SRV=("$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key")
SWAKS=(swaks -s 127.0.0.1 --tls-verify --tls-ca-path "$PKI/ca.pem" -f a@example.org)
msg_for() { grep -l "^X-Fixture-Envelope: .*to=<$1>" "$W/spool"/msg.* 2>/dev/null | head -n 1; }

# -- SMTPS=1 in the environment
SMTPS=1 FIXTURE_LOG=$W/s1.smtpd serve s1 465 "${SRV[@]}" "$SMTPD" || bail_out "server s1"
run s1c "${SWAKS[@]}" -p 465 --tlsc -t s1@test.example
wait_sessions s1 1 10
is "$RC" 0 "SMTPS=1: swaks --tlsc (TLS on connect) succeeds"
file_like "$W/s1.smtpd" '^start pid=[0-9]+ ctl=0 encrypted=1 avail=0$' "SMTPS=1: the program starts inside TLS, no SSLCTLFD"
file_like "$W/s1.smtpd" '^env-start SSL_PROTOCOL=TLSv1\.3$' "SMTPS=1: SSL_PROTOCOL in the program's environment from the start"
file_unlike "$W/s1c.out" 'STARTTLS' "SMTPS=1: STARTTLS not offered"
M=$(msg_for s1@test.example)
file_like "${M:-$W/none}" '^X-Fixture-TLS: proto=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384 ' "SMTPS=1: message recorded inside TLS"
# (immediate mode: the session status is the engine's own: 0 clean or 2
# unclean when swaks closes or resets right after 221)
like "$(done_line "$W/s1.err")" 'proto=TLSv1\.3 .* close=(clean|unclean) status=[02] prog=0( |$)' "SMTPS=1: engine log: TLS 1.3, clean or unclean close, the program exited 0"
# a plaintext client gets nothing: the handshake fails before the program runs
run s1p "${SWAKS[@]}" -p 465 --timeout 3 -t plain@test.example
wait_sessions s1 2 10
isnt "$RC" 0 "SMTPS=1: a plaintext client fails"
is "$(grep -c '^start ' "$W/s1.smtpd")" 1 "SMTPS=1: the program never ran for the plaintext client"

# -- SMTPS set but empty: delayed mode as usual
SMTPS= FIXTURE_LOG=$W/s0.smtpd serve s0 25 "${SRV[@]}" "$SMTPD" || bail_out "server s0"
run s0c "${SWAKS[@]}" -p 25 --tls -t s0@test.example
wait_sessions s0 1 10
is "$RC" 0 "SMTPS empty: STARTTLS session succeeds"
file_like "$W/s0.smtpd" '^start pid=[0-9]+ ctl=1 encrypted=0 avail=1$' "SMTPS empty: delayed mode (SSLCTLFD set)"
file_like "$W/s0.smtpd" '^starttls mode=Y result=1 err=-$' "SMTPS empty: STARTTLS through the control socket"

# -- per client address from tcprules: 127.0.0.2 gets SMTPS, 127.0.0.1 STARTTLS
printf '127.0.0.2:allow,SMTPS="1"\n:allow\n' | tcprules "$W/rules.cdb" "$W/rules.tmp" || bail_out "tcprules"
TCPSERVER_OPTS="-x $W/rules.cdb" FIXTURE_LOG=$W/r.smtpd serve r 587 "${SRV[@]}" "$SMTPD" || bail_out "server r"
run r1 "${SWAKS[@]}" -p 587 --tls -t r1@test.example
wait_sessions r 1 10
is "$RC" 0 "tcprules: 127.0.0.1 does STARTTLS"
file_like "$W/r.smtpd" '^start pid=[0-9]+ ctl=1 encrypted=0 avail=1$' "tcprules: 127.0.0.1 got delayed mode"
run r2 "${SWAKS[@]}" -p 587 --tlsc --local-interface 127.0.0.2 -t r2@test.example
wait_sessions r 2 10
is "$RC" 0 "tcprules: 127.0.0.2 does TLS on connect"
file_like "$W/r.smtpd" '^start pid=[0-9]+ ctl=0 encrypted=1 avail=0$' "tcprules: SMTPS=\"1\" for 127.0.0.2 made it immediate"
M=$(msg_for r2@test.example)
file_like "${M:-$W/none}" '^X-Fixture-TLS: proto=TLSv1\.3 ' "tcprules: 127.0.0.2's message recorded inside TLS"

done_testing

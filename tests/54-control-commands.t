#!/bin/bash
# The UCSPI-TLS control commands, server side, one fixture-smtpd mode each
# (FIXTURE_MODE), with swaks as the peer:
#   y        TLS without a reply (the engine closes the control socket)
#   Ynoread  'Y' written, the reply never read, SSLCTLFD left open: the
#            engine must not block on it
#   Yclose   'Y' written and SSLCTLFD closed at once: the engine's reply
#            hits a closed socket, TLS must still work
#   decline  SSLCTLFD closed before any command: plaintext goes on,
#            the engine ends quietly (close=declined)
#   refuse   STARTTLS answered 454 after closing SSLCTLFD: plaintext goes on
#   unknown  an unknown command byte: the engine logs it, shuts the
#            connection down for both, the program sees its control socket
#            close, the engine waits for it and exits 99
. "$(dirname "$0")/lib.sh"
need_bins tlsserver fixtures/fixture-smtpd
need_cmds tcpserver swaks
pki_setup

smtp_fixtures
SRV=("$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key")
SWAKS=(swaks -s 127.0.0.1 --tls-verify --tls-ca-path "$PKI/ca.pem" -f a@example.org)

port=2500
# start_mode MODE: a server on its own port whose fixture runs in MODE
start_mode() {
  port=$((port + 1))
  FIXTURE_MODE=$1 FIXTURE_LOG=$W/$1.smtpd serve "$1" "$port" "${SRV[@]}" "$SMTPD" \
    || bail_out "tcpserver for mode $1 did not start"
}
msg_for() { grep -l "^X-Fixture-Envelope: .*to=<$1>" "$W/spool"/msg.* 2>/dev/null | head -n 1; }

# ---------------------------------------------------------------- y
start_mode y
run y "${SWAKS[@]}" -p "$port" --tls -t y@test.example
wait_sessions y 1 10
is "$RC" 0 "'y': swaks STARTTLS session succeeds"
file_like "$W/y.out" '=== TLS started with cipher TLSv1\.3' "'y': TLS 1.3 with the peer"
file_like "$W/y.smtpd" '^starttls mode=y result=sent$' "'y': the program sent y"
file_unlike "$W/y.smtpd" '^env SSL_PROTOCOL=' "'y': no variables reached the program"
file_like "$W/y.smtpd" '^cmd tls=1 RCPT TO:<y@test\.example>$' "'y': RCPT read from SSLREADFD"
M=$(msg_for y@test.example); file_like "${M:-$W/none}" '^X-Fixture-TLS: proto=- ' "'y': message stored (the program knew no protocol name)"
is "$(session_exits y)" 0 "'y': session exit status 0"
like "$(done_line "$W/y.err")" 'proto=TLSv1\.3 .*status=0' "'y': engine log shows the TLS session"

# ---------------------------------------------------------------- Ynoread
start_mode Ynoread
run ynr "${SWAKS[@]}" -p "$port" --tls -t ynr@test.example
wait_sessions Ynoread 1 10
is "$RC" 0 "'Y' never read: the session still works"
file_like "$W/Ynoread.smtpd" '^cmd tls=1 QUIT$' "'Y' never read: the program got to QUIT inside TLS"
is "$(session_exits Ynoread)" 0 "'Y' never read: session exit 0"
like "$(done_line "$W/Ynoread.err")" 'proto=TLSv1\.3 ' "'Y' never read: engine log line"

# ---------------------------------------------------------------- Yclose
start_mode Yclose
run ycl "${SWAKS[@]}" -p "$port" --tls -t ycl@test.example
wait_sessions Yclose 1 10
is "$RC" 0 "'Y' then SSLCTLFD closed: the session still works"
file_like "$W/Yclose.smtpd" '^cmd tls=1 QUIT$' "'Y' then close: QUIT inside TLS"
is "$(session_exits Yclose)" 0 "'Y' then close: session exit 0 (the engine survived the closed socket)"

# ---------------------------------------------------------------- decline
start_mode decline
run dec "${SWAKS[@]}" -p "$port" -t dec@test.example
wait_sessions decline 1 10
is "$RC" 0 "declined: plaintext SMTP session succeeds"
file_like "$W/decline.smtpd" '^declined$' "declined: the program closed SSLCTLFD"
file_like "$W/decline.smtpd" '^cmd tls=0 RCPT TO:<dec@test\.example>$' "declined: plaintext goes on"
file_unlike "$W/dec.out" 'STARTTLS' "declined: STARTTLS not offered"
is "$(session_exits decline)" 0 "declined: exit status is the program's (0)"
file_unlike "$W/decline.err" 'fatal|warning' "declined: no error logged"
like "$(done_line "$W/decline.err")" 'close=declined' "declined: the end-of-session line says close=declined (verbosity 1)"

# ---------------------------------------------------------------- refuse
start_mode refuse
run ref "${SWAKS[@]}" -p "$port" --tls-optional -t ref@test.example
wait_sessions refuse 1 10
is "$RC" 0 "refused (454 after closing SSLCTLFD): swaks --tls-optional goes on in plaintext"
file_like "$W/ref.out" '<\*\* +454 TLS not available|<~?\*? *454' "refused: swaks saw 454"
file_like "$W/refuse.smtpd" '^cmd tls=0 RCPT TO:<ref@test\.example>$' "refused: plaintext goes on"
is "$(session_exits refuse)" 0 "refused: exit status is the program's (0)"

# ---------------------------------------------------------------- unknown byte
start_mode unknown
run unk "${SWAKS[@]}" -p "$port" --tls -t unk@test.example
wait_sessions unknown 1 10
isnt "$RC" 0 "unknown byte: the peer's session fails"
file_like "$W/unknown.smtpd" '^starttls mode=unknown byte=0x51$' "unknown byte: the program sent 'Q'"
file_like "$W/unknown.smtpd" '^ctl-eof$' "unknown byte: the program saw its control socket close"
file_like "$W/unknown.err" 'tlsserver: fatal: unknown control command 0x51' "unknown byte: engine names the byte"
file_unlike "$W/unknown.smtpd" '^cmd tls=1 ' "unknown byte: nothing executed afterwards"
is "$(session_exits unknown)" 99 "unknown byte: the engine exits 99 (protocol error; the one exception to the program's status)"

# a NUL byte is unknown too
port=$((port + 1))
FIXTURE_MODE=unknown FIXTURE_BYTE=$'\x01' FIXTURE_LOG=$W/unk1.smtpd serve unk1 "$port" "${SRV[@]}" "$SMTPD" \
  || bail_out "tcpserver unk1 did not start"
run unk1c "${SWAKS[@]}" -p "$port" --tls -t unk1@test.example
wait_sessions unk1 1 10
file_like "$W/unk1.err" 'unknown control command 0x01' "byte 0x01: unknown command logged"

done_testing

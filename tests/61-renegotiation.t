#!/bin/bash
# Protocol abuse: renegotiation and key updates against tlsserver under
# tcpserver. A TLS 1.2 client-initiated renegotiation (openssl s_client, "R"
# on a line) must be refused: no second handshake, the session ends (the
# client gives up on the refusal), the engine logs one line and exits 4
# (close=error); nothing hangs. A TLS 1.3 KeyUpdate is not a renegotiation
# and must not disturb the session.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver openssl timeout
pki_setup

# prog: echo every line back (cat), and note that it saw EOF
cat > "$W/echo.sh" <<'EOS'
#!/bin/sh
cat
echo eof > "$1"
EOS
chmod +x "$W/echo.sh"

# A slow stdin for s_client: lines with pauses, then EOF.
feed() { # lines...
  local l
  for l in "$@"; do
    if [ "$l" = pause ]; then sleep 0.7; else printf '%s\n' "$l"; fi
  done
  sleep 0.7
}

# ------------------------------------------------------------ TLS 1.2 renegotiation
serve reneg 4461 "$TLSSERVER" -K 30000 -T 30000 -c "$PKI/server.pem" -k "$PKI/server.key" "$W/echo.sh" "$W/reneg.eof" \
  || bail_out "tcpserver did not start"
start=$(date +%s)
feed hello pause R pause after pause | timeout -k 2 20 openssl s_client -tls1_2 -connect 127.0.0.1:4461 \
  -servername localhost -CAfile "$PKI/ca.pem" >"$W/sc-reneg.out" 2>"$W/sc-reneg.err"
RC=$?
wait_sessions reneg 1 25 || diag "the session did not end"
end=$(date +%s)
isnt "$RC" 124 "s_client -tls1_2 with R: did not hang (ended by itself)"
cat "$W/sc-reneg.out" "$W/sc-reneg.err" > "$W/sc-reneg.all"
file_like "$W/sc-reneg.all" '^RENEGOTIATING' "s_client asked for a renegotiation"
file_like "$W/sc-reneg.all" 'no renegotiation' "the server refused it (no_renegotiation alert)"
file_like "$W/sc-reneg.out" '^hello$' "data before the attempt came back"
file_unlike "$W/sc-reneg.out" '^after$' "no data went through after the refused renegotiation"
is "$(count_lines "$W/reneg.err" ': info: done ')" 1 "one 'info: done' line"
is "$(count_lines "$W/reneg.err" 'tlsserver: (fatal|warning)')" 0 "no other engine line"
is "$(session_exits reneg)" 4 "engine exit 4 (TLS error after the handshake)"
is "$(logfield "$W/reneg.err" close)/$(logfield "$W/reneg.err" proto)" error/TLSv1.2 "log: close=error proto=TLSv1.2"
like "$(logfield "$W/reneg.err" error)" 'handshake failure|alert' "log: error= names the client's alert"
is "$(logfield "$W/reneg.err" in)" 6 "log: in=6 (only 'hello\\n' was delivered)"
num_cmp $((end - start)) -le 20 "session over within seconds, not at the 30 s deadlines"
ok "prog saw EOF" wait_until 5 test -f "$W/reneg.eof"
stop "$SPAWN_PID"

# Renegotiation attempted at once after the handshake, before any data.
serve reneg0 4462 "$TLSSERVER" -K 30000 -T 30000 -c "$PKI/server.pem" -k "$PKI/server.key" "$W/echo.sh" "$W/reneg0.eof"
feed R pause | timeout -k 2 20 openssl s_client -tls1_2 -connect 127.0.0.1:4462 -servername localhost \
  -CAfile "$PKI/ca.pem" >"$W/sc-reneg0.out" 2>&1
RC=$?
wait_sessions reneg0 1 10
isnt "$RC" 124 "R before any data: s_client did not hang"
file_like "$W/sc-reneg0.out" 'no renegotiation' "R before any data: refused"
is "$(session_exits reneg0)" 4 "R before any data: engine exit 4"
is "$(count_lines "$W/reneg0.err" ': info: done ')" 1 "R before any data: one 'info: done' line"
stop "$SPAWN_PID"

# The server never starts a renegotiation of its own, and a TLS 1.2 session
# that is not disturbed still closes cleanly (control for the above).
serve plain12 4463 "$TLSSERVER" -K 30000 -T 30000 -c "$PKI/server.pem" -k "$PKI/server.key" "$W/echo.sh" "$W/plain12.eof"
feed hello pause after | timeout -k 2 20 openssl s_client -tls1_2 -connect 127.0.0.1:4463 -servername localhost \
  -CAfile "$PKI/ca.pem" >"$W/sc-plain12.out" 2>&1
RC=$?
wait_sessions plain12 1 10
is "$RC" 0 "control: TLS 1.2 without R: s_client exit 0"
file_like "$W/sc-plain12.out" '^after$' "control: both lines came back"
file_unlike "$W/sc-plain12.out" 'RENEGOTIATING|no renegotiation' "control: no renegotiation happened"
stop "$SPAWN_PID"

# ------------------------------------------------------------ TLS 1.3 KeyUpdate
serve keyupd 4464 "$TLSSERVER" -K 30000 -T 30000 -c "$PKI/server.pem" -k "$PKI/server.key" "$W/echo.sh" "$W/keyupd.eof"
feed hello pause K pause k pause after pause | timeout -k 2 20 openssl s_client -tls1_3 -connect 127.0.0.1:4464 \
  -servername localhost -CAfile "$PKI/ca.pem" >"$W/sc-keyupd.out" 2>&1
RC=$?
wait_sessions keyupd 1 10
is "$RC" 0 "TLS 1.3 KeyUpdate (K, then k): s_client exit 0"
file_like "$W/sc-keyupd.out" 'KEYUPDATE' "s_client sent key updates"
file_like "$W/sc-keyupd.out" '^after$' "data after the key updates came back"
is "$(session_exits keyupd)" 0 "KeyUpdate: engine exit 0"
is "$(logfield "$W/keyupd.err" close)/$(logfield "$W/keyupd.err" in)" clean/12 "KeyUpdate: close=clean in=12"
stop "$SPAWN_PID"

done_testing

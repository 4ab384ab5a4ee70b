#!/bin/bash
# What prog does must not upset the engine (immediate mode, tlsserver):
#   * prog's exit status does not change the engine's (session status), but
#     the log records it (prog=)
#   * prog exits without reading while the peer keeps sending 8 MiB: the
#     engine does not die of SIGPIPE, the session ends, one done line
#   * prog killed by a signal: the session ends, the peer sees the end
#   * prog cannot be executed: one line naming it, the peer sees the end
#   * prog closes its input early and keeps writing: its output all arrives
#   * prog's stderr is the engine's stderr (the service log)
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")

# TLS client: send N MiB (0: nothing) and a line; read until the server's
# close_notify, answer it; print "<bytes received> <how it ended> <first bytes>".
cat > "$W/cli.py" <<'EOF'
import socket, ssl, sys
port, pki, mib = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=15),
                    server_hostname='localhost')
# one thread only: an SSL object must not be used by two threads at once
got, how = bytearray(), 'eof'
try:
    chunk = b'z' * 65536
    for _ in range(mib * 16):
        s.sendall(chunk)
    s.sendall(b'line\n')
except (ssl.SSLError, OSError) as e:
    how = 'send-' + type(e).__name__
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
except (ssl.SSLError, OSError) as e:
    how = type(e).__name__
try:
    s.unwrap()          # answer the server's close_notify with ours
except (ssl.SSLError, OSError, ValueError):
    pass
print(len(got), how, bytes(got[:40]).decode(errors='replace').replace('\n', '|'))
EOF

# 1. prog exits 5 after answering
serve st 4500 "${SRV[@]}" sh -c 'IFS= read -r l; echo "ok $l"; exit 5'
run st-cli "$PY" "$W/cli.py" 4500 "$PKI" 0
wait_sessions st 1 5
read -r n how first < "$W/st-cli.out"
is "$first" "ok line|" "prog answered before exiting 5"
is "$(session_exits st)" 0 "prog exit 5: engine exit 0 (the session itself was clean)"
is "$(logfield "$W/st.err" prog)" 5 "prog exit 5: the log says prog=5"
stop "$SPAWN_PID"

# 2. prog leaves at once; the peer keeps sending 8 MiB
serve early 4501 "${SRV[@]}" sh -c 'echo bye'
run early-cli "$PY" "$W/cli.py" 4501 "$PKI" 8
wait_sessions early 1 10
read -r n how first < "$W/early-cli.out"
is "$first" "bye|" "prog's only line reached the peer"
like "$(session_exits early)" '^(0|2|4)$' "prog gone, peer still sending: engine ends with a documented code, not a signal"
is "$(count_lines "$W/early.err" ': info: done ')" 1 "prog gone, peer still sending: one done line"
num_cmp "$RC" -ne 124 "prog gone, peer still sending: nothing hangs"
stop "$SPAWN_PID"

# 3. prog killed by SIGKILL after answering
serve killed 4502 "${SRV[@]}" sh -c 'IFS= read -r l; echo "got $l"; kill -9 $$'
run killed-cli "$PY" "$W/cli.py" 4502 "$PKI" 0
wait_sessions killed 1 10
read -r n how first < "$W/killed-cli.out"
is "$first" "got line|" "prog killed by a signal: its answer still reached the peer"
num_cmp "$RC" -ne 124 "prog killed: the peer saw the session end"
is "$(count_lines "$W/killed.err" ': info: done ')" 1 "prog killed: one done line"
stop "$SPAWN_PID"

# 4. prog cannot be executed
serve noexec 4503 "${SRV[@]}" "$W/no-such-prog"
run noexec-cli "$PY" "$W/cli.py" 4503 "$PKI" 0
wait_sessions noexec 1 10
num_cmp "$RC" -ne 124 "prog missing: the peer saw the session end"
read -r n how first < "$W/noexec-cli.out"
is "${n:-x}" 0 "prog missing: the peer got no data"
file_like "$W/noexec.err" '^tlsserver: .*no-such-prog' "prog missing: a tlsserver line names it"
stop "$SPAWN_PID"

# 4b. prog closes its input at once but keeps writing; the peer sends 8 MiB
# meanwhile and must still get all of prog's output.
if [ -x "$TLSCLIENT" ]; then
  mkdata "$W/up8" 8; mkdata "$W/down8" 8
  serve shut-srv 4505 "${SRV[@]}" sh -c "exec 0<&-; sleep 0.3; cat '$W/down8'"
  run shut tcpclient -RHl0 127.0.0.1 4505 "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
    "$FIX/pump.sh" -c both "$W/up8" "$W/shut.recv"
  wait_sessions shut-srv 1 10
  is "$(sha "$W/shut.recv")" "$(sha "$W/down8")" "prog closed its input: its 8 MiB output still arrived intact"
  is "$RC/$(session_exits shut-srv)" "0/0" "prog closed its input: both engines exit 0"
  stop "$SPAWN_PID"
else
  skip_n 2 "tlsclient not built"
fi

# 5. prog's stderr is the service log
serve perr 4504 "${SRV[@]}" sh -c 'echo "prog: note from prog" >&2; IFS= read -r l; echo "got $l"'
run perr-cli "$PY" "$W/cli.py" 4504 "$PKI" 0
wait_sessions perr 1 5
file_like "$W/perr.err" '^prog: note from prog$' "prog's stderr lands in the engine's stderr"
stop "$SPAWN_PID"

done_testing

#!/bin/bash
# Deadlines: -K (handshake) and -T (idle), driven by the engine's poll loop.
#   * a silent client, and one that stops half way through its ClientHello,
#     are cut after -K 500: exit 98, one log line, prog never started
#   * an idle session is cut after -T 500: exit 3, close=idle, prog ends too
#   * a ClientHello trickled byte by byte is still cut at -K
#   * traffic in either direction (both, or one way only) resets the idle deadline
#   * a peer that stops reading while prog writes is cut by -T
#   * tlsclient: silent server -> 98; idle session -> 3
# Every command runs under timeout; elapsed times are bounded generously.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
engine_lines() { grep -a "^$2: " "$W/$1.err" | grep -v ': info: done ' ; }

# A client that connects, optionally sends some bytes, then says nothing.
cat > "$W/silent.py" <<'EOF'
import socket, sys, time
port, payload_hex, hold = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(('127.0.0.1', port), timeout=hold + 5)
if payload_hex != '-':
    s.sendall(bytes.fromhex(payload_hex))
t0 = time.monotonic()
s.settimeout(hold)
try:
    while s.recv(4096):
        pass
    how = 'eof'
except socket.timeout:
    how = 'timeout'
except OSError:
    how = 'reset'
print(how, int((time.monotonic() - t0) * 1000))
EOF

# 1. silent client, -K 500
serve k 4470 "${SRV[@]}" -K 500 "$FIX/envdump.sh" "$W/k.started" cat
run k-cli "$PY" "$W/silent.py" 4470 - 10
wait_sessions k 1 5
read -r how el < "$W/k-cli.out"
is "$how" eof "silent client: the server closed the connection"
num_cmp "${el:-99999}" -ge 400 "silent client: not cut before the deadline (${el:-?} ms >= 400)"
num_cmp "${el:-99999}" -lt 5000 "silent client: cut soon after -K 500 (${el:-?} ms < 5000)"
is "$(session_exits k)" 98 "silent client: tlsserver exit 98"
ok "silent client: prog was never started" test ! -e "$W/k.started"
lines=$(engine_lines k tlsserver)
is "$(printf '%s\n' "$lines" | grep -c .)" 1 "silent client: exactly one tlsserver log line"
like "$lines" '^tlsserver: .*(handshake|deadline|timeout|timed out)' "silent client: the log line says the handshake deadline passed"
like "$lines" '127\.0\.0\.1' "silent client: the log line names the peer"

# 2. a ClientHello record header and a few bytes, then silence: still the same deadline
run k2-cli "$PY" "$W/silent.py" 4470 160301020001 10
wait_sessions k 2 5
read -r how el < "$W/k2-cli.out"
is "$how" eof "truncated ClientHello then silence: connection closed"
num_cmp "${el:-99999}" -lt 5000 "truncated ClientHello then silence: cut after about -K 500 (${el:-?} ms)"
is "$(session_exits k | tail -n 1)" 98 "truncated ClientHello then silence: exit 98"
ok "truncated ClientHello then silence: prog never started" test ! -e "$W/k.started"

# 2b. a ClientHello trickled one byte every 50 ms: bytes arriving do not
# extend the handshake deadline
cat > "$W/trickle.py" <<'EOF'
import socket, ssl, sys, time
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ssl.create_default_context().wrap_bio(inc, out, server_hostname='localhost')
try:
    o.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15)
t0, how = time.monotonic(), 'sent-all'
try:
    for b in hello:
        s.send(bytes([b]))
        time.sleep(0.05)
except OSError:
    how = 'cut'
print(how, int((time.monotonic() - t0) * 1000))
EOF
run k3-cli "$PY" "$W/trickle.py" 4470
wait_sessions k 3 5
read -r how el < "$W/k3-cli.out"
is "$how" cut "trickled ClientHello: the server cut the connection before it was complete"
num_cmp "${el:-99999}" -lt 5000 "trickled ClientHello: cut soon after -K 500 (${el:-?} ms), not extended by each byte"
is "$(session_exits k | tail -n 1)" 98 "trickled ClientHello: exit 98"
stop "$SPAWN_PID"

# 3. idle session, -T 500
cat > "$W/idle.py" <<'EOF'
import socket, ssl, sys, time
port, pki, ticks, every = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10),
                    server_hostname='localhost')
got = b''
for i in range(ticks):          # keep the session busy: one byte, its echo
    s.sendall(b'x')
    got += s.recv(16)
    time.sleep(every)
s.sendall(b'y')
got += s.recv(16)
t0 = time.monotonic()
s.settimeout(10)
how = 'eof'
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
except socket.timeout:
    how = 'timeout'
except (ssl.SSLError, OSError) as e:
    how = 'eof-' + type(e).__name__
print(how, int((time.monotonic() - t0) * 1000), got.decode())
EOF
serve t 4471 "${SRV[@]}" -T 500 cat
run t-cli "$PY" "$W/idle.py" 4471 "$PKI" 0 0
wait_sessions t 1 5
read -r how el echoed < "$W/t-cli.out"
like "$how" '^eof' "idle session: the server ended it"
is "$echoed" y "idle session: the echo worked before going idle"
num_cmp "${el:-99999}" -ge 400 "idle session: not cut before -T 500 (${el:-?} ms)"
num_cmp "${el:-99999}" -lt 5000 "idle session: cut soon after -T 500 (${el:-?} ms)"
is "$(session_exits t)" 3 "idle session: tlsserver exit 3"
is "$(logfield "$W/t.err" close)" idle "idle session: log close=idle"

# 4. traffic every 200 ms for 1.6 s keeps a -T 500 session alive
run t2-cli "$PY" "$W/idle.py" 4471 "$PKI" 8 0.2
wait_sessions t 2 5
read -r how el echoed < "$W/t2-cli.out"
is "$echoed" xxxxxxxxy "busy session outlived -T 500 several times over (9 echoes)"
is "$(session_exits t | tail -n 1)" 3 "busy session: ended by the idle deadline only once quiet"
stop "$SPAWN_PID"

# 4a. traffic in one direction only also counts: the peer sends a byte every
# 200 ms to a prog that never writes, and prog writes a line every 200 ms to
# a peer that never writes; 1.6 s each under -T 500
cat > "$W/oneway.py" <<'EOF'
import socket, ssl, sys, time
port, pki, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=15),
                    server_hostname='localhost')
n, how = 0, 'eof'
try:
    if mode == 'up':
        for i in range(8):
            s.sendall(b'x')
            time.sleep(0.2)
        s.unwrap()
        how = 'done'
    else:
        while True:
            b = s.recv(64)
            if not b:
                break
            n += len(b)
        s.unwrap()
except (ssl.SSLError, OSError) as e:
    how = type(e).__name__
print(how, n)
EOF
serve up-srv 4475 "${SRV[@]}" -T 500 sh -c 'cat > "$0"' "$W/up.recv"
run up "$PY" "$W/oneway.py" 4475 "$PKI" up
wait_sessions up-srv 1 5
is "$(cat "$W/up.out")/$(cat "$W/up.recv" 2>/dev/null)" "done 0/xxxxxxxx" "peer -> prog only, a byte every 200 ms: not idle, all 8 bytes arrived"
is "$(session_exits up-srv)" 0 "peer -> prog only: session ended cleanly (exit 0), not by -T"
stop "$SPAWN_PID"
serve dn-srv 4476 "${SRV[@]}" -T 500 sh -c 'for i in 1 2 3 4 5 6 7 8; do echo x; sleep 0.2; done'
run dn "$PY" "$W/oneway.py" 4476 "$PKI" down
wait_sessions dn-srv 1 5
is "$(cat "$W/dn.out")" "eof 16" "prog -> peer only, a line every 200 ms: not idle, all 8 lines arrived"
is "$(session_exits dn-srv)" 0 "prog -> peer only: session ended cleanly (exit 0), not by -T"
stop "$SPAWN_PID"

# 4b. the peer stops reading while prog has 64 MiB to send: once nothing
# moves either way, -T 500 ends the session (a stuck peer holds nothing forever)
mkdata "$W/big" 64
cat > "$W/stuck.py" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2] + '/ca.pem')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15),
                    server_hostname='localhost')
time.sleep(float(sys.argv[3]))
EOF
serve stuck-srv 4474 "${SRV[@]}" -T 500 cat "$W/big"
t0=$(date +%s%N)
spawn stuck "$PY" "$W/stuck.py" 4474 "$PKI" 8
STUCK=$SPAWN_PID
wait_sessions stuck-srv 1 8
el=$(ms_since "$t0")
is "$(session_exits stuck-srv)" 3 "peer stopped reading: tlsserver exit 3 once nothing moved for -T 500"
num_cmp "$el" -lt 5000 "peer stopped reading: ended within 5 s (${el} ms)"
is "$(logfield "$W/stuck-srv.err" close)" idle "peer stopped reading: log close=idle"
stop "$STUCK"
stop "$SPAWN_PID"

# 5. tlsclient against a server that accepts and never speaks: -K 500
spawn mute tcpserver -RHl0 127.0.0.1 4472 sh -c 'exec cat >/dev/null'
MUTE=$SPAWN_PID
wait_port 4472
t0=$(date +%s%N)
run kc tcpclient -RHl0 127.0.0.1 4472 "$TLSCLIENT" -K 500 -a "$PKI/ca.pem" -h localhost \
  "$FIX/envdump.sh" "$W/kc.started" true
el=$(ms_since "$t0")
is "$RC" 98 "tlsclient, silent server: exit 98"
num_cmp "$el" -lt 5000 "tlsclient, silent server: gave up soon after -K 500 (${el} ms)"
ok "tlsclient, silent server: prog never started" test ! -e "$W/kc.started"
lines=$(engine_lines kc tlsclient)
is "$(printf '%s\n' "$lines" | grep -c .)" 1 "tlsclient, silent server: exactly one log line"
like "$lines" '^tlsclient: .*(handshake|deadline|timeout|timed out)' "tlsclient, silent server: the line says why"
stop "$MUTE"

# 6. tlsclient -T 500 on a session where neither side says anything
serve quiet 4473 "${SRV[@]}" cat
t0=$(date +%s%N)
run tc tcpclient -RHl0 127.0.0.1 4473 "$TLSCLIENT" -T 500 -a "$PKI/ca.pem" -h localhost \
  sh -c 'exec cat <&6 >/dev/null'
el=$(ms_since "$t0")
is "$RC" 3 "tlsclient, idle session: exit 3"
num_cmp "$el" -lt 5000 "tlsclient, idle session: ended soon after -T 500 (${el} ms)"
is "$(logfield "$W/tc.err" close)" idle "tlsclient, idle session: log close=idle"
wait_sessions quiet 1 5 || fail "server side of the idle session did not end"
stop "$SPAWN_PID"

done_testing

#!/bin/bash
# TCP_NODELAY: the first reply after the handshake must not stall on
# Nagle + delayed ACK (about 40 ms on Linux). tcpserver/tcpclient do not set
# TCP_NODELAY, so the engines must. Measured with a small Python client and
# server (ssl module); the bound is generous (lower quartile of 7 runs < 30 ms
# for request -> first reply byte, which includes starting prog; a missing
# TCP_NODELAY stalls every run by about 40 ms), and a Python
# server without TCP_NODELAY is measured as a control and shown as a comment.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient
pki_setup

RUNS=7
BOUND_MS=${NODELAY_BOUND_MS:-30}

cat > "$W/timing.py" <<'EOF'
import socket, ssl, statistics, sys, time
mode, port, pki, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ms = lambda t: t * 1000.0
q1 = lambda v: sorted(v)[len(v) // 4]   # lower quartile: robust to a busy machine

def client():
    # handshake time, then request -> first reply byte time, per connection
    ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
    hs, rep = [], []
    for _ in range(runs):
        t0 = time.monotonic()
        raw = socket.create_connection(('127.0.0.1', port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname='localhost')
        t1 = time.monotonic()
        s.sendall(b'x\n')
        b = s.recv(64)
        t2 = time.monotonic()
        if not b.startswith(b'x'):
            print('bad reply %r' % b, file=sys.stderr); sys.exit(1)
        s.close()
        hs.append(ms(t1 - t0)); rep.append(ms(t2 - t1))
    print('%.1f %.1f %.1f %.1f' % (statistics.median(hs), q1(rep), statistics.median(rep), max(rep)))

def server(nodelay, echo):
    # accept `runs` connections; measure handshake done -> first request byte
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki + '/server.pem', pki + '/server.key')
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port)); ls.listen(8)
    print('ready', flush=True)
    req = []
    for _ in range(runs):
        c, _ = ls.accept()
        c.settimeout(10)
        if nodelay:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(c, server_side=True)
        t1 = time.monotonic()
        b = s.recv(64)
        t2 = time.monotonic()
        req.append(ms(t2 - t1))
        s.sendall(b if echo else b'ok\n')
        try:
            if echo:
                s.recv(64)      # the timing client closes first
            else:
                s.unwrap()      # close_notify, then wait for the peer's
        except (ssl.SSLError, OSError):
            pass
        s.close()
    print('%.1f %.1f %.1f' % (q1(req), statistics.median(req), max(req)), flush=True)

if mode == 'client':
    client()
elif mode == 'server':
    server(True, False)
elif mode == 'control':
    server(False, True)
EOF

# On a busy machine (prove -j2 next to fuzzers) one measurement can be slow
# for reasons of its own; each side gets a second attempt. A missing
# TCP_NODELAY stalls every run and fails both.

# 1. tlsserver under tcpserver, prog echoes the first line.
serve srv 4460 "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" \
  sh -c 'IFS= read -r l; printf "%s\n" "$l"; exec cat >/dev/null'
for attempt in 1 2; do
  run timing "$PY" "$W/timing.py" client 4460 "$PKI" "$RUNS"
  [ "$RC" = 0 ] || break
  read -r hs rep repmed repmax < "$W/timing.out"
  diag "tlsserver (attempt $attempt): handshake median ${hs:-?} ms; request -> reply lower quartile ${rep:-?} ms, median ${repmed:-?} ms, max ${repmax:-?} ms"
  [ "${rep%.*}" -lt "$BOUND_MS" ] 2>/dev/null && break
done
is "$RC" 0 "timing client completed $RUNS TLS round trips through tlsserver"
num_cmp "${rep%.*}" -lt "$BOUND_MS" "tlsserver: first reply after the handshake within ${BOUND_MS} ms (lower quartile of $RUNS; no delayed-ACK stall)"
stop "$SPAWN_PID"

# 2. tlsclient under tcpclient, Python server measures handshake -> first request byte.
for attempt in 1 2; do
  port=$((4460 + attempt))
  spawn "pysrv$attempt" "$PY" "$W/timing.py" server "$port" "$PKI" "$RUNS"
  PYSRV=$SPAWN_PID
  wait_port "$port"
  okruns=0
  for ((i = 0; i < RUNS; i++)); do
    run "cli$i" tcpclient -RHl0 127.0.0.1 "$port" "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
      sh -c 'echo x >&7; exec cat <&6 >/dev/null'
    [ "$RC" = 0 ] && okruns=$((okruns + 1))
  done
  wait_pid "$PYSRV" 10 >/dev/null
  stop "$PYSRV"
  read -r creq creqmed creqmax < <(tail -n 1 "$W/pysrv$attempt.out")
  diag "tlsclient (attempt $attempt): handshake -> first request byte lower quartile ${creq:-?} ms, median ${creqmed:-?} ms, max ${creqmax:-?} ms"
  [ "$okruns" = "$RUNS" ] || break
  [ "${creq%.*}" -lt "$BOUND_MS" ] 2>/dev/null && break
done
is "$okruns" "$RUNS" "tlsclient completed $RUNS sessions against the timing server"
num_cmp "${creq%.*}" -lt "$BOUND_MS" "tlsclient: first request after the handshake within ${BOUND_MS} ms (lower quartile of $RUNS)"

# Control (no assertion): the same measurement against a server that does not
# set TCP_NODELAY shows whether this machine has the stall at all.
spawn ctl "$PY" "$W/timing.py" control 4469 "$PKI" 3
CTL=$SPAWN_PID
wait_port 4469
run ctlc "$PY" "$W/timing.py" client 4469 "$PKI" 3
read -r _ crep _ < "$W/ctlc.out"
diag "control (Python server without TCP_NODELAY): request -> reply lower quartile ${crep:-?} ms"
wait_pid "$CTL" 5 >/dev/null; stop "$CTL"

done_testing

#!/bin/bash
# Errors after the handshake end the session with exit 4 and close=error,
# promptly, and prog is not left behind:
#   * the peer resets the connection (RST) while prog is still sending
#   * the peer sends a corrupted TLS record
#   * the peer sends plaintext bytes in the middle of the TLS stream
# Also for tlsclient: the server resets the connection mid-transfer.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
mkdata "$W/big" 64

cat > "$W/bad.py" <<'EOF'
import os, socket, ssl, struct, sys, time
mode, port, pki = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rst(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()
if mode == 'server-rst':
    # TLS server: handshake, send a little of a big stream, then RST
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki + '/server.pem', pki + '/server.key')
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port)); ls.listen(1)
    c, _ = ls.accept(); c.settimeout(10)
    s = ctx.wrap_socket(c, server_side=True)
    s.sendall(b'x' * 100000)
    time.sleep(0.2)
    raw = socket.socket(fileno=os.dup(s.fileno()))
    rst(raw); s.close()
    sys.exit(0)
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10),
                    server_hostname='localhost')
raw = socket.socket(fileno=os.dup(s.fileno()))   # the same TCP connection, under TLS's feet
got = s.recv(65536)          # the session is up and prog is sending
print('got', len(got) > 0)
if mode == 'rst':
    rst(raw)
    s.close()
elif mode == 'corrupt':
    # an application_data record whose content is garbage
    raw.sendall(b'\x17\x03\x03\x00\x20' + b'\x5a' * 32)
elif mode == 'plain':
    raw.sendall(b'QUIT\r\n')
if mode != 'rst':
    raw.settimeout(10)
    t0 = time.monotonic()
    try:
        while raw.recv(65536):
            pass
    except OSError:
        pass
    print('closed_after_ms', int((time.monotonic() - t0) * 1000))
EOF

check_error_end() { # NAME DESC
  wait_sessions "$1" 1 10 || fail "$2: the session did not end within 10 s"
  is "$(session_exits "$1")" 4 "$2: tlsserver exit 4"
  is "$(logfield "$W/$1.err" close)" error "$2: log close=error"
}

# prog writes 64 MiB; the peer reads a little then misbehaves
serve rst-srv 4530 "${SRV[@]}" cat "$W/big"
run rst "$PY" "$W/bad.py" rst 4530 "$PKI"
file_like "$W/rst.out" '^got True$' "RST: the session was up"
check_error_end rst-srv "peer RST while prog sends"
stop "$SPAWN_PID"

serve cor-srv 4531 "${SRV[@]}" cat "$W/big"
run cor "$PY" "$W/bad.py" corrupt 4531 "$PKI"
file_like "$W/cor.out" '^got True$' "corrupted record: the session was up"
file_like "$W/cor.out" '^closed_after_ms [0-9]+$' "corrupted record: the engine closed the connection"
check_error_end cor-srv "corrupted record"
stop "$SPAWN_PID"

serve pl-srv 4532 "${SRV[@]}" cat "$W/big"
run pl "$PY" "$W/bad.py" plain 4532 "$PKI"
file_like "$W/pl.out" '^closed_after_ms [0-9]+$' "plaintext inside TLS: the engine closed the connection"
check_error_end pl-srv "plaintext inside the TLS stream"
stop "$SPAWN_PID"

# tlsclient: the server resets mid-transfer; prog reads until EOF
spawn srst "$PY" "$W/bad.py" server-rst 4533 "$PKI"
SR=$SPAWN_PID
wait_port 4533
run crst tcpclient -RHl0 127.0.0.1 4533 "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
  sh -c 'exec cat <&6 > "$0"' "$W/crst.recv"
is "$RC" 4 "server RST mid-transfer: tlsclient exit 4"
is "$(logfield "$W/crst.err" close)" error "server RST mid-transfer: tlsclient log close=error"
num_cmp "$(wc -c < "$W/crst.recv")" -gt 0 "server RST mid-transfer: prog got the bytes that came before"
wait_pid "$SR" 5 >/dev/null; stop "$SR"

done_testing

#!/bin/bash
# Delayed mode: the handshake fails after the program asked for TLS.
# Server side (tlsserver -n fixture-smtpd):
#   'Y' + a peer that sends plaintext after "220 ready for tls": the program
#        gets the reply without its terminator (helper returns 0, with the
#        SSL_ERROR reason), executes nothing more and exits;
#   'y' + the same peer: no reply, the program reads EOF on SSLREADFD;
#   'Y' + a peer that goes silent after 220: the handshake deadline (-K)
#        ends it, the program learns it over the control socket;
#   'Y' + a peer that offers only TLS 1.2 to a TLS 1.3-only engine.
# Client side (tlsclient -n fixture-smtpc) against a server that answers 220
# to STARTTLS and then sends plaintext, or closes.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient fixtures/fixture-smtpd fixtures/fixture-smtpc
need_cmds tcpserver tcpclient openssl
pki_setup
[ -x "$PY" ] || skip_all "no $PY"

smtp_fixtures
SRV=("$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key")

# rawclient.py PORT MODE: EHLO, STARTTLS, then MODE = garbage (plaintext
# where the ClientHello should be) | silent (nothing, 4 s); prints what it read
cat > "$W/rawclient.py" <<'EOF'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline().decode(errors="replace").rstrip("\r\n")
        print("S:", l, flush=True)
        if len(l) < 4 or l[3] != "-":
            return l
reply()
s.sendall(b"EHLO raw.test\r\n"); reply()
s.sendall(b"STARTTLS\r\n"); r = reply()
assert r.startswith("220"), r
if mode == "garbage":
    s.sendall(b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<x@test.example>\r\n")
else:
    time.sleep(4)
s.settimeout(5)
try:
    rest = s.recv(4096)
except Exception as e:
    rest = repr(e).encode()
print("after:", repr(rest[:60]), flush=True)
EOF

# ---------------------------------------------------------------- 'Y' + plaintext
FIXTURE_MODE=Y FIXTURE_LOG=$W/yg.smtpd serve yg 2501 "${SRV[@]}" "$SMTPD" || bail_out "server yg"
run ygc "$PY" "$W/rawclient.py" 2501 garbage
wait_sessions yg 1 10
L=$W/yg.smtpd
file_like "$L" '^starttls mode=Y result=0 err=.+' "'Y', plaintext instead of a ClientHello: helper returned 0 with a reason"
file_unlike "$L" '^starttls mode=Y result=0 err=no reason given$' "'Y': the engine sent SSL_ERROR (a reason, not the helper's default)"
file_unlike "$L" '^cmd tls=1 ' "'Y': the plaintext sent after STARTTLS was never executed"
file_unlike "$L" 'evil@example' "'Y': the program never saw the injected MAIL"
file_like "$L" '^end reason=tlsfail$' "'Y': the program gave up on the dead stream"
is "$(session_exits yg)" 1 "'Y': session exit status is the program's (1)"
file_like "$W/yg.err" 'tlsserver: .*handshake failed' "'Y': engine logged the failed handshake"

# ---------------------------------------------------------------- 'y' + plaintext
FIXTURE_MODE=y FIXTURE_LOG=$W/lg.smtpd serve lg 2502 "${SRV[@]}" "$SMTPD" || bail_out "server lg"
run lgc "$PY" "$W/rawclient.py" 2502 garbage
wait_sessions lg 1 10
L=$W/lg.smtpd
file_like "$L" '^starttls mode=y result=sent$' "'y': command sent"
file_like "$L" '^end reason=eof$' "'y', failed handshake: the program reads EOF on SSLREADFD"
file_unlike "$L" '^cmd tls=1 ' "'y': nothing executed after the failed handshake"
is "$(session_exits lg)" 0 "'y': session exit status is the program's (0)"

# ---------------------------------------------------------------- handshake deadline
FIXTURE_MODE=Y FIXTURE_LOG=$W/to.smtpd serve to 2503 "${SRV[@]}" -K 1000 "$SMTPD" || bail_out "server to"
run toc "$PY" "$W/rawclient.py" 2503 silent
wait_sessions to 1 10
L=$W/to.smtpd
file_like "$L" '^starttls mode=Y result=0 err=.*(time|deadline)' "silent peer: the handshake deadline ended it, reason given to the program"
file_like "$W/to.err" 'tlsserver: .*(timed out|deadline)' "silent peer: engine logged the deadline"
file_like "$W/toc.out" "^after: b''$" "silent peer: the connection was closed"

# ---------------------------------------------------------------- no common protocol
FIXTURE_MODE=Y FIXTURE_LOG=$W/pv.smtpd serve pv 2504 "${SRV[@]}" -p tlsv1.3 "$SMTPD" || bail_out "server pv"
printf 'EHLO sc.test\r\nQUIT\r\n' > "$W/sc.in"
run_in "$W/sc.in" pvc openssl s_client -connect 127.0.0.1:2504 -starttls smtp -tls1_2 -CAfile "$PKI/ca.pem" -quiet
wait_sessions pv 1 10
isnt "$RC" 0 "TLS 1.2-only client against -p tlsv1.3: s_client fails"
file_like "$W/pv.smtpd" '^starttls mode=Y result=0 err=.*(version|protocol)' "no common protocol: the program got the reason"

# ---------------------------------------------------------------- client side
# fakesrv.py PORT MODE: SMTP server offering STARTTLS; after its 220 it
# sends plaintext (garbage) or closes (close)
cat > "$W/fakesrv.py" <<'EOF'
import socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept(); c.settimeout(10)
f = c.makefile("rb")
c.sendall(b"220 fake ESMTP\r\n")
while True:
    l = f.readline()
    if not l:
        break
    l = l.strip().upper()
    if l.startswith(b"EHLO"):
        c.sendall(b"250-fake\r\n250 STARTTLS\r\n")
    elif l == b"STARTTLS":
        c.sendall(b"220 go ahead\r\n")
        if mode == "garbage":
            c.sendall(b"250 this is not a ServerHello\r\n" * 4)
        break
    else:
        c.sendall(b"502 no\r\n")
c.close()
EOF
for mode in garbage close; do
  spawn "fs$mode" "$PY" "$W/fakesrv.py" 2510 "$mode"
  wait_port 2510 || diag "fake server did not start"
  run "fc$mode" tcpclient -RHl0 -T 5 127.0.0.1 2510 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
    "$SMTPC" -o "$W/fc$mode.rec" -r
  stop "$SPAWN_PID"
  is "$RC" 3 "client, server sends $mode after its 220: fixture-smtpc exit 3 (helper returned 0)"
  file_like "$W/fc$mode.rec" '^starttls result=0 err=.+' "client, $mode: failure reported over the control socket"
  file_unlike "$W/fc$mode.rec" '^(send|reply) tls=1 ' "client, $mode: nothing exchanged as if inside TLS"
  file_like "$W/fc$mode.err" 'tlsclient: .*handshake failed' "client, $mode: engine logged the failed handshake"
done

done_testing

#!/bin/bash
# Close orders: no byte is lost whoever closes first, and the exit status and
# log line say how the session ended. 64 MiB each way, checked by SHA-256.
#   app closes first        (the peer's reply still arrives after our app shut
#                            its write side: TLS 1.3 half-close both ways)
#   peer close_notify first (openssl s_client; tlsclient as the peer)
#   simultaneous
#   peer bare FIN            (Python peer drops TCP without close_notify:
#                            exit 2, close=unclean, every byte delivered)
#   close_notify both ways ends the session even if the peer keeps TCP open
#   gnutls-cli sees a proper close_notify (-S, default) or none (-s); tlsclient -s
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/lib-tlsd.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup

MIB=${CLOSE_TEST_MIB:-64}
mkdata "$W/up" "$MIB"
mkdata "$W/down" "$MIB"
UP=$(sha "$W/up")
DOWN=$(sha "$W/down")
SRV=(-c "$PKI/server.pem" -k "$PKI/server.key")
CLI=("$TLSCLIENT" -a "$PKI/ca.pem" -h localhost)

# pair NAME PORT SERVER-MODE CLIENT-MODE: tlsclient <-> tlsserver, both apps pump.sh
pair() {
  local name=$1 port=$2 smode=$3 cmode=$4
  rm -f "$W/$name.srecv" "$W/$name.crecv"
  serve_tls "$name-srv" "$port" "${SRV[@]}" "$FIX/pump.sh" "$smode" "$W/down" "$W/$name.srecv"
  run "$name-cli" tcpclient -RHl0 127.0.0.1 "$port" "${CLI[@]}" ${PAIR_OPTS:-} "$FIX/pump.sh" -c "$cmode" "$W/up" "$W/$name.crecv"
  wait_sessions "$name-srv" 1 10
  stop "$SPAWN_PID"
  local what=$5
  is "$(sha "$W/$name.srecv")" "$UP" "$what: client -> server $MIB MiB intact"
  is "$(sha "$W/$name.crecv")" "$DOWN" "$what: server -> client $MIB MiB intact"
  is "$RC" 0 "$what: tlsclient exit 0"
  is "$(engine_status "$name-srv")" 0 "$what: tlsserver exit 0"
  is "$(logfield "$W/$name-cli.err" close)/$(logfield "$W/$name-srv.err" close)" clean/clean \
     "$what: both log close=clean"
  is "$(logfield "$W/$name-srv.err" in)/$(logfield "$W/$name-srv.err" out)" \
     "$((MIB * 1048576))/$((MIB * 1048576))" "$what: tlsserver log counts in/out bytes"
}

# 1. The client's app closes first; the server app only answers after EOF.
pair afirst 4450 recvfirst sendfirst "client app closes first, reply after close"
# 2. The server's app closes first; the client app only sends after EOF.
pair sfirst 4451 sendfirst recvfirst "server app closes first, data after close"
# 3. Both send at once and close when done.
pair simul 4452 both both "simultaneous"

# 3b. The same half-closes under TLS 1.2 (no half-close in the 1.2 RFC, but
# OpenSSL and the engines keep writing after a close_notify was received).
PAIR_OPTS="-p tlsv1.2" pair afirst12 4462 recvfirst sendfirst "TLS 1.2, client app closes first"
PAIR_OPTS="-p tlsv1.2" pair sfirst12 4463 sendfirst recvfirst "TLS 1.2, server app closes first"
is "$(logfield "$W/afirst12-cli.err" proto)/$(logfield "$W/sfirst12-srv.err" proto)" "TLSv1.2/TLSv1.2" \
   "TLS 1.2 pairs really ran TLS 1.2"

# 4. Peer (openssl s_client) sends close_notify first; it reads nothing back.
serve_tls osc-srv 4453 "${SRV[@]}" sh -c "cat > '$W/osc.recv'"
run_in "$W/up" osc openssl s_client -connect 127.0.0.1:4453 -servername localhost \
  -CAfile "$PKI/ca.pem" -verify_return_error -nocommands
wait_sessions osc-srv 1 10
is "$RC" 0 "s_client sending $MIB MiB then close_notify: exit 0"
is "$(sha "$W/osc.recv")" "$UP" "s_client close_notify first: every byte reached prog"
is "$(engine_status osc-srv)" 0 "s_client close_notify first: tlsserver exit 0"
is "$(logfield "$W/osc-srv.err" close)" clean "s_client close_notify first: log close=clean"
stop "$SPAWN_PID"

# 4b. Server app sends $MIB MiB and exits first; s_client (-quiet: it keeps
# reading after its stdin ends) gets every byte and answers our close_notify.
serve_tls osd-srv 4458 "${SRV[@]}" cat "$W/down"
run osd openssl s_client -connect 127.0.0.1:4458 -servername localhost \
  -CAfile "$PKI/ca.pem" -verify_return_error -quiet
wait_sessions osd-srv 1 10
is "$RC" 0 "s_client receiving $MIB MiB: exit 0"
is "$(sha "$W/osd.out")" "$DOWN" "server app closes first: s_client got every byte"
is "$(engine_status osd-srv)" 0 "server app closes first, s_client answers close_notify: tlsserver exit 0"
is "$(logfield "$W/osd-srv.err" close)" clean "server app closes first: log close=clean"
stop "$SPAWN_PID"

# 4c. tlsclient against socat (OpenSSL, a foreign relay loop) both ways.
if have socat; then
  spawn sup-srv socat "OPENSSL-LISTEN:4459,bind=127.0.0.1,reuseaddr,cert=$PKI/server.pem,key=$PKI/server.key,verify=0" \
    "SYSTEM:cat > '$W/sup.recv'"
  SOC=$SPAWN_PID
  wait_port 4459
  run sup tcpclient -RHl0 127.0.0.1 4459 "${CLI[@]}" "$FIX/pump.sh" -c sendfirst "$W/up" -
  wait_pid "$SOC" 10 >/dev/null; stop "$SOC"
  is "$RC" 0 "tlsclient uploading $MIB MiB to socat, app closes first: exit 0"
  is "$(sha "$W/sup.recv")" "$UP" "tlsclient -> socat: every byte arrived"

  spawn sdn-srv socat -T 20 "OPENSSL-LISTEN:4460,bind=127.0.0.1,reuseaddr,cert=$PKI/server.pem,key=$PKI/server.key,verify=0" \
    "SYSTEM:cat '$W/down'"
  SOC=$SPAWN_PID
  wait_port 4460
  : > "$W/empty0"
  run sdn tcpclient -RHl0 127.0.0.1 4460 "${CLI[@]}" "$FIX/pump.sh" -c recvfirst "$W/empty0" "$W/sdn.recv"
  wait_pid "$SOC" 10 >/dev/null; stop "$SOC"
  is "$(sha "$W/sdn.recv")" "$DOWN" "socat -> tlsclient: $MIB MiB, every byte arrived"
  is "$RC" 0 "socat -> tlsclient: socat's close_notify after the data: exit 0"
else
  skip_n 4 "socat not installed"
fi

# 5. gnutls-cli receives data and then our close_notify (default -S).
# (gnutls-cli's simple client mode reads slowly: under 1 MB/s, so 512 KiB.)
if have gnutls-cli; then
  head -c 524288 "$W/down" > "$W/gdown"
  serve_tls gn-srv 4454 "${SRV[@]}" cat "$W/gdown"
  fifo_open gn
  run_in "$W/gn.fifo" gn gnutls-cli --logfile="$W/gn.log" --x509cafile="$PKI/ca.pem" -p 4454 127.0.0.1
  fifo_close
  wait_sessions gn-srv 1 10
  is "$RC" 0 "gnutls-cli exit 0 after the server app ended (-S)"
  file_like "$W/gn.log" 'Peer has closed the GnuTLS connection' "gnutls-cli: 'Peer has closed the GnuTLS connection'"
  is "$(sha "$W/gn.out")" "$(sha "$W/gdown")" "gnutls-cli received 512 KiB intact"
  # gnutls-cli does not answer our close_notify, it just closes TCP. The
  # reference: 0 only when the peer's close_notify was received; a peer
  # direction ended by a bare FIN is unclean (2), whoever closed first.
  is "$(engine_status gn-srv)" 2 "tlsserver exit 2: prog ended, close_notify sent, the peer closed TCP without answering it"
  is "$(logfield "$W/gn-srv.err" close)" unclean "tlsserver log close=unclean for that session"
  stop "$SPAWN_PID"

  # -s: only a TCP half-close on the app's EOF; gnutls-cli must notice.
  printf 'short\n' > "$W/short"
  serve_tls gns-srv 4455 "${SRV[@]}" -s cat "$W/short"
  fifo_open gns
  run_in "$W/gns.fifo" gns gnutls-cli --logfile="$W/gns.log" --x509cafile="$PKI/ca.pem" -p 4455 127.0.0.1
  fifo_close
  wait_sessions gns-srv 1 10
  is "$RC" 1 "-s: gnutls-cli exit 1 (no close_notify came)"
  cat "$W/gns.log" "$W/gns.err" > "$W/gns.all" 2>/dev/null
  file_like "$W/gns.all" 'non-properly terminated' "-s: gnutls-cli reports 'non-properly terminated'"
  is "$(cat "$W/gns.out")" short "-s: the data before the FIN still arrived"
  stop "$SPAWN_PID"
else
  skip_n 7 "gnutls-cli not installed"
fi

# 5b. tlsclient -s: its app closes first, only a TCP half-close goes out, so
# tlsserver sees a bare FIN (exit 2, unclean) after every byte; the server
# app answers after that EOF, and the answer must still arrive (a bare FIN is
# a half-close too: OpenSSL 3 calls it "unexpected eof", writes must go on).
serve_tls cs-srv 4461 "${SRV[@]}" "$FIX/pump.sh" recvfirst "$W/down" "$W/cs.recv"
run cs tcpclient -RHl0 127.0.0.1 4461 "${CLI[@]}" -s "$FIX/pump.sh" -c sendfirst "$W/up" "$W/cs.crecv"
wait_sessions cs-srv 1 10
is "$(sha "$W/cs.recv")" "$UP" "tlsclient -s: every byte reached the server's prog"
is "$(engine_status cs-srv)" 2 "tlsclient -s: no close_notify was sent (tlsserver exit 2)"
is "$(logfield "$W/cs-srv.err" close)" unclean "tlsclient -s: tlsserver log close=unclean"
is "$(sha "$W/cs.crecv")" "$DOWN" "tlsclient -s: the server's $MIB MiB answer after the bare FIN arrived intact"
is "$RC" 0 "tlsclient -s: tlsclient exit 0 (the server's close_notify came)"
stop "$SPAWN_PID"

# 6. Bare FIN from the peer (no close_notify), Python's ssl on both ends.
cat > "$W/finpeer.py" <<'EOF'
import hashlib, os, socket, ssl, sys
role, port, pki, sendfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(sendfile, 'rb').read()

def bare_fin(s):
    # TCP FIN on the same socket, no close_notify; the TLS object stays usable for reads
    d = socket.socket(fileno=os.dup(s.fileno()))
    d.shutdown(socket.SHUT_WR)
    d.close()

def drain(s):
    h, n = hashlib.sha256(), 0
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            h.update(b); n += len(b)
    except (ssl.SSLError, OSError) as e:
        print('recv-end %s' % type(e).__name__, file=sys.stderr)
    return n, h.hexdigest()

if role == 'client':
    ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=20),
                        server_hostname='localhost')
    s.sendall(data)
    bare_fin(s)
    print(*drain(s))
else:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki + '/server.pem', pki + '/server.key')
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port)); ls.listen(1)
    c, _ = ls.accept()
    c.settimeout(20)
    s = ctx.wrap_socket(c, server_side=True)
    s.sendall(data)
    bare_fin(s)
    print(*drain(s))
EOF

# 6a. tlsserver, peer = Python client: sends $MIB MiB, then FIN without close_notify.
serve_tls fin-srv 4456 "${SRV[@]}" sh -c "cat > '$W/fin.recv'"
run fin "$PY" "$W/finpeer.py" client 4456 "$PKI" "$W/up"
wait_sessions fin-srv 1 10
is "$RC" 0 "bare-FIN client peer ran"
is "$(sha "$W/fin.recv")" "$UP" "peer bare FIN: every byte before the FIN reached prog"
is "$(engine_status fin-srv)" 2 "peer bare FIN: tlsserver exit 2"
is "$(logfield "$W/fin-srv.err" close)" unclean "peer bare FIN: tlsserver log close=unclean"
is "$(logfield "$W/fin-srv.err" status)" 2 "peer bare FIN: log status=2"
stop "$SPAWN_PID"

# 6b. tlsclient, peer = Python server: sends $MIB MiB, then FIN without close_notify.
spawn finsrv "$PY" "$W/finpeer.py" server 4457 "$PKI" "$W/down"
FINSRV=$SPAWN_PID
wait_port 4457
: > "$W/empty"
run finc tcpclient -RHl0 127.0.0.1 4457 "${CLI[@]}" "$FIX/pump.sh" -c recvfirst "$W/empty" "$W/finc.recv"
is "$(sha "$W/finc.recv")" "$DOWN" "server bare FIN: tlsclient's app got every byte"
is "$RC" 2 "server bare FIN: tlsclient exit 2"
is "$(logfield "$W/finc.err" close)" unclean "server bare FIN: tlsclient log close=unclean"
wait_pid "$FINSRV" 5 >/dev/null; stop "$FINSRV"

# 7. close_notify both ways ends the session even when the peer then keeps
# its TCP connection open (no FIN): the engine must not wait for one.
cat > "$W/hold.py" <<'EOF'
import socket, ssl, sys, time
port, pki, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=15),
                    server_hostname='localhost')
if mode == 'peerfirst':
    s.sendall(b'hello\n')
    s.unwrap()                  # our close_notify, then wait for the engine's
else:
    while s.recv(100):          # until the engine's close_notify
        pass
    s.unwrap()                  # answer it
print('closed', flush=True)
time.sleep(6)                   # TCP stays open
EOF
serve_tls hold1-srv 4464 "${SRV[@]}" sh -c 'cat >/dev/null; echo bye'
spawn hold1 "$PY" "$W/hold.py" 4464 "$PKI" peerfirst
H=$SPAWN_PID
wait_sessions hold1-srv 1 3 || fail "peer's close_notify first, TCP kept open: the session did not end within 3 s"
is "$(engine_status hold1-srv)" 0 "peer's close_notify first, TCP kept open: exit 0 without waiting for a FIN"
stop "$H"; stop "$SPAWN_PID"
serve_tls hold2-srv 4465 "${SRV[@]}" sh -c 'echo bye'
spawn hold2 "$PY" "$W/hold.py" 4465 "$PKI" appfirst
H=$SPAWN_PID
wait_sessions hold2-srv 1 3 || fail "our close_notify first, answered, TCP kept open: the session did not end within 3 s"
is "$(engine_status hold2-srv)" 0 "our close_notify first, answered, TCP kept open: exit 0"
is "$(logfield "$W/hold2-srv.err" close)" clean "our close_notify answered: log close=clean"
stop "$H"; stop "$SPAWN_PID"

done_testing

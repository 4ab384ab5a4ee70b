#!/bin/bash
# STARTTLS command injection (CVE-2011-0411 class), both directions.
# Server side: a client pipelines plaintext commands in the same packet as
# STARTTLS; after the handshake they must not be executed (fixture-smtpd,
# like the qmail patch, drops its buffered input after "220 ready for tls",
# and the engine never forwards pre-handshake plaintext into TLS).
# Client side: a server sends extra reply lines in the same packet as its
# 220; fixture-smtpc under tlsclient -n must not take them as replies
# received inside TLS.
# Each has a negative control (the fixture told not to discard) proving the
# check would notice an injection.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient fixtures/fixture-smtpd fixtures/fixture-smtpc
need_cmds tcpserver tcpclient
pki_setup
[ -x "$PY" ] && "$PY" -c 'import ssl' 2>/dev/null || skip_all "no $PY with ssl"

smtp_fixtures
SRV=("$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key")

# ---------------------------------------------------------------- server side
cat > "$W/pipeliner.py" <<'EOF'
# pipeliner.py PORT CA: EHLO, then STARTTLS and two more commands in ONE
# packet, TLS, then EHLO / MAIL / QUIT; prints every reply line
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def reply(sock, tag):
    buf = b""
    lines = []
    while True:
        while b"\n" not in buf:
            d = sock.recv(1)          # byte by byte: read nothing beyond the reply
            if not d:
                print(tag, "EOF", flush=True); return lines
            buf += d
        l, buf = buf.split(b"\n", 1)
        l = l.decode(errors="replace").rstrip("\r")
        print(tag, l, flush=True); lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return lines
reply(raw, "plain")
raw.sendall(b"EHLO pipe.test\r\n"); reply(raw, "plain")
raw.sendall(b"STARTTLS\r\nNOOP INJECTED\r\nMAIL FROM:<inject@evil.example>\r\n")
r = reply(raw, "plain")
assert r and r[-1].startswith("220"), r
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"EHLO after.test\r\n"); reply(s, "tls")
s.sendall(b"MAIL FROM:<a@example.org>\r\n"); reply(s, "tls")
s.sendall(b"QUIT\r\n"); reply(s, "tls")
EOF

FIXTURE_MODE=Y FIXTURE_LOG=$W/inj.smtpd serve inj 25 "${SRV[@]}" "$SMTPD" || bail_out "server inj"
run injc "$PY" "$W/pipeliner.py" 25 "$PKI/ca.pem"
wait_sessions inj 1 10
is "$RC" 0 "pipelined STARTTLS: the client completed TLS and QUIT"
L=$W/inj.smtpd
file_like "$L" '^discarded n=[0-9]+ data=NOOP INJECTED\\r\\nMAIL FROM:<inject@evil\.example>\\r\\n$' \
  "the program had the pipelined commands in its buffer and dropped them after 220"
file_unlike "$L" '^cmd tls=1 NOOP INJECTED' "injected NOOP not executed inside TLS"
file_unlike "$L" '^cmd .*inject@evil' "injected MAIL not executed at all"
is "$(sed -n 's/^tls //p' "$W/injc.out" | head -n 1)" "250-fixture.test hello" "first reply inside TLS answers the client's EHLO"
is "$(sed -n 's/^tls //p' "$W/injc.out" | sed -n 5p)" "250 ok" "MAIL inside TLS accepted (no injected MAIL pending)"

# negative control: a program that does not drop its buffer executes them
FIXTURE_MODE=noflush FIXTURE_LOG=$W/nf.smtpd serve nf 26 "${SRV[@]}" "$SMTPD" || bail_out "server nf"
run nfc "$PY" "$W/pipeliner.py" 26 "$PKI/ca.pem"
wait_sessions nf 1 10
file_like "$W/nf.smtpd" '^cmd tls=1 NOOP INJECTED$' "control: without the flush the injected NOOP runs as if inside TLS (the check is sensitive)"
is "$(sed -n 's/^tls //p' "$W/nfc.out" | head -n 1)" "250 ok" "control: the client's first TLS reply is the injected NOOP's"

# ---------------------------------------------------------------- client side
cat > "$W/evilsrv.py" <<'EOF'
# evilsrv.py PORT CERT KEY LOG: SMTP server; its 220 to STARTTLS comes with
# two extra reply lines in the same packet, then TLS; logs commands
import socket, ssl, sys
port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], open(sys.argv[4], "w", buffering=1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(4)
print("ready", flush=True)
for _ in range(2):
    c, _a = ls.accept(); c.settimeout(10)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s, tls = c, False
    f = s.makefile("rb")
    s.sendall(b"220 evil ESMTP\r\n")
    try:
        while True:
            l = f.readline()
            if not l:
                break
            l = l.decode(errors="replace").rstrip("\r\n")
            log.write("cmd tls=%d %s\n" % (tls, l))
            u = l.upper()
            if u.startswith("EHLO"):
                s.sendall(b"250-evil\r\n250 STARTTLS\r\n" if not tls else b"250-real\r\n250 OK\r\n")
            elif u == "STARTTLS" and not tls:
                s.sendall(b"220 go ahead\r\n250-INJECTED\r\n250 INJECTED\r\n")
                f = None
                s = ctx.wrap_socket(c, server_side=True)
                tls = True
                f = s.makefile("rb")
            elif u.startswith("MAIL") or u.startswith("RCPT"):
                s.sendall(b"250 ok\r\n")
            elif u == "DATA":
                s.sendall(b"354 go\r\n")
                while True:
                    d = f.readline()
                    if not d or d.rstrip(b"\r\n") == b".":
                        break
                s.sendall(b"250 queued\r\n")
            elif u == "QUIT":
                s.sendall(b"221 bye\r\n"); break
            else:
                s.sendall(b"502 no\r\n")
    except Exception as e:
        log.write("error %r\n" % (e,))
    try:
        if f:
            f.close()     # the makefile() reference would keep the socket open
        s.close()
    except Exception:
        pass
EOF
spawn evil "$PY" "$W/evilsrv.py" 2525 "$PKI/server.pem" "$PKI/server.key" "$W/evil.log"
wait_port 2525 || { diag_file "$W/evil.err"; bail_out "evil server did not start"; }
run cl tcpclient -RHl0 -T 5 127.0.0.1 2525 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
  "$SMTPC" -o "$W/cl.rec" -r
is "$RC" 0 "client: session with the injecting server completes"
R=$W/cl.rec
file_like "$R" '^discarded n=[0-9]+ data=250-INJECTED\\r\\n250 INJECTED\\r\\n$' "client: the extra lines sent with the 220 were dropped before TLS"
file_unlike "$R" '^reply tls=1 .*INJECTED' "client: no injected line taken as a reply inside TLS"
is "$(sed -n 's/^reply tls=1 //p' "$R" | head -n 1)" "250-real" "client: first reply inside TLS is the server's real EHLO answer"
file_like "$W/evil.log" '^cmd tls=1 EHLO client\.test$' "server: EHLO arrived again inside TLS"

# negative control: fixture-smtpc -P keeps its buffer
run clp tcpclient -RHl0 -T 5 127.0.0.1 2525 "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
  "$SMTPC" -o "$W/clp.rec" -r -P
file_like "$W/clp.rec" '^reply tls=1 250-INJECTED$' "control: without the flush the injected line is read as if inside TLS (the check is sensitive)"

done_testing

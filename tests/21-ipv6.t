#!/bin/bash
# IPv6: ucspi-tcp 0.88 is IPv4-only, so the listener is the way to serve
# IPv6 here. tlsserver -L on ::1 with a real TLS client (Python's ssl):
# data both ways, the tcpserver-style environment with IPv6 addresses, and
# a tcprules cdb keyed by an IPv6 prefix.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
pki_setup
ip -6 addr show dev lo 2>/dev/null | grep -q '::1' || skip_all "no IPv6 on loopback"

client() { # PORT -> prints what the server said, exit status of the client
  "$PY" - "$1" "$PKI/ca.pem" <<'PYEOF'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=10)
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"ping\n")
data = b""
while True:
    d = t.recv(4096)
    if not d:
        break
    data += d
sys.stdout.write(data.decode())
PYEOF
}

spawn v6 "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" ::1 4600 \
  "$FIX/envdump.sh" "$W/env.v6" sh -c 'IFS= read -r l; echo "got $l"'
wait_until 5 sh -c "ss -Hltn 'sport = :4600' | grep -q ."
out=$(client 4600 2>"$W/c1.err"); rc=$?
is "$rc" 0 "a TLS client over ::1 completes"
is "$out" "got ping" "data both ways over IPv6"
wait_until 5 test -s "$W/env.v6"
file_like "$W/env.v6" '^TCPREMOTEIP=::1$' "TCPREMOTEIP is the IPv6 address"
file_like "$W/env.v6" '^TCPLOCALIP=::1$' "TCPLOCALIP is the IPv6 address"
file_like "$W/env.v6" '^TCPLOCALPORT=4600$' "TCPLOCALPORT set"
file_like "$W/env.v6" '^PROTO=TCP$' "PROTO=TCP"
file_like "$W/env.v6" '^SSL_PROTOCOL=TLSv1\.3$' "SSL_PROTOCOL set"
stop "$SPAWN_PID"

# Rules keyed by an IPv6 address. ucspi-tcp's tcprules has no IPv6 syntax,
# so the cdb is written with the same format directly: key "::1" -> "D"
# (deny), key "" -> allow.
"$PY" - "$W/rules.cdb" <<'PYEOF'
import struct, sys
recs = [(b"::1", b"D"), (b"", b"")]
def h(k):
    v = 5381
    for c in k:
        v = ((v << 5) + v) & 0xffffffff ^ c
    return v
body = b""; pos = 2048; slots = [[] for _ in range(256)]
for k, d in recs:
    slots[h(k) & 255].append((h(k), pos))
    body += struct.pack("<II", len(k), len(d)) + k + d
    pos += 8 + len(k) + len(d)
head = b""; tables = b""
for t in slots:
    n = 2 * len(t)
    head += struct.pack("<II", pos + len(tables), n)
    cells = [(0, 0)] * n
    for hv, p in t:
        i = (hv >> 8) % n
        while cells[i][1]:
            i = (i + 1) % n
        cells[i] = (hv, p)
    tables += b"".join(struct.pack("<II", a, b) for a, b in cells)
open(sys.argv[1], "wb").write(head + body + tables)
PYEOF
spawn v6d "$TLSSERVER" -L -x "$W/rules.cdb" -c "$PKI/server.pem" -k "$PKI/server.key" ::1 4601 cat
wait_until 5 sh -c "ss -Hltn 'sport = :4601' | grep -q ."
client 4601 >/dev/null 2>"$W/c2.err"
isnt "$?" 0 "::1 denied by an IPv6 rule: the client gets no session"
wait_until 5 grep -q 'deny peer=\[::1\]:' "$W/v6d.err"
file_like "$W/v6d.err" 'info: deny peer=\[::1\]:[0-9]+$' "the listener logs the denied IPv6 client, bracketed"
stop "$SPAWN_PID"
done_testing

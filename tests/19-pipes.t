#!/bin/bash
# The network side need not be a socket: tlsserver on two pipes (fd 0 read,
# fd 1 write, as under `swaks --pipe` or an inetd-style wrapper) and
# tlsclient on two pipes (fds 6/7). A Python peer drives TLS through memory
# BIOs over the pipes: handshake, a request and its answer, 1 MiB each way,
# close_notify both ways. The engine must not insist on socket-only calls
# (TCP_NODELAY, shutdown) and must end with exit 0.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
pki_setup

cat > "$W/pipepeer.py" <<'EOF'
import hashlib, os, ssl, subprocess, sys
role, pki, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmd = sys.argv[4:]
err = open(os.environ['PEER_ERRFILE'], 'wb')
if role == 'client':        # we are the TLS client, cmd is tlsserver
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    wfd, rfd = p.stdin.fileno(), p.stdout.fileno()
    ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    t = ctx.wrap_bio(inc, out, server_hostname='localhost')
else:                       # we are the TLS server, cmd is tlsclient on 6/7
    r6, w6 = os.pipe()      # we write -> its fd 6
    r7, w7 = os.pipe()      # its fd 7 -> we read
    def child():
        os.dup2(r6, 6); os.dup2(w7, 7)
    p = subprocess.Popen(cmd, pass_fds=(6, 7), preexec_fn=child, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err)
    os.close(r6); os.close(w7)
    wfd, rfd = w6, r7
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki + '/server.pem', pki + '/server.key')
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    t = ctx.wrap_bio(inc, out, server_side=True)

def flush():
    d = out.read()
    while d:
        n = os.write(wfd, d); d = d[n:]
def fill():
    d = os.read(rfd, 1 << 16)
    if d: inc.write(d)
    else: inc.write_eof()
    return bool(d)
def step(fn, *a):
    while True:
        try:
            r = fn(*a); flush(); return r
        except ssl.SSLWantReadError:
            flush()
            if not fill():
                raise EOFError('engine closed during ' + fn.__name__)

step(t.do_handshake)
print('proto', t.version())
# request / answer
step(t.write, b'ping\n')
line = b''
while not line.endswith(b'\n'):
    line += step(t.read, 1 << 16)
print('answer', line.decode().strip())
# bulk: send mib MiB, then close_notify; read the echo up to the engine's
# close_notify. Non-blocking pipes and select, so neither side stalls.
import select
data = (b'0123456789abcdef' * 64) * (mib * 1024)
h_sent = hashlib.sha256(data).hexdigest()
h, got, sent, pend = hashlib.sha256(), 0, 0, b''
closed = peer_closed = eof = False
os.set_blocking(wfd, False); os.set_blocking(rfd, False)
while True:
    if sent < len(data) and len(pend) < (1 << 18):
        n = min(16384, len(data) - sent)
        t.write(data[sent:sent + n]); sent += n
    elif sent >= len(data) and not closed:
        closed = True
        try:
            t.unwrap()
        except ssl.SSLWantReadError:
            pass
    pend += out.read()
    if peer_closed and closed and not pend:
        break
    rl = [] if eof else [rfd]
    wl = [wfd] if pend else []
    if not rl and not wl:
        break
    busy = sent < len(data) and len(pend) < (1 << 18)
    r, w, _ = select.select(rl, wl, [], 0 if busy else 15)
    if not r and not w and not busy:
        raise TimeoutError('engine stalled: sent %d got %d' % (sent, got))
    if w:
        try:
            n = os.write(wfd, pend); pend = pend[n:]
        except BlockingIOError:
            pass
    if r:
        d = os.read(rfd, 1 << 16)
        if d:
            inc.write(d)
        else:
            inc.write_eof(); eof = True
        while True:
            try:
                b = t.read(1 << 16)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                peer_closed = True
                break
            if not b:
                peer_closed = True
                break
            h.update(b); got += len(b)
print('bulk', got == len(data) and h.hexdigest() == h_sent, got)
print('close_notify', peer_closed)
os.close(wfd)
print('exit', p.wait(timeout=15))
EOF

# tlsserver on pipes; prog answers one line, then echoes
PEER_ERRFILE=$W/srv.err run srv "$PY" "$W/pipepeer.py" client "$PKI" 1 \
  "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" \
  sh -c 'IFS= read -r l; echo "got $l"; exec cat'
file_like "$W/srv.out" '^proto TLSv1\.3$' "tlsserver on pipes: handshake done (TLSv1.3)"
file_like "$W/srv.out" '^answer got ping$' "tlsserver on pipes: request answered"
file_like "$W/srv.out" '^bulk True 1048576$' "tlsserver on pipes: 1 MiB echoed intact"
file_like "$W/srv.out" '^close_notify True$' "tlsserver on pipes: its close_notify arrived after the data"
file_like "$W/srv.out" '^exit 0$' "tlsserver on pipes: exit 0 after close_notify both ways"
like "$(done_line "$W/srv.err")" 'close=clean' "tlsserver on pipes: log close=clean"
[ "$RC" = 0 ] || { diag "peer exit $RC"; diag_file "$W/srv.err"; }

# tlsclient on pipes 6/7; prog sends a line, prints the answer, then echoes
PEER_ERRFILE=$W/cli.err run cli "$PY" "$W/pipepeer.py" server "$PKI" 1 \
  "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
  sh -c 'IFS= read -r l <&6; echo "got $l" >&7; exec cat <&6 >&7'
file_like "$W/cli.out" '^proto TLSv1\.3$' "tlsclient on pipes: handshake done (TLSv1.3)"
file_like "$W/cli.out" '^answer got ping$' "tlsclient on pipes: request answered"
file_like "$W/cli.out" '^bulk True 1048576$' "tlsclient on pipes: 1 MiB echoed intact"
file_like "$W/cli.out" '^close_notify True$' "tlsclient on pipes: its close_notify arrived after the data"
file_like "$W/cli.out" '^exit 0$' "tlsclient on pipes: exit 0 after close_notify both ways"
[ "$RC" = 0 ] || { diag "peer exit $RC"; diag_file "$W/cli.err"; }

done_testing

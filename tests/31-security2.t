#!/bin/bash
# Security round 2, the engine's side:
#   * a variable given twice in the engine's environment (forged
#     SSL_CLIENT_VERIFY, CERTFILE, KEYFILE) reaches prog not at all, or only
#     as the session's own value: every occurrence is removed;
#   * the engine's core limit is 0 (no core of the key-holding process, even
#     when a delayed-mode prog dies of SIGSEGV and the engine re-raises it);
#   * tlsserver -L keeps serving with its old configuration when a SIGHUP
#     finds a FIFO where the certificate was (no hang, no exit);
#   * TLS_CHROOT with CADIR: client certificates still verify (the anchors
#     are read before the chroot), server and client side;
#   * an expired certificate is served with a warning line;
#   * tlsclient refuses a TLS 1.2 server's renegotiation;
#   * a descriptor sent along with 'Y' is not kept for the session.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup
CA=$PKI/ca.pem

# dupenv.py VAR=value... -- PROG ARGS: exec PROG with the environment plus
# the entries given, duplicates kept (execve takes any array; shells and
# env(1) would merge them)
cat > "$W/dupenv.py" <<'EOF'
import ctypes, os, sys
i = sys.argv.index("--")
extra, argv = sys.argv[1:i], sys.argv[i + 1:]
env = [k + "=" + v for k, v in os.environ.items()] + extra
def arr(l):
    a = (ctypes.c_char_p * (len(l) + 1))()
    a[:-1] = [s.encode() for s in l]
    a[len(l)] = None
    return a
libc = ctypes.CDLL(None, use_errno=True)
libc.execve(argv[0].encode(), arr(argv), arr(env))
sys.exit("execve: " + os.strerror(ctypes.get_errno()))
EOF

# ---------------------------------------------------------------- duplicate variables
serve dup 4801 "$PY" "$W/dupenv.py" \
  "CERTFILE=$PKI/server.pem" "KEYFILE=$PKI/server.key" "CERTFILE=/forged/cert.pem" "KEYFILE=/forged/key.pem" \
  SSL_CLIENT_VERIFY=SUCCESS SSL_CLIENT_VERIFY=SUCCESS \
  SSL_CLIENT_S_DN_Email=postmaster@victim.example SSL_CLIENT_S_DN_Email=postmaster@victim.example \
  -- "$TLSSERVER" "$FIX/envdump.sh" "$W/env.dup" "$FIX/reply.sh"
run_in "$(ping_file)" c-dup openssl s_client -connect 127.0.0.1:4801 -quiet -CAfile "$CA"
wait_sessions dup 1 5
file_like "$W/c-dup.out" '^reply:ping' "duplicated variables: the session works (the engine read the first CERTFILE)"
is "$(grep -c '^SSL_CLIENT_VERIFY=' "$W/env.dup")" 1 "SSL_CLIENT_VERIFY reaches prog once"
is "$(envval "$W/env.dup" SSL_CLIENT_VERIFY)" NONE "and it is the session's own value (NONE), not a forged copy"
is "$(grep -c '^SSL_CLIENT_S_DN_Email=' "$W/env.dup")" 0 "no copy of the forged SSL_CLIENT_S_DN_Email"
is "$(grep -cE '^(CERTFILE|KEYFILE)=' "$W/env.dup")" 0 "no copy of CERTFILE or KEYFILE (file names)"

# ---------------------------------------------------------------- no core
cat > "$W/segv.sh" <<'EOF'
#!/bin/sh
# delayed-mode prog: note the engine's core limit, then die of SIGSEGV
awk '/^Max core file size/ {print $5, $6}' /proc/$PPID/limits > "$1"
kill -SEGV $$
EOF
chmod +x "$W/segv.sh"
mkdir -p "$W/cwd" && cd "$W/cwd" || bail_out "cd"
serve segv 4802 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$W/segv.sh" "$W/limits"
run c-segv "$PY" -c 'import socket; s=socket.create_connection(("127.0.0.1",4802)); s.settimeout(5); s.recv(10)'
wait_sessions segv 1 5
cd "$W" || bail_out "cd"
is "$(cat "$W/limits" 2>/dev/null)" "0 0" "the engine's core limit is 0 (soft and hard)"
is "$(session_exits segv)" sig11 "prog's SIGSEGV: the engine dies of the same signal (transparent to a supervisor)"
is "$(ls "$W/cwd" | grep -c core)" 0 "and no core file was written"

# ---------------------------------------------------------------- -L, SIGHUP with a FIFO as the certificate
cp "$PKI/combined.pem" "$W/live.pem"
spawn lst "$TLSSERVER" -L -c "$W/live.pem" 127.0.0.1 4803 "$FIX/reply.sh"
LST=$SPAWN_PID
wait_port 4803 || bail_out "listener did not start"
rm -f "$W/live.pem"; mkfifo "$W/live.pem"
kill -HUP "$LST"
ok "SIGHUP with a FIFO certificate: 'reload failed' logged at once" \
  wait_until 5 grep -q '^tlsserver: warning: reload failed keep=previous reason=".*live\.pem is a FIFO, not a regular file"' "$W/lst.err"
run_in "$(ping_file)" c-lst openssl s_client -connect 127.0.0.1:4803 -quiet -CAfile "$CA"
file_like "$W/c-lst.out" '^reply:ping' "the listener still serves, with the previous certificate"
ok "the listener is still running" kill -0 "$LST"
stop "$LST"

# ---------------------------------------------------------------- TLS_CHROOT and CADIR
mkdir -p "$W/cadir" "$W/jail"
cp "$CA" "$W/cadir/ca.pem"
openssl rehash "$W/cadir" >/dev/null 2>&1 || c_rehash "$W/cadir" >/dev/null 2>&1
TLS_CHROOT=$W/jail CADIR=$W/cadir serve chr 4804 "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" \
  "$FIX/envdump.sh" "$W/env.chr" "$FIX/reply.sh"
run_in "$(ping_file)" c-chr openssl s_client -connect 127.0.0.1:4804 -quiet -CAfile "$CA" \
  -cert "$PKI/client.pem" -key "$PKI/client.key"
wait_sessions chr 1 5
is "$(envval "$W/env.chr" SSL_CLIENT_VERIFY)" SUCCESS "TLS_CHROOT + CADIR: a valid client certificate verifies (anchors read before the chroot)"
spawn ss openssl s_server -accept 127.0.0.1:4805 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 -rev -quiet
wait_port 4805
mk_client_prog "$W/cprog"
env TLS_CHROOT="$W/jail" CADIR="$W/cadir" tcpclient -RHl0 127.0.0.1 4805 "$TLSCLIENT" -h localhost "$W/cprog" "$W/cenv" \
  > "$W/cli.out" 2> "$W/cli.err"
is "$?/$(envval "$W/cenv" SSL_SERVER_VERIFY)" "0/SUCCESS" "tlsclient under TLS_CHROOT with CADIR: the server verifies"

# ---------------------------------------------------------------- expired certificate: served, with a warning
serve exp 4806 "$TLSSERVER" -c "$PKI/expired.pem" -k "$PKI/expired.key" "$FIX/reply.sh"
run_in "$(ping_file)" c-exp openssl s_client -connect 127.0.0.1:4806 -quiet
wait_sessions exp 1 5
file_like "$W/exp.err" "^tlsserver: warning: certificate .*expired\\.pem expired on [A-Z][a-z][a-z] " "an expired certificate: one warning line naming it and its date"

# ---------------------------------------------------------------- tlsclient: no server-initiated renegotiation
fifo_open ssin
openssl s_server -accept 127.0.0.1:4807 -tls1_2 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 \
  < "$W/ssin.fifo" > "$W/rss.out" 2> "$W/rss.err" &
RSS=$!
cat > "$W/rprog" <<'EOF'
#!/bin/sh
printf 'first\n' >&7
sleep 1.5
printf 'second\n' >&7
sleep 1
exit 0
EOF
chmod +x "$W/rprog"
wait_port 4807
( sleep 0.7; printf 'R\n' >&"$FIFO_FD" ) &
timeout 10 tcpclient -RHl0 127.0.0.1 4807 "$TLSCLIENT" -i -v 2 "$W/rprog" > "$W/rcli.out" 2> "$W/rcli.err"
wait_pid "$RSS" 5 >/dev/null
fifo_close
cat "$W/rss.out" "$W/rss.err" > "$W/rss.all" 2>/dev/null
file_like "$W/rss.all" 'first' "renegotiation: the session worked before it"
file_unlike "$W/rss.all" '^second$' "the server's renegotiation was refused: no data went on over a second handshake"

# ---------------------------------------------------------------- a descriptor passed along with Y is not kept
cat > "$W/yfd.py" <<'EOF'
import array, os, select, socket, sys
ctl = socket.socket(fileno=int(os.environ["SSLCTLFD"]))
r, w = os.pipe()
ctl.sendmsg([b"Y"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])
os.close(w)
data = b""
while not data.endswith(b"\0\0"):
    x = ctl.recv(4096)
    if not x:
        break
    data += x
ready = select.select([r], [], [], 3)[0]
open(sys.argv[1], "w").write("eof" if ready and os.read(r, 1) == b"" else "held")
EOF
serve yfd 4808 "$TLSSERVER" -n -c "$PKI/server.pem" -k "$PKI/server.key" "$PY" "$W/yfd.py" "$W/yfd.res"
run_in "$(ping_file)" c-yfd timeout 8 openssl s_client -connect 127.0.0.1:4808 -quiet
wait_sessions yfd 1 10
is "$(cat "$W/yfd.res" 2>/dev/null)" eof "a descriptor sent along with Y is not kept by the engine (the pipe's writer is gone at once)"

done_testing

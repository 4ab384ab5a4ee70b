#!/bin/bash
# The engines under valgrind memcheck, following the engine only, never prog
# (--trace-children=no). tlsserver: immediate mode with openssl s_client, an
# optional client certificate checked by our own X509 store and CRL, a refused
# required-mode handshake, and -n (UCSPI-TLS: fixture-smtpd answering
# STARTTLS from s_client -starttls smtp with 'Y'). tlsclient: immediate mode
# against openssl s_server, -n with a Python prog sending 'Y', and -n with a
# late socket (fixture-smtpc). Each must show no memcheck error, no definite
# leak, and (after a clean session) no descriptor the engine made still open
# at exit. Sessions run side by side in two waves, to stay fast.
# Skipped under the ASan build (valgrind and ASan do not mix).
. "$(dirname "$0")/../lib.sh"
[ "$SANITIZED" = 1 ] && skip_all "UCSPI_TLS_SANITIZED=1: valgrind does not run ASan binaries"
need_bins tlsserver tlsclient
need_cmds valgrind tcpserver tcpclient openssl
pki_setup
RUN_TIMEOUT=50

VGERR=77
VG=(valgrind -q --tool=memcheck "--error-exitcode=$VGERR" --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=yes
    --trace-children=no --num-callers=30)
S_KEYS=(-c "$PKI/server.pem" -k "$PKI/server.key")

# vg_check TAG DESC [nofd]: every valgrind log $W/vg.TAG.*.log is free of
# errors and definite leaks; unless "nofd", also of descriptors opened by the
# engine (pipe, socket...) still open at exit after a clean session.
# Inherited descriptors and skalibs' selfpipe signalfd are fine; on a refusal
# path the engine dies with strerr and its pipes are closed by exit itself.
vg_check() {
  local tag=$1 d=$2 f bad=
  local logs=("$W"/vg."$tag".*.log)
  if [ ! -e "${logs[0]}" ]; then fail "$d: valgrind ran (no log)"; return; fi
  pass "$d: valgrind ran (${#logs[@]} log(s))"
  for f in "${logs[@]}"; do
    grep -Eq '== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap)|are definitely lost|ERROR SUMMARY: [1-9]' "$f" && bad="$bad $f"
  done
  if [ -z "$bad" ]; then pass "$d: no memcheck error, no definite leak"
  else fail "$d: no memcheck error, no definite leak"; for f in $bad; do diag_file "$f" 60; done; fi
  [ "${3:-}" = nofd ] && return 0
  bad=
  for f in "${logs[@]}"; do
    grep -A1 -E '^==[0-9]+== Open (file descriptor|AF_)' "$f" |
      grep -Eq ' at 0x[0-9A-F]+: (pipe2?|socketpair|socket|accept4?|open(at)?|dup[23]?|fcntl) ' && bad="$bad $f"
  done
  if [ -z "$bad" ]; then pass "$d: no descriptor opened by the engine left open at exit"
  else fail "$d: no descriptor opened by the engine left open at exit"; for f in $bad; do diag_file "$f" 60; done; fi
}
# vg TAG: VGA = the valgrind command line logging to $W/vg.TAG.<pid>.log
vg() { VGA=("${VG[@]}" "--log-file=$W/vg.$1.%p.log"); }

# bg NAME CMD...: run CMD in the background like `run` (stdin /dev/null, or
# $W/NAME.in when it exists; stdout/stderr in $W/NAME.out/.err); its exit
# status lands in $W/NAME.rc. Valgrind is slow, so independent sessions run
# side by side, in two waves; bg_wait waits for all of them.
BG=()
bg() {
  local name=$1 in=/dev/null; shift
  [ -f "$W/$name.in" ] && in=$W/$name.in
  ( timeout -k 2 "$RUN_TIMEOUT" "$@" <"$in" >"$W/$name.out" 2>"$W/$name.err"; echo $? > "$W/$name.rc" ) &
  BG+=($!)
}
bg_wait() { local p; for p in "${BG[@]}"; do wait_pid "$p" $((RUN_TIMEOUT + 5)) >/dev/null; done; BG=(); }
rc_of() { cat "$W/$1.rc" 2>/dev/null || echo none; }

SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
SMTPC=$UCSPI_TLS_BIN/fixtures/fixture-smtpc

# ================================================ wave 1: tlsserver
# immediate mode, no client certificate
vg srv
serve srv 4460 "${VGA[@]}" "$TLSSERVER" "${S_KEYS[@]}" "$FIX/envdump.sh" "$W/env.srv" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
cp "$(ping_file)" "$W/s1.in"
bg s1 openssl s_client -connect 127.0.0.1:4460 -quiet -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost
# optional client certificate, verified by our own X509 store with a CRL (TLS 1.2)
vg opt
serve opt 4461 "${VGA[@]}" "$TLSSERVER" "${S_KEYS[@]}" -y -a "$PKI/ca.pem" -r "$PKI/crl.pem" \
  "$FIX/envdump.sh" "$W/env.opt" "$FIX/reply.sh" || bail_out "tcpserver did not start"
cp "$(ping_file)" "$W/s2.in"
bg s2 openssl s_client -connect 127.0.0.1:4461 -quiet -CAfile "$PKI/ca.pem" -tls1_2 \
  -cert "$PKI/revoked.pem" -key "$PKI/revoked.key"
# a refused handshake (-Y, no certificate)
vg req
serve req 4462 "${VGA[@]}" "$TLSSERVER" "${S_KEYS[@]}" -Y -a "$PKI/ca.pem" \
  "$FIX/envdump.sh" "$W/env.req" "$FIX/reply.sh" || bail_out "tcpserver did not start"
cp "$(ping_file)" "$W/s4.in"
bg s4 openssl s_client -connect 127.0.0.1:4462 -quiet -CAfile "$PKI/ca.pem"
# delayed mode (UCSPI-TLS): fixture-smtpd answers STARTTLS with 'Y'
if [ -x "$SMTPD" ]; then
  vg dly
  FIXTURE_LOG=$W/fx.log serve dly 4464 "${VGA[@]}" "$TLSSERVER" -n "${S_KEYS[@]}" "$SMTPD" \
    || bail_out "tcpserver did not start"
  printf 'EHLO c.test\r\nQUIT\r\n' > "$W/s5.in"
  bg s5 openssl s_client -connect 127.0.0.1:4464 -starttls smtp -CAfile "$PKI/ca.pem" \
    -verify_return_error -verify_hostname localhost -quiet
fi
bg_wait
wait_sessions srv 1 10; wait_sessions opt 1 10; wait_sessions req 1 10
[ -x "$SMTPD" ] && wait_sessions dly 1 10

is "$(rc_of s1)" 0 "tlsserver under valgrind: s_client session succeeds"
file_like "$W/s1.out" '^reply:ping$' "tlsserver under valgrind: data came back"
is "$(session_exits srv)" 0 "tlsserver under valgrind: exit 0 (not $VGERR)"
vg_check srv "tlsserver immediate"

is "$(envval "$W/env.opt" SSL_CLIENT_VERIFY)" "FAILED:certificate revoked" "tlsserver -y -r under valgrind: CRL check reported"
is "$(session_exits opt)" 0 "tlsserver -y under valgrind: exit 0"
vg_check opt "tlsserver -y with a client certificate and a CRL"

is "$(session_exits req)" 97 "refused handshake under valgrind: exit 97 (not $VGERR)"
vg_check req "tlsserver -Y refusing a client" nofd

if [ -x "$SMTPD" ]; then
  is "$(rc_of s5)" 0 "tlsserver -n under valgrind: s_client -starttls smtp succeeds"
  file_like "$W/s5.out" '^221 ' "tlsserver -n: the SMTP dialogue finished inside TLS"
  file_like "$W/fx.log" '^starttls mode=Y result=1 ' "tlsserver -n: the fixture's 'Y' got a successful reply"
  file_like "$W/fx.log" '^cmd tls=1 QUIT' "tlsserver -n: commands after STARTTLS arrived encrypted"
  is "$(session_exits dly)" 0 "tlsserver -n under valgrind: exit 0 (prog's status, not $VGERR)"
  vg_check dly "tlsserver -n"
else
  skip_n 8 "fixture-smtpd not built ($SMTPD): make all"
fi

# ================================================ wave 2: tlsclient
# immediate mode against openssl s_server
mk_client_prog "$W/cprog"
spawn ss openssl s_server -accept 127.0.0.1:4463 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 -rev
SS1=$SPAWN_PID; wait_port 4463
vg cli
bg cli tcpclient -RHl0 127.0.0.1 4463 "${VGA[@]}" "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/cprog" "$W/cenv"

# delayed mode, descriptors 6/7: a Python prog sends 'Y' and reads the reply
cat > "$W/yprog.py" <<'EOF'
import os, sys
ctl, rd, wr = (int(os.environ[v]) for v in ("SSLCTLFD", "SSLREADFD", "SSLWRITEFD"))
os.write(ctl, b"Y")
buf = b""
while not buf.endswith(b"\0\0") and buf != b"\0":
    r = os.read(ctl, 4096)
    if not r:
        sys.exit(3)
    buf += r
with open(sys.argv[1], "wb") as f:
    f.write(buf.replace(b"\0", b"\n"))
os.close(ctl)
os.write(wr, b"hello\n")
os.close(wr)
line = b""
while not line.endswith(b"\n"):
    r = os.read(rd, 4096)
    if not r:
        break
    line += r
with open(sys.argv[1] + ".reply", "wb") as f:
    f.write(line)
EOF
spawn ss2 openssl s_server -accept 127.0.0.1:4465 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 -rev
SS2=$SPAWN_PID; wait_port 4465
vg clin
bg clin tcpclient -RHl0 127.0.0.1 4465 "${VGA[@]}" "$TLSCLIENT" -n -h localhost -a "$PKI/ca.pem" \
  "$PY" "$W/yprog.py" "$W/yreply"

# delayed mode, late socket: fixture-smtpc connects by itself, to tlsserver -n
if [ -x "$SMTPC" ] && [ -x "$SMTPD" ]; then
  printf 'Subject: vg\n\nhi\n' > "$W/msg"
  mkdir -p "$W/spool"
  FIXTURE_SPOOL=$W/spool serve late 4466 "$TLSSERVER" -n "${S_KEYS[@]}" "$SMTPD" \
    || bail_out "tcpserver did not start"
  vg late
  bg lcli "${VGA[@]}" "$TLSCLIENT" -n "$SMTPC" -c 127.0.0.1:4466 -h localhost -a "$PKI/ca.pem" \
    -m "$W/msg" -o "$W/smtpc.rec"
fi
bg_wait
wait_pid "$SS1" 10 >/dev/null; wait_pid "$SS2" 10 >/dev/null

is "$(rc_of cli)" 0 "tlsclient under valgrind: exit 0"
is "$(cat "$W/cenv.reply" 2>/dev/null)" olleh "tlsclient under valgrind: s_server answered"
is "$(envval "$W/cenv" SSL_SERVER_VERIFY)" SUCCESS "tlsclient under valgrind: server verified"
vg_check cli "tlsclient immediate"

is "$(rc_of clin)" 0 "tlsclient -n under valgrind: exit 0 (prog's status)"
file_like "$W/yreply" '^SSL_SERVER_VERIFY=SUCCESS$' "tlsclient -n: the 'Y' reply carried SSL_SERVER_VERIFY=SUCCESS"
is "$(cat "$W/yreply.reply" 2>/dev/null)" olleh "tlsclient -n: data through SSLWRITEFD/SSLREADFD"
vg_check clin "tlsclient -n"

if [ -x "$SMTPC" ] && [ -x "$SMTPD" ]; then
  wait_sessions late 1 10
  is "$(rc_of lcli)" 0 "tlsclient -n late socket under valgrind: exit 0 (fixture-smtpc's status)"
  file_like "$W/smtpc.rec" '^starttls result=1' "late socket: STARTTLS succeeded"
  file_like "$W/smtpc.rec" '^env SSL_SERVER_VERIFY=SUCCESS$' "late socket: server verified against the per-session CA file"
  is "$(find "$W/spool" -name 'msg.*' | wc -l | tr -d ' ')" 1 "late socket: the message arrived"
  vg_check late "tlsclient -n late socket"
else
  skip_n 7 "fixture-smtpc / fixture-smtpd not built: make all"
fi

done_testing

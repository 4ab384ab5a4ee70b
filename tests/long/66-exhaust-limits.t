#!/bin/bash
# Resource exhaustion at start and in the log:
#  - out of descriptors: tlsserver under RLIMIT_NOFILE from 4 upwards. Where
#    its pipes / socketpair / selfpipe cannot be made: exit 111, exactly one
#    "tlsserver: fatal: ..." line naming the call and EMFILE, prog never runs.
#    Where they can: the session works. Nothing else (no 96, no signal).
#  - out of processes: as an otherwise unused uid under RLIMIT_NPROC=1 the
#    fork fails: exit 111, one line, prog never runs; RLIMIT_NPROC=2 works.
#  - log on a full disk (stderr = /dev/full): sessions still work, refusals
#    still end with the right status, and nothing spins (each session ends
#    at once).
. "$(dirname "$0")/../lib.sh"
need_bins tlsserver
need_cmds tcpserver prlimit setpriv
[ -x "$PY" ] || skip_all "$PY not installed"
pki_setup

SRV=(-c "$PKI/server.pem" -k "$PKI/server.key")
cat > "$W/client.py" <<'PYEOF'
import socket, ssl, sys
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(8)
try:
    if mode.startswith("d"):
        # delayed mode: the plaintext dialogue of soakprog -n first
        f = s.makefile("rb", buffering=0)
        assert f.readline() == b"220 soak\r\n"
        s.sendall(b"STARTTLS\r\n")
        assert f.readline() == b"220 go\r\n"
        mode = mode[1:]
    if mode in ("garbage", "stall"):
        if mode == "garbage":
            s.sendall(b"GARBAGE\r\n" * 100)
        try:
            while s.recv(4096): pass
        except ConnectionResetError:
            pass
        print("closed"); sys.exit(0)
    ctx = ssl.create_default_context(cafile=ca)
    t = ctx.wrap_socket(s, server_hostname="localhost")
    t.sendall(b"E\x00\x00\x00\x05hello")
    d = b""
    while True:
        x = t.recv(65536)
        if not x: break
        d += x
    try: t.unwrap()
    except (ssl.SSLError, OSError): pass
    print("reply", d.decode())
except Exception as e:
    print("error", type(e).__name__, e)
PYEOF
cc -std=c99 -D_GNU_SOURCE -O2 -o "$W/soakprog" "$TESTDIR/soak/soakprog.c" || bail_out "soakprog does not compile"
# "did prog run": soakprog creates $SOAKPROG_MARK first (no shell, no fork,
# writable by the unprivileged uid of the process test)
mkdir -m 1777 "$W/mk"
export SOAKPROG_MARK=$W/mk/ran

errlines() { grep -ac '^tlsserver: ' "$W/$1.err"; }

# ---------------------------------------------------------------- descriptors
for mode in immediate delayed; do
  n_opt=(); c=; [ $mode = delayed ] && { n_opt=(-n); c=d; }
  port=4661; [ $mode = delayed ] && port=4662
  serve fd$mode $port sh -c 'n=$(cat "$0"); exec prlimit --nofile=$n:$n "$@"' "$W/nofile" \
    "$TLSSERVER" "${n_opt[@]}" "${SRV[@]}" "$W/soakprog" "${n_opt[@]}" || bail_out "tcpserver did not start"
  failed_levels= worked_levels= bad=
  for n in 4 5 6 7 8 9 10 11 12 13 14 16 20; do
    echo "$n" > "$W/nofile"; rm -f "$W/mk/ran"
    before=$(errlines fd$mode)
    s_before=$(count_lines "$W/fd$mode.err" '^tcpserver: end ')
    timeout 15 "$PY" "$W/client.py" $port "$PKI/ca.pem" ${c}plain > "$W/c.out" 2>&1
    wait_sessions fd$mode $((s_before + 1)) 10
    st=$(session_exits fd$mode | tail -n 1)
    new=$(grep -a '^tlsserver: ' "$W/fd$mode.err" | tail -n +$((before + 1)))
    if [ "$st" = 111 ]; then
      failed_levels="$failed_levels $n"
      # one line saying what could not be done, and the session's summary
      if [ "$(printf '%s\n' "$new" | grep -vc ': info: done ')" != 1 ] ||
         ! printf '%s\n' "$new" | grep -Eq "^tlsserver: fatal: unable to (create prog's channel|create the start channel|fork): Too many open files$" ||
         ! printf '%s\n' "$new" | grep -Eq '^tlsserver: info: done .* close=system status=111 ' ||
         [ -e "$W/mk/ran" ]; then
        bad="$bad [nofile=$n: exit 111, ran=$([ -e "$W/mk/ran" ] && echo yes || echo no), lines: $new]"
      fi
    elif [ "$st" = 0 ] && grep -q '^reply hello$' "$W/c.out"; then
      worked_levels="$worked_levels $n"
    else
      bad="$bad [nofile=$n: exit $st, client: $(cat "$W/c.out"), lines: $new]"
    fi
  done
  diag "$mode: RLIMIT_NOFILE levels refused with 111:$failed_levels; working:$worked_levels"
  is "$bad" "" "$mode: out of descriptors -> exit 111, one 'fatal: <call>: Too many open files' line, prog not run; else the session works"
  like "$failed_levels" ' 4 5 6 7 8( |$)' "$mode: the pipe levels (nofile 4..8) are refused"
  like "$worked_levels" ' 16 20$' "$mode: with enough descriptors the session works"
  stop "$SPAWN_PID"
done

# ---------------------------------------------------------------- processes
# A uid nothing else runs as, so RLIMIT_NPROC counts only the engine.
NPUID=$((52000 + RANDOM % 1000))
for mode in immediate delayed; do
  n_opt=(); c=; [ $mode = delayed ] && { n_opt=(-n); c=d; }
  port=4663; [ $mode = delayed ] && port=4664
  serve np$mode $port sh -c 'n=$(cat "$0"); u=$1; shift; exec prlimit --nproc=$n:$n setpriv --reuid=$u --regid=$u --clear-groups "$@"' \
    "$W/nproc" "$NPUID" "$TLSSERVER" "${n_opt[@]}" "${SRV[@]}" "$W/soakprog" "${n_opt[@]}" || bail_out "tcpserver did not start"
  echo 1 > "$W/nproc"; rm -f "$W/mk/ran"
  timeout 15 "$PY" "$W/client.py" $port "$PKI/ca.pem" ${c}plain > "$W/c.out" 2>&1
  wait_sessions np$mode 1 10
  is "$(session_exits np$mode | tail -n 1)" 111 "$mode: RLIMIT_NPROC=1 -> exit 111"
  is "$(grep -a '^tlsserver: ' "$W/np$mode.err" | grep -v ': info: done ')" "tlsserver: fatal: unable to fork: Resource temporarily unavailable" \
     "$mode: one line: fatal: unable to fork: Resource temporarily unavailable"
  file_like "$W/np$mode.err" '^tlsserver: info: done .* close=system status=111 .*reason="unable to fork: ' "$mode: and its summary: close=system"
  nok "$mode: prog did not run" test -e "$W/mk/ran"
  echo 2 > "$W/nproc"
  timeout 15 "$PY" "$W/client.py" $port "$PKI/ca.pem" ${c}plain > "$W/c.out" 2>&1
  wait_sessions np$mode 2 10
  is "$(cat "$W/c.out")/$(session_exits np$mode | tail -n 1)" "reply hello/0" "$mode: RLIMIT_NPROC=2 (engine + prog) works"
  stop "$SPAWN_PID"
done

# ---------------------------------------------------------------- full disk
for mode in immediate delayed; do
  n_opt=(); c=; [ $mode = delayed ] && { n_opt=(-n); c=d; }
  port=4665; [ $mode = delayed ] && port=4666
  serve full$mode $port sh -c 'exec "$@" 2>/dev/full' sh \
    "$TLSSERVER" "${n_opt[@]}" -v 2 -K 1000 "${SRV[@]}" "$W/soakprog" "${n_opt[@]}" || bail_out "tcpserver did not start"
  t0=$(date +%s%N)
  timeout 15 "$PY" "$W/client.py" $port "$PKI/ca.pem" ${c}plain > "$W/c.out" 2>&1
  wait_sessions full$mode 1 5
  t1=$(date +%s%N)
  is "$(cat "$W/c.out")" "reply hello" "$mode, stderr /dev/full: the session works"
  is "$(session_exits full$mode | tail -n 1)" 0 "$mode, stderr /dev/full: engine exit 0"
  num_cmp $(( (t1 - t0) / 1000000 )) -lt 3000 "$mode, stderr /dev/full: the session ended at once ($(( (t1 - t0) / 1000000 )) ms, no spin on the log)"
  timeout 15 "$PY" "$W/client.py" $port "$PKI/ca.pem" ${c}garbage > "$W/c.out" 2>&1
  exp=97; [ $mode = delayed ] && exp=1
  wait_sessions full$mode 2 5
  is "$(cat "$W/c.out")/$(session_exits full$mode | tail -n 1)" "closed/$exp" "$mode, stderr /dev/full: garbage refused (exit $exp) at once"
  # a stalled handshake: the deadline's log line cannot be written either
  t0=$(date +%s%N)
  timeout 15 "$PY" "$W/client.py" $port "$PKI/ca.pem" ${c}stall > "$W/c.out" 2>&1
  wait_sessions full$mode 3 5
  t1=$(date +%s%N)
  exp=98; [ $mode = delayed ] && exp=1
  is "$(cat "$W/c.out")/$(session_exits full$mode | tail -n 1)" "closed/$exp" "$mode, stderr /dev/full: stalled client cut by the 1 s deadline (exit $exp)"
  num_cmp $(( (t1 - t0) / 1000000 )) -lt 3000 "$mode, stderr /dev/full: ... after $(( (t1 - t0) / 1000000 )) ms"
  stop "$SPAWN_PID"
done

done_testing

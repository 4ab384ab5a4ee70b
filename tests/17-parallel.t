#!/bin/bash
# Concurrent sessions are independent: 8 tlsclient -> tlsserver sessions at
# once under one tcpserver, each moving its own 4 MiB both ways at the same
# time. Every byte arrives at the right place, every engine exits 0, and
# tcpserver -c 2 still counts whole sessions (the third client waits).
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient
pki_setup

N=8
SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
CLI=("$TLSCLIENT" -a "$PKI/ca.pem" -h localhost)
for ((i = 0; i < N; i++)); do mkdata "$W/up.$i" 4; done
mkdata "$W/down" 4

# The server app names its received file after the first line it gets.
cat > "$W/srvapp.sh" <<'EOF'
#!/bin/sh
# first line: session id; then bulk both ways (pump.sh both)
IFS= read -r id || exit 1
exec "$1" both "$2" "$3.$id"
EOF
chmod 755 "$W/srvapp.sh"
cat > "$W/cliapp.sh" <<'EOF'
#!/bin/sh
# announce the id on fd 7, then pump.sh -c both
printf '%s\n' "$1" >&7
exec "$2" -c both "$3" "$4"
EOF
chmod 755 "$W/cliapp.sh"

serve par 4510 "${SRV[@]}" "$W/srvapp.sh" "$FIX/pump.sh" "$W/down" "$W/srecv"
pids=()
for ((i = 0; i < N; i++)); do
  timeout -k 2 60 tcpclient -RHl0 127.0.0.1 4510 "${CLI[@]}" \
    "$W/cliapp.sh" "$i" "$FIX/pump.sh" "$W/up.$i" "$W/crecv.$i" \
    >"$W/c$i.out" 2>"$W/c$i.err" </dev/null &
  pids+=($!)
done
okc=0 rcs=
for ((i = 0; i < N; i++)); do
  wait_pid "${pids[i]}" 60; rc=$?
  rcs="$rcs $rc"
  [ $rc = 0 ] && okc=$((okc + 1))
done
wait_sessions par "$N" 10
is "$okc" "$N" "$N concurrent tlsclient sessions all exit 0 (got:$rcs)"
is "$(session_exits par | sort -u | tr '\n' ' ')" "0 " "$N concurrent tlsserver engines all exit 0"
good_up=0 good_down=0
for ((i = 0; i < N; i++)); do
  [ "$(sha "$W/srecv.$i")" = "$(sha "$W/up.$i")" ] && good_up=$((good_up + 1))
  [ "$(sha "$W/crecv.$i")" = "$(sha "$W/down")" ] && good_down=$((good_down + 1))
done
is "$good_up" "$N" "each client's 4 MiB reached its own session's prog intact"
is "$good_down" "$N" "each server's 4 MiB reached the right client intact"
stop "$SPAWN_PID"

# tcpserver -c 2 counts whole sessions: a third client waits until one ends.
TCPSERVER_OPTS="-c 2" serve lim 4511 "${SRV[@]}" sh -c 'sleep 0.6; echo done'
t0=$(date +%s%N)
for i in 1 2 3; do
  timeout -k 2 20 tcpclient -RHl0 127.0.0.1 4511 "${CLI[@]}" sh -c 'exec cat <&6 >/dev/null' \
    >/dev/null 2>"$W/lim$i.err" </dev/null &
  pids[i]=$!
done
for i in 1 2 3; do wait_pid "${pids[i]}" 20 >/dev/null; done
el=$(( ($(date +%s%N) - t0) / 1000000 ))
num_cmp "$el" -ge 1100 "tcpserver -c 2: the third session waited for a whole session to end (${el} ms >= 1100)"
is "$(session_exits lim | tr '\n' ' ')" "0 0 0 " "tcpserver -c 2: all three sessions ended cleanly"
stop "$SPAWN_PID"

done_testing

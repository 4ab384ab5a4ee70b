#!/bin/bash
# Back-pressure, bounded memory and no busy loop.
#  1. A peer floods 16 KiB records (200 MiB in all) while the application
#     does not read: the engine stops reading the socket once its buffer and
#     the pipe are full, so the peer's writes block (the bytes it got rid of
#     stay bounded and do not grow), the engine's RSS stays small and its CPU
#     time does not move during 2 s of being blocked. Then the application
#     reads: all 200 MiB arrive intact (sha256), the session ends cleanly.
#  2. The application writes 200 MiB while the peer does not read: the same
#     bounds, then everything arrives intact.
. "$(dirname "$0")/../lib.sh"
need_bins tlsserver
need_cmds tcpserver sha256sum
[ -x "$PY" ] || skip_all "$PY not installed"
pki_setup

FLOOD=$TESTDIR/soak/flood.py
TOTAL=209715200
SRV=(-c "$PKI/server.pem" -k "$PKI/server.key")
# Bounds: engine RSS (KiB), CPU ticks (1/100 s) allowed in 2 s of being blocked,
# bytes the peer may have handed to the kernel while the application sleeps.
RSS_MAX=20480; CPU_MAX=3; BUF_MAX=$((32 * 1048576))
if [ "$SANITIZED" = 1 ]; then RSS_MAX=409600; CPU_MAX=10; fi

engine_of() { # tcpserver PID -> its (single) child, the engine
  local c
  c=$(cat /proc/"$1"/task/*/children 2>/dev/null)
  echo "${c%% *}"
}
cpu_ticks() { # PID -> utime+stime
  local s
  { read -r s < "/proc/$1/stat"; } 2>/dev/null || { echo -1; return; }
  s=${s##*) }
  set -- $s
  echo $(( ${12} + ${13} ))
}
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }
progress() { cat "$W/progress" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- 1. peer floods
serve in 4671 "$TLSSERVER" "${SRV[@]}" sh -c \
  'i=0; while [ ! -e "$0" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exec sha256sum > "$1"' \
  "$W/go" "$W/app.sha" || bail_out "tcpserver did not start"
tcp=$SPAWN_PID
"$PY" "$FLOOD" send 4671 "$PKI/ca.pem" "$TOTAL" "$W/progress" > "$W/send.out" 2>&1 &
cpid=$!
wait_until 10 test -s "$W/progress"
sleep 1.5
eng=$(engine_of "$tcp")
p1=$(progress); c1=$(cpu_ticks "$eng")
sleep 2
p2=$(progress); c2=$(cpu_ticks "$eng"); rss=$(status_kb "$eng" VmRSS); hwm=$(status_kb "$eng" VmHWM)
diag "peer floods, app asleep: peer got rid of $p1 then $p2 bytes; engine cpu $c1 -> $c2 ticks, RSS $rss KiB (peak $hwm)"
num_cmp "${eng:-0}" -gt 0 "the engine is running while the application sleeps"
is "$p2" "$p1" "the peer is blocked: no byte got through in 2 s (back-pressure)"
num_cmp "$p2" -lt "$BUF_MAX" "bytes buffered between peer and sleeping application are bounded (< $((BUF_MAX >> 20)) MiB)"
num_cmp "$((c2 - c1))" -le "$CPU_MAX" "engine CPU while blocked: $((c2 - c1)) ticks in 2 s (no busy loop)"
num_cmp "${hwm:-999999}" -lt "$RSS_MAX" "engine peak RSS while flooded: ${hwm} KiB < $RSS_MAX"
peak=$hwm
touch "$W/go"
for ((i = 0; i < 600; i++)); do   # at most 60 s; keep the engine's peak RSS
  kill -0 "$cpid" 2>/dev/null || break
  h=$(status_kb "$eng" VmHWM); [ -n "$h" ] && peak=$h
  sleep 0.1
done
wait_pid "$cpid" 5; rc=$?
is "$rc" 0 "the peer sent all 200 MiB and closed"
wait_sessions in 1 10
sent_sha=$(sed -n 's/^sent [0-9]* sha256 //p' "$W/send.out")
is "$(cut -d' ' -f1 < "$W/app.sha" 2>/dev/null)" "${sent_sha:-none}" "the application received all 200 MiB intact (sha256)"
is "$(session_exits in | tail -n 1)" 0 "engine exit 0"
is "$(logfield "$W/in.err" in)" "$TOTAL" "log: in=$TOTAL"
is "$(logfield "$W/in.err" close)" clean "log: close=clean"
num_cmp "${peak:-999999}" -lt "$RSS_MAX" "engine peak RSS over the whole 200 MiB: $peak KiB < $RSS_MAX"
stop "$tcp"

# ---------------------------------------------------------------- 2. app floods
serve out 4672 "$TLSSERVER" "${SRV[@]}" head -c "$TOTAL" /dev/zero || bail_out "tcpserver did not start"
tcp=$SPAWN_PID
"$PY" "$FLOOD" recv 4672 "$PKI/ca.pem" "$W/go2" > "$W/recv.out" 2>&1 &
cpid=$!
wait_until 10 test -n "$(engine_of "$tcp")"
sleep 1.5
eng=$(engine_of "$tcp")
c1=$(cpu_ticks "$eng")
sleep 2
c2=$(cpu_ticks "$eng"); hwm=$(status_kb "$eng" VmHWM)
diag "app floods, peer does not read: engine cpu $c1 -> $c2 ticks, peak RSS $hwm KiB"
num_cmp "$((c2 - c1))" -le "$CPU_MAX" "engine CPU while the peer does not read: $((c2 - c1)) ticks in 2 s"
num_cmp "${hwm:-999999}" -lt "$RSS_MAX" "engine peak RSS while the peer does not read: $hwm KiB"
touch "$W/go2"
wait_pid "$cpid" 60; rc=$?
is "$rc" 0 "the peer read to a close_notify"
zsha=$("$PY" -c 'import hashlib,sys; h=hashlib.sha256(); z=bytes(1048576); [h.update(z) for _ in range(int(sys.argv[1]) >> 20)]; print(h.hexdigest())' "$TOTAL")
is "$(cat "$W/recv.out")" "received $TOTAL sha256 $zsha" "the peer received all 200 MiB intact"
wait_sessions out 1 10
is "$(session_exits out | tail -n 1)" 0 "engine exit 0"
is "$(logfield "$W/out.err" out)" "$TOTAL" "log: out=$TOTAL"
stop "$tcp"

done_testing

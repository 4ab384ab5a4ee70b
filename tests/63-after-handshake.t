#!/bin/bash
# Protocol abuse after a completed handshake, against tlsserver under
# tcpserver (fuzz/tlspoke.py owns the socket and writes raw bytes):
#   - bytes that are no TLS record: exit 4, close=error, prog reads EOF;
#   - close_notify followed, in the same write, by a replayed record and raw
#     bytes: none of it reaches prog, the session closes cleanly (exit 0);
#   - half a record, then FIN: exit 2 (unclean), prog reads EOF;
#   - half a record, then a reset: exit 4 (error), prog reads EOF.
# Each over TLS 1.3 and TLS 1.2: the documented exit code, one log line, no
# hang, and prog got exactly the bytes sent before the abuse.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver timeout
pki_setup
POKE=$TOP/fuzz/tlspoke.py
[ -x "$PY" ] || skip_all "python3 not installed"

val() { sed -n "s/^$2=//p" "$W/$1.out" | head -n 1; }

# prog: store everything it reads, then note EOF; writes nothing
cat > "$W/sink.sh" <<'EOS'
#!/bin/sh
cat > "$1.got"
echo eof > "$1.eof"
EOS
chmod +x "$W/sink.sh"

# scenario NAME PORT MODE [tlspoke options]: one server, one session
scenario() {
  local n=$1 port=$2 mode=$3; shift 3
  serve "$n" "$port" "$TLSSERVER" -K 30000 -T 30000 -c "$PKI/server.pem" -k "$PKI/server.key" "$W/sink.sh" "$W/$n" \
    || { diag "$n: tcpserver did not start"; return 1; }
  T0=$(date +%s%N)
  timeout -k 2 30 "$PY" "$POKE" --timeout 15 "$@" "$port" "$mode" >"$W/$n.out" 2>"$W/$n.perr"
  RC=$?
  wait_sessions "$n" 1 25 || diag "$n: the session did not end"
  T1=$(date +%s%N)
  stop "$SPAWN_PID"
}
# common NAME EXIT CLOSE PROG-GOT
common() {
  local n=$1
  is "$RC" 0 "$n: the client ran to the end"
  is "$(val "$n" handshake)" ok "$n: handshake completed"
  is "$(session_exits "$n")" "$2" "$n: engine exit $2"
  is "$(count_lines "$W/$n.err" '^tlsserver: ')" 1 "$n: exactly one engine line"
  is "$(logfield "$W/$n.err" close)/$(logfield "$W/$n.err" status)" "$3/$2" "$n: log close=$3 status=$2"
  num_cmp $(( (T1 - T0) / 1000000 )) -lt 15000 "$n: over at once, not at the 30 s deadlines"
  ok "$n: prog read EOF" wait_until 5 test -f "$W/$n.eof"
  is "$(cat "$W/$n.got" 2>/dev/null)" "$4" "$n: prog got exactly '$4'"
}

for v in 13 12; do
  opt=(); [ $v = 12 ] && opt=(--tls12)
  base=$((4480 + (v - 12) * 10))

  # -------------------------------------------------------- raw garbage
  scenario garbage$v $((base + 1)) garbage --send 'before\n' "${opt[@]}"
  common garbage$v 4 error before
  like "$(logfield "$W/garbage$v.err" error)" 'bad record mac|wrong version|decryption failed|record|cipher' \
    "garbage$v: error= says the record was bad"
  like "$(val garbage$v raw_eof)" '^(eof|reset)$' "garbage$v: the client saw the connection end"

  # -------------------------------------------------------- close_notify, then more
  scenario notify$v $((base + 2)) notify-then-data --send 'before\n' "${opt[@]}"
  common notify$v 0 clean before
  is "$(val notify$v eof)" clean "notify$v: the engine answered with its own close_notify"
  is "$(val notify$v received)" "" "notify$v: and sent no data"
  is "$(logfield "$W/notify$v.err" in)" 7 "notify$v: log in=7 (nothing after close_notify counted)"

  # -------------------------------------------------------- half a record, FIN
  scenario halffin$v $((base + 3)) half-record --send 'first\n' "${opt[@]}"
  common halffin$v 2 unclean first

  # -------------------------------------------------------- half a record, reset
  scenario halfrst$v $((base + 4)) half-record --rst --send 'first\n' "${opt[@]}"
  common halfrst$v 4 error first
  like "$(logfield "$W/halfrst$v.err" error)" '[Rr]eset' "halfrst$v: error= says the peer reset the connection"
done

done_testing

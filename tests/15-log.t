#!/bin/bash
# The log: what an administrator reads in multilog's `current`.
#   * -v 1 (default): exactly one `info: done` line per session, with every
#     field of the documented format, in order; each session its own line
#   * time= measures the session; in= / out= count plaintext bytes
#   * -v 0: nothing for a good session, but a refusal is still logged
#   * -v 2: more detail, still one line per message, all prefixed
#   * every stderr line is prefixed with the program name (no stray output)
#   * tlsclient the same
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
CLI=("$TLSCLIENT" -a "$PKI/ca.pem" -h localhost)
printf 'ping\n' > "$W/ping"
sclient() { # NAME PORT
  run_in "$W/ping" "$1" openssl s_client -connect "127.0.0.1:$2" -servername localhost \
    -CAfile "$PKI/ca.pem" -verify_return_error -quiet
}
# every line of FILE comes from tcpserver or PROGRAM
only_prefixed() {
  local bad
  bad=$(grep -av -E "^(tcpserver|$2): " "$1")
  if [ -z "$bad" ]; then pass "$3"; else fail "$3" "unprefixed lines:" "$(printf '%s\n' "$bad" | head -n 5)"; fi
}
FMT='^tlsserver: info: done peer=127\.0\.0\.1:[0-9]+ sni=[^ ]+ proto=[^ ]+ cipher=[^ ]+ resumed=(yes|no|-) verify=("[^"]*"|[^ ]+) subject=("[^"]*"|[^ ]+) in=[0-9]+ out=[0-9]+ time=[0-9]+\.[0-9]{3} close=(clean|unclean|idle|error|declined) status=[0-9]+( |$)'

# 1. default verbosity, three sessions, prog sleeps 0.3 s before answering
serve v1 4490 "${SRV[@]}" sh -c 'IFS= read -r l; sleep 0.3; echo "got $l"'
for i in 1 2 3; do sclient "c$i" 4490; done
wait_sessions v1 3 5
is "$(count_lines "$W/v1.err" ': info: done ')" 3 "-v 1: three sessions, three 'info: done' lines"
is "$(grep -a ': info: done ' "$W/v1.err" | grep -cEv "$FMT")" 0 "-v 1: every done line has the documented fields in order"
is "$(grep -a ': info: done ' "$W/v1.err" | sed -n 's/.* peer=\([^ ]*\) .*/\1/p' | sort -u | wc -l)" 3 \
   "-v 1: each line names its own peer address:port"
is "$(count_lines "$W/v1.err" '^tlsserver: ')" 3 "-v 1: nothing else from tlsserver for good sessions"
t=$(logfield "$W/v1.err" time)
num_cmp "$(( 10#${t/./} ))" -ge 300 "time= covers the session (prog slept 0.3 s; time=$t)"
num_cmp "$(( 10#${t/./} ))" -lt 5000 "time= is in seconds with milliseconds (time=$t)"
is "$(logfield "$W/v1.err" in)/$(logfield "$W/v1.err" out)" "5/9" "in=5 ('ping\\n'), out=9 ('got ping\\n')"
only_prefixed "$W/v1.err" tlsserver "-v 1: every stderr line is prefixed"
stop "$SPAWN_PID"

# 2. -v 0: quiet for good sessions, errors still logged
serve v0 4491 "${SRV[@]}" -v 0 sh -c 'IFS= read -r l; echo "got $l"'
sclient q1 4491
is "$RC" 0 "-v 0: the session works"
run q2 "$PY" -c 'import socket; s=socket.create_connection(("127.0.0.1",4491)); s.sendall(b"EHLO x\r\n"); s.shutdown(1); s.recv(100)'
wait_sessions v0 2 5
is "$(count_lines "$W/v0.err" ': info: ')" 0 "-v 0: no info line"
is "$(count_lines "$W/v0.err" '^tlsserver: fatal: ')" 1 "-v 0: the failed handshake is still logged (one fatal line)"
is "$(session_exits v0 | tr '\n' ' ')" "0 97 " "-v 0: exit codes unchanged (0, then 97)"
stop "$SPAWN_PID"

# 3. -v 2: more than -v 1, all lines prefixed
serve v2 4492 "${SRV[@]}" -v 2 sh -c 'IFS= read -r l; echo "got $l"'
sclient d1 4492
wait_sessions v2 1 5
is "$RC" 0 "-v 2: the session works"
num_cmp "$(count_lines "$W/v2.err" '^tlsserver: ')" -gt 1 "-v 2: more than the one done line"
is "$(count_lines "$W/v2.err" ': info: done ')" 1 "-v 2: still exactly one done line"
only_prefixed "$W/v2.err" tlsserver "-v 2: every stderr line is prefixed"
stop "$SPAWN_PID"

# 4. tlsclient: one done line by default, none with -v 0
serve cs 4493 "${SRV[@]}" sh -c 'IFS= read -r l; echo "got $l"'
run cl1 tcpclient -RHl0 127.0.0.1 4493 "${CLI[@]}" "$FIX/pump.sh" -c exchange "$W/ping" "$W/cl1.recv"
is "$RC" 0 "tlsclient session works"
is "$(count_lines "$W/cl1.err" '^tlsclient: ')" 1 "tlsclient -v 1: exactly one line"
like "$(done_line "$W/cl1.err")" '^tlsclient: info: done peer=127\.0\.0\.1:4493 sni=localhost proto=TLSv1\.3 ' \
  "tlsclient done line: peer is the server's address:port, sni=the name asked for"
is "$(logfield "$W/cl1.err" out)/$(logfield "$W/cl1.err" in)" "5/9" "tlsclient: out=5 sent, in=9 received"
run cl0 tcpclient -RHl0 127.0.0.1 4493 "${CLI[@]}" -v 0 "$FIX/pump.sh" -c exchange "$W/ping" "$W/cl0.recv"
is "$RC" 0 "tlsclient -v 0 session works"
is "$(wc -c < "$W/cl0.err" | tr -d ' ')" 0 "tlsclient -v 0: stderr stays empty"
stop "$SPAWN_PID"

done_testing

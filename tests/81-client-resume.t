#!/bin/bash
# tlsclient resumes across processes with TLS_SESSIONCACHE: two separate
# tlsclient runs against openssl s_server, TLS 1.3 and 1.2 (the TLS 1.3
# session is saved when its ticket arrives, after the handshake); prog's
# SSL_SESSION_RESUMED and the done line agree. The directory is refused,
# with one warning line, when it is open to others or owned by another uid
# (and the entry is then neither read nor written); an entry older than the
# ticket lifetime is not offered (time moved with faketime); without the
# variable nothing is written.
. "$(dirname "$0")/lib.sh"
need_bins tlsclient
need_cmds tcpclient openssl
pki_setup

C=$W/cache
mkdir -m 700 "$C"
# prog: one line out, the reversed line back, then what it saw
cat > "$W/prog.sh" <<'EOF2'
#!/bin/sh
echo ping >&7
read -r l <&6
echo "got=$l resumed=$SSL_SESSION_RESUMED"
EOF2
chmod +x "$W/prog.sh"
tc() { # NAME PORT [env...]: one tlsclient session
  local name=$1 port=$2; shift 2
  run "$name" env TLS_SESSIONCACHE="$C" "$@" tcpclient -RHl0 -T 5 127.0.0.1 "$port" \
    "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/prog.sh"
}

spawn s13 openssl s_server -accept 4710 -cert "$PKI/server.pem" -key "$PKI/server.key" -tls1_3 -rev -quiet
spawn s12 openssl s_server -accept 4711 -cert "$PKI/server.pem" -key "$PKI/server.key" -tls1_2 -rev -quiet
wait_port 4710; wait_port 4711
for v in 13 12; do
  port=4710; [ "$v" = 12 ] && port=4711
  tc "t$v-1" "$port"
  is "$RC" 0 "TLS 1.${v#1}: first tlsclient exits 0"
  file_like "$W/t$v-1.out" '^got=gnip resumed=Initial$' "TLS 1.${v#1}: first session Initial, data back"
  is "$(logfield "$W/t$v-1.err" resumed)" no "TLS 1.${v#1}: first done line resumed=no"
  is "$(ls "$C" | grep -c "^localhost:$port:")" 1 "TLS 1.${v#1}: one cache entry for localhost:$port"
  is "$(stat -c %a "$C"/localhost:$port:* 2>/dev/null)" 600 "TLS 1.${v#1}: the entry is mode 600"
  tc "t$v-2" "$port"
  is "$RC" 0 "TLS 1.${v#1}: second tlsclient exits 0"
  file_like "$W/t$v-2.out" '^got=gnip resumed=Resumed$' "TLS 1.${v#1}: a second tlsclient process resumed (SSL_SESSION_RESUMED=Resumed)"
  is "$(logfield "$W/t$v-2.err" resumed)" yes "TLS 1.${v#1}: second done line resumed=yes"
  is "$(proto=$(logfield "$W/t$v-2.err" proto); echo "$proto")" "TLSv1.${v#1}" "TLS 1.${v#1}: the protocol is TLS 1.${v#1}"
done
is "$(ls -a "$C" | grep -c '\.tmp$')" 0 "no temporary file left in the cache"

# a name verified under other trust settings is not offered the session
run t-otherca env TLS_SESSIONCACHE="$C" tcpclient -RHl0 -T 5 127.0.0.1 4710 \
  "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" -i "$W/prog.sh"
file_like "$W/t-otherca.out" 'resumed=Initial$' "with other verification settings (-i): not resumed"

# entries expire with the ticket lifetime (the clock moved three hours on)
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
if [ -e "$FT" ]; then
  # ASan wants its runtime first; libfaketime comes first here, harmlessly
  [ "$SANITIZED" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
  tc t-late 4710 LD_PRELOAD="$FT" FAKETIME=+3h
  file_like "$W/t-late.out" '^got=gnip resumed=Initial$' "an entry older than the lifetime is not offered (3 h later)"
  tc t-short 4711 TLS_TICKETLIFETIME=1 LD_PRELOAD="$FT" FAKETIME=+2
  file_like "$W/t-short.out" 'resumed=Initial$' "TLS_TICKETLIFETIME=1 caps the entry's age"
else skip_n 2 "libfaketime not installed"; fi

# wrong permissions: refused with one line, not read, not written
chmod 755 "$C"
before=$(sha "$C"/localhost:4710:*)
tc perm 4710
is "$RC" 0 "cache mode 755: the session still works"
file_like "$W/perm.err" "^tlsclient: warning: session cache $C refused: mode 755, owner uid 0; it must be mode 700 and owned by uid 0: not resuming$" \
  "cache mode 755: refused with one warning line"
file_like "$W/perm.out" 'resumed=Initial$' "cache mode 755: the entry is not offered"
is "$(sha "$C"/localhost:4710:*)" "$before" "cache mode 755: the entry is not rewritten"
chmod 700 "$C"; chown nobody "$C"
tc owner 4710
file_like "$W/owner.err" "session cache $C refused: mode 700, owner uid $(id -u nobody);" "cache owned by another uid: refused"
file_like "$W/owner.out" 'resumed=Initial$' "cache owned by another uid: not offered"
chown root "$C"
# a file where the directory should be
: > "$W/notadir"
run nodir env TLS_SESSIONCACHE="$W/notadir" tcpclient -RHl0 -T 5 127.0.0.1 4710 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/prog.sh"
file_like "$W/nodir.err" 'session cache .*notadir refused: not a directory: not resuming$' "a file as cache: refused"
# a missing directory is made, mode 700
run mk env TLS_SESSIONCACHE="$W/newcache" tcpclient -RHl0 -T 5 127.0.0.1 4710 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/prog.sh"
is "$(stat -c %a "$W/newcache" 2>/dev/null)" 700 "a missing cache directory is created, mode 700"

# an entry that is not ours (mode 644) is refused
chmod 644 "$C"/localhost:4710:*
tc badentry 4710
file_like "$W/badentry.err" 'session cache entry .* refused' "an entry open to others: refused"
file_like "$W/badentry.out" 'resumed=Initial$' "an entry open to others: not offered"

# no variable: nothing written
run nocache tcpclient -RHl0 -T 5 127.0.0.1 4710 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/prog.sh"
file_like "$W/nocache.out" 'resumed=Initial$' "without TLS_SESSIONCACHE: Initial"
file_unlike "$W/nocache.err" 'session cache' "without TLS_SESSIONCACHE: no cache message"

done_testing

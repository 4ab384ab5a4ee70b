#!/bin/bash
# A long-running listener keeps issuing and accepting tickets: tlsserver -L
# with a ticket key file, under libfaketime with a timestamp file, the
# clock moved three hours forward between connections (past the two-hour
# ticket lifetime). Every handshake still succeeds, TLS 1.3 and 1.2; a
# ticket issued before the jump is not resumed (it expired), one issued
# after it is. Chained engines and SIGHUP rotation: 70-tickets.t.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds openssl
pki_setup
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -e "$FT" ] || skip_all "libfaketime not installed (Debian: faketime)"
# ASan wants its runtime first; libfaketime comes first here, harmlessly
[ "$SANITIZED" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

{ openssl rand -hex 48; openssl rand -hex 48; } > "$W/keys"; chmod 600 "$W/keys"
printf '+0\n' > "$W/clock"
printf 'ping\n' > "$W/ping"
spawn lst env LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$W/clock" FAKETIME_NO_CACHE=1 \
  TLS_TICKETKEYFILE="$W/keys" "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4720 "$FIX/reply.sh"
wait_port 4720 || bail_out "listener did not start"
sc() { run_in "$W/ping" "$1" openssl s_client -connect 127.0.0.1:4720 -servername localhost \
  -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "${@:2}"; }
reused() { grep -q '^Reused, ' "$W/$1.out" && echo Resumed || echo Initial; }

for v in 13 12; do
  pa=(); [ "$v" = 12 ] && pa=(-tls1_2)
  sc "a$v" -sess_out "$W/a$v.sess" "${pa[@]}"
  is "$RC" 0 "TLS 1.${v#1}, clock +0: handshake works"
  sc "b$v" -sess_in "$W/a$v.sess" "${pa[@]}"
  is "$(reused "b$v")" Resumed "TLS 1.${v#1}, clock +0: resumed"
done
printf '+3h\n' > "$W/clock"
for v in 13 12; do
  pa=(); [ "$v" = 12 ] && pa=(-tls1_2)
  sc "c$v" -sess_in "$W/a$v.sess" "${pa[@]}"
  is "$RC" 0 "TLS 1.${v#1}, clock +3 h: handshake works (no 'no valid ticket key found')"
  file_like "$W/c$v.out" '^reply:ping$' "TLS 1.${v#1}, clock +3 h: data came back"
  is "$(reused "c$v")" Initial "TLS 1.${v#1}, clock +3 h: the ticket from 3 h ago expired (full handshake)"
  sc "d$v" -sess_out "$W/d$v.sess" "${pa[@]}"
  sc "e$v" -sess_in "$W/d$v.sess" "${pa[@]}"
  is "$(reused "e$v")" Resumed "TLS 1.${v#1}, clock +3 h: a fresh ticket resumes"
done
# TLS_TICKETLIFETIME=14400: a ticket is still good three hours later
printf '+0\n' > "$W/clock2"
spawn lst2 env LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$W/clock2" FAKETIME_NO_CACHE=1 TLS_TICKETLIFETIME=14400 \
  TLS_TICKETKEYFILE="$W/keys" "$TLSSERVER" -L -c "$PKI/server.pem" -k "$PKI/server.key" 127.0.0.1 4721 "$FIX/reply.sh"
wait_port 4721 || bail_out "listener did not start"
sc2() { run_in "$W/ping" "$1" openssl s_client -connect 127.0.0.1:4721 -servername localhost \
  -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "${@:2}"; }
sc2 f13 -sess_out "$W/f13.sess"
sc2 f12 -sess_out "$W/f12.sess" -tls1_2
printf '+3h\n' > "$W/clock2"
sc2 g13 -sess_in "$W/f13.sess"
is "$(reused g13)" Resumed "TLS_TICKETLIFETIME=14400, TLS 1.3: resumed three hours later"
sc2 g12 -sess_in "$W/f12.sess" -tls1_2
is "$(reused g12)" Resumed "TLS_TICKETLIFETIME=14400, TLS 1.2: resumed three hours later"

file_unlike "$W/lst.err" 'fatal' "the listener logged no fatal line"
like "$(grep -c 'resumed=yes' "$W/lst.err")" '^4$' "four resumed sessions in the listener's log"
done_testing

#!/bin/bash
# Session tickets (TLS_TICKETKEYFILE), as real clients see them.
#   * openssl s_client saves a session (-sess_out) from one chained engine
#     and resumes it (-sess_in) on a second, separate one that shares the
#     key file, TLS 1.3 and 1.2; inside one tlsserver -L; on an SNI name
#   * prog's SSL_SESSION_RESUMED and the done line's resumed= agree with
#     the client; gnutls-cli --resume resumes
#   * rotation: a ticket made under an older key still resumes (and is
#     renewed under the newest); a key removed from the file resumes nothing,
#     in chained mode (the file is read per connection) and in -L (SIGHUP)
#   * no key file: no ticket at all (TLS 1.3 used to get two useless ones)
#   * a bad TLS_TICKETLIFETIME and a key file that is not a regular file
#     are refused with one line
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver openssl
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
printf 'ping\n' > "$W/ping"
sc() { # NAME PORT ARGS...: one s_client session, stdin $W/ping
  local name=$1 port=$2; shift 2
  run_in "$W/ping" "$name" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "$@"
}
reused() { # NAME: what s_client saw
  if grep -q '^Reused, ' "$W/$1.out"; then echo Resumed
  elif grep -q '^New, ' "$W/$1.out"; then echo Initial
  else echo unknown; fi
}
prog_saw() { sed -n 's/^SSL_SESSION_RESUMED=//p' "$W/$1.out"; }
tickets_seen() { grep -c 'Post-Handshake New Session Ticket arrived' "$W/$1.out"; }
newkey() { openssl rand -hex 48; }

K1=$(newkey); K2=$(newkey); K3=$(newkey)
printf '# ticket keys, oldest first\n%s\n%s\n' "$K1" "$K2" > "$W/keys"
chmod 600 "$W/keys"

# --------------------------------------------- two separate chained engines
TLS_TICKETKEYFILE=$W/keys serve a-srv 4700 "${SRV[@]}" "$FIX/reply.sh"
TLS_TICKETKEYFILE=$W/keys serve b-srv 4701 "${SRV[@]}" "$FIX/reply.sh"
for v in 13 12; do
  pa=(); [ "$v" = 12 ] && pa=(-tls1_2)
  sc "c$v-1" 4700 -sess_out "$W/c$v.sess" "${pa[@]}"
  is "$RC" 0 "TLS 1.${v#1} chained: first session works"
  is "$(prog_saw "c$v-1")" Initial "TLS 1.${v#1} chained: first session is Initial for prog"
  ok "TLS 1.${v#1} chained: the client got a session to save" test -s "$W/c$v.sess"
  sc "c$v-2" 4701 -sess_in "$W/c$v.sess" "${pa[@]}"
  is "$RC" 0 "TLS 1.${v#1} chained: second session, on another engine, works"
  is "$(reused "c$v-2")" Resumed "TLS 1.${v#1} chained: the other engine resumed the session"
  is "$(prog_saw "c$v-2")" Resumed "TLS 1.${v#1} chained: SSL_SESSION_RESUMED=Resumed"
  file_like "$W/c$v-2.out" '^reply:ping$' "TLS 1.${v#1} chained: data on the resumed session"
  is "$(logfield "$W/b-srv.err" resumed)" yes "TLS 1.${v#1} chained: done line says resumed=yes"
  is "$(logfield "$W/a-srv.err" resumed)" no "TLS 1.${v#1} chained: the first done line says resumed=no"
done
sc c13-t 4700
num_cmp "$(tickets_seen c13-t)" -ge 1 "TLS 1.3 with a key file: tickets are sent"

# gnutls-cli --resume: a second handshake on a fresh connection, same process
if have gnutls-cli; then
  fifo_open gn $'ping\n'
  run_in "$W/gn.fifo" gnutls gnutls-cli --x509cafile="$PKI/ca.pem" --sni-hostname=localhost \
    --verify-hostname=localhost --resume --waitresumption -p 4700 127.0.0.1
  fifo_close
  is "$RC" 0 "gnutls-cli --resume: exit 0"
  file_like "$W/gnutls.out" 'This is a resumed session' "gnutls-cli --resume: the session is resumed"
else skip_n 2 "gnutls-cli not installed"; fi

# ------------------------------------------------------------- rotation
# A ticket starts with the name of the key that sealed it: a hash of the
# key (what every host computes alike), never the key's own bytes.
ticket_name() { # NAME: the first 16 bytes of the last ticket s_client printed, hex
  awk '/TLS session ticket:/ { getline; l = $0 } END { print l }' "$W/$1.out" \
    | sed 's/^ *0000 - //; s/   .*//; s/[- ]//g'
}
key_name() { # HEXKEY: the name tlsserver gives it
  "$PY" -c 'import hashlib,sys; print(hashlib.sha256(b"ucspi-tls ticket key name\0" + bytes.fromhex(sys.argv[1])).hexdigest()[:32])' "$1"
}
sc r-old 4700 -sess_out "$W/old.sess" -tls1_2
is "$(ticket_name r-old)" "$(key_name "$K2")" "rotation: the last key of the file seals tickets (named by its hash)"
isnt "$(ticket_name r-old)" "${K2:0:32}" "the ticket does not carry the key's first bytes"
printf '%s\n%s\n%s\n' "$K1" "$K2" "$K3" > "$W/keys"     # K3 now encrypts; K2 still decrypts
sc r-1 4700 -sess_in "$W/old.sess" -tls1_2
is "$(reused r-1)" Resumed "rotation: a ticket under an older key still resumes"
is "$(ticket_name r-1)" "$(key_name "$K3")" "rotation: and the client gets a ticket renewed under the newest key"
printf '%s\n' "$K3" > "$W/keys"                        # K1, K2 removed
sc r-2 4700 -sess_in "$W/old.sess" -tls1_2
is "$RC" 0 "rotation: a ticket under a removed key: the session still works"
is "$(reused r-2)" Initial "rotation: a ticket under a removed key is not resumed"
is "$(prog_saw r-2)" Initial "rotation: prog sees Initial"
sc r-3 4700 -sess_out "$W/k3.sess"
sc r-4 4700 -sess_in "$W/k3.sess"
is "$(reused r-4)" Resumed "rotation: a TLS 1.3 ticket under the remaining key resumes"
stop "$SPAWN_PID"
printf '%s\n%s\n' "$K1" "$K2" > "$W/keys"

# ------------------------------------------------------------- tlsserver -L
spawn lst env TLS_TICKETKEYFILE="$W/keys" "${SRV[@]}" -L 127.0.0.1 4702 "$FIX/reply.sh"
wait_port 4702
for v in 13 12; do
  pa=(); [ "$v" = 12 ] && pa=(-tls1_2)
  sc "l$v-1" 4702 -sess_out "$W/l$v.sess" "${pa[@]}"
  sc "l$v-2" 4702 -sess_in "$W/l$v.sess" "${pa[@]}"
  is "$(reused "l$v-2")" Resumed "TLS 1.${v#1} -L: resumed"
  is "$(prog_saw "l$v-2")" Resumed "TLS 1.${v#1} -L: SSL_SESSION_RESUMED=Resumed"
done
# a session from a chained engine resumes in the listener: the same file
sc l-x 4702 -sess_in "$W/c13.sess"
is "$(reused l-x)" Resumed "a chained engine's TLS 1.3 ticket resumes in -L (same key file)"

# SIGHUP reloads the key file: a removed key stops resuming, the new one works
LPID=$SPAWN_PID
sc l-h1 4702 -sess_out "$W/lh.sess"
printf '%s\n' "$K3" > "$W/keys.new"; mv -f "$W/keys.new" "$W/keys"
kill -HUP "$LPID"
wait_until 5 grep -q 'reload done subject=' "$W/lst.err"
file_like "$W/lst.err" 'reload done subject=' "-L: SIGHUP reloaded the configuration"
sc l-h2 4702 -sess_in "$W/lh.sess"
is "$(reused l-h2)" Initial "-L after SIGHUP: a ticket under a removed key is not resumed"
sc l-h3 4702 -sess_out "$W/lh3.sess"
sc l-h4 4702 -sess_in "$W/lh3.sess"
is "$(reused l-h4)" Resumed "-L after SIGHUP: a ticket under the new key resumes"
printf '%s\n%s\n' "$K1" "$K2" > "$W/keys"

# ------------------------------------------------------------- SNI context
spawn sni env TLS_TICKETKEYFILE="$W/keys" \
  "CERTFILE:a.test.example=$PKI/sni-a.pem" "KEYFILE:a.test.example=$PKI/sni-a.key" \
  "${SRV[@]}" -L 127.0.0.1 4703 "$FIX/reply.sh"
wait_port 4703
sni_sc() { run_in "$W/ping" "$1" openssl s_client -connect 127.0.0.1:4703 -servername a.test.example \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname a.test.example -ign_eof "${@:2}"; }
sni_sc sni-1 -sess_out "$W/sni.sess"
sni_sc sni-2 -sess_in "$W/sni.sess"
is "$RC" 0 "SNI name: the second session works"
is "$(reused sni-2)" Resumed "SNI name: resumed"

# per-client settings from -x rules make a context per connection: it
# resumes too
if have tcprules; then
  printf '127.0.0.1:allow,TLSCIPHERS="ECDHE+CHACHA20"\n:allow\n' | tcprules "$W/rules.cdb" "$W/rules.tmp"
  spawn pcl env TLS_TICKETKEYFILE="$W/keys" "${SRV[@]}" -L -x "$W/rules.cdb" 127.0.0.1 4707 "$FIX/reply.sh"
  wait_port 4707
  sc pc-1 4707 -sess_out "$W/pc.sess" -tls1_2
  sc pc-2 4707 -sess_in "$W/pc.sess" -tls1_2
  file_like "$W/pc-2.out" 'Cipher is ECDHE-ECDSA-CHACHA20-POLY1305' "-x rule: the per-client cipher list applied"
  is "$(reused pc-2)" Resumed "-x rule: the per-client context resumes"
else skip_n 2 "tcprules not installed"; fi

# ------------------------------------------------------------- scope
# The session-id context: the key file's name and the client certificate
# settings. A session does not cross into a service that asks for client
# certificates, nor into one that names another file (same keys).
TLS_TICKETKEYFILE=$W/keys serve cc-srv 4705 "${SRV[@]}" -a "$PKI/ca.pem" "$FIX/reply.sh"
sc cc-1 4705 -sess_in "$W/c12.sess" -tls1_2
is "$RC" 0 "another client certificate policy: the session works"
is "$(reused cc-1)" Initial "another client certificate policy: not resumed"
sc cc-2 4705 -sess_out "$W/cc.sess"
sc cc-3 4705 -sess_in "$W/cc.sess"
is "$(reused cc-3)" Resumed "a service asking for client certificates resumes its own sessions"
cp "$W/keys" "$W/keys-copy"
TLS_TICKETKEYFILE=$W/keys-copy serve cp-srv 4706 "${SRV[@]}" "$FIX/reply.sh"
sc cp-1 4706 -sess_in "$W/c13.sess"
is "$(reused cp-1)" Initial "the same keys under another file name: not resumed"
is "$(reused c13-2)" Resumed "(while the same file name on another engine was)"

# ------------------------------------------------------------- no key file
serve nk-srv 4704 "${SRV[@]}" "$FIX/reply.sh"
sc nk13 4704 -sess_out "$W/nk13.sess"
is "$(tickets_seen nk13)" 0 "no key file, TLS 1.3: no ticket sent"
sc nk12 4704 -tls1_2
file_unlike "$W/nk12.out" 'TLS session ticket:' "no key file, TLS 1.2: no ticket sent"
is "$(logfield "$W/nk-srv.err" resumed)" no "no key file: resumed=no"

# ------------------------------------------------------------- refusals
run badlife env TLS_TICKETLIFETIME=0 TLS_TICKETKEYFILE="$W/keys" "${SRV[@]}" true
is "$RC" 96 "TLS_TICKETLIFETIME=0: refused (96)"
file_like "$W/badlife.err" '^tlsserver: fatal: invalid TLS_TICKETLIFETIME \(seconds, 1 to 604800\): 0$' "TLS_TICKETLIFETIME=0: one line"
mkfifo "$W/fifo"
run fifokey env TLS_TICKETKEYFILE="$W/fifo" "${SRV[@]}" true
is "$RC" 96 "a FIFO as key file: refused (96), without hanging"
file_like "$W/fifokey.err" "^tlsserver: fatal: ticket key file $W/fifo: not a regular file$" "a FIFO as key file: one line"
printf '# only a comment\n' > "$W/nokeys"
run nokeys env TLS_TICKETKEYFILE="$W/nokeys" "${SRV[@]}" true
is "$RC" 96 "a key file without keys: refused (96)"
file_like "$W/nokeys.err" 'ticket key file .*nokeys: holds no key$' "a key file without keys: one line"
printf '%s\n%s\n' "$K1" "${K2}00" > "$W/longkey"
run longkey env TLS_TICKETKEYFILE="$W/longkey" "${SRV[@]}" true
file_like "$W/longkey.err" 'ticket key file .*longkey: line 2: each key must be 96 hex digits$' "a bad second line: refused, naming the line"

done_testing

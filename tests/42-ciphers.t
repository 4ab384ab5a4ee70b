#!/bin/bash
# Cipher and protocol selection: the default (AEAD + forward secrecy, TLS 1.2
# and 1.3) refuses static-RSA and CBC suites and TLS 1.1/1.0; TLSCIPHERS and
# TLSPROTOCOLS from an envdir and from a tcprules cdb per client address;
# -C / -p options win over the environment; invalid strings are refused with
# exit 96 and one line. Everything is checked from the client's side
# (openssl s_client), plus SSL_CIPHER / SSL_PROTOCOL as prog saw them.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient tcprules envdir openssl
pki_setup

RSA_KEYS=(-c "$PKI/rsa.pem" -k "$PKI/rsa.key")
EC_KEYS=(-c "$PKI/server.pem" -k "$PKI/server.key")
CHACHA=ECDHE-ECDSA-CHACHA20-POLY1305
AES128=ECDHE-ECDSA-AES128-GCM-SHA256

# sc PORT NAME [s_client args]: one session (stdin /dev/null), then wait for
# the server SRV (global) to have ended one more session.
declare -A NS=()
sc() {
  local port=$1 name=$2; shift 2
  rm -f "$W/env.$SRV"
  sclient_info "$name" "$port" -CAfile "$PKI/ca.pem" "$@"
  NS[$SRV]=$(( ${NS[$SRV]:-0} + 1 ))
  wait_sessions "$SRV" "${NS[$SRV]}" 10 || diag "session ${NS[$SRV]} of $SRV did not end"
}
ev() { envval "$W/env.$SRV" "$1"; }
# negotiated "PROTO CIPHER" as s_client saw it
seen() { echo "$(sclient_proto "$1") $(sclient_cipher "$1")"; }
srv() { # NAME PORT [env VAR=..] tlsserver args... : tlsserver under tcpserver, env dump to $W/env.NAME
  local name=$1 port=$2; shift 2
  SRV=$name
  serve "$name" "$port" "$@" "$FIX/envdump.sh" "$W/env.$name" "$FIX/reply.sh" || bail_out "tcpserver $name did not start"
}

# ------------------------------------------------ defaults (RSA certificate, so static RSA is possible at all)
srv def 4430 "$TLSSERVER" "${RSA_KEYS[@]}"
sc 4430 def.12 -tls1_2
is "$RC" 0 "default: TLS 1.2 client connects"
like "$(seen def.12)" '^TLSv1\.2 ECDHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$' "default TLS 1.2 suite is ECDHE + AEAD"
is "$(ev SSL_PROTOCOL)/$(ev SSL_CIPHER)" "TLSv1.2/$(sclient_cipher def.12)" "prog saw the same protocol and cipher"
sc 4430 def.13
is "$RC/$(sclient_proto def.13)" "0/TLSv1.3" "default: TLS 1.3 client connects"
sc 4430 def.rsa -tls1_2 -cipher AES128-SHA
isnt "$RC" 0 "default refuses static-RSA CBC AES128-SHA (s_client -tls1_2 -cipher AES128-SHA fails)"
is "$(session_exits def | tail -n 1)" 97 "refused suite: engine exit 97"
file_like "$W/def.err" 'fatal: handshake failed: .*no shared cipher' "refused suite: the log line says 'no shared cipher'"
sc 4430 def.rsagcm -tls1_2 -cipher AES256-GCM-SHA384
isnt "$RC" 0 "default refuses static-RSA AEAD AES256-GCM-SHA384 (no forward secrecy)"
sc 4430 def.cbc -tls1_2 -cipher ECDHE-RSA-AES128-SHA
isnt "$RC" 0 "default refuses ECDHE CBC ECDHE-RSA-AES128-SHA"
sc 4430 def.cbc256 -tls1_2 -cipher ECDHE-RSA-AES256-SHA384
isnt "$RC" 0 "default refuses ECDHE CBC ECDHE-RSA-AES256-SHA384"
sc 4430 def.11 -tls1_1 -cipher DEFAULT@SECLEVEL=0
isnt "$RC" 0 "default refuses TLS 1.1"
file_like "$W/def.err" 'fatal: handshake failed: .*unsupported protocol' "TLS 1.1: the log line says 'unsupported protocol'"
sc 4430 def.10 -tls1 -cipher DEFAULT@SECLEVEL=0
isnt "$RC" 0 "default refuses TLS 1.0"
ok "no refused session ran prog" test ! -e "$W/env.def"

# positive control: the same client commands work against a permissive server,
# so the refusals above come from tlsserver's defaults, not from the client
srv legacy 4431 "$TLSSERVER" "${RSA_KEYS[@]}" -p all -C 'ALL:@SECLEVEL=0'
sc 4431 leg.rsa -tls1_2 -cipher AES128-SHA
is "$RC/$(sclient_cipher leg.rsa)" "0/AES128-SHA" "control: -C ALL accepts AES128-SHA (same client command)"
is "$(ev SSL_CIPHER)" AES128-SHA "control: prog saw SSL_CIPHER=AES128-SHA"
sc 4431 leg.11 -tls1_1 -cipher DEFAULT@SECLEVEL=0
is "$RC/$(sclient_proto leg.11)" "0/TLSv1.1" "control: -p all accepts TLS 1.1 (same client command)"
is "$(ev SSL_PROTOCOL)" TLSv1.1 "control: prog saw SSL_PROTOCOL=TLSv1.1"

# the libtls keyword is accepted, and (documented) is not the same as the default
srv secure 4441 "$TLSSERVER" "${RSA_KEYS[@]}" -C secure
sc 4441 sec.cbc -tls1_2 -cipher ECDHE-RSA-AES128-SHA
is "$RC/$(sclient_cipher sec.cbc)" "0/ECDHE-RSA-AES128-SHA" "-C secure (libtls keyword) is accepted, and admits a CBC suite: why the default is spelled out"

# ------------------------------------------------ from an envdir
mk_envdir "$W/env1" "TLSCIPHERS=$CHACHA" TLSPROTOCOLS=tlsv1.2
srv envd 4432 envdir "$W/env1" "$TLSSERVER" "${EC_KEYS[@]}"
sc 4432 e.12 -tls1_2
is "$RC/$(seen e.12)" "0/TLSv1.2 $CHACHA" "envdir TLSCIPHERS=$CHACHA: that suite is negotiated"
is "$(ev SSL_CIPHER)" "$CHACHA" "envdir: prog saw SSL_CIPHER=$CHACHA"
is "$(ev TLSCIPHERS)" "$CHACHA" "envdir: TLSCIPHERS passes through to prog"
sc 4432 e.out -tls1_2 -cipher "$AES128"
isnt "$RC" 0 "envdir: a cipher outside TLSCIPHERS ($AES128) is refused"
sc 4432 e.13 -tls1_3
isnt "$RC" 0 "envdir TLSPROTOCOLS=tlsv1.2: a -tls1_3-only client is refused"
sc 4432 e.any
is "$RC/$(sclient_proto e.any)" "0/TLSv1.2" "envdir TLSPROTOCOLS=tlsv1.2: a default client gets TLS 1.2"

mk_envdir "$W/env13" TLSPROTOCOLS=tlsv1.3
srv env13 4433 envdir "$W/env13" "$TLSSERVER" "${EC_KEYS[@]}"
sc 4433 e13.12 -tls1_2
isnt "$RC" 0 "envdir TLSPROTOCOLS=tlsv1.3: a -tls1_2-only client is refused"
sc 4433 e13.13 -tls1_3
is "$RC/$(sclient_proto e13.13)" "0/TLSv1.3" "envdir TLSPROTOCOLS=tlsv1.3: TLS 1.3 works"

# ------------------------------------------------ options win over the environment
mk_envdir "$W/env2" "TLSCIPHERS=$CHACHA" TLSPROTOCOLS=tlsv1.3
srv opt 4434 envdir "$W/env2" "$TLSSERVER" "${EC_KEYS[@]}" -C "$AES128" -p tlsv1.2
sc 4434 o.12 -tls1_2
is "$RC/$(seen o.12)" "0/TLSv1.2 $AES128" "precedence: -C $AES128 wins over TLSCIPHERS=$CHACHA"
sc 4434 o.cha -tls1_2 -cipher "$CHACHA"
isnt "$RC" 0 "precedence: the environment's $CHACHA is not accepted when -C says otherwise"
sc 4434 o.13 -tls1_3
isnt "$RC" 0 "precedence: -p tlsv1.2 wins over TLSPROTOCOLS=tlsv1.3 (-tls1_3 client refused)"

# ------------------------------------------------ tcprules per client address (and over envdir)
# 127.0.0.2 gets its own settings; connections from it come through a socat
# relay whose outgoing socket is bound to 127.0.0.2.
if have socat; then
  printf '127.0.0.2:allow,TLSCIPHERS="%s",TLSPROTOCOLS="tlsv1.2"\n:allow\n' "$AES128" > "$W/rules.txt"
  tcprules "$W/rules.cdb" "$W/rules.tmp" < "$W/rules.txt"
  mk_envdir "$W/env3" "TLSCIPHERS=$CHACHA"
  SRV=rules
  spawn rules envdir "$W/env3" tcpserver -v -RHl0 -x "$W/rules.cdb" 127.0.0.1 4435 \
    "$TLSSERVER" "${EC_KEYS[@]}" "$FIX/envdump.sh" "$W/env.rules" "$FIX/reply.sh"
  wait_port 4435 || bail_out "tcpserver rules did not start"
  spawn relay socat TCP-LISTEN:4436,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:4435,bind=127.0.0.2
  wait_port 4436 || diag "socat relay did not start"

  sc 4435 r1.12 -tls1_2
  is "$RC/$(seen r1.12)" "0/TLSv1.2 $CHACHA" "tcprules: 127.0.0.1 (no rule setting) gets the envdir's $CHACHA"
  is "$(ev TCPREMOTEIP)" 127.0.0.1 "tcprules: that session came from 127.0.0.1"
  sc 4435 r1.13 -tls1_3
  is "$RC" 0 "tcprules: 127.0.0.1 may use TLS 1.3"
  sc 4436 r2.12 -tls1_2
  is "$RC/$(seen r2.12)" "0/TLSv1.2 $AES128" "tcprules: 127.0.0.2 gets its rule's TLSCIPHERS=$AES128 (over the envdir)"
  is "$(ev TCPREMOTEIP)/$(ev TLSCIPHERS)" "127.0.0.2/$AES128" "tcprules: prog saw TCPREMOTEIP=127.0.0.2 and the rule's TLSCIPHERS"
  sc 4436 r2.cha -tls1_2 -cipher "$CHACHA"
  isnt "$RC" 0 "tcprules: 127.0.0.2 is refused the envdir's $CHACHA"
  sc 4436 r2.13 -tls1_3
  isnt "$RC" 0 "tcprules: 127.0.0.2 is refused TLS 1.3 (rule TLSPROTOCOLS=tlsv1.2)"
  sc 4435 r1.again -tls1_2 -cipher "$CHACHA"
  is "$RC" 0 "tcprules: 127.0.0.1 still gets $CHACHA afterwards"
else
  skip_n 9 "socat not installed (needed to connect from 127.0.0.2)"
fi

# ------------------------------------------------ tlsclient honours TLSCIPHERS / -p
spawn ss openssl s_server -accept 127.0.0.1:4437 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 -rev
SS=$SPAWN_PID; wait_port 4437
mk_client_prog "$W/cprog"
TLSCIPHERS=$CHACHA run cli1 tcpclient -RHl0 127.0.0.1 4437 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" -p tlsv1.2 "$W/cprog" "$W/cenv1"
wait_pid "$SS" 5 >/dev/null
is "$RC" 0 "tlsclient TLSCIPHERS=$CHACHA -p tlsv1.2: exit 0"
is "$(envval "$W/cenv1" SSL_PROTOCOL)/$(envval "$W/cenv1" SSL_CIPHER)" "TLSv1.2/$CHACHA" "tlsclient: the server had to pick $CHACHA"
spawn ss2 openssl s_server -accept 127.0.0.1:4438 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 -rev -tls1_3
SS=$SPAWN_PID; wait_port 4438
run cli2 tcpclient -RHl0 127.0.0.1 4438 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" -p tlsv1.2 "$W/cprog" "$W/cenv2"
stop "$SS"
isnt "$RC" 0 "tlsclient -p tlsv1.2 against a TLS 1.3-only server: fails ($RC)"
ok "tlsclient: prog never ran" test ! -e "$W/cenv2"

# tlsclient's default list refuses a server that offers only a CBC suite
spawn ss3 openssl s_server -accept 127.0.0.1:4442 -cert "$PKI/server.pem" -key "$PKI/server.key" -naccept 1 -rev \
  -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA
SS=$SPAWN_PID; wait_port 4442
run cli3 tcpclient -RHl0 127.0.0.1 4442 "$TLSCLIENT" -h localhost -a "$PKI/ca.pem" "$W/cprog" "$W/cenv3"
stop "$SS"
isnt "$RC" 0 "tlsclient default ciphers: a CBC-only TLS 1.2 server is refused ($RC)"
ok "tlsclient default ciphers: prog never ran" test ! -e "$W/cenv3"
file_like "$W/cli3.err" '^tlsclient: fatal: .*(handshake|cipher)' "tlsclient: one line says the handshake failed"

# ------------------------------------------------ invalid strings: exit 96, one line
bad() { # DESC EXPECTED-ERE CMD...
  local d=$1 re=$2; shift 2
  run bad "$@"
  is "$RC" 96 "$d: exit 96"
  is "$(grep -avc ': info: done ' "$W/bad.err")" 1 "$d: exactly one line on stderr besides the summary"
  like "$(done_line "$W/bad.err")" ' close=config status=96 ' "$d: the summary says close=config"
  file_like "$W/bad.err" "$re" "$d: the line says what is wrong"
}
bad "tlsserver -C bogus" '^tlsserver: fatal: .*cipher.*bogus' "$TLSSERVER" "${EC_KEYS[@]}" -C 'NO-SUCH-CIPHER:bogus' true
TLSCIPHERS=NO-SUCH-CIPHER bad "tlsserver TLSCIPHERS=bogus" '^tlsserver: fatal: .*cipher.*NO-SUCH-CIPHER' "$TLSSERVER" "${EC_KEYS[@]}" true
bad "tlsserver -p bogus" '^tlsserver: fatal: .*protocol.*tlsv9' "$TLSSERVER" "${EC_KEYS[@]}" -p tlsv9 true

# under tcpserver: the client gets nothing, the session ends with 96
mk_envdir "$W/envbad" TLSCIPHERS=NO-SUCH-CIPHER
srv badenv 4439 envdir "$W/envbad" "$TLSSERVER" "${EC_KEYS[@]}"
sc 4439 bad.sess -tls1_2
isnt "$RC" 0 "envdir with an invalid TLSCIPHERS: the client gets no TLS"
is "$(session_exits badenv)" 96 "envdir with an invalid TLSCIPHERS: session exit 96"
is "$(count_lines "$W/badenv.err" '^tlsserver: fatal: ')" 1 "envdir with an invalid TLSCIPHERS: one tlsserver fatal line"
is "$(count_lines "$W/badenv.err" '^tlsserver: info: done .* close=config status=96 ')" 1 "envdir with an invalid TLSCIPHERS: one summary line, close=config"
ok "invalid TLSCIPHERS: prog never ran" test ! -e "$W/env.badenv"

# tlsclient too (under tcpclient, so it gets as far as its configuration)
spawn sink tcpserver -RHl0 127.0.0.1 4440 cat
wait_port 4440
run badc tcpclient -RHl0 127.0.0.1 4440 "$TLSCLIENT" -h localhost -C NO-SUCH-CIPHER true
is "$RC" 96 "tlsclient -C bogus: exit 96"
file_like "$W/badc.err" '^tlsclient: fatal: .*cipher' "tlsclient -C bogus: says so"

done_testing

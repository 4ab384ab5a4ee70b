#!/bin/bash
# SNI: extra keypairs from `CERTFILE:name` / `KEYFILE:name` environment pairs
# (two plain names and a wildcard), the default CERTFILE for an unknown name,
# for a name two labels under the wildcard and for no SNI at all. Checked from
# the client's side (which certificate was served, verified with
# -verify_hostname; gnutls-cli as a second stack) and from prog's side
# (SSL_TLS_SNI_SERVERNAME). libtls picks an extra keypair by the names in its
# certificate; the label in the variable name is documentation only, and the
# last tests pin that down. Broken SNI files are refused with exit 96.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver openssl
pki_setup

cat "$PKI/sni-b.pem" "$PKI/sni-b.key" > "$W/sni-b-combined.pem"

# KEYFILE:b.test.example left out on purpose: it defaults to the CERTFILE:
# file, which here holds certificate and key.
spawn srv env \
  "CERTFILE:a.test.example=$PKI/sni-a.pem" "KEYFILE:a.test.example=$PKI/sni-a.key" \
  "CERTFILE:b.test.example=$W/sni-b-combined.pem" \
  "CERTFILE:*.wild.test.example=$PKI/wild.pem" "KEYFILE:*.wild.test.example=$PKI/wild.key" \
  CERTFILE="$PKI/server.pem" KEYFILE="$PKI/server.key" \
  tcpserver -v -RHl0 127.0.0.1 4420 "$TLSSERVER" "$FIX/envdump.sh" "$W/env" "$FIX/reply.sh"
wait_port 4420 || { diag_file "$W/srv.err"; bail_out "tcpserver did not start"; }

N=0
# sni NAME [s_client args]: one session; certificate printed in $W/sni.NAME.out
sni() {
  local n=$1; shift
  rm -f "$W/env"
  sclient_info "sni.$n" 4420 -CAfile "$PKI/ca.pem" -verify_return_error "$@"
  N=$((N + 1))
  wait_sessions srv "$N" 10 || diag "session $N did not end"
}

sni a -servername a.test.example -verify_hostname a.test.example
is "$RC" 0 "SNI a.test.example: s_client verifies the certificate for that name"
is "$(served_subject sni.a)" "CN=a.test.example" "SNI a.test.example: the CERTFILE:a.test.example certificate was served"
is "$(envval "$W/env" SSL_TLS_SNI_SERVERNAME)" a.test.example "SNI a.test.example: prog sees SSL_TLS_SNI_SERVERNAME"
is "$(envval "$W/env" SSL_TLS_SNI)" a.test.example "SNI a.test.example: alias SSL_TLS_SNI"
is "$(logfield "$W/srv.err" sni)" a.test.example "log: sni=a.test.example"

sni b -servername b.test.example -verify_hostname b.test.example
is "$RC" 0 "SNI b.test.example (no KEYFILE:b..., key in the certificate file): verified"
is "$(served_subject sni.b)" "CN=b.test.example" "SNI b.test.example: its certificate was served"
is "$(envval "$W/env" SSL_TLS_SNI_SERVERNAME)" b.test.example "SNI b.test.example: SSL_TLS_SNI_SERVERNAME"

sni w -servername host1.wild.test.example -verify_hostname host1.wild.test.example
is "$RC" 0 "SNI host1.wild.test.example: verified against *.wild.test.example"
is "$(served_subject sni.w)" "CN=*.wild.test.example" "wildcard: the CERTFILE:*.wild.test.example certificate was served"
is "$(envval "$W/env" SSL_TLS_SNI_SERVERNAME)" host1.wild.test.example "wildcard: prog sees the name the client sent"

sni w12 -servername other.wild.test.example -verify_hostname other.wild.test.example -tls1_2
is "$RC" 0 "wildcard over TLS 1.2: verified"
is "$(served_subject sni.w12)" "CN=*.wild.test.example" "wildcard over TLS 1.2: wildcard certificate served"
is "$(envval "$W/env" SSL_PROTOCOL)" TLSv1.2 "TLS 1.2 session"

sni deep -servername a.b.wild.test.example
is "$(served_subject sni.deep)" "CN=localhost" "two labels under the wildcard: the default certificate"

sni bare -servername wild.test.example
is "$(served_subject sni.bare)" "CN=localhost" "the wildcard's parent name itself: the default certificate"

sni unk -servername unknown.test.example
is "$(served_subject sni.unk)" "CN=localhost" "unknown name: fallback to the default CERTFILE"
is "$(envval "$W/env" SSL_TLS_SNI_SERVERNAME)" unknown.test.example "unknown name: prog still sees the name asked for"

sni lh -servername localhost -verify_hostname localhost
is "$RC" 0 "SNI localhost: the default certificate verifies"
is "$(served_subject sni.lh)" "CN=localhost" "SNI localhost: default certificate"

sni none -noservername -verify_ip 127.0.0.1
is "$RC" 0 "no SNI: the default certificate verifies (IP SAN)"
is "$(served_subject sni.none)" "CN=localhost" "no SNI: the default certificate was served"
is "$(envval "$W/env" SSL_TLS_SNI_SERVERNAME)|$(envval "$W/env" SSL_TLS_SNI)" "<unset>|<unset>" \
   "no SNI: SSL_TLS_SNI_SERVERNAME and SSL_TLS_SNI unset"
is "$(logfield "$W/srv.err" sni)" - "log: sni=- without SNI"

sni case -servername A.TEST.EXAMPLE -verify_hostname a.test.example
is "$(served_subject sni.case)" "CN=a.test.example" "SNI matching ignores case (A.TEST.EXAMPLE)"

E=$W/env
is "$(grep -c -e '^CERTFILE' -e '^KEYFILE' "$E")" 0 "prog's environment holds no CERTFILE*/KEYFILE* variable"

# -- a second TLS stack
if have gnutls-cli; then
  fifo_open g $'ping\n'
  run_in "$W/g.fifo" gnutls gnutls-cli --x509cafile="$PKI/ca.pem" --sni-hostname=b.test.example \
    --verify-hostname=b.test.example -p 4420 127.0.0.1
  fifo_close
  N=$((N + 1)); wait_sessions srv "$N" 10
  file_like "$W/gnutls.out" 'Subject: .*CN=b\.test\.example|subject `CN=b\.test\.example' "gnutls-cli: served the b.test.example certificate"
  is "$(envval "$W/env" SSL_TLS_SNI_SERVERNAME)" b.test.example "gnutls-cli: SNI reached prog"
  fifo_open g2 $'ping\n'
  run_in "$W/g2.fifo" gnutls2 gnutls-cli --x509cafile="$PKI/ca.pem" --sni-hostname=x.wild.test.example \
    --verify-hostname=x.wild.test.example -p 4420 127.0.0.1
  fifo_close
  N=$((N + 1)); wait_sessions srv "$N" 10
  file_like "$W/gnutls2.out" 'CN=\*\.wild\.test\.example' "gnutls-cli: wildcard certificate for x.wild.test.example"
else
  skip_n 3 "gnutls-cli not installed"
fi
stop "$SPAWN_PID"

# -- the label is documentation: libtls selects by the certificate's names
spawn lbl env \
  "CERTFILE:c.test.example=$PKI/sni-b.pem" "KEYFILE:c.test.example=$PKI/sni-b.key" \
  CERTFILE="$PKI/server.pem" KEYFILE="$PKI/server.key" \
  tcpserver -v -RHl0 127.0.0.1 4421 "$TLSSERVER" "$FIX/envdump.sh" "$W/env" "$FIX/reply.sh"
wait_port 4421 || bail_out "tcpserver did not start"
rm -f "$W/env"
sclient_info lbl.b 4421 -CAfile "$PKI/ca.pem" -servername b.test.example -verify_hostname b.test.example
is "$(served_subject lbl.b)" "CN=b.test.example" "label c.test.example on the b certificate: served for b.test.example (its own name)"
sclient_info lbl.c 4421 -CAfile "$PKI/ca.pem" -servername c.test.example
is "$(served_subject lbl.c)" "CN=localhost" "label c.test.example on the b certificate: c.test.example gets the default"
stop "$SPAWN_PID"

# -- broken SNI files: refused, exit 96, one line
bad_sni() { # DESC PORT VAR=VALUE...
  local d=$1 port=$2; shift 2
  rm -f "$W/env"
  spawn "bad$port" env "$@" CERTFILE="$PKI/server.pem" KEYFILE="$PKI/server.key" \
    tcpserver -v -RHl0 127.0.0.1 "$port" "$TLSSERVER" "$FIX/envdump.sh" "$W/env" "$FIX/reply.sh"
  wait_port "$port" || diag "tcpserver did not start"
  sclient_info "bad$port" "$port" -CAfile "$PKI/ca.pem" -servername a.test.example
  wait_sessions "bad$port" 1 10
  isnt "$RC" 0 "$d: client fails"
  is "$(session_exits "bad$port")" 96 "$d: exit 96"
  is "$(count_lines "$W/bad$port.err" '^tlsserver: fatal: ')" 1 "$d: one fatal line"
  ok "$d: prog never ran" test ! -e "$W/env"
  stop "$SPAWN_PID"
}
bad_sni "CERTFILE:a... names a missing file" 4422 "CERTFILE:a.test.example=$W/nonexistent.pem" "KEYFILE:a.test.example=$PKI/sni-a.key"
file_like "$W/bad4422.err" 'fatal: .*nonexistent\.pem' "missing SNI certificate: the line names the file"
bad_sni "KEYFILE:a... does not match its certificate" 4423 "CERTFILE:a.test.example=$PKI/sni-a.pem" "KEYFILE:a.test.example=$PKI/badkey.key"
bad_sni "CERTFILE:a... without any key" 4424 "CERTFILE:a.test.example=$PKI/sni-a.pem"

done_testing

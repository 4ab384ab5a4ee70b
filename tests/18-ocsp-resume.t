#!/bin/bash
# OCSP stapling and session resumption, as a client sees them.
#   * TLS_OCSPFILE: a client asking for status (s_client -status) gets the
#     stapled response, over TLS 1.3 and 1.2; a client that does not ask
#     still works; chained mode reads the file for every connection, so a
#     response renamed over the old one is served from the next connection
#   * resumption: with TLS_TICKETKEYFILE a saved session is resumed, TLS 1.3
#     and 1.2, and SSL_SESSION_RESUMED agrees with what the client saw
#     (s_client "Reused" <-> "Resumed"); without it nothing is resumed (no
#     ticket is issued); the sessions work either way. More in 70-tickets.t.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver openssl
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
printf 'ping\n' > "$W/ping"
sc() { # NAME PORT ARGS...: s_client (not quiet) with -ign_eof, stdin $W/ping
  local name=$1 port=$2; shift 2
  run_in "$W/ping" "$name" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "$@"
}

# ------------------------------------------------------------------ OCSP
cp "$PKI/ocsp-server.der" "$W/ocsp.der"
TLS_OCSPFILE=$W/ocsp.der serve ocsp-srv 4520 "${SRV[@]}" "$FIX/envdump.sh" "$W/ocsp.env" "$FIX/reply.sh"
sc st13 4520 -status
is "$RC" 0 "TLS 1.3 with -status: s_client exit 0"
file_like "$W/st13.out" 'OCSP Response Status: successful' "TLS 1.3: the OCSP response is stapled"
file_like "$W/st13.out" 'Cert Status: good' "TLS 1.3: stapled status is 'good'"
file_like "$W/st13.out" '^reply:ping$' "TLS 1.3 with stapling: data came back"
sc st12 4520 -status -tls1_2
is "$RC" 0 "TLS 1.2 with -status: s_client exit 0"
file_like "$W/st12.out" 'Cert Status: good' "TLS 1.2: the OCSP response is stapled"
sc nost 4520
is "$RC" 0 "client not asking for status: works"
file_unlike "$W/nost.out" 'OCSP Response Status' "client not asking for status: no response printed"
is "$(envval "$W/ocsp.env" TLS_OCSPFILE)" "<unset>" "TLS_OCSPFILE not given to prog"

# a new response, renamed over the old file, is served from the next connection
old_next=$(sed -n 's/^ *Next Update: //p' "$W/st13.out" | head -n 1)
openssl ocsp -issuer "$PKI/ca.pem" -cert "$PKI/server.pem" -no_nonce -reqout "$W/req.der" >/dev/null 2>&1
openssl ocsp -index "$PKI/ca-ca/index.txt" -CA "$PKI/ca.pem" -rsigner "$PKI/ca.pem" -rkey "$PKI/ca.key" \
  -reqin "$W/req.der" -respout "$W/ocsp.new" -ndays 3 >/dev/null 2>&1
mv -f "$W/ocsp.new" "$W/ocsp.der"
sc st-new 4520 -status
new_next=$(sed -n 's/^ *Next Update: //p' "$W/st-new.out" | head -n 1)
isnt "$new_next" "$old_next" "chained mode: the renamed response is stapled on the next connection"
like "$new_next" ' GMT$' "chained mode: the new staple has a Next Update ($new_next)"
stop "$SPAWN_PID"

# ------------------------------------------------------------------ resumption
# s_client saves the session, then offers it; prog reports what the engine saw.
resume_check() { # TAG PORT EXPECTED PROTO-ARGS...: EXPECTED Resumed or Initial
  local tag=$1 port=$2 want=$3; shift 3
  sc "$tag-1" "$port" -sess_out "$W/$tag.sess" "$@"
  is "$RC" 0 "$tag: first session works"
  is "$(sed -n 's/^SSL_SESSION_RESUMED=//p' "$W/$tag-1.out")" Initial "$tag: the first session is Initial"
  if [ ! -s "$W/$tag.sess" ]; then
    # s_client writes no file when the server issued nothing resumable
    # (TLS 1.3 without a key file: no ticket)
    is Initial "$want" "$tag: nothing to offer, as expected"
    skip_n 4 "$tag: the server issued no resumable session, nothing to offer"
    return
  fi
  sc "$tag-2" "$port" -sess_in "$W/$tag.sess" "$@"
  is "$RC" 0 "$tag: second session (offering the saved one) works"
  file_like "$W/$tag-2.out" '^reply:ping$' "$tag: data came back on the second session"
  local client prog
  if grep -q '^Reused, ' "$W/$tag-2.out"; then client=Resumed
  elif grep -q '^New, ' "$W/$tag-2.out"; then client=Initial
  else client=unknown; fi
  prog=$(sed -n 's/^SSL_SESSION_RESUMED=//p' "$W/$tag-2.out")
  is "$client" "$want" "$tag: the client says $want"
  is "$prog" "$client" "$tag: SSL_SESSION_RESUMED agrees with the client (Reused <-> Resumed)"
}

serve plain-srv 4521 "${SRV[@]}" "$FIX/reply.sh"
resume_check nokey13 4521 Initial
resume_check nokey12 4521 Initial -tls1_2
stop "$SPAWN_PID"

{ echo "# test ticket keys"; openssl rand -hex 48; openssl rand -hex 48; } > "$W/tickets"
chmod 600 "$W/tickets"
TLS_TICKETKEYFILE=$W/tickets serve tk-srv 4522 "${SRV[@]}" "$FIX/reply.sh"
resume_check key13 4522 Resumed
resume_check key12 4522 Resumed -tls1_2
is "$(session_exits tk-srv | sort -u | tr '\n' ' ')" "0 " "with a ticket key file: every session exits 0"
stop "$SPAWN_PID"

done_testing

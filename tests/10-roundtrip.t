#!/bin/bash
# Round trips through tlsserver (under tcpserver) with independent TLS clients
# (openssl s_client, gnutls-cli, curl, socat), and through tlsclient (under
# tcpclient) against independent servers (openssl s_server, gnutls-serv,
# socat) and against tlsserver. Checks the data both ways, the SSL_*
# environment prog sees, and the end-of-session log line.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl
pki_setup

SRV_OPTS=(-c "$PKI/server.pem" -k "$PKI/server.key")

# ------------------------------------------------------------------ tlsserver
# Forged SSL_* values in the engine's environment must not reach prog, and
# the file variables must be removed.
SSL_CLIENT_VERIFY=SUCCESS SSL_CLIENT_S_DN_CN=forged SSL_TLS_SNI_SERVERNAME=forged.example \
KEYFILE=$PKI/server.key \
  serve srv 4433 "$TLSSERVER" -c "$PKI/server.pem" "$FIX/envdump.sh" "$W/env.srv" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
sessions=0
next_session() { # wait for session number N of srv to end
  sessions=$((sessions + 1))
  wait_sessions srv "$sessions" 10 || diag "session $sessions of srv did not end"
}

# -- openssl s_client, TLS 1.3
rm -f "$W/env.srv"
printf 'ping\n' > "$W/ping"
run_in "$W/ping" sc13 openssl s_client -connect 127.0.0.1:4433 -servername localhost \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -quiet
next_session
is "$RC" 0 "s_client (TLS 1.3) verifies the server and exits 0"
file_like "$W/sc13.out" '^reply:ping$' "s_client -> prog -> s_client: the line came back"
file_like "$W/sc13.out" '^SSL_PROTOCOL=TLSv1\.3$' "prog saw SSL_PROTOCOL=TLSv1.3 (reply through the tunnel)"
E=$W/env.srv
is "$(envval "$E" SSL_PROTOCOL)" TLSv1.3 "env: SSL_PROTOCOL"
is "$(envval "$E" SSL_CIPHER)" TLS_AES_256_GCM_SHA384 "env: SSL_CIPHER is the negotiated suite"
is "$(envval "$E" SSL_CIPHER_USEKEYSIZE)" 256 "env: SSL_CIPHER_USEKEYSIZE"
is "$(envval "$E" SSL_TLS_SNI_SERVERNAME)" localhost "env: SSL_TLS_SNI_SERVERNAME is the name the client sent"
is "$(envval "$E" SSL_SESSION_RESUMED)" Initial "env: SSL_SESSION_RESUMED=Initial"
is "$(envval "$E" SSL_CLIENT_VERIFY)" NONE "env: forged SSL_CLIENT_VERIFY replaced by NONE (no client cert)"
is "$(envval "$E" SSL_CLIENT_S_DN_CN)" "<unset>" "env: forged SSL_CLIENT_S_DN_CN removed"
is "$(envval "$E" CERTFILE)$(envval "$E" KEYFILE)" "<unset><unset>" "env: CERTFILE and KEYFILE not given to prog"
is "$(envval "$E" TCPREMOTEIP)" 127.0.0.1 "env: tcpserver's TCPREMOTEIP passes through"
is "$(session_exits srv | tail -n 1)" 0 "engine exit 0 after a clean session"
D=$(done_line "$W/srv.err")
like "$D" '^tlsserver: info: done peer=127\.0\.0\.1:[0-9]+ ' "one 'info: done' line with peer=ip:port"
is "$(logfield "$W/srv.err" sni)/$(logfield "$W/srv.err" proto)/$(logfield "$W/srv.err" cipher)" \
   "localhost/TLSv1.3/TLS_AES_256_GCM_SHA384" "log: sni, proto, cipher"
is "$(logfield "$W/srv.err" in)" 5 "log: in=5 (plaintext bytes from the peer)"
is "$(logfield "$W/srv.err" out)" "$(wc -c < "$W/sc13.out" | tr -d ' ')" "log: out = bytes s_client received"
is "$(logfield "$W/srv.err" close)/$(logfield "$W/srv.err" status)" clean/0 "log: close=clean status=0"
is "$(logfield "$W/srv.err" verify)" NONE "log: verify=NONE"

# -- openssl s_client, TLS 1.2
rm -f "$W/env.srv"
run_in "$W/ping" sc12 openssl s_client -connect 127.0.0.1:4433 -servername localhost -tls1_2 \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -quiet
next_session
is "$RC" 0 "s_client -tls1_2 exits 0"
file_like "$W/sc12.out" '^reply:ping$' "TLS 1.2: data came back"
is "$(envval "$E" SSL_PROTOCOL)" TLSv1.2 "TLS 1.2: SSL_PROTOCOL=TLSv1.2"
like "$(envval "$E" SSL_CIPHER)" '^ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$' "TLS 1.2: an ECDHE AEAD OpenSSL cipher name"

# -- gnutls-cli (a second TLS stack)
if have gnutls-cli; then
  rm -f "$W/env.srv"
  fifo_open gin $'ping\n'
  run_in "$W/gin.fifo" gnutls gnutls-cli --x509cafile="$PKI/ca.pem" --sni-hostname=localhost \
    --verify-hostname=localhost -p 4433 127.0.0.1
  fifo_close
  next_session
  is "$RC" 0 "gnutls-cli verifies the server and exits 0"
  file_like "$W/gnutls.out" '^reply:ping$' "gnutls-cli: data came back"
  file_like "$W/gnutls.out" 'Peer has closed the GnuTLS connection' "gnutls-cli saw a close_notify"
  is "$(envval "$E" SSL_TLS_SNI_SERVERNAME)" localhost "gnutls-cli: SNI reached prog"
else
  skip_n 4 "gnutls-cli not installed"
fi

# -- socat
if have socat; then
  run_in "$W/ping" socat socat -t 5 - "OPENSSL:127.0.0.1:4433,cafile=$PKI/ca.pem,commonname=localhost,snihost=localhost"
  next_session
  is "$RC" 0 "socat OPENSSL client exits 0"
  file_like "$W/socat.out" '^reply:ping$' "socat: data came back"
  file_like "$W/socat.out" '^SSL_PROTOCOL=TLSv1\.[23]$' "socat: prog's SSL_PROTOCOL came through"
else
  skip_n 3 "socat not installed"
fi
stop "$SPAWN_PID"

# -- curl, HTTP over the tunnel; certificate and key in one file given by CERTFILE
if have curl; then
  CERTFILE=$PKI/combined.pem serve http 4434 "$TLSSERVER" "$FIX/envdump.sh" "$W/env.http" "$FIX/reply.sh" -h
  run curl curl -sS --max-time 10 --cacert "$PKI/ca.pem" --resolve localhost:4434:127.0.0.1 \
    https://localhost:4434/some/path
  wait_sessions http 1
  is "$RC" 0 "curl https:// (CERTFILE=cert+key in one file) exits 0"
  file_like "$W/curl.out" '^reply:GET /some/path HTTP/1\.1$' "curl: request reached prog, response came back"
  file_like "$W/curl.out" '^SSL_TLS_SNI_SERVERNAME=localhost$' "curl: prog saw the SNI name"
  is "$(envval "$W/env.http" CERTFILE)" "<unset>" "CERTFILE from the environment not given to prog"
  run curl12 curl -sS --max-time 10 --tlsv1.2 --tls-max 1.2 --cacert "$PKI/ca.pem" \
    --resolve localhost:4434:127.0.0.1 https://localhost:4434/tls12
  is "$RC" 0 "curl --tls-max 1.2 exits 0"
  file_like "$W/curl12.out" '^SSL_PROTOCOL=TLSv1\.2$' "curl TLS 1.2: prog saw TLSv1.2"
  stop "$SPAWN_PID"
else
  skip_n 6 "curl not installed"
fi

# -- chain in the certificate file (qmail-tls servercert.pem: leaf, intermediate, key)
serve chain 4435 "$TLSSERVER" -c "$PKI/servercert.pem" "$FIX/reply.sh"
run_in "$W/ping" chain openssl s_client -connect 127.0.0.1:4435 -servername localhost \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -quiet
is "$RC" 0 "servercert.pem (leaf+intermediate+key): client trusting only the root verifies"
file_like "$W/chain.out" '^reply:ping$' "servercert.pem: data came back"
stop "$SPAWN_PID"

# -- RSA-2048 server certificate
serve rsa 4436 "$TLSSERVER" -c "$PKI/rsa.pem" -k "$PKI/rsa.key" "$FIX/reply.sh"
run_in "$W/ping" rsa openssl s_client -connect 127.0.0.1:4436 -servername localhost -tls1_2 \
  -CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost -quiet
is "$RC" 0 "RSA server certificate over TLS 1.2: s_client exits 0"
file_like "$W/rsa.out" '^SSL_CIPHER=ECDHE-RSA-' "RSA certificate: an ECDHE-RSA suite"
stop "$SPAWN_PID"

# ------------------------------------------------------------------ tlsclient
printf 'ping\n' > "$W/ping"
SERVER_HASH=$(lower "$(cert_hash "$PKI/server.pem")")
check_client_env() { # envfile peer-name
  local e=$1 p=$2
  is "$(envval "$e" SSL_SERVER_VERIFY)" SUCCESS "$p: SSL_SERVER_VERIFY=SUCCESS"
  is "$(envval "$e" SSL_SERVER_S_DN_CN)" localhost "$p: SSL_SERVER_S_DN_CN"
  like "$(envval "$e" SSL_SERVER_I_DN)" 'CN=Test CA' "$p: SSL_SERVER_I_DN names the CA"
  is "$(lower "$(envval "$e" SSL_SERVER_CERT_HASH)")" "$SERVER_HASH" "$p: SSL_SERVER_CERT_HASH = SHA256 of the DER certificate"
  is "$(lower "$(envval "$e" SSL_PEER_CERT_HASH)")" "$SERVER_HASH" "$p: alias SSL_PEER_CERT_HASH"
  is "$(envval "$e" SSL_SERVER_V_END)" "$(cert_end "$PKI/server.pem")" "$p: SSL_SERVER_V_END as openssl prints notAfter"
  like "$(envval "$e" SSL_PROTOCOL)" '^TLSv1\.[23]$' "$p: SSL_PROTOCOL"
}

tlsclient_to() { # name port [pump mode]
  run "$1" tcpclient -RHl0 -T 5 127.0.0.1 "$2" "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
    "$FIX/envdump.sh" "$W/env.$1" "$FIX/pump.sh" -c "${3:-sendfirst}" "$W/ping" "$W/$1.recv"
}

# -- against openssl s_server (-rev: each line comes back reversed)
spawn s_server openssl s_server -accept 127.0.0.1:4440 -cert "$PKI/server.pem" -key "$PKI/server.key" \
  -naccept 1 -rev
wait_port 4440
tlsclient_to c-ossl 4440 exchange
is "$RC" 0 "tlsclient -> openssl s_server: exit 0"
is "$(cat "$W/c-ossl.recv" 2>/dev/null)" "gnip" "tlsclient -> s_server -rev: the line came back reversed"
check_client_env "$W/env.c-ossl" "s_server"
wait_pid "$SPAWN_PID" 5 >/dev/null; stop "$SPAWN_PID"

# -- against gnutls-serv --echo
if have gnutls-serv; then
  spawn gnutls-serv gnutls-serv --echo -p 4441 --x509certfile="$PKI/server.pem" --x509keyfile="$PKI/server.key"
  wait_port 4441
  tlsclient_to c-gnutls 4441
  is "$RC" 0 "tlsclient -> gnutls-serv: exit 0"
  is "$(cat "$W/c-gnutls.recv" 2>/dev/null)" "ping" "tlsclient -> gnutls-serv --echo: the line came back"
  is "$(envval "$W/env.c-gnutls" SSL_SERVER_VERIFY)" SUCCESS "gnutls-serv: SSL_SERVER_VERIFY=SUCCESS"
  stop "$SPAWN_PID"
else
  skip_n 3 "gnutls-serv not installed"
fi

# -- against socat OPENSSL-LISTEN (upper-cases what it gets)
if have socat; then
  spawn socat-srv socat "OPENSSL-LISTEN:4442,bind=127.0.0.1,reuseaddr,cert=$PKI/server.pem,key=$PKI/server.key,verify=0" \
    EXEC:'tr a-z A-Z'
  wait_port 4442
  tlsclient_to c-socat 4442
  is "$RC" 0 "tlsclient -> socat: exit 0"
  is "$(cat "$W/c-socat.recv" 2>/dev/null)" "PING" "tlsclient -> socat EXEC:tr: the line came back upper-cased"
  stop "$SPAWN_PID"
else
  skip_n 2 "socat not installed"
fi

# -- tlsclient <-> tlsserver, data both ways at once, environments on both sides
mkdata "$W/up" 1
mkdata "$W/down" 1
serve tt 4443 "$TLSSERVER" "${SRV_OPTS[@]}" "$FIX/envdump.sh" "$W/env.tt-srv" "$FIX/pump.sh" both "$W/down" "$W/tt.srv-recv"
# tlsclient configured through the environment this time: CAFILE, TLS_SERVERNAME
CAFILE=$PKI/ca.pem TLS_SERVERNAME=localhost \
  run tt tcpclient -RHl0 -T 5 127.0.0.1 4443 "$TLSCLIENT" \
  "$FIX/envdump.sh" "$W/env.tt-cli" "$FIX/pump.sh" -c both "$W/up" "$W/tt.cli-recv"
wait_sessions tt 1
is "$RC" 0 "tlsclient <-> tlsserver: tlsclient exit 0"
is "$(session_exits tt)" 0 "tlsclient <-> tlsserver: tlsserver exit 0"
is "$(sha "$W/tt.srv-recv")" "$(sha "$W/up")" "tlsclient -> tlsserver: 1 MiB arrived intact"
is "$(sha "$W/tt.cli-recv")" "$(sha "$W/down")" "tlsserver -> tlsclient: 1 MiB arrived intact"
check_client_env "$W/env.tt-cli" "tlsserver"
is "$(envval "$W/env.tt-srv" SSL_TLS_SNI_SERVERNAME)" localhost "tlsclient with TLS_SERVERNAME=localhost sent SNI"
is "$(envval "$W/env.tt-cli" CAFILE)" "<unset>" "tlsclient: CAFILE not given to prog"
is "$(envval "$W/env.tt-srv" SSL_PROTOCOL)/$(envval "$W/env.tt-cli" SSL_PROTOCOL)" "TLSv1.3/TLSv1.3" "both sides agree on TLSv1.3"
is "$(envval "$W/env.tt-srv" SSL_CIPHER)" "$(envval "$W/env.tt-cli" SSL_CIPHER)" "both sides report the same cipher"
like "$(done_line "$W/tt.err")" '^tlsclient: info: done ' "tlsclient logs its 'info: done' line"
is "$(logfield "$W/tt.err" in)/$(logfield "$W/tt.err" out)" "1048576/1048576" "tlsclient log: in/out byte counts"
is "$(logfield "$W/tt.err" close)" clean "tlsclient log: close=clean"
stop "$SPAWN_PID"

done_testing

#!/bin/bash
# Bad input and bad configuration. Each refusal: the documented exit code,
# exactly one stderr line prefixed with the program name, prog never started,
# nothing left running.
#   handshake (97): plaintext instead of TLS, a truncated ClientHello then
#     FIN, tlsclient facing a certificate from another CA, an expired
#     certificate, the wrong host name (and -i: accepted, reported FAILED)
#   configuration (96): missing certificate, key not matching, unreadable key
#     (run as nobody), bad cipher list, bad protocol string, missing CA file
#   temporary (111): the engine cannot fork (as nobody under softlimit -p 1)
#   usage (100): unknown option, missing prog, tlsclient with neither -h nor -i
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient
pki_setup

SRV=("$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key")
# Every session ends with one summary ("info: done") line; besides it, a
# failure gives exactly one line that says what went wrong.
prog_lines() { grep -a "^$2: " "$W/$1.err" 2>/dev/null | grep -av "^$2: info: done "; }
one_line() { # NAME PROGRAM ERE DESC [nodone]: exactly one line from PROGRAM in NAME.err, matching ERE,
  # and one done line (none with "nodone": refused at start, before any session)
  local l n d want=1
  l=$(prog_lines "$1" "$2")
  n=$(printf '%s' "$l" | grep -c '^')
  d=$(count_lines "$W/$1.err" "^$2: info: done ")
  [ "${5:-}" = nodone ] && want=0
  if [ "$n" = 1 ] && [ "$d" = "$want" ] && printf '%s\n' "$l" | grep -Eq -- "$3"; then pass "$4"; return 0; fi
  fail "$4" "expected one '$2: ' line matching /$3/ and one done line, got $n and $d:"
  diag_file "$W/$1.err" 10
}
not_started() { ok "$2: prog was not started" test ! -e "$W/$1.started"; }

# A raw TCP peer: sends the given bytes (hex, or @file), then FIN, reads until EOF.
cat > "$W/raw.py" <<'EOF'
import socket, ssl, sys
port, what = int(sys.argv[1]), sys.argv[2]
if what == 'hello':
    # the first bytes of a real ClientHello, cut short
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ssl.create_default_context().wrap_bio(inc, out, server_hostname='localhost')
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()[:int(sys.argv[3])]
else:
    data = bytes.fromhex(what)
s = socket.create_connection(('127.0.0.1', port), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
n = 0
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        n += len(b)
except OSError:
    pass
print(n)
EOF

# ---------------------------------------------------------------- handshake failures
serve hs 4480 "${SRV[@]}" "$FIX/envdump.sh" "$W/hs.started" cat

# 1. plaintext SMTP instead of a ClientHello
run ehlo "$PY" "$W/raw.py" 4480 "$(printf 'EHLO x\r\n' | od -An -tx1 | tr -d ' \n')"
wait_sessions hs 1 5
is "$(session_exits hs)" 97 "plaintext 'EHLO x' instead of TLS: exit 97"
one_line hs tlsserver '^tlsserver: fatal: handshake failed.*127\.0\.0\.1' "plaintext: one 'tlsserver: fatal: handshake failed' line naming the peer"
not_started hs "plaintext"

# 2. half a ClientHello, then FIN
: > "$W/hs.err.before"; cp "$W/hs.err" "$W/hs.err.before"
run trunc "$PY" "$W/raw.py" 4480 hello 60
wait_sessions hs 2 5
is "$(session_exits hs | tail -n 1)" 97 "truncated ClientHello then FIN: exit 97"
n=$(( $(count_lines "$W/hs.err" '^tlsserver: ') - $(count_lines "$W/hs.err.before" '^tlsserver: ') ))
is "$n" 2 "truncated ClientHello: two more tlsserver log lines (the failure, the summary)"
not_started hs "truncated ClientHello"
stop "$SPAWN_PID"

# 3. tlsclient, server certificate from another CA
serve wrongca-srv 4481 "$TLSSERVER" -c "$PKI/wrongserver.pem" -k "$PKI/wrongserver.key" cat
run wrongca tcpclient -RHl0 127.0.0.1 4481 "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
  "$FIX/envdump.sh" "$W/wrongca.started" true
is "$RC" 97 "tlsclient refuses a certificate from an unknown CA: exit 97"
one_line wrongca tlsclient '^tlsclient: fatal: .*(verif|certificate|issuer)' "unknown CA: one 'tlsclient: fatal:' line saying why"
not_started wrongca "unknown CA"
wait_sessions wrongca-srv 1 5
is "$(session_exits wrongca-srv)" 97 "unknown CA: the server side's handshake failed too (97)"

# 4. ... and with -i the same server is accepted, the report says FAILED
run insecure tcpclient -RHl0 127.0.0.1 4481 "$TLSCLIENT" -i -a "$PKI/ca.pem" \
  "$FIX/envdump.sh" "$W/insecure.env" true
is "$RC" 0 "tlsclient -i accepts the unknown CA's certificate"
like "$(envval "$W/insecure.env" SSL_SERVER_VERIFY)" '^FAILED:.+' "tlsclient -i: SSL_SERVER_VERIFY=FAILED:<reason>"
is "$(envval "$W/insecure.env" SSL_SERVER_S_DN_CN)" localhost "tlsclient -i: the certificate is still reported"
stop "$SPAWN_PID"

# 4b. no -a and no CAFILE: the system trust store, which does not know the test CA
serve sys-srv 4484 "${SRV[@]}" cat
run sysstore tcpclient -RHl0 127.0.0.1 4484 "$TLSCLIENT" -h localhost \
  "$FIX/envdump.sh" "$W/sysstore.started" true
is "$RC" 97 "tlsclient without -a verifies against the system store: the test CA is unknown there (97)"
not_started sysstore "system store"
stop "$SPAWN_PID"

# 5. expired server certificate
serve expired-srv 4482 "$TLSSERVER" -c "$PKI/expired.pem" -k "$PKI/expired.key" cat
run expired tcpclient -RHl0 127.0.0.1 4482 "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost \
  "$FIX/envdump.sh" "$W/expired.started" true
is "$RC" 97 "tlsclient refuses an expired server certificate: exit 97"
one_line expired tlsclient '^tlsclient: fatal: .*(expired|valid|verif|certificate)' "expired: one 'tlsclient: fatal:' line"
not_started expired "expired certificate"
stop "$SPAWN_PID"

# 6. the certificate does not name the host
serve name-srv 4483 "${SRV[@]}" cat
run name tcpclient -RHl0 127.0.0.1 4483 "$TLSCLIENT" -a "$PKI/ca.pem" -h wrong.example \
  "$FIX/envdump.sh" "$W/name.started" true
is "$RC" 97 "tlsclient -h wrong.example refuses a certificate for localhost: exit 97"
one_line name tlsclient '^tlsclient: fatal: ' "wrong name: one 'tlsclient: fatal:' line"
not_started name "wrong name"
stop "$SPAWN_PID"

# ---------------------------------------------------------------- configuration (96)
# Run the engines directly on /dev/null: configuration is refused before any I/O.
conf() { # NAME PROGRAM ARGS... (prog is envdump NAME.started true)
  local name=$1 p=$2; shift 2
  run "$name" "$@" "$FIX/envdump.sh" "$W/$name.started" true
}
conf nocert tlsserver "$TLSSERVER" -c "$W/no-such-cert.pem" -k "$PKI/server.key"
is "$RC" 96 "missing certificate file: exit 96"
one_line nocert tlsserver '^tlsserver: fatal: .*no-such-cert\.pem' "missing certificate: one line naming the file"
not_started nocert "missing certificate"

conf badkey tlsserver "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/badkey.key"
is "$RC" 96 "key not matching the certificate: exit 96"
one_line badkey tlsserver '^tlsserver: fatal: ' "mismatched key: one 'tlsserver: fatal:' line"
not_started badkey "mismatched key"

cp "$PKI/server.pem" "$PKI/server.key" "$W/"
chmod 000 "$W/server.key"
if is_root && have setuidgid && id nobody >/dev/null 2>&1; then
  conf unread tlsserver setuidgid nobody "$TLSSERVER" -c "$W/server.pem" -k "$W/server.key"
  is "$RC" 96 "unreadable key (running as nobody): exit 96"
  one_line unread tlsserver '^tlsserver: fatal: .*server\.key' "unreadable key: one line naming the file"
  not_started unread "unreadable key"
else
  skip_n 3 "needs real root, setuidgid and user nobody"
fi

conf nokeyenv tlsserver env CERTFILE="$W/no-such-cert.pem" "$TLSSERVER"
is "$RC" 96 "CERTFILE naming a missing file: exit 96"
one_line nokeyenv tlsserver '^tlsserver: fatal: .*no-such-cert\.pem' "CERTFILE missing: one line naming the file"

conf badcipher tlsserver "${SRV[@]}" -C 'NO-SUCH-CIPHER'
is "$RC" 96 "cipher list matching nothing: exit 96"
one_line badcipher tlsserver '^tlsserver: fatal: ' "bad cipher list: one 'tlsserver: fatal:' line"

conf badproto tlsserver "${SRV[@]}" -p 'tlsv9.9'
is "$RC" 96 "unknown protocol string: exit 96"
one_line badproto tlsserver '^tlsserver: fatal: ' "bad protocol string: one 'tlsserver: fatal:' line"

# (tlsclient first wants its network descriptors 6 and 7)
conf noca tlsclient sh -c 'exec "$@" 6</dev/null 7>/dev/null' sh "$TLSCLIENT" -a "$W/no-such-ca.pem" -h localhost
is "$RC" 96 "tlsclient with a missing CA file: exit 96"
one_line noca tlsclient '^tlsclient: fatal: .*no-such-ca\.pem' "missing CA file: one line naming the file"
not_started noca "missing CA file"

# ---------------------------------------------------------------- temporary (111)
# As nobody with a process limit of 1 the engine cannot fork its child.
if is_root && have setuidgid && have softlimit && id nobody >/dev/null 2>&1; then
  conf nofork tlsserver setuidgid nobody softlimit -p 1 "${SRV[@]}"
  is "$RC" 111 "tlsserver unable to fork: exit 111 (temporary)"
  one_line nofork tlsserver '^tlsserver: fatal: .*fork' "unable to fork: one 'tlsserver: fatal:' line saying so"
  not_started nofork "unable to fork"
  conf nofork-c tlsclient setuidgid nobody softlimit -p 1 sh -c 'exec "$@" 6</dev/null 7>/dev/null' sh \
    "$TLSCLIENT" -a "$PKI/ca.pem" -h localhost
  is "$RC" 111 "tlsclient unable to fork: exit 111"
  one_line nofork-c tlsclient '^tlsclient: fatal: .*fork' "tlsclient unable to fork: one line saying so"
else
  skip_n 5 "needs real root, setuidgid, softlimit and user nobody"
fi

# ---------------------------------------------------------------- usage (100)
conf opt-s tlsserver "${SRV[@]}" -Z
is "$RC" 100 "tlsserver with an unknown option: exit 100"
one_line opt-s tlsserver '^tlsserver: usage: ' "tlsserver unknown option: one 'tlsserver: usage:' line" nodone
not_started opt-s "unknown option"

conf opt-c tlsclient "$TLSCLIENT" -h localhost -Z
is "$RC" 100 "tlsclient with an unknown option: exit 100"
one_line opt-c tlsclient '^tlsclient: usage: ' "tlsclient unknown option: one 'tlsclient: usage:' line" nodone

run noprog-s "${SRV[@]}"
is "$RC" 100 "tlsserver without prog: exit 100"
one_line noprog-s tlsserver '^tlsserver: usage: ' "tlsserver without prog: one usage line" nodone

run noprog-c "$TLSCLIENT" -h localhost
is "$RC" 100 "tlsclient without prog: exit 100"
one_line noprog-c tlsclient '^tlsclient: usage: ' "tlsclient without prog: one usage line" nodone

conf noname tlsclient "$TLSCLIENT" -a "$PKI/ca.pem"
is "$RC" 100 "tlsclient with neither -h nor -i: exit 100"
one_line noname tlsclient '^tlsclient: ' "tlsclient with neither -h nor -i: one 'tlsclient:' line" nodone
not_started noname "neither -h nor -i"

done_testing

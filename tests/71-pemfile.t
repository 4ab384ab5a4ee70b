#!/bin/bash
# src/lib/pemfile on real files made with openssl (tests/unit/pemcheck.c
# drives it): a combined chain+key file is split so that the certificate
# text holds no key; cert-only, key-only, encrypted, mismatched, FIFO,
# directory, empty, missing, oversized and garbage files each get their own
# one-line message naming the file; a FIFO never blocks. Then tlsserver
# (chained and -L) and tlsclient with a combined CERTFILE (the qmail-tls
# servercert.pem): they serve, and the engine's memory holds no copy of the
# key's PEM text during a session (tests/soak/memscan.py). Expired
# certificates are reported with notAfter.
. "$(dirname "$0")/lib.sh"
need_bins unit/pemcheck tlsserver
need_cmds openssl tcpserver
pki_setup

PC=$UCSPI_TLS_BIN/unit/pemcheck
# pc NAME ARGS...: run pemcheck, output in OUT, exit status in RC
pc() { local n=$1; shift; run "pc.$n" "$PC" "$@"; OUT=$(cat "$W/pc.$n.out"); }

# ------------------------------------------------ good files
pc combined "$PKI/combined.pem"
is "$RC" 0 "combined cert+key file: accepted"
like "$OUT" '^ok certs=1 keyblocks=1 keyincert=0 ' "combined: one certificate, the key apart, no key text in the certificate part"
pc servercert "$PKI/servercert.pem"
like "$OUT" '^ok certs=2 keyblocks=1 keyincert=0 ' "qmail-tls servercert.pem (leaf, intermediate, key): two certificates, one key"
pc pair "$PKI/server.pem" "$PKI/server.key"
like "$OUT" '^ok certs=1 keyblocks=1 keyincert=0 validity=valid ' "separate certificate and key files: accepted, valid"
is "${OUT##*notafter=}" "$(cert_end "$PKI/server.pem")" "notAfter reported as openssl prints it"
openssl ecparam -name prime256v1 -genkey -out "$W/eckey.pem" 2>/dev/null
openssl req -new -x509 -key "$W/eckey.pem" -subj /CN=ecparam.test -days 2 -out "$W/eccert.pem" 2>/dev/null
cat "$W/eccert.pem" "$W/eckey.pem" > "$W/ecparam-combined.pem"
pc ecparam "$W/ecparam-combined.pem"
like "$OUT" '^ok certs=1 keyblocks=1 keyincert=0 ' "EC PARAMETERS block + traditional EC key (openssl ecparam -genkey): accepted, parameters dropped"
tr -d '\r' < "$PKI/combined.pem" | sed 's/$/\r/' > "$W/crlf.pem"
pc crlf "$W/crlf.pem"
like "$OUT" '^ok certs=1 keyblocks=1 ' "CRLF line ends: accepted"
pc tls -t "$PKI/servercert.pem"
is "$OUT" "ok configured validity=0" "pemfile_tls_keypair + tls_configure: libtls takes the split pair"

# ------------------------------------------------ expired / not yet valid
pc expired "$PKI/expired.pem" "$PKI/expired.key"
is "$OUT" "ok certs=1 keyblocks=1 keyincert=0 validity=expired notafter=Feb  1 00:00:00 2020 GMT" \
   "expired certificate: loads, reported expired with its notAfter"
openssl x509 -req -in <(openssl req -new -key "$PKI/server.key" -subj /CN=future.test 2>/dev/null) \
  -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -set_serial 77 -days 1 -out "$W/future.pem" \
  -not_before 20991231000000Z 2>/dev/null ||
  "$PY" - "$W/future.pem" "$PKI/server.key" <<'PYEOF' 2>/dev/null
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "future.test")])
t = datetime.datetime(2099, 1, 1)
c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(key.public_key())
     .serial_number(77).not_valid_before(t).not_valid_after(t + datetime.timedelta(days=1))
     .sign(key, hashes.SHA256()))
open(sys.argv[1], "wb").write(c.public_bytes(serialization.Encoding.PEM))
PYEOF
if [ -s "$W/future.pem" ]; then
  pc future "$W/future.pem" "$PKI/server.key"
  like "$OUT" '^ok .* validity=notyet notafter=.* 2099 GMT$' "certificate valid only from 2099: reported not yet valid"
else
  skip "cannot make a not-yet-valid certificate here"
fi

# ------------------------------------------------ refusals, one message each
refuse() { # NAME ERE DESC pemcheck-args...
  local n=$1 re=$2 d=$3; shift 3
  pc "$n" "$@"
  is "$RC" 1 "$d: refused"
  like "$OUT" "$re" "$d: the message"
  is "$(wc -l < "$W/pc.$n.out")" 1 "$d: one line"
}
refuse certonly "^error 8: certificate file $PKI/server\.pem holds no private key: set KEYFILE or -k\$" \
  "certificate file without a key, no KEYFILE" "$PKI/server.pem"
refuse keyfile-nokey "^error 8: key file $PKI/ca\.pem holds no private key\$" \
  "KEYFILE holding a certificate only" "$PKI/server.pem" "$PKI/ca.pem"
refuse keyonly "^error 7: certificate file $PKI/server\.key holds no certificate \(only a private key\)\$" \
  "key-only file as the certificate" "$PKI/server.key"
openssl pkey -in "$PKI/server.key" -aes128 -passout pass:secret -out "$W/enc8.key"
refuse enc8 "^error 10: the private key in $W/enc8\.key is encrypted " "encrypted PKCS#8 key" "$PKI/server.pem" "$W/enc8.key"
openssl ec -in "$PKI/server.key" -aes128 -passout pass:secret -out "$W/enctrad.key" 2>/dev/null
refuse enctrad "^error 10: the private key in $W/enctrad\.key is encrypted " "encrypted traditional key (Proc-Type: 4,ENCRYPTED)" "$PKI/server.pem" "$W/enctrad.key"
cat "$PKI/server.pem" "$W/enc8.key" > "$W/enc-combined.pem"
refuse enccomb "^error 10: the private key in $W/enc-combined\.pem is encrypted " "combined file with an encrypted key" "$W/enc-combined.pem"
refuse mismatch "^error 13: the private key in $PKI/badkey\.key does not match the certificate in $PKI/server\.pem\$" \
  "key of another certificate" "$PKI/server.pem" "$PKI/badkey.key"
cat "$PKI/server.pem" "$PKI/badkey.key" > "$W/mismatch-combined.pem"
refuse mismatchcomb "^error 13: the private key in $W/mismatch-combined\.pem does not match " "combined file, wrong key" "$W/mismatch-combined.pem"
cat "$PKI/combined.pem" "$PKI/badkey.key" > "$W/twokeys.pem"
refuse twokeys "^error 9: key file $W/twokeys\.pem holds more than one private key\$" "two keys in one file" "$W/twokeys.pem"
mkfifo "$W/fifo.pem"
refuse fifo "^error 2: certificate $W/fifo\.pem is a FIFO, not a regular file\$" "FIFO as certificate (no writer: must not block)" "$W/fifo.pem"
refuse fifokey "^error 2: key $W/fifo\.pem is a FIFO, not a regular file\$" "FIFO as key file" "$PKI/server.pem" "$W/fifo.pem"
mkdir "$W/dir.pem"
refuse dir "^error 2: certificate $W/dir\.pem is a directory, not a regular file\$" "directory as certificate" "$W/dir.pem"
refuse devnull "^error 2: certificate /dev/null is not a regular file\$" "/dev/null as certificate" /dev/null
: > "$W/empty.pem"
refuse empty "^error 5: certificate $W/empty\.pem is empty\$" "empty file" "$W/empty.pem"
refuse missing "^error 1: unable to read certificate $W/none\.pem: No such file or directory\$" "missing file" "$W/none.pem"
refuse missingkey "^error 1: unable to read key $W/none\.key: No such file or directory\$" "missing key file" "$PKI/server.pem" "$W/none.key"
head -c 2000000 /dev/zero | tr '\0' A > "$W/big.pem"
refuse big "^error 3: certificate $W/big\.pem is larger than the limit of 1048576 bytes\$" "2 MB file" "$W/big.pem"
head -c 3000 /dev/urandom > "$W/garbage.pem"
refuse garbage "^error 6: certificate $W/garbage\.pem is not PEM text" "random bytes" "$W/garbage.pem"
openssl x509 -in "$PKI/server.pem" -outform DER -out "$W/server.der"
refuse der "^error 6: certificate $W/server\.der is not PEM text" "DER certificate" "$W/server.der"
head -n 5 "$PKI/combined.pem" > "$W/truncated.pem"
refuse truncated "^error 6: certificate $W/truncated\.pem is not PEM text \(or holds a malformed PEM block\)\$" "truncated PEM block" "$W/truncated.pem"
sed '2s/^.\{8\}/@@@@@@@@/' "$PKI/combined.pem" > "$W/badcert.pem"
refuse badcert "^error 11: certificate file $W/badcert\.pem holds an unreadable certificate\$" "corrupt certificate body" "$W/badcert.pem"
{ cat "$PKI/server.pem"; sed '2s/^.\{8\}/@@@@@@@@/' "$PKI/server.key"; } > "$W/badkey.pem"
refuse badkeybody "^error 12: key file $W/badkey\.pem holds an unreadable private key\$" "corrupt key body" "$W/badkey.pem"
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n-----END CERTIFICATE-----\n' > "$W/nested.pem"
refuse nested "^error 6: " "a key block nested inside a certificate block" "$W/nested.pem"
unlike "$(cat "$W"/pc.*.out)" ': Success' "no message ends in ': Success'"

if [ "$(id -u)" = 0 ] && have setpriv; then
  install -m 600 "$PKI/combined.pem" "$W/root-only.pem"
  cp "$PC" "$W/pemcheck"; chmod 755 "$W/pemcheck"
  run unreadable setpriv --reuid=65534 --regid=65534 --clear-groups "$W/pemcheck" "$W/root-only.pem"
  is "$(cat "$W/unreadable.out")" "error 1: unable to read certificate $W/root-only.pem: Permission denied" \
     "unreadable file: errno text (Permission denied)"
else
  skip "needs root and setpriv to make an unreadable file"
fi

# ------------------------------------------------ tlsserver: FIFO as CERTFILE, combined file in memory
run fifoserver "$TLSSERVER" -c "$W/fifo.pem" "$FIX/reply.sh"
is "$RC" 96 "tlsserver with a FIFO as certificate: exit 96 at once (no block in open)"
is "$(grep -v ": info: done " "$W/fifoserver.err")" "tlsserver: fatal: certificate $W/fifo.pem is a FIFO, not a regular file" "tlsserver: one line naming the FIFO"
run certonlyserver "$TLSSERVER" -c "$PKI/server.pem" "$FIX/reply.sh"
is "$(grep -v ": info: done " "$W/certonlyserver.err")" "tlsserver: fatal: certificate file $PKI/server.pem holds no private key: set KEYFILE or -k" \
   "tlsserver -c cert-only: says to set KEYFILE or -k"

cat > "$W/engprog" <<'EOF2'
#!/bin/sh
# immediate-mode prog: its parent is the engine; echo until EOF
echo "$PPID" > "$1.tmp" && mv "$1.tmp" "$1"
exec cat
EOF2
chmod 755 "$W/engprog"
serve comb 4711 "$TLSSERVER" -c "$PKI/combined.pem" "$W/engprog" "$W/eng.pid" || bail_out "tcpserver did not start"
# s_client's stdin stays open until the scan is done, then ends: s_client
# then closes the session.
{ printf 'hello\n'; for _ in $(seq 200); do [ -e "$W/scan.done" ] && break; sleep 0.05; done; } |
  openssl s_client -connect 127.0.0.1:4711 -quiet -no_ign_eof -CAfile "$PKI/ca.pem" -verify_return_error \
    -verify_hostname localhost > "$W/sc.out" 2> "$W/sc.err" &
SC=$!
at_exit "kill $SC 2>/dev/null"
wait_until 10 test -s "$W/eng.pid"
ENG=$(cat "$W/eng.pid" 2>/dev/null)
if [ -n "$ENG" ] && [ -d "/proc/$ENG" ] && [ -x "$PY" ] && [ "$(id -u)" = 0 ]; then
  scan=$("$PY" "$TESTDIR/soak/memscan.py" "$ENG" "$PKI/server.key" 2>&1)
  diag "combined CERTFILE, key material in the engine's memory during the session: $scan"
  is "$(sed -n 's/^pem \([0-9]*\) .*/\1/p' <<<"$scan")" 0 "combined CERTFILE: no copy of the key's PEM text in the engine during the session"
else
  skip "no engine to scan (needs root and $PY)"
fi
touch "$W/scan.done"
wait_pid "$SC" 10 >/dev/null
file_like "$W/sc.out" '^hello$' "combined CERTFILE: the session relayed data"
wait_sessions comb 1 10
like "$(session_exits comb | tail -n 1)" '^(0|2)$' "the combined-file session ended (0, or 2 when s_client closes without close_notify)"

# the same in listening mode: the connection child of tlsserver -L
rm -f "$W/eng.pid" "$W/scan.done"
spawn lst env CERTFILE="$PKI/combined.pem" "$TLSSERVER" -L 127.0.0.1 4713 "$W/engprog" "$W/eng.pid"
LST=$SPAWN_PID
wait_port 4713 || diag "listener did not start"
{ printf 'hello\n'; for _ in $(seq 200); do [ -e "$W/scan.done" ] && break; sleep 0.05; done; } |
  openssl s_client -connect 127.0.0.1:4713 -quiet -no_ign_eof -CAfile "$PKI/ca.pem" -verify_return_error \
    -verify_hostname localhost > "$W/scl.out" 2> "$W/scl.err" &
SC=$!
at_exit "kill $SC 2>/dev/null"
wait_until 10 test -s "$W/eng.pid"
ENG=$(cat "$W/eng.pid" 2>/dev/null)
if [ -n "$ENG" ] && [ -d "/proc/$ENG" ] && [ -x "$PY" ] && [ "$(id -u)" = 0 ]; then
  scan=$("$PY" "$TESTDIR/soak/memscan.py" "$ENG" "$PKI/server.key" 2>&1)
  diag "-L, combined CERTFILE, key material in the connection child during the session: $scan"
  is "$(sed -n 's/^pem \([0-9]*\) .*/\1/p' <<<"$scan")" 0 "-L, combined CERTFILE: no copy of the key's PEM text in the connection child"
else
  skip "no connection child to scan (needs root and $PY)"
fi
touch "$W/scan.done"
wait_pid "$SC" 10 >/dev/null
file_like "$W/scl.out" '^hello$' "-L, combined CERTFILE: the session relayed data"
stop "$LST"

# tlsclient with a combined client CERTFILE (certificate and key in one file)
cat "$PKI/client.pem" "$PKI/client.key" > "$W/clientcomb.pem"
cat > "$W/cliprog" <<'EOF2'
#!/bin/sh
# tlsclient prog: its parent is the engine; one line out, one back, then
# stay until the scan is done (bounded)
echo "$PPID" > "$1.tmp" && mv "$1.tmp" "$1"
printf 'hello\n' >&7
IFS= read -r l <&6; printf '%s\n' "$l" > "$1.reply"
i=0; while [ ! -e "$2" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
exit 0
EOF2
chmod 755 "$W/cliprog"
spawn ssc openssl s_server -accept 127.0.0.1:4712 -cert "$PKI/server.pem" -key "$PKI/server.key" -CAfile "$PKI/ca.pem" \
  -Verify 1 -naccept 1 -rev
SSC=$SPAWN_PID
wait_port 4712 || diag "s_server did not listen"
CERTFILE=$W/clientcomb.pem CAFILE=$PKI/ca.pem \
  tcpclient -RHl0 127.0.0.1 4712 "$TLSCLIENT" -h localhost "$W/cliprog" "$W/cli.pid" "$W/cliscan.done" \
  > "$W/cli.out" 2> "$W/cli.err" &
CLI=$!
wait_until 10 test -s "$W/cli.pid.reply"
ENG=$(cat "$W/cli.pid" 2>/dev/null)
is "$(cat "$W/cli.pid.reply" 2>/dev/null)" olleh "tlsclient with a combined CERTFILE: s_server answered (it asked for the certificate: -Verify 1)"
if [ -n "$ENG" ] && [ -d "/proc/$ENG" ] && [ -x "$PY" ] && [ "$(id -u)" = 0 ]; then
  scan=$("$PY" "$TESTDIR/soak/memscan.py" "$ENG" "$PKI/client.key" 2>&1)
  diag "combined client CERTFILE, key material in tlsclient's engine during the session: $scan"
  is "$(sed -n 's/^pem \([0-9]*\) .*/\1/p' <<<"$scan")" 0 "tlsclient, combined CERTFILE: no copy of the key's PEM text in the engine"
else
  skip "no engine to scan (needs root and $PY)"
fi
touch "$W/cliscan.done"
wait_pid "$CLI" 10; is "$?" 0 "tlsclient session: exit 0"
wait_pid "$SSC" 5 >/dev/null

done_testing

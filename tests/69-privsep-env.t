#!/bin/bash
# What the application inherits. tlsserver runs with every file and privilege
# variable set (CERTFILE, KEYFILE, CERTFILE:name, KEYFILE:name, CAFILE,
# CADIR, CRLFILE, TLS_UID, TLS_GID, TLS_CHROOT, TLS_TICKETKEYFILE,
# TLS_OCSPFILE) and with forged SSL_* values (SSL_CLIENT_VERIFY=SUCCESS, a
# client DN, a protocol, a hash...). The application must see none of the
# first, and only the real session's values of the second:
#  - immediate mode: prog's environment;
#  - delayed mode: prog's environment at exec (no SSL_* at all before TLS)
#    and the block answering 'Y';
# for a client without certificate, with a good one and with a self-signed
# one. Last, TLS_UID without TLS_GID: refused (exit 100), never an engine
# left in group 0.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver cc
[ -x "$PY" ] || skip_all "$PY not installed"
need_root
pki_setup

cc -std=c99 -D_GNU_SOURCE -O2 -o "$W/soakprog" "$TESTDIR/soak/soakprog.c" || bail_out "soakprog does not compile"
mkdir -m 755 "$W/jail"
mkdir -m 1777 "$W/out"
printf '%s\n' "$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$W/ticket.keys"

cat > "$W/client.py" <<'PYEOF'
import socket, ssl, sys
port, ca, delayed = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "d"
cert = sys.argv[4] if len(sys.argv) > 4 else None
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(10)
if delayed:
    f = s.makefile("rb", buffering=0)
    assert f.readline() == b"220 soak\r\n"
    s.sendall(b"STARTTLS\r\n")
    assert f.readline() == b"220 go\r\n"
ctx = ssl.create_default_context(cafile=ca)
if cert:
    ctx.load_cert_chain(cert + ".pem", cert + ".key")
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"E\x00\x00\x00\x02ok")
d = b""
while True:
    x = t.recv(4096)
    if not x: break
    d += x
try: t.unwrap()
except (ssl.SSLError, OSError): pass
print(d.decode())
PYEOF

FORGED=(SSL_CLIENT_VERIFY=SUCCESS SSL_CLIENT_S_DN=CN=forged SSL_CLIENT_S_DN_CN=forged
        SSL_CLIENT_I_DN=CN=forged-ca SSL_CLIENT_S_DN_Email=forged@example.org
        SSL_CLIENT_V_END=never SSL_CLIENT_CERT_HASH=SHA256:00 SSL_PEER_CERT_HASH=SHA256:00
        SSL_PEER_CERT_SUBJECT=/CN=forged SSL_PROTOCOL=SSLv2 SSL_CIPHER=NULL-MD5
        SSL_CIPHER_USEKEYSIZE=1 SSL_SESSION_RESUMED=Resumed SSL_TLS_SNI=forged.example
        SSL_TLS_SNI_SERVERNAME=forged.example SSL_SERVER_VERIFY=SUCCESS SSL_SERVER_S_DN=CN=forged)
PRIVATE=(CERTFILE=$PKI/server.pem KEYFILE=$PKI/server.key
         "CERTFILE:a.test.example=$PKI/sni-a.pem" "KEYFILE:a.test.example=$PKI/sni-a.key"
         CAFILE=$PKI/ca.pem CADIR=$PKI CRLFILE=$PKI/crl.pem TLS_UID=$(id -u nobody) TLS_GID=$(id -g nobody)
         TLS_CHROOT=$W/jail TLS_TICKETKEYFILE=$W/ticket.keys TLS_OCSPFILE=)
PRIVATE_RE='^(CERTFILE|KEYFILE|CAFILE|CADIR|CRLFILE|TLS_UID|TLS_GID|TLS_CHROOT|TLS_TICKETKEYFILE|TLS_OCSPFILE)[=:]'

# envdump as the prog: dump, then soakprog; in delayed mode also the 'Y' reply
serve_env() { # NAME PORT [-n]
  local name=$1 port=$2 n=${3:-}
  env "${FORGED[@]}" "${PRIVATE[@]}" SOAKPROG_REPLY="$W/out/$name.reply" \
    tcpserver -v -RHl0 127.0.0.1 "$port" "$TLSSERVER" $n \
      "$FIX/envdump.sh" "$W/out/$name.env" "$W/soakprog" $n </dev/null >/dev/null 2>"$W/$name.err" &
  SPAWN_PID=$!; _SPAWNED+=("$SPAWN_PID"); at_exit "stop $SPAWN_PID"
  wait_port "$port" || { diag_file "$W/$name.err"; bail_out "tcpserver $name did not start"; }
}
reply_env() { tr '\0' '\n' < "$1" | grep -v '^$' | LC_ALL=C sort; }
ssl_of() { grep '^SSL_' "$1" | LC_ALL=C sort; }

client_hash=$(cert_hash "$PKI/client.pem")
serve_env imm 4691
serve_env del 4692 -n
port_of() { [ "$1" = imm ] && echo 4691 || echo 4692; }
for name in imm del; do
  d=; [ $name = del ] && d=d
  for who in none client selfclient; do
    rm -f "$W/out/$name.env" "$W/out/$name.reply"
    certarg=(); [ $who != none ] && certarg=("$PKI/$who")
    timeout 20 "$PY" "$W/client.py" "$(port_of $name)" "$PKI/ca.pem" "${d:-i}" "${certarg[@]}" > "$W/c.out" 2>&1
    is "$(cat "$W/c.out")" ok "$name/$who: session works (echo)"
    E=$W/out/$name.env
    is "$(grep -Ec "$PRIVATE_RE" "$E")" 0 "$name/$who: no file or privilege variable reaches prog"
    if [ $name = imm ]; then
      S=$(ssl_of "$E")
    else
      is "$(ssl_of "$E")" "" "del/$who: no SSL_* at all in prog's environment before TLS"
      S=$(reply_env "$W/out/$name.reply")
    fi
    where="$name/$who$([ $name = del ] && echo ' (Y reply)')"
    get() { printf '%s\n' "$S" | sed -n "s/^$1=//p"; }
    is "$(get SSL_PROTOCOL)/$(get SSL_TLS_SNI)/$(get SSL_SESSION_RESUMED)" "TLSv1.3/localhost/Initial" "$where: real protocol, SNI, resumption"
    is "$(printf '%s\n' "$S" | grep -c '^SSL_SERVER_[A-Za-z_]*=')" 0 "$where: no SSL_SERVER_* value (the server's own role; a bare name in the reply means unset)"
    case $who in
      none)
        is "$(get SSL_CLIENT_VERIFY)" NONE "$where: forged SSL_CLIENT_VERIFY=SUCCESS replaced by NONE"
        is "$(printf '%s\n' "$S" | grep -Ec '^SSL_(CLIENT_(S_DN|I_DN|S_DN_CN|S_DN_Email|V_END|CERT_HASH)|PEER_CERT_(HASH|SUBJECT))=')" 0 \
           "$where: no forged certificate variable survives" ;;
      client)
        is "$(get SSL_CLIENT_VERIFY)" SUCCESS "$where: SSL_CLIENT_VERIFY=SUCCESS for a good certificate"
        is "$(get SSL_CLIENT_S_DN_CN)/$(lower "$(get SSL_CLIENT_CERT_HASH)")" "client.test/$(lower "$client_hash")" "$where: real CN and hash" ;;
      selfclient)
        like "$(get SSL_CLIENT_VERIFY)" '^FAILED:' "$where: self-signed certificate -> FAILED:reason"
        is "$(get SSL_CLIENT_S_DN_CN)" self.test "$where: real CN of the self-signed certificate" ;;
    esac
  done
done
is "$(grep -Ec 'fatal|warning' "$W/imm.err" "$W/del.err" | awk -F: '{s+=$2} END {print s}')" 0 "no refusal in either log"

# ---------------------------------------------------------------- TLS_UID alone
# Dropping the uid but keeping root's gid would leave group-0 files readable:
# TLS_UID without TLS_GID must be refused (or, were it accepted, the engine
# must not be left in group 0).
mkdir -m 1777 "$W/pv"
serve uidonly 4693 env TLS_UID="$(id -u nobody)" "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" \
  "$PY" "$TESTDIR/soak/probe.py" "$W/pv/uidonly" /nonexistent
"$PY" "$TESTDIR/soak/flood.py" hold 4693 "$PKI/ca.pem" "$W/pv/hold" > "$W/uidonly.client" 2>&1 &
cpid=$!
wait_until 10 test -s "$W/pv/uidonly" || wait_sessions uidonly 1 5
if [ -s "$W/pv/uidonly" ]; then
  eng=$(sed -n 's/^engine //p' "$W/pv/uidonly")
  gid=$(sed -n 's/^Gid:[[:space:]]*//p' "/proc/$eng/status" 2>/dev/null | awk '{print $1}')
  isnt "${gid:-0}" 0 "TLS_UID alone was accepted: then the engine's gid must not be root's"
  is "$(head -n 1 "$W/uidonly.client")" ready "TLS_UID alone was accepted: the session works"
else
  is "$(session_exits uidonly | tail -n 1)" 100 "TLS_UID alone: refused with exit 100"
  is "$(grep -a '^tlsserver: ' "$W/uidonly.err")" "tlsserver: fatal: TLS_UID (-u) needs TLS_GID (-g) too" \
     "TLS_UID alone: one line says why; prog never ran"
fi
touch "$W/pv/hold"
wait_pid "$cpid" 10

done_testing

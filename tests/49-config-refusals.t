#!/bin/bash
# Configuration the engine must refuse at start, before prog runs: each with
# one line on stderr and a documented exit code.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
pki_setup

# refuse NAME CODE ERE CMD...: exit CODE, exactly one line matching ERE, prog not run;
# a refused configuration (96) is a session that ends with its summary line,
# close=config; a usage error (100) is refused before any session.
refuse() {
  local name=$1 code=$2 ere=$3; shift 3
  rm -f "$W/ran"
  "$@" </dev/null >/dev/null 2>"$W/$name.err"
  is "$?" "$code" "$name: exit $code"
  is "$(grep -avc ': info: done ' "$W/$name.err")" 1 "$name: one line on stderr besides the summary"
  if [ "$code" = 96 ]; then
    like "$(done_line "$W/$name.err")" " close=config status=96 .*reason=\"" "$name: the summary says close=config and why"
  else
    is "$(count_lines "$W/$name.err" ': info: done ')" 0 "$name: no summary line (refused before any session)"
  fi
  file_like "$W/$name.err" "$ere" "$name: the line says why"
  ok "$name: prog never ran" test ! -e "$W/ran"
}

head -c 200 /dev/urandom >"$W/garbage.der"
refuse ocsp-garbage 96 '^tlsserver: fatal: unable to use OCSP response .*garbage\.der: not a DER OCSP response$' \
  env TLS_OCSPFILE="$W/garbage.der" "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse ocsp-missing 96 '^tlsserver: fatal: unable to read OCSP response .*nonexistent\.der: No such file or directory$' \
  env TLS_OCSPFILE="$W/nonexistent.der" "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse uid-without-gid 100 '^tlsserver: fatal: TLS_UID \(-u\) needs TLS_GID \(-g\) too$' \
  env TLS_UID=65534 "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse gid-without-uid 100 '^tlsserver: fatal: TLS_GID \(-g\) needs TLS_UID \(-u\) too$' \
  env TLS_GID=65534 "$TLSSERVER" -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse rules-without-listening 100 '^tlsserver: fatal: -x and -m work only with -L' \
  "$TLSSERVER" -x "$W/rules.cdb" -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse maxconn-without-listening 100 '^tlsserver: fatal: -x and -m work only with -L' \
  "$TLSSERVER" -m 5 -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse cadir-missing 96 '^tlsserver: fatal: unable to use CA directory .*nodir: No such file or directory$' \
  "$TLSSERVER" -A "$W/nodir" -c "$PKI/server.pem" -k "$PKI/server.key" touch "$W/ran"
refuse ticketkeys-bad 96 '^tlsserver: fatal: ticket key file .*tk: line 1: each key must be 96 hex digits$' \
  sh -c 'echo abc >"$1"; TLS_TICKETKEYFILE="$1" exec "$2" -c "$3" -k "$4" touch "$5"' x "$W/tk" "$TLSSERVER" "$PKI/server.pem" "$PKI/server.key" "$W/ran"
# a well-formed ticket key file is accepted (the session itself is covered elsewhere)
{ openssl rand -hex 48; openssl rand -hex 48; } >"$W/tk2"
TLS_TICKETKEYFILE="$W/tk2" "$TLSSERVER" -K 200 -c "$PKI/server.pem" -k "$PKI/server.key" true </dev/null >/dev/null 2>"$W/tk2.err"
like "$?" '^97$' "ticket key file with two keys: accepted (the handshake then fails on /dev/null: 97)"
# tlsserver -t: the configuration checked as a session would load it, nothing run
run t-ok "$TLSSERVER" -t -c "$PKI/server.pem" -k "$PKI/server.key"
is "$RC" 0 "tlsserver -t with a good configuration: exit 0"
is "$(cat "$W/t-ok.err")" "tlsserver: info: configuration ok" "tlsserver -t: says so in one line"
run t-bad "$TLSSERVER" -t -C NO-SUCH-CIPHER -c "$PKI/server.pem" -k "$PKI/server.key"
is "$RC" 96 "tlsserver -t with a bad cipher string: exit 96"
is "$(cat "$W/t-bad.err")" "tlsserver: fatal: invalid cipher list: NO-SUCH-CIPHER" "tlsserver -t: the one line names the string"
run t-n "$TLSSERVER" -t -n -c "$W/no-such.pem"
is "$RC" 96 "tlsserver -t -n: a broken file fails (no degrading to plaintext in a check)"

done_testing

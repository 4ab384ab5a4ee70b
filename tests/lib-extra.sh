# tests/lib-extra.sh - helpers used by tests/40-45 on top of tests/lib.sh.
# Source it after lib.sh (and after pki_setup when the helper names $PKI):
#
#   . "$(dirname "$0")/lib.sh"
#   . "$TESTDIR/lib-extra.sh"
#
# Helpers
#   cert_dn PEM subject|issuer   the name in RFC 2253 form, as openssl prints it
#   cert_field PEM FIELD         one line of `openssl x509 -noout -FIELD`, "X=" removed
#   v_end_re                     ERE for the SSL_*_V_END format ("Dec 21 20:37:12 2026 GMT")
#   ping_file                    $W/ping: one line "ping"; echoes its path
#   sclient NAME PORT ARGS...    openssl s_client -quiet -connect 127.0.0.1:PORT ARGS,
#                                stdin $W/ping (run_in: RC, $W/NAME.out, $W/NAME.err)
#   sclient_info NAME PORT ARGS...
#                                s_client without -quiet and with stdin /dev/null: it
#                                prints the certificate, protocol and cipher, then
#                                leaves; same RC / files as run
#   served_pem NAME              the first certificate (PEM) s_client printed in
#                                $W/NAME.out (from sclient_info)
#   served_subject NAME          its subject in RFC 2253 form ("-" when none)
#   sclient_cipher NAME          "Cipher is X" of $W/NAME.out ("-" when none)
#   sclient_proto NAME           the "Protocol  : X" line of NAME.out's SSL-Session block
#                                (else TLSv1.3 when "New, TLSv1.3, Cipher is"; else "-")
#   mk_envdir DIR VAR=VALUE...   an envdir: one file per variable
#   mk_client_prog FILE          writes an executable sh script FILE for tlsclient's
#                                prog: dumps its environment to $1, writes "$2"
#                                (default hello) and a newline on fd 7, reads one line
#                                from fd 6 into $1.reply, exits 0

cert_dn() { openssl x509 -in "$1" -noout "-$2" -nameopt RFC2253 | sed "s/^$2=//"; }
cert_field() { openssl x509 -in "$1" -noout "-$2" | sed 's/^[^=]*=//'; }
v_end_re() { echo '^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4} GMT$'; }

ping_file() { [ -f "$W/ping" ] || printf 'ping\n' > "$W/ping"; echo "$W/ping"; }

sclient() { # NAME PORT ARGS...
  local name=$1 port=$2; shift 2
  run_in "$(ping_file)" "$name" openssl s_client -connect "127.0.0.1:$port" -quiet "$@"
}

sclient_info() { # NAME PORT ARGS...
  local name=$1 port=$2; shift 2
  run "$name" openssl s_client -connect "127.0.0.1:$port" "$@"
}

served_pem() { sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$W/$1.out" | sed '/-----END CERTIFICATE-----/q'; }

served_subject() {
  local pem
  pem=$(served_pem "$1")
  if [ -z "$pem" ]; then echo -; return; fi
  printf '%s\n' "$pem" | openssl x509 -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}

sclient_cipher() {
  local c
  c=$(sed -n 's/^.*Cipher is \([^ ]*\).*$/\1/p' "$W/$1.out" | head -n 1)
  echo "${c:--}"
}

sclient_proto() {
  local p
  p=$(sed -n 's/^ *Protocol *: *\([^ ]*\) *$/\1/p' "$W/$1.out" | head -n 1)
  # no session block (TLS 1.3 without tickets): the cipher's own version,
  # which is the protocol for a TLS 1.3 suite only
  [ -z "$p" ] && p=$(sed -n 's/^New, \(TLSv1\.3\), Cipher is .*$/\1/p' "$W/$1.out" | head -n 1)
  echo "${p:--}"
}

mk_envdir() { # DIR VAR=VALUE...
  local d=$1 kv; shift
  mkdir -p "$d"
  for kv in "$@"; do printf '%s\n' "${kv#*=}" > "$d/${kv%%=*}"; done
}

mk_client_prog() { # FILE
  cat > "$1" <<'EOF'
#!/bin/sh
# tlsclient prog (fds 6/7): env to $1, one line out, one line back into $1.reply
env | LC_ALL=C sort > "$1.tmp" && mv -f "$1.tmp" "$1"
printf '%s\n' "${2:-hello}" >&7
IFS= read -r l <&6 || l='<eof>'
printf '%s\n' "$l" > "$1.reply"
exit 0
EOF
  chmod 755 "$1"
}

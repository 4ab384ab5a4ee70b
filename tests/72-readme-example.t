#!/bin/bash
# The README's first qmail example, run as printed: `make cert ...
# CERT_FILE=/var/qmail/control/servercert.pem` (root:600), then the port 25
# command line (tcpserver as root, tlsserver -n -u/-g of the user tlsd,
# setuidgid qmaild qmail-smtpd) serves STARTTLS to openssl s_client, which
# verifies the certificate. Only /var/qmail is replaced by a private
# directory (with QMAIL_SMTPD and QMAIL_HOME set: QMAIL_HOME, with a private
# directory bind-mounted over it, holding the patched qmail-smtpd as
# bin/qmail-smtpd), else qmail-smtpd is the fixture smtpd (both switch with
# UCSPI-TLS). The users tlsd and qmaild (and
# the group nofiles) are added when missing, in copies of /etc/passwd and
# /etc/group bind-mounted in this test's mount namespace only.
# Also: the previous README line (everything as qmaild with the root:600
# file) fails with the reason in the log, and the qmail-tls way with
# CERT_OWNER=qmaild works.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver fixtures/fixture-smtpd
need_cmds tcpserver setuidgid openssl make
[ "$(id -u)" = 0 ] || skip_all "needs root (tcpserver as root, setuidgid)"

# -- users, in this namespace only
adduser_ns() { # NAME [GROUP]: add a user (and its group) to the private copies
  local u=$1 g=${2:-$1} id=150
  [ -f "$W/passwd" ] || { cp /etc/passwd "$W/passwd"; cp /etc/group "$W/group"; }
  while getent passwd $id >/dev/null || getent group $id >/dev/null ||
        grep -q "^[^:]*:[^:]*:$id:" "$W/passwd" "$W/group"; do id=$((id + 1)); done
  grep -q "^$g:" "$W/group" || echo "$g:x:$id:" >> "$W/group"
  echo "$u:x:$id:$(awk -F: -v g="$g" '$1 == g { print $3 }' "$W/group"):test user:/nonexistent:/usr/sbin/nologin" >> "$W/passwd"
}
getent passwd tlsd >/dev/null || adduser_ns tlsd
getent passwd qmaild >/dev/null || adduser_ns qmaild nofiles
if [ -f "$W/passwd" ]; then
  mount --bind "$W/passwd" /etc/passwd && at_exit "umount -l /etc/passwd" || skip_all "cannot bind-mount /etc/passwd"
  mount --bind "$W/group" /etc/group && at_exit "umount -l /etc/group" || skip_all "cannot bind-mount /etc/group"
fi
ok "users tlsd and qmaild exist (in this namespace)" sh -c 'id tlsd && id qmaild'

# -- the README's lines
readme_block() { # FIRST-LINE-ERE: the code block that holds it, without the fences
  awk -v re="$1" '/^```/ { if (inb) { if (hit) exit; inb = 0; buf = ""; next } inb = 1; next }
    inb { buf = buf $0 "\n"; if ($0 ~ re) hit = 1 }
    END { if (hit) printf "%s", buf }' "$TOP/README.md"
}
Q=$W/qmail
mkdir -p "$Q/control" "$Q/bin" "$W/log"; chmod 777 "$W/log"; chmod 755 "$Q" "$Q/control" "$Q/bin"
if [ -n "${QMAIL_SMTPD:-}" ] && [ -n "${QMAIL_HOME:-}" ] && [ -d "$QMAIL_HOME" ]; then
  # the real patched qmail-smtpd, in the home it was built for
  mount --bind "$Q" "$QMAIL_HOME" || skip_all "cannot bind-mount over QMAIL_HOME=$QMAIL_HOME"
  at_exit "umount -l '$QMAIL_HOME'"
  cp "$QMAIL_SMTPD" "$Q/bin/qmail-smtpd"
  echo mail.example.com > "$Q/control/me"
  echo example.com > "$Q/control/rcpthosts"
  QP=$QMAIL_HOME; REAL=1
else
  QP=$Q; REAL=
fi
certline=$(readme_block '^make cert CERT_CN=' | grep '^make cert CERT_CN=')
cmd=$(readme_block 'tcpserver -v -R 0 25' | grep -v '^useradd ')
isnt "$certline" "" "README: the make cert line found"
like "$cmd" 'tcpserver -v -R 0 25' "README: the port 25 command found"
if [ -n "$REAL" ]; then SMTPD=$QP/bin/qmail-smtpd; else SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd; fi
export FIXTURE_LOG=$W/log/smtpd.log
certline=${certline//\/var\/qmail/$QP}
cmd=${cmd//\/var\/qmail\/bin\/qmail-smtpd/$SMTPD}
cmd=${cmd//\/var\/qmail/$QP}
cmd=${cmd//tcpserver -v -R 0 25/tcpserver -v -RHl0 0 25}     # no DNS in this namespace
note "running: $certline"
note "running: $cmd"

( cd "$TOP" && PATH=$(dirname "$TLSSERVER"):$PATH eval "$certline" ) >"$W/cert.out" 2>&1
is "$?" 0 "README: make cert ran" || diag_file "$W/cert.out"
CERT=$QP/control/servercert.pem
is "$(stat -c '%U:%G %a' "$CERT")" "root:root 600" "the certificate file is root:root 600"

# tlsserver in PATH, as after make install
PATH=$(dirname "$TLSSERVER"):$PATH spawn readme bash -c "$cmd"
README_PID=$SPAWN_PID
ok "the README's tcpserver listens on 25" wait_port 25

starttls() { # NAME: s_client STARTTLS, verifying the certificate and its name
  printf 'EHLO client.example\nQUIT\n' > "$W/$1.in"
  timeout 20 openssl s_client -connect 127.0.0.1:25 -starttls smtp -CAfile "$CERT" \
    -verify_return_error -verify_hostname mail.example.com -crlf -quiet \
    <"$W/$1.in" >"$W/$1.out" 2>&1
  RC=$?
}
starttls sc1
is "$RC" 0 "s_client: STARTTLS and verification succeeded" || { diag_file "$W/sc1.out"; diag_file "$W/readme.err"; }
file_like "$W/sc1.out" '^250 ' "s_client: the smtpd answered EHLO inside TLS"
file_unlike "$W/readme.err" 'unable to read|Permission denied' "no permission problem in the log"
if [ -z "$REAL" ]; then
  wait_until 5 grep -q '^end ' "$FIXTURE_LOG"
  file_like "$FIXTURE_LOG" '^starttls mode=Y result=1 err=-$' "the smtpd switched to TLS with UCSPI-TLS"
  is "$(stat -c %U "$FIXTURE_LOG")" qmaild "the smtpd ran as qmaild"
fi
# who runs what, during an open session: the engine as tlsd, the smtpd as qmaild
fifo_open hold 'EHLO client.example
'
spawn hold bash -c "exec openssl s_client -connect 127.0.0.1:25 -starttls smtp -crlf -quiet <'$W/hold.fifo'"
HOLD=$SPAWN_PID
engine_user() { ps -C tlsserver -o user= | grep -qx tlsd; }
ok "during a session the engine (tlsserver) runs as tlsd" wait_until 5 engine_user
smtpd_user() { ps -C "$(basename "$SMTPD")" -o user= | grep -qx qmaild; }
ok "during a session the smtpd runs as qmaild" wait_until 5 smtpd_user
fifo_close
stop "$HOLD"
stop "$README_PID"
wait_port_closed 25

# -- before: the previous README line, everything as qmaild, key root:600
rm -f "$FIXTURE_LOG"
spawn old tcpserver -v -RHl0 -u "$(id -u qmaild)" -g "$(id -g qmaild)" 0 25 \
  "$TLSSERVER" -n -c "$CERT" "$SMTPD"
wait_port 25 || bail_out "old-style tcpserver did not start"
starttls sc2
isnt "$RC" 0 "before: the qmaild-only line with a root:600 key gets no TLS"
wait_until 5 grep -q 'Permission denied' "$W/old.err"
file_like "$W/old.err" "$CERT.*Permission denied" "before: the log names the file and the reason"
stop "$SPAWN_PID"
wait_port_closed 25

# -- the qmail-tls way: CERT_OWNER=qmaild, then everything as qmaild
( cd "$TOP" && eval "$certline CERT_OWNER=qmaild FORCE=1" ) >"$W/cert2.out" 2>&1
is "$(stat -c '%U %a' "$CERT")" "qmaild 600" "make cert CERT_OWNER=qmaild: the file is qmaild's, mode 600"
spawn own tcpserver -v -RHl0 -u "$(id -u qmaild)" -g "$(id -g qmaild)" 0 25 \
  "$TLSSERVER" -n -c "$CERT" "$SMTPD"
wait_port 25 || bail_out "qmaild tcpserver did not start"
starttls sc3
is "$RC" 0 "CERT_OWNER=qmaild with tcpserver -u qmaild: STARTTLS works" || diag_file "$W/own.err"
stop "$SPAWN_PID"

done_testing

# tests/qmail/qmail-lib.sh - helpers for the tests of the qmail patches
# (src/qmail/*.patch). Source it after ../lib.sh.
#
# The patched programs are named by the environment:
#   QMAIL_SMTPD   a patched qmail-smtpd binary
#   QMAIL_REMOTE  a patched qmail-remote binary
#   QMAIL_HOME    the qmail home those binaries were built for (conf-qmail;
#                 they chdir there). It must exist; the tests never write
#                 into it: they bind-mount their own $W/qhome over it inside
#                 the test's private mount namespace.
# Messages qmail-smtpd accepts go to $QMAILQUEUE, a script of ours that files
# them under $W/qhome/queue-out/ (msg.N = the message, env.N = the
# envelope, NULs as newlines) instead of a real queue.
#
#   need_qmail VAR...        skip the file unless each VAR is set
#   qhome_setup              $Q = $W/qhome bound over $QMAIL_HOME, control/
#                            files me, rcpthosts; exports QMAILQUEUE
#   queued ERE               name of the queued message matching ERE (or none)
#   wait_queued S ERE        wait up to S seconds for such a message
#   fakedns_start ZONELINES  tiny DNS server on 127.0.0.1:53 with those
#                            records, /etc/resolv.conf bound to point at it
#   pf_start D INET MAIN     private Postfix in D: INET = master.cf inet
#                            lines, MAIN = extra main.cf lines
#   pf_delivered D ERE       name of the message in D's sink Maildir matching ERE
#   smtpchat ARGS...         tests/qmail/smtpchat.py (scripted SMTP dialog)

QTEST=$TESTDIR/qmail

need_qmail() {
  local v
  for v in "$@"; do
    [ -n "${!v:-}" ] || skip_all "QMAIL_SMTPD/QMAIL_REMOTE/QMAIL_HOME not set (make check-qmail sets them)"
  done
  [ -d "$QMAIL_HOME" ] || skip_all "QMAIL_HOME=$QMAIL_HOME is not a directory"
  for v in "$@"; do
    case $v in QMAIL_SMTPD|QMAIL_REMOTE) [ -x "${!v}" ] || skip_all "$v=${!v} is not executable" ;; esac
  done
  # the bind mounts below must stay inside this test: lib.sh made us PID 1
  # of fresh PID and mount namespaces; without them, do nothing
  [ "$$" = 1 ] || skip_all "needs private mount and PID namespaces (unshare -m -p)"
}

qhome_setup() {
  Q=$W/qhome
  mkdir -p "$Q/control" "$Q/queue-out" "$Q/bin" "$Q/queue/lock"
  mount --bind "$Q" "$QMAIL_HOME" || skip_all "cannot bind-mount a directory over QMAIL_HOME=$QMAIL_HOME"
  at_exit "umount -l '$QMAIL_HOME'"
  echo mx.qmail.test > "$Q/control/me"
  echo mx.qmail.test > "$Q/control/smtpgreeting"
  echo test.example > "$Q/control/rcpthosts"
  cat > "$Q/bin/fake-queue" <<EOF
#!/bin/sh
# qmail-queue stand-in: message on fd 0, envelope on fd 1
n=\$\$
cat > "$Q/queue-out/msg.\$n.tmp" || exit 81
tr '\\000' '\\n' <&1 > "$Q/queue-out/env.\$n.tmp" || exit 81
mv "$Q/queue-out/env.\$n.tmp" "$Q/queue-out/env.\$n"
mv "$Q/queue-out/msg.\$n.tmp" "$Q/queue-out/msg.\$n"
exit 0
EOF
  chmod 755 "$Q/bin/fake-queue" "$Q" "$Q/control" "$Q/queue-out"
  chmod 777 "$Q/queue-out"
  export QMAILQUEUE=$Q/bin/fake-queue
}

queued() { # ERE -> file name of the first queued message matching it
  local f
  for f in "$Q"/queue-out/msg.*; do
    case $f in *.tmp|*'*'*) continue ;; esac
    grep -Eq -- "$1" "$f" 2>/dev/null && { echo "$f"; return 0; }
  done
  return 1
}

wait_queued() { # S ERE
  local i lim=$(( $1 * 20 ))
  for ((i = 0; i < lim; i++)); do queued "$2" >/dev/null && return 0; sleep 0.05; done
  return 1
}

fakedns_start() { # ZONELINES
  printf '%s\n' "$1" > "$W/zone"
  spawn fakedns "$PY" "$QTEST/fakedns.py" "$W/zone"
  wait_until 5 grep -q ready "$W/fakedns.out" || { diag_file "$W/fakedns.err"; bail_out "fake DNS did not start"; }
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$W/resolv.conf"
  mount --bind "$W/resolv.conf" /etc/resolv.conf || skip_all "cannot bind-mount /etc/resolv.conf (needed for the fake DNS)"
  at_exit "umount -l /etc/resolv.conf"
}

# Private Postfix instance (see PEERS.md): everything @test.example lands in
# D/vmail/sink/ (Maildir); log in D/maillog.
pf_start() { # D INETLINES MAINEXTRA
  local D=$1
  mkdir -p "$D/etc" "$D/spool" "$D/data" "$D/vmail"
  chmod 755 "$D"
  chown postfix "$D/data"; chown nobody:nogroup "$D/vmail"
  cp "$PKI/server.pem" "$D/etc/cert.pem"; cp "$PKI/server.key" "$D/etc/key.pem"
  cp "$PKI/ca.pem" "$D/etc/ca.pem"; chmod 600 "$D/etc/key.pem"
  cat > "$D/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $D/spool
data_directory = $D/data
maillog_file = $D/maillog
maillog_file_prefixes = $D
myhostname = mx.test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = test.example
virtual_mailbox_base = $D/vmail
virtual_mailbox_maps = static:sink/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_tls_cert_file = $D/etc/cert.pem
smtpd_tls_key_file = $D/etc/key.pem
smtpd_tls_CAfile = $D/etc/ca.pem
smtpd_tls_ask_ccert = yes
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_CAfile = $D/etc/ca.pem
smtp_tls_loglevel = 1
smtp_dns_support_level = disabled
$3
EOF
  { printf '%s\n' "$2"; cat <<'EOF'
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
smtps unix - - n - - smtp -o smtp_tls_wrappermode=yes -o smtp_tls_security_level=encrypt
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF
  } > "$D/etc/master.cf"
  postfix -c "$D/etc" check >"$W/postfix-check.log" 2>&1 || { diag_file "$W/postfix-check.log"; return 1; }
  postfix -c "$D/etc" start >"$W/postfix-start.log" 2>&1 || { diag_file "$W/postfix-start.log"; diag_file "$D/maillog"; return 1; }
  at_exit "postfix -c '$D/etc' stop"
}

pf_delivered() { # D ERE
  local f
  for f in "$1"/vmail/sink/new/*; do
    [ -f "$f" ] || continue
    grep -Eq -- "$2" "$f" && { echo "$f"; return 0; }
  done
  return 1
}

smtpchat() { "$PY" "$QTEST/smtpchat.py" "$@"; }

# ---- a real installed qmail (make check-qmail sets QMAIL_INSTALLED=1)
#   need_installed           skip unless QMAIL_HOME holds an installed qmail
#                            and the qmail users exist
#   qinst_setup              $Q = $W/home: a copy of the installation bound
#                            over QMAIL_HOME; control files me, locals, rcpthosts
#   qmail_flavour            "qmailremote" when qmail-rspawn honours
#                            QMAILREMOTE (notqmail), else "bin" (netqmail)
#   wrapper_install [SED]    the qmail-remote wrapper exactly as doc/qmail.md
#                            prints it for the flavour, paths adapted (SED:
#                            extra sed expressions for the tlsclient line)
#   qsend_start              qmail-send (qmail-start) under svscan, multilog
#                            into $QLOG; QMAILREMOTE as doc/qmail.md says
#   qsend_stop               svc -dx, then svscan stopped; nothing left
#   qlog_wait S ERE          wait up to S seconds for a qmail-send log line
#   queue_count              messages in the queue
need_installed() {
  [ "${QMAIL_INSTALLED:-}" = 1 ] || skip_all "QMAIL_INSTALLED not set (make check-qmail installs a private qmail)"
  [ -x "$QMAIL_HOME/bin/qmail-send" ] || skip_all "no qmail installed in QMAIL_HOME=$QMAIL_HOME"
  local u
  for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do
    getent passwd $u >/dev/null || skip_all "no user $u"
  done
  need_cmds svscan supervise svc multilog setuidgid
}

qinst_setup() {
  Q=$W/home
  mkdir -p "$Q"
  cp -a "$QMAIL_HOME/." "$Q/" || bail_out "cannot copy the installation in $QMAIL_HOME"
  mount --bind "$Q" "$QMAIL_HOME" || skip_all "cannot bind-mount a directory over QMAIL_HOME=$QMAIL_HOME"
  at_exit "umount -l '$QMAIL_HOME'"
  chmod 755 "$Q"
  echo mx.qmail.test > "$Q/control/me"
  echo mx.qmail.test > "$Q/control/locals"
  printf 'mx.qmail.test\ntest.example\n' > "$Q/control/rcpthosts"
  mkdir -p "$Q/control/tlshosts"
}

qmail_flavour() {
  if grep -aq QMAILREMOTE "$QMAIL_HOME/bin/qmail-rspawn"; then echo qmailremote; else echo bin; fi
}

wrapper_install() { # [SED]
  local text
  if [ "$(qmail_flavour)" = qmailremote ]; then
    text=$(sed -n '/^`\/var\/qmail\/bin\/qmail-remote-tls`/,/^```$/{/^```sh$/,/^```$/p}' "$TOP/doc/qmail.md" | sed '1d;$d')
    WRAPPER=$QMAIL_HOME/bin/qmail-remote-tls
  else
    text=$(sed -n "/^cat > qmail-remote <<'EOF'\$/,/^EOF\$/p" "$TOP/doc/qmail.md" | sed '1d;$d')
    mv "$QMAIL_HOME/bin/qmail-remote" "$QMAIL_HOME/bin/qmail-remote.orig"
    WRAPPER=$QMAIL_HOME/bin/qmail-remote
  fi
  printf '%s\n' "$text" | sed "s#/usr/local/bin/tlsclient#$TLSCLIENT#; s#/var/qmail#$QMAIL_HOME#g; ${1:-}" > "$WRAPPER"
  chmod 755 "$WRAPPER"
  grep -q "^$TLSCLIENT .*-n $QMAIL_HOME/bin/qmail-remote" "$WRAPPER"
}

qsend_start() {
  local S=$W/service/qmail-send qr=
  mkdir -p "$S/log"
  [ "$(qmail_flavour)" = qmailremote ] && qr="QMAILREMOTE=$QMAIL_HOME/bin/qmail-remote-tls"
  cat > "$S/run" <<RUN
#!/bin/sh
exec 2>&1
exec env - PATH="$QMAIL_HOME/bin:\$PATH" $qr qmail-start ./Maildir/
RUN
  printf '#!/bin/sh\nexec multilog t ./main\n' > "$S/log/run"
  chmod 755 "$S/run" "$S/log/run"
  QLOG=$S/log/main/current
  spawn svscan svscan "$W/service"
  SVSCAN_PID=$SPAWN_PID
  wait_until 10 grep -q 'status: local 0/' "$QLOG"
}

qsend_stop() {
  local S=$W/service/qmail-send
  stop "$SVSCAN_PID"
  svc -dx "$S" "$S/log" 2>/dev/null
  wait_until 10 sh -c "! svok '$S' && ! svok '$S/log'"
}

qlog_wait() { wait_until "$1" grep -Eq -- "$2" "$QLOG"; }

queue_count() { find "$Q/queue/mess" -type f | wc -l; }

# ---- Exim from its unpacked Debian packages (never installed: it conflicts
# with Postfix). make check-qmail downloads the .debs into $EXIM_DEBS.
#   exim_setup               $EXIM = the exim4 binary unpacked into $W, or skip
#   exim_conf D BODY         $D/exim.conf: the common part (spool, log, TLS
#                            files from the test PKI) plus BODY
#   exim_log D               $D/log/mainlog
exim_setup() {
  local d=${EXIM_DEBS:-/var/cache/ucspi-tls/exim} f n=0
  for f in "$d"/exim4-daemon-light_*.deb "$d"/exim4-base_*.deb "$d"/exim4-config_*.deb; do
    [ -f "$f" ] || skip_all "no Exim packages in $d (make check-qmail runs apt-get download exim4-daemon-light exim4-base exim4-config)"
    dpkg-deb -x "$f" "$W/exim-root" || skip_all "dpkg-deb -x $f failed"
    n=$((n + 1))
  done
  EXIM=$W/exim-root/usr/sbin/exim4
  getent passwd Debian-exim >/dev/null || skip_all "no user Debian-exim (make check-qmail adds one in its private user database)"
  "$EXIM" -bV > "$W/exim-bV.log" 2>&1; grep -q "^Exim version" "$W/exim-bV.log" || { diag_file "$W/exim-bV.log"; skip_all "the unpacked exim4 does not run"; }
}

exim_conf() { # D BODY
  local D=$1
  mkdir -p "$D/spool" "$D/log" "$D/maildir"
  cp "$PKI/server.pem" "$D/cert.pem"; cp "$PKI/server.key" "$D/key.pem"; cp "$PKI/ca.pem" "$D/ca.pem"
  cp "$PKI/client.pem" "$D/client.pem"; cp "$PKI/client.key" "$D/client.key"
  cat > "$D/exim.conf" <<XCONF
exim_path = $EXIM
exim_user = Debian-exim
exim_group = Debian-exim
keep_environment =
spool_directory = $D/spool
log_file_path = $D/log/%slog
pid_file_path = $D/exim.pid
log_selector = +tls_certificate_verified +tls_peerdn +tls_sni +received_recipients
host_lookup =
rfc1413_hosts =
never_users = root
disable_ipv6 = true
$2
XCONF
  chown -R Debian-exim:Debian-exim "$D"
  chown root:root "$D/exim.conf"; chmod 644 "$D/exim.conf"   # or exim refuses it
  chmod 755 "$D"
}
exim_log() { echo "$1/log/mainlog"; }

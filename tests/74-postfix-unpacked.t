#!/bin/bash
# Postfix on a host whose MTA is another: the copy package/postfix-dir
# unpacked (apt-get download + dpkg-deb -x) runs a private instance, with the
# installed Postfix (if any) hidden in this namespace, and with the postfix
# user and the postdrop group taken away first, as on a host that never had
# Postfix: tests/postfix-setup.sh adds them in this namespace only. swaks
# delivers a message through it over STARTTLS to its Maildir.
# Needs an unpacked copy: sh package/postfix-dir fetch (package/deps does it
# on a host with another MTA), or UCSPI_TLS_POSTFIX_ROOT naming one.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"          # pf_start, pf_delivered
. "$TESTDIR/postfix-setup.sh"            # pf_prepare
need_cmds swaks getent
pki_setup
export UCSPI_TLS_POSTFIX=unpacked
sh "$TOP/package/postfix-dir" >/dev/null 2>"$W/dir.err" || skip_all "$(cat "$W/dir.err")"

# a host without the postfix user and the postdrop group
grep -v '^postfix:' /etc/passwd > "$W/passwd.nopf"
grep -v '^postfix:\|^postdrop:' /etc/group > "$W/group.nopf"
mount --bind "$W/passwd.nopf" /etc/passwd && at_exit "umount -l /etc/passwd" || skip_all "cannot bind-mount /etc/passwd"
mount --bind "$W/group.nopf" /etc/group && at_exit "umount -l /etc/group" || skip_all "cannot bind-mount /etc/group"
nok "no postfix user to begin with" getent passwd postfix
is "$(sh "$TOP/package/postfix-dir" users | tr '\n' ' ')" "postfix group:postfix group:postdrop " "postfix-dir users names what is missing"

pf_prepare
is "$?" 0 "pf_prepare: ready" || diag "$PF_WHY"
ok "pf_prepare added the postfix user (in this namespace)" getent passwd postfix
ok "pf_prepare added the postdrop group (in this namespace)" getent group postdrop
like "$(command -v postfix)" "/bin/postfix$" "postfix in PATH is the unpacked copy's"
isnt "$(command -v postfix)" /usr/sbin/postfix "not the installed one"
like "$PF_MAIN" "^daemon_directory = .*/tree/usr/lib/postfix/sbin" "PF_MAIN points the daemons at the unpacked tree"
ok "the installed Postfix's libraries are hidden" sh -c '! ls /usr/lib/postfix/*.so 2>/dev/null | grep -q .'

PF=$W/pf
pf_start "$PF" "127.0.0.1:25 inet n - n - - smtpd" "$PF_MAIN" || bail_out "unpacked postfix did not start"
ok "the unpacked Postfix listens on 25" wait_port 25
run swaks swaks -s 127.0.0.1 -p 25 --tls --tls-verify --tls-ca-path "$PKI/ca.pem" -f a@example.org -t unpacked@test.example \
  --header 'Subject: unpacked' --body 'through the unpacked postfix'
is "$RC" 0 "swaks over STARTTLS into the unpacked Postfix: exit 0" || diag_file "$W/swaks.out"
wait_until 5 pf_delivered "$PF" '^Delivered-To: unpacked@test\.example'
ok "the message is in the Maildir" pf_delivered "$PF" '^Delivered-To: unpacked@test\.example'
file_like "$PF/maillog" 'TLS connection established from localhost\[127\.0\.0\.1\]' "Postfix logged the TLS session"
file_like "$PF/maillog" "postfix/master\[[0-9]+\]: daemon started" "master started"
master=$(cat "$PF/spool/pid/master.pid" 2>/dev/null | tr -d ' ')
like "$(readlink "/proc/$master/exe" 2>/dev/null)" "/tree/usr/lib/postfix/sbin/master$" "the running master is the unpacked binary"

done_testing

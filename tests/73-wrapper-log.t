#!/bin/bash
# The QMAILREMOTE wrapper exactly as doc/qmail.md prints it (paths adapted,
# logger pointed at a private syslog socket), run as an unprivileged user
# with its stderr on the report pipe, as qmail-rspawn runs it (fd 2 = fd 1):
#   * the qmail-tls habit clientcert.pem -> servercert.pem with servercert.pem
#     root:600: no certificate is sent, one mail.warning line reaches syslog
#     naming the file and the user, and the delivery report is untouched;
#   * a dangling clientcert.pem link: the same;
#   * a readable clientcert.pem: CERTFILE set, nothing logged;
#   * control/tlsclientciphers with comments, blank lines and trailing
#     blanks: joined as control_readfile read them.
# prog stands in for qmail-remote: it writes a report in qmail-remote's
# format. The engine keeps CERTFILE and TLSCIPHERS to itself, so a second
# copy of the wrapper, with tlsclient replaced by a recorder, shows what the
# wrapper hands to tlsclient.
. "$(dirname "$0")/lib.sh"
need_bins tlsclient
need_cmds logger setuidgid
[ -x "$PY" ] || skip_all "no $PY"
[ "$(id -u)" = 0 ] || skip_all "needs root (root-only servercert.pem, setuidgid)"
pki_setup

C=$W/control
mkdir -p "$C"
chmod 755 "$W" "$C"
cat "$PKI/client.pem" "$PKI/client.key" > "$C/servercert.pem"
chmod 600 "$C/servercert.pem"

# stand-in for qmail-remote: a report (recipient record, then the final one)
printf '#!/bin/sh\nprintf "r127.0.0.1 accepted message.\\0K done\\0"\n' > "$W/qmail-remote"
# recorder in tlsclient's place: what the wrapper exports, as a report
cat > "$W/record" <<'EOF'
#!/bin/sh
printf 'r127.0.0.1 accepted message. CERTFILE=%s TLSCIPHERS=%s\0K done\0' "${CERTFILE:-none}" "${TLSCIPHERS:-none}"
EOF
chmod 755 "$W/qmail-remote" "$W/record"

# the wrapper from the document
sed -n '/^`\/var\/qmail\/bin\/qmail-remote-tls`/,/^```$/{/^```sh$/,/^```$/p}' "$TOP/doc/qmail.md" | sed '1d;$d' |
  sed "s#/usr/local/bin/tlsclient#$TLSCLIENT#; s#/var/qmail/bin/qmail-remote #$W/qmail-remote #; s#^C=/var/qmail/control#C=$C#; s#logger -p#logger -u $W/devlog -p#" \
  > "$W/qmail-remote-tls"
chmod 755 "$W/qmail-remote-tls"
sed "s#^$TLSCLIENT -n #$W/record #" "$W/qmail-remote-tls" > "$W/qmail-remote-rec"
chmod 755 "$W/qmail-remote-rec"
ok "doc/qmail.md's wrapper found (tlsclient line)" grep -q "^$TLSCLIENT -n $W/qmail-remote " "$W/qmail-remote-tls"
ok "doc/qmail.md's wrapper logs through logger -p mail.warning" grep -q "logger -u $W/devlog -p mail.warning -t qmail-remote-tls" "$W/qmail-remote-tls"

# a private syslog socket: one datagram per line into $W/syslog
cat > "$W/syslogd.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        d = s.recv(65536)
        f.write(d.rstrip(b"\n") + b"\n")
EOF
: > "$W/syslog"
spawn syslogd "$PY" "$W/syslogd.py" "$W/devlog" "$W/syslog"
wait_until 5 test -S "$W/devlog" || bail_out "private syslog socket not created"

deliver() { # NAME [wrapper]: the wrapper as nobody, fd 2 = fd 1 = the report, as under qmail-rspawn
  printf 'Subject: t\n\nhi\n' > "$W/$1.msg"
  timeout 20 setuidgid nobody "$W/${2:-qmail-remote-tls}" example.org a@example.org b@example.org \
    <"$W/$1.msg" >"$W/$1.report" 2>&1
  RC=$?
  tr '\0' '\n' < "$W/$1.report" > "$W/$1.txt"
}
report() { printf 'r127.0.0.1 accepted message.\nK done\n'; }
expect_rec() { # CERTFILE TLSCIPHERS
  printf 'r127.0.0.1 accepted message. CERTFILE=%s TLSCIPHERS=%s\nK done\n' "$1" "$2"
}

# -- clientcert.pem -> servercert.pem (root:600)
ln -s servercert.pem "$C/clientcert.pem"
deliver link
is "$RC" 0 "symlink to a root-only file: the wrapper exits 0"
is "$(cat "$W/link.txt")" "$(report)" "symlink: the report is exactly qmail-remote's, no warning in it"
wait_until 5 grep -q qmail-remote-tls "$W/syslog"
file_like "$W/syslog" "^<(20|164)>.*qmail-remote-tls.*: $C/clientcert\.pem not readable by nobody \(a link to a root-only file\?\): no client certificate sent$" \
  "symlink: one mail.warning line in syslog names the file and the user"
is "$(grep -c qmail-remote-tls "$W/syslog")" 1 "symlink: exactly one line per delivery attempt"
deliver linkrec qmail-remote-rec
is "$(cat "$W/linkrec.txt")" "$(expect_rec none none)" "symlink: tlsclient gets no CERTFILE"

# -- a dangling link
rm -f "$C/clientcert.pem"; ln -s nonexistent.pem "$C/clientcert.pem"
: > "$W/syslog"
deliver dangling
is "$(cat "$W/dangling.txt")" "$(report)" "dangling link: the report is untouched"
wait_until 5 grep -q qmail-remote-tls "$W/syslog"
file_like "$W/syslog" "clientcert\.pem not readable by nobody" "dangling link: logged too"

# -- a readable copy: CERTFILE, nothing logged
rm -f "$C/clientcert.pem"; cp "$C/servercert.pem" "$C/clientcert.pem"; chown nobody "$C/clientcert.pem"; chmod 400 "$C/clientcert.pem"
: > "$W/syslog"
deliver copy
is "$RC" 0 "readable copy: exit 0"
is "$(cat "$W/copy.txt")" "$(report)" "readable copy: the report is untouched"
deliver copyrec qmail-remote-rec
is "$(cat "$W/copyrec.txt")" "$(expect_rec "$C/clientcert.pem" none)" "readable copy: tlsclient gets CERTFILE"
sleep 0.2
is "$(grep -c qmail-remote-tls "$W/syslog")" 0 "readable copy: nothing logged"

# -- tlsclientciphers as control_readfile reads it
printf '# qmail-tls\nECDHE-ECDSA-CHACHA20-POLY1305  \n\n# two\nECDHE-ECDSA-AES128-GCM-SHA256\n' > "$C/tlsclientciphers"
deliver ciphers qmail-remote-rec
is "$(cat "$W/ciphers.txt")" "$(expect_rec "$C/clientcert.pem" ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256)" \
  "tlsclientciphers: comments, blank lines and trailing blanks skipped, lines joined with ':'"

done_testing

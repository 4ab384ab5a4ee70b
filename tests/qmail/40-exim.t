#!/bin/bash
# A second MTA on a second TLS stack: Exim 4 (Debian's exim4-daemon-light,
# built on GnuTLS), run from its unpacked packages with a private
# configuration. As a client it sends into tcpserver + tlsserver + the
# patched qmail-smtpd (STARTTLS on 25, implicit TLS on 465), verifying the
# server and presenting a client certificate; as a server it takes mail from
# the patched qmail-remote under tlsclient -n (STARTTLS and port 465).
# Needs QMAIL_SMTPD, QMAIL_REMOTE, QMAIL_HOME and the Exim packages.
. "$(dirname "$0")/../lib.sh"
. "$TESTDIR/qmail/qmail-lib.sh"
need_qmail QMAIL_SMTPD QMAIL_REMOTE QMAIL_HOME
need_bins tlsserver tlsclient
need_cmds tcpserver dpkg-deb
exim_setup
pki_setup
qhome_setup
printf 'test.example\nsmtps.example\n' > "$Q/control/rcpthosts"

# ---------------------------------------------------------------- Exim as client
export CERTFILE=$PKI/servercert.pem CAFILE=$PKI/ca.pem
serve starttls 25 "$TLSSERVER" -n "$QMAIL_SMTPD" || bail_out "no server on 25"
serve smtps 465 "$TLSSERVER" "$QMAIL_SMTPD" || bail_out "no server on 465"
unset CERTFILE CAFILE

EC=$W/exim-client
exim_conf "$EC" "primary_hostname = client.exim.test
begin routers
starttls:
  driver = manualroute
  domains = test.example
  route_list = * localhost byname
  self = send
  transport = remote_starttls
smtps:
  driver = manualroute
  domains = smtps.example
  route_list = * localhost byname
  self = send
  transport = remote_smtps
begin transports
remote_starttls:
  driver = smtp
  allow_localhost
  port = 25
  hosts_require_tls = *
  tls_verify_hosts = *
  tls_verify_certificates = $EC/ca.pem
  tls_certificate = $EC/client.pem
  tls_privatekey = $EC/client.key
remote_smtps:
  driver = smtp
  allow_localhost
  port = 465
  protocol = smtps
  hosts_require_tls = *
  tls_verify_hosts = *
  tls_verify_certificates = $EC/ca.pem
  tls_certificate = $EC/client.pem
  tls_privatekey = $EC/client.key"

exim_send() { # RCPT TAG
  printf 'From: a@example.org\nX-Tag: %s\n\nhi from exim\n' "$2" > "$W/exim.$2.msg"
  run_in "$W/exim.$2.msg" "exim.$2" "$EXIM" -C "$EC/exim.conf" -odi -f a@example.org "$1"
}
ESMTPS='with ESMTPS \((TLS_|ECDHE-)[A-Za-z0-9_-]+ encrypted\)'
received() { sed -n '/^Received:/{N;p;q}' "$1" | tr '\n' ' '; }

exim_send rcpt@test.example exim-starttls
is "$RC" 0 "Exim client, STARTTLS: exim -odi exits 0"
file_like "$(exim_log "$EC")" '=> rcpt@test\.example R=starttls T=remote_starttls H=localhost \[127\.0\.0\.1\] X=TLS1\.[23]:[^ ]+ CV=yes' \
  "Exim client, STARTTLS: delivered over verified TLS (mainlog X= CV=yes)"
ok "Exim client, STARTTLS: qmail-smtpd queued the message" wait_queued 5 'X-Tag: exim-starttls'
like "$(received "$(queued 'X-Tag: exim-starttls')")" "$ESMTPS" "Exim client, STARTTLS: Received with ESMTPS"
is "$(logfield "$W/starttls.err" verify)" SUCCESS "Exim client, STARTTLS: tlsserver verified Exim's client certificate"

exim_send rcpt@smtps.example exim-smtps
file_like "$(exim_log "$EC")" '=> rcpt@smtps\.example R=smtps T=remote_smtps H=localhost \[127\.0\.0\.1\] X=TLS1\.[23]:[^ ]+ CV=yes' \
  "Exim client, port 465: delivered over verified TLS"
ok "Exim client, port 465: qmail-smtpd queued the message" wait_queued 5 'X-Tag: exim-smtps'
like "$(received "$(queued 'X-Tag: exim-smtps')")" "$ESMTPS" "Exim client, port 465: Received with ESMTPS"
is "$(logfield "$W/smtps.err" verify)" SUCCESS "Exim client, port 465: tlsserver verified Exim's client certificate"

# ---------------------------------------------------------------- Exim as server
fakedns_start 'localhost A 127.0.0.2
viamx.example MX 10 localhost'
echo mx.qmail.test > "$Q/control/helohost"
ES=$W/exim-server
exim_conf "$ES" "primary_hostname = mx.exim.test
local_interfaces = 127.0.0.2
daemon_smtp_ports = 25 : 465
tls_on_connect_ports = 465
tls_advertise_hosts = *
tls_certificate = $ES/cert.pem
tls_privatekey = $ES/key.pem
tls_verify_certificates = $ES/ca.pem
tls_try_verify_hosts = *
domainlist local_domains = test.example
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny
begin routers
local_maildir:
  driver = accept
  domains = +local_domains
  transport = maildir_delivery
begin transports
maildir_delivery:
  driver = appendfile
  directory = $ES/maildir
  maildir_format
  user = Debian-exim
  group = Debian-exim
  create_directory"
spawn exim-server "$EXIM" -C "$ES/exim.conf" -bdf -q1h
EXIM_PID=$SPAWN_PID
wait_until 5 sh -c "ss -Hltn 'sport = :465' | grep -q 127.0.0.2" || { diag_file "$W/exim-server.err"; bail_out "Exim did not listen"; }

remote() { # NAME HOST TAG [env...]
  local name=$1 host=$2 tag=$3; shift 3
  printf 'From: a@example.org\nX-Tag: %s\n\nhi\n' "$tag" > "$W/$name.msg"
  run_in "$W/$name.msg" "$name" env "$@" "$TLSCLIENT" -n "$QMAIL_REMOTE" "$host" a@example.org rcpt@test.example
  tr '\0' '\n' < "$W/$name.out" > "$W/$name.report"
}
arrived() { wait_until 10 sh -c "grep -lq 'X-Tag: $1' '$ES'/maildir/new/* 2>/dev/null"; }
EL=$(exim_log "$ES")

mkdir -p "$Q/control/tlshosts"; cp "$PKI/ca.pem" "$Q/control/tlshosts/localhost.pem"
remote toexim viamx.example to-exim CERTFILE="$PKI/client.pem" KEYFILE="$PKI/client.key"
file_like "$W/toexim.report" '^K127\.0\.0\.2 accepted message over TLSv1\.[23] [A-Za-z0-9_-]+ verify=SUCCESS\.$' \
  "qmail-remote to Exim, STARTTLS: delivered, Exim's certificate verified"
ok "qmail-remote to Exim, STARTTLS: message in Exim's maildir" arrived to-exim
file_like "$EL" '<= a@example\.org H=\(mx\.qmail\.test\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.[23]:[^ ]+ CV=yes DN="[^"]*CN=client\.test' \
  "qmail-remote to Exim, STARTTLS: Exim logs esmtps and the verified client certificate"

printf 'smtps.example:localhost:465\n' > "$Q/control/smtproutes"
remote toexim465 smtps.example to-exim-465
file_like "$W/toexim465.report" '^K127\.0\.0\.2 accepted message over TLSv1\.[23] [A-Za-z0-9_-]+ verify=SUCCESS\.$' \
  "qmail-remote to Exim, port 465: delivered over verified TLS"
ok "qmail-remote to Exim, port 465: message in Exim's maildir" arrived to-exim-465
file_like "$EL" '<= a@example\.org H=\(mx\.qmail\.test\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.[23]:.* for rcpt@test\.example' \
  "qmail-remote to Exim, port 465: Exim logs esmtps"

stop "$EXIM_PID"
done_testing

#!/bin/bash
# The README's first command keeps working: `sh package/demo test` builds (a
# no-op after make), makes demo/servercert.pem when needed, serves the two
# demo services on 127.0.0.1 (ports 4433 and 2525, private to this network
# namespace), talks to them with openssl s_client, swaks and tlsclient in
# both modes, and stops them. Skips visibly when a tool it needs is missing;
# the run is bounded by a timeout.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver tlsclient
need_cmds tcpserver tcpclient openssl swaks make timeout

# package/deps installs what is missing when run as root. There is no
# network in this namespace, so a missing package cannot be installed here:
# say so instead of failing on apt-get.
deps=$(DEPS_DRYRUN=1 sh "$TOP/package/deps" demo 2>&1)
case $deps in
  *"demo set: nothing missing"*) ;;
  *) skip_all "Debian packages missing (sh package/deps demo would install them): $(echo "$deps" | sed -n 's/.*demo set: missing://p')" ;;
esac

[ -w "$TOP" ] || skip_all "the demo builds inside the repository, which this user cannot write"
DEMO_TIMEOUT=${DEMO_TIMEOUT:-120}
# As a user runs it from a shell: no settings of a surrounding make (B=,
# SANITIZE= from `make sanitize` would otherwise reach the demo's own make).
( cd "$TOP" && exec env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
    timeout -k 5 "$DEMO_TIMEOUT" sh package/demo test ) </dev/null >"$W/demo.out" 2>&1
rc=$?
if [ $rc = 124 ] || [ $rc = 137 ]; then
  fail "sh package/demo test finished within ${DEMO_TIMEOUT}s" "$(tail -n 20 "$W/demo.out")"
else
  is "$rc" 0 "sh package/demo test: exit 0" || diag_file "$W/demo.out" 60
fi
file_like "$W/demo.out" '^demo: all good$' "the demo says: all good"
is "$(count_lines "$W/demo.out" '^demo: ok: ')" 4 "four 'ok' lines: s_client, swaks, tlsclient, tlsclient -n"
file_unlike "$W/demo.out" '^demo: (FAILED|fatal)' "no FAILED or fatal line"
file_like "$W/demo.out" '^demo: ok: s_client verified the certificate' "s_client against the immediate-mode service"
file_like "$W/demo.out" '^demo: ok: swaks did STARTTLS' "swaks against the STARTTLS service"
file_like "$W/demo.out" '^demo: ok: tlsclient -n did STARTTLS \(TLSv1\.[23] ' "tlsclient -n against the STARTTLS service"
ok "the demo's services are gone" wait_port_closed 4433 3
ok "the demo's STARTTLS service is gone" wait_port_closed 2525 3

done_testing

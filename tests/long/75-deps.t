#!/bin/bash
# package/deps never removes or replaces a package. Run against other hosts'
# dpkg databases (DEPS_ADMINDIR, a copy of this host's status with stanzas
# swapped) in dry-run mode, so apt's real resolver plans against them
# offline and nothing on this machine changes:
#   * ucspi-tcp-ipv6 instead of ucspi-tcp: nothing to install (installing
#     ucspi-tcp would remove ucspi-tcp-ipv6, and apt says so here too);
#   * another mail transport agent: Postfix is left out;
#   * a package that conflicts with one the list needs: refused, naming it;
#   * plain missing packages: a plan that removes nothing.
. "$(dirname "$0")/../lib.sh"
need_cmds dpkg-query apt-get awk
ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || skip_all "no apt package lists (apt-get update never ran)"
DEPS=$TOP/package/deps

# host STANZAS-TO-DROP EXTRA-STANZAS: a dpkg admin dir in $W/NAME
host() { # NAME DROP EXTRA
  mkdir -p "$W/$1/info"
  { awk -v RS= -v ORS='\n\n' -v drop=" $2 " '{
      p = $0; sub(/\n.*/, "", p); sub(/^Package: /, "", p)
      if (index(drop, " " p " ")) next; print }' /var/lib/dpkg/status
    printf '%s\n\n' "$3"; } > "$W/$1/status"
}
stanza() { # PACKAGE FIELDS...: an installed package, fields as "Name: value"
  local p=$1 f; shift
  printf 'Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: test\nArchitecture: all\nVersion: 1.0\n' "$p"
  for f in "$@"; do printf '%s\n' "$f"; done
  printf 'Description: test stanza\n\n'
}
deps() { # NAME [set]: dry run against $W/NAME; output in $W/NAME.out, RC
  run "$1" env DEPS_DRYRUN=1 DEPS_ADMINDIR="$W/$1" sh "$DEPS" ${2:+"$2"}
  cat "$W/$1.err" >> "$W/$1.out"
}

# -- this host, as it is: the dry run changes nothing and says so
run self env DEPS_DRYRUN=1 sh "$DEPS"
is "$RC" 0 "this host: dry run exits 0"
like "$(cat "$W/self.out")" 'test set: (nothing missing|missing:)' "this host: the plan is printed"

# -- ucspi-tcp-ipv6 installed, ucspi-tcp not
host ipv6 "ucspi-tcp" "$(stanza ucspi-tcp-ipv6 'Provides: ucspi-tcp' 'Conflicts: ucspi-tcp')"
echo /usr/bin/tcpserver > "$W/ipv6/info/ucspi-tcp-ipv6.list"
LC_ALL=C apt-get -o Dir::State::status="$W/ipv6/status" -s install ucspi-tcp > "$W/naive.out" 2>&1
file_like "$W/naive.out" '^Remv ucspi-tcp-ipv6 ' "the host is real to apt: installing ucspi-tcp there would remove ucspi-tcp-ipv6"
deps ipv6
is "$RC" 0 "ucspi-tcp-ipv6 host: exit 0"
file_like "$W/ipv6.out" '^package/deps: ucspi-tcp: not needed, ucspi-tcp-ipv6 provides /usr/bin/tcpserver$' \
  "ucspi-tcp-ipv6 host: ucspi-tcp counts as present, and the line says why"
file_unlike "$W/ipv6.out" 'missing:.* ucspi-tcp( |$)' "ucspi-tcp-ipv6 host: ucspi-tcp is not in the install list"
deps ipv6 demo
is "$RC" 0 "ucspi-tcp-ipv6 host, demo set: exit 0"
file_like "$W/ipv6.out" 'ucspi-tcp: not needed, ucspi-tcp-ipv6 provides' "ucspi-tcp-ipv6 host, demo set: ucspi-tcp counts as present"

# ucspi-tcp-ipv6 host with packages missing: the plan installs them and removes nothing
host ipv6b "ucspi-tcp socat mandoc" "$(stanza ucspi-tcp-ipv6 'Provides: ucspi-tcp' 'Conflicts: ucspi-tcp')"
echo /usr/bin/tcpserver > "$W/ipv6b/info/ucspi-tcp-ipv6.list"
deps ipv6b
is "$RC" 0 "ucspi-tcp-ipv6 host lacking socat and mandoc: exit 0"
file_like "$W/ipv6b.out" '^package/deps: test set: missing: socat mandoc$' "only socat and mandoc are missing"
file_like "$W/ipv6b.out" '^package/deps: apt-get -s: [0-9]+ packages to install \(dependencies included\), none removed$' \
  "apt's simulation removes nothing"
file_like "$W/ipv6b.out" 'would run apt-get install --no-remove --no-install-recommends socat mandoc$' \
  "the install would run with --no-remove"

# -- another MTA (stands for exim4: provides and conflicts with mail-transport-agent)
host mta "postfix" "$(stanza fake-mta 'Provides: mail-transport-agent' 'Conflicts: mail-transport-agent')"
LC_ALL=C apt-get -o Dir::State::status="$W/mta/status" -s install postfix > "$W/naive-mta.out" 2>&1
file_like "$W/naive-mta.out" '^Remv fake-mta ' "the host is real to apt: installing postfix there would remove its MTA"
deps mta
is "$RC" 0 "host with another MTA: exit 0"
file_like "$W/mta.out" '^package/deps: postfix: not installed, this host.s mail transport agent is fake-mta ' \
  "host with another MTA: Postfix is left out, the line names the MTA"
file_unlike "$W/mta.out" 'missing:.*postfix' "host with another MTA: postfix is not in the install list"
file_like "$W/mta.out" 'would run sh package/postfix-dir fetch' "host with another MTA: the unpacked Postfix is fetched instead"

# -- a package the list needs conflicts with an installed one: refused, named
host conflict "stunnel4" "$(stanza local-nostunnel 'Conflicts: stunnel4')"
deps conflict
is "$RC" 111 "conflict: exit 111"
file_like "$W/conflict.out" '^package/deps: fatal: installing stunnel4 would remove: local-nostunnel \(apt-get -s says so\); nothing was installed\.$' \
  "conflict: refused, naming the package apt would remove"
file_unlike "$W/conflict.out" 'would run apt-get install' "conflict: no install step"

# -- DEPS_ADMINDIR outside a dry run is refused (never install against a pretend state)
run admin_real env DEPS_ADMINDIR="$W/conflict" sh "$DEPS"
is "$RC" 100 "DEPS_ADMINDIR without DEPS_DRYRUN: exit 100"
run usage sh "$DEPS" everything
is "$RC" 100 "unknown set: exit 100"

# -- the demo set is a subset: no Postfix, no test peers
sets=$(sed -n '/^demo_pkgs="/,/"$/p' "$DEPS" | tr -d '"' | sed 's/^demo_pkgs=//' | tr -s ' \n' '  ')
unlike "$sets" 'postfix|valgrind|gnutls-bin|stunnel4|clang' "the demo set installs no Postfix and no test-only packages"

# -- the README names every package of both sets
tests=$(sed -n '/^test_pkgs="/,/"$/p' "$DEPS" | tr -d '"' | sed 's/^test_pkgs=//; s/\$demo_pkgs//' | tr -s ' \n' '  ')
miss=
for p in $sets $tests; do grep -q "\`$p\`" "$TOP/README.md" || miss="$miss $p"; done
is "$miss" "" "README.md lists every package package/deps installs"

done_testing

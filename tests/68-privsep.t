#!/bin/bash
# Privilege separation between the engine and the application.
# tlsserver starts as root (with extra supplementary groups) and reads a
# root-only 0600 key; TLS_UID/TLS_GID name nobody/nogroup. While a session is
# open:
#  - the engine runs as nobody/nogroup in all four ids, with no supplementary
#    group other than its gid, is not dumpable (its /proc files are root's),
#    has no descriptor on the key file, and (TLS_CHROOT) sits in the chroot;
#  - the application, run as another uid through `setuidgid daemon`, cannot
#    read the key, cannot read the engine's /proc environ/mem/maps/fd, cannot
#    ptrace it nor process_vm_readv it, cannot signal it, and holds no
#    network socket (immediate mode): its fds 0/1 are pipes;
#  - the same holds for an application running as nobody, the engine's own
#    uid (the kernel made the engine non-dumpable when it changed ids);
#  - without setuidgid the application keeps the uid tlsserver started with
#    (root here), not TLS_UID: recorded, so the documentation can say so;
#  - tlsserver started as one unprivileged uid for everything (setup 1):
#    the app can read its own uid's key file, but cannot attach to the engine;
#  - the engine's memory holds no copy of the key's PEM text while
#    it relays (tests/soak/memscan.py).
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver setuidgid setpriv
[ -x "$PY" ] || skip_all "$PY not installed"
need_root
getent passwd daemon >/dev/null && getent passwd nobody >/dev/null || skip_all "needs users daemon and nobody"
pki_setup

NOBODY=$(id -u nobody); NOGROUP=$(id -g nobody)
DAEMON=$(id -u daemon)
PROBE=$TESTDIR/soak/probe.py
FLOOD=$TESTDIR/soak/flood.py
install -m 600 -o root -g root "$PKI/server.key" "$W/root.key"
mkdir -m 1777 "$W/pv"
mkdir -m 755 "$W/jail"

val() { sed -n "s/^$2 //p" "$W/pv/$1" | head -n 1; }
status_ids() { # PID FIELD -> the numbers of that /proc status line
  sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' ' | sed 's/ $//'
}

# session NAME PORT PROG...: serve, open one session held by flood.py hold,
# wait for the probe's report in $W/pv/NAME; sets ENG (engine pid) and TCP.
session() {
  local name=$1 port=$2; shift 2
  rm -f "$W/pv/$name" "$W/hold.$name"
  serve "$name" "$port" "$@" || { fail "$name: tcpserver did not start"; return 1; }
  TCP=$SPAWN_PID
  "$PY" "$FLOOD" hold "$port" "$PKI/ca.pem" "$W/hold.$name" > "$W/$name.client" 2>&1 &
  CPID=$!
  wait_until 15 test -s "$W/pv/$name"
  ENG=$(val "$name" engine)
}
end_session() {
  touch "$W/hold.$1"
  wait_pid "$CPID" 10
  wait_sessions "$1" 1 10
  stop "$TCP"
}

# ---------------------------------------------------------------- 1. app as daemon
TLS_UID=$NOBODY TLS_GID=$NOGROUP TLS_CHROOT=$W/jail \
  session sepd 4681 setpriv --groups 4,24,27 "$TLSSERVER" -c "$PKI/server.pem" -k "$W/root.key" \
    setuidgid daemon "$PY" "$PROBE" "$W/pv/sepd" "$W/root.key"
if [ -n "$ENG" ] && [ -d "/proc/$ENG" ]; then
  pass "a session is open; engine pid $ENG"
  is "$(status_ids "$ENG" Uid)" "$NOBODY $NOBODY $NOBODY $NOBODY" "engine: real, effective, saved and fs uid are nobody"
  is "$(status_ids "$ENG" Gid)" "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" "engine: all four gids are nogroup"
  g=$(status_ids "$ENG" Groups)
  like "[$g]" "^\[($NOGROUP)?\]$" "engine: no supplementary group but its own gid (started with 4,24,27; got '$g')"
  is "$(stat -c %U "/proc/$ENG/environ")" root "engine is not dumpable (its /proc files belong to root)"
  is "$(readlink "/proc/$ENG/root")" "$W/jail" "engine: TLS_CHROOT applied"
  keyfd=$(for f in /proc/"$ENG"/fd/*; do readlink "$f"; done | grep -c 'root\.key')
  is "$keyfd" 0 "engine holds no descriptor on the key file"
  nets=$(for f in /proc/"$ENG"/fd/*; do readlink "$f"; done | grep -c '^socket:')
  num_cmp "$nets" -ge 1 "engine holds the network socket"
  CapEff=$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$ENG/status")
  is "$CapEff" 0000000000000000 "engine: no effective capability"
else
  fail "a session is open" "$(cat "$W/sepd.client")"; diag_file "$W/sepd.err"
  skip_n 8 "no session"
fi
R=sepd
is "$(val $R uid)/$(val $R euid)" "$DAEMON/$DAEMON" "app runs as daemon (setuidgid in prog position)"
is "$(val $R key)" EACCES "app cannot read the 0600 key"
is "$(val $R environ)" EACCES "app cannot read /proc/engine/environ"
is "$(val $R mem)" EACCES "app cannot open /proc/engine/mem"
is "$(val $R maps)" EACCES "app cannot read /proc/engine/maps"
is "$(val $R fd)" EACCES "app cannot list /proc/engine/fd"
is "$(val $R ptrace)" EPERM "app cannot ptrace the engine"
is "$(val $R vm_readv)" EPERM "app cannot process_vm_readv the engine"
is "$(val $R signal)" EPERM "app cannot signal the engine"
like "$(val $R 'myfd 0')/$(val $R 'myfd 1')" '^pipe:\[[0-9]+\]/pipe:\[[0-9]+\]$' "app's fds 0 and 1 are pipes"
is "$(grep -c '^myfd .*socket:' "$W/pv/$R")" 0 "app holds no network socket (immediate mode)"
is "$(grep -Ec '^env (CERTFILE|KEYFILE|CAFILE|CADIR|CRLFILE|TLS_UID|TLS_GID|TLS_CHROOT)' "$W/pv/$R")" 0 \
   "app's environment names no key, certificate or privilege setting"
# What of the key stays in the engine's memory during the session. The
# private scalar must (OpenSSL's EVP_PKEY, unreachable through libtls); the
# PEM text need not: tls_config_clear_keys() after tls_configure() wipes it.
if [ -n "$ENG" ] && [ -d "/proc/$ENG" ]; then
  scan=$("$PY" "$TESTDIR/soak/memscan.py" "$ENG" "$PKI/server.key" 2>&1)
  diag "key material in the engine's memory during the session: $scan"
  is "$(printf '%s\n' "$scan" | sed -n 's/^pem \([0-9]*\) .*/\1/p')" 0 "no copy of the key's PEM text in the engine's memory during the session"
else
  skip "no session"
fi
end_session sepd
is "$(session_exits sepd | tail -n 1)" 0 "session ended cleanly (exit 0)"
is "$(cat "$W/sepd.client")" ready "client saw the application"

# ---------------------------------------------------------------- 2. app as nobody (= engine's uid)
TLS_UID=$NOBODY TLS_GID=$NOGROUP \
  session sepn 4682 "$TLSSERVER" -c "$PKI/server.pem" -k "$W/root.key" \
    setuidgid nobody "$PY" "$PROBE" "$W/pv/sepn" "$W/root.key"
R=sepn
is "$(val $R uid)" "$NOBODY" "app runs as nobody, the engine's own uid"
is "$(val $R key)" EACCES "same uid: app cannot read the key"
is "$(val $R environ)/$(val $R mem)" EACCES/EACCES "same uid: /proc/engine/environ and mem closed (engine not dumpable)"
is "$(val $R ptrace)/$(val $R vm_readv)" EPERM/EPERM "same uid: no ptrace, no process_vm_readv"
is "$(val $R signal)" allowed "same uid: the app can signal its engine (so give the engine a uid of its own)"
end_session sepn

# ---------------------------------------------------------------- 3. no setuidgid
TLS_UID=$NOBODY TLS_GID=$NOGROUP \
  session sepr 4683 "$TLSSERVER" -c "$PKI/server.pem" -k "$W/root.key" \
    "$PY" "$PROBE" "$W/pv/sepr" "$W/root.key"
R=sepr
is "$(status_ids "$ENG" Uid | cut -d' ' -f1)" "$NOBODY" "engine runs as nobody"
is "$(val $R uid)" 0 "without setuidgid the app keeps tlsserver's starting uid (root), not TLS_UID: say so in the docs"
end_session sepr

# ---------------------------------------------------------------- 4. one uid for all (setup 1)
# tlsserver started as an unprivileged uid, no TLS_UID, prog under the same
# uid (tcpserver -u style). The key file is the uid's own, so prog could read
# it anyway; but the engine must not be attachable: other connections' engines
# run under the same uid and hold their sessions' keys and plaintext.
U1=$((53000 + RANDOM % 1000))
install -m 600 -o "$U1" -g "$U1" "$PKI/server.key" "$W/u1.key"
session sepu 4684 setpriv --reuid="$U1" --regid="$U1" --clear-groups \
  "$TLSSERVER" -c "$PKI/server.pem" -k "$W/u1.key" "$PY" "$PROBE" "$W/pv/sepu" "$W/u1.key"
R=sepu
is "$(val $R uid)/$(status_ids "${ENG:-0}" Uid | cut -d' ' -f1)" "$U1/$U1" "setup 1: engine and app under one uid"
is "$(val $R key)" readable "setup 1: the app can read the key file (it is its uid's): documented limit"
is "$(val $R ptrace)/$(val $R vm_readv)" EPERM/EPERM "setup 1: the app cannot ptrace or process_vm_readv the engine (PR_SET_DUMPABLE 0)"
is "$(val $R environ)/$(val $R mem)" EACCES/EACCES "setup 1: /proc/engine/environ and mem closed"
end_session sepu

done_testing

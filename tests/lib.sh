# tests/lib.sh - shared harness for the ucspi-tls TAP tests. Bash.
#
# Usage, first lines of a test file (tests/NN-topic.t, run by `prove -r tests/`):
#
#   #!/bin/bash
#   . "$(dirname "$0")/lib.sh"      # re-execs the file in fresh namespaces
#   need_bins tlsserver             # skip the file when not built
#   pki_setup                       # $PKI = directory of the test PKI (tests/pki.sh)
#   ...tests...
#   done_testing
#
# What sourcing does
#   * Re-executes the test file inside `unshare -n -p -f -m --mount-proc`: a
#     private network namespace (only `lo`, brought up here, so fixed ports
#     never clash, even under `prove -j2`) and a private PID namespace (the
#     test shell is PID 1: every process the test starts is its descendant,
#     and the kernel kills whatever is left when the test ends). An ordinary
#     user gets the same inside a user namespace (`unshare -r`); without PID
#     namespaces, `unshare -n` alone; skips the whole file when no network
#     namespace can be made at all.
#   * $W: a per-file temporary directory (mode 755), removed at exit unless
#     UCSPI_TLS_KEEP=1 (then its path is printed as a TAP comment).
#   * EXIT trap: runs the at_exit registry (last registered first), then
#     removes $W.
#
# Variables set for tests
#   TESTDIR TOP        tests/ directory, repository top
#   UCSPI_TLS_BIN      where the programs are (default: $TOP/build)
#   TLSSERVER TLSCLIENT full paths of the two programs
#   FIX                tests/fixtures (helper scripts)
#   W                  per-file work directory
#   PKI                (after pki_setup) the test PKI, read-only by convention
#   PY                 /usr/bin/python3 (Debian's, has ssl)
#   SANITIZED          1 when UCSPI_TLS_SANITIZED=1 (ASan/UBSan build; exit 86 on a report)
#
# TAP (all print to stdout; never print anything else to stdout)
#   plan N                     optional; prefer done_testing
#   pass DESC / fail DESC      one result
#   ok DESC CMD...             pass when CMD exits 0 (its output goes to $W/t.N.log
#                              and is shown as `# ` lines on failure)
#   nok DESC CMD...            pass when CMD exits non-zero
#   is GOT EXPECTED DESC       string equality, shows a diff on failure
#   isnt GOT UNEXPECTED DESC
#   like GOT ERE DESC / unlike GOT ERE DESC     (grep -E on the whole string)
#   num_cmp GOT OP EXPECTED DESC                OP: -lt -le -eq -ne -ge -gt
#   file_like FILE ERE DESC / file_unlike FILE ERE DESC
#   skip DESC / skip_n N REASON
#   diag TEXT... / diag_file FILE [MAXLINES] / note TEXT   (each TEXT on its own `# ` line(s))
#   skip_all REASON (before any result), bail_out REASON
#   done_testing               sanitizer check (when SANITIZED), kills what was
#                              registered, checks no process is left over
#                              (unless NO_LEAK_CHECK=1), prints the plan, exits
#   TODO=reason                while set, results are marked "# TODO reason"
#
# Processes
#   at_exit CMD-STRING         register a command (eval'd) for the EXIT trap
#   spawn NAME CMD...          start CMD in the background, stdin /dev/null,
#                              stdout $W/NAME.out, stderr $W/NAME.err; sets
#                              SPAWN_PID; killed at exit (TERM, then KILL)
#   serve NAME PORT CMD...     spawn NAME tcpserver -v -RHl0 $TCPSERVER_OPTS 127.0.0.1 PORT CMD...
#                              and wait_port PORT. tcpserver's own log and the
#                              engine's stderr both land in $W/NAME.err
#   stop PID                   TERM, wait up to 3 s, then KILL; reaps it
#   session_exits NAME         exit codes of the sessions tcpserver NAME has
#                              ended, one per line, oldest first ("sigN" for a signal)
#   wait_sessions NAME N [S]   wait up to S (5) seconds until N sessions ended
#   wait_port PORT [S]         until something listens on PORT (default 5 s)
#   wait_port_closed PORT [S]
#   wait_until S CMD...        poll CMD every 50 ms for at most S seconds
#   wait_pid PID [S]           wait for a child started with & or spawn; its
#                              exit status, or 124 after S (10) seconds (it is killed)
#   run NAME CMD...            CMD under `timeout -k 2 $RUN_TIMEOUT` (default 30 s),
#                              stdin /dev/null, stdout $W/NAME.out, stderr
#                              $W/NAME.err; exit status in RC (124: timed out)
#   run_in FILE NAME CMD...    same with stdin from FILE
#   fifo_open NAME [TEXT] / fifo_close
#                              a stdin that never ends until fifo_close
#                              ($W/NAME.fifo; for gnutls-cli and the like)
#   leftovers                  list "pid args" of processes the test started that
#                              still run (zombies ignored), excluding the PIDs
#                              spawned and not yet stopped
#   no_leftovers DESC [S]      a test: nothing left over within S (3) seconds
#   sanitizer_check [DESC]     a test: no sanitizer report in $W/*.err, $W/*.log
#
# Engine log helpers
#   done_line FILE [N]         the Nth-from-last "info: done" line of FILE (N=1)
#   logfield FILE KEY [N]      value of KEY= in that line (quotes removed)
#   count_lines FILE ERE       number of matching lines (0 when FILE is missing)
#
# Data helpers
#   mkdata FILE MIB            FILE of MIB MiB of pseudo-random bytes
#   sha FILE                   sha256 hex of FILE ("missing" when absent)
#   cert_hash PEM              SHA256:hex (lower case) of the certificate's DER
#   cert_end PEM               notAfter as openssl prints it
#   lower STRING               STRING in lower case
#   envval FILE NAME           NAME's value in an envdump.sh file, "<unset>" if absent
#   have CMD                   CMD is installed (for skip_n inside a file)
#   need_cmds CMD...           skip the whole file unless every CMD is installed
#   need_root / is_root        skip the file / test whether the suite runs as
#                              real root (an ordinary user's run is uid 0 in a
#                              user namespace, but cannot switch users)
#
# Fixtures (tests/fixtures/*.sh, see each file's header)
#   envdump.sh FILE PROG...    writes its environment to FILE, then execs PROG
#   pump.sh [-c] MODE SEND RECV
#                              bulk through the app's fds 0/1 (-c: 6/7); MODE
#                              both | sendfirst | recvfirst | exchange
#   reply.sh [-h]              reads one line, answers "reply:<line>" and its
#                              SSL_* variables (-h: as an HTTP/1.0 response)
#
# Certificate and peer helpers
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
#   smtp_fixtures              SMTPD, SMTPC (the fixture server and client),
#                              FIXTURE_SPOOL=$W/spool (made, exported)
#
# A failing test prints "# at FILE line N": where in the test file it is.
#
# Conventions: name server logs NAME-srv (serve) and client logs NAME (run) so
# that the two never share $W/NAME.out / .err; use fixed ports (each file has
# its own namespace); bound every wait; never print command output to stdout.

[ -n "${BASH_VERSION:-}" ] || { echo "1..0 # SKIP lib.sh needs bash"; exit 0; }

TESTDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$TESTDIR")
T_FILE=$0
T_NAME=$(basename "$0" .t)

# ---------------------------------------------------------------- namespaces
if [ "${UCSPI_TLS_NS:-}" != "$T_FILE" ]; then
  export UCSPI_TLS_NS="$T_FILE"
  # Whether the suite really runs as root, known before any namespace: in
  # a user namespace (below) everyone is uid 0, and only real root can
  # switch to other users, which the privilege tests need (need_root).
  if [ "$(id -u)" = 0 ]; then export UCSPI_TLS_REAL_ROOT=1; else export UCSPI_TLS_REAL_ROOT=0; fi
  if unshare -n -p -f -m --mount-proc true >/dev/null 2>&1; then
    exec unshare -n -p -f --kill-child -m --mount-proc -- /bin/bash "$T_FILE" "$@"
  elif unshare -r -n -p -f -m --mount-proc true >/dev/null 2>&1; then
    # an ordinary user: the same namespaces inside a user namespace
    exec unshare -r -n -p -f --kill-child -m --mount-proc -- /bin/bash "$T_FILE" "$@"
  elif unshare -n true >/dev/null 2>&1; then
    exec unshare -n -- /bin/bash "$T_FILE" "$@"
  elif unshare -r -n true >/dev/null 2>&1; then
    exec unshare -r -n -- /bin/bash "$T_FILE" "$@"
  else
    echo "1..0 # SKIP cannot create a network namespace (neither unshare -n nor unshare -r -n works here)"
    exit 0
  fi
fi
if ! ip link set lo up >/dev/null 2>&1; then
  echo "Bail out! ip link set lo up failed inside the namespace"
  exit 255
fi

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
PY=/usr/bin/python3
UCSPI_TLS_BIN=${UCSPI_TLS_BIN:-$TOP/build}
export UCSPI_TLS_BIN
TLSSERVER=$UCSPI_TLS_BIN/tlsserver
TLSCLIENT=$UCSPI_TLS_BIN/tlsclient
FIX=$TESTDIR/fixtures
SANITIZED=${UCSPI_TLS_SANITIZED:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-30}
# Never let settings of the calling shell leak into the programs under test.
unset CERTFILE KEYFILE CAFILE CADIR CRLFILE TLSCIPHERS TLSPROTOCOLS TLS_UID TLS_GID \
      TLS_CHROOT TLS_SERVERNAME TLS_TICKETKEYFILE TLS_OCSPFILE TLS_TICKETLIFETIME TLS_SESSIONCACHE TLS_STRICT SMTPS UCSPITLS \
      SSLCTLFD SSLREADFD SSLWRITEFD
while read -r _v; do unset "$_v"; done < <(env | sed -n 's/^\(SSL_[A-Za-z0-9_]*\)=.*/\1/p')

W=$(mktemp -d "${TMPDIR:-/tmp}/ucspi-tls.$T_NAME.XXXXXX") || { echo "Bail out! mktemp failed"; exit 255; }
chmod 755 "$W"

# ---------------------------------------------------------------- exit trap
_AT_EXIT=()
_SPAWNED=()
at_exit() { _AT_EXIT+=("$*"); }

_run_at_exit() {
  local i
  for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
    eval "${_AT_EXIT[i]}" >/dev/null 2>&1
  done
  _AT_EXIT=()
}

_cleanup() {
  local rc=$?
  trap - EXIT
  _run_at_exit
  if [ "${UCSPI_TLS_KEEP:-0}" = 1 ]; then
    echo "# $T_NAME: work directory kept: $W"
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- TAP
_T_N=0
_T_FAIL=0
_T_PLANNED=
_T_EXTRA=0
[ "$SANITIZED" = 1 ] && _T_EXTRA=$((_T_EXTRA + 1))
[ "${NO_LEAK_CHECK:-0}" = 1 ] || _T_EXTRA=$((_T_EXTRA + 1))

plan() { _T_PLANNED=$(($1 + _T_EXTRA)); echo "1..$_T_PLANNED"; }

# The first caller outside this file: the test's own line.
_where() {
  local i
  for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
    if [ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ]; then
      echo "#   at ${BASH_SOURCE[i]#"$TOP"/} line ${BASH_LINENO[i - 1]}"
      return
    fi
  done
}

_result() { # 0|1 desc
  _T_N=$((_T_N + 1))
  local d=${2//$'\n'/ } todo=
  d=${d//#/\\#}
  [ -n "${TODO:-}" ] && todo=" # TODO $TODO"
  if [ "$1" = 0 ]; then
    echo "ok $_T_N - $d$todo"
  else
    echo "not ok $_T_N - $d$todo"
    _where
    [ -n "${TODO:-}" ] || _T_FAIL=$((_T_FAIL + 1))
  fi
}

diag() { local a l; for a in "$@"; do while IFS= read -r l; do echo "# $l"; done <<<"$a"; done; }
note() { diag "$@"; }

diag_file() { # FILE [MAXLINES]
  local f=$1 max=${2:-40} n
  if [ ! -e "$f" ]; then echo "# ($f: missing)"; return; fi
  n=$(wc -l < "$f")
  echo "# --- ${f#"$W"/} ($n lines$( [ "$n" -gt "$max" ] && echo ", last $max"))"
  tail -n "$max" "$f" | cut -c1-300 | LC_ALL=C tr -c '\n\t[:print:]' '?' | sed 's/^/#   /'
}

pass() { _result 0 "$1"; }
fail() { local d=$1; shift; _result 1 "$d"; [ $# -gt 0 ] && diag "$@"; return 1; }

ok() {
  local d=$1; shift
  local log=$W/t.$((_T_N + 1)).log
  "$@" >"$log" 2>&1
  local rc=$?
  if [ $rc = 0 ]; then _result 0 "$d"; return 0; fi
  _result 1 "$d"; diag "command: $* (exit $rc)"; diag_file "$log" 20; return 1
}

nok() {
  local d=$1; shift
  local log=$W/t.$((_T_N + 1)).log
  "$@" >"$log" 2>&1
  local rc=$?
  if [ $rc != 0 ]; then _result 0 "$d"; return 0; fi
  _result 1 "$d"; diag "command: $* (exit 0, expected failure)"; diag_file "$log" 20; return 1
}

is() { # got expected desc
  if [ "$1" == "$2" ]; then _result 0 "$3"; return 0; fi
  _result 1 "$3"
  if [[ "$1$2" == *$'\n'* ]]; then
    diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$1") | sed '1,2d; s/^/# /' | head -n 40
    diag "(- expected, + got)"
  else
    diag "     got: '$1'" "expected: '$2'"
  fi
  return 1
}

isnt() {
  if [ "$1" != "$2" ]; then _result 0 "$3"; return 0; fi
  _result 1 "$3"; diag "got '$1', which it must not be"; return 1
}

like() {
  if printf '%s\n' "$1" | grep -Eq -- "$2"; then _result 0 "$3"; return 0; fi
  _result 1 "$3"; diag "   got: '$(printf '%s' "$1" | head -c 2000)'" "no match for /$2/"; return 1
}

unlike() {
  if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then _result 0 "$3"; return 0; fi
  _result 1 "$3"; diag "   got: '$(printf '%s' "$1" | head -c 2000)'" "matches /$2/, must not"; return 1
}

num_cmp() { # got op expected desc
  if [[ "$1" =~ ^-?[0-9]+$ ]] && [ "$1" "$2" "$3" ]; then _result 0 "$4"; return 0; fi
  _result 1 "$4"; diag "got '$1', expected $2 $3"; return 1
}

file_like() { # file ere desc
  if [ -f "$1" ] && grep -Eq -- "$2" "$1"; then _result 0 "$3"; return 0; fi
  _result 1 "$3"; diag "no line of ${1#"$W"/} matches /$2/"; diag_file "$1" 20; return 1
}

file_unlike() {
  if ! [ -f "$1" ] || ! grep -Eq -- "$2" "$1"; then _result 0 "$3"; return 0; fi
  _result 1 "$3"; diag "${1#"$W"/} matches /$2/, must not:"; grep -E -- "$2" "$1" | head -n 5 | sed 's/^/#   /'; return 1
}

skip() { _T_N=$((_T_N + 1)); echo "ok $_T_N # SKIP ${1//$'\n'/ }"; }
skip_n() { local i; for ((i = 0; i < $1; i++)); do skip "$2"; done; }

skip_all() { echo "1..0 # SKIP $*"; _T_PLANNED=0; exit 0; }
bail_out() { echo "Bail out! $*"; exit 255; }

done_testing() {
  [ "$SANITIZED" = 1 ] && sanitizer_check
  _run_at_exit
  _SPAWNED=()
  [ "${NO_LEAK_CHECK:-0}" = 1 ] || no_leftovers "no process started by $T_NAME is left over"
  if [ -z "$_T_PLANNED" ]; then
    echo "1..$_T_N"
  elif [ "$_T_PLANNED" != "$_T_N" ]; then
    diag "planned $_T_PLANNED tests but ran $_T_N"
    _T_FAIL=$((_T_FAIL + 1))
  fi
  [ "$_T_FAIL" -gt 254 ] && _T_FAIL=254
  exit "$_T_FAIL"
}

# ---------------------------------------------------------------- prerequisites
need_bins() { # tlsserver tlsclient ...
  local b
  for b in "$@"; do
    [ -x "$UCSPI_TLS_BIN/$b" ] || skip_all "$b not built in $UCSPI_TLS_BIN (run make)"
  done
}

need_cmds() { # external commands the whole file needs
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
  done
}

have() { command -v "$1" >/dev/null 2>&1; }

# need_root: skip the whole file unless the suite runs as real root (not
# only uid 0 inside the user namespace an ordinary user gets).
need_root() { [ "${UCSPI_TLS_REAL_ROOT:-0}" = 1 ] || skip_all "needs real root (switches to other users)"; }
is_root() { [ "${UCSPI_TLS_REAL_ROOT:-0}" = 1 ]; }

# pki_setup: one PKI per day and per version of pki.sh, shared by all test
# files (UCSPI_TLS_PKI_CACHE overrides the location); generated atomically, so
# parallel test files never see a half-made directory.
pki_setup() {
  local ver base tmp
  ver=$(sha256sum "$TESTDIR/pki.sh" | cut -c1-12)
  base=${UCSPI_TLS_PKI_CACHE:-${TMPDIR:-/tmp}/ucspi-tls-pki.$ver.$(date -u +%Y%m%d)}
  # caches of earlier days or versions of pki.sh: ours, and useless now
  [ -n "${UCSPI_TLS_PKI_CACHE:-}" ] ||
    find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'ucspi-tls-pki.*' -mmin +2880 \
      -exec rm -rf {} + 2>/dev/null
  if [ ! -f "$base/.complete" ]; then
    tmp=$base.tmp.$$.$RANDOM
    if ! bash "$TESTDIR/pki.sh" "$tmp" >"$W/pki.err" 2>&1; then
      diag_file "$W/pki.err"
      rm -rf "$tmp"
      bail_out "tests/pki.sh failed"
    fi
    chmod 755 "$tmp"
    mv -T "$tmp" "$base" 2>/dev/null || rm -rf "$tmp"
    [ -f "$base/.complete" ] || bail_out "PKI cache $base unusable"
  fi
  PKI=$base
}

# ---------------------------------------------------------------- processes
spawn() { # NAME CMD...
  local name=$1; shift
  "$@" </dev/null >"$W/$name.out" 2>"$W/$name.err" &
  SPAWN_PID=$!
  _SPAWNED+=("$SPAWN_PID")
  at_exit "stop $SPAWN_PID"
}

serve() { # NAME PORT CMD...
  local name=$1 port=$2; shift 2
  # shellcheck disable=SC2086
  spawn "$name" tcpserver -v -RHl0 ${TCPSERVER_OPTS:-} 127.0.0.1 "$port" "$@"
  wait_port "$port" || { diag "server $name did not listen on $port"; diag_file "$W/$name.err"; return 1; }
}

stop() { # PID
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    # a zombie of ours counts as gone
    [ "$(_pstate "$pid")" = Z ] && break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local keep=() p
  for p in "${_SPAWNED[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  _SPAWNED=("${keep[@]}")
  return 0
}

session_exits() { # NAME: "tcpserver: end PID status S" -> exit codes
  [ -f "$W/$1.err" ] || return 0
  sed -n 's/^tcpserver: end [0-9]* status \([0-9]*\)$/\1/p' "$W/$1.err" |
    while read -r s; do
      if [ $((s & 127)) -ne 0 ]; then echo "sig$((s & 127))"; else echo $((s >> 8)); fi
    done
}

wait_sessions() { # NAME N [S]
  local i lim=$(( ${3:-5} * 20 ))
  for ((i = 0; i < lim; i++)); do
    [ "$(count_lines "$W/$1.err" '^tcpserver: end ')" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

wait_port() { # PORT [S]
  local i lim=$(( ${2:-5} * 20 ))
  for ((i = 0; i < lim; i++)); do _listening "$1" && return 0; sleep 0.05; done
  return 1
}

wait_port_closed() {
  local i lim=$(( ${2:-5} * 20 ))
  for ((i = 0; i < lim; i++)); do _listening "$1" || return 0; sleep 0.05; done
  return 1
}

wait_until() { # S CMD...
  local i lim=$(( $1 * 20 )); shift
  for ((i = 0; i < lim; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

wait_pid() { # PID [S]
  local pid=$1 i lim=$(( ${2:-10} * 20 ))
  for ((i = 0; i < lim; i++)); do
    if ! kill -0 "$pid" 2>/dev/null || [ "$(_pstate "$pid")" = Z ]; then
      wait "$pid" 2>/dev/null
      return $?
    fi
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 124
}

run() { # NAME CMD...
  local name=$1; shift
  timeout -k 2 "$RUN_TIMEOUT" "$@" </dev/null >"$W/$name.out" 2>"$W/$name.err"
  RC=$?
  return 0
}

run_in() { # FILE NAME CMD...
  local in=$1 name=$2; shift 2
  timeout -k 2 "$RUN_TIMEOUT" "$@" <"$in" >"$W/$name.out" 2>"$W/$name.err"
  RC=$?
  return 0
}

_pstate() { # PID -> one-letter state, empty if gone
  local s
  { read -r s < "/proc/$1/stat"; } 2>/dev/null || return 0
  s=${s##*) }
  echo "${s%% *}"
}

# leftovers: processes that descend from this test shell (all of the PID
# namespace when there is one) or mention $W in their argv, minus this shell,
# its subshells and whatever spawn started and stop has not yet stopped.
leftovers() {
  local -A ppid_of=() args_of=()
  local d pid st rest a excl p self=$BASHPID
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    { read -r st < "$d/stat"; } 2>/dev/null || continue
    rest=${st##*) }
    set -- $rest
    [ "$1" = Z ] && continue
    ppid_of[$pid]=$2
    a=()
    { mapfile -d '' -t a < "$d/cmdline"; } 2>/dev/null
    args_of[$pid]="${a[*]}"
  done
  for pid in "${!ppid_of[@]}"; do
    [ "$pid" = "$$" ] && continue
    # skip our own subshell chain (e.g. when called inside $(...))
    p=$self; excl=0
    while [ -n "$p" ] && [ "$p" != "$$" ] && [ "$p" != 0 ]; do
      [ "$p" = "$pid" ] && { excl=1; break; }
      p=${ppid_of[$p]:-}
    done
    [ $excl = 1 ] && continue
    for p in "${_SPAWNED[@]}"; do [ "$p" = "$pid" ] && excl=1; done
    [ $excl = 1 ] && continue
    p=${ppid_of[$pid]}
    local mine=0 hops=0
    while [ -n "$p" ] && [ "$p" != 0 ] && [ $hops -lt 64 ]; do
      [ "$p" = "$$" ] && { mine=1; break; }
      p=${ppid_of[$p]:-}; hops=$((hops + 1))
    done
    [[ "${args_of[$pid]}" == *"$W"* ]] && mine=1
    [ $mine = 1 ] && echo "$pid ${args_of[$pid]}"
  done
}

no_leftovers() { # DESC [S]
  local i lim=$(( ${2:-3} * 20 )) l
  for ((i = 0; i < lim; i++)); do
    l=$(leftovers)
    [ -z "$l" ] && { _result 0 "$1"; return 0; }
    sleep 0.05
  done
  _result 1 "$1"
  diag "still running:" "$l"
  return 1
}

# ---------------------------------------------------------------- sanitizers
SANITIZER_RE='ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: [A-Za-z]+Sanitizer|SUMMARY: [A-Za-z]+Sanitizer'

sanitizer_check() { # [DESC]
  local hits
  hits=$(find "$W" -type f \( -name '*.err' -o -name '*.log' \) -size -20M \
           -exec grep -aEl -- "$SANITIZER_RE" {} + 2>/dev/null)
  if [ -z "$hits" ]; then
    _result 0 "${1:-no sanitizer report in any captured stderr}"
    return 0
  fi
  _result 1 "${1:-no sanitizer report in any captured stderr}"
  local f
  for f in $hits; do
    diag "sanitizer report in ${f#"$W"/}:"
    grep -aE -A12 -- "$SANITIZER_RE" "$f" | head -n 40 | sed 's/^/#   /'
  done
  return 1
}

# ---------------------------------------------------------------- engine logs
done_line() { # FILE [N]
  [ -f "$1" ] || return 0
  grep -a ': info: done ' "$1" | tail -n "${2:-1}" | head -n 1
}

logfield() { # FILE KEY [N]
  local line
  line=$(done_line "$1" "${3:-1}")
  [ -n "$line" ] || return 0
  if [[ "$line" =~ (^|[[:space:]])$2=\"([^\"]*)\" ]]; then
    echo "${BASH_REMATCH[2]}"
  elif [[ "$line" =~ (^|[[:space:]])$2=([^[:space:]]*) ]]; then
    echo "${BASH_REMATCH[2]}"
  fi
}

count_lines() { # FILE ERE
  local n
  [ -f "$1" ] || { echo 0; return; }
  n=$(grep -aEc -- "$2" "$1")
  echo "${n:-0}"
}

# ---------------------------------------------------------------- stdin that stays open
# fifo_open NAME [TEXT]: make $W/NAME.fifo, hold it open read-write on fd
# $FIFO_FD (so a reader never sees EOF), write TEXT into it; use the fifo as a
# peer's stdin (run_in "$W/NAME.fifo" ...) for peers such as gnutls-cli that
# give up on stdin EOF. fifo_close: close it (the reader then sees EOF).
fifo_open() {
  rm -f "$W/$1.fifo"; mkfifo "$W/$1.fifo"
  exec {FIFO_FD}<>"$W/$1.fifo"
  [ -n "${2:-}" ] && printf '%s' "$2" >&"$FIFO_FD"
  return 0
}
fifo_close() { [ -n "${FIFO_FD:-}" ] && exec {FIFO_FD}>&-; FIFO_FD=; return 0; }

# ---------------------------------------------------------------- data
mkdata() { # FILE MIB: pseudo-random bytes (AES-CTR keystream, random key; fast)
  openssl enc -aes-128-ctr -nosalt -K "$(openssl rand -hex 16)" -iv "$(openssl rand -hex 16)" \
    -in /dev/zero 2>/dev/null | head -c "$(($2 * 1048576))" > "$1"
}
sha() { if [ -f "$1" ]; then sha256sum < "$1" | cut -d' ' -f1; else echo missing; fi; }
cert_hash() { echo "SHA256:$(openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"; }
cert_end() { openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//'; }
lower() { printf '%s\n' "$1" | tr 'A-Z' 'a-z'; }
envval() { # FILE NAME: value of NAME in an env dump (envdump.sh), or "<unset>"
  local l
  l=$(grep -a "^$2=" "$1" 2>/dev/null | head -n 1)
  if [ -n "$l" ]; then echo "${l#*=}"; else echo "<unset>"; fi
}

# ---------------------------------------------------------------- certificates and peers
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

smtp_fixtures() {
  SMTPD=$UCSPI_TLS_BIN/fixtures/fixture-smtpd
  SMTPC=$UCSPI_TLS_BIN/fixtures/fixture-smtpc
  mkdir -p "$W/spool"
  export FIXTURE_SPOOL=$W/spool
}

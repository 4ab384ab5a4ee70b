# tests/lib-tlsd.sh - serve_tls: tlsserver's place in a test's tcpserver
# command line, chained (tcpserver ... tlsserver OPTIONS prog), or, with
# UCSPI_TLS_VIA_TLSD=1, through the daemon: a tlsd holding OPTIONS and
# tcpserver ... tlsdserver [-n] SOCKET prog, both started under one process
# whose stderr is $W/NAME.err (the engine's done lines and tcpserver's own
# land in the same file, as in chained mode). Source it after lib.sh.
#
#   serve_tls NAME PORT [tlsserver options] prog...
#
# A file that uses it runs through the daemon too when a tests/NN-*.t
# wrapper sets UCSPI_TLS_VIA_TLSD=1 and execs it (tests/26-tlsd-chained.t).

serve_tls() { # NAME PORT [tlsserver options] prog...
  local name=$1 port=$2; shift 2
  if [ "${UCSPI_TLS_VIA_TLSD:-0}" != 1 ]; then serve "$name" "$port" "$TLSSERVER" "$@"; return; fi
  local dopts=() fopts=() sock=$W/tlsd.$name/socket
  while [ $# -gt 0 ]; do
    case $1 in
      -n) fopts+=(-n); shift ;;
      -[vckaArCpKTugm]) dopts+=("$1" "$2"); shift 2 ;;
      --) shift; break ;;
      -*) dopts+=("$1"); shift ;;
      *) break ;;
    esac
  done
  mkdir -p "$W/tlsd.$name"
  # shellcheck disable=SC2016
  spawn "$name" bash -c '
    d=$1 s=$2; shift 2; o=(); while [ "$1" != -- ]; do o+=("$1"); shift; done; shift
    trap "kill \$dp \$tp 2>/dev/null; wait" TERM
    "$d" "${o[@]}" "$s" & dp=$!
    i=0; while [ ! -S "$s" ] && [ $i -lt 100 ] && kill -0 $dp 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
    "$@" & tp=$!
    wait' via-tlsd "$UCSPI_TLS_BIN/tlsd" "$sock" "${dopts[@]}" -- \
    tcpserver -v -RHl0 ${TCPSERVER_OPTS:-} 127.0.0.1 "$port" "$UCSPI_TLS_BIN/tlsdserver" "${fopts[@]}" "$sock" "$@"
  wait_port "$port" || { diag "server $name did not listen on $port"; diag_file "$W/$name.err"; return 1; }
}

# engine_status NAME: the engine's exit status of NAME's last session. In
# chained mode it is tcpserver's ("tcpserver: end ... status"); through the
# daemon tcpserver sees prog's status (prog is its child), and the engine's
# is the done line's status=.
engine_status() { # NAME
  if [ "${UCSPI_TLS_VIA_TLSD:-0}" != 1 ]; then session_exits "$1"; return; fi
  logfield "$W/$1.err" status
}

# Through the daemon, prog's exit (tcpserver's "end" line) may come before
# the engine's done line: a session has ended when both are there.
if [ "${UCSPI_TLS_VIA_TLSD:-0}" = 1 ]; then
  eval "$(declare -f wait_sessions | sed '1s/^wait_sessions/_wait_sessions_tcpserver/')"
  wait_sessions() { # NAME N [S]
    _wait_sessions_tcpserver "$@" || return 1
    wait_until "${3:-5}" _tlsd_done_at_least "$1" "$2"
  }
  _tlsd_done_at_least() { [ "$(count_lines "$W/$1.err" ': info: done ')" -ge "$2" ]; }
fi

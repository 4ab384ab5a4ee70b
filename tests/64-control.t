#!/bin/bash
# Protocol abuse on the UCSPI-TLS control socket (tlsserver -n under
# tcpserver): a program that sends a second command. The engine takes the
# first 'Y' (or 'y'), handshakes once, answers once and closes the control
# socket; a second 'Y' -- in the same write, during the handshake, or after
# the reply -- must neither start a second handshake, nor get a second
# reply, nor disturb the session. Exit status is prog's (delayed mode), one
# log line, no hang.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver timeout
pki_setup
POKE=$TOP/fuzz/tlspoke.py
[ -x "$PY" ] || skip_all "python3 not installed"

# prog: MODE STATUSFILE. Sends the commands of MODE on SSLCTLFD, notes what
# came back, then switches to SSLREADFD/SSLWRITEFD, answers one line
# ("echo:<line>"), closes its write side, reads to EOF, writes STATUSFILE.
cat > "$W/ctlprog.py" <<'EOP'
import errno, os, select, sys, time
mode, stfile = sys.argv[1], sys.argv[2]
ctl = int(os.environ["SSLCTLFD"]); rfd = int(os.environ["SSLREADFD"]); wfd = int(os.environ["SSLWRITEFD"])
st = []
def note(k, v): st.append("%s=%s" % (k, v))
def send(b):
    try:
        os.write(ctl, b); return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def rd(fd, timeout=10):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r: return None
    try: return os.read(fd, 65536)
    except ConnectionResetError: return b""
def reply():
    """read to the terminating empty entry; (entries, how)"""
    buf = b""
    while True:
        i = 0
        while i < len(buf):
            if buf[i] == 0: return buf[:i], "complete"
            j = buf.find(b"\0", i)
            if j < 0: break
            i = j + 1
        d = rd(ctl)
        if d is None: return buf, "timeout"
        if not d: return buf, "eof"
        buf += d
def after():
    """what the control socket does after the reply: eof, or more data"""
    d = rd(ctl, 5)
    if d is None: return "timeout"
    return "eof" if not d else "data:" + d.decode("latin-1").replace("\0", "|")
def note_reply():
    ent, how = reply()
    note("reply", how)
    note("proto", dict(e.split(b"=", 1) for e in ent.split(b"\0") if b"=" in e).get(b"SSL_PROTOCOL", b"-").decode())
if mode == "YY":
    note("first", send(b"YY")); note_reply(); note("second", "same-write")
elif mode == "Y-then-Y":
    note("first", send(b"Y")); note_reply(); note("second", send(b"Y"))
elif mode == "Y-during":
    note("first", send(b"Y")); time.sleep(0.3); note("second", send(b"Y")); note_reply()
elif mode == "y-then-Y":
    note("first", send(b"y")); note("ctl", after()); note("second", send(b"Y"))
note("after", after())
os.dup2(rfd, 0); os.dup2(wfd, 1); os.close(rfd); os.close(wfd); os.close(ctl)
line = b""
while not line.endswith(b"\n"):
    d = rd(0)
    if not d: break
    line += d
os.write(1, b"echo:" + line)
os.close(1)
while rd(0): pass
note("data", "ok" if line == b"ping\n" else "bad:" + repr(line))
open(stfile + ".tmp", "w").write("\n".join(st) + "\n")
os.rename(stfile + ".tmp", stfile)
sys.exit(0)
EOP

st() { sed -n "s/^$2=//p" "$W/$1.st" 2>/dev/null | head -n 1; }
val() { sed -n "s/^$2=//p" "$W/$1.out" | head -n 1; }

port=4490
for mode in YY Y-then-Y Y-during y-then-Y; do
  port=$((port + 1))
  n=ctl-$mode
  serve "$n" $port "$TLSSERVER" -n -K 30000 -T 30000 -c "$PKI/server.pem" -k "$PKI/server.key" \
    "$PY" "$W/ctlprog.py" "$mode" "$W/$n.st" || { fail "$n: tcpserver started"; continue; }
  # the client handshakes slowly (one byte per write) so that a command sent
  # "during the handshake" really is
  timeout -k 2 30 "$PY" "$POKE" --timeout 15 --bytewise 1 --sni localhost --cafile "$PKI/ca.pem" \
    --verify-name localhost --send 'ping\n' $port echo >"$W/$n.out" 2>"$W/$n.perr"
  RC=$?
  wait_sessions "$n" 1 25 || diag "$n: the session did not end"
  stop "$SPAWN_PID"

  is "$RC" 0 "$mode: the client ran to the end (no hang)"
  is "$(val "$n" handshake)/$(val "$n" protocol)" ok/TLSv1.3 "$mode: one verified handshake"
  like "$(val "$n" received)" '^echo:ping' "$mode: data through the session afterwards"
  is "$(val "$n" eof)" clean "$mode: closed with close_notify"
  if [ "$mode" = y-then-Y ]; then
    is "$(st "$n" ctl)" eof "$mode: no reply to 'y'; the control socket closed after the handshake"
  else
    is "$(st "$n" reply)/$(st "$n" proto)" complete/TLSv1.3 "$mode: the first Y got its complete reply"
  fi
  like "$(st "$n" second)" '^(ok|EPIPE|ECONNRESET|same-write)$' "$mode: the second command was taken or refused by the socket ($(st "$n" second))"
  is "$(st "$n" after)" eof "$mode: no second reply, the control socket is closed"
  is "$(st "$n" data)" ok "$mode: prog exchanged data on SSLREADFD/SSLWRITEFD"
  is "$(session_exits "$n")" 0 "$mode: engine exit 0 (prog's status)"
  is "$(count_lines "$W/$n.err" '^tlsserver: ')" 1 "$mode: exactly one engine line"
  is "$(logfield "$W/$n.err" close)/$(logfield "$W/$n.err" proto)" clean/TLSv1.3 "$mode: log close=clean proto=TLSv1.3"
done

done_testing

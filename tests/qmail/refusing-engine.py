#!/usr/bin/python3
# tests/qmail/refusing-engine.py REASON PROG ARGS... - stands in for
# `tlsclient -n` in late-socket mode when it has refused its own
# configuration: it runs PROG with SSLCTLFD/SSLREADFD/SSLWRITEFD, takes the
# socket PROG sends (S + block + SCM_RIGHTS), and answers PROG's Y with
# SSL_ERROR=REASON, then closes, as doc/ucspi-tls-protocol.md specifies for
# a refusal that reaches the program. Exits with PROG's status. Only for the
# qmail-remote tests (tests/qmail/20-remote.t).
import array
import os
import socket
import sys


def main():
    reason, argv = sys.argv[1], sys.argv[2:]
    ctl, ctl_prog = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    data, data_prog = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ctl.close()
        data.close()
        for s in (ctl_prog, data_prog):
            os.set_inheritable(s.fileno(), True)
        os.environ['SSLCTLFD'] = str(ctl_prog.fileno())
        os.environ['SSLREADFD'] = os.environ['SSLWRITEFD'] = str(data_prog.fileno())
        os.execvp(argv[0], argv)
    ctl_prog.close()
    data_prog.close()
    got, fds = b'', []
    ctl.settimeout(30)
    try:
        while not got.endswith(b'Y') and not got.endswith(b'y'):
            msg, anc, _, _ = ctl.recvmsg(4096, socket.CMSG_SPACE(16))
            if not msg:
                break
            got += msg
            for level, typ, blob in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    a = array.array('i')
                    a.frombytes(blob[:len(blob) - len(blob) % a.itemsize])
                    fds.extend(a)
        if got.endswith((b'Y', b'y')):
            ctl.sendall(b'SSL_ERROR=' + reason.encode() + b'\0')
    except OSError:
        pass
    ctl.close()
    for fd in fds:
        os.close(fd)
    data.close()
    _, st = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 111)


main()

#!/usr/bin/python3
# tests/qmail/smtpchat.py HOST PORT STEP... - a scripted SMTP dialog for the
# qmail tests, for what swaks cannot do (pipelining plaintext behind
# STARTTLS, checking replies after the handshake).
#
# Steps, in order:
#   >LINE      send LINE + CRLF, together with any lines queued by +
#   +LINE      queue LINE + CRLF to go out in the same write as the next >
#   <ERE       read one (possibly multi-line) reply; fail unless ERE matches
#              its text (Python re.search, lines joined with \n)
#   !ERE       read one reply; fail if ERE matches it
#   tls:CAFILE wrap the connection in TLS now (server name localhost)
#   tls        same, without verification
#   tlsnow:CAFILE  same as tls:CAFILE; use it first for implicit TLS
#   cert:PEM:KEY   client certificate for the following TLS steps
# Prints the transcript; exit 0 when every step passed, 1 otherwise.
import re
import socket
import ssl
import sys


def main():
    host, port, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    sock = socket.create_connection((host, port), timeout=10)
    f = sock.makefile('rb')
    queued = b''
    cert = None

    def reply():
        lines = []
        while True:
            line = f.readline()
            if not line:
                raise EOFError('connection closed, reply so far: %r' % lines)
            line = line.decode('latin-1').rstrip('\r\n')
            print('<~ ' + line)
            lines.append(line)
            if len(line) < 4 or line[3] != '-':
                return '\n'.join(lines)

    def wrap(arg):
        nonlocal sock, f
        ctx = ssl.create_default_context()
        if arg:
            ctx.load_verify_locations(cafile=arg)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        sock = ctx.wrap_socket(sock, server_hostname='localhost')
        f = sock.makefile('rb')
        print('=== TLS %s %s' % (sock.version(), sock.cipher()[0]))

    try:
        for st in steps:
            if st.startswith('>'):
                data = queued + st[1:].encode() + b'\r\n'
                queued = b''
                for l in data.decode().split('\r\n')[:-1]:
                    print('~> ' + l)
                sock.sendall(data)
            elif st.startswith('+'):
                queued += st[1:].encode() + b'\r\n'
            elif st.startswith('<'):
                text = reply()
                if not re.search(st[1:], text):
                    print('FAIL: reply does not match /%s/' % st[1:])
                    return 1
            elif st.startswith('!'):
                text = reply()
                if re.search(st[1:], text):
                    print('FAIL: reply matches /%s/' % st[1:])
                    return 1
            elif st.startswith('cert:'):
                cert = st[5:].split(':', 1)
            elif st.startswith('tls'):
                wrap(st.split(':', 1)[1] if ':' in st else None)
            else:
                print('FAIL: bad step %r' % st)
                return 1
    except (OSError, EOFError, ssl.SSLError) as e:
        print('FAIL: %s' % e)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/python3
# tests/qmail/fakedns.py ZONEFILE [ADDR [PORT]] - a tiny authoritative DNS
# server over UDP for the qmail tests, so that qmail-remote (which asks the
# resolver for MX and A records itself, bypassing /etc/hosts) can find names
# inside a test's private network namespace.
#
# ZONEFILE lines:  NAME A 1.2.3.4  |  NAME MX PREF TARGET   (# comments)
# Names are matched case-insensitively. Unknown names get NXDOMAIN, known
# names without records of the asked type an empty NOERROR answer. Writes
# "ready" to stdout once bound. Only for tests: binds 127.0.0.1:53 by default.
import socket
import struct
import sys


def load(path):
    zone = {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            name, typ = line[0].lower().rstrip('.'), line[1].upper()
            zone.setdefault(name, []).append((typ, line[2:]))
    return zone


def qname(pkt, pos):
    labels = []
    while True:
        n = pkt[pos]
        pos += 1
        if n == 0:
            return '.'.join(labels), pos
        labels.append(pkt[pos:pos + n].decode('ascii', 'replace'))
        pos += n


def encname(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        out += bytes([len(label)]) + label.encode('ascii')
    return out + b'\0'


def answer(zone, pkt):
    qid, flags, qd = struct.unpack('!HHH', pkt[:6])
    name, pos = qname(pkt, 12)
    qtype, qclass = struct.unpack('!HH', pkt[pos:pos + 4])
    question = pkt[12:pos + 4]
    recs = zone.get(name.lower().rstrip('.'))
    rrs = []
    for typ, args in recs or []:
        if typ == 'A' and qtype in (1, 255):
            rdata = socket.inet_aton(args[0])
            rrs.append(struct.pack('!HHHIH', 0xc00c, 1, 1, 60, len(rdata)) + rdata)
        elif typ == 'MX' and qtype in (15, 255):
            rdata = struct.pack('!H', int(args[0])) + encname(args[1])
            rrs.append(struct.pack('!HHHIH', 0xc00c, 15, 1, 60, len(rdata)) + rdata)
    rcode = 3 if recs is None else 0
    rflags = 0x8400 | (flags & 0x0100) | rcode   # QR, AA, RD copied
    head = struct.pack('!HHHHHH', qid, rflags, 1, len(rrs), 0, 0)
    return head + question + b''.join(rrs)


def main():
    zone = load(sys.argv[1])
    addr = sys.argv[2] if len(sys.argv) > 2 else '127.0.0.1'
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 53
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print('ready', flush=True)
    while True:
        pkt, peer = s.recvfrom(4096)
        try:
            s.sendto(answer(zone, pkt), peer)
        except (IndexError, struct.error, ValueError):
            pass


if __name__ == '__main__':
    main()

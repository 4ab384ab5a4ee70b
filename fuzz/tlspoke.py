#!/usr/bin/python3
"""fuzz/tlspoke.py - a misbehaving TLS client for the protocol-abuse tests
(tests/61-*.t .. tests/64-*.t). Python's ssl module over a MemoryBIO drives
a real handshake while this script owns every byte on the socket, so it can
split, cut, inject and reorder records.

usage: tlspoke.py [options] PORT MODE
  --host H        connect to H (127.0.0.1)
  --sni NAME      server name sent (and not verified); default: none
  --cafile F      verify the server against F (with --verify-name)
  --verify-name N name the certificate must carry
  --tls12         TLS 1.2 only
  --bytewise MS   send the ClientHello one byte per write, MS ms apart
  --send TEXT     plaintext to send after the handshake (\\n escapes allowed)
  --timeout S     give up after S seconds (10)
modes:
  echo            handshake, send TEXT, read until the server's close_notify
                  or EOF, answer close_notify
  garbage         handshake, send TEXT, then 64 bytes that are no TLS record,
                  read until EOF
  notify-then-data  handshake, send TEXT, then in one write close_notify,
                  a replayed copy of TEXT's record and raw bytes; read until
                  the server's close_notify or EOF
  half-record     handshake, send TEXT, then half of one more record, close
                  (--rst: reset the connection instead of a FIN)
  half-hello      send the first half of the ClientHello record, close
  raw-sni LEN     a handcrafted TLS 1.2 ClientHello whose server_name is LEN
                  bytes; read the server's first record (or EOF), close
Prints "key=value" lines on stdout: handshake=ok|failed, protocol=,
received=<escaped plaintext>, alert=<level,description> (raw-sni),
eof=clean|unclean|reset, elapsed=<s>. Exit 0 when the mode ran (whatever the
server did), 2 on a usage error, 3 on a local failure (connect refused,
timeout).
"""
import os, socket, ssl, struct, sys, time

def out(k, v):
    print("%s=%s" % (k, v), flush=True)

def esc(b):
    return b.decode("latin-1").encode("unicode_escape").decode("ascii")

class Poke:
    def __init__(self, a):
        self.a = a
        self.deadline = time.time() + a.timeout
        self.sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if a.cafile:
            ctx.load_verify_locations(a.cafile)
            ctx.check_hostname = bool(a.verify_name)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if a.tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.inc, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.outb, server_side=False,
                                server_hostname=a.verify_name or a.sni)

    def left(self):
        t = self.deadline - time.time()
        if t <= 0:
            out("error", "timeout")
            sys.exit(3)
        return t

    def flush(self, bytewise_ms=0):
        data = self.outb.read()
        if not data:
            return
        if bytewise_ms:
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(bytewise_ms / 1000.0)
        else:
            self.sock.sendall(data)

    def feed(self):
        """read from the socket into the BIO; False on EOF"""
        self.sock.settimeout(self.left())
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
            d = b""
        if not d:
            self.inc.write_eof()
            return False
        self.inc.write(d)
        return True

    def handshake(self, bytewise_ms=0):
        first = True
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                out("handshake", "ok")
                out("protocol", self.obj.version())
                return True
            except ssl.SSLWantReadError:
                self.flush(bytewise_ms if first else 0)
                first = False
                if not self.feed():
                    try:
                        self.obj.do_handshake()
                    except ssl.SSLError as e:
                        out("handshake_error", e.reason or str(e))
                    except Exception as e:
                        out("handshake_error", type(e).__name__)
                    out("handshake", "failed")
                    return False
            except ssl.SSLError as e:
                self.flush()
                out("handshake_error", e.reason or str(e))
                out("handshake", "failed")
                return False

    def send_text(self):
        if self.a.send:
            self.obj.write(self.a.send.encode("latin-1").decode("unicode_escape").encode("latin-1"))
            self.flush()

    def read_all(self):
        """plaintext until close_notify (clean) or EOF (unclean) or reset"""
        got = b""
        self.reset = False
        how = None
        while how is None:
            try:
                d = self.obj.read(65536)
                if not d:
                    how = "clean"
                got += d
                continue
            except ssl.SSLWantReadError:
                if not self.feed():
                    how = "reset" if self.reset else "unclean"
                    try:
                        got += self.obj.read(65536)
                    except (ssl.SSLError, ssl.SSLEOFError):
                        pass
            except ssl.SSLZeroReturnError:
                how = "clean"
            except ssl.SSLEOFError:
                how = "unclean"
            except ssl.SSLError as e:
                out("read_error", e.reason or str(e))
                how = "error"
        out("received", esc(got))
        out("eof", how)
        return how

    def close_notify(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        try:
            self.flush()
        except OSError:
            pass

def drain(sock, timeout):
    """raw bytes until EOF; returns (bytes, how)"""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return got, "eof"
            got += d
    except ConnectionResetError:
        return got, "reset"
    except socket.timeout:
        return got, "timeout"

def drain_first(sock, timeout):
    """the server's first answer: bytes until EOF or until the first
    record is complete (then stop listening; the caller closes)"""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return got, "eof"
            got += d
            if len(got) >= 5 and len(got) >= 5 + struct.unpack("!H", got[3:5])[0]:
                return got, "answered"
    except ConnectionResetError:
        return got, "reset"
    except socket.timeout:
        return got, "timeout"

def client_hello_sni(n):
    """a TLS 1.2 ClientHello (ECDHE-ECDSA/RSA AES-GCM, X25519/P-256) with an
    n-byte host_name made of 'a'..'z' labels of at most 63 bytes"""
    name = bytearray()
    while len(name) < n:
        label = bytes((ord('a') + (len(name) % 26),)) * min(63, n - len(name))
        if name:
            name += b"."
        name += label
    name = bytes(name[:n])
    sni_list = b"\x00" + struct.pack("!H", len(name)) + name
    ext = b""
    ext += struct.pack("!HH", 0, len(sni_list) + 2) + struct.pack("!H", len(sni_list)) + sni_list
    groups = struct.pack("!HHH", 4, 0x001d, 0x0017)
    ext += struct.pack("!HH", 10, len(groups)) + groups
    sigs = struct.pack("!HHHHH", 8, 0x0403, 0x0804, 0x0401, 0x0503)
    ext += struct.pack("!HH", 13, len(sigs)) + sigs
    ext += struct.pack("!HH", 11, 2) + b"\x01\x00"
    ext += struct.pack("!HH", 0xff01, 1) + b"\x00"
    suites = struct.pack("!HHHHH", 0xc02b, 0xc02c, 0xc02f, 0xc030, 0x00ff)
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack("!H", len(suites)) + suites \
        + b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs

def main():
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sni")
    p.add_argument("--cafile")
    p.add_argument("--verify-name")
    p.add_argument("--tls12", action="store_true")
    p.add_argument("--bytewise", type=float, default=0)
    p.add_argument("--send", default="")
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--rst", action="store_true")
    p.add_argument("port", type=int)
    p.add_argument("mode")
    p.add_argument("arg", nargs="?")
    a = p.parse_args()
    t0 = time.time()
    try:
        if a.mode == "raw-sni":
            s = socket.create_connection((a.host, a.port), timeout=a.timeout)
            s.sendall(client_hello_sni(int(a.arg)))
            got, how = drain_first(s, a.timeout)
            if len(got) >= 7 and got[0] == 21:
                out("alert", "%d,%d" % (got[5], got[6]))
            elif got:
                out("first_record_type", got[0])
            out("raw_eof", how)
            s.close()
        else:
            k = Poke(a)
            if a.mode == "half-hello":
                try:
                    k.obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                hello = k.outb.read()
                k.sock.sendall(hello[:len(hello) // 2])
                out("sent", len(hello) // 2)
                k.sock.shutdown(socket.SHUT_WR)
                got, how = drain(k.sock, a.timeout)
                out("raw_received", len(got))
                out("raw_eof", how)
            elif not k.handshake(a.bytewise):
                pass
            elif a.mode == "echo":
                k.send_text()
                if k.read_all() == "clean":
                    k.close_notify()
            elif a.mode == "garbage":
                k.send_text()
                time.sleep(0.2)
                k.sock.sendall(b"\x17\x03\x03\x00\x20" + b"this is not a TLS record at all" + b"\xff" * 28)
                got, how = drain(k.sock, a.timeout)
                out("raw_received", len(got))
                out("raw_eof", how)
            elif a.mode == "notify-then-data":
                # close_notify and, in the same write, bytes that must never
                # be taken as data: a replayed copy of the last record and
                # raw text
                k.obj.write((a.send or "x").encode("latin-1").decode("unicode_escape").encode("latin-1"))
                last = k.outb.read()
                k.sock.sendall(last)
                time.sleep(0.2)
                try:
                    k.obj.unwrap()
                except (ssl.SSLWantReadError, ssl.SSLError):
                    pass
                cn = k.outb.read()
                out("close_notify_bytes", len(cn))
                k.sock.sendall(cn + last + b"raw bytes after close_notify\n")
                k.read_all()
            elif a.mode == "half-record":
                k.send_text()
                time.sleep(0.2)
                # take what the server sent (TLS 1.3 tickets): an unread
                # receive queue would turn close() into a reset
                pending, _ = drain(k.sock, 0.2)
                k.inc.write(pending)
                k.obj.write(b"this record is cut in the middle\n")
                rec = k.outb.read()
                k.sock.sendall(rec[:len(rec) // 2])
                out("sent_half_of", len(rec))
                time.sleep(0.1)
                if a.rst:
                    k.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                k.sock.close()
            else:
                out("error", "unknown mode " + a.mode)
                return 2
    except (ConnectionRefusedError, socket.timeout) as e:
        out("error", type(e).__name__)
        return 3
    out("elapsed", "%.2f" % (time.time() - t0))
    return 0

if __name__ == "__main__":
    sys.exit(main())

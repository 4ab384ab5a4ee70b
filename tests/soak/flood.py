#!/usr/bin/python3
"""flood.py: a TLS peer for the back-pressure tests (tests/67-*.t).

  flood.py send PORT CAFILE BYTES PROGRESS
      Handshake, then send BYTES of random data as 16 KiB writes (one TLS
      record each) from a thread, writing the count of bytes the kernel has
      taken to the file PROGRESS every 0.1 s. Then close_notify, read to EOF.
      Prints "sent N sha256 HEX".
  flood.py recv PORT CAFILE HOLDFILE
      Handshake, send nothing, read nothing until HOLDFILE exists (at most
      60 s), then read everything to EOF. Prints "received N sha256 HEX".
  flood.py hold PORT CAFILE HOLDFILE
      Handshake, read up to a line "ready", print "ready", keep the session
      open until HOLDFILE exists (at most 60 s), then close_notify and close.
Exit 0 on success, 1 on any error (printed).
"""
import hashlib
import os
import random
import socket
import ssl
import sys
import threading
import time


def connect(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.settimeout(90)
    return ctx.wrap_socket(s, server_hostname="localhost")


def send(port, ca, total, progress):
    t = connect(port, ca)
    rng = random.Random(4242)
    h = hashlib.sha256()
    sent = [0]
    done = threading.Event()
    err = []

    def writer():
        try:
            left = total
            while left:
                n = min(16384, left)
                block = rng.randbytes(n)
                h.update(block)
                t.sendall(block)
                sent[0] += n
                left -= n
        except Exception as e:   # reported below
            err.append(e)
        done.set()

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    while not done.wait(0.1):
        with open(progress + ".tmp", "w") as f:
            f.write(f"{sent[0]}\n")
        os.replace(progress + ".tmp", progress)
    with open(progress, "w") as f:
        f.write(f"{sent[0]}\n")
    if err:
        print("error", type(err[0]).__name__, err[0])
        return 1
    try:
        t.unwrap()               # close_notify; the server's answers it
    except (ssl.SSLError, OSError):
        pass
    print(f"sent {sent[0]} sha256 {h.hexdigest()}")
    return 0


def recv(port, ca, hold):
    t = connect(port, ca)
    t0 = time.monotonic()
    while not os.path.exists(hold) and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    h = hashlib.sha256()
    n = 0
    while True:
        try:
            d = t.recv(65536)
        except ssl.SSLEOFError:
            print("error: EOF without close_notify after", n)
            return 1
        if not d:
            break
        h.update(d)
        n += len(d)
    try:
        t.unwrap()               # answer the server's close_notify
    except (ssl.SSLError, OSError):
        pass
    print(f"received {n} sha256 {h.hexdigest()}")
    return 0


def hold(port, ca, holdfile):
    t = connect(port, ca)
    t.sendall(b"hello\n")
    d = b""
    while not d.endswith(b"ready\n"):
        x = t.recv(4096)
        if not x:
            print("error: EOF before ready:", d[-200:])
            return 1
        d += x
    print("ready", flush=True)
    t0 = time.monotonic()
    while not os.path.exists(holdfile) and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    try:
        t.unwrap()
    except (ssl.SSLError, OSError):
        pass
    t.close()
    return 0


def main():
    try:
        if sys.argv[1] == "send":
            return send(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
        if sys.argv[1] == "hold":
            return hold(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        if sys.argv[1] == "recv":
            return recv(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    except Exception as e:
        print("error", type(e).__name__, e)
        return 1
    print(__doc__)
    return 100


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""memscan.py PID KEYFILE: count copies of a private key in a process's
memory (run as root; tests/68-privsep.t). KEYFILE is a PEM PKCS#8 key.
Prints "pem N scalar M": N = copies of the PEM text (its first base64
line), M = copies of the raw EC private scalar (0 for other key types)."""
import base64
import sys

pid, keyfile = int(sys.argv[1]), sys.argv[2]
pem = open(keyfile).read()
b64 = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
der = base64.b64decode(b64)
i = der.find(b"\x04\x20")           # ECPrivateKey's privateKey OCTET STRING (P-256)
scalar = der[i + 2:i + 34] if i >= 0 else None
line1 = b64[:64].encode()
pem_n = scalar_n = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for l in maps:
        f = l.split()
        if "r" not in f[1]:
            continue
        a, b = (int(x, 16) for x in f[0].split("-"))
        if b - a > 1 << 30:
            continue                  # sanitizer shadow memory and the like
        chunk = 8 << 20
        prev = b""
        while a < b:
            try:
                mem.seek(a)
                cur = mem.read(min(chunk, b - a))
            except (OSError, OverflowError, ValueError, MemoryError):
                break
            for pat, key in ((line1, "pem"), (scalar, "scalar")):
                if not pat:
                    continue
                # matches inside cur, plus those straddling prev|cur
                n = cur.count(pat) + (prev[-(len(pat) - 1):] + cur[:len(pat) - 1]).count(pat)
                if key == "pem":
                    pem_n += n
                else:
                    scalar_n += n
            prev = cur
            a += chunk
print(f"pem {pem_n} scalar {scalar_n}")

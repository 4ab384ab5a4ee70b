#!/usr/bin/python3
"""probe.py OUTFILE KEYFILE: an application for tlsserver that looks at its
engine (its parent process) from the inside, for tests/68-privsep.t.

Writes OUTFILE (one "name value" line each, atomically), then "ready\\n" on
fd 1, then reads fd 0 to EOF and exits 0. Lines:
  uid euid gid groups   its own identity
  engine                the engine's pid (the parent)
  key                   reading KEYFILE: "readable" or the errno name
  environ mem maps fd root cwd
                        opening /proc/ENGINE/<that>: "readable" or errno name
  ptrace                PTRACE_ATTACH on the engine: "attached" or errno name
  vm_readv              process_vm_readv of the engine: "read", or errno name
  signal                kill(engine, 0): "allowed" or errno name
  myfd N target         each of its own descriptors 0..2 and where it points
  env NAME=VALUE        every variable whose name contains FILE, DIR, TLS_, SSL_
"""
import ctypes
import errno
import os
import sys

out, keyfile = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
eng = os.getppid()
lines = [f"uid {os.getuid()}", f"euid {os.geteuid()}", f"gid {os.getgid()}",
         "groups " + ",".join(str(g) for g in sorted(os.getgroups())), f"engine {eng}"]


def try_read(path, n=1):
    try:
        with open(path, "rb") as f:
            f.read(n)
        return "readable"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


lines.append("key " + try_read(keyfile))
for name in ("environ", "mem", "maps", "cmdline"):
    lines.append(f"{name} " + try_read(f"/proc/{eng}/{name}"))
for name in ("fd", "root", "cwd"):
    try:
        os.listdir(f"/proc/{eng}/{name}")
        lines.append(f"{name} readable")
    except OSError as e:
        lines.append(f"{name} " + errno.errorcode.get(e.errno, str(e.errno)))

PTRACE_ATTACH, PTRACE_DETACH = 16, 17
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(PTRACE_ATTACH, eng, None, None) == 0:
    lines.append("ptrace attached")
    os.waitpid(eng, getattr(os, "__WALL", 0x40000000))
    libc.ptrace(PTRACE_DETACH, eng, None, None)
else:
    lines.append("ptrace " + errno.errorcode.get(ctypes.get_errno(), "?"))


class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


buf = ctypes.create_string_buffer(16)
local = IOVec(ctypes.cast(buf, ctypes.c_void_p), 16)
remote = IOVec(0x400000, 16)      # any address: EPERM (no right) differs from EFAULT (no page)
libc.process_vm_readv.restype = ctypes.c_ssize_t
r = libc.process_vm_readv(eng, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
lines.append("vm_readv " + ("read" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")))
try:
    os.kill(eng, 0)
    lines.append("signal allowed")
except OSError as e:
    lines.append("signal " + errno.errorcode.get(e.errno, "?"))
for fd in range(0, 3):
    try:
        lines.append(f"myfd {fd} {os.readlink(f'/proc/self/fd/{fd}')}")
    except OSError:
        lines.append(f"myfd {fd} closed")
for k in sorted(os.environ):
    if any(s in k for s in ("FILE", "DIR", "TLS_", "SSL_")):
        lines.append(f"env {k}={os.environ[k]}")
with open(out + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(out + ".tmp", out)
os.write(1, b"ready\n")
while os.read(0, 65536):
    pass

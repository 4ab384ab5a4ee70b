#!/usr/bin/python3
"""soak.py: load and soak driver for tlsserver under tcpserver.

Run it inside a private network namespace (tests/soak/run and
tests/65-soak-smoke.t do that); it only ever connects to 127.0.0.1.

For each mode asked for (immediate, delayed), it starts
    tcpserver -v -RHl0 -c MAXCONN -b BACKLOG 127.0.0.1 PORT \
      tlsserver [-n] -K HS_MS -T IDLE_MS -c cert -k key soakprog [-n]
(mode listen: tlsserver -L -m MAXCONN ... 127.0.0.1 PORT soakprog, its own
accept loop, reloaded by SIGHUP every --hup-every sessions; there the
long-lived process checked is tlsserver itself and there are no exit
statuses to compare) and runs:
  1. SEQ well-behaved sessions one after the other,
  2. CONC well-behaved sessions started at the same moment,
while a background task keeps starting misbehaving clients (BAD per mode,
spread over both phases): a client that stalls in the handshake, one that
sends garbage, one that drops the TCP connection halfway through its
ClientHello, one that drops it in the middle of a TLS record after the
handshake, one that asks for a lot of data and then resets the connection
without reading, and one that never reads and never closes (idle deadline).

A well-behaved session sends a random payload (checksummed) through an echo
application and expects it back intact, then a close_notify.

Afterwards it checks: every session ended (tcpserver's "end" lines), each
session's exit status and log line match what its client did (misbehaving
clients must be refused or cut with a log line that gives the reason), no
process is left over, no zombie, tcpserver's descriptors did not grow.
A sampler records the number of engines, their largest RSS and zombies
during the run.

Output: a human summary on stdout, and with --json FILE the figures plus a
list of checks [[description, passed, detail], ...] (tests/65 turns them
into TAP). Exit status 0 when every check passed, 1 otherwise, 111 when the
set-up failed.

The client side is asyncio over raw TCP streams with ssl.SSLObject (memory
BIOs), so that the misbehaving clients can cut a record or a ClientHello at a
chosen byte.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")

# -------------------------------------------------------------------- /proc


def proc_stat(pid):
    """(comm, state, ppid, utime+stime ticks) or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    lp, rp = s.index("("), s.rindex(")")
    rest = s[rp + 2:].split()
    return s[lp + 1:rp], rest[0], int(rest[1]), int(rest[11]) + int(rest[12])


def proc_children_cpu(pid):
    """cutime+cstime: CPU ticks of the reaped children (engines and applications)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[13]) + int(rest[14])
    except (OSError, IndexError):
        return -1


def proc_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE // 1024
    except OSError:
        return 0


def proc_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def proc_status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def mem_available_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return -1


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(root):
    kids = collections.defaultdict(list)
    info = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            info[pid] = st
            kids[st[2]].append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for k in kids.get(p, ()):
            out.append((k, info[k]))
            todo.append(k)
    return out


class Sampler:
    """Counts engines and applications, their RSS, and zombies, twice a second."""

    def __init__(self, server_pid):
        self.server = server_pid
        self.max_engines = 0
        self.max_waiting = 0
        self.max_apps = 0
        self.max_engine_rss_kb = 0
        self.max_zombies = 0
        self.samples = 0

    def sample(self):
        engines = apps = zombies = waiting = 0
        for pid in all_pids():
            st = proc_stat(pid)
            if not st:
                continue
            comm, state = st[0], st[1]
            if state == "Z":
                zombies += 1
                continue
            if comm == "tlsserver" and st[2] == self.server:
                engines += 1
                self.max_engine_rss_kb = max(self.max_engine_rss_kb, proc_rss_kb(pid))
            elif comm == "tlsserver" and pid != self.server:
                waiting += 1      # an engine's child that has not exec'd the application yet
            elif comm == "soakprog":
                apps += 1
        self.max_engines = max(self.max_engines, engines)
        self.max_apps = max(self.max_apps, apps)
        self.max_waiting = max(self.max_waiting, waiting)
        self.max_zombies = max(self.max_zombies, zombies)
        self.samples += 1

    async def run(self, stop):
        while not stop.is_set():
            self.sample()
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass


# -------------------------------------------------------------------- client side


class Closed(Exception):
    pass


class TLSStream:
    """TLS over an asyncio stream pair, driven by hand through memory BIOs."""

    def __init__(self, reader, writer, ctx, sni):
        self.r, self.w = reader, writer
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False, server_hostname=sni)
        self.eof = False

    async def flush(self):
        data = self.out.read()
        if data:
            self.w.write(data)
            await self.w.drain()

    async def fill(self):
        data = await self.r.read(65536)
        if not data:
            self.eof = True
            self.inc.write_eof()
            return False
        self.inc.write(data)
        return True

    async def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self.flush()
                if not await self.fill():
                    raise Closed("EOF during the handshake")
        await self.flush()

    def seal(self, data):
        """Encrypt data into records; return the bytes without sending them."""
        view = memoryview(data)
        for i in range(0, len(data), 65536):
            self.obj.write(view[i:i + 65536])
        return self.out.read()

    async def send(self, data):
        view = memoryview(data)
        for i in range(0, len(data), 65536):
            self.obj.write(view[i:i + 65536])
            await self.flush()

    async def recv_some(self):
        """Some plaintext; b'' on close_notify; raises Closed on a bare EOF."""
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                if self.eof:
                    raise Closed("EOF without close_notify")
                await self.fill()
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLEOFError:
                raise Closed("EOF without close_notify")

    async def recv_exact(self, n):
        parts, got = [], 0
        while got < n:
            d = await self.recv_some()
            if not d:
                raise Closed(f"close_notify after {got} of {n} bytes")
            parts.append(d)
            got += len(d)
        return b"".join(parts)

    async def close_notify(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        await self.flush()


def abort_with_rst(writer):
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def wait_server_close(reader, limit):
    """Read and discard until EOF or reset; elapsed seconds, or None after limit."""
    t0 = time.monotonic()
    try:
        while True:
            d = await asyncio.wait_for(reader.read(65536), max(0.01, limit - (time.monotonic() - t0)))
            if not d:
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    except asyncio.TimeoutError:
        return None
    return time.monotonic() - t0


def record_bounds(raw):
    """Offsets where TLS records end in raw."""
    out, i = [], 0
    while i + 5 <= len(raw):
        i += 5 + (raw[i + 3] << 8 | raw[i + 4])
        out.append(i)
    return out


class Client:
    def __init__(self, args):
        self.args = args
        self.ctx = ssl.create_default_context(cafile=args.ca)
        self.ctx.check_hostname = True
        self.rng = random.Random(args.seed)
        self.records = []          # dicts: kind, port, outcome, detail, t
        self.counter = collections.Counter()

    async def connect(self, port, delayed):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lport = writer.get_extra_info("sockname")[1]
        if delayed:
            line = await reader.readline()
            if line != b"220 soak\r\n":
                raise Closed(f"greeting {line!r}")
            writer.write(b"STARTTLS\r\n")
            await writer.drain()
            line = await reader.readline()
            if line != b"220 go\r\n":
                raise Closed(f"STARTTLS answer {line!r}")
        return reader, writer, lport

    async def one(self, kind, port, delayed):
        rec = {"kind": kind, "port": None, "outcome": "?", "detail": "", "t": time.monotonic()}
        self.records.append(rec)
        writer = None
        try:
            await asyncio.wait_for(self._one(kind, port, delayed, rec), self.args.client_timeout)
        except asyncio.TimeoutError:
            rec["outcome"] = "client-timeout"
        except Closed as e:
            rec["outcome"], rec["detail"] = "closed", str(e)
        except ssl.SSLError as e:
            rec["outcome"], rec["detail"] = "tls-error", str(e)
        except ConnectionRefusedError as e:
            rec["outcome"], rec["detail"] = "refused", str(e)
        except (ConnectionResetError, BrokenPipeError) as e:
            rec["outcome"], rec["detail"] = "reset", str(e)
        except OSError as e:
            rec["outcome"], rec["detail"] = "oserror", str(e)
        self.counter[(kind, rec["outcome"])] += 1
        return rec

    async def _one(self, kind, port, delayed, rec):
        reader, writer, rec["port"] = await self.connect(port, delayed)
        try:
            await getattr(self, "k_" + kind)(reader, writer, rec)
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()

    # ---- the well-behaved session
    async def k_ok(self, reader, writer, rec):
        t = TLSStream(reader, writer, self.ctx, "localhost")
        await t.handshake()
        r = self.rng.random()
        size = self.rng.randrange(0, 4096) if r < 0.6 else self.rng.randrange(4096, 300000) if r < 0.98 else 2 * 1048576
        payload = self.rng.randbytes(size)
        await t.send(b"E" + struct.pack(">I", size) + payload)
        back = await t.recv_exact(size)
        if back != payload:
            rec["outcome"] = "data-mismatch"
            return
        rest = await t.recv_some()
        if rest:
            rec["outcome"] = "extra-data"
            return
        await t.close_notify()
        writer.close()
        rec["outcome"], rec["detail"] = "ok", str(size)

    # ---- misbehaving clients; outcome "ok" = the server cut us off in time
    async def k_stall(self, reader, writer, rec):
        el = await wait_server_close(reader, self.args.hs_ms / 1000 + 15)
        rec["outcome"] = "ok" if el is not None else "not-closed"
        rec["detail"] = f"{el:.2f}s" if el is not None else ""

    async def k_garbage(self, reader, writer, rec):
        writer.write(b"GARBAGE " + self.rng.randbytes(2040))
        await writer.drain()
        el = await wait_server_close(reader, 15)
        rec["outcome"] = "ok" if el is not None else "not-closed"

    async def k_hsdrop(self, reader, writer, rec):
        t = TLSStream(reader, writer, self.ctx, "localhost")
        try:
            t.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = t.out.read()
        writer.write(hello[:len(hello) // 2])
        await writer.drain()
        writer.write_eof()
        el = await wait_server_close(reader, 15)
        rec["outcome"] = "ok" if el is not None else "not-closed"

    async def k_dropmid(self, reader, writer, rec):
        t = TLSStream(reader, writer, self.ctx, "localhost")
        await t.handshake()
        size = 60000
        raw = t.seal(b"E" + struct.pack(">I", size) + self.rng.randbytes(size))
        b = record_bounds(raw)
        cut = b[0] + (b[1] - b[0]) // 2 if len(b) > 1 else len(raw) // 2
        writer.write(raw[:cut])
        await writer.drain()
        writer.write_eof()
        el = await wait_server_close(reader, 15)
        rec["outcome"] = "ok" if el is not None else "not-closed"

    async def k_neverread(self, reader, writer, rec):
        t = TLSStream(reader, writer, self.ctx, "localhost")
        await t.handshake()
        await t.send(b"F" + struct.pack(">I", 64 * 1048576))
        await asyncio.sleep(1.5)
        abort_with_rst(writer)
        rec["outcome"] = "ok"

    async def k_idle(self, reader, writer, rec):
        t = TLSStream(reader, writer, self.ctx, "localhost")
        await t.handshake()
        await t.send(b"F" + struct.pack(">I", 64 * 1048576))
        # Never read while the idle deadline runs out: the socket buffers fill
        # and nothing moves. The server's FIN waits behind the data we did not
        # read, so only draining shows it: a bounded amount, then EOF.
        await asyncio.sleep(self.args.idle_ms / 1000 + 2)
        t0, got = time.monotonic(), 0
        try:
            while time.monotonic() - t0 < 15:
                d = await asyncio.wait_for(reader.read(1048576), 15)
                if not d:
                    break
                got += len(d)
            else:
                rec["outcome"] = "not-closed"
                return
        except (ConnectionResetError, BrokenPipeError):
            pass
        except asyncio.TimeoutError:
            rec["outcome"] = "not-closed"
            return
        rec["outcome"] = "ok" if got < 16 * 1048576 else "too-much-data"
        rec["detail"] = f"{got} bytes after the deadline"


BAD_KINDS = ["stall", "garbage", "hsdrop", "dropmid", "neverread", "idle"]

# What the engine must say about each kind of client: (regex on the line
# naming the client's port, accepted exit statuses per mode).
EXPECT = {
    "ok": (r"info: done .* close=clean status=0", {"immediate": {"0"}, "delayed": {"0"}}),
    "stall": (r"(fatal|warning): handshake timed out: peer=\S+ reason=handshake deadline passed",
              {"immediate": {"98"}, "delayed": {"1"}}),
    "garbage": (r"(fatal|warning): handshake failed: peer=\S+ reason=(?!unknown)\S",
                {"immediate": {"97"}, "delayed": {"1"}}),
    "hsdrop": (r"(fatal|warning): handshake failed: peer=\S+ reason=peer closed the connection during the handshake",
               {"immediate": {"97"}, "delayed": {"1"}}),
    "dropmid": (r"info: done .* close=unclean", {"immediate": {"2"}, "delayed": {"3"}}),
    "neverread": (r"info: done .* close=error error=\"[^\"]+\"", {"immediate": {"4"}, "delayed": {"sig13", "4"}}),
    "idle": (r"info: done .* close=idle", {"immediate": {"3"}, "delayed": {"sig13", "4"}}),
}


# -------------------------------------------------------------------- server side


def wait_listen(port, limit=10):
    """Until something listens on 127.0.0.1:port (read from /proc: a probe
    connection would be one more session in the counts)."""
    want = f"0100007F:{port:04X}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        with open("/proc/net/tcp") as f:
            for line in f:
                p = line.split()
                if len(p) > 3 and p[1] == want and p[3] == "0A":
                    return True
        time.sleep(0.05)
    return False


def parse_log(path):
    """Per client port: engine lines; per port: exit statuses (tcpserver)."""
    lines_by_port = collections.defaultdict(list)
    status_by_port = collections.defaultdict(list)
    pid_port = {}
    reasons = collections.Counter()
    other = []
    ends = 0
    sessions_logged = 0
    re_ok = re.compile(r"^tcpserver: ok (\d+) \S*:\S+:\d+ \S*:[0-9.]+:\S*:(\d+)$")
    re_end = re.compile(r"^tcpserver: end (\d+) status (\d+)$")
    re_peer = re.compile(r"peer=127\.0\.0\.1:(\d+)\b")
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = re_ok.match(line)
            if m:
                pid_port[m.group(1)] = int(m.group(2))
                continue
            m = re_end.match(line)
            if m:
                ends += 1
                s = int(m.group(2))
                st = f"sig{s & 127}" if s & 127 else str(s >> 8)
                port = pid_port.pop(m.group(1), None)
                if port is not None:
                    status_by_port[port].append(st)
                continue
            if line.startswith("tcpserver: status:") or re.match(r"^tcpserver: pid \d+ from ", line):
                continue
            m = re_peer.search(line)
            if m:
                lines_by_port[int(m.group(1))].append(line)
                if ": info: done " in line:
                    sessions_logged += 1      # every session ends with exactly one
                    c = re.search(r" close=(\S+)", line)
                    reasons["done close=" + (c.group(1) if c else "?")] += 1
                else:
                    c = re.search(r": (fatal|warning): ([^:]+):", line)
                    reasons[(c.group(1) + ": " + c.group(2)) if c else line[:60]] += 1
            elif not re.match(r"^tlsserver: info: (listening on |reload done subject=|exiting: current connections continue$)", line):
                other.append(line)
    return lines_by_port, status_by_port, reasons, other, ends, sessions_logged


class Server:
    def __init__(self, args, mode, port, log):
        self.args, self.mode, self.port, self.log = args, mode, port, log
        d = mode == "delayed"
        tls = ["-K", str(args.hs_ms), "-T", str(args.idle_ms), "-c", args.cert, "-k", args.key]
        if mode == "listen":
            # tlsserver's own accept loop: the long-lived process is tlsserver itself
            cmd = [args.tlsserver, "-L", "-m", str(args.maxconn)] + tls + ["127.0.0.1", str(port), args.prog]
        else:
            cmd = ["tcpserver", "-v", "-RHl0", "-c", str(args.maxconn), "-b", str(args.backlog),
                   "127.0.0.1", str(port), args.tlsserver] + (["-n"] if d else []) + tls + \
                  [args.prog] + (["-n"] if d else [])
        self.cmd = cmd
        self.logf = open(log, "wb")
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.logf)
        if not wait_listen(port):
            self.stop()
            raise SystemExit(f"soak: tcpserver on port {port} did not listen")

    def children(self):
        return descendants(self.p.pid)

    def snapshot(self):
        return {"fds": proc_fds(self.p.pid), "rss_kb": proc_status_kb(self.p.pid, "VmRSS"),
                "vsz_kb": proc_status_kb(self.p.pid, "VmSize"), "mem_available_kb": mem_available_kb(),
                "children_cpu_ticks": proc_children_cpu(self.p.pid)}

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.logf.close()


# -------------------------------------------------------------------- a mode


async def run_mode(args, mode, port, checks):
    delayed = mode == "delayed"
    log = os.path.join(args.workdir, f"soak-{mode}.log")
    srv = Server(args, mode, port, log)
    cl = Client(args)
    sampler = Sampler(srv.p.pid)
    stop = asyncio.Event()
    res = {"mode": mode, "command": " ".join(srv.cmd)}
    try:
        # one warm-up session, so that tcpserver's figures are those of a server at work
        await cl.one("ok", port, delayed)
        await asyncio.sleep(0.3)
        res["before"] = srv.snapshot()
        samp_task = asyncio.ensure_future(sampler.run(stop))
        t0 = time.monotonic()
        bad_tasks = []
        phase_done = asyncio.Event()

        async def chaos():
            n = 0
            while n < args.bad and not phase_done.is_set():
                kind = BAD_KINDS[n % len(BAD_KINDS)]
                bad_tasks.append(asyncio.ensure_future(cl.one(kind, port, delayed)))
                n += 1
                try:
                    await asyncio.wait_for(phase_done.wait(), args.bad_interval)
                except asyncio.TimeoutError:
                    pass
            # whatever is left goes in at once, together with the last phase
            while n < args.bad:
                bad_tasks.append(asyncio.ensure_future(cl.one(BAD_KINDS[n % len(BAD_KINDS)], port, delayed)))
                n += 1

        chaos_task = asyncio.ensure_future(chaos())
        t_seq = time.monotonic()
        for i in range(args.seq):
            await cl.one("ok", port, delayed)
            if mode == "listen" and args.hup_every and (i + 1) % args.hup_every == 0:
                os.kill(srv.p.pid, signal.SIGHUP)
                res["reloads"] = res.get("reloads", 0) + 1
            if args.progress and (i + 1) % 1000 == 0:
                print(f"soak: {mode}: {i + 1}/{args.seq} sequential, {time.monotonic() - t_seq:.0f}s", flush=True)
        res["seq_seconds"] = round(time.monotonic() - t_seq, 2)
        t_conc = time.monotonic()
        phase_done.set()
        await chaos_task
        await asyncio.gather(*[cl.one("ok", port, delayed) for _ in range(args.conc)])
        res["conc_seconds"] = round(time.monotonic() - t_conc, 2)
        await asyncio.gather(*bad_tasks)
        res["client_seconds"] = round(time.monotonic() - t0, 2)

        # every session must end on its own
        t_end = time.monotonic()
        while srv.children() and time.monotonic() - t_end < args.drain_s:
            await asyncio.sleep(0.2)
        left = srv.children()
        await asyncio.sleep(0.3)
        sampler.sample()
        stop.set()
        await samp_task
        res["after"] = srv.snapshot()
    finally:
        srv.stop()

    # ---------------- figures
    expected_sessions = len(cl.records)
    lines_by_port, status_by_port, reasons, other, ends, logged = parse_log(log)
    listen = mode == "listen"
    if listen:
        ends = logged           # no tcpserver: one done line per session
    kinds = collections.Counter(r["kind"] for r in cl.records)
    failures = collections.Counter()
    status_hist = collections.Counter()
    mismatch = []
    for r in cl.records:
        if r["outcome"] != "ok":
            failures[f"{r['kind']}: {r['outcome']}"] += 1
    # match each client with a log line and an exit status of its port
    by_port = collections.defaultdict(list)
    for r in cl.records:
        if r["port"] is not None:
            by_port[r["port"]].append(r)
    unlogged = collections.Counter()
    badstatus = collections.Counter()
    for p, recs in by_port.items():
        lines = list(lines_by_port.get(p, []))
        stats = list(status_by_port.get(p, []))
        for r in recs:
            rx, sts = EXPECT[r["kind"]]
            hit = next((l for l in lines if re.search(rx, l)), None)
            if hit is None:
                unlogged[r["kind"]] += 1
                if len(mismatch) < 10:
                    mismatch.append(f"{r['kind']} port {p} ({r['outcome']} {r['detail']}): lines {lines[:3]}")
            else:
                lines.remove(hit)
            if listen:
                continue        # no tcpserver, no exit statuses
            st = next((s for s in stats if s in sts[mode]), None)
            if st is None:
                badstatus[r["kind"]] += 1
                if len(mismatch) < 10:
                    mismatch.append(f"{r['kind']} port {p}: statuses {stats}, expected one of {sorted(sts[mode])}")
            else:
                stats.remove(st)
                status_hist[f"{r['kind']}={st}"] += 1
    res.update({
        "connections": expected_sessions, "kinds": dict(kinds), "failures": dict(failures),
        "sessions_ended": ends, "log_reasons": dict(reasons), "statuses": dict(status_hist),
        "unlogged": dict(unlogged), "unexpected_status": dict(badstatus), "mismatch_examples": mismatch,
        "other_log_lines": other[:10], "other_log_count": len(other),
        "max_engines": sampler.max_engines, "max_apps": sampler.max_apps, "max_waiting": sampler.max_waiting,
        "max_engine_rss_kb": sampler.max_engine_rss_kb, "max_zombies_seen": sampler.max_zombies,
        "leftover": [f"{pid} {st[0]} {st[1]}" for pid, st in left],
        "rate_seq_per_s": round(args.seq / res["seq_seconds"], 1) if res["seq_seconds"] else 0,
    })
    hz = os.sysconf("SC_CLK_TCK")
    ticks = res["after"]["children_cpu_ticks"] - res["before"]["children_cpu_ticks"]
    res["server_cpu_ms_per_session"] = round(ticks * 1000 / hz / max(1, expected_sessions - 1), 2)
    zombies_now = [pid for pid in all_pids() if (proc_stat(pid) or ("", ""))[1] == "Z"]
    res["zombies_after"] = len(zombies_now)

    # ---------------- checks
    m = mode
    ok_total = kinds["ok"]
    ok_fail = {k: v for k, v in failures.items() if k.startswith("ok:")}
    checks.append((f"{m}: {ok_total} well-behaved sessions, all data came back intact", not ok_fail, ok_fail))
    checks.append((f"{m}: every misbehaving client ({expected_sessions - ok_total}) was cut off in time",
                   all(k.startswith("ok:") for k in failures), {k: v for k, v in failures.items() if not k.startswith("ok:")}))
    checks.append((f"{m}: {'the engines logged' if listen else 'tcpserver saw'} {expected_sessions} sessions end",
                   ends == expected_sessions, f"ended {ends}"))
    checks.append((f"{m}: every session has its log line (refusals with their reason)", not unlogged,
                   {"unlogged": dict(unlogged), "examples": mismatch[:5]}))
    if not listen:
        checks.append((f"{m}: every session's exit status matches what its client did", not badstatus,
                       {"unexpected": dict(badstatus), "examples": mismatch[:5]}))
    checks.append((f"{m}: no 'reason=unknown' in the log", not any("reason=unknown" in l for ls in lines_by_port.values() for l in ls), ""))
    checks.append((f"{m}: no stray log line", not other, other[:5]))
    checks.append((f"{m}: no session left running after the clients finished", not left, res["leftover"]))
    checks.append((f"{m}: no zombie afterwards", res["zombies_after"] == 0, zombies_now[:10]))
    server = "the listener" if listen else "tcpserver"
    fd_growth = res["after"]["fds"] - res["before"]["fds"]
    checks.append((f"{m}: {server}'s descriptors did not grow ({res['before']['fds']} -> {res['after']['fds']})",
                   fd_growth <= 0, fd_growth))
    rss_growth = res["after"]["rss_kb"] - res["before"]["rss_kb"]
    checks.append((f"{m}: {server}'s RSS did not grow by more than {args.max_rss_growth_kb} KiB ({res['before']['rss_kb']} -> {res['after']['rss_kb']} KiB)",
                   rss_growth <= args.max_rss_growth_kb, rss_growth))
    checks.append((f"{m}: engine RSS stayed under {args.max_engine_rss_mb} MiB (max {sampler.max_engine_rss_kb} KiB)",
                   sampler.max_engine_rss_kb < args.max_engine_rss_mb * 1024, sampler.max_engine_rss_kb))
    return res


def summary(results, checks, elapsed):
    out = []
    for r in results:
        out.append(f"== {r['mode']} mode: {r['command']}")
        out.append(f"   connections {r['connections']} ({', '.join(f'{k} {v}' for k, v in sorted(r['kinds'].items()))}); "
                   f"sessions ended {r['sessions_ended']}")
        out.append(f"   sequential {r['seq_seconds']} s ({r['rate_seq_per_s']}/s), concurrent burst {r['conc_seconds']} s, "
                   f"all clients {r['client_seconds']} s")
        out.append(f"   client failures by kind: {r['failures'] or 'none'}")
        out.append(f"   engine log by reason: {dict(sorted(r['log_reasons'].items()))}")
        out.append(f"   exit statuses (kind=status): {dict(sorted(r['statuses'].items()))}")
        if r["unlogged"] or r["unexpected_status"]:
            out.append(f"   unlogged {r['unlogged']} unexpected status {r['unexpected_status']}")
            for e in r["mismatch_examples"]:
                out.append(f"     {e}")
        b, a = r["before"], r["after"]
        if r.get("reloads"):
            out.append(f"   configuration reloads (SIGHUP) during the run: {r['reloads']}")
        out.append(f"   {'listener' if r['mode'] == 'listen' else 'tcpserver'} descriptors {b['fds']} -> {a['fds']}, RSS {b['rss_kb']} -> {a['rss_kb']} KiB, "
                   f"VSZ {b['vsz_kb']} -> {a['vsz_kb']} KiB; MemAvailable {b['mem_available_kb']//1024} -> {a['mem_available_kb']//1024} MiB")
        out.append(f"   server CPU (engine + application, reaped by the server) {r['server_cpu_ms_per_session']} ms per session")
        out.append(f"   at most {r['max_engines']} engines, {r['max_waiting']} children waiting for the handshake "
                   f"and {r['max_apps']} applications at once, "
                   f"largest engine RSS {r['max_engine_rss_kb']} KiB, zombies seen {r['max_zombies_seen']} "
                   f"(transient), after {r['zombies_after']}; left over {len(r['leftover'])}")
    out.append(f"== checks ({elapsed:.0f} s)")
    for desc, ok, detail in checks:
        out.append(f"   {'ok  ' if ok else 'FAIL'} {desc}" + ("" if ok or not detail else f"  [{detail}]"))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tlsserver", required=True)
    ap.add_argument("--prog", required=True, help="soakprog binary")
    ap.add_argument("--pki", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--modes", default="immediate,delayed,listen")
    ap.add_argument("--port", type=int, default=4700)
    ap.add_argument("--seq", type=int, default=10000)
    ap.add_argument("--conc", type=int, default=500)
    ap.add_argument("--bad", type=int, default=120, help="misbehaving clients per mode")
    ap.add_argument("--bad-interval", type=float, default=0.5)
    ap.add_argument("--maxconn", type=int, default=600)
    ap.add_argument("--backlog", type=int, default=1024)
    ap.add_argument("--hs-ms", type=int, default=10000,
                    help="handshake deadline: above the worst handshake latency of the concurrent burst")
    ap.add_argument("--idle-ms", type=int, default=4000)
    ap.add_argument("--client-timeout", type=float, default=90)
    ap.add_argument("--drain-s", type=float, default=30)
    ap.add_argument("--max-engine-rss-mb", type=int, default=32)
    ap.add_argument("--max-rss-growth-kb", type=int, default=1024,
                    help="allowed RSS growth of the long-lived process (larger under ASan: its quarantine keeps freed memory)")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--hup-every", type=int, default=0, help="listen mode: SIGHUP (reload) every N sequential sessions")
    ap.add_argument("--json")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    args.ca = os.path.join(args.pki, "ca.pem")
    args.cert = os.path.join(args.pki, "server.pem")
    args.key = os.path.join(args.pki, "server.key")
    checks, results = [], []
    t0 = time.monotonic()
    for i, mode in enumerate(args.modes.split(",")):
        results.append(asyncio.run(run_mode(args, mode, args.port + i, checks)))
    elapsed = time.monotonic() - t0
    print(summary(results, checks, elapsed), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "checks": checks, "seconds": round(elapsed, 1)}, f, indent=1, default=str)
    sys.exit(0 if all(c[1] for c in checks) else 1)


if __name__ == "__main__":
    main()

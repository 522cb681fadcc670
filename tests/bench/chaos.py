#!/usr/bin/env python3
# chaos.py - the clients, the killer and the watcher of tests/bench/chaos.sh
# (docs/BENCHMARKS.md, "Chaos, measured"). Not a test: it measures, and
# prints what it saw against the goals; chaos.sh starts sockd.
#
#   chaos.py MASTER_PID PORT [WORKERS [CLIENTS [SECONDS [INTERVAL_MS [SEED]]]]]
#
# One process, one select loop, so what it records is one consistent view:
# - CLIENTS (default 50) persistent clients on 127.0.0.1:PORT, each sending
#   a 16-byte request naming itself and its sequence number and waiting for
#   the whole, identical echo, again and again. A connection that breaks
#   (EOF, reset, EPIPE, a wrong echo) is one failure; the client reconnects
#   at once (10 ms later after a failed connect).
# - Every INTERVAL_MS (default 100) for SECONDS (default 30), a random live
#   worker (a child of MASTER_PID, from /proc/PID/task/PID/children, not a
#   zombie) is stopped (SIGSTOP), its connections are read, and it gets
#   SIGKILL. Its connections: the socket inodes in /proc/W/fd matched to
#   the TCP connections to 127.0.0.1:PORT (a sock_diag dump, as ss(8) does;
#   /proc/net/tcp if that fails), whose peer port is a client's local port. The worker is stopped while they are read so it cannot accept one
#   more between the reading and the kill; the loop is single-threaded, so
#   each client's state then is exact: its connection "held by a killed
#   worker", and its request "in flight on a killed worker" when not yet
#   wholly answered. A failure is "attributed" when the broken connection
#   was held by a worker killed before; any other failure is unexplained.
# - Every 2 ms the master's children are sampled: the live ones (pool whole
#   again after a kill = the first sample with WORKERS live children and
#   the killed one gone, or a zombie) and the zombies (state Z; each pid's
#   first and last sighting).
# - The master's CPU share: utime + stime from /proc/MASTER/stat (its own,
#   not its reaped children's) over the run's wall time.
# After the kills it waits up to 2 s for the requests in flight, then
# prints one "key=value ..." line (chaos.sh reads it) and a summary.
# Loopback only; every loop is bounded in count and time.
import errno
import os
import random
import select
import signal
import socket
import struct
import sys
import time

SAMPLE_S = 0.002
DRAIN_S = 2.0
RETRY_S = 0.010
SIZE = 16


def arg(i, default, lo, hi):
    v = int(sys.argv[i]) if len(sys.argv) > i else default
    if not lo <= v <= hi:
        sys.exit("chaos.py: argument %d must be %d..%d" % (i, lo, hi))
    return v


if len(sys.argv) < 3:
    sys.exit(__doc__ or "usage: chaos.py MASTER_PID PORT [WORKERS [CLIENTS [SECONDS "
             "[INTERVAL_MS [SEED]]]]]")
MASTER = arg(1, 0, 2, 1 << 22)
PORT = arg(2, 0, 1, 65535)
WORKERS = arg(3, 4, 1, 64)
CLIENTS = arg(4, 50, 1, 200)
SECONDS = arg(5, 30, 1, 60)
INTERVAL = arg(6, 100, 10, 10000) / 1000.0
SEED = arg(7, 1, 0, 1 << 31)
HZ = os.sysconf("SC_CLK_TCK")
now = time.monotonic


def master_cpu_ticks():
    with open("/proc/%d/stat" % MASTER) as f:
        f = f.read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])	# utime, stime (fields 14, 15)


def children():
    """{pid: state} of the master's children now."""
    out = {}
    try:
        with open("/proc/%d/task/%d/children" % (MASTER, MASTER)) as f:
            pids = f.read().split()
    except OSError:
        return out
    for p in pids:
        try:
            with open("/proc/%s/stat" % p) as f:
                out[int(p)] = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            pass	# reaped meanwhile
    return out


def peer_ports(pid):
    """Client ports of the TCP connections worker PID holds to PORT."""
    inodes = set()
    d = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(d):
            try:
                link = os.readlink(d + "/" + fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    except OSError:
        return set()
    try:
        conns = diag_conns()
    except OSError:
        conns = proc_conns()
    return {cport for ino, cport in conns if ino in inodes}


def diag_conns():
    """[(inode, client port)] of the connections to 127.0.0.1:PORT, from one
    sock_diag dump (ss(8)'s source) asking for that source port only: the
    answer fits one message batch, so it is one walk of the kernel's table,
    not pieces of several (see proc_conns)."""
    req = struct.pack("=BBBxI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0xffffffff)
    req += struct.pack("!HH", PORT, 0) + bytes(32) + struct.pack("=III", 0, 0xffffffff,
                                                                 0xffffffff)
    hdr = struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0)	# SOCK_DIAG_BY_FAMILY, REQUEST|DUMP
    out = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4) as nl:	# NETLINK_SOCK_DIAG
        nl.settimeout(1.0)
        nl.send(hdr + req)
        for _ in range(10000):
            buf = nl.recv(1 << 16)
            off = 0
            while off + 16 <= len(buf):
                ln, typ = struct.unpack_from("=IH", buf, off)
                if typ == 3:		# NLMSG_DONE
                    return out
                if typ == 2 or ln < 16:	# NLMSG_ERROR
                    raise OSError("sock_diag refused the dump")
                state = buf[off + 17]
                sport, dport = struct.unpack_from("!HH", buf, off + 20)
                inode = struct.unpack_from("=I", buf, off + 16 + 68)[0]
                if sport == PORT and state != 10:	# not the listener
                    out.append((inode, dport))
                off += (ln + 3) & ~3
    raise OSError("sock_diag: no end of the dump")


def proc_conns():
    """The same from /proc/net/tcp, read twice: it comes a page per read(),
    each resumed at a position in the table, so a line can be skipped when
    others before it go away meanwhile (any connection's on this host)."""
    out = set()
    local = "0100007F:%04X" % PORT
    for _ in range(2):
        with open("/proc/net/tcp") as f:
            for line in f:
                x = line.split()
                if x[1] == local and x[3] != "0A":	# not the listener
                    out.add((int(x[9]), int(x[2].split(":")[1], 16)))
    return out


class Client:
    def __init__(self, i):
        self.i = i
        self.sock = None
        self.port = 0
        self.seq = 0
        self.out = b""		# still to send
        self.want = b""		# the whole echo expected
        self.got = b""
        self.t0 = 0.0		# the request in flight since (0: none)
        self.on_killed = False	# its connection was held by a killed worker
        self.retry = 0.0
        self.connecting = False


class Chaos:
    def __init__(self):
        self.rng = random.Random(SEED)
        self.clients = [Client(i) for i in range(CLIENTS)]
        self.by_port = {}
        self.fd = {}
        self.requests = 0
        self.failures = 0
        self.attributed = 0
        self.conn_fail = 0
        self.max_wait = 0.0
        self.kills = []		# [t, pid, held, inflight, whole_t]
        self.no_worker = 0	# kill times at which no worker was alive
        self.held = 0
        self.inflight = 0
        self.zombies = {}	# pid: [first, last]
        self.zombie_samples = 0
        self.samples = 0
        self.max_live = 0
        self.min_live = WORKERS

    # ---- clients ----
    def connect(self, c, t):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect(("127.0.0.1", PORT))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            self.conn_fail += 1
            c.retry = t + RETRY_S
            return
        c.sock, c.connecting, c.on_killed = s, True, False
        c.port = s.getsockname()[1]
        self.by_port[c.port] = c
        self.fd[s.fileno()] = c
        self.request(c, t)

    def request(self, c, t):
        c.seq += 1
        c.want = ("%05d:%010d" % (c.i, c.seq)).encode()[:SIZE].ljust(SIZE, b".")
        c.out, c.got, c.t0 = c.want, b"", t

    def drop(self, c, t, failed=True):
        if c.sock is None:
            return
        del self.fd[c.sock.fileno()]
        self.by_port.pop(c.port, None)
        c.sock.close()
        c.sock = None
        if failed:
            self.failures += 1
            self.attributed += c.on_killed
            c.retry = t
        c.t0 = 0.0

    def readable(self, c, t):
        try:
            b = c.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            return self.drop(c, t)
        if not b:
            return self.drop(c, t)
        c.got += b
        if not c.want.startswith(c.got):
            return self.drop(c, t)
        if len(c.got) == len(c.want):
            self.requests += 1
            self.max_wait = max(self.max_wait, t - c.t0)
            c.t0 = 0.0
            if t < self.chaos_end:	# after it, only the answers still due
                self.request(c, t)
                self.writable(c, t)

    def writable(self, c, t):
        c.connecting = False
        try:
            n = c.sock.send(c.out)
        except BlockingIOError:
            return
        except OSError:
            return self.drop(c, t)
        c.out = c.out[n:]

    # ---- the killer and the watcher ----
    def kill_one(self, t):
        live = [p for p, st in children().items() if st not in "ZX"]
        if not live:
            self.no_worker += 1	# the pool is empty: nothing to kill
            return
        pid = self.rng.choice(live)
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            return
        for _ in range(1000):	# delivered, not just sent: it accepts no more
            if children().get(pid, "T") in "TtZX":
                break
        ports = peer_ports(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            return	# gone meanwhile: not our kill
        held = inflight = 0
        for p in ports:
            c = self.by_port.get(p)
            if c is None or c.sock is None:
                continue
            c.on_killed = True
            held += 1
            inflight += c.t0 != 0.0
        self.held += held
        self.inflight += inflight
        self.kills.append([t, pid, held, inflight, None])

    def sample(self, t):
        kids = children()
        live = [p for p, st in kids.items() if st not in "ZX"]
        self.samples += 1
        if t > self.start + 0.5:	# the pool as it started, not while starting
            self.max_live = max(self.max_live, len(live))
            self.min_live = min(self.min_live, len(live))
        z = [p for p, st in kids.items() if st == "Z"]
        if z:
            self.zombie_samples += 1
        for p in z:
            self.zombies.setdefault(p, [t, t])[1] = t
        if len(live) >= WORKERS:
            for k in self.kills:
                if k[4] is None and k[1] not in live:
                    k[4] = t

    def run(self):
        t = now()
        self.start = t
        self.chaos_end = t + 1.0 + SECONDS
        for c in self.clients:
            self.connect(c, t)
        cpu0, wall0 = master_cpu_ticks(), t
        chaos0 = t + 1.0		# a second of calm first: every client served
        next_kill, next_sample = chaos0, t
        chaos_end = self.chaos_end = chaos0 + SECONDS
        end = chaos_end + DRAIN_S
        n_kills = 0
        while True:
            t = now()
            if t >= end or (t >= chaos_end and all(
                    c.t0 == 0.0 or c.sock is None for c in self.clients)):
                break
            if t >= next_sample:
                self.sample(t)
                next_sample = t + SAMPLE_S
            if t >= next_kill and t < chaos_end and n_kills < SECONDS / INTERVAL:
                self.kill_one(t)
                n_kills += 1
                next_kill += INTERVAL
                next_sample = t + SAMPLE_S / 2
            for c in self.clients:
                if c.sock is None and t >= c.retry and t < chaos_end:
                    self.connect(c, t)
            rd = list(self.fd)
            wr = [c.sock.fileno() for c in self.clients
                  if c.sock is not None and (c.out or c.connecting)]
            wait = max(0.0, min(next_sample, next_kill if t < chaos_end else end) - now())
            try:
                r, w, _ = select.select(rd, wr, [], wait)
            except InterruptedError:
                continue
            t = now()
            for fd in w:
                c = self.fd.get(fd)
                if c is not None:
                    self.writable(c, t)
            for fd in r:
                c = self.fd.get(fd)
                if c is not None:
                    self.readable(c, t)
        wall = now() - wall0
        cpu = (master_cpu_ticks() - cpu0) / HZ
        waiting = sum(1 for c in self.clients if c.sock is not None and c.t0 != 0.0)
        for c in self.clients:
            self.drop(c, t, failed=False)
        self.report(wall, cpu, waiting)

    def report(self, wall, cpu, waiting):
        # A kill after which the pool was never whole again counts with the
        # time to the end of the run: a lower bound, so the max is ">=" then.
        end = now()
        never = sum(1 for k in self.kills if k[4] is None)
        rec = sorted(((k[4] if k[4] is not None else end) - k[0]) * 1000 for k in self.kills)
        med = rec[len(rec) // 2] if rec else float("nan")
        mx = rec[-1] if rec else float("nan")
        over1s = sum(1 for r in rec if r > 1000)
        zage = max([(l - f) * 1000 for f, l in self.zombies.values()] or [0.0])
        zend = sum(1 for p, st in children().items() if st == "Z")
        cpu_pct = 100.0 * cpu / wall
        kv = dict(kills=len(self.kills), no_worker=self.no_worker, requests=self.requests, failures=self.failures,
                  attributed=self.attributed, unexplained=self.failures - self.attributed,
                  held=self.held, inflight=self.inflight, connect_failures=self.conn_fail,
                  waiting_at_end=waiting, max_wait_ms="%.0f" % (self.max_wait * 1000),
                  whole_median_ms="%.1f" % med,
                  whole_max_ms=("%.1f" if never == 0 else ">=%.0f") % mx,
                  whole_over_1s=over1s, never_whole=never, min_live=self.min_live,
                  max_live=self.max_live,
                  zombie_pids=len(self.zombies), zombie_samples=self.zombie_samples,
                  samples=self.samples, zombie_max_ms="%.1f" % zage, zombies_at_end=zend,
                  master_cpu_pct="%.2f" % cpu_pct, wall_s="%.1f" % wall)
        print(" ".join("%s=%s" % i for i in kv.items()))
        ok = lambda b: "met" if b else "MISSED"
        print("failures %d <= in flight on killed workers %d (held %d; unexplained %d): %s"
              % (self.failures, self.inflight, self.held, self.failures - self.attributed,
                 ok(self.failures <= self.inflight and self.failures == self.attributed)),
              file=sys.stderr)
        print("pool whole again: median %.1f ms, max %s%.1f ms, %d of %d kills over 1 s "
              "(%d never whole again): %s" % (med, ">=" if never else "", mx, over1s,
                                              len(self.kills), never, ok(over1s == 0)),
              file=sys.stderr)
        print("zombies: %d pids seen, longest seen %.1f ms, %d at the end: %s"
              % (len(self.zombies), zage, zend, ok(zage < 100 and zend == 0)), file=sys.stderr)
        print("master CPU %.2f %% of one core over %.1f s: %s"
              % (cpu_pct, wall, ok(cpu_pct < 5)), file=sys.stderr)


if __name__ == "__main__":
    try:
        with open("/proc/%d/comm" % MASTER) as f:
            comm = f.read().strip()
    except OSError as e:
        sys.exit("chaos.py: no master %d: %s" % (MASTER, errno.errorcode.get(e.errno, e)))
    if comm != "sockd":	# it SIGKILLs the children of that pid
        sys.exit("chaos.py: %d is \"%s\", not sockd" % (MASTER, comm))
    try:
        os.listdir("/proc/%d/fd" % MASTER)
    except OSError:
        sys.exit("chaos.py: /proc/%d/fd is closed to us (sockd is non-dumpable): run as root"
                 % MASTER)
    Chaos().run()

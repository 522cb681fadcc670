#!/usr/bin/env python3
# slowloris.py - what a thousand slow clients cost a new one (docs/BENCHMARKS.md,
# "Slow clients"). Not a test: it measures, it does not judge.
#
# Starts sockd (SOCKD, default ./src/sockd) with one http service on
# 127.0.0.1 under the model given (default event), timeouts.handshake 10 s;
# opens N (default 1000) connections from 127.0.x.y that send a request head
# one byte every 0.5 s; meanwhile, every 50 ms, times one whole request on a
# fresh connection. Prints the fresh requests' latency (median, p99, max)
# with and without the slow clients, and how many slow ones were answered
# 408 at their deadline. Loopback only; bounded in count and time.
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

SOCKD = os.environ.get("SOCKD", "./src/sockd")
MODEL = sys.argv[1] if len(sys.argv) > 1 else "event"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
N = max(1, min(N, 2000))
REQ = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def start():
    d = tempfile.mkdtemp(prefix="sockd-slowloris.")
    conf = os.path.join(d, "sockd.conf")
    with open(conf, "w") as f:
        f.write('log_level = "notice";\nservices = ( { name = "web"; '
                'listen = "127.0.0.1:0"; handler = "http"; model = "%s"; workers = 2; '
                'timeouts = { handshake = 10; }; } );\n' % MODEL)
    log = open(os.path.join(d, "log"), "w+")   # a file: a pipe nobody reads would block it
    p = subprocess.Popen([SOCKD, "-c", conf, "-l", "info"], stderr=log)
    for _ in range(100):
        time.sleep(0.05)
        log.seek(0)
        m = re.search(r"web: listening on 127\.0\.0\.1:(\d+)", log.read())
        if m:
            return p, int(m.group(1))
    raise SystemExit("sockd did not start")


def fresh(port):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(REQ)
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return (time.monotonic() - t0) * 1000


def sample(port, seconds):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(fresh(port))
        time.sleep(0.05)
    return sorted(out)


def show(name, v):
    print("%-28s median %6.2f ms  p99 %6.2f ms  max %6.2f ms  (%d requests)" %
          (name, v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], v[-1], len(v)))


def main():
    p, port = start()
    try:
        show("no slow clients", sample(port, 2))
        slow = []
        for i in range(N):
            s = socket.socket()
            s.bind(("127.0.%d.%d" % (1 + i // 250, 1 + i % 250), 0))
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            s.send(b"GET / HTTP/1.1\r\n")
            slow.append(s)
        during = []
        end = time.monotonic() + 4
        while time.monotonic() < end:
            for s in slow:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            during += sample(port, 0.5)
        show("%d slow clients (%s)" % (N, MODEL), sorted(during))
        time.sleep(7)       # past their 10 s deadline
        answered = 0
        for s in slow:
            s.setblocking(True)
            s.settimeout(1)
            try:
                if s.recv(64).startswith(b"HTTP/1.1 408"):
                    answered += 1
            except OSError:
                pass
            s.close()
        print("slow clients answered 408: %d of %d" % (answered, N))
    finally:
        p.terminate()
        p.wait(10)


main()

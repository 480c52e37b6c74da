"""Scripting the adaptor library from Python tests (see adaptor_driver.c).

Why this exists: the adaptor integration tests call libthingsbus-adaptor
step by step (send, stats, destroy) while they start and stop bare peers
(PULL, SUB, UDP sockets) and real brokers; this wraps the driver's line
protocol with bounded waits so no test can hang.
"""
import json
import os
import select
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402
import zmq  # noqa: E402

DOC = "http://example.com/Shopbot_Thingsbus_Documentation"


class ZmqCase(unittest.TestCase):
    """A test case with a ZeroMQ context; sockets appended to self.socks
    are closed (without lingering) before the context ends."""

    def setUp(self):
        self.ctx = zmq.Context()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close(linger=0)
        self.ctx.term()


class DriverError(Exception):
    pass


class Driver:
    """One adaptor_driver process: one adaptor."""

    def __init__(self, *args, expect_ready=True):
        self.proc = tbtest.Process([tbtest.binary("adaptor_driver")] + list(args),
                                   stdin=subprocess.PIPE)
        self.buf = b""
        self.first = self.readline(timeout=15)
        if expect_ready and self.first != "ready":
            code, out, err = self.proc.stop()
            raise DriverError("driver did not start: %r %r" % (self.first, err))

    def readline(self, timeout=15.0):
        fd = self.proc.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("driver said nothing for %.1fs" % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    line, self.buf = self.buf, b""
                    return line.decode()
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def cmd(self, text, timeout=15.0):
        self.proc.proc.stdin.write(text.encode() + b"\n")
        self.proc.proc.stdin.flush()
        return self.readline(timeout)

    def _rc(self, line):
        if not line.startswith("rc "):
            raise DriverError("unexpected reply %r" % line)
        return int(line[3:])

    def send(self, data, sub="-", ts="-"):
        """tb_adaptor_send_json; returns the code."""
        return self._rc(self.cmd("send %s %s %s" % (sub, ts, data)))

    def sendj(self, data, sub="-", ts="-"):
        """tb_adaptor_send (jansson value); returns the code."""
        return self._rc(self.cmd("sendj %s %s %s" % (sub, ts, data)))

    def send_bytes(self, raw, sub="-", ts="-"):
        return self._rc(self.cmd("sendhex %s %s %s" % (sub, ts, raw.hex())))

    def big(self, n, sub="-"):
        return self._rc(self.cmd("big %s %d" % (sub, n)))

    def burst(self, n, sub="-"):
        """n sends of {"i":k}; returns (ok, dropped, rejected)."""
        parts = self.cmd("burst %d %s" % (n, sub), timeout=60).split()
        if parts[0] != "burst":
            raise DriverError("unexpected reply %r" % parts)
        return tuple(int(x) for x in parts[1:])

    def flush(self, ms):
        return self._rc(self.cmd("flush %d" % ms, timeout=ms / 1000.0 + 15))

    def stats(self):
        return json.loads(self.cmd("stats"))

    def sleep(self, ms):
        self.cmd("sleep %d" % ms, timeout=ms / 1000.0 + 15)

    def wait_stats(self, pred, timeout=10.0):
        """Poll stats until pred(stats) holds (bounded); returns the stats."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if pred(s) or time.monotonic() > deadline:
                return s
            time.sleep(0.05)

    def quit(self, timeout=30.0):
        """Destroy the adaptor; returns the milliseconds destroy took.
        The process must exit cleanly (sanitizers report through the code)."""
        line = self.cmd("quit", timeout=timeout)
        code, out, err = self.proc.wait(timeout=timeout)
        if code != 0:
            raise DriverError("driver exited %s: %s" % (code, err.decode(errors="replace")))
        if not line.startswith("bye "):
            raise DriverError("unexpected reply %r" % line)
        return int(line[4:])


def recv_all(sock, n, timeout=10.0):
    """Receive n frames from a zmq socket (bounded in time)."""
    import zmq
    out = []
    deadline = time.monotonic() + timeout
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if poller.poll(int(left * 1000) + 1):
            out.append(sock.recv(zmq.NOBLOCK))
    return out


def recv_nothing(sock, ms=200):
    """True if nothing arrives on sock within ms."""
    import zmq
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    return not poller.poll(ms)

"""Shared helpers for thingsbus integration tests.

Why this exists: every integration test starts real programs from the
build directory ($TB_BUILD/bin) on free loopback ports, talks to them over
real sockets with independent implementations (python3-zmq, python3-msgpack)
and must stop everything it started.  This module holds that plumbing and a
tiny TAP reporter so test/run-tests.sh can count results.

Run with Debian's /usr/bin/python3 (python3-zmq and python3-msgpack).
"""
import os
import random
import signal as signal_mod
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

TOP = os.environ.get("TB_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TB_BUILD") or os.path.join(TOP, "build")


def binary(name):
    """Path of a program built into $TB_BUILD/bin."""
    path = os.path.join(BUILD, "bin", name)
    if not os.path.exists(path):
        raise FileNotFoundError("%s is not built" % path)
    return path


def _can_bind(port, kind):
    fams = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0")]
    for fam, addr in fams:
        s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
        try:
            if kind == "tcp":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port(kind="tcp"):
    """A port that is free right now (TCP or UDP) on loopback."""
    for _ in range(200):
        p = random.randint(20000, 60000)
        if _can_bind(p, kind):
            return p
    raise RuntimeError("no free port found")


def free_base_port(span=4):
    """A base port P such that P..P+span-1 are free for TCP and UDP."""
    for _ in range(500):
        p = random.randint(20000, 60000 - span)
        if all(_can_bind(p + i, "tcp") and _can_bind(p + i, "udp") for i in range(span)):
            return p
    raise RuntimeError("no free base port found")


# Sanitizer builds run several times slower: time limits scale by this.
SLOW = 3.0 if os.environ.get("TB_SANITIZED") else 1.0


def wait_until(pred, timeout, what):
    """Poll pred() every 50 ms until it returns something true (returned),
    for at most timeout seconds (scaled by SLOW); else fail naming what."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def wait_tcp(port, host="127.0.0.1", timeout=10.0):
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("nothing listening on %s:%d after %.1fs" % (host, port, timeout))


class Process:
    """A program we started; stop() always reaps it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, env=None, cwd=None, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=full_env, cwd=cwd, stdout=stdout,
                                     stderr=stderr, stdin=stdin)
        _live.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    signal = send_signal

    def stop(self, sig=signal_mod.SIGTERM, timeout=5.0):
        """Stop the process; returns (exit code, stdout bytes, stderr bytes)."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=5)
        if self in _live:
            _live.remove(self)
        return self.proc.returncode, out or b"", err or b""

    def wait(self, timeout=10.0):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate(timeout=5)
        if self in _live:
            _live.remove(self)
        return self.proc.returncode, out or b"", err or b""


_live = []


def stop_all():
    for p in list(_live):
        try:
            p.stop(signal_mod.SIGKILL, timeout=2)
        except Exception:
            pass


class Broker(Process):
    """A real thingsbusd on free loopback ports.

    base: the base port P (PUB on P, inputs on P+1, snapshot service P+2,
    filtered PUB P+3).
    extra: more command-line arguments.
    """

    def __init__(self, extra=(), base=None, env=None, wait=True, state_dir=None):
        self.base = base or free_base_port()
        self.tmp = tempfile.mkdtemp(prefix="tb-broker-")
        self.state_dir = state_dir or self.tmp
        argv = [binary("thingsbusd"), "--base-port", str(self.base),
                "--bind-address", "127.0.0.1"] + list(extra)
        super().__init__(argv, env=env, cwd=self.state_dir)
        if wait:
            try:
                wait_tcp(self.base)
                wait_tcp(self.base + 1)
            except TimeoutError:
                code, out, err = self.stop()
                raise RuntimeError("broker did not start (exit %s): %s" % (code, err.decode(errors="replace")))

    @property
    def pub_url(self):
        return "tcp://127.0.0.1:%d" % self.base

    @property
    def input_url(self):
        return "tcp://127.0.0.1:%d" % (self.base + 1)

    @property
    def udp_addr(self):
        return ("127.0.0.1", self.base + 1)


class TapResult(unittest.TestResult):
    """Prints one TAP line per test as it finishes."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        name = test.id().split(".", 1)[-1]
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, name, extra), flush=True)

    def addSuccess(self, test):
        self._line(True, test)

    def addFailure(self, test, err):
        self._line(False, test)
        print("# " + "".join(traceback.format_exception(*err)).replace("\n", "\n# "), flush=True)

    def addError(self, test, err):
        self._line(False, test, " (error)")
        print("# " + "".join(traceback.format_exception(*err)).replace("\n", "\n# "), flush=True)

    def addSkip(self, test, reason):
        self._line(True, test, " # SKIP %s" % reason)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._line(False, subtest)
            print("# " + "".join(traceback.format_exception(*err)).replace("\n", "\n# "), flush=True)


def main():
    """Run the unittest cases of the calling module and print TAP."""
    mod = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    print("1..%d" % suite.countTestCases(), flush=True)
    result = TapResult()
    try:
        suite.run(result)
    finally:
        stop_all()
    sys.exit(0 if result.wasSuccessful() else 1)

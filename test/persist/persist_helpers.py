"""Shared plumbing for the persistence and fault-and-flood tests (issue 10).

Why this exists: these tests start the real thingsbusd, stop it cleanly or
with kill -9, and check what it restores.  They read the state file through
tb-store-driver's "dump" (the store's own reader, a separate program) to see
the fields the wire does not carry (update count, receive time bits), and
the directory through the v1 snapshot (python3-zmq, json: an independent
reader).  The broker-side helpers (stderr reader, counters parser, hostile
vectors) are the broker suite's, imported from test/broker/test_broker.py.
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "broker"))

import tbtest  # noqa: E402
from test_broker import REJECTS, Stderr, parse_stats, update  # noqa: E402,F401

import zmq  # noqa: E402

CTX = zmq.Context.instance()
SANITIZED = bool(os.environ.get("TB_SANITIZED"))
WAIT = 30.0 if SANITIZED else 10.0


def dump_state(path):
    """{ns: (seq, update_count, recv_time_bits, ts, doc or None, data)}, last_seq."""
    r = subprocess.run([tbtest.binary("tb-store-driver"), "dump", path, "--read-only"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise AssertionError("dump %s failed: %s" % (path, r.stderr.decode(errors="replace")))
    things = {}
    last_seq = None
    for line in r.stdout.decode().splitlines():
        if line.startswith("last_seq "):
            last_seq = int(line.split()[1])
        elif line.startswith("thing "):
            ns, seq, count, bits, ts, doc, data = line[6:].split("\t", 6)
            things[ns] = (int(seq), int(count), bits, ts,
                          None if doc.startswith("-") else doc, data)
    return things, last_seq


class Subscriber:
    """A SUB on the broker's PUB that keeps every thing_update and the latest
    snapshot entries, with the monotonic time each message was received."""

    def __init__(self, broker_or_url, hwm=0):
        url = broker_or_url if isinstance(broker_or_url, str) else broker_or_url.pub_url
        self.sock = CTX.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(url)
        self.updates = []          # (mono time, decoded update)
        self.snapshot = {}         # ns -> entry, from the latest snapshot messages
        self.snapshots = 0

    def pump(self, timeout=0.0, limit=100000):
        got = 0
        t = int(timeout * 1000)
        while got < limit and self.sock.poll(t):
            raw = self.sock.recv()
            now = time.monotonic()
            msg = json.loads(raw, parse_float=str)   # floats as their literal text
            if msg["type"] == "thing_update":
                self.updates.append((now, msg))
            elif msg["type"] == "thing_snapshot":
                self.snapshots += 1
                self.snapshot.update(msg["data"])
            got += 1
            t = 0
        return got

    def wait_snapshot(self, want=None, timeout=WAIT):
        """Wait for snapshot entries covering every ns in want (a set)."""
        deadline = time.monotonic() + timeout
        start = self.snapshots
        while time.monotonic() < deadline:
            self.pump(0.1)
            if self.snapshots > start and (want is None or want <= set(self.snapshot)):
                return self.snapshot
        raise AssertionError("no complete snapshot: have %d of %d" % (
            len(set(self.snapshot) & (want or set())), len(want or ())))

    def close(self):
        self.sock.close()


def start_broker(state_dir, extra=(), base=None):
    b = tbtest.Broker(extra=["--snapshot-expiry", "1e6"] + list(extra), base=base,
                      state_dir=state_dir)
    return b, Stderr(b)


def stop_broker(testcase, broker, err, sig=signal.SIGTERM):
    """Stop; returns the whole stderr text.  A clean stop must exit 0."""
    err.pump(0)
    code, _, rest = broker.stop(sig, timeout=60)
    text = err.text + rest.decode(errors="replace")
    if sig != signal.SIGKILL:
        testcase.assertEqual(code, 0, text[-3000:])
    return text


def push_socket(broker, hwm=0):
    s = CTX.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, hwm)
    s.connect(broker.input_url)
    return s


def damaged_copies(state_dir, name="thingsbus.state"):
    return glob.glob(os.path.join(state_dir, name + ".damaged-*"))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1))

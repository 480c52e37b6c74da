#!/usr/bin/python3
"""thingsbusd times its own event loop: the `stats: loop` counters line.

Why this exists: the "a snapshot never pauses ingest for more than 10 ms"
promise is judged from the broker's own count of how long each loop turn
takes (poll return to the next poll), split between turns with snapshot
work under way and the others (man thingsbusd, STATISTICS).  These tests
check the line is there, once, with every field, and that its figures
agree with each other; they make no timing assertions (speed belongs to
`make bench`).
"""
import json
import os
import re
import select
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402

import zmq  # noqa: E402

WAIT = 20.0 if os.environ.get("TB_SANITIZED") else 10.0
BUCKETS = ("le100us", "le1ms", "le5ms", "le10ms", "le50ms", "gt50ms")
PHASES = ("", "snapshot_")
FIELDS = [p + k for p in PHASES for k in ("turns", "busy_us", "max_us") + BUCKETS] + [
    "snapshot_max_cpu_us"]


class Stderr:
    def __init__(self, broker):
        self.broker = broker
        self.text = ""
        os.set_blocking(broker.proc.stderr.fileno(), False)

    def pump(self, timeout):
        fd = self.broker.proc.stderr.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                self.text += os.read(fd, 65536).decode(errors="replace")
            except BlockingIOError:
                pass

    def counters(self):
        """SIGUSR1; the text of the stats block it prints."""
        start = len(self.text)
        self.broker.signal(signal.SIGUSR1)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if re.search(r"stats: published [^\n]*\n", self.text[start:]):
                return self.text[start:]
            self.pump(0.05)
        raise AssertionError("no stats after SIGUSR1:\n" + self.text)


def loop_line(text):
    """The one `stats: loop` line of a stats block, as an ordered list of
    (key, int) pairs."""
    lines = [l for l in text.splitlines() if "stats: loop" in l]
    if len(lines) != 1:
        raise AssertionError("want one stats: loop line, got %d:\n%s" % (len(lines), text))
    body = lines[0].split("stats: loop", 1)[1].split()
    pairs = []
    for word in body:
        k, sep, v = word.partition("=")
        if not sep or not re.fullmatch(r"\d+", v):
            raise AssertionError("not key=<unsigned>: %r in %r" % (word, lines[0]))
        pairs.append((k, int(v)))
    return pairs


class TestLoopStats(unittest.TestCase):
    def check_consistent(self, pairs):
        self.assertEqual([k for k, _ in pairs], FIELDS)
        d = dict(pairs)
        for p in PHASES:
            # every turn is in exactly one bucket
            self.assertEqual(sum(d[p + b] for b in BUCKETS), d[p + "turns"], (p, d))
            # the longest turn is one of the turns counted in busy time
            self.assertLessEqual(d[p + "max_us"], d[p + "busy_us"], (p, d))
            if d[p + "turns"] == 0:
                self.assertEqual(d[p + "max_us"], 0, (p, d))
            # the bucket of the longest turn is not empty
            bounds = (100, 1000, 5000, 10000, 50000)
            if d[p + "turns"]:
                i = next((j for j, ub in enumerate(bounds) if d[p + "max_us"] <= ub), 5)
                self.assertGreater(d[p + BUCKETS[i]], 0, (p, d))
                self.assertEqual(sum(d[p + b] for b in BUCKETS[i + 1:]), 0, (p, d))
        return d

    def run_broker(self, *extra):
        broker = tbtest.Broker(extra=["--snapshot-interval", "0.05"] + list(extra))
        err = Stderr(broker)
        ctx = zmq.Context.instance()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(broker.input_url)
        try:
            first = self.check_consistent(loop_line(err.counters()))
            for i in range(200):
                push.send(json.dumps({"type": "thing_update", "ns": "loop.t%d" % i,
                                      "data": i}).encode())
            # several snapshot rounds (every 50 ms) of a non-empty directory
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                block = err.counters()
                m = re.search(r"snapshot_entries=(\d+)", block)
                if m and int(m.group(1)) >= 400:
                    break
                time.sleep(0.05)
            second = self.check_consistent(loop_line(block))
            # counters only grow
            for k in FIELDS:
                if not k.endswith("max_us"):
                    self.assertGreaterEqual(second[k], first[k], k)
            self.assertGreaterEqual(second["max_us"], first["max_us"])
            self.assertGreaterEqual(second["snapshot_max_us"], first["snapshot_max_us"])
            self.assertGreater(second["turns"], 0)
            # a round every 50 ms: turns with snapshot work were seen
            self.assertGreater(second["snapshot_turns"], 0)
            # the loop line comes before "published", which stays last
            lines = [l for l in block.splitlines() if "stats: " in l]
            self.assertIn("stats: published ", lines[-1])
        finally:
            push.close()
        code, _, rest = broker.stop(signal.SIGTERM, timeout=WAIT)
        self.assertEqual(code, 0, rest)
        # the shutdown counters carry the line too
        final = self.check_consistent(loop_line(rest.decode(errors="replace")))
        self.assertGreaterEqual(final["turns"], second["turns"])

    def test_loop_line_with_v2(self):
        self.run_broker()

    def test_loop_line_without_v2(self):
        self.run_broker("--no-v2")


if __name__ == "__main__":
    tbtest.main()

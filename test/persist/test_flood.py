"""Fault and flood: hostile input interleaved with valid updates (issue 10).

Why this exists: a broker in a building faces broken firmware, fuzzers and
stuck clients at the same time as real traffic.  100 000 hostile messages
(every rejection reason the codec names, random bytes, oversized frames,
multi-frame messages on ZeroMQ, garbage datagrams on UDP) are interleaved
with 10 000 valid updates from four adaptors (PUSH sockets), while one
subscriber never reads.  The broker must stay up, keep every valid update
(checked in the state file written at the clean stop, read with
tb-store-driver dump), deliver every one to a healthy subscriber, count
every refusal by reason, and keep its memory bounded.

Why "every valid update reached the healthy subscriber" is a meaningful
check and not luck: a PUB drops messages for a subscriber whose queue is
at the high-water mark.  Only valid updates (and a few snapshots) are
published, so with --pub-hwm 20000 (above the 10 000 valid updates plus
snapshots) nothing may be dropped for any subscriber however slow it is;
the healthy SUB has no receive limit.  A loss would therefore be a broker
fault, not a scheduling accident.  The subscriber that never reads holds
at most those 10 000 messages in the broker (its own RCVHWM is tiny), which
the memory bound covers.  Valid updates go over ZeroMQ only: the kernel
may drop UDP datagrams under a flood (counted as udp_kernel_drops), which
is fine for garbage but would make "every valid update" untestable.
"""
import json
import os
import random
import shutil
import signal
import socket
import tempfile
import time
import unittest

from persist_helpers import (CTX, REJECTS, SANITIZED, WAIT, Subscriber, dump_state,
                             push_socket, rss_kib, start_broker, stop_broker, tbtest,
                             update)

import zmq

VALID = 10000
HOSTILE = 100000
ADAPTORS = 4


def hostile_stream(rng):
    """Yields (how, payload): how is "zmq", "multi" or "udp"."""
    zmq_vectors = [(how, p) for _, how, p in REJECTS]
    oversized = b'{"type":"thing_update","ns":"big","data":"' + b"x" * 6000 + b'"}'
    while True:
        r = rng.random()
        if r < 0.40:
            yield zmq_vectors[rng.randrange(len(zmq_vectors))]
        elif r < 0.65:
            yield "zmq", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif r < 0.66:
            yield "zmq", oversized
        elif r < 0.68:
            yield "multi", [b'{"type":"thing_update","ns":"m","data":1}', b"x", b"y"]
        else:
            yield "udp", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))


class TestFaultAndFlood(unittest.TestCase):
    def test_flood_loses_no_valid_update(self):
        d = tempfile.mkdtemp(prefix="tb-flood-")
        b, berr = start_broker(d, ["--max-message-size", "4096", "--pub-hwm", "20000",
                                   "--snapshot-interval", "5"])
        try:
            self.flood(d, b, berr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def flood(self, d, b, berr):
        healthy = Subscriber(b, hwm=0)
        stuck = CTX.socket(zmq.SUB)
        stuck.setsockopt(zmq.LINGER, 0)
        stuck.setsockopt(zmq.RCVHWM, 10)
        stuck.setsockopt(zmq.RCVBUF, 4096)
        stuck.setsockopt(zmq.SUBSCRIBE, b"")
        stuck.connect(b.pub_url)
        probe = push_socket(b)
        for i in range(200):
            probe.send(update("probe", i))
            if healthy.pump(0.1):
                break
        probe.close()
        time.sleep(0.3)
        healthy.pump(0.1)
        healthy.updates.clear()
        base_counters = berr.counters()
        rss_before = rss_kib(b.pid)

        adaptors = [push_socket(b) for _ in range(ADAPTORS)]
        hostile_push = [push_socket(b) for _ in range(2)]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = random.Random(1010)
        stream = hostile_stream(rng)
        sent = {"zmq": 0, "multi": 0, "udp": 0}
        expected = {}
        per_valid = HOSTILE // VALID
        for v in range(VALID):
            for h in range(per_valid):
                how, payload = next(stream)
                if how == "udp":
                    udp.sendto(payload, b.udp_addr)
                elif how == "multi":
                    hostile_push[h % 2].send_multipart(payload)
                else:
                    hostile_push[h % 2].send(payload)
                sent[how] += 1
            k = v % ADAPTORS
            ns = "flood.a%d.t%d" % (k, v // ADAPTORS)
            data = {"k": k, "v": v}
            adaptors[k].send(update(ns, data))
            expected[ns] = data
            if v % 500 == 0:
                healthy.pump(0)
        self.assertEqual(sum(sent.values()), HOSTILE)

        # every valid update reached the healthy subscriber
        deadline = time.monotonic() + WAIT * 3
        while len(healthy.updates) < VALID and time.monotonic() < deadline:
            healthy.pump(0.2)
        got = {u["ns"]: u["data"] for _, u in healthy.updates if u["ns"].startswith("flood.")}
        self.assertEqual(len(got), VALID, "the healthy subscriber missed updates")
        self.assertEqual(got, expected)

        self.assertIsNone(b.proc.poll(), "the broker died")
        c = berr.counters()
        accepted = c["accepted.total"] - base_counters["accepted.total"]
        self.assertEqual(accepted, VALID)
        rejected = c["rejected.total"] - base_counters["rejected.total"]
        zmq_hostile = sent["zmq"] + sent["multi"]
        # every ZeroMQ message is refused and counted; a datagram is refused or,
        # when the kernel dropped it, counted in udp_kernel_drops
        self.assertGreaterEqual(rejected, zmq_hostile)
        self.assertLessEqual(rejected, HOSTILE)
        self.assertLessEqual(rejected - zmq_hostile + c["dropped.udp_kernel_drops"], sent["udp"])
        for name in sorted({r for r, _, _ in REJECTS}):
            self.assertGreater(c["rejected." + name], 0, name)
        rss_after = rss_kib(b.pid)
        bound = 400 * 1024 if SANITIZED else 64 * 1024
        print("# RSS %d KiB before, %d KiB after the flood; udp_kernel_drops=%d"
              % (rss_before, rss_after, c["dropped.udp_kernel_drops"]), flush=True)
        self.assertLess(rss_after - rss_before, bound, "memory grew without bound")

        for s in adaptors + hostile_push:
            s.close()
        udp.close()
        stuck.close()
        healthy.close()
        text = stop_broker(self, b, berr)
        self.assertIn("state: saved to", text)
        things, _ = dump_state(os.path.join(d, "thingsbus.state"))
        missing = [ns for ns in expected if ns not in things]
        self.assertEqual(missing, [], "valid updates missing from the saved directory")
        for ns, data in expected.items():
            self.assertEqual(json.loads(things[ns][5]), data, ns)


if __name__ == "__main__":
    tbtest.main()

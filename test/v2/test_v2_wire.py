"""Protocol v2 on the wire, checked with an independent implementation.

Why this exists: the C tests compare the engine's bytes with literals;
this suite reads them with python3-zmq and Python's json, and implements
the client algorithm of PROTOCOL.md section 15 from the text alone, so a
disagreement between the spec and the engine shows up here.  The engine
runs in tb-v2-testhost (loopback TCP, ephemeral ports) and is fed on stdin.
"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tbtest  # noqa: E402
import zmq  # noqa: E402

UPDATE_KEYS = ["type", "ns", "data", "ts", "documentation_url", "seq", "prev"]
ENTRY_KEYS = ["data", "ts", "ns", "documentation_url", "seq"]


def ordered(raw):
    return json.loads(raw, object_pairs_hook=lambda pairs: pairs)


class Host:
    def __init__(self, *args):
        self.p = tbtest.Process([tbtest.binary("tb-v2-testhost")] + [str(a) for a in args],
                                stdin=subprocess.PIPE)
        self.snap = self._line().split()[1]
        self.pub = self._line().split()[1]

    def _line(self):
        line = self.p.proc.stdout.readline().decode()
        if not line:
            raise RuntimeError("tb-v2-testhost ended")
        return line.strip()

    def cmd(self, text):
        self.p.proc.stdin.write((text + "\n").encode())
        self.p.proc.stdin.flush()
        reply = self._line()
        if not reply.startswith("ok "):
            raise RuntimeError(reply)
        return int(reply.split()[1])

    def stop(self):
        try:
            self.p.proc.stdin.write(b"q\n")
            self.p.proc.stdin.flush()
        except BrokenPipeError:
            pass
        code, _, err = self.p.wait(timeout=10)
        return code, err


def recv(sock, timeout_ms=5000):
    if not sock.poll(timeout_ms):
        raise TimeoutError("nothing received in %d ms" % timeout_ms)
    return sock.recv_multipart()


class V2Wire(unittest.TestCase):
    def setUp(self):
        self.ctx = zmq.Context()
        self.host = Host(200, 2048)  # small batches: long streams

    def tearDown(self):
        code, err = self.host.stop()
        self.ctx.destroy(linger=0)
        self.assertEqual(code, 0, err)

    def sub(self, topic):
        s = self.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.SUBSCRIBE, topic)
        s.connect(self.host.pub)
        return s

    def dealer(self):
        d = self.ctx.socket(zmq.DEALER)
        d.connect(self.host.snap)
        return d

    def test_welcome_and_filter_delimiter(self):
        s = self.sub(b"spacemon.")
        topic, body = recv(s)
        self.assertEqual(topic, b"spacemon.")
        hb = json.loads(body)
        self.assertEqual(hb["type"], "heartbeat")
        self.assertEqual(hb["ns"], "spacemon")
        self.assertEqual(len(hb["epoch"]), 16)
        int(hb["epoch"], 16)
        self.assertEqual(hb["interval"], 200)
        self.host.cmd("u spacemonitor.x 1")
        seq = self.host.cmd('u spacemon.a.b {"k":[1,2]}')
        self.host.cmd("u spacemonx 2")
        while True:
            topic, body = recv(s)
            msg = ordered(body)
            if dict(msg)["type"] != "heartbeat":
                break
        self.assertEqual(topic, b"spacemon.a.b.")
        self.assertEqual([k for k, _ in msg], UPDATE_KEYS)
        m = dict(msg)
        self.assertEqual(m["seq"], seq)
        self.assertEqual(len(m["prev"]), 4)  # root, spacemon, .a, .a.b
        self.assertEqual(m["prev"][0], seq - 1)
        self.assertEqual(m["prev"][1:], [0, 0, 0])
        self.assertEqual(dict(m["data"]), {"k": [1, 2]})
        # nothing from spacemonitor/spacemonx reaches this subscriber
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            if s.poll(50):
                t, b = s.recv_multipart()
                self.assertEqual(json.loads(b)["type"], "heartbeat")
                self.assertEqual(t, b"spacemon.")

    def test_snapshot_stream_with_credit(self):
        self.host.cmd("f 3000")
        d = self.dealer()
        d.send_multipart([b"SNAPSHOT", b"r1", b"", b"2"])
        things = {}
        batches = 0
        while True:
            frames = recv(d)
            self.assertEqual(frames[1], b"r1")
            if frames[0] == b"END":
                end = json.loads(frames[2])
                break
            self.assertEqual(frames[0], b"BATCH")
            batches += 1
            doc = ordered(frames[2])
            self.assertEqual([k for k, _ in doc], ["type", "ts", "data"])
            self.assertEqual(dict(doc)["type"], "thing_snapshot")
            for ns, entry in dict(doc)["data"]:
                self.assertEqual([k for k, _ in entry], ENTRY_KEYS)
                things[ns] = dict(entry)
            d.send_multipart([b"CREDIT", b"r1", b"1"])
        self.assertEqual(len(things), 3000)
        self.assertEqual(things["fill7.t777"]["seq"], 778)
        self.assertEqual(end["type"], "snapshot_end")
        self.assertEqual((end["seq"], end["start"], end["last"]), (3000, 3000, 3000))
        self.assertEqual((end["things"], end["batches"]), (3000, batches))
        self.assertGreater(batches, 1)

    def test_queries_and_errors(self):
        self.host.cmd("u a.b 42")
        d = self.dealer()
        d.send_multipart([b"GET", b"g", b"a.b"])
        kind, rid, body = recv(d)
        self.assertEqual((kind, rid), (b"THING", b"g"))
        self.assertEqual(json.loads(body)["a.b"]["data"], 42)
        d.send_multipart([b"GET", b"g2", b"a"])
        self.assertEqual(recv(d)[:3], [b"ERROR", b"g2", b"no_data"])
        d.send_multipart([b"CHILDREN", b"c", b"a", b"1"])
        kind, rid, body = recv(d)
        self.assertEqual(json.loads(body)["children"], ["a.b"])
        self.assertEqual(recv(d)[0], b"END")
        for bad, reason in (([b"GET", b"x", b"a\xff"], b"bad_ns"),
                            ([b"NOPE", b"x"], b"unknown_command"),
                            ([b"SNAPSHOT", b"x", b"", b"-1"], b"bad_credit")):
            d.send_multipart(bad)
            self.assertEqual(recv(d)[:3], [b"ERROR", b"x", reason])
        self.host.cmd("u still.alive 1")

    def test_independent_client_joins_during_updates(self):
        """Section 6 implemented from the text: exact state, no loss."""
        self.host.cmd("f 2000")
        s = self.sub(b"")
        recv(s)  # the welcome: our subscription is live
        d = self.dealer()
        d.send_multipart([b"SNAPSHOT", b"j", b"", b"1"])
        held, buffered, end = {}, [], None
        n = 0
        while end is None:
            # keep the directory changing while the stream is served
            self.host.cmd('u fill%d.t%d {"changed":%d}' % ((n * 37 % 2000) // 100, n * 37 % 2000, n))
            if n % 50 == 0:
                self.host.cmd("u brand.new%d %d" % (n, n))
            n += 1
            while s.poll(0):
                buffered.append(json.loads(s.recv_multipart()[1]))
            if d.poll(5):
                kind, rid, body = d.recv_multipart()
                if kind == b"END":
                    end = json.loads(body)
                    break
                for ns, e in json.loads(body)["data"].items():
                    if ns not in held or held[ns]["seq"] < e["seq"]:
                        held[ns] = e
                d.send_multipart([b"CREDIT", b"j", b"1"])
            self.assertLess(n, 20000)
        last_seen = end["last"]
        final_seq = self.host.cmd("u after.end 1")

        def apply(m):
            nonlocal last_seen
            if m["type"] == "heartbeat":
                if m["ns"] == "" and m["seq"] > end["start"]:
                    self.assertEqual(m["last"], last_seen)
                return
            if m["seq"] <= end["start"]:
                return
            self.assertIn(m["prev"][0], (last_seen, 0), "gap")
            last_seen = m["seq"]
            ns = m["ns"]
            if m["type"] == "thing_update" and (ns not in held or held[ns]["seq"] < m["seq"]):
                held[ns] = m

        for m in buffered:
            apply(m)
        deadline = time.monotonic() + 10
        while last_seen < final_seq and time.monotonic() < deadline:
            if s.poll(100):
                apply(json.loads(s.recv_multipart()[1]))
        self.assertEqual(last_seen, final_seq)
        self.assertGreater(n, 10)
        # the held state is exactly the directory: ask it Thing by Thing
        d.send_multipart([b"SNAPSHOT", b"check", b"", b"16"])
        truth = {}
        while True:
            kind, _, body = recv(d)
            if kind == b"END":
                break
            truth.update(json.loads(body)["data"])
            d.send_multipart([b"CREDIT", b"check", b"1"])
        self.assertEqual(set(held), set(truth))
        for ns, e in truth.items():
            self.assertEqual((held[ns]["data"], held[ns]["seq"]), (e["data"], e["seq"]), ns)


if __name__ == "__main__":
    tbtest.main()

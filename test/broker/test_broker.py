"""Integration tests for thingsbusd: the real binary on free loopback ports.

Why this exists: the broker's promises (accepts both forms on every input,
republishes the exact normalized v1 bytes, snapshots that are complete,
chunked and expire, a named reason for every refusal, clean stops, clear
bind errors) are checked here against independent peers: python3-zmq and
python3-msgpack, and byte vectors written by hand or taken from
PROTOCOL-v1.md -- never our own codec at both ends.
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
sys.path.insert(0, LIB)


import tbtest  # noqa: E402

import msgpack  # noqa: E402
import zmq  # noqa: E402

CTX = zmq.Context.instance()

# The msgpack vector from PROTOCOL-v1.md (original thingsbus test suite).
PROTOCOL_VECTOR_HEX = (
    "94 b3 626f74746c656b69642e70726f746f74797065 c0 82 ab 64687432325f6572726f72 a0 "
    "a8 6d65746164617461 83 a5 6c6f6f7073 ce 0000009a a9 6d7367735f73656e74 ce 00000099 "
    "ac 6d7367735f64726f70706564 ce 00000001 d9 39 "
    "68747470733a2f2f6769746875622e636f6d2f6d697374616b65732d636f6e736f727469756d2f"
    "657370383236362e626f74746c656b696473")
PROTOCOL_VECTOR = bytes.fromhex(PROTOCOL_VECTOR_HEX.replace(" ", ""))

SANITIZED = bool(os.environ.get("TB_SANITIZED"))
WAIT = 20.0 if SANITIZED else 10.0


class Stderr:
    """Collects a running broker's stderr without blocking."""

    def __init__(self, broker):
        self.broker = broker
        self.text = ""
        os.set_blocking(broker.proc.stderr.fileno(), False)

    def pump(self, timeout=0.0):
        fd = self.broker.proc.stderr.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            self.text += chunk.decode(errors="replace")
            return bool(chunk)
        return False

    def wait_for(self, pattern, start=0, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text[start:])
            if m:
                return m
            self.pump(0.05)
        raise AssertionError("no %r in broker stderr:\n%s" % (pattern, self.text))

    def counters(self):
        """Send SIGUSR1 and parse the stats lines it prints."""
        start = len(self.text)
        self.broker.signal(signal.SIGUSR1)
        self.wait_for(r"stats: published [^\n]*\n", start)
        return parse_stats(self.text[start:])


def parse_stats(text):
    out = {}
    for line in text.splitlines():
        m = re.search(r"stats: (\w+) (.*)$", line)
        if m:
            group = m.group(1)
            for kv in m.group(2).split():
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    out["%s.%s" % (group, k)] = int(v)
        m = re.search(r"stats: (things=.*)$", line)
        if m:
            for kv in m.group(1).split():
                k, v = kv.split("=", 1)
                out[k] = int(v)
    return out


def update(ns, data, **kw):
    d = {"type": "thing_update", "ns": ns, "data": data}
    d.update(kw)
    return json.dumps(d, separators=(",", ":")).encode()


class Peer:
    """A subscriber and a PUSH sender connected to one broker."""

    def __init__(self, broker, subscribe=True):
        self.broker = broker
        self.push = CTX.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.connect(broker.input_url)
        self.sub = None
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.probe = 0
        if subscribe:
            self.sub = CTX.socket(zmq.SUB)
            self.sub.setsockopt(zmq.LINGER, 0)
            self.sub.setsockopt(zmq.SUBSCRIBE, b"")
            self.sub.connect(broker.pub_url)
            self.wait_ready()

    def close(self):
        self.push.close()
        if self.sub is not None:
            self.sub.close()
        self.udp.close()

    def wait_ready(self):
        """PUB/SUB joins late: probe until an update comes back."""
        for _ in range(200):
            self.probe += 1
            self.push.send(update("probe", self.probe))
            if self.sub.poll(100):
                while self.sub.poll(0):
                    self.sub.recv()
                return
        raise AssertionError("subscriber never received a probe")

    def recv(self, timeout=WAIT):
        """Next message (raw bytes) that is not a probe; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sub.poll(int(left * 1000) + 1):
                return None
            raw = self.sub.recv()
            if raw.startswith(b'{"type":"thing_update","ns":"probe"'):
                continue
            return raw

    def recv_update(self, timeout=WAIT):
        """Next thing_update (raw bytes), skipping snapshots."""
        deadline = time.monotonic() + timeout
        while True:
            raw = self.recv(max(0.0, deadline - time.monotonic()))
            if raw is None:
                return None
            if json.loads(raw)["type"] == "thing_update":
                return raw

    def recv_snapshot(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            raw = self.recv(max(0.0, deadline - time.monotonic()))
            if raw is None:
                return None
            if json.loads(raw)["type"] == "thing_snapshot":
                return raw

    def send_udp(self, payload):
        self.udp.sendto(payload, self.broker.udp_addr)


def strip_seq(raw):
    """(bytes without the trailing ,"seq":N , N)."""
    m = re.search(rb',"seq":(\d+)\}$', raw)
    assert m, raw
    return raw[:m.start()] + b"}", int(m.group(1))


class BrokerCase(unittest.TestCase):
    extra = ()

    def setUp(self):
        self.broker = tbtest.Broker(extra=self.extra)
        self.err = Stderr(self.broker)
        self.peer = Peer(self.broker)

    def tearDown(self):
        self.peer.close()
        code, _, err = self.broker.stop()
        self.assertEqual(code, 0, err.decode(errors="replace"))


class TestUpdates(BrokerCase):
    def test_push_map_form_exact_bytes(self):
        self.peer.push.send(b'{"type":"thing_update","ns":"spacemon.electronics",'
                            b'"data":{"luminance":106.09,"ratio_busy":0.03},'
                            b'"ts":1423351104.945,"documentation_url":"http://x/doc"}')
        raw = self.peer.recv_update()
        body, seq = strip_seq(raw)
        self.assertEqual(body, b'{"type":"thing_update","ns":"spacemon.electronics",'
                               b'"data":{"luminance":106.09,"ratio_busy":0.03},'
                               b'"ts":1423351104.945,"documentation_url":"http://x/doc"}')
        self.assertGreaterEqual(seq, 1)

    def test_push_list_form_exact_bytes(self):
        self.peer.push.send(b'["a.b",1.5,[1,2,{"k":null}],null]')
        body, _ = strip_seq(self.peer.recv_update())
        self.assertEqual(body, b'{"type":"thing_update","ns":"a.b","data":[1,2,{"k":null}],'
                               b'"ts":1.5,"documentation_url":null}')

    def test_extra_keys_dropped_and_missing_doc_is_null(self):
        self.peer.push.send(b'{"extra":[1,2],"data":"v","ns":"a","type":"thing_update","ts":2.5}')
        body, _ = strip_seq(self.peer.recv_update())
        self.assertEqual(body, b'{"type":"thing_update","ns":"a","data":"v","ts":2.5,'
                               b'"documentation_url":null}')

    def test_broker_stamps_missing_ts(self):
        before = time.time()
        self.peer.push.send(b'{"type":"thing_update","ns":"a","data":null,"ts":null}')
        raw = self.peer.recv_update()
        after = time.time()
        msg = json.loads(raw)
        self.assertIsInstance(msg["ts"], float)
        self.assertTrue(before - 1 <= msg["ts"] <= after + 1, (before, msg["ts"], after))
        self.assertIsNone(msg["data"])
        self.assertIn(b'"data":null,', raw)

    def test_sequence_numbers_increase_by_one(self):
        seqs = []
        for i in range(20):
            self.peer.push.send(update("s.n%d" % (i % 3), i, ts=1.0))
        for i in range(20):
            raw = self.peer.recv_update()
            self.assertIsNotNone(raw)
            msg = json.loads(raw)
            self.assertEqual(msg["data"], i)
            seqs.append(msg["seq"])
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 20)))

    def test_udp_msgpack_map_and_list(self):
        self.peer.send_udp(msgpack.packb({"type": "thing_update", "ns": "fw.one",
                                          "data": {"t": 21.5, "ok": True}, "ts": 10.25,
                                          "documentation_url": "http://fw"}, use_bin_type=True))
        body, _ = strip_seq(self.peer.recv_update())
        msg = json.loads(body)
        self.assertEqual(msg, {"type": "thing_update", "ns": "fw.one", "data": {"t": 21.5, "ok": True},
                               "ts": 10.25, "documentation_url": "http://fw"})
        self.peer.send_udp(msgpack.packb(["fw.two", None, [1, "x"], None], use_bin_type=True))
        msg = json.loads(self.peer.recv_update())
        self.assertEqual(msg["ns"], "fw.two")
        self.assertEqual(msg["data"], [1, "x"])
        self.assertIsNone(msg["documentation_url"])
        self.assertIsInstance(msg["ts"], float)

    def test_udp_protocol_vector(self):
        self.peer.send_udp(PROTOCOL_VECTOR)
        raw = self.peer.recv_update()
        self.assertIsNotNone(raw)
        msg = json.loads(raw)
        self.assertEqual(msg["ns"], "bottlekid.prototype")
        self.assertEqual(msg["data"], {"dht22_error": "", "metadata": {
            "loops": 154, "msgs_sent": 153, "msgs_dropped": 1}})
        self.assertEqual(msg["documentation_url"],
                         "https://github.com/mistakes-consortium/esp8266.bottlekids")
        self.assertIsInstance(msg["ts"], float)
        self.assertTrue(raw.startswith(b'{"type":"thing_update","ns":"bottlekid.prototype","data":{'))
        counters = self.err.counters()
        self.assertGreaterEqual(counters["accepted.udp"], 1)

    def test_hostile_input_never_stops_the_broker(self):
        import random
        rnd = random.Random(1234)
        for _ in range(200):
            blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
            self.peer.push.send(blob)
            self.peer.send_udp(blob)
        for blob in (b"[" * 100000, b'{"a":' * 50000, b"\xdd\xff\xff\xff\xff",
                     b"\xdf\xff\xff\xff\xff", b"\xc5\xff\xff", b"", b"\x00"):
            self.peer.push.send(blob)
            self.peer.send_udp(blob[:60000])
        self.peer.push.send(update("still.alive", 1, ts=3.0))
        msg = json.loads(self.peer.recv_update())
        self.assertEqual(msg["ns"], "still.alive")
        c = self.err.counters()
        self.assertGreaterEqual(c["rejected.total"], 400)


class TestLegacySub(unittest.TestCase):
    def test_original_adaptor_pub_connects(self):
        port = tbtest.free_port()
        broker = tbtest.Broker(extra=["--legacy-sub-endpoint", "tcp://127.0.0.1:%d" % port])
        peer = Peer(broker)
        pub = CTX.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.connect("tcp://127.0.0.1:%d" % port)
        try:
            got = None
            for i in range(100):       # the PUB side joins late, like the original's adaptors
                pub.send(update("legacy.thing", i, ts=5.5, documentation_url="http://l"))
                got = peer.recv_update(0.1)
                if got:
                    break
            self.assertIsNotNone(got)
            msg = json.loads(got)
            self.assertEqual(msg["ns"], "legacy.thing")
            self.assertEqual(msg["documentation_url"], "http://l")
            # the PULL input works at the same time
            peer.push.send(update("pull.thing", 1, ts=1.0))
            while True:
                raw = peer.recv_update()
                self.assertIsNotNone(raw)
                if json.loads(raw)["ns"] == "pull.thing":
                    break
            err = Stderr(broker)
            self.assertGreaterEqual(err.counters()["accepted.legacy_sub"], 1)
        finally:
            pub.close()
            peer.close()
            code, _, err = broker.stop()
        self.assertEqual(code, 0, err)


# Each entry: (reason, how to send, payload).
REJECTS = [
    ("bad_json", "zmq", b'{"type":'),
    ("bad_json", "zmq", b'{"type":"thing_update","ns":"a","data":tru}'),
    ("trailing_bytes", "zmq", b'{"type":"thing_update","ns":"a","data":1} x'),
    ("bad_utf8", "zmq", b'{"type":"thing_update","ns":"a","data":"\xc3("}'),
    ("bad_utf8", "zmq", b'{"type":"thing_update","ns":"a","data":{"\xed\xa0\x80":1}}'),
    ("bad_utf8", "udp", b"\x94\xa1a\xc0\xa2\xc3(\xc0"),
    ("too_deep", "zmq", b'{"type":"thing_update","ns":"a","data":' + b"[" * 100 + b"]" * 100 + b"}"),
    ("too_large", "zmq", b'{"type":"thing_update","ns":"a","data":"' + b"x" * 5000 + b'"}'),
    ("bad_number", "zmq", b'{"type":"thing_update","ns":"a","data":99999999999999999999}'),
    ("not_an_object", "zmq", b'"hello"'),
    ("missing_type", "zmq", b'{"ns":"a","data":1}'),
    ("unknown_type", "zmq", b'{"type":"thing_snapshot","ns":"a","data":1}'),
    ("missing_ns", "zmq", b'{"type":"thing_update","data":1}'),
    ("bad_ns", "zmq", b'{"type":"thing_update","ns":"A.b","data":1}'),
    ("bad_ns", "zmq", b'["a..b",null,1,null]'),
    ("bad_ts", "zmq", b'{"type":"thing_update","ns":"a","data":1,"ts":"now"}'),
    ("missing_data", "zmq", b'{"type":"thing_update","ns":"a"}'),
    ("bad_doc_url", "zmq", b'{"type":"thing_update","ns":"a","data":1,"documentation_url":5}'),
    ("bad_list_length", "zmq", b'["a",null,1]'),
    ("nul_in_string", "zmq", b'{"type":"thing_update","ns":"a","data":"x\\u0000y"}'),
    ("bad_msgpack", "udp", b"\x94\xa1"),
    ("bad_key", "udp", msgpack.packb({1.5: 1, "type": "thing_update", "ns": "a", "data": 1})),
    ("unsupported_type", "udp", msgpack.packb(["a", None, b"\x00\x01", None], use_bin_type=True)),
    ("multi_frame", "multi", [b'{"type":"thing_update","ns":"a","data":1}', b"more"]),
]


class TestRejections(BrokerCase):
    extra = ("--max-message-size", "4096", "-v")

    def test_every_reason_is_counted_and_the_next_message_passes(self):
        expected = {}
        for i, (reason, how, payload) in enumerate(REJECTS):
            if how == "zmq":
                self.peer.push.send(payload)
            elif how == "udp":
                self.peer.send_udp(payload)
            else:
                self.peer.push.send_multipart(payload)
            expected[reason] = expected.get(reason, 0) + 1
            ns = "ok.after%d" % i
            self.peer.push.send(update(ns, i, ts=1.0))
            raw = self.peer.recv_update()
            self.assertIsNotNone(raw, "nothing after %s" % reason)
            self.assertEqual(json.loads(raw)["ns"], ns, "after %s" % reason)
        c = self.err.counters()
        for reason, n in expected.items():
            self.assertEqual(c.get("rejected." + reason), n, "reason %s: %s" % (reason, c))
        self.assertEqual(c["rejected.total"], len(REJECTS))
        # -v logs each rejection with its reason and source
        self.err.wait_for(r"rejected a message from pull[^\n]*: bad_ns")
        self.err.wait_for(r"rejected a message from udp 127\.0\.0\.1:\d+: bad_utf8")
        self.err.wait_for(r"too_large: 50\d\d bytes, the limit is 4096")



def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class TestUdpIpv6(unittest.TestCase):
    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback on this host")
    def test_udp_on_ipv6_loopback_names_the_peer(self):
        broker = tbtest.Broker(extra=["--udp-address", "::1", "-v"])
        err = Stderr(broker)
        try:
            u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            u.sendto(b"\xc1", ("::1", broker.base + 1))          # never valid msgpack
            u.sendto(msgpack.packb(["six.one", 1.25, {"v": 6}, None]), ("::1", broker.base + 1))
            u.close()
            err.wait_for(r"rejected a message from udp \[::1\]:\d+: bad_msgpack")
            for _ in range(100):
                c = err.counters()
                if c["accepted.udp"] >= 1:
                    break
                time.sleep(0.05)
            self.assertEqual(c["accepted.udp"], 1)
        finally:
            code, _, _ = broker.stop()
        self.assertEqual(code, 0)


class TestInvalidUtf8(BrokerCase):
    def test_every_invalid_byte_is_refused(self):
        """0xC0, 0xC1 and 0xF5..0xFF never occur in UTF-8; the broker must not
        pass them on to clients whose JSON readers would choke."""
        for bad in (0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xF8, 0xFE, 0xFF):
            self.peer.push.send(b'{"type":"thing_update","ns":"a","data":"x' + bytes([bad]) + b'"}')
        self.peer.push.send(update("utf8.after", 1, ts=1.0))
        raw = self.peer.recv_update()
        self.assertEqual(json.loads(raw)["ns"], "utf8.after")
        self.assertEqual(self.err.counters()["rejected.bad_utf8"], 8)


class TestOversized(BrokerCase):
    def test_oversized_frame_default_limit(self):
        # the default limit is 1 MiB
        big = b'{"type":"thing_update","ns":"a","data":"' + b"x" * (1536 * 1024) + b'"}'
        self.peer.push.send(big)
        self.peer.push.send(update("after.big", 1, ts=1.0))
        self.assertEqual(json.loads(self.peer.recv_update())["ns"], "after.big")
        self.assertEqual(self.err.counters()["rejected.too_large"], 1)


class TestSnapshots(unittest.TestCase):
    def start(self, *extra):
        self.broker = tbtest.Broker(extra=list(extra))
        self.peer = Peer(self.broker)

    def tearDown(self):
        self.peer.close()
        code, _, err = self.broker.stop()
        self.assertEqual(code, 0, err)

    def snapshot_round(self, want_ns, timeout=WAIT):
        """Collect one round's messages (they share a ts) that holds want_ns."""
        deadline = time.monotonic() + timeout
        rounds = {}
        while time.monotonic() < deadline:
            raw = self.peer.recv_snapshot(max(0.0, deadline - time.monotonic()))
            if raw is None:
                break
            msg = json.loads(raw)
            parts = rounds.setdefault(msg["ts"], [])
            parts.append(raw)
            merged = {}
            for p in parts:
                merged.update(json.loads(p)["data"])
            # a round is complete when the next round starts
            older = [ts for ts in rounds if ts < msg["ts"]]
            for ts in older:
                m = {}
                for p in rounds[ts]:
                    m.update(json.loads(p)["data"])
                if want_ns <= set(m):
                    return rounds[ts], m
                del rounds[ts]
        raise AssertionError("no snapshot round with %s" % sorted(want_ns))

    def test_snapshot_contents_and_sticky_doc_url(self):
        self.start("--snapshot-interval", "0.2")
        self.peer.push.send(update("snap.a", {"v": 1}, ts=100.5, documentation_url="http://doc/a"))
        self.peer.push.send(update("snap.a", {"v": 2}, ts=101.5))
        self.peer.push.send(b'["snap.b",null,[true],null]')
        parts, merged = self.snapshot_round({"snap.a", "snap.b"})
        self.assertEqual(merged["snap.a"], {"data": {"v": 2}, "ts": 101.5, "ns": "snap.a",
                                            "documentation_url": "http://doc/a"})
        self.assertEqual(merged["snap.b"]["data"], [True])
        self.assertIsNone(merged["snap.b"]["documentation_url"])
        self.assertNotIn("snap", merged)          # intermediate Thing without data
        self.assertNotIn("", merged)
        self.assertNotIn("probe", [k for k in merged if k != "probe"])
        # exact key order of a v1 entry
        raw = b"".join(parts)
        self.assertIn(b'"snap.a":{"data":{"v":2},"ts":101.5,"ns":"snap.a",'
                      b'"documentation_url":"http://doc/a"}', raw)
        self.assertTrue(parts[0].startswith(b'{"type":"thing_snapshot","ts":'))

    def test_expired_things_left_out(self):
        self.start("--snapshot-interval", "0.2", "--snapshot-expiry", "0.6")
        self.peer.push.send(update("exp.old", 1, ts=1.0))
        self.snapshot_round({"exp.old"})
        time.sleep(0.8)
        for _ in range(50):
            self.peer.push.send(update("exp.new", 2, ts=2.0))
            parts, merged = self.snapshot_round({"exp.new"})
            if "exp.old" not in merged:
                break
        self.assertNotIn("exp.old", merged)
        self.assertIn("exp.new", merged)

    def test_chunked_rounds_are_valid_and_bounded(self):
        self.start("--snapshot-interval", "0.3", "--snapshot-max-bytes", "1024")
        names = {"chunk.t%03d" % i for i in range(60)}
        for n in sorted(names):
            self.peer.push.send(update(n, {"payload": "p" * 40, "n": n}, ts=7.25,
                                       documentation_url="http://doc/chunk"))
        parts, merged = self.snapshot_round(names)
        self.assertGreater(len(parts), 3)
        for p in parts:
            self.assertLessEqual(len(p), 1024)
            msg = json.loads(p)
            self.assertEqual(set(msg), {"type", "ts", "data"})
            self.assertEqual(msg["type"], "thing_snapshot")
            self.assertTrue(msg["data"])
        for n in names:
            self.assertEqual(merged[n]["data"]["n"], n)
            self.assertEqual(merged[n]["documentation_url"], "http://doc/chunk")
        total = sum(len(json.loads(p)["data"]) for p in parts)
        self.assertEqual(total, len(merged))         # no Thing twice in one round

    def test_first_snapshot_at_startup_even_when_empty(self):
        self.start("--snapshot-interval", "3600")
        err = Stderr(self.broker)
        for _ in range(100):
            c = err.counters()
            if c["published.snapshot_rounds"] >= 1:
                break
            time.sleep(0.05)
        self.assertEqual(c["published.snapshot_rounds"], 1)
        self.assertEqual(c["published.snapshot_messages"], 1)


class TestLifecycle(unittest.TestCase):
    def test_sigterm_clean_exit_with_counters(self):
        broker = tbtest.Broker()
        peer = Peer(broker)
        peer.push.send(update("x", 1, ts=1.0))
        self.assertIsNotNone(peer.recv_update())
        peer.close()
        t0 = time.monotonic()
        code, _, err = broker.stop(signal.SIGTERM, timeout=10)
        self.assertEqual(code, 0, err)
        self.assertLess(time.monotonic() - t0, 9.0)
        text = err.decode()
        self.assertRegex(text, r"stats: accepted total=\d+ pull=\d+")
        self.assertIn("stats: rejected total=0", text)

    def test_sigint_clean_exit(self):
        broker = tbtest.Broker()
        code, _, err = broker.stop(signal.SIGINT, timeout=10)
        self.assertEqual(code, 0, err)

    def test_tcp_bind_failure_names_endpoint(self):
        base = tbtest.free_base_port()
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", base))
        blocker.listen(1)
        try:
            broker = tbtest.Broker(base=base, wait=False)
            code, _, err = broker.wait(timeout=WAIT)
        finally:
            blocker.close()
        self.assertEqual(code, 1, err)
        self.assertIn("tcp://127.0.0.1:%d" % base, err.decode())

    def test_udp_bind_failure_names_endpoint(self):
        base = tbtest.free_base_port()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", base + 1))
        try:
            broker = tbtest.Broker(base=base, wait=False)
            code, _, err = broker.wait(timeout=WAIT)
        finally:
            blocker.close()
        self.assertEqual(code, 1, err)
        self.assertIn("127.0.0.1:%d" % (base + 1), err.decode())
        self.assertIn("UDP", err.decode())

    def test_bad_address_exits_1(self):
        broker = tbtest.Broker(extra=["--pub-endpoint", "tcp://256.1.1.1:1"], wait=False)
        code, _, err = broker.wait(timeout=WAIT)
        self.assertEqual(code, 1, err)
        self.assertIn("tcp://256.1.1.1:1", err.decode())

    def test_usage_errors_exit_2(self):
        for argv in (["--base-port", "70000"], ["--no-such-option"], ["stray"]):
            p = tbtest.Process([tbtest.binary("thingsbusd")] + argv)
            code, _, err = p.wait(timeout=WAIT)
            self.assertEqual(code, 2, (argv, err))
            self.assertTrue(err.startswith(b"thingsbusd: "), err)

    def test_config_file_and_command_line_override(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# test\nsnapshot-interval = 3600\nbind-address = 127.0.0.1\n"
                    "max-message-size = 2k\nbase-port = 1\n")
            path = f.name
        try:
            broker = tbtest.Broker(extra=["--config", path])   # --base-port on argv wins
            peer = Peer(broker)
            peer.push.send(b'{"type":"thing_update","ns":"a","data":"' + b"x" * 3000 + b'"}')
            peer.push.send(update("cfg.ok", 1, ts=1.0))
            self.assertEqual(json.loads(peer.recv_update())["ns"], "cfg.ok")
            peer.close()
            code, _, err = broker.stop()
            self.assertEqual(code, 0)
            self.assertIn("too_large=1", err.decode())
            with open(path, "w") as f:
                f.write("\n\nsnapshot-interval = soon\n")
            p = tbtest.Process([tbtest.binary("thingsbusd"), "--config", path])
            code, _, err = p.wait(timeout=WAIT)
            self.assertEqual(code, 2)
            self.assertIn("%s:3: --snapshot-interval" % path, err.decode())
        finally:
            os.unlink(path)

    def test_syslog_sends_nothing_to_stderr(self):
        broker = tbtest.Broker(extra=["--syslog"])
        code, _, err = broker.stop()
        self.assertEqual(code, 0, err)
        self.assertNotIn(b"stats:", err)

    def test_no_udp_leaves_the_port_free(self):
        broker = tbtest.Broker(extra=["--no-udp"])
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", broker.base + 1))      # would fail if the broker held it
            u.close()
        finally:
            code, _, err = broker.stop()
        self.assertEqual(code, 0, err)
        self.assertIn(b"UDP off", err)

    def test_version(self):
        out = subprocess.run([tbtest.binary("thingsbusd"), "--version"], capture_output=True,
                             timeout=WAIT)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout.decode(), r"^thingsbusd \d+\.\d+\.\d+\n$")

    def test_man_page_documents_every_option(self):
        out = subprocess.run([tbtest.binary("thingsbusd"), "--help"], capture_output=True,
                             timeout=WAIT)
        self.assertEqual(out.returncode, 0)
        names = set(re.findall(r"--([a-z][a-z0-9-]+)", out.stdout.decode()))
        self.assertGreater(len(names), 15)
        with open(os.path.join(tbtest.TOP, "man", "thingsbusd.8")) as f:
            man = f.read().replace("\\-", "-")
        missing = sorted(n for n in names if "--" + n not in man)
        self.assertEqual(missing, [], "options missing from man/thingsbusd.8")
        for needed in ("_thingsbus._tcp.example.org. 3600 IN SRV 10 60 7954 broker.example.org.",
                       "srv-host=_thingsbus._tcp.example.org,broker.example.org,7954,10,60",
                       "SIGUSR1", "EXIT STATUS"):
            self.assertIn(needed, man)


if __name__ == "__main__":
    tbtest.main()

"""End-to-end tests of tb-generic-zmq-adaptor.

Why this exists: the bridge's promises are about real sockets and real
processes: a scripted PUB source process (pub_source.py) publishes JSON
through the bridge into a real thingsbusd, and a python3-zmq SUB on the
broker's PUB socket reads what comes out (an independent reader: nothing of
our C codec is used on the reading side).  Covered: the lidless example of
the original README (filter, flat projections, nskey, tskey), nested paths,
whole messages, every skip reason with its counter (SIGUSR1 and exit), two
sources at once, a source restarted on the same port, the queue-full path,
usage errors, and that the man page names every option and skip reason.

When thingsbusd is not built, the scenarios run against a bare python3-zmq
PULL socket standing in for the broker's input (reported as a TAP note);
the wire-level checks always use that PULL socket.
"""
import json
import os
import re
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402
import zmq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "pub_source.py")
PROGRAM = "tb-generic-zmq-adaptor"
DOC = "https://wiki.pumpingstationone.org/Spacemon#Things_Bus"
SKIP_REASONS = ["too_large", "multi_frame", "not_json", "not_object", "no_filter_key",
                "filtered_out", "missing_nskey", "bad_nskey", "missing_tskey", "bad_tskey",
                "missing_projection", "rejected", "queue_full", "send_failed"]
SLOW = 3.0 if os.environ.get("TB_SANITIZED") else 1.0


def have_broker():
    return os.path.exists(os.path.join(tbtest.BUILD, "bin", "thingsbusd"))


class PullBus:
    """A bare PULL socket standing in for the broker's adaptor input."""

    kind = "pull"

    def __init__(self, ctx):
        self.port = tbtest.free_port()
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:%d" % self.port)
        self.input_url = "tcp://127.0.0.1:%d" % self.port

    def sync(self):
        pass

    def recv_raw(self, timeout):
        if self.sock.poll(int(timeout * 1000)):
            return self.sock.recv()
        return None

    def close(self):
        self.sock.close()


class BrokerBus:
    """A real thingsbusd and a python3-zmq SUB on its PUB socket."""

    kind = "broker"

    def __init__(self, ctx):
        self.broker = tbtest.Broker()
        self.input_url = self.broker.input_url
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(self.broker.pub_url)
        self.push = ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.connect(self.broker.input_url)

    def sync(self):
        """Until an update we push directly comes back, the SUB may miss some."""
        deadline = time.monotonic() + 10 * SLOW
        n = 0
        while time.monotonic() < deadline:
            n += 1
            ns = "sync.s%d" % n
            self.push.send(json.dumps({"type": "thing_update", "ns": ns, "data": n,
                                       "ts": time.time()}).encode())
            end = time.monotonic() + 0.2
            while time.monotonic() < end:
                if self.sub.poll(50):
                    msg = json.loads(self.sub.recv())
                    if msg.get("type") == "thing_update" and msg.get("ns") == ns:
                        return
        raise TimeoutError("the broker never echoed our sync update")

    def recv_raw(self, timeout):
        if self.sub.poll(int(timeout * 1000)):
            return self.sub.recv()
        return None

    def close(self):
        self.sub.close()
        self.push.close()
        self.broker.stop()


class Bridge:
    """tb-generic-zmq-adaptor with its stderr in a file we can poll."""

    def __init__(self, args):
        self.log = tempfile.NamedTemporaryFile(prefix="tb-bridge-", suffix=".log", delete=False)
        self.proc = tbtest.Process([tbtest.binary(PROGRAM)] + list(args),
                                   stdout=self.log, stderr=self.log)

    def text(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for(self, pattern, count=1, timeout=10.0):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text(), re.M)
            if len(found) >= count:
                return found
            if self.proc.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("no %r (x%d) in the bridge's log:\n%s" % (pattern, count, self.text()))

    def counters(self, timeout=10.0):
        """Sends SIGUSR1; returns the counters of the newest 'counters:' line."""
        before = len(re.findall(r"counters: ", self.text()))
        self.proc.signal(signal.SIGUSR1)
        lines = self.wait_for(r"counters: (.*)$", count=before + 1, timeout=timeout)
        return parse_counters(lines[-1])

    def stop(self):
        code, _, _ = self.proc.stop(signal.SIGTERM, timeout=15 * SLOW)
        return code, self.text()

    def cleanup(self):
        if self.proc.proc.poll() is None:
            self.proc.stop(signal.SIGKILL)
        self.log.close()
        os.unlink(self.log.name)


def parse_counters(text):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


class Source:
    """pub_source.py bound on a free port publishing a script."""

    def __init__(self, items, port=None, subscribers=1):
        self.port = port or tbtest.free_port()
        self.url = "tcp://127.0.0.1:%d" % self.port
        fd, self.script = tempfile.mkstemp(prefix="tb-source-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(items, f)
        self.proc = tbtest.Process(["/usr/bin/python3", SOURCE, self.url, self.script,
                                    str(subscribers)])
        line = self.proc.proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError("source did not start: %r %r" % (line, self.proc.stop()))

    def wait_done(self, timeout=20.0):
        line = self.proc.proc.stdout.readline()      # "done" once all is published
        if line.strip() != b"done":
            raise AssertionError("source did not publish its script: %r" % (line,))

    def stop(self):
        result = self.proc.stop()
        os.unlink(self.script)
        return result


def J(value):
    return {"json": value}


def percept(cam, t, lum, busy, **extra):
    m = {"mtype": "percept_update", "camname": cam, "frame_time": t,
         "luminance": lum, "ratio_busy": busy, "frame": 17}
    m.update(extra)
    return m


END = J(percept("end", 1.5, 0, 0))


class BridgeCase(unittest.TestCase):
    use_broker = None

    def setUp(self):
        self.ctx = zmq.Context()
        self.cleanups = []
        kind = self.use_broker if self.use_broker is not None else have_broker()
        self.bus = BrokerBus(self.ctx) if kind else PullBus(self.ctx)
        self.bus.sync()

    def tearDown(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:
                pass
        self.bus.close()
        self.ctx.term()

    def bridge(self, *args, to_input=True):
        b = Bridge((["-u", self.bus.input_url] if to_input else []) + ["-d", DOC] + list(args))
        self.cleanups.append(b.cleanup)
        return b

    def source(self, items, **kw):
        s = Source(items, **kw)
        self.cleanups.append(s.stop)
        return s

    def updates_until(self, last_ns, count=1, timeout=15.0):
        """thing_updates read from the bus until last_ns was seen count
        times; sync.* updates and snapshots are left out."""
        got = []
        seen = 0
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            raw = self.bus.recv_raw(0.1)
            if raw is None:
                continue
            msg = json.loads(raw)
            if isinstance(msg, dict) and msg.get("type") == "thing_snapshot":
                continue
            if isinstance(msg, list):                        # list form
                msg = {"type": "thing_update", "ns": msg[0], "ts": msg[1], "data": msg[2],
                       "documentation_url": msg[3]}
            self.assertEqual(msg.get("type"), "thing_update", msg)
            if msg["ns"].startswith("sync."):
                continue
            got.append(msg)
            if msg["ns"] == last_ns:
                seen += 1
                if seen >= count:
                    return got
        self.fail("no %s update after %d updates: %r" % (last_ns, len(got), got[-5:]))


class TestLidless(BridgeCase):
    def test_lidless_example(self):
        """The README's lidless command, translated to our flags."""
        script = [
            J(percept("electronics", 1423351104.945, 114.361669921875, 0.14315257352941177)),
            J({"mtype": "frame_stats", "camname": "electronics", "fps": 3}),
            J({"camname": "electronics", "luminance": 1}),
            J(percept("woodshop", 1423351105, 40.5, 0.5)),          # integer frame_time
            J(percept("electronics", 1423351106.25, 110.0, 0.0)),
            END,
        ]
        src = self.source(script)
        b = self.bridge("--ns", "spacemon", "--nskey", "camname", "--tskey", "frame_time",
                        "--filter", "mtype:percept_update",
                        "--projections", "luminance,ratio_busy", "-v", "-s", src.url)
        src.wait_done()
        got = self.updates_until("spacemon.end")
        self.assertEqual([(m["ns"], m["data"]) for m in got], [
            ("spacemon.electronics", {"luminance": 114.361669921875,
                                      "ratio_busy": 0.14315257352941177}),
            ("spacemon.woodshop", {"luminance": 40.5, "ratio_busy": 0.5}),
            ("spacemon.electronics", {"luminance": 110.0, "ratio_busy": 0.0}),
            ("spacemon.end", {"luminance": 0, "ratio_busy": 0}),
        ])
        self.assertAlmostEqual(got[0]["ts"], 1423351104.945, places=6)
        self.assertAlmostEqual(got[1]["ts"], 1423351105.0, places=6)
        self.assertAlmostEqual(got[2]["ts"], 1423351106.25, places=6)
        for m in got:
            self.assertEqual(m["documentation_url"], DOC)
        c = b.counters()
        self.assertEqual((c["received"], c["forwarded"], c["filtered_out"], c["no_filter_key"],
                          c["skipped"]), (6, 4, 1, 1, 2))
        code, log = b.stop()
        self.assertEqual(code, 0, log)
        self.assertIn("counters at exit: received=6 forwarded=4 skipped=2", log)


class TestPaths(BridgeCase):
    def test_nested_paths_everywhere(self):
        msg = {"meta": {"kind": "cam", "camera": "door", "t": 1700000000.5, "x": 1},
               "readings": {"lux": 3, "noise": 9}, "other": True}
        script = [J(msg),
                  J({"meta": {"kind": "mic", "camera": "door", "t": 1.0}, "readings": {"lux": 1}}),
                  J({"meta": {"kind": "cam", "camera": "end", "t": 2.0}, "readings": {"lux": 0}})]
        src = self.source(script)
        self.bridge("--ns", "site.cams", "--filter", "meta.kind:cam", "--nskey", "meta.camera",
                    "--tskey", "meta.t", "--projections", "meta.camera,readings.lux",
                    "-s", src.url)
        src.wait_done()
        got = self.updates_until("site.cams.end")
        self.assertEqual(len(got), 2, got)
        self.assertEqual(got[0]["ns"], "site.cams.door")
        self.assertEqual(got[0]["data"], {"meta": {"camera": "door"}, "readings": {"lux": 3}})
        self.assertAlmostEqual(got[0]["ts"], 1700000000.5, places=6)

    def test_whole_message_without_rules(self):
        msg = {"a": 1, "b": {"c": [1, 2, {"d": None}]}, "s": "caf\u00e9 \u2603"}
        src = self.source([J(msg), J({"last": True})])
        self.bridge("--ns", "plain", "-s", src.url)
        src.wait_done()
        before = time.time()
        got = self.updates_until("plain", count=2)
        self.assertEqual([m["data"] for m in got], [msg, {"last": True}])
        for m in got:
            self.assertEqual(m["ns"], "plain")
            self.assertIsInstance(m["ts"], float)
            self.assertLess(abs(m["ts"] - before), 3600)   # stamped now, not zero


class TestSkipReasons(BridgeCase):
    def test_every_skip_reason_counted_logged_and_survived(self):
        deep = {"v": 1}
        for _ in range(300):
            deep = {"n": deep}
        good = percept("ok", 10.5, 1, 2)
        script = [
            J(good),
            {"text": "this is not json"},
            {"text": "{\"mtype\": \"percept_update\", "},
            {"hex": "7b2261223a22ff227d"},                 # {"a":"\xff"}: bad UTF-8
            {"text": "[1,2,3]"},
            {"text": "42"},
            {"frames": ["{\"a\":1}", "{\"b\":2}"]},
            {"size": 5000},
            J({"camname": "x", "frame_time": 1.0}),         # no mtype
            J({"mtype": "other", "camname": "x"}),
            J({"mtype": "percept_update", "frame_time": 1.0, "luminance": 1, "ratio_busy": 1}),
            J(percept("Electronics", 1.0, 1, 1)),
            J(percept("a.b", 1.0, 1, 1)),
            J(percept(7, 1.0, 1, 1)),
            J({"mtype": "percept_update", "camname": "x", "luminance": 1, "ratio_busy": 1}),
            J(percept("x", "1423351104.9", 1, 1)),
            J(percept("x", None, 1, 1)),
            J(percept("x", 1.0, 1, 1, extra=deep)),
            J(good),
            END,
        ]
        src = self.source(script)
        b = self.bridge("--ns", "spacemon", "--nskey", "camname", "--tskey", "frame_time",
                        "--filter", "mtype:percept_update", "--max-message-size", "4k",
                        "-v", "-s", src.url)
        src.wait_done()
        got = self.updates_until("spacemon.end")
        # no projections: the whole message is the data
        self.assertEqual([m["ns"] for m in got], ["spacemon.ok", "spacemon.ok", "spacemon.end"])
        self.assertEqual(got[0]["data"], good)
        c = b.counters()
        expect = {"received": len(script), "forwarded": 3, "not_json": 3, "not_object": 2,
                  "multi_frame": 1, "too_large": 1, "no_filter_key": 1, "filtered_out": 1,
                  "missing_nskey": 1, "bad_nskey": 3, "missing_tskey": 1, "bad_tskey": 2,
                  "missing_projection": 0, "rejected": 1, "queue_full": 0, "send_failed": 0}
        self.assertEqual({k: c[k] for k in expect}, expect, c)
        self.assertEqual(c["skipped"], len(script) - 3)
        code, log = b.stop()
        self.assertEqual(code, 0, log)
        for reason in ["not_json", "not_object", "multi_frame", "too_large", "no_filter_key",
                       "filtered_out", "missing_nskey", "bad_nskey", "missing_tskey",
                       "bad_tskey", "rejected"]:
            self.assertRegex(log, r"skipped a message from tcp://127\.0\.0\.1:\d+: %s: " % reason)
        self.assertIn("line 1 column", log)                # not_json says where
        exit_counters = parse_counters(re.findall(r"counters at exit: (.*)$", log, re.M)[-1])
        self.assertEqual(exit_counters, c)

    def test_missing_projection(self):
        script = [J({"a": 1, "b": 2, "n": "x"}), J({"a": 1, "n": "x"}),
                  J({"a": {"deep": 1}, "b": 0, "n": "end"})]
        src = self.source(script)
        b = self.bridge("--ns", "p", "--nskey", "n", "--projections", "a", "--projections",
                        "b", "-v", "-s", src.url)
        src.wait_done()
        got = self.updates_until("p.end")
        self.assertEqual([m["data"] for m in got], [{"a": 1, "b": 2}, {"a": {"deep": 1}, "b": 0}])
        c = b.counters()
        self.assertEqual((c["missing_projection"], c["forwarded"]), (1, 2))
        code, log = b.stop()
        self.assertEqual(code, 0)
        self.assertIn("missing_projection: no field 'b' (--projections)", log)

    def test_sigint_is_a_clean_exit(self):
        src = self.source([J({"n": 1})])
        b = self.bridge("--ns", "p", "-s", src.url)
        src.wait_done()
        self.updates_until("p")
        b.proc.signal(signal.SIGINT)
        code, _, _ = b.proc.wait(timeout=15 * SLOW)
        self.assertEqual(code, 0, b.text())
        self.assertIn("counters at exit: received=1 forwarded=1 skipped=0", b.text())


class TestSources(BridgeCase):
    def test_two_sources_at_once(self):
        a = self.source([J({"cam": "a", "i": i}) for i in range(20)] + [J({"cam": "enda"})])
        b_ = self.source([J({"cam": "b", "i": i}) for i in range(20)] + [J({"cam": "endb"})])
        c = self.source([J({"cam": "c", "i": i}) for i in range(5)] + [J({"cam": "endc"})])
        br = self.bridge("--ns", "two", "--nskey", "cam", "-s", a.url, "-s",
                         "%s , %s" % (b_.url, c.url))
        for s in (a, b_, c):
            s.wait_done()
        got = []
        remaining = {"two.enda", "two.endb", "two.endc"}
        deadline = time.monotonic() + 15 * SLOW
        while remaining and time.monotonic() < deadline:
            batch = self.updates_until(sorted(remaining)[0])
            got += batch
            remaining -= {m["ns"] for m in batch}
        self.assertFalse(remaining)
        for cam, n in (("a", 20), ("b", 20), ("c", 5)):
            seq = [m["data"]["i"] for m in got if m["ns"] == "two." + cam]
            self.assertEqual(seq, list(range(n)), cam)       # complete and in order
        self.assertEqual(br.counters()["received"], 48)

    def test_source_restart_on_the_same_port(self):
        first = self.source([J({"gen": 1, "n": "one"})])
        b = self.bridge("--ns", "restart", "--nskey", "n", "-s", first.url)
        first.wait_done()
        got = self.updates_until("restart.one")
        self.assertEqual(got[-1]["data"], {"gen": 1, "n": "one"})
        b.wait_for(r"source tcp://127\.0\.0\.1:%d connected" % first.port)
        first.stop()
        self.cleanups.remove(first.stop)
        b.wait_for(r"source tcp://127\.0\.0\.1:%d disconnected" % first.port)
        second = self.source([J({"gen": 2, "n": "two"})], port=first.port)
        second.wait_done()
        got = self.updates_until("restart.two")
        self.assertEqual(got[-1]["data"], {"gen": 2, "n": "two"})
        self.assertEqual(b.counters()["received"], 2)
        code, log = b.stop()
        self.assertEqual(code, 0, log)


class TestDiscovery(BridgeCase):
    def test_broker_found_through_zone(self):
        """-z and --dns-server: the broker's input comes from the SRV record
        (port P+1) served by a real dnsmasq."""
        if self.bus.kind != "broker" or not os.path.exists("/usr/sbin/dnsmasq"):
            self.skipTest("needs thingsbusd and dnsmasq")
        sys.path.insert(0, os.path.join(HERE, "..", "discovery"))
        from dnsserver import Dnsmasq
        dns = Dnsmasq(srv=[("_thingsbus._tcp.bus.test", "broker.bus.test",
                            self.bus.broker.base, 0, 0)],
                      hosts=[("broker.bus.test", ["127.0.0.1"], None)])
        self.cleanups.append(dns.stop)
        src = self.source([J({"cam": "zoned", "v": 1})])
        b = self.bridge("--ns", "dns", "--nskey", "cam", "-z", "bus.test", "--dns-server",
                        dns.server, "-s", src.url, to_input=False)
        src.wait_done()
        got = self.updates_until("dns.zoned")
        self.assertEqual(got[-1]["data"], {"cam": "zoned", "v": 1})
        code, log = b.stop()
        self.assertEqual(code, 0, log)


class TestWire(BridgeCase):
    use_broker = False            # what the bridge sends, byte for byte

    def test_update_as_sent(self):
        src = self.source([J(percept("electronics", 1423351104, 1.5, 0.25))])
        self.bridge("--ns", "spacemon", "--nskey", "camname", "--tskey", "frame_time",
                    "--projections", "luminance,ratio_busy", "-s", src.url)
        src.wait_done()
        raw = self.bus.recv_raw(10 * SLOW)
        self.assertIsNotNone(raw)
        msg = json.loads(raw)
        self.assertEqual(msg, {"type": "thing_update", "ns": "spacemon.electronics",
                               "data": {"luminance": 1.5, "ratio_busy": 0.25},
                               "ts": 1423351104.0, "documentation_url": DOC})
        # the original broker rejects an integer ts: it must travel as a float
        m = re.search(rb'"ts"\s*:\s*([-0-9.eE+]+)', raw)
        self.assertTrue(m and re.search(rb"[.eE]", m.group(1)), raw)

    def test_pub_mode_feeds_an_original_broker(self):
        """--pub: an original broker binds SUB on its input."""
        port = tbtest.free_port()
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.bind("tcp://127.0.0.1:%d" % port)
        self.cleanups.append(sub.close)
        src = self.source([J({"cam": "old", "v": 2.5})])
        b = Bridge(["--pub", "-u", "tcp://127.0.0.1:%d" % port, "--ns", "legacy", "--nskey",
                    "cam", "-s", src.url])
        self.cleanups.append(b.cleanup)
        src.wait_done()
        self.assertTrue(sub.poll(int(10000 * SLOW)), b.text())
        msg = json.loads(sub.recv())
        self.assertEqual((msg["type"], msg["ns"], msg["data"]),
                         ("thing_update", "legacy.old", {"cam": "old", "v": 2.5}))
        self.assertIsInstance(msg["ts"], float)

    def test_verbose_log_is_rate_limited(self):
        """A flood of bad messages is counted one by one but does not flood
        the log, and the log says how many lines it held back."""
        n = 1000
        src = self.source([{"text": "garbage %d" % i} for i in range(n)] + [J({"end": 1})])
        b = self.bridge("--ns", "flood", "-v", "-s", src.url)
        src.wait_done()
        raw = self.bus.recv_raw(10 * SLOW)
        self.assertEqual(json.loads(raw)["data"], {"end": 1})
        self.assertEqual(b.counters()["not_json"], n)
        code, log = b.stop()
        self.assertEqual(code, 0)
        lines = re.findall(r"skipped a message from .*: not_json: ", log)
        self.assertGreater(len(lines), 0)
        self.assertLess(len(lines), n)
        # what was held back is still counted in the log, the last of it
        # at the latest at exit: written + suppressed is every skip
        held = [int(k) for k in re.findall(r"\((\d+) similar messages suppressed\)", log)]
        self.assertEqual(len(lines) + sum(held), n, log[-2000:])

    def test_queue_full_when_broker_unreachable(self):
        """Nothing listens at the broker URL: the library's queue (2) and
        ZeroMQ's pipe fill up, then every further update is dropped and
        counted, and the bridge neither blocks nor loses count."""
        dead = "tcp://127.0.0.1:%d" % tbtest.free_port()
        total = 3000
        src = self.source([J({"i": i}) for i in range(total)])
        b = Bridge(["-u", dead, "--ns", "q", "--queue-size", "2", "--linger", "0.2",
                    "-v", "-s", src.url])
        self.cleanups.append(b.cleanup)
        src.wait_done()
        deadline = time.monotonic() + 20 * SLOW
        c = b.counters()
        while c["received"] < total and time.monotonic() < deadline:
            time.sleep(0.05)
            c = b.counters()
        self.assertEqual(c["received"], total)
        self.assertEqual(c["forwarded"] + c["queue_full"], total, c)
        self.assertGreaterEqual(c["queue_full"], 1, c)
        code, log = b.stop()
        self.assertEqual(code, 0, log)
        self.assertIn("the send queue is full", log)
        self.assertRegex(log, r"adaptor at exit: .*dropped=%d " % c["queue_full"])


class TestCommandLine(unittest.TestCase):
    def run_bridge(self, *args):
        p = tbtest.Process([tbtest.binary(PROGRAM)] + list(args))
        return p.wait(timeout=10 * SLOW)

    def test_usage_errors_exit_2_with_a_reason(self):
        src = "tcp://127.0.0.1:%d" % tbtest.free_port()
        cases = [
            ((["-s", src]), "--ns is required"),
            ((["--ns", "x"]), "--sources is required"),
            ((["--ns", "Bad", "-s", src]), "not a valid namespace"),
            ((["--ns", "x", "-s", "foo://bar"]), "foo://bar"),
            ((["--ns", "x", "-s", src + ",,"]), "empty entry"),
            ((["--ns", "x", "-s", src, "--filter", "novalue"]), "no ':'"),
            ((["--ns", "x", "-s", src, "--projections", "a,,b"]), "empty entry"),
            ((["--ns", "x", "-s", src, "--nskey", "a..b"]), "empty component"),
            ((["--ns", "x", "-s", src, "--tskey", ""]), "empty field name"),
            ((["--ns", "x", "-s", src, "-u", "tcp://127.0.0.1:1", "-z", "example.org"]),
             "not both"),
            ((["--ns", "x", "-s", src, "--dns-server", "127.0.0.1:53"]), "--zone"),
            ((["--ns", "x", "-s", src, "--queue-size", "0"]), "below"),
            ((["--ns", "x", "-s", src, "--bogus"]), "unknown option"),
            ((["--ns", "x", "-s"]), "needs a value"),
            ((["--ns", "x", "-s", src, "extra"]), "unexpected argument"),
            ((["--ns", "x", "-s", src, "-u", "not a url"]), "not a url"),
        ]
        for args, words in cases:
            code, out, err = self.run_bridge(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertIn(words, err.decode(), args)

    def test_help_and_version(self):
        code, out, err = self.run_bridge("--help")
        self.assertEqual(code, 0)
        for opt in ["--url", "--zone", "--dns-server", "--sources", "--filter", "--projections",
                    "--nskey", "--tskey", "--ns", "--documentation", "--verbose", "--help",
                    "--version"]:
            self.assertIn(opt, out.decode())
        code, out, err = self.run_bridge("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out.decode(), r"^tb-generic-zmq-adaptor \d+\.\d+")

    def test_man_page_names_every_option_and_reason(self):
        code, out, _ = self.run_bridge("--help")
        options = set(re.findall(r"--([a-z][a-z-]*)", out.decode().split("Options:")[1]))
        self.assertGreater(len(options), 15)
        with open(os.path.join(tbtest.TOP, "man", PROGRAM + ".1")) as f:
            man = f.read().replace("\\-", "-").replace("\\(hy", "-")
        for name in sorted(options):
            self.assertIn("--" + name, man, "option --%s is not in the man page" % name)
        for reason in SKIP_REASONS:
            self.assertIn(reason, man, "skip reason %s is not in the man page" % reason)
        self.assertIn("--ns spacemon --nskey camname --tskey frame_time", man)


def load_tests(loader, tests, pattern):
    if not have_broker():
        print("# thingsbusd is not built: scenarios run against a bare PULL socket "
              "standing in for the broker input", flush=True)
    return tests


if __name__ == "__main__":
    tbtest.main()

"""thingsbusd serving protocol v2 (proto/PROTOCOL.md, part 2), end to end.

Why this exists: the v2 engine is tested on its own in test/v2/; this
suite runs the real broker binary on free loopback ports and talks to it
with an independent Python v2 client (v2client.py, written from the spec)
and with the client library (tb-client-probe).  Checked: a client joining
while updates pour in ends with exactly the broker's state; filtered
subscriptions (spacemon vs spacemonitor); loss through a tiny high-water
mark is detected by the prev chains and repaired by a resync; GET and
CHILDREN; hostile requests counted by reason; the heartbeat timeout
(SIGSTOP/SIGCONT of the broker); a restart with persistence (seq continues,
epoch changes); 200 simultaneous joiners while ingest goes on; purge; --no-v2;
bind failures of P+2 and P+3.
"""
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tbtest  # noqa: E402
import zmq  # noqa: E402
from v2client import V2Mirror, request  # noqa: E402

SLOW = tbtest.SLOW
HB = ["--heartbeat", "200"]


def upd(ns, data):
    return json.dumps({"type": "thing_update", "ns": ns, "data": data},
                      separators=(",", ":")).encode()


wait_until = tbtest.wait_until


def stats_text(broker):
    code, out, err = broker.stop()
    return code, err.decode(errors="replace")


class V2Broker(unittest.TestCase):
    def setUp(self):
        self.ctx = zmq.Context()
        self.brokers = []
        self.mirrors = []
        self.probes = []

    def tearDown(self):
        for p in self.probes:
            p.stop()
        for m in self.mirrors:
            m.close()
        for b in self.brokers:
            b.stop()
        self.ctx.destroy(0)

    def broker(self, extra=(), **kw):
        extra = list(extra)
        if "--state-file" not in extra and "state_dir" not in kw:
            extra.append("--no-persistence")
        b = tbtest.Broker(extra=HB + ["--no-udp"] + extra, **kw)
        self.brokers.append(b)
        if "--no-v2" not in extra:
            tbtest.wait_tcp(b.base + 2)
            tbtest.wait_tcp(b.base + 3)
        return b

    def pusher(self, b):
        s = self.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 1000)
        s.connect(b.input_url)
        return s

    def mirror(self, b, prefix="", **kw):
        m = V2Mirror(self.ctx, b.base, prefix, **kw)
        self.mirrors.append(m)
        return m

    def probe(self, b, subs=()):
        import clienttest as ct
        p = ct.Probe(b.pub_url, subs=list(subs))
        self.probes.append(p)
        return p

    def full_state(self, b, prefix=""):
        """The broker's own view: a fresh SNAPSHOT of prefix, {ns: data}."""
        replies = request(self.ctx, b.base, [b"SNAPSHOT", b"check", prefix.encode(), b"16"],
                          timeout=30 * SLOW)
        self.assertEqual(replies[-1][0], b"END")
        out = {}
        for r in replies[:-1]:
            self.assertEqual(r[0], b"BATCH")
            for ns, e in json.loads(r[2])["data"].items():
                out[ns] = e["data"]
        return out

    def fence(self, b, push, mirror, n):
        """Publish marker zfence=n and pump the mirror until it holds it: every
        earlier update has then been applied (P+3 keeps order)."""
        push.send(upd("zfence", n))
        mirror.pump_until(lambda: mirror.data().get("zfence") == n, 20 * SLOW, "the fence")

    # ------------------------------------------------------------ tests
    def test_join_mid_stream_is_exact(self):
        b = self.broker()
        push = self.pusher(b)
        state = {}
        for i in range(3000):
            ns = "fill%d.t%d" % (i // 100, i)
            state[ns] = {"v": i}
            push.send(upd(ns, state[ns]))
        stop = threading.Event()
        lock = threading.Lock()
        # a second socket for the writer thread (zmq sockets are not shared)
        wpush = self.pusher(b)

        def writer():
            i = 0
            while not stop.is_set() and i < 20000:
                ns = "fill%d.t%d" % ((i * 7) % 3000 // 100, (i * 7) % 3000)
                with lock:
                    state[ns] = {"w": i}
                wpush.send(upd(ns, {"w": i}))
                i += 1
                if i % 50 == 0:
                    time.sleep(0.001)
        t = threading.Thread(target=writer)
        t.start()
        try:
            time.sleep(0.05)
            m = self.mirror(b)
            m.join(30 * SLOW)
            p = self.probe(b)
            self.assertEqual(p.command("synced %d" % int(20000 * SLOW), timeout=30 * SLOW),
                             "synced rc=0")
            time.sleep(0.2)
        finally:
            stop.set()
            t.join()
        wpush.close()
        self.fence(b, push, m, 1)
        expected = dict(state)
        expected["zfence"] = 1
        self.assertEqual(m.losses, 0)
        self.assertEqual(m.data(), expected)
        self.assertEqual(self.full_state(b), expected)
        # the client library ends with the same state
        wait_until(lambda: p.command("get zfence").startswith("get rc=0 data=1 "), 20,
                   "the fence in the library")
        line = p.command("subtree ")
        held = {}
        for part in line.split(" ")[3:]:
            name, _, data = part.partition("=")
            if data != "-":
                held[name] = json.loads(data)
        self.assertEqual(held, expected)
        st = p.stats()
        self.assertEqual(st["protocol"], 2)
        self.assertEqual(st["losses"], 0)

    def test_filtered_subscription_is_exact_and_isolated(self):
        b = self.broker()
        push = self.pusher(b)
        for i in range(50):
            push.send(upd("spacemon.r%d" % i, i))
            push.send(upd("spacemonitor.r%d" % i, i))
        m = self.mirror(b, "spacemon")
        m.join(30 * SLOW)
        for i in range(50, 80):
            push.send(upd("spacemonitor.r%d" % i, i))
            push.send(upd("spacemon.r%d" % i, i))
            push.send(upd("spacemon", i))
        push.send(upd("spacemon.zfence", 1))
        m.pump_until(lambda: "spacemon.zfence" in m.things, 20 * SLOW, "the fence")
        expected = {"spacemon.r%d" % i: i for i in range(80)}
        expected["spacemon"] = 79
        expected["spacemon.zfence"] = 1
        self.assertEqual(m.data(), expected)
        self.assertEqual(m.losses, 0)
        self.assertEqual(self.full_state(b, "spacemon"), expected)
        # heartbeats of the subtree keep proving nothing was lost
        n = len(m.heartbeats)
        m.pump_until(lambda: len(m.heartbeats) > n + 1, 10 * SLOW, "heartbeats")
        self.assertEqual(m.losses, 0)
        hb = m.heartbeats[-1]
        self.assertEqual(hb["ns"], "spacemon")
        self.assertEqual(hb["last"], m.last_seen)
        self.assertEqual(hb["interval"], 200)
        self.assertRegex(hb["epoch"], "^[0-9a-f]{16}$")

    def test_non_prefix_topic_still_receives(self):
        """A subscription that is not a namespace prefix ("spa") gets no
        heartbeat but still receives what matches, even with no other
        subscriber (the broker must not skip publishing)."""
        b = self.broker()
        push = self.pusher(b)
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"spa")
        sub.connect("tcp://127.0.0.1:%d" % (b.base + 3))
        got = None
        deadline = time.monotonic() + 20 * SLOW
        n = 0
        while got is None and time.monotonic() < deadline:
            n += 1
            push.send(upd("spacemon.x", n))
            if sub.poll(100):
                got = sub.recv_multipart()
        sub.close(0)
        self.assertIsNotNone(got)
        self.assertEqual(got[0], b"spacemon.x.")
        msg = json.loads(got[1])
        self.assertEqual((msg["type"], msg["ns"], len(msg["prev"])), ("thing_update", "spacemon.x", 3))

    def test_tiny_hwm_loss_is_detected_and_resync_repairs(self):
        b = self.broker(["--v2-pub-hwm", "5"])
        push = self.pusher(b)
        push.send(upd("a.b", 0))
        m = self.mirror(b, "a", rcvhwm=5)
        m.join(30 * SLOW)
        state = {"a.b": 0}
        for i in range(5000):             # the mirror does not read meanwhile
            ns = "a.x%d" % (i % 300)
            state[ns] = i
            push.send(upd(ns, i))
        push.send(upd("a.zfence", 1))
        state["a.zfence"] = 1
        wait_until(lambda: self.full_state(b, "a").get("a.zfence") == 1, 20, "ingest")
        deadline = time.monotonic() + 20 * SLOW
        while m.losses == 0 and time.monotonic() < deadline:
            m.pump(0.2)
        self.assertGreater(m.losses, 0, "the chain (or a heartbeat) must reveal the loss")
        m.resync(30 * SLOW)
        self.assertEqual(m.data(), state)
        # and the client library, stopped while the flood passes, reports and repairs
        p = self.probe(b, subs=["a/tree"])
        self.assertEqual(p.command("synced %d" % int(20000 * SLOW), timeout=30 * SLOW),
                         "synced rc=0")
        p.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(20000):
                ns = "a.x%d" % (i % 300)
                state[ns] = -i
                push.send(upd(ns, -i))
            wait_until(lambda: self.full_state(b, "a")["a.x299"] == state["a.x299"], 20,
                       "the flood")
        finally:
            p.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: p.stats()["losses"] >= 1, 20, "the library's loss report")
        push.send(upd("a.zfence", 2))
        state["a.zfence"] = 2
        wait_until(lambda: p.command("get a.zfence").startswith("get rc=0 data=2 "), 20,
                   "the resync")
        for ns in ("a.x0", "a.x150", "a.x299", "a.b"):
            self.assertTrue(p.command("get " + ns).startswith(
                "get rc=0 data=%s " % json.dumps(state[ns])), ns)

    def test_get_children_and_rejected_requests(self):
        b = self.broker()
        push = self.pusher(b)
        push.send(json.dumps({"type": "thing_update", "ns": "spacemon.electronics",
                              "data": {"luminance": 106.5}, "ts": 1700000000.5,
                              "documentation_url": "http://x/doc"},
                             separators=(",", ":")).encode())
        push.send(upd("spacemon.b", 2))
        wait_until(lambda: request(self.ctx, b.base, [b"GET", b"q", b"spacemon.b"])[0][0]
                   == b"THING", 10, "the update")
        r = request(self.ctx, b.base, [b"GET", b"q", b"spacemon.electronics"])
        self.assertEqual(r, [[b"THING", b"q",
                              b'{"spacemon.electronics":{"data":{"luminance":106.5},'
                              b'"ts":1700000000.5,"ns":"spacemon.electronics",'
                              b'"documentation_url":"http://x/doc","seq":1}}']])
        self.assertEqual(request(self.ctx, b.base, [b"GET", b"q", b"spacemon"])[0][:3],
                         [b"ERROR", b"q", b"no_data"])
        self.assertEqual(request(self.ctx, b.base, [b"GET", b"q", b"nothere"])[0][:3],
                         [b"ERROR", b"q", b"not_found"])
        r = request(self.ctx, b.base, [b"CHILDREN", b"c", b"spacemon", b"4"])
        self.assertEqual(r[0][:2], [b"BATCH", b"c"])
        body = json.loads(r[0][2])
        self.assertEqual(body["type"], "thing_children")
        self.assertEqual(sorted(body["children"]), ["spacemon.b", "spacemon.electronics"])
        end = json.loads(r[-1][2])
        self.assertEqual((end["type"], end["ns"], end["things"], end["last"]),
                         ("snapshot_end", "spacemon", 2, 2))
        hostile = [
            ([b"GET", b"q", b"bad..ns"], b"bad_ns"),
            ([b"SNAPSHOT", b"r", b"", b"0"], b"bad_credit"),
            ([b"SNAPSHOT", b"r", b"", b"x" * 2000], b"bad_frames"),
            ([b"HELLO", b"r"], b"unknown_command"),
            ([b"GET", b"x" * 33, b"a"], b"bad_rid"),
            ([b"GET", b"q", b"\xff\xfe"], b"bad_ns"),
        ]
        for frames, reason in hostile:
            r = request(self.ctx, b.base, frames)
            self.assertEqual((r[0][0], r[0][2]), (b"ERROR", reason), frames)
        # still serving, and every rejection counted by name
        self.assertEqual(request(self.ctx, b.base, [b"GET", b"q", b"spacemon.b"])[0][0],
                         b"THING")
        code, err = stats_text(b)
        self.assertEqual(code, 0)
        line = [l for l in err.splitlines() if "stats: v2 rejected" in l][-1]
        self.assertIn("bad_ns=2", line)
        self.assertIn("bad_credit=1", line)
        self.assertIn("bad_frames=1", line)
        self.assertIn("unknown_command=1", line)
        self.assertIn("bad_rid=1", line)
        counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
        self.assertEqual(counts["total"], sum(v for k, v in counts.items() if k != "total"))
        # (a CREDIT racing the CHILDREN stream's END may add no_stream=1: legitimate)
        self.assertLessEqual(counts["no_stream"], 1)

    def test_heartbeat_timeout_then_recovery(self):
        b = self.broker()
        push = self.pusher(b)
        push.send(upd("k", 1))
        p = self.probe(b, subs=["/tree"])
        self.assertEqual(p.command("synced %d" % int(20000 * SLOW), timeout=30 * SLOW),
                         "synced rc=0")
        os.kill(b.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: p.stats()["broker_deaths"] >= 1, 20, "the dead-broker report")
        finally:
            os.kill(b.pid, signal.SIGCONT)
        push.send(upd("k", 2))
        wait_until(lambda: p.command("get k").startswith("get rc=0 data=2 "), 30,
                   "the recovery")
        st = p.stats()
        self.assertTrue(st["connected"])
        self.assertEqual(st["protocol"], 2)

    def test_restart_with_persistence_continues_seq_new_epoch(self):
        state_dir = tempfile.mkdtemp(prefix="tb-v2-state-")
        path = os.path.join(state_dir, "s.state")
        b = self.broker(["--state-file", path])
        base = b.base
        push = self.pusher(b)
        for i in range(100):
            push.send(upd("r.t%d" % (i % 10), i))
        m = self.mirror(b)
        m.join(30 * SLOW)
        m.pump_until(lambda: m.things.get("r.t9", {}).get("data") == 99, 20 * SLOW, "100")
        epoch1, seq1 = m.epoch, m.last_seen
        self.assertEqual(seq1, 100)
        p = self.probe(b, subs=["/tree"])
        self.assertEqual(p.command("synced %d" % int(20000 * SLOW), timeout=30 * SLOW),
                         "synced rc=0")
        push.close(0)
        code, _ = stats_text(b)
        self.assertEqual(code, 0)
        self.brokers.remove(b)
        b2 = self.broker(["--state-file", path], base=base)
        push = self.pusher(b2)
        push.send(upd("r.new", 1))
        # the old mirror sees the new epoch in heartbeats: a restart
        m.pump_until(lambda: any(h["epoch"] != epoch1 for h in m.heartbeats), 20 * SLOW,
                     "the new epoch")
        m.resync(30 * SLOW)
        self.assertNotEqual(m.epoch, epoch1)
        self.assertEqual(m.things["r.new"]["seq"], 101)       # numbering continued
        expected = {"r.t%d" % i: 90 + i for i in range(10)}
        expected["r.new"] = 1
        self.assertEqual(m.data(), expected)
        wait_until(lambda: p.command("get r.new").startswith("get rc=0 data=1 "), 30,
                   "the library's rejoin")
        self.assertGreaterEqual(p.stats()["broker_restarts"], 1)
        self.assertTrue(p.command("get r.t3").startswith("get rc=0 data=93 "))

    def test_200_joiners_while_ingesting(self):
        b = self.broker(["--v2-max-streams", "256", "--v2-batch-bytes", "4096"])
        push = self.pusher(b)
        n_things = 2000
        for i in range(n_things):
            push.send(upd("j%d.t%d" % (i // 100, i), i))
        push.send(upd("zready", 1))
        wait_until(lambda: request(self.ctx, b.base, [b"GET", b"q", b"zready"])[0][0]
                   == b"THING", 20, "the fill")
        dealers = []
        for k in range(200):
            d = self.ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.connect("tcp://127.0.0.1:%d" % (b.base + 2))
            dealers.append(d)
        for k, d in enumerate(dealers):
            d.send_multipart([b"SNAPSHOT", b"r%d" % k, b"", b"4"])
        got = [dict() for _ in dealers]
        ends = [None] * len(dealers)
        poller = zmq.Poller()
        for d in dealers:
            poller.register(d, zmq.POLLIN)
        sent = 0
        deadline = time.monotonic() + 120 * SLOW
        while None in ends and time.monotonic() < deadline:
            # ingest goes on while the streams are served
            for _ in range(5):
                push.send(upd("live.x", sent))
                sent += 1
            for sock, _ in poller.poll(20):
                k = dealers.index(sock)
                while sock.poll(0):
                    r = sock.recv_multipart()
                    if r[0] == b"BATCH":
                        got[k].update(json.loads(r[2])["data"])
                        sock.send_multipart([b"CREDIT", r[1], b"1"])
                    elif r[0] == b"END":
                        ends[k] = json.loads(r[2])
                    else:
                        self.fail("unexpected reply %r" % r[:3])
        self.assertNotIn(None, ends, "every joiner got its END")
        for k in range(len(dealers)):
            fill = {ns for ns in got[k] if ns.startswith("j")}
            self.assertEqual(len(fill), n_things, k)
            self.assertEqual(ends[k]["things"], len(got[k]))
        # updates were accepted while the streams ran (seq moved during them)
        self.assertTrue(any(e["seq"] > e["start"] for e in ends))
        push.send(upd("zdone", 1))
        wait_until(lambda: request(self.ctx, b.base, [b"GET", b"q", b"zdone"])[0][0]
                   == b"THING", 20, "the last update")
        r = request(self.ctx, b.base, [b"GET", b"q", b"live.x"])
        self.assertEqual(json.loads(r[0][2])["live.x"]["data"], sent - 1)
        for d in dealers:
            d.close(0)

    def test_purge_tells_v2_clients_and_forgets(self):
        state_dir = tempfile.mkdtemp(prefix="tb-v2-purge-")
        path = os.path.join(state_dir, "s.state")
        b = self.broker(["--purge-age", str(2 * SLOW), "--state-file", path,
                         "--snapshot-interval", "0.3"])
        base = b.base
        push = self.pusher(b)
        push.send(upd("old.a", 1))
        push.send(upd("old.a.child", 2))
        m = self.mirror(b, "old")
        m.join(30 * SLOW)
        self.assertEqual(m.data(), {"old.a": 1, "old.a.child": 2})
        m.pump_until(lambda: len(m.purges) >= 2, 20 * SLOW, "the purges")
        self.assertEqual(sorted(x["ns"] for x in m.purges), ["old.a", "old.a.child"])
        for x in m.purges:
            self.assertEqual(len(x["prev"]), x["ns"].count(".") + 2)
        self.assertEqual(m.losses, 0)
        self.assertEqual(m.data(), {})
        self.assertEqual(self.full_state(b), {})
        self.assertEqual(request(self.ctx, base, [b"GET", b"q", b"old.a"])[0][2], b"no_data")
        # the v1 snapshot no longer lists it
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(b.pub_url)
        deadline = time.monotonic() + 10 * SLOW
        snap = None
        while time.monotonic() < deadline and snap is None:
            if sub.poll(200):
                msg = json.loads(sub.recv())
                if msg["type"] == "thing_snapshot":
                    snap = msg
        sub.close(0)
        self.assertIsNotNone(snap)
        self.assertNotIn("old.a", snap["data"])
        # a new value brings it back, with a continuing chain
        push.send(upd("old.a", 3))
        m.pump_until(lambda: m.data().get("old.a") == 3, 20 * SLOW, "the return")
        self.assertEqual(m.losses, 0)
        push.close(0)
        code, err = stats_text(b)
        self.assertEqual(code, 0)
        self.assertRegex(err, r"purged=[23] ")
        self.brokers.remove(b)
        # the purge reached the state file: only the new value comes back
        b2 = self.broker(["--state-file", path], base=base)
        self.assertEqual(self.full_state(b2), {"old.a": 3})

    def test_no_v2_leaves_p2_p3_closed(self):
        b = self.broker(["--no-v2"])
        for port in (b.base + 2, b.base + 3):
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        code, err = stats_text(b)
        self.assertEqual(code, 0)
        self.assertIn("stats: v2 enabled=0", err)

    def test_purge_without_v2_forgets(self):
        b = self.broker(["--no-v2", "--purge-age", str(1 * SLOW), "--snapshot-interval",
                         "0.2"])
        push = self.pusher(b)
        push.send(upd("gone.a", 1))
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(b.pub_url)
        seen = False
        deadline = time.monotonic() + 20 * SLOW
        empty_after_seen = False
        while time.monotonic() < deadline and not empty_after_seen:
            if sub.poll(200):
                msg = json.loads(sub.recv())
                if msg["type"] == "thing_snapshot":
                    if "gone.a" in msg["data"]:
                        seen = True
                    elif seen:
                        empty_after_seen = True
        sub.close(0)
        self.assertTrue(seen and empty_after_seen)
        code, err = stats_text(b)
        self.assertEqual(code, 0)
        self.assertIn("stats: v2 enabled=0 purged=1", err)

    def test_bind_failure_names_the_v2_endpoint(self):
        for offset, what in ((2, "snapshot service"), (3, "filtered PUB")):
            base = tbtest.free_base_port()
            blocker = socket.socket()
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            blocker.bind(("127.0.0.1", base + offset))
            blocker.listen(1)
            try:
                b = tbtest.Broker(extra=["--no-persistence", "--no-udp"], base=base,
                                  wait=False)
                code, _, err = b.wait(timeout=20 * SLOW)
            finally:
                blocker.close()
            self.assertEqual(code, 1)
            text = err.decode()
            self.assertIn("cannot bind the %s endpoint tcp://127.0.0.1:%d" % (what, base + offset),
                          text)

    def test_options_in_help(self):
        out = tbtest.Process([tbtest.binary("thingsbusd"), "--help"]).wait()[1].decode()
        for opt in ("--snapshot-endpoint", "--v2-pub-endpoint", "--no-v2", "--heartbeat",
                    "--purge-age", "--v2-max-streams", "--v2-batch-bytes", "--v2-credit-cap",
                    "--v2-pub-hwm", "--v2-stream-timeout", "--v2-step-budget"):
            self.assertIn(opt, out)
        self.assertTrue(re.search(r"PORT\+3", out))


if __name__ == "__main__":
    tbtest.main()

"""libthingsbus-client and tb-print-events against a protocol v2 server.

Why this exists: the client library speaks protocol v2 when the broker
offers it (PROTOCOL.md section 15).  The server here is tb-v2-testhost
(the v2 engine over a test directory, bound on P+2/P+3 of a free base port P, driven on stdin); the client is
given the broker URL tcp://127.0.0.1:P, as it would be for thingsbusd.  The
test host can fix timestamps and store an update without publishing it, so
losses and exact states are deterministic; the same behaviours against the
real thingsbusd are in test/broker/test_v2_broker.py.
Checked: a client joining mid-stream ends with exactly the server's state;
a lost update (the testhost stores it without publishing: "x") is detected,
counted, flagged on the next event and repaired by a resync; purges;
heartbeat timeout and reconnection; epoch change (restart); subtree
filtering; tb-print-events --dump from the snapshot service and loss
reporting; and that a v1-only broker is recognised (protocol 1).
"""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clienttest as ct  # noqa: E402
from clienttest import tbtest  # noqa: E402

import subprocess  # noqa: E402
import threading  # noqa: E402
import zmq  # noqa: E402

HOST = os.path.join(tbtest.BUILD, "bin", "tb-v2-testhost")
TOOL = os.path.join(tbtest.BUILD, "bin", "tb-print-events")
TS = "1700000000.500"     # the testhost's fixed timestamp, as printed
SLOW = tbtest.SLOW


def free_base():
    return tbtest.free_base_port(span=4)


class TestHost:
    """tb-v2-testhost serving v2 on P+2/P+3."""

    def __init__(self, base, heartbeat_ms=1000):
        self.base = base
        self.proc = tbtest.Process([HOST, str(heartbeat_ms), "65536", str(base)],
                                   stdin=subprocess.PIPE)
        self.out = ct.LineReader(self.proc.proc.stdout)
        self.out.wait_for(lambda l: l.startswith("SNAP "), timeout=10)
        self.out.wait_for(lambda l: l.startswith("PUB "), timeout=10)
        self.url = "tcp://127.0.0.1:%d" % base

    def cmd(self, text):
        self.proc.proc.stdin.write((text + "\n").encode())
        self.proc.proc.stdin.flush()
        line = self.out.wait_for(lambda l: l.startswith("ok ") or l.startswith("error"),
                                 timeout=10)
        assert line.startswith("ok "), line
        return int(line.split()[1])

    def kill(self):
        if self.proc.proc.poll() is None:
            self.proc.proc.send_signal(signal.SIGKILL)
        self.proc.proc.wait(timeout=10)
        if self.proc in tbtest._live:
            tbtest._live.remove(self.proc)


wait_until = tbtest.wait_until


def subtree(probe, ns=""):
    """{ns: data} of the Things with data, from the probe's mirror."""
    line = probe.command("subtree " + ns)
    out = {}
    for part in line.split(" ")[3:]:
        name, _, data = part.partition("=")
        if data != "-":
            out[name] = data
    return out


class V2Client(unittest.TestCase):
    def setUp(self):
        self.host = TestHost(free_base())
        self.probes = []

    def tearDown(self):
        for p in self.probes:
            p.stop()
        self.host.kill()

    def probe(self, subs=()):
        p = ct.Probe(self.host.url, subs=list(subs))
        self.probes.append(p)
        return p

    def settle(self, probe):
        """Wait until the probe has seen a fresh marker (all before it applied)."""
        n = self.host.cmd('u zend {"n":%d}' % time.monotonic_ns())
        probe.out.wait_for(lambda l: l.startswith("event sub=2 "), timeout=10 * SLOW)
        return n

    def test_join_mid_stream_is_exact(self):
        self.host.cmd("f 3000")
        state = {}
        p = self.probe()
        # updates keep coming while the client joins
        for i in range(300):
            t = (i * 7) % 3000
            ns = "fill%d.t%d" % (t // 100, t)
            state[ns] = '{"w":%d}' % i
            self.host.cmd("u %s %s" % (ns, state[ns]))
        self.assertEqual(p.command("synced %d" % int(10000 * SLOW)), "synced rc=0")
        self.settle(p)
        held = subtree(p)
        self.assertEqual(sorted(set(held) - set(state) - {"fill%d.t%d" % (i // 100, i)
                                                         for i in range(3000)}), ["zend"])
        self.assertEqual(len(held), 3000 + 1)          # + zend
        for ns, data in state.items():
            self.assertEqual(held[ns], data)
        self.assertEqual(held["fill0.t1"], '{"v":1}')
        st = p.stats()
        self.assertEqual(st["protocol"], 2)
        self.assertEqual(st["losses"], 0)
        self.assertTrue(st["synced"] and st["connected"])

    def test_gap_is_detected_reported_and_repaired(self):
        self.host.cmd('u a.x 1')
        p = self.probe(subs=["a/tree+snapshot"])
        self.assertEqual(p.command("synced %d" % int(10000 * SLOW)), "synced rc=0")
        self.settle(p)
        self.host.cmd('x a.lost 42')         # stored, never published: lost
        self.host.cmd('u a.y 2')             # its prev chain shows the hole
        # the resync brings the lost value as a snapshot event; the first
        # event after the loss carries the loss flag
        lines = []
        lost = p.out.wait_for(lambda l: l.startswith("event sub=3 ns=a.lost "),
                              timeout=10 * SLOW, keep=lines)
        flagged = [l for l in lines + [lost] if l.startswith("event sub=3 ")]
        self.assertIn("+loss", flagged[0])
        self.assertEqual(sum("+loss" in l for l in flagged), 1)
        self.assertEqual(ct.parse_event(lost)["data"], "42")
        self.assertTrue(ct.parse_event(lost)["flags"].startswith("tree+snapshot"))
        self.assertTrue(p.command("get a.lost").startswith("get rc=0 data=42 "))
        st = p.stats()
        self.assertEqual(st["losses"], 1)
        self.assertGreaterEqual(st["resyncs"], 1)
        # loss of the last message before a quiet spell: the heartbeat shows it
        self.host.cmd('x a.tail 7')
        wait_until(lambda: p.stats()["losses"] == 2, 10, "the heartbeat check")
        wait_until(lambda: p.command("get a.tail").startswith("get rc=0 data=7 "), 10,
                   "the second resync")

    def test_purge_removes_and_notifies(self):
        self.host.cmd('u p.a 1')
        self.host.cmd('u p.b 2')
        p = self.probe(subs=["p/tree+purge", "p/tree"])
        self.assertEqual(p.command("synced %d" % int(10000 * SLOW)), "synced rc=0")
        self.host.cmd('p p.a')
        line = p.out.wait_for(lambda l: " ns=p.a " in l, timeout=10 * SLOW)
        ev = ct.parse_event(line)
        self.assertEqual((ev["sub"], ev["flags"], ev["data"]), (3, "tree+purge", "null"))
        self.assertEqual(p.command("get p.a"), "get rc=-16 data=-")
        self.assertEqual(p.command("children p"), "children rc=0 n=1 p.b")
        self.settle(p)
        self.assertEqual(p.stats()["purges"], 1)

    def test_filtered_subtree(self):
        self.host.cmd('u plant.a 1')
        self.host.cmd('u other.x 2')
        probe = tbtest.Process([ct.PROBE, self.host.url, "--subtree", "plant",
                                "zsync/none", "zend/none", "/tree"], stdin=subprocess.PIPE)
        out = ct.LineReader(probe.proc.stdout)
        out.wait_for(lambda l: l == "ready", timeout=10)

        def cmd(text):
            probe.proc.stdin.write((text + "\n").encode())
            probe.proc.stdin.flush()
            return out.wait_for(lambda l: l.startswith(text.split()[0] + " "), timeout=10)
        try:
            self.assertEqual(cmd("synced %d" % int(10000 * SLOW)), "synced rc=0")
            self.assertTrue(cmd("get plant.a").startswith("get rc=0 data=1 "))
            self.assertEqual(cmd("get other.x"), "get rc=-16 data=-")
            self.host.cmd('u other.y 3')
            self.host.cmd('u plant.b 4')
            line = out.wait_for(lambda l: l.startswith("event "), timeout=10 * SLOW)
            self.assertIn(" ns=plant.b ", line)      # other.y never reached us
            st = json.loads(cmd("stats")[len("stats "):])
            self.assertEqual((st["protocol"], st["losses"]), (2, 0))
        finally:
            probe.proc.stdin.write(b"quit\n")
            probe.proc.stdin.flush()
            probe.wait(timeout=10)

    def test_dump_uses_the_snapshot_service(self):
        self.host.cmd('u plant.pump {"rpm":1200}')
        self.host.cmd('u plant "root of plant"')
        self.host.cmd('u plant.a.b [true]')
        self.host.cmd('u elsewhere 1')
        t0 = time.monotonic()
        proc = tbtest.Process([TOOL, "-u", self.host.url, "--dump", "-n", "plant",
                               "--timeout", "20"])
        code, stdout, err = proc.wait(timeout=30)
        self.assertEqual(code, 0, err)
        self.assertEqual(stdout.decode().splitlines(), [
            'ThingEvent<Thing<plant>, ts=%s, flags=F_SNAPSHOT, data="root of plant">' % TS,
            'ThingEvent<Thing<plant.a.b>, ts=%s, flags=F_SNAPSHOT, data=[true]>' % TS,
            'ThingEvent<Thing<plant.pump>, ts=%s, flags=F_SNAPSHOT, data={"rpm":1200}>' % TS,
        ])
        # no periodic snapshot to wait for (that would take 15 s)
        self.assertLess(time.monotonic() - t0, 10 * SLOW)

    def test_print_events_reports_loss(self):
        proc = tbtest.Process([TOOL, "-u", self.host.url, "--json"])
        out = ct.LineReader(proc.proc.stdout)
        try:
            deadline = time.monotonic() + 10 * SLOW
            first = None
            while first is None and time.monotonic() < deadline:
                self.host.cmd('u k 0')
                first = out.get(0.2)
            self.assertIsNotNone(first)
            self.host.cmd('x k.lost 1')
            self.host.cmd('u k.next 2')
            line = None
            deadline = time.monotonic() + 10 * SLOW
            while line is None and time.monotonic() < deadline:
                self.host.cmd('u k.more 3')    # the next fresh event carries the flag
                try:
                    line = out.wait_for(lambda l: "loss" in json.loads(l)["flags"],
                                        timeout=0.3)
                except TimeoutError:
                    pass
            self.assertIsNotNone(line)
            obj = json.loads(line)
            self.assertEqual(obj["losses"], 1)
        finally:
            code, _, err = proc.stop()
        self.assertIn(b"updates were lost", err)


class V2BrokerLife(unittest.TestCase):
    """Death and restart of the server under a connected client."""

    def setUp(self):
        self.base = free_base()
        self.hosts = []
        self.p = None

    def tearDown(self):
        if self.p:
            self.p.stop()
        for h in self.hosts:
            h.kill()

    def start(self, hb=1000):
        h = TestHost(self.base, hb)
        self.hosts.append(h)
        return h

    def test_heartbeat_timeout_then_restart(self):
        h = self.start(hb=200)
        h.cmd("f 50")
        self.p = ct.Probe(h.url, subs=["/tree"])
        self.assertEqual(self.p.command("synced %d" % int(10000 * SLOW)), "synced rc=0")
        self.assertEqual(self.p.stats()["things"] > 50, True)
        h.kill()
        wait_until(lambda: self.p.stats()["broker_deaths"] >= 1, 10, "the death")
        self.assertFalse(self.p.stats()["connected"])
        h2 = self.start(hb=200)
        h2.cmd('u fresh 3')                 # a new state, seq 1
        wait_until(lambda: self.p.command("get fresh").startswith("get rc=0 data=3 "), 20,
                   "the rejoin")
        st = self.p.stats()
        self.assertGreaterEqual(st["broker_restarts"], 1)
        self.assertTrue(st["connected"])
        # the old Things are gone from the mirror: exactly the new state
        wait_until(lambda: self.p.command("get fill0.t1") == "get rc=-16 data=-", 10,
                   "the sweep")
        self.assertEqual(self.p.command("children "), "children rc=0 n=1 fresh")

    def test_quick_restart_is_an_epoch_change(self):
        h = self.start(hb=1000)
        for i in range(20):
            h.cmd('u a %d' % i)                # seq 20 for "a"
        self.p = ct.Probe(h.url)
        self.assertEqual(self.p.command("synced %d" % int(10000 * SLOW)), "synced rc=0")
        self.assertTrue(self.p.command("get a").startswith("get rc=0 data=19 "))
        h.kill()
        h2 = self.start(hb=1000)
        h2.cmd('u a 100')                      # seq 1 < 20: must still win
        wait_until(lambda: self.p.command("get a").startswith("get rc=0 data=100 "), 20,
                   "the new epoch's value")
        self.assertGreaterEqual(self.p.stats()["broker_restarts"], 1)


class FakeV2:
    """A v2 server written from PROTOCOL.md, part 2 alone (python3-zmq): a
    ROUTER on P+2 that answers GET and never completes a SNAPSHOT, and an
    XPUB on P+3 that sends heartbeats.  A client of it knows it speaks to a
    v2 broker but is never synced: the state in which its look-ups ask GET."""

    def __init__(self, things):
        self.things = things
        self.base = free_base()
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.xpub = self.ctx.socket(zmq.XPUB)
        for sock in (self.router, self.xpub):
            sock.setsockopt(zmq.LINGER, 0)
        self.router.bind("tcp://127.0.0.1:%d" % (self.base + 2))
        self.xpub.bind("tcp://127.0.0.1:%d" % (self.base + 3))
        self.url = "tcp://127.0.0.1:%d" % self.base
        self.gets = []
        self.outbox = []          # raw multipart messages for the XPUB
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def heartbeat(self):
        body = {"type": "heartbeat", "ns": "", "seq": 5, "last": 5,
                "epoch": "0123456789abcdef", "interval": 1000}
        self.xpub.send_multipart([b"", json.dumps(body).encode()])

    def run(self):
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        next_hb = 0
        while not self.stop_flag:
            now = time.monotonic()
            if now >= next_hb:
                self.heartbeat()
                next_hb = now + 0.2
            while self.outbox:
                self.xpub.send_multipart(self.outbox.pop(0))
            for sock, _ in poller.poll(50):
                frames = sock.recv_multipart()
                if sock is self.xpub:
                    self.heartbeat()          # the welcome
                elif frames[1] == b"GET" and len(frames) == 4:
                    ns = frames[3].decode()
                    self.gets.append(ns)
                    if ns in self.things:
                        entry = {"data": self.things[ns], "ts": 1700000001.25, "ns": ns,
                                 "documentation_url": "http://doc", "seq": 3}
                        self.router.send_multipart([frames[0], b"THING", frames[2],
                                                    json.dumps({ns: entry}).encode()])
                    else:
                        self.router.send_multipart([frames[0], b"ERROR", frames[2],
                                                    b"not_found", b"no such Thing"])
        self.router.close(0)
        self.xpub.close(0)

    def close(self):
        self.stop_flag = True
        self.thread.join(10)
        self.ctx.term()


class FirstLookup(unittest.TestCase):
    def test_lookup_before_sync_asks_get(self):
        fake = FakeV2({"plant.x": {"v": [1, 2.5]}})
        p = ct.Probe(fake.url)
        try:
            wait_until(lambda: p.stats()["protocol"] == 2, 10, "the v2 heartbeat")
            self.assertEqual(p.command("synced 0"), "synced rc=-9")
            self.assertTrue(p.command("get plant.x").startswith('get rc=0 data={"v":[1,2.5]} '))
            self.assertEqual(p.command("thing plant.x"),
                             'thing rc=0 ns=plant.x data={"v":[1,2.5]} ts=1700000001.250 '
                             'doc=http://doc')
            self.assertEqual(p.command("get plant.nothing"), "get rc=-16 data=-")
            self.assertEqual(fake.gets, ["plant.x", "plant.x", "plant.nothing"])
            self.assertEqual(p.stats()["queries"], 3)
        finally:
            p.stop()
            fake.close()

    def test_hostile_v2_messages_are_counted(self):
        fake = FakeV2({})
        p = ct.Probe(fake.url)
        try:
            wait_until(lambda: p.stats()["protocol"] == 2, 10, "the v2 heartbeat")
            before = p.stats()["malformed"]
            bad = [
                [b"", b"not json"],
                [b"", b'{"type":"heartbeat","ns":"","seq":1}'],                # no last
                [b"", b'{"type":"thing_update","ns":"a","data":1,"seq":9,"prev":[1]}'],
                [b"a.", b'{"type":"thing_update","ns":"A!","data":1,"seq":9,"prev":[1,0]}'],
                [b"", b'{"type":"heartbeat","ns":"","seq":99999999999999999999999,'
                      b'"last":0,"epoch":"0123456789abcdef","interval":1000}'],
                [b"", b"[" * 100000],
                [b"", b'{"type":"thing_update","ns":"a","data":"\xff","seq":9,"prev":[8,0]}'],
                [b""],
            ]
            fake.outbox.extend(bad)
            wait_until(lambda: p.stats()["malformed"] - before >= len(bad), 10,
                       "the rejections")
            self.assertEqual(p.stats()["protocol"], 2)      # still alive and well
            self.assertEqual(p.command("get a"), "get rc=-16 data=-")
        finally:
            p.stop()
            fake.close()


class V1Recognised(unittest.TestCase):
    def test_v1_broker_gives_protocol_1(self):
        broker = ct.FakeBroker()
        p = ct.Probe(broker.url)
        try:
            p.sync(broker)
            wait_until(lambda: p.stats()["protocol"] == 1, 10, "the v1 fallback")
        finally:
            p.stop()
            broker.close()


if __name__ == "__main__":
    tbtest.main()

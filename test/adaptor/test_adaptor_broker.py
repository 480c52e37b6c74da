"""libthingsbus-adaptor against the real broker (thingsbusd).

Why this exists: the bare-peer suites prove the adaptor's side; this proves
the promise end to end: updates sent before the broker exists, or while it
restarts, reach it, in order, and are republished.

Counting what the broker received: a subscriber that connects to a broker
at the same moment the adaptor does may miss the first republished
messages (ZeroMQ's slow joiner), so the count comes from the broker's own
counters (printed at shutdown) and the order from what the subscriber saw
plus probes sent after the batch: PUSH keeps order, so once a probe is
seen, everything queued before it reached the broker first.
"""
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driverlib  # noqa: E402
from driverlib import Driver, recv_all  # noqa: E402
import tbtest  # noqa: E402
import zmq  # noqa: E402


def have_broker():
    return os.path.exists(os.path.join(tbtest.BUILD, "bin", "thingsbusd"))


def accepted(stderr, which="pull"):
    m = re.findall(rb"accepted total=\d+ .*?\b" + which.encode() + rb"=(\d+)", stderr)
    if not m:
        raise AssertionError("broker printed no counters: %r" % stderr[-2000:])
    return int(m[-1])


def accepted_pull(stderr):
    return accepted(stderr, "pull")


@unittest.skipUnless(have_broker(), "thingsbusd is not built in this build directory")
class BrokerAdaptorTest(driverlib.ZmqCase):
    def sub(self, base):
        s = self.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect("tcp://127.0.0.1:%d" % base)
        self.socks.append(s)
        return s

    def updates(self, sub, timeout):
        """Every thing_update the subscriber sees within timeout, decoded."""
        out = []
        for raw in recv_all(sub, 1 << 30, timeout=timeout):
            msg = json.loads(raw)
            if msg.get("type") == "thing_update":
                out.append(msg)
        return out

    def probe_until_seen(self, d, sub, tag):
        """Send probes until the subscriber sees one; returns probes sent."""
        for n in range(1, 200):
            self.assertEqual(d.send('{"probe":%d}' % n, sub=tag), 0)
            for raw in recv_all(sub, 1 << 30, timeout=0.1):
                msg = json.loads(raw)
                if msg.get("ns") == "shop.shopbot." + tag:
                    return n, msg
        self.fail("no probe came through the broker")

    def test_100_before_broker_starts_all_arrive_in_order(self):
        base = tbtest.free_base_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % (base + 1))
        self.assertEqual(d.burst(100, sub="batch"), (100, 0, 0))
        sub = self.sub(base)
        broker = tbtest.Broker(base=base)
        probes, _ = self.probe_until_seen(d, sub, "probe")
        seen = [m["data"]["i"] for m in self.updates(sub, 0.3) if m["ns"] == "shop.shopbot.batch"]
        d.quit()
        code, out, err = broker.stop()
        self.assertEqual(code, 0, err)
        self.assertEqual(accepted_pull(err), 100 + probes)
        # what the subscriber saw is a gap-free, ordered tail ending at 99 (or nothing)
        if seen:
            self.assertEqual(seen, list(range(seen[0], 100)))

    def test_broker_restart_loses_nothing_queued(self):
        base = tbtest.free_base_port()
        broker = tbtest.Broker(base=base)
        d = Driver("--url", "tcp://127.0.0.1:%d" % (base + 1))
        sub = self.sub(base)
        first_probes, _ = self.probe_until_seen(d, sub, "probe")
        for k in range(10):
            self.assertEqual(d.send('{"k":%d}' % k, sub="r", ts="%d.5" % (1000 + k)), 0)
        got = [m for m in self.updates(sub, 1.0) if m["ns"] == "shop.shopbot.r"]
        self.assertEqual([m["data"]["k"] for m in got], list(range(10)))
        self.assertEqual(got[0]["ts"], 1000.5)
        self.assertEqual(got[0]["documentation_url"], driverlib.DOC)
        code, out, err = broker.stop()
        self.assertEqual(accepted_pull(err), first_probes + 10)
        d.wait_stats(lambda s: s["disconnects"] >= 1)

        for k in range(10, 30):             # while no broker runs
            self.assertEqual(d.send('{"k":%d}' % k, sub="r"), 0)
        broker = tbtest.Broker(base=base)
        sub2 = self.sub(base)
        probes, _ = self.probe_until_seen(d, sub2, "probe2")
        s = d.stats()
        d.quit()
        code, out, err = broker.stop()
        self.assertEqual(accepted_pull(err), 20 + probes)
        self.assertGreaterEqual(s["disconnects"], 1)
        self.assertEqual(s["errors"], 0)
        self.assertEqual(s["dropped"], 0)

    def test_pub_mode_into_the_legacy_sub_input(self):
        base = tbtest.free_base_port()
        legacy = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % legacy, "--pub")
        self.assertEqual(d.burst(30, sub="old"), (30, 0, 0))     # before the broker exists
        sub = self.sub(base)
        broker = tbtest.Broker(base=base, extra=["--legacy-sub-endpoint",
                                                 "tcp://127.0.0.1:%d" % legacy])
        probes, _ = self.probe_until_seen(d, sub, "probe")
        d.quit()
        code, out, err = broker.stop()
        self.assertEqual(code, 0, err)
        self.assertEqual(accepted(err, "legacy_sub"), 30 + probes)
        self.assertEqual(accepted(err, "pull"), 0)

    def test_udp_into_the_broker(self):
        base = tbtest.free_base_port()
        broker = tbtest.Broker(base=base)
        sub = self.sub(base)
        d = Driver("--udp", "127.0.0.1:%d" % (base + 1))
        for n in range(1, 100):             # UDP before the SUB joined is simply lost
            self.assertEqual(d.send('{"busy":12.0,"n":%d}' % n, sub="spacemon"), 0)
            got = [m for m in self.updates(sub, 0.1) if m["ns"] == "shop.shopbot.spacemon"]
            if got:
                break
        d.quit()
        broker.stop()
        self.assertTrue(got)
        self.assertEqual(got[0]["data"]["busy"], 12.0)
        self.assertEqual(got[0]["documentation_url"], driverlib.DOC)

    def test_shopbot_example_into_the_broker(self):
        base = tbtest.free_base_port()
        broker = tbtest.Broker(base=base)
        sub = self.sub(base)
        time.sleep(0.3)     # let the subscription reach the broker (slow joiner)
        p = tbtest.Process([tbtest.binary("shopbot"), "tcp://127.0.0.1:%d" % (base + 1)])
        code, out, err = p.wait(timeout=20)
        self.assertEqual(code, 0, err)
        code, bout, berr = broker.stop()
        self.assertEqual(accepted_pull(berr), 1)
        got = [m for m in self.updates(sub, 0.5) if m["ns"] == "shop.shopbot.spacemon"]
        if got:     # seen unless the subscriber joined late; the count above is the proof
            self.assertEqual(got[0]["data"], {"busy": 12.0, "light": 31.8})


if __name__ == "__main__":
    tbtest.main()

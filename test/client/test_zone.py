"""Finding the broker by zone: libthingsbus-client and tb-print-events -z.

Why this exists: users configure a zone, not an address.  A real DNS
server (dnsmasq, started by the discovery suite's helper) serves the
_thingsbus._tcp SRV record pointing at a fake v1 broker; the library and
the tool must find it, fail over from a dead first-choice target to the
next one, and report a missing record in plain words with exit status 1.
"""
import os
import subprocess
import sys
import time
import unittest

import clienttest as ct
import tbtest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "discovery"))
try:
    import dnsserver
except Exception as e:     # dnsmasq-base missing: say so instead of failing
    dnsserver = None
    WHY = str(e)

TOOL = tbtest.binary("tb-print-events")


@unittest.skipIf(dnsserver is None, "no DNS test server: %s" % (None if dnsserver else WHY))
class Zone(unittest.TestCase):
    def setUp(self):
        self.broker = ct.FakeBroker()
        dead = tbtest.free_port()
        self.dns = dnsserver.Dnsmasq(
            srv=[("_thingsbus._tcp.bus.test", "broker.bus.test", self.broker.port, 10, 100),
                 ("_thingsbus._tcp.failover.test", "dead.bus.test", dead, 10, 100),
                 ("_thingsbus._tcp.failover.test", "broker.bus.test", self.broker.port, 20, 100)],
            hosts=[("broker.bus.test", ["127.0.0.1"], None),
                   ("dead.bus.test", ["127.0.0.1"], None)])

    def tearDown(self):
        tbtest.stop_all()
        self.broker.close()

    def test_library_finds_the_broker(self):
        probe = ct.Probe("zone:bus.test", ["/tree"], env={"PROBE_DNS": self.dns.server})
        try:
            probe.sync(self.broker)
            self.broker.send(ct.v1_update("z.a", {"k": 1}, 3.0))
            events = probe.collect(self.broker)
            self.assertEqual([(e["ns"], e["data"]) for e in events], [("z.a", '{"k":1}')])
        finally:
            code, err = probe.stop()
        self.assertEqual(code, 0, err)

    def test_failover_to_the_next_target(self):
        probe = ct.Probe("zone:failover.test", ["/tree"], env={"PROBE_DNS": self.dns.server})
        try:
            probe.sync(self.broker, timeout=30)   # after the dead first choice is given up
            stats = probe.stats()
            self.assertTrue(stats["connected"])
        finally:
            probe.stop()

    def test_print_events_with_zone(self):
        proc = tbtest.Process([TOOL, "-z", "bus.test", "--dns-server", self.dns.server])
        out = ct.LineReader(proc.proc.stdout)
        deadline = time.monotonic() + 10
        while out.get(0.1) is None:
            self.assertLess(time.monotonic(), deadline)
            self.broker.send(ct.v1_update("zsync", 0, 1.0))
        self.broker.send(ct.v1_update("via.dns", [1], 2.0))
        line = out.wait_for(lambda l: "via.dns" in l)
        self.assertEqual(line, "ThingEvent<Thing<via.dns>, ts=2.000, flags=, data=[1]>")
        code, _, err = proc.stop()
        self.assertEqual(code, 0, err)

    def test_missing_record_is_exit_1(self):
        p = subprocess.run([TOOL, "-z", "nothing-here.test", "--dns-server", self.dns.server,
                            "--timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"_thingsbus._tcp.nothing-here.test", p.stderr)
        self.assertEqual(p.stdout, b"")


if __name__ == "__main__":
    tbtest.main()

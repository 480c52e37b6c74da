"""libthingsbus-adaptor's zone option against a real DNS server (dnsmasq).

Why this exists: an adaptor given only a zone must find the broker input
at <target>:<P+1> from the _thingsbus._tcp SRV record, in the background
(sends are accepted and queued meanwhile), fail over to the next target
when the first does not answer, say in plain codes why DNS failed, and
do the same for UDP.
"""
import json
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "discovery"))
sys.path.insert(0, HERE)
import dnsserver  # noqa: E402  (test/discovery: starts dnsmasq)
import driverlib  # noqa: E402
from driverlib import Driver, recv_all  # noqa: E402
import msgpack  # noqa: E402
import tbtest  # noqa: E402
import zmq  # noqa: E402

ZONE = "zone.test"
SRV = "_thingsbus._tcp." + ZONE


def input_port():
    """A free port X to serve as P+1 (the record then says P = X - 1)."""
    return tbtest.free_port()


@unittest.skipUnless(os.path.exists(dnsserver.DNSMASQ), "dnsmasq is not installed")
class ZoneAdaptorTest(driverlib.ZmqCase):
    def setUp(self):
        super().setUp()
        self.dns = None

    def tearDown(self):
        super().tearDown()
        if self.dns:
            self.dns.stop()

    def pull(self, port):
        s = self.ctx.socket(zmq.PULL)
        s.setsockopt(zmq.LINGER, 0)
        s.bind("tcp://127.0.0.1:%d" % port)
        self.socks.append(s)
        return s

    def test_zone_finds_the_input_at_port_plus_one(self):
        x = input_port()
        self.dns = dnsserver.Dnsmasq(srv=[(SRV, "broker." + ZONE, x - 1, 1, 10)],
                                     hosts=[("broker." + ZONE, ["127.0.0.1"], 60)])
        pull = self.pull(x)
        d = Driver("--zone", ZONE, "--dns", self.dns.server)
        for k in range(5):
            self.assertEqual(d.send('{"k":%d}' % k, sub="z"), 0)
        got = [json.loads(m) for m in recv_all(pull, 5, timeout=20)]
        s = d.stats()
        d.quit()
        self.assertEqual([m["data"]["k"] for m in got], list(range(5)))
        self.assertEqual(got[0]["ns"], "shop.shopbot.z")
        self.assertGreaterEqual(s["resolutions"], 1)

    def test_failover_to_the_next_target(self):
        dead = input_port()           # nothing listens on this one
        live = input_port()
        self.dns = dnsserver.Dnsmasq(
            srv=[(SRV, "dead." + ZONE, dead - 1, 1, 10), (SRV, "live." + ZONE, live - 1, 2, 10)],
            hosts=[("dead." + ZONE, ["127.0.0.1"], 60), ("live." + ZONE, ["127.0.0.1"], 60)])
        pull = self.pull(live)
        d = Driver("--zone", ZONE, "--dns", self.dns.server)
        self.assertEqual(d.burst(20), (20, 0, 0))
        got = [json.loads(m)["data"]["i"] for m in recv_all(pull, 20, timeout=30)]
        d.quit()
        self.assertEqual(got, list(range(20)))

    def test_dns_failure_is_reported_and_sends_wait(self):
        self.dns = dnsserver.Dnsmasq(srv=[], hosts=[])
        d = Driver("--zone", "missing.test", "--dns", self.dns.server, "--linger", "-1")
        self.assertEqual(d.send("1"), 0)                    # accepted, queued
        s = d.wait_stats(lambda s: s["last_error"] != 0, timeout=20)
        d.quit()
        self.assertIn(s["last_error"], (-11, -12))          # no record / NXDOMAIN
        self.assertEqual(s["queue_depth"], 1)
        self.assertEqual(s["sent"], 0)

    def test_unreachable_dns_server(self):
        port = dnsserver.dead_udp_port()
        d = Driver("--zone", ZONE, "--dns", "127.0.0.1:%d" % port, "--linger", "-1")
        self.assertEqual(d.send("1"), 0)
        s = d.wait_stats(lambda s: s["last_error"] != 0, timeout=30)
        d.quit()
        self.assertIn(s["last_error"], (-13, -14))          # timeout / unreachable

    def test_zone_over_udp(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(20)
        x = udp.getsockname()[1]
        try:
            self.dns = dnsserver.Dnsmasq(srv=[(SRV, "broker." + ZONE, x - 1, 1, 10)],
                                         hosts=[("broker." + ZONE, ["127.0.0.1"], 60)])
            d = Driver("--zone", ZONE, "--dns", self.dns.server, "--zone-udp")
            self.assertEqual(d.send('{"t":1}', sub="u"), 0)
            data, _ = udp.recvfrom(70000)
            d.quit()
            got = msgpack.unpackb(data, raw=False)
            self.assertEqual(got[0], "shop.shopbot.u")
            self.assertEqual(got[2], {"t": 1})
            self.assertEqual(got[3], driverlib.DOC)
        finally:
            udp.close()


if __name__ == "__main__":
    tbtest.main()

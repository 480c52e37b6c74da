"""Discovery against a real DNS server: common/tb_discovery through the
discovery_probe program, with dnsmasq serving SRV, A and AAAA records.

Why this exists: the SRV lookup is how every adaptor and client finds the
broker; these tests pin what users see: the RFC 2782 order, the weights
over many draws, the port offsets, A and AAAA targets, failover to the next
target, where the DNS servers come from, and each error in plain words.
"""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unittest  # noqa: E402
from dnsserver import Dnsmasq, dead_udp_port, tbtest  # noqa: E402

PROBE = os.path.join(tbtest.BUILD, "test", "discovery_probe")
SRV = "_thingsbus._tcp."
# Error codes from common/thingsbus_errors.h.
BAD_URL, NO_RECORD, NXDOMAIN, DNS_TIMEOUT, UNREACHABLE, DNS_FAILED = -7, -11, -12, -13, -14, -15


def probe(args, env_servers=None, timeout=60):
    """Run discovery_probe; returns (exit code, parsed dict, raw stdout)."""
    env = dict(os.environ)
    env.pop("THINGSBUS_DNS_SERVERS", None)
    if env_servers is not None:
        env["THINGSBUS_DNS_SERVERS"] = env_servers
    p = subprocess.run([PROBE] + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode()
    res = {"eps": [], "first": {}, "connect": []}
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "ep":
            res["eps"].append({"rank": int(f[1]), "host": f[2], "address": f[3],
                               "family": int(f[4]), "port": int(f[5]), "base": int(f[6]),
                               "priority": int(f[7]), "weight": int(f[8]), "ttl": int(f[9]),
                               "url": f[10]})
        elif f[0] == "error":
            res["error"] = (int(f[1]), f[2])
        elif f[0] == "first":
            res["first"][f[1]] = int(f[2])
        elif f[0] in ("name", "min_ttl", "rounds"):
            res[f[0]] = f[1] if f[0] == "name" else int(f[1])
        elif f[0] in ("failed", "connected"):
            res["connect"].append((f[0], f[1]))
    if p.returncode not in (0, 1, 2):
        raise AssertionError("probe exit %d: %s %s" % (p.returncode, out, p.stderr.decode()))
    return p.returncode, res, out


class Discovery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(PROBE):
            raise FileNotFoundError("%s is not built (make tests-built)" % PROBE)
        # A broker that accepts, and a port where nothing does, for failover.
        cls.live = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        cls.live.bind(("127.0.0.1", 0))
        cls.live.listen(8)
        cls.live_port = cls.live.getsockname()[1]
        cls.dead_port = tbtest.free_port()
        srv = [
            (SRV + "example.test", "b1.test", 7954, 10, 60),
            (SRV + "example.test", "b2.test", 7964, 10, 30),
            (SRV + "example.test", "b3.test", 7974, 20, 10),
            (SRV + "weights.test", "w1.test", 7954, 1, 60),
            (SRV + "weights.test", "w2.test", 7954, 1, 30),
            (SRV + "weights.test", "w3.test", 7954, 1, 10),
            (SRV + "prio.test", "low.test", 7000, 1, 1),
            (SRV + "prio.test", "high.test", 7100, 2, 1000),
            (SRV + "dot.test",),
            (SRV + "bad.test", "nohost.test", 7954, 1, 1),
            (SRV + "partial.test", "nohost.test", 7954, 1, 1),
            (SRV + "partial.test", "b1.test", 8000, 2, 1),
            (SRV + "failover.test", "dead.test", cls.dead_port, 1, 1),
            (SRV + "failover.test", "live.test", cls.live_port, 2, 1),
            (SRV + "highport.test", "b1.test", 65535, 1, 1),
        ]
        hosts = [
            ("b1.test", ["127.0.0.1"], 45),
            ("b2.test", ["::1"], None),
            ("b3.test", ["127.0.0.3", "::1"], None),
            ("w1.test", ["127.0.1.1"], None),
            ("w2.test", ["127.0.1.2"], None),
            ("w3.test", ["127.0.1.3"], None),
            ("low.test", ["127.0.2.1"], None),
            ("high.test", ["127.0.2.2"], None),
            ("dead.test", ["127.0.0.1"], None),
            ("live.test", ["127.0.0.1"], None),
        ]
        txt = [(SRV + "nodata.test", "no-srv-here")]
        cls.dns = Dnsmasq(srv=srv, hosts=hosts, txt=txt)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        cls.live.close()

    def ok(self, args, **kw):
        rc, res, out = probe(args, **kw)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("error", res, out)
        return res

    def err(self, args, code, **kw):
        rc, res, out = probe(args, **kw)
        self.assertEqual(rc, 2, out)
        self.assertEqual(res["error"][0], code, out)
        return res["error"][1]

    # ---------------------------------------------------------- the answer
    def test_order_by_priority_and_fields(self):
        for seed in range(20):
            res = self.ok(["--dns-server", self.dns.server, "--seed", str(seed), "example.test"])
            self.assertEqual(res["name"], "_thingsbus._tcp.example.test")
            hosts = [e["host"] for e in res["eps"]]
            # b1 and b2 (priority 10) in either order, then b3 (20) twice: A and AAAA.
            self.assertEqual(sorted(hosts[:2]), ["b1.test", "b2.test"])
            self.assertEqual(hosts[2:], ["b3.test", "b3.test"])
            self.assertEqual([e["rank"] for e in res["eps"]], [0, 1, 2, 2])
            for e in res["eps"]:
                self.assertEqual(e["ttl"], 300)
            by_host = {e["host"]: e for e in res["eps"][:2]}
            self.assertEqual((by_host["b1.test"]["priority"], by_host["b1.test"]["weight"]), (10, 60))
            self.assertEqual(by_host["b1.test"]["url"], "tcp://127.0.0.1:7954")
            self.assertEqual(by_host["b2.test"]["url"], "tcp://[::1]:7964")
            # The smallest TTL seen: b1's address record (45 s).
            self.assertEqual(res["min_ttl"], 45)

    def test_lower_priority_always_first(self):
        res = self.ok(["--dns-server", self.dns.server, "--draws", "200", "prio.test"])
        self.assertEqual(res["first"], {"low.test": 200})

    def test_weights_over_many_draws(self):
        """2000 lookups with the default random source: 60/30/10 shares,
        bounds about 6 sigma wide; uniform choice (667 each) fails them."""
        res = self.ok(["--dns-server", self.dns.server, "--draws", "2000", "weights.test"])
        f = res["first"]
        self.assertEqual(sum(f.values()), 2000)
        self.assertTrue(1070 <= f.get("w1.test", 0) <= 1330, f)
        self.assertTrue(500 <= f.get("w2.test", 0) <= 700, f)
        self.assertTrue(120 <= f.get("w3.test", 0) <= 280, f)

    def test_port_offsets(self):
        for service, offset in (("pub", 0), ("input", 1), ("snapshot", 2)):
            res = self.ok(["--dns-server", self.dns.server, "--service", service, "example.test"])
            for e in res["eps"]:
                self.assertEqual(e["port"], e["base"] + offset)
                self.assertTrue(e["url"].endswith(":%d" % e["port"]), e["url"])

    def test_a_and_aaaa_targets(self):
        res = self.ok(["--dns-server", self.dns.server, "example.test"])
        b3 = [e for e in res["eps"] if e["host"] == "b3.test"]
        self.assertEqual(sorted((e["family"], e["address"]) for e in b3),
                         [(4, "127.0.0.3"), (6, "::1")])
        for e in b3:
            want = "tcp://[::1]:7974" if e["family"] == 6 else "tcp://127.0.0.3:7974"
            self.assertEqual(e["url"], want)
        b2 = [e for e in res["eps"] if e["host"] == "b2.test"]
        self.assertEqual([(e["family"], e["url"]) for e in b2], [(6, "tcp://[::1]:7964")])

    def test_failover_to_next_target(self):
        """The first target refuses connections; the locator moves on."""
        res = self.ok(["--dns-server", self.dns.server, "--connect", "failover.test"])
        self.assertEqual(res["connect"], [
            ("failed", "tcp://127.0.0.1:%d" % self.dead_port),
            ("connected", "tcp://127.0.0.1:%d" % self.live_port)])

    def test_target_without_address_is_skipped(self):
        res = self.ok(["--dns-server", self.dns.server, "partial.test"])
        self.assertEqual([(e["host"], e["rank"], e["port"]) for e in res["eps"]],
                         [("b1.test", 0, 8000)])

    def test_zone_spellings(self):
        for zone in ("example.test.", "_thingsbus._tcp.example.test", "EXAMPLE.test"):
            res = self.ok(["--dns-server", self.dns.server, zone])
            self.assertEqual(len(res["eps"]), 4, zone)

    def test_async_from_poll_loop(self):
        res = self.ok(["--dns-server", self.dns.server, "--async", "--service", "input",
                       "example.test"])
        self.assertGreaterEqual(res["rounds"], 1)
        self.assertEqual(sorted(e["url"] for e in res["eps"]),
                         ["tcp://127.0.0.1:7955", "tcp://127.0.0.3:7975",
                          "tcp://[::1]:7965", "tcp://[::1]:7975"])

    # ---------------------------------------------------------- servers
    def test_servers_from_environment(self):
        res = self.ok(["example.test"], env_servers=self.dns.server)
        self.assertEqual(len(res["eps"]), 4)

    def test_argument_overrides_environment(self):
        dead = dead_udp_port()
        res = self.ok(["--dns-server", self.dns.server, "example.test"],
                      env_servers="127.0.0.1:%d" % dead)
        self.assertEqual(len(res["eps"]), 4)

    def test_ipv6_server(self):
        res = self.ok(["--dns-server", self.dns.server6, "example.test"])
        self.assertEqual(len(res["eps"]), 4)

    def test_second_server_used_when_first_unreachable(self):
        dead = dead_udp_port()
        res = self.ok(["--dns-server", "127.0.0.1:%d,%s" % (dead, self.dns.server),
                       "example.test"])
        self.assertEqual(len(res["eps"]), 4)

    def test_bad_server_list(self):
        text = self.err(["--dns-server", "dns.example:53", "example.test"], BAD_URL)
        self.assertIn("dns.example:53", text)
        text = self.err(["example.test"], BAD_URL, env_servers="127.0.0.1:99999")
        self.assertIn("THINGSBUS_DNS_SERVERS", text)

    # ---------------------------------------------------------- errors
    def test_no_record(self):
        text = self.err(["--dns-server", self.dns.server, "nodata.test"], NO_RECORD)
        self.assertIn("no SRV record for _thingsbus._tcp.nodata.test", text)

    def test_service_not_offered(self):
        text = self.err(["--dns-server", self.dns.server, "dot.test"], NO_RECORD)
        self.assertIn("_thingsbus._tcp.dot.test", text)
        self.assertIn("not offered", text)

    def test_nxdomain(self):
        text = self.err(["--dns-server", self.dns.server, "missing.test"], NXDOMAIN)
        self.assertIn("_thingsbus._tcp.missing.test does not exist (NXDOMAIN)", text)

    def test_target_nxdomain(self):
        text = self.err(["--dns-server", self.dns.server, "bad.test"], NXDOMAIN)
        self.assertIn("_thingsbus._tcp.bad.test names broker nohost.test", text)
        self.assertIn("nohost.test does not exist", text)

    def test_port_too_high_for_offset(self):
        self.ok(["--dns-server", self.dns.server, "highport.test"])
        text = self.err(["--dns-server", self.dns.server, "--service", "input",
                         "highport.test"], DNS_FAILED)
        self.assertIn("65535", text)

    def test_timeout(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            server = "127.0.0.1:%d" % silent.getsockname()[1]
            for mode in ([], ["--async"]):
                text = self.err(mode + ["--dns-server", server, "--timeout", "600",
                                        "example.test"], DNS_TIMEOUT)
                self.assertIn("no answer from DNS server %s within 600 ms" % server, text)
                self.assertIn("_thingsbus._tcp.example.test", text)
            # It was asked: the query did reach the silent server.
            silent.settimeout(1)
            data, _ = silent.recvfrom(4096)
            self.assertIn(b"_thingsbus", data)
        finally:
            silent.close()

    def test_unreachable(self):
        server = "127.0.0.1:%d" % dead_udp_port()
        text = self.err(["--dns-server", server, "example.test"], UNREACHABLE)
        self.assertIn("DNS server %s unreachable" % server, text)
        self.assertIn("_thingsbus._tcp.example.test", text)

    def test_invalid_zone(self):
        for zone in ("", "a..b", "bad zone", "x" * 300):
            rc, res, out = probe(["--dns-server", self.dns.server, zone])
            self.assertEqual(rc, 2, out)
            self.assertEqual(res["error"][0], -1, out)


if __name__ == "__main__":
    tbtest.main()

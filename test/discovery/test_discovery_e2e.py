"""End to end: an adaptor and tb-print-events given only a zone (-z) find a
real thingsbusd through a real DNS server (dnsmasq) and talk through it.

Why this exists: discovery is only worth something if the programs users
run actually use it: the SRV record's port P must lead tb-print-events to
the broker's PUB socket (P) and the adaptor to its input (P+1), through
the --dns-server flag and the THINGSBUS_DNS_SERVERS variable alike, past a
dead first-choice broker, and a bad zone must end in plain words.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unittest  # noqa: E402
from dnsserver import Dnsmasq, tbtest  # noqa: E402

import zmq  # noqa: E402

SRV = "_thingsbus._tcp."


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = tbtest.Broker()
        # A base port where nothing listens, for the dead first choice.
        cls.dead_base = tbtest.free_base_port()
        cls.dns = Dnsmasq(
            srv=[(SRV + "e2e.test", "bus.test", cls.broker.base, 10, 10),
                 (SRV + "standby.test", "dead.test", cls.dead_base, 1, 10),
                 (SRV + "standby.test", "bus.test", cls.broker.base, 2, 10)],
            hosts=[("bus.test", ["127.0.0.1"], None),
                   ("dead.test", ["127.0.0.1"], None)])
        cls.ctx = zmq.Context()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        cls.broker.stop()
        cls.ctx.destroy(linger=0)

    def run_pair(self, zone, ns, printer_args, adaptor_args, env=None):
        """Start a JSON source, the generic adaptor and tb-print-events;
        publish until the printer has seen one event of ns; return the
        printer's (exit code, stdout, stderr)."""
        src_port = tbtest.free_port()
        pub = self.ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.bind("tcp://127.0.0.1:%d" % src_port)
        printer = tbtest.Process([tbtest.binary("tb-print-events"), "-z", zone,
                                  "-n", ns, "--json", "--count", "1", "--timeout", "30"]
                                 + printer_args, env=env)
        adaptor = tbtest.Process([tbtest.binary("tb-generic-zmq-adaptor"), "-z", zone,
                                  "--ns", ns, "-s", "tcp://127.0.0.1:%d" % src_port,
                                  "-d", "http://example.test/doc"] + adaptor_args, env=env)
        try:
            # Bounded: up to 30 s at 100 ms; stops as soon as one got through.
            for i in range(300):
                if printer.proc.poll() is not None:
                    break
                pub.send(json.dumps({"reading": i}).encode())
                time.sleep(0.1)
            return printer.wait(timeout=10)
        finally:
            printer.stop()
            adaptor.stop()
            pub.close()

    def check_event(self, result, ns):
        code, out, err = result
        self.assertEqual(code, 0, (out, err))
        lines = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, out)
        self.assertEqual(lines[0]["ns"], ns)
        self.assertIn("reading", lines[0]["data"])

    def test_zone_via_flag(self):
        self.check_event(self.run_pair("e2e.test", "disco.flag",
                                       ["--dns-server", self.dns.server],
                                       ["--dns-server", self.dns.server]), "disco.flag")

    def test_zone_via_environment(self):
        self.check_event(self.run_pair("e2e.test", "disco.env", [], [],
                                       env={"THINGSBUS_DNS_SERVERS": self.dns.server}),
                         "disco.env")

    def test_dead_first_choice_fails_over(self):
        self.check_event(self.run_pair("standby.test", "disco.standby",
                                       ["--dns-server", self.dns.server],
                                       ["--dns-server", self.dns.server]), "disco.standby")

    def test_missing_zone_in_plain_words(self):
        p = tbtest.Process([tbtest.binary("tb-print-events"), "-z", "missing.test",
                            "--dns-server", self.dns.server, "--timeout", "10"])
        code, out, err = p.wait(timeout=20)
        self.assertNotEqual(code, 0)
        self.assertIn(b"_thingsbus._tcp.missing.test does not exist (NXDOMAIN)", err)


if __name__ == "__main__":
    tbtest.main()

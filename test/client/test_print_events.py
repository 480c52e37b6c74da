"""tb-print-events against a fake v1 broker: output formats, options, exit codes.

Why this exists: tb-print-events is the first tool anyone runs, and
scripts parse its output.  The exact lines of the original's format and
of --json are checked here, with --namespace, --snapshots, --count,
--timeout and --dump, the exit codes (0 normal, 1 connection/discovery
error, 2 usage error), and that every option in the table appears in
the man page.
"""
import json
import os
import re
import socket
import subprocess
import time
import unittest

import clienttest as ct
import tbtest

TOOL = tbtest.binary("tb-print-events")
MAN = os.path.join(tbtest.TOP, "man", "tb-print-events.1")


def run(args, timeout=20):
    p = subprocess.run([TOOL] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Following(unittest.TestCase):
    def setUp(self):
        self.broker = ct.FakeBroker()

    def tearDown(self):
        tbtest.stop_all()
        self.broker.close()

    def start(self, args, sync_ns="zsync"):
        """Start the tool and wait until it prints (the SUB has joined);
        returns (process, line reader, the first line)."""
        proc = tbtest.Process([TOOL, "-u", self.broker.url] + args)
        out = ct.LineReader(proc.proc.stdout)
        deadline = time.monotonic() + 10
        while True:
            self.assertLess(time.monotonic(), deadline, "tool never received the sync marker")
            self.broker.send(ct.v1_update(sync_ns, 0, 1.0))
            line = out.get(0.1)
            if line is not None:
                self.assertTrue(("<%s>" % sync_ns) in line or ('"%s"' % sync_ns) in line, line)
                self.first = line
                return proc, out

    def finish(self, proc, out, end_ns="zend"):
        """Send the end marker, return the lines before it, stop the tool."""
        self.broker.send(ct.v1_update(end_ns, 0, 1.0))
        lines = []
        out.wait_for(lambda l: ("<%s>" % end_ns) in l or ('"ns":"%s"' % end_ns) in l,
                     keep=lines)
        code, _, err = proc.stop()
        self.assertEqual(code, 0, err)
        return [l for l in lines if "zsync" not in l]

    def test_original_format(self):
        proc, out = self.start([])
        self.broker.send(b'{"type": "thing_update", "ns": "spacemon.electronics", "data": '
                         b'{"ratio_busy": 0.14315257352941177, "luminance": 114.361669921875}, '
                         b'"ts": 1423351104.945, "documentation_url": null}')
        self.broker.send(ct.v1_update("bottlekid.prototype",
                                      {"dht22_error": "bad checksum\r\n",
                                       "metadata": {"loops": 454, "msgs_dropped": 0}},
                                      1423351105.715, "https://github.com/x"))
        self.broker.send(ct.v1_update("", {"top": True}, 10.0))
        self.broker.send(ct.v1_snapshot([("spacemon.electronics", 1, 5.0, None)]))
        self.assertEqual(self.finish(proc, out), [
            'ThingEvent<Thing<spacemon.electronics>, ts=1423351104.945, flags=, '
            'data={"ratio_busy":0.14315257352941177,"luminance":114.361669921875}>',
            'ThingEvent<Thing<bottlekid.prototype>, ts=1423351105.715, flags=, '
            'data={"dht22_error":"bad checksum\\r\\n","metadata":{"loops":454,"msgs_dropped":0}}>',
            'ThingEvent<RootThing, ts=10.000, flags=, data={"top":true}>',
        ])

    def test_snapshots_and_namespace(self):
        proc, out = self.start(["-n", "shop", "--snapshots"], sync_ns="shop.zsync")
        self.broker.send(ct.v1_update("shop.saw", {"on": 1}, 100.25))
        self.broker.send(ct.v1_update("shopfloor.x", 1, 100.0))   # not under "shop"
        self.broker.send(ct.v1_update("other", 1, 100.0))
        self.broker.send(ct.v1_snapshot([("shop", 0, 90.0, None), ("shop.saw", {"on": 1}, 100.25, None),
                                         ("other", 1, 100.0, None)]))
        lines = self.finish(proc, out, end_ns="shop.zend")
        self.assertEqual(lines, [
            'ThingEvent<Thing<shop.saw>, ts=100.250, flags=, data={"on":1}>',
            'ThingEvent<Thing<shop>, ts=90.000, flags=F_SNAPSHOT, data=0>',
            'ThingEvent<Thing<shop.saw>, ts=100.250, flags=F_SNAPSHOT, data={"on":1}>',
        ])

    def test_json(self):
        proc, out = self.start(["--json", "--snapshots"])
        now = time.time()
        self.broker.send(ct.v1_update("a.b", {"x": [1, 2.5, None]}, now - 2.0, "http://doc"))
        self.broker.send(ct.v1_snapshot([("a", "s", now, None)]))
        lines = self.finish(proc, out)
        objs = [json.loads(l) for l in lines]
        self.assertEqual(len(objs), 2)
        self.assertEqual(set(objs[0]), {"ns", "ts", "age", "flags", "data", "documentation_url",
                                        "losses"})
        self.assertEqual(objs[0]["ns"], "a.b")
        self.assertEqual(objs[0]["data"], {"x": [1, 2.5, None]})
        self.assertEqual(objs[0]["flags"], ["tree"])
        self.assertEqual(objs[0]["documentation_url"], "http://doc")
        self.assertAlmostEqual(objs[0]["ts"], now - 2.0, places=5)
        self.assertTrue(1.0 <= objs[0]["age"] <= 60.0, objs[0]["age"])
        self.assertEqual(objs[0]["losses"], 0)
        self.assertEqual(objs[1]["flags"], ["snapshot", "tree"])
        self.assertIsNone(objs[1]["documentation_url"])
        self.assertTrue(lines[0].startswith('{"ns":"a.b","ts":'), lines[0])

    def test_verbose_skips_are_rate_limited_and_all_counted(self):
        """-v logs skipped messages through the rate limiter; the lines it
        held back are reported, at the latest at exit, so written plus
        suppressed is every skipped message."""
        n = 60
        proc, out = self.start(["-v"])
        for i in range(n):
            self.broker.send(b"garbage %d" % i)
        self.broker.send(ct.v1_update("zend", 0, 1.0))
        out.wait_for(lambda l: "<zend>" in l)
        code, _, err = proc.stop()
        self.assertEqual(code, 0, err)
        err = err.decode()
        lines = re.findall(r"skipped a message from the broker \(bad_json\)", err)
        held = [int(k) for k in re.findall(r"\((\d+) similar messages suppressed\)", err)]
        self.assertGreater(len(lines), 0, err)
        self.assertLess(len(lines), n, err)
        self.assertEqual(len(lines) + sum(held), n, err[-2000:])

    def test_count(self):
        proc, out = self.start(["--count", "3"])   # the sync marker counts as one
        for i in range(5):
            self.broker.send(ct.v1_update("c", i, 1.0))
        lines = [self.first]
        while True:
            line = out.get(10)
            if line is None:
                break
            lines.append(line)
        code, _, err = proc.wait(timeout=10)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(lines), 3, lines)
        self.assertEqual(lines[-1], "ThingEvent<Thing<c>, ts=1.000, flags=, data=%d>"
                         % (2 - sum(1 for l in lines if "zsync" in l)))

    def test_dump(self):
        proc = tbtest.Process([TOOL, "-u", self.broker.url, "--dump", "-n", "plant",
                               "--timeout", "20"])
        deadline = time.monotonic() + 15
        while proc.proc.poll() is None and time.monotonic() < deadline:
            # periodic snapshots, as the original sends (each round its own ts)
            self.broker.send(ct.v1_snapshot([("plant.pump", {"rpm": 1200}, 50.5, "http://p"),
                                             ("plant", "root of plant", 40.0, None),
                                             ("plant.a.b", [True], 60.0, None),
                                             ("elsewhere", 1, 1.0, None)]))
            time.sleep(0.1)
        code, stdout, err = proc.wait(timeout=10)
        self.assertEqual(code, 0, err)
        self.assertEqual(stdout.decode().splitlines(), [
            'ThingEvent<Thing<plant>, ts=40.000, flags=F_SNAPSHOT, data="root of plant">',
            'ThingEvent<Thing<plant.a.b>, ts=60.000, flags=F_SNAPSHOT, data=[true]>',
            'ThingEvent<Thing<plant.pump>, ts=50.500, flags=F_SNAPSHOT, data={"rpm":1200}>',
        ])

    def test_dump_json(self):
        proc = tbtest.Process([TOOL, "-u", self.broker.url, "--dump", "--json"])
        deadline = time.monotonic() + 15
        while proc.proc.poll() is None and time.monotonic() < deadline:
            self.broker.send(ct.v1_snapshot([("k", {"v": 1}, 5.0, "http://k")]))
            time.sleep(0.1)
        code, stdout, err = proc.wait(timeout=10)
        self.assertEqual(code, 0, err)
        objs = [json.loads(l) for l in stdout.decode().splitlines()]
        self.assertEqual([(o["ns"], o["data"], o["flags"], o["documentation_url"]) for o in objs],
                         [("k", {"v": 1}, ["snapshot", "tree"], "http://k")])

    def test_dump_without_snapshot_times_out(self):
        code, out, err = run(["-u", self.broker.url, "--dump", "--timeout", "0.5"])
        self.assertEqual(code, 1)
        self.assertIn("no snapshot arrived", err)

    def test_timeout_is_a_normal_end(self):
        code, out, err = run(["-u", self.broker.url, "--timeout", "0.5"])
        self.assertEqual((code, out), (0, ""), err)


class Failures(unittest.TestCase):
    def test_nothing_listening(self):
        port = tbtest.free_port()
        code, out, err = run(["-u", "tcp://127.0.0.1:%d" % port, "--timeout", "0.5"])
        self.assertEqual(code, 1)
        self.assertIn("could not connect to the broker at tcp://127.0.0.1:%d" % port, err)
        code, out, err = run(["-u", "127.0.0.1:%d" % port, "--dump", "--timeout", "0.5"])
        self.assertEqual(code, 1)
        self.assertIn("could not connect", err)

    def test_discovery_failure(self):
        # a DNS "server" that never answers: a bound UDP socket nobody reads
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        try:
            code, out, err = run(["-z", "example.test", "--dns-server",
                                  "127.0.0.1:%d" % s.getsockname()[1], "--timeout", "1"])
        finally:
            s.close()
        self.assertEqual(code, 1, err)
        self.assertIn("_thingsbus._tcp.example.test", err)

    def test_usage_errors(self):
        cases = [
            ["--no-such-option"],
            ["-u", "tcp://127.0.0.1:1", "-z", "example.org"],
            ["-n", "Bad.Name"],
            ["-n", "a..b"],
            ["--count", "-1"],
            ["--timeout", "soon"],
            ["extra-argument"],
            ["-u", "http://example.org/"],
            ["-u", "tcp://127.0.0.1"],
            ["--dns-server", "127.0.0.1:53"],
        ]
        for args in cases:
            code, out, err = run(args, timeout=10)
            self.assertEqual(code, 2, "%r: %s" % (args, err))
            self.assertTrue(err.startswith("tb-print-events: "), err)
            self.assertEqual(out, "")

    def test_help_and_version(self):
        code, out, err = run(["--help"])
        self.assertEqual(code, 0)
        for opt in ("--url", "--zone", "--dns-server", "--namespace", "--json", "--snapshots",
                    "--dump", "--count", "--timeout", "--verbose"):
            self.assertIn(opt, out)
        code, out, err = run(["--version"])
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^tb-print-events \d+\.\d+\.\d+\n$")


class ManPage(unittest.TestCase):
    def test_every_option_is_in_the_man_page(self):
        code, out, _ = run(["--help"])
        self.assertEqual(code, 0)
        options = set(re.findall(r"--([a-z][a-z0-9-]*)", out))
        self.assertGreaterEqual(len(options), 12)
        with open(MAN) as f:
            man = f.read().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")
        missing = sorted(o for o in options if ("--" + o) not in man)
        self.assertEqual(missing, [], "options missing from man/tb-print-events.1")
        for section in (".SH EXIT STATUS", ".SH EXAMPLES", ".SH DISCOVERY"):
            self.assertIn(section, man)


if __name__ == "__main__":
    tbtest.main()

"""Smoke test of `make bench`: the harness runs in its tiny mode and still
produces a table and a JSON file with sane fields.

Why this exists: the bench never runs in the test suite (speed is not a
test assertion), so without this it could silently rot.  Here it runs with
N=2000, one run per side, a 1 s paced run and a 2 000-Thing directory, and
we check structure and conservation (received + lost = sent, nothing
received that was not sent, rates positive), never speed.  The subscriber's
counts are checked against an independent python3-zmq subscriber in one
extra case, so the bench cannot count what is not there.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402

import zmq  # noqa: E402

BENCH = os.path.join(tbtest.TOP, "test", "bench", "bench.py")


def have_broker():
    return os.access(os.path.join(tbtest.BUILD, "bin", "thingsbusd"), os.X_OK)


class BenchSmoke(unittest.TestCase):
    doc = None
    stdout = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tb-bench-smoke-")
        out = os.path.join(cls.tmp, "results.json")
        env = dict(os.environ)
        for k in ("BENCH_N", "BENCH_RUNS", "BENCH_OUT", "BENCH_QUICK"):
            env.pop(k, None)
        proc = subprocess.run([sys.executable, BENCH, "--build", tbtest.BUILD, "--quick",
                               "--quiet", "--out", out, "--max-seconds", "60"],
                              capture_output=True, timeout=240, env=env)
        cls.rc = proc.returncode
        cls.stdout = proc.stdout.decode(errors="replace")
        cls.stderr = proc.stderr.decode(errors="replace")
        if os.path.exists(out):
            with open(out) as f:
                cls.doc = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_exit_status_and_no_errors(self):
        self.assertEqual(self.rc, 0, self.stdout + self.stderr)
        self.assertEqual(self.doc["errors"], [])

    def test_table_printed(self):
        self.assertIn("| what", self.stdout)
        for what in ("ZeroMQ PUSH JSON: rate out of PUB", "UDP msgpack list form",
                     "latency at 2000 msgs/s", "fan-out 10 subscribers",
                     "1 healthy + 1 never-reading", "restart time", "late-join time"):
            self.assertIn(what, self.stdout)
        self.assertNotIn("not implemented yet", self.stdout)
        self.assertIn("results: ", self.stdout)

    def test_json_fields(self):
        d = self.doc
        self.assertIsNotNone(d)
        for k in ("date", "machine", "params", "table", "runs", "errors"):
            self.assertIn(k, d)
        self.assertEqual(d["params"]["n"], 2000)
        self.assertTrue(d["params"]["quick"])
        self.assertGreaterEqual(d["machine"]["cpus"], 1)
        for r in d["table"]:
            for k in ("scenario", "what", "thingsbusd", "forwarder", "ratio", "goal"):
                self.assertIn(k, r)

    def check_runs(self, name, count=None, sockets=1):
        sides = self.doc["runs"][name]
        expected = ["thingsbusd", "forwarder"] if have_broker() else ["forwarder"]
        self.assertEqual(sorted(sides), sorted(expected))
        for side, runs in sides.items():
            self.assertEqual(len(runs), 1, side)
            for r in runs:
                if count is not None:
                    self.assertEqual(r["sent"], count, side)
                self.assertGreater(r["sent"], 0, side)
                self.assertGreater(r["received"], 0, side)
                self.assertLessEqual(r["received"], r["sent"], side)
                self.assertEqual(r["received"] + r["lost"], r["sent"], side)
                self.assertGreater(r["rate"], 0, side)
                self.assertEqual(r["unstamped"], 0, side)
                self.assertGreater(r["cpu_seconds"] + 1, 0, side)
                self.assertGreater(r["peak_rss_kib"], 0, side)
                lat = r["latency_us"]
                if sockets == 1:
                    self.assertEqual(lat["samples"], r["received"])
                else:
                    self.assertLessEqual(r["received_min"], r["received"])
                self.assertLessEqual(lat["p50"], lat["p99"])
                self.assertLessEqual(lat["p99"], lat["max"])
                self.assertGreater(lat["p50"], 0)

    def test_throughput_zmq_runs(self):
        self.check_runs("throughput_zmq", 2000)

    def test_throughput_udp_runs(self):
        self.check_runs("throughput_udp", 2000)

    def test_latency_runs(self):
        self.check_runs("latency")

    def test_fanout_runs(self):
        self.check_runs("fanout_10", 2000, sockets=10)
        self.check_runs("stuck_subscriber", 2000)

    def test_scale_row(self):
        rows = [r for r in self.doc["table"] if r["scenario"] == "directory_scale"]
        self.assertTrue(rows)
        if not have_broker():
            self.skipTest("thingsbusd not built: scale rows say n/a")
        res = self.doc["runs"]["directory_scale"]
        self.assertEqual(res["things"], 2000)
        self.assertGreater(res["rss_after_kib"], 0)
        self.assertIsNotNone(res["snapshot"], res.get("broadcasts"))
        self.assertGreaterEqual(res["snapshot"]["entries"], 2000)
        for key in ("all_messages", "updates_only"):
            g = res["snapshot"][key]
            self.assertGreater(g["updates_recorded"], 0, key)
            self.assertGreaterEqual(g["max_update_gap_ms"], 0, key)
        self.assertEqual(res["stored_value_bytes"], 63 + 17)
        self.assertGreater(res["output_update_bytes"], 0)

    def test_restart_and_late_join_rows(self):
        rows = [r for r in self.doc["table"] if r["scenario"] == "later"]
        self.assertEqual(len(rows), 2)
        if not have_broker():
            self.skipTest("thingsbusd not built: later rows say n/a")
        res = self.doc["runs"]["later"]
        self.assertEqual(res["things"], 2000)
        self.assertGreaterEqual(len(res["restarts"]), 3)
        for r in res["restarts"]:
            self.assertEqual(r["loaded"], 2000)          # every Thing came back
            self.assertGreater(r["serving_ms"], 0)
        self.assertTrue(res["joins"])
        self.assertEqual(res["joins_complete"], len(res["joins"]))
        for j in res["joins"]:
            self.assertTrue(j["synced"])
            self.assertEqual(j["held"], 2000)            # the whole directory, no more
        # the other scenarios run without a state file in the working directory
        self.assertIn("--no-persistence", self.doc["broker_options_used"])

    def test_programs_count_what_is_sent(self):
        """bench-loader -> bench-forwarder -> (bench-sub and python3-zmq):
        both subscribers see the same count, and python sees valid JSON."""
        base = tbtest.free_base_port()
        fwd = tbtest.Process([tbtest.binary("bench-forwarder"), "--pub",
                              "tcp://127.0.0.1:%d" % base, "--pull",
                              "tcp://127.0.0.1:%d" % (base + 1), "--sndhwm", "100000",
                              "--rcvhwm", "100000"])
        tbtest.wait_tcp(base)
        ctx = zmq.Context()
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.RCVHWM, 100000)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect("tcp://127.0.0.1:%d" % base)
        sub = tbtest.Process([tbtest.binary("bench-sub"), "--connect",
                              "tcp://127.0.0.1:%d" % base, "--expect", "500",
                              "--rcvhwm", "100000", "--idle-ms", "1000", "--max-seconds", "20"])
        self.assertEqual(sub.proc.stdout.readline().strip(), b"ready")
        time.sleep(0.3)  # python's subscription reaches the PUB too
        load = tbtest.Process([tbtest.binary("bench-loader"), "--zmq",
                               "tcp://127.0.0.1:%d" % (base + 1), "--count", "500"])
        code, out, _ = load.wait(timeout=20)
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out)["sent"], 500)
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 500 and time.monotonic() < deadline:
            if s.poll(200):
                got.append(s.recv())
        s.close(0)
        ctx.term()
        code, out, _ = sub.wait(timeout=20)
        fwd.stop()
        self.assertEqual(code, 0)
        res = json.loads(out.decode().strip().splitlines()[-1])
        self.assertEqual(len(got), 500)
        self.assertEqual(res["received"], len(got))
        self.assertEqual(res["stop"], "count_reached")
        for m in got[:20]:
            self.assertEqual(len(m), 166)
            j = json.loads(m)
            self.assertEqual(j["type"], "thing_update")
            self.assertRegex(j["ns"], r"^bench\.g0000\.t[0-9]{3}$")
            self.assertIsInstance(j["ts"], float)
        self.assertEqual(len({json.loads(m)["ns"] for m in got}), 500)


if __name__ == "__main__":
    tbtest.main()

"""Crash and filesystem-fault tests of the persistence engine (broker/store/).

Why this exists: the store's guarantees are about what survives a kill -9,
a full disk and a filesystem that turns read-only, which can only be
checked from outside the writing process.  tb-store-driver (built from
test/store/tb_store_driver.c) plays the broker: it streams updates through
the real store, reports on stdout which sequence numbers it had accepted and
when (CLOCK_MONOTONIC, the clock Python's time.monotonic() reads), and
"dump" prints what a restart restores.  Full and read-only filesystems use a
tiny tmpfs mounted by the test (root only; skipped with a reason otherwise).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402

SANITIZED = bool(os.environ.get("TB_SANITIZED"))


def driver():
    return tbtest.binary("tb-store-driver")


class Run:
    """A running `tb-store-driver run`, its stdout read by a thread."""

    def __init__(self, path, *args):
        self.lines = []
        self.acc = []          # (seq, mono_ms)
        self.cv = threading.Condition()
        self.proc = tbtest.Process([driver(), "run", path] + [str(a) for a in args],
                                   stderr=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cv:
                self.lines.append(line)
                if line.startswith("acc "):
                    _, seq, ms = line.split()
                    self.acc.append((int(seq), int(ms)))
                self.cv.notify_all()

    def wait_for(self, pattern, timeout=15.0, start=0):
        """Wait for a stdout line matching pattern (after line index start)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.proc.poll() is not None:
                    raise AssertionError("no line matching %r; last lines: %r"
                                         % (pattern, self.lines[-5:]))
                self.cv.wait(min(left, 0.1))

    def kill9(self):
        """SIGKILL; returns a monotonic ms time at or before the death."""
        t = time.monotonic() * 1000.0
        self.proc.signal(signal.SIGKILL)
        self._reap()
        return t

    def term(self):
        self.proc.signal(signal.SIGTERM)
        return self._reap()

    def _reap(self):
        code = self.proc.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        if self.proc in tbtest._live:
            tbtest._live.remove(self.proc)
        return code


def dump(path):
    """What a restart restores: (report dict, last_seq, {ns: fields})."""
    out = subprocess.run([driver(), "dump", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60, check=True).stdout.decode()
    return parse(out)


def parse(text):
    report, last_seq, things = {}, None, {}
    for line in text.splitlines():
        if line.startswith("report "):
            head, _, err = line.partition(" error=")
            report = dict(kv.split("=", 1) for kv in head.split()[1:])
            report["error"] = err
        elif line.startswith("last_seq "):
            last_seq = int(line.split()[1])
        elif line.startswith("thing "):
            fields = line[6:].split("\t")
            things[fields[0]] = fields[1:]
    return report, last_seq, things


class Mount:
    """A tmpfs of `size` bytes at a fresh directory (root only)."""

    def __init__(self, size):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to mount a tmpfs")
        self.dir = tempfile.mkdtemp(prefix="tb-store-mnt-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size,
                            "tmpfs", self.dir], stderr=subprocess.PIPE)
        if r.returncode != 0:
            os.rmdir(self.dir)
            raise unittest.SkipTest("cannot mount a tmpfs: %s" % r.stderr.decode().strip())

    def remount(self, opts):
        subprocess.run(["mount", "-o", "remount," + opts, self.dir], check=True)

    def close(self):
        subprocess.run(["umount", "-l", self.dir])
        os.rmdir(self.dir)


class StoreCrash(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tb-store-crash-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check_exact(self, path, expect_file):
        with open(expect_file) as f:
            _, exp_seq, exp = parse(f.read())
        report, last_seq, got = dump(path)
        self.assertEqual(report["skipped"], "0")
        self.assertEqual(report["error"], "")
        self.assertEqual(last_seq, exp_seq)
        self.assertEqual(got, exp)

    def test_clean_stop_restores_exactly(self):
        path = os.path.join(self.tmp, "state")
        expect = os.path.join(self.tmp, "expect")
        r = Run(path, "--things", 300, "--expect", expect, "--compact-min", 200000)
        r.wait_for(r"^acc (\d{4,})")
        self.assertEqual(r.term(), 0)
        self.check_exact(path, expect)
        # And a second life continues the sequence numbers where the first stopped.
        _, first_seq, _ = dump(path)
        r = Run(path, "--things", 300, "--expect", expect)
        line = r.wait_for(r"^ready ")
        self.assertIn("last_seq=%d " % first_seq, line)
        r.wait_for(r"^acc ")
        self.assertEqual(r.term(), 0)
        self.check_exact(path, expect)

    def test_kill9_loses_nothing_older_than_window(self):
        window = 1000
        things = 250
        for round_no, run_ms in enumerate((1700, 2600)):
            path = os.path.join(self.tmp, "state%d" % round_no)
            # A small compaction threshold so a pass is often under way at the kill.
            r = Run(path, "--things", things, "--window-ms", window,
                    "--compact-min", 100000, "--pad", 40)
            r.wait_for(r"^ready ")
            time.sleep(run_ms / 1000.0)
            t_kill = r.kill9()
            old = [seq for seq, ms in r.acc if ms <= t_kill - window]
            self.assertTrue(old, "the driver accepted nothing before the window")
            safe = max(old)
            report, last_seq, got = dump(path)
            self.assertEqual(report["error"], "")
            self.assertFalse(os.path.exists(path + ".tmp"))
            self.assertGreaterEqual(last_seq, safe)
            for i in range(things):
                ns = "bldg.t%d" % i
                # the last update of thing i at or before `safe`
                want = safe - ((safe - i) % things)
                self.assertIn(ns, got, "thing %s lost" % ns)
                seq = int(got[ns][0])
                self.assertGreaterEqual(seq, want, "thing %s restored at seq %d < %d"
                                        % (ns, seq, want))
                self.assertEqual(seq % things, i)
                self.assertTrue(got[ns][5].startswith('{"seq":%d,' % seq))
            # A restart after the crash accepts and saves updates again.
            expect = os.path.join(self.tmp, "expect%d" % round_no)
            r = Run(path, "--things", things, "--expect", expect)
            r.wait_for(r"^acc ")
            self.assertEqual(r.term(), 0)
            self.check_exact(path, expect)

    def test_missing_directory_is_created(self):
        path = os.path.join(self.tmp, "var", "lib", "thingsbus", "state")
        expect = os.path.join(self.tmp, "expect")
        r = Run(path, "--things", 20, "--expect", expect)
        line = r.wait_for(r"^ready ")
        self.assertTrue(line.endswith("error="), line)
        r.wait_for(r"^acc ")
        self.assertEqual(r.term(), 0)
        self.check_exact(path, expect)

    def test_disk_full_keeps_serving_then_recovers(self):
        m = Mount(256 * 1024)
        try:
            path = os.path.join(m.dir, "state")
            expect = os.path.join(self.tmp, "expect")
            # 600 Things x ~700 bytes: the live state does not fit in 256 KiB.
            r = Run(path, "--things", 600, "--pad", 600, "--retry-ms", 100,
                    "--compact-min", 100000, "--expect", expect)
            r.wait_for(r"^err .*No space left on device")
            mark = len(r.lines)
            r.wait_for(r"^stat healthy=0 ", start=mark)
            self.assertIsNone(r.proc.proc.poll(), "the writer process died")
            m.remount("size=16m")
            mark = len(r.lines)
            r.wait_for(r"^stat healthy=1 ", start=mark, timeout=30)
            self.assertEqual(r.term(), 0)
            self.check_exact(path, expect)
        finally:
            m.close()

    def test_read_only_filesystem_then_writable(self):
        # A filesystem cannot be remounted read-only while a file on it is
        # open for writing, so the store starts on a read-only one.
        m = Mount(32 * 1024 * 1024)
        try:
            m.remount("ro")
            path = os.path.join(m.dir, "state")
            expect = os.path.join(self.tmp, "expect")
            r = Run(path, "--things", 100, "--retry-ms", 100, "--expect", expect)
            line = r.wait_for(r"^ready ")
            self.assertIn("Read-only file system", line)
            r.wait_for(r"^stat healthy=0 ")
            m.remount("rw")
            mark = len(r.lines)
            r.wait_for(r"^stat healthy=1 ", start=mark, timeout=30)
            self.assertEqual(r.term(), 0)
            self.check_exact(path, expect)
        finally:
            m.close()

    def test_start_on_read_only_filesystem(self):
        m = Mount(1024 * 1024)
        try:
            m.remount("ro")
            path = os.path.join(m.dir, "sub", "state")
            r = Run(path, "--things", 10, "--retry-ms", 100)
            line = r.wait_for(r"^ready ")
            self.assertIn("Read-only file system", line)
            r.wait_for(r"^acc ")
            self.assertEqual(r.term(), 1)   # close reports it could not save
        finally:
            m.close()


if __name__ == "__main__":
    tbtest.main()

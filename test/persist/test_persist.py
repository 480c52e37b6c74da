"""The directory survives restarts; damaged or unwritable state never stops
the broker (issue 10), with the real thingsbusd.

Why this exists: the store library has its own tests; these check the
promise users see: after a clean stop every Thing comes back exactly (data,
ts literal, sticky documentation URL, receive time, update count) and seq
continues; a truncated or corrupted state file costs only the damaged
records, which are reported and kept aside; a missing directory is created;
a full or read-only disk is logged once per interval while the broker keeps
serving, and saving resumes when the disk comes back.  What the broker
restored is read both from the v1 snapshot (python json, independent) and
from the state file it rewrites from memory (tb-store-driver dump).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from persist_helpers import (WAIT, Subscriber, damaged_copies, dump_state, push_socket,
                             start_broker, stop_broker, tbtest, update)

import msgpack
import socket


def wait_updates(sub, count, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while len(sub.updates) < count and time.monotonic() < deadline:
        sub.pump(0.1)
    return len(sub.updates)


def fill(broker, sub, n, prefix="room", pad=40):
    """n Things with varied data, explicit and broker-stamped ts, sticky
    documentation URLs (first update has one, the second does not);
    returns the number of updates sent."""
    push = push_socket(broker)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    for i in range(n):
        ns = "%s%d.sensor%03d" % (prefix, i % 7, i)
        doc = "https://example.org/doc/%d" % (i % 5)
        data = {"i": i, "pad": "x" * pad, "s": "caf\u00e9 \u2603", "l": [1, 2.5, None, True]}
        if i % 3 == 0:
            push.send(update(ns, data, documentation_url=doc, ts=1423351104.945))
            push.send(update(ns, dict(data, second=True), ts=1423351105.5))
            sent += 2
        elif i % 3 == 1:
            push.send(update(ns, [i, "list"], documentation_url=doc))
            sent += 1
        else:
            udp.sendto(msgpack.packb({"type": "thing_update", "ns": ns, "data": i * 1.25,
                                      "documentation_url": doc}), broker.udp_addr)
            sent += 1
            # UDP may be dropped by a busy kernel; wait for it before the next
            got = wait_updates(sub, sent)
            if got < sent:
                raise AssertionError("udp update %s never came back" % ns)
    got = wait_updates(sub, sent)
    push.close()
    udp.close()
    if got < sent:
        raise AssertionError("only %d of %d updates came back" % (got, sent))
    return sent


class TestCleanRestart(unittest.TestCase):
    def test_clean_restart_restores_everything_exactly(self):
        d = tempfile.mkdtemp(prefix="tb-persist-")
        n = 300
        a, aerr = start_broker(d, ["--snapshot-interval", "0.3"])
        sub = Subscriber(a)
        # a probe to be sure the SUB is connected before counting
        push = push_socket(a)
        for _ in range(100):
            push.send(update("probe", 1))
            if sub.pump(0.1):
                break
        push.close()
        sub.updates.clear()
        fill(a, sub, n)
        last_seq_a = sub.updates[-1][1]["seq"]
        names = {u["ns"] for _, u in sub.updates}
        s1 = dict(sub.wait_snapshot(names))
        text = stop_broker(self, a, aerr)
        self.assertIn("state: saved to thingsbus.state", text)
        d1, seq1 = dump_state(os.path.join(d, "thingsbus.state"))
        self.assertEqual(seq1, last_seq_a)
        self.assertTrue(names <= set(d1), names - set(d1))
        sub.close()

        # restart: compact as soon as the file grows a little, so the file
        # written at the end is rebuilt from the restarted broker's memory
        b, berr = start_broker(d, ["--snapshot-interval", "0.3", "--compact-min", "0",
                                   "--compact-ratio", "1.1"])
        berr.wait_for(r"state: %d Things from thingsbus.state" % len(d1))
        sub = Subscriber(b)
        s2 = sub.wait_snapshot(names)
        # every entry as before, ts literals included (the subscriber keeps
        # floats as their text, so a re-spelled number would differ)
        for ns in names:
            self.assertEqual(s2[ns], s1[ns], ns)
        # seq continues: the next update is last_seq + 1
        push = push_socket(b)
        touched = sorted(names)[::2]
        for ns in touched:
            push.send(update(ns, "again"))
        got = wait_updates(sub, len(touched))
        self.assertEqual(got, len(touched))
        seqs = [u["seq"] for _, u in sub.updates if u["ns"] in names]
        self.assertEqual(seqs[0], seq1 + 1)
        self.assertEqual(seqs, list(range(seq1 + 1, seq1 + 1 + len(touched))))
        push.close()
        sub.close()
        text = stop_broker(self, b, berr)
        self.assertRegex(text, r"stats: store enabled=1 healthy=1 [^\n]*compactions=[1-9]")
        d2, seq2 = dump_state(os.path.join(d, "thingsbus.state"))
        self.assertEqual(seq2, seq1 + len(touched))
        for ns in names:
            if ns in touched:
                seq, count, _bits, _ts, doc, data = d2[ns]
                self.assertEqual(count, d1[ns][1] + 1, ns)
                self.assertEqual(doc, d1[ns][4], "sticky doc URL of %s" % ns)
                self.assertEqual(data, '"again"')
            else:
                self.assertEqual(d2[ns], d1[ns], ns)
        shutil.rmtree(d, ignore_errors=True)

    def test_missing_directory_is_created(self):
        d = tempfile.mkdtemp(prefix="tb-persist-")
        path = os.path.join("not", "yet", "there.state")
        a, aerr = start_broker(d, ["--state-file", path, "--snapshot-interval", "0.3"])
        sub = Subscriber(a)
        push = push_socket(a)
        for i in range(100):
            push.send(update("probe.p%d" % i, i))
            if sub.pump(0.1):
                break
        push.send(update("kept.one", {"v": 1}, documentation_url="https://d.example/"))
        sub.wait_snapshot({"kept.one"})
        push.close()
        sub.close()
        stop_broker(self, a, aerr)
        self.assertTrue(os.path.exists(os.path.join(d, path)))
        b, berr = start_broker(d, ["--state-file", path, "--snapshot-interval", "0.3"])
        sub = Subscriber(b)
        snap = sub.wait_snapshot({"kept.one"})
        self.assertEqual(snap["kept.one"]["data"], {"v": 1})
        self.assertEqual(snap["kept.one"]["documentation_url"], "https://d.example/")
        sub.close()
        stop_broker(self, b, berr)
        shutil.rmtree(d, ignore_errors=True)

    def test_second_broker_on_the_same_state_exits_1(self):
        d = tempfile.mkdtemp(prefix="tb-persist-")
        a, aerr = start_broker(d)
        p = tbtest.Process([tbtest.binary("thingsbusd"), "--base-port",
                            str(tbtest.free_base_port()), "--bind-address", "127.0.0.1"], cwd=d)
        code, _, err = p.wait(timeout=WAIT)
        self.assertEqual(code, 1)
        self.assertIn("thingsbus.state", err.decode(errors="replace"))
        stop_broker(self, a, aerr)
        shutil.rmtree(d, ignore_errors=True)

    def test_persistence_off(self):
        for args in (["--no-persistence"], ["--state-file", ""]):
            d = tempfile.mkdtemp(prefix="tb-persist-")
            a, aerr = start_broker(d, args)
            push = push_socket(a)
            push.send(update("a.b", 1))
            push.close()
            text = stop_broker(self, a, aerr)
            self.assertIn("persistence off", text)
            self.assertIn("stats: store enabled=0", text)
            self.assertEqual(os.listdir(d), [], args)
            shutil.rmtree(d, ignore_errors=True)

    def test_config_file_sets_the_state_options(self):
        d = tempfile.mkdtemp(prefix="tb-persist-")
        with open(os.path.join(d, "t.conf"), "w") as f:
            f.write("state-file = conf/from-file.state\ncommit-window = 50\n"
                    "compact-ratio = 3\ncompact-min = 1M\nstate-retry = 100\n")
        a, aerr = start_broker(d, ["-c", "t.conf"])
        stop_broker(self, a, aerr)
        self.assertTrue(os.path.exists(os.path.join(d, "conf", "from-file.state")))
        shutil.rmtree(d, ignore_errors=True)

    def test_installed_config_file(self):
        """The configuration make install puts in /etc/thingsbus parses and
        points the state at /var/lib/thingsbus (overridden here: the command
        line wins over the file)."""
        conf = os.path.join(tbtest.TOP, "broker", "thingsbusd.conf")
        with open(conf) as f:
            self.assertRegex(f.read(), r"(?m)^state-file = /var/lib/thingsbus/thingsbus.state$")
        d = tempfile.mkdtemp(prefix="tb-persist-")
        a, aerr = start_broker(d, ["-c", conf, "--state-file", "here.state"])
        aerr.wait_for(r"state: 0 Things from here.state")
        stop_broker(self, a, aerr)
        self.assertTrue(os.path.exists(os.path.join(d, "here.state")))
        shutil.rmtree(d, ignore_errors=True)


def make_base_state(testcase, n, pad):
    """A state file of n Things, one update each, all records the same size."""
    d = tempfile.mkdtemp(prefix="tb-persist-base-")
    a, aerr = start_broker(d)
    push = push_socket(a)
    for i in range(n):
        push.send(update("t.x%04d" % i, "%s%04d" % ("v" * pad, i), ts=1500000000.25,
                         documentation_url="https://doc.example/%d" % (i % 3)))
    # wait until all are accepted: the counters say so
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        c = aerr.counters()
        if c.get("accepted.total", 0) >= n:
            break
        time.sleep(0.05)
    push.close()
    stop_broker(testcase, a, aerr)
    path = os.path.join(d, "thingsbus.state")
    things, seq = dump_state(path)
    testcase.assertEqual(len(things), n)
    with open(path, "rb") as f:
        data = f.read()
    shutil.rmtree(d, ignore_errors=True)
    return data, things, seq


def restart_on(testcase, content):
    """Start a broker on a state file holding content, stop it cleanly and
    return (its log, what it rewrote (dump), the directory)."""
    d = tempfile.mkdtemp(prefix="tb-persist-dmg-")
    with open(os.path.join(d, "thingsbus.state"), "wb") as f:
        f.write(content)
    b, berr = start_broker(d)
    berr.wait_for(r"state: \d+ Things")
    text = stop_broker(testcase, b, berr)
    things, seq = dump_state(os.path.join(d, "thingsbus.state"))
    return text, things, d


class TestDamagedState(unittest.TestCase):
    N = 400

    @classmethod
    def setUpClass(cls):
        cls.base, cls.things, cls.seq = make_base_state(cls("test_truncated_at_random_offsets"),
                                                        cls.N, 60)

    def check_subset(self, restored):
        for ns, v in restored.items():
            self.assertIn(ns, self.things)
            self.assertEqual(v, self.things[ns], ns)

    def test_truncated_at_random_offsets(self):
        rng = random.Random(10)
        size = len(self.base)
        offsets = sorted(rng.randrange(1, size) for _ in range(4)) + [size - 1]
        last = -1
        for off in offsets:
            text, restored, d = restart_on(self, self.base[:off])
            self.check_subset(restored)
            self.assertGreaterEqual(len(restored), last, "offset %d" % off)
            last = len(restored)
            # equal-size records: about off/size of them are intact
            self.assertGreaterEqual(len(restored), self.N * off // size - 3,
                                    "offset %d of %d" % (off, size))
            self.assertRegex(text, r"state: %d Things from thingsbus.state" % len(restored))
            if off > 64:
                self.assertIn("was damaged", text)
                kept = damaged_copies(d)
                self.assertEqual(len(kept), 1, text)
                self.assertIn(os.path.basename(kept[0]), text)
                with open(kept[0], "rb") as f:
                    self.assertEqual(f.read(), self.base[:off])
            shutil.rmtree(d, ignore_errors=True)
        self.assertGreaterEqual(last, self.N - 1)

    def test_corrupted_bytes(self):
        rng = random.Random(11)
        size = len(self.base)
        damaged = bytearray(self.base)
        flips = [rng.randrange(size // 4, size) for _ in range(3)]
        for off in flips:
            damaged[off] ^= 0x5A
        text, restored, d = restart_on(self, bytes(damaged))
        self.check_subset(restored)
        self.assertGreaterEqual(len(restored), self.N - 3 * 3)
        self.assertRegex(text, r"skipped [1-9]\d* damaged regions")
        self.assertEqual(len(damaged_copies(d)), 1)
        # the file written after the recovery is clean and complete
        b, berr = start_broker(d)
        berr.wait_for(r"state: %d Things" % len(restored))
        text2 = stop_broker(self, b, berr)
        self.assertNotIn("was damaged", text2)
        again, _ = dump_state(os.path.join(d, "thingsbus.state"))
        self.assertEqual(again, restored)
        shutil.rmtree(d, ignore_errors=True)

    def test_garbage_file(self):
        rng = random.Random(12)
        text, restored, d = restart_on(self, bytes(rng.randrange(256) for _ in range(5000)))
        self.assertEqual(restored, {})
        self.assertIn("was damaged", text)
        shutil.rmtree(d, ignore_errors=True)


def can_mount():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp(prefix="tb-mnt-probe-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return False
        subprocess.run(["umount", d])
        return True
    finally:
        shutil.rmtree(d, ignore_errors=True)


MOUNT_OK = can_mount()


class TestUnwritableDisk(unittest.TestCase):
    """A small tmpfs stands in for a full disk, and its read-only remount
    for a read-only one (skipped where mount is not allowed)."""

    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="tb-persist-disk-")
        self.mnt = os.path.join(self.d, "disk")
        os.mkdir(self.mnt)
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.stop(signal.SIGKILL)
        subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.d, ignore_errors=True)

    def mount(self, opts):
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", self.mnt], check=True)

    def remount(self, opts):
        subprocess.run(["mount", "-o", "remount," + opts, self.mnt], check=True)

    def serve_while_failing(self, expect_error, fix):
        n, pad = 500, 300
        args = ["--state-file", "disk/thingsbus.state", "--state-retry", "200",
                "--commit-window", "100", "--snapshot-interval", "0.5"]
        b, berr = start_broker(self.d, args)
        self.broker = b
        sub = Subscriber(b)
        push = push_socket(b)
        for _ in range(100):
            push.send(update("probe", 1))
            if sub.pump(0.1):
                break
        sub.updates.clear()
        for i in range(n):
            push.send(update("big.t%04d" % i, "p" * pad + str(i)))
        self.assertEqual(wait_updates(sub, n), n, "the broker stopped serving")
        berr.wait_for(expect_error)
        t0 = time.monotonic()
        time.sleep(1.0)
        # still serving while the disk fails
        push.send(update("big.late", "still here"))
        self.assertEqual(wait_updates(sub, n + 1), n + 1)
        berr.pump(0.1)
        elapsed = time.monotonic() - t0 + 1.5
        warnings = berr.text.count("state: ") - berr.text.count("state: 0 Things")
        # once per retry interval (200 ms), not once per update
        self.assertLess(warnings, elapsed / 0.2 + 6, berr.text)
        fix()
        berr.wait_for(r"state: disk/thingsbus.state is being written again")
        push.close()
        sub.close()
        text = stop_broker(self, b, berr)
        self.broker = None
        self.assertIn("state: saved to", text)
        things, _ = dump_state(os.path.join(self.mnt, "thingsbus.state"))
        for i in range(n):
            self.assertEqual(things["big.t%04d" % i][5], json.dumps("p" * pad + str(i)))
        self.assertEqual(things["big.late"][5], '"still here"')

    @unittest.skipUnless(MOUNT_OK, "cannot mount a tmpfs here (not root or no privilege)")
    def test_disk_full_keeps_serving_then_recovers(self):
        self.mount("size=32k")
        self.serve_while_failing(r"No space left on device", lambda: self.remount("size=8m"))

    @unittest.skipUnless(MOUNT_OK, "cannot mount a tmpfs here (not root or no privilege)")
    def test_read_only_keeps_serving_then_recovers(self):
        self.mount("size=8m")
        os.mkdir(os.path.join(self.mnt, "x"))
        self.remount("ro")
        self.serve_while_failing(r"Read-only file system", lambda: self.remount("rw"))


if __name__ == "__main__":
    tbtest.main()

"""kill -9 under load, then restart (issue 10), with the real thingsbusd.

Why this exists: the promise for a crash is precise: every update accepted
more than the commit window before the crash comes back; adaptors and
clients carry on by themselves.  Three adaptor processes (python3-zmq PUSH)
send increasing counters to their Things without pause; a subscriber
records when each value was published (a value published at time t was
accepted before t).  After kill -9 the state file is read with
tb-store-driver dump (what the next start will restore), and every Thing
published at least one window before the kill must be there with a value
at least as new.  Then the broker restarts on the same ports: the same
adaptor processes' new values and a fresh snapshot reach the same SUB
socket, and sequence numbers continue above the restored ones.
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

from persist_helpers import (SANITIZED, WAIT, Subscriber, dump_state, start_broker,
                             stop_broker, tbtest)

ADAPTOR = r'''
import json, sys, time, zmq
url, name, things = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.SNDHWM, 20000)
s.connect(url)
n = 0
deadline = time.monotonic() + 120          # bounded even if never stopped
while time.monotonic() < deadline:
    n += 1
    msg = json.dumps({"type": "thing_update", "ns": "load.%s.t%d" % (name, n % things),
                      "data": {"n": n}}).encode()
    try:
        s.send(msg, zmq.NOBLOCK)
    except zmq.Again:
        n -= 1
        time.sleep(0.005)
        continue
    if n % 20 == 0:
        time.sleep(0.004)                  # about 5000 updates/s per adaptor
'''

WINDOW_MS = 1000


class Collector(threading.Thread):
    """Pumps a Subscriber in the background until stopped."""

    def __init__(self, sub):
        super().__init__(daemon=True)
        self.sub = sub
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            with self.lock:
                self.sub.pump(0.05, limit=2000)

    def stop(self):
        self.halt.set()
        self.join(10)


class TestKillUnderLoad(unittest.TestCase):
    def test_kill_9_under_load_then_restart(self):
        d = tempfile.mkdtemp(prefix="tb-crash-")
        base = tbtest.free_base_port()
        args = ["--snapshot-interval", "0.5", "--commit-window", str(WINDOW_MS)]
        a, aerr = start_broker(d, args, base=base)
        sub = Subscriber(a)
        col = Collector(sub)
        col.start()
        names = ["a", "b", "c"]
        things = 40
        adaptors = [tbtest.Process([sys.executable, "-c", ADAPTOR, a.input_url, n, str(things)])
                    for n in names]
        try:
            self.run_crash(d, base, args, a, aerr, sub, col, names, things)
        finally:
            col.stop()
            for p in adaptors:
                p.stop()
            sub.close()
            shutil.rmtree(d, ignore_errors=True)

    def run_crash(self, d, base, args, a, aerr, sub, col, names, things):
        # run under load for a few windows
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with col.lock:
                seen = {u["ns"] for _, u in sub.updates}
            if len(seen) >= len(names) * things:
                break
        time.sleep(2.5 * WINDOW_MS / 1000)
        t_kill = time.monotonic()
        stop_broker(self, a, aerr, signal.SIGKILL)
        with col.lock:
            before = list(sub.updates)
        restored, last_seq = dump_state(os.path.join(d, "thingsbus.state"))

        # what was published at least one window before the kill is restored
        cutoff = t_kill - WINDOW_MS / 1000.0
        newest = {}
        for t, u in before:
            if t <= cutoff:
                newest[u["ns"]] = max(newest.get(u["ns"], 0), u["data"]["n"])
        self.assertEqual(len(newest), len(names) * things, "load did not reach every Thing")
        older = []
        for ns, n in newest.items():
            self.assertIn(ns, restored)
            got = json.loads(restored[ns][5])["n"]
            if got < n:
                older.append((ns, got, n))
        self.assertEqual(older, [], "restored values older than the commit window")
        lost = [t for t, u in before if u["seq"] > last_seq]
        print("# %d updates published before the kill; %d Things restored up to seq %d; "
              "%d later updates lost, published %.0f..%.0f ms before the kill"
              % (len(before), len(restored), last_seq, len(lost),
                 (t_kill - min(lost)) * 1000 if lost else 0,
                 (t_kill - max(lost)) * 1000 if lost else 0), flush=True)
        max_before = {}
        for _, u in before:
            max_before[u["ns"]] = max(max_before.get(u["ns"], 0), u["data"]["n"])
        for ns, v in restored.items():
            if ns.startswith("load."):
                self.assertLessEqual(json.loads(v[5])["n"], max_before.get(ns, 0), ns)

        # restart on the same ports; the adaptors and the SUB reconnect alone
        t_restart = time.monotonic()
        with col.lock:
            sub.snapshot = {}
            snaps_before = sub.snapshots
        b, berr = start_broker(d, args, base=base)
        berr.wait_for(r"state: %d Things from thingsbus.state" % len(restored))
        deadline = time.monotonic() + WAIT
        after = []
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with col.lock:
                after = [(t, u) for t, u in sub.updates if t > t_restart]
                snaps = sub.snapshots
            fresh = {u["ns"].split(".")[1] for _, u in after
                     if u["data"]["n"] > max(max_before.get(u["ns"], 0), 0)}
            if fresh >= set(names) and snaps > snaps_before:
                break
        self.assertEqual(fresh, set(names), "not every adaptor carried on after the restart")
        self.assertGreater(min(u["seq"] for _, u in after), last_seq,
                           "seq went back after the restart")
        # snapshots after the restart hold the restored directory (resync)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with col.lock:
                if set(restored) <= set(sub.snapshot):
                    break
            time.sleep(0.1)
        with col.lock:
            self.assertTrue(set(restored) <= set(sub.snapshot))
        text = stop_broker(self, b, berr)
        self.assertIn("state: saved to", text)


if __name__ == "__main__":
    tbtest.main()

"""Helpers shared by the client tests (test/client/test_*.py).

Why this exists: the client tests need a fake v1 broker (a python3-zmq PUB
socket publishing exact protocol-v1 bytes, which is also what a deployed
original broker sends) and a way to drive tb-client-probe (a program
linking libthingsbus-client) and read its event lines.  Both are here so
each test reads as the scenario it checks.
"""
import json
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402
import zmq  # noqa: E402

PROBE = os.path.join(tbtest.BUILD, "test", "tb-client-probe")


def v1_update(ns, data, ts, doc=None):
    """A thing_update as the original broker republishes it (Python json.dumps)."""
    return json.dumps({"type": "thing_update", "ns": ns, "data": data, "ts": ts,
                       "documentation_url": doc}).encode()


def v1_snapshot(entries, now=None):
    """A thing_snapshot: entries is a list of (ns, data, ts, doc)."""
    body = {}
    for ns, data, ts, doc in entries:
        body[ns] = {"data": data, "ts": ts, "ns": ns, "documentation_url": doc}
    return json.dumps({"type": "thing_snapshot", "ts": now or time.time(), "data": body}).encode()


class FakeBroker:
    """A PUB socket on a free loopback port, standing in for a v1 broker."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.url = "tcp://127.0.0.1:%d" % self.port

    def send(self, raw):
        self.pub.send(raw)

    def send_multipart(self, frames):
        self.pub.send_multipart(frames)

    def close(self):
        self.pub.close(0)
        self.ctx.term()


class LineReader:
    """Collects a process's stdout lines on a thread."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            self.q.put(raw.decode(errors="replace").rstrip("\n"))
        self.q.put(None)

    def get(self, timeout):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_for(self, pred, timeout=10.0, keep=None):
        """Next line satisfying pred; other lines go to keep (a list) if given."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.get(max(0.01, deadline - time.monotonic()))
            if line is None:
                if not self.t.is_alive() and self.q.empty():
                    raise EOFError("the program ended")
                continue
            if pred(line):
                return line
            if keep is not None:
                keep.append(line)
        raise TimeoutError("no matching line within %.1fs" % timeout)


def parse_event(line):
    """'event sub=1 ns=a flags=tree ts=1.000 data={..} doc=-' -> dict."""
    assert line.startswith("event "), line
    out = {}
    rest = line[len("event "):]
    for key in ("sub", "ns", "flags", "ts"):
        k, _, rest = rest.partition(" ")
        name, _, val = k.partition("=")
        assert name == key, line
        out[key] = val
    assert rest.startswith("data="), line
    data, _, doc = rest[len("data="):].rpartition(" doc=")
    out["data"] = data
    out["doc"] = doc.split(" dropped=")[0]
    out["sub"] = int(out["sub"])
    return out


class Probe:
    """tb-client-probe: subs[0] and subs[1] are reserved for the sync and
    end markers ("zsync/none" id 1, "zend/none" id 2)."""

    def __init__(self, url, subs=(), callback=False, queue_limit=None, env=None):
        argv = [PROBE, url]
        if callback:
            argv.append("--callback")
        if queue_limit:
            argv += ["--queue", str(queue_limit)]
        argv += ["zsync/none", "zend/none"] + list(subs)
        self.proc = tbtest.Process(argv, env=env, stdin=__import__("subprocess").PIPE)
        self.out = LineReader(self.proc.proc.stdout)
        self.ids = {}
        while True:
            line = self.out.wait_for(lambda l: True, timeout=10)
            if line == "ready":
                break
            if line.startswith("subscribed "):
                spec, _, rid = line[len("subscribed "):].rpartition(" id=")
                self.ids[spec] = int(rid)

    def command(self, text, timeout=10.0):
        word = text.split(" ", 1)[0]
        self.proc.proc.stdin.write((text + "\n").encode())
        self.proc.proc.stdin.flush()
        return self.out.wait_for(lambda l: l.startswith(word + " "), timeout=timeout)

    def stats(self):
        return json.loads(self.command("stats")[len("stats "):])

    def sync(self, broker, timeout=10.0):
        """Publish markers until the probe sees one (the PUB/SUB join is done)."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n += 1
            broker.send(v1_update("zsync", n, 1.0))
            try:
                self.out.wait_for(lambda l: l.startswith("event sub=1 "), timeout=0.1)
                return
            except TimeoutError:
                pass
        raise TimeoutError("the probe never received a sync marker")

    def collect(self, broker, timeout=10.0):
        """Send the end marker; return the events before it (marker events dropped)."""
        broker.send(v1_update("zend", 0, 1.0))
        lines = []
        self.out.wait_for(lambda l: l.startswith("event sub=2 "), timeout=timeout, keep=lines)
        events = [parse_event(l) for l in lines if l.startswith("event ")]
        return [e for e in events if e["ns"] not in ("zsync", "zend")]

    def stop(self):
        try:
            self.proc.proc.stdin.write(b"quit\n")
            self.proc.proc.stdin.flush()
        except OSError:
            pass
        code, _, err = self.proc.wait(timeout=10)
        return code, err

"""A protocol v2 client written from proto/PROTOCOL.md, part 2, in Python.

Why this exists: the broker's v2 tests need a client that is not our C
code (the wire format is checked against an independent implementation,
never our codec at both ends).  It follows section 6: subscribe on P+3,
wait for the welcome heartbeat, SNAPSHOT with credit on P+2, buffer the
P+3 messages while the stream runs, apply batches by "highest seq wins",
then replay the buffer past `start`, and check every later message with
the prev-chain rules of section 3.4.  Loss is counted, never repaired
silently: resync() is explicit so tests can see each step.
"""
import json
import time

import zmq


def ns_depth(ns):
    return 0 if ns == "" else ns.count(".") + 1


def within(ns, prefix):
    return prefix == "" or ns == prefix or ns.startswith(prefix + ".")


class V2Mirror:
    """A mirror of subtree `prefix` ("" = everything) of a v2 broker at base P."""

    def __init__(self, ctx, base, prefix="", host="127.0.0.1", rcvhwm=None, credit=8):
        self.ctx = ctx
        self.prefix = prefix
        self.depth = ns_depth(prefix)
        self.credit = credit
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.sub.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sub.connect("tcp://%s:%d" % (host, base + 3))
        self.topic = b"" if prefix == "" else (prefix + ".").encode()
        self.sub.setsockopt(zmq.SUBSCRIBE, self.topic)
        self.snap_ep = "tcp://%s:%d" % (host, base + 2)
        self.dealer = None
        self.things = {}          # ns -> entry dict (data, ts, doc, seq)
        self.last_seen = 0
        self.start = None
        self.epoch = None
        self.losses = 0
        self.purges = []
        self.heartbeats = []
        self.updates_seen = 0
        self.rid_n = 0
        self.end = None

    def close(self):
        self.sub.close(0)
        if self.dealer is not None:
            self.dealer.close(0)

    # ---------------------------------------------------------------- join
    def wait_welcome(self, timeout=10.0):
        """The welcome heartbeat proves the subscription is in force."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sub.poll(100):
                topic, body = self.sub.recv_multipart()
                msg = json.loads(body)
                if msg["type"] == "heartbeat" and topic == self.topic:
                    return msg
        raise TimeoutError("no welcome heartbeat for %r" % self.prefix)

    def request_snapshot(self):
        if self.dealer is None:
            self.dealer = self.ctx.socket(zmq.DEALER)
            self.dealer.setsockopt(zmq.LINGER, 0)
            self.dealer.connect(self.snap_ep)
        self.rid_n += 1
        self.rid = b"s%d" % self.rid_n
        # everything received before the request is in the snapshot: discard
        while self.sub.poll(0):
            self.sub.recv_multipart()
        self.dealer.send_multipart([b"SNAPSHOT", self.rid, self.prefix.encode(),
                                    str(self.credit).encode()])

    def join(self, timeout=30.0):
        self.wait_welcome(timeout)
        self.resync(timeout)

    def resync(self, timeout=30.0):
        """SNAPSHOT, buffer P+3 meanwhile, merge, replay (section 6.1)."""
        self.request_snapshot()
        held_before = set(self.things)
        confirmed = set()
        buffered = []
        deadline = time.monotonic() + timeout
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        poller.register(self.dealer, zmq.POLLIN)
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("snapshot did not end")
            ready = dict(poller.poll(200))
            if self.sub in ready:
                while self.sub.poll(0):
                    buffered.append(self.sub.recv_multipart())
            if self.dealer in ready:
                frames = self.dealer.recv_multipart()
                kind, rid = frames[0], frames[1]
                if rid != self.rid:
                    continue
                if kind == b"BATCH":
                    body = json.loads(frames[2])
                    assert body["type"] == "thing_snapshot", body
                    for ns, e in body["data"].items():
                        assert e["ns"] == ns and within(ns, self.prefix), e
                        confirmed.add(ns)
                        self._merge(ns, e)
                    self.dealer.send_multipart([b"CREDIT", self.rid, b"1"])
                elif kind == b"END":
                    self.end = json.loads(frames[2])
                    break
                else:
                    raise AssertionError("unexpected reply %r" % frames)
        while self.sub.poll(0):
            buffered.append(self.sub.recv_multipart())
        self.start = self.end["start"]
        self.last_seen = self.end["last"]
        self.epoch = self.end["epoch"]
        for frames in buffered:
            self._live(frames, confirmed)
        for ns in held_before - confirmed:
            self.things.pop(ns, None)

    # ----------------------------------------------------------- merging
    def _merge(self, ns, entry):
        cur = self.things.get(ns)
        if cur is None or entry["seq"] > cur["seq"]:
            doc = entry.get("documentation_url")
            if doc is None and cur is not None:
                doc = cur.get("documentation_url")
            e = dict(entry)
            e["documentation_url"] = doc
            self.things[ns] = e

    def _live(self, frames, confirmed=None):
        topic, body = frames
        msg = json.loads(body)
        t = msg["type"]
        if t == "heartbeat":
            self.heartbeats.append(msg)
            if msg["ns"] != self.prefix or msg["seq"] <= self.start:
                return
            if self.epoch and msg["epoch"] != self.epoch:
                self.losses += 1            # a restart: resync needed
                return
            if msg["last"] == self.last_seen:
                return
            if msg["last"] == 0 and not self.things:
                self.last_seen = 0
                return
            self.losses += 1
            return
        assert topic == (msg["ns"] + ".").encode(), (topic, msg)
        assert len(msg["prev"]) == ns_depth(msg["ns"]) + 1, msg
        if msg["seq"] <= self.start:
            return
        p = msg["prev"][self.depth]
        if p != self.last_seen and p != 0:
            self.losses += 1
        self.last_seen = msg["seq"]
        if confirmed is not None:
            confirmed.add(msg["ns"])
        if t == "thing_update":
            self.updates_seen += 1
            self._merge(msg["ns"], msg)
        elif t == "thing_purge":
            self.purges.append(msg)
            cur = self.things.get(msg["ns"])
            if cur is not None and msg["seq"] > cur["seq"]:
                del self.things[msg["ns"]]
        else:
            raise AssertionError("unknown message %r" % msg)

    def pump(self, timeout=0.2):
        """Apply what P+3 has, waiting up to timeout for the first message."""
        n = 0
        if self.sub.poll(int(timeout * 1000)):
            while self.sub.poll(0):
                self._live(self.sub.recv_multipart())
                n += 1
        return n

    def pump_until(self, pred, timeout=20.0, what="a condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            self.pump(0.1)
        if not pred():
            raise AssertionError("timed out waiting for " + what)

    def data(self):
        """{ns: data} of the mirror (data as Python values)."""
        return {ns: e["data"] for ns, e in self.things.items()}


def request(ctx, base, frames, timeout=10.0, host="127.0.0.1"):
    """One request on a fresh DEALER; returns the list of replies up to
    END/THING/ERROR (streams get credit as they go)."""
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect("tcp://%s:%d" % (host, base + 2))
    try:
        d.send_multipart(frames)
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not d.poll(200):
                continue
            r = d.recv_multipart()
            out.append(r)
            if r[0] == b"BATCH":
                d.send_multipart([b"CREDIT", r[1], b"1"])
                continue
            return out
        raise TimeoutError("no reply to %r" % frames[:1])
    finally:
        d.close(0)

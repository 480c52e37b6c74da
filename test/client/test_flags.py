"""The subscription flag matrix of PROTOCOL-v1.md, against a fake v1 broker.

Why this exists: the flags are the contract every client program relies
on.  Four subscriptions on Thing a.b (F_NONE, F_TREE, F_SNAPSHOT, both)
see fresh and snapshot-sourced events about a.b itself, its child a.b.c
and grandchild a.b.c.d, plus Things outside the subtree (the parent a,
the sibling a.bc whose name merely starts with "a.b").  The expected
deliveries are written out by hand below, and checked for both delivery
styles (callbacks and the pull API).  The fake broker publishes exact v1
bytes, so this is also the compatibility test with an original broker.
"""
import clienttest as ct
import tbtest
import unittest

SUBS = {"none": "a.b/none", "tree": "a.b/tree", "snapshot": "a.b/snapshot",
        "both": "a.b/tree+snapshot", "root": "/tree+snapshot"}

# (event ns, snapshot-sourced) -> the a.b subscriptions that must see it,
# with the flags each must report.
EXPECTED = {
    ("a.b", False):     {"none": "none", "tree": "none", "snapshot": "none", "both": "none"},
    ("a.b.c", False):   {"tree": "tree", "both": "tree"},
    ("a.b.c.d", False): {"tree": "tree", "both": "tree"},
    ("a.b", True):      {"snapshot": "snapshot", "both": "snapshot"},
    ("a.b.c", True):    {"both": "tree+snapshot"},
    ("a.b.c.d", True):  {"both": "tree+snapshot"},
    ("a", False):       {},
    ("a.bc", False):    {},
    ("a", True):        {},
    ("a.bc", True):     {},
}


class FlagMatrix(unittest.TestCase):
    def run_matrix(self, callback):
        broker = ct.FakeBroker()
        probe = ct.Probe(broker.url, SUBS.values(), callback=callback)
        try:
            probe.sync(broker)
            names = {probe.ids[spec]: name for name, spec in SUBS.items()}
            fresh = ["a.b", "a.b.c", "a.b.c.d", "a", "a.bc"]
            for i, ns in enumerate(fresh):
                broker.send(ct.v1_update(ns, {"i": i, "ns": ns}, 1000.0 + i))
            broker.send(ct.v1_snapshot([(ns, {"snap": ns}, 2000.5, None) for ns in fresh]))
            events = probe.collect(broker)
            got = {}
            for e in events:
                snap = "snapshot" in e["flags"]
                got.setdefault((e["ns"], snap), {})[names[e["sub"]]] = e["flags"]
            for key, want in EXPECTED.items():
                have = {k: v for k, v in got.get(key, {}).items() if k != "root"}
                self.assertEqual(have, want, "event %r" % (key,))
                # the root subscription (tree+snapshot) sees everything, as
                # a tree event since nothing here is the root itself
                self.assertEqual(got.get(key, {}).get("root"),
                                 "tree+snapshot" if key[1] else "tree", "root sub, %r" % (key,))
            # one event per (event, subscription): no duplicates
            self.assertEqual(len(events), sum(len(v) for v in got.values()))
            # data and ts travel unchanged (compact JSON)
            e = [e for e in events if e["ns"] == "a.b.c" and e["flags"] == "tree"][0]
            self.assertEqual(e["data"], '{"i":1,"ns":"a.b.c"}')
            self.assertEqual(e["ts"], "1001.000")
            # original order: the Thing's own listeners before its ancestors'
            order = [names[e["sub"]] for e in events if e["ns"] == "a.b" and e["flags"] == "none"]
            self.assertEqual(order, ["none", "tree", "snapshot", "both"])
        finally:
            code, err = probe.stop()
            broker.close()
        self.assertEqual(code, 0, err)

    def test_matrix_callbacks(self):
        self.run_matrix(callback=True)

    def test_matrix_pull(self):
        self.run_matrix(callback=False)

    def test_root_event_and_root_none(self):
        broker = ct.FakeBroker()
        probe = ct.Probe(broker.url, ["/none", "x/tree"])
        try:
            probe.sync(broker)
            broker.send(ct.v1_update("", [1], 5.25))
            broker.send(ct.v1_update("x.y", 2, 6.0))
            events = probe.collect(broker)
            root_none = probe.ids["/none"]
            self.assertEqual([(e["sub"], e["ns"], e["flags"]) for e in events],
                             [(root_none, "", "none"), (probe.ids["x/tree"], "x.y", "tree")])
        finally:
            probe.stop()
            broker.close()

    def test_unsubscribe_and_subscribe_later(self):
        broker = ct.FakeBroker()
        probe = ct.Probe(broker.url, ["q/tree"])
        try:
            probe.sync(broker)
            self.assertEqual(probe.command("unsub %d" % probe.ids["q/tree"]), "unsub rc=0")
            self.assertEqual(probe.command("unsub 999"), "unsub rc=-1")
            reply = probe.command("sub q.r/none")
            new_id = int(reply.split("=")[1])
            self.assertGreater(new_id, 0)
            self.assertEqual(probe.command("sub Bad/none"), "sub rc=-3")
            broker.send(ct.v1_update("q.r", 1, 1.0))
            broker.send(ct.v1_update("q.r.s", 1, 1.0))
            events = probe.collect(broker)
            self.assertEqual([(e["sub"], e["ns"]) for e in events], [(new_id, "q.r")])
        finally:
            probe.stop()
            broker.close()


if __name__ == "__main__":
    tbtest.main()

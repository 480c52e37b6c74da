"""Hostile and malformed broker messages are skipped, counted, never fatal.

Why this exists: a client must outlive a buggy or hostile broker and keep
serving the good messages around the bad ones.  Each message below breaks
one rule; the client must reject it with the named reason, count it, and
still deliver the valid update sent after the whole lot.
"""
import json
import time
import unittest

import clienttest as ct
import tbtest

U = b'{"type":"thing_update",'
BAD = [
    (b"", "bad_json"),
    (b"garbage", "bad_json"),
    (b"\xff\xfe{}", "bad_json"),
    (U + b'"ns":"a","data":"\xc3\x28","ts":1.0}', "bad_json"),        # invalid UTF-8
    (U + b'"ns":"a","data":"x\\u0000y","ts":1.0}', "bad_json"),       # NUL in a string
    (U + b'"ns":"a","data":NaN,"ts":1.0}', "bad_json"),
    (U + b'"ns":"a","data":1e400,"ts":1.0}', "bad_json"),             # real overflow
    (U + b'"ns":"a","data":123456789012345678901234,"ts":1.0}', "bad_json"),
    (U + b'"ns":"a","data":1,"ts":1.0', "bad_json"),                  # truncated
    (U + b'"ns":"a","data":1,"ts":1.0} trailing', "bad_json"),
    (b"[" * 100000 + b"]" * 100000, "bad_json"),                        # deep nesting
    (b'["a", 1.0, {}, null]', "not_an_object"),                         # list form is input-only
    (b'"thing_update"', "not_an_object"),
    (b'{"ns":"a","data":1,"ts":1.0}', "missing_type"),
    (b'{"type":5,"ns":"a","data":1}', "missing_type"),
    (b'{"type":"thing_heartbeat","seq":5}', "unknown_type"),
    (U + b'"data":1,"ts":1.0}', "bad_ns"),
    (U + b'"ns":5,"data":1,"ts":1.0}', "bad_ns"),
    (U + b'"ns":"A","data":1,"ts":1.0}', "bad_ns"),
    (U + b'"ns":"a..b","data":1,"ts":1.0}', "bad_ns"),
    (U + b'"ns":"a.","data":1,"ts":1.0}', "bad_ns"),
    (U + b'"ns":"' + b"a" * 65 + b'","data":1,"ts":1.0}', "bad_ns"),
    (U + b'"ns":"a","ts":1.0}', "missing_data"),
    (U + b'"ns":"a","data":1,"ts":"yesterday"}', "bad_ts"),
    (U + b'"ns":"a","data":1,"ts":1.0,"documentation_url":5}', "bad_doc_url"),
    (b'{"type":"thing_snapshot","ts":1.0,"data":[1]}', "bad_snapshot"),
    (b'{"type":"thing_snapshot","ts":1.0}', "bad_snapshot"),
]


class Malformed(unittest.TestCase):
    def setUp(self):
        self.broker = ct.FakeBroker()
        self.probe = ct.Probe(self.broker.url, ["/tree+snapshot"])
        self.probe.sync(self.broker)

    def tearDown(self):
        code, err = self.probe.stop()
        self.broker.close()
        self.assertEqual(code, 0, err)

    def test_each_bad_message_is_named_and_counted(self):
        before = self.probe.stats()
        for raw, _ in BAD:
            self.broker.send(raw)
        self.broker.send_multipart([b"topic", ct.v1_update("m", 1, 1.0)])
        self.broker.send(ct.v1_update("good.one", {"ok": True}, 1423351104.945))
        events = self.probe.collect(self.broker)
        self.assertEqual([(e["ns"], e["data"]) for e in events if e["ns"] != "zend"],
                         [("good.one", '{"ok":true}')])
        after = self.probe.stats()
        want = {}
        for _, reason in BAD:
            want[reason] = want.get(reason, 0) + 1
        want["multipart"] = 1
        for reason, count in after["rejected"].items():
            self.assertEqual(count - before["rejected"][reason], want.get(reason, 0), reason)
        self.assertEqual(after["ignored"] - before["ignored"], 1)
        self.assertEqual(after["malformed"] - before["malformed"], len(BAD))  # -1 unknown +1 multipart
        # nothing of the rejected messages reached the mirror
        self.assertEqual(self.probe.command("get a"), "get rc=-16 data=-")
        self.assertEqual(self.probe.command("get m"), "get rc=-16 data=-")

    def test_bad_snapshot_entries_are_skipped_one_by_one(self):
        snap = {"type": "thing_snapshot", "ts": time.time(), "data": {
            "ok.one": {"data": 1, "ts": 10.0, "ns": "ok.one", "documentation_url": None},
            "Bad": {"data": 2, "ts": 10.0, "ns": "Bad", "documentation_url": None},
            "no.data": {"ts": 10.0, "ns": "no.data", "documentation_url": None},
            "not.obj": 7,
            "mismatch": {"data": 3, "ts": 10.0, "ns": "other", "documentation_url": None},
            "bad.ts": {"data": 4, "ts": "x", "ns": "bad.ts", "documentation_url": None},
            "ok.two": {"data": [5], "ts": 11.0, "ns": "ok.two", "documentation_url": "http://d"},
        }}
        before = self.probe.stats()
        # a round whose first part arrives right after the connection may
        # have begun earlier (the client then waits for the next round);
        # leave a clear gap so this one counts
        time.sleep(0.2)
        self.broker.send(json.dumps(snap).encode())
        events = self.probe.collect(self.broker)
        self.assertEqual([(e["ns"], e["data"], e["flags"], e["doc"]) for e in events],
                         [("ok.one", "1", "tree+snapshot", "-"),
                          ("ok.two", "[5]", "tree+snapshot", "http://d")])
        after = self.probe.stats()
        delta = {k: after["rejected"][k] - before["rejected"][k] for k in after["rejected"]}
        self.assertEqual(delta["bad_ns"], 2)
        self.assertEqual(delta["missing_data"], 1)
        self.assertEqual(delta["bad_snapshot"], 1)
        self.assertEqual(delta["bad_ts"], 1)
        self.assertEqual(after["snapshots"] - before["snapshots"], 1)
        self.assertEqual(after["snapshot_entries"] - before["snapshot_entries"], 2)
        # one round, then quiet: the client counts it as a whole directory
        self.assertEqual(self.probe.command("synced 5000"), "synced rc=0")

    def test_lenient_on_what_v1_allows(self):
        # ts null or absent: the receive time; integer ts from a broker is
        # accepted; unknown extra keys ignored; documentation_url absent.
        t0 = time.time()
        self.broker.send(b'{"type":"thing_update","ns":"n.null","data":1,"ts":null}')
        self.broker.send(b'{"type":"thing_update","ns":"n.int","data":2,"ts":1423351104,"seq":9,"x":[]}')
        self.broker.send(b'{"type": "thing_update", "ns": "n.spaces", "data": {"b": 0.1, "a": [1.0, -2e-05]}, "ts": 5.0}')
        events = self.probe.collect(self.broker)
        byns = {e["ns"]: e for e in events}
        self.assertGreaterEqual(float(byns["n.null"]["ts"]), t0 - 1)
        self.assertEqual(byns["n.int"]["ts"], "1423351104.000")
        # compact JSON, key order kept, reals in shortest round-trip form
        self.assertEqual(byns["n.spaces"]["data"], '{"b":0.1,"a":[1.0,-2e-05]}')
        self.assertEqual(self.probe.stats()["malformed"], 0)


if __name__ == "__main__":
    tbtest.main()

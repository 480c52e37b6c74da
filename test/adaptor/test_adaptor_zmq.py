"""libthingsbus-adaptor over ZeroMQ, against bare python3-zmq peers.

Why this exists: the adaptor's promises (exact v1 bytes, rejection at the
call, never blocking, bounded queue with counted drops, delivery in order
before a broker exists and across its restart, linger on destroy, PUB mode
without slow-joiner loss, suppression with heartbeat) are checked here with
an independent ZeroMQ implementation and Python's json decoder.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driverlib  # noqa: E402
from driverlib import DOC, Driver, recv_all, recv_nothing  # noqa: E402
import tbtest  # noqa: E402
import zmq  # noqa: E402


class ZmqAdaptorTest(driverlib.ZmqCase):
    def bind(self, kind, port=None):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if kind == zmq.SUB:
            s.setsockopt(zmq.SUBSCRIBE, b"")
        if port is None:
            port = s.bind_to_random_port("tcp://127.0.0.1")
        else:
            s.bind("tcp://127.0.0.1:%d" % port)
        self.socks.append(s)
        return s, port

    def close(self, s):
        s.close(linger=0)
        self.socks.remove(s)

    # ------------------------------------------------------------ bytes
    def test_map_form_fixed_bytes(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port)
        self.assertEqual(d.send('{"busy":12.0,"light":31.8}', sub="spacemon", ts="1423351104.945"), 0)
        got = recv_all(pull, 1)
        d.quit()
        self.assertEqual(got, [b'{"type":"thing_update","ns":"shop.shopbot.spacemon",'
                               b'"data":{"busy":12.0,"light":31.8},"ts":1423351104.945,'
                               b'"documentation_url":"http://example.com/Shopbot_Thingsbus_Documentation"}'])

    def test_ts_defaults_to_now_as_float(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--no-doc")
        before = time.time()
        self.assertEqual(d.send('  [1, "two", null]  '), 0)
        after = time.time()
        got = recv_all(pull, 1)
        d.quit()
        msg = json.loads(got[0])
        self.assertEqual(set(msg), {"type", "ns", "data", "ts", "documentation_url"})
        self.assertEqual(msg["ns"], "shop.shopbot")
        self.assertEqual(msg["data"], [1, "two", None])
        self.assertIsNone(msg["documentation_url"])
        self.assertIsInstance(msg["ts"], float)
        self.assertTrue(before - 1 <= msg["ts"] <= after + 1)
        # an integral time is still written as a float literal (v1 rejects ints)
        pull2, port2 = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port2)
        self.assertEqual(d.send("1", ts="1423351104"), 0)
        raw = recv_all(pull2, 1)[0]
        d.quit()
        self.assertIsInstance(json.loads(raw)["ts"], float)

    def test_list_form_on_request(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--form", "list")
        self.assertEqual(d.send('{"a":1}', sub="x.y", ts="12.5"), 0)
        got = recv_all(pull, 1)
        d.quit()
        self.assertEqual(json.loads(got[0]), ["shop.shopbot.x.y", 12.5, {"a": 1}, DOC])

    def test_jansson_variant(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port)
        value = {"a": [1, 2.5, "\u00e9\u4e2d", None, True, False], "n": -9007199254740993, "o": {}}
        self.assertEqual(d.sendj(json.dumps(value), sub="j"), 0)
        got = recv_all(pull, 1)
        d.quit()
        msg = json.loads(got[0])
        self.assertEqual(msg["ns"], "shop.shopbot.j")
        self.assertEqual(msg["data"], value)

    # ------------------------------------------------------- rejection
    def test_invalid_namespace_and_data_rejected_at_the_call(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port)
        bad_subs = ["Bad", "a..b", ".x", "x.", "9a", "a" * 65, "a.B", "-a", "a_b.C"]
        for sub in bad_subs:
            self.assertEqual(d.send("1", sub=sub), -3, sub)         # TB_ERR_BAD_NS
        bad_data = ["{bad", "[1,", "{} x", "[" * 100 + "]" * 100, "NaN", "1e999",
                    '"\\u0000"', "{'a':1}", '{"a":1,}', "tru"]
        for data in bad_data:
            self.assertEqual(d.send(data), -4, data)                # TB_ERR_BAD_DATA
        for raw in [b'"\xff"', b'"\xc3"', b'"\xed\xa0\x80"', b"", b"   "]:
            self.assertEqual(d.send_bytes(raw), -4, raw)
        self.assertEqual(d.big(1100 * 1024), -5)                   # TB_ERR_TOO_LARGE
        self.assertEqual(d.send("1", ts="inf"), -1)                # TB_ERR_INVALID_ARG
        rejected = len(bad_subs) + len(bad_data) + 5 + 1 + 1
        self.assertEqual(d.send('"sentinel"'), 0)
        got = recv_all(pull, 1)
        self.assertTrue(recv_nothing(pull))
        s = d.stats()
        d.quit()
        self.assertEqual(json.loads(got[0])["data"], "sentinel")
        self.assertEqual(s["rejected"], rejected)
        self.assertEqual(s["sent"], 1)
        self.assertEqual(s["dropped"], 0)

    def test_strerror_words(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port)
        self.assertIn("namespace", d.cmd("strerror -3"))
        self.assertIn("queue full", d.cmd("strerror -6"))
        d.quit()

    def test_bad_options_refused_at_creation(self):
        cases = [(["--url", "tcp://127.0.0.1:1", "--ns", "Bad"], -3),
                 (["--url", "tcp://127.0.0.1:1", "--ns", ""], -3),
                 (["--url", "nonsense"], -7),
                 (["--url", "tcp://127.0.0.1:99999"], -7),
                 (["--udp", "no-port-here"], -7),
                 (["--udp", "127.0.0.1:1", "--url", "tcp://127.0.0.1:1"], -1),
                 ([], -1),
                 (["--zone", "example.org", "--dns", "not a server"], -7)]
        for args, code in cases:
            d = Driver(*args, expect_ready=False)
            rc, out, err = d.proc.wait(timeout=10)
            self.assertEqual(d.first.split()[:2], ["error", str(code)], args)
            self.assertEqual(rc, 1)

    # ------------------------------------------------ queue and delivery
    def test_queue_full_drops_counted_never_blocks(self):
        port = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--queue", "10")
        ok, dropped, rejected = d.burst(500)
        self.assertEqual(ok + dropped, 500)
        self.assertEqual(rejected, 0)
        self.assertGreater(dropped, 0)
        s = d.stats()
        self.assertEqual(s["dropped"], dropped)
        self.assertEqual(s["queue_size"], 10)
        self.assertLessEqual(s["queue_depth"], 10)
        self.assertEqual(s["sent"] + s["queue_depth"], ok)
        # what was accepted arrives, in order, once a peer appears
        pull, _ = self.bind(zmq.PULL, port)
        got = [json.loads(m)["data"]["i"] for m in recv_all(pull, ok)]
        self.assertEqual(len(got), ok)
        self.assertEqual(got, sorted(got))
        self.assertEqual(len(set(got)), ok)
        self.assertEqual(got[0], 0)
        self.assertTrue(recv_nothing(pull))
        d.quit()

    def test_100_sent_before_peer_exists_arrive_in_order(self):
        port = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % port)
        self.assertEqual(d.burst(100), (100, 0, 0))
        self.assertFalse(d.stats()["connected"])
        pull, _ = self.bind(zmq.PULL, port)
        got = [json.loads(m)["data"]["i"] for m in recv_all(pull, 100)]
        self.assertEqual(got, list(range(100)))
        s = d.wait_stats(lambda s: s["connected"])
        self.assertTrue(s["connected"])
        self.assertEqual(s["sent"], 100)
        d.quit()

    def test_peer_restart_loses_nothing_queued(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port)
        for k in range(10):
            self.assertEqual(d.send('{"k":%d}' % k), 0)
        self.assertEqual(len(recv_all(pull, 10)), 10)
        d.wait_stats(lambda s: s["connected"])
        self.close(pull)
        s = d.wait_stats(lambda s: s["disconnects"] >= 1)
        self.assertGreaterEqual(s["disconnects"], 1)
        self.assertFalse(s["connected"])
        for k in range(10, 30):
            self.assertEqual(d.send('{"k":%d}' % k), 0)
        pull, _ = self.bind(zmq.PULL, port)
        got = [json.loads(m)["data"]["k"] for m in recv_all(pull, 20)]
        self.assertEqual(got, list(range(10, 30)))
        d.quit()

    def test_destroy_delivers_within_linger(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--linger", "20000")
        self.assertEqual(d.burst(2000), (2000, 0, 0))
        d.quit()            # destroy right away: the queue must still go out
        got = [json.loads(m)["data"]["i"] for m in recv_all(pull, 2000, timeout=30)]
        self.assertEqual(got, list(range(2000)))

    def test_destroy_gives_up_after_linger_without_peer(self):
        port = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--linger", "300")
        self.assertEqual(d.burst(200), (200, 0, 0))
        ms = d.quit()
        self.assertLess(ms, 10000)      # bounded by the linger, not forever
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--linger", "-1")
        d.burst(50)
        self.assertLess(d.quit(), 10000)

    def test_flush_waits_for_the_queue(self):
        port = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--queue", "5000")
        d.burst(1000)
        self.assertEqual(d.flush(100), -9)          # no peer: not empty in time
        pull, _ = self.bind(zmq.PULL, port)
        self.assertEqual(d.flush(20000), 0)
        self.assertEqual(d.stats()["queue_depth"], 0)
        self.assertEqual(len(recv_all(pull, 1000)), 1000)
        d.quit()

    # --------------------------------------------------------- PUB mode
    def test_pub_mode_into_bare_sub_without_slow_joiner_loss(self):
        port = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--pub")
        self.assertEqual(d.burst(50), (50, 0, 0))
        sub, _ = self.bind(zmq.SUB, port)       # the original broker binds SUB
        got = [json.loads(m) for m in recv_all(sub, 50)]
        self.assertEqual([m["data"]["i"] for m in got], list(range(50)))
        self.assertEqual(got[0]["type"], "thing_update")
        self.assertEqual(got[0]["documentation_url"], DOC)
        self.assertTrue(d.wait_stats(lambda s: s["connected"])["connected"])
        d.quit()

    # ------------------------------------------------------ suppression
    def test_suppression_with_heartbeat(self):
        pull, port = self.bind(zmq.PULL)
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--suppress", "--heartbeat", "1")
        self.assertEqual(d.send('{"a":1,"b":2}', sub="t"), 0)        # sent
        self.assertEqual(d.send('{ "b" : 2, "a" : 1 }', sub="t"), 0)  # same data: skipped
        self.assertEqual(d.send('{"a":1,"b":2}', sub="u"), 0)        # other Thing: sent
        self.assertEqual(d.send('{"a":1,"b":3}', sub="t"), 0)        # changed: sent
        self.assertEqual(d.sendj('{"b":3,"a":1}', sub="t"), 0)       # same: skipped
        d.sleep(1300)
        self.assertEqual(d.send('{"a":1,"b":3}', sub="t"), 0)        # heartbeat: sent
        got = [json.loads(m) for m in recv_all(pull, 4)]
        self.assertTrue(recv_nothing(pull))
        s = d.stats()
        d.quit()
        self.assertEqual([(m["ns"], m["data"]) for m in got],
                         [("shop.shopbot.t", {"a": 1, "b": 2}), ("shop.shopbot.u", {"a": 1, "b": 2}),
                          ("shop.shopbot.t", {"a": 1, "b": 3}), ("shop.shopbot.t", {"a": 1, "b": 3})])
        self.assertEqual(s["suppressed"], 2)
        self.assertEqual(s["sent"], 4)

    def test_dropped_send_is_not_remembered_by_suppression(self):
        port = tbtest.free_port()
        d = Driver("--url", "tcp://127.0.0.1:%d" % port, "--suppress", "--queue", "1")
        # Without a peer, fill ZeroMQ's pipe and then our one-slot queue.
        accepted = 0
        for _ in range(100):
            accepted += d.burst(20, sub="fill")[0]
            d.sleep(20)
            if d.stats()["queue_depth"] == 1:
                break
        self.assertEqual(d.stats()["queue_depth"], 1)
        self.assertEqual(d.send('"x"', sub="v"), -6)    # dropped
        pull, _ = self.bind(zmq.PULL, port)
        self.assertEqual(d.flush(10000), 0)
        self.assertEqual(d.send('"x"', sub="v"), 0)     # not suppressed: it never went
        msgs = [json.loads(m) for m in recv_all(pull, accepted + 1)]
        d.quit()
        self.assertEqual(msgs[-1]["ns"], "shop.shopbot.v")
        self.assertEqual(msgs[-1]["data"], "x")

if __name__ == "__main__":
    tbtest.main()

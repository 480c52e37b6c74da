"""Look-ups on the client's mirror: data and age, Things, children, subtrees.

Why this exists: programs read the mirror from their own threads; these
checks pin what each look-up returns for Things with data, intermediate
Things created on demand, unknown Things and invalid names, and that the
documentation URL follows the original's rule (an update without one does
not erase it).
"""
import time
import unittest

import clienttest as ct
import tbtest


class Lookups(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = ct.FakeBroker()
        cls.probe = ct.Probe(cls.broker.url, ["/tree"])
        cls.probe.sync(cls.broker)
        now = time.time()
        b = cls.broker
        b.send(ct.v1_update("site.b", {"v": 2}, now - 100.0, "http://doc/b"))
        b.send(ct.v1_update("site.a", [1, "x"], now - 1.0))
        b.send(ct.v1_update("site.b", {"v": 3}, now - 50.0))          # no doc: keeps http://doc/b
        b.send(ct.v1_update("site.a.deep.er", None, 77.5, "http://doc/deep"))
        b.send(ct.v1_update("site.c", "text \u00e9 \"q\"", now))
        cls.probe.collect(b)

    @classmethod
    def tearDownClass(cls):
        cls.probe.stop()
        cls.broker.close()

    def test_get_data_and_age(self):
        reply = self.probe.command("get site.b")
        self.assertTrue(reply.startswith('get rc=0 data={"v":3} age='), reply)
        age = float(reply.rsplit("age=", 1)[1])
        self.assertTrue(49.0 <= age <= 80.0, age)   # generous: no timing assertion
        self.assertEqual(self.probe.command("get site.c").split(" age=")[0],
                         'get rc=0 data="text \u00e9 \\"q\\""')
        self.assertEqual(self.probe.command("get site.a.deep.er").split(" age=")[0],
                         "get rc=0 data=null")

    def test_no_data(self):
        self.assertEqual(self.probe.command("get site"), "get rc=-16 data=-")        # intermediate
        self.assertEqual(self.probe.command("get nowhere.at.all"), "get rc=-16 data=-")
        self.assertEqual(self.probe.command("get Bad"), "get rc=-3 data=-")
        self.assertEqual(self.probe.command("get site..a"), "get rc=-3 data=-")

    def test_get_json(self):
        self.assertEqual(self.probe.command("json site.a"), 'json rc=0 data=[1,"x"]')
        self.assertEqual(self.probe.command("json site"), "json rc=-16 data=-")

    def test_thing(self):
        self.assertEqual(self.probe.command("thing site.b").split(" ts=")[1].split(" ", 1)[1],
                         "doc=http://doc/b")
        self.assertEqual(self.probe.command("thing site.a.deep.er"),
                         "thing rc=0 ns=site.a.deep.er data=null ts=77.500 doc=http://doc/deep")
        self.assertEqual(self.probe.command("thing site.a.deep"),
                         "thing rc=0 ns=site.a.deep data=- ts=0.000 doc=-")
        self.assertEqual(self.probe.command("thing never.seen"),
                         "thing rc=0 ns=never.seen data=- ts=0.000 doc=-")
        self.assertEqual(self.probe.command("thing A"), "thing rc=-3")

    def test_children(self):
        self.assertEqual(self.probe.command("children site"),
                         "children rc=0 n=3 site.a site.b site.c")
        self.assertEqual(self.probe.command("children "), "children rc=0 n=3 site zend zsync")
        self.assertEqual(self.probe.command("children site.c"), "children rc=0 n=0")
        self.assertEqual(self.probe.command("children unknown"), "children rc=0 n=0")
        self.assertEqual(self.probe.command("children -x"), "children rc=-3 n=0")

    def test_subtree(self):
        self.assertEqual(self.probe.command("subtree site.a"),
                         'subtree rc=0 n=3 site.a=[1,"x"] site.a.deep=- site.a.deep.er=null')
        self.assertEqual(self.probe.command("subtree nothing"), "subtree rc=0 n=0")
        reply = self.probe.command("subtree ")
        self.assertTrue(reply.startswith("subtree rc=0 n=9 (root)=- site=- site.a="), reply)


if __name__ == "__main__":
    tbtest.main()

"""libthingsbus-adaptor's UDP + msgpack path and its firmware part, against
a bare UDP socket.

Why this exists: the firmware path must produce byte-exact v1 datagrams
(the bottlekid vector of PROTOCOL-v1.md), refuse what does not fit one
datagram instead of cutting it, and the full library must turn the
caller's JSON into the same msgpack that an independent decoder
(python3-msgpack) reads back as that JSON.
"""
import json
import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driverlib  # noqa: E402
from driverlib import DOC, Driver  # noqa: E402
import msgpack  # noqa: E402
import tbtest  # noqa: E402

BOTTLEKID_HEX = (
    "94 b3 626f74746c656b69642e70726f746f74797065 c0 82 ab 64687432325f6572726f72 a0"
    " a8 6d65746164617461 83 a5 6c6f6f7073 ce 0000009a a9 6d7367735f73656e74 ce 00000099"
    " ac 6d7367735f64726f70706564 ce 00000001 d9 39"
    " 68747470733a2f2f6769746875622e636f6d2f6d697374616b65732d636f6e736f727469756d2f"
    "657370383236362e626f74746c656b696473")


def mp_str(s):
    """msgpack str, written by hand (fixstr or str8) for fixed vectors."""
    b = s.encode()
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    return bytes([0xd9, len(b)]) + b


def mp_double(x):
    return b"\xcb" + struct.pack(">d", x)


class UdpAdaptorTest(unittest.TestCase):
    def setUp(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def tearDown(self):
        self.sock.close()

    def recv(self):
        data, _ = self.sock.recvfrom(70000)
        return data

    def nothing_more(self):
        self.sock.settimeout(0.3)
        try:
            self.sock.recvfrom(70000)
            return False
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(10)

    def test_list_form_fixed_bytes(self):
        d = Driver("--udp", self.addr)
        self.assertEqual(d.send('{"busy":12.0,"light":31.8}', sub="spacemon", ts="1423351104.945"), 0)
        got = self.recv()
        d.quit()
        expected = (b"\x94" + mp_str("shop.shopbot.spacemon") + mp_double(1423351104.945)
                    + b"\x82" + mp_str("busy") + mp_double(12.0) + mp_str("light") + mp_double(31.8)
                    + mp_str(DOC))
        self.assertEqual(got.hex(), expected.hex())

    def test_map_form_decodes_independently(self):
        d = Driver("--udp", self.addr, "--form", "map", "--no-doc")
        self.assertEqual(d.send('{"x":[1,-2,3.5]}', sub="m"), 0)
        got = msgpack.unpackb(self.recv(), raw=False)
        d.quit()
        self.assertEqual(set(got), {"type", "ns", "data", "ts", "documentation_url"})
        self.assertEqual(got["type"], "thing_update")
        self.assertEqual(got["ns"], "shop.shopbot.m")
        self.assertEqual(got["data"], {"x": [1, -2, 3.5]})
        self.assertIsInstance(got["ts"], float)
        self.assertIsNone(got["documentation_url"])

    def test_json_values_round_trip_through_msgpack(self):
        d = Driver("--udp", self.addr)
        values = [None, True, False, 0, -1, 127, 128, -33, 65536, 2 ** 63 - 1, -2 ** 63,
                  0.5, -1e300, "", "\u00e9\u4e2d\U0001f600", [], {}, [[[1]]],
                  {"nested": {"deep": [1, {"a": None}]}, "s": "x" * 300}]
        for v in values:
            self.assertEqual(d.send(json.dumps(v)), 0, v)
            self.assertEqual(msgpack.unpackb(self.recv(), raw=False)[2], v)
        for v in values[-3:]:
            self.assertEqual(d.sendj(json.dumps(v)), 0, v)
            self.assertEqual(msgpack.unpackb(self.recv(), raw=False)[2], v)
        d.quit()

    def test_message_over_one_datagram_refused_not_cut(self):
        d = Driver("--udp", self.addr)
        # envelope: array(1) + ns(1+12) + ts(9) + doc(2+50) + str16 header(3) = 78
        self.assertEqual(d.big(70000), -5)          # TB_ERR_TOO_LARGE at the call
        self.assertEqual(d.big(65430), -5)          # one byte over 65507
        self.assertTrue(self.nothing_more())
        self.assertEqual(d.big(65429), 0)           # exactly 65507 bytes
        raw = self.recv()
        self.assertEqual(len(raw), 65507)
        self.assertEqual(msgpack.unpackb(raw, raw=False)[2], "x" * 65429)
        s = d.stats()
        d.quit()
        self.assertEqual(s["rejected"], 2)
        self.assertEqual(s["sent"], 1)

    def test_invalid_rejected_before_the_wire(self):
        d = Driver("--udp", self.addr)
        self.assertEqual(d.send("1", sub="NOPE"), -3)
        self.assertEqual(d.send("{nope"), -4)
        self.assertEqual(d.send_bytes(b'"\xff\xfe"'), -4)
        self.assertEqual(d.send('"ok"'), 0)
        self.assertEqual(msgpack.unpackb(self.recv(), raw=False)[2], "ok")
        self.assertTrue(self.nothing_more())
        self.assertEqual(d.stats()["rejected"], 3)
        d.quit()

    def test_suppression_over_udp(self):
        d = Driver("--udp", self.addr, "--suppress", "--heartbeat", "3600")
        for _ in range(5):
            self.assertEqual(d.send('{"t":21.5}'), 0)
        self.assertEqual(d.send('{"t":21.6}'), 0)
        first = msgpack.unpackb(self.recv(), raw=False)[2]
        second = msgpack.unpackb(self.recv(), raw=False)[2]
        self.assertTrue(self.nothing_more())
        self.assertEqual((first, second), ({"t": 21.5}, {"t": 21.6}))
        self.assertEqual(d.stats()["suppressed"], 4)
        d.quit()

    def test_firmware_example_sends_the_bottlekid_vector(self):
        p = tbtest.Process([tbtest.binary("bottlekid"), self.addr])
        code, out, err = p.wait(timeout=10)
        self.assertEqual(code, 0, err)
        got = self.recv()
        self.assertEqual(got.hex(), BOTTLEKID_HEX.replace(" ", ""))
        self.assertEqual(msgpack.unpackb(got, raw=False), [
            "bottlekid.prototype", None,
            {"dht22_error": "", "metadata": {"loops": 154, "msgs_sent": 153, "msgs_dropped": 1}},
            "https://github.com/mistakes-consortium/esp8266.bottlekids"])

    def test_shopbot_example_over_udp(self):
        p = tbtest.Process([tbtest.binary("shopbot"), self.addr])
        code, out, err = p.wait(timeout=20)
        self.assertEqual(code, 0, err)
        got = msgpack.unpackb(self.recv(), raw=False)
        self.assertEqual(got[0], "shop.shopbot.spacemon")
        self.assertEqual(got[2], {"busy": 12.0, "light": 31.8})
        self.assertEqual(got[3], DOC)


if __name__ == "__main__":
    tbtest.main()

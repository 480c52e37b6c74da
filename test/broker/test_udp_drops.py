"""UDP datagrams the kernel drops are counted (udp_kernel_drops).

Why this exists: when the broker falls behind, the kernel drops datagrams
from the full socket buffer, and before SO_RXQ_OVFL nobody could tell.  The
overflow is made deterministic rather than timed: the broker is stopped
with SIGSTOP, a burst larger than a tiny --udp-rcvbuf is sent, the broker
continues, and a later datagram carries the kernel's drop count.  Then
every datagram sent is either accepted or counted as a kernel drop.
"""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_broker import WAIT, Stderr, tbtest  # noqa: E402

import msgpack  # noqa: E402


def datagram(i):
    return msgpack.packb({"type": "thing_update", "ns": "udp.t%d" % i, "data": i})


class TestUdpKernelDrops(unittest.TestCase):
    def test_zero_in_normal_operation(self):
        b = tbtest.Broker(extra=["--no-persistence"])
        err = Stderr(b)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):
            udp.sendto(datagram(i), b.udp_addr)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            c = err.counters()
            if c["accepted.udp"] == 5:
                break
            time.sleep(0.05)
        self.assertEqual(c["accepted.udp"], 5)
        self.assertEqual(c["dropped.udp_kernel_drops"], 0)
        udp.close()
        code, _, rest = b.stop()
        self.assertEqual(code, 0)
        self.assertIn("stats: dropped udp_kernel_drops=0", err.text + rest.decode())

    def test_overflow_while_stopped_is_counted(self):
        b = tbtest.Broker(extra=["--no-persistence", "--udp-rcvbuf", "4096"])
        err = Stderr(b)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        burst = 300
        b.signal(signal.SIGSTOP)
        try:
            for i in range(burst):
                udp.sendto(datagram(i), b.udp_addr)
        finally:
            b.signal(signal.SIGCONT)
        sent = burst
        # a datagram queued after the drain carries the kernel's drop count
        c = err.counters()
        for i in range(50):
            before = c["accepted.udp"]
            udp.sendto(datagram(burst + i), b.udp_addr)
            sent += 1
            time.sleep(0.05)
            c = err.counters()
            if c["accepted.udp"] > before:
                break
        udp.close()
        drops = c["dropped.udp_kernel_drops"]
        print("# %d datagrams sent, %d accepted, %d dropped by the kernel"
              % (sent, c["accepted.udp"], drops), flush=True)
        self.assertGreater(drops, 0, "a %d-datagram burst fitted in a 4 KiB buffer?" % burst)
        self.assertEqual(c["accepted.udp"] + drops, sent)
        code, _, _ = b.stop()
        self.assertEqual(code, 0)


if __name__ == "__main__":
    tbtest.main()

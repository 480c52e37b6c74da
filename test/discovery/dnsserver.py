"""A real DNS server (dnsmasq) on a free loopback port, for discovery tests.

Why this exists: discovery must be tested against a real resolver answering
real SRV, A and AAAA queries, not against our own parser.  Debian's
dnsmasq-base serves exactly the records we give it on its command line,
runs in the foreground as our child, and is stopped by tbtest like any
other process.  Other suites (end-to-end runs of the adaptor and
tb-print-events with -z) can import this module too.

The command line (see DISCOVERY in thingsbus(7) for the record format):
    dnsmasq --keep-in-foreground --log-facility=- --port=P
            --listen-address=127.0.0.1,::1 --bind-interfaces
            --no-resolv --no-hosts --conf-file=/dev/null --pid-file=
            --user=root --group=root --local=/test/ --local-ttl=300
            [--log-queries, with the log going to a file, never a pipe]
            --srv-host=_thingsbus._tcp.ZONE,TARGET,PORT,PRIORITY,WEIGHT ...
            --host-record=TARGET,ADDRESS[,ADDRESS][,TTL] ...
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tbtest  # noqa: E402

DNSMASQ = "/usr/sbin/dnsmasq"


def dns_query_bytes(name, qtype=1, qid=0x7B7B):
    """A minimal standard query for name/qtype (recursion desired)."""
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def _port_free_everywhere(port):
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(fam, kind)
            try:
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def dead_udp_port():
    """A loopback UDP port with nothing listening (ICMP port unreachable)."""
    for _ in range(50):
        p = tbtest.free_port("udp")
        if _port_free_everywhere(p):
            return p
    raise RuntimeError("no dead UDP port found")


class Dnsmasq(tbtest.Process):
    """dnsmasq serving srv records [(name, target, port, prio, weight) or
    (name,) for a "." target] and hosts [(name, [addresses], ttl or None)],
    plus txt records [(name, text)].  Listens on 127.0.0.1 and ::1."""

    def __init__(self, srv=(), hosts=(), txt=(), extra=()):
        last_err = b""
        for _ in range(5):
            self.port = tbtest.free_port("udp")
            if not _port_free_everywhere(self.port):
                continue
            argv = [DNSMASQ, "--keep-in-foreground", "--log-facility=-",
                    "--port=%d" % self.port, "--listen-address=127.0.0.1,::1",
                    "--bind-interfaces", "--no-resolv", "--no-hosts",
                    "--conf-file=/dev/null", "--pid-file=", "--user=root",
                    "--group=root", "--local=/test/", "--local-ttl=300"]
            for rec in srv:
                argv.append("--srv-host=" + ",".join(str(x) for x in rec))
            for name, addrs, ttl in hosts:
                argv.append("--host-record=" + ",".join([name] + list(addrs) +
                                                        ([str(ttl)] if ttl else [])))
            for name, text in txt:
                argv.append("--txt-record=%s,%s" % (name, text))
            argv += list(extra)
            # Logs go to a file, not a pipe: nobody reads a pipe while the
            # test runs, and a full pipe would freeze dnsmasq mid-answer.
            self.log = tempfile.TemporaryFile(prefix="tb-dnsmasq-")
            super().__init__(argv, stdout=subprocess.DEVNULL, stderr=self.log)
            if self._wait_ready():
                return
            self.stop()
            self.log.seek(0)
            last_err = self.log.read()
        raise RuntimeError("dnsmasq did not start: %s" % last_err.decode(errors="replace"))

    def _wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    s.sendto(dns_query_bytes("ready.test"), ("127.0.0.1", self.port))
                    data, _ = s.recvfrom(4096)
                    if data[:2] == b"\x7b\x7b":
                        return True
                except OSError:
                    time.sleep(0.05)
            return False
        finally:
            s.close()

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    @property
    def server6(self):
        return "[::1]:%d" % self.port

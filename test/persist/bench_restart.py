"""Restart time of thingsbusd with a large state file (a benchmark, not a
test: run-tests.sh only runs test_*.py).

Why this exists: issue 10 promises that a 1 000 000-Thing state loads in
under 2 s.  This loads the real broker through its PULL input (realistic
namespaces and JSON data, one update per Thing), stops it cleanly, then
restarts it a few times and reports: the load time the broker logs, the
time from exec until the PUB port accepts connections, and until the first
snapshot message arrives.

    TB_BUILD=build /usr/bin/python3 test/persist/bench_restart.py [THINGS] [RUNS]
"""
import os
import re
import shutil
import sys
import tempfile
import time

from persist_helpers import CTX, Stderr, push_socket, tbtest

import zmq


def main():
    things = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    d = tempfile.mkdtemp(prefix="tb-bench-restart-")
    base = tbtest.free_base_port()
    args = ["--snapshot-expiry", "1e9", "--input-hwm", "0"]
    b = tbtest.Broker(extra=args, base=base, state_dir=d)
    err = Stderr(b)
    push = push_socket(b)
    t0 = time.monotonic()
    for i in range(things):
        push.send(b'{"type":"thing_update","ns":"building%d.floor%d.room%d.sensor%d",'
                  b'"data":{"temperature":%d.5,"humidity":%d,"ok":true},'
                  b'"documentation_url":"https://wiki.example.org/model-%d"}'
                  % (i % 7, (i // 7) % 12, (i // 84) % 200, i // 16800, i % 40, i % 100,
                     i % 40))
    while True:
        c = err.counters()
        if c.get("accepted.total", 0) >= things:
            break
        time.sleep(0.5)
    print("loaded %d Things through PULL in %.1f s" % (things, time.monotonic() - t0))
    push.close()
    t0 = time.monotonic()
    code, _, _ = b.stop(timeout=120)
    print("clean stop (final sync) took %.2f s, exit %d; state file %.1f MB"
          % (time.monotonic() - t0, code,
             os.path.getsize(os.path.join(d, "thingsbus.state")) / 1e6))
    for run in range(runs):
        sub = CTX.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.connect("tcp://127.0.0.1:%d" % base)   # reconnects until the broker binds
        t0 = time.monotonic()
        b = tbtest.Broker(extra=args, base=base, state_dir=d, wait=False)
        tbtest.wait_tcp(base, timeout=60)
        t_port = time.monotonic() - t0
        sub.poll(60000)
        t_snap = time.monotonic() - t0
        sub.close()
        _, _, text = b.stop(timeout=120)
        m = re.search(r"state: (\d+) Things from \S+ in ([\d.]+) s", text.decode())
        print("restart %d: state loaded (%s Things) in %s s by the broker's clock; "
              "PUB port answers after %.2f s; first snapshot message after %.2f s"
              % (run + 1, m.group(1), m.group(2), t_port, t_snap))
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        tbtest.stop_all()

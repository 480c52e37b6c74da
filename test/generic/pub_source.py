"""A scripted JSON-over-ZeroMQ PUB source for the tb-generic-zmq-adaptor tests.

Why this exists: the bridge must be tested against a real, separate source
process, the way it meets a lidless camera or a machine monitor.  This
program binds an XPUB socket (a PUB that also sees subscriptions), waits
until N subscribers have subscribed (so nothing is lost to the PUB/SUB
"slow joiner" effect and the tests need no sleeps), publishes the frames of
a script file, prints "done" and stays up until SIGTERM.

Usage: pub_source.py BIND_URL SCRIPT_JSON [SUBSCRIBERS]
The script is a JSON list; each item is one ZeroMQ message:
  {"json": <value>}          the value serialised with json.dumps
  {"text": "<string>"}       these exact characters, UTF-8 encoded
  {"hex": "<hex bytes>"}     these exact bytes (invalid UTF-8, NUL ...)
  {"frames": ["a", "b"]}     a multi-part message of these UTF-8 frames
  {"size": N}                a JSON object padded to N bytes
Run with Debian's /usr/bin/python3 (python3-zmq).
"""
import json
import signal
import sys
import time

import zmq


def frames_of(item):
    if "json" in item:
        return [json.dumps(item["json"]).encode()]
    if "text" in item:
        return [item["text"].encode()]
    if "hex" in item:
        return [bytes.fromhex(item["hex"])]
    if "frames" in item:
        return [f.encode() for f in item["frames"]]
    if "size" in item:
        head = b'{"pad":"'
        tail = b'"}'
        return [head + b"x" * (item["size"] - len(head) - len(tail)) + tail]
    raise ValueError("unknown script item %r" % (item,))


def main():
    url, script_path = sys.argv[1], sys.argv[2]
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with open(script_path) as f:
        script = json.load(f)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 2000)
    pub.setsockopt(zmq.SNDHWM, 100000)
    pub.bind(url)
    print("ready", flush=True)
    subscribed = 0
    deadline = time.monotonic() + 20
    while subscribed < want and time.monotonic() < deadline and not stop:
        if pub.poll(100):
            if pub.recv()[:1] == b"\x01":
                subscribed += 1
    if subscribed < want:
        print("no subscriber", flush=True)
        sys.exit(3)
    for item in script:
        parts = frames_of(item)
        pub.send_multipart(parts)
    print("done", flush=True)
    deadline = time.monotonic() + 120
    while not stop and time.monotonic() < deadline:
        if pub.poll(100):
            pub.recv()
    pub.close()
    ctx.term()


if __name__ == "__main__":
    main()

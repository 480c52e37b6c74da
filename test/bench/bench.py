#!/usr/bin/python3
"""make bench: thingsbusd measured against the physical limit, in one run.

Why this exists: speed is a feature we promise, so it is measured side by
side with a zero-work forwarder (bench-forwarder: PULL -> zmq_proxy -> PUB,
or UDP -> PUB) on the same machine, with the same high-water marks, in
alternating runs (A B A B ...), and printed as one table plus a JSON file.
Every number in the output comes from a run in this invocation; rows that
cannot be measured yet say so ("n/a (...)") instead of showing a figure.

Scenarios:
  1 throughput, ZeroMQ PUSH input, as fast as accepted
  2 throughput, UDP msgpack list-form input, as fast as the loader can send
  3 latency, paced (20 000 msgs/s for 5 s), p50 / p99 / max
  4 fan-out: 10 subscribers; 1 healthy + 1 that never reads
  5 directory scale: RSS per Thing at 1 000 000 Things, snapshot broadcast
    time and the longest gap in updates while it goes out; restart time
    and late-join time (v2 snapshot service) at 100 000 Things

thingsbusd runs with --no-persistence except where persistence is what is
measured (then its state file lives in a temporary directory), so no run
leaves a thingsbus.state behind or loads a previous run's.

Programs come from BUILD/bin: thingsbusd (optional: missing -> forwarder
figures only, said in the table), bench-forwarder, bench-loader, bench-sub,
bench-join.
Everything runs on 127.0.0.1 on free ports; every process started is
stopped at the end, on failure too; every wait is bounded.

Run with Debian's /usr/bin/python3.  See --help for the knobs; env
BENCH_N, BENCH_RUNS, BENCH_QUICK, BENCH_OUT work too.
"""
import argparse
import datetime
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import random
import re
import socket

CLK_TCK = os.sysconf("SC_CLK_TCK")
# How thingsbusd's thing_updates begin on its PUB: a SUB subscribed to this
# sees the updates without the snapshot chunks (PUB-side filtering), so its
# gaps show an ingest pause without the time spent reading 150 MiB of
# snapshot on the same connection.  If the output ever starts differently,
# that subscriber gets nothing and the row says so.
UPDATE_PREFIX = '{"type":"thing_update"'
BROKER = "thingsbusd"
FORWARDER = "forwarder"


class BenchError(Exception):
    pass


class BrokerStartError(BenchError):
    """The target would not start: the remaining scenarios run forwarder-only."""


# ------------------------------------------------------------------ processes
# Kept here rather than borrowed from test/lib/tbtest.py so that the bench's
# own process handling (log files, /proc readings before stop) stays in one
# place; the smoke test uses tbtest for TAP.
class Proc:
    """A program we started; stop() always reaps it (SIGTERM, then SIGKILL)."""
    live = []

    def __init__(self, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr,
                                     stdin=subprocess.DEVNULL)
        Proc.live.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def send(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def _reap(self, timeout):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                out, err = self.proc.communicate(timeout=5)
            if self in Proc.live:
                Proc.live.remove(self)
        return self.proc.returncode, out or b"", err or b""

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        self.send(sig)
        try:
            return self._reap(timeout)
        except subprocess.TimeoutExpired:
            return self._reap(5)

    def wait(self, timeout):
        """Wait for exit; on timeout the process is killed and TimeoutExpired raised."""
        return self._reap(timeout)


def stop_all():
    for p in list(Proc.live):
        try:
            p.stop(signal.SIGKILL, timeout=2)
        except Exception:
            pass


def _can_bind(port, kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    try:
        if kind == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_base_port(span=4):
    """P such that P..P+span-1 are free on loopback for TCP and UDP right now."""
    for _ in range(500):
        p = random.randint(20000, 60000 - span)
        if all(_can_bind(p + i, k) for i in range(span) for k in ("tcp", "udp")):
            return p
    raise BenchError("no free base port found")


def wait_tcp(port, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.proc.poll() is not None:
            raise BenchError("exited before listening on port %d" % port)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise BenchError("nothing listening on 127.0.0.1:%d after %.0fs" % (port, timeout))


# ------------------------------------------------------------------ /proc
def proc_cpu_seconds(pid):
    """utime + stime of a live process, in seconds (None if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "host": platform.node(), "loadavg_at_start": loadavg()}


def loadavg():
    """1-minute load average: the machine may be shared, say how busy it was."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ------------------------------------------------------------------ helpers
class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build, "bin")
        self.logdir = tempfile.mkdtemp(prefix="tb-bench-")
        self.broker_path = os.path.join(self.bin, "thingsbusd")
        self.have_broker = os.access(self.broker_path, os.X_OK) and not args.forwarder_only
        self.broker_na = ("n/a (not run: --forwarder-only)" if args.forwarder_only
                          else "n/a (thingsbusd not built)")
        self.broker_opts = self._broker_options() if self.have_broker else set()
        self.results = {}
        self.table = []
        self.warnings = []

    def path(self, name):
        p = os.path.join(self.bin, name)
        if not os.access(p, os.X_OK):
            raise BenchError("%s is not built (make B=%s %s)" % (p, self.args.build, p))
        return p

    def _broker_options(self):
        try:
            out = subprocess.run([self.broker_path, "--help"], capture_output=True,
                                 timeout=10).stdout.decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return set()
        return {w.split("=")[0].rstrip(",") for w in out.split() if w.startswith("--")}

    def log(self, text):
        if not self.args.quiet:
            print("# " + text, file=sys.stderr, flush=True)

    # ----------------------------------------------------------- targets
    def start_target(self, side, udp=False, extra_broker=()):
        """Start thingsbusd or the forwarder on a free base port; returns
        (Process, base port)."""
        base = free_base_port()
        a = self.args
        logf = open(os.path.join(self.logdir, "%s-%d.log" % (side, base)), "wb")
        if side == BROKER:
            argv = [self.broker_path, "--base-port", str(base), "--bind-address", "127.0.0.1"]
            for opt, val in (("--pub-hwm", a.hwm), ("--input-hwm", a.hwm),
                             ("--udp-rcvbuf", a.udp_rcvbuf)):
                if opt in self.broker_opts:
                    argv += [opt, str(val)]
            if ("--no-persistence" in self.broker_opts
                    and not any(str(x).startswith("--state-file") for x in extra_broker)):
                argv.append("--no-persistence")
            argv += list(extra_broker) + a.broker_arg
        else:
            argv = [self.path("bench-forwarder"), "--pub", "tcp://127.0.0.1:%d" % base,
                    "--sndhwm", str(a.hwm), "--rcvhwm", str(a.hwm),
                    "--udp-rcvbuf", str(a.udp_rcvbuf)]
            if udp:
                argv += ["--udp", "127.0.0.1:%d" % (base + 1)]
            else:
                argv += ["--pull", "tcp://127.0.0.1:%d" % (base + 1)]
        proc = Proc(argv, stdout=logf, stderr=logf)
        logf.close()
        try:
            wait_tcp(base, timeout=10, proc=proc)
            wait_tcp(base + 1, timeout=10, proc=proc)
        except BenchError:
            code, _, _ = proc.stop()
            with open(os.path.join(self.logdir, "%s-%d.log" % (side, base)), "rb") as f:
                err = f.read().decode(errors="replace")[-2000:]
            raise BrokerStartError("%s did not start (exit %s): %s" % (side, code, err.strip()))
        return proc, base

    def stop_target(self, proc):
        """CPU seconds and peak RSS (VmHWM, KiB) read just before stopping."""
        cpu = proc_cpu_seconds(proc.pid)
        hwm = proc_status_kb(proc.pid, "VmHWM")
        code, _, _ = proc.stop(timeout=5)
        if code != 0 and proc.argv[0] == self.broker_path:
            self.warnings.append("thingsbusd exited with status %s on SIGTERM (log: %s)" %
                                 (code, self.logdir))
        return {"cpu_seconds": cpu, "peak_rss_kib": hwm, "exit": code}

    def start_sub(self, base, expect, extra=()):
        a = self.args
        argv = [self.path("bench-sub"), "--connect", "tcp://127.0.0.1:%d" % base,
                "--expect", str(expect), "--rcvhwm", str(a.hwm),
                "--idle-ms", str(a.idle_ms), "--max-seconds", str(a.max_seconds)] + list(extra)
        proc = Proc(argv)
        ready, _, _ = select.select([proc.proc.stdout], [], [], 15)
        line = proc.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            code, out, err = proc.stop()
            raise BenchError("bench-sub not ready (exit %s): %s" % (code, err.decode(errors="replace")))
        return proc

    def finish_sub(self, proc, timeout):
        code, out, err = proc.wait(timeout=timeout)
        text = out.decode(errors="replace").strip().splitlines()
        if code != 0 or not text:
            raise BenchError("bench-sub failed (exit %s): %s" % (code, err.decode(errors="replace")))
        return json.loads(text[-1])

    def run_loader(self, base, udp, count, rate=None, duration=None, namespaces=1000,
                   timeout=600):
        a = self.args
        argv = [self.path("bench-loader"), "--sndhwm", str(a.hwm), "--namespaces", str(namespaces),
                "--size", str(a.size)]
        argv += (["--udp", "127.0.0.1:%d" % (base + 1)] if udp
                 else ["--zmq", "tcp://127.0.0.1:%d" % (base + 1)])
        if rate:
            argv += ["--rate", str(rate), "--duration", str(duration)]
        else:
            argv += ["--count", str(count)]
        proc = Proc(argv)
        return proc

    def loader_result(self, proc, timeout):
        code, out, err = proc.wait(timeout=timeout)
        text = out.decode(errors="replace").strip().splitlines()
        if code != 0 or not text:
            raise BenchError("bench-loader failed (exit %s): %s" % (code, err.decode(errors="replace")))
        return json.loads(text[-1])

    def sides(self):
        return [BROKER, FORWARDER] if self.have_broker else [FORWARDER]

    # ----------------------------------------------------------- scenarios
    def one_flow(self, side, udp, count, rate=None, duration=None, sockets=1, stuck=0):
        """Start a target, a subscriber, a loader; collect the three views."""
        proc, base = self.start_target(side, udp=udp)
        try:
            if stuck:   # a separate client process that connects and never reads
                self.start_sub(base, 0, ["--sockets", "0", "--stuck", str(stuck),
                                         "--max-seconds", str(self.args.max_seconds + 30)])
            sub = self.start_sub(base, count if not rate else int(rate * duration),
                                 ["--sockets", str(sockets)])
            t_load = (duration or 0) + 120
            loader = self.run_loader(base, udp, count, rate, duration)
            lres = self.loader_result(loader, timeout=t_load)
            sres = self.finish_sub(sub, timeout=self.args.max_seconds + 10)
        finally:
            tres = self.stop_target(proc)
            stop_all()      # the never-reading client, or anything left by a failure
        sent = lres["sent"]
        run = {"sent": sent, "loader_rate": lres["rate"], "send_errors": lres["send_errors"],
               "received": sres["received"], "received_min": sres["received_min"],
               "lost": sent - sres["received"], "lost_max": sent - sres["received_min"],
               "rate": sres["rate"], "e2e_rate": sres["e2e_rate"], "aggregate_rate": sres["aggregate_rate"],
               "latency_us": sres["latency_us"], "stop": sres["stop"],
               "unstamped": sres["unstamped"], "output_bytes": sres["mean_update_bytes"],
               "input_bytes": lres["message_bytes"]}
        run.update(tres)
        return run

    def alternate(self, name, runs, **kw):
        """A B A B ...: the same flow against each side, interleaved."""
        per_side = {s: [] for s in self.sides()}
        for i in range(runs):
            for side in self.sides():
                self.log("%s: %s run %d/%d" % (name, side, i + 1, runs))
                per_side[side].append(self.one_flow(side, **kw))
        self.results[name] = per_side
        return per_side

    def scenario_throughput(self, udp):
        a = self.args
        name = "throughput_udp" if udp else "throughput_zmq"
        per = self.alternate(name, a.runs, udp=udp, count=a.n)
        label = "UDP msgpack list form" if udp else "ZeroMQ PUSH JSON"
        self.add_rows(name, "%s: rate out of PUB (msgs/s)" % label, per,
                      lambda r: r["rate"], fmt="%.0f", ratio=True,
                      goal=">= 0.50 of forwarder" if not udp else "(no goal in issue)")
        self.add_rows(name, "%s: end-to-end rate, first send to last arrival" % label, per,
                      lambda r: r["e2e_rate"], fmt="%.0f", ratio=True)
        self.add_rows(name, "%s: lost of %d" % (label, a.n), per, lambda r: r["lost"], fmt="%.0f",
                      goal="0 lost (keeping-up subscriber)" if not udp else "")
        if udp:
            self.add_rows(name, "%s: loader send rate (msgs/s)" % label, per,
                          lambda r: r["loader_rate"], fmt="%.0f")
        self.add_rows(name, "%s: CPU seconds" % label, per, lambda r: r["cpu_seconds"], fmt="%.2f")
        self.add_rows(name, "%s: peak RSS (MiB)" % label, per,
                      lambda r: (r["peak_rss_kib"] or 0) / 1024.0, fmt="%.1f")

    def scenario_latency(self):
        a = self.args
        per = self.alternate("latency", a.latency_runs, udp=False, count=None,
                             rate=a.latency_rate, duration=a.latency_seconds)
        label = "latency at %d msgs/s for %gs" % (a.latency_rate, a.latency_seconds)
        for key in ("p50", "p99", "max"):
            self.add_rows("latency", "%s: %s (us)" % (label, key), per,
                          lambda r, k=key: r["latency_us"][k], fmt="%.0f", ratio=True,
                          goal="p99 <= 1.3x forwarder" if key == "p99" else "")
        self.add_rows("latency", "%s: lost" % label, per, lambda r: r["lost"], fmt="%.0f")
        self.add_rows("latency", "%s: CPU seconds" % label, per, lambda r: r["cpu_seconds"], fmt="%.2f")

    def scenario_fanout(self):
        a = self.args
        per = self.alternate("fanout_10", a.runs, udp=False, count=a.n, sockets=10)
        self.add_rows("fanout_10", "fan-out 10 subscribers: delivered msgs/s (all)", per,
                      lambda r: r["aggregate_rate"], fmt="%.0f", ratio=True)
        self.add_rows("fanout_10", "fan-out 10 subscribers: worst subscriber lost", per,
                      lambda r: r["lost_max"], fmt="%.0f")
        self.add_rows("fanout_10", "fan-out 10 subscribers: CPU seconds", per,
                      lambda r: r["cpu_seconds"], fmt="%.2f")
        per = self.alternate("stuck_subscriber", a.runs, udp=False, count=a.n, sockets=1, stuck=1)
        self.add_rows("stuck_subscriber", "1 healthy + 1 never-reading: healthy rate (msgs/s)", per,
                      lambda r: r["rate"], fmt="%.0f", ratio=True)
        self.add_rows("stuck_subscriber", "1 healthy + 1 never-reading: healthy lost", per,
                      lambda r: r["lost"], fmt="%.0f", goal="0 (a stuck subscriber slows no one)")
        self.add_rows("stuck_subscriber", "1 healthy + 1 never-reading: peak RSS (MiB)", per,
                      lambda r: (r["peak_rss_kib"] or 0) / 1024.0, fmt="%.1f")

    def loop_stats(self, proc, logpath, timeout=10.0):
        """Ask thingsbusd for its counters (SIGUSR1) and return its
        `stats: loop` line as a dict of ints, or None when it has none."""
        def lines():
            try:
                with open(logpath, "rb") as f:
                    return [l for l in f.read().decode(errors="replace").splitlines()
                            if "stats: loop " in l]
            except OSError:
                return []
        before = len(lines())
        proc.send(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = lines()
            if len(got) > before:
                line = got[-1].split("stats: loop ", 1)[1]
                return {k: int(v) for k, v in (w.split("=", 1) for w in line.split() if "=" in w)}
            time.sleep(0.05)
        return None

    @staticmethod
    def loop_window(before, after, prefix):
        """Turns of one phase between two `stats: loop` readings: count,
        turns over 10 ms, and the longest turn (exact when it grew in the
        window; otherwise only bounded by the earlier maximum)."""
        if not before or not after or prefix + "turns" not in after:
            return None
        over = lambda d: d[prefix + "le50ms"] + d[prefix + "gt50ms"]
        turns = after[prefix + "turns"] - before[prefix + "turns"]
        grew = after[prefix + "max_us"] > before[prefix + "max_us"]
        return {"turns": turns, "turns_over_10ms": over(after) - over(before),
                "busy_us": after[prefix + "busy_us"] - before[prefix + "busy_us"],
                "max_us": after[prefix + "max_us"], "max_exact": grew or turns == 0}

    def wait_cpu_idle(self, pid, limit=60.0):
        """Until the process used no CPU for 3 consecutive 100 ms samples."""
        deadline = time.monotonic() + limit
        last, quiet = proc_cpu_seconds(pid), 0
        while time.monotonic() < deadline and quiet < 3:
            time.sleep(0.1)
            now = proc_cpu_seconds(pid)
            if now is None:
                raise BenchError("broker exited while loading")
            quiet = quiet + 1 if now == last else 0
            last = now
        return quiet >= 3

    def scenario_scale(self):
        a = self.args
        name = "directory_scale"
        if not self.have_broker:
            self.table.append(row(name, "directory scale (%d Things)" % a.things,
                                  BROKER, self.broker_na))
            return
        interval = a.scale_interval
        extra = []
        if "--snapshot-interval" in self.broker_opts:
            extra += ["--snapshot-interval", str(interval)]
        if "--snapshot-expiry" in self.broker_opts:
            extra += ["--snapshot-expiry", str(max(600, 4 * interval))]
        proc, base = self.start_target(BROKER, extra_broker=extra)
        res = {"things": a.things, "snapshot_interval": interval}
        try:
            t_start = time.monotonic()
            time.sleep(0.5)
            rss0 = proc_status_kb(proc.pid, "VmRSS")
            t_load = time.monotonic()
            loader = self.run_loader(base, False, a.things, namespaces=a.things)
            lres = self.loader_result(loader, timeout=300)
            idle = self.wait_cpu_idle(proc.pid)
            # The broker went idle 3 samples (0.3 s) before we noticed.
            ingest_s = max(time.monotonic() - 0.3 - t_load, lres["seconds"])
            rss1 = proc_status_kb(proc.pid, "VmRSS")
            res.update({"load_seconds": lres["seconds"], "load_rate": lres["rate"],
                        "ingest_seconds": ingest_s, "ingest_rate": a.things / ingest_s,
                        "rss_before_kib": rss0, "rss_after_kib": rss1, "settled": idle,
                        "loaded_after_s": time.monotonic() - t_start})
            if time.monotonic() - t_start > interval - 1:
                self.log("scale: loading took longer than the snapshot interval; "
                         "waiting for the next snapshot")
            logpath = os.path.join(self.logdir, "%s-%d.log" % (BROKER, base))
            loop0 = self.loop_stats(proc, logpath)
            # A paced flow over the same Things while the next snapshot goes out.
            wait_s = 2 * interval + 15
            sub = self.start_sub(base, int(a.latency_rate * wait_s),
                                 ["--snapshot-expect", str(a.things),
                                  "--gap-prefix", UPDATE_PREFIX,
                                  "--record-arrivals", str(int(a.latency_rate * wait_s) + 1000),
                                  "--max-seconds", str(wait_s), "--idle-ms", str(int(wait_s * 1000))])
            pacer = self.run_loader(base, False, None, rate=a.latency_rate, duration=wait_s,
                                    namespaces=a.things)
            sres = self.finish_sub(sub, timeout=wait_s + 15)
            pacer.send(signal.SIGTERM)
            self.loader_result(pacer, timeout=10)
            loop1 = self.loop_stats(proc, logpath)
            rss2 = proc_status_kb(proc.pid, "VmRSS")
        finally:
            tres = self.stop_target(proc)
        res.update(tres)
        res["rss_after_snapshot_kib"] = rss2
        full = [b for b in sres["broadcasts"] if b["entries"] >= a.things]
        res["broadcasts"] = sres["broadcasts"]
        stored = lres["data_json_bytes"] + lres["ts_json_bytes"]
        res["stored_value_bytes"] = stored
        res["output_update_bytes"] = sres["mean_update_bytes"]
        res["subscriber_stop"] = sres["stop"]
        per_thing = (rss1 - rss0) * 1024.0 / a.things if rss0 and rss1 else None
        res["rss_bytes_per_thing"] = per_thing
        res["overhead_bytes_per_thing"] = per_thing - stored if per_thing is not None else None
        res["snapshot"] = full[0] if full else None
        res["loop_before"], res["loop_after"] = loop0, loop1
        res["loop_snapshot"] = self.loop_window(loop0, loop1, "snapshot_")
        res["loop_other"] = self.loop_window(loop0, loop1, "")
        self.results[name] = res
        lab = "directory of %d" % a.things
        res["intermediate_things"] = (a.things + 999) // 1000 + 1  # bench.gNNNN and bench
        self.table.append(row(name, "%s: ingest rate, no subscriber (msgs/s, one run)" % lab,
                              BROKER, "%.0f" % res["ingest_rate"]))
        self.table.append(row(name, "%s: RSS per Thing (bytes)" % lab, BROKER,
                              "%.0f" % per_thing if per_thing is not None else "n/a"))
        self.table.append(row(name, "%s: beyond the stored update (data+ts, %d bytes)" %
                              (lab, stored), BROKER,
                              "%.0f" % res["overhead_bytes_per_thing"]
                              if per_thing is not None else "n/a",
                              goal="<= 300 bytes"))
        if full:
            s = full[0]
            self.table.append(row(name, "%s: snapshot broadcast (ms, %d chunks, %.1f MiB)" %
                                  (lab, s["chunks"], s["bytes"] / 1048576.0), BROKER,
                                  "%.0f" % s["duration_ms"]))
            ls, lo = res["loop_snapshot"], res["loop_other"]
            if ls and ls["turns"]:
                self.table.append(row(name, "%s: longest loop turn during snapshots, broker's "
                                      "own count (ms)" % lab, BROKER,
                                      "%s%.2f (%d of %d turns > 10 ms)" % (
                                          "" if ls["max_exact"] else "<= ",
                                          ls["max_us"] / 1000.0, ls["turns_over_10ms"],
                                          ls["turns"]),
                                      goal="<= 10 ms (ingest pause)"))
                if lo and lo["turns"]:
                    self.table.append(row(name, "%s:   same, turns outside snapshots (ms)" % lab,
                                          BROKER, "%s%.2f (%d of %d turns > 10 ms)" % (
                                              "" if lo["max_exact"] else "<= ",
                                              lo["max_us"] / 1000.0, lo["turns_over_10ms"],
                                              lo["turns"])))
            else:
                self.table.append(row(name, "%s: longest loop turn during snapshots" % lab,
                                      BROKER, "n/a (no `stats: loop` line from thingsbusd)"))
            for key, what in (("updates_only", "updates-only SUB"),
                              ("all_messages", "SUB reading all")):
                g = s[key]
                if not g or not g["updates_recorded"]:
                    self.table.append(row(name, "%s: max gap in updates during snapshot, %s" %
                                          (lab, what), BROKER, "n/a (no updates seen)"))
                    continue
                self.table.append(row(name, "%s: max gap in updates during snapshot, %s (ms)" %
                                      (lab, what), BROKER,
                                      "%.1f (%d gaps > 10 ms)" % (g["max_update_gap_ms"],
                                                                 g["gaps_over_10ms"]),
                                      goal="(outside view)" if key == "updates_only" else ""))
                self.table.append(row(name, "%s:   same, outside the snapshot window (ms)" % lab,
                                      BROKER,
                                      "%.1f (%d gaps > 10 ms)" % (g["max_update_gap_outside_ms"],
                                                                 g["gaps_over_10ms_outside"])))
                self.table.append(row(name, "%s:   max latency in / outside the window (ms)" % lab,
                                      BROKER,
                                      "%.1f / %.1f" % (g["max_latency_in_window_ms"],
                                                       g["max_latency_outside_ms"])))
        else:
            got = max([b["entries"] for b in sres["broadcasts"]] or [0])
            self.table.append(row(name, "%s: snapshot broadcast" % lab, BROKER,
                                  "n/a (no complete snapshot seen: best %d entries, stop=%s)" %
                                  (got, sres["stop"])))
        self.table.append(row(name, "%s: peak RSS (MiB)" % lab, BROKER,
                              "%.1f" % ((tres["peak_rss_kib"] or 0) / 1024.0)))
        self.table.append(row(name, "%s: CPU seconds" % lab, BROKER, "%.2f" % tres["cpu_seconds"]))

    def scenario_later(self):
        """Restart time (persistence) and late-join time (v2 snapshot
        service) with a directory of --join-things Things."""
        a = self.args
        n = a.join_things
        lab = "%d Things" % n
        what_restart = "restart time at %s: exec to serving, state load (ms)" % lab
        what_join = "late-join time at %s: client start to holding all (ms)" % lab
        if not self.have_broker:
            for what in (what_restart, what_join):
                self.table.append(row("later", what, BROKER, self.broker_na))
            return
        if "--state-file" not in self.broker_opts or "--snapshot-endpoint" not in self.broker_opts:
            for what in (what_restart, what_join):
                self.table.append(row("later", what, BROKER,
                                      "n/a (thingsbusd has no persistence/snapshot service)"))
            return
        state_dir = tempfile.mkdtemp(prefix="tb-bench-state-")
        state = ["--state-file", os.path.join(state_dir, "bench.state")]
        res = {"things": n, "restarts": [], "joins": []}
        try:
            proc, base = self.start_target(BROKER, extra_broker=state)
            try:
                loader = self.run_loader(base, False, n, namespaces=n)
                self.loader_result(loader, timeout=300)
                self.wait_cpu_idle(proc.pid)
            finally:
                self.stop_target(proc)
            for _ in range(max(a.runs, 3)):
                logpath = os.path.join(self.logdir, "restart-%d.log" % len(res["restarts"]))
                logf = open(logpath, "wb")
                argv = [self.broker_path, "--base-port", str(base), "--bind-address",
                        "127.0.0.1"] + state
                t0 = time.monotonic()
                proc = Proc(argv, stdout=logf, stderr=logf)
                logf.close()
                try:
                    wait_tcp(base + 2, timeout=60, proc=proc)
                    t1 = time.monotonic()
                    load_s = None
                    for _ in range(100):
                        with open(logpath, "rb") as f:
                            text = f.read().decode(errors="replace")
                        m = re.search(r"state: (\d+) Things from .* in ([0-9.]+) s", text)
                        if m:
                            load_s = float(m.group(2))
                            loaded = int(m.group(1))
                            break
                        time.sleep(0.05)
                    res["restarts"].append({"serving_ms": (t1 - t0) * 1000.0,
                                            "load_ms": load_s * 1000.0 if load_s is not None
                                            else None,
                                            "loaded": loaded if load_s is not None else None})
                    if not res["joins"]:
                        jproc = Proc([self.path("bench-join"),
                                      "--snapshot", "tcp://127.0.0.1:%d" % (base + 2),
                                      "--pub", "tcp://127.0.0.1:%d" % (base + 3),
                                      "--expect", str(n), "--runs", str(max(a.runs, 5)),
                                      "--max-seconds", "30"])
                        code, out, err = jproc.wait(timeout=300)
                        lines = out.decode(errors="replace").strip().splitlines()
                        if not lines:
                            raise BenchError("bench-join failed (exit %s): %s" %
                                             (code, err.decode(errors="replace")))
                        jres = json.loads(lines[-1])
                        res["joins"] = jres["runs"]
                        res["joins_complete"] = jres["complete"]
                finally:
                    self.stop_target(proc)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
        self.results["later"] = res

        def fmt(vals):
            vals = [v for v in vals if v is not None]
            if not vals:
                return "n/a"
            med = statistics.median(vals)
            return "%.0f" % med + (" (%.0f-%.0f)" % (min(vals), max(vals)) if len(vals) > 1 else "")
        r = res["restarts"]
        self.table.append(row("later", what_restart, BROKER,
                              "%s; load %s" % (fmt([x["serving_ms"] for x in r]),
                                               fmt([x["load_ms"] for x in r])),
                              goal="1M in < 2 s (issue 10)"))
        complete = [j["ms"] for j in res["joins"] if j["synced"] and j["held"] >= n]
        cell = fmt(complete) if complete else "n/a (no complete join)"
        if len(complete) < len(res["joins"]):
            cell += " (%d/%d complete)" % (len(complete), len(res["joins"]))
        self.table.append(row("later", what_join, BROKER, cell, goal="< 200 ms"))

    # ----------------------------------------------------------- table
    def add_rows(self, scenario, what, per, get, fmt="%.1f", ratio=False, goal=""):
        cells = {}
        meds = {}
        for side, runs in per.items():
            vals = [get(r) for r in runs if get(r) is not None]
            if not vals:
                cells[side] = "n/a"
                continue
            med = statistics.median(vals)
            meds[side] = med
            cells[side] = (fmt % med) + (" (%s-%s)" % (fmt % min(vals), fmt % max(vals))
                                         if len(vals) > 1 else "")
        r = {"scenario": scenario, "what": what,
             BROKER: cells.get(BROKER, self.broker_na),
             FORWARDER: cells.get(FORWARDER, "n/a"), "ratio": "", "goal": goal,
             "medians": meds, "values": {s: [get(x) for x in runs] for s, runs in per.items()}}
        if ratio and BROKER in meds and FORWARDER in meds and meds[FORWARDER]:
            r["ratio"] = "%.2f" % (meds[BROKER] / meds[FORWARDER])
        self.table.append(r)

    def print_table(self, out):
        heads = ["what", BROKER + " median (min-max)", FORWARDER + " median (min-max)",
                 "ratio", "goal"]
        rows = [[r["what"], r[BROKER], r[FORWARDER], r["ratio"], r["goal"]] for r in self.table]
        widths = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h)
                  for i, h in enumerate(heads)]
        line = "| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths)) + " |"
        print(line, file=out)
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
        for x in rows:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(x, widths)) + " |", file=out)


def row(scenario, what, side, value, goal=""):
    r = {"scenario": scenario, "what": what, BROKER: "", FORWARDER: "n/a", "ratio": "",
         "goal": goal, "medians": {}, "values": {}}
    r[side] = value
    return r


def parse_args(argv):
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=env.get("TB_BUILD", "build"), help="build directory")
    p.add_argument("--n", type=int, default=int(env.get("BENCH_N", 200000)),
                   help="messages per throughput/fan-out run (200000)")
    p.add_argument("--runs", type=int, default=int(env.get("BENCH_RUNS", 3)),
                   help="runs per side, alternating (3)")
    p.add_argument("--quick", action="store_true", default=bool(env.get("BENCH_QUICK")),
                   help="tiny sizes (N=2000, 1 run, short latency and scale runs)")
    p.add_argument("--out", default=env.get("BENCH_OUT"), help="JSON results file "
                   "(default BUILD/bench-results.json)")
    p.add_argument("--hwm", type=int, default=100000,
                   help="high-water marks for broker, forwarder, loader and subscriber (100000)")
    p.add_argument("--udp-rcvbuf", type=int, default=4 * 1024 * 1024,
                   help="UDP receive buffer for broker and forwarder (4 MiB)")
    p.add_argument("--size", type=int, default=166, help="bytes per JSON update (166)")
    p.add_argument("--latency-rate", type=int, default=20000)
    p.add_argument("--latency-seconds", type=float, default=5.0)
    p.add_argument("--latency-runs", type=int, default=None, help="(default: --runs)")
    p.add_argument("--things", type=int, default=1000000, help="directory scale (1000000)")
    p.add_argument("--scale-interval", type=float, default=15.0,
                   help="broker snapshot interval in the scale run (15 s, its default)")
    p.add_argument("--join-things", type=int, default=100000,
                   help="directory for the restart and late-join rows (100000)")
    p.add_argument("--broker-arg", action="append", default=[],
                   help="one more thingsbusd argument (repeatable), e.g. --broker-arg=--no-v2")
    p.add_argument("--only", default="1,2,3,4,5", help="scenarios to run, e.g. 1,3")
    p.add_argument("--forwarder-only", action="store_true", help="do not run thingsbusd")
    p.add_argument("--idle-ms", type=int, default=2000)
    p.add_argument("--max-seconds", type=float, default=120)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.n = min(a.n, 2000) if "BENCH_N" not in env and "--n" not in argv else a.n
        a.runs = 1 if "BENCH_RUNS" not in env and "--runs" not in argv else a.runs
        a.latency_rate, a.latency_seconds = 2000, 1.0
        a.things = min(a.things, 2000)
        a.join_things = min(a.join_things, 2000)
        a.scale_interval = 2.0
        a.idle_ms = 1000
        a.max_seconds = 30
    if a.latency_runs is None:
        a.latency_runs = a.runs
    if a.n < 1 or a.runs < 1 or a.things < 1 or a.latency_runs < 1:
        p.error("sizes must be positive")
    a.build = os.path.abspath(a.build)
    a.out = a.out or os.path.join(a.build, "bench-results.json")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    only = {s.strip() for s in args.only.split(",")}
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info()   # before the runs: the load average then is other people's
    errors = []
    steps = [("1", lambda: bench.scenario_throughput(False)),
             ("2", lambda: bench.scenario_throughput(True)),
             ("3", bench.scenario_latency),
             ("4", bench.scenario_fanout),
             ("5", bench.scenario_scale),
             ("5", bench.scenario_later)]
    try:
        for key, fn in steps:
            if key not in only:
                continue
            try:
                fn()
            except BrokerStartError as e:
                errors.append("scenario %s: %s" % (key, e))
                stop_all()
                if not bench.have_broker:
                    continue
                bench.have_broker = False
                bench.broker_na = "n/a (thingsbusd would not start)"
                bench.log("thingsbusd would not start; forwarder only from here")
                try:
                    fn()
                except (BenchError, subprocess.TimeoutExpired, ValueError, KeyError) as e2:
                    errors.append("scenario %s: %s" % (key, e2))
                    stop_all()
            except (BenchError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
                errors.append("scenario %s: %s" % (key, e))
                bench.log("scenario %s failed: %s" % (key, e))
                stop_all()
    finally:
        stop_all()
    doc = {"date": started.isoformat(timespec="seconds"),
           "seconds": (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(),
           "machine": machine,
           "loadavg_at_end": loadavg(),
           "params": {k: getattr(args, k) for k in ("n", "runs", "quick", "hwm", "udp_rcvbuf",
                                                   "size", "latency_rate", "latency_seconds",
                                                   "latency_runs", "things", "scale_interval",
                                                   "join_things")},
           "broker": bench.broker_path if bench.have_broker else None,
           "broker_options_used": sorted(o for o in bench.broker_opts if o in (
               "--pub-hwm", "--input-hwm", "--udp-rcvbuf", "--snapshot-interval",
               "--snapshot-expiry", "--no-persistence", "--state-file")),
           "errors": errors,
           "warnings": bench.warnings,
           "table": [{k: v for k, v in r.items()} for r in bench.table],
           "runs": bench.results}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print("thingsbus bench, %s, %d CPUs (%s), N=%d, runs=%d, HWM=%d%s, "
          "load average %s before / %s after" % (
              doc["date"], machine["cpus"], machine["cpu_model"], args.n, args.runs,
              args.hwm, ", quick" if args.quick else "", machine["loadavg_at_start"],
              doc["loadavg_at_end"]))
    if not bench.have_broker:
        print("thingsbusd: %s; forwarder figures only" % bench.broker_na)
    bench.print_table(sys.stdout)
    for w in bench.warnings:
        print("WARNING: " + w)
    if not errors and not bench.warnings:
        shutil.rmtree(bench.logdir, ignore_errors=True)
    else:
        print("logs of the brokers and forwarders: %s" % bench.logdir)
    for e in errors:
        print("ERROR: " + e)
    print("results: %s" % args.out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

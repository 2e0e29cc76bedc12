#!/usr/bin/env python3
"""kam-bench: side-by-side benchmark of echo servers on loopback.

Starts each server itself (127.0.0.1, --port=0, waits for `listening on`), drives
it with kam-load, samples the server's CPU time (/proc/PID/stat utime+stime) and
RSS (/proc/PID/status VmRSS), interleaves servers round by round so drift
cancels, and reports medians over rounds. Standard library only.
"""

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN_DIR = os.path.dirname(os.path.realpath(__file__))
RESULTS_DIR = "@KAM_BENCH_RESULTS@"
if RESULTS_DIR.startswith("@"):  # run from the source tree, not configured
    RESULTS_DIR = os.path.join(os.path.dirname(BIN_DIR), "results")

# name -> program (in BIN_DIR) and extra arguments. All take --host --port --threads,
# print `listening on HOST:PORT` once accepting and exit on SIGTERM.
SERVERS = {
    "kam": ["kam-serve", "--protocol=echo"],
    # The same chassis with pipeline(echo, echo, echo) as the handler: what
    # composition costs (two extra actor hops per message).
    "kam-pipe": ["kam-serve", "--protocol=echo-pipeline"],
    # The chassis with its connection actors on CAF's scheduler instead of
    # their socket's I/O thread (the placement before issue 4's redesign).
    "kam-sched": ["kam-serve", "--protocol=echo", "--placement=scheduler"],
    # kam-serve with its admin endpoint on (docs/admin.md): what the counters and
    # the second listener cost. Not in the default set: --servers=kam,kam-admin.
    "kam-admin": ["kam-serve", "--protocol=echo", "--admin-port=0"],
    # kam-serve echo over TLS 1.3 (--tls-cert/--tls-key: an ECDSA P-256 certificate
    # made for the run); kam-load then speaks TLS (--tls, no verification).
    # --tls-echo runs it beside plain kam: what TLS costs.
    "kam-tls": ["kam-serve", "--protocol=echo"],
    "asio": ["bench-asio-echo"],
    "caf-broker": ["bench-caf-broker-echo"],
    "epoll": ["bench-epoll-echo"],
}
OPTIONAL = ["kam-admin", "kam-tls"]  # known, but only run when named in --servers
TLS_SERVERS = {"kam-tls"}  # started with Server.tls's files, driven with kam-load --tls
BASELINES = ["asio", "caf-broker", "epoll"]  # ratios are taken against these
TLS_BASELINES = ["kam"]  # --tls-echo: kam-tls against plain kam
CLK_TCK = os.sysconf("SC_CLK_TCK")
DISTURBED = 0.15  # cores of foreign CPU during a run worth flagging with "!"
LISTENING = re.compile(r"listening on ([0-9.]+):([0-9]+)")
ADMIN_AT = re.compile(r"admin at ([0-9.]+):([0-9]+)")
ACCEPTED = re.compile(r'^kam_io_thread_connections_accepted_total\{thread="(\d+)"\} (\d+)', re.M)


LIVE = set()  # child processes to end if we are interrupted


def on_signal(signum, frame):
    for p in list(LIVE):
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.exit(128 + signum)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- the matrix ---------------------------------------------------------------

def case(mode, **kw):
    if mode == "conn":
        key = "conn c=%d" % kw["concurrency"]
    elif mode == "echo":
        key = "echo n=%d %s" % (kw["connections"], size_name(kw["payload"]))
    else:
        key = "idle n=%d" % kw["connections"]
    return {"key": key, "mode": mode, "args": kw}


def size_name(n):
    return "%dKiB" % (n // 1024) if n >= 1024 and n % 1024 == 0 else "%dB" % n


def build_matrix(profile):
    """Returns (cases, rounds, duration, warmup, idle_hold) for a profile."""
    if profile == "tls-smoke":
        return [case("conn", concurrency=4), case("echo", connections=4, payload=64)], \
            1, 0.3, 0.2, 0.6
    if profile == "tls":
        # conn = a full TLS 1.3 handshake per connection (plus a 64 B round trip);
        # 1 s of warmup: 1000 TLS connections take ~0.5 s to open.
        cases = [case("conn", concurrency=16), case("echo", connections=64, payload=64),
                 case("echo", connections=1000, payload=1024)]
        return cases, 3, 2.0, 1.0, 1.0
    if profile == "smoke":
        cases = [case("conn", concurrency=4), case("echo", connections=4, payload=64),
                 case("idle", connections=100)]
        return cases, 1, 0.3, 0.1, 0.6
    if profile == "quick":
        cases = [case("conn", concurrency=16), case("conn", concurrency=256),
                 case("echo", connections=64, payload=64),
                 case("echo", connections=1000, payload=1024),
                 case("idle", connections=2000)]
        return cases, 3, 0.8, 0.2, 0.8
    if profile == "serial":
        return [case("conn", concurrency=c) for c in (1, 64)], 3, 2.0, 0.5, 1.0
    if profile == "sweep":
        cases = [case("conn", concurrency=64), case("echo", connections=64, payload=1024)]
        return cases, 3, 2.0, 0.5, 1.0
    cases = [case("conn", concurrency=c) for c in (1, 16, 64, 256)]
    cases += [case("echo", connections=n, payload=p)
              for p in (64, 1024, 16384) for n in (1, 64, 1000)]
    cases.append(case("idle", connections=10000))
    return cases, 3, 5.0, 1.0, 2.0


# --- /proc sampling -----------------------------------------------------------

def cpu_seconds(pid):
    """utime+stime of the whole process (all threads), in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def io_thread_ns(pid, nthreads):
    """{thread name: CPU ns} of the server's I/O threads, from
    /proc/PID/task/TID/schedstat. Threads named kam.io.N; a server that does
    not name them (older kam-serve): its `nthreads` busiest threads, as "tid:N"."""
    named, others = {}, {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return {}
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if name.startswith("kam.io."):
            named[name] = ns
        else:
            others["tid:" + tid] = ns
    if named:
        return named
    return dict(sorted(others.items(), key=lambda kv: -kv[1])[:nthreads])


def accepts_per_thread(admin_port):
    """{"kam.io.N": sockets accepted} from kam-serve's /metrics (its admin
    endpoint); {} if it has none or does not answer."""
    if not admin_port:
        return {}
    try:
        url = "http://127.0.0.1:%d/metrics" % admin_port
        with urllib.request.urlopen(url, timeout=2) as r:
            body = r.read()
    except OSError:  # urllib's errors are OSErrors
        return {}
    return {"kam.io." + t: int(n) for t, n in ACCEPTED.findall(body.decode(errors="replace"))}


def serial_work(res, a, b, conns_a=None, conns_b=None):
    """Per-I/O-thread CPU over the measured window and the serial work per
    connection (conn mode only). Raw: what the busiest I/O thread spent
    beyond the least busy one, divided by the connections served; that
    also counts an uneven SO_REUSEPORT split as serial work. With each
    thread's own accepts (conns_a/conns_b, from the admin endpoint): the
    work per connection w is the lowest thread's CPU / its connections, and
    the serial work is the most any thread spent beyond w x its own
    connections, divided by all connections: work done on one thread for
    every connection of the server."""
    if not a or not b or not res.get("ops"):
        return
    keys = [k for k in b if k in a]
    if not keys[1:]:
        return
    cpu = {k: (b[k] - a[k]) / 1e3 for k in keys}  # us
    res["io_thread_cpu_us"] = cpu
    res["io_cpu_us_per_conn"] = sum(cpu.values()) / res["ops"]
    res["serial_us_per_conn"] = (max(cpu.values()) - min(cpu.values())) / res["ops"]
    if conns_a and conns_b and all(k in conns_a and k in conns_b for k in keys):
        conns = {k: conns_b[k] - conns_a[k] for k in keys}
        total = sum(conns.values())
        if total and all(conns.values()):
            w = min(cpu[k] / conns[k] for k in keys)
            res["io_thread_conns"] = conns
            res["serial_norm_us_per_conn"] = max(cpu[k] - w * conns[k] for k in keys) / total


def busy_seconds():
    """CPU time all CPUs spent busy (not idle/iowait) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # user..steal minus idle, iowait


def rss_bytes(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def pinner(cpus):
    """preexec_fn pinning a child to `cpus` (None: leave it alone)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


# --- one measurement -----------------------------------------------------------

class Server:
    paths = {}  # name -> program path overrides (--kam-serve)
    cpus = None  # CPUs the servers are pinned to (None: not pinned)
    tls = None  # (cert, key) for TLS_SERVERS, made by make_cert()
    admin = False  # --serial: kam-serve with --admin-port=0 (per-thread accepts)

    def __init__(self, name, threads, logdir):
        prog = SERVERS[name]
        self.name = name
        self.threads = threads
        self.path = Server.paths.get(name) or os.path.join(BIN_DIR, prog[0])
        self.argv = [self.path] + prog[1:] + ["--host=127.0.0.1", "--port=0",
                                              "--threads=%d" % threads]
        if name in TLS_SERVERS and Server.tls:
            self.argv += ["--tls-cert=" + Server.tls[0], "--tls-key=" + Server.tls[1]]
        if Server.admin and prog[0] == "kam-serve" and "--admin-port=0" not in prog:
            self.argv.append("--admin-port=0")
        self.admin_port = None
        self.log_path = os.path.join(logdir, "%s.log" % name)
        self.proc = None
        self.port = None

    def available(self):
        return os.access(self.path, os.X_OK)

    def start(self, timeout=15.0):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.log,
                                     preexec_fn=pinner(Server.cpus))
        LIVE.add(self.proc)
        found = {}

        def reader():
            for raw in self.proc.stdout:
                a = ADMIN_AT.search(raw.decode(errors="replace"))
                if a:
                    self.admin_port = int(a.group(2))
                m = LISTENING.search(raw.decode(errors="replace"))
                if m and "port" not in found:
                    found["port"] = int(m.group(2))
                    ready.set()
            ready.set()

        ready = threading.Event()
        threading.Thread(target=reader, daemon=True).start()
        ready.wait(timeout)
        if "port" not in found:
            self.stop()
            raise RuntimeError("%s printed no `listening on` line within %.0fs (see %s)"
                               % (self.name, timeout, self.log_path))
        self.port = found["port"]

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL. Returns a note if the server misbehaved."""
        note = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                note = "did not exit within %.0fs of SIGTERM (killed)" % timeout
        LIVE.discard(self.proc)
        if self.proc and self.proc.returncode not in (0, -signal.SIGKILL) and note is None:
            note = "exit status %s" % self.proc.returncode
        self.log.close()
        return note


def load_args(c, port, opts, duration, warmup, idle_hold, hold_file, tls=False):
    a = [os.path.join(BIN_DIR, "kam-load"), "--mode=" + c["mode"], "--host=127.0.0.1",
         "--port=%d" % port, "--threads=%d" % opts.load_threads]
    if tls:
        # Verified in the smoke run (the CA is the certificate itself); not when
        # measuring, so the client spends no CPU on the chain.
        a += ["--tls-ca=" + Server.tls[0]] if opts.smoke else ["--tls"]
    if c["mode"] == "idle":
        a += ["--connections=%d" % c["args"]["connections"], "--duration=%g" % idle_hold,
              "--hold-file=" + hold_file]
    else:
        a += ["--duration=%g" % duration, "--warmup=%g" % warmup]
        a += ["--%s=%d" % (k, v) for k, v in sorted(c["args"].items())]
    return a


def measure(server, c, opts, duration, warmup, idle_hold, tmpdir):
    """Runs one case against a running server; returns a result dict."""
    pid = server.proc.pid
    hold_file = os.path.join(tmpdir, "hold")
    if os.path.exists(hold_file):
        os.unlink(hold_file)
    argv = load_args(c, server.port, opts, duration, warmup, idle_hold, hold_file,
                     server.name in TLS_SERVERS)
    res = {"server": server.name, "case": c["key"], "mode": c["mode"], "args": c["args"],
           "rss_before": rss_bytes(pid)}
    marks = {}

    def watch(stream):
        for raw in stream:
            line = raw.decode(errors="replace")
            if "phase=measure" in line:
                marks["cpu_a"] = cpu_seconds(pid)
                marks["load_a"] = cpu_seconds(load.pid)
                marks["busy_a"] = busy_seconds()
                marks["t_a"] = time.monotonic()
                marks["io_a"] = io_thread_ns(pid, server.threads)
                marks["conns_a"] = accepts_per_thread(server.admin_port)
            elif "phase=done" in line:
                marks["cpu_b"] = cpu_seconds(pid)
                marks["load_b"] = cpu_seconds(load.pid)
                marks["busy_b"] = busy_seconds()
                marks["t_b"] = time.monotonic()
                marks["io_b"] = io_thread_ns(pid, server.threads)
                marks["conns_b"] = accepts_per_thread(server.admin_port)
            elif line.startswith("all connected"):
                time.sleep(min(0.5, idle_hold / 2))  # let the server finish its accepts
                marks["rss_held"] = rss_bytes(pid)
            elif not line.startswith("[kam-load]"):
                marks.setdefault("stderr", []).append(line.strip())

    load = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=pinner(opts.load_cpus))
    LIVE.add(load)
    chunks = []
    readers = [threading.Thread(target=watch, args=(load.stderr,), daemon=True),
               threading.Thread(target=lambda: chunks.append(load.stdout.read()),
                                daemon=True)]
    for t in readers:
        t.start()
    limit = warmup + duration + idle_hold + 90
    try:
        load.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        load.kill()
        load.wait()
        res["note"] = "kam-load exceeded %.0fs" % limit
    for t in readers:
        t.join(5)
    LIVE.discard(load)
    out = b"".join(chunks)
    res["load_exit"] = load.returncode
    res["rss_after"] = rss_bytes(pid)
    try:
        summary = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        res["note"] = "kam-load printed no summary: %s" % " | ".join(marks.get("stderr", []))
        return res
    res["load"] = summary
    res["ops"] = summary["ops"]
    res["ops_per_sec"] = summary["ops_per_sec"]
    res["p50_us"] = summary["latency_us"]["p50"]
    res["p99_us"] = summary["latency_us"]["p99"]
    res["errors"] = {k: v for k, v in summary["errors"].items() if v}
    res["errors_total"] = summary["errors_total"]
    if c["mode"] == "idle":
        n = summary.get("connections_open", 0)
        if marks.get("rss_held") is not None and res["rss_before"] is not None and n:
            res["rss_per_conn"] = (marks["rss_held"] - res["rss_before"]) / n
            res["rss_held"] = marks["rss_held"]
    elif marks.get("cpu_a") is not None and marks.get("cpu_b") is not None and res["ops"]:
        res["cpu_s"] = marks["cpu_b"] - marks["cpu_a"]
        res["cpu_us_per_op"] = res["cpu_s"] / res["ops"] * 1e6
        if c["mode"] == "conn" and server.threads > 1:
            serial_work(res, marks.get("io_a"), marks.get("io_b"), marks.get("conns_a"),
                        marks.get("conns_b"))
        if marks.get("load_b") is not None and marks.get("load_a") is not None:
            res["load_cpu_s"] = marks["load_b"] - marks["load_a"]
            # CPU that neither the server nor kam-load used: someone else was busy
            # (a compiler, another benchmark); in cores, averaged over the window.
            foreign = (marks["busy_b"] - marks["busy_a"]) - res["cpu_s"] - res["load_cpu_s"]
            res["foreign_cores"] = max(0.0, foreign / max(1e-3, marks["t_b"] - marks["t_a"]))
    return res


def figure(res):
    """The headline number of a result: ops/s, or RSS bytes per idle connection."""
    if res.get("mode") == "idle":
        return res.get("rss_per_conn")
    return res.get("ops_per_sec") if res.get("ops") else None


# --- the run ---------------------------------------------------------------------

def wait_quiet(max_wait):
    """Waits (at most max_wait s) until the machine is idle: < 0.1 core busy over 1 s."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        a = busy_seconds()
        time.sleep(1.0)
        if busy_seconds() - a < 0.1:
            return True
    return False


def run_once(name, c, opts, threads, r, duration, warmup, idle_hold, tmpdir):
    """Starts server `name`, measures case `c`, stops the server."""
    srv = Server(name, threads, tmpdir)
    try:
        srv.start()
    except (RuntimeError, OSError) as e:
        return {"server": name, "case": c["key"], "mode": c["mode"], "round": r,
                "threads": threads, "note": str(e)}
    res = measure(srv, c, opts, duration, warmup, idle_hold, tmpdir)
    note = srv.stop()
    if note:
        res["server_note"] = note
    res["round"] = r
    res["threads"] = threads
    return res


def run_matrix(opts, servers, cases, rounds, duration, warmup, idle_hold, threads, tmpdir):
    results = []
    total = rounds * len(cases) * len(servers)
    done = 0
    for r in range(rounds):
        for c in cases:
            # Rotate the server order every round: A B C, B C A, ... so slow drift
            # (thermal, page cache, TIME_WAIT build-up) doesn't favour a position.
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for name in order:
                done += 1
                for attempt in range(opts.retry_disturbed + 1):
                    if attempt:
                        wait_quiet(opts.quiet_wait)
                    res = run_once(name, c, opts, threads, r, duration, warmup, idle_hold,
                                   tmpdir)
                    if (res.get("foreign_cores") or 0) <= DISTURBED:
                        break
                    res["disturbed_attempts"] = attempt + 1
                results.append(res)
                fig = figure(res)
                note = res.get("note") or res.get("server_note") or ""
                if not note and res.get("errors"):
                    note = "errors %s" % res["errors"]
                if res.get("foreign_cores") is not None and res["foreign_cores"] > DISTURBED:
                    note += " other CPU %.2f cores" % res["foreign_cores"]
                log("[kam-bench] %d/%d round %d %-18s %-10s %s  %s" % (
                    done, total, r + 1, c["key"], name,
                    "-" if fig is None else ("%.0f B/conn" % fig if c["mode"] == "idle"
                                             else "%.0f/s" % fig), note))
    return results


def median_of(rows, field):
    vals = [r[field] for r in rows if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def summarize(results, servers, cases, thread_counts):
    """Medians over rounds per (threads, case, server)."""
    out = []
    for th in thread_counts:
        for c in cases:
            for s in servers:
                rows = [r for r in results
                        if r["server"] == s and r["case"] == c["key"] and r["threads"] == th]
                good = [r for r in rows if figure(r) is not None]
                errs = sum(r.get("errors_total", 0) for r in rows)
                out.append({
                    "threads": th, "case": c["key"], "mode": c["mode"], "args": c["args"],
                    "server": s, "rounds": len(good), "attempts": len(rows),
                    "figure": statistics.median([figure(r) for r in good]) if good else None,
                    "unit": "B/conn" if c["mode"] == "idle" else
                            ("conn/s" if c["mode"] == "conn" else "rt/s"),
                    "p99_us": median_of(good, "p99_us"),
                    "cpu_us_per_op": median_of(good, "cpu_us_per_op"),
                    "foreign_cores_max": max([r["foreign_cores"] for r in good
                                              if r.get("foreign_cores") is not None],
                                             default=None),
                    "errors_total": errs,
                    "mismatch": sum(r.get("errors", {}).get("mismatch", 0) for r in rows),
                    "notes": sorted({r.get("note") or r.get("server_note")
                                     for r in rows if r.get("note") or r.get("server_note")}),
                })
    for row in out:
        for b in BASELINES:
            base = next((x for x in out if x["threads"] == row["threads"] and
                         x["case"] == row["case"] and x["server"] == b), None)
            if base and base["figure"] and row["figure"] is not None and row["server"] != b:
                row["vs_" + b] = row["figure"] / base["figure"]
    return out


def fmt_num(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def serial_table(results):
    """Per-I/O-thread CPU and serial work per connection under connection churn
    (conn mode, --threads >= 2): one line per run."""
    rows = [r for r in results if r.get("io_thread_cpu_us")]
    if not rows:
        return ""
    out = ["| server | case | connections | CPU per I/O thread (us per conn served) | "
           "accepted per I/O thread | I/O CPU us/conn | serial us/conn (raw) | "
           "serial us/conn (per-thread accepts) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per = ", ".join("%s %.1f" % (k, v / r["ops"])
                        for k, v in sorted(r["io_thread_cpu_us"].items()))
        conns = r.get("io_thread_conns")
        out.append("| %s | %s | %d | %s | %s | %.1f | %.2f | %s |" % (
            r["server"], r["case"], r["ops"], per,
            ", ".join("%s %d" % kv for kv in sorted(conns.items())) if conns else "-",
            r["io_cpu_us_per_conn"], r["serial_us_per_conn"],
            "%.2f" % r["serial_norm_us_per_conn"] if "serial_norm_us_per_conn" in r else "-"))
    return "\n".join(out) + "\n"


def table(summary):
    """Markdown table: one row per case and server."""
    head = ["threads", "case", "server", "figure", "unit", "p99 us", "srv CPU us/op",
            "errors"] + ["vs " + b for b in BASELINES] + ["other CPU"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary:
        cells = [str(r["threads"]), r["case"], r["server"], fmt_num(r["figure"]), r["unit"],
                 "-" if r["p99_us"] is None else "%.0f" % r["p99_us"],
                 "-" if r["cpu_us_per_op"] is None else "%.1f" % r["cpu_us_per_op"],
                 str(r["errors_total"])]
        cells += ["%.2fx" % r["vs_" + b] if r.get("vs_" + b) else "-" for b in BASELINES]
        f = r.get("foreign_cores_max")
        cells.append("-" if f is None else ("%.2f%s" % (f, " !" if f > DISTURBED else "")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(summary, servers, path_base, tmpdir):
    """gnuplot: conn/s by concurrency and echo round trips/s by connections."""
    gp = shutil.which("gnuplot")
    if not gp:
        return "gnuplot not found: no chart"
    th = max(r["threads"] for r in summary)
    panels = [("conn", None, "connections/s by concurrency (closed loop)", "concurrency")]
    for p in sorted({r["args"]["payload"] for r in summary if r["mode"] == "echo"}):
        panels.append(("echo", p, "echo round trips/s, %s messages" % size_name(p),
                       "connections"))
    panels = [x for x in panels if any(r["mode"] == x[0] for r in summary)]
    if not panels:
        return "nothing to chart"
    plots = []
    for mode, payload, title, xlabel in panels:
        series = []
        for s in servers:
            pts = sorted((r["args"]["concurrency" if mode == "conn" else "connections"],
                          r["figure"]) for r in summary
                         if r["server"] == s and r["mode"] == mode and r["threads"] == th
                         and r["figure"] is not None
                         and (payload is None or r["args"]["payload"] == payload))
            if not pts:
                continue
            dat = os.path.join(tmpdir, "%s-%s-%s.dat" % (mode, payload, s))
            with open(dat, "w") as f:
                f.writelines("%d %g\n" % p for p in pts)
            series.append("'%s' using 1:2 with linespoints title '%s'" % (dat, s))
        if series:
            plots.append("set title '%s'\nset xlabel '%s'\nplot %s\n"
                         % (title, xlabel, ", ".join(series)))
    cols = 2 if len(plots) > 1 else 1
    rows = (len(plots) + cols - 1) // cols
    body = ("set logscale x 2\nset grid\nset key top left\nset yrange [0:*]\n"
            "set format y '%%.0s%%c'\nset multiplot layout %d,%d title 'kam-bench, "
            "server threads=%d'\n%sunset multiplot\n" % (rows, cols, th, "".join(plots)))
    script = ("set terminal pngcairo size %d,%d\nset output '%s.png'\n%s"
              "set terminal svg size %d,%d\nset output '%s.svg'\n%s"
              % (640 * cols, 420 * rows, path_base, body,
                 640 * cols, 420 * rows, path_base, body))
    r = subprocess.run([gp], input=script.encode(), capture_output=True)
    if r.returncode != 0:
        return "gnuplot failed: " + r.stderr.decode(errors="replace")[:300]
    return None


def report(opts):
    """Re-renders a results file written by an earlier run."""
    with open(opts.report) as f:
        doc = json.load(f)
    if str(doc.get("profile", "")).startswith("tls"):
        global BASELINES
        BASELINES = TLS_BASELINES
    cases = []
    for r in doc["runs"]:
        if r["case"] not in [c["key"] for c in cases]:
            cases.append({"key": r["case"], "mode": r["mode"], "args": r.get("args", {})})
    summary = summarize(doc["runs"], doc["servers"], cases, doc["server_threads"])
    print("`%s` (%s)\n" % (doc["command"], doc["date"]))
    print(table(summary))
    for n in doc.get("notes", []):
        print("note: " + n)
    if not opts.no_chart:
        os.makedirs(opts.out, exist_ok=True)
        tmpdir = tempfile.mkdtemp(prefix="kam-bench-")
        err = chart(summary, [s for s in doc["servers"]
                              if any(r["server"] == s for r in doc["runs"])],
                    os.path.join(opts.out, "latest"), tmpdir)
        shutil.rmtree(tmpdir, ignore_errors=True)
        if err:
            print("note: " + err)
    return 0


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
    except OSError:
        load = None
    # The load average before we start tells whether something else was busy.
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release,
            "loadavg_1m_at_start": load}


def make_cert(tmpdir):
    """An ECDSA P-256 certificate for 127.0.0.1/localhost, valid a day: (cert, key)."""
    cert, key = os.path.join(tmpdir, "cert.pem"), os.path.join(tmpdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def chat_block(opts):
    """Chat fan-out (issue 11): kam-serve --protocol=chat vs bench-asio-chat at 10
    and 100 clients, A B A B, medians of delivered lines/s and p99, and the ratio."""
    import statistics
    servers = {"kam-chat": [os.path.join(BIN_DIR, "kam-serve"), "--protocol=chat",
                            "--threads=%d" % opts.threads],
               "asio-chat": [os.path.join(BIN_DIR, "bench-asio-chat")]}
    rounds = opts.rounds or 3
    duration = opts.duration or 2.0
    # Pinned as the other blocks are (kam-load on the first --load-threads CPUs,
    # the server on the rest): unpinned, where the scheduler puts the latency-bound
    # 10-client case swung kam's figure by 1.6x between runs.
    ncpu = os.cpu_count() or 1
    load_cpus = srv_cpus = None
    if not opts.no_pin and opts.load_threads + opts.threads <= ncpu:
        load_cpus = set(range(opts.load_threads))
        srv_cpus = set(range(opts.load_threads, ncpu))
    rows = []
    for r in range(rounds):
        for name, cmd in servers.items():
            p = subprocess.Popen(cmd + ["--host=127.0.0.1", "--port=0"],
                                 stdout=subprocess.PIPE, text=True,
                                 preexec_fn=pinner(srv_cpus))
            LIVE.add(p)
            try:
                m = LISTENING.search(p.stdout.readline())
                for n in (10, 100):
                    out = subprocess.run(
                        [os.path.join(BIN_DIR, "kam-load"), "--mode=chat",
                         "--port=" + m.group(2), "--connections=%d" % n, "--pipeline=16",
                         "--payload=64", "--duration=%g" % duration, "--warmup=0.5"],
                        capture_output=True, text=True, check=True,
                        preexec_fn=pinner(load_cpus)).stdout
                    j = json.loads(out.strip().splitlines()[-1])
                    j.update(server=name, clients=n, round=r)
                    rows.append(j)
                    log("[kam-bench] chat %s N=%d: %.0f lines/s p99 %.1f ms" %
                        (name, n, j["lines_per_s"], j["p99_us"] / 1000))
            finally:
                p.terminate()
                p.wait()
                LIVE.discard(p)
    print("| N | kam-chat lines/s | asio-chat lines/s | ratio | kam p99 ms | asio p99 ms |")
    print("|---|---|---|---|---|---|")
    for n in (10, 100):
        med = {s: statistics.median([x["lines_per_s"] for x in rows
                                     if x["server"] == s and x["clients"] == n])
               for s in servers}
        p99 = {s: statistics.median([x["p99_us"] for x in rows
                                     if x["server"] == s and x["clients"] == n]) / 1000
               for s in servers}
        print("| %d | %.0f | %.0f | %.2fx | %.1f | %.1f |" %
              (n, med["kam-chat"], med["asio-chat"], med["kam-chat"] / med["asio-chat"],
               p99["kam-chat"], p99["asio-chat"]))
    os.makedirs(opts.out, exist_ok=True)
    path = os.path.join(opts.out, "kam-bench-chat-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    log("[kam-bench] chat results: " + path)
    return 0 if all(x["order_errors"] == 0 for x in rows) else 1


def start_chat_nodes(k):
    """k kam-serve chat nodes, one I/O thread each, nodes 2..k joining node 1;
    returns (processes, chat ports) once every node has its k-1 peers up."""
    procs, ports, node_ports = [], [], []
    for i in range(k):
        cmd = [os.path.join(BIN_DIR, "kam-serve"), "--protocol=chat", "--threads=1",
               "--host=127.0.0.1", "--port=0", "--node-port=0"]
        if i > 0:
            cmd.append("--join=127.0.0.1:%d" % node_ports[0])
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        LIVE.add(p)
        procs.append(p)
        node_ports.append(int(p.stdout.readline().strip().rsplit(":", 1)[1]))
        ports.append(LISTENING.search(p.stdout.readline()).group(2))
    for p in procs:  # every node sees the others up
        seen = 0
        while seen < k - 1:
            line = p.stderr.readline()
            if not line:
                raise RuntimeError("a chat node ended while the mesh formed")
            seen += line.endswith(" up\n")
    return procs, ports


def chat_nodes_block(opts):
    """Cross-node fan-out (issue 15): the same chat room (kam-load --mode=chat)
    with its clients on 1 node, split over 2 and over 3 federated kam-serve
    nodes; rounds of 1 2 3, medians of delivered lines/s and p99."""
    import statistics
    rounds = opts.rounds or 3
    duration = opts.duration or 2.0
    rows = []
    for r in range(rounds):
        for k in (1, 2, 3):
            procs, ports = start_chat_nodes(k)
            try:
                for n in (10, 100):
                    cmd = [os.path.join(BIN_DIR, "kam-load"), "--mode=chat",
                           "--port=" + ports[0], "--connections=%d" % n, "--pipeline=16",
                           "--payload=64", "--duration=%g" % duration, "--warmup=0.5"]
                    if k > 1:
                        cmd.append("--more-ports=" + ",".join(ports[1:]))
                    out = subprocess.run(cmd, capture_output=True, text=True,
                                         check=True).stdout
                    j = json.loads(out.strip().splitlines()[-1])
                    j.update(nodes=k, clients=n, round=r)
                    rows.append(j)
                    log("[kam-bench] chat on %d node(s) N=%d: %.0f lines/s p99 %.1f ms"
                        " (order errors %d)" % (k, n, j["lines_per_s"], j["p99_us"] / 1000,
                                                j["order_errors"]))
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait()
                    LIVE.discard(p)
    print("| N | nodes | lines/s | vs 1 node | p99 ms |")
    print("|---|---|---|---|---|")
    for n in (10, 100):
        one = None
        for k in (1, 2, 3):
            xs = [x for x in rows if x["nodes"] == k and x["clients"] == n]
            med = statistics.median([x["lines_per_s"] for x in xs])
            p99 = statistics.median([x["p99_us"] for x in xs]) / 1000
            one = one or med
            print("| %d | %d | %.0f | %.2fx | %.1f |" % (n, k, med, med / one, p99))
    os.makedirs(opts.out, exist_ok=True)
    path = os.path.join(opts.out, "kam-bench-chat-nodes-%s.json" %
                        time.strftime("%Y%m%d-%H%M%S"))
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    log("[kam-bench] chat-nodes results: " + path)
    return 0 if all(x["order_errors"] == 0 for x in rows) else 1


def main():
    ap = argparse.ArgumentParser(prog="kam-bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced matrix, < 2 minutes")
    ap.add_argument("--smoke", action="store_true",
                    help="a few seconds; fails if any server produced no figures")
    ap.add_argument("--sweep", action="store_true", help="server threads 1..nproc")
    ap.add_argument("--chat-nodes", action="store_true",
                    help="cross-node chat fan-out only: clients on 1, 2 and 3 "
                         "federated kam-serve nodes")
    ap.add_argument("--tls-echo", action="store_true",
                    help="what TLS costs: kam-serve echo over TLS 1.3 (kam-tls) beside plain "
                         "kam; conn c=16 (a handshake per connection), echo 64x64 B and "
                         "1000x1 KiB; with --smoke a few seconds")
    ap.add_argument("--chat", action="store_true",
                    help="chat fan-out only: kam-serve --protocol=chat vs bench-asio-chat")
    ap.add_argument("--serial", action="store_true",
                    help="connection churn only (conn c=1, c=64): with --threads=2 the "
                         "per-I/O-thread CPU and serial work per connection")
    ap.add_argument("--servers", default=",".join(s for s in SERVERS if s not in OPTIONAL),
                    help="comma-separated subset of: " + ", ".join(SERVERS))
    ap.add_argument("--threads", type=int, default=1, help="server threads (default 1)")
    ap.add_argument("--load-threads", type=int, default=1, help="kam-load threads")
    ap.add_argument("--rounds", type=int, help="override the profile's rounds")
    ap.add_argument("--duration", type=float, help="override measured seconds per run")
    ap.add_argument("--out", default=RESULTS_DIR, help="results directory")
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--kam-serve", help="path of kam-serve (default: next to kam-bench)")
    ap.add_argument("--retry-disturbed", type=int, default=None, metavar="N",
                    help="redo a run up to N times (after waiting for an idle machine) "
                         "when other processes used > %.2f cores during it "
                         "(default 2; 0 with --smoke)" % DISTURBED)
    ap.add_argument("--quiet-wait", type=float, default=60, metavar="S",
                    help="longest wait for an idle machine before a retry (default 60)")
    ap.add_argument("--no-pin", action="store_true",
                    help="don't pin kam-load and the server to disjoint CPUs")
    ap.add_argument("--report", metavar="JSON",
                    help="re-print the table (and chart) of an earlier results file; no runs")
    ap.add_argument("--http", action="store_true",
                    help="the HTTP block instead: kam-http-bench (kam-serve http vs nginx "
                         "and h2o under wrk); the options after it are kam-http-bench's")
    if "--http" in sys.argv[1:]:
        rest = [a for a in sys.argv[1:] if a != "--http"]
        return subprocess.call([os.path.join(BIN_DIR, "kam-http-bench")] + rest)
    opts = ap.parse_args()
    if opts.chat:
        return chat_block(opts)
    if opts.chat_nodes:
        return chat_nodes_block(opts)
    if opts.report:
        return report(opts)
    if opts.kam_serve:
        Server.paths["kam"] = os.path.abspath(opts.kam_serve)
    if opts.tls_echo and "--servers" not in " ".join(sys.argv[1:]):
        opts.servers = "kam,kam-tls"
    servers = [s.strip() for s in opts.servers.split(",") if s.strip()]
    bad = [s for s in servers if s not in SERVERS]
    if bad or not servers:
        ap.error("unknown server(s) %s; known: %s" % (",".join(bad), ",".join(SERVERS)))
    if opts.threads < 1 or opts.load_threads < 1 or (opts.rounds is not None and
                                                     opts.rounds < 1):
        ap.error("--threads, --load-threads and --rounds must be >= 1")
    if sum([opts.quick, opts.smoke, opts.sweep, opts.serial]) > 1:
        ap.error("choose one of --quick, --smoke, --sweep, --serial")
    if opts.tls_echo and (opts.quick or opts.sweep or opts.serial):
        ap.error("--tls-echo has its own matrix (with --smoke: a tiny one)")
    if opts.retry_disturbed is None:
        opts.retry_disturbed = 0 if opts.smoke else 2
    profile = "smoke" if opts.smoke else "quick" if opts.quick else \
              "sweep" if opts.sweep else "serial" if opts.serial else "full"
    if opts.tls_echo:
        profile = "tls-smoke" if opts.smoke else "tls"
        global BASELINES
        BASELINES = TLS_BASELINES
    cases, rounds, duration, warmup, idle_hold = build_matrix(profile)
    rounds = opts.rounds or rounds
    duration = opts.duration or duration
    # Pin kam-load to the first --load-threads CPUs and the server to the rest when
    # they fit: otherwise where the scheduler happens to place a ping-pong pair
    # (same CPU or not) swings single-connection figures by 2-3x between runs.
    ncpu = os.cpu_count() or 1
    opts.load_cpus = None
    if not opts.no_pin and not opts.sweep and opts.load_threads + opts.threads <= ncpu:
        opts.load_cpus = set(range(opts.load_threads))
        Server.cpus = set(range(opts.load_threads, ncpu))
    Server.admin = profile == "serial"
    raise_nofile()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not os.access(os.path.join(BIN_DIR, "kam-load"), os.X_OK):
        log("kam-bench: %s/kam-load not found; build the bench targets first" % BIN_DIR)
        return 2
    notes = []
    missing = [s for s in servers if not Server(s, 1, "/tmp").available()]
    for s in missing:
        notes.append("%s skipped: %s not built" % (s, Server(s, 1, "/tmp").path))
        log("[kam-bench] " + notes[-1])
    runnable = [s for s in servers if s not in missing]
    tmpdir = tempfile.mkdtemp(prefix="kam-bench-")
    if any(s in TLS_SERVERS for s in runnable):
        try:
            Server.tls = make_cert(tmpdir)
        except (OSError, subprocess.CalledProcessError) as e:
            for s in [s for s in runnable if s in TLS_SERVERS]:
                notes.append("%s skipped: no certificate (openssl req: %s)" % (s, e))
                log("[kam-bench] " + notes[-1])
            runnable = [s for s in runnable if s not in TLS_SERVERS]
    thread_counts = list(range(1, (os.cpu_count() or 1) + 1)) if opts.sweep else [opts.threads]
    mach = machine()
    started = time.time()
    results = []
    for th in thread_counts:
        results += run_matrix(opts, runnable, cases, rounds, duration, warmup, idle_hold,
                              th, tmpdir)
    summary = summarize(results, servers, cases, thread_counts)
    elapsed = time.time() - started
    md = table(summary)
    serial = serial_table(results)
    if serial:
        md += "\n" + serial
    print(md)
    for n in notes:
        print("note: " + n)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(opts.out, exist_ok=True)
    doc = {"tool": "kam-bench", "date": stamp, "command": " ".join(["kam-bench"] + sys.argv[1:]),
           "profile": profile, "machine": mach, "servers": servers,
           "server_threads": thread_counts, "load_threads": opts.load_threads,
           "pinning": {"load_cpus": sorted(opts.load_cpus or []),
                       "server_cpus": sorted(Server.cpus or [])},
           "rounds": rounds, "duration_s": duration, "warmup_s": warmup,
           "elapsed_s": elapsed, "notes": notes, "summary": summary, "runs": results}
    for name in ("kam-bench-%s-%s.json" % (profile, stamp), "latest.json"):
        with open(os.path.join(opts.out, name), "w") as f:
            json.dump(doc, f, indent=1)
    with open(os.path.join(opts.out, "latest.md"), "w") as f:
        f.write("`%s` (%s, %s x %s)\n\n%s\n" % (doc["command"], stamp,
                doc["machine"]["nproc"], doc["machine"]["cpu_model"], md))
    if not opts.no_chart:
        err = chart(summary, runnable, os.path.join(opts.out, "latest"), tmpdir)
        if err:
            print("note: " + err)
        else:
            shutil.copy(os.path.join(opts.out, "latest.png"),
                        os.path.join(opts.out, "kam-bench-%s-%s.png" % (profile, stamp)))
    print("results: %s (%.0fs)" % (os.path.join(opts.out, "latest.json"), elapsed))
    shutil.rmtree(tmpdir, ignore_errors=True)
    if profile in ("smoke", "tls-smoke"):
        failed = [r for r in summary if r["figure"] is None or r["mismatch"]]
        for r in failed:
            log("kam-bench: smoke FAILED: %s %s: %s" % (
                r["server"], r["case"],
                "echoed bytes mismatched" if r["mismatch"] else
                "; ".join(r["notes"]) or "no figure (server missing or no ops)"))
        return 1 if failed else 0
    if profile == "serial" and opts.threads >= 2:
        # Every kam-serve conn run must have both serial figures: if a figure is
        # missing, the per-thread CPU (thread names) or accepts (/metrics) were
        # not readable.
        bad = [r for r in results if r["server"] in ("kam", "kam-pipe")
               and "serial_norm_us_per_conn" not in r]
        for r in bad:
            log("kam-bench: --serial: no per-thread figures for %s %s" % (r["server"],
                                                                          r["case"]))
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

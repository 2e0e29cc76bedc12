#!/usr/bin/env python3
"""kam-ab: A/B of two server builds (or two option sets) under one kam-load case.

    kam-ab [--rounds=4] [--server-args='...'] A B -- KAM-LOAD-ARGS...

A and B are server command lines (e.g. an old and a new build of kam-serve, or
"build/bin/kam-serve --placement=scheduler" vs "build/bin/kam-serve"). Each round
starts A then B (B then A on odd rounds) with --port=0 --threads=1 pinned to CPU 1,
runs kam-load pinned to CPU 0 against it, and records round trips or connections
per second, p99 and the server's CPU per operation (/proc/PID/stat). Prints every
run and the medians with B/A. Same host, same minute, alternating: the ratio is
what to quote, not the absolute figures (this machine is shared and wobbles).

--scrape=S: when a server prints `admin at HOST:PORT` (kam-serve --admin-port=0),
GET /metrics from it every S seconds while the load runs (a Prometheus scraper).
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import urllib.request

BIN_DIR = os.path.dirname(os.path.realpath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pinned(cpu, argv):
    if len(os.sched_getaffinity(0)) < 2:
        return argv
    return ["taskset", "-c", str(cpu)] + argv


def scraper(url, every, stop, count):
    while not stop.wait(every):
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
        count[0] += 1


def run_once(server, extra, load, scrape):
    argv = shlex.split(server) + ["--port=0", "--threads=1"] + extra
    p = subprocess.Popen(pinned(1, argv), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    stop = threading.Event()
    scrapes = [0]
    t = None
    try:
        line = p.stdout.readline()
        admin = None
        if line.startswith("admin at "):
            admin = line.strip().split(" ")[-1]
            line = p.stdout.readline()
        if "listening on" not in line:
            sys.exit("kam-ab: %s did not start: %s" % (server, line.strip()))
        port = line.strip().rsplit(":", 1)[1]
        if admin and scrape > 0:
            t = threading.Thread(target=scraper, daemon=True,
                                 args=("http://%s/metrics" % admin, scrape, stop, scrapes))
            t.start()
        c0 = cpu_seconds(p.pid)
        out = subprocess.run(pinned(0, [os.path.join(BIN_DIR, "kam-load"),
                                        "--host=127.0.0.1", "--port=" + port] + load),
                             capture_output=True, text=True, timeout=600).stdout
        c1 = cpu_seconds(p.pid)
    finally:
        stop.set()
        if t:
            t.join(timeout=10)
        p.terminate()
        p.wait(timeout=30)
    d = json.loads(out.strip().splitlines()[-1])
    if d.get("mode") == "chat":  # lines delivered to receivers, not round trips
        ops = max(d["delivered"], 1)
        return {"rate": d["lines_per_s"], "p99": d.get("p99_us", 0),
                "cpu_us": (c1 - c0) * 1e6 / ops,
                "errors": d["order_errors"] + d["lost_connections"]}
    ops = max(d["ops"], 1)
    return {"rate": d["ops_per_sec"], "p99": d["latency_us"]["p99"],
            "cpu_us": (c1 - c0) * 1e6 / ops, "errors": d["errors_total"],
            "scrapes": scrapes[0]}


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    i = argv.index("--")
    ap = argparse.ArgumentParser(description="A/B of two servers under one kam-load case")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--server-args", default="", help="extra arguments for both servers")
    ap.add_argument("--scrape", type=float, default=0,
                    help="GET /metrics from a server's admin endpoint every S seconds")
    opts = ap.parse_args(argv[:i])
    load = argv[i + 1:]
    extra = shlex.split(opts.server_args)
    res = {"A": [], "B": []}
    for r in range(opts.rounds):
        order = [("A", opts.a), ("B", opts.b)]
        for name, server in (order if r % 2 == 0 else order[::-1]):
            x = run_once(server, extra, load, opts.scrape)
            res[name].append(x)
            print("%s %10.0f/s  p99 %7.0f us  cpu/op %6.1f us  errors %d%s"
                  % (name, x["rate"], x["p99"], x["cpu_us"], x["errors"],
                     "  scrapes %d" % x["scrapes"] if x.get("scrapes") else ""), flush=True)
    med = {k: statistics.median(x["rate"] for x in v) for k, v in res.items()}
    cpu = {k: statistics.median(x["cpu_us"] for x in v) for k, v in res.items()}
    print("median A %.0f/s (%.1f us/op)  B %.0f/s (%.1f us/op)  B/A %.3f"
          % (med["A"], cpu["A"], med["B"], cpu["B"], med["B"] / med["A"]))
    return 1 if any(x["errors"] for v in res.values() for x in v) else 0


if __name__ == "__main__":
    sys.exit(main())

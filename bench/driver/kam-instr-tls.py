#!/usr/bin/env python3
"""kam-instr-tls: instructions per TLS connection of kam-serve and nginx, under callgrind.

    python3 bench/driver/kam-instr-tls.py [--kam-serve PATH] [--seconds 8] [--keep-alive] [--objects]

Each server (kam-serve --protocol=http --threads=1, and nginx with one process,
`master_process off`) is run twice under `valgrind --tool=callgrind`, with the same
self-signed P-256 certificate and a 100-byte file: once idle for 3 s, once under
`wrk -t1 -c4` for --seconds. It prints (instructions under load - instructions idle)
/ requests: without --keep-alive that is one resumed TLS 1.3 handshake, one
request and one close_notify per request, as kam-http-bench's "close (resumed
handshakes)" case.

The count does not depend on what else the machine runs, so it settles what the
rate comparison cannot on a noisy machine: which server does more work per
connection, and (with --objects) in which library. It counts instructions, not
cycles: no cache misses, no syscall cost (the kernel is not counted at all).
"""
import argparse
import collections
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
spec = importlib.util.spec_from_file_location("khb", os.path.join(HERE, "kam-http-bench.py"))
khb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(khb)


def self_cost_by_object(path):
    """Self instructions per ELF object of a callgrind output file."""
    names, cost, ob, in_call = {}, collections.Counter(), None, False
    for line in open(path, errors="replace"):
        if line.startswith("ob=") or line.startswith("cob="):
            # ids are shared by ob= and cob= (a name is given where an id first appears)
            text = line.split("=", 1)[1].strip()
            m = re.match(r"\((\d+)\)(?: (.*))?", text)
            if m and m.group(2):
                names[m.group(1)] = m.group(2)
            if line.startswith("ob="):
                ob = names.get(m.group(1)) if m else text
        elif line.startswith("calls="):
            in_call = True  # the next cost line is the call's inclusive cost
        elif line[:1].isdigit() or line[:1] in "+-*":
            if in_call:
                in_call = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                cost[os.path.basename(ob or "?")] += int(parts[1])
    return cost


def run(cmd, port, seconds, close, tmp, tag):
    log, out = os.path.join(tmp, tag + ".log"), os.path.join(tmp, tag + ".cg")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                          "--log-file=" + log] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not khb.wait_port(port, p, 60.0):
        p.kill()
        sys.exit("kam-instr-tls: did not start under valgrind: " + " ".join(cmd))
    n = 0
    if seconds:
        res = subprocess.run(["wrk", "-t1", "-c4", "-d%ds" % seconds]
                             + (["-H", "Connection: close"] if close else [])
                             + ["https://127.0.0.1:%d/index.html" % port],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
        m = re.search(r"(\d+) requests in", res)
        if m is None or re.search(r"Socket errors|Non-2xx", res):
            p.kill()
            sys.exit("kam-instr-tls: wrk failed or saw errors:\n" + res)
        n = int(m.group(1))
    else:
        time.sleep(3)
    time.sleep(0.5)
    # kam-serve drains on SIGTERM; nginx without a master quits gracefully on SIGQUIT
    p.send_signal(signal.SIGTERM if cmd[0] != "nginx" else signal.SIGQUIT)
    p.wait(300)
    total = int(re.search(r"Collected : (\d+)", open(log).read()).group(1))
    return total, n, self_cost_by_object(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kam-serve", default=os.path.join(HERE, "..", "..", "build", "bin",
                                                        "kam-serve"))
    ap.add_argument("--seconds", type=int, default=8, help="wrk run under valgrind")
    ap.add_argument("--keep-alive", action="store_true",
                    help="requests on 4 kept-alive connections instead of one per request")
    ap.add_argument("--objects", action="store_true", help="also per library (self cost)")
    a = ap.parse_args()
    if a.seconds < 1 or a.seconds > 120:
        ap.error("--seconds must be 1..120")
    for tool in ("valgrind", "wrk", "nginx", "openssl"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            sys.exit("kam-instr-tls: %s is not installed (scripts/bootstrap.sh installs it)" % tool)
    with tempfile.TemporaryDirectory(prefix="kam-instr-tls.") as tmp:
        compare(a, tmp)


def compare(a, tmp):
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("x" * 100)
    tls = khb.make_cert(tmp)

    def command(name, port):
        if name == "nginx":
            return khb.nginx_command(tmp, root, port, tls, one_process=True)
        return khb.kam_command(os.path.realpath(a.kam_serve), root, port, tls)

    per = {}
    for name in ("kam", "nginx"):
        port = khb.free_port()
        i0, _, o0 = run(command(name, port), port, 0, not a.keep_alive, tmp, name + ".idle")
        port = khb.free_port()
        i1, n, o1 = run(command(name, port), port, a.seconds, not a.keep_alive, tmp,
                        name + ".load")
        per[name] = ((i1 - i0) / n, {k: (o1[k] - o0.get(k, 0)) / n for k in o1})
        print("%-6s %9.0f instructions per request (%d requests; idle %d, load %d)"
              % (name, per[name][0], n, i0, i1), flush=True)
    print("kam/nginx %.3f" % (per["kam"][0] / per["nginx"][0]))
    if a.objects:
        objs = sorted(set(per["kam"][1]) | set(per["nginx"][1]),
                      key=lambda k: -max(per["kam"][1].get(k, 0), per["nginx"][1].get(k, 0)))
        print("%-28s %10s %10s" % ("object (self)", "kam", "nginx"))
        for k in objs:
            a_, b_ = per["kam"][1].get(k, 0), per["nginx"][1].get(k, 0)
            if max(abs(a_), abs(b_)) >= 500:
                print("%-28s %10.0f %10.0f" % (k, a_, b_))


if __name__ == "__main__":
    main()

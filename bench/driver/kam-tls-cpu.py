#!/usr/bin/env python3
"""kam-tls-cpu: user and kernel CPU per TLS connection, kam-serve builds and nginx side by side.

    python3 bench/driver/kam-tls-cpu.py [--rounds 6] [--kam-serve PATH] [--kam-b PATH]
                                        [--kam-args OPTS] [--kam-b-args OPTS]
                                        [--nginx] [--connections 64] [--duration 4] [--full]

Every round runs each server in turn (A B A B ...): kam-serve --protocol=http
--threads=1 (kam-http-bench's command line), a second kam-serve build as kam-b, and
nginx with one worker (--kam-b-args alone: kam-b is the same build with other
options, e.g. --kam-b-args=--tls-handshakes-per-round=0), all with the same self-signed P-256 certificate, under
`wrk -t1 -cN --latency -H 'Connection: close'` (a resumed TLS 1.3 handshake, one
request and a close per request). It reads the server's utime and stime from
/proc/PID/stat (nginx: master and worker) before and after, and prints per
request: user us, kernel us, req/s and wrk's p99; then the medians. --full runs
`openssl s_time -new` clients instead (full handshakes, no p99).

No CPU cap: wrk, on the other core, is the limit, so req/s moves with the client
and the machine; the CPU per request is what compares the servers. The split says
where a difference is: extra syscalls show as kernel time, cache and branch effects
(which callgrind's instruction count does not see, kam-instr-tls.py) as user time.
"""
import argparse
import importlib.util
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
spec = importlib.util.spec_from_file_location("khb", os.path.join(HERE, "kam-http-bench.py"))
khb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(khb)


def cpu_ticks(pids):
    user = kernel = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user += int(fields[11])
        kernel += int(fields[12])
    return user, kernel


def wrk(port, a, tag):
    """Requests and p99 (ms) of one wrk run, a connection per request."""
    out = subprocess.run(["wrk", "-t1", "-c%d" % a.connections, "-d%ds" % a.duration,
                          "--latency", "-H", "Connection: close",
                          "https://127.0.0.1:%d/index.html" % port],
                         capture_output=True, text=True, timeout=a.duration + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    if not m or int(m.group(1)) == 0:
        sys.exit("kam-tls-cpu: wrk against %s: no requests\n%s" % (tag, out))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    return int(m.group(1)), float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[
        p99.group(2)]


def s_time(port, a, tag):
    """Connections made by --connections `openssl s_time -new` processes at once (a full
    handshake and an HTTP/1.0 GET each, one connection at a time per process)."""
    cmd = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
           "-time", str(a.duration), "-www", "/index.html"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(a.connections)]
    n = 0
    for p in procs:
        out = p.communicate(timeout=a.duration + 30)[0]
        m = re.search(r"(\d+) connections in [\d.]+s;", out)
        if not m or re.search(r"^ERROR", out, re.M):
            sys.exit("kam-tls-cpu: openssl s_time against %s failed:\n%s" % (tag, out))
        n += int(m.group(1))
    if n == 0:
        sys.exit("kam-tls-cpu: openssl s_time against %s: no connections" % tag)
    return n


def one_run(cmd, port, a, tag):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not khb.wait_port(port, proc):
            sys.exit("kam-tls-cpu: %s did not listen on %d: %s" % (tag, port, " ".join(cmd)))
        time.sleep(0.3)
        pids = [proc.pid]
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        pids += [int(c) for c in children]  # nginx's worker
        u0, k0 = cpu_ticks(pids)
        if a.full:
            n, p99_ms = s_time(port, a, tag), float("nan")
        else:
            n, p99_ms = wrk(port, a, tag)
        u1, k1 = cpu_ticks(pids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    us_per_tick = 1e6 / os.sysconf("SC_CLK_TCK")
    return ((u1 - u0) * us_per_tick / n, (k1 - k0) * us_per_tick / n, n / a.duration,
            p99_ms)


def p99_text(ms):
    return "" if ms != ms else ", p99 %5.1f ms" % ms  # NaN: s_time measures none


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--kam-serve", default=os.path.join(HERE, "..", "..", "build", "bin",
                                                       "kam-serve"))
    p.add_argument("--kam-b", help="a second kam-serve build, run as kam-b")
    p.add_argument("--kam-args", default="", help="extra kam-serve options for kam")
    p.add_argument("--kam-b-args", default="", help="extra kam-serve options for kam-b")
    p.add_argument("--nginx", action="store_true", help="nginx as well")
    p.add_argument("--connections", type=int,
                   help="wrk's connections (with --full: s_time processes, default 8)")
    p.add_argument("--full", action="store_true",
                   help="full handshakes: openssl s_time -new clients instead of wrk, "
                        "which resumes sessions")
    p.add_argument("--duration", type=int, default=4, help="seconds per client run")
    a = p.parse_args()
    if a.connections is None:
        a.connections = 8 if a.full else 64
    if a.rounds < 1 or a.connections < 1 or a.duration < 1:
        sys.exit("kam-tls-cpu: --rounds, --connections and --duration must be >= 1")
    tools = (["openssl"] if a.full else ["wrk", "openssl"]) + (["nginx"] if a.nginx else [])
    for tool in tools:
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            sys.exit("kam-tls-cpu: %s is not installed (scripts/bootstrap.sh installs it)"
                     % tool)
    servers = {"kam": os.path.realpath(a.kam_serve)}
    extra = {"kam": shlex.split(a.kam_args), "kam-b": shlex.split(a.kam_b_args)}
    if a.kam_b or a.kam_b_args:
        servers["kam-b"] = os.path.realpath(a.kam_b or a.kam_serve)
    if a.nginx:
        servers["nginx"] = None
    for name, binary in servers.items():
        if binary and not os.access(binary, os.X_OK):
            sys.exit("kam-tls-cpu: %s: %s is not an executable" % (name, binary))
    with tempfile.TemporaryDirectory(prefix="kam-tls-cpu.") as tmp:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("x" * 100)
        tls = khb.make_cert(tmp)
        rows = {name: [] for name in servers}
        for r in range(a.rounds):
            for name, binary in servers.items():
                port = khb.free_port()
                cmd = (khb.kam_command(binary, root, port, tls) + extra[name] if binary
                       else khb.nginx_command(tmp, root, port, tls))
                row = one_run(cmd, port, a, name)
                rows[name].append(row)
                print("round %d %-6s user %6.1f kernel %5.1f us/req, %6.0f req/s%s"
                      % ((r + 1, name) + row[:3] + (p99_text(row[3]),)), flush=True)
    print("medians over %d rounds (%s):" % (
        a.rounds, "%d x openssl s_time -new -time %d" % (a.connections, a.duration)
        if a.full else "wrk -t1 -c%d -d%ds, Connection: close" % (a.connections, a.duration)))
    for name, rs in rows.items():
        med = [statistics.median(x[i] for x in rs) for i in range(4)]
        total = statistics.median(x[0] + x[1] for x in rs)
        print("%-6s user %6.1f kernel %5.1f total %6.1f us/req, %6.0f req/s%s"
              % (name, med[0], med[1], total, med[2], p99_text(med[3])))


if __name__ == "__main__":
    main()

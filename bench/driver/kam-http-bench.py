#!/usr/bin/env python3
"""kam-http-bench: kam-serve --protocol=http against nginx and h2o, side by side.

Every server is started by this script on 127.0.0.1 with one worker, serving the same
files (small.html, 100 B, and k16.bin, 16 KiB) from a temp dir, pinned to the CPUs
kam-bench gives servers (wrk gets CPU 0, servers the rest). Per round each server runs
each case with wrk (keep-alive, and connection per request with -H 'Connection: close');
the server order rotates every round (A B C, B C A, ...). Prints medians and the ratios
kam/nginx and kam/h2o; writes JSON with --out.

With --tls every server serves HTTPS with one certificate made for the run (ECDSA
P-256, `openssl req`; TLS 1.2/1.3, each server's default ciphers and session tickets):
connection per request then measures TLS handshakes/s (resumed ones: wrk reuses the
session of each connection slot), keep-alive HTTPS requests/s, and full handshakes/s:
--s-time-clients (default 8) `openssl s_time -new` processes at once, each a blocking
client that makes a new session (no resumption) per HTTP/1.0 request.
Default servers then: kam,nginx (issue 14's comparison). `--kam-b PATH` adds "kam-b",
a second kam-serve build, to every round (A/B of two builds beside nginx).

Besides req/s it records the server's CPU per request (/proc/PID/stat of the server
and its children, over the wrk run) and the cores the server and wrk used: on a
2-core machine wrk's own handshakes can use its whole core, and then the rate is the
client's, and CPU per request is the figure that compares servers. The tables also
give requests per server CPU-second (1e6 / CPU us per request): what one core of the
server would serve if the client kept up (its capacity per core). Each run waits
(up to 10 s) for a quiet half second first and records the cores other processes used
during it; runs above --max-other are left out of the medians ("quiet runs" column).

--server-cpu-quota CORES puts every server in a CPU cgroup capped at CORES of CPU time
(CFS quota per 10 ms period): with the server held below what the client can drive,
the rate is the server's capacity and the servers compare on rate, not on the client.

    kam-http-bench [--rounds 3] [--duration 3] [--connections 64] [--tls] [--kam-serve PATH]
                   [--kam-b PATH] [--s-time-clients 8] [--server-cpu-quota CORES]
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime+stime of `pid` and its children still running (nginx's worker)."""
    total = 0.0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return total


def machine_busy():
    """CPU seconds all CPUs spent not idle so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # all but idle and iowait


def wait_quiet(limit=0.15, patience=10.0):
    """Waits (at most `patience` s) for half a second in which the machine used
    < `limit` cores: the servers share it with other work."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        b0 = machine_busy()
        time.sleep(0.5)
        if (machine_busy() - b0) / 0.5 < limit:
            return


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CpuQuota:
    """A CPU cgroup that caps what its processes may use to `cores` of CPU time (CFS
    quota over a 10 ms period; cgroup v1's cpu controller or cgroup v2's cpu.max).
    With the server capped below a core the client keeps up, and the rate is the
    server's, not the client's. Needs root and a writable cgroup file system."""
    PERIOD_US = 10000

    def __init__(self, cores):
        name = "kam-http-bench-%d" % os.getpid()
        quota = max(1000, int(cores * self.PERIOD_US))
        v1, v2 = "/sys/fs/cgroup/cpu", "/sys/fs/cgroup"
        self.path = None
        try:
            if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
                self.path = os.path.join(v1, name)
                os.makedirs(self.path, exist_ok=True)
                with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                    f.write("%d" % self.PERIOD_US)
                with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                    f.write("%d" % quota)
            elif os.path.exists(os.path.join(v2, "cgroup.controllers")):
                self.path = os.path.join(v2, name)
                os.makedirs(self.path, exist_ok=True)
                with open(os.path.join(self.path, "cpu.max"), "w") as f:
                    f.write("%d %d" % (quota, self.PERIOD_US))
            else:
                raise OSError("no cgroup cpu controller under /sys/fs/cgroup")
        except OSError as e:
            self.remove()
            sys.exit("kam-http-bench: --server-cpu-quota needs a writable CPU cgroup: %s" % e)

    def enter(self):
        """In the child before exec: move this process into the group."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write("%d" % os.getpid())

    def throttled(self):
        """How many periods the group was throttled in, so far."""
        try:
            with open(os.path.join(self.path, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    if k == "nr_throttled":
                        return int(v)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self):
        if self.path and os.path.isdir(self.path):
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def pinner(cpus, quota=None):
    if not cpus and quota is None:
        return None

    def pin():
        if cpus:
            os.sched_setaffinity(0, cpus)
        if quota is not None:
            quota.enter()
    return pin


def wait_port(port, proc, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(key, 0o644)  # nginx reads it as root before dropping rights; h2o likewise
    return cert, key


def kam_command(binary, root, port, tls=None):
    """kam-serve's http protocol serving `root` on 127.0.0.1:port with one I/O thread."""
    cmd = [binary, "--protocol=http", "--host=127.0.0.1", "--port=%d" % port,
           "--threads=1", "--root=" + root, "--scheduler.max-threads=1"]
    if tls:
        cmd += ["--tls-cert=" + tls[0], "--tls-key=" + tls[1]]
    return cmd


def nginx_command(tmp, root, port, tls=None, one_process=False):
    """nginx with one worker serving `root` on 127.0.0.1:port (HTTPS with tls=(cert, key));
    one_process: no master either (for valgrind, which follows no fork)."""
    d = os.path.join(tmp, "nginx")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""%(master)sworker_processes 1; daemon off; pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; sendfile on; tcp_nopush on;
  client_body_temp_path %(d)s/b; proxy_temp_path %(d)s/p; fastcgi_temp_path %(d)s/f;
  uwsgi_temp_path %(d)s/u; scgi_temp_path %(d)s/s;
  types { text/html html; application/octet-stream bin; }
  server { listen 127.0.0.1:%(port)d%(ssl)s; root %(root)s; %(certs)s } }
""" % {"d": d, "port": port, "root": root, "ssl": " ssl" if tls else "",
       "master": "master_process off; " if one_process else "",
       "certs": ("ssl_certificate %s; ssl_certificate_key %s; "
                 "ssl_protocols TLSv1.2 TLSv1.3;" % tls) if tls else ""})
    return ["nginx", "-c", conf, "-p", d]


def start(name, root, tmp, cpus, kam_serve, tls=None, quota=None):
    port = free_port()
    if name in ("kam", "kam-b"):
        cmd = kam_command(kam_serve[name], root, port, tls)
    elif name == "nginx":
        cmd = nginx_command(tmp, root, port, tls)
    elif name == "h2o":
        d = os.path.join(tmp, "h2o")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "h2o.conf")
        with open(conf, "w") as f:
            f.write("""num-threads: 1
listen:
  host: 127.0.0.1
  port: %(port)d%(ssl)s
error-log: %(d)s/error.log
hosts:
  default:
    paths:
      /:
        file.dir: %(root)s
""" % {"d": d, "port": port, "root": root,
       "ssl": ("\n  ssl:\n    certificate-file: %s\n    key-file: %s\n"
               "    minimum-version: TLSv1.2" % tls) if tls else ""})
        cmd = ["h2o", "-c", conf]
    else:
        raise ValueError(name)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=pinner(cpus, quota))
    if not wait_port(port, proc):
        proc.kill()
        raise RuntimeError("%s did not start: %s" % (name, " ".join(cmd)))
    return proc, port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def to_us(text):
    """wrk's latency ("850.00us", "1.20ms", "2.00s", "1.05m"); 0 if unreadable."""
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if m is None:
        return 0.0
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[m.group(2)]


def wrk(port, path, close, conns, duration, cpus, server_pid, tls=False):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % max(1, round(duration)), "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append("%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path))
    wait_quiet()
    srv0, wrk0, t0 = cpu_seconds(server_pid), children_cpu(), time.monotonic()
    busy0 = machine_busy()
    out = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pinner(cpus),
                         timeout=duration + 30).stdout
    srv_cpu, wrk_cpu = cpu_seconds(server_pid) - srv0, children_cpu() - wrk0
    wall = time.monotonic() - t0
    other = max(0.0, machine_busy() - busy0 - srv_cpu - wrk_cpu) / wall
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"99%\s+(\S+)", out)
    if m is None:
        raise RuntimeError("wrk failed: %s\n%s" % (" ".join(cmd), out))
    p99 = to_us(m.group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    # The server's CPU per request (includes wrk's connect/ramp-down edges) and the
    # cores wrk used: with wrk near 1.0 the client, not the server, set the rate.
    return {"rps": rps, "p99_us": p99, "errors": errors, "cmd": " ".join(cmd),
            "srv_us_per_req": srv_cpu / total * 1e6 if total else None,
            "srv_cores": srv_cpu / wall, "wrk_cores": wrk_cpu / wall, "other_cores": other}


def s_time(port, path, clients, duration, cpus, server_pid):
    """Full TLS handshakes: `clients` openssl s_time -new processes at once (each one
    blocking connection at a time, a new session per connection, HTTP/1.0 GET)."""
    cmd = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
           "-time", "%d" % max(1, round(duration)), "-www", path]
    wait_quiet()
    srv0, cli0, t0 = cpu_seconds(server_pid), children_cpu(), time.monotonic()
    busy0 = machine_busy()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, preexec_fn=pinner(cpus)) for _ in range(clients)]
    outs = [p.communicate(timeout=duration + 30)[0] for p in procs]
    srv_cpu, cli_cpu = cpu_seconds(server_pid) - srv0, children_cpu() - cli0
    wall = time.monotonic() - t0
    other = max(0.0, machine_busy() - busy0 - srv_cpu - cli_cpu) / wall
    total, errors = 0, 0
    for out in outs:
        m = re.search(r"(\d+) connections in [\d.]+s;", out)
        if m:
            total += int(m.group(1))
        else:
            errors += 1
        errors += len(re.findall(r"^ERROR", out, re.M))
    return {"rps": total / wall, "p99_us": 0, "errors": errors,
            "cmd": "%d x %s" % (clients, " ".join(cmd)),
            "srv_us_per_req": srv_cpu / total * 1e6 if total else None,
            "srv_cores": srv_cpu / wall, "wrk_cores": cli_cpu / wall, "other_cores": other}


def main():
    ap = argparse.ArgumentParser(prog="kam-http-bench", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--servers", help="default kam,nginx,h2o (with --tls kam,nginx)")
    ap.add_argument("--tls", action="store_true", help="HTTPS: handshakes/s and requests/s")
    ap.add_argument("--kam-serve", default=os.path.join(HERE, "kam-serve"))
    ap.add_argument("--kam-b", help="a second kam-serve build, run as server kam-b")
    ap.add_argument("--max-other", type=float, default=0.15,
                    help="runs during which other processes used more cores than this are "
                         "left out of the medians (unless every run of a cell was)")
    ap.add_argument("--s-time-clients", type=int, default=8,
                    help="--tls: openssl s_time -new processes for the full-handshake case")
    ap.add_argument("--server-cpu-quota", type=float, metavar="CORES",
                    help="cap every server at this much CPU time (e.g. 0.5 core; a CPU "
                         "cgroup, needs root): the client then keeps up and the rate "
                         "compares the servers, not the client")
    ap.add_argument("--out", help="write the results as JSON here")
    opts = ap.parse_args()
    if opts.server_cpu_quota is not None and not 0.1 <= opts.server_cpu_quota <= 64:
        ap.error("--server-cpu-quota must be between 0.1 and 64 cores")
    servers = (opts.servers or ("kam,nginx" if opts.tls else "kam,nginx,h2o")).split(",")
    if opts.kam_b and "kam-b" not in servers:
        servers.append("kam-b")
    if "kam-b" in servers and not opts.kam_b:
        ap.error("server kam-b needs --kam-b PATH")
    binaries = {"kam": opts.kam_serve, "kam-b": opts.kam_b}
    for tool in ["wrk"] + [s for s in servers if s not in ("kam", "kam-b")] + (["openssl"] if opts.tls else []):
        if shutil.which(tool) is None:
            print("kam-http-bench: %s not found (scripts/bootstrap.sh installs it)" % tool)
            return 2
    ncpu = os.cpu_count() or 1
    load_cpus, srv_cpus = ({0}, set(range(1, ncpu))) if ncpu >= 2 else (None, None)
    tmp = tempfile.mkdtemp(prefix="kam-http-bench-")
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "small.html"), "w") as f:
        f.write(("<p>" + "x" * 100)[:92] + "</p>\n\n\n\n")  # 100 bytes
    with open(os.path.join(root, "k16.bin"), "wb") as f:
        f.write(os.urandom(16 * 1024))
    # nginx's and h2o's workers drop root's rights: let them read the files.
    for p in (tmp, root):
        os.chmod(p, 0o755)
    for n in os.listdir(root):
        os.chmod(os.path.join(root, n), 0o644)
    tls = make_cert(tmp) if opts.tls else None
    cases = [("100B keep-alive", "/small.html", False), ("100B close", "/small.html", True),
             ("16KiB keep-alive", "/k16.bin", False), ("16KiB close", "/k16.bin", True)]
    if tls:  # handshakes/s (close) and HTTPS requests/s (keep-alive)
        # wrk keeps each connection's SSL object (SSL_clear), so after the first
        # connection every handshake is a TLS 1.3 resumption (PSK + ECDHE, no
        # certificate or signature); kam-load --tls (kam-bench --tls-echo) does
        # full handshakes.
        cases = [("TLS 100B keep-alive", "/small.html", False),
                 ("TLS 100B close (resumed handshakes)", "/small.html", True),
                 ("TLS 100B close (full handshakes, s_time -new)", "/small.html", "s_time")]
    results = {}
    quota = CpuQuota(opts.server_cpu_quota) if opts.server_cpu_quota else None
    try:
        for r in range(opts.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for name in order:
                proc, port = start(name, root, tmp, srv_cpus, binaries, tls, quota)
                try:
                    for case, path, close in cases:
                        throttled0 = quota.throttled() if quota else 0
                        if close == "s_time":
                            res = s_time(port, path, opts.s_time_clients, opts.duration,
                                         load_cpus, proc.pid)
                        else:
                            res = wrk(port, path, close, opts.connections, opts.duration,
                                      load_cpus, proc.pid, tls is not None)
                        if quota:
                            res["throttled_periods"] = quota.throttled() - throttled0
                        results.setdefault(case, {}).setdefault(name, []).append(res)
                        print("[kam-http-bench] round %d %s %s: %.0f req/s p99 %.0f us "
                              "errors %d, server %.0f us CPU/req (%.2f cores), wrk %.2f "
                              "cores (client), other %.2f cores%s" %
                              (r + 1, name, case, res["rps"], res["p99_us"], res["errors"],
                               res["srv_us_per_req"] or 0, res["srv_cores"], res["wrk_cores"],
                               res["other_cores"],
                               " (disturbed)" if res["other_cores"] > opts.max_other else ""),
                              flush=True)
                finally:
                    stop(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if quota:
            quota.remove()
    print()
    print("| case | server | req/s (median) | p99 us | errors | kam/this req/s | "
          "kam/this p99 | server CPU us/req | req per server CPU-s | kam/this per CPU-s | "
          "server cores | client cores | quiet runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for case, _, _ in cases:
        med = {}
        for name in servers:
            runs = results[case][name]
            quiet = [x for x in runs if x["other_cores"] <= opts.max_other]
            kept = len(quiet)
            runs = quiet or runs
            med[name] = {"runs_kept": kept,"rps": statistics.median(x["rps"] for x in runs),
                         "p99_us": statistics.median(x["p99_us"] for x in runs),
                         "errors": sum(x["errors"] for x in runs),
                         "srv_us_per_req": statistics.median(
                             x["srv_us_per_req"] or 0 for x in runs),
                         "per_cpu_s": statistics.median(
                             1e6 / x["srv_us_per_req"] if x["srv_us_per_req"] else 0
                             for x in runs),
                         "srv_cores": statistics.median(x["srv_cores"] for x in runs),
                         "wrk_cores": statistics.median(x["wrk_cores"] for x in runs),
                         "other_cores": statistics.median(x["other_cores"] for x in runs)}
        summary[case] = med
        for name in servers:
            m = med[name]
            ratio = med["kam"]["rps"] / m["rps"] if "kam" in med and m["rps"] else 0
            pr = med["kam"]["p99_us"] / m["p99_us"] if "kam" in med and m["p99_us"] else 0
            pc = med["kam"]["per_cpu_s"] / m["per_cpu_s"] if "kam" in med and m["per_cpu_s"] else 0
            print("| %s | %s | %.0f | %s | %d | %s | %s | %.0f | %.0f | %s | %.2f | %.2f | %d/%d |" %
                  (case, name, m["rps"], "%.0f" % m["p99_us"] if m["p99_us"] else "-",
                   m["errors"], "-" if name == "kam" else "%.2fx" % ratio,
                   "-" if name == "kam" or not pr else "%.2fx" % pr, m["srv_us_per_req"],
                   m["per_cpu_s"], "-" if name == "kam" else "%.2fx" % pc,
                   m["srv_cores"], m["wrk_cores"], m["runs_kept"], len(results[case][name])))
    if opts.out:
        with open(opts.out, "w") as f:
            json.dump({"settings": vars(opts), "runs": results, "medians": summary}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

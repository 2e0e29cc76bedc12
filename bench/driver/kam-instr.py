#!/usr/bin/env python3
"""kam-instr: instructions per operation of two server builds, under callgrind.

    python3 bench/driver/kam-instr.py [--rounds=2] A B -- KAM-LOAD-ARGS...

A and B are server commands (a path, then its options, e.g. "build/bin/kam-serve
--protocol=echo-pipeline"; split at spaces).

For when the machine is too noisy for kam-ab (others compiling or benchmarking):
each round runs A then B under `valgrind --tool=callgrind` with --port=0
--threads=1, once idle for 3 s and once under kam-load for 5 s, and prints
(instructions under load - instructions idle) / operations. Valgrind runs every
thread of the server on one core, slowly; the count per operation does not depend
on what else the machine runs. It counts instructions, not cycles (no cache
misses, no syscall cost): a check that a change adds no work, not a speed figure.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

BIN_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "build", "bin")


def run(server, load, seconds):
    log = "/tmp/kam-instr.%d.log" % os.getpid()
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          "--log-file=" + log] + server.split() + ["--port=0", "--threads=1"],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if "listening on" not in line:
            sys.exit("kam-instr: %s did not start" % server)
        port = line.strip().rsplit(":", 1)[1]
        ops = 0
        if load:
            out = subprocess.run([os.path.join(BIN_DIR, "kam-load"), "--host=127.0.0.1",
                                  "--port=" + port, "--duration=%g" % seconds, "--warmup=0"]
                                 + load, capture_output=True, text=True, timeout=600).stdout
            res = json.loads(out.strip().splitlines()[-1])
            ops = res.get("ops", res.get("delivered", 0))  # chat: lines delivered
        else:
            time.sleep(seconds)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=300)
    text = open(log).read()
    os.unlink(log)
    return int(re.search(r"Collected : (\d+)", text).group(1)), ops


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    i = argv.index("--")
    rounds = 2
    names = []
    for a in argv[:i]:
        if a.startswith("--rounds="):
            rounds = int(a.split("=", 1)[1])
        else:
            names.append(a)
    if len(names) != 2:
        sys.exit(__doc__)
    load = argv[i + 1:]
    for _ in range(rounds):
        for tag, server in zip("AB", names):
            idle, _ = run(server, None, 3)
            busy, ops = run(server, load, 5)
            print("%s ops %7d  instructions/op %8.0f" % (tag, ops, (busy - idle) / max(ops, 1)),
                  flush=True)


if __name__ == "__main__":
    main()

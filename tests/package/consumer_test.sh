#!/usr/bin/env bash
# Installs the dev component of a kamaelia-caf build into a scratch prefix (or
# uses an installed one), builds tests/package/ against it with
# find_package(kamaelia_caf CONFIG) and checks an echo round trip over loopback.
# Usage: consumer_test.sh BUILD_DIR WORK_DIR [CXXFLAGS]   (install from BUILD_DIR, then test)
#        consumer_test.sh --installed PREFIX WORK_DIR   (e.g. /usr from the .deb)
# CXXFLAGS (e.g. -fsanitize=address,undefined) must match how the libraries were built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$1" = --installed ]; then
  prefix="$2"; work="$3"
  rm -rf "$work"; mkdir -p "$work"
else
  build="$1"; work="$2"; flags="${3:-}"
  rm -rf "$work"; mkdir -p "$work"
  prefix="$work/prefix"
  cmake --install "$build" --prefix "$prefix" --component dev > "$work/install.log"
fi
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="${flags:-}" -DCMAKE_EXE_LINKER_FLAGS="${flags:-}" \
  > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
python3 - "$work/build/consumer_echo" <<'PY'
import socket, subprocess, sys
p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
line = p.stdout.readline().strip()
assert line.startswith("listening on 127.0.0.1:"), line
port = int(line.rsplit(":", 1)[1])
payload = b"hello from an out-of-tree consumer\n" * 100
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
assert got == payload, (len(got), len(payload))
p.stdin.close()
assert p.wait(timeout=20) == 0
print("consumer: echo round trip of", len(payload), "bytes OK")
PY

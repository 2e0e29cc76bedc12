#!/usr/bin/env bash
# Builds the Debian packages (libkamaelia-caf-dev, kam-serve) with CPack in
# ./build-deb, checks them with lintian (no errors), installs them with apt,
# runs the installed kam-serve (with its /etc config) over loopback, builds
# the out-of-tree consumer (tests/package/) against the installed headers,
# then purges the packages again. Needs root (or sudo); run
# scripts/bootstrap.sh first. CI runs it (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for p in lintian dpkg-dev help2man; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Debian's hardening flags (fortify, stack protector, relro + now).
cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DKAM_BUILD_TESTS=OFF -DKAM_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS) -Wl,-z,now" > /dev/null
cmake --build build-deb -j "$(nproc)"
rm -f build-deb/*.deb
(cd build-deb && cpack -G DEB > cpack.log) || { cat build-deb/cpack.log; exit 1; }
ls -l build-deb/*.deb
echo "package: lintian"
lintian --fail-on error --no-tag-display-limit build-deb/*.deb
cleanup() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq kam-serve libkamaelia-caf-dev > /dev/null || true; }
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  "$PWD"/build-deb/kam-serve_*.deb "$PWD"/build-deb/libkamaelia-caf-dev_*.deb > /dev/null
test -f /etc/kam-serve/kam-serve.conf
test -f /lib/systemd/system/kam-serve.service
test -f /usr/share/man/man1/kam-serve.1.gz
if command -v systemd-analyze > /dev/null; then
  systemd-analyze verify /lib/systemd/system/kam-serve.service
fi
echo "package: installed kam-serve with /etc/kam-serve/kam-serve.conf"
python3 - <<'PY'
import socket, subprocess
p = subprocess.Popen(["/usr/bin/kam-serve", "--config-file=/etc/kam-serve/kam-serve.conf",
                      "--port=0"], stdout=subprocess.PIPE, text=True)
line = p.stdout.readline().strip()
assert line.startswith("listening on 127.0.0.1:"), line
port = int(line.rsplit(":", 1)[1])
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    s.sendall(b"ping\n")
    s.shutdown(socket.SHUT_WR)
    got = b""
    while chunk := s.recv(4096):
        got += chunk
assert got == b"ping\n", got
p.terminate()
assert p.wait(timeout=20) == 0
print("package: /usr/bin/kam-serve echo round trip OK, exit 0 on SIGTERM")
PY
echo "package: out-of-tree consumer against /usr"
tests/package/consumer_test.sh --installed /usr build-deb/consumer
echo "package: OK"

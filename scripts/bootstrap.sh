#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root or with sudo), configures and
# builds kamaelia-caf in ./build (Release). Safe to run again: it installs
# nothing that is already there and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make ccache python3
  libcaf-dev libboost-dev doctest-dev libbenchmark-dev nlohmann-json3-dev libfmt-dev
  netcat-openbsd curl gnuplot-nox help2man libssl-dev openssl
  prometheus media-types apache2-utils wrk nghttp2-client nginx-light h2o haproxy socat valgrind
  chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs="$(nproc)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$jobs"

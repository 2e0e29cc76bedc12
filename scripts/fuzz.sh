#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang) and runs each for a bounded
# time (default 30 s; FUZZ_SECONDS to change) over its seed corpus in
# fuzz/corpus/<target>/. A crash fails the script and leaves crash-* files:
# turn each into a regression case in the parser's test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
if ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKAM_BUILD_FUZZ=ON -DKAM_BUILD_TESTS=OFF -DKAM_BUILD_BENCH=OFF
for src in fuzz/*_fuzz.cpp; do
  name="fuzz_$(basename "$src" _fuzz.cpp)"
  corpus="fuzz/corpus/$(basename "$src" _fuzz.cpp)"
  cmake --build build-fuzz --target "$name"
  work="$(mktemp -d)"
  echo "fuzz: $name for ${seconds}s"
  build-fuzz/bin/"$name" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    "$work" "$corpus"
  rm -rf "$work"
done

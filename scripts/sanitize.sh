#!/usr/bin/env bash
# Builds kamaelia-caf with AddressSanitizer + UBSan (+ LeakSanitizer) in
# ./build-asan and runs the test suite there. Run scripts/bootstrap.sh first
# (it installs the packages). `scripts/sanitize.sh thread` does the same with
# ThreadSanitizer in ./build-tsan (not part of CI: CAF's uninstrumented
# library makes it noisy; see tests/sanitizers/tsan.supp).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"
if [ "$kind" = thread ]; then
  dir=build-tsan; san=thread
else
  dir=build-asan; san=address,undefined
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAM_SANITIZE="$san" -DKAM_BUILD_BENCH=OFF
cmake --build "$dir" -j "$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j 2

#!/usr/bin/env bash
# Soak test (not in the default suite): kam-serve holds 10,000 idle
# connections for 60 s while 64 more slots churn connect/echo/close; at the
# end, once the clients are gone, the server's descriptor count must be back
# to its baseline and its RSS within 32 MiB of it (no leak per connection).
#   cmake --build build --target soak      (or: bash scripts/soak.sh [build/bin])
set -euo pipefail
bin="${1:-build/bin}"
secs="${SOAK_SECONDS:-60}"
conns="${SOAK_CONNECTIONS:-10000}"
ulimit -n "$(ulimit -Hn)"
out="$(mktemp)"
"$bin/kam-serve" --port=0 --threads=2 > "$out" &
srv=$!
trap 'kill $srv 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.05; done
port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$out")"
fds() { ls /proc/$srv/fd | wc -l; }
rss() { awk '/VmRSS/ {print $2}' /proc/$srv/status; }
fd0=$(fds); rss0=$(rss)
echo "soak: port $port, baseline fds=$fd0 rss=${rss0} KiB; $conns idle + churn for ${secs}s"
"$bin/kam-load" --mode=idle --port="$port" --connections="$conns" --duration="$secs" \
  --connect-phase=60 > /tmp/soak-idle.json &
idle=$!
"$bin/kam-load" --mode=conn --port="$port" --concurrency=64 --duration="$secs" > /tmp/soak-conn.json
wait $idle
sleep 3 # lingering closes end
fd1=$(fds); rss1=$(rss)
echo "soak: churn $(python3 -c 'import json;d=json.load(open("/tmp/soak-conn.json"));print(d["ops"], "cycles,", sum(d["errors"].values()), "errors")')"
echo "soak: end fds=$fd1 (baseline $fd0) rss=${rss1} KiB (baseline ${rss0} KiB)"
kill -TERM $srv; wait $srv
[ "$fd1" -le "$((fd0 + 2))" ] || { echo "soak: FAIL descriptors not back to baseline"; exit 1; }
[ "$rss1" -le "$((rss0 + 32768))" ] || { echo "soak: FAIL RSS grew by $((rss1 - rss0)) KiB"; exit 1; }
echo "soak: OK"

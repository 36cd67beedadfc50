#!/usr/bin/env bash
# Benchmark: `mesh stat deploy -A` against 100 running proxies found in the local registry (each
# with some traffic in its counters): wall time and peak memory, beside a baseline measured in the
# same run — `curl` fetching the same 100 `/stats` answers one after the other. Goal: under 0.3 s.
#
# Needs: curl (Debian package). Usage: bench/stat.sh   (PROXIES=100 to change the count)
set -euo pipefail
cd "$(dirname "$0")/.."
PROXIES=${PROXIES:-100}

cargo build --release -q
bin=$PWD/target/release/mesh
. bench/lib.sh

"$bin" test-server --http 127.0.0.1:0 >"$work/app.out" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/app.out" 2>/dev/null && break; sleep 0.1; done
app=$(awk 'NR==1 {print $3}' "$work/app.out")

# PROXIES proxies: 10 namespaces × 10 deployments, each serving one service in front of the app.
for i in $(seq 0 $((PROXIES - 1))); do
  ns="bench-$((i % 10))"
  "$bin" proxy --workload "deploy/svc-$i" -n "$ns" --service "svc-$i:8080" --app "$app" \
    --inbound 127.0.0.1:0 --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
    --registry "$work/registry" --log-level error >"$work/p$i.out" 2>/dev/null &
  pids+=($!)
done
for i in $(seq 0 $((PROXIES - 1))); do
  for _ in $(seq 100); do grep -q listening "$work/p$i.out" 2>/dev/null && break; sleep 0.05; done
done
# A little traffic through each proxy, so every report has series in it.
for i in $(seq 0 $((PROXIES - 1))); do
  inbound=$(grep -o 'inbound=[^ ]*' "$work/p$i.out" | cut -d= -f2)
  for _ in 1 2 3; do curl -s -o /dev/null -H "Host: svc-$i:8080" "http://$inbound/api/list"; done
done
admins=$(grep -ho 'admin=[^ ]*' "$work"/p*.out | cut -d= -f2)

measure() { # measure NAME CMD...: best of 5 wall times (ms) and peak RSS (KiB) of the last run
  local best=999999 t rss
  for _ in 1 2 3 4 5; do
    local start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$@" >"$work/measured.out" 2>/dev/null
    t=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$t" -lt "$best" ] && best=$t
  done
  rss=$(cat "$work/rss")
  echo "$best $rss"
}
read -r mesh_ms mesh_rss < <(measure "$bin" stat deploy -A --registry "$work/registry")
rows=$("$bin" stat deploy -A --registry "$work/registry" | tail -n +2 | wc -l)
fetch_all() { for a in $admins; do curl -s "http://$a/stats?window=1m" >/dev/null; done; }
export -f fetch_all; export admins
read -r curl_ms _ < <(measure bash -c fetch_all)

echo "proxies: $PROXIES registered; mesh stat deploy -A printed $rows rows"
echo "mesh stat deploy -A: ${mesh_ms} ms (best of 5), peak RSS $((mesh_rss / 1024)) MiB"
echo "baseline, curl of the same $PROXIES /stats one after another: ${curl_ms} ms"
python3 -c "print(f'ratio mesh/baseline: {$mesh_ms / max($curl_ms, 1):.2f}x; goal under 300 ms: ' + ('met' if $mesh_ms < 300 else 'NOT met'))"

#!/usr/bin/env bash
# Soak: the demo under a steady few hundred requests per second for a set time (default 10
# minutes), sampling every few seconds each proxy process's RSS and open file descriptors and each
# proxy's open connections; fails if any of them grows steadily (bench/soak-judge.py decides, after
# a warm-up; its header explains the rule and the limits).
#
# What runs, all on 127.0.0.1 with a private registry:
#   - `mesh demo --vote-interval 5ms`: the vote bot sends ~200 req/s to web, and each becomes one or
#     two gRPC calls to emoji and voting. The demo's four proxies (web-0, emoji-0, voting-0,
#     vote-bot-0) are tasks of the one demo process: they share its RSS and fd table, sampled as
#     `demo-process`, and each reports its own open connections.
#   - two `mesh proxy` processes of their own, as real sidecars are, so each has its own figures:
#     web-1, a second replica of deploy/web (an inbound proxy in front of the demo's web app), and
#     loadgen-0, the outbound proxy `hey` sends LOAD_RPS req/s through to web-svc. web-svc then has
#     two endpoints, web-0 and web-1, and the bot's and hey's requests are balanced over them.
# Prints the traffic each proxy saw (request_total and response_total at start and end), then per
# series first/median/max/last, the growth between the first and last quarter as a ratio, and a
# verdict. Keeps samples.csv, the metrics, logs and summary.txt in the output directory it prints.
#
# Needs: hey, curl (Debian packages: apt-get install -y hey curl).
# Usage: bench/soak.sh [DURATION]      DURATION like 90s, 10m or 1h (default 10m)
#        bench/soak.sh --check CSV     judge a samples.csv of an earlier run (exit 1 on growth)
#        bench/soak.sh --self-test     the judge on synthetic leaks (must fail) and noise (must pass)
# Environment: SAMPLE_EVERY=5 (seconds), VOTE_INTERVAL=5ms (the bot), LOAD_RPS=100 and LOAD_CONNS=4
# (hey), WARMUP (seconds discarded, default 20% of the run), OUT (default a new /tmp/mesh-soak.*).
set -euo pipefail
cd "$(dirname "$0")/.."
judge=bench/soak-judge.py
case "${1:-}" in
  --check)
    [ $# -eq 2 ] || { echo "usage: bench/soak.sh --check SAMPLES.csv" >&2; exit 2; }
    exec python3 "$judge" "$2" ${WARMUP:+--warmup "$WARMUP"} ;;
  --self-test) exec python3 "$judge" --self-test ;;
esac
DURATION=${1:-10m}
SAMPLE_EVERY=${SAMPLE_EVERY:-5}
VOTE_INTERVAL=${VOTE_INTERVAL:-5ms}
LOAD_RPS=${LOAD_RPS:-100}
LOAD_CONNS=${LOAD_CONNS:-4}

if ! [[ $SAMPLE_EVERY =~ ^[1-9][0-9]*$ && $DURATION =~ ^([0-9]+)([hms]?)$ ]]; then
  echo "soak: DURATION must be like 90s, 10m or 1h (not $DURATION), SAMPLE_EVERY whole seconds" >&2
  exit 2
fi
case ${BASH_REMATCH[2]} in
  h) secs=$((10#${BASH_REMATCH[1]} * 3600)) ;;
  m) secs=$((10#${BASH_REMATCH[1]} * 60)) ;;
  *) secs=$((10#${BASH_REMATCH[1]})) ;;
esac
if [ "$secs" -lt $((4 * SAMPLE_EVERY)) ]; then
  echo "soak: $DURATION is too short for 4 samples $SAMPLE_EVERY s apart" >&2
  exit 2
fi
for tool in hey curl; do
  command -v "$tool" >/dev/null || { echo "soak: needs $tool: apt-get install -y $tool" >&2; exit 2; }
done

cargo build --release -q
bin=$PWD/target/release/mesh
out=${OUT:-$(mktemp -d /tmp/mesh-soak.XXXXXX)}
mkdir -p "$out"
. bench/lib.sh
registry=$work/registry

# wait_for TEXT FILE NAME: until FILE holds TEXT (a process's "ready" line), or give up.
wait_for() {
  for _ in $(seq 200); do
    grep -q "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "soak: $3 did not start:" >&2; cat "${2%.out}.err" >&2; exit 1
}

"$bin" demo --registry "$registry" --vote-interval "$VOTE_INTERVAL" >"$out/demo.out" 2>"$out/demo.err" &
pids+=($!); demo_pid=$!
wait_for "demo ready" "$out/demo.out" demo
web_app=$(awk '$1 == "deploy/web" {print $3}' "$out/demo.out")
# The profiles the demo generated, so the extra proxies match the same routes.
profiles=${TMPDIR:-/tmp}/mesh-demo-$demo_pid/profiles
[ -d "$profiles" ] || profiles=

# start_proxy NAME ARGS...: a `mesh proxy` process of its own in the demo's namespace and registry.
start_proxy() {
  local name=$1; shift
  "$bin" proxy -n emojivoto --pod "$name" --registry "$registry" --outbound 127.0.0.1:0 \
    --admin 127.0.0.1:0 --log-level warn ${profiles:+--profiles "$profiles"} "$@" \
    >"$out/$name.out" 2>"$out/$name.err" &
  pids+=($!)
  wait_for listening "$out/$name.out" "$name"
}
start_proxy web-1 --workload deploy/web --service web-svc:8080 --app "$web_app" --inbound 127.0.0.1:0
start_proxy loadgen-0 --workload deploy/loadgen
loadgen=$(grep -o 'outbound=[^ ]*' "$out/loadgen-0.out" | cut -d= -f2)

# Every proxy from the registry: "pod pid admin", and whether its process is its own.
mapfile -t proxies < <(python3 - "$registry" <<'PY'
import glob, json, sys
records = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/*.json"))]
for r in records:
    shared = sum(o["pid"] == r["pid"] for o in records) > 1
    print(r["pod"], r["pid"], r["admin"], "shared" if shared else "own")
PY
)
if [ ${#proxies[@]} -ne 6 ]; then
  echo "soak: expected 6 proxies in the registry, found ${#proxies[@]}:" >&2
  printf '  %s\n' "${proxies[@]}" >&2
  grep -h "could not register" "$out"/*.err >&2 || true
  exit 1
fi

# counters NAME ADMIN: a proxy's open connections and requests so far (all directions); nothing
# if its admin port does not answer.
counters() {
  local metrics
  metrics=$(curl -sf -m 2 "http://$2/metrics") || { echo "soak: $1's admin port did not answer" >&2; echo; return; }
  awk '/^tcp_open_connections[{ ]/ {c += $NF} /^request_total[{ ]/ {r += $NF} END {print c + 0, r + 0}' <<<"$metrics"
}
# proc_figures PID: VmRSS in KiB and the number of open fds; fails if the process is gone.
proc_figures() {
  local rss
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  echo "$rss $(ls "/proc/$1/fd" | wc -l)"
}
sample() { # sample T: one CSV row per proxy, and one for the demo process
  local t=$1 pod pid admin kind conns reqs rss fds
  for line in "${proxies[@]}"; do
    read -r pod pid admin kind <<<"$line"
    read -r conns reqs < <(counters "$pod" "$admin")
    rss= fds=
    if [ "$kind" = own ]; then
      read -r rss fds < <(proc_figures "$pid") || { echo "soak: $pod (pid $pid) is gone at ${t}s" >&2; exit 1; }
    fi
    echo "$t,$pod,$pid,$rss,$fds,$conns,$reqs"
  done
  read -r rss fds < <(proc_figures "$demo_pid") || { echo "soak: the demo (pid $demo_pid) is gone at ${t}s" >&2; exit 1; }
  echo "$t,demo-process,$demo_pid,$rss,$fds,,"
}
snapshot() { # snapshot DIR: every proxy's /metrics now
  mkdir -p "$1"
  for line in "${proxies[@]}"; do
    read -r pod _ admin _ <<<"$line"
    curl -s -m 2 "http://$admin/metrics" >"$1/$pod.txt"
  done
}

hey -z "$((secs + 5))s" -c "$LOAD_CONNS" -q "$((LOAD_RPS / LOAD_CONNS))" -host web-svc:8080 \
  "http://$loadgen/api/vote?choice=:joy:" >"$out/hey.out" 2>&1 &
pids+=($!); hey_pid=$!
echo "soak: $DURATION ($secs s), sampling every ${SAMPLE_EVERY}s into $out/samples.csv"
echo "soak: load: vote bot every $VOTE_INTERVAL, hey $LOAD_RPS req/s on $LOAD_CONNS connections via loadgen-0"
t0=$(date +%s.%N)
snapshot "$out/metrics-start"
echo "t_s,name,pid,rss_kib,fds,tcp_conns,requests" >"$out/samples.csv"
while :; do
  t=$(awk -v now="$(date +%s.%N)" -v t0="$t0" 'BEGIN {printf "%.1f", now - t0}')
  sample "$t" >>"$out/samples.csv"
  awk -v t="$t" -v every="$SAMPLE_EVERY" -v secs="$secs" 'BEGIN {exit !(t + every <= secs)}' || break
  sleep "$SAMPLE_EVERY"
done
t1=$(date +%s.%N)
snapshot "$out/metrics-end"
wait "$hey_pid" || true

{
  echo "soak: $DURATION; samples, metrics and logs in $out"
  python3 - "$out" "$(awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}')" "$VOTE_INTERVAL" "$LOAD_RPS" <<'PY'
import collections, csv, re, statistics, sys
out, elapsed, vote_interval, load_rps = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
line = re.compile(r'^(request_total|response_total)\{(.*)\} (\S+)$')

def read(path):
    """(direction, metric, classification, status) -> sum, from one /metrics text."""
    sums = collections.Counter()
    for l in open(path):
        m = line.match(l.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        status = labels.get("status_code", "")
        if labels.get("grpc_status"):
            status += "/grpc " + labels["grpc_status"]
        key = (labels.get("direction"), m.group(1), labels.get("classification", ""), status)
        sums[key] += float(m.group(3))
    return sums

pods = [r.strip() for r in open(f"{out}/samples.csv")][1:]
pods = list(dict.fromkeys(r.split(",")[1] for r in pods if "demo-process" not in r))
print(f"traffic over {elapsed:.0f} s, from each proxy's request_total and response_total:")
print(f"{'proxy':<12}{'direction':<11}{'requests':>10}{'req/s':>8}{'success':>9}  failures by status")
entry = collections.Counter()
hops = 0
for pod in pods:
    start, end = read(f"{out}/metrics-start/{pod}.txt"), read(f"{out}/metrics-end/{pod}.txt")
    delta = {k: end[k] - start.get(k, 0) for k in end}
    for d in ["inbound", "outbound"]:
        reqs = sum(v for k, v in delta.items() if k[0] == d and k[1] == "request_total")
        if not reqs:
            continue
        ok = sum(v for k, v in delta.items() if k[0] == d and k[1] == "response_total" and k[2] == "success")
        bad = {k[3]: v for k, v in delta.items() if k[0] == d and k[1] == "response_total" and k[2] == "failure" and v}
        done = ok + sum(bad.values())
        fails = ", ".join(f"{s}: {v:.0f}" for s, v in sorted(bad.items(), key=lambda x: -x[1])) or "-"
        print(f"{pod:<12}{d:<11}{reqs:>10.0f}{reqs / elapsed:>8.1f}{100 * ok / max(done, 1):>8.2f}%  {fails}")
        if d == "inbound":
            hops += reqs
        if d == "outbound" and pod in ("vote-bot-0", "loadgen-0"):
            entry["requests"] += reqs
            entry["ok"] += ok
            entry["done"] += done
ms = float(re.match(r"([\d.]+)", vote_interval).group(1)) * (1 if vote_interval.endswith("ms") else 1000)
target = 1000 / ms + load_rps
rate = entry["requests"] / elapsed
print(f"sent to web (vote-bot-0 and loadgen-0 outbound, as the callers saw them): {entry['requests']:.0f} requests, "
      f"{rate:.1f} req/s ({rate / target:.2f}x the {target:.0f} req/s asked for), "
      f"success {100 * entry['ok'] / max(entry['done'], 1):.2f}% (voting's VoteDoughnut fails by design)")
print(f"served, all inbound hops (web, emoji, voting; retries are counted once per try): {hops:.0f} requests, "
      f"{hops / elapsed:.1f} req/s")
# Steadiness: the rate over all proxies between samples.
by_t = collections.defaultdict(float)
for r in csv.DictReader(open(f"{out}/samples.csv")):
    if r["requests"]:
        by_t[float(r["t_s"])] += float(r["requests"])
ts = sorted(by_t)
rates = [(by_t[b] - by_t[a]) / (b - a) for a, b in zip(ts, ts[1:])]
if rates:
    print(f"request_total/s summed over all proxies and directions, between samples: min {min(rates):.0f}, "
          f"median {statistics.median(rates):.0f}, max {max(rates):.0f}")
PY
  echo
  python3 "$judge" "$out/samples.csv" ${WARMUP:+--warmup "$WARMUP"}
} | tee "$out/summary.txt"  # with pipefail, the judge's exit status is the script's

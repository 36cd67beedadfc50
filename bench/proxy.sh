#!/usr/bin/env bash
# Benchmark: the same upstream reached, in one run on this machine,
#   direct        the app itself,
#   mesh_1hop     through one mesh hop (an inbound proxy),
#   mesh_2hops    through two (outbound proxy + inbound proxy, as between two meshed pods),
#   mesh_2hops_tls  the same two hops with identities (`mesh identity`): mutual TLS between them,
#   nginx_1w      through nginx with one worker and an upstream keepalive pool (the strongest nginx
#                 on 2 cores: with a worker per core nginx fights the load generator for the cores),
#   nginx_auto    through nginx with `worker_processes auto`, and
#   nginx_2hops   through two chained nginx, one worker each (the baseline for two mesh hops),
# measuring
#   - HTTP/1.1 throughput and p99 at saturation with `wrk -t1 -c$WRK_CONNS`,
#   - HTTP/2 (prior knowledge, as gRPC) throughput with h2load,
#   - p50 and p99 at a fixed request rate with hey,
#   - each proxy's RSS idle (after a warm-up, before any load) and at its peak (VmHWM),
# and two replicas of a service, one slowed to 50 ms, behind a mesh outbound proxy (balancing by
# latency) and behind nginx (round robin): p99 at a fixed rate; and what a new mutual TLS
# connection costs (bench/tls-handshake.py: fresh connections to the mTLS inbound, each with one
# request, against fresh plaintext ones: wall time per connection, and the server proxy's CPU).
#
# With --runs N every measurement is repeated N times, interleaved (run 1 of every row, then run
# 2, ..., each run starting one row later, so no row always goes first), and the table shows
# medians; each ratio is the median of the per-run ratios (each from two measurements taken close
# together), with its range across runs.
# Goals (issue 13): one mesh hop >= 1.0x nginx (one worker) throughput and <= 1.0x its p99 at the
# fixed rate; two mesh hops >= 1.0x two nginx hops; proxy RSS <= 20 MiB under load and <= 8 MiB
# idle; with a slow replica, mesh p99 <= a third of nginx round robin's.
#
# Needs: wrk, nghttp2-client (h2load), hey, nginx-light, curl, python3 (Debian packages; the first
# four are installed if missing).
# Usage: bench/proxy.sh [--runs N]        (default 1; about 3.5 min per run with DURATION=10s)
#   DURATION=10s   length of each measurement
#   WRK_CONNS=32   wrk's connections (the HTTP/1.1 throughput rows)
#   CONNS=50       h2load's connections (10 streams each)
#   RATE=2000      hey's fixed rate in req/s (10 callers)
#   MESH_BIN=PATH  a mesh binary to measure instead of building target/release/mesh
#   KEEP_RESULTS=FILE  where to keep the raw measurements (one line per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=1
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) RUNS=${1#--runs=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/proxy.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case $RUNS in ''|*[!0-9]*|0) echo "bench/proxy.sh: --runs takes a positive number, not '$RUNS'" >&2; exit 2 ;; esac
DURATION=${DURATION:-10s}
WRK_CONNS=${WRK_CONNS:-32}
CONNS=${CONNS:-50}
RATE=${RATE:-2000}

need=()
for tool in wrk h2load hey nginx; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq wrk nghttp2-client hey nginx-light >/dev/null
fi

if [ -n "${MESH_BIN:-}" ]; then
  bin=$(realpath "$MESH_BIN")
else
  cargo build --release -q
  bin=$PWD/target/release/mesh
fi
. bench/lib.sh

# start NAME CMD...: runs CMD in the background and waits for its "listening" line on stdout.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 100); do
    grep -q listening "$work/$name.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$name did not start:"; cat "$work/$name.err"; exit 1
}
field() { grep -o "$2=[^ ]*" "$work/$1.out" | head -1 | cut -d= -f2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# mem FIELD PID: FIELD (VmRSS, VmHWM) of PID and its children (nginx's workers) in KiB.
mem() {
  local field=$1 pid=$2
  # shellcheck disable=SC2046
  awk -v f="$field:" '$1 == f {s += $2} END {print s}' \
    "/proc/$pid/status" $(pgrep -P "$pid" | sed 's|.*|/proc/&/status|') 2>/dev/null
}

start app "$bin" test-server --http 127.0.0.1:0
app=$(grep -o 'http 127.0.0.1:[0-9]*' "$work/app.out" | awk '{print $2}')

start server "$bin" proxy --workload deploy/bench-server -n bench --service bench-svc:8080 \
  --app "$app" --inbound 127.0.0.1:0 --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
  --registry "$work/registry" --log-level error
inbound=$(field server inbound)
start client "$bin" proxy --workload deploy/bench-client -n bench \
  --outbound 127.0.0.1:0 --admin 127.0.0.1:0 --registry "$work/registry" --log-level error
outbound=$(field client outbound)

# The same two hops with identities from mesh's own CA, in a registry of their own (where the
# client learns the server's identity).
"$bin" identity init --dir "$work/ca" >/dev/null
for sa in bench-server bench-client; do
  "$bin" identity issue --authority "$work/ca" --namespace bench --service-account "$sa" \
    --out "$work/id-$sa" >/dev/null
done
start server_tls "$bin" proxy --workload deploy/bench-server -n bench --service bench-svc:8080 \
  --app "$app" --inbound 127.0.0.1:0 --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
  --registry "$work/registry-tls" --log-level error \
  --identity-dir "$work/id-bench-server" --service-account bench-server
inbound_tls=$(field server_tls inbound)
start client_tls "$bin" proxy --workload deploy/bench-client -n bench \
  --outbound 127.0.0.1:0 --admin 127.0.0.1:0 --registry "$work/registry-tls" --log-level error \
  --identity-dir "$work/id-bench-client" --service-account bench-client
outbound_tls=$(field client_tls outbound)

# Balancing: two replicas of one service, one slowed to 50 ms, behind a mesh outbound proxy (the
# replicas as its endpoints) and behind nginx (round robin).
start fast "$bin" test-server --http 127.0.0.1:0
start slow "$bin" test-server --http 127.0.0.1:0 --delay 50ms
fast=$(grep -o 'http 127.0.0.1:[0-9]*' "$work/fast.out" | awk '{print $2}')
slow=$(grep -o 'http 127.0.0.1:[0-9]*' "$work/slow.out" | awk '{print $2}')
printf 'pair-svc.bench:8080:\n  - address: %s\n  - address: %s\n' "$fast" "$slow" >"$work/pair.yaml"
start balancer "$bin" proxy --workload deploy/bench-balancer -n bench --outbound 127.0.0.1:0 \
  --admin 127.0.0.1:0 --no-registry --endpoints "$work/pair.yaml" --log-level error
balancer=$(field balancer outbound)

# nginx NAME WORKERS UPSTREAM EXTRA_SERVERS: an nginx instance named NAME, proxying an HTTP/1.1
# port ${NAME}_port and an HTTP/2 (prior knowledge) port ${NAME}_h2_port to UPSTREAM over a
# keepalive pool; its master's pid in ${NAME}_pid.
nginx_instance() {
  local name=$1 workers=$2 upstream=$3 extra=${4:-} port h2_port dir=$work/$1
  port=$(free_port); h2_port=$(free_port)
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
error_log $dir/logs/error.log error;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  # nginx closes a connection after 1000 requests by default; mesh does not, so neither does nginx
  # here (h2load would otherwise stop at 1000 requests per connection).
  keepalive_requests 1000000;
  upstream app { server $upstream; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$port;
    listen 127.0.0.1:$h2_port http2;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
  $extra
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$work/$name.err" &
  pids+=($!)
  eval "${name}_pid=$! ${name}_port=$port ${name}_h2_port=$h2_port"
}
nginx_pair_port=$(free_port)
nginx_instance nginx_auto auto "$app" "
  upstream pair { server $fast; server $slow; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$nginx_pair_port;
    location / {
      proxy_pass http://pair;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
    }
  }"
nginx_instance nginx_1w 1 "$app"
# The second nginx hop is nginx_1w, as the second mesh hop is the one-hop proxy.
nginx_instance nginx_front 1 "127.0.0.1:$nginx_1w_port"
for name in nginx_auto nginx_1w nginx_front; do
  port_var=${name}_port
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:${!port_var}/" && break; sleep 0.1; done
done

# The same request everywhere: GET / on the app, which answers with a small JSON echo.
rows=(direct mesh_1hop mesh_2hops mesh_2hops_tls nginx_1w nginx_auto nginx_2hops)
declare -A url h2url host
url[direct]="http://$app/";                        host[direct]="bench-svc:8080"
url[mesh_1hop]="http://$inbound/";                 host[mesh_1hop]="bench-svc:8080"
url[mesh_2hops]="http://$outbound/";               host[mesh_2hops]="bench-svc.bench:8080"
url[mesh_2hops_tls]="http://$outbound_tls/";       host[mesh_2hops_tls]="bench-svc.bench:8080"
url[nginx_1w]="http://127.0.0.1:$nginx_1w_port/";  host[nginx_1w]="bench-svc:8080"
url[nginx_auto]="http://127.0.0.1:$nginx_auto_port/"; host[nginx_auto]="bench-svc:8080"
url[nginx_2hops]="http://127.0.0.1:$nginx_front_port/"; host[nginx_2hops]="bench-svc:8080"
for k in "${rows[@]}"; do h2url[$k]=${url[$k]}; done
h2url[nginx_1w]="http://127.0.0.1:$nginx_1w_h2_port/"
h2url[nginx_auto]="http://127.0.0.1:$nginx_auto_h2_port/"
h2url[nginx_2hops]="http://127.0.0.1:$nginx_front_h2_port/"

# Warm up pools and discovery, then take the idle RSS.
for k in "${rows[@]}"; do
  curl -s -o /dev/null -H "Host: ${host[$k]}" "${url[$k]}" || true
done
curl -s -o /dev/null -H "Host: pair-svc.bench:8080" "http://$balancer/" || true
# The mTLS row must be mutual TLS, or it measures nothing new.
if ! curl -s "http://$(field server_tls admin)/metrics" | grep -q 'tls="true"'; then
  echo "bench/proxy.sh: the request through mesh_2hops_tls was not mutual TLS; the server's log:" >&2
  cat "$work/server_tls.err" >&2; exit 1
fi
curl -s -o /dev/null -H "Host: pair-svc.bench:8080" "http://127.0.0.1:$nginx_pair_port/" || true
sleep 1
results=$work/results.txt
: >"$results"
procs=(server client server_tls client_tls nginx_1w nginx_auto)
for name in "${procs[@]}"; do
  pid_var="${name}_pid"
  echo "rss_idle 0 $name $(mem VmRSS "${!pid_var}")" >>"$results"
  # The anonymous part (heap, stacks): the rest is file pages of the executable and libraries.
  echo "rss_anon 0 $name $(mem RssAnon "${!pid_var}")" >>"$results"
done

# measure KIND RUN ROW: one measurement, appended to $results.
measure() {
  local kind=$1 run=$2 k=$3 out
  case $kind in
    h1)
      out=$(wrk -t1 -c"$WRK_CONNS" -d"$DURATION" --latency -H "Host: ${host[$k]}" "${url[$k]}" || true)
      echo "h1 $run $k rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}') p99=$(echo "$out" | awk '$1=="99%" {print $2}')" ;;
    h2)
      out=$(h2load -D "${DURATION%s}" -c "$CONNS" -m 10 -H ":authority: ${host[$k]}" "${h2url[$k]}" 2>&1 || true)
      echo "h2 $run $k rps=$(echo "$out" | awk '/^finished in/ {print $4}')" ;;
    rate)
      out=$(hey -z "$DURATION" -c 10 -q $((RATE / 10)) -host "${host[$k]}" "${url[$k]}" || true)
      echo "rate $run $k p50=$(echo "$out" | awk '/50% in/ {print $3}') p99=$(echo "$out" | awk '/99% in/ {print $3}')" ;;
  esac >>"$results"
}

for run in $(seq "$RUNS"); do
  if [ "$RUNS" -gt 1 ]; then echo "run $run of $RUNS" >&2; fi
  # Each run starts one row later than the one before.
  order=("${rows[@]:$(((run - 1) % ${#rows[@]}))}" "${rows[@]:0:$(((run - 1) % ${#rows[@]}))}")
  for kind in h1 h2 rate; do
    for k in "${order[@]}"; do measure "$kind" "$run" "$k"; done
  done
  # p99 at a fixed rate over the pair: 10 callers at 50 req/s each. (hey starts its callers on one
  # tick, so with many callers requests arrive in bursts; a burst of 20 momentarily queues enough
  # on the fast replica that its peak-EWMA cost exceeds the slow one's, and about 2% go there.)
  for k in mesh nginx; do
    target="http://$balancer/"; [ "$k" = nginx ] && target="http://127.0.0.1:$nginx_pair_port/"
    out=$(hey -z "$DURATION" -c 10 -q 50 -host "pair-svc.bench:8080" "$target" || true)
    echo "pair $run $k p50=$(echo "$out" | awk '/50% in/ {print $3}') p99=$(echo "$out" | awk '/99% in/ {print $3}')" >>"$results"
  done
  python3 bench/tls-handshake.py --run "$run" --inbound "$inbound_tls" --pid "$server_tls_pid" \
    --identity "$work/id-bench-client" --server-id bench-server.bench.serviceaccount.identity.mesh.cluster.local \
    --host bench-svc:8080 >>"$results"
done
for name in "${procs[@]}"; do
  pid_var="${name}_pid"
  echo "rss_peak 0 $name $(mem VmHWM "${!pid_var}")" >>"$results"
done
if [ -n "${KEEP_RESULTS:-}" ]; then cp "$results" "$KEEP_RESULTS"; fi

python3 - "$results" "$DURATION" "$WRK_CONNS" "$CONNS" "$RATE" "$RUNS" <<'PY'
import math, re, statistics, sys
from collections import defaultdict

results, duration, wrk_conns, conns, rate, runs = sys.argv[1:]
runs = int(runs)
nan = float("nan")

def ms(s):
    """wrk's `1.23ms` / `456.00us` / `1.02s` in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s)?", s or "")
    if not m: return nan
    v, unit = float(m.group(1)), m.group(2) or ""
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

def num(s, scale=1.0):
    try: return float(s) * scale
    except (TypeError, ValueError): return nan

# data[(kind, row, metric)][run] = value
data = defaultdict(dict)
for line in open(results):
    p = line.split()
    if len(p) < 3: continue
    kind, run, row = p[0], int(p[1]), p[2]
    if kind.startswith("rss"):
        data[(kind, row, "mib")][run] = num(p[3] if len(p) > 3 else None, 1 / 1024)
        continue
    kv = dict(x.split("=", 1) for x in p[3:] if "=" in x)
    if kind == "h1":
        data[(kind, row, "rps")][run] = num(kv.get("rps"))
        data[(kind, row, "p99")][run] = ms(kv.get("p99"))
    elif kind == "h2":
        data[(kind, row, "rps")][run] = num(kv.get("rps"))
    elif kind == "handshake":  # bench/tls-handshake.py: milliseconds
        for metric, value in kv.items():
            data[(kind, row, metric)][run] = num(value)
    else:  # hey: seconds
        data[(kind, row, "p50")][run] = num(kv.get("p50"), 1000)
        data[(kind, row, "p99")][run] = num(kv.get("p99"), 1000)

def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else nan

def med(kind, row, metric):
    return median(data[(kind, row, metric)].values())

def ratio(a, b):
    """The median over runs of a/b, and its range: `(median, lo, hi)`."""
    per_run = [a[r] / b[r] for r in a if r in b and b[r] and not math.isnan(a[r] / b[r])]
    if not per_run: return nan, nan, nan
    return statistics.median(per_run), min(per_run), max(per_run)

def fmt(r):
    m, lo, hi = r
    if math.isnan(m): return "  n/a"
    return f"{m:.2f}x" + (f" [{lo:.2f}-{hi:.2f}]" if runs > 1 else "")

what = "medians of %d interleaved runs" % runs if runs > 1 else "one run"
print(f"load: {duration} per measurement ({what}); wrk -t1 -c{wrk_conns} (h1), "
      f"h2load -c{conns} -m10 (h2), hey 10 callers at {rate} req/s (@rate)")
print(f"{'path':<15}{'h1 req/s':>10}{'h1 p99 ms':>11}{'h2 req/s':>10}{'p50@rate':>10}{'p99@rate':>10}")
rows = ["direct", "mesh_1hop", "mesh_2hops", "mesh_2hops_tls", "nginx_1w", "nginx_auto", "nginx_2hops"]
for k in rows:
    print(f"{k:<15}{med('h1', k, 'rps'):>10.0f}{med('h1', k, 'p99'):>11.2f}{med('h2', k, 'rps'):>10.0f}"
          f"{med('rate', k, 'p50'):>10.2f}{med('rate', k, 'p99'):>10.2f}")
print()
print("ratios" + (" (median of the per-run ratios [range])" if runs > 1 else "") + ":")
d = lambda kind, row, metric: data[(kind, row, metric)]
pairs = [
    ("1 mesh hop / nginx 1 worker", "mesh_1hop", "nginx_1w"),
    ("1 mesh hop / nginx auto", "mesh_1hop", "nginx_auto"),
    ("2 mesh hops / 2 nginx hops", "mesh_2hops", "nginx_2hops"),
    ("1 mesh hop / direct", "mesh_1hop", "direct"),
    ("2 mesh hops / direct", "mesh_2hops", "direct"),
    ("2 mTLS hops / 2 plain hops", "mesh_2hops_tls", "mesh_2hops"),
    ("2 mTLS hops / 2 nginx hops", "mesh_2hops_tls", "nginx_2hops"),
]
for label, a, b in pairs:
    print(f"  {label:<28} h1 {fmt(ratio(d('h1', a, 'rps'), d('h1', b, 'rps')))}  "
          f"h2 {fmt(ratio(d('h2', a, 'rps'), d('h2', b, 'rps')))}  "
          f"h1 p99 {fmt(ratio(d('h1', a, 'p99'), d('h1', b, 'p99')))}  "
          f"p99@rate {fmt(ratio(d('rate', a, 'p99'), d('rate', b, 'p99')))}")
rss = lambda kind, name: med(kind, name, "mib")
print(f"RSS MiB idle / peak: server proxy {rss('rss_idle', 'server'):.1f} / {rss('rss_peak', 'server'):.1f}, "
      f"client proxy {rss('rss_idle', 'client'):.1f} / {rss('rss_peak', 'client'):.1f}, "
      f"nginx 1 worker {rss('rss_idle', 'nginx_1w'):.1f} / {rss('rss_peak', 'nginx_1w'):.1f}, "
      f"nginx auto {rss('rss_idle', 'nginx_auto'):.1f} / {rss('rss_peak', 'nginx_auto'):.1f} (master and workers)")
print(f"  of the idle RSS, anonymous (heap, stacks; the rest is file pages of binaries): server proxy "
      f"{rss('rss_anon', 'server'):.1f}, client proxy {rss('rss_anon', 'client'):.1f}, "
      f"nginx 1 worker {rss('rss_anon', 'nginx_1w'):.1f}, nginx auto {rss('rss_anon', 'nginx_auto'):.1f}")
print(f"RSS MiB idle / peak with mTLS: server proxy {rss('rss_idle', 'server_tls'):.1f} / "
      f"{rss('rss_peak', 'server_tls'):.1f}, client proxy {rss('rss_idle', 'client_tls'):.1f} / "
      f"{rss('rss_peak', 'client_tls'):.1f}")
hs = {m: med("handshake", "inbound", m) for m in ["tls_ms", "plain_ms", "tls_cpu_ms", "plain_cpu_ms"]}
print(f"a new connection to the inbound, with one request: mutual TLS {hs['tls_ms']:.2f} ms, plaintext "
      f"{hs['plain_ms']:.2f} ms (caller's wall time); the server proxy's CPU {hs['tls_cpu_ms']:.2f} / "
      f"{hs['plain_cpu_ms']:.2f} ms: the handshake costs {hs['tls_ms'] - hs['plain_ms']:.2f} ms and "
      f"{hs['tls_cpu_ms'] - hs['plain_cpu_ms']:.2f} ms of the proxy's CPU per new connection")
pair = {k: (med("pair", k, "p50"), med("pair", k, "p99")) for k in ["mesh", "nginx"]}
pair_ratio = ratio(d("pair", "mesh", "p99"), d("pair", "nginx", "p99"))
print(f"two replicas, one slowed to 50 ms, 500 req/s: p50/p99 ms mesh {pair['mesh'][0]:.2f}/{pair['mesh'][1]:.2f}, "
      f"nginx round robin {pair['nginx'][0]:.2f}/{pair['nginx'][1]:.2f}; mesh/nginx p99 {fmt(pair_ratio)}")

def goal(ok): return "met" if ok else "NOT met"
tp = ratio(d("h1", "mesh_1hop", "rps"), d("h1", "nginx_1w", "rps"))[0]
p99 = ratio(d("rate", "mesh_1hop", "p99"), d("rate", "nginx_1w", "p99"))[0]
tp2 = ratio(d("h1", "mesh_2hops", "rps"), d("h1", "nginx_2hops", "rps"))[0]
peak = max(rss("rss_peak", "server"), rss("rss_peak", "client"))
idle = max(rss("rss_idle", "server"), rss("rss_idle", "client"))
print(f"goals: 1 hop throughput >= nginx 1 worker: {goal(tp >= 1)}; 1 hop p99@rate <= nginx 1 worker: "
      f"{goal(p99 <= 1)}; 2 hops >= 2 nginx hops: {goal(tp2 >= 1)}; RSS <= 20 MiB under load: "
      f"{goal(peak <= 20)}, <= 8 MiB idle: {goal(idle <= 8)}; slow replica p99 <= 0.33x nginx: "
      f"{goal(pair_ratio[0] <= 1 / 3)}")
PY

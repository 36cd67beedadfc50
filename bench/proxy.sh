#!/usr/bin/env bash
# Benchmark: the same upstream reached (a) directly, (b) through two mesh hops (outbound proxy +
# inbound proxy, as between two meshed pods), (c) through one mesh hop (inbound proxy), and (d)
# through nginx as a reverse proxy, measured in one run on this machine:
#   - HTTP/1.1 throughput and latency with wrk,
#   - HTTP/2 (prior knowledge, as gRPC) throughput with h2load,
#   - latency percentiles at a fixed request rate with hey,
#   - each proxy's peak RSS,
# and (e) two replicas of a service, one slowed to 50 ms, behind a mesh outbound proxy (balancing by
# latency) and behind nginx (round robin): p99 at a fixed rate.
# Prints ratios mesh/direct and mesh/nginx. Goals: one mesh hop >= nginx throughput and <= nginx p99;
# proxy RSS <= 20 MiB under load; with a slow replica, mesh p99 <= a third of nginx's.
#
# Needs: wrk, nghttp2-client (h2load), hey, nginx-light (Debian packages; installed if missing).
# Usage: bench/proxy.sh   (DURATION=10s CONNS=50 RATE=2000 to change the load)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
RATE=${RATE:-2000}

need=()
for tool in wrk h2load hey nginx; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq wrk nghttp2-client hey nginx-light >/dev/null
fi

cargo build --release -q
bin=$PWD/target/release/mesh
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

start app "$bin" test-server --http 127.0.0.1:0
app=$(grep -o 'http 127.0.0.1:[0-9]*' "$work/app.out" | awk '{print $2}')

start server "$bin" proxy --workload deploy/bench-server -n bench --service bench-svc:8080 \
  --app "$app" --inbound 127.0.0.1:0 --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
  --registry "$work/registry" --log-level error
inbound=$(field server inbound)
start client "$bin" proxy --workload deploy/bench-client -n bench \
  --outbound 127.0.0.1:0 --admin 127.0.0.1:0 --registry "$work/registry" --log-level error
outbound=$(field client outbound)

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
nginx_pair_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nginx_h2_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
error_log $work/nginx/logs/error.log error;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  # nginx closes a connection after 1000 requests by default; mesh does not, so neither does nginx
  # here (h2load would otherwise stop at 1000 requests per connection).
  keepalive_requests 1000000;
  upstream app { server $app; keepalive 64; keepalive_requests 1000000; }
  upstream pair { server $fast; server $slow; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$nginx_pair_port;
    location / {
      proxy_pass http://pair;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
  server {
    listen 127.0.0.1:$nginx_port;
    listen 127.0.0.1:$nginx_h2_port http2;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.err" &
pids+=($!); nginx_pid=$!
sleep 0.5

# The same request everywhere: GET / on the app, which answers with a small JSON echo.
declare -A url host
url[direct]="http://$app/";              host[direct]="bench-svc:8080"
url[mesh_1hop]="http://$inbound/";       host[mesh_1hop]="bench-svc:8080"
url[mesh_2hops]="http://$outbound/";     host[mesh_2hops]="bench-svc.bench:8080"
url[nginx]="http://127.0.0.1:$nginx_port/"; host[nginx]="bench-svc:8080"
h2url_nginx="http://127.0.0.1:$nginx_h2_port/"

# Warm up pools and discovery.
for k in direct mesh_1hop mesh_2hops nginx; do
  curl -s -o /dev/null -H "Host: ${host[$k]}" "${url[$k]}" || true
done

results=$work/results.txt
: >"$results"
for k in direct mesh_1hop mesh_2hops nginx; do
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency -H "Host: ${host[$k]}" "${url[$k]}")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "h1 $k rps=$rps p99=$p99" >>"$results"

  target=${url[$k]}; [ "$k" = nginx ] && target=$h2url_nginx
  out=$(h2load -D "${DURATION%s}" -c "$CONNS" -m 10 -H ":authority: ${host[$k]}" "$target" 2>&1 || true)
  h2rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  echo "h2 $k rps=$h2rps" >>"$results"

  out=$(hey -z "$DURATION" -c 10 -q $((RATE / 10)) -host "${host[$k]}" "${url[$k]}")
  p50=$(echo "$out" | awk '/50% in/ {print $3}')
  p99r=$(echo "$out" | awk '/99% in/ {print $3}')
  echo "rate $k p50=$p50 p99=$p99r" >>"$results"
done
# p99 at a fixed rate over the pair: 10 callers at 50 req/s each. (hey starts its callers on one
# tick, so with many callers requests arrive in bursts; a burst of 20 momentarily queues enough on the
# fast replica that its peak-EWMA cost exceeds the slow one's, and about 2% go there.)
for k in mesh nginx; do
  target="http://$balancer/"; [ "$k" = nginx ] && target="http://127.0.0.1:$nginx_pair_port/"
  curl -s -o /dev/null -H "Host: pair-svc.bench:8080" "$target" || true
  out=$(hey -z "$DURATION" -c 10 -q 50 -host "pair-svc.bench:8080" "$target")
  echo "pair $k p50=$(echo "$out" | awk '/50% in/ {print $3}') p99=$(echo "$out" | awk '/99% in/ {print $3}')" >>"$results"
done
for name in server client; do
  pid_var="${name}_pid"
  echo "rss $name $(awk '/VmHWM/ {print $2}' /proc/${!pid_var}/status)" >>"$results"
done
echo "rss nginx $(awk '/VmHWM/ {s+=$2} END {print s}' /proc/$nginx_pid/status /proc/$(pgrep -P $nginx_pid | head -1)/status 2>/dev/null)" >>"$results"

python3 - "$results" "$DURATION" "$CONNS" "$RATE" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
def num(s):
    m = re.match(r"([\d.]+)(us|ms|s)?", s or "")
    if not m: return float("nan")
    v = float(m.group(1)); u = m.group(2) or ""
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
h1, h2, rate, rss, pair = {}, {}, {}, {}, {}
for l in lines:
    p = l.split()
    if not p: continue
    kv = dict(x.split("=", 1) for x in p[2:] if "=" in x)
    if p[0] == "h1": h1[p[1]] = (float(kv["rps"] or "nan"), num(kv["p99"]))
    if p[0] == "h2": h2[p[1]] = float(kv["rps"] or "nan")
    if p[0] == "rate": rate[p[1]] = (float(kv["p50"]) * 1000, float(kv["p99"]) * 1000)
    if p[0] == "pair": pair[p[1]] = (float(kv["p50"]) * 1000, float(kv["p99"]) * 1000)
    if p[0] == "rss": rss[p[1]] = int(p[2]) / 1024 if len(p) > 2 and p[2] else float("nan")
print(f"load: {sys.argv[2]} per measurement, {sys.argv[3]} connections; fixed rate {sys.argv[4]} req/s")
print(f"{'path':<12}{'h1 req/s':>11}{'h1 p99 ms':>11}{'h2 req/s':>11}{'p50@rate':>10}{'p99@rate':>10}")
for k in ["direct", "mesh_1hop", "mesh_2hops", "nginx"]:
    print(f"{k:<12}{h1[k][0]:>11.0f}{h1[k][1]:>11.2f}{h2.get(k, float('nan')):>11.0f}{rate[k][0]:>10.2f}{rate[k][1]:>10.2f}")
print()
for k in ["mesh_1hop", "mesh_2hops"]:
    print(f"{k}/direct: h1 {h1[k][0]/h1['direct'][0]:.2f}x  h2 {h2[k]/h2['direct']:.2f}x  p99@rate {rate[k][1]/rate['direct'][1]:.2f}x")
print(f"mesh_1hop/nginx: h1 {h1['mesh_1hop'][0]/h1['nginx'][0]:.2f}x throughput, "
      f"h2 {h2['mesh_1hop']/h2['nginx']:.2f}x throughput, "
      f"h1 p99 {h1['mesh_1hop'][1]/h1['nginx'][1]:.2f}x, p99@rate {rate['mesh_1hop'][1]/rate['nginx'][1]:.2f}x")
print(f"peak RSS MiB: server proxy {rss['server']:.1f}, client proxy {rss['client']:.1f}, nginx {rss.get('nginx', float('nan')):.1f}")
ok_tp = h1['mesh_1hop'][0] >= h1['nginx'][0]
ok_p99 = rate['mesh_1hop'][1] <= rate['nginx'][1]
ok_rss = max(rss['server'], rss['client']) <= 20
print(f"two replicas, one slowed to 50 ms, 500 req/s: p50/p99 ms mesh {pair['mesh'][0]:.2f}/{pair['mesh'][1]:.2f}, "
      f"nginx round robin {pair['nginx'][0]:.2f}/{pair['nginx'][1]:.2f}; mesh/nginx p99 {pair['mesh'][1]/pair['nginx'][1]:.2f}x "
      f"(goal <= 0.33x: {'met' if pair['mesh'][1] <= pair['nginx'][1] / 3 else 'NOT met'})")
print(f"goals: 1-hop throughput >= nginx: {'met' if ok_tp else 'NOT met'}; "
      f"1-hop p99 <= nginx: {'met' if ok_p99 else 'NOT met'}; RSS <= 20 MiB: {'met' if ok_rss else 'NOT met'}")
PY

#!/usr/bin/env bash
# Upload burst: UPLOADS (500) concurrent uploads of SIZE_KIB (1 MiB) each through two mesh hops
# (client -> outbound proxy -> inbound proxy -> app), then SETTLE (30) seconds idle. Per proxy it
# prints its RSS (and the anonymous part of it: heap and stacks, without the mapped binary) idle
# before the burst (after a warm-up), with every upload in flight, at its peak (VmHWM), and every
# 5 s after the burst ends, and the MiB per in-flight upload ((RSS in flight - idle) / uploads in
# flight). Goal: each proxy's RSS SETTLE seconds after the burst within 2x its idle RSS; exits 1
# when it is not (or when the burst did not have all its uploads in flight at once).
#
# Concurrency: hey starts UPLOADS workers with one upload each (-c = -n), each on its own
# connection; the app (bench/upload-app.py) holds every upload, body unread, until all UPLOADS are
# in flight at once, keeps them so for HOLD_S (1) seconds while the proxies' RSS is read, and only
# then lets them finish. The burst cannot complete otherwise, and the app reports how many it held.
#
# Needs: hey, curl, python3 (Debian packages; hey is installed if missing).
# Usage: bench/upload-burst.sh   (UPLOADS=500 SIZE_KIB=1024 SETTLE=30 HOLD_S=1 to change the burst)
set -euo pipefail
cd "$(dirname "$0")/.."
UPLOADS=${UPLOADS:-500}
SIZE_KIB=${SIZE_KIB:-1024}
SETTLE=${SETTLE:-30}
HOLD_S=${HOLD_S:-1}

command -v hey >/dev/null || { apt-get update -qq && apt-get install -y -qq hey >/dev/null; }
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "upload-burst: needs $tool" >&2; exit 2; }
done

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
# mem PID: its RSS and, of that, its anonymous memory (heap and stacks: RSS without the mapped
# binary, whose resident share depends on the page cache), in KiB.
mem() { awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print r, a}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }   # KiB

# The app releases the uploads 15 s after the first arrived at the latest: before hey's 20 s
# timeout, so a burst that is not fully concurrent ends with a count rather than with timeouts.
start app python3 bench/upload-app.py "$UPLOADS" 15 "$HOLD_S"
app=$(grep -o 'http 127.0.0.1:[0-9]*' "$work/app.out" | awk '{print $2}')
start server "$bin" proxy --workload deploy/bench-server -n bench --service bench-svc:8080 \
  --app "$app" --inbound 127.0.0.1:0 --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
  --registry "$work/registry" --log-level error
start client "$bin" proxy --workload deploy/bench-client -n bench \
  --outbound 127.0.0.1:0 --admin 127.0.0.1:0 --registry "$work/registry" --log-level error
outbound=$(field client outbound)

head -c $((SIZE_KIB * 1024)) /dev/urandom >"$work/body"
# Warm up discovery and both hops' pools, then let the proxies settle before reading idle RSS.
for _ in 1 2 3; do
  curl -s -o /dev/null -H "Host: bench-svc.bench:8080" "http://$outbound/" || true
done
sleep 3
results=$work/results.txt
echo "idle $(mem "$server_pid") $(mem "$client_pid")" >"$results"

t0=$(date +%s.%N)
hey -n "$UPLOADS" -c "$UPLOADS" -m POST -D "$work/body" -T application/octet-stream \
  -host bench-svc.bench:8080 "http://$outbound/upload" >"$work/hey.out" &
pids+=($!); hey_pid=$!
# With every upload in flight (the app holds them for HOLD_S): the RSS this many uploads cost.
for _ in $(seq 300); do
  grep -q "in flight at once" "$work/app.out" && break
  kill -0 "$hey_pid" 2>/dev/null || break
  sleep 0.1
done
if grep -q "in flight at once" "$work/app.out"; then
  sleep "$(awk -v h="$HOLD_S" 'BEGIN {print h / 2}')"
  echo "inflight $(mem "$server_pid") $(mem "$client_pid")" >>"$results"
fi
wait "$hey_pid" || true
t1=$(date +%s.%N)
# After the burst: RSS every 5 s up to SETTLE, then the peak of the whole run.
for t in $(seq 5 5 "$SETTLE"); do
  sleep 5
  echo "after $t $(mem "$server_pid") $(mem "$client_pid")" >>"$results"
done
if [ $((SETTLE % 5)) -ne 0 ]; then
  sleep $((SETTLE % 5))
  echo "after $SETTLE $(mem "$server_pid") $(mem "$client_pid")" >>"$results"
fi
echo "peak $(hwm "$server_pid") $(hwm "$client_pid")" >>"$results"
ok=$(awk '$1 == "[200]" {print $2}' "$work/hey.out")
held=$(grep -o 'held [0-9]* uploads' "$work/app.out" | tail -1 | awk '{print $2}')
echo "burst ${ok:-0} ${held:-0} $(awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}')" >>"$results"

status=0
python3 - "$results" "$UPLOADS" "$SIZE_KIB" "$SETTLE" "$HOLD_S" <<'PY' || status=$?
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
uploads, size_kib, settle, hold = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
mib = lambda kib: int(kib) / 1024
by = {r[0]: r[1:] for r in rows if r[0] != "after"}
after = [(int(r[1]), r[2:]) for r in rows if r[0] == "after"]
ok, held, took = int(by["burst"][0]), int(by["burst"][1]), float(by["burst"][2])
size = f"{size_kib // 1024} MiB" if size_kib % 1024 == 0 else f"{size_kib} KiB"
print(f"upload burst: {uploads} x {size} through two hops (client -> outbound proxy -> inbound proxy -> app)")
print(f"in flight at once: {held} (held by the app for {hold} s); answered 200: {ok}/{uploads}; "
      f"burst took {took:.1f} s")
print("MiB per proxy; rss = VmRSS, anon = its anonymous part (heap, stacks: RSS without the mapped binary)")
cols = "".join(f"{'+' + str(t) + ' s':>7}" for t, _ in after)
print(f"{'':<24}{'idle':>6}{'in flight':>10}{'peak':>7}{cols}{'MiB/upload':>11}{'after/idle':>11}")
met = True
nan = float("nan")
for i, name in enumerate(["inbound (server)", "outbound (client)"]):
    for j, kind in enumerate(["rss", "anon"]):
        k = 2 * i + j
        idle = mib(by["idle"][k])
        inflight = mib(by["inflight"][k]) if "inflight" in by else nan
        last = mib(after[-1][1][k])
        per = (inflight - idle) / held if held else nan
        # VmHWM is updated lazily: a sample may be a little above it.
        top = max([int(by["peak"][i])] + [int(v[k]) for v in [by.get("inflight")] + [a for _, a in after] if v])
        peak = f"{mib(top):>7.1f}" if kind == "rss" else f"{'':>7}"
        line = "".join(f"{mib(v[k]):>7.1f}" for _, v in after)
        label = f"{name if j == 0 else '':<18}{kind:<6}"
        print(f"{label}{idle:>6.1f}{inflight:>10.1f}{peak}{line}{per:>11.2f}{last / idle:>10.2f}x")
        if kind == "rss":
            met &= last <= 2 * idle
print(f"goal: RSS {settle} s after the burst within 2x idle: {'met' if met else 'NOT met'}")
if held < uploads or ok < uploads:
    print(f"the burst was not what was asked: {held} of {uploads} uploads in flight at once, {ok} answered 200")
    sys.exit(3)
sys.exit(0 if met else 1)
PY
if [ "$status" -eq 3 ]; then  # what hey saw
  sed -n '/Status code/,$p' "$work/hey.out"
  status=1
fi
exit "$status"

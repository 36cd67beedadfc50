#!/usr/bin/env bash
# Benchmark: `mesh profile --open-api` on a synthetic OpenAPI 3 document of 10,000 operations.
#
# Prints the median wall time and peak memory of mesh, and the same for a baseline measured in the
# same run on the same file: Python's json.load (reading the document and nothing else). Goals: under
# 0.2 s and under 100 MiB on a 2-core machine.
#
# Usage: bench/profile-openapi.sh [OPERATIONS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
ops=${1:-10000}
runs=${2:-7}

cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
doc="$work/api.json"
python3 bench/synthetic-openapi.py "$ops" > "$doc"

python3 - "$doc" "$runs" <<'PY'
import os, resource, statistics, subprocess, sys, time

doc, runs = sys.argv[1], int(sys.argv[2])

def measure(argv):
    """Median wall time (s) and peak RSS (MiB) of `argv` over `runs` runs, each in a fresh process."""
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, _, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)
        if proc.returncode not in (0, None) and usage is None:
            sys.exit(f"{argv[0]} failed")
    return statistics.median(times), max(peaks)

check = subprocess.run(["target/release/mesh", "profile", "--open-api", doc, "bench"], capture_output=True, text=True)
if check.returncode != 0:
    sys.exit("mesh failed: " + check.stderr)
routes = check.stdout.count("\n  - condition:")
size_mib = os.path.getsize(doc) / 2**20

mesh_t, mesh_m = measure(["target/release/mesh", "profile", "--open-api", doc, "bench"])
base_t, base_m = measure([sys.executable, "-c", f"import json; json.load(open({doc!r}))"])

print(f"document: {size_mib:.1f} MiB, {routes} routes generated, median of {runs} runs")
print(f"mesh profile --open-api : {mesh_t*1000:7.1f} ms  {mesh_m:6.1f} MiB peak")
print(f"baseline python json.load: {base_t*1000:7.1f} ms  {base_m:6.1f} MiB peak")
print(f"ratio mesh/baseline      : {mesh_t/base_t:7.2f}x time  {mesh_m/base_m:5.2f}x memory")
goal_ok = mesh_t < 0.2 and mesh_m < 100
print(f"goal (< 0.2 s, < 100 MiB): {'met' if goal_ok else 'NOT met'}")
PY

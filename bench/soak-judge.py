#!/usr/bin/env python3
"""Judges a soak's samples: does any series (RSS, open fds, open connections) grow steadily?

Input: the CSV bench/soak.sh writes, `t_s,name,pid,rss_kib,fds,tcp_conns`, one row per sampled
thing per tick; an empty field means "not sampled for this row" (the demo's in-process proxies have
connections but no process of their own).

The rule, per series, on the samples after the warm-up (default: the first 20% of the run, when
pools, caches and allocator arenas fill):
  - rise   = median of the last quarter - median of the first quarter,
  - trend  = least-squares slope x the span of those samples,
  - limit  = RSS: the larger of 10% of the first quarter's median and 2 MiB;
             fds and connections: 5;
  - GROWS when both rise and trend exceed the limit. Medians ignore spikes (a burst of requests, a
    GC-like arena trim); the slope agrees only when the increase is spread over the run, not a
    single step. Too few samples (< 8 after warm-up) gives "short", which does not fail.
In a 10-minute run the quarters' medians lie ~6 minutes apart, so a steady leak of 8 KiB/s (under
30 bytes a request at 300 req/s) or of 2 fds a minute is caught; allocator noise (a few hundred KiB,
spikes, a one-off step under 2 MiB) is not.

Usage: soak-judge.py SAMPLES.csv [--warmup SECONDS]   prints a table; exit 1 if anything grows
       soak-judge.py --self-test                      synthetic leaks must fail, flat noise must pass
       soak-judge.py --synthetic KIND > X.csv         one synthetic run (flat, step, rss-leak,
                                                      slow-rss-leak, fd-leak), to try the check on
"""
import csv
import random
import statistics
import sys
import tempfile

SERIES = ["rss_kib", "fds", "tcp_conns"]
MIN_SAMPLES = 8


def limit(series, base):
    if series == "rss_kib":
        return max(0.10 * base, 2048)
    return 5


def slope(ts, vs):
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / den if den else 0.0


def judge_series(series, points, warmup):
    """points: [(t, value)] in time order -> a dict of figures and a verdict."""
    values = [v for _, v in points]
    out = {
        "first": values[0],
        "median": statistics.median(values),
        "max": max(values),
        "last": values[-1],
    }
    post = [(t, v) for t, v in points if t >= warmup]
    if len(post) < MIN_SAMPLES:
        return {**out, "rise": None, "trend": None, "limit": None, "verdict": "short"}
    q = len(post) // 4
    first = statistics.median(v for _, v in post[:q])
    last = statistics.median(v for _, v in post[-q:])
    ts, vs = [t for t, _ in post], [v for _, v in post]
    rise, trend = last - first, slope(ts, vs) * (ts[-1] - ts[0])
    lim = limit(series, first)
    grows = rise > lim and trend > lim
    return {
        **out,
        "rise": rise,
        "trend": trend,
        "limit": lim,
        "ratio": last / first if first else float("nan"),
        "verdict": "GROWS" if grows else "ok",
    }


def judge(path, warmup=None):
    """Reads a samples CSV -> (warmup seconds, [(name, series, figures)])."""
    rows = list(csv.DictReader(open(path)))
    if not rows:
        raise SystemExit(f"{path}: no samples")
    end = max(float(r["t_s"]) for r in rows)
    if warmup is None:
        warmup = 0.2 * end
    found = {}
    for r in rows:
        for s in SERIES:
            if r.get(s, "") != "":
                found.setdefault((r["name"], s), []).append((float(r["t_s"]), float(r[s])))
    results = []
    for (name, s), points in found.items():
        points.sort()
        results.append((name, s, judge_series(s, points, warmup)))
    return warmup, results


def fmt(series, v):
    if v is None:
        return "-"
    if series == "rss_kib":
        return f"{v / 1024:.1f}"
    return f"{v:.0f}"


def print_table(results, out=sys.stdout):
    head = f"{'name':<26}{'series':<15}{'first':>7}{'median':>8}{'max':>7}{'last':>7}" \
           f"{'rise':>7}{'trend':>7}{'limit':>7}{'q4/q1':>7}  verdict"
    print(head, file=out)
    for name, s, f in results:
        label = "rss MiB" if s == "rss_kib" else s
        ratio = f"{f['ratio']:.2f}x" if f.get("ratio") is not None else "-"
        print(f"{name:<26}{label:<15}{fmt(s, f['first']):>7}{fmt(s, f['median']):>8}"
              f"{fmt(s, f['max']):>7}{fmt(s, f['last']):>7}{fmt(s, f['rise']):>7}"
              f"{fmt(s, f['trend']):>7}{fmt(s, f['limit']):>7}{ratio:>7}  {f['verdict']}", file=out)


def check(path, warmup=None):
    warmup, results = judge(path, warmup)
    print(f"samples: {path}; warm-up {warmup:.0f} s discarded; rise = last-quarter median - "
          "first-quarter median, trend = least-squares slope x span (after warm-up)")
    print_table(results)
    growing = [f"{name} {s}" for name, s, f in results if f["verdict"] == "GROWS"]
    if growing:
        print("steady growth: " + ", ".join(growing))
        return 1
    short = sum(f["verdict"] == "short" for _, _, f in results)
    print("no steady growth" + (f" ({short} series too short to judge)" if short else ""))
    return 0


def synthetic(kind, seed, duration=600, every=5):
    """Rows of one fake proxy over a 10-minute run: a start-up ramp, noise, spikes, then `kind`."""
    rnd = random.Random(seed)
    rows = []
    for i in range(duration // every + 1):
        t = i * every
        rss = 12000 + min(t, 40) * 60 + rnd.gauss(0, 250)  # filling up in the first 40 s
        fds = 30 + rnd.randint(-3, 3) + (4 if t < 30 else 0)
        if rnd.random() < 0.05:
            rss += 3000  # a burst: arenas grow, then are trimmed again
        if kind == "step" and t >= 300:
            rss += 1500  # one-off settling below the limit: not a leak
        if kind == "rss-leak":
            rss += t * 10  # 10 KiB/s, about 6 MiB over the run
        if kind == "slow-rss-leak":
            rss += t * 8  # 8 KiB/s, under 30 bytes a request at 300 req/s
        if kind == "fd-leak":
            fds += t // 30  # two fds a minute
        rows.append({"t_s": t, "name": kind, "pid": 1, "rss_kib": round(rss), "fds": fds,
                     "tcp_conns": ""})
    return rows


# What each synthetic kind must get: (RSS verdict, fds verdict).
EXPECTED = {"flat": ("ok", "ok"), "step": ("ok", "ok"), "rss-leak": ("GROWS", "ok"),
            "slow-rss-leak": ("GROWS", "ok"), "fd-leak": ("ok", "GROWS")}
FIELDS = ["t_s", "name", "pid", "rss_kib", "fds", "tcp_conns"]


def self_test():
    failed = 0
    print("self-test: synthetic 10-minute series, 5 s apart, noise and spikes on top")
    for seed in range(20):
        with tempfile.NamedTemporaryFile("w", suffix=".csv") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            for i, kind in enumerate(EXPECTED):
                w.writerows(synthetic(kind, seed * 10 + i))
            f.flush()
            _, results = judge(f.name)
        if seed == 0:
            print_table(results)
        for name, s, fig in results:
            want = EXPECTED[name][0 if s == "rss_kib" else 1]
            if fig["verdict"] != want:
                failed += 1
                print(f"seed {seed}: {name} {s}: expected {want}, got {fig['verdict']} "
                      f"(rise {fig['rise']:.0f}, trend {fig['trend']:.0f}, limit {fig['limit']:.0f})")
    print(f"self-test, 20 seeds x {len(EXPECTED)} kinds x 2 series: "
          + ("every verdict as expected" if not failed else f"{failed} verdicts wrong"))
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) == 3 and argv[1] == "--synthetic" and argv[2] in EXPECTED:
        w = csv.DictWriter(sys.stdout, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(synthetic(argv[2], 1))
        return 0
    if len(argv) == 2:
        return check(argv[1])
    if len(argv) == 4 and argv[2] == "--warmup":
        return check(argv[1], float(argv[3]))
    print("usage: " + __doc__.split("Usage: ")[1], file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) and fails if any of them crashed, hung (an input
# taking longer than TIMEOUT seconds) or ran out of memory, naming the input that did it.
#
#   fuzz/run.sh [SECONDS]        e.g. fuzz/run.sh 60;  FUZZ_TARGETS="stats tap" fuzz/run.sh 30
#
# Builds all targets once with `cargo +nightly fuzz build` (release, debug assertions and overflow
# checks on, AddressSanitizer), then runs each target's binary in turn: on a 2-core machine seven
# targets at 60 s take about 8 minutes plus the build. The corpus of each target lives in
# fuzz/corpus/<target> (kept between runs, ignored by git) and is seeded from fuzz/seeds/<target>
# and the project's fixtures; crashing inputs land in fuzz/artifacts/<target>/. See docs/fuzzing.md.
set -euo pipefail

seconds=${1:-60}
timeout=${TIMEOUT:-10}
rss_limit_mb=${RSS_LIMIT_MB:-2048}
read -r -a targets <<<"${FUZZ_TARGETS:-openapi proto profile matcher detect stats tap}"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

# Longest input per target: enough for the structures each reads, small enough to keep runs fast.
declare -A max_len=(
    [openapi]=8192 [proto]=4096 [profile]=8192 [matcher]=1024
    [detect]=128 [stats]=8192 [tap]=8192
)
# The project's own inputs, as extra seeds.
declare -A fixtures=(
    [openapi]="fixtures/demo/web.swagger fixtures/profile/openapi fixtures/profile/bad"
    [proto]="fixtures/demo/emoji.proto fixtures/demo/voting.proto fixtures/profile/proto"
    [profile]="fixtures/profile/check fixtures/profile/golden"
)

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

cd "$root"
echo "fuzz/run.sh: building ${#targets[@]} targets" >&2
cargo +nightly fuzz build
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="fuzz/target/$host/release"

# A figure libFuzzer printed at exit (-print_final_stats=1).
final_stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; }

failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    artifacts="fuzz/artifacts/$t"
    log="fuzz/artifacts/$t.log"
    mkdir -p "$corpus" "$artifacts"
    cp -r "fuzz/seeds/$t/." "$corpus/"
    for f in ${fixtures[$t]:-}; do
        if [[ -d $f ]]; then cp "$f"/* "$corpus/"; else cp "$f" "$corpus/"; fi
    done
    dict=()
    [[ -f fuzz/dicts/$t.dict ]] && dict=("-dict=fuzz/dicts/$t.dict")
    # Artifacts from an earlier run would be taken for this run's.
    find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -delete

    echo "fuzz/run.sh: $t for ${seconds}s" >&2
    status=0
    # Scratch files of a target (the proto target writes its input to a file) stay in here.
    scratch="$root/fuzz/artifacts/tmp"
    mkdir -p "$scratch"
    TMPDIR="$scratch" "$bin_dir/$t" "$corpus" "${dict[@]}" \
        -max_total_time="$seconds" -max_len="${max_len[$t]:-4096}" \
        -timeout="$timeout" -rss_limit_mb="$rss_limit_mb" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    rm -rf "$scratch"

    execs=$(final_stat "$log" number_of_executed_units)
    rate=$(final_stat "$log" average_exec_per_sec)
    rss=$(final_stat "$log" peak_rss_mb)
    found=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)
    if [[ $status -ne 0 || -n $found ]]; then
        result="FAILED (exit $status): ${found:-see $log}"
        failed+=("$t")
    else
        result="ok"
    fi
    summary+=("$(printf '%-8s executions=%-10s exec/s=%-7s peak_rss=%sMB corpus=%-5s %s' \
        "$t" "${execs:--}" "${rate:--}" "${rss:--}" "$(find "$corpus" -type f | wc -l)" "$result")")
    if [[ $status -ne 0 || -n $found ]]; then
        grep -E '^(==[0-9]+==ERROR|thread .* panicked|SUMMARY)' "$log" | head -5 >&2 || true
    fi
done

printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz/run.sh: failed: ${failed[*]} (logs: fuzz/artifacts/<target>.log; reproduce with fuzz/target/$host/release/<target> <artifact>)" >&2
    exit 1
fi

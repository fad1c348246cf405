#!/usr/bin/env bash
# Measures report generation at scale: builds synthetic results.json shards (2 000 cases x
# 10 targets = 20 000 cells by default, split into 4 shards), then times
# `xmpp-interop merge` rebuilding every report from them (terminal matrix, junit.xml,
# results.json, index.html, summary.md), and prints the size of each report.
# Then the same with a ~6 KB transcript per cell (merge copies 20 000 files and index.html
# embeds up to its 2 MiB budget of them).
# Floors (issue 8): under 1 s, index.html under 5 MiB. Usage: ci/bench-reports.sh [RUNS] [CASES] [TARGETS]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
runs="${1:-5}"
cases="${2:-2000}"
targets="${3:-10}"
cargo build --release --quiet
binary=target/release/xmpp-interop
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bench() {
    local label="$1"
    shift
    rm -rf "$work/shards" "$work/merged"
    python3 ci/synthetic-results.py "$cases" "$targets" 4 "$work/shards" "$@"
    echo "$label: $cases cases x $targets targets in 4 shards ($(du -sh "$work/shards" | cut -f1))"
    for i in $(seq 1 "$runs"); do
        status=0
        # GNU time's %e is wall seconds, %M peak RSS in KiB. Synthetic runs hold errors: exit 3.
        /usr/bin/time -f "%e %M" -o "$work/time" "$binary" merge "$work"/shards/*/results.json \
            --out "$work/merged" >/dev/null || status=$?
        # GNU time adds a "Command exited with non-zero status" line before its own.
        read -r wall rss_kib < <(tail -n 1 "$work/time")
        echo "run $i: merge wall ${wall} s, peak RSS $((rss_kib / 1024)) MiB (exit $status)"
    done
    for report in index.html results.json junit.xml summary.md; do
        echo "$report: $(stat -c %s "$work/merged/$report") bytes"
    done
}
bench "without transcripts"
bench "with transcripts" --transcripts

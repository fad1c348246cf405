#!/usr/bin/env bash
# Measures report generation at scale: builds synthetic results.json shards (2 000 cases x
# 10 targets = 20 000 cells by default, split into 4 shards), then times
# `xmpp-interop merge` rebuilding every report from them (terminal matrix, junit.xml,
# results.json, index.html, summary.md), and prints the size of each report.
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
python3 ci/synthetic-results.py "$cases" "$targets" 4 "$work/shards"
echo "input: $cases cases x $targets targets in 4 shards ($(du -ch "$work"/shards/*/results.json | tail -n 1 | cut -f1))"
for i in $(seq 1 "$runs"); do
    status=0
    # GNU time's %e is wall seconds, %M peak RSS in KiB. Synthetic runs hold failures: exit 1 or 3.
    /usr/bin/time -f "%e %M" -o "$work/time" "$binary" merge "$work"/shards/*/results.json \
        --out "$work/merged" >/dev/null || status=$?
    read -r wall rss_kib <"$work/time"
    echo "run $i: merge wall ${wall} s, peak RSS $((rss_kib / 1024)) MiB (exit $status)"
done
for report in index.html results.json junit.xml summary.md; do
    echo "$report: $(stat -c %s "$work/merged/$report") bytes"
done

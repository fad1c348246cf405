#!/usr/bin/env bash
# Measures the full default run (`xmpp-interop run scenarios/`) on this machine: wall time and
# peak resident memory, over several runs, with a release build. Prints one line per run and
# the best and worst. Floors (issue 2): under 2 s wall time and under 100 MiB peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
runs="${1:-5}"
cargo build --release --quiet
binary=target/release/xmpp-interop
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "cases: $("$binary" list scenarios/ | tail -n 1)"
for i in $(seq 1 "$runs"); do
    # GNU time's %e is wall seconds, %M peak RSS in KiB.
    /usr/bin/time -f "%e %M" -o "$out/time" "$binary" run scenarios/ --out "$out/reports" --no-progress >/dev/null
    read -r wall rss_kib <"$out/time"
    echo "run $i: wall ${wall} s, peak RSS $((rss_kib / 1024)) MiB"
done

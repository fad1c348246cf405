#!/usr/bin/env bash
# Measures the real matrix (`run scenarios/ --targets targets/local.yaml --expectations
# expectations/servers`: the built-in targets and four managed servers, c2s and s2s, start-ups
# included): wall time and the harness's peak resident memory over several runs, with a
# release build, and the exit code of each (0 expected). Floor (issue 16): under 90 s on a
# 2-core machine. Needs ci/install-targets.sh to have run (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
runs="${1:-3}"
cargo build --release --quiet
binary=target/release/xmpp-interop
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$runs"); do
    status=0
    /usr/bin/time -f "%e %M" -o "$out/time" "$binary" run scenarios/ --targets targets/local.yaml \
        --expectations expectations/servers --out "$out/reports" --no-progress >"$out/stdout" || status=$?
    read -r wall rss_kib <"$out/time"
    echo "run $i: wall ${wall} s, peak RSS $((rss_kib / 1024)) MiB, exit $status, $(tail -n 1 "$out/stdout" | cut -d: -f1)"
done

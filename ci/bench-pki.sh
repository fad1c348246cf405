#!/usr/bin/env bash
# Measures generating the whole certificate catalogue with ECDSA P-256 keys
# (`xmpp-interop pki generate`, every profile, files and manifest included), over several runs,
# with a release build. Prints one line per run and the best and worst. Floor (issue 3): under
# 300 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
cargo build --release --quiet
binary=target/release/xmpp-interop
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
best=""
worst=""
for i in $(seq 1 "$runs"); do
    rm -rf "$out/pki"
    start=$(date +%s%N)
    "$binary" pki generate --domain interop.test --out "$out/pki" --key ecdsa-p256 >/dev/null
    end=$(date +%s%N)
    ms=$(((end - start) / 1000000))
    profiles=$(find "$out/pki" -mindepth 1 -maxdepth 1 -type d | wc -l)
    echo "run $i: ${profiles} profiles in ${ms} ms"
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    if [ -z "$worst" ] || [ "$ms" -gt "$worst" ]; then worst=$ms; fi
done
echo "best ${best} ms, worst ${worst} ms (floor: 300 ms)"
if [ "$worst" -ge 300 ]; then
    echo "over the 300 ms floor" >&2
    exit 1
fi

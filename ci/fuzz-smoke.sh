#!/usr/bin/env bash
# Fuzz smoke run (issue 14, item 4; docs/RELIABILITY.md): builds every target of fuzz/ with
# cargo-fuzz on the stable toolchain (`--sanitizer none`: no -Z flag, no nightly) and runs each
# for FUZZ_SMOKE_SECONDS (default 5) seconds from its seed corpus. A crash, a hang (an input
# running over 10 s) or running out of memory (2 GiB) stops the script with libFuzzer's non-zero
# exit status; the input that did it is kept in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SMOKE_SECONDS:-5}"

# libfuzzer-sys compiles libFuzzer with the system C++ compiler.
if ! command -v c++ >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

cargo fuzz build --sanitizer none
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# The loader targets write each input to a file there (fuzz/fuzz_targets/common/mod.rs).
export XMPP_INTEROP_FUZZ_SCRATCH="$scratch/files"
for target in $(cargo fuzz list); do
    echo "fuzz smoke: $target (${seconds} s)"
    mkdir -p "$scratch/$target"
    # New inputs go to the scratch corpus, so seeds/ stays as committed.
    if ! cargo fuzz run --sanitizer none "$target" "$scratch/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        2>"$scratch/$target.log"; then
        tail -n 60 "$scratch/$target.log" >&2
        echo "fuzz smoke: $target found a problem; see fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' "$scratch/$target.log" || true
done

#!/usr/bin/env bash
# Installs the client libraries of targets/clients.yaml that ci/install-targets.sh does not
# (issue 16), each beside the Debian 12 release the matrix already had. Run as root, after
# ci/install-backports-root.sh (ci/install-targets.sh calls it last). Idempotent and quiet:
# each step is skipped when its result is newer than its inputs.
#
# - tokio-xmpp (Rust, crates.io, pinned by fixtures/clients/tokio-xmpp/Cargo.lock): the driver
#   crate built with its own target directory (target/clients/tokio-xmpp-build, so the
#   harness's build is not disturbed) into target/clients/tokio_xmpp_client.
# - gloox (C++, Debian 12's libgloox-dev): fixtures/clients/gloox_client.cpp compiled into
#   target/clients/gloox_client.
# - slixmpp from PyPI (fixtures/clients/slixmpp-requirements.txt) in a virtual environment
#   made by Debian's /usr/bin/python3 (python3-venv) at target/clients/slixmpp-venv: the same
#   interpreter as Debian's python3-slixmpp 1.8, whatever python3 is first on PATH.
# - libstrophe 0.14 (bookworm-backports): fixtures/clients/strophe_client.c compiled against
#   the backports root's strophe.h and linked statically with its libstrophe.a, so that the
#   binary target/clients/strophe_client-0.14 uses no library from the root at run time (only
#   the host's OpenSSL, expat and zlib: the same bookworm ABI). go-sendxmpp 0.14 needs nothing:
#   it is one Go binary, run from the root's /usr/bin.
# - node-xmpp-client 3.2.0 (npm, pinned by fixtures/clients/node-xmpp-client/package-lock.json,
#   with node-xmpp-core's reconnect-core from vendor/ there): npm ci into that directory's
#   node_modules (npm itself comes from ci/install-targets.sh, which installs it for xmppjs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
backports=/var/lib/xmpp-interop/bookworm-backports
clients="$root/target/clients"
mkdir -p "$clients"

packages=(libgloox-dev g++ pkg-config python3-venv libssl-dev libexpat1-dev zlib1g-dev)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# stale OUTPUT INPUT...: true when OUTPUT is missing or older than an input.
stale() {
    local output="$1"
    shift
    [ -e "$output" ] || return 0
    local input
    for input in "$@"; do
        [ "$input" -nt "$output" ] && return 0
    done
    return 1
}

# tokio-xmpp: 3 min 22 s cold (crates downloaded, nothing compiled) on a shared 2-core machine;
# skipped afterwards until the driver or its lockfile changes.
driver="$root/fixtures/clients/tokio-xmpp"
if stale "$clients/tokio_xmpp_client" "$driver/Cargo.toml" "$driver/Cargo.lock" "$driver/build.rs" "$driver/src/main.rs"; then
    cargo build --quiet --release --locked --manifest-path "$driver/Cargo.toml" \
        --target-dir "$clients/tokio-xmpp-build"
    install -m 0755 "$clients/tokio-xmpp-build/release/tokio_xmpp_client" "$clients/tokio_xmpp_client"
fi

# gloox.
if stale "$clients/gloox_client" "$root/fixtures/clients/gloox_client.cpp"; then
    # shellcheck disable=SC2046 # pkg-config prints several flags
    c++ -O2 -Wall -Wextra -o "$clients/gloox_client" "$root/fixtures/clients/gloox_client.cpp" \
        $(pkg-config --cflags --libs gloox)
fi

# slixmpp from PyPI.
venv="$clients/slixmpp-venv"
requirements="$root/fixtures/clients/slixmpp-requirements.txt"
if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
if stale "$venv/.installed" "$requirements"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$requirements"
    touch "$venv/.installed"
fi

# libstrophe 0.14 from the backports root.
pc="$backports/usr/lib/x86_64-linux-gnu/pkgconfig/libstrophe.pc"
archive="$backports/usr/lib/x86_64-linux-gnu/libstrophe.a"
if [ ! -e "$pc" ] || [ ! -e "$archive" ]; then
    echo "install-clients: no libstrophe in $backports; run ci/install-backports-root.sh first" >&2
    exit 1
fi
strophe14="$clients/strophe_client-0.14"
if stale "$strophe14" "$root/fixtures/clients/strophe_client.c" "$archive"; then
    version="$(sed -n 's/^Version: *//p' "$pc")"
    mkdir -p "$clients/libstrophe-0.14/include"
    cp "$backports/usr/include/strophe.h" "$clients/libstrophe-0.14/include/"
    cc -O2 -Wall -Wextra -DSTROPHE_DRIVER_VERSION="\"$version\"" \
        -I"$clients/libstrophe-0.14/include" -o "$strophe14" \
        "$root/fixtures/clients/strophe_client.c" "$archive" -lresolv -lexpat -lz -lssl -lcrypto
fi
if [ ! -x "$backports/usr/bin/go-sendxmpp" ]; then
    echo "install-clients: no go-sendxmpp in $backports; run ci/install-backports-root.sh first" >&2
    exit 1
fi

# node-xmpp-client from npm; npm writes node_modules/.package-lock.json last. The vendored
# reconnect-core is linked, not copied, so only its package.json (its dependencies) counts.
nxc="$root/fixtures/clients/node-xmpp-client"
if stale "$nxc/node_modules/.package-lock.json" "$nxc/package-lock.json" "$nxc/vendor/reconnect-core/package.json"; then
    (cd "$nxc" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

#!/usr/bin/env bash
# Makes the Debian root that holds today's releases beside Debian 12's own: a minimal bookworm
# made with debootstrap, with bookworm-backports added inside it (never on the host), and
# Prosody 13, ejabberd 24.12 and the backports' clients installed there. The managed targets
# whose `root:` names it run their server with chroot(8); loopback is shared, so the servers
# listen on the host's 127.0.0.0/8 and nothing else. The root is bookworm too, so a library in
# it is ABI-compatible with the host's.
#
# Idempotent: the root is made once; packages are (re)installed when the list below changes.
# XMPP_INTEROP_BACKPORTS_ROOT makes it elsewhere (to try this script); targets/local.yaml,
# ci/install-clients.sh and the tests use the default. Run as root.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${XMPP_INTEROP_BACKPORTS_ROOT:-/var/lib/xmpp-interop/bookworm-backports}"
mirror="http://deb.debian.org/debian"

# From bookworm-backports; Debian 12 has the same names at older versions on the host.
packages=(prosody prosody-modules lua-unbound ejabberd
    libstrophe-dev go-sendxmpp python3-slixmpp)

if [ ! -x "$root/usr/bin/apt-get" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    mkdir -p "$(dirname "$root")"
    rm -rf "$root.partial"
    debootstrap --variant=minbase bookworm "$root.partial" "$mirror" >/dev/null
    mv "$root.partial" "$root"
fi

cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
deb $mirror bookworm-backports main
EOF
# Packaged services never start inside the root either.
printf '#!/bin/sh\n# xmpp-interop: packaged services do not start on install\nexit 101\n' \
    >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

stamp="$root/etc/xmpp-interop-packages"
if [ "$(cat "$stamp" 2>/dev/null)" != "${packages[*]}" ]; then
    # Package scripts talk a lot inside a bare root (no /dev/pts, no FQDN); their output is
    # shown only when the installation fails.
    log="$(mktemp)"
    if ! { chroot "$root" apt-get update -qq \
        && chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends -t bookworm-backports "${packages[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    printf '%s\n' "${packages[*]}" >"$stamp"
fi

# The federation names resolve inside the root as on the host (/etc/hosts only, no DNS).
grep -qs '^127\.0\.0\.1[[:space:]]\+localhost' "$root/etc/hosts" || printf '127.0.0.1 localhost\n' >>"$root/etc/hosts"
while read -r address name; do
    if ! grep -Eq "^[[:space:]]*${address//./\\.}[[:space:]]+${name//./\\.}([[:space:]]|$)" "$root/etc/hosts"; then
        printf '%s %s\n' "$address" "$name" >>"$root/etc/hosts"
    fi
done <"$repo/fixtures/federation-hosts"

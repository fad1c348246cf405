#!/usr/bin/env bash
# Installs the real servers the managed targets of targets/local.yaml launch: Prosody (with
# prosody-modules and lua-unbound) and ejabberd from Debian's packages, and the real clients
# of targets/clients.yaml: go-sendxmpp, slixmpp (python3-slixmpp, for /usr/bin/python3),
# sendxmpp (Perl), @xmpp/client (npm, into fixtures/clients/xmppjs/node_modules) and libstrophe
# (its C driver compiled into target/clients/). Idempotent and quiet.
# Packaged services must never start: they would grab port 5222 and run with the packaged
# configuration, so policy-rc.d forbids it and anything already running is stopped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# xmpp-interop: packaged services do not start on install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
fi

packages=(prosody prosody-modules lua-unbound ejabberd go-sendxmpp python3-slixmpp sendxmpp
    libstrophe-dev pkg-config gcc libc6-dev)
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

# Stop packaged instances that started anyway (installed before policy-rc.d existed).
for service in prosody ejabberd; do
    if command -v service >/dev/null 2>&1; then
        service "$service" stop >/dev/null 2>&1 || true
    fi
done

# ejabberd's package scripts leave an epmd daemon listening on every interface; the managed
# targets do not need it (they use ERL_DIST_PORT). Stop it when no Erlang node uses it.
if command -v epmd >/dev/null 2>&1 && epmd -names >/dev/null 2>&1; then
    if ! epmd -names 2>/dev/null | grep -q '^name '; then
        epmd -kill >/dev/null 2>&1 || true
    fi
fi

# Server-to-server federation on loopback (issue 7): every domain has its own address and the
# standard s2s port 5269, found through /etc/hosts with no DNS server and no SRV records; and
# interop.test on 127.0.0.1, so that command clients connect by the name the harness's
# certificate carries. Only names under .test are added, each once; nothing else in /etc/hosts
# is touched.
while read -r address name; do
    case "$address $name" in
        127.*" "*.test) ;;
        *) echo "fixtures/federation-hosts: '$address $name' is not a loopback address and a .test name" >&2; exit 2 ;;
    esac
    if ! grep -Eq "^[[:space:]]*${address//./\\.}[[:space:]]+${name//./\\.}([[:space:]]|$)" /etc/hosts; then
        printf '%s %s\n' "$address" "$name" >>/etc/hosts
    fi
done <"$root/fixtures/federation-hosts"

# @xmpp/client for the xmppjs target, at the version package-lock.json pins.
if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
xmppjs="$root/fixtures/clients/xmppjs"
if [ ! -e "$xmppjs/node_modules/@xmpp/client/package.json" ] \
    || [ "$xmppjs/package-lock.json" -nt "$xmppjs/node_modules/@xmpp/client/package.json" ]; then
    (cd "$xmppjs" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# The libstrophe driver, rebuilt when its source is newer than the binary.
strophe="$root/target/clients/strophe_client"
if [ ! -x "$strophe" ] || [ "$root/fixtures/clients/strophe_client.c" -nt "$strophe" ]; then
    mkdir -p "$root/target/clients"
    # shellcheck disable=SC2046 # pkg-config prints several flags
    cc -O2 -Wall -Wextra -o "$strophe" "$root/fixtures/clients/strophe_client.c" \
        $(pkg-config --cflags --libs libstrophe)
fi

# Today's releases (Prosody 13, ejabberd 24.12, the backports' clients) in a Debian root of
# their own, beside Debian 12's on the host (issue 16).
"$root/ci/install-backports-root.sh"
"$root/ci/install-clients.sh"

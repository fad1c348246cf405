#!/usr/bin/env bash
# Side by side on one Prosody (issue 17): the TLS facts the three tools have in common
# (STARTTLS offered, TLS versions, cipher suites, the chain served) measured with
#   (a) xmpp-interop probe DOMAIN --resolver ADDR   (discovery through a loopback DNS server)
#   (b) testssl -t xmpp --xmpphost DOMAIN -p -S HOST:PORT        (Debian's testssl.sh)
#   (c) sslyze --starttls xmpp --xmpp_to DOMAIN HOST:PORT        (PyPI, venv under target/)
# Prints the wall-clock seconds of each and the ratios. Targets: probe at least 10x faster
# than sslyze and 50x faster than testssl. Run as root on the CI machine (installs what is
# missing with apt-get and pip); everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

domain=bench.test
runs="${1:-1}"

need_apt() { # program package
    command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    }
}
need_apt testssl testssl.sh
need_apt dnsmasq dnsmasq-base
need_apt prosody prosody
venv=target/bench-venv
if [ ! -x "$venv/bin/sslyze" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q sslyze
fi
# HARNESS=path uses an already built binary instead of a release build.
harness="${HARNESS:-target/release/xmpp-interop}"
[ -n "${HARNESS:-}" ] || cargo build --release --quiet

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
c2s_port="$(free_port)"
dns_port="$(free_port)"

# A self-signed certificate naming the domain (the chain fact is then "one certificate").
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$domain" \
    -addext "subjectAltName=DNS:$domain" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

mkdir -p "$work/data"
cat >"$work/prosody.cfg.lua" <<EOF
run_as_root = true
daemonize = false
pidfile = "$work/prosody.pid"
data_dir = "$work/data"
log = { error = "$work/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $c2s_port }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = true
unbound = { hoststxt = true; resolvconf = false; forward = "127.0.0.1" }
authentication = "internal_plain"
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping" }
modules_disabled = { "offline"; "posix"; "s2s" }
ssl = { certificate = "$work/cert.pem"; key = "$work/key.pem" }
VirtualHost "$domain"
    ssl = { certificate = "$work/cert.pem"; key = "$work/key.pem" }
EOF
prosody --config "$work/prosody.cfg.lua" -F >"$work/prosody.out" 2>&1 &
pids+=("$!")

# The DNS data probe discovers: one SRV record for c2s, the target's address; --local makes
# dnsmasq answer NXDOMAIN / NODATA for the rest of the domain instead of REFUSED.
dnsmasq --keep-in-foreground --no-resolv --no-hosts --conf-file=/dev/null \
    --listen-address=127.0.0.1 --bind-interfaces --port="$dns_port" --pid-file="$work/dnsmasq.pid" \
    --local="/$domain/" \
    --srv-host="_xmpp-client._tcp.$domain,xmpp.$domain,$c2s_port,0,0" \
    --host-record="xmpp.$domain,127.0.0.1" --host-record="$domain,127.0.0.1" \
    --log-facility="$work/dnsmasq.log" &
pids+=("$!")

for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$c2s_port") 2>/dev/null && break
    sleep 0.1
done

# Wall-clock seconds of a command (its output kept in $work/NAME.out), and its exit status.
timed() { # name command...
    local name="$1" start end status=0
    shift
    start="$(date +%s.%N)"
    "$@" >"$work/$name.out" 2>&1 || status=$?
    end="$(date +%s.%N)"
    python3 -c "print(f'{$end - $start:.2f}')" >"$work/$name.seconds"
    echo "$status" >"$work/$name.status"
}

for run in $(seq 1 "$runs"); do
    timed probe "$harness" probe "$domain" --c2s --resolver "127.0.0.1:$dns_port"
    timed testssl testssl --quiet --color 0 -t xmpp --xmpphost "$domain" -p -S "127.0.0.1:$c2s_port"
    timed sslyze "$venv/bin/sslyze" --starttls xmpp --xmpp_to "$domain" "127.0.0.1:$c2s_port"
    probe_s="$(cat "$work/probe.seconds")"
    testssl_s="$(cat "$work/testssl.seconds")"
    sslyze_s="$(cat "$work/sslyze.seconds")"
    echo "run $run (Prosody $(prosodyctl about 2>/dev/null | head -n 1 | awk '{print $2}'), $domain, 127.0.0.1:$c2s_port):"
    echo "  probe   ${probe_s} s (exit $(cat "$work/probe.status"))"
    echo "  testssl ${testssl_s} s (exit $(cat "$work/testssl.status"))"
    echo "  sslyze  ${sslyze_s} s (exit $(cat "$work/sslyze.status"))"
    python3 - "$probe_s" "$testssl_s" "$sslyze_s" "$(cat "$work/probe.status")" <<'EOF'
import sys
probe, testssl, sslyze = (float(v) for v in sys.argv[1:4])
if sys.argv[4] not in ("0", "1") or probe <= 0:
    print("  ratios: probe did not run to a verdict (exit %s); no ratio" % sys.argv[4])
else:
    print(f"  testssl / probe {testssl / probe:.1f}x (target 50x), sslyze / probe {sslyze / probe:.1f}x (target 10x)")
EOF
done
# A tool that stopped early measured nothing worth comparing: show why. (sslyze exits 1
# when the server does not meet Mozilla's "intermediate" configuration; that is a result.)
for name in probe testssl sslyze; do
    if [ "$(cat "$work/$name.status")" != 0 ]; then
        echo "$name output (last lines):"
        tail -n 12 "$work/$name.out" | sed 's/^/    /'
    fi
done

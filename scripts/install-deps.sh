#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian 12 machine.
# Each step checks first, so a second run with nothing missing costs a fraction of a second.
#   NETCON_DEPS=build   only what the build needs (container/Dockerfile's builder stage)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build
  emscripten libsodium-dev libssl-dev liblz4-dev dpkg-dev build-essential pkg-config patch
)
[ "${NETCON_DEPS:-}" = build ] || APT_PACKAGES+=(
  # real programs the tests run under the intercept
  curl nginx-light apache2 redis-server redis-tools openssh-server openssh-client iperf3 iproute2 iputils-ping python3
  # docker-test (its namespace runner uses the host's programs): a UDP service, a DNS client, JSON in shell;
  # strace for the names tests (no query may leave through the host's network); iptables and ethtool for the
  # loss test (test/faults/loss.test.ts)
  dnsmasq-base bind9-dnsutils jq strace iptables ethtool
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build: installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these services on install; our tests run their own instances.
  for s in nginx apache2 redis-server ssh; do as_root service "$s" stop >/dev/null 2>&1 || true; done
fi

# lwIP 2.1.3 comes from Debian's source package, into an ignored folder; never committed.
LWIP_DIR=lwip/src-lwip
if [ ! -f "$LWIP_DIR/src/core/tcp.c" ]; then
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    # The same archive as the machine's own deb entry for its release (scripts/apt-archive.sh).
    echo "build: adding a deb-src entry for Debian's source packages (from this machine's apt sources)"
    src=$(bash scripts/apt-archive.sh --deb-src)
    printf '%s\n' "$src" | as_root tee /etc/apt/sources.list.d/netcon-deb-src.sources >/dev/null
    as_root apt-get update -q >/dev/null
  fi
  echo "build: fetching lwIP source (apt-get source lwip)"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get source -q --download-only lwip >/dev/null 2>&1 && dpkg-source -x --skip-patches lwip_*.dsc src >/dev/null 2>&1) ||
    { echo "build: could not fetch lwIP's source package (apt-get source lwip)" >&2; exit 1; }
  rm -rf "$LWIP_DIR"
  mkdir -p "$(dirname "$LWIP_DIR")"
  mv "$tmp/src" "$LWIP_DIR"
  rm -rf "$tmp"
fi

# npm packages: again only when the lock file changed since the last install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "build: npm ci"
  npm ci --no-fund --no-audit --loglevel=error
fi

#!/usr/bin/env bash
# System prerequisites for ticketflow on a fresh Debian 12 machine.
#
# Why these packages: @confluentinc/kafka-javascript cannot download its
# prebuilt binary here, so it compiles the bundled librdkafka; TLS, SASL/SCRAM
# and the compression codecs are only compiled in when these headers exist.
# Java 17 + Maven (for the local broker, see scripts/kafka/) are expected to be
# present already.
#
# Safe to re-run: everything is skipped quickly when already in place.
set -euo pipefail

PNPM_VERSION="10.34.9"
APT_PACKAGES=(
  build-essential
  pkg-config
  python3
  libssl-dev
  libsasl2-dev
  zlib1g-dev
  libzstd-dev
  liblz4-dev
  # Headless browser of the dashboard's test (driven by the playwright-core devDependency).
  chromium
  # The Kafka benchmark's baseline reader (`pnpm bench:kafka`).
  kcat
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup-system: must run as root (or with sudo available)" >&2
    exit 1
  fi
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh image ships without package lists, so update first there; on a
  # machine that has lists, update only if they turn out to be stale.
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    $SUDO apt-get update
  fi
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup-system: apt packages already present"
fi

# Corepack cannot be used here: the reachable npm registry serves metadata
# without the signatures corepack verifies, so it refuses to fetch pnpm.
# A pinned global npm install works and is what CI gets too.
current_pnpm="$(pnpm --version 2>/dev/null || true)"
if [ "$current_pnpm" != "$PNPM_VERSION" ]; then
  echo "setup-system: installing pnpm@$PNPM_VERSION (found: ${current_pnpm:-none})"
  # corepack's shim would shadow (and collide with) the npm-installed binary
  if command -v corepack >/dev/null 2>&1; then
    $SUDO corepack disable pnpm >/dev/null 2>&1 || true
  fi
  $SUDO npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION"
else
  echo "setup-system: pnpm $PNPM_VERSION already present"
fi

for tool in java mvn node; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup-system: warning: '$tool' not found; the local Kafka broker and the build need it" >&2
  fi
done

echo "setup-system: done"

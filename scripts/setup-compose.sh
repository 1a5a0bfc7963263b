#!/usr/bin/env bash
# Makes a `docker compose config` validator available, for the deployment tests
# (examples/ticket-pipeline/test/ops/compose.test.ts). No Docker engine is needed:
# `config` only parses, interpolates and checks the compose files.
#
# Uses the Docker CLI's compose plugin when it is installed; otherwise installs
# Debian's `docker-compose` (v1, a Python tool that validates the same Compose
# file format: profiles, depends_on conditions, healthchecks).
#
# Safe to re-run: returns at once when a validator is present.
set -euo pipefail

if docker compose version >/dev/null 2>&1; then
  echo "setup-compose: docker compose plugin present ($(docker compose version --short 2>/dev/null || echo unknown))"
  exit 0
fi
if command -v docker-compose >/dev/null 2>&1; then
  echo "setup-compose: docker-compose present ($(docker-compose version --short 2>/dev/null || echo unknown))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup-compose: must run as root (or with sudo available) to install docker-compose" >&2
    exit 1
  fi
fi

echo "setup-compose: installing docker-compose (Debian package)"
export DEBIAN_FRONTEND=noninteractive
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  $SUDO apt-get update
fi
if ! $SUDO apt-get install -y --no-install-recommends docker-compose; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends docker-compose
fi
echo "setup-compose: $(docker-compose version --short 2>/dev/null || echo 'docker-compose installed')"

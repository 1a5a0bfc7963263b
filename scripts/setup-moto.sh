#!/usr/bin/env bash
# Installs moto's stand-alone server (`moto_server`), the S3-compatible server that the S3 tests start.
# Safe to re-run: does nothing when moto_server is already on PATH.
set -euo pipefail

MOTO_SPEC='moto[server]>=5.1,<6'

if command -v moto_server >/dev/null 2>&1; then
  echo "setup-moto: moto_server already present ($(command -v moto_server))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
fi

PYTHON="$(command -v python3 || true)"
if [ -z "$PYTHON" ]; then
  echo "setup-moto: python3 not found; scripts/setup-system.sh installs it" >&2
  exit 1
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  echo "setup-moto: installing python3-pip"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends python3-pip ||
    { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends python3-pip; }
fi

echo "setup-moto: installing $MOTO_SPEC"
# Debian's python3 is "externally managed" (PEP 668); there, --break-system-packages adds moto and its
# dependencies to the system interpreter, which is what a throw-away CI machine wants.
if ! $SUDO "$PYTHON" -m pip install --quiet --disable-pip-version-check "$MOTO_SPEC"; then
  $SUDO "$PYTHON" -m pip install --quiet --disable-pip-version-check --break-system-packages "$MOTO_SPEC"
fi
hash -r
if ! command -v moto_server >/dev/null 2>&1; then
  echo "setup-moto: moto is installed but moto_server is not on PATH (add pip's script folder to PATH)" >&2
  exit 1
fi
echo "setup-moto: done ($(command -v moto_server))"

#!/usr/bin/env bash
# The Kafka broker the integration tests use (returns at once when one is up).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../kafka/start.sh"

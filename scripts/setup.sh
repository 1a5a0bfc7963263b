#!/usr/bin/env bash
# One-time set-up of a fresh machine: system packages, pnpm, and the workspace's dependencies.
# Safe to re-run; steps already done are skipped quickly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-system.sh
bash scripts/setup-moto.sh
bash scripts/setup-compose.sh
# The Kafka client builds librdkafka from its bundled source instead of downloading a prebuilt binary,
# which works offline and links the system's OpenSSL and SASL.
export CKJS_LINKING=dynamic
pnpm install --frozen-lockfile --reporter=append-only
mvn -q -B -f tools/airlift-check/pom.xml package  # airlift's TDigest, for packages/core/test/airlift-tdigest.test.ts
# The ticket-pipeline binary that ./ticket-pipeline and `pnpm start` run (a second or two).
pnpm --filter @ticketflow/example-ticket-pipeline build

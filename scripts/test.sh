#!/usr/bin/env bash
# Every check CI runs: lint, types, the services the integration tests need, then every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== lint"
pnpm exec biome check .
echo "== types"
pnpm exec tsc -p tsconfig.json --noEmit
for service in scripts/services/*.sh; do
  [ -e "$service" ] || continue
  echo "== start $(basename "$service" .sh)"
  bash "$service"
done
echo "== tests"
pnpm exec vitest run
echo "== tests that restart services"
pnpm exec vitest run --config vitest.serial.config.ts
echo "== packages"
pnpm build
pnpm publint
pnpm attw

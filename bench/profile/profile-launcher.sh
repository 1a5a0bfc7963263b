#!/bin/sh
# Profiles the launcher's program (examples/ticket-pipeline/dist/cli.js, built by tsup) on the
# 1,000,000-ticket file, ROUNDS times without and with `--rollups hour,day`, then summarizes each
# profile with summarize.ts. It first times the same runs without the profiler. Usage: sh bench/profile/profile-launcher.sh [ROUNDS] [OUT_DIR]
# CLI=path/to/cli.js profiles another build of the same program (a copy of dist/, for instance).
set -e
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
rounds=${1:-3}
out=${2:-/tmp/ticketflow-prof}
cli=${CLI:-$root/examples/ticket-pipeline/dist/cli.js}
[ -f "$cli" ] || (cd "$root" && pnpm --filter @ticketflow/example-ticket-pipeline build)
file=$(cd "$root" && node --import tsx bench/profile/make-file.ts | tail -n 1)
rm -rf "$out" && mkdir -p "$out"
# The same runs without the profiler first: their wall time, launch to exit.
for round in $(seq 1 "$rounds"); do
  for mode in plain rollups; do
    rollups=none
    [ "$mode" = rollups ] && rollups=hour,day
    rm -rf "$out/metrics"
    began=$(date +%s%N)
    node "$cli" process --input "$file" --out "$out/metrics" --rollups "$rollups" --quiet --log-level warn
    ended=$(date +%s%N)
    echo "round $round $mode without profiler: $(( (ended - began) / 1000000 )) ms, load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
for round in $(seq 1 "$rounds"); do
  for mode in plain rollups; do
    rollups=none
    [ "$mode" = rollups ] && rollups=hour,day
    rm -rf "$out/metrics"
    echo "round $round $mode: $(uptime)" >&2
    node --cpu-prof --cpu-prof-dir="$out/$mode-$round" --cpu-prof-interval 250 "$cli" process \
      --input "$file" --out "$out/metrics" --rollups "$rollups" --quiet --log-level warn
  done
done
rm -rf "$out/metrics"
cd "$root"
for mode in plain rollups; do
  node --import tsx bench/profile/summarize.ts --top 30 "$out/$mode"-*/*.cpuprofile
done

#!/usr/bin/env bash
# Restarts ticketflow's local Kafka broker keeping its data (topics, committed
# offsets, SCRAM users), for tests that check recovery across a broker restart.
set -euo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
"$dir/stop.sh"
KAFKA_KEEP_DATA=1 "$dir/start.sh"

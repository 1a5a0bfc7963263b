#!/usr/bin/env bash
# Stops ticketflow's local Kafka broker started by start.sh. Data is kept on
# disk, so `start.sh --keep-data` (or restart.sh) brings the same topics back.
# Returns 0 when no broker is running.
# Env: KAFKA_STOP_TIMEOUT (seconds to wait after SIGTERM, default 30).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

if ! pid="$(kafka_running_pid)"; then
  rm -f "$KAFKA_PID_FILE"
  kafka_log "not running"
  exit 0
fi

# SIGTERM triggers a controlled shutdown that flushes logs and writes a clean
# shutdown marker, so a later --keep-data start skips log recovery.
kafka_log "stopping broker pid $pid"
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + STOP_TIMEOUT))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    kafka_log "still alive after ${STOP_TIMEOUT} s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    # A class-data archive being written at exit may now be truncated.
    find "$KAFKA_HOME_DIR" -maxdepth 1 -name 'kafka-cds-*.jsa.new' -delete
    break
  fi
  sleep 0.3
done
rm -f "$KAFKA_PID_FILE"

# The port must be free before a following start.sh probes it.
for _ in $(seq 1 50); do
  kafka_port_open "$KAFKA_PLAINTEXT_PORT" || break
  sleep 0.2
done
kafka_log "stopped"

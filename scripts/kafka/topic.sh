#!/usr/bin/env bash
# Creates a topic on ticketflow's local broker (no-op if it exists):
#   scripts/kafka/topic.sh NAME [PARTITIONS=3]
# Any other TopicCommand use works the same way, e.g.
#   scripts/kafka/topic.sh --list
#   scripts/kafka/topic.sh --describe --topic NAME
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,6p' "$0"
  exit 2
fi
if [ ! -d "$KAFKA_LIB_DIR" ]; then
  kafka_log "no Kafka jars in $KAFKA_LIB_DIR; run scripts/kafka/start.sh first"
  exit 1
fi

if [[ "$1" == --* ]]; then
  kafka_tool org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$KAFKA_HOST:$KAFKA_PLAINTEXT_PORT" "$@"
  exit $?
fi

kafka_tool org.apache.kafka.tools.TopicCommand \
  --bootstrap-server "$KAFKA_HOST:$KAFKA_PLAINTEXT_PORT" \
  --create --if-not-exists --topic "$1" --partitions "${2:-3}" --replication-factor 1

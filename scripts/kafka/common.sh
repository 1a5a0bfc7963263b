# shellcheck shell=bash
# shellcheck disable=SC2034 # the path variables are used by the sourcing scripts
# shellcheck disable=SC2016 # the single-quoted bash -c bodies expand in the child
# Shared by ticketflow's local Kafka scripts (start.sh, stop.sh, topic.sh).
# Sourced, not executed.

KAFKA_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$KAFKA_SCRIPT_DIR/../.." && pwd)"

# Everything generated lives here so a `git clean` or a fresh clone never
# carries broker state; TICKETFLOW_KAFKA_HOME lets a CI job move it.
KAFKA_HOME_DIR="${TICKETFLOW_KAFKA_HOME:-$REPO_ROOT/.cache/kafka}"
KAFKA_LIB_DIR="$KAFKA_HOME_DIR/lib"
KAFKA_DATA_DIR="$KAFKA_HOME_DIR/data"
KAFKA_TLS_DIR="$KAFKA_HOME_DIR/tls"
KAFKA_CONF_DIR="$KAFKA_HOME_DIR/config"
KAFKA_LOG_DIR="$KAFKA_HOME_DIR/logs"
KAFKA_PID_FILE="$KAFKA_HOME_DIR/kafka.pid"
KAFKA_SERVER_PROPS="$KAFKA_CONF_DIR/server.properties"

KAFKA_HOST="127.0.0.1"
KAFKA_PLAINTEXT_PORT=9092

kafka_log() { echo "ticketflow-kafka: $*" >&2; }

kafka_java() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || { kafka_log "java (17+) not found"; return 1; }
  fi
}

# Runs a Kafka CLI class (StorageTool, TopicCommand, ...) from the cached jars.
kafka_tool() {
  local java
  java="$(kafka_java)"
  "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$KAFKA_SCRIPT_DIR/log4j2-tools.xml" \
    -cp "$KAFKA_LIB_DIR/*" "$@"
}

# Pid of our broker if it is alive. Matching the command line against our own
# server.properties guards against a stale pid file whose number was reused,
# and finds the broker even if the pid file was lost.
kafka_is_our_broker() {
  [ -r "/proc/$1/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $KAFKA_SERVER_PROPS"
}

kafka_running_pid() {
  local pid cmd
  pid="$(cat "$KAFKA_PID_FILE" 2>/dev/null || true)"
  if [ -n "$pid" ] && kafka_is_our_broker "$pid"; then
    echo "$pid"
    return 0
  fi
  # One grep over all command lines (NUL-separated args) instead of a loop.
  while read -r cmd; do
    pid="${cmd#/proc/}"
    pid="${pid%/cmdline}"
    if kafka_is_our_broker "$pid"; then
      echo "$pid"
      return 0
    fi
  done < <(grep -lzxF -- "$KAFKA_SERVER_PROPS" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 1
}

# Sends a Kafka Metadata v4 request over bash's /dev/tcp and prints the number
# of live brokers in the answer. A KRaft broker only lists itself once it has
# registered and been unfenced, so ">= 1" means it can really serve clients.
# Needs nothing but bash and coreutils, and takes milliseconds instead of the
# seconds a JVM-based check would.
kafka_probe_brokers() {
  local port="$1"
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 2
    # size=19 | api_key=3 (Metadata) | version=4 | correlation_id=0x7466 |
    # client_id="tflw" | topics=null (-1) | allow_auto_topic_creation=false
    printf "\x00\x00\x00\x13\x00\x03\x00\x04\x00\x00\x74\x66\x00\x04tflw\xff\xff\xff\xff\x00" >&3
    # size(4) correlation_id(4) throttle_time_ms(4) brokers_count(4)
    hex="$(head -c 16 <&3 | od -An -v -tx1 | tr -d " \n")"
    [ "${hex:8:8}" = "00007466" ] || exit 3
    echo $((16#${hex:24:8}))
  ' "$KAFKA_HOST" "$port" 2>/dev/null
}

kafka_port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$KAFKA_HOST" "$1" 2>/dev/null
}

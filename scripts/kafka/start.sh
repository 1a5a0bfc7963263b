#!/usr/bin/env bash
# Starts ticketflow's local single-node Apache Kafka (KRaft) in the background.
#
#   scripts/kafka/start.sh               fresh start: wipes and re-formats the data dir
#   scripts/kafka/start.sh --keep-data   reuse existing topics/offsets (also KAFKA_KEEP_DATA=1)
#
# Returns 0 at once if a Kafka broker already answers on 127.0.0.1:9092.
# Listeners (all loopback):
#   9092 PLAINTEXT
#   9093 CONTROLLER (internal)
#   9094 SASL_PLAINTEXT  SCRAM-SHA-256 / SCRAM-SHA-512 / PLAIN, user ticketflow / ticketflow-secret
#   9095 SSL             server cert signed by .cache/kafka/tls/ca.pem (SAN: localhost, 127.0.0.1)
# Env: KAFKA_START_TIMEOUT (seconds, default 90), KAFKA_HEAP_OPTS (default -Xms256m -Xmx512m),
#      KAFKA_JVM_OPTS (extra JVM flags), TICKETFLOW_KAFKA_HOME (default <repo>/.cache/kafka).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KEEP_DATA="${KAFKA_KEEP_DATA:-0}"
for arg in "$@"; do
  case "$arg" in
    --keep-data) KEEP_DATA=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) kafka_log "unknown argument: $arg"; exit 2 ;;
  esac
done
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
SCRAM_USER="ticketflow"
SCRAM_PASSWORD="ticketflow-secret"

mkdir -p "$KAFKA_HOME_DIR"
# The cache ignores itself so nothing here can be committed by accident,
# whatever the root .gitignore says.
[ -f "$KAFKA_HOME_DIR/.gitignore" ] || echo '*' >"$KAFKA_HOME_DIR/.gitignore"

# Parallel test workers may all call start.sh; only one may boot the broker.
exec 9>"$KAFKA_HOME_DIR/start.lock"
flock 9

# Ready = the broker lists itself in metadata (registered and unfenced) and the
# SASL and SSL acceptors, which open a moment after PLAINTEXT, accept too.
already_up() {
  local n
  n="$(kafka_probe_brokers "$KAFKA_PLAINTEXT_PORT" || true)"
  [ -n "$n" ] && [ "$n" -ge 1 ] && kafka_port_open 9094 && kafka_port_open 9095
}

if already_up; then
  kafka_log "already running on $KAFKA_HOST:$KAFKA_PLAINTEXT_PORT"
  exit 0
fi
if kafka_port_open "$KAFKA_PLAINTEXT_PORT"; then
  # Something owns the port but did not answer like a ready broker: either a
  # broker still booting (wait for it below) or a foreign program (fail).
  if pid="$(kafka_running_pid)"; then
    kafka_log "broker pid $pid is still starting; waiting for it"
  else
    kafka_log "port $KAFKA_PLAINTEXT_PORT is taken by something that is not a ready Kafka broker"
    exit 1
  fi
fi

fetch_jars() {
  local stamp want
  stamp="$KAFKA_LIB_DIR/.pom.sha256"
  want="$(sha256sum "$KAFKA_SCRIPT_DIR/pom.xml" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  kafka_log "fetching Kafka jars from Maven Central (once)"
  rm -rf "$KAFKA_LIB_DIR.tmp"
  # Maven's output is kept out of the way unless it fails (it prints colour
  # escapes even in quiet batch mode).
  if ! mvn -q -B -f "$KAFKA_SCRIPT_DIR/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB_DIR.tmp" \
    >"$KAFKA_HOME_DIR/mvn.log" 2>&1; then
    cat "$KAFKA_HOME_DIR/mvn.log" >&2
    kafka_log "fetching Kafka jars failed (is Maven Central reachable?)"
    exit 1
  fi
  echo "$want" >"$KAFKA_LIB_DIR.tmp/.pom.sha256"
  rm -rf "$KAFKA_LIB_DIR"
  mv "$KAFKA_LIB_DIR.tmp" "$KAFKA_LIB_DIR"
  # A class-data archive records jar timestamps; new jars make it useless.
  find "$KAFKA_HOME_DIR" -maxdepth 1 -name 'kafka-cds-*.jsa*' -delete
}

# The CA is kept across restarts and data wipes so clients can pin
# .cache/kafka/tls/ca.pem; the server certificate is re-issued only when
# missing or close to expiry.
make_tls() {
  mkdir -p "$KAFKA_TLS_DIR"
  local d="$KAFKA_TLS_DIR"
  if [ ! -s "$d/ca.pem" ] || [ ! -s "$d/ca.key" ] \
    || ! openssl x509 -checkend 86400 -noout -in "$d/ca.pem" >/dev/null 2>&1; then
    kafka_log "generating local CA in $d"
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
      -keyout "$d/ca.key" -out "$d/ca.pem" \
      -subj "/CN=ticketflow local Kafka CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    rm -f "$d/server.pem"
  fi
  if [ ! -s "$d/server.pem" ] || [ ! -s "$d/server-keystore.pem" ] \
    || ! openssl x509 -checkend 86400 -noout -in "$d/server.pem" >/dev/null 2>&1; then
    kafka_log "issuing broker certificate (localhost, 127.0.0.1)"
    openssl req -new -nodes -newkey rsa:2048 -sha256 \
      -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" >"$d/server.ext"
    openssl x509 -req -sha256 -days 825 -in "$d/server.csr" \
      -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
    # Kafka's PEM keystore wants the unencrypted PKCS#8 key followed by the chain.
    cat "$d/server.key" "$d/server.pem" "$d/ca.pem" >"$d/server-keystore.pem"
    rm -f "$d/server.csr" "$d/server.ext"
  fi
  chmod 600 "$d"/*.key "$d/server-keystore.pem"
}

render_config() {
  mkdir -p "$KAFKA_CONF_DIR"
  sed -e "s|@DATA_DIR@|$KAFKA_DATA_DIR|g" -e "s|@TLS_DIR@|$KAFKA_TLS_DIR|g" \
    "$KAFKA_SCRIPT_DIR/server.properties.template" >"$KAFKA_SERVER_PROPS"
}

format_storage() {
  local meta="$KAFKA_DATA_DIR/kraft-combined-logs/meta.properties"
  if [ "$KEEP_DATA" = "1" ] && [ -f "$meta" ]; then
    kafka_log "keeping existing data in $KAFKA_DATA_DIR"
    return 0
  fi
  rm -rf "$KAFKA_DATA_DIR"
  mkdir -p "$KAFKA_DATA_DIR"
  # Same format as `StorageTool random-uuid` (16 random bytes, base64url, no
  # padding, never starting with '-'), made in bash to save a JVM start.
  local cluster_id="-"
  while [ "${cluster_id:0:1}" = "-" ]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  # SCRAM credentials can only be seeded into a KRaft cluster's bootstrap
  # metadata at format time (no broker is up yet to accept AlterUserScram).
  kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_SERVER_PROPS" \
    --add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" >/dev/null
}

# Class-data sharing: the first broker run records the classes it loaded into
# an archive when it stops cleanly; later starts map it and need about half the
# CPU (roughly 10 s -> 4-5 s on 2 busy cores). The archive is only valid for
# the exact jars and JVM it was made with, hence the key in its name.
cds_opts() {
  local java="$1" key jsa
  key="$(cat "$KAFKA_LIB_DIR/.pom.sha256") $(readlink -f "$java")"
  key="$(echo "$key" | sha256sum | cut -c1-12)"
  jsa="$KAFKA_HOME_DIR/kafka-cds-$key.jsa"
  # stop.sh only leaves a .new archive behind after a clean shutdown.
  if [ -s "$jsa.new" ]; then
    mv -f "$jsa.new" "$jsa"
  fi
  if [ -s "$jsa" ]; then
    echo "-XX:SharedArchiveFile=$jsa -Xlog:cds*=off"
  else
    find "$KAFKA_HOME_DIR" -maxdepth 1 -name 'kafka-cds-*.jsa*' -delete
    echo "-XX:ArchiveClassesAtExit=$jsa.new -Xlog:cds*=off"
  fi
}

launch() {
  local java cds
  java="$(kafka_java)"
  cds="$(cds_opts "$java")"
  mkdir -p "$KAFKA_LOG_DIR"
  # One file per run, so a start-up failure shows this run's lines only.
  for f in server.log stdout.log; do
    if [ -f "$KAFKA_LOG_DIR/$f" ]; then
      mv -f "$KAFKA_LOG_DIR/$f" "$KAFKA_LOG_DIR/previous-$f"
    fi
  done
  # The lock fd is closed for the broker (9>&-), else the long-lived JVM would
  # hold the start lock and block every later start.sh.
  # C1-only JIT (TieredStopAtLevel=1) cuts start-up CPU by about a third; a
  # test broker never runs long enough to profit from C2.
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS / KAFKA_JVM_OPTS / cds are lists of JVM flags
  setsid nohup "$java" ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true $cds ${KAFKA_JVM_OPTS:-} \
    -Dkafka.logs.dir="$KAFKA_LOG_DIR" \
    -Dlog4j2.configurationFile="$KAFKA_SCRIPT_DIR/log4j2-broker.xml" \
    -cp "$KAFKA_LIB_DIR/*" kafka.Kafka "$KAFKA_SERVER_PROPS" \
    >"$KAFKA_LOG_DIR/stdout.log" 2>&1 </dev/null 9>&- &
  echo $! >"$KAFKA_PID_FILE"
}

fail_with_logs() {
  kafka_log "$1"
  # The root cause is usually the first ERROR; the tail is mostly shutdown noise.
  if grep -qE '\] (ERROR|FATAL) ' "$KAFKA_LOG_DIR/server.log" 2>/dev/null; then
    echo "----- first errors in $KAFKA_LOG_DIR/server.log -----" >&2
    grep -E -A2 '\] (ERROR|FATAL) ' "$KAFKA_LOG_DIR/server.log" | head -n 12 >&2
  fi
  for f in "$KAFKA_LOG_DIR/stdout.log" "$KAFKA_LOG_DIR/server.log"; do
    if [ -s "$f" ]; then
      echo "----- last lines of $f -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
  exit 1
}

t0=$SECONDS
if ! pid="$(kafka_running_pid)"; then
  for port in 9093 9094 9095; do
    if kafka_port_open "$port"; then
      kafka_log "port $port is already in use; the broker needs 9092-9095 on $KAFKA_HOST"
      exit 1
    fi
  done
  fetch_jars
  make_tls
  render_config
  format_storage
  launch
  pid="$(cat "$KAFKA_PID_FILE")"
  kafka_log "broker pid $pid starting (logs: $KAFKA_LOG_DIR)"
fi

while :; do
  if already_up; then
    kafka_log "ready on $KAFKA_HOST:9092 (PLAINTEXT), :9094 (SASL), :9095 (SSL) after $((SECONDS - t0)) s"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$KAFKA_PID_FILE"
    fail_with_logs "broker process $pid exited during start-up"
  fi
  if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
    fail_with_logs "broker not ready after ${START_TIMEOUT} s (pid $pid left running; scripts/kafka/stop.sh ends it)"
  fi
  sleep 0.5
done

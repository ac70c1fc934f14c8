#!/usr/bin/env bash
# A production-like topology of "hosts" on this machine: Linux network namespaces joined by veth
# links to a bridge, each running what one machine would (README, "Production deployment").
#
#   root namespace: bridge hb0 10.77.0.1/24 (the clients; tests add more client addresses to it)
#   lb    10.77.0.10  HAProxy :8080, health checks on /webhooks/inapp/health, X-Forwarded-For
#   app1  10.77.0.11  Rasa :5005 (Redis tracker and lock stores) + the action server on its loopback
#   app2  10.77.0.12  the same
#   data  10.77.0.20  its own PostgreSQL 15 cluster (initdb/pg_ctl) :5432 and redis-server :6379
#
# usage: scripts/hosts.sh up                    build it all and wait until lb answers through both apps
#        scripts/hosts.sh down                  stop every process of the topology, remove it all
#        scripts/hosts.sh start-app NODE [MODEL]  (re)start Rasa + actions on app1|app2, wait for health
#        scripts/hosts.sh stop-app NODE           kill -9 every process of app1|app2
#        scripts/hosts.sh status                what runs where, and HAProxy's view of the apps
#
# Needs root, iproute2, haproxy, redis-server and /usr/lib/postgresql/15/bin. `up` is idempotent
# (it tears down what a failed or earlier run left first); `down` is safe to repeat. State, logs and
# the generated configuration live in HOSTS_STATE (default /tmp/overdue-hosts).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${HOSTS_STATE:-/tmp/overdue-hosts}"
PY="$ROOT/.venv/bin/python"
RASA="$ROOT/.venv/bin/rasa"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
SUBNET_PREFIX="10.77.0"
BRIDGE=hb0
NODES=(lb app1 app2 data)
LB_IP="$SUBNET_PREFIX.10"
DATA_IP="$SUBNET_PREFIX.20"
START_TIMEOUT="${HOSTS_START_TIMEOUT:-180}"

log() { printf '[hosts] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

node_ip() {
  case "$1" in
    lb) echo "$LB_IP" ;;
    app1) echo "$SUBNET_PREFIX.11" ;;
    app2) echo "$SUBNET_PREFIX.12" ;;
    data) echo "$DATA_IP" ;;
    *) die "unknown node $1" ;;
  esac
}

# The environment every app process gets (written once by `up`, read by start-app).
app_env() {
  local node="$1"
  cat <<EOF
DATABASE_URL=postgresql+psycopg2://bot@$DATA_IP:5432/bot
REDIS_URL=redis://$DATA_IP:6379/1
TRUSTED_PROXIES=$LB_IP
DRAIN_FILE=$STATE/$node/drain
BOT_TODAY=${BOT_TODAY:-2026-11-28}
BOT_JWT_SECRET=${HOSTS_JWT_SECRET:-hosts-test-secret-not-for-production}
RASA_PORT=5005
ACTION_PORT=5055
SANIC_HOST=127.0.0.1
SANIC_WORKERS=1
ACTION_WORKERS=1
ACTION_SERVER_TOKEN=hosts-action-server-token
AGENT_API_TOKEN=hosts-agent-api-token
RASA_TELEMETRY_ENABLED=false
TF_CPP_MIN_LOG_LEVEL=2
SQLALCHEMY_SILENCE_UBER_WARNING=1
PYTHONWARNINGS=ignore::DeprecationWarning
TICKET_LOCK_LIFETIME=${HOSTS_LOCK_LIFETIME:-10}
EOF
}

# Run a command inside a namespace in the background, its output in a log, its pid in a file.
spawn() {
  local ns="$1" name="$2"
  shift 2
  mkdir -p "$STATE/$ns"
  # exec: the pid is the process's own, and no trap of this script runs in the background job.
  (trap - ERR; exec ip netns exec "$ns" "$@" >"$STATE/$ns/$name.log" 2>&1 </dev/null) &
  echo $! >"$STATE/$ns/$name.pid"
}

# Every process inside a namespace (what `down` and stop-app end: only what this topology started).
kill_namespace() {
  local ns="$1" pids
  ip netns list 2>/dev/null | grep -qw "^$ns" || return 0
  pids="$(ip netns pids "$ns" 2>/dev/null || true)"
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086 # one pid a word
    kill -9 $pids 2>/dev/null || true
  fi
  for _ in $(seq 1 50); do
    [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && return 0
    sleep 0.1
  done
  log "warning: processes left in $ns: $(ip netns pids "$ns" | tr '\n' ' ')"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local timeout="$1" what="$2" start
  shift 2
  start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 1
  done
  log "$what after $(( SECONDS - start ))s"
}

http_ok() {  # http_ok NS URL: 200 from inside the namespace
  ip netns exec "$1" "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$2"
}

down() {
  if [ -f "$STATE/data/pg/postmaster.pid" ] && ip netns list 2>/dev/null | grep -qw "^data"; then
    ip netns exec data runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE/data/pg" -m immediate -w -t 20 stop \
      >/dev/null 2>&1 || true
  fi
  for ns in "${NODES[@]}"; do
    kill_namespace "$ns"
  done
  for ns in "${NODES[@]}"; do
    if ip netns list 2>/dev/null | grep -qw "^$ns"; then
      ip netns delete "$ns" || true
    fi
    ip link delete "vh-$ns" 2>/dev/null || true
  done
  ip link delete "$BRIDGE" 2>/dev/null || true
  rm -rf "$STATE"
  log "down"
}

network() {
  ip link add "$BRIDGE" type bridge
  ip addr add "$SUBNET_PREFIX.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for ns in "${NODES[@]}"; do
    ip netns add "$ns"
    ip link add "vh-$ns" type veth peer name eth0 netns "$ns"
    ip link set "vh-$ns" master "$BRIDGE" up
    ip -n "$ns" addr add "$(node_ip "$ns")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

data_node() {
  local pg="$STATE/data/pg"
  mkdir -p "$pg" "$STATE/data/sock"
  chown -R postgres: "$STATE/data"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$pg" -U bot -A trust -E UTF8 --no-locale >"$STATE/data/initdb.log"
  echo "host all all $SUBNET_PREFIX.0/24 trust" >>"$pg/pg_hba.conf"
  ip netns exec data runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pg" -l "$STATE/data/postgres.log" -w -t 60 \
    -o "-c listen_addresses=$DATA_IP -p 5432 -k $STATE/data/sock -c fsync=off -c max_connections=200" start \
    >/dev/null
  ip netns exec data runuser -u postgres -- "$PG_BIN/createdb" -h "$STATE/data/sock" -U bot bot
  spawn data redis redis-server --bind "$DATA_IP" --port 6379 --save "" --appendonly no --protected-mode no
  wait_for 20 "redis on data" redis-cli -h "$DATA_IP" -p 6379 ping
  log "migrating and loading the demo data into PostgreSQL on data"
  (
    set -a
    # shellcheck disable=SC1091
    . "$STATE/app.env"
    set +a
    cd "$ROOT"
    "$PY" -m bot migrate >"$STATE/data/migrate.log" 2>&1
    "$PY" -m bot seed --demo >>"$STATE/data/migrate.log" 2>&1
  )
}

# Rasa's endpoints on an app node: those of `make run-scaled` (endpoints.scaled.yml: Redis tracker
# and lock stores, the local action server) without its RabbitMQ event broker, which this topology
# does not run.
endpoints() {
  sed '/^event_broker:/,$d' "$ROOT/endpoints.scaled.yml" >"$STATE/endpoints.yml"
  grep -q '^tracker_store:' "$STATE/endpoints.yml" || die "endpoints.scaled.yml has no tracker_store"
}

lb_node() {
  cat >"$STATE/haproxy.cfg" <<EOF
global
    maxconn 2048
    stats socket $STATE/lb/haproxy.sock mode 600 level admin

defaults
    mode http
    option forwardfor
    option redispatch
    retries 3
    # A reused keep-alive connection the app closed at the same moment (Sanic's keep-alive timeout,
    # a restart) answers nothing: send the request again on another connection. The app never got it.
    retry-on conn-failure empty-response
    timeout connect 1s
    timeout client 30s
    timeout server 15s
    timeout http-request 10s
    # A Rasa worker busy with a burst (or sharing the cores with a starting neighbour) may take
    # over a second to answer its health check; that must not mark a live node down.
    timeout check 3s

frontend assistant
    bind $LB_IP:8080
    default_backend rasa

backend rasa
    balance roundrobin
    option httpchk
    http-check send meth GET uri /webhooks/inapp/health
    http-check expect status 200
    # Which node answered (the tests use it to see conversations move between nodes).
    http-response set-header X-Served-By %s
    # No on-marked-down shutdown-sessions (as deploy/haproxy.cfg): a node marked down because it drains
    # finishes the requests it has; that option cut one off with a 502 in a rolling update (2026-12-02).
    # A dead node's requests fail by themselves (reset, or the client's timeout) and are retried.
    default-server inter 1s fastinter 500ms fall 3 rise 2 check
    server app1 $(node_ip app1):5005
    server app2 $(node_ip app2):5005
EOF
  haproxy -c -q -f "$STATE/haproxy.cfg" || die "haproxy.cfg is invalid"
  spawn lb haproxy haproxy -db -f "$STATE/haproxy.cfg"
}

start_app() {
  local node="$1" model="${2:-$ROOT/models}"
  case "$node" in app1|app2) ;; *) die "start-app: app1 or app2, not $node" ;; esac
  [ -d "$STATE" ] || die "the topology is not up (scripts/hosts.sh up)"
  kill_namespace "$node"
  rm -f "$STATE/$node/drain"
  local -a env_args
  mapfile -t env_args < <(app_env "$node")
  # The nodes share this machine's cores, where real hosts have their own: a starting node (loading
  # TensorFlow and the model takes a core for half a minute) runs at a low priority until it is
  # healthy (wait_app), so it does not slow the node that serves meanwhile as another machine would not.
  spawn "$node" actions nice -n 10 env -C "$ROOT" "${env_args[@]}" "$PY" -m bot.rasa_ext.action_server \
    --port 5055 --domain domain
  spawn "$node" rasa nice -n 10 env -C "$ROOT" "${env_args[@]}" "$RASA" run --interface 0.0.0.0 --port 5005 \
    --credentials credentials.yml --endpoints "$STATE/endpoints.yml" --model "$model"
}

# Every thread of every process of a node back to the normal priority (niceness is per thread on Linux).
normal_priority() {
  local node="$1" pid task
  for pid in $(ip netns pids "$node" 2>/dev/null || true); do
    for task in /proc/"$pid"/task/*; do
      renice -n 0 -p "${task##*/}" >/dev/null 2>&1 || true
    done
  done
}

wait_app() {
  local node="$1"
  wait_for "$START_TIMEOUT" "$node healthy" http_ok "$node" "http://$(node_ip "$node"):5005/webhooks/inapp/health" \
    || { tail -n 30 "$STATE/$node/rasa.log" >&2; return 1; }
  normal_priority "$node"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
  command -v haproxy >/dev/null || die "haproxy is not installed (apt-get install -y haproxy)"
  command -v redis-server >/dev/null || die "redis-server is not installed"
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL binaries in $PG_BIN"
  [ -x "$RASA" ] || die "no $RASA (make install)"
  compgen -G "$ROOT/models/*.tar.gz" >/dev/null || die "no trained model in models/ (make train)"
  down 2>/dev/null || true
  trap 'trap - ERR; log "up failed; tearing down"; down; exit 1' ERR
  mkdir -p "$STATE"
  app_env data >"$STATE/app.env"
  network
  data_node
  endpoints
  start_app app1
  start_app app2
  lb_node
  wait_app app1
  wait_app app2
  wait_for 30 "lb forwarding" http_ok data "http://$LB_IP:8080/webhooks/inapp/health"
  trap - ERR
  log "up: lb http://$LB_IP:8080/webhooks/inapp/webhook (state in $STATE)"
}

status() {
  for ns in "${NODES[@]}"; do
    printf '%-5s %s pids: %s\n' "$ns" "$(node_ip "$ns")" "$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
  done
  if [ -S "$STATE/lb/haproxy.sock" ]; then
    "$PY" - "$STATE/lb/haproxy.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
for line in data.decode().splitlines():
    f = line.split(",")
    if len(f) > 17 and f[0] == "rasa" and f[1] not in ("BACKEND",):
        print(f"haproxy {f[1]}: {f[17]}")
EOF
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  start-app)
    [ $# -ge 2 ] || die "usage: hosts.sh start-app app1|app2 [MODEL]"
    start_app "$2" "${3:-}"
    wait_app "$2"
    ;;
  stop-app)
    [ $# -ge 2 ] || die "usage: hosts.sh stop-app app1|app2"
    case "$2" in app1|app2) kill_namespace "$2" ;; *) die "stop-app: app1 or app2" ;; esac
    ;;
  status) status ;;
  *)
    echo "usage: scripts/hosts.sh up|down|start-app NODE [MODEL]|stop-app NODE|status" >&2
    exit 64
    ;;
esac

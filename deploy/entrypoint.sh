#!/bin/sh
# One image, one role per container: `entrypoint.sh ROLE` runs what `make serve` runs for that role
# (Makefile), bound to 0.0.0.0 inside the container. `entrypoint.sh healthcheck` is the image's
# HEALTHCHECK: it probes the health endpoint of the role this container was started with.
#
#   rasa       the Rasa server (in-app channel); SANIC_WORKERS worker processes, shared stores in Redis
#   actions    the action server (token required)
#   console    the agent console
#   analytics  the analytics consumer (Rasa's events from RabbitMQ into the database)
#   tickets    the handoff delivery worker (needs HANDOFF_WEBHOOK_URL)
#   notices    one overdue-notice run (schedule it hourly in the daytime: CronJob, cron)
#   migrate    create or upgrade the database schema (once, before the others start)
set -eu

role="${1:-}"
role_file=/tmp/assistant-role

case "$role" in
  rasa|actions|console|analytics|tickets|notices|migrate)
    printf '%s\n' "$role" > "$role_file"
    ;;
esac

case "$role" in
  rasa)
    exec rasa run --interface 0.0.0.0 --port "${RASA_PORT:-5005}" --credentials credentials.yml \
      --endpoints deploy/endpoints.production.yml --model models
    ;;
  actions)
    exec python -m bot.rasa_ext.action_server --host 0.0.0.0 --port "${ACTION_PORT:-5055}" --domain domain
    ;;
  console)
    exec python -m bot console --host 0.0.0.0 --port "${CONSOLE_PORT:-5010}"
    ;;
  analytics)
    exec python -m bot analytics consume
    ;;
  tickets)
    exec python -m bot tickets worker
    ;;
  notices)
    exec python -m bot notices run
    ;;
  migrate)
    exec python -m bot migrate
    ;;
  healthcheck)
    # Readiness of the role this container runs; roles without an HTTP server are healthy while alive.
    case "$(cat "$role_file" 2>/dev/null || true)" in
      rasa) url="http://127.0.0.1:${RASA_PORT:-5005}/webhooks/inapp/health" ;;
      actions) url="http://127.0.0.1:${ACTION_PORT:-5055}/health" ;;
      console) url="http://127.0.0.1:${CONSOLE_PORT:-5010}/health" ;;
      *) exit 0 ;;
    esac
    exec python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' "$url"
    ;;
  *)
    echo "usage: entrypoint.sh rasa|actions|console|analytics|tickets|notices|migrate|healthcheck" >&2
    exit 64
    ;;
esac

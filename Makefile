# Overdue-notice support assistant. `make run` to chat, `make test` for every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := .venv
PY         := $(VENV)/bin/python
RASA       := $(VENV)/bin/rasa
STAMP      := $(VENV)/.installed
# The domain is a directory, one file per conversation area (Rasa and the action server merge them).
DOMAIN     := domain

export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
# Development default; production (BOT_ENV=production) refuses to start with it.
export ACTION_SERVER_TOKEN ?= dev-only-action-server-token-change-me
# Lets the agent console (python -m bot console) write to customers through the Rasa server's agent API.
export AGENT_API_TOKEN ?= dev-only-agent-api-token-change-me
export CONSOLE_PORT ?= 5010
# Rasa's telemetry and error reporting phone home; a bank's network (and this one) blocks that.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONWARNINGS := ignore::DeprecationWarning
# The action server binds to loopback only (rasa_sdk reads SANIC_HOST).
export SANIC_HOST ?= 127.0.0.1
RASA_HOST ?= 127.0.0.1

.PHONY: help install db train run run-scaled serve test test-hosts test-python validate test-stories eval-nlu lint bench constraints clean

help:
	@echo "make run       set everything up on a fresh machine and start the bot (Ctrl-C stops it)"
	@echo "make run-scaled  the same with several Rasa workers sharing Redis (production setup)"
	@echo "make test      set everything up and run every test (pytest, data validation, test stories)"
	@echo "make test-hosts  failover, rolling model update, client addresses over network namespaces (root)"
	@echo "make eval-nlu  intent precision/recall/F1 per language on the held-out set"
	@echo "make bench     load, latency, training, start-up and service benchmarks (bench/results.md)"
	@echo "make lint      ruff and mypy"
	@echo "make constraints  re-pin constraints.txt to exactly what is installed in .venv"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || "$$(scripts/find_python310.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

db: install
	$(PY) -m bot migrate
	$(PY) -m bot seed --demo

# `rasa train` reuses the latest model when data and config are unchanged.
train: install
	$(RASA) train --domain $(DOMAIN) --quiet

ENDPOINTS ?= endpoints.yml
# Where `python -m bot analytics consume` reads Rasa's events: the SQL event broker table of
# endpoints.yml; empty for RabbitMQ (endpoints.scaled.yml: RABBITMQ_URL, ANALYTICS_QUEUE).
ANALYTICS_SOURCE ?= --from-sql sqlite:///var/events.db

# One Rasa process; conversations in memory, locks in memory (the embedded default).
run: db train serve

# Several Rasa workers (SANIC_WORKERS) sharing conversations, per-conversation locks and rate
# limits in Redis (REDIS_URL; endpoints.scaled.yml). Development defaults below.
run-scaled: ENDPOINTS = endpoints.scaled.yml
run-scaled: ANALYTICS_SOURCE =
run-scaled: export SANIC_WORKERS ?= 2
run-scaled: export ACTION_WORKERS ?= 1
run-scaled: export REDIS_URL ?= redis://127.0.0.1:6379/1
run-scaled: db train serve

serve:
	@echo "Starting the action server on 127.0.0.1:$(ACTION_PORT) and Rasa on $(RASA_HOST):$(RASA_PORT) ($(ENDPOINTS)) ..."
	@echo "Chat page (anonymous visitor): http://$(RASA_HOST):$(RASA_PORT)/webhooks/inapp/chat"
	@echo "Chat page (demo customer C1001, token valid 12 h): http://$(RASA_HOST):$(RASA_PORT)/webhooks/inapp/chat#token=$$($(PY) -m bot token C1001 2>/dev/null)"
	@echo "Agent console: http://127.0.0.1:$(CONSOLE_PORT)/  (create an account first: $(PY) -m bot agents add NAME --role agent|supervisor)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(PY) -m bot.rasa_ext.action_server --port $(ACTION_PORT) --domain $(DOMAIN) & \
	  $(PY) -m bot console --port $(CONSOLE_PORT) & \
	  $(PY) -m bot analytics consume $(ANALYTICS_SOURCE) & \
	  if [ -n "$$HANDOFF_WEBHOOK_URL" ]; then $(PY) -m bot tickets worker & fi; \
	  $(RASA) run --interface $(RASA_HOST) --port $(RASA_PORT) --credentials credentials.yml \
	    --endpoints $(ENDPOINTS) --model models & \
	  wait

test: db train test-python validate test-stories

test-python: install
	$(PY) -m pytest -q

validate: install
	$(RASA) data validate --domain $(DOMAIN) --fail-on-warnings --quiet

test-stories: train
	$(RASA) test core --stories tests/stories --fail-on-prediction-errors --out results/stories --quiet

eval-nlu: train
	$(PY) scripts/eval_nlu.py
	$(PY) scripts/eval_real.py

# Not part of `make test`: one run writes every figure of bench/results.md (load, soak, start-up,
# training, service latency; then the lock wait and the latency against session length, each in
# its own section). BENCH_ARGS are passed to bench/run.py (e.g. --baseline-model PATH).
BENCH_ARGS ?=
bench: db train
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/lock_wait.py --write
	$(PY) bench/session_length.py --repeat 3 --stock-repeat 1 --write-results

# Not part of `make test` (needs root, ~5 minutes): the lb/app1/app2/data network namespaces of
# scripts/hosts.sh with failover, rolling model update and client-address tests (tests/hosts/);
# figures in bench/hosts.json. `make train` first: the apps serve models/ and the roll reuses its cache.
test-hosts: train
	RUN_HOSTS_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/hosts
	@$(PY) -c 'import json; print(json.dumps(json.load(open("bench/hosts.json")), indent=2, ensure_ascii=False))'

lint: install
	$(VENV)/bin/ruff check bot actions tests scripts bench
	$(VENV)/bin/ruff format --check bot actions tests scripts bench
	$(VENV)/bin/mypy

# After changing a dependency in pyproject.toml: install it into .venv (pip install -e ".[dev]"
# without -c, or with the new pin), run `make test`, then record the exact versions here.
constraints:
	$(PY) -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf results .pytest_cache .mypy_cache .ruff_cache

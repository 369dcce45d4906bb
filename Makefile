# Crypto Tracker. `make run` to track, `make test` to test; `make help` lists the rest.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
HOST   ?= 127.0.0.1
PORT   ?= 8000
WEB_CONCURRENCY ?= 2
PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus
DEMO_EXCHANGE_PORT ?= 8765
DEMO_DATABASE_URL ?= sqlite:///var/demo.sqlite3
ENV_FILE ?= .env
# The browser tests' Chromium: Debian's package, or another one named by TRACKER_CHROMIUM.
CHROMIUM ?= $(or $(TRACKER_CHROMIUM),/usr/bin/chromium)
SUDO     := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo))

.DEFAULT_GOAL := help
.PHONY: help run demo test chromium screenshots node venv requirements env migrations makemigrations admin fixtures server \
        scheduler worker beat prod static lint format bench lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

run: migrations static  ## install, migrate, seed the pairs and track; dashboard on http://127.0.0.1:8000/
	$(MANAGE) runtracker --host $(HOST) --port $(PORT)

demo: requirements env  ## the tracker against a local exchange replaying recorded prices, offline
	@$(BIN)/python -m tests.fakes.kraken --port $(DEMO_EXCHANGE_PORT) \
	    --replay data/btc-usd-1h.csv --speed 3600 & fake=$$!; \
	trap 'kill $$fake 2>/dev/null' EXIT INT TERM; \
	export DATABASE_URL=$(DEMO_DATABASE_URL) TRACKER_FETCH_INTERVAL=2 \
	    TRACKER_EXCHANGE_URL=http://127.0.0.1:$(DEMO_EXCHANGE_PORT); \
	$(MANAGE) migrate --no-input -v0 && $(MANAGE) collectstatic --no-input -v0 && \
	$(MANAGE) runtracker --host $(HOST) --port $(PORT)

test: requirements node chromium  ## the test suite (PYTEST_ARGS to pass options, e.g. PYTEST_ARGS='-m "not slow"')
	TRACKER_ENV_FILE=/dev/null $(BIN)/pytest $(PYTEST_ARGS)

chromium: $(CHROMIUM)  ## Debian's Chromium for the browser tests, if missing (apt-get; sudo unless root)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium fonts-dejavu-core
	@test -x $@ || { echo "no Chromium at $@ after installing Debian's (/usr/bin/chromium)" >&2; exit 1; }

screenshots: requirements chromium  ## refresh docs/screenshots/ from the browser tests
	TRACKER_ENV_FILE=/dev/null TRACKER_SCREENSHOTS=1 $(BIN)/pytest tests/browser $(PYTEST_ARGS)

node: node_modules/.installed  ## the suite's TypeScript tools (openapi-typescript, tsc), by npm ci
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(BIN)/python  ## the virtual environment in .venv
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

requirements: $(VENV)/.installed  ## install the locked dependencies into .venv
$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	touch $@

env: $(ENV_FILE)  ## write .env with a fresh DJANGO_SECRET_KEY (kept if it exists), owner-only
	@chmod 600 $(ENV_FILE)
# umask first: the secret is never readable by others, not even for a moment.
$(ENV_FILE):
	@umask 077; \
	$(PYTHON) -c "import secrets; print('DJANGO_SECRET_KEY=' + secrets.token_urlsafe(50))" > $@
	@echo "wrote $@ with a new DJANGO_SECRET_KEY"

migrations: requirements env  ## create or upgrade the database
	$(MANAGE) migrate --no-input

makemigrations: requirements  ## write migrations for changed models
	$(MANAGE) makemigrations

admin: migrations  ## create the first administrator from TRACKER_ADMIN_USER / TRACKER_ADMIN_PASSWORD
	$(MANAGE) createadmin

fixtures: migrations  ## seed TRACKER_EXCHANGES and their TRACKER_PAIRS, checked against the markets
	$(MANAGE) seedpairs

server: migrations static  ## the API server alone: uvicorn, WEB_CONCURRENCY worker processes (2)
	@# The workers' Prometheus counters, shared through files; emptied for each start.
	rm -rf $(PROMETHEUS_MULTIPROC_DIR) && mkdir -p $(PROMETHEUS_MULTIPROC_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(PROMETHEUS_MULTIPROC_DIR) \
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --no-proxy-headers \
	    --workers $(WEB_CONCURRENCY) --timeout-graceful-shutdown 10

scheduler: migrations  ## the poller alone, every TRACKER_FETCH_INTERVAL seconds
	$(MANAGE) runscheduler

# TRACKER_SCHEDULER=celery: the work of the embedded scheduler, in Celery workers and one beat.
CELERY_QUEUES ?= poll,alerts,housekeeping,stream
WORKER_PROMETHEUS_DIR ?= $(CURDIR)/var/prometheus-worker
worker: requirements  ## a Celery worker on the queues poll, alerts, housekeeping, stream (REDIS_URL); its /metrics on TRACKER_WORKER_METRICS_PORT
	@# Its pool processes' Prometheus counters, in files of its own, emptied for each start; served
	@# on http://<host>:$$TRACKER_WORKER_METRICS_PORT/metrics when that is set (environment or .env).
	rm -rf $(WORKER_PROMETHEUS_DIR) && mkdir -p $(WORKER_PROMETHEUS_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(WORKER_PROMETHEUS_DIR) TRACKER_SCHEDULER=celery \
	$(BIN)/celery -A config worker -Q $(CELERY_QUEUES) --loglevel INFO

beat: migrations  ## the Celery beat, schedules in the database (django-celery-beat)
	TRACKER_SCHEDULER=celery $(BIN)/celery -A config beat \
	    --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel INFO

prod: requirements env  ## web server, worker and beat on this machine, on DATABASE_URL (PostgreSQL) and REDIS_URL
	@TRACKER_SCHEDULER=celery $(MANAGE) shell -c "import sys; from django.conf import settings as s; \
	    sys.exit(not (s.DATABASES['default']['ENGINE'].endswith('postgresql') and s.CELERY_BROKER_URL))" \
	    2>/dev/null || { echo "make prod needs DATABASE_URL=postgres://... and REDIS_URL=redis://... \
	    in the environment or .env (see README, Production)" >&2; exit 1; }
	@# The web server's /metrics also reads the worker's counters: one directory on one machine.
	@# The worker and the beat are started again when they exit (a broker that drops the
	@# connection at the wrong moment can end a Celery worker), as a process manager would.
	@export TRACKER_SCHEDULER=celery PROMETHEUS_MULTIPROC_DIR=$(PROMETHEUS_MULTIPROC_DIR); \
	rm -rf $$PROMETHEUS_MULTIPROC_DIR && mkdir -p $$PROMETHEUS_MULTIPROC_DIR; \
	$(MANAGE) migrate --no-input && $(MANAGE) collectstatic --no-input -v0 || exit 1; \
	supervised() { trap 'kill $$child 2>/dev/null; wait $$child; exit' TERM; \
	    while :; do "$$@" & child=$$!; wait $$child; status=$$?; \
	        echo "make prod: celery $$4 exited ($$status); starting it again in 2 s" >&2; \
	        sleep 2; done; }; \
	trap 'kill $$web $$worker $$beat 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --no-proxy-headers \
	    --workers $(WEB_CONCURRENCY) --timeout-graceful-shutdown 10 & web=$$!; \
	supervised $(BIN)/celery -A config worker -Q $(CELERY_QUEUES) --loglevel INFO & worker=$$!; \
	supervised $(BIN)/celery -A config beat \
	    --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel INFO & beat=$$!; \
	wait -n; echo "a process of make prod stopped; stopping the others" >&2

prod: SHELL := /bin/bash

static: requirements
	$(MANAGE) collectstatic --no-input -v0

lint: requirements  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: requirements  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: requirements  ## benchmarks, with their baselines
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/history.py
	$(BIN)/python bench/poll.py
	$(BIN)/python bench/poll_celery.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/dashboard.py

lock: requirements  ## re-resolve requirements.lock (and the image's requirements-runtime.lock)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	    --quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	    --quiet -o requirements-runtime.lock

clean:  ## remove the virtual environment, node_modules and local data (keeps .env)
	rm -rf $(VENV) var node_modules

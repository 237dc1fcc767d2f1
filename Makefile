# Cartagora — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
FLASK := .venv/bin/flask
# the shared DansMaRue extract, shipped compressed (Ville de Paris, ODbL)
DEMO_REPORTS ?= data/dans-ma-rue_sample_2023-2024.csv.gz
HOST ?= 127.0.0.1
PORT ?= 5000

GUNICORN := .venv/bin/gunicorn --workers 2 --bind $(HOST):$(PORT) --access-logfile - --graceful-timeout 20 --timeout 120
.PHONY: run test install install-test install-bench db secret migrate seed stop bench lint serve dev

## make run: install, start the database, migrate, load reference + demo data, serve on :5000
## with gunicorn (2 workers), the way production runs
run: install secret db seed
	$(GUNICORN) 'app:create_app()'

## make test: install (with Chromium), start the database, run the whole suite
test: install-test db
	scripts/test.sh

install:
	scripts/install.sh

install-test:
	scripts/install.sh --browser

install-bench:
	scripts/install.sh --bench

db:
	scripts/db.sh start

## make pgbouncer: PgBouncer (transaction pooling) in front of the private cluster; serve through it
## with DATABASE_URL=$$(cat var/pgbouncer_url) DATABASE_POOLER=pgbouncer make serve (README, Deploying)
.PHONY: pgbouncer
pgbouncer: db
	scripts/db.sh pgbouncer

# the session-signing secret: random, written once to var/secret_key (mode 0600), then reused
secret:
	@.venv/bin/python -c 'from app.config import write_secret; write_secret() and print("secret: wrote var/secret_key")'

migrate: db secret
	$(FLASK) db upgrade

# Reference geography, categories and addresses, then the DansMaRue extract as demo data.
# Every step is idempotent: a second `make run` loads nothing twice.
seed: migrate
	$(FLASK) geo load-areas
	$(FLASK) geo load-categories
	$(FLASK) geo load-addresses
	@if [ -f "$(DEMO_REPORTS)" ]; then $(FLASK) import dansmarue --quiet-if-loaded "$(DEMO_REPORTS)"; \
	else echo "seed: $(DEMO_REPORTS) not found, no demo reports"; fi
	$(FLASK) budget import-winners data/bp_projets_gagnants.csv
	$(FLASK) missions demo
	$(FLASK) demo history

## make serve: serve without installing or loading anything (a deployed checkout)
serve: secret db
	$(GUNICORN) 'app:create_app()'

## make dev: Flask's reloading development server, for working on the code
dev: install secret db
	$(FLASK) run --debug --host $(HOST) --port $(PORT)

## make opendata: write the open-data exports (GeoJSON, DansMaRue CSV, GeoPackage, areas,
## statistics, manifest) to var/open-data/ (CARTAGORA_OPEN_DATA_DIR); nightly from a timer.
## Read-only: it never migrates (a deploy does), so a nightly run cannot change the schema.
.PHONY: opendata
opendata: install secret db
	$(FLASK) opendata export

## make bench: the issue-18 benchmarks at 5M (bench/README.md); BENCH="reads --rounds 10" picks a subcommand
bench: install-bench db secret
	.venv/bin/python -m bench $(BENCH)

lint:
	.venv/bin/ruff check app geo tests bench migrations

stop:
	scripts/db.sh stop

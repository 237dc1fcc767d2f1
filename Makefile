# Cartagora — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
FLASK := .venv/bin/flask
# the shared DansMaRue extract, shipped compressed (Ville de Paris, ODbL)
DEMO_REPORTS ?= data/dans-ma-rue_sample_2023-2024.csv.gz
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-test install-bench db migrate seed stop bench lint serve

## make run: install, start the database, migrate, load reference + demo data, serve on :5000
run: install db seed
	$(FLASK) run --host $(HOST) --port $(PORT)

## make test: install (with Chromium), start the database, run the whole suite
test: install-test db
	.venv/bin/python -m pytest -q

install:
	scripts/install.sh

install-test:
	scripts/install.sh --browser

install-bench:
	scripts/install.sh --bench

db:
	scripts/db.sh start

migrate: db
	$(FLASK) db upgrade

# Reference geography, categories and addresses, then the DansMaRue extract as demo data.
# Every step is idempotent: a second `make run` loads nothing twice.
seed: migrate
	$(FLASK) geo load-areas
	$(FLASK) geo load-categories
	$(FLASK) geo load-addresses
	@if [ -f "$(DEMO_REPORTS)" ]; then $(FLASK) import dansmarue --quiet-if-loaded "$(DEMO_REPORTS)"; \
	else echo "seed: $(DEMO_REPORTS) not found, no demo reports"; fi
	$(FLASK) demo history

## make serve: the production way, gunicorn with 2 workers
serve: install db
	.venv/bin/gunicorn -w 2 -b $(HOST):$(PORT) 'app:create_app()'

bench: install-bench db seed
	.venv/bin/python -m bench

lint:
	.venv/bin/ruff check app geo tests bench migrations

stop:
	scripts/db.sh stop

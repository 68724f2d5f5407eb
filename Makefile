# Civic — common tasks. `make demo` and `make test` work on a fresh machine.
PYTHON ?= $(shell command -v python3.12 || command -v python3.13 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run demo test test-fast ci bench lint messages worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: install
	$(BIN)/python manage.py migrate --no-input
	SITE_URL=http://localhost:$(PORT) $(BIN)/python manage.py seed_demo
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

run: install
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

worker: install
	$(BIN)/celery -A civic worker --loglevel=info

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not browser and not stack"

lint: install
	$(BIN)/ruff check .

messages:
	$(BIN)/python manage.py makemessages -l fr --ignore=$(VENV) --ignore=bench
	$(BIN)/python scripts/po_fill.py locale/fr/LC_MESSAGES/django.po locale/fr/translations.json
	$(BIN)/python manage.py compilemessages -l fr --ignore=$(VENV)

ci:
	bash .ci/run

bench: install
	$(BIN)/python bench/autosave.py
	$(BIN)/python bench/analyze.py
	$(BIN)/python bench/negotiate.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

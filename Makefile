# Civic — common tasks. `make demo` and `make test` work on a fresh machine.
# The first Python >= 3.12 that runs: on PATH, or installed by pyenv but not activated.
PYTHON ?= $(shell for c in python3.12 python3.13 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null) python3; do \
	if $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$c; break; fi; done)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run demo test test-fast ci bench lint messages worker clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Civic needs Python 3.12 or newer (python3.12 on PATH)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python manage.py compilemessages -l fr --ignore=$(VENV) -v0

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
	$(BIN)/ruff format --check .

messages:
	# Extracts every string of the project into locale/fr/LC_MESSAGES/django.po, where the French
	# translations live (open it in Poedit or Weblate), and refuses untranslated or fuzzy entries.
	$(BIN)/python manage.py makemessages -l fr --no-location --ignore=$(VENV) --ignore=bench --ignore=tests
	@out=$$(msgfmt --check --statistics -o /dev/null locale/fr/LC_MESSAGES/django.po 2>&1) || { echo "$$out"; exit 1; }; \
		echo "$$out" | tail -1; \
		if echo "$$out" | grep -Eq 'untranslated|fuzzy'; then echo "django.po: translate the entries above"; exit 1; fi
	$(BIN)/python manage.py compilemessages -l fr --ignore=$(VENV)

ci:
	bash .ci/run

bench: install
	$(BIN)/python bench/autosave.py
	$(BIN)/python bench/analyze.py
	$(BIN)/python bench/negotiate.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

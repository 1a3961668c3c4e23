# Convodesk — the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
export PYTHONDONTWRITEBYTECODE=1

.PHONY: install run test test-sqlite test-postgres lint format messages bench bench-quick demo

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m convodesk.keyfile
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo --if-empty --organisation-only
	$(PY) manage.py serve

test: install
	$(PY) -m convodesk.devtools.testrun

lint: install
	$(VENV)/bin/ruff check convodesk tests benchmarks
	$(VENV)/bin/ruff format --check convodesk tests benchmarks

format: install
	$(VENV)/bin/ruff format convodesk tests benchmarks
	$(VENV)/bin/ruff check --fix convodesk tests benchmarks

messages: install
	cd convodesk && ../$(PY) ../manage.py makemessages -l es --ignore '*/migrations/*' && ../$(PY) ../manage.py compilemessages

bench: install
	$(PY) -m benchmarks.run --full

bench-quick: install
	$(PY) -m benchmarks.run --quick

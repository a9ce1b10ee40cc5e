# Two commands matter: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export MDM_DEMO_DIR ?= .demo

.PHONY: demo test install dev browser lint fmt typecheck schema clean bench wheel-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

demo: install
	$(BIN)/mdm demo

# The GraphiQL page is tested in Debian's Chromium (Playwright drives it; its own browser
# downloads cannot work here).
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "make: /usr/bin/chromium missing (apt-get install -y chromium as root)" >&2

# Every CPU, one test file at a time per worker (a file's servers and databases are its
# own). pytest exits 5 when it collected no test: that fails too.
test: dev browser
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: dev
	$(BIN)/ruff check mdm matchers tests bench seed migrations examples

fmt: dev
	$(BIN)/ruff format mdm matchers tests bench seed migrations examples
	$(BIN)/ruff check --fix mdm matchers tests bench seed migrations examples

typecheck: dev
	$(BIN)/mypy

schema: install
	$(BIN)/mdm schema export

bench: dev
	$(BIN)/python bench/crosswalk.py

# The installed hub: build the wheel, install it in a fresh venv, run the CLI outside the
# checkout (CI runs it after the suite).
wheel-check:
	PYTHON=$(PYTHON) .ci/wheel-check

clean:
	rm -rf $(VENV) $(MDM_DEMO_DIR) .pytest_cache

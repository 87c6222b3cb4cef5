# VIGILEOS Analytics: the two commands of the README, and a few helpers.
#   make demo   set up, install Chromium (it prints the report's PDF), simulate a fleet into
#               the embedded store, print the fleet summary, write the monthly availability report
#   make test   set up, install the system packages the tests need, lint, type check, run the whole suite
#   make check  the fast lane: lint, type check and the unit tests in parallel
# Python packages are pinned by constraints.txt: the versions the test suite ran with.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_EQUIPMENT ?= 25
DEMO_DAYS ?= 30

.PHONY: demo test check lint test-fast setup system-deps demo-deps bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP) demo-deps
	$(BIN)/vigileos simulate --equipment $(DEMO_EQUIPMENT) --days $(DEMO_DAYS)
	$(BIN)/vigileos summary
	$(BIN)/vigileos availability --start now-$(DEMO_DAYS)d
	$(BIN)/vigileos report monthly_availability
	@echo "Next: $(BIN)/vigileos lab opens the getting-started notebook on this store in JupyterLab."

demo-deps:
	@bash scripts/install-system-deps.sh chromium

system-deps:
	@bash scripts/install-system-deps.sh

# Two processes, one test file each at a time (module-scoped servers start once per file).
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

# Lint and type check: part of make test and make check.
lint: $(STAMP)
	$(BIN)/ruff check vigileos_analytics tests bench scripts
	$(BIN)/mypy

# The edit-test loop: lint, types, and the unit tests in parallel (no server, browser,
# kernel or wheel build). About a minute on 2 cores.
check: lint
	$(BIN)/python -m pytest -n auto -q --durations=5 $(FAST)

FAST := -m "not slow and not browser and not notebook and not influxdb and not wheel"

# The fast lane without lint, one process: for a debugger or -k.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(FAST)

bench: $(STAMP) system-deps
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) data reports/*/ test-artifacts .pytest_cache

# VIGILEOS Analytics: the two commands of the README, and a few helpers.
#   make demo   set up, simulate a fleet into the embedded store, print the fleet summary,
#               write the monthly availability report
#   make test   set up, install the system packages the tests need, run the whole suite

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_EQUIPMENT ?= 25
DEMO_DAYS ?= 30

.PHONY: demo test setup system-deps bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/vigileos simulate --equipment $(DEMO_EQUIPMENT) --days $(DEMO_DAYS)
	$(BIN)/vigileos summary
	$(BIN)/vigileos availability --start now-$(DEMO_DAYS)d
	$(BIN)/vigileos report monthly_availability

system-deps:
	@bash scripts/install-system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

bench: $(STAMP) system-deps
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) data reports/*/ test-artifacts .pytest_cache

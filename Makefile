# VIGILEOS Analytics: the two commands of the README, and a few helpers.
#   make demo   set up, install Chromium (it prints the report's PDF), simulate a fleet into
#               the embedded store, print the fleet summary, write the monthly availability report
#   make test   set up, install the system packages the tests need, run the whole suite
# Python packages are pinned by constraints.txt: the versions the test suite ran with.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_EQUIPMENT ?= 25
DEMO_DAYS ?= 30

.PHONY: demo test test-fast setup system-deps demo-deps bench clean

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

demo-deps:
	@bash scripts/install-system-deps.sh chromium

system-deps:
	@bash scripts/install-system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

# The edit-test loop: no server, browser, kernel or wheel build.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser and not notebook and not influxdb and not wheel" -q

bench: $(STAMP) system-deps
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) data reports/*/ test-artifacts .pytest_cache

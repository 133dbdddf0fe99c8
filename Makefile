# The two commands a new user runs:
#   make demo   - set up, fit a model on the bundled example, print the leaderboard
#   make test   - set up with test dependencies, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# torch is pinned to the CPU build through constraints.txt (a looser pin pulls a multi-GB CUDA build)
INSTALL := $(PIP) install -q -c constraints.txt

.PHONY: demo test test-all install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(INSTALL) -e ".[all,test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed

demo: install
	$(BIN)/assay fit src/assay/examples/credit_g.csv.gz --target class --time-limit 30 --out runs/credit_g --overwrite
	$(BIN)/assay leaderboard runs/credit_g

# default suite: fast unit tests + small end-to-end tests (slow-marked ones excluded)
test: install-test
	$(BIN)/python -m pytest -m "not slow" -q

test-all: install-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache

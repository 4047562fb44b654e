# Two entry points: `make run` (a default campaign) and `make test` (the whole suite).
# Prefer the distribution's Python 3.11: it is built with PGO/LTO and runs the simulator about
# 40% faster than a plain source build (benchmarks/sim_throughput.py).
PYTHON ?= $(shell for p in /usr/bin/python3.11 python3.11 python3; do \
	  $$p -c 'import sys, ensurepip, venv; sys.exit(sys.version_info[:2] != (3, 11))' \
	  >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv clean

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 with venv is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# Bytecode is compiled here because PYTHONDONTWRITEBYTECODE (set on some machines) would
# otherwise make every command compile its modules again: 30 ms of a 0.1 s `faultlab check`.
venv: $(BIN)/.installed
	$(BIN)/python -m compileall -q faultlab

run: venv
	$(BIN)/faultlab run raft --runs 250 --jobs 2

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out .pytest_cache

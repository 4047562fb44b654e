# Two entry points: `make run` (a default campaign) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

run: venv
	$(BIN)/faultlab run primary-backup --runs 200 --jobs 2

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out .pytest_cache

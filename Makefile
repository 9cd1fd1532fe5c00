# The two commands: `make run` (the app on the built-in sample) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint bench docs clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/streamlit run streamlit_app.py

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# two pytest processes, a test file each at a time: most tests wait on a worker or child process
# (its TensorFlow start, its polling), so two halve the wall time even on 2 cores
test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP_RUN)
	$(BIN)/python -m core bench

docs: $(STAMP_RUN)  # README's command-line block, from the parser's --help
	$(BIN)/python -m core.cli.doc

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

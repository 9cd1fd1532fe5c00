# The two commands: `make run` (the app on the built-in sample) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# TensorFlow's wheel: tensorflow[and-cuda] on Linux x86-64 where nvidia-smi lists a GPU, the
# plain one elsewhere (tools/tf_variant.sh decides); `make run TF=cpu` or `TF=gpu` overrides.
TF ?= auto
TF_VARIANT := $(shell sh tools/tf_variant.sh $(TF))
ifeq ($(TF_VARIANT),)
$(error TF must be auto, cpu or gpu (got '$(TF)'))
endif
ifeq ($(TF_VARIANT),gpu)
RUN_REQS := requirements-gpu.txt
STAMP_RUN := $(VENV)/.installed-run-gpu
STAMP_DEV := $(VENV)/.installed-dev-gpu
DEV_REQS := -r requirements-dev.txt -r requirements-gpu.txt
else
RUN_REQS := requirements.txt
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
DEV_REQS := -r requirements-dev.txt
endif

.PHONY: run test lint bench docs clean gpu-check

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): requirements.txt $(RUN_REQS) | $(BIN)/python
	$(BIN)/pip install -q -r $(RUN_REQS)
	touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt $(RUN_REQS) | $(BIN)/python
	$(BIN)/pip install -q $(DEV_REQS)
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/streamlit run streamlit_app.py

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# two pytest processes, a test file each at a time: most tests wait on a worker or child process
# (its TensorFlow start, its polling), so two halve the wall time even on 2 cores
test: lint  # ruff, and mypy strict on core/ (pyproject.toml [tool.mypy]), then every test
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP_RUN)
	$(BIN)/python -m core bench

gpu-check: $(STAMP_RUN)  # on a GPU: a tiny run must use it in the expected precision
	$(BIN)/python -m core gpu-check

docs: $(STAMP_RUN)  # README's command-line block, from the parser's --help
	$(BIN)/python -m core.cli.doc

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

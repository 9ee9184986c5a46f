# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SYSTEM := java:openjdk-17-jre-headless nfdump:nfdump nfpcapd:nfdump tshark:tshark editcap:tshark \
          chromium:chromium chromedriver:chromium-driver '/usr/lib/postgresql/*/bin/initdb:postgresql'

.PHONY: setup demo clean-demo test test-slow bench

setup: $(STAMP)
	@scripts/system-deps.sh $(SYSTEM)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(VENV)/bin/spot demo

clean-demo:
	rm -rf spot-home

# `make test` runs the fast tests; `make test-slow` the integration tests marked slow (a Spark cluster, the
# Dagster daemon, the dashboard over a whole graph). CI runs both. pytest exits 5 when a selection is empty
# (e.g. narrowed with ARGS="-k name"): nothing failed, so that is a success here.
test: setup
	$(VENV)/bin/pytest -m "not slow" $(ARGS) || [ $$? -eq 5 ]

test-slow: setup
	$(VENV)/bin/pytest -m slow $(ARGS) || [ $$? -eq 5 ]

bench: setup
	$(PY) bench/flow_decode.py
	$(PY) bench/dns_decode.py
	$(PY) bench/simulate.py
	$(PY) bench/investigate.py
	$(PY) bench/dashboard.py

# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SYSTEM := java:openjdk-17-jre-headless nfdump:nfdump nfpcapd:nfdump tshark:tshark editcap:tshark \
          chromium:chromium chromedriver:chromium-driver

.PHONY: setup demo test bench clean-demo

setup: $(STAMP)
	@scripts/system-deps.sh $(SYSTEM)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(VENV)/bin/spot demo

test: setup
	$(VENV)/bin/pytest

bench: setup
	$(PY) bench/flow_decode.py
	$(PY) bench/dns_decode.py
	$(PY) bench/simulate.py
	$(PY) bench/investigate.py
	$(PY) bench/dashboard.py

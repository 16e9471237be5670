# spendwatch: `make demo` runs the service locally, `make test` runs every test.
# Both install what they need into .venv first; tests also fetch Kafka jars into .cache/.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install kafka-jars browser demo test unit integration lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,demo]'
	touch $@

kafka-jars:
	$(PYTHON) scripts/kafka-local fetch

demo: install
	$(BIN)/spendwatch demo

# Debian's headless Chromium and chromedriver, for the dashboard test (needs root or sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install kafka-jars browser
	$(BIN)/pytest tests/integration

test: install kafka-jars browser lint
	$(BIN)/pytest tests

bench: install kafka-jars
	$(BIN)/python bench/decode_throughput.py

clean:
	$(PYTHON) scripts/kafka-local stop || true
	rm -rf $(VENV) .spendwatch-data .kafka-local

# zkfle: every target bootstraps what it needs (a virtualenv with the package, and ZooKeeper where used).
# On a fresh Debian machine with Python 3.11, `make check-model` and `make test` are all a user types.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
ZKFLE  := $(VENV)/bin/zkfle
STAMP  := $(VENV)/.zkfle-installed
ZK_JAR := /usr/share/java/zookeeper.jar
# pytest workers: 2 cores on CI machines
JOBS   ?= auto

.PHONY: all check-model test bench lint prove conform bugs zookeeper chromium clean venv

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian's ZooKeeper 3.8.0 (the real conformance target). Installed with apt when we are root.
zookeeper:
	@if [ ! -f $(ZK_JAR) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "zkfle: installing Debian's zookeeper package (ZooKeeper 3.8.0)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zookeeper >/dev/null; \
	  else \
	    echo "zkfle: ZooKeeper 3.8.0 is not installed and we are not root; run: sudo apt-get install zookeeper" >&2; \
	  fi; \
	fi
	@command -v java >/dev/null || { echo "zkfle: java is missing; run: sudo apt-get install default-jre-headless" >&2; exit 1; }

# Debian's Chromium: the headless browser test of `zkfle trace render` pages. Installed with apt when root.
chromium:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "zkfle: installing Debian's chromium (headless test of rendered traces)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "zkfle: chromium is not installed and we are not root; the browser test will be skipped (sudo apt-get install chromium)" >&2; \
	  fi; \
	fi

check-model: $(STAMP)
	$(ZKFLE) check-model

test: $(STAMP) zookeeper chromium
	$(PY) -m pytest -q -n $(JOBS) --dist loadgroup

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy --no-error-summary __init__.py cli.py errors.py quorum.py zoocfg.py itf.py model impl proofs conformance

# The benchmarks quoted in docs/BENCHMARKS.md; raw results in out/bench/.
bench: $(STAMP) zookeeper
	@mkdir -p out/bench
	$(PY) -m zkfle.model.explorer.bench 1 2 | tee out/bench/explorer-toys.jsonl
	$(PY) -m zkfle.model.bench 1 2 | tee out/bench/fle-model.jsonl
	$(ZKFLE) mutants --bench | tee out/bench/mutants.md
	$(ZKFLE) prove all | tee out/bench/prove.txt
	$(ZKFLE) conform --suite default | tee out/bench/conform.txt
	$(ZKFLE) bench-election --runs 10 --sizes 3,5 --tick-time 200 --init-limit 10 --output out/bench/election.md

prove: $(STAMP)
	$(ZKFLE) prove all

conform: $(STAMP) zookeeper
	$(ZKFLE) conform --suite default

bugs: $(STAMP)
	$(ZKFLE) mutants --write-docs docs/bugs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis out

# Stagemail. Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQUIRED_PYTHON := 3.13
HOST ?= 127.0.0.1:8000
PYTEST_ARGS ?=

.PHONY: run test test-faults bench attacks lint format install install-run check-python clean screenshots chromium npm smtp-sink

run: install-run .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_first_admin
	@echo "Stagemail is starting on http://$(HOST)/ with a delivery worker, a local SMTP"
	@echo "sink on 127.0.0.1:1025 and SMTP submission for apps on 127.0.0.1:1587."
	$(PY) manage.py rundev $(HOST)

test: install chromium node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# Kills a worker with SIGKILL mid-run, and terminates the workers' database connections
# twice in a run of 2,000 messages; checks nothing is lost or sent twice (needs PostgreSQL).
test-faults: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/stagemail} \
		$(PY) -m pytest -q -s -m faults tests/test_workers_postgres.py

# Throughput against a local SMTP sink and PostgreSQL; prints rates and ratios.
bench: install smtp-sink
	$(PY) bench/throughput.py $(N)

# The issue-10 attacks against gunicorn and PostgreSQL: secrets leaked, outbound targets
# reached outside the policy, API answers that were not JSON (needs PostgreSQL).
attacks: install
	$(PY) bench/attacks.py

# Browser tests drive Debian's chromium; the benchmark prefers Postfix's smtp-sink.
chromium:
	$(call debian_package,/usr/bin/chromium,chromium,the browser tests,will be skipped)

smtp-sink:
	$(call debian_package,/usr/sbin/smtp-sink,postfix,the benchmark's SMTP sink,falls back to aiosmtpd)

# The browser tests inject axe-core, pinned in package-lock.json, into every page.
npm:
	$(call debian_package,$$(command -v npm || echo /usr/bin/npm),npm,the accessibility tests,will be skipped)

node_modules/.installed: package.json package-lock.json | npm
	@if command -v npm >/dev/null; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; fi

# $(call debian_package,file,package,what needs it,what happens without it):
# install the package as root when the file is missing, else say what is missing.
define debian_package
	@test -x $(1) || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's $(2) for $(3)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; }; \
		else \
			echo "NOTE: $(1) is missing, so $(3) $(4)."; \
			echo "      Install it with: sudo apt-get install $(2)"; \
		fi; }
endef

screenshots: install
	mkdir -p docs
	STAGEMAIL_SCREENSHOTS=docs $(PY) -m pytest -q tests/browser -k "whole_flow or page_by_page or adds_a_person or rolls_a_configuration_back or imports_codestreams or promotes_development or issues_an_admin_token or microsoft_365_preset"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# `make run` installs what running needs; everything else (tests, lint, bench) adds the
# test tools on top.
install-run: $(VENV)/.installed-run
install: $(VENV)/.installed

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < tuple(map(int, "$(REQUIRED_PYTHON)".split("."))))' 2>/dev/null || { \
		echo "Stagemail needs Python $(REQUIRED_PYTHON) or newer, but '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)."; \
		echo "Install Python $(REQUIRED_PYTHON) (for example: pyenv install $(REQUIRED_PYTHON)), then run"; \
		echo "  make PYTHON=/path/to/python$(REQUIRED_PYTHON) run"; \
		exit 1; }

$(VENV)/bin/python: | check-python
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt $(VENV)/.installed-run
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

.env: | $(VENV)/.installed-run
	$(PY) -m portal.bootstrap_env .env

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache

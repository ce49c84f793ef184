# Shaobing (哨兵) — build, test and demo entry points.
#   make demo   install what is needed, build a demo workspace, print where it is
#   make test   install system packages and Python dependencies, lint, type-check, run all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages of the real services the tests start on loopback.
TEST_PACKAGES := postgresql openssh-server vsftpd mariadb-server redis-server memcached nginx snmpd rsync dnsmasq-base iproute2 apache2 tomcat10 tomcat10-admin openscap-scanner ssg-debian procps fonts-noto-cjk poppler-utils openssl nodejs chromium
PYTEST_WORKERS ?= 2

.PHONY: all system-deps deps web-assets lint test demo clean

all: test

system-deps:
	@bash scripts/install-system-deps.sh $(TEST_PACKAGES)

$(STAMP): pyproject.toml
	@$(PYTHON) scripts/check-python.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

web-assets:
	@bash scripts/fetch-web-assets.sh

deps: system-deps $(STAMP) web-assets

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

test: deps lint
	SHAOBING_REQUIRE_POSTGRES=1 $(BIN)/pytest -n $(PYTEST_WORKERS) -q

# Debian daemons the demo starts as local scan targets (loopback only).
DEMO_PACKAGES := redis-server memcached nginx vsftpd fonts-noto-cjk

demo: $(STAMP) web-assets
	@bash scripts/install-system-deps.sh $(DEMO_PACKAGES)
	@bash scripts/demo.sh

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache

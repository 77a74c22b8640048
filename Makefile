# slo-operator — `make test` and `make demo` set up everything they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYPROJECT_HASH := $(shell sha1sum pyproject.toml | cut -c1-12)
VENV_STAMP := $(VENV)/.installed-$(PYPROJECT_HASH)
CRD := crds/slo.mlops.dev_servicelevelobjectives.yaml
export BENTOML_DO_NOT_TRACK := true
export SLO_CACHE ?= $(HOME)/.cache/slo-operator

.PHONY: help venv tools lint typecheck unit test crds demo demo-down

help: ## List targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,model,reports]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(VENV_STAMP) ## Python virtualenv with the project and its test tools

tools: ## Debian's Prometheus, Alertmanager, promtool, amtool and pdftoppm (installed once)
	@if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  echo "installing Debian packages prometheus prometheus-alertmanager poppler-utils"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager \
	    poppler-utils >/dev/null; \
	fi

lint: venv ## ruff
	$(BIN)/ruff check operator tests bench model_service devstack

typecheck: venv ## mypy (strict on slo_operator)
	$(BIN)/mypy

crds: venv ## Regenerate the CRD from the API models (and its copy in the Helm chart)
	$(PY) -m slo_operator.crd > $(CRD)
	cp $(CRD) helm/slo-operator/crds/

unit: venv tools ## pytest only (two lanes: hack/test_lanes.py; TEST_LANES=1 for one)
	$(PY) hack/test_lanes.py $(PYTEST_ARGS)

test: venv tools lint typecheck ## Everything CI runs: lint, types, all tests (installs what is missing)
	$(PY) hack/test_lanes.py $(PYTEST_ARGS)

demo: venv tools ## The whole system locally, with a staged incident (stop: make demo-down)
	$(PY) -m devstack.demo up $(DEMO_ARGS)

demo-down: venv ## Stop everything `make demo` started
	$(PY) -m devstack.demo down

-include mk/*.mk

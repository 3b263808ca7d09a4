# Everything a developer or CI runs. `make demo` and `make test` install what they need.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLUSTER_DIR := .cluster
export PYTHONPATH := $(CURDIR)/hack

.PHONY: help venv tools lint test test-unit test-integration cluster cluster-down demo demo-in-cluster crd bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@echo "==> installing the Python environment into $(VENV)"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv with the operator and dev tools

tools: ## Build the pinned control-plane binaries (cached outside the tree)
	@bash hack/build-tools.sh >/dev/null

lint: venv ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check src tests hack benchmarks
	$(VENV)/bin/ruff format --check src tests hack benchmarks
	$(VENV)/bin/mypy src

test-unit: venv ## Unit tests (no cluster)
	$(VENV)/bin/pytest tests/unit -q

test-integration: venv tools ## Integration and end-to-end tests on the local control plane
	$(VENV)/bin/pytest tests/localcluster tests/integration tests/e2e -q

test: lint test-unit test-integration ## Everything: lint, types, unit and cluster tests

cluster: venv ## Start the local cluster (control plane, kwok nodes, one real node; root) in the background
	$(PY) -m localcluster up --dir $(CLUSTER_DIR)

cluster-down: ## Stop the local cluster and remove what its real node changed on the host
	@if [ -x $(PY) ]; then $(PY) -m localcluster down --dir $(CLUSTER_DIR); fi

demo: venv ## The main job on the embedded local control plane
	$(PY) hack/demo.py

demo-in-cluster: venv tools ## The Helm path: operator image from the Dockerfile, chart on the local node (root)
	$(PY) hack/demo_in_cluster.py

bench: venv ## Speed and memory figures of the operator on the local control plane
	$(PY) benchmarks/bench_controller.py $(BENCH_ARGS)

# Every committed copy is listed in api/crd.py (CRD_COPIES); a unit test fails when one drifts.
crd: venv ## Regenerate every committed copy of the CRD from the Python types
	for copy in $$($(PY) -c 'from locust_operator.api.crd import CRD_COPIES; print(*CRD_COPIES)'); do \
		$(VENV)/bin/locust-operator crd > "$$copy"; done

clean: cluster-down ## Remove the virtualenv and local state
	rm -rf $(VENV) $(CLUSTER_DIR)

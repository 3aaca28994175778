# Every target is a thin call; CI (.ci/run) and people run the same ones.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install tools lint chart-check test test-unit demo bench cluster-up cluster-down clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,lint]'
	touch $@

# openssl, Prometheus, Alertmanager (Debian packages), installed only when missing.
system-deps:
	hack/install-system-deps.sh

# Builds (or reuses) kube-apiserver, etcd, kwok, ... in ~/.cache/kubemedic/bin/<version>.
tools:
	hack/build-tools.sh

lint: install
	$(VENV)/bin/ruff check operator tests hack bench
	$(VENV)/bin/ruff format --check operator tests hack bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) hack/gen_bundle_schema.py --check

# The Helm chart: CRD and alert-rule copies not drifted, helm lint --strict and helm template
# with the defaults and every charts/kubemedic/ci/*-values.yaml (tests/unit/test_chart.py too).
chart-check: tools
	hack/check-chart.sh

# pytest exits 5 when it collected no test: that is a failure, not a pass.
test: install system-deps tools
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: install
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

demo: install system-deps tools
	$(PY) hack/demo.py

bench: install system-deps tools
	$(PY) bench/run_all.py

cluster-up: install tools
	hack/cluster up

cluster-down:
	hack/cluster down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info operator/*.egg-info

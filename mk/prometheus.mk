# The monitoring stack the tests, devstack and the demo run against (included by the top-level Makefile).
#   make prom-stack                 build/cache Prometheus 3.16 + promtool, Alertmanager 0.35 + amtool and the
#                                   2.53 LTS promtool into $(SLO_CACHE)/prometheus-stack (hack/prometheus/build.sh)
#   make test PROM_STACK=debian     run everything on Debian's Prometheus 2.42 / Alertmanager 0.25 instead
#   make rules-test                 pytest tests/rules on every promtool of the matrix (PROMTOOLS=current,lts,debian)
# PROM_STACK=current (default) or debian: which binaries devstack/promstack.py resolves.
PROM_STACK ?= current
export PROM_STACK

.PHONY: prom-stack rules-test

prom-stack: ## Build (once) and cache Prometheus 3.16, Alertmanager 0.35 and the 2.53 LTS promtool
	@hack/progress.sh "Prometheus/Alertmanager stack" "15-25 min" hack/prometheus/build.sh

rules-test: venv tools prom-stack ## pytest tests/rules on every promtool of the matrix (PROMTOOLS=...)
	$(BIN)/pytest -q tests/rules

# Everything that starts Prometheus/Alertmanager or runs promtool/amtool needs the stack built first.
test unit demo dashboards-test model-test: prom-stack

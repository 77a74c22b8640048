# prometheus-operator, built from its pinned Go module into $(SLO_CACHE) (included by the top-level
# Makefile). The demo and the cluster test suites run it against the local control plane, so what the
# local Prometheus/Alertmanager load is prometheus-operator's own output (devstack/prometheus_operator.py).
#   make prometheus-operator   build/cache cmd/operator into $(SLO_CACHE)/prometheus-operator-v0.85.0/bin/
.PHONY: prometheus-operator

prometheus-operator: ## Build (once) and cache prometheus-operator v0.85.0 (cmd/operator; progress on stderr)
	@hack/prometheus-operator/build.sh

test unit demo: prometheus-operator

# Helm chart helm/slo-operator and the plain-YAML install (included by the top-level Makefile).
#   make helm                 build/cache the pinned helm CLI ($(SLO_CACHE)/helm-<version>/helm)
#   make chart-files          copy CRDs, RBAC rules, dashboards, model-service manifests into the chart
#   make install-manifests    regenerate manifests/install/slo-operator.yaml (helm template, defaults)
#   make chart                both of the above, then helm lint
#   make helm-test            pytest tests/helm (lint, schema, render, real control plane install)
#   make operator-image       OCI archive of the operator without Docker (mk/node.mk); with Docker:
#                             docker build -f operator/Dockerfile -t slo-operator/operator:0.1.0 .
HELM_CHART := helm/slo-operator
# Where hack/helm/build.sh puts the binary (read without running it, so `make -n` never builds).
HELM_VERSION := $(shell sed -n 's/^HELM_VERSION=\([^ ]*\).*/\1/p' hack/helm/build.sh)
HELM_BIN = $(SLO_CACHE)/helm-$(HELM_VERSION)/helm
OPERATOR_IMAGE ?= slo-operator/operator:0.1.0

.PHONY: helm chart-files install-manifests chart helm-test

helm: ## Build (once) and cache the pinned helm CLI
	@hack/progress.sh "helm $(HELM_VERSION) CLI" "5-10 min" hack/helm/build.sh --print-path

chart-files: ## Copy CRDs, RBAC rules, dashboards and model-service manifests into the chart
	hack/helm/chart-files.sh

install-manifests: chart-files helm ## Regenerate manifests/install/slo-operator.yaml (helm template)
	hack/helm/render-install.sh "$(HELM_BIN)" > manifests/install/slo-operator.yaml.tmp
	mv manifests/install/slo-operator.yaml.tmp manifests/install/slo-operator.yaml

chart: install-manifests ## install-manifests, then helm lint --strict
	"$(HELM_BIN)" lint --strict $(HELM_CHART)

helm-test: venv chart-files helm cluster-build ## pytest tests/helm (lint, schema, render, real install)
	$(BIN)/pytest -q tests/helm

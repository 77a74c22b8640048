# Helm chart helm/slo-operator and the plain-YAML install (included by the top-level Makefile).
#   make helm                 build/cache the pinned helm CLI ($(SLO_CACHE)/helm-<version>/helm)
#   make chart-files          copy CRDs, RBAC rules, dashboards, model-service manifests into the chart
#   make install-manifests    regenerate manifests/install/slo-operator.yaml (helm template, defaults)
#   make chart                both of the above, then helm lint
#   make helm-test            pytest tests/helm (lint, schema, render, real control plane install)
#   make operator-image       docker build of operator/Dockerfile (OPERATOR_IMAGE)
HELM_CHART := helm/slo-operator
HELM_BIN = $(shell hack/helm/build.sh --print-path)
OPERATOR_IMAGE ?= slo-operator/operator:0.1.0

.PHONY: helm chart-files install-manifests chart helm-test operator-image

helm:
	hack/helm/build.sh --print-path

chart-files:
	hack/helm/chart-files.sh

install-manifests: chart-files
	hack/helm/render-install.sh "$(HELM_BIN)" > manifests/install/slo-operator.yaml.tmp
	mv manifests/install/slo-operator.yaml.tmp manifests/install/slo-operator.yaml

chart: install-manifests
	"$(HELM_BIN)" lint --strict $(HELM_CHART)

helm-test: venv chart-files
	$(BIN)/pytest -q tests/helm

operator-image:
	docker build -f operator/Dockerfile -t $(OPERATOR_IMAGE) .

# Error-budget policies (included by the top-level Makefile).
#   make policy-manifests   regenerate the ErrorBudgetPolicy CRD and the deploy-freeze admission policy
#                           (also run by `make crds`; tests fail when the committed files are stale)
#   make octokit-openapi    GitHub's OpenAPI description (npm @octokit/openapi, pinned) into $(SLO_CACHE)
#   make policy-test        pytest tests/policy (unit, real control plane, ticket endpoints, Prometheus)
POLICY_CRD := crds/slo.mlops.dev_errorbudgetpolicies.yaml
POLICY_FREEZE := manifests/policy/deploy-freeze.yaml

.PHONY: policy-manifests octokit-openapi policy-test

crds: policy-manifests
test unit: octokit-openapi

policy-manifests: venv ## Regenerate the ErrorBudgetPolicy CRD and the deploy-freeze admission policy
	$(PY) -m slo_operator.crd policy > $(POLICY_CRD).tmp && mv $(POLICY_CRD).tmp $(POLICY_CRD)
	mkdir -p manifests/policy helm/slo-operator/crds
	$(PY) -m slo_operator.crd freeze > $(POLICY_FREEZE).tmp && mv $(POLICY_FREEZE).tmp $(POLICY_FREEZE)
	cp $(POLICY_CRD) helm/slo-operator/crds/

octokit-openapi: ## GitHub's OpenAPI description (npm @octokit/openapi, pinned) into the cache
	hack/policy/octokit-openapi.sh

policy-test: venv tools octokit-openapi ## pytest tests/policy (unit, control plane, ticket endpoints, Prometheus)
	$(BIN)/pytest -q tests/policy

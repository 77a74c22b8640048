# Grafana dashboards (included by the top-level Makefile via `-include mk/*.mk`).
#   make dashboards        regenerate manifests/dashboards/slo-overview.yaml (tests/dashboards fails when stale)
#   make dashboards-test   pytest tests/dashboards: every panel query run against a real Prometheus
#                          (PNG of the key panels in test-artifacts/dashboards/)
DASHBOARDS_OVERVIEW := manifests/dashboards/slo-overview.yaml
# The shipped file uses the defaults (grafana_dashboard: "1", folder SLOs), whatever this shell exports.
DASHBOARDS_ENV := env -u SLO_OPERATOR_DASHBOARD_LABELS -u SLO_OPERATOR_DASHBOARD_FOLDER \
	-u SLO_OPERATOR_DASHBOARD_FOLDER_ANNOTATION -u SLO_OPERATOR_DASHBOARDS

.PHONY: dashboards dashboards-test

dashboards: venv ## Regenerate manifests/dashboards/slo-overview.yaml
	$(DASHBOARDS_ENV) $(BIN)/slo-operator render --format overview-dashboard -f manifests/examples \
		> $(DASHBOARDS_OVERVIEW).tmp && mv $(DASHBOARDS_OVERVIEW).tmp $(DASHBOARDS_OVERVIEW)

dashboards-test: venv tools cluster-build ## pytest tests/dashboards (panel queries on a real Prometheus)
	$(BIN)/pytest -q tests/dashboards

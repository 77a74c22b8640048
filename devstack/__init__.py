"""Local stand-ins for what a real cluster around slo-operator provides, for `make demo` and the tests.

- ``promop``: what prometheus-operator does with our children (PrometheusRule -> rule files,
  AlertmanagerConfig + Secrets -> alertmanager.yml), as a sync loop against the API server.
- ``receivers``: loopback HTTP endpoints speaking PagerDuty Events API v2 and Slack incoming webhooks.
- ``identity``: a kubeconfig holding a token of the operator's ServiceAccount (manifests/rbac.yaml).
- ``demo``: `make demo` / `make demo-down`.
- ``promstack``: which Prometheus/promtool/Alertmanager/amtool binaries run (``PROM_STACK``).

None of this ships in the operator image.
"""

"""Local stand-ins for what a real cluster around slo-operator provides, for `make demo` and the tests.

- ``prometheus_operator``: the real prometheus-operator as a process against the control plane, with a
  Prometheus and an Alertmanager resource; its generated rule files and Alertmanager configuration are
  copied to local servers (the kubelet's part, nothing more).
- ``receivers``: loopback HTTP endpoints speaking PagerDuty Events API v2 and Slack incoming webhooks.
- ``identity``: a kubeconfig holding a token of the operator's ServiceAccount (manifests/rbac.yaml).
- ``demo``: `make demo` / `make demo-down`.
- ``promstack``: which Prometheus/promtool/Alertmanager/amtool binaries run (``PROM_STACK``).

None of this ships in the operator image.
"""

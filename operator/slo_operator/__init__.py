"""slo-operator: ServiceLevelObjective resources turned into Prometheus rules, routing and live budget status.

The package is layered: ``durations``/``selectors`` (parsing), ``api`` (the CRD's pydantic models, the
single source of truth for the schema), ``model`` (a resolved, validated SLO), ``budget`` (error-budget
arithmetic), ``rules`` (recording and alerting rules), ``render`` (Kubernetes objects and files),
``policy_api``/``policy`` (error-budget policies: steps, ticket identity, the deploy-freeze admission
policy) — all pure — and the I/O edges (``cli``, ``policy_cli``, the kopf operator, ``policy_reconcile``
and ``tickets`` for carrying out policies).
"""

API_GROUP = "slo.mlops.dev"
API_VERSION = "v1alpha1"
KIND = "ServiceLevelObjective"
PLURAL = "servicelevelobjectives"

__version__ = "0.1.0"

"""BentoML model service instrumented for SLOs (availability, latency, accuracy, freshness).

Modules:
    settings  -- environment-driven configuration
    training  -- train / save / load the scikit-learn classifier (joblib + JSON metadata)
    store     -- bounded TTL store of recent predictions awaiting ground truth
    faults    -- run-time fault injection (5xx rate, added latency, stale features)
    sli       -- ``SLITracker``: records SLI metrics and queries Prometheus for SLI values
    service   -- the ``@bentoml.service`` class (``bentoml serve model_service.service:ModelService``)
    traffic   -- CLI: load generator with delayed / noisy feedback, fault and feature controls

Importing this package does not import BentoML or prometheus_client: BentoML workers must import
prometheus_client only after PROMETHEUS_MULTIPROC_DIR is set.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"

"""slo-operator: ServiceLevelObjective resources turned into Prometheus rules, routing and live budget status.

The pipeline is spec -> model -> generated objects -> apply -> status. Module map (a test checks that
every module is listed here):

Pure core (no I/O; golden and promtool tests):
- ``durations``, ``selectors``: parsing Prometheus durations and PromQL vector selectors.
- ``schema``: building blocks of the API models; ``api``: the CRD's pydantic models, the single source
  of truth for the schema; ``crd``: the CRD YAML generated from them; ``loader``: files -> validated
  objects with field-path problems.
- ``indicators``: the indicator registry, one module per kind (API model, selector resolution, base
  series); ``model``: a resolved SLO with every default applied; ``budget``: error-budget arithmetic.
- ``promql``: PromQL text from parsed parts; ``rules``: recording and burn-rate alerting rules;
  ``spend``: a cost SLO's spend series and spend-budget alerts; ``shared``: the rules a namespace's SLOs
  share (windows, SLI, budget, the running sums' start and coarse copies);
  ``tiers``: long windows from running sums at a fine and a coarse resolution (rules, simulator);
  ``routing``: AlertmanagerConfig; ``dashboards``: Grafana boards; ``render``: the Kubernetes objects
  and files; ``children``: the table of generated object kinds.
- ``status``: conditions and measured numbers; ``reconcile``'s decisions (``reconcile_decision``);
  ``acceptance``: whether prometheus-operator accepted the children (from its InvalidConfiguration
  Events) as RulesApplied/RoutingReady.
- ``watch_cache``: children and policies as the watches deliver them (no LIST per reconcile);
  ``ratelimit``: the refresher's write budget (a token bucket); ``memory``: a burst's freed memory
  given back to the OS (glibc's malloc_trim once work went quiet).
- ``coverage``: how much of an SLO's window its recorded series cover, and its window figures from raw
  history while they cover less (young SLOs).
- ``evaluator``: generated rule groups evaluated with Prometheus' semantics on numpy arrays;
  ``promtool_compat``: promtool unit-test documents run on it; ``scenario``: the scenario language ->
  raw series; ``simulate``: alert timelines, the detection table, policies side by side.
- ``forecast``: where the error budget is heading (seasonal traffic and error ratio, incidents drawn
  from past days), with how sure it is; ``insufficient-history`` instead of a guess.
- ``policy_api``, ``policy``: error-budget policies (steps, ticket identity, the deploy-freeze
  admission policy).
- ``migrate``: SLOs imported from Sloth, Pyrra and OpenSLO, and exported as OpenSLO (a package: one
  module per source, ``common`` for findings and PromQL shapes).

I/O edges:
- ``child_watch``: the children watched as metadata only (PartialObjectMetadata), feeding ``watch_cache``.
- ``slo_intake``: the SLOs' own watch, one pending entry per SLO and a fixed set of workers (kopf's
  per-object queues held every event of every waiting SLO, without bound).
- ``shared_rules``: each namespace's shared PrometheusRule, from the shapes of the SLOs the intake reads.
- ``leader``: leader election on a Lease (only the leader reconciles), the health/readiness endpoint.
- ``kube`` (API server client; ``follow_watch``: the LIST-then-watch loop of the operator's own
  watches, with its retry back-off), ``prometheus`` (instant queries), ``reconcile`` (applies children,
  refreshes status), ``handlers`` (kopf wiring only), ``config`` (the operator's settings), ``cli``
  (``slo-operator``), ``reports`` (monthly reports: a package with its own map); ``policy_cli``,
  ``policy_reconcile`` and ``tickets`` carry out error-budget policies; ``simulate_cli`` (``slo-operator
  simulate``), ``replay`` (raw series from Prometheus) and ``simplot`` (its PNG, matplotlib loaded lazily).
- ``forecaster``: every SLO's hourly history from one range query per completed hour, the forecasts
  refitted hourly, and ``status.forecast``.
- ``metrics``: the operator's own ``/metrics`` (one registry: reconciles, refreshes, forecast gauges).
- ``forecast_cli`` (``slo-operator forecast``): the same forecast for SLO files, without a cluster.
"""

API_GROUP = "slo.mlops.dev"
API_VERSION = "v1alpha1"
KIND = "ServiceLevelObjective"
PLURAL = "servicelevelobjectives"

__version__ = "0.1.0"

"""Alert routing of SLO alerts: `critical` pages through PagerDuty, `warning` posts to Slack; pure functions.

Why a route per SLO: the burn-rate alerts carry ``slo``, ``namespace`` and ``severity`` labels (see
``rules.py``), so each SLO gets a route matching its own ``slo``/``namespace`` with one child per severity.
Alerts are grouped by ``alertname, namespace, slo``: one notification (one PagerDuty incident) per SLO and
alert, whatever the number of label sets (``spec.groupBy``) burning at once. A firing `critical` alert
silences the `warning` of the same SLO (an inhibit rule), because the slow-burn warning of an outage that
already pages is noise. Any other severity (a custom one) goes to Slack when it is configured, so it is
seen rather than dropped; without Slack it goes to the receiver ``none``, which notifies nobody.

Two renderings of the same tree:

* ``alertmanager_config()``: the ``monitoring.coreos.com/v1alpha1`` AlertmanagerConfig the operator owns
  in the SLO's namespace. prometheus-operator merges it into the Alertmanager configuration, prefixing
  receiver names with ``<namespace>/<name>/`` and (matcher strategy ``OnNamespace``, the default) adding
  ``namespace="<namespace>"`` to its top route and inhibit rules; the route also matches ``namespace``
  itself so it stays correct under the ``None`` strategy.
* ``alertmanager_file()``: a complete ``alertmanager.yml`` with the same routes for Alertmanager without
  prometheus-operator (``slo-operator render --format alertmanager``).

Where receivers come from, receiver by receiver: ``spec.alerting.routing`` first, else the operator's
defaults (``RoutingOptions``, filled from ``SLO_OPERATOR_*`` settings). Only *references* to secrets are
ever written into objects (a SecretKeySelector in the SLO's namespace, or a file path in
``alertmanager.yml``), never a secret value: rendered objects end up in git, ``kubectl get`` output and
logs. When neither the spec nor the defaults give any receiver (or routing or alerting is disabled),
``alertmanager_config()`` returns None: no AlertmanagerConfig is rendered, and one the operator rendered
before is deleted.

Example (``spec.alerting.routing``)::

    routing:
      pagerduty:
        routingKey: {name: pagerduty, key: routing-key}
      slack:
        apiURL: {name: slack-webhook, key: url}
        channel: "#ml-alerts"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slo_operator.api import SecretKeySelector
from slo_operator.model import SLO

CRITICAL = "critical"
WARNING = "warning"
TICKET = "ticket"  # the ticket tier of error-budget policies (policy.ticket_tier_alert)
PAGERDUTY = "pagerduty"
SLACK = "slack"
NONE = "none"  # a receiver without integrations: matched alerts notify nobody
GROUP_BY = ("alertname", "namespace", "slo")

# Alertmanager notification templates. They only read labels slo-operator sets on every SLO alert and the
# `summary`/`description` annotations of the rules, so one set of texts serves every SLO.
_SLO = "{{ .CommonLabels.namespace }}/{{ .CommonLabels.slo }}"
PAGERDUTY_DESCRIPTION = "{{ .CommonLabels.alertname }}: {{ (index .Alerts 0).Annotations.summary }}"
PAGERDUTY_DETAILS = (
    ("slo", _SLO),
    ("service", "{{ .CommonLabels.service }}"),
    ("description", "{{ (index .Alerts 0).Annotations.description }}"),
)
SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }} " + _SLO
)
SLACK_TEXT = (
    '{{ range .Alerts }}{{ if eq .Status "resolved" }}Resolved: {{ end }}{{ .Annotations.summary }}\n'
    "{{ .Annotations.description }}\n{{ end }}"
)


def _pagerduty_texts() -> dict[str, Any]:
    """What a page says: PagerDuty severity, the SLO's service as component and namespace as group."""
    return {
        "severity": CRITICAL,
        "class": "slo-burn-rate",
        "component": "{{ .CommonLabels.service }}",
        "group": "{{ .CommonLabels.namespace }}",
        "description": PAGERDUTY_DESCRIPTION,
    }


@dataclass(frozen=True)
class RoutingOptions:
    """Deployment-wide routing defaults (operator configuration), used where an SLO's spec says nothing.

    The secrets named here must exist in every namespace whose SLOs rely on them (AlertmanagerConfig
    secrets are read from the object's own namespace).
    """

    pagerduty_routing_key: SecretKeySelector | None = None
    slack_api_url: SecretKeySelector | None = None
    slack_channel: str | None = None
    pagerduty_url: str | None = None  # Events API v2 endpoint; None: Alertmanager's (events.pagerduty.com)
    group_wait: str = "30s"  # first notification of a new group: long enough to batch, short enough to page
    group_interval: str = "5m"  # changes (new alerts, resolves) of a notified group
    repeat_interval: str = "4h"  # still firing: remind (PagerDuty deduplicates on the group key)
    # Labels on AlertmanagerConfig objects, for the Alertmanager's alertmanagerConfigSelector.
    labels: dict[str, str] = field(default_factory=dict)
    # `ticket` severity alerts go to this webhook (an error-budget policy's webhook backend), per SLO.
    ticket_webhook: SecretKeySelector | None = None


@dataclass(frozen=True)
class SecretUse:
    """One Secret key an SLO's AlertmanagerConfig reads, and where the reference came from."""

    receiver: str
    secret: SecretKeySelector
    source: str  # the SLO field path, or the operator setting the default came from


@dataclass(frozen=True)
class Receivers:
    """The receivers of one SLO after merging its spec with the operator's defaults."""

    pagerduty: SecretUse | None
    slack: SecretUse | None
    slack_channel: str | None

    @property
    def uses(self) -> list[SecretUse]:
        return [use for use in (self.pagerduty, self.slack) if use is not None]


def routed(slo: SLO) -> bool:
    """Whether the SLO's alerts may be routed at all: alerting on and routing not switched off."""
    return slo.alerting_enabled and (slo.routing is None or slo.routing.enabled)


def receivers(slo: SLO, options: RoutingOptions) -> Receivers | None:
    """Where the SLO's alerts go; None when nothing is routed (disabled, no alerts or no receiver)."""
    spec = slo.routing
    if not routed(slo):
        return None
    pagerduty: SecretUse | None = None
    slack: SecretUse | None = None
    channel = options.slack_channel
    if spec is not None and spec.pagerduty is not None:
        pagerduty = SecretUse(
            PAGERDUTY, spec.pagerduty.routing_key, "spec.alerting.routing.pagerduty.routingKey"
        )
    elif options.pagerduty_routing_key is not None:
        pagerduty = SecretUse(
            PAGERDUTY, options.pagerduty_routing_key, "operator default SLO_OPERATOR_PAGERDUTY_SECRET"
        )
    if spec is not None and spec.slack is not None:
        slack = SecretUse(SLACK, spec.slack.api_url, "spec.alerting.routing.slack.apiURL")
        channel = spec.slack.channel or channel
    elif options.slack_api_url is not None:
        slack = SecretUse(SLACK, options.slack_api_url, "operator default SLO_OPERATOR_SLACK_SECRET")
    if pagerduty is None and slack is None:
        return None
    return Receivers(pagerduty, slack, channel if slack is not None else None)


def secret_references(slo: SLO, options: RoutingOptions) -> list[SecretUse]:
    """Every Secret key the SLO's AlertmanagerConfig reads (the reconciler checks that they exist)."""
    found = receivers(slo, options)
    return found.uses if found is not None else []


# ---- AlertmanagerConfig (prometheus-operator) -------------------------------------------------------


def _matcher(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "matchType": "="}


def _slo_matchers(slo: SLO) -> list[tuple[str, str]]:
    return [("namespace", slo.namespace), ("slo", slo.name)]


def _matchers(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    """Fresh matcher objects (never shared: a YAML dump would turn shared ones into anchors)."""
    return [_matcher(name, value) for name, value in pairs]


def _routes(pagerduty: bool, slack: bool) -> list[tuple[str, str]]:
    """(severity, receiver) children of an SLO's route; other severities stay on the parent's receiver."""
    return [(CRITICAL, PAGERDUTY)] * pagerduty + [(WARNING, SLACK)] * slack


def _default_receiver(slack: bool) -> str:
    return SLACK if slack else NONE


def _equal(slo: SLO) -> list[str]:
    """Labels a critical and a warning alert must share for one to silence the other: the same SLO and
    the same ``spec.groupBy`` label values (a page for one model version does not mute another's)."""
    return ["namespace", "slo", *slo.group_by]


def alertmanager_config_spec(slo: SLO, options: RoutingOptions) -> dict[str, Any] | None:
    """The ``spec`` of the SLO's AlertmanagerConfig; None when nothing is routed."""
    found = receivers(slo, options)
    if found is None:
        return None
    spec_receivers: list[dict[str, Any]] = []
    if found.pagerduty is not None:
        pagerduty: dict[str, Any] = {
            "routingKey": {"name": found.pagerduty.secret.name, "key": found.pagerduty.secret.key},
            "sendResolved": True,
            **_pagerduty_texts(),
            "details": [{"key": key, "value": value} for key, value in PAGERDUTY_DETAILS],
        }
        if options.pagerduty_url:
            pagerduty["url"] = options.pagerduty_url
        spec_receivers.append({"name": PAGERDUTY, "pagerdutyConfigs": [pagerduty]})
    if found.slack is not None:
        slack: dict[str, Any] = {
            "apiURL": {"name": found.slack.secret.name, "key": found.slack.secret.key},
            "sendResolved": True,
            "title": SLACK_TITLE,
            "text": SLACK_TEXT,
        }
        if found.slack_channel:
            slack["channel"] = found.slack_channel
        spec_receivers.append({"name": SLACK, "slackConfigs": [slack]})
    else:
        spec_receivers.append({"name": NONE})
    has_pagerduty, has_slack = found.pagerduty is not None, found.slack is not None
    slo_matchers = _slo_matchers(slo)
    ticket_routes: list[dict[str, Any]] = []
    if any(alert.severity == TICKET for alert in slo.alerts):
        # A slow, steady burn becomes a ticket, never a page or a Slack message.
        if options.ticket_webhook is not None:
            webhook = {"urlSecret": {"name": options.ticket_webhook.name, "key": options.ticket_webhook.key},
                       "sendResolved": False}
            spec_receivers.append({"name": TICKET, "webhookConfigs": [webhook]})
            ticket_routes.append({"receiver": TICKET, "matchers": _matchers(("severity", TICKET))})
        else:
            if not any(r["name"] == NONE for r in spec_receivers):
                spec_receivers.append({"name": NONE})
            ticket_routes.append({"receiver": NONE, "matchers": _matchers(("severity", TICKET))})
    return {
        "route": {
            "receiver": _default_receiver(has_slack),
            "groupBy": list(GROUP_BY),
            "groupWait": options.group_wait,
            "groupInterval": options.group_interval,
            "repeatInterval": options.repeat_interval,
            "matchers": _matchers(*slo_matchers),
            "routes": [
                {"receiver": receiver, "matchers": _matchers(("severity", severity))}
                for severity, receiver in _routes(has_pagerduty, has_slack)
            ]
            + ticket_routes,
        },
        "receivers": spec_receivers,
        "inhibitRules": [
            {
                "sourceMatch": _matchers(("severity", CRITICAL), *slo_matchers),
                "targetMatch": _matchers(("severity", WARNING), *slo_matchers),
                "equal": _equal(slo),
            }
        ],
    }


def alertmanager_config(slo: SLO, options: RoutingOptions, labels: dict[str, str]) -> dict[str, Any] | None:
    """The AlertmanagerConfig object for the SLO, named like its PrometheusRule; None when nothing is routed.

    Secrets are referenced by name and key in the SLO's namespace, where prometheus-operator reads them.
    """
    spec = alertmanager_config_spec(slo, options)
    if spec is None:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": f"{slo.name}-slo", "namespace": slo.namespace, "labels": dict(labels)},
        "spec": spec,
    }


# ---- plain alertmanager.yml --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileReceivers:
    """Receivers of a plain ``alertmanager.yml``: endpoints and *paths* of files holding the secrets.

    Alertmanager reads ``routing_key_file``/``api_url_file`` when it sends, so the rendered file holds no
    secret and can be committed. Nothing here comes from SLO specs, except a Slack channel an SLO names.
    """

    pagerduty_routing_key_file: str | None = None
    pagerduty_url: str | None = None
    slack_api_url_file: str | None = None
    slack_channel: str | None = None

    @property
    def empty(self) -> bool:
        return self.pagerduty_routing_key_file is None and self.slack_api_url_file is None


def _text_matcher(name: str, value: str) -> str:
    """An Alertmanager matcher string; label values are quoted like Go's %q (what amtool prints)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def alertmanager_file(
    slos: list[SLO], endpoints: FileReceivers, options: RoutingOptions | None = None
) -> dict[str, Any]:
    """A complete Alertmanager configuration routing every SLO's alerts (receivers named like
    prometheus-operator names them: ``<namespace>/<slo>/<receiver>``). Alerts of no SLO go to ``none``.

    SLOs with routing or alerting disabled are left out. Raises ValueError without any receiver.
    """
    if endpoints.empty:
        raise ValueError(
            "no receiver: give a PagerDuty routing-key file and/or a Slack webhook-URL file "
            "(--pagerduty-routing-key-file, --slack-api-url-file)"
        )
    options = options or RoutingOptions()
    has_pagerduty = endpoints.pagerduty_routing_key_file is not None
    has_slack = endpoints.slack_api_url_file is not None
    routes: list[dict[str, Any]] = []
    file_receivers: list[dict[str, Any]] = [{"name": NONE}]
    inhibit_rules: list[dict[str, Any]] = []
    for slo in slos:
        if not routed(slo):
            continue
        prefix = f"{slo.namespace}/{slo.name}/"
        spec_slack = slo.routing.slack if slo.routing is not None else None
        channel = (spec_slack.channel if spec_slack is not None else None) or endpoints.slack_channel
        if has_pagerduty:
            pagerduty: dict[str, Any] = {
                "routing_key_file": endpoints.pagerduty_routing_key_file,
                "send_resolved": True,
                **_pagerduty_texts(),
                "details": dict(PAGERDUTY_DETAILS),
            }
            if endpoints.pagerduty_url:
                pagerduty["url"] = endpoints.pagerduty_url
            file_receivers.append({"name": prefix + PAGERDUTY, "pagerduty_configs": [pagerduty]})
        if has_slack:
            slack: dict[str, Any] = {
                "api_url_file": endpoints.slack_api_url_file,
                "send_resolved": True,
                "title": SLACK_TITLE,
                "text": SLACK_TEXT,
            }
            if channel:
                slack["channel"] = channel
            file_receivers.append({"name": prefix + SLACK, "slack_configs": [slack]})
        slo_matchers = [_text_matcher(k, v) for k, v in _slo_matchers(slo)]
        routes.append(
            {
                "receiver": prefix + SLACK if has_slack else NONE,
                "matchers": slo_matchers,
                "routes": [
                    {"receiver": prefix + receiver, "matchers": [_text_matcher("severity", severity)]}
                    for severity, receiver in _routes(has_pagerduty, has_slack)
                ],
            }
        )
        inhibit_rules.append(
            {
                "source_matchers": [_text_matcher("severity", CRITICAL), *slo_matchers],
                "target_matchers": [_text_matcher("severity", WARNING), *slo_matchers],
                "equal": _equal(slo),
            }
        )
    return {
        "route": {
            "receiver": NONE,
            "group_by": list(GROUP_BY),
            "group_wait": options.group_wait,
            "group_interval": options.group_interval,
            "repeat_interval": options.repeat_interval,
            "routes": routes,
        },
        "receivers": file_receivers,
        "inhibit_rules": inhibit_rules,
    }

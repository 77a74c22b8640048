"""What prometheus-operator does with slo-operator's children, for clusters that do not run it.

- ``convert``: AlertmanagerConfig (monitoring.coreos.com/v1alpha1) objects plus their Secrets ->
  the Alertmanager configuration prometheus-operator generates (receivers prefixed
  ``<namespace>/<name>/``, matcher strategy OnNamespace, every sub-route ``continue: true``).
- ``sync``: PrometheusRule objects -> one rule file each; AlertmanagerConfigs -> alertmanager.yml;
  Prometheus and Alertmanager reloaded when something changed. ``python -m devstack.promop`` loops.

This is an independent reading of the AlertmanagerConfig semantics (not the operator's code), so the
tests check the rendered objects against what Alertmanager would really be given.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

_SPECIAL = {"apiURL": "api_url", "routingKey": "routing_key"}


def snake(key: str) -> str:
    return _SPECIAL.get(key) or re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def matcher_text(matcher: dict[str, Any]) -> str:
    """``Matcher.String()`` of prometheus-operator: name, operator, Go-quoted value."""
    return f"{matcher['name']}{matcher.get('matchType', '=')}{json.dumps(matcher.get('value', ''))}"


def _secret(secrets: dict[tuple[str, str], dict[str, str]], namespace: str, ref: dict[str, str]) -> str:
    try:
        return secrets[(namespace, ref["name"])][ref["key"]]
    except KeyError:
        # prometheus-operator rejects the whole AlertmanagerConfig when a Secret key is missing.
        raise KeyError(f"secret {namespace}/{ref['name']} key {ref['key']} not found") from None


def _route(route: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in route.items():
        if key == "receiver":
            out["receiver"] = prefix + value if value else value
        elif key == "matchers":
            out["matchers"] = [matcher_text(m) for m in value]
        elif key == "routes":
            out["routes"] = [_route(child, prefix) for child in value]
        else:
            out[snake(key)] = value
    return out


def _integration(
    config: dict[str, Any], namespace: str, secrets: dict[tuple[str, str], dict[str, str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in ("routingKey", "apiURL"):
            out[snake(key)] = _secret(secrets, namespace, value)
        elif key == "details":
            out["details"] = {item["key"]: item["value"] for item in value}
        else:
            out[snake(key)] = value
    return out


def convert(
    objects: list[dict[str, Any]],
    secrets: dict[tuple[str, str], dict[str, str]],
    enforce_namespace: bool = True,
) -> dict[str, Any]:
    """Alertmanager configuration prometheus-operator generates from AlertmanagerConfig objects (on top of a
    base configuration routing everything else to ``null``), matcher strategy OnNamespace by default."""
    routes: list[dict[str, Any]] = []
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    inhibit_rules: list[dict[str, Any]] = []
    for obj in objects:
        assert obj["apiVersion"] == "monitoring.coreos.com/v1alpha1" and obj["kind"] == "AlertmanagerConfig"
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        prefix = f"{namespace}/{name}/"
        ns_matcher = matcher_text({"name": "namespace", "value": namespace, "matchType": "="})
        spec = obj["spec"]
        top = _route(spec["route"], prefix)
        if enforce_namespace:
            top["matchers"] = [*top.get("matchers", []), ns_matcher]
        top["continue"] = True  # every AlertmanagerConfig's route continues to the next one
        routes.append(top)
        for receiver in spec.get("receivers", []):
            converted: dict[str, Any] = {"name": prefix + receiver["name"]}
            for kind in ("pagerdutyConfigs", "slackConfigs"):
                if kind in receiver:
                    converted[snake(kind)] = [_integration(c, namespace, secrets) for c in receiver[kind]]
            receivers.append(converted)
        for rule in spec.get("inhibitRules", []):
            source = [matcher_text(m) for m in rule.get("sourceMatch", [])]
            target = [matcher_text(m) for m in rule.get("targetMatch", [])]
            if enforce_namespace:
                source += [ns_matcher] if ns_matcher not in source else []
                target += [ns_matcher] if ns_matcher not in target else []
            inhibit_rules.append(
                {"source_matchers": source, "target_matchers": target, "equal": list(rule.get("equal", []))}
            )
    return {
        "route": {"receiver": "null", "group_by": ["namespace"], "routes": routes},
        "receivers": receivers,
        "inhibit_rules": inhibit_rules,
    }


def _kubectl_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def sync(
    kubeconfig: Path, rules_dir: Path, alertmanager_config: Path, base: dict[str, Any] | None = None
) -> tuple[bool, bool]:
    """One pass; returns (rules changed, alertmanager configuration changed)."""
    rules_dir.mkdir(parents=True, exist_ok=True)
    rules_changed = False
    wanted: set[str] = set()
    for item in _kubectl_json(kubeconfig, "get", "prometheusrules", "-A")["items"]:
        meta = item["metadata"]
        name = f"{meta['namespace']}--{meta['name']}.yaml"
        wanted.add(name)
        text = yaml.safe_dump({"groups": item["spec"].get("groups", [])}, sort_keys=False)
        rules_changed |= _write_if_changed(rules_dir / name, text)
    for stale in rules_dir.glob("*.yaml"):
        if stale.name not in wanted:
            stale.unlink()
            rules_changed = True
    configs = _kubectl_json(kubeconfig, "get", "alertmanagerconfigs", "-A")["items"]
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    for namespace in {c["metadata"]["namespace"] for c in configs}:
        for secret in _kubectl_json(kubeconfig, "get", "secrets", "-n", namespace)["items"]:
            data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
            secrets[(namespace, secret["metadata"]["name"])] = data
    usable = []
    for obj in configs:  # like prometheus-operator, skip an AlertmanagerConfig whose Secrets are missing
        try:
            convert([obj], secrets)
        except KeyError:
            continue
        usable.append(obj)
    config = convert(usable, secrets)
    if base:
        config = {**base, **config}
    am_changed = _write_if_changed(alertmanager_config, yaml.safe_dump(config, sort_keys=False))
    return rules_changed, am_changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--rules-dir", type=Path, required=True)
    parser.add_argument("--alertmanager-config", type=Path, required=True)
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL (reloaded on change)")
    parser.add_argument("--alertmanager", required=True, help="Alertmanager base URL (reloaded on change)")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    base = {"global": {"resolve_timeout": "5m"}}
    while True:
        try:
            rules, am = sync(args.kubeconfig, args.rules_dir, args.alertmanager_config, base)
            if rules:
                httpx.post(f"{args.prometheus}/-/reload", timeout=10)
            if am:
                httpx.post(f"{args.alertmanager}/-/reload", timeout=10)
        except (subprocess.CalledProcessError, httpx.HTTPError) as exc:
            print(f"promop: sync failed, retrying: {exc}", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()

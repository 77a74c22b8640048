"""The operator on a real API server (etcd + kube-apiserver + kube-controller-manager), running with the
RBAC identity of manifests/rbac.yaml, reading a real Prometheus that scrapes known traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_operator.api import ServiceLevelObjective
from slo_operator.budget import ErrorBudgetCalculator
from slo_operator.model import resolve
from slo_operator.render import SHARED_RULE_NAME, RenderOptions, prometheus_rule, shared_prometheus_rule
from slo_operator.rules import RuleOptions
from support.cluster import kubectl, wait_for
from support.examples import example_documents
from support.processes import OperatorProcess, Prometheus, SteadyTraffic
from support.slo_objects import apply, condition, get

pytestmark = pytest.mark.cluster

OPTIONS = RenderOptions(rules=RuleOptions(fast_interval="1s", slow_interval="2s"))


def expected_rule(document: dict[str, Any]) -> dict[str, Any]:
    return prometheus_rule(resolve(ServiceLevelObjective.model_validate(document)), OPTIONS)


def patience(seconds: float) -> float:
    """A deadline for a loaded 2-core machine: what an idle one needs (15+ refresh periods of 2 s) plus a
    minute. Deadlines only bound how long a failing test waits; a passing one returns on the condition."""
    return seconds + 60.0


def wait_loaded(
    prometheus: Prometheus, namespace: str, names: list[str], timeout: float = patience(120)
) -> None:
    """Wait until Prometheus evaluates the SLOs' rules from the rule files prometheus-operator generated
    (``<namespace>-<rule>-<uid>.yaml`` in ``prometheus-<name>-rulefiles-N``) and the kubelet copied."""

    def loaded() -> bool:
        files = {Path(g["file"]).name for g in prometheus.rule_groups()}
        shared = any(f"__{namespace}-{SHARED_RULE_NAME}-" in f for f in files)  # the windows, the SLI
        return shared and all(any(f"__{namespace}-{n}-slo-" in f for f in files) for n in names)

    wait_for(loaded, timeout, 0.5, f"prometheus-operator's rule files for {names} loaded by Prometheus")


def wait_rules(
    namespace: str, names: list[str], kubeconfig: Path, timeout: float = patience(60)
) -> dict[str, Any]:
    def all_there() -> dict[str, Any] | None:
        found = {n: get("prometheusrule", f"{n}-slo", namespace, kubeconfig) for n in names}
        return found if all(found.values()) else None

    return dict(wait_for(all_there, timeout, message=f"PrometheusRules for {names} in {namespace}"))


def test_examples_become_owned_prometheus_rules(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    documents = example_documents(namespace)
    apply(kubeconfig, *documents)
    rules = wait_rules(namespace, [d["metadata"]["name"] for d in documents], kubeconfig)
    for document in documents:
        name = document["metadata"]["name"]
        slo = get("slo", name, namespace, kubeconfig)
        assert slo is not None
        rule = rules[name]
        owner = rule["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "ServiceLevelObjective",
            name,
            slo["metadata"]["uid"],
        )
        assert rule["spec"] == expected_rule(document)["spec"]
        valid = wait_for(
            lambda n=name: condition(get("slo", n, namespace, kubeconfig), "RulesApplied"),
            patience(30),
            message="RulesApplied condition",
        )
        assert valid["status"] == "True"
    table = kubectl("get", "slo", "-n", namespace, kubeconfig=kubeconfig).stdout
    header = table.splitlines()[0].split()
    assert header[:9] == ["NAME", "OBJECTIVE", "WINDOW", "SLI", "BUDGET", "BURN", "STATE", "STEP", "AGE"]
    wide = kubectl("get", "slo", "-n", namespace, "-o", "wide", kubeconfig=kubeconfig).stdout
    assert "EXHAUSTED-IN" in wide.splitlines()[0] and "READY" in wide.splitlines()[0]
    assert "model-availability" in kubectl("get", "mlops", "-n", namespace, kubeconfig=kubeconfig).stdout
    explained = kubectl("explain", "slo.spec.indicator.latency", kubeconfig=kubeconfig).stdout
    assert "threshold" in explained and "bucket" in explained
    # Creating an SLO posts no Event: its first children are in its status (RulesApplied, Ready).
    events = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout)
    assert not [e for e in events["items"] if e.get("reason") == "RulesApplied"], events["items"]


INVALID = [
    ("objective-above-100", {"objective": 150}, "objective"),
    ("objective-zero", {"objective": 0}, "objective"),
    ("window-unit", {"window": "30x"}, "window"),
    (
        "two-indicators",
        {
            "indicator": {
                "availability": {"errors": "a", "total": "b"},
                "accuracy": {"correct": "c", "total": "d"},
            }
        },
        "exactly one indicator",
    ),
    ("no-indicator", {"indicator": {}}, "exactly one indicator"),
    (
        "short-not-shorter",
        {
            "alerting": {
                "burnRates": [
                    {
                        "name": "X",
                        "severity": "critical",
                        "budgetPercent": 2,
                        "longWindow": "1h",
                        "shortWindow": "2h",
                    }
                ]
            }
        },
        "shortWindow must be shorter than longWindow",
    ),
    (
        "long-above-window",
        {
            "alerting": {
                "burnRates": [
                    {
                        "name": "X",
                        "severity": "critical",
                        "budgetPercent": 2,
                        "longWindow": "40d",
                        "shortWindow": "1h",
                    }
                ]
            }
        },
        "at most the SLO window",
    ),
    ("unknown-field", {"objectve": 99}, "objectve"),
]


@pytest.mark.parametrize(("case", "patch", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_api_server_rejects_invalid_slos(
    kubeconfig: Path, namespace: str, case: str, patch: dict[str, Any], message: str
) -> None:
    document = example_documents(namespace)[1]  # availability
    document["spec"].update(patch)
    proc = kubectl(
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        kubeconfig=kubeconfig,
        check=False,
        input=yaml.safe_dump(document),
    )
    assert proc.returncode != 0, f"{case} was accepted"
    assert message in proc.stderr, proc.stderr


def test_operator_reports_what_only_it_can_judge(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    bad, good = example_documents(namespace)[1], example_documents(namespace)[0]
    bad["metadata"]["name"] = "bad-selector"
    bad["spec"]["indicator"]["availability"]["errors"] = 'rate(x{code=~"5.."}[5m])'
    apply(kubeconfig, bad, good)
    valid = wait_for(
        lambda: condition(get("slo", "bad-selector", namespace, kubeconfig), "Valid"),
        patience(30),
        message="Valid condition on the bad SLO",
    )
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec"
    assert "spec.indicator.availability.errors" in valid["message"]
    assert "plain vector selector" in valid["message"]
    wait_rules(namespace, [good["metadata"]["name"]], kubeconfig)  # one bad SLO blocks nothing
    assert get("prometheusrule", "bad-selector-slo", namespace, kubeconfig) is None
    events = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout)
    assert any(
        e["reason"] == "InvalidSpec" and e["involvedObject"]["name"] == "bad-selector"
        for e in events["items"]
    )
    ready = condition(get("slo", "bad-selector", namespace, kubeconfig), "Ready")
    assert ready is not None and ready["status"] == "False"


def test_deleting_the_slo_garbage_collects_its_children(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    document = example_documents(namespace)[1]
    apply(kubeconfig, document)
    wait_rules(namespace, ["model-availability"], kubeconfig)
    kubectl(
        "delete",
        "slo",
        "model-availability",
        "-n",
        namespace,
        "--wait=true",
        "--timeout=90s",
        kubeconfig=kubeconfig,
    )
    wait_for(
        lambda: get("prometheusrule", "model-availability-slo", namespace, kubeconfig) is None,
        patience(60),
        message="garbage collection of the PrometheusRule",
    )


def test_the_namespaces_shared_rules_follow_its_slos(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    """One shared PrometheusRule per namespace with SLOs: the rules of every window its SLOs use (an SLO
    with alert windows of its own adds its windows), narrowed when an SLO goes, deleted with the last."""
    first = example_documents(namespace)[1]
    second = json.loads(json.dumps(first))
    second["metadata"]["name"] = "checkout"
    second["spec"]["alerting"] = {"burnRates": [
        {"name": "Page", "severity": "critical", "budgetPercent": 3, "longWindow": "90m",
         "shortWindow": "5m"},
    ]}
    slos = [resolve(ServiceLevelObjective.model_validate(d)) for d in (first, second)]

    def shared_spec() -> Any:
        found = get("prometheusrule", SHARED_RULE_NAME, namespace, kubeconfig)
        return None if found is None else found["spec"]

    apply(kubeconfig, first, second)
    both = shared_prometheus_rule(namespace, slos, OPTIONS)
    assert both is not None
    wait_for(lambda: shared_spec() == both["spec"], patience(60), message="the shared rules of both SLOs")
    kubectl("delete", "slo", "checkout", "-n", namespace, "--wait=true", "--timeout=90s",
            kubeconfig=kubeconfig)
    one = shared_prometheus_rule(namespace, slos[:1], OPTIONS)
    assert one is not None and one["spec"] != both["spec"]
    wait_for(lambda: shared_spec() == one["spec"], patience(60), message="the shared rules of the one left")
    kubectl("delete", "slo", first["metadata"]["name"], "-n", namespace, "--wait=true", "--timeout=90s",
            kubeconfig=kubeconfig)
    wait_for(lambda: shared_spec() is None, patience(60), message="shared rules deleted with the last SLO")


def test_the_shared_rules_deleted_or_edited_by_hand_are_written_again(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    """The shared PrometheusRule is no SLO's child: the status refresh's check of it undoes a hand edit
    and a deletion as the child watch does for the SLOs' own children."""
    document = example_documents(namespace)[1]
    slo = resolve(ServiceLevelObjective.model_validate(document))
    wanted = shared_prometheus_rule(namespace, [slo], OPTIONS)
    assert wanted is not None

    def shared_spec() -> Any:
        found = get("prometheusrule", SHARED_RULE_NAME, namespace, kubeconfig)
        return None if found is None else found["spec"]

    apply(kubeconfig, document)
    wait_for(lambda: shared_spec() == wanted["spec"], patience(60), message="the shared rules")
    kubectl("patch", "prometheusrule", SHARED_RULE_NAME, "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"groups": []}}), kubeconfig=kubeconfig)
    wait_for(lambda: shared_spec() == wanted["spec"], patience(60), message="the hand edit undone")
    kubectl("delete", "prometheusrule", SHARED_RULE_NAME, "-n", namespace, "--wait=true", "--timeout=60s",
            kubeconfig=kubeconfig)
    wait_for(lambda: shared_spec() == wanted["spec"], patience(60), message="the deleted shared rules back")


def test_hand_edits_and_deletions_of_children_are_undone(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    document = example_documents(namespace)[1]
    apply(kubeconfig, document)
    rule = wait_rules(namespace, ["model-availability"], kubeconfig)["model-availability"]
    wanted = expected_rule(document)["spec"]
    edited = json.dumps([{"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": "vector(0)"}])
    kubectl(
        "patch",
        "prometheusrule",
        "model-availability-slo",
        "-n",
        namespace,
        "--type=json",
        "-p",
        edited,
        kubeconfig=kubeconfig,
    )
    wait_for(
        lambda: (
            (get("prometheusrule", "model-availability-slo", namespace, kubeconfig) or {}).get("spec")
            == wanted
        ),
        30,
        message="edited PrometheusRule restored",
    )
    kubectl("delete", "prometheusrule", "model-availability-slo", "-n", namespace, kubeconfig=kubeconfig)
    restored = wait_for(
        lambda: get("prometheusrule", "model-availability-slo", namespace, kubeconfig),
        patience(30),
        message="deleted PrometheusRule recreated",
    )
    assert restored["spec"] == wanted
    assert restored["metadata"]["uid"] != rule["metadata"]["uid"]
    # Undoing a hand edit is news: an Event on the SLO says which children were applied again.
    wait_for(
        lambda: [
            e
            for e in json.loads(
                kubectl("get", "events", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout
            )["items"]
            if e.get("reason") == "RulesApplied"
            and e["involvedObject"]["name"] == "model-availability"
            and "PrometheusRule/model-availability-slo" in e.get("message", "")
        ],
        patience(30),
        message="a RulesApplied Event for the restored rule",
    )


def _status(namespace: str, name: str, kubeconfig: Path) -> dict[str, Any]:
    return dict((get("slo", name, namespace, kubeconfig) or {}).get("status") or {})


def test_status_matches_error_budget_calculator(
    kubeconfig: Path,
    operator: OperatorProcess,
    prometheus: Prometheus,
    traffic: SteadyTraffic,
    namespace: str,
) -> None:
    documents = example_documents(namespace)
    apply(kubeconfig, *documents)
    names = [d["metadata"]["name"] for d in documents]
    wait_rules(namespace, names, kubeconfig)
    wait_loaded(prometheus, namespace, names)  # selected by prometheus-operator (release label)
    cases = {
        # name: (objective, window days, error ratio the exporter produces)
        "model-availability": (99.9, 30, traffic.error_ratio),
        "model-latency": (95, 30, traffic.slow_ratio),
        "model-accuracy": (85, 1, traffic.wrong_ratio),
        "feature-freshness": (99, 7, 0.0),
    }
    for name, (objective, days, error_ratio) in cases.items():
        status = wait_for(
            # The SLI reads raw history from the first refresh; burn rates need the recorded series.
            lambda n=name: (s := _status(namespace, n, kubeconfig)).get("burnRate") is not None and s,
            patience(90),
            message=f"measured status of {name}",
        )
        calc = ErrorBudgetCalculator(objective, days)
        assert status["sli"] == pytest.approx(100 * (1 - error_ratio), abs=0.05), (name, status)
        assert status["burnRate"] == pytest.approx(calc.burn_rate(error_ratio), rel=0.05, abs=0.01), (
            name,
            status,
        )
        # Young SLOs (minutes of data): the bad events so far against the whole window's budget, i.e.
        # the calculator's budget after the covered share of the window (shown floored to 0.1 point,
        # and held back by at most 1 point of hysteresis).
        window = status["window"]
        # Raw history unless it holds nothing yet (freshness re-evaluates slices on a 5-minute grid).
        assert window["source"] in ("raw", "recorded") and window["covered"] < 100, (name, status)
        assert window["source"] == "raw" or name == "feature-freshness", (name, status)
        most = 100 * calc.remaining_budget(error_ratio, days * window["covered"] / 100)
        least = 100 * calc.remaining_budget(error_ratio, days * (window["covered"] + 1.1) / 100)
        assert least - 0.5 <= status["errorBudget"]["remaining"] <= most + 0.5, (name, status)
        firing = any(alert["firing"] for alert in status["burnRates"])
        assert status["state"] == ("AtRisk" if firing else "Warming"), (name, status)
        assert firing == (name == "model-availability"), (name, status)  # 2% errors: 20x, above 14.4
        exhausted = condition({"status": status}, "BudgetExhausted")
        assert exhausted is not None and exhausted["status"] == "False"
        covered = condition({"status": status}, "WindowCovered")
        assert covered is not None and covered["reason"] == "PartialHistory", (name, status)
        assert condition({"status": status}, "PrometheusReachable")["status"] == "True"  # type: ignore[index]
        assert status["lastEvaluated"]
        # Minutes of history: the forecast says so instead of making numbers up (two days are needed).
        forecast = status["forecast"]
        assert forecast["model"] == "insufficient-history", (name, status)
        for field in ("violationProbability", "budgetConsumed", "exhaustionAt"):
            assert forecast.get(field) is None, (name, field, status)
    # The forecast's history query ran against the real Prometheus without an error.
    assert "forecast history:" not in operator.log()
    wide = kubectl("get", "slo", "-n", namespace, "-o", "wide", kubeconfig=kubeconfig).stdout.splitlines()
    assert "COVERED" in wide[0].split()
    row = next(line for line in wide if line.startswith("model-availability"))
    assert "98" in row and "AtRisk" in row  # not Violating on minutes of a 30d window
    # A refresh costs the same number of Prometheus queries whatever the number of SLOs.
    counts = {
        line.split("queries=")[1].split()[0]
        for line in operator.log().splitlines()
        if "status refresh:" in line and "prometheus=ok" in line
    }
    # Six queries, plus one raw-history query for all young SLOs together.
    assert counts and counts <= {"6", "7"}, counts


def test_prometheus_outage_flips_condition_and_recovers(
    kubeconfig: Path, operator: OperatorProcess, prometheus: Prometheus, namespace: str
) -> None:
    documents = example_documents(namespace)[1:2]
    apply(kubeconfig, *documents)
    wait_rules(namespace, ["model-availability"], kubeconfig)
    wait_loaded(prometheus, namespace, ["model-availability"])
    before = wait_for(
        lambda: (s := _status(namespace, "model-availability", kubeconfig)).get("sli") is not None and s,
        patience(90),
        message="measured status",
    )
    prometheus.stop()
    try:
        down = wait_for(
            lambda: (
                (s := _status(namespace, "model-availability", kubeconfig))
                and (condition({"status": s}, "PrometheusReachable") or {}).get("status") == "False"
                and s
            ),
            30,
            message="PrometheusReachable=False",
        )
        assert down["sli"] == pytest.approx(before["sli"], abs=0.1)  # last numbers kept
        assert down["lastEvaluated"] >= before["lastEvaluated"]
        assert condition({"status": down}, "Ready")["status"] == "False"  # type: ignore[index]
        events = kubectl("get", "events", "-n", namespace, kubeconfig=kubeconfig).stdout
        assert "PrometheusUnreachable" in events
    finally:
        prometheus.start()
    wait_for(
        lambda: (
            (
                condition(
                    {"status": _status(namespace, "model-availability", kubeconfig)}, "PrometheusReachable"
                )
                or {}
            ).get("status")
            == "True"
        ),
        60,
        message="PrometheusReachable=True after restart",
    )
    assert operator.process is not None and operator.process.poll() is None


def test_restart_causes_no_writes(
    kubeconfig: Path,
    operator: OperatorProcess,
    prometheus: Prometheus,
    traffic: SteadyTraffic,
    namespace: str,
) -> None:
    """README: a restart writes nothing when nothing changed -- not to the SLOs, nor to any child kind
    (PrometheusRules, AlertmanagerConfigs, dashboard ConfigMaps), for SLOs without data and with data."""
    documents = example_documents(namespace)
    for document in documents:  # no data for these: their status settles on NoData and stays still
        document["spec"]["service"] = "quiet-service"
        for kind in document["spec"]["indicator"].values():
            for key, value in list(kind.items()):
                if key in ("errors", "total", "correct", "histogram", "timestamp"):
                    kind[key] = value.split("{")[0] + '{job="does-not-exist"}'
    # And one with data: the steady traffic, none of it counted as failed, so its measured figures are
    # constant (SLI 100%, burn rate 0) and a restart has nothing new to write.
    (measured,) = [d for d in example_documents(namespace) if d["metadata"]["name"] == "model-availability"]
    measured["metadata"]["name"] = "measured-availability"
    measured["spec"]["indicator"]["availability"]["errors"] = (
        'bentoml_service_request_total{endpoint="/predict",http_response_code=~"9.."}'
    )
    documents.append(measured)
    apply(kubeconfig, *documents)
    names = [d["metadata"]["name"] for d in documents]
    quiet = names[:-1]
    wait_rules(namespace, names, kubeconfig)

    def versions() -> dict[str, str]:
        out = {}
        for kind in ("slo", "prometheusrule", "alertmanagerconfig", "configmap"):
            items = json.loads(
                kubectl("get", kind, "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout
            )
            for item in items["items"]:
                out[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
        return out

    wait_for(
        lambda: all(_status(namespace, n, kubeconfig).get("state") == "NoData" for n in quiet),
        patience(60),
        message="NoData state on every SLO without data",
    )
    # prometheus-operator hands the rules to Prometheus, which starts evaluating them (recording-start
    # series appear even without traffic): the status settles once that is reflected.
    wait_loaded(prometheus, namespace, names)
    wait_for(
        lambda: (
            (s := _status(namespace, "measured-availability", kubeconfig)).get("sli") == 100
            and s.get("burnRate") == 0
        ),
        patience(90),
        message="measured status (SLI 100, burn rate 0) of the SLO with data",
    )

    def settled_versions() -> dict[str, str] | None:
        before = versions()
        refreshes = operator.log().count("status refresh: slos=")
        wait_for(
            lambda: operator.log().count("status refresh: slos=") >= refreshes + 2,
            patience(60),
            message="refreshes",
        )
        return before if versions() == before else None

    settled = wait_for(settled_versions, patience(180), 0, "a steady state (two refreshes without a write)")
    assert {f"configmap/{n}-slo-dashboard" for n in names} <= set(settled), settled  # dashboards compared too
    # The restarted operator's heartbeat is set far out: a lastEvaluated rewrite falling due during the
    # two refreshes compared would be a write for the clock's sake, not for the restart's.
    operator.env["SLO_OPERATOR_HEARTBEAT_SECONDS"] = "3600"
    operator.stop(kill=True)
    operator.start()
    restarted = operator.log().count("status refresh:")
    wait_for(
        lambda: operator.log().count("status refresh:") >= restarted + 2,
        patience(60),
        message="two refreshes after restart",
    )
    after = versions()
    changed = sorted(k for k in settled.keys() | after.keys() if settled.get(k) != after.get(k))
    assert not changed, f"restarting the operator must not write to SLOs or their children: {changed}"


def test_killed_mid_reconcile_converges_without_duplicates(
    kubeconfig: Path, operator: OperatorProcess, namespace: str
) -> None:
    operator.stop()
    documents = example_documents(namespace)
    apply(kubeconfig, *documents)

    def rules() -> list[dict[str, Any]]:
        listed = kubectl("get", "prometheusrule", "-n", namespace, "-o", "json", kubeconfig=kubeconfig).stdout
        return list(json.loads(listed)["items"])

    operator.start()
    wait_for(lambda: len(rules()) >= 1, patience(30), interval=0.05, message="first PrometheusRule")
    operator.stop(kill=True)  # SIGKILL while the others are being applied
    operator.start()
    names = [d["metadata"]["name"] for d in documents]
    wait_rules(namespace, names, kubeconfig)
    for name in names:
        wait_for(
            lambda n=name: (
                (condition(get("slo", n, namespace, kubeconfig), "RulesApplied") or {}).get("status")
                == "True"
            ),
            30,
            message=f"RulesApplied on {name}",
        )
    # Each SLO's own, once, and the namespace's shared rules, once and owned by no SLO.
    found = sorted(r["metadata"]["name"] for r in rules())
    assert found == sorted([f"{n}-slo" for n in names] + [SHARED_RULE_NAME])
    assert all(len(r["metadata"].get("ownerReferences") or []) == (r["metadata"]["name"] != SHARED_RULE_NAME)
               for r in rules())

"""A budget spent in a real Prometheus walks the policy's steps in order; the freeze lands and lifts.

Deterministic by construction, whatever the machine's load: good traffic flows at a constant rate and
each phase fails a burst of requests worth a known share of the budget, so the consumption Prometheus
records *plateaus inside one step's band* (40% between 30 and 60, 90% between 60 and 120, 170% above
120; see policy_support). The test waits, with deadlines derived from the refresh period, for the
operator to record each step: a step can be neither skipped nor overshot, however late a refresh runs.
Recovery multiplies the good traffic a hundredfold, which only ever lowers the consumption.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from policy_support import (
    RATE,
    REFRESH_DEADLINE,
    BudgetTraffic,
    RestartableOperator,
    deployment,
    endpoint_name,
    events,
    load_rules,
    measured,
    policy_document,
    secret,
    slo_document,
    wait_status,
)
from support.cluster import kubectl, wait_for
from support.processes import Prometheus
from support.slo_objects import apply, get
from ticket_servers import FakeGitHub

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
# A phase moves the window's ratio by a few minutes of traffic at most: generous, load-proof deadline.
PHASE_DEADLINE = 6 * REFRESH_DEADLINE
# Bands a factor of two wide: a plateau may read some percent off while the window is young (the first
# and last scrapes of a short span), never enough to leave its band.
STEPS = [
    {"name": "ticket", "consumed": 30, "actions": ["ticket"]},
    {"name": "escalate", "consumed": 60, "actions": ["notify"]},
    {"name": "freeze", "consumed": 120, "actions": ["freeze", "notify"]},
]


def step_is(name: str | None) -> Any:
    return lambda s: s.get("policy") is not None and s["policy"].get("step") == name


def image_change(namespace: str, image: str, kubeconfig: Path) -> tuple[bool, str]:
    proc = kubectl(
        "set",
        "image",
        "deployment/model",
        f"app={image}",
        "-n",
        namespace,
        kubeconfig=kubeconfig,
        check=False,
    )
    return proc.returncode == 0, proc.stderr


def test_spending_the_budget_walks_the_steps_and_the_freeze_lands_and_lifts(
    kubeconfig: Path,
    deploy_freeze: Path,
    operator: RestartableOperator,
    prometheus: Prometheus,
    budget_traffic: BudgetTraffic,
    github: FakeGitHub,
    namespace: str,
) -> None:
    endpoint = endpoint_name()
    budget_traffic.start(endpoint)
    apply(
        kubeconfig,
        secret(namespace, "gh", {"token": github.token}),
        policy_document(
            namespace,
            "model-policy",
            {
                "selector": {"matchLabels": {"tier": "model"}},
                "ticket": {
                    "github": {
                        "apiURL": github.url,
                        "owner": github.owner,
                        "repo": github.repo,
                        "token": {"name": "gh", "key": "token"},
                    }
                },
                "steps": STEPS,
            },
        ),
        slo_document(namespace, "model", endpoint, "model", {"tier": "model"}),
        deployment(namespace, "model", "model"),
    )
    load_rules(prometheus, namespace, "model", kubeconfig)
    measured(namespace, "model", kubeconfig)
    wait_status(namespace, "model", kubeconfig, lambda s: s["window"]["covered"] >= 1, "a minute of data")
    budget_traffic.spend(endpoint, 40)

    status = wait_status(
        namespace, "model", kubeconfig, step_is("ticket"), "step ticket at ~40%", PHASE_DEADLINE
    )
    assert 30 <= status["errorBudget"]["consumed"] < 60 and not status["policy"]["frozen"]
    wait_status(namespace, "model", kubeconfig, lambda s: s["policy"].get("tickets"), "the ticket recorded")

    budget_traffic.spend(endpoint, 50)  # plateau: 90%
    status = wait_status(
        namespace, "model", kubeconfig, step_is("escalate"), "step escalate at ~90%", PHASE_DEADLINE
    )
    assert 60 <= status["errorBudget"]["consumed"] < 120 and not status["policy"]["frozen"]

    budget_traffic.spend(endpoint, 80)  # plateau: 170%
    status = wait_status(
        namespace, "model", kubeconfig, step_is("freeze"), "step freeze at ~170%", PHASE_DEADLINE
    )
    assert status["policy"]["frozen"] is True and status["errorBudget"]["consumed"] >= 120
    row = next(
        line
        for line in kubectl("get", "slo", "-n", namespace, kubeconfig=kubeconfig).stdout.splitlines()
        if line.startswith("model ")
    )
    assert " freeze " in f"{row} "

    # The API server refuses the deploy, naming the SLO and the step; scaling still works.
    counter = iter(range(2, 10_000))
    error = wait_for(
        lambda: (lambda r: None if r[0] else r[1])(
            image_change(namespace, f"registry.local/app:{next(counter)}", kubeconfig)
        ),
        REFRESH_DEADLINE,
        interval=1,
        message="the deploy to be refused",
    )
    assert "deploy freeze: SLO model" in error and "step freeze" in error and "model-policy" in error
    kubectl("scale", "deployment/model", "--replicas=4", "-n", namespace, kubeconfig=kubeconfig)

    # An emergency change with the override annotation passes and is recorded on the SLO.
    patch = {
        "metadata": {"annotations": {"slo.mlops.dev/freeze-override": "rollback INC-7"}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/app:rb"}]}}},
    }
    kubectl("patch", "deployment", "model", "-n", namespace, "-p", json.dumps(patch), kubeconfig=kubeconfig)
    override = wait_for(
        lambda: events(namespace, kubeconfig, "FreezeOverridden"),
        REFRESH_DEADLINE,
        message="the FreezeOverridden Event",
    )
    assert "rollback INC-7" in override[0]["message"] and override[0]["involvedObject"]["name"] == "model"
    kubectl(
        "annotate",
        "deployment/model",
        "slo.mlops.dev/freeze-override-",
        "-n",
        namespace,
        kubeconfig=kubeconfig,
    )

    # Recovery: the consumption falls below 100 - hysteresis, the freeze lifts and deploys pass again.
    budget_traffic.set_rate(endpoint, 100 * RATE)
    status = wait_status(
        namespace,
        "model",
        kubeconfig,
        lambda s: s["policy"]["frozen"] is False,
        "the freeze lifted after recovery",
        PHASE_DEADLINE,
    )
    assert status["errorBudget"]["consumed"] < 115
    wait_for(
        lambda: image_change(namespace, f"registry.local/app:{next(counter)}", kubeconfig)[0],
        REFRESH_DEADLINE,
        interval=1,
        message="the deploy to be accepted after recovery",
    )

    # What the operator recorded: the steps in order, the freeze landing and lifting, one ticket.
    reached = sorted(
        events(namespace, kubeconfig, "PolicyStepReached"),
        key=lambda e: int(e["metadata"]["resourceVersion"]),
    )
    # The steps were reached in this order (a subsequence: on a loaded machine one refresh of a
    # minutes-old window can read a burst high and touch the next band early, which the phases
    # above have already waited out; each step still has its own Event, in order).
    steps = iter([e["message"].split()[1] for e in reached])
    assert all(step in steps for step in ("ticket", "escalate", "freeze")), [e["message"] for e in reached]
    assert events(namespace, kubeconfig, "DeployFreeze") and events(
        namespace, kubeconfig, "DeployFreezeLifted"
    )
    assert len(github.issues) == 1 and github.problems == []
    policy = get("errorbudgetpolicy", "model-policy", namespace, kubeconfig)
    assert policy is not None and [e["name"] for e in policy["status"]["slos"]] == ["model"]

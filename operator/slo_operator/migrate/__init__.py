"""Importing SLOs from Sloth, Pyrra and OpenSLO, and exporting ours as OpenSLO (``slo-operator import``,
``slo-operator render --format openslo``).

One pure module per source (``sloth``, ``pyrra``, ``openslo``) maps its documents onto our API;
``common`` holds the findings and the PromQL shapes they share. :func:`import_documents` picks the
source's documents out of everything read and validates each result with our own models, so what is
printed is what ``slo-operator validate`` and the API server accept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from slo_operator.api import ServiceLevelObjective
from slo_operator.durations import parse_window
from slo_operator.loader import problems_of
from slo_operator.migrate import openslo, pyrra, sloth
from slo_operator.migrate.common import IMPORTED_FROM, Finding, Result

SOURCES = ("sloth", "pyrra", "openslo")
_RECOGNISE = {"sloth": sloth.is_sloth, "pyrra": pyrra.is_pyrra, "openslo": openslo.is_openslo}


def import_documents(
    source_kind: str, documents: list[tuple[str, Any]], namespace: str | None = None
) -> Result:
    """Our SLO documents for the ``source_kind`` documents among ``documents`` ((source, document) pairs).

    Documents of other kinds are skipped with a warning; each result is validated with our API models
    and a failure becomes an error naming the field of our spec.
    """
    if source_kind not in SOURCES:
        raise ValueError(f"unknown source {source_kind!r}; choose one of {', '.join(SOURCES)}")
    recognise = _RECOGNISE[source_kind]
    mine: list[tuple[str, dict[str, Any]]] = []
    result = Result()
    for source, document in _flatten(documents):
        if document is None:
            continue
        if recognise(document):
            mine.append((source, document))
        else:
            kind = document.get("kind", document.get("version")) if isinstance(document, dict) else None
            result.findings.append(
                Finding(source, "kind", f"not a {source_kind} SLO document ({kind!r}); skipped")
            )
    if source_kind == "openslo":
        converted = openslo.convert_all(mine, namespace)
    else:
        converted = Result()
        module = sloth if source_kind == "sloth" else pyrra
        for source, document in mine:
            converted.extend(module.convert(document, source, namespace))
    result.findings.extend(converted.findings)
    for document in converted.documents:
        result.findings.extend(_drop_unreachable_alerts(document))
        name = document["metadata"]["name"]
        try:
            ServiceLevelObjective.model_validate(document)
        except ValidationError as exc:
            for problem in problems_of(exc, f"result {name}"):
                result.findings.append(Finding(problem.source, problem.field, problem.message, "error"))
            continue
        result.documents.append(document)
    if not mine:
        result.findings.append(
            Finding("(input)", "(documents)", f"no {source_kind} SLO documents found", "error")
        )
    return result


def _drop_unreachable_alerts(document: dict[str, Any]) -> list[Finding]:
    """Remove burn-rate alerts whose threshold needs an error ratio of 100% or more (a source tool renders
    them, but they can never fire; our API refuses them), each with a warning."""
    spec = document["spec"]
    alerts = (spec.get("alerting") or {}).get("burnRates")
    if not alerts:
        return []
    budget = (100 - Decimal(str(spec["objective"]))) / 100
    window = parse_window(spec["window"])
    kept, findings = [], []
    source = document["metadata"]["annotations"][IMPORTED_FROM]
    for alert in alerts:
        ratio = (
            Decimal(str(alert["budgetPercent"])) / 100 * window / parse_window(alert["longWindow"]) * budget
        )
        if ratio >= 1:
            findings.append(
                Finding(
                    source,
                    f"alert {alert['name']}",
                    f"needs an error ratio of {ratio:.0%} over {alert['longWindow']} to fire, which can "
                    "never happen at this objective; not imported",
                )
            )
        else:
            kept.append(alert)
    spec["alerting"]["burnRates"] = kept
    return findings


def _flatten(documents: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Items of ``kind: List`` documents (what ``kubectl get -o yaml`` prints) as documents of their own."""
    flat: list[tuple[str, Any]] = []
    for source, document in documents:
        if (
            isinstance(document, dict)
            and document.get("kind") == "List"
            and isinstance(document.get("items"), list)
        ):
            flat += [(f"{source}.items[{i}]", item) for i, item in enumerate(document["items"])]
        else:
            flat.append((source, document))
    return flat


__all__ = ["SOURCES", "Finding", "Result", "import_documents", "openslo", "pyrra", "sloth"]

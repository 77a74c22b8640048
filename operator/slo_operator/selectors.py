"""PromQL vector selectors from users, parsed into a safe structure and rendered back escaped.

A user string never reaches a generated rule as text: it is parsed by a real PromQL parser, must be a
plain vector selector (metric name plus label matchers — no functions, operators, ranges, ``offset``
or ``@``), and is rendered from its parsed parts with every label value re-escaped. Anything that
would smuggle extra PromQL in (``x} or vector(1)``, ``x{a="1"} / 0``) fails to parse as a selector.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

import promql_parser

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_SELECTOR_LENGTH = 1024

_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


class SelectorError(ValueError):
    """A string that is not a plain PromQL vector selector, with what to write instead."""


def escape_label_value(value: str) -> str:
    """A PromQL double-quoted string literal holding ``value`` exactly."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Matcher:
    """One label matcher: ``name op "value"``; op is one of ``=``, ``!=``, ``=~``, ``!~``."""

    name: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.name}{self.op}{escape_label_value(self.value)}"


@dataclass(frozen=True)
class Selector:
    """A validated vector selector: a metric name and label matchers, nothing else."""

    metric: str
    matchers: tuple[Matcher, ...] = ()

    def render(self) -> str:
        """PromQL text for this selector, every value escaped (the only way selectors become text)."""
        if not self.matchers:
            return self.metric
        return self.metric + "{" + ",".join(m.render() for m in self.matchers) + "}"

    def with_metric(self, metric: str) -> Selector:
        """The same matchers on another metric (``_bucket``/``_count`` of a histogram)."""
        if not METRIC_NAME.match(metric):
            raise SelectorError(f"{metric!r} is not a valid metric name")
        return replace(self, metric=metric)

    def with_matcher(self, matcher: Matcher) -> Selector:
        return replace(self, matchers=(*self.matchers, matcher))

    def label_names(self) -> set[str]:
        return {m.name for m in self.matchers}


def parse_selector(text: str) -> Selector:
    """Parse ``text`` as a plain vector selector, or raise SelectorError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise SelectorError('must be a PromQL vector selector such as http_requests_total{job="api"}')
    return _parse_selector(text)


@functools.lru_cache(maxsize=4096)
def _parse_selector(text: str) -> Selector:
    """Memoised (selectors are frozen): every reconcile and every status refresh resolves each SLO again,
    and SLOs of one service or one template share their selectors; one object then serves them all."""
    if len(text) > MAX_SELECTOR_LENGTH:
        raise SelectorError(f"is longer than {MAX_SELECTOR_LENGTH} characters")
    try:
        expr = promql_parser.parse(text)
    except ValueError as exc:
        raise SelectorError(f"is not valid PromQL ({exc}); write a selector such as "
                            'http_requests_total{job="api"}') from exc
    if not isinstance(expr, promql_parser.VectorSelector):
        raise SelectorError(
            f"must be a plain vector selector (metric{{label=\"value\"}}), not a {type(expr).__name__}: "
            "functions, operators and ranges are added by slo-operator itself"
        )
    if expr.offset is not None or expr.at is not None:
        raise SelectorError("must not use 'offset' or '@': slo-operator chooses the time range")
    if expr.matchers.or_matchers:
        raise SelectorError("must not use 'or' inside the braces; write one selector per SLO")
    metric = expr.name
    matchers: list[Matcher] = []
    for raw in expr.matchers.matchers:
        op = _OPS[str(raw.op).rsplit(".", 1)[-1]]
        if raw.name == "__name__":
            if op != "=" or metric is not None:
                raise SelectorError("name the metric before the braces (metric{...}), not with __name__")
            metric = raw.value
            continue
        if not LABEL_NAME.match(raw.name):
            raise SelectorError(f"label name {raw.name!r} is not valid")
        matchers.append(Matcher(raw.name, op, raw.value))
    if not metric or not METRIC_NAME.match(metric):
        raise SelectorError("must name a metric, e.g. http_requests_total{job=\"api\"}")
    return Selector(metric=metric, matchers=tuple(matchers))

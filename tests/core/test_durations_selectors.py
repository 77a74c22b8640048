"""Durations (parse/format round trips) and PromQL selectors (parse/render round trips, escaping, le)."""

from __future__ import annotations

import re
from decimal import Decimal

import promql_parser
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from slo_operator.durations import DurationError, format_duration, parse_duration, parse_window
from slo_operator.promql import le_matcher
from slo_operator.selectors import (
    Matcher,
    Selector,
    SelectorError,
    escape_label_value,
    parse_selector,
)

# ---- durations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", Decimal(1)),
        ("5m", Decimal(300)),
        ("1h", Decimal(3600)),
        ("1h30m", Decimal(5400)),
        ("90m", Decimal(5400)),
        ("30d", Decimal(2592000)),
        ("1w", Decimal(604800)),
        ("1y", Decimal(365 * 86400)),
        ("200ms", Decimal("0.2")),
        ("1s500ms", Decimal("1.5")),
        ("1d2h3m4s5ms", Decimal("93784.005")),
        ("0h5m", Decimal(300)),
    ],
)
def test_parse_duration(text: str, seconds: Decimal) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "5",
        "m",
        "5 m",
        "-5m",
        "5M",
        "1.5h",
        "30m1h",
        "1h1h",
        "5x",
        "0s",
        "0d",
        "0h0m",
        "1h ",
        " 1h",
        "1mss",
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_parse_window_whole_seconds() -> None:
    assert parse_window("30d") == 2592000
    assert parse_window("90m") == 5400
    assert parse_window("2000ms") == 2
    assert isinstance(parse_window("5m"), int)
    for bad in ("500ms", "1s500ms", "0m"):
        with pytest.raises(DurationError):
            parse_window(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2592000, "30d"),
        (2419200, "28d"),  # not 4w: what users write stays
        (604800, "7d"),
        (86400, "1d"),
        (5400, "1h30m"),
        (300, "5m"),
        (1, "1s"),
        (Decimal("0.2"), "200ms"),
        (Decimal("93784.005"), "1d2h3m4s5ms"),
    ],
)
def test_format_duration(seconds: int | Decimal, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, -1, Decimal("0.0005"), Decimal("1.0001")])
def test_format_duration_rejects(seconds: int | Decimal) -> None:
    with pytest.raises(DurationError):
        format_duration(seconds)


@pytest.mark.parametrize(
    ("call", "argument", "message"),
    [
        (parse_duration, "", r"^must be a Prometheus duration such as 5m, 1h, 30d or 200ms$"),
        (parse_duration, 30, r"^must be a Prometheus duration such as 5m, 1h, 30d or 200ms$"),
        (parse_duration, "5 m", r"^'5 m' is not a Prometheus duration; use e\.g\. 5m, 1h, 30d or 200ms$"),
        (parse_duration, "30m1h",
         r"^'30m1h': units must go from largest to smallest, each once \(e\.g\. 1h30m\)$"),
        (parse_duration, "0h", r"^'0h' must be longer than zero$"),
        (parse_window, "500ms", r"^'500ms': windows are whole seconds or more \(e\.g\. 5m\)$"),
        (format_duration, 0, r"^durations must be positive$"),
        (format_duration, Decimal("1.0001"), r"^1\.0001 s cannot be written with millisecond resolution$"),
    ],
)
def test_duration_errors_say_what_is_wrong_and_how_to_write_it(
    call: object, argument: object, message: str
) -> None:
    """README: what the operator refuses comes with the reason and the fix (these messages reach
    ``kubectl describe`` and ``slo-operator validate``)."""
    assert callable(call)
    with pytest.raises(DurationError, match=message):
        call(argument)


@st.composite
def canonical_durations(draw: st.DrawFn) -> str:
    """Canonical spellings: d, h<24, m<60, s<60, ms<1000, zero parts left out, at least one part."""
    parts = [
        (draw(st.integers(0, 5000)), "d"),
        (draw(st.integers(0, 23)), "h"),
        (draw(st.integers(0, 59)), "m"),
        (draw(st.integers(0, 59)), "s"),
        (draw(st.integers(0, 999)), "ms"),
    ]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "1s"


@given(canonical_durations())
@example("30d")
@example("1h30m")
@example("200ms")
def test_format_of_parse_is_canonical(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@given(st.integers(min_value=1, max_value=10**9))
def test_parse_of_format_is_identity_for_seconds(seconds: int) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert parse_window(text) == seconds
    # Prometheus agrees with our reading of the text.
    assert promql_parser.parse_duration(text).total_seconds() == seconds


@given(st.integers(min_value=1, max_value=10**12))
def test_parse_of_format_is_identity_for_milliseconds(millis: int) -> None:
    seconds = Decimal(millis) / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(1, 999_999), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_single_unit_windows_round_trip(n: int, unit: str) -> None:
    text = f"{n}{unit}"
    seconds = parse_window(text)
    assert parse_window(format_duration(seconds)) == seconds


# ---- selectors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "matchers"),
    [
        ("up", "up", ()),
        ("up{}", "up", ()),
        ('http_requests_total{job="api"}', "http_requests_total", (Matcher("job", "=", "api"),)),
        (
            'x{a="1",b!="2",c=~"5..",d!~"4.."}',
            "x",
            (
                Matcher("a", "=", "1"),
                Matcher("b", "!=", "2"),
                Matcher("c", "=~", "5.."),
                Matcher("d", "!~", "4.."),
            ),
        ),
        ('{__name__="up",job="x"}', "up", (Matcher("job", "=", "x"),)),
        ("ns:metric:rate5m", "ns:metric:rate5m", ()),
        ("x{a='single'}", "x", (Matcher("a", "=", "single"),)),
        ('x{a="q\\"uote"}', "x", (Matcher("a", "=", 'q"uote'),)),
        ('x{a="back\\\\slash"}', "x", (Matcher("a", "=", "back\\slash"),)),
        ('x{a="line\\nbreak"}', "x", (Matcher("a", "=", "line\nbreak"),)),
        ('x{a=~"5\\\\d+"}', "x", (Matcher("a", "=~", "5\\d+"),)),
        # RE2 syntax Python's re rejects (\z, end of text): regexes are checked by the PromQL parser.
        ('x{a=~"\\\\z"}', "x", (Matcher("a", "=~", "\\z"),)),
    ],
)
def test_parse_selector(text: str, metric: str, matchers: tuple[Matcher, ...]) -> None:
    selector = parse_selector(text)
    assert selector.metric == metric
    assert selector.matchers == matchers
    assert parse_selector(selector.render()) == selector


@pytest.mark.parametrize(
    "text",
    [
        "rate(x[5m])",
        "x[5m]",
        "x offset 5m",
        "x @ 100",
        "x / 2",
        "-x",
        "(x)",
        "sum(x)",
        "x} or vector(1)",
        'x{a="1"} or vector(1)',
        '{a="1"}',
        'x{a=~"(("}',
        'x{__name__="y"}',
        'x{a="1" or b="2"}',
        "",
        "   ",
        "1",
        '"x"',
        "x" * 1025,
    ],
)
def test_parse_selector_rejects(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('q"', '"q\\""'),
        ("b\\", '"b\\\\"'),
        ("n\nr\r", '"n\\nr\\r"'),
        ('"} or vector(1) #', '"\\"} or vector(1) #"'),
    ],
)
def test_escape_label_value(value: str, literal: str) -> None:
    assert escape_label_value(value) == literal


# Any text UTF-8 can carry (surrogates cannot be in YAML or PromQL), plus the characters that matter.
label_values = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['"} or vector(1) #', '\\"', "\\", "\n", "a\\nb", "{}", "`", "'"]
)
ops = st.sampled_from(["=", "!="])


@given(label_values, ops)
@example('x"} or vector(1) # \\', "=")
@example('\\\\""\n\r\t', "!=")
def test_selector_render_round_trips_any_label_value(value: str, op: str) -> None:
    selector = Selector("metric_total", (Matcher("path", op, value), Matcher("job", "=", "api")))
    rendered = selector.render()
    assert parse_selector(rendered) == selector
    # The rendered text is a single vector selector for a real PromQL parser, whatever the value holds.
    tree = promql_parser.parse(rendered)
    assert isinstance(tree, promql_parser.VectorSelector)
    assert tree.name == "metric_total"
    assert [(m.name, m.value) for m in tree.matchers.matchers] == [("path", value), ("job", "api")]


@given(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,30}", fullmatch=True))
def test_any_metric_name_round_trips(metric: str) -> None:
    assert parse_selector(metric) == Selector(metric)
    assert parse_selector(Selector(metric).render()) == Selector(metric)


def test_with_metric_and_matcher() -> None:
    base = parse_selector('h{job="api"}')
    bucket = base.with_metric("h_bucket").with_matcher(Matcher("le", "=~", "0\\.2"))
    assert bucket.render() == 'h_bucket{job="api",le=~"0\\\\.2"}'
    assert base.render() == 'h{job="api"}'  # immutable
    with pytest.raises(SelectorError):
        base.with_metric("bad-name")


# ---- le matcher -----------------------------------------------------------------------------------------

GO_SPELLING = {  # what client_golang writes in `le` for these bucket bounds
    "0.005": "0.005",
    "0.2": "0.2",
    "0.25": "0.25",
    "1": "1",
    "2.5": "2.5",
    "10": "10",
    "60": "60",
}


@pytest.mark.parametrize(
    ("threshold", "regex"),
    [
        ("0.2", "0\\.2"),
        ("0.25", "0\\.25"),
        ("0.005", "0\\.005"),
        ("1", "1|1\\.0"),
        ("1.000", "1|1\\.0"),
        ("2.5", "2\\.5"),
        ("10", "10|10\\.0"),
    ],
)
def test_le_matcher_value(threshold: str, regex: str) -> None:
    matcher = le_matcher(Decimal(threshold))
    assert (matcher.name, matcher.op, matcher.value) == ("le", "=~", regex)


@pytest.mark.parametrize("threshold", ["0.005", "0.2", "0.25", "1", "2.5", "10", "60"])
def test_le_matcher_matches_go_and_python_clients(threshold: str) -> None:
    matcher = le_matcher(Decimal(threshold))
    python_spelling = repr(float(threshold))  # prometheus_client: 1.0, 0.2
    go_spelling = GO_SPELLING[threshold]  # client_golang: 1, 0.2
    # Prometheus regex matchers are fully anchored, like re.fullmatch.
    assert re.fullmatch(matcher.value, python_spelling)
    assert re.fullmatch(matcher.value, go_spelling)


@pytest.mark.parametrize(
    ("threshold", "other"),
    [("0.2", "0x2"), ("0.2", "0.25"), ("0.2", "10.2"), ("1", "10"), ("1", "1x0"), ("1", "0.1"), ("10", "1")],
)
def test_le_matcher_does_not_match_other_buckets(threshold: str, other: str) -> None:
    assert not re.fullmatch(le_matcher(Decimal(threshold)).value, other)


def test_le_matcher_from_a_parsed_threshold_survives_rendering() -> None:
    matcher = le_matcher(parse_duration("200ms"))
    rendered = Selector("h_bucket", (matcher,)).render()
    assert rendered == 'h_bucket{le=~"0\\\\.2"}'
    tree = promql_parser.parse(rendered)
    assert isinstance(tree, promql_parser.VectorSelector)
    assert tree.matchers.matchers[0].value == "0\\.2"


_PLAIN = ('must be a plain vector selector (metric{{label="value"}}), not a {}: functions, operators and '
          "ranges are added by slo-operator itself")
_WRITE = '; write a selector such as http_requests_total{job="api"}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'must be a PromQL vector selector such as http_requests_total{job="api"}'),
        ("   ", 'must be a PromQL vector selector such as http_requests_total{job="api"}'),
        ("x" * 1025, "is longer than 1024 characters"),
        ("x}", "is not valid PromQL (unexpected right brace '}')" + _WRITE),
        ("rate(x[5m])", _PLAIN.format("Call")),
        ("x[5m]", _PLAIN.format("MatrixSelector")),
        ("x / 2", _PLAIN.format("BinaryExpr")),
        ("x offset 5m", "must not use 'offset' or '@': slo-operator chooses the time range"),
        ("x @ 100", "must not use 'offset' or '@': slo-operator chooses the time range"),
        ('x{a="1" or b="2"}', "must not use 'or' inside the braces; write one selector per SLO"),
        ('{__name__=~"y"}', "name the metric before the braces (metric{...}), not with __name__"),
        ('x{"a-b"="1"}', "label name 'a-b' is not valid"),
        ('{a="1"}', 'must name a metric, e.g. http_requests_total{job="api"}'),
        ('{__name__="1x"}', 'must name a metric, e.g. http_requests_total{job="api"}'),
    ],
)
def test_selector_errors_say_what_is_wrong_and_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as raised:
        parse_selector(text)
    assert str(raised.value) == message


def test_the_longest_selector_is_accepted_and_a_name_matcher_names_the_metric() -> None:
    assert parse_selector("x" * 1024) == Selector("x" * 1024)
    assert parse_selector('{__name__="up",job="a"}') == Selector("up", (Matcher("job", "=", "a"),))
    assert parse_selector('x{a="1",b="2"}').label_names() == {"a", "b"}
    with pytest.raises(SelectorError, match=r"^'bad-name' is not a valid metric name$"):
        Selector("x").with_metric("bad-name")

"""The Prometheus client at scale: one query for thousands of SLOs still reaches Prometheus."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import httpx
from slo_operator.prometheus import LONG_QUERY, QUOTE_CHUNK, PrometheusClient


def test_a_query_over_thousands_of_slos_is_posted_as_a_form() -> None:
    """One query covers every SLO; past a few KiB it goes as a form body (URLs have limits)."""
    seen: list[tuple[str, int]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, len(request.url.query)))
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})

    client = PrometheusClient("http://prometheus", transport=httpx.MockTransport(answer))
    client.query("up")
    client.query("sum(" + " or ".join(f'x{{slo="slo-{i:05d}"}}' for i in range(10_000)) + ")")
    assert seen[0][0] == "GET"
    assert seen[1][0] == "POST" and seen[1][1] < LONG_QUERY


def test_a_posted_form_carries_the_query_exactly() -> None:
    """The form is quoted a chunk at a time (memory); Prometheus must read back the very same text,
    whatever falls on a chunk's edge (multi-byte characters, escapes, spaces)."""
    seen: list[tuple[str, bytes]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["content-type"], request.content))
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})

    client = PrometheusClient("http://prometheus", transport=httpx.MockTransport(answer))
    text = "".join(f'x{{slo="é-{i}", a=~"b|c&d+e%f"}} or\n' for i in range(3_000)) + "vector(1)"
    assert len(text) > 5 * QUOTE_CHUNK
    client.query(text, at=1_700_000_000.5)
    ((kind, body),) = seen
    assert kind == "application/x-www-form-urlencoded"
    assert body == urlencode({"query": text, "time": "1700000000.5"}).encode()
    assert parse_qs(body.decode(), keep_blank_values=True) == {"query": [text], "time": ["1700000000.5"]}

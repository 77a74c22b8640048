"""The Prometheus client at scale: one query for thousands of SLOs still reaches Prometheus."""

from __future__ import annotations

import httpx
from slo_operator.prometheus import LONG_QUERY, PrometheusClient


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

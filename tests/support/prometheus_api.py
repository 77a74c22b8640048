"""Reading requests the way Prometheus' HTTP API does, for the in-process stand-ins of the unit tests.

Prometheus accepts a query's parameters in the URL (GET) or as a form body (POST); the operator
sends long queries (thousands of SLOs) as POST. A stand-in that read only the URL would see no query.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx


def request_params(request: httpx.Request) -> dict[str, str]:
    """The API parameters from the URL and, for POST, the form body (the body wins, as in Go's ParseForm)."""
    params = dict(request.url.params)
    if request.method == "POST":
        params.update({key: values[0] for key, values in parse_qs(request.content.decode()).items()})
    return params

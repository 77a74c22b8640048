"""Loopback HTTP endpoints that speak PagerDuty's Events API v2 and Slack's incoming webhooks.

Alertmanager reaches them through its own ``url`` / ``api_url`` settings. Every request is recorded (and
appended as a JSON line to a file when run as ``python -m devstack.receivers``), so tests and the demo
can show exactly what the on-call engineer would have received.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Delivery:
    at: float  # time.monotonic()
    path: str
    body: dict[str, Any]


@dataclass
class FakeReceivers:
    """One loopback HTTP server speaking PagerDuty Events API v2 (``POST /v2/enqueue``) and a Slack
    incoming webhook (``POST /slack/<anything>``); every request is recorded."""

    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    log: Path | None = None

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    receiver.deliveries.append(Delivery(time.monotonic(), self.path, body))
                    if receiver.log is not None:
                        with receiver.log.open("a") as handle:
                            record = {"time": time.time(), "path": self.path, "body": body}
                            handle.write(json.dumps(record) + "\n")
                if self.path == "/v2/enqueue":
                    reply = json.dumps(
                        {
                            "status": "success",
                            "message": "Event processed",
                            "dedup_key": body.get("dedup_key", ""),
                        }
                    ).encode()
                    self.send_response(202)
                    self.send_header("Content-Type", "application/json")
                elif self.path.startswith("/tickets"):  # an error-budget policy's webhook ticket backend
                    with receiver._lock:
                        count = sum(1 for d in receiver.deliveries if d.path.startswith("/tickets"))
                    reply = json.dumps({"key": f"DEMO-{count}"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                elif self.path.startswith("/slack/"):
                    reply = b"ok"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                else:
                    reply = b"not found"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def pagerduty_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/T000/B000/XXXX"

    def pagerduty(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == "/v2/enqueue"]

    def slack(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path.startswith("/slack/")]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True, help="JSON lines file of every delivery")
    args = parser.parse_args()
    receivers = FakeReceivers(port=args.port, log=args.log)
    receivers.thread.join()


if __name__ == "__main__":
    main()

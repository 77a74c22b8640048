"""A real SMTP server for the tests: aiosmtpd's Controller on a free loopback port, recording what it gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import monthdata
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Accepts mail, refusing the recipients in ``refuse`` (550) and every message when ``reject_data``."""

    refuse: set[str] = field(default_factory=set)
    reject_data: bool = False
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.reject_data:
            return "554 5.7.1 message refused by policy"
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


@dataclass
class SMTPServer:
    host: str
    port: int
    handler: RecordingHandler
    cert: Path | None = None


USER, PASSWORD = "reporter", "s3cret-for-a-loopback-test"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def start(handler: RecordingHandler, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=monthdata.free_port(), ready_timeout=10,
                            **kwargs)
    controller.start()  # returns once the server answers (bounded by ready_timeout)
    return controller



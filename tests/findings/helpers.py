"""Builders shared by the findings tests."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.severity import Severity


def make_engagement(
    session: Session, name: str = "测试项目", client: Client | None = None
) -> Engagement:
    """A client (unless given) and an engagement scoped to loopback."""
    owner = client or add_client(session, f"客户-{name}")
    return create_engagement(
        session,
        owner,
        EngagementInput(
            name=name, scope=["127.0.0.0/8"], start=date(2026, 1, 1), end=date(2026, 12, 31)
        ),
    )


def finding(
    n: int,
    *,
    host: str = "127.0.0.1",
    tool: str = "nuclei",
    severity: Severity = Severity.HIGH,
    **extra: object,
) -> FindingInput:
    """A finding whose identity is determined by ``n`` and ``host``."""
    values: dict[str, object] = {
        "source_tool": tool,
        "check_id": f"check-{n}",
        "title": f"问题 {n}",
        "severity": severity,
        "host": host,
        "port": 80,
        "protocol": "tcp",
        "url": f"http://{host}/p{n}",
    }
    values.update(extra)
    return FindingInput(**values)  # type: ignore[arg-type]

"""Helpers of the console tests for imports, assessment entry and deliverables."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.assess.datasec.models import DatasecAnswer
from shaobing.assess.mlps.models import MlpsRecord
from shaobing.core.audit import AuditEvent
from shaobing.core.db import session_scope
from shaobing.findings.models import Finding, ImportRun, WorkOrder
from tests.server.conftest import World

Login = Callable[[str], TestClient]
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token the page's forms carry."""
    found = _CSRF_FIELD.search(html)
    assert found is not None, "page has no form with a CSRF token"
    return found.group(1)


def browser(client: TestClient) -> TestClient:
    """The same session without the CSRF header: forms must carry the token themselves."""
    client.headers.pop("X-CSRF-Token", None)
    return client


def one_line_error(response_text: str) -> str:
    """The API's error message, checked to be one line without a traceback."""
    assert "Traceback" not in response_text
    message = json.loads(response_text)["error"]
    assert isinstance(message, str) and message and "\n" not in message
    return message


def audit_count(world: World, action: str) -> int:
    """How many audit events of ``action`` there are."""
    with session_scope(world.engine, readonly=True) as db:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        return int(db.scalar(query) or 0)


def findings_state(world: World, engagement_id: int) -> tuple[int, ...]:
    """Findings, work orders, imports of the engagement and import audit events."""
    with session_scope(world.engine, readonly=True) as db:
        counts = [
            db.scalar(
                select(func.count()).select_from(model).where(model.engagement_id == engagement_id)
            )
            for model in (Finding, WorkOrder, ImportRun)
        ]
    return (*(int(c or 0) for c in counts), audit_count(world, "findings.import"))


def assessment_state(world: World) -> str:
    """Every MLPS record and data security answer, as text (what a refusal must not change)."""
    with session_scope(world.engine, readonly=True) as db:
        records = db.execute(
            select(
                MlpsRecord.object_id,
                MlpsRecord.item_id,
                MlpsRecord.result,
                MlpsRecord.source,
                MlpsRecord.evidence,
                MlpsRecord.note,
            ).order_by(MlpsRecord.id)
        ).all()
        answers = db.execute(
            select(
                DatasecAnswer.question_id,
                DatasecAnswer.answer,
                DatasecAnswer.source,
                DatasecAnswer.note,
            ).order_by(DatasecAnswer.id)
        ).all()
    return json.dumps([[list(r) for r in records], [list(a) for a in answers]], ensure_ascii=False)

"""Re-applying fingerprint rules merges findings, their history and their work orders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from shaobing.core.db import session_scope
from shaobing.findings import service
from shaobing.findings.ingest import ingest
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from tests.findings.helpers import finding, make_engagement

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_rededup_merges_and_keeps_history(engine: Engine, tmp_path: Path) -> None:
    records = [
        finding(
            1, tool="bandit", host=None, url=None, file_path="app/db.py", line=10, check_id="B608"
        ),
        finding(
            2, tool="bandit", host=None, url=None, file_path="app/db.py", line=42, check_id="B608"
        ),
        finding(
            3, tool="bandit", host=None, url=None, file_path="app/web.py", line=7, check_id="B608"
        ),
    ]
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, records, format_name="bandit", now=NOW)
        orders = s.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
        service.comment(s, orders[1], "第二个工单的评论", actor="eng")
        eng_id = eng.id
    rules = tmp_path / "fingerprints.yaml"
    rules.write_text(
        "tools:\n  bandit: {fields: [source_tool, check_id, file_path]}\n", encoding="utf-8"
    )
    with session_scope(engine) as s:
        from shaobing.engagements.models import Engagement

        result = service.rededup(s, s.get_one(Engagement, eng_id), actor="eng", override=rules)
    assert result == {"findings": 3, "changed": 2, "merged": 1}
    with session_scope(engine, readonly=True) as s:
        remaining = s.scalars(select(Finding).order_by(Finding.id)).all()
        assert [f.file_path for f in remaining] == ["app/db.py", "app/web.py"]
        assert remaining[0].times_seen == 2
        assert s.scalar(select(func.count()).select_from(WorkOrder)) == 2
        comment = s.scalars(select(FindingEvent).where(FindingEvent.kind == "comment")).one()
        assert comment.work_order_id == remaining[0].work_order_id
        merged = s.scalars(select(FindingEvent).where(FindingEvent.kind == "merged")).one()
        assert merged.finding_id == remaining[0].id
    with session_scope(engine) as s:
        from shaobing.engagements.models import Engagement

        again = service.rededup(s, s.get_one(Engagement, eng_id), actor="eng", override=rules)
    assert again == {"findings": 2, "changed": 0, "merged": 0}

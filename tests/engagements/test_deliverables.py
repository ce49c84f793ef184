"""The deliverables tracker: matching, the state machine, refusals, overdue, the CLI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from shaobing.core.audit import AuditEvent
from shaobing.core.db import session_scope
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.engagements import deliverables as svc
from shaobing.engagements.models import Deliverable, Engagement
from shaobing.engagements.service import (
    EngagementInput,
    add_client,
    create_engagement,
    parse_service_item,
)
from tests.conftest import CliRunner

ITEMS = [
    "vuln_scan:semiannual:3,9",  # vuln_scan_report 2026-03, 2026-09
    "inspection:monthly",  # inspection_report x12
    "risk_assessment:quarterly",  # risk_assessment_report 2026-03/06/09/12
    "pentest:once:due=2026-06-15",  # pentest_report 2026-06
    "mlps_assessment:yearly",  # mlps_gap_report 2026
]


def _engagement(session: object, name: str = "交付物项目") -> Engagement:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    client = add_client(session, f"客户-{name}")
    return create_engagement(
        session,
        client,
        EngagementInput(
            name=name,
            code="DLV-2026",
            scope=["127.0.0.0/8"],
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            items=[parse_service_item(i) for i in ITEMS],
        ),
    )


def _one(session: object, engagement: Engagement, kind: str, period: str) -> Deliverable:
    found = svc.match_deliverable(session, engagement, kind, period)  # type: ignore[arg-type]
    assert found is not None, (kind, period)
    return found


def test_schedule_gives_the_owed_deliverables(engine: Engine) -> None:
    with session_scope(engine) as session:
        eng = _engagement(session)
        rows = svc.list_deliverables(session, eng)
        kinds = [d.kind for d in rows]
        assert kinds.count("inspection_report") == 12
        assert kinds.count("risk_assessment_report") == 4
        assert [d.period for d in rows if d.kind == "vuln_scan_report"] == ["2026-03", "2026-09"]
        assert all(d.state == "planned" for d in rows)
        # Earliest due first.
        dues = [d.due_date for d in rows]
        assert None not in dues
        assert dues == sorted(d for d in dues if d is not None)


def test_match_month_quarter_half_year_and_none(engine: Engine) -> None:
    with session_scope(engine) as session:
        eng = _engagement(session)
        assert _one(session, eng, "inspection_report", "2026-10").period == "2026-10"
        # A quarter key finds the quarterly deliverable whose month falls in the quarter.
        assert _one(session, eng, "risk_assessment_report", "2026-Q3").period == "2026-09"
        assert _one(session, eng, "vuln_scan_report", "2026-H1").period == "2026-03"
        assert _one(session, eng, "vuln_scan_report", "2026-H2").period == "2026-09"
        # A month inside a yearly deliverable's year finds it.
        assert _one(session, eng, "mlps_gap_report", "2026-05").period == "2026"
        assert _one(session, eng, "mlps_gap_report", "2026").period == "2026"
        # Nothing owed in that window.
        assert svc.match_deliverable(session, eng, "vuln_scan_report", "2026-Q2") is None
        assert svc.match_deliverable(session, eng, "vuln_scan_report", "2027-03") is None
        assert svc.match_deliverable(session, eng, "incident_report", None) is None
        # No period: the earliest deliverable not yet accepted.
        first = _one(session, eng, "inspection_report", "2026-01")
        assert svc.match_deliverable(session, eng, "inspection_report", None) is first
        first.state = "accepted"
        session.flush()
        second = svc.match_deliverable(session, eng, "inspection_report", None)
        assert second is not None and second.period == "2026-02"
        with pytest.raises(ValidationError, match="2026-13"):
            svc.match_deliverable(session, eng, "inspection_report", "2026-13")


def test_attach_submit_accept_reopen(engine: Engine, tmp_path: Path) -> None:
    report = tmp_path / "scan-2026-03.docx"
    report.write_bytes(b"PK\x03\x04 not really a docx")
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    with session_scope(engine) as session:
        eng = _engagement(session)
        d = _one(session, eng, "vuln_scan_report", "2026-03")
        svc.attach_file(
            session, d, report, digest, actor="tester", report_no="SB-LDSM-202603-001", build_id=7
        )
        assert d.state == "in_progress"
        assert d.file_sha256 == digest
        assert d.extra["report_no"] == "SB-LDSM-202603-001" and d.extra["build_id"] == 7

        svc.submit(session, d, actor="tester", on=date(2026, 3, 31))
        assert d.state == "submitted"
        assert svc.local_date(eng, d.submitted_at) == date(2026, 3, 31)

        # Accepting before the submission date is refused, naming both dates.
        with pytest.raises(ValidationError, match="2026-03-30") as err:
            svc.accept(session, d, actor="tester", by="王主任", on=date(2026, 3, 30))
        assert "\n" not in str(err.value)
        svc.accept(session, d, actor="tester", by="王主任", on=date(2026, 4, 3), note="无异议")
        assert d.state == "accepted" and d.accepted_by == "王主任"
        assert svc.local_date(eng, d.accepted_at) == date(2026, 4, 3)

        # An accepted deliverable takes no new file until it is reopened.
        with pytest.raises(ValidationError, match="已验收"):
            svc.attach_file(session, d, report, digest, actor="t", report_no=None, build_id=None)
        svc.reopen(session, d, actor="tester", reason="客户要求修改")
        assert d.state == "in_progress"
        assert d.submitted_at is None and d.accepted_at is None and d.accepted_by is None
        moves = [(h["from"], h["to"]) for h in d.extra["history"]]
        assert moves == [
            ("planned", "in_progress"),
            ("in_progress", "submitted"),
            ("submitted", "accepted"),
            ("accepted", "in_progress"),
        ]
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("deliverable.%"))
            .order_by(AuditEvent.seq)
        ).all()
        assert actions == [
            "deliverable.attach",
            "deliverable.submit",
            "deliverable.accept",
            "deliverable.reopen",
        ]


def test_refusals_are_one_line(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        eng = _engagement(session)
        d = _one(session, eng, "inspection_report", "2026-02")
        with pytest.raises(ValidationError, match="--file") as err:
            svc.submit(session, d, actor="t")
        assert "\n" not in str(err.value)
        with pytest.raises(ValidationError, match="计划中"):
            svc.accept(session, d, actor="t", by="王主任")
        with pytest.raises(ValidationError, match="计划中"):
            svc.reopen(session, d, actor="t")
        with pytest.raises(ValidationError, match=r"missing\.docx"):
            svc.submit(session, d, actor="t", file=tmp_path / "missing.docx")
        # A paper-only deliverable may be forced; reopening it goes back to 计划中.
        svc.submit(session, d, actor="t", force=True)
        assert d.state == "submitted" and d.file_path is None
        with pytest.raises(ValidationError, match="已提交"):
            svc.submit(session, d, actor="t", force=True)
        with pytest.raises(ValidationError, match="--by"):
            svc.accept(session, d, actor="t", by="  ")
        svc.reopen(session, d, actor="t")
        assert d.state == "planned"
        with pytest.raises(NotFoundError, match="99999"):
            svc.get_deliverable(session, eng, 99999)
        with pytest.raises(ValidationError, match="bogus_report"):
            svc.add_deliverable(session, eng, kind="bogus_report", due=date(2026, 5, 1), actor="t")
        with pytest.raises(ValidationError, match="已审核"):
            svc.parse_state("已审核")
        assert svc.parse_state("已提交") is svc.State.SUBMITTED


def test_get_deliverable_checks_the_engagement(engine: Engine) -> None:
    with session_scope(engine) as session:
        one = _engagement(session, "项目甲")
        other = _engagement(session, "项目乙")
        d = _one(session, one, "inspection_report", "2026-01")
        assert svc.get_deliverable(session, one, d.id) is d
        assert svc.get_deliverable(session, None, d.id) is d
        with pytest.raises(NotFoundError):
            svc.get_deliverable(session, other, d.id)


def test_overdue_and_on_demand(engine: Engine, tmp_path: Path) -> None:
    today = date(2026, 4, 10)
    with session_scope(engine) as session:
        eng = _engagement(session)
        # Due 2026-01-31, 02-28, 03-31 (inspection), 03-31 (scan, risk): all before 04-10.
        late = svc.overdue(session, eng, today)
        assert sorted((d.kind, d.period) for d in late) == [
            ("inspection_report", "2026-01"),
            ("inspection_report", "2026-02"),
            ("inspection_report", "2026-03"),
            ("risk_assessment_report", "2026-03"),
            ("vuln_scan_report", "2026-03"),
        ]
        doc = tmp_path / "insp.pdf"
        doc.write_bytes(b"%PDF-1.7")
        svc.submit(session, late[0], actor="t", file=doc, on=date(2026, 2, 2))
        assert not svc.is_overdue(late[0], today)
        assert len(svc.overdue(session, eng, today)) == 4

        incident = svc.add_deliverable(
            session,
            eng,
            kind="incident_report",
            due=date(2026, 4, 12),
            period="2026-04",
            note="4月8日网页篡改事件",
            actor="t",
        )
        assert incident.state == "planned" and incident.period == "2026-04"
        assert incident.service_item_id is None  # the contract has no incident item
        assert _one(session, eng, "incident_report", "2026-Q2") is incident
        assert not svc.is_overdue(incident, today)
        assert svc.is_overdue(incident, date(2026, 4, 13))

        flt = svc.DeliverableFilter(states=(svc.State.SUBMITTED,))
        assert [d.id for d in svc.list_deliverables(session, eng, flt)] == [late[0].id]
        flt = svc.DeliverableFilter(kind="risk_assessment_report")
        assert len(svc.list_deliverables(session, eng, flt)) == 4

        index = svc.delivery_index(session, eng)
        assert len(index) == 12 + 2 + 4 + 1 + 1 + 1
        row = next(r for r in index if r.deliverable_id == late[0].id)
        assert row.state == "已提交" and row.submitted == "2026-02-02"
        assert row.file_name == "insp.pdf"
        assert row.sha256 == hashlib.sha256(b"%PDF-1.7").hexdigest()
        assert row.period == "2026年1月"


def _seed_cli(cli: CliRunner) -> int:
    cli.ok("client", "add", "交付客户", "--code", "JFKH")
    args = ["engagement", "create", "交付项目", "--client", "JFKH", "--scope", "127.0.0.1"]
    args += ["--start", "2026-01-01", "--end", "2026-12-31", "--code", "JF-1"]
    for item in ("vuln_scan:semiannual:3,9", "pentest:once:due=2026-06-15"):
        args += ["--item", item]
    return int(cli.json(*args)["id"])  # type: ignore[index]


@pytest.fixture
def wide_console() -> Iterator[None]:
    """Tables wide enough not to wrap (pytest-xdist workers report 80 columns)."""
    from shaobing.cli.output import console

    before = console.width
    console.width = 200
    yield
    console.width = before


@pytest.mark.usefixtures("wide_console")
def test_cli_list_submit_accept_show(cli: CliRunner, tmp_path: Path) -> None:
    _seed_cli(cli)
    rows = cli.json("deliverables", "list", "--engagement", "JF-1")
    assert isinstance(rows, list)
    assert [(r["kind"], r["period"], r["state_label"]) for r in rows] == [
        ("vuln_scan_report", "2026-03", "计划中"),
        ("pentest_report", "2026-06", "计划中"),
        ("vuln_scan_report", "2026-09", "计划中"),
    ]
    first = rows[0]["id"]
    table = cli.ok("deliverables", "list", "--engagement", "JF-1").out
    assert "漏洞扫描报告" in table and "计划中" in table

    refused = cli("deliverables", "submit", str(first))
    assert refused.code == 1 and "--file" in refused.err
    assert len(refused.err.strip().splitlines()) == 1

    doc = tmp_path / "漏洞扫描报告-2026-03.docx"
    doc.write_bytes(b"report bytes")
    out = cli.ok("deliverables", "submit", str(first), "--file", str(doc), "--date", "2026-03-30")
    assert "已提交" in out.out and "2026-03-30" in out.out
    bad = cli("deliverables", "accept", str(first), "--by", "李科长", "--date", "2026-13-01")
    assert bad.code == 1 and "2026-13-01" in bad.err
    cli.ok("deliverables", "accept", str(first), "--by", "李科长", "--date", "2026-04-02")

    shown = cli.json("deliverables", "show", str(first))
    assert isinstance(shown, dict)
    assert shown["state"] == "accepted" and shown["accepted_by"] == "李科长"
    assert shown["sha256"] == hashlib.sha256(b"report bytes").hexdigest()
    assert [h["to"] for h in shown["history"]] == ["submitted", "accepted"]
    text = cli.ok("deliverables", "show", str(first)).out
    assert "已验收" in text and "李科长" in text

    accepted = cli.json("deliverables", "list", "-e", "JF-1", "--state", "已验收")
    assert isinstance(accepted, list)
    assert [r["id"] for r in accepted] == [first]
    again = cli("deliverables", "accept", str(first), "--by", "李科长")
    assert again.code == 1 and "已验收" in again.err

    cli.ok("deliverables", "reopen", str(first), "--reason", "补充附件")
    reopened = cli.json("deliverables", "show", str(first))
    assert reopened["state"] == "in_progress"  # type: ignore[index]

    missing = cli("deliverables", "show", "4242")
    assert missing.code == 1 and "4242" in missing.err


@pytest.mark.usefixtures("wide_console")
def test_cli_add_and_overdue(cli: CliRunner) -> None:
    _seed_cli(cli)
    # The CLI judges "overdue" against the real date: one deliverable due ten days ago,
    # one due in ten days.
    past = (date.today() - timedelta(days=10)).isoformat()
    future = (date.today() + timedelta(days=10)).isoformat()
    ids = {}
    for due in (past, future):
        added = cli.json(
            "deliverables", "add", "-e", "JF-1", "--kind", "incident_report", "--due", due
        )
        assert isinstance(added, dict) and added["title"] == "应急响应报告"
        ids[due] = added["id"]
    late = cli.json("deliverables", "list", "-e", "JF-1", "--overdue")
    assert isinstance(late, list)
    late_ids = {r["id"] for r in late}
    assert ids[past] in late_ids and ids[future] not in late_ids
    assert all(r["overdue"] and r["state"] in ("planned", "in_progress") for r in late)
    everything = cli.json("deliverables", "list", "-e", "JF-1")
    assert isinstance(everything, list)
    assert late_ids == {r["id"] for r in everything if r["due_date"] < date.today().isoformat()}
    table = cli.ok("deliverables", "list", "-e", "JF-1", "--overdue").out
    assert "（逾期）" in table
    bad = cli("deliverables", "add", "-e", "JF-1", "--kind", "nope", "--due", "2026-02-10")
    assert bad.code == 1 and "nope" in bad.err
    bad_state = cli("deliverables", "list", "-e", "JF-1", "--state", "done")
    assert bad_state.code == 1 and "done" in bad_state.err


def test_cli_index_export_refuses_unknown_format(cli: CliRunner, tmp_path: Path) -> None:
    _seed_cli(cli)
    result = cli(
        "deliverables", "index", "-e", "JF-1", "--format", "pdf", "--out", str(tmp_path / "x.pdf")
    )
    assert result.code == 1 and "pdf" in result.err
    assert not (tmp_path / "x.pdf").exists()


def test_index_docx(cli: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("shaobing.reports.render.docx")
    import docx

    _seed_cli(cli)
    first = cli.json("deliverables", "list", "-e", "JF-1")[0]["id"]  # type: ignore[index]
    doc = tmp_path / "a.docx"
    doc.write_bytes(b"x")
    cli.ok("deliverables", "submit", str(first), "--file", str(doc), "--date", "2026-03-30")
    out = tmp_path / "index.docx"
    cli.ok("deliverables", "index", "-e", "JF-1", "--format", "docx", "--out", str(out))
    document = docx.Document(str(out))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "已提交" in cells and "a.docx" in cells
    assert hashlib.sha256(b"x").hexdigest() in cells
    assert "2026-03-30" in cells


def test_index_xlsx(cli: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("shaobing.reports.render.xlsx")
    openpyxl = pytest.importorskip("openpyxl")

    _seed_cli(cli)
    out = tmp_path / "index.xlsx"
    cli.ok("deliverables", "index", "-e", "JF-1", "--format", "xlsx", "--out", str(out))
    book = openpyxl.load_workbook(out)
    values = [
        str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    ]
    assert values.count("计划中") == 3
    assert "漏洞扫描报告" in values


def test_json_dump_is_plain(engine: Engine) -> None:
    with session_scope(engine) as session:
        eng = _engagement(session)
        d = _one(session, eng, "pentest_report", "2026-06")
        data = svc.deliverable_as_dict(d, today=date(2026, 7, 1))
        assert data["due_date"] == "2026-06-15" and data["overdue"] is True
        json.dumps(data, ensure_ascii=False)

"""``shaobing datasec``: pre-fill from findings, manual answers, score JSON, gaps as work orders."""

from __future__ import annotations

import json

from sqlalchemy import select

from shaobing.core.db import get_engine, session_scope
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import CoverageInput, FindingInput, Record
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from tests.conftest import CliRunner


def _seed(cli: CliRunner) -> None:
    cli.ok("client", "add", "某市数据局", "--code", "sjj")
    cli.ok("engagement", "create", "数据安全评估", "--client", "sjj", "--scope", "127.0.0.0/8")
    records: list[Record] = [
        FindingInput(
            source_tool="shaobing-scan",
            check_id="weak-credential.mysql",
            title="MySQL 弱口令",
            severity=Severity.CRITICAL,
            host="127.0.0.5",
            port=3306,
        ),
        FindingInput(
            source_tool="shaobing-webscan",
            check_id="web.password-over-http",
            title="口令明文传输",
            severity=Severity.MEDIUM,
            url="http://127.0.0.6/login",
        ),
        CoverageInput(hosts=["127.0.0.5"]),
    ]
    with session_scope(get_engine()) as session:
        engagement = session.scalar(select(Engagement).where(Engagement.name == "数据安全评估"))
        assert engagement is not None
        ingest(session, engagement, records, format_name="test", options=IngestOptions())


def test_assessment_cycle(cli: CliRunner) -> None:
    """Pre-fill quotes the findings; manual answers win; gaps become and close work orders."""
    _seed(cli)
    created = json.loads(cli.ok("datasec", "init", "-e", "数据安全评估", "--json", "-").out)
    assert created["prefilled"]["sto.credentials"] == "否"
    assert created["prefilled"]["tra.encryption"] == "否"
    assert "sto.backup" not in created["prefilled"]  # no technical evidence: for a person
    cli.ok("datasec", "answer", "-e", "数据安全评估", "-q", "sto.backup", "-a", "是")
    cli.ok("datasec", "answer", "-e", "数据安全评估", "-q", "col.classification", "-a", "部分")
    score = json.loads(cli.ok("datasec", "score", "-e", "数据安全评估", "--json", "-").out)
    assert set(score) >= {"score", "level", "stages", "unanswered"}
    # storage: credentials 否 (w3), backup 是 (w3), access-control/exposure unanswered → 50.0
    assert score["stages"]["storage"]["score"] == 50.0
    assert score["stages"]["collection"]["score"] == 50.0
    gaps = json.loads(
        cli.ok("datasec", "gaps", "-e", "数据安全评估", "--work-orders", "--json", "-").out
    )
    assert [g["question_id"] for g in gaps["gaps"]] == [
        "sto.credentials",
        "tra.encryption",
        "col.classification",
    ]
    assert "MySQL 弱口令" in gaps["gaps"][0]["evidence"]
    assert gaps["work_orders"]["created"] == 3
    # the weak password is fixed and the engineer confirms it: its gap work order closes
    cli.ok("datasec", "answer", "-e", "数据安全评估", "-q", "sto.credentials", "-a", "是")
    again = json.loads(
        cli.ok("datasec", "gaps", "-e", "数据安全评估", "--work-orders", "--json", "-").out
    )
    assert again["work_orders"]["closed"] == 1
    with session_scope(get_engine()) as session:
        closed = session.scalar(
            select(Finding).where(
                Finding.source_tool == "shaobing-datasec", Finding.check_id == "sto.credentials"
            )
        )
        assert closed is not None and not closed.is_open


def test_errors_are_one_line(cli: CliRunner) -> None:
    """No assessment yet, unknown question, bad answer: one line each, exit 1."""
    _seed(cli)
    missing = cli("datasec", "score", "-e", "数据安全评估")
    assert missing.code == 1 and "datasec init" in missing.err
    cli.ok("datasec", "init", "-e", "数据安全评估")
    unknown = cli("datasec", "answer", "-e", "数据安全评估", "-q", "nope", "-a", "是")
    assert unknown.code == 1 and "nope" in unknown.err
    bad = cli("datasec", "answer", "-e", "数据安全评估", "-q", "sto.backup", "-a", "也许")
    assert bad.code == 1 and "也许" in bad.err

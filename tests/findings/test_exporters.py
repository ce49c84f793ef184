"""Exports: CSV with BOM, XLSX with Chinese headers/filters/colours, JSON, SARIF 2.1.0."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, select

from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.findings.exporters import export_findings
from shaobing.findings.ingest import ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from tests.findings.helpers import finding, make_engagement

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def stored(engine: Engine) -> Engine:
    records = [
        finding(
            1,
            severity=Severity.CRITICAL,
            cve_ids=["CVE-2021-44228"],
            cwe_ids=[502],
            cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
            description='=HYPERLINK("http://evil")',
            remediation="升级到 2.17.1",
        ),
        finding(
            2,
            severity=Severity.LOW,
            tool="semgrep",
            host=None,
            url=None,
            file_path="app/views.py",
            line=42,
        ),
        finding(3, severity=Severity.INFO),
    ]
    with session_scope(engine) as s:
        ingest(s, make_engagement(s), records, format_name="nuclei", now=NOW)
    return engine


def _all(engine: Engine) -> list[Finding]:
    with session_scope(engine, readonly=True) as s:
        return list(s.scalars(select(Finding).order_by(Finding.severity_rank.desc())))


def test_csv_has_bom_chinese_headers_and_neutralised_formulas(
    stored: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "out.csv"
    assert export_findings(path, _all(stored)) == 3
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(path.open(encoding="utf-8-sig")))
    assert rows[0][:4] == ["编号", "风险等级", "漏洞名称", "状态"]
    assert rows[1][1] == "严重" and rows[1][3] == "新增"
    description = rows[0].index("漏洞描述")
    assert rows[1][description].startswith("'=")


def test_xlsx_layout(stored: Engine, tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    export_findings(path, _all(stored))
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    assert sheet.title == "漏洞清单"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:")
    assert sheet["B2"].value == "严重"
    assert sheet["B2"].fill.start_color.rgb.endswith("C00000")
    assert sheet.max_row == 4


def test_json_round_trips(stored: Engine, tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    export_findings(path, _all(stored))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [d["severity"] for d in data] == ["critical", "low", "info"]
    assert data[0]["cve_ids"] == ["CVE-2021-44228"] and data[0]["cvss_v3_score"] == 10.0


def test_sarif_structure(stored: Engine, tmp_path: Path) -> None:
    path = tmp_path / "out.sarif"
    export_findings(path, _all(stored))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "shaobing"
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note", "none"}
        assert result["partialFingerprints"]["shaobing/v1"]
    code = next(r for r in run["results"] if r["ruleId"].startswith("semgrep/"))
    location = code["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "app/views.py"}, "region": {"startLine": 42}}
    assert "external/cwe/cwe-502" in rules[0]["properties"]["tags"]


def test_bad_format_and_missing_folder(stored: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="pdf"):
        export_findings(tmp_path / "x.pdf", _all(stored))
    with pytest.raises(ValidationError):
        export_findings(tmp_path / "nope" / "x.csv", _all(stored))
    assert not list(tmp_path.glob("*.tmp"))

"""``shaobing report``: every type in every format end to end, numbering, deliverables,
template overrides and one-line errors (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import docx
import html5lib
import openpyxl
import pytest
from sqlalchemy import func, select

from shaobing.core.db import make_engine, session_scope
from shaobing.findings.models import Finding
from shaobing.reports.config import report_types
from tests.conftest import CliRunner
from tests.reports import builder_data as bd

ENGAGEMENT = "DSJ-2026-01"
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts" / "reports"


@pytest.fixture
def seeded(cli: CliRunner, db_url: str) -> CliRunner:
    engine = make_engine(db_url)
    try:
        bd.seed_engine(engine)
    finally:
        engine.dispose()
    return cli


def _build(cli: CliRunner, kind: str, fmt: str, out: Path, *extra: str) -> dict[str, object]:
    result = cli.ok(
        "report", "build", kind, "-e", ENGAGEMENT, "-f", fmt, "-o", str(out), "--json", "-", *extra
    )
    data = json.loads(result.out)
    assert isinstance(data, dict)
    return data


def _open_scan_findings(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Finding)
                    .where(
                        Finding.is_open.is_(True),
                        # Compliance results have their own reports (builders_scan.yaml).
                        Finding.source_tool.not_in(
                            ["shaobing-baseline", "shaobing-mlps", "shaobing-datasec"]
                        ),
                    )
                )
                or 0
            )
    finally:
        engine.dispose()


def test_every_type_in_every_format(seeded: CliRunner, tmp_path: Path) -> None:
    numbers: dict[str, set[str]] = {}
    for kind, spec in report_types().types.items():
        extra = ["--period", "2026-03"] if spec.period == "required" else []
        for fmt in ("docx", "pdf", "html", "xlsx"):
            out = tmp_path / f"{kind}.{fmt}"
            data = _build(seeded, kind, fmt, out, *extra)
            assert data["path"] == str(out.resolve())
            assert data["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
            numbers.setdefault(kind, set()).add(str(data["report_no"]))
        # One number per report, whatever the format.
        assert len(numbers[kind]) == 1, (kind, numbers[kind])
        title = spec.title
        document = docx.Document(str(tmp_path / f"{kind}.docx"))
        headings = [p for p in document.paragraphs if p.style.name.startswith("Heading")]
        assert len(headings) >= 3, kind
        assert any(title in p.text for p in document.paragraphs[:12]), kind
        html = (tmp_path / f"{kind}.html").read_text("utf-8")
        html5lib.HTMLParser(strict=True).parse(html)
        assert title in html
        book = openpyxl.load_workbook(tmp_path / f"{kind}.xlsx", read_only=True)
        assert len(book.sheetnames) >= 1
        book.close()
    # Report numbers never repeat across types.
    flat = [n for ns in numbers.values() for n in ns]
    assert len(flat) == len(set(flat))
    builds = json.loads(seeded.ok("report", "builds", "-e", ENGAGEMENT, "--json", "-").out)
    assert isinstance(builds, dict)
    assert len(builds["builds"]) == 4 * len(report_types().types)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_text_matches_the_database(seeded: CliRunner, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "scan.pdf"
    _build(seeded, "vuln_scan", "pdf", out)
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for heading in ("一、概述", "二、扫描结果综述", "三、漏洞详情"):
        assert heading in text
    flat = text.replace("\n", "").replace(" ", "")
    assert f"仍有{_open_scan_findings(db_url)}条未修复" in flat
    if shutil.which("pdftoppm"):
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "60",
                "-png",
                "-f",
                "1",
                "-l",
                "4",
                str(out),
                str(ARTEFACTS / "cli-vuln-scan"),
            ],
            check=True,
        )
        assert list(ARTEFACTS.glob("cli-vuln-scan-*.png"))


def test_deliverable_auto_attach_and_refusal(seeded: CliRunner, tmp_path: Path) -> None:
    seeded.ok(
        "deliverables", "add", "-e", ENGAGEMENT, "--kind", "vuln_scan_report",
        "--due", "2026-03-31", "--period", "2026-03",
    )  # fmt: skip
    out = tmp_path / "三月扫描.docx"
    data = _build(seeded, "vuln_scan", "docx", out, "--period", "2026-03", "--deliverable", "auto")
    deliverable = data["deliverable_id"]
    assert isinstance(deliverable, int)
    shown = seeded.json("deliverables", "show", str(deliverable))
    assert isinstance(shown, dict)
    assert shown["state"] == "in_progress"
    assert shown["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    seeded.ok("deliverables", "submit", str(deliverable), "--date", "2026-04-01")
    again = tmp_path / "三月扫描-再次.docx"
    refused = seeded(
        "report", "build", "vuln_scan", "-e", ENGAGEMENT, "-f", "docx", "-o", str(again),
        "--period", "2026-03", "--deliverable", str(deliverable),
    )  # fmt: skip
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert not again.exists()


def test_template_override_and_branding(seeded: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "home"
    seeded.ok("report", "template", "weakness")
    template = home / "reports" / "templates" / "weakness.md.j2"
    assert template.is_file()
    template.write_text("# 自定义章节\n客户：{{ meta.client }}\n", encoding="utf-8")
    seeded.ok("report", "branding")
    branding = home / "reports" / "branding.yaml"
    text = branding.read_text("utf-8").replace("哨兵安全服务团队", "某某信息技术有限公司")
    branding.write_text(text.replace("vendor_short: SB", "vendor_short: MM"), encoding="utf-8")
    out = tmp_path / "custom.html"
    data = _build(seeded, "weakness", "html", out)
    html = out.read_text("utf-8")
    assert "自定义章节" in html and "某市大数据中心" in html and "某某信息技术有限公司" in html
    assert str(data["report_no"]).startswith("MM-RDPG-")
    template.write_text("# 坏模板\n{{ nope.nope }}\n", encoding="utf-8")
    broken = seeded("report", "build", "weakness", "-e", ENGAGEMENT, "-o", str(tmp_path / "x.html"))
    assert broken.code == 1 and "weakness.md.j2" in broken.err
    assert len(broken.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nope"], "nope"),
        (["vuln_scan", "-f", "odt"], "odt"),
        (["monthly_bulletin"], "--period"),
        (["acceptance", "--period", "2026-03"], "--period"),
        (["vuln_scan", "--period", "2026-13"], "2026-13"),
        (["vuln_scan", "--deliverable", "abc"], "abc"),
        (["vuln_scan", "--deliverable", "4242"], "4242"),
        (["vuln_scan", "--set", "scope=cloud"], "cloud"),
        (["vuln_scan", "--set", "novalue"], "novalue"),
    ],
)
def test_one_line_errors(seeded: CliRunner, tmp_path: Path, args: list[str], fragment: str) -> None:
    out = tmp_path / "r.docx"
    result = seeded("report", "build", *args[:1], "-e", ENGAGEMENT, "-o", str(out), *args[1:])
    assert result.code == 1, result
    assert fragment in result.err and len(result.err.strip().splitlines()) == 1
    assert not out.exists()


def test_out_is_a_directory(seeded: CliRunner, tmp_path: Path) -> None:
    result = seeded("report", "build", "vuln_scan", "-e", ENGAGEMENT, "-o", str(tmp_path))
    assert result.code == 1 and str(tmp_path) in result.err


def test_types_json(cli: CliRunner) -> None:
    data = json.loads(cli.ok("report", "types", "--json", "-").out)
    assert isinstance(data, dict)
    names = [row["type"] for row in data["types"]]
    assert names == list(report_types().types)
    assert all(row["formats"] == ["docx", "pdf", "html", "xlsx"] for row in data["types"])

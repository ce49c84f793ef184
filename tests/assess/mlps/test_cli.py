"""``shaobing mlps ...`` end to end: real database, real baseline run, real findings ingest."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, cast

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shaobing.assess.mlps.models import MlpsRecord
from shaobing.assess.mlps.xlsx_io import MAX_FILE_BYTES, read_sheet
from shaobing.core.db import get_engine, session_scope
from shaobing.core.errors import ShaobingError
from shaobing.engagements.service import resolve_engagement
from shaobing.findings.importers.base import CoverageInput, FindingInput
from shaobing.findings.ingest import ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from tests.baseline.roots import materialise
from tests.conftest import CliRunner

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ENGAGEMENT = "等保测评"


def setup_engagement(cli: CliRunner, tmp_path: Path) -> Path:
    """A client, an engagement, a two-asset ledger and a baseline run on the weak Debian tree."""
    cli.ok("client", "add", "某市大数据中心", "--code", "dsj")
    cli.ok("engagement", "create", ENGAGEMENT, "--client", "dsj", "--scope", "127.0.0.0/8")
    root = materialise("debian12-weak", tmp_path)
    hostname = (root / "etc/hostname").read_text(encoding="utf-8").strip()
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "资产名称,资产类型,IP地址,主机名,保密性,完整性,可用性\n"
        f"门户服务器,服务器,127.0.0.10,{hostname},3,3,3\n"
        "核心交换机,交换机,127.0.0.1,,3,3,4\n",
        encoding="utf-8",
    )
    cli.ok("asset", "import", str(ledger), "--engagement", ENGAGEMENT)
    cli.ok("baseline", "check", "-p", "linux", "--root", str(root), "-e", ENGAGEMENT)
    return root


def records() -> dict[tuple[str, str], MlpsRecord]:
    from shaobing.assess.mlps.models import MlpsObject

    with session_scope(get_engine()) as session:
        rows = session.execute(
            select(MlpsRecord, MlpsObject.name).join(
                MlpsObject, MlpsObject.id == MlpsRecord.object_id
            )
        ).all()
        return {(name, r.item_id): r for r, name in rows}


def jdoc(cli: CliRunner, *args: str) -> dict[str, Any]:
    """Run with ``--json`` and return the document."""
    return cast(dict[str, Any], cli.json(*args))


def one_line_error(result: Any, *fragments: str) -> None:
    assert result.code == 1, result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


def test_init_prefill_manual_wins_score_and_gaps(cli: CliRunner, tmp_path: Path) -> None:
    setup_engagement(cli, tmp_path)
    init = json.loads(
        cli.ok("mlps", "init", "--engagement", ENGAGEMENT, "--level", "3", "--json").out
    )
    assert init["created"] is True and init["level"] == 3
    assert {(o["name"], o["type"]) for o in init["objects"]} == {
        ("机房", "physical_room"),
        ("安全管理中心", "management_center"),
        ("安全管理文档与记录", "management_document"),
        ("门户服务器", "host"),
        ("核心交换机", "network_device"),
    }
    assert init["prefill"]["written"] > 10 and init["prefill"]["targets_unmatched"] == []
    got = records()
    # the weak tree lets root log in over SSH: 默认账户 item is 不符合, quoting the rule
    default_accounts = got[("门户服务器", "8.1.4.2b")]
    assert (default_accounts.result, default_accounts.source) == ("不符合", "auto")
    assert "linux.ssh.permit-root-login" in (default_accounts.evidence or "")
    assert "PermitRootLogin yes" in (default_accounts.evidence or "")
    assert default_accounts.baseline_run_ids == [1]
    assert got[("门户服务器", "8.1.4.5a")].result == "不符合"

    # manual entry wins over pre-fill, and stays after every refresh
    cli.ok(
        "mlps",
        "record",
        "-e",
        ENGAGEMENT,
        "--object",
        "门户服务器",
        "--item",
        "8.1.4.2 b)",
        "--result",
        "符合",
        "--evidence",
        "已改为 PermitRootLogin no（现场复核）",
        "--note",
        "复核",
    )
    cli.ok("mlps", "record", "-e", ENGAGEMENT, "-o", "机房", "-i", "8.1.1.2a", "-r", "不符合")
    doc = jdoc(cli, "mlps", "score", "-e", ENGAGEMENT)
    assert {"score", "rating", "high_risk", "by_category"} <= set(doc)
    assert set(doc["by_category"]) == {
        "安全物理环境",
        "安全通信网络",
        "安全区域边界",
        "安全计算环境",
        "安全管理中心",
        "安全管理制度",
        "安全管理机构",
        "安全管理人员",
        "安全建设管理",
        "安全运维管理",
    }
    assert isinstance(doc["score"], float) and doc["rating"] == "差"
    high = {h["id"]: h for h in doc["high_risk"]}
    assert "HR-PES-01" in high and high["HR-PES-01"]["objects"] == ["机房"]
    assert "HR-CES-01" in high and high["HR-CES-01"]["baseline_run_ids"] == [1]
    manual = records()[("门户服务器", "8.1.4.2b")]
    assert (manual.result, manual.source, manual.note) == ("符合", "manual", "复核")

    gaps = jdoc(cli, "mlps", "gaps", "-e", ENGAGEMENT)
    names = [c["name"] for c in gaps["categories"]]
    assert names[0] == "安全物理环境" and "安全计算环境" in names
    first = gaps["categories"][0]["control_points"][0]
    assert first["name"] == "物理访问控制" and first["advice"]
    assert first["gaps"][0]["high_risk"][0]["id"] == "HR-PES-01"

    text = cli.ok("mlps", "score", "-e", ENGAGEMENT).out
    assert "测评结论：差" in text and "HR-PES-01" in text


@sqlite_only
def test_findings_prefill_and_close(cli: CliRunner, tmp_path: Path) -> None:
    setup_engagement(cli, tmp_path)
    cli.ok("mlps", "init", "-e", ENGAGEMENT, "--flag", "private_network")
    engine = get_engine()
    with session_scope(engine) as session:
        engagement = resolve_engagement(session, ENGAGEMENT)
        ingest(
            session,
            engagement,
            [
                FindingInput(
                    source_tool="shaobing-scan",
                    check_id="weak-credential.telnet",
                    title="Telnet 弱口令",
                    severity=Severity.HIGH,
                    host="127.0.0.10",
                    port=23,
                    protocol="tcp",
                ),
                CoverageInput(hosts=["127.0.0.10"]),
            ],
            format_name="scan",
            source_tool="shaobing-scan",
        )
        finding_id = session.scalar(
            select(Finding.id).where(Finding.check_id == "weak-credential.telnet")
        )
    doc = jdoc(cli, "mlps", "score", "-e", ENGAGEMENT)
    record = records()[("门户服务器", "8.1.4.1c")]
    assert (record.result, record.source, record.finding_ids) == ("不符合", "auto", [finding_id])
    levels = {h["id"]: h["level"] for h in [*doc["high_risk"], *doc["medium_risk"]]}
    # plaintext remote management over a private network is lowered to 中
    assert levels["HR-CES-03"] == "中" and levels["HR-CES-01"] == "高"
    assert finding_id in next(h for h in doc["high_risk"] if h["id"] == "HR-CES-01")["finding_ids"]

    # a re-scan of the host without the finding closes it; its pre-filled result goes too
    with session_scope(engine) as session:
        engagement = resolve_engagement(session, ENGAGEMENT)
        ingest(
            session,
            engagement,
            [CoverageInput(hosts=["127.0.0.10"])],
            format_name="scan",
            source_tool="shaobing-scan",
        )
    cli.ok("mlps", "score", "-e", ENGAGEMENT)
    after = records()[("门户服务器", "8.1.4.1c")]
    assert after.finding_ids == [] and after.result == "符合"  # the baseline's ssh.protocol passes


@sqlite_only
def test_gaps_become_work_orders_and_close_when_fixed(cli: CliRunner, tmp_path: Path) -> None:
    setup_engagement(cli, tmp_path)
    cli.ok("mlps", "init", "-e", ENGAGEMENT)
    cli.ok(
        "mlps",
        "record",
        "-e",
        ENGAGEMENT,
        "-o",
        "机房",
        "-i",
        "8.1.1.2a",
        "-r",
        "不符合",
        "--evidence",
        "机房门未上锁",
    )
    first = jdoc(cli, "mlps", "gaps", "-e", ENGAGEMENT, "--work-orders")
    failing = first["totals"]["不符合"] + first["totals"]["部分符合"]
    assert first["work_orders"]["created"] == failing > 0
    assert first["work_orders"]["work_orders_created"] == failing
    with session_scope(get_engine()) as session:
        room = session.scalars(
            select(Finding).where(
                Finding.source_tool == "shaobing-mlps", Finding.check_id == "mlps.8.1.1.2a"
            )
        ).one()
        assert room.severity == "high" and room.evidence == "机房门未上锁"
        assert "GB/T 28448-2019 L3-PES1-03" in room.references and room.work_order_id is not None
    again = jdoc(cli, "mlps", "gaps", "-e", ENGAGEMENT, "--work-orders")
    assert again["work_orders"]["created"] == 0 and again["work_orders"]["closed"] == 0
    cli.ok("mlps", "record", "-e", ENGAGEMENT, "-o", "机房", "-i", "8.1.1.2a", "-r", "符合")
    fixed = jdoc(cli, "mlps", "gaps", "-e", ENGAGEMENT, "--work-orders")
    assert fixed["work_orders"]["closed"] == 1
    with session_scope(get_engine()) as session:
        assert session.get(Finding, room.id).status == "fixed"  # type: ignore[union-attr]
    # the module's own work orders never feed back into pre-filling
    assert all(not r.finding_ids for r in records().values())


@sqlite_only
def test_xlsx_round_trip(cli: CliRunner, tmp_path: Path) -> None:
    setup_engagement(cli, tmp_path)
    cli.ok("mlps", "init", "-e", ENGAGEMENT)
    sheet = tmp_path / "记录表.xlsx"
    out = cli.ok("mlps", "template", str(sheet), "-e", ENGAGEMENT).out
    assert "记录表.xlsx" in out
    book = openpyxl.load_workbook(sheet)
    rows = list(book["测评记录"].iter_rows(min_row=1, values_only=True))
    header = rows[0]
    assert header[:8] == (
        "测评对象",
        "对象类型",
        "安全类",
        "安全控制点",
        "测评项",
        "测评单元",
        "要求概述",
        "结果",
    )
    col = {name: header.index(name) for name in header}
    # pre-filled rows come with their result and source
    prefilled = next(
        r
        for r in rows[1:]
        if r[col["测评对象"]] == "门户服务器" and r[col["测评项"]] == "8.1.4.2 b)"
    )
    assert prefilled[col["结果"]] == "不符合" and prefilled[col["来源"]] == "预填"
    target = next(
        n
        for n, r in enumerate(rows[1:], start=2)
        if r[col["测评对象"]] == "机房" and r[col["测评单元"]] == "L3-PES1-03"
    )
    book["测评记录"].cell(target, col["结果"] + 1, "部分符合")
    book["测评记录"].cell(target, col["证据"] + 1, "门禁只在白天启用")
    book.save(sheet)
    imported = cli.ok("mlps", "import", str(sheet)).out
    assert "导入 1 条" in imported
    got = records()
    assert (got[("机房", "8.1.1.2a")].result, got[("机房", "8.1.1.2a")].source) == (
        "部分符合",
        "manual",
    )
    assert got[("机房", "8.1.1.2a")].evidence == "门禁只在白天启用"
    assert (
        got[("门户服务器", "8.1.4.2b")].source == "auto"
    )  # untouched pre-filled rows stay automatic
    # text that looks like a formula is quoted so spreadsheets never evaluate it
    evidence = '=HYPERLINK("x")门禁只在白天启用'
    cli.ok(
        "mlps",
        "record",
        "-e",
        ENGAGEMENT,
        "-o",
        "机房",
        "-i",
        "8.1.1.2a",
        "-r",
        "部分符合",
        "--evidence",
        evidence,
    )
    cli.ok("mlps", "template", str(sheet), "-e", ENGAGEMENT)
    values = [c.value for row in openpyxl.load_workbook(sheet)["测评记录"].iter_rows() for c in row]
    assert '\'=HYPERLINK("x")门禁只在白天启用' in values


def write_book(path: Path, sheet: str = "测评记录", rows: list[list[object]] | None = None) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in rows or [["测评对象", "测评项", "结果"]]:
        ws.append(row)
    book.save(path)


@sqlite_only
def test_hostile_and_wrong_sheets_are_one_line_errors(cli: CliRunner, tmp_path: Path) -> None:
    setup_engagement(cli, tmp_path)
    cli.ok("mlps", "init", "-e", ENGAGEMENT)
    wrong = tmp_path / "wrong.xlsx"
    write_book(wrong, sheet="Sheet1")
    one_line_error(cli("mlps", "import", str(wrong), "-e", ENGAGEMENT), "wrong.xlsx", "测评记录")
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK" + b"\0" * (MAX_FILE_BYTES + 10))
    one_line_error(cli("mlps", "import", str(big), "-e", ENGAGEMENT), "big.xlsx", "过大")
    text = tmp_path / "text.xlsx"
    text.write_text("测评对象,测评项,结果\n", encoding="utf-8")
    one_line_error(cli("mlps", "import", str(text), "-e", ENGAGEMENT), "不是有效的 XLSX")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (50 * 1024 * 1024))
    one_line_error(cli("mlps", "import", str(bomb), "-e", ENGAGEMENT), "压缩炸弹")
    dtd = tmp_path / "dtd.xlsx"
    buffer = io.BytesIO()
    write_book(tmp_path / "plain.xlsx")
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as src, zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/workbook.xml":
                data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + data
            dst.writestr(info, data)
    dtd.write_bytes(buffer.getvalue())
    one_line_error(cli("mlps", "import", str(dtd), "-e", ENGAGEMENT), "DTD")
    columns = tmp_path / "columns.xlsx"
    write_book(columns, rows=[["对象", "结果"]])
    one_line_error(cli("mlps", "import", str(columns), "-e", ENGAGEMENT), "缺少列", "测评对象")
    bad_row = tmp_path / "row.xlsx"
    write_book(
        bad_row,
        rows=[
            ["测评对象", "测评项", "结果"],
            ["机房", "8.1.1.2a", "符合"],
            ["火星机房", "8.1.1.2a", "符合"],
        ],
    )
    one_line_error(cli("mlps", "import", str(bad_row), "-e", ENGAGEMENT), "第 3 行", "火星机房")
    assert ("机房", "8.1.1.2a") not in records()  # all rows or none
    one_line_error(cli("mlps", "import", str(bad_row)), "测评编号")
    one_line_error(cli("mlps", "template", str(tmp_path / "x.csv"), "-e", ENGAGEMENT), ".xlsx")


@sqlite_only
def test_user_errors_are_one_line(cli: CliRunner, tmp_path: Path) -> None:
    cli.ok("client", "add", "客户", "--code", "kh")
    cli.ok("engagement", "create", ENGAGEMENT, "--client", "kh", "--scope", "127.0.0.0/8")
    one_line_error(cli("mlps", "score", "-e", ENGAGEMENT), "mlps init")
    one_line_error(cli("mlps", "init", "-e", "没有这个项目"), "没有这个项目")
    one_line_error(cli("mlps", "init", "-e", ENGAGEMENT, "--level", "2"), "第 2 级")
    one_line_error(cli("mlps", "init", "-e", ENGAGEMENT, "--flag", "fast"), "fast")
    cli.ok("mlps", "init", "-e", ENGAGEMENT)
    one_line_error(
        cli("mlps", "record", "-e", ENGAGEMENT, "-o", "机房", "-i", "8.1.4.1a", "-r", "符合"),
        "不适用于",
    )
    one_line_error(
        cli("mlps", "record", "-e", ENGAGEMENT, "-o", "机房", "-i", "8.1.1.2a", "-r", "好"), "好"
    )
    one_line_error(
        cli("mlps", "record", "-e", ENGAGEMENT, "-o", "地下室", "-i", "8.1.1.2a", "-r", "符合"),
        "地下室",
    )
    cli.ok("mlps", "add-object", "-e", ENGAGEMENT, "备用机房", "--type", "physical_room")
    cli.ok("mlps", "record", "-e", ENGAGEMENT, "-o", "备用机房", "-i", "L3-PES1-03", "-r", "符合")
    listed = jdoc(cli, "mlps", "objects", "-e", ENGAGEMENT)
    assert "备用机房" in [o["name"] for o in listed["objects"]]
    one_line_error(
        cli("mlps", "add-object", "-e", ENGAGEMENT, "备用机房", "--type", "physical_room"), "已存在"
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=2048))
def test_fuzzed_sheets_never_crash(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(b"PK\x03\x04" + data)
    try:
        read_sheet(path)
    except ShaobingError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message

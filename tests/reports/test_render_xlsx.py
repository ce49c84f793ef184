"""The XLSX annex renderer: workbooks written and opened back with openpyxl."""

from __future__ import annotations

import shutil
import time
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from shaobing.reports.labels import cover_rows, labels
from shaobing.reports.model import LEVEL_COLOURS, Column, ReportDocument, ReportMeta, Table
from shaobing.reports.render import renderer
from shaobing.reports.render.xlsx import SheetNames, render
from tests.reports.sample import findings_table, sample_document

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts" / "reports"
INFO = labels()["annex_info_sheet"]


def _meta() -> ReportMeta:
    return ReportMeta(
        report_type="vuln_scan",
        title="漏洞扫描报告",
        client="示例单位",
        engagement="示例项目",
        engagement_code="P-1",
        report_no="R-1",
        report_date=date(2026, 10, 31),
        vendor="哨兵安全服务团队",
        confidentiality="内部资料 注意保密",
    )


def _fill(cell: object) -> str:
    colour = str(cell.fill.fgColor.rgb)  # type: ignore[attr-defined]
    return colour[-6:]


def test_sample_annex_workbook(tmp_path: Path) -> None:
    doc = sample_document(tmp_path)
    out = tmp_path / "sample.xlsx"
    render(doc, out)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, ARTEFACTS / "sample.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [INFO, "漏洞清单"]
    info = [tuple(r) for r in wb[INFO].iter_rows(values_only=True)]
    assert info[0][0] == doc.meta.title
    for label, value in cover_rows(doc.meta):
        assert (label, value) in info
    assert (doc.meta.confidentiality, None) in info
    ws = wb["漏洞清单"]
    table = doc.annexes[0]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == [c.title for c in table.columns]
    assert len(rows) == len(table.rows) + 1
    # Whole numbers become numbers (sortable); addresses and names stay text.
    assert rows[1] == (1, "10.0.0.1", 80, "高危", table.rows[0][4])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:E{len(table.rows) + 1}"
    assert ws["A1"].font.bold and _fill(ws["A1"]) == "D9E2F3"
    for (cell,) in ws.iter_rows(min_row=2, min_col=4, max_col=4):
        assert _fill(cell) == LEVEL_COLOURS[str(cell.value)]
        assert cell.font.bold
    assert _fill(ws["B2"]) == "000000"  # no fill on ordinary cells
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert widths["E"] > widths["C"] and widths["E"] <= 60
    assert wb.properties.title == doc.meta.title and wb.properties.creator == doc.meta.vendor


def test_body_tables_when_no_annexes(tmp_path: Path) -> None:
    doc = sample_document(tmp_path)
    doc.annexes = []
    out = tmp_path / "body.xlsx"
    renderer("xlsx")(doc, out)
    wb = openpyxl.load_workbook(out)
    # The findings table names its sheet; the empty table is named by its caption less "表 2".
    assert wb.sheetnames == [INFO, "漏洞清单", "空表"]
    empty = list(wb["空表"].iter_rows(values_only=True))
    assert empty == [("空表",)]


def test_formula_looking_text_stays_text(tmp_path: Path) -> None:
    hostile = [
        '=HYPERLINK("http://127.0.0.1/x","点击")',
        "=1+1",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "正常\x07文本",
        "-",
    ]
    table = Table([Column("标题"), Column("数值", align="right")], [[h, h] for h in hostile])
    out = tmp_path / "formula.xlsx"
    render(ReportDocument(meta=_meta(), blocks=[], annexes=[table]), out)
    ws = openpyxl.load_workbook(out).worksheets[1]
    values = list(ws.iter_rows(min_row=2, values_only=True))
    expected = [h.replace("\x07", "") for h in hostile]
    assert [v[0] for v in values] == expected and [v[1] for v in values] == expected
    for row in ws.iter_rows(min_row=2):
        assert all(c.data_type == "s" for c in row)
    for row in ws.iter_rows(min_row=2, max_row=6):
        assert all(c.quotePrefix for c in row)
    with zipfile.ZipFile(out) as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "<f>" not in sheet


def test_numbers_only_where_they_round_trip(tmp_path: Path) -> None:
    rows = [["007", "9.8"], ["42", "1.10"], ["12345678901", "3.5"]]
    table = Table([Column("编号"), Column("评分", align="right")], rows, sheet="数值")
    out = tmp_path / "numbers.xlsx"
    render(ReportDocument(meta=_meta(), blocks=[], annexes=[table]), out)
    values = list(openpyxl.load_workbook(out)["数值"].iter_rows(min_row=2, values_only=True))
    assert values == [("007", 9.8), (42, "1.10"), ("12345678901", 3.5)]


def test_sheet_names_sanitised_and_unique(tmp_path: Path) -> None:
    long = "资产清单" * 10
    tables = [
        Table([Column("a")], [["1"]], sheet=long),
        Table([Column("a")], [["2"]], sheet=long),
        Table([Column("a")], [["3"]], sheet="a/b:c*d?[e]\\f"),
        Table([Column("a")], [["4"]], sheet="History"),
        Table([Column("a")], [["5"]], caption="表 3 工单"),
        Table([Column("a")], [["6"]], caption="表 4 工单"),
        Table([Column("a")], [["7"]]),
    ]
    out = tmp_path / "names.xlsx"
    render(ReportDocument(meta=_meta(), blocks=[], annexes=tables), out)
    names = openpyxl.load_workbook(out).sheetnames
    assert names == [
        INFO,
        long[:31],
        long[:28] + "(2)",
        "a_b_c_d__e__f",
        "History(2)",
        "工单",
        "工单(2)",
        "表7",
    ]
    assert all(len(n) <= 31 for n in names)
    taken = SheetNames()
    assert [taken.take(n) for n in ("'引号'", "Sheet", "sheet", "")] == [
        "引号",
        "Sheet",
        "sheet(2)",
        "Sheet(3)",
    ]


def test_ten_thousand_rows_are_quick(tmp_path: Path) -> None:
    table = findings_table(10_000)
    doc = ReportDocument(meta=_meta(), blocks=[], annexes=[table])
    out = tmp_path / "large.xlsx"
    started = time.perf_counter()
    render(doc, out)
    elapsed = time.perf_counter() - started
    print(f"XLSX with a 10,000 x 5 sheet: {elapsed:.2f} s, {out.stat().st_size / 1e6:.1f} MB")
    ws = openpyxl.load_workbook(out, read_only=True)[table.sheet or ""]
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 10_001
    assert rows[-1] == (10_000, "10.0.39.250", 84, "信息", table.rows[-1][4])


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x0c"])
def test_control_characters_are_dropped(tmp_path: Path, bad: str) -> None:
    table = Table([Column("列" + bad)], [[f"值{bad}尾"]], caption=f"表 1 控制{bad}字符")
    out = tmp_path / "ctl.xlsx"
    render(ReportDocument(meta=_meta(), blocks=[table]), out)
    ws = openpyxl.load_workbook(out).worksheets[1]
    cleaned = bad.replace("\x00", "").replace("\x1b", "").replace("\x0c", "")
    assert ws.title == f"控制{cleaned}字符".replace("[", "_")
    assert [c.value for c in ws[2]] == [f"值{cleaned}尾"]

"""Asset ledger CSV/XLSX import and export (shaobing.assets.ledger_io)."""

from __future__ import annotations

import csv
import dataclasses
import io
import ipaddress
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import openpyxl
import pydantic
import pytest
import yaml
from openpyxl.worksheet.worksheet import Worksheet

from shaobing.assets import ledger_io
from shaobing.assets.kinds import ASSET_TYPE_LABELS, AssetType, asset_type_label
from shaobing.assets.ledger_io import (
    LedgerFormatError,
    LedgerRow,
    LedgerSpec,
    RowError,
    detect_format,
    ledger_spec,
    normalize_header,
    read_ledger,
    read_ledger_report,
    write_ledger,
    write_template,
)
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import catalogue, set_language, t

HEADERS = [
    "资产名称",
    "资产类型",
    "IP地址",
    "主机名",
    "域名/URL",
    "操作系统",
    "所属业务系统",
    "网络区域",
    "责任人",
    "重要程度",
    "保密性",
    "完整性",
    "可用性",
    "厂商",
    "型号/版本",
    "物理位置",
    "备注",
]

# A valid data row matching HEADERS, used as the base of hand-made files.
BASE = {
    "资产名称": "门户网站服务器",
    "资产类型": "主机",
    "IP地址": "192.0.2.10",
    "主机名": "portal-01",
    "域名/URL": "",
    "操作系统": "CentOS 7.9",
    "所属业务系统": "门户网站",
    "网络区域": "互联网区",
    "责任人": "张三",
    "重要程度": "核心",
    "保密性": "3",
    "完整性": "4",
    "可用性": "5",
    "厂商": "",
    "型号/版本": "",
    "物理位置": "",
    "备注": "",
}


def make_row(**overrides: object) -> LedgerRow:
    values: dict[str, object] = {
        "row": 0,
        "name": "门户网站服务器",
        "asset_type": AssetType.HOST,
        "addresses": ["192.0.2.10"],
        "hostname": "portal-01",
        "url": None,
        "os": "CentOS 7.9",
        "system": "政务门户网站",
        "zone": "互联网区",
        "owner": "张三",
        "importance": "核心",
        "confidentiality": 3,
        "integrity": 4,
        "availability": 5,
        "vendor": None,
        "version": None,
        "location": None,
        "notes": None,
    }
    values.update(overrides)
    return LedgerRow(**values)  # type: ignore[arg-type]


def sample_rows() -> list[LedgerRow]:
    return [
        make_row(),
        make_row(
            name="业务数据库",
            asset_type=AssetType.DATABASE,
            addresses=["198.51.100.20", "2001:db8::20"],
            hostname=None,
            os="Kylin V10",
            zone="电子政务外网",
            owner="李四 13800000000",
            importance="重要",
            confidentiality=5,
            integrity=5,
            availability=4,
            vendor="达梦",
            version="DM8",
            location="主机房B区1号机柜",
            notes="多行备注\n第二行",
        ),
        make_row(
            name="网上办事大厅",
            asset_type=AssetType.WEB_APPLICATION,
            addresses=[],
            hostname=None,
            url="https://www.example.gov.cn/portal",
            os=None,
            system=None,
            zone=None,
            owner=None,
            importance=None,
            confidentiality=1,
            integrity=2,
            availability=3,
        ),
        make_row(
            name="边界防火墙",
            asset_type=AssetType.SECURITY_DEVICE,
            addresses=["127.0.0.2"],
            hostname="fw-01",
            vendor="华为",
            version="USG6000E",
        ),
    ]


def strip_rows(rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    return [dataclasses.replace(r, row=0) for r in rows]


def row_dict(**overrides: str) -> dict[str, str]:
    values = dict(BASE)
    values.update(overrides)
    return values


def write_csv(
    path: Path,
    records: Sequence[Sequence[object]],
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def table(rows: Sequence[dict[str, str]], headers: Sequence[str] = HEADERS) -> list[list[str]]:
    return [list(headers), *[[r.get(h, "") for h in headers] for r in rows]]


def write_xlsx(
    path: Path, records: Sequence[Sequence[object]], *, title: str | None = None
) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    if title is not None:
        sheet.title = title
    for record in records:
        sheet.append(list(record))
    workbook.save(path)
    return path


def single_error(errors: list[RowError]) -> RowError:
    assert len(errors) == 1, [e.message() for e in errors]
    return errors[0]


@pytest.fixture(autouse=True)
def chinese_messages() -> Iterator[None]:
    set_language("zh-CN")
    yield
    set_language("zh-CN")


# ---------------------------------------------------------------------------
# Column definitions


def test_spec_covers_every_field_in_a2_order() -> None:
    spec = ledger_spec()
    row_fields = [f.name for f in dataclasses.fields(LedgerRow) if f.name != "row"]
    assert [c.key for c in spec.columns] == row_fields
    assert [c.header for c in spec.columns] == HEADERS
    required = {c.header for c in spec.columns if c.required}
    assert required == {"资产名称", "资产类型", "保密性", "完整性", "可用性"}
    assert all(c.description and c.allowed for c in spec.columns)


def test_spec_rejects_alias_used_by_two_columns() -> None:
    from importlib import resources

    text = resources.files("shaobing.assets").joinpath("ledger_columns.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["columns"][1]["aliases"].append("名称")  # already an alias of 资产名称
    with pytest.raises(pydantic.ValidationError, match="名称"):
        LedgerSpec.model_validate(data)


def test_spec_rejects_missing_column() -> None:
    from importlib import resources

    text = resources.files("shaobing.assets").joinpath("ledger_columns.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    del data["columns"][-1]
    with pytest.raises(pydantic.ValidationError, match="LedgerRow"):
        LedgerSpec.model_validate(data)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (" IP地址 ", "ip地址"),
        ("ＩＰ地址", "ip地址"),
        ("ip地址*", "ip地址"),
        ("资产名称(必填)", "资产名称"),
        ("资产名称（必填）", "资产名称"),
        ("*资产名称", "资产名称"),
        ("资产\n名称", "资产名称"),
        ("Ｃ", "c"),
    ],
)
def test_normalize_header(header: str, expected: str) -> None:
    assert normalize_header(header) == expected


# ---------------------------------------------------------------------------
# Round trips


def test_xlsx_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    rows = sample_rows()
    write_ledger(path, rows)
    read, errors = read_ledger(path)
    assert errors == []
    assert strip_rows(read) == rows
    assert [r.row for r in read] == [2, 3, 4, 5]


def test_csv_round_trip_utf8_bom_crlf(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    rows = [r for r in sample_rows() if not (r.notes and "\n" in r.notes)]
    write_ledger(path, rows)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == len(rows) + 1
    assert b"\n" not in data.replace(b"\r\n", b"")
    report = read_ledger_report(path)
    assert report.errors == []
    assert report.encoding == "utf-8-sig"
    assert strip_rows(report.rows) == rows


def test_csv_round_trip_with_multiline_cell(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    rows = sample_rows()
    write_ledger(path, rows)
    read, errors = read_ledger(path)
    assert errors == []
    assert strip_rows(read) == rows
    # The second row's notes span two physical lines, so the third record starts on line 5.
    assert [r.row for r in read] == [2, 3, 5, 6]


def test_csv_round_trip_gbk(tmp_path: Path) -> None:
    rows = sample_rows()
    utf8 = tmp_path / "utf8.csv"
    write_ledger(utf8, rows)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(utf8.read_bytes().decode("utf-8-sig").encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        gbk.read_bytes().decode("utf-8")
    report = read_ledger_report(gbk)
    assert report.errors == []
    assert report.encoding == "gb18030"
    assert strip_rows(report.rows) == rows


def test_csv_round_trip_gb18030_outside_gbk(tmp_path: Path) -> None:
    rows = [make_row(name="䶮𠀀资产", owner="𠀀先生")]
    for text in ("䶮", "𠀀"):
        with pytest.raises(UnicodeEncodeError):
            text.encode("gbk")
    utf8 = tmp_path / "utf8.csv"
    write_ledger(utf8, rows)
    path = tmp_path / "gb18030.csv"
    path.write_bytes(utf8.read_bytes().decode("utf-8-sig").encode("gb18030"))
    read, errors = read_ledger(path)
    assert errors == []
    assert strip_rows(read) == rows


def test_csv_utf16_tab_delimited_as_excel_unicode_text(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "unicode.txt", table([row_dict()]), encoding="utf-16", delimiter="\t"
    )
    report = read_ledger_report(path)
    assert report.errors == []
    assert report.delimiter == "\t"
    assert [r.name for r in report.rows] == ["门户网站服务器"]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_csv_delimiters(tmp_path: Path, delimiter: str) -> None:
    records = table(
        [row_dict(), row_dict(资产名称="第二台", IP地址="192.0.2.11; 192.0.2.12", 主机名="")]
    )
    path = write_csv(tmp_path / "d.csv", records, delimiter=delimiter)
    report = read_ledger_report(path)
    assert report.errors == []
    assert report.delimiter == delimiter
    assert report.rows[1].addresses == ["192.0.2.11", "192.0.2.12"]


def test_forced_encoding(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", table([row_dict()]), encoding="gbk")
    rows, errors = read_ledger(path, encoding="gbk")
    assert errors == []
    assert rows[0].owner == "张三"
    with pytest.raises(LedgerFormatError, match=r"gbk\.csv.*utf-8.*字节偏移 0"):
        read_ledger(path, encoding="utf-8")
    with pytest.raises(LedgerFormatError, match="不支持的字符编码“klingon”"):
        read_ledger(path, encoding="klingon")
    with pytest.raises(LedgerFormatError, match="不支持的字符编码“base64”"):
        read_ledger(path, encoding="base64")


# ---------------------------------------------------------------------------
# Headers: aliases, markers, title rows


def test_xlsx_title_row_aliases_and_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "client.xlsx"
    workbook = openpyxl.Workbook()
    cover = workbook.active
    assert isinstance(cover, Worksheet)
    cover.title = "封面"
    cover.append(["这不是台账"])
    sheet = workbook.create_sheet("资产台账")
    sheet.append(["XX单位资产台账"])
    sheet.merge_cells("A1:J1")
    sheet.append([])
    sheet.append(
        [
            "序号",
            " 名称 ",
            "类型*",
            "管理IP(必填)",
            "负责人",
            "安全域",
            "Ｃ",
            "I",
            "a",
            "所属系统",
            "设备型号",
        ]
    )
    sheet.append([1, "核心交换机", "交换机", "192.0.2.1", "王五", "安全管理区", 4, 4.0, "高"])
    sheet.append([2])  # pre-numbered, otherwise empty: skipped
    sheet.append([3, "日志服务器", "服务器", "192.0.2.2", None, None, 2, 2, 2, "日志审计", 7.0])
    workbook.save(path)

    report = read_ledger_report(path)
    assert report.errors == []
    assert report.sheet == "资产台账"
    assert report.header_row == 3
    assert report.unknown_headers == []
    assert report.columns["name"] == "名称"
    assert [r.row for r in report.rows] == [4, 6]
    switch, logger = report.rows
    assert switch.asset_type is AssetType.NETWORK_DEVICE
    assert (switch.confidentiality, switch.integrity, switch.availability) == (4, 4, 4)
    assert switch.owner == "王五"
    assert switch.zone == "安全管理区"
    assert logger.system == "日志审计"
    assert logger.version == "7"


def test_csv_english_and_full_width_aliases_in_any_order(tmp_path: Path) -> None:
    headers = ["Availability", "ＩＰ", "Name", "TYPE", "C", "I", "Owner", "设备名称备注"]
    records = [headers, ["5", "2001:DB8:0:0::1", "web", "网站", "1", "2", "赵六", "x"]]
    path = write_csv(tmp_path / "en.csv", records)
    report = read_ledger_report(path)
    assert report.errors == []
    assert report.unknown_headers == ["设备名称备注"]
    (row,) = report.rows
    assert row.addresses == ["2001:db8::1"]
    assert row.asset_type is AssetType.WEB_APPLICATION
    assert (row.confidentiality, row.integrity, row.availability) == (1, 2, 5)


def test_header_after_scan_window_is_not_found(tmp_path: Path) -> None:
    records = [["说明"]] * 10 + table([row_dict()])
    path = write_csv(tmp_path / "late.csv", records)
    with pytest.raises(LedgerFormatError, match="前10行中找不到表头"):
        read_ledger(path)


def test_missing_required_header_is_named(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h not in ("保密性", "可用性")]
    path = write_csv(tmp_path / "missing.csv", table([row_dict()], headers))
    with pytest.raises(LedgerFormatError) as info:
        read_ledger(path)
    message = str(info.value)
    assert "missing.csv" in message
    assert "「保密性」" in message
    assert "「可用性」" in message
    assert "「完整性」" not in message


def test_renamed_header_shows_as_missing_and_unknown(tmp_path: Path) -> None:
    headers = ["资产名字" if h == "资产名称" else h for h in HEADERS]
    path = write_xlsx(tmp_path / "renamed.xlsx", table([row_dict()], headers))
    with pytest.raises(LedgerFormatError) as info:
        read_ledger(path)
    message = str(info.value)
    assert "renamed.xlsx" in message
    assert "缺少必填列：「资产名称」" in message
    assert "未识别的列：「资产名字」" in message


def test_no_address_column_at_all(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h not in ("IP地址", "主机名", "域名/URL")]
    path = write_csv(tmp_path / "noaddr.csv", table([row_dict()], headers))
    with pytest.raises(LedgerFormatError, match="IP地址、主机名、域名/URL（至少一列）"):
        read_ledger(path)


def test_duplicate_header_is_refused(tmp_path: Path) -> None:
    headers = [*HEADERS, "管理IP"]
    path = write_csv(tmp_path / "dup.csv", table([row_dict()], headers))
    with pytest.raises(LedgerFormatError, match="「IP地址」出现了多次（第3列和第18列）"):
        read_ledger(path)


# ---------------------------------------------------------------------------
# Cell values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("3.0", 3),
        ("３", 3),
        (" 4 ", 4),
        ("5级", 5),
        ("很高", 5),
        ("高", 4),
        ("中等", 3),
        ("中", 3),
        ("低", 2),
        ("很低", 1),
    ],
)
def test_level_spellings(tmp_path: Path, text: str, expected: int) -> None:
    path = write_csv(tmp_path / "l.csv", table([row_dict(保密性=text)]))
    rows, errors = read_ledger(path)
    assert errors == []
    assert rows[0].confidentiality == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0", "level_out_of_range"),
        ("6", "level_out_of_range"),
        ("-1", "level_out_of_range"),
        ("abc", "invalid_level"),
        ("3.5", "invalid_level"),
        ("nan", "invalid_level"),
        ("inf", "invalid_level"),
    ],
)
def test_bad_levels(tmp_path: Path, text: str, code: str) -> None:
    path = write_csv(tmp_path / "l.csv", table([row_dict(完整性=text)]))
    rows, errors = read_ledger(path)
    assert rows == []
    error = single_error(errors)
    assert (error.row, error.column, error.code) == (2, "完整性", code)


def test_addresses_split_normalise_and_dedupe(tmp_path: Path) -> None:
    cell = (
        "192.0.2.1，192.0.2.2；192.0.2.3/2001:DB8::1\n192.0.2.4、192.0.2.5 １９２.0.2.6;192.0.2.1"
    )
    path = write_xlsx(tmp_path / "a.xlsx", table([row_dict(IP地址=cell)]))
    rows, errors = read_ledger(path)
    assert errors == []
    assert rows[0].addresses == [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "2001:db8::1",
        "192.0.2.4",
        "192.0.2.5",
        "192.0.2.6",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "www.example.gov.cn",
        "https://www.example.gov.cn/a/b?c=d",
        "http://192.0.2.10:8080/",
        "https://[2001:db8::1]/",
        "example.gov.cn:8443/portal",
        "政务.中国",
        "HTTPS://WWW.EXAMPLE.COM",
    ],
)
def test_valid_urls(tmp_path: Path, url: str) -> None:
    path = write_csv(tmp_path / "u.csv", table([row_dict(**{"域名/URL": url})]))
    rows, errors = read_ledger(path)
    assert errors == []
    assert rows[0].url == url


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com", "http://", "not a url", "http://exa mple.com", "-bad-.com", "a..b"],
)
def test_invalid_urls(tmp_path: Path, url: str) -> None:
    path = write_csv(tmp_path / "u.csv", table([row_dict(**{"域名/URL": url})]))
    _, errors = read_ledger(path)
    assert single_error(errors).code == "invalid_url"


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("服务器", AssetType.HOST),
        ("ＷＡＦ", AssetType.SECURITY_DEVICE),
        ("database", AssetType.DATABASE),
    ],
)
def test_asset_type_labels(tmp_path: Path, label: str, kind: AssetType) -> None:
    path = write_csv(tmp_path / "k.csv", table([row_dict(资产类型=label)]))
    rows, errors = read_ledger(path)
    assert errors == []
    assert rows[0].asset_type is kind


def test_xlsx_numeric_cells_become_text(tmp_path: Path) -> None:
    records = [HEADERS, [12345, "主机", "192.0.2.1", *[None] * 7, 5, 4.0, 3, None, 8.5]]
    path = write_xlsx(tmp_path / "n.xlsx", records)
    rows, errors = read_ledger(path)
    assert errors == []
    assert rows[0].name == "12345"
    assert rows[0].version == "8.5"
    assert (rows[0].confidentiality, rows[0].integrity, rows[0].availability) == (5, 4, 3)


# ---------------------------------------------------------------------------
# Row errors


def test_invalid_ip_message(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "ip.csv", table([row_dict(), row_dict(资产名称="b", IP地址="10.0.0.300")])
    )
    rows, errors = read_ledger(path)
    assert [r.name for r in rows] == ["门户网站服务器"]
    error = single_error(errors)
    assert error == RowError(3, "IP地址", "10.0.0.300", t("ledger.reason.invalid_ip"), "invalid_ip")
    assert error.message() == "第3行「IP地址」列的值“10.0.0.300”无效：不是合法的IPv4/IPv6地址"


def test_all_errors_of_all_rows_are_reported(tmp_path: Path) -> None:
    records = table(
        [
            row_dict(保密性="0", 完整性="6", 可用性="abc", IP地址="192.0.2.1, 999.1.1.1, x"),
            row_dict(资产名称="ok", IP地址="192.0.2.2"),
            row_dict(资产名称="", 资产类型="", 保密性="", 完整性="", 可用性="", IP地址="192.0.2.3"),
            row_dict(资产名称="无地址", IP地址="", 主机名="", 资产类型="路由器"),
            row_dict(资产名称="坏类型", IP地址="192.0.2.5", 资产类型="打印机"),
        ]
    )
    path = write_csv(tmp_path / "bad.csv", records)
    rows, errors = read_ledger(path)
    assert [r.name for r in rows] == ["ok"]
    found = [(e.row, e.column, e.code) for e in errors]
    assert found == [
        (2, "IP地址", "invalid_ip"),
        (2, "IP地址", "invalid_ip"),
        (2, "保密性", "level_out_of_range"),
        (2, "完整性", "level_out_of_range"),
        (2, "可用性", "invalid_level"),
        (4, "资产名称", "required"),
        (4, "资产类型", "required"),
        (4, "保密性", "required"),
        (4, "完整性", "required"),
        (4, "可用性", "required"),
        (5, "", "need_address"),
        (6, "资产类型", "invalid_asset_type"),
    ]
    assert [e.value for e in errors[:2]] == ["999.1.1.1", "x"]
    for error in errors:
        assert not error.reason.startswith("ledger."), error.reason
        assert "\n" not in error.message()
    assert errors[5].message() == "第4行「资产名称」列：必填项不能为空"
    assert errors[10].message() == "第5行：IP地址、主机名、域名/URL 至少填写一项"
    assert "主机、云主机" in errors[11].reason


def test_duplicate_addresses_and_names_blame_the_later_row(tmp_path: Path) -> None:
    records = table(
        [
            row_dict(资产名称="Web01", IP地址="2001:db8::1, 192.0.2.1"),
            row_dict(资产名称="db", IP地址="192.0.2.2"),
            row_dict(资产名称="ｗｅｂ01", IP地址="2001:DB8:0::1"),
        ]
    )
    path = write_csv(tmp_path / "dup.csv", records)
    rows, errors = read_ledger(path)
    assert [r.name for r in rows] == ["Web01", "db"]
    assert [(e.row, e.column, e.value, e.code) for e in errors] == [
        (4, "资产名称", "ｗｅｂ01", "duplicate_name"),
        (4, "IP地址", "2001:db8::1", "duplicate_address"),
    ]
    assert errors[0].message().endswith("资产名称与第2行重复")
    assert errors[1].message().endswith("地址 2001:db8::1 与第2行重复")


def test_control_characters_and_length_limits(tmp_path: Path) -> None:
    long_name = "长" * 201
    records = table([row_dict(资产名称="a\x00b"), row_dict(资产名称=long_name, IP地址="192.0.2.9")])
    path = write_csv(tmp_path / "ctl.csv", records)
    rows, errors = read_ledger(path)
    assert rows == []
    assert [(e.row, e.code) for e in errors] == [(2, "control_chars"), (3, "too_long")]
    assert "201" in errors[1].reason
    assert len(errors[1].message()) < 200


def test_blank_rows_are_skipped_and_rows_keep_source_numbers(tmp_path: Path) -> None:
    header = ",".join(HEADERS)
    good = ",".join(row_dict().values())
    bad = ",".join(row_dict(资产名称="x", IP地址="192.0.2.400").values())
    text = f"资产台账\r\n{header}\r\n\r\n{good}\r\n,,,,\r\n  \r\n{bad}\r\n"
    path = tmp_path / "blank.csv"
    path.write_text(text, encoding="utf-8")
    report = read_ledger_report(path)
    assert report.header_row == 2
    assert [r.row for r in report.rows] == [4]
    assert [e.row for e in report.errors] == [7]


def test_hostname_validation(tmp_path: Path) -> None:
    records = table(
        [row_dict(主机名="WIN-服务器_01.corp"), row_dict(资产名称="b", IP地址="", 主机名="a b")]
    )
    path = write_csv(tmp_path / "h.csv", records)
    rows, errors = read_ledger(path)
    assert [r.hostname for r in rows] == ["WIN-服务器_01.corp"]
    assert [(e.row, e.code) for e in errors] == [(3, "invalid_hostname")]


# ---------------------------------------------------------------------------
# Unreadable files


def test_bad_encoding_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(",".join(HEADERS).encode("utf-8") + b"\r\nabc\xff\xfe")
    with pytest.raises(LedgerFormatError) as info:
        read_ledger(path)
    offset = len(",".join(HEADERS).encode("utf-8")) + 5
    message = str(info.value)
    assert "broken.csv" in message
    assert f"UTF-8 解码在字节偏移 {offset} 处出错" in message


def test_text_with_xlsx_suffix(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text(",".join(HEADERS), encoding="utf-8")
    with pytest.raises(LedgerFormatError, match=r"fake\.xlsx.*不是有效的 XLSX 文件"):
        read_ledger(path)


def test_xlsx_content_with_csv_suffix(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "real.xlsx", table([row_dict()]))
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(LedgerFormatError, match=r"扩展名改为 \.xlsx"):
        read_ledger(renamed)


def test_old_xls_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(LedgerFormatError, match=r"旧版 Excel（\.xls）"):
        read_ledger(path)
    forced = tmp_path / "encrypted.xlsx"
    forced.write_bytes(path.read_bytes())
    with pytest.raises(LedgerFormatError, match="加密"):
        read_ledger(forced)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b" \r\n\r\n", b",,,\r\n,,\r\n"])
def test_empty_csv(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(LedgerFormatError, match=r"empty\.csv.*文件为空"):
        read_ledger(path)


def test_empty_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "empty.xlsx", [])
    with pytest.raises(LedgerFormatError, match="文件为空"):
        read_ledger(path)


def test_header_only_gives_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [HEADERS])
    assert read_ledger(path) == ([], [])


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LedgerFormatError, match=r"nothere\.csv.*无法打开文件"):
        read_ledger(tmp_path / "nothere.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(LedgerFormatError, match=r"dir\.csv.*无法打开文件"):
        read_ledger(tmp_path / "dir.csv")


def test_very_wide_csv_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(HEADERS) + "," * 500_000 + "\r\n", encoding="utf-8")
    assert read_ledger(path) == ([], [])
    hidden = tmp_path / "hidden.csv"
    hidden.write_text("," * 200 + ",".join(HEADERS) + "\r\n", encoding="utf-8")
    # Headers beyond MAX_COLUMNS are not looked at.
    with pytest.raises(LedgerFormatError, match=r"hidden\.csv"):
        read_ledger(hidden)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    path = tmp_path / f"big{suffix}"
    write_ledger(path, sample_rows())
    monkeypatch.setattr(ledger_io, "MAX_FILE_BYTES", 512)
    with pytest.raises(LedgerFormatError, match=r"big\.(csv|xlsx).*超过上限 0\.5 KB"):
        read_ledger(path)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_row_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    path = tmp_path / f"rows{suffix}"
    rows = [make_row(name=f"h{i}", addresses=[f"192.0.2.{i}"]) for i in range(1, 10)]
    write_ledger(path, rows)
    monkeypatch.setattr(ledger_io, "MAX_ROWS", 10)
    assert len(read_ledger(path)[0]) == 9
    monkeypatch.setattr(ledger_io, "MAX_ROWS", 9)
    with pytest.raises(LedgerFormatError, match="行数超过上限 9 行"):
        read_ledger(path)


def test_far_away_row_in_xlsx_hits_the_row_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sparse.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    for col, header in enumerate(HEADERS, start=1):
        sheet.cell(row=1, column=col, value=header)
    sheet.cell(row=1_000_000, column=16_000, value="x")
    workbook.save(path)
    monkeypatch.setattr(ledger_io, "MAX_ROWS", 1000)
    with pytest.raises(LedgerFormatError, match="行数超过上限 1000 行"):
        read_ledger(path)


def _xlsx_with_extra_entry(tmp_path: Path, name: str, data: bytes) -> Path:
    source = tmp_path / "source.xlsx"
    write_template(source)
    target = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info, src.read(info))
        dst.writestr(name, data)
    return target


def test_zip_bomb_ratio_is_refused(tmp_path: Path) -> None:
    path = _xlsx_with_extra_entry(tmp_path, "xl/media/image1.png", b"\x00" * (20 * 1024 * 1024))
    assert path.stat().st_size < 100 * 1024
    with pytest.raises(LedgerFormatError, match=r"image1\.png.*压缩比.*压缩炸弹"):
        read_ledger(path)


def test_zip_total_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ok.xlsx"
    write_template(path)
    monkeypatch.setattr(ledger_io, "MAX_UNCOMPRESSED_BYTES", 10_000)
    with pytest.raises(LedgerFormatError, match=r"解压后总大小.*超过上限"):
        read_ledger(path)


def test_zip_entry_count_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ok.xlsx"
    write_template(path)
    monkeypatch.setattr(ledger_io, "MAX_ZIP_ENTRIES", 3)
    with pytest.raises(LedgerFormatError, match="文件数超过上限 3"):
        read_ledger(path)


def test_lying_central_directory_cannot_inflate_more(tmp_path: Path) -> None:
    # The checks trust declared sizes; this documents that zipfile enforces them.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.xml", b"<a/>" * 100_000)
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (16).to_bytes(4, "little")  # uncompressed size
    chunks: list[bytes] = []

    def drain(archive: zipfile.ZipFile) -> None:
        with archive.open(archive.infolist()[0]) as stream:
            while chunk := stream.read(4):
                chunks.append(chunk)

    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        assert archive.infolist()[0].file_size == 16
        # Inflation stops at the declared size; the CRC then no longer matches.
        with pytest.raises(zipfile.BadZipFile, match="CRC"):
            drain(archive)
    assert sum(map(len, chunks)) <= 16


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData>
</worksheet>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData>
</worksheet>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, BILLION_LAUGHS.decode().encode("utf-16")])
def test_xml_with_dtd_is_refused(tmp_path: Path, payload: bytes) -> None:
    path = _xlsx_with_extra_entry(tmp_path, "xl/worksheets/sheet1.xml", payload)
    with pytest.raises(LedgerFormatError, match=r"sheet1\.xml.*DTD"):
        read_ledger(path)


def test_openpyxl_parses_with_defusedxml() -> None:
    # Second line of defence behind the DTD scan; needs the defusedxml dependency.
    assert openpyxl.DEFUSEDXML is True


def test_defusedxml_alone_stops_entities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_io, "_scan_entry", lambda *_args: None)
    path = _xlsx_with_extra_entry(tmp_path, "xl/worksheets/sheet1.xml", BILLION_LAUGHS)
    with pytest.raises(LedgerFormatError, match="不是有效的 XLSX 文件") as info:
        read_ledger(path)
    chain: list[str] = []
    error: BaseException | None = info.value
    while error is not None:
        chain.append(type(error).__name__)
        error = error.__cause__ or error.__context__
    assert "EntitiesForbidden" in chain


def test_xml_in_exotic_encoding_is_refused(tmp_path: Path) -> None:
    payload = b'<?xml version="1.0" encoding="cp037"?>' + "<worksheet/>".encode("cp037")
    path = _xlsx_with_extra_entry(tmp_path, "xl/worksheets/sheet1.xml", payload)
    with pytest.raises(LedgerFormatError, match="不支持的字符编码"):
        read_ledger(path)


def test_corrupt_sheet_xml(tmp_path: Path) -> None:
    path = _xlsx_with_extra_entry(tmp_path, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData>")
    with pytest.raises(LedgerFormatError, match="不是有效的 XLSX 文件"):
        read_ledger(path)


# ---------------------------------------------------------------------------
# Format detection


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.xlsx", b"", "xlsx"),
        ("a.XLSM", b"", "xlsx"),
        ("a.csv", b"PK\x03\x04", "csv"),
        ("a.tsv", b"", "csv"),
        ("export.dat", b"PK\x03\x04rest", "xlsx"),
        ("export.xls", b"PK\x03\x04rest", "xlsx"),
        ("export.xls", b"a\tb\r\n", "csv"),
        ("export", "资产名称".encode("gbk"), "csv"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) == expected


def test_detect_format_unknown_suffix_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LedgerFormatError, match="无法根据扩展名"):
        detect_format(tmp_path / "x.dat")


def test_forced_fmt(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    write_ledger(path, sample_rows(), fmt="xlsx")
    assert path.read_bytes().startswith(b"PK")
    rows, errors = read_ledger(path, fmt="XLSX")
    assert errors == []
    assert strip_rows(rows) == sample_rows()
    with pytest.raises(ValidationError, match="pdf"):
        write_ledger(path, sample_rows(), fmt="pdf")
    with pytest.raises(LedgerFormatError, match="无法根据扩展名"):
        write_ledger(tmp_path / "x.dat", sample_rows())


# ---------------------------------------------------------------------------
# Formula injection

FORMULAS = ['=HYPERLINK("http://192.0.2.1")', "+1+1", "-2", "@SUM(A1)", "'=already", "''+x"]


def formula_rows() -> list[LedgerRow]:
    return [
        make_row(
            name=f"资产{i}",
            addresses=[f"192.0.2.{i + 1}"],
            notes=text,
            owner=text,
            os="'plain quote",
        )
        for i, text in enumerate(FORMULAS)
    ]


def test_csv_formula_injection_neutralised(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_ledger(path, formula_rows())
    with path.open(encoding="utf-8-sig", newline="") as fh:
        cells = [cell for record in csv.reader(fh) for cell in record]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert '\'=HYPERLINK("http://192.0.2.1")' in cells
    assert "''=already" in cells
    read, errors = read_ledger(path)
    assert errors == []
    assert strip_rows(read) == formula_rows()


def test_xlsx_formula_injection_neutralised(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_ledger(path, formula_rows())
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    texts = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert all(c.data_type == "s" for c in texts)
    assert not [c.value for c in texts if c.value[:1] in ("=", "+", "-", "@")]
    read, errors = read_ledger(path)
    assert errors == []
    assert strip_rows(read) == formula_rows()


def test_leading_quote_is_removed_on_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "q.csv", table([row_dict(备注="'=1+1", 厂商="'abc")]))
    rows, errors = read_ledger(path)
    assert errors == []
    assert (rows[0].notes, rows[0].vendor) == ("=1+1", "'abc")


# ---------------------------------------------------------------------------
# XLSX layout and template


def test_xlsx_layout(tmp_path: Path) -> None:
    path = tmp_path / "layout.xlsx"
    write_ledger(path, sample_rows())
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["资产台账"]
    sheet = workbook["资产台账"]
    assert [c.value for c in sheet[1]] == HEADERS
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:Q5"
    for letter in ("K", "L", "M"):
        assert all(isinstance(sheet[f"{letter}{r}"].value, int) for r in range(2, 6))
    assert sheet.column_dimensions["A"].width >= 10
    assert sheet.column_dimensions["Q"].width <= 52


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.csv"
    path.write_text("old", encoding="utf-8")
    broken = make_row(asset_type="no-such-type")
    with pytest.raises(KeyError):
        write_ledger(path, [make_row(), broken])
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


def test_xlsx_template(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    report = read_ledger_report(path)
    assert report.errors == []
    assert len(report.rows) == 2
    assert report.unknown_headers == []

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["资产台账", "填写说明"]
    sheet = workbook["资产台账"]
    headers = [c.value for c in sheet[1]]
    assert headers[0] == "资产名称*"
    assert headers[2] == "IP地址"
    assert sum(1 for h in headers if str(h).endswith("*")) == 5

    validations = {str(dv.sqref): dv for dv in sheet.data_validations.dataValidation}
    type_dv = next(dv for ref, dv in validations.items() if ref.startswith("B2"))
    for kind in ASSET_TYPE_LABELS:
        assert asset_type_label(kind) in type_dv.formula1
    level_dv = next(dv for dv in validations.values() if dv.formula1 == '"1,2,3,4,5"')
    assert {str(r).split(":")[0] for r in level_dv.sqref.ranges} == {"K2", "L2", "M2"}

    info = workbook["填写说明"]
    listed = {row[0]: row[1] for row in info.iter_rows(min_row=2, values_only=True) if row[1]}
    assert list(listed) == HEADERS
    assert listed["资产名称"] == "是"
    assert listed["IP地址"] == "三选一"
    assert listed["备注"] == "否"
    allowed = [row[3] for row in info.iter_rows(min_row=2, values_only=True) if row[3]]
    assert any("很高" in a for a in allowed)
    assert not any("{" in a for a in allowed)


def test_csv_template(tmp_path: Path) -> None:
    path = tmp_path / "template.csv"
    write_template(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.reader(fh))
    assert len(records) == 3
    assert records[0][0] == "资产名称*"
    rows, errors = read_ledger(path)
    assert errors == []
    assert len(rows) == 2


def test_template_uses_only_reserved_addresses(tmp_path: Path) -> None:
    allowed = [
        ipaddress.ip_network(n)
        for n in ("127.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32")
    ]
    path = tmp_path / "template.xlsx"
    write_template(path)
    rows, _ = read_ledger(path)
    addresses = [a for r in rows for a in r.addresses]
    assert addresses
    for address in addresses:
        ip = ipaddress.ip_address(address)
        assert any(ip in net for net in allowed), address


# ---------------------------------------------------------------------------
# Messages


def test_row_error_message_variants() -> None:
    assert RowError(7, "", "", "原因").message() == "第7行：原因"
    assert RowError(7, "备注", "", "原因").message() == "第7行「备注」列：原因"
    long_value = "x" * 100 + "\n"
    message = RowError(7, "备注", long_value, "原因").message()
    assert "\n" not in message
    assert len(message) < 100


def test_format_error_is_a_validation_error(tmp_path: Path) -> None:
    error = LedgerFormatError(tmp_path / "dir" / "a.csv", "问题")
    assert isinstance(error, ValidationError)
    assert str(error) == "无法读取资产台账文件“a.csv”：问题"


def test_english_messages(tmp_path: Path) -> None:
    set_language("en")
    path = write_csv(tmp_path / "e.csv", table([row_dict(IP地址="192.0.2.300")]))
    _, errors = read_ledger(path)
    assert single_error(errors).message() == (
        'Row 2, column "IP地址": invalid value "192.0.2.300": not a valid IPv4/IPv6 address'
    )


def _keys(language: str) -> set[str]:
    return {k for k in catalogue(language) if k.startswith("ledger.")}


def test_catalogues_have_the_same_keys() -> None:
    assert _keys("zh-CN") == _keys("en")


def test_every_key_used_in_code_exists() -> None:
    source = Path(ledger_io.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'"(ledger\.[a-z_.]+)"', source))
    codes = set(re.findall(r'fail\(\s*[^,]+,\s*[^,]+,\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'return "([a-z_]*level[a-z_]*)"', source))
    assert {"invalid_ip", "invalid_level", "need_address", "duplicate_name"} <= codes
    used |= {f"ledger.reason.{code}" for code in codes}
    assert len(used) > 30
    assert used <= _keys("zh-CN")


def test_no_chinese_text_in_module_source() -> None:
    source = Path(ledger_io.__file__).read_text(encoding="utf-8")
    assert not re.findall(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]", source)

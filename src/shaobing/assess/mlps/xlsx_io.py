"""The record sheet (测评记录表) as XLSX: a template to fill in, and its import.

Sheets come back from people outside the platform, so reading is defensive: a size cap on the
file, zip limits checked from the central directory before anything is inflated, no DTDs in
any XML part, a row cap, and one-line errors naming the file, sheet, row or column at fault.
Text cells are written so spreadsheet programs never evaluate them as formulas.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from shaobing.assess.mlps.catalogue import Catalogue
from shaobing.assess.mlps.scoring import RESULTS, ObjectView, RecordView
from shaobing.core.errors import ValidationError as UserError
from shaobing.core.i18n import t

SHEET = "测评记录"
META_SHEET = "说明"
HEADERS = (
    "测评对象",
    "对象类型",
    "安全类",
    "安全控制点",
    "测评项",
    "测评单元",
    "要求概述",
    "结果",
    "证据",
    "备注",
    "来源",
)
REQUIRED = ("测评对象", "测评项", "结果")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 2_000
MAX_COMPRESSION_RATIO = 200
RATIO_GRACE_BYTES = 1024 * 1024
MAX_ROWS = 50_000
MAX_CELL = 20_000
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_META_ID = re.compile(r"^mlps#(\d+)$")


@dataclass(frozen=True)
class SheetRow:
    """One filled-in row of the record sheet."""

    row: int
    object_name: str
    item: str
    result: str
    evidence: str | None
    note: str | None
    #: the 来源 column as written (预填 rows that are unchanged are not imported)
    source: str = ""


def _safe(text: str) -> str:
    # A leading quote keeps Excel and WPS from evaluating user text as a formula.
    return "'" + text if text.startswith(_FORMULA_LEADS) else text


def write_template(
    path: Path,
    catalogue: Catalogue,
    assessment_id: int,
    engagement_name: str,
    objects: Sequence[ObjectView],
    records: Sequence[RecordView],
) -> int:
    """Write the sheet: one row per applicable (object, item), current results filled in."""
    current = {(r.object_id, r.item_id): r for r in records}
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    rows = 0
    for obj in objects:
        for item in catalogue.items_for(obj.object_type):
            record = current.get((obj.id, item.id))
            sheet.append(
                [
                    _safe(obj.name),
                    obj.object_type,
                    item.category,
                    item.control_point,
                    item.label,
                    item.unit,
                    item.text,
                    record.result if record else None,
                    _safe(record.evidence) if record and record.evidence else None,
                    _safe(record.note) if record and record.note else None,
                    t(f"mlps.source.{record.source}") if record else None,
                ]
            )
            rows += 1
    check = DataValidation(type="list", formula1='"' + ",".join(RESULTS) + '"', allow_blank=True)
    sheet.add_data_validation(check)
    if rows:
        check.add(f"H2:H{rows + 1}")
    for column, width in zip(
        "ABCDEFGHIJK", (24, 18, 14, 18, 12, 13, 60, 10, 50, 30, 8), strict=True
    ):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2, min_col=7, max_col=7):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    meta = book.create_sheet(META_SHEET)
    meta.append([t("mlps.sheet.assessment"), f"mlps#{assessment_id}"])
    meta.append([t("mlps.sheet.engagement"), _safe(engagement_name)])
    meta.append([t("mlps.sheet.results"), "、".join(RESULTS)])
    meta.append([t("mlps.sheet.hint")])
    meta.column_dimensions["A"].width = 16
    meta.column_dimensions["B"].width = 60
    try:
        book.save(path)
    except OSError as exc:
        raise UserError(
            t("mlps.sheet.write_failed", path=str(path), detail=exc.strerror or str(exc))
        ) from None
    return rows


def _fail(path: Path, problem: str) -> UserError:
    return UserError(t("mlps.sheet.bad_file", file=str(path), problem=problem))


def _check_zip(path: Path, data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise _fail(path, t("mlps.sheet.zip_entries", limit=MAX_ZIP_ENTRIES))
            total = 0
            for info in infos:
                # zipfile never inflates past an entry's declared size, so the central
                # directory bounds what opening the workbook can cost.
                total += info.file_size
                if total > MAX_UNCOMPRESSED_BYTES:
                    raise _fail(path, t("mlps.sheet.zip_size", limit=MAX_UNCOMPRESSED_BYTES))
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > RATIO_GRACE_BYTES and ratio > MAX_COMPRESSION_RATIO:
                    raise _fail(path, t("mlps.sheet.zip_ratio", entry=info.filename[:80]))
            for info in infos:
                with archive.open(info) as stream:
                    tail = b""
                    while chunk := stream.read(256 * 1024):
                        window = tail + chunk
                        if any(marker in window for marker in _DTD_MARKERS):
                            raise _fail(path, t("mlps.sheet.dtd", entry=info.filename[:80]))
                        tail = window[-16:]
    except UserError:
        raise
    except Exception as exc:  # zipfile raises many types on hostile input
        raise _fail(path, t("mlps.sheet.not_xlsx", detail=type(exc).__name__)) from exc


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _CONTROLS.sub("", str(value)).strip()
    if text.startswith("'") and text[1:].startswith(_FORMULA_LEADS):
        text = text[1:]
    return text


def _rows(path: Path, sheet: object) -> Iterator[tuple[int, list[str]]]:
    rows = sheet.iter_rows(max_col=len(HEADERS) + 8, values_only=True)  # type: ignore[attr-defined]
    number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl raises many types on malformed sheets
            raise _fail(path, t("mlps.sheet.not_xlsx", detail=type(exc).__name__)) from exc
        number += 1
        if number > MAX_ROWS + 1:
            raise _fail(path, t("mlps.sheet.too_many_rows", limit=MAX_ROWS))
        yield number, [_cell(v) for v in values]


@dataclass
class SheetContent:
    """What the sheet holds: its assessment reference and the filled-in rows."""

    assessment_id: int | None
    rows: list[SheetRow]


def read_sheet(path: Path) -> SheetContent:
    """Read and validate the record sheet's shape (not yet its objects and items)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(path, t("mlps.sheet.too_big", limit=MAX_FILE_BYTES))
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UserError(
            t("mlps.sheet.unreadable", file=str(path), detail=exc.strerror or str(exc))
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise _fail(path, t("mlps.sheet.too_big", limit=MAX_FILE_BYTES))
    _check_zip(path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            book = openpyxl.load_workbook(
                io.BytesIO(data), read_only=True, data_only=True, keep_links=False
            )
        except Exception as exc:  # openpyxl raises many types on hostile input
            raise _fail(path, t("mlps.sheet.not_xlsx", detail=type(exc).__name__)) from exc
        try:
            names = list(book.sheetnames)
            if SHEET not in names:
                raise _fail(
                    path, t("mlps.sheet.no_sheet", sheet=SHEET, found="、".join(names[:5]) or "-")
                )
            assessment_id = None
            if META_SHEET in names:
                for _, values in _rows(path, book[META_SHEET]):
                    if len(values) >= 2 and (match := _META_ID.match(values[1])):
                        assessment_id = int(match.group(1))
                        break
            rows = list(_data_rows(path, book[SHEET]))
        finally:
            book.close()
    return SheetContent(assessment_id, rows)


def _data_rows(path: Path, sheet: object) -> Iterator[SheetRow]:
    records = _rows(path, sheet)
    try:
        _, header = next(records)
    except StopIteration:
        raise _fail(path, t("mlps.sheet.empty", sheet=SHEET)) from None
    columns = {name: index for index, name in enumerate(header) if name}
    missing = [h for h in REQUIRED if h not in columns]
    if missing:
        raise _fail(path, t("mlps.sheet.missing_columns", columns="、".join(missing)))

    def get(values: list[str], name: str) -> str:
        index = columns.get(name)
        return values[index] if index is not None and index < len(values) else ""

    for number, values in records:
        result = get(values, "结果")
        if not result:
            continue
        texts = {name: get(values, name) for name in ("证据", "备注")}
        for name, text in texts.items():
            if len(text) > MAX_CELL:
                raise _fail(
                    path, t("mlps.sheet.cell_too_long", row=number, column=name, limit=MAX_CELL)
                )
        yield SheetRow(
            row=number,
            object_name=get(values, "测评对象"),
            item=get(values, "测评项") or get(values, "测评单元"),
            result=result,
            evidence=texts["证据"] or None,
            note=texts["备注"] or None,
            source=get(values, "来源"),
        )

"""Reading and writing the asset ledger (A2) as CSV and XLSX.

Pure file I/O: no database. Column names, aliases and template text are data in
``ledger_columns.yaml``; every user-facing message comes from the ``ledger`` i18n catalogue.
Ledger files come from clients and are untrusted: size, row and zip limits are enforced
before any parser sees the content, and XML parts carrying a DTD are refused.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import ipaddress
import math
import os
import re
import tempfile
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import openpyxl
import yaml
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ConfigDict, model_validator

from shaobing.assets.kinds import ASSET_TYPE_LABELS, AssetType, asset_type_label, parse_asset_type
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

__all__ = [
    "HEADER_SCAN_ROWS",
    "MAX_COLUMNS",
    "MAX_COMPRESSION_RATIO",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_ZIP_ENTRIES",
    "ColumnSpec",
    "LedgerFormatError",
    "LedgerReport",
    "LedgerRow",
    "LedgerSpec",
    "RowError",
    "detect_format",
    "ledger_spec",
    "normalize_header",
    "read_ledger",
    "read_ledger_report",
    "write_ledger",
    "write_template",
]

LedgerFormat = Literal["csv", "xlsx"]

# Limits for untrusted input. Module globals (not defaults) so tests can shrink them.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
# Apache POI's default: deflate can reach ~1000:1, real OOXML parts stay well below 100:1.
MAX_COMPRESSION_RATIO = 100
# Small parts cannot hurt whatever their ratio, and tiny XML parts compress extremely well.
RATIO_GRACE_BYTES = 1024 * 1024
HEADER_SCAN_ROWS = 10
# openpyxl pads every row up to this width; a cell at column XFD must not cost 16k cells/row.
MAX_COLUMNS = 128
# Rows in the template that get the drop-down validations.
TEMPLATE_VALIDATION_ROWS = 1000

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XLSX_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm"}
_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_CSV_DELIMITERS = (",", "\t", ";")
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
# NFKC has already folded full-width commas/semicolons; U+3001 is the ideographic comma.
_ADDRESS_SPLIT = re.compile(r"[,;/\u3001\s]+")
_HOSTNAME = re.compile(r"^[\w.-]+$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_INT_FIELDS = ("confidentiality", "integrity", "availability")
# C0/C1 controls (category Cc) except tab and line breaks, and lone surrogates.
_BAD_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_XML_DECL_ENCODING = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']"
)
# Encodings in which "<!DOCTYPE" appears as ASCII or UTF-16 bytes, so the scan below sees it.
_SCANNABLE_XML_ENCODINGS = {"utf-8", "utf8", "utf-16", "utf16", "utf-16le", "utf-16be"} | {
    "us-ascii",
    "ascii",
    "iso-8859-1",
    "latin1",
    "latin-1",
}
_DTD_MARKERS = tuple(
    marker.encode(enc)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for enc in ("utf-8", "utf-16-le", "utf-16-be")
)
_SCAN_CHUNK = 1024 * 1024


# ---------------------------------------------------------------------------
# Column definitions (ledger_columns.yaml)


class ColumnSpec(BaseModel):
    """One ledger column: field key, canonical header, accepted aliases and template text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    max_length: int
    description: str
    allowed: str


class TemplateSpec(BaseModel):
    """Text of the template's instructions sheet and its example rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instructions_sheet: str
    instructions_headers: tuple[str, str, str, str]
    required_yes: str
    required_no: str
    required_one_of: str
    list_separator: str
    notes: tuple[str, ...] = ()
    examples: tuple[dict[str, str | int], ...]


class LedgerSpec(BaseModel):
    """The whole ledger format as loaded from ``ledger_columns.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet_name: str
    required_marker: str
    required_suffixes: tuple[str, ...]
    ignored_headers: tuple[str, ...] = ()
    require_one_of: tuple[str, ...]
    levels: dict[str, int]
    level_suffixes: tuple[str, ...] = ()
    columns: tuple[ColumnSpec, ...]
    template: TemplateSpec

    @model_validator(mode="after")
    def _check_consistency(self) -> LedgerSpec:
        keys = [c.key for c in self.columns]
        expected = [f.name for f in fields(LedgerRow) if f.name != "row"]
        if sorted(keys) != sorted(expected) or len(keys) != len(set(keys)):
            raise ValueError(f"columns must cover exactly the LedgerRow fields {expected}")
        unknown = set(self.require_one_of) - set(keys)
        if unknown or not self.require_one_of:
            raise ValueError(f"require_one_of names unknown columns: {sorted(unknown)}")
        if any(not 1 <= v <= 5 for v in self.levels.values()):
            raise ValueError("levels must map to 1..5")
        seen: dict[str, str] = {}
        for col in self.columns:
            for name in (col.header, col.key, *col.aliases):
                norm = _normalize_header_with(name, self.required_suffixes)
                if not norm:
                    raise ValueError(f"empty header or alias in column {col.key}")
                if seen.setdefault(norm, col.key) != col.key:
                    raise ValueError(f"header/alias {name!r} used by {seen[norm]} and {col.key}")
        for name in self.ignored_headers:
            if _normalize_header_with(name, self.required_suffixes) in seen:
                raise ValueError(f"ignored header {name!r} is also a column alias")
        for example in self.template.examples:
            if set(example) - set(keys):
                raise ValueError(f"template example has unknown keys {set(example) - set(keys)}")
        return self

    def column(self, key: str) -> ColumnSpec:
        """The column definition of a LedgerRow field."""
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)


@cache
def ledger_spec() -> LedgerSpec:
    """Load and validate ``ledger_columns.yaml`` (cached)."""
    text = resources.files("shaobing.assets").joinpath("ledger_columns.yaml").read_text("utf-8")
    return LedgerSpec.model_validate(yaml.safe_load(text))


def _normalize_header_with(text: str, suffixes: Sequence[str]) -> str:
    # NFKC folds full-width letters, digits and brackets; whitespace inside headers is noise
    # (Excel users wrap long headers with Alt+Enter).
    norm = "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    folded = [unicodedata.normalize("NFKC", s).casefold() for s in suffixes]
    changed = True
    while changed and norm:
        changed = False
        for suffix in folded:
            if suffix and norm.endswith(suffix) and len(norm) > len(suffix):
                norm = norm[: -len(suffix)]
                changed = True
        if norm.startswith("*") and len(norm) > 1:
            norm = norm[1:]
            changed = True
    return norm


def normalize_header(text: str) -> str:
    """Normalise a header cell for matching (width, case, whitespace, required markers)."""
    return _normalize_header_with(text, ledger_spec().required_suffixes)


@cache
def _alias_index() -> dict[str, str]:
    spec = ledger_spec()
    index: dict[str, str] = {}
    for col in spec.columns:
        for name in (col.header, col.key, *col.aliases):
            index[normalize_header(name)] = col.key
    return index


@cache
def _ignored_headers() -> frozenset[str]:
    return frozenset(normalize_header(h) for h in ledger_spec().ignored_headers)


# ---------------------------------------------------------------------------
# Public data types


@dataclass
class LedgerRow:
    """One asset of the ledger; ``row`` is the 1-based source row (0 when built in code)."""

    row: int
    name: str
    asset_type: AssetType
    addresses: list[str]
    hostname: str | None
    url: str | None
    os: str | None
    system: str | None
    zone: str | None
    owner: str | None
    importance: str | None
    confidentiality: int
    integrity: int
    availability: int
    vendor: str | None
    version: str | None
    location: str | None
    notes: str | None


@dataclass(frozen=True)
class RowError:
    """A problem with one cell (or one whole row when ``column`` is empty) of the ledger."""

    row: int
    column: str
    value: str
    reason: str
    code: str = ""

    def message(self) -> str:
        """One-line, translated description naming row, column, value and reason."""
        if not self.column:
            return t("ledger.row_error_row", row=self.row, reason=self.reason)
        if not self.value:
            return t("ledger.row_error_empty", row=self.row, column=self.column, reason=self.reason)
        return t(
            "ledger.row_error",
            row=self.row,
            column=self.column,
            value=_display_value(self.value),
            reason=self.reason,
        )


class LedgerFormatError(ValidationError):
    """The ledger file cannot be read at all; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(t("ledger.format_error", file=self.path.name, problem=problem))


@dataclass
class LedgerReport:
    """Everything :func:`read_ledger_report` learned about a ledger file."""

    rows: list[LedgerRow]
    errors: list[RowError]
    format: LedgerFormat
    header_row: int
    # field key -> header text exactly as found in the file
    columns: dict[str, str] = field(default_factory=dict)
    # header cells that matched no column (their data is not imported)
    unknown_headers: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


# ---------------------------------------------------------------------------
# Small helpers


def _display_value(value: str, limit: int = 60) -> str:
    # Messages are one line: show line breaks escaped and cut very long values.
    shown = value.replace("\r", "\\r").replace("\n", "\\n")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _join(items: Iterable[str]) -> str:
    return t("ledger.list_separator").join(items)


def _neutralize(text: str) -> str:
    """Prefix ``'`` so spreadsheet programs never evaluate the cell as a formula."""
    # Values that already start with quotes before a formula lead get one more quote, so
    # reading (which removes exactly one) gives back the original text.
    if text.lstrip("'").startswith(_FORMULA_LEADS):
        return "'" + text
    return text


def _unneutralize(text: str) -> str:
    if text.startswith("'") and text.lstrip("'").startswith(_FORMULA_LEADS):
        return text[1:]
    return text


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        # Excel stores every number as a double: 3 comes back as 3.0.
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _has_bad_controls(text: str) -> bool:
    # NUL and other controls break PostgreSQL text columns and terminals.
    return _BAD_CONTROLS.search(text) is not None


def _check_fmt(fmt: str) -> LedgerFormat:
    lowered = fmt.lower()
    if lowered == "csv":
        return "csv"
    if lowered == "xlsx":
        return "xlsx"
    raise ValidationError(t("ledger.unsupported_fmt", fmt=fmt))


def detect_format(path: Path) -> LedgerFormat:
    """Tell CSV from XLSX by suffix, falling back to the file's magic bytes."""
    suffix = path.suffix.lower()
    if suffix in _XLSX_SUFFIXES:
        return "xlsx"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise LedgerFormatError(path, t("ledger.problem.unknown_format", suffix=suffix)) from exc
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise LedgerFormatError(path, t("ledger.problem.old_xls"))
    return "csv"


def _write_format(path: Path, fmt: str | None) -> LedgerFormat:
    if fmt is not None:
        return _check_fmt(fmt)
    suffix = path.suffix.lower()
    if suffix in _XLSX_SUFFIXES:
        return "xlsx"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    raise LedgerFormatError(path, t("ledger.problem.unknown_format", suffix=suffix))


# ---------------------------------------------------------------------------
# Header detection


@dataclass
class _HeaderMatch:
    row: int
    cells: list[str]
    mapping: dict[str, int]
    duplicates: list[tuple[str, int, int]]
    unknown: list[str]
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing


def _match_header(rownum: int, cells: list[str]) -> _HeaderMatch:
    spec = ledger_spec()
    index = _alias_index()
    ignored = _ignored_headers()
    mapping: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    unknown: list[str] = []
    for col, cell in enumerate(cells):
        norm = normalize_header(cell)
        if not norm or norm in ignored:
            continue
        key = index.get(norm)
        if key is None:
            unknown.append(cell.strip())
        elif key in mapping:
            duplicates.append((key, mapping[key], col))
        else:
            mapping[key] = col
    missing = [c.header for c in spec.columns if c.required and c.key not in mapping]
    if not any(key in mapping for key in spec.require_one_of):
        group = _join(spec.column(k).header for k in spec.require_one_of)
        missing.append(t("ledger.problem.one_of", columns=group))
    return _HeaderMatch(rownum, cells, mapping, duplicates, unknown, missing)


def _find_header(path: Path, rows: list[tuple[int, list[str]]]) -> _HeaderMatch:
    best: _HeaderMatch | None = None
    for rownum, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        match = _match_header(rownum, cells)
        if match.ok:
            return match
        if best is None or len(match.mapping) > len(best.mapping):
            best = match
    if best is None:
        raise LedgerFormatError(path, t("ledger.problem.empty_file"))
    raise LedgerFormatError(path, _missing_headers_problem(best))


def _missing_headers_problem(match: _HeaderMatch) -> str:
    problem = t(
        "ledger.problem.missing_headers",
        rows=HEADER_SCAN_ROWS,
        missing=_join(t("ledger.quoted", text=m) for m in match.missing),
    )
    if match.unknown:
        shown = [t("ledger.quoted", text=_display_value(u, 30)) for u in match.unknown[:20]]
        if len(match.unknown) > 20:
            shown.append("…")
        problem += t("ledger.problem.unknown_headers", row=match.row, unknown=_join(shown))
    return problem + t("ledger.problem.header_hint")


# ---------------------------------------------------------------------------
# Cell and row validation


def _parse_level(text: str) -> int | str:
    """Return the level 1..5, or the error code."""
    spec = ledger_spec()
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if cleaned in spec.levels:
        return spec.levels[cleaned]
    for suffix in spec.level_suffixes:
        cleaned = cleaned.removesuffix(suffix).strip()
    try:
        number = float(cleaned)
    except ValueError:
        return "invalid_level"
    if not math.isfinite(number) or not number.is_integer():
        return "invalid_level"
    if not 1 <= number <= 5:
        return "level_out_of_range"
    return int(number)


def _valid_host(host: str) -> bool:
    host = host.rstrip(".")
    if not host:
        return False
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    if len(ascii_host) > 253:
        return False
    return all(_DNS_LABEL.match(label) for label in ascii_host.split("."))


def _valid_url(text: str) -> bool:
    if any(ch.isspace() for ch in text):
        return False
    candidate = text if "://" in text else "http://" + text
    try:
        parts = urlsplit(candidate)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https"):
        return False
    return parts.hostname is not None and _valid_host(parts.hostname)


def _parse_addresses(text: str) -> tuple[list[str], list[str]]:
    """Split and normalise an address cell: (addresses, invalid tokens)."""
    good: list[str] = []
    bad: list[str] = []
    for token in _ADDRESS_SPLIT.split(unicodedata.normalize("NFKC", text)):
        if not token:
            continue
        try:
            normalized = str(ipaddress.ip_address(token))
        except ValueError:
            bad.append(token)
            continue
        if normalized not in good:
            good.append(normalized)
    return good, bad


@lru_cache(maxsize=1024)
def _parse_asset_type(text: str) -> AssetType | None:
    # A ledger repeats a handful of type labels thousands of times.
    return parse_asset_type(unicodedata.normalize("NFKC", text))


def _duplicate_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


class _RowParser:
    """Validates rows one by one and remembers names/addresses for duplicate checks."""

    def __init__(self) -> None:
        self.spec = ledger_spec()
        self.seen_names: dict[str, int] = {}
        self.seen_addresses: dict[str, int] = {}

    def parse(self, rownum: int, raw: dict[str, str]) -> tuple[LedgerRow | None, list[RowError]]:
        errors: list[RowError] = []
        values: dict[str, str] = {}

        def fail(key: str, value: str, code: str, **params: object) -> None:
            # The code doubles as the i18n key of the reason.
            header = self.spec.column(key).header if key else ""
            reason = t(f"ledger.reason.{code}", **params)
            errors.append(RowError(rownum, header, value, reason, code))

        for col in self.spec.columns:
            value = _unneutralize(raw.get(col.key, "").strip())
            if _has_bad_controls(value):
                fail(col.key, value, "control_chars")
            elif len(value) > col.max_length:
                fail(col.key, value, "too_long", length=len(value), limit=col.max_length)
            elif col.required and not value:
                fail(col.key, value, "required")
            else:
                values[col.key] = value

        kind: AssetType | None = None
        if values.get("asset_type"):
            kind = _parse_asset_type(values["asset_type"])
            if kind is None:
                allowed = _join(asset_type_label(k) for k in ASSET_TYPE_LABELS)
                fail("asset_type", values["asset_type"], "invalid_asset_type", allowed=allowed)

        addresses: list[str] = []
        if values.get("addresses"):
            addresses, bad = _parse_addresses(values["addresses"])
            for token in bad:
                fail("addresses", token, "invalid_ip")

        if values.get("hostname") and not _HOSTNAME.match(values["hostname"]):
            fail("hostname", values["hostname"], "invalid_hostname")
        if values.get("url") and not _valid_url(values["url"]):
            fail("url", values["url"], "invalid_url")

        levels: dict[str, int] = {}
        for key in _INT_FIELDS:
            if values.get(key):
                parsed = _parse_level(values[key])
                if isinstance(parsed, int):
                    levels[key] = parsed
                else:
                    fail(key, values[key], parsed, allowed=_join(self.spec.levels))

        # The one-of rule looks at the raw cells: a present-but-invalid address is already
        # reported and must not also trigger "fill in one of".
        if not any(raw.get(k, "").strip() for k in self.spec.require_one_of):
            group = _join(self.spec.column(k).header for k in self.spec.require_one_of)
            fail("", "", "need_address", columns=group)

        # Later rows are blamed for duplicates even when the earlier row itself was invalid:
        # fixing the earlier row must not surface a new error on re-import.
        name = values.get("name", "")
        if name:
            first = self.seen_names.setdefault(_duplicate_key(name), rownum)
            if first != rownum:
                fail("name", name, "duplicate_name", first=first)
        for address in addresses:
            first = self.seen_addresses.setdefault(address, rownum)
            if first != rownum:
                fail("addresses", address, "duplicate_address", address=address, first=first)

        if errors or kind is None:
            return None, errors

        def opt(key: str) -> str | None:
            return values.get(key) or None

        return (
            LedgerRow(
                row=rownum,
                name=name,
                asset_type=kind,
                addresses=addresses,
                hostname=opt("hostname"),
                url=opt("url"),
                os=opt("os"),
                system=opt("system"),
                zone=opt("zone"),
                owner=opt("owner"),
                importance=opt("importance"),
                confidentiality=levels["confidentiality"],
                integrity=levels["integrity"],
                availability=levels["availability"],
                vendor=opt("vendor"),
                version=opt("version"),
                location=opt("location"),
                notes=opt("notes"),
            ),
            errors,
        )


def _parse_table(
    path: Path, fmt: LedgerFormat, records: Iterator[tuple[int, list[str]]]
) -> LedgerReport:
    head: list[tuple[int, list[str]]] = []
    for record in records:
        head.append(record)
        if len(head) >= HEADER_SCAN_ROWS:
            break
    header = _find_header(path, head)
    if header.duplicates:
        key, first, second = header.duplicates[0]
        problem = t(
            "ledger.problem.duplicate_header",
            column=ledger_spec().column(key).header,
            first=first + 1,
            second=second + 1,
        )
        raise LedgerFormatError(path, problem)

    parser = _RowParser()
    report = LedgerReport(
        rows=[],
        errors=[],
        format=fmt,
        header_row=header.row,
        columns={key: header.cells[idx].strip() for key, idx in header.mapping.items()},
        unknown_headers=header.unknown,
    )
    remaining = (r for r in head if r[0] > header.row)
    for rownum, cells in _chain(remaining, records):
        raw = {key: cells[idx] if idx < len(cells) else "" for key, idx in header.mapping.items()}
        # A row is blank when no known column has data: pre-numbered serial columns are common.
        if not any(v.strip() for v in raw.values()):
            continue
        row, errors = parser.parse(rownum, raw)
        report.errors.extend(errors)
        if row is not None:
            report.rows.append(row)
    return report


def _chain(*iterables: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    for iterable in iterables:
        yield from iterable


# ---------------------------------------------------------------------------
# CSV


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise LedgerFormatError(
                path, t("ledger.problem.unknown_encoding", encoding=encoding)
            ) from exc
        candidates = [encoding]
    elif data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        candidates = ["utf-16"]
    else:
        # GB18030 is a superset of GBK, which is what Excel in China writes.
        candidates = ["utf-8", "gb18030"]
    offsets: list[int] = []
    for candidate in candidates:
        try:
            return data.decode(candidate).lstrip("\ufeff"), candidate
        except UnicodeDecodeError as exc:
            offsets.append(exc.start)
        except LookupError as exc:
            # Codecs such as "base64" exist but are not text encodings.
            problem = t("ledger.problem.unknown_encoding", encoding=candidate)
            raise LedgerFormatError(path, problem) from exc
    if len(candidates) == 2:
        problem = t("ledger.problem.bad_encoding", utf8_offset=offsets[0], gb_offset=offsets[1])
    else:
        problem = t("ledger.problem.decode_failed", encoding=candidates[0], offset=offsets[0])
    raise LedgerFormatError(path, problem)


def _csv_records(path: Path, text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    previous_line = 0
    count = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = t("ledger.problem.csv_syntax", line=reader.line_num, detail=str(exc))
            raise LedgerFormatError(path, problem) from exc
        # Report the line where the record starts; quoted cells may span several lines.
        start = previous_line + 1
        previous_line = reader.line_num
        count += 1
        if count > MAX_ROWS:
            raise LedgerFormatError(path, t("ledger.problem.too_many_rows", limit=MAX_ROWS))
        # Same width cap as for XLSX: a line of a million commas must not slow header search.
        yield start, record[:MAX_COLUMNS]


def _read_csv(path: Path, data: bytes, encoding: str | None) -> LedgerReport:
    if data.startswith((*_ZIP_MAGIC, _OLE_MAGIC)):
        raise LedgerFormatError(path, t("ledger.problem.excel_as_csv"))
    text, used = _decode(path, data, encoding)
    if not text.strip():
        raise LedgerFormatError(path, t("ledger.problem.empty_file"))
    first_failure: LedgerFormatError | None = None
    best_score = -1
    # Try the delimiters in turn: the right one is the one under which a header row appears.
    for delimiter in _CSV_DELIMITERS:
        head = list(_limited(_csv_records(path, text, delimiter), HEADER_SCAN_ROWS))
        try:
            _find_header(path, head)
        except LedgerFormatError as exc:
            score = max(
                (len(_match_header(n, c).mapping) for n, c in head if any(x.strip() for x in c)),
                default=0,
            )
            if score > best_score:
                first_failure, best_score = exc, score
            continue
        report = _parse_table(path, "csv", _csv_records(path, text, delimiter))
        report.encoding = used
        report.delimiter = delimiter
        return report
    assert first_failure is not None
    raise first_failure


def _limited(
    records: Iterator[tuple[int, list[str]]], limit: int
) -> Iterator[tuple[int, list[str]]]:
    for index, record in enumerate(records):
        if index >= limit:
            return
        yield record


# ---------------------------------------------------------------------------
# XLSX


def _check_zip(path: Path, data: bytes) -> None:
    """Refuse zip bombs and XML parts with DTDs before openpyxl sees the archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise LedgerFormatError(
                    path, t("ledger.problem.zip_too_many_entries", limit=MAX_ZIP_ENTRIES)
                )
            total = 0
            for info in infos:
                # zipfile never returns more than the declared file_size of an entry, so
                # the central directory is a trustworthy upper bound on what gets inflated.
                total += info.file_size
                if total > MAX_UNCOMPRESSED_BYTES:
                    problem = t(
                        "ledger.problem.zip_too_big",
                        size=_size_text(total),
                        limit=_size_text(MAX_UNCOMPRESSED_BYTES),
                    )
                    raise LedgerFormatError(path, problem)
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > RATIO_GRACE_BYTES and ratio > MAX_COMPRESSION_RATIO:
                    problem = t(
                        "ledger.problem.zip_ratio",
                        entry=_display_value(info.filename, 80),
                        ratio=int(ratio),
                    )
                    raise LedgerFormatError(path, problem)
            for info in infos:
                _scan_entry(path, archive, info)
    except LedgerFormatError:
        raise
    except Exception as exc:  # zipfile raises many types on hostile input
        raise LedgerFormatError(path, _not_xlsx(exc)) from exc


def _scan_entry(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    # OOXML never needs a DTD; refusing them blocks entity expansion and XXE whatever XML
    # parser openpyxl ends up using (defusedxml, lxml or plain expat).
    entry = _display_value(info.filename, 80)
    overlap = max(len(m) for m in _DTD_MARKERS) - 1
    tail = b""
    first = True
    with archive.open(info) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            if first:
                first = False
                declared = _XML_DECL_ENCODING.match(chunk)
                if declared and declared.group(1).decode().lower() not in _SCANNABLE_XML_ENCODINGS:
                    raise LedgerFormatError(path, t("ledger.problem.xml_encoding", entry=entry))
            window = tail + chunk
            if any(marker in window for marker in _DTD_MARKERS):
                raise LedgerFormatError(path, t("ledger.problem.xml_dtd", entry=entry))
            tail = window[-overlap:]


def _not_xlsx(exc: BaseException) -> str:
    detail = _display_value(f"{type(exc).__name__}: {exc}", 160)
    return t("ledger.problem.not_xlsx", detail=detail)


def _xlsx_records(path: Path, sheet: Any) -> Iterator[tuple[int, list[str]]]:
    # Dimensions written by other tools are often wrong and would truncate the sheet.
    sheet.reset_dimensions()
    rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    rownum = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl raises many types on malformed sheets
            raise LedgerFormatError(path, _not_xlsx(exc)) from exc
        rownum += 1
        if rownum > MAX_ROWS:
            raise LedgerFormatError(path, t("ledger.problem.too_many_rows", limit=MAX_ROWS))
        # Rows come padded to MAX_COLUMNS; converting the padding costs more than parsing.
        end = len(values)
        while end and values[end - 1] is None:
            end -= 1
        yield rownum, [_cell_text(v) for v in values[:end]]


def _read_xlsx(path: Path, data: bytes) -> LedgerReport:
    if data.startswith(_OLE_MAGIC):
        raise LedgerFormatError(path, t("ledger.problem.old_xls"))
    _check_zip(path, data)
    wanted = normalize_header(ledger_spec().sheet_name)
    with warnings.catch_warnings():
        # openpyxl warns about unsupported extensions; irrelevant for reading values.
        warnings.simplefilter("ignore")
        try:
            workbook = openpyxl.load_workbook(
                io.BytesIO(data), read_only=True, data_only=True, keep_links=False
            )
        except Exception as exc:  # openpyxl raises many types on hostile input
            raise LedgerFormatError(path, _not_xlsx(exc)) from exc
        try:
            try:
                sheets = list(workbook.worksheets)
            except Exception as exc:  # pragma: no cover - defensive, lazily parsed parts
                raise LedgerFormatError(path, _not_xlsx(exc)) from exc
            if not sheets:
                raise LedgerFormatError(path, t("ledger.problem.no_sheet"))
            sheet = next((s for s in sheets if normalize_header(s.title) == wanted), sheets[0])
            report = _parse_table(path, "xlsx", _xlsx_records(path, sheet))
            report.sheet = sheet.title
            return report
        finally:
            workbook.close()


# ---------------------------------------------------------------------------
# Reading


def read_ledger_report(
    path: Path, *, fmt: str | None = None, encoding: str | None = None
) -> LedgerReport:
    """Read a ledger and return rows, row errors and what was detected about the file."""
    path = Path(path)
    kind = _check_fmt(fmt) if fmt is not None else detect_format(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problem = t(
                "ledger.problem.file_too_big",
                size=_size_text(size),
                limit=_size_text(MAX_FILE_BYTES),
            )
            raise LedgerFormatError(path, problem)
        with path.open("rb") as fh:
            # Read one byte past the limit: the file may grow between stat() and read().
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        detail = exc.strerror or type(exc).__name__
        raise LedgerFormatError(path, t("ledger.problem.unreadable", detail=detail)) from exc
    if len(data) > MAX_FILE_BYTES:
        problem = t(
            "ledger.problem.file_too_big",
            size=_size_text(len(data)),
            limit=_size_text(MAX_FILE_BYTES),
        )
        raise LedgerFormatError(path, problem)
    if not data:
        raise LedgerFormatError(path, t("ledger.problem.empty_file"))
    if kind == "xlsx":
        return _read_xlsx(path, data)
    return _read_csv(path, data, encoding)


def read_ledger(
    path: Path, *, fmt: str | None = None, encoding: str | None = None
) -> tuple[list[LedgerRow], list[RowError]]:
    """Read a CSV/XLSX ledger: every valid row and every error of every bad row."""
    report = read_ledger_report(path, fmt=fmt, encoding=encoding)
    return report.rows, report.errors


# ---------------------------------------------------------------------------
# Writing


def _row_values(row: LedgerRow) -> list[str | int | None]:
    out: list[str | int | None] = []
    for col in ledger_spec().columns:
        value = getattr(row, col.key)
        if col.key == "asset_type":
            out.append(asset_type_label(value))
        elif col.key == "addresses":
            out.append(_neutralize(", ".join(value)) if value else None)
        elif col.key in _INT_FIELDS:
            out.append(int(value))
        elif value is None or value == "":
            out.append(None)
        else:
            out.append(_neutralize(str(value)))
    return out


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    # A half-written export must never replace a good file.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_csv(path: Path, header: list[str], rows: Iterable[Sequence[str | int | None]]) -> None:
    def write(target: Path) -> None:
        # BOM so that Excel opens the Chinese text correctly; CRLF as Excel writes it.
        with target.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(header)
            for values in rows:
                writer.writerow(["" if v is None else v for v in values])

    _atomic_write(path, write)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fill_sheet(sheet: Any, header: list[str], rows: Iterable[Sequence[str | int | None]]) -> int:
    sheet.title = ledger_spec().sheet_name
    sheet.append(header)
    widths = [_display_width(h) for h in header]
    count = 0
    for values in rows:
        # openpyxl refuses control characters that XML 1.0 cannot carry.
        cleaned = [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]
        sheet.append(cleaned)
        count += 1
        if count <= 1000:
            for i, v in enumerate(cleaned):
                if v is not None:
                    longest = max(_display_width(line) for line in str(v).splitlines() or [""])
                    widths[i] = max(widths[i], longest)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center")
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 50)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{count + 1}"
    return count


def _save_workbook(path: Path, workbook: openpyxl.Workbook) -> None:
    _atomic_write(path, workbook.save)


def write_ledger(path: Path, rows: Iterable[LedgerRow], *, fmt: str | None = None) -> None:
    """Write ledger rows as CSV (UTF-8 with BOM, CRLF) or XLSX (one formatted ledger sheet)."""
    path = Path(path)
    kind = _write_format(path, fmt)
    header = [c.header for c in ledger_spec().columns]
    values = (_row_values(r) for r in rows)
    if kind == "csv":
        _write_csv(path, header, values)
        return
    workbook = openpyxl.Workbook()
    _fill_sheet(workbook.active, header, values)
    _save_workbook(path, workbook)


def _template_rows() -> list[LedgerRow]:
    parser = _RowParser()
    rows: list[LedgerRow] = []
    for number, example in enumerate(ledger_spec().template.examples, start=2):
        row, errors = parser.parse(number, {k: str(v) for k, v in example.items()})
        if row is None:  # pragma: no cover - guarded by the template round-trip test
            raise ValueError(f"invalid template example: {[e.message() for e in errors]}")
        rows.append(row)
    return rows


def _allowed_text(col: ColumnSpec) -> str:
    spec = ledger_spec()
    separator = spec.template.list_separator
    return col.allowed.format(
        asset_types=separator.join(asset_type_label(k) for k in ASSET_TYPE_LABELS),
        levels=separator.join(spec.levels),
    )


def write_template(path: Path, *, fmt: str | None = None) -> None:
    """Write an empty ledger template with two example rows (XLSX adds instructions)."""
    path = Path(path)
    kind = _write_format(path, fmt)
    spec = ledger_spec()
    header = [c.header + (spec.required_marker if c.required else "") for c in spec.columns]
    examples = [_row_values(r) for r in _template_rows()]
    if kind == "csv":
        _write_csv(path, header, examples)
        return

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    _fill_sheet(sheet, header, examples)
    red_bold = Font(bold=True, color="C00000")
    for cell, col in zip(sheet[1], spec.columns, strict=True):
        if col.required:
            cell.font = red_bold
    last = TEMPLATE_VALIDATION_ROWS + 1
    keys = [c.key for c in spec.columns]

    def column_range(key: str) -> str:
        letter = get_column_letter(keys.index(key) + 1)
        return f"{letter}2:{letter}{last}"

    labels = ",".join(asset_type_label(k) for k in ASSET_TYPE_LABELS)
    type_dv = DataValidation(
        type="list",
        formula1=f'"{labels}"',
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle=t("ledger.template.type_error_title"),
        error=t("ledger.template.type_error"),
        promptTitle=t("ledger.template.type_prompt_title"),
        prompt=t("ledger.template.type_prompt"),
    )
    type_dv.add(column_range("asset_type"))
    sheet.add_data_validation(type_dv)
    level_dv = DataValidation(
        type="list",
        formula1='"1,2,3,4,5"',
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle=t("ledger.template.level_error_title"),
        error=t("ledger.template.level_error"),
        promptTitle=t("ledger.template.level_prompt_title"),
        prompt=t("ledger.template.level_prompt"),
    )
    for key in _INT_FIELDS:
        level_dv.add(column_range(key))
    sheet.add_data_validation(level_dv)

    info = workbook.create_sheet(spec.template.instructions_sheet)
    info.append(list(spec.template.instructions_headers))
    for col in spec.columns:
        if col.required:
            required = spec.template.required_yes
        elif col.key in spec.require_one_of:
            required = spec.template.required_one_of
        else:
            required = spec.template.required_no
        info.append([col.header, required, col.description, _allowed_text(col)])
    info.append([])
    for note in spec.template.notes:
        info.append([note])
    for cell in info[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (16, 10, 36, 70), strict=True):
        info.column_dimensions[letter].width = width
    for row in info.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    info.freeze_panes = "A2"
    _save_workbook(path, workbook)

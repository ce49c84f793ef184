"""Enrichment feeds: CISA KEV (JSON and CSV), FIRST EPSS (CSV) and the CNVD/CNNVD mapping."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.vulndb.jsonstream import JsonStream
from shaobing.vulndb.records import CVE_ID_RE, parse_date

#: Longest CSV line accepted (organisation-defined; KEV's longest rows are a few KB).
MAX_LINE_BYTES = 1 << 20
#: The mapping file is read whole to detect its encoding (UTF-8 or GBK); a national
#: mapping of every CVE is a few MB, so 256 MiB is an organisation-defined ceiling.
MAX_MAPPING_BYTES = 256 << 20
# CNVD ids: CNVD-2024-12345; CNNVD ids: CNNVD-202401-1234 (year+month, then a sequence).
_CNVD_RE = re.compile(r"CNVD-\d{4}-\d{3,}")
_CNNVD_RE = re.compile(r"CNNVD-\d{6}-\d{2,}")
_ID_SPLIT_RE = re.compile(r"[\s;,|、，；]+")
_EPSS_DATE_RE = re.compile(r"score_date:(\d{4}-\d{2}-\d{2})")
_FILE_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")


class LineSource(Protocol):
    """What the CSV readers need from an opened feed (see sources.open_feed)."""

    def readline(self, limit: int = -1) -> bytes:
        """One line of at most ``limit`` bytes."""
        ...

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes."""
        ...


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One Known Exploited Vulnerabilities catalogue entry."""

    cve_id: str
    date_added: date | None
    due_date: date | None
    ransomware: bool | None


@dataclass(frozen=True, slots=True)
class EpssEntry:
    """One EPSS score (probability of exploitation in the next 30 days) and percentile."""

    cve_id: str
    score: float
    percentile: float
    day: date


@dataclass(frozen=True, slots=True)
class MappingEntry:
    """CNVD and CNNVD identifiers of one CVE."""

    cve_id: str
    cnvd: tuple[str, ...]
    cnnvd: tuple[str, ...]


def _bad(name: str, line: int, key: str, **params: object) -> ValidationError:
    return ValidationError(t(f"vulndb.{key}", file=name, line=line, **params))


def _cve(name: str, line: int, value: object) -> str:
    cve_id = str(value or "").strip().upper()
    if not CVE_ID_RE.fullmatch(cve_id):
        raise _bad(name, line, "bad_cve_id", value=str(value)[:60])
    return cve_id


def _ransomware(value: object) -> bool | None:
    # CISA writes "Known" or "Unknown" (knownRansomwareCampaignUse).
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower() == "known"


# --------------------------------------------------------------------------- KEV
def read_kev_json(stream: JsonStream) -> Iterator[KevEntry]:
    """KEV JSON: ``{"catalogVersion":..., "vulnerabilities":[{"cveID":...}, ...]}``."""
    meta: dict[str, Any] = {}
    for item in stream.stream_array("vulnerabilities", meta):
        if not isinstance(item, dict) or not CVE_ID_RE.fullmatch(str(item.get("cveID", ""))):
            raise stream.item_error("bad_item_kev")
        yield KevEntry(
            cve_id=str(item["cveID"]),
            date_added=parse_date(item.get("dateAdded")),
            due_date=parse_date(item.get("dueDate")),
            ransomware=_ransomware(item.get("knownRansomwareCampaignUse")),
        )


def _lines(source: LineSource, name: str) -> Iterator[str]:
    number = 0
    while True:
        raw = source.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise _bad(name, number, "line_too_long", limit=MAX_LINE_BYTES)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad(name, number, "csv_not_utf8") from exc
        yield line.removeprefix("\ufeff") if number == 1 else line


def _csv(lines: Iterator[str], name: str) -> Iterator[tuple[int, list[str]]]:
    # strict: an unterminated quote is an error, not a field that swallows the file.
    reader = csv.reader(lines, strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _bad(name, reader.line_num, "bad_csv", error=exc) from exc
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _columns(name: str, line: int, header: list[str], wanted: dict[str, set[str]]) -> list[int]:
    normalised = [cell.strip().lower() for cell in header]
    positions = []
    for column, aliases in wanted.items():
        found = next((i for i, cell in enumerate(normalised) if cell in aliases), None)
        if found is None:
            raise _bad(name, line, "missing_column", column=column)
        positions.append(found)
    return positions


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def read_kev_csv(source: LineSource, name: str) -> Iterator[KevEntry]:
    """KEV CSV (header ``cveID,vendorProject,...,dateAdded,...,dueDate,...``)."""
    rows = _csv(_lines(source, name), name)
    first = next(rows, None)
    if first is None:
        return
    line, header = first
    wanted = {
        "cveID": {"cveid"},
        "dateAdded": {"dateadded"},
        "dueDate": {"duedate"},
        "knownRansomwareCampaignUse": {"knownransomwarecampaignuse"},
    }
    try:
        cve_at, added_at, due_at, ransom_at = _columns(name, line, header, wanted)
    except ValidationError:
        ransom_at = -1
        cve_at, added_at, due_at = _columns(name, line, header, dict(list(wanted.items())[:3]))
    for line, row in rows:
        yield KevEntry(
            cve_id=_cve(name, line, _cell(row, cve_at)),
            date_added=parse_date(_cell(row, added_at)),
            due_date=parse_date(_cell(row, due_at)),
            ransomware=_ransomware(_cell(row, ransom_at)) if ransom_at >= 0 else None,
        )


# --------------------------------------------------------------------------- EPSS
def _probability(name: str, line: int, value: str, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    # EPSS scores and percentiles are probabilities in [0, 1] (FIRST EPSS data model).
    if not 0.0 <= number <= 1.0:
        raise _bad(name, line, "bad_number", column=column, value=value[:40])
    return number


def read_epss(source: LineSource, name: str) -> Iterator[EpssEntry]:
    """FIRST EPSS CSV: ``#model_version:...,score_date:...`` then ``cve,epss,percentile``."""
    lines = _lines(source, name)
    first = next(lines, None)
    if first is None:
        return
    day: date | None = None
    pending: list[str] = []
    if first.startswith("#"):
        found = _EPSS_DATE_RE.search(first)
        day = parse_date(found.group(1)) if found else None
    else:
        pending.append(first)
    if day is None:
        found = _FILE_DATE_RE.search(name.rsplit("/", 1)[-1])
        day = parse_date(found.group(1)) if found else None
    if day is None:
        raise _bad(name, 1, "epss_no_date")

    def chained() -> Iterator[str]:
        yield from pending
        yield from lines

    rows = _csv(chained(), name)
    header = next(rows, None)
    if header is None:
        return
    offset = 0 if pending else 1  # the comment line is not seen by the CSV reader
    wanted = {"cve": {"cve"}, "epss": {"epss"}, "percentile": {"percentile"}}
    cve_at, epss_at, pct_at = _columns(name, header[0] + offset, header[1], wanted)
    for line, row in rows:
        number = line + offset
        yield EpssEntry(
            cve_id=_cve(name, number, _cell(row, cve_at)),
            score=_probability(name, number, _cell(row, epss_at), "epss"),
            percentile=_probability(name, number, _cell(row, pct_at), "percentile"),
            day=day,
        )


# --------------------------------------------------------------------------- CNVD/CNNVD
def _ids(name: str, line: int, value: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for piece in _ID_SPLIT_RE.split(value.upper()):
        if not piece:
            continue
        if not pattern.fullmatch(piece):
            raise _bad(name, line, "bad_mapping_id", value=piece[:60])
        out[piece] = None
    return tuple(out)


def read_mapping(source: LineSource, name: str) -> Iterator[MappingEntry]:
    """The CNVD/CNNVD mapping CSV ``cve,cnvd,cnnvd`` (UTF-8 with or without BOM, or GBK)."""
    data = source.read(MAX_MAPPING_BYTES + 1)
    if len(data) > MAX_MAPPING_BYTES:
        raise ValidationError(t("vulndb.file_too_large", file=name, limit=MAX_MAPPING_BYTES))
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # GB18030 is a superset of GBK, so GBK files decode the same.
            content = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ValidationError(t("vulndb.mapping_encoding", file=name)) from exc
    rows = _csv(iter(io.StringIO(content, newline="")), name)
    header = next(rows, None)
    if header is None:
        return
    normalised = [cell.strip().lower() for cell in header[1]]
    cve_at = _columns(name, header[0], header[1], {"cve": {"cve", "cve编号"}})[0]
    cnvd_at = next((i for i, c in enumerate(normalised) if c in {"cnvd", "cnvd编号"}), -1)
    cnnvd_at = next((i for i, c in enumerate(normalised) if c in {"cnnvd", "cnnvd编号"}), -1)
    if cnvd_at < 0 and cnnvd_at < 0:
        raise _bad(name, header[0], "missing_column", column="cnvd/cnnvd")
    for line, row in rows:
        yield MappingEntry(
            cve_id=_cve(name, line, _cell(row, cve_at)),
            cnvd=_ids(name, line, _cell(row, cnvd_at), _CNVD_RE) if cnvd_at >= 0 else (),
            cnnvd=_ids(name, line, _cell(row, cnnvd_at), _CNNVD_RE) if cnnvd_at >= 0 else (),
        )

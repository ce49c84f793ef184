"""sqlmap's CSV results file (``--results-file``, or the ``results-*.csv`` of ``--batch``).

The file has the header ``Target URL,Place,Parameter,Technique(s),Note(s)`` and one line per
injectable parameter; techniques are sqlmap's one-letter codes (B boolean-based blind,
E error-based, Q inline queries, S stacked queries, T time-based blind, U UNION query).
Every distinct target URL + place + parameter is one high-severity SQL injection finding
(``sqli``, CWE-89); lines repeated by several runs into the same file are merged. sqlmap
notes "false positive or unexploitable" on injections it could not confirm — those are
kept with low confidence. A header-only file is a clean scan. Coverage is the tested URLs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from shaobing.core.i18n import t
from shaobing.findings.importers._json import (
    fail,
    guarded,
    read_text,
    sniff_text,
    truncate,
    unique,
)
from shaobing.findings.importers.base import CoverageInput, FindingInput, Importer, Record
from shaobing.findings.severity import Severity

TOOL = "sqlmap"
CHECK_ID = "sqli"
HEADER = ("Target URL", "Place", "Parameter", "Technique(s)", "Note(s)")
_CWE_SQL_INJECTION = 89
# sqlmap's PAYLOAD.TECHNIQUE names by the letter its results file uses.
TECHNIQUES = {
    "B": "boolean-based blind",
    "E": "error-based",
    "Q": "inline query",
    "S": "stacked queries",
    "T": "time-based blind",
    "U": "UNION query",
}
_UNCONFIRMED_NOTE = "false positive or unexploitable"
_MAX_BYTES = 64 * 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class _Injection:
    url: str
    place: str
    parameter: str
    techniques: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _header_matches(cells: list[str]) -> bool:
    return [cell.strip().lower() for cell in cells[: len(HEADER)]] == [
        name.lower() for name in HEADER
    ]


class SqlmapImporter(Importer):
    """sqlmap CSV results files (confirmed SQL injection points)."""

    name: ClassVar[str] = "sqlmap"
    label: ClassVar[str] = "sqlmap results CSV"
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """The first line is sqlmap's results header."""
        first = sniff_text(head).split("\n", 1)[0].strip()
        return _header_matches(first.split(","))

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream one finding per injectable parameter, then the coverage."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        text = read_text(path, _MAX_BYTES)
        reader = csv.reader(io.StringIO(text, newline=""))
        injections: dict[tuple[str, str, str], _Injection] = {}
        try:
            header = next(reader, [])
            if not _header_matches(header):
                raise fail(path, "not_sqlmap", expected=",".join(HEADER))
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < len(HEADER) - 1:  # the Note(s) column may be cut off
                    raise fail(
                        path,
                        "csv_columns",
                        line=reader.line_num,
                        found=len(row),
                        expected=len(HEADER) - 1,
                    )
                url, place, parameter, techniques = (cell.strip() for cell in row[:4])
                if not url or not parameter:
                    missing = HEADER[0] if not url else HEADER[2]
                    raise fail(path, "missing_field", where=f"CSV {reader.line_num}", field=missing)
                key = (url, place, parameter)
                injection = injections.setdefault(key, _Injection(url, place, parameter))
                injection.techniques = unique([*injection.techniques, *techniques.upper()])
                note = row[4].strip() if len(row) > 4 else ""
                injection.notes = unique([*injection.notes, *(n for n in note.split(";") if n)])
        except csv.Error as exc:
            raise fail(path, "bad_csv", line=reader.line_num, error=exc) from exc
        for injection in injections.values():
            yield _finding(injection)
        urls = unique(injection.url for injection in injections.values())
        if urls:
            yield CoverageInput(urls=urls)


def _finding(injection: _Injection) -> FindingInput:
    names = [TECHNIQUES.get(letter, letter) for letter in sorted(injection.techniques)]
    host, port = _host_port(injection.url)
    unconfirmed = any(_UNCONFIRMED_NOTE in note.lower() for note in injection.notes)
    evidence_lines = [
        f"Place: {injection.place}",
        f"Parameter: {injection.parameter}",
        "Technique(s): "
        + ", ".join(
            f"{letter} ({TECHNIQUES[letter]})" if letter in TECHNIQUES else letter
            for letter in sorted(injection.techniques)
        ),
    ]
    if injection.notes:
        evidence_lines.append("Note(s): " + "; ".join(injection.notes))
    return FindingInput(
        source_tool=TOOL,
        check_id=CHECK_ID,
        title=t("importers_code.sqlmap.title", techniques=", ".join(names) or "?"),
        severity=Severity.HIGH,
        description=t(
            "importers_code.sqlmap.description",
            parameter=injection.parameter,
            place=injection.place,
            url=injection.url,
        ),
        remediation=t("importers_code.sqlmap.remediation"),
        host=host,
        port=port,
        url=injection.url,
        parameter=injection.parameter,
        cwe_ids=[_CWE_SQL_INJECTION],
        evidence=truncate("\n".join(evidence_lines)),
        confidence="low" if unconfirmed else "high",
        extra={
            "place": injection.place,
            "techniques": names,
            **({"notes": injection.notes} if injection.notes else {}),
        },
    )


def _host_port(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port
    except ValueError:
        return None, None
    return parts.hostname, port or _DEFAULT_PORTS.get(parts.scheme.lower())

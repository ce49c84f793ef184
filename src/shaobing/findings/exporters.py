"""Export findings as CSV (UTF-8 with BOM), XLSX, JSON and SARIF 2.1.0 (D5)."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from shaobing import __version__
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.models import Finding
from shaobing.findings.service import finding_as_dict
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import status_label

EXPORT_FORMATS = ("csv", "xlsx", "json", "sarif")

# Columns of the tabular exports: (key, value getter).
_COLUMNS: list[tuple[str, Callable[[Finding], object]]] = [
    ("id", lambda f: f.id),
    ("severity", lambda f: Severity(f.severity).label),
    ("title", lambda f: f.title),
    ("status", lambda f: status_label(f.status)),
    ("host", lambda f: f.host),
    ("port", lambda f: f.port),
    ("protocol", lambda f: f.protocol),
    ("url", lambda f: f.url),
    ("parameter", lambda f: f.parameter),
    ("file", lambda f: f"{f.file_path}:{f.line}" if f.file_path and f.line else f.file_path),
    ("cvss3", lambda f: f.cvss_v3_score),
    ("cvss3_vector", lambda f: f.cvss_v3_vector),
    ("cve", lambda f: ", ".join(f.cve_ids)),
    ("cwe", lambda f: ", ".join(f"CWE-{c}" for c in f.cwe_ids)),
    ("cnvd", lambda f: ", ".join(f.cnvd_ids)),
    ("source", lambda f: f.source_tool),
    ("check", lambda f: f.check_id),
    ("description", lambda f: f.description),
    ("remediation", lambda f: f.remediation),
    ("first_seen", lambda f: f.first_seen.strftime("%Y-%m-%d %H:%M")),
    ("last_seen", lambda f: f.last_seen.strftime("%Y-%m-%d %H:%M")),
    ("times_seen", lambda f: f.times_seen),
    ("work_order", lambda f: f"WO-{f.work_order_id}" if f.work_order_id else None),
]

# Severity fills for the XLSX export (organisation-defined palette).
_FILLS = {
    "critical": "C00000",
    "high": "FF6600",
    "medium": "FFC000",
    "low": "4F81BD",
    "info": "A6A6A6",
}
_EXCEL_CELL_LIMIT = 32_000


def _cell(value: object) -> Any:
    # Neutralise spreadsheet formula injection from scanner-supplied text.
    if isinstance(value, str):
        if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            value = "'" + value
        return value[:_EXCEL_CELL_LIMIT]
    return value


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_findings(path: Path, findings: Iterable[Finding], fmt: str | None = None) -> int:
    """Write findings to ``path`` in the given (or suffix-implied) format; returns the count."""
    chosen = (fmt or path.suffix.lstrip(".")).lower()
    if chosen not in EXPORT_FORMATS:
        raise ValidationError(
            t("findings.export_format", format=chosen or path.name, known=", ".join(EXPORT_FORMATS))
        )
    if not path.parent.is_dir():
        raise ValidationError(t("findings.export_dir", path=path.parent))
    count = 0

    def counted() -> Iterable[Finding]:
        nonlocal count
        for finding in findings:
            count += 1
            yield finding

    writers: dict[str, Callable[[Path], None]] = {
        "csv": lambda p: _write_csv(p, counted()),
        "xlsx": lambda p: _write_xlsx(p, counted()),
        "json": lambda p: _write_json(p, counted()),
        "sarif": lambda p: _write_sarif(p, counted()),
    }
    _atomic(path, writers[chosen])
    return count


def _headers() -> list[str]:
    return [t(f"findings.export_col.{key}") for key, _ in _COLUMNS]


def _write_csv(path: Path, findings: Iterable[Finding]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(_headers())
        for finding in findings:
            writer.writerow(
                ["" if (v := get(finding)) is None else _cell(v) for _, get in _COLUMNS]
            )


def _write_xlsx(path: Path, findings: Iterable[Finding]) -> None:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(t("findings.export_sheet"))
    headers = _headers()
    widths = [max(8, min(60, len(h) * 2 + 2)) for h in headers]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    rows = 0
    fills = {k: PatternFill("solid", start_color=v, end_color=v) for k, v in _FILLS.items()}
    white = Font(color="FFFFFF", bold=True)
    for finding in findings:
        cells: list[Any] = []
        for key, get in _COLUMNS:
            cell = WriteOnlyCell(sheet, value=_cell(get(finding)))
            if key == "severity":
                cell.fill = fills[finding.severity]
                cell.font = white
            cells.append(cell)
        sheet.append(cells)
        rows += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{rows + 1}"
    workbook.save(path)


def _write_json(path: Path, findings: Iterable[Finding]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        first = True
        for finding in findings:
            fh.write("" if first else ",\n")
            fh.write(json.dumps(finding_as_dict(finding), ensure_ascii=False))
            first = False
        fh.write("\n]\n")


_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "none",
}
# security-severity property (GitHub code scanning convention) per level, when no CVSS.
_SARIF_SECURITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}


def _write_sarif(path: Path, findings: Iterable[Finding]) -> None:
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for finding in findings:
        rule_id = f"{finding.source_tool}/{finding.check_id}"
        if rule_id not in rules:
            tags = ["security", *(f"external/cwe/cwe-{c}" for c in finding.cwe_ids)]
            rules[rule_id] = {
                "id": rule_id,
                "name": finding.check_id,
                "shortDescription": {"text": finding.title[:1000]},
                "fullDescription": {"text": (finding.description or finding.title)[:10000]},
                "help": {"text": finding.remediation or ""},
                "properties": {
                    "tags": tags,
                    "security-severity": str(
                        finding.cvss_v3_score
                        if finding.cvss_v3_score is not None
                        else _SARIF_SECURITY[finding.severity]
                    ),
                },
            }
        results.append(_sarif_result(finding, rule_id, list(rules).index(rule_id)))
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "shaobing",
                        "version": __version__,
                        "informationUri": "https://example.invalid/shaobing",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    with path.open("w", encoding="utf-8") as fh:
        json.dump(document, fh, ensure_ascii=False, indent=1)


def _sarif_result(finding: Finding, rule_id: str, index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": finding.title},
        "partialFingerprints": {"shaobing/v1": finding.fingerprint},
        "properties": {
            "status": finding.status,
            "severity": finding.severity,
            "cve": finding.cve_ids,
            "first_seen": finding.first_seen.isoformat(),
            "last_seen": finding.last_seen.isoformat(),
        },
    }
    if finding.file_path:
        location: dict[str, Any] = {"artifactLocation": {"uri": finding.file_path}}
        if finding.line:
            location["region"] = {"startLine": finding.line}
        result["locations"] = [{"physicalLocation": location}]
    elif finding.url or finding.host:
        where = finding.url or (f"{finding.host}:{finding.port}" if finding.port else finding.host)
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": where}}}]
    if finding.status in {"false_positive", "risk_accepted", "ignored_forever"}:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": status_label(finding.status),
            }
        ]
    return result

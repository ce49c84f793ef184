"""Bandit's native JSON report (``bandit -f json``).

One finding per ``results[]`` entry: ``test_id`` (B105, ...) is the check, ``issue_text``
the title, severity and confidence as Bandit rated them, the flagged ``code`` as
evidence, ``issue_cwe`` and ``more_info`` as CWE and reference. Bandit has no per-finding
id, so none is set. Coverage is every file listed under ``metrics`` (Bandit lists each
file it scanned there, with or without issues), minus files it failed to parse.
Bandit's SARIF output goes through the SARIF importer instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from shaobing.findings.importers._json import (
    as_object,
    cwe_ids,
    fail,
    first_line,
    get_int,
    get_list,
    get_obj,
    get_str,
    guarded,
    load_json,
    objects,
    sniff_text,
    truncate,
    unique,
)
from shaobing.findings.importers.base import CoverageInput, FindingInput, Importer, Record
from shaobing.findings.severity import Severity, parse_severity

TOOL = "bandit"
# Keys only Bandit writes; "results" itself sorts after the (long) metrics block.
_MARKERS = ('"_totals"', '"issue_severity"', '"issue_confidence"', '"SEVERITY.HIGH"')
_GENERATED_RE = re.compile(r'"generated_at"\s*:')


class BanditImporter(Importer):
    """Bandit JSON reports (Python static analysis)."""

    name: ClassVar[str] = "bandit"
    label: ClassVar[str] = "Bandit JSON"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """A JSON object with ``generated_at`` and Bandit's metric or issue keys."""
        text = sniff_text(head)
        return (
            text.startswith("{")
            and bool(_GENERATED_RE.search(text))
            and any(marker in text for marker in _MARKERS)
        )

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream one finding per result, then the coverage."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        document = as_object(path, load_json(path), "$")
        if "results" not in document:
            raise fail(path, "not_bandit")
        files: list[str] = []
        for index, result in objects(path, document["results"], "results"):
            finding = _finding(result)
            if not finding.check_id:
                raise fail(path, "missing_field", where=f"results[{index}]", field="test_id")
            if finding.file_path:
                files.append(finding.file_path)
            yield finding
        failed = {get_str(error, "filename") for error in get_list(document, "errors")}
        files += [name for name in get_obj(document, "metrics") if name != "_totals"]
        covered = [name for name in unique(files) if name not in failed]
        if covered:
            yield CoverageInput(files=covered)


def _finding(result: dict[str, Any]) -> FindingInput:
    test_id = get_str(result, "test_id") or get_str(result, "test_name") or ""
    test_name = get_str(result, "test_name")
    issue_text = get_str(result, "issue_text")
    cwe = get_obj(result, "issue_cwe")
    confidence = get_str(result, "issue_confidence")
    link = get_str(cwe, "link")
    more_info = get_str(result, "more_info")
    extra = {
        key: value
        for key, value in {
            "test_name": test_name,
            "column": get_int(result, "col_offset"),
            "end_column": get_int(result, "end_col_offset"),
            "line_range": [n for n in get_list(result, "line_range") if isinstance(n, int)] or None,
        }.items()
        if value is not None
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=test_id,
        title=first_line(issue_text or test_name or test_id),
        severity=parse_severity(get_str(result, "issue_severity"), Severity.INFO),
        description=truncate(issue_text),
        file_path=get_str(result, "filename"),
        line=get_int(result, "line_number", minimum=1),
        cwe_ids=cwe_ids([get_int(cwe, "id", minimum=1)]),
        references=unique(url for url in (more_info, link) if url),
        evidence=truncate(get_str(result, "code")),
        confidence=confidence.strip().lower() if confidence else None,
        extra=extra,
    )

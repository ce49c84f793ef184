"""Semgrep's native JSON output (``semgrep --json``) and Supply Chain vulnerability exports.

Scan output — one finding per ``results[]`` entry: ``check_id`` is the check, the first
line of ``extra.message`` the title, ``extra.severity`` (ERROR/WARNING/INFO, or the newer
CRITICAL/HIGH/MEDIUM/LOW) the severity, ``extra.metadata`` gives CWE, OWASP, references,
confidence, likelihood and impact, ``extra.lines`` the evidence. ``extra.fingerprint``
becomes ``tool_unique_id`` as ``matchBasedId/v1:<value>`` — the form Semgrep's SARIF
output uses — unless it is the "requires login" placeholder. Results ignored with
``nosemgrep`` are imported as false positives. Coverage: ``paths.scanned``.

Supply Chain export (the ``{"vulns": [...]}`` pages of Semgrep's deployment API) — one
finding per vulnerable dependency match with its advisory's CVEs, CWEs and references;
matches whose triage status is closed/fixed are skipped.

Semgrep's SARIF output goes through the SARIF importer instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from shaobing.core.i18n import t
from shaobing.findings.importers._json import (
    as_object,
    cve_ids,
    cwe_ids,
    fail,
    first_line,
    get_bool,
    get_int,
    get_obj,
    get_str,
    guarded,
    load_json,
    objects,
    parse_json,
    sniff_text,
    str_list,
    truncate,
    unique,
)
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    Importer,
    ImportFormatError,
    Record,
)
from shaobing.findings.severity import Severity, parse_severity

TOOL = "semgrep"
_PLACEHOLDER = "requires login"
_CHECK_ID_RE = re.compile(r'"check_id"\s*:')
_EXTRA_RE = re.compile(r'"extra"\s*:')
_VULNS_RE = re.compile(r'"vulns"\s*:')
# Top-level keys of ``semgrep --json`` (an empty scan has nothing else to recognise it by).
_TOP_KEYS = {
    "results",
    "errors",
    "version",
    "paths",
    "skipped_rules",
    "interfile_languages_used",
    "time",
    "explanations",
    "engine_requested",
    "rules_by_engine",
}
_SEVERITIES = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "info": Severity.INFO,
    "inventory": Severity.INFO,
    "experiment": Severity.INFO,
}
_CLOSED_TRIAGE = {"closed", "fixed", "removed"}


def _empty_scan(text: str) -> bool:
    """``{"results": [], "errors": [], ...}`` with nothing but Semgrep's top-level keys."""
    if len(text.encode("utf-8", errors="ignore")) >= SNIFF_BYTES - 4:
        return False
    try:
        document = parse_json(Path("-"), text)
    except ImportFormatError:
        return False
    return (
        isinstance(document, dict)
        and {"results", "errors"} <= document.keys() <= _TOP_KEYS
        and document.get("results") == []
        and isinstance(document.get("errors"), list)
    )


class SemgrepImporter(Importer):
    """Semgrep JSON scan output and Semgrep Supply Chain vulnerability exports."""

    name: ClassVar[str] = "semgrep"
    label: ClassVar[str] = "Semgrep JSON"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Results with ``check_id`` and ``extra``, a Supply Chain page, or an empty scan."""
        text = sniff_text(head)
        if not text.startswith("{"):
            return False
        if _CHECK_ID_RE.search(text) and _EXTRA_RE.search(text) and '"results"' in text:
            return True
        if _VULNS_RE.search(text) and '"advisory"' in text and '"groupKey"' in text:
            return True
        return '"results"' in text and _empty_scan(text)

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream the findings, then the coverage."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        document = as_object(path, load_json(path), "$")
        if "results" in document:
            yield from _scan(path, document)
        elif "vulns" in document:
            yield from _supply_chain(path, document)
        else:
            raise fail(path, "not_semgrep")


# --------------------------------------------------------------------------- scan output
def _scan(path: Path, document: dict[str, Any]) -> Iterator[Record]:
    files: list[str] = []
    for index, result in objects(path, document["results"], "results"):
        check_id = get_str(result, "check_id")
        if check_id is None:
            raise fail(path, "missing_field", where=f"results[{index}]", field="check_id")
        finding = _result(check_id, result)
        if finding.file_path:
            files.append(finding.file_path)
        yield finding
    files += str_list(get_obj(document, "paths").get("scanned"))
    if files:
        yield CoverageInput(files=unique(files))


def _severity(word: str | None) -> Severity:
    if word is None:
        return Severity.INFO
    return _SEVERITIES.get(word.strip().lower()) or parse_severity(word, Severity.INFO)


def _result(check_id: str, result: dict[str, Any]) -> FindingInput:
    extra = get_obj(result, "extra")
    metadata = get_obj(extra, "metadata")
    message = get_str(extra, "message")
    lines = get_str(extra, "lines")
    fingerprint = get_str(extra, "fingerprint")
    confidence = get_str(metadata, "confidence")
    references = str_list(metadata.get("references"))
    references += [
        url for url in (get_str(metadata, "source"), get_str(metadata, "shortlink")) if url
    ]
    details = {
        key: value
        for key, value in {
            "owasp": str_list(metadata.get("owasp")) or None,
            "likelihood": get_str(metadata, "likelihood"),
            "impact": get_str(metadata, "impact"),
            "category": get_str(metadata, "category"),
            "subcategory": str_list(metadata.get("subcategory")) or None,
            "technology": str_list(metadata.get("technology")) or None,
            "column": get_int(get_obj(result, "start"), "col"),
            "end_line": get_int(get_obj(result, "end"), "line"),
            "engine_kind": get_str(extra, "engine_kind"),
            "validation_state": get_str(extra, "validation_state"),
            "fix": get_str(extra, "fix"),
        }.items()
        if value is not None
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=check_id,
        title=first_line(message) if message else check_id,
        severity=_severity(get_str(extra, "severity")),
        description=truncate(message),
        file_path=get_str(result, "path"),
        line=get_int(get_obj(result, "start"), "line", minimum=1),
        cve_ids=cve_ids(str_list(metadata.get("cve"))),
        cwe_ids=cwe_ids(str_list(metadata.get("cwe"))),
        references=unique(references),
        evidence=truncate(lines) if lines and lines.strip() != _PLACEHOLDER else None,
        tool_unique_id=(
            f"matchBasedId/v1:{fingerprint.strip()}"
            if fingerprint and fingerprint.strip() != _PLACEHOLDER
            else None
        ),
        confidence=confidence.strip().lower() if confidence else None,
        false_positive=get_bool(extra, "is_ignored") is True,
        extra=details,
    )


# --------------------------------------------------------------------------- supply chain
def _supply_chain(path: Path, document: dict[str, Any]) -> Iterator[Record]:
    for index, vuln in objects(path, document["vulns"], "vulns"):
        advisory = get_obj(vuln, "advisory")
        rule_id = get_str(advisory, "ruleId")
        if rule_id is None:
            raise fail(path, "missing_field", where=f"vulns[{index}].advisory", field="ruleId")
        triage = get_obj(vuln, "triage")
        status = (get_str(triage, "status") or "").strip().lower()
        if status in _CLOSED_TRIAGE:
            continue
        yield _vuln(rule_id, vuln, advisory, triage)


def _vuln(
    rule_id: str, vuln: dict[str, Any], advisory: dict[str, Any], triage: dict[str, Any]
) -> FindingInput:
    refs = get_obj(advisory, "references")
    location = get_obj(vuln, "dependencyFileLocation")
    dependency = get_obj(vuln, "matchedDependency")
    fixed = get_str(get_obj(vuln, "closestSafeDependency"), "versionSpecifier")
    repository = get_str(vuln, "repositoryName")
    file_path = get_str(location, "path")
    if repository and file_path:
        # An org-wide export spans repositories; the bare path would collide across them.
        file_path = f"{repository}/{file_path}"
    package = get_str(dependency, "name")
    version = get_str(dependency, "versionSpecifier")
    evidence = f"{package} {version}" if package and version else package
    dismiss = (get_str(triage, "dismissReason") or "").strip().upper()
    status = (get_str(triage, "status") or "").strip().lower()
    title = get_str(vuln, "title") or get_str(advisory, "title") or rule_id
    details = {
        key: value
        for key, value in {
            "package": package,
            "version": version,
            "fixed_version": fixed,
            "reachable_if": get_str(advisory, "reachableIf"),
            "ecosystem": get_str(advisory, "ecosystem"),
            "exposure": get_str(vuln, "exposureType"),
            "reachability": get_str(advisory, "reachability"),
            "transitivity": get_str(vuln, "transitivity"),
            "repository": repository,
            "triage_status": get_str(triage, "status"),
            "owasp": str_list(refs.get("owaspIds")) or None,
        }.items()
        if value is not None
    }
    return FindingInput(
        source_tool=TOOL,
        check_id=rule_id,
        title=first_line(title),
        severity=parse_severity(get_str(advisory, "severity"), Severity.INFO),
        description=truncate(get_str(advisory, "description")),
        remediation=(
            t("importers_code.semgrep.upgrade", package=package, version=fixed)
            if package and fixed
            else None
        ),
        file_path=file_path,
        line=get_int(location, "startLine", minimum=1),
        cve_ids=cve_ids(str_list(refs.get("cveIds"))),
        cwe_ids=cwe_ids(str_list(refs.get("cweIds"))),
        references=unique(str_list(refs.get("urls"))),
        evidence=evidence,
        tool_unique_id=get_str(vuln, "groupKey"),
        false_positive=status == "ignored" and dismiss == "FALSE_POSITIVE",
        risk_accepted=status == "ignored" and dismiss == "ACCEPTABLE_RISK",
        extra=details,
    )

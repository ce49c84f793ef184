"""Semgrep JSON importer: scan results, Supply Chain exports, sniffing and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.importers.sarif import SarifImporter
from shaobing.findings.importers.semgrep import SemgrepImporter
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

RESULT: dict[str, Any] = {
    "check_id": "python.flask.security.xss.direct-use-of-jinja2",
    "path": "app/views.py",
    "start": {"line": 42, "col": 5, "offset": 900},
    "end": {"line": 43, "col": 20, "offset": 950},
    "extra": {
        "message": "Detected direct use of jinja2.\nUse render_template instead.",
        "severity": "WARNING",
        "metadata": {
            "cwe": ["CWE-79: Improper Neutralization of Input During Web Page Generation"],
            "owasp": ["A03:2021 - Injection"],
            "references": ["https://flask.palletsprojects.com/"],
            "confidence": "MEDIUM",
            "likelihood": "LOW",
            "impact": "HIGH",
            "source": "https://semgrep.dev/r/python.flask.security.xss.direct-use-of-jinja2",
        },
        "lines": "    return jinja2.Template(body).render()",
        "fingerprint": "0123abcd_0",
        "is_ignored": False,
        "engine_kind": "OSS",
    },
}


def _write(tmp_path: Path, document: Any, name: str = "semgrep.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _records(path: Path) -> list[Record]:
    return list(SemgrepImporter().parse(path))


def _findings(path: Path) -> list[FindingInput]:
    return [r for r in _records(path) if isinstance(r, FindingInput)]


def _with_extra(**changes: Any) -> dict[str, Any]:
    return RESULT | {"extra": RESULT["extra"] | changes}


def test_result_fields(tmp_path: Path) -> None:
    document = {"results": [RESULT], "errors": [], "paths": {"scanned": ["app/views.py", "b.py"]}}
    finding, coverage = _records(_write(tmp_path, document))
    assert isinstance(finding, FindingInput)
    assert finding.source_tool == "semgrep"
    assert finding.check_id == RESULT["check_id"]
    assert finding.title == "Detected direct use of jinja2."
    assert finding.description == RESULT["extra"]["message"]
    assert finding.severity is Severity.MEDIUM
    assert (finding.file_path, finding.line) == ("app/views.py", 42)
    assert finding.cwe_ids == [79]
    assert finding.references == [
        "https://flask.palletsprojects.com/",
        "https://semgrep.dev/r/python.flask.security.xss.direct-use-of-jinja2",
    ]
    assert finding.confidence == "medium"
    assert finding.evidence == "    return jinja2.Template(body).render()"
    assert finding.tool_unique_id == "matchBasedId/v1:0123abcd_0"
    assert finding.extra["likelihood"] == "LOW"
    assert finding.extra["impact"] == "HIGH"
    assert finding.extra["owasp"] == ["A03:2021 - Injection"]
    assert isinstance(coverage, CoverageInput)
    assert coverage.files == ["app/views.py", "b.py"]


def test_same_unique_id_as_semgrep_sarif(tmp_path: Path) -> None:
    sarif = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "Semgrep OSS"}},
                "results": [
                    {
                        "ruleId": RESULT["check_id"],
                        "message": {"text": "m"},
                        "fingerprints": {"matchBasedId/v1": "0123abcd_0"},
                    }
                ],
            }
        ],
    }
    (from_sarif,) = list(SarifImporter().parse(_write(tmp_path, sarif, "s.sarif")))
    (from_json,) = _findings(_write(tmp_path, {"results": [RESULT], "errors": []}))
    assert isinstance(from_sarif, FindingInput)
    assert (from_sarif.source_tool, from_sarif.check_id, from_sarif.tool_unique_id) == (
        from_json.source_tool,
        from_json.check_id,
        from_json.tool_unique_id,
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("ERROR", Severity.HIGH),
        ("WARNING", Severity.MEDIUM),
        ("INFO", Severity.INFO),
        ("CRITICAL", Severity.CRITICAL),
        ("LOW", Severity.LOW),
        ("INVENTORY", Severity.INFO),
        (None, Severity.INFO),
    ],
)
def test_severity(tmp_path: Path, severity: str | None, expected: Severity) -> None:
    document = {"results": [_with_extra(severity=severity)], "errors": []}
    assert _findings(_write(tmp_path, document))[0].severity is expected


def test_login_placeholders_and_ignored_results(tmp_path: Path) -> None:
    result = _with_extra(fingerprint="requires login", lines="requires login", is_ignored=True)
    (finding,) = _findings(_write(tmp_path, {"results": [result], "errors": []}))
    assert finding.tool_unique_id is None
    assert finding.evidence is None
    assert finding.false_positive is True


def test_cwe_as_single_string_and_missing_message(tmp_path: Path) -> None:
    result = _with_extra(message=None, metadata={"cwe": "CWE-89: SQL Injection"})
    (finding,) = _findings(_write(tmp_path, {"results": [result], "errors": []}))
    assert finding.cwe_ids == [89]
    assert finding.title == RESULT["check_id"]


VULN: dict[str, Any] = {
    "title": "Prototype pollution in lodash",
    "advisory": {
        "ruleId": "ssc-1234",
        "title": "Prototype pollution in lodash",
        "description": "lodash before 4.17.21 is vulnerable.",
        "severity": "CRITICAL",
        "references": {
            "cveIds": ["cve-2021-23337"],
            "cweIds": ["CWE-94: Improper Control of Generation of Code"],
            "urls": ["https://nvd.nist.gov/vuln/detail/CVE-2021-23337"],
        },
    },
    "repositoryName": "acme/web",
    "matchedDependency": {"name": "lodash", "versionSpecifier": "4.17.15"},
    "closestSafeDependency": {"name": "lodash", "versionSpecifier": "4.17.21"},
    "dependencyFileLocation": {"path": "package-lock.json", "startLine": "120"},
    "triage": {"status": "NEW", "dismissReason": "UNKNOWN_REASON"},
    "groupKey": "77::::ssc-1234::reachable",
}


def test_supply_chain_export(tmp_path: Path) -> None:
    vulns = [
        VULN,
        VULN | {"groupKey": "78::::ssc-1234::reachable", "triage": {"status": "CLOSED"}},
        VULN
        | {
            "groupKey": "79::::ssc-1234::reachable",
            "triage": {"status": "IGNORED", "dismissReason": "FALSE_POSITIVE"},
        },
    ]
    findings = _findings(_write(tmp_path, {"vulns": vulns, "hasMore": False}))
    assert len(findings) == 2
    first = findings[0]
    assert first.check_id == "ssc-1234"
    assert first.severity is Severity.CRITICAL
    assert first.cve_ids == ["CVE-2021-23337"]
    assert first.cwe_ids == [94]
    assert first.file_path == "acme/web/package-lock.json"
    assert first.line == 120
    assert first.evidence == "lodash 4.17.15"
    assert first.tool_unique_id == "77::::ssc-1234::reachable"
    assert first.remediation is not None
    assert "4.17.21" in first.remediation
    assert findings[1].false_positive is True


@pytest.mark.parametrize(
    "document",
    [
        {"errors": []},
        {"results": "none"},
        {"results": [5]},
        {"results": [{"path": "a.py"}]},
        {"vulns": [{"advisory": {}}]},
        "results",
    ],
)
def test_malformed(tmp_path: Path, document: Any) -> None:
    with pytest.raises(ImportFormatError):
        _records(_write(tmp_path, document))


def test_sniff_tells_semgrep_json_from_sarif_and_bandit(tmp_path: Path) -> None:
    native = _write(tmp_path, {"results": [RESULT], "errors": []})
    assert SemgrepImporter.sniff(native, native.read_bytes())
    assert not SarifImporter.sniff(native, native.read_bytes())
    assert detect_importer(native).name == "semgrep"
    empty = _write(tmp_path, {"results": [], "errors": [], "version": "1.50.0"}, "e.json")
    assert SemgrepImporter.sniff(empty, empty.read_bytes())
    other = _write(tmp_path, {"results": [], "errors": [], "whatever": 1}, "o.json")
    assert not SemgrepImporter.sniff(other, other.read_bytes())
    sarif = _write(tmp_path, {"version": "2.1.0", "runs": [{"results": []}]}, "s.sarif")
    assert not SemgrepImporter.sniff(sarif, sarif.read_bytes())


# --------------------------------------------------------------------------- corpus
CORPUS_COUNTS = {
    "close_old_findings_report_third_run_different_unique_id.json": 1,
    "empty.json": 0,
    "issue_8435.json": 1,
    "multiple_cwes_fabricated.json": 1,
    "sca-deployments-vulns.json": 21,  # 22 vulns, one closed
    "semgrep_version_1_30_0_line_26.json": 5,
    "semgrep_version_1_30_0_line_27.json": 5,
}


def test_corpus_lists_every_file() -> None:
    assert sorted(p.name for p in corpus_dir("semgrep").iterdir()) == sorted(CORPUS_COUNTS)


@pytest.mark.parametrize(("name", "count"), sorted(CORPUS_COUNTS.items()))
def test_corpus_counts_and_detection(name: str, count: int) -> None:
    path = corpus_dir("semgrep") / name
    assert len(_findings(path)) == count
    assert detect_importer(path).name == "semgrep"


def test_corpus_fields() -> None:
    folder = corpus_dir("semgrep")
    (third_run,) = _findings(
        folder / "close_old_findings_report_third_run_different_unique_id.json"
    )
    assert third_run.severity is Severity.HIGH
    assert third_run.cwe_ids == [78]
    assert third_run.tool_unique_id is not None
    assert third_run.tool_unique_id.startswith("matchBasedId/v1:DIFFERENT1d0cfd65")
    coverage = [
        r
        for r in _records(folder / "close_old_findings_report_third_run_different_unique_id.json")
        if isinstance(r, CoverageInput)
    ]
    assert len(coverage[0].files) == 7

    (twitter,) = _findings(folder / "issue_8435.json")
    assert (twitter.file_path, twitter.line, twitter.cwe_ids) == ("/somedir/somefile.js", 1, [798])
    assert twitter.confidence == "low"

    (cbc,) = _findings(folder / "multiple_cwes_fabricated.json")
    assert cbc.cwe_ids == [327, 696]
    assert cbc.severity is Severity.MEDIUM
    assert cbc.tool_unique_id is None

    sca = _findings(folder / "sca-deployments-vulns.json")
    assert {f.severity for f in sca} == {Severity.HIGH}
    assert {tuple(f.cve_ids) for f in sca} == {("CVE-2023-1428",)}
    assert {tuple(f.cwe_ids) for f in sca} == {(617,)}
    assert len({f.tool_unique_id for f in sca}) == 21
    assert (sca[0].file_path, sca[0].line) == ("example/rfv/requirements3.txt", 222)

    go = _findings(folder / "semgrep_version_1_30_0_line_26.json")
    assert {f.cwe_ids[0] for f in go} == {79}
    assert {f.file_path for f in go} == {"test.go"}
    assert _records(folder / "empty.json") == []


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("semgrep")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "semgrep" or path.parent == CORPUS:
            continue
        assert not SemgrepImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path

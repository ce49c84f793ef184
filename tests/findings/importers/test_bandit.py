"""Bandit JSON importer: fields, coverage, errors, sniffing and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers.bandit import BanditImporter
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

RESULT = {
    "code": "4 password = 'hunter2'\n",
    "col_offset": 11,
    "end_col_offset": 20,
    "filename": "app/settings.py",
    "issue_confidence": "MEDIUM",
    "issue_cwe": {"id": 259, "link": "https://cwe.mitre.org/data/definitions/259.html"},
    "issue_severity": "LOW",
    "issue_text": "Possible hardcoded password: 'hunter2'",
    "line_number": 4,
    "line_range": [4],
    "more_info": "https://bandit.readthedocs.io/en/latest/plugins/b105_hardcoded_password_string.html",
    "test_id": "B105",
    "test_name": "hardcoded_password_string",
}


def _report(results: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "errors": extra.pop("errors", []),
        "generated_at": "2024-05-01T10:00:00Z",
        "metrics": extra.pop(
            "metrics",
            {"_totals": {"SEVERITY.HIGH": 0}, "app/settings.py": {}, "app/views.py": {}},
        ),
        "results": results,
        **extra,
    }


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "bandit.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _records(path: Path) -> list[Record]:
    return list(BanditImporter().parse(path))


def test_result_fields(tmp_path: Path) -> None:
    records = _records(_write(tmp_path, _report([RESULT])))
    finding, coverage = records
    assert isinstance(finding, FindingInput)
    assert finding.source_tool == "bandit"
    assert finding.check_id == "B105"
    assert finding.title == "Possible hardcoded password: 'hunter2'"
    assert finding.severity is Severity.LOW
    assert finding.confidence == "medium"
    assert finding.file_path == "app/settings.py"
    assert finding.line == 4
    assert finding.evidence == "4 password = 'hunter2'\n"
    assert finding.cwe_ids == [259]
    assert finding.references == [
        RESULT["more_info"],
        "https://cwe.mitre.org/data/definitions/259.html",
    ]
    assert finding.tool_unique_id is None
    assert finding.extra == {
        "test_name": "hardcoded_password_string",
        "column": 11,
        "end_column": 20,
        "line_range": [4],
    }
    assert isinstance(coverage, CoverageInput)
    assert coverage.files == ["app/settings.py", "app/views.py"]


def test_files_bandit_could_not_parse_are_not_covered(tmp_path: Path) -> None:
    document = _report(
        [],
        errors=[{"filename": "app/views.py", "reason": "syntax error while parsing AST"}],
    )
    (coverage,) = _records(_write(tmp_path, document))
    assert isinstance(coverage, CoverageInput)
    assert coverage.files == ["app/settings.py"]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("HIGH", Severity.HIGH), ("MEDIUM", Severity.MEDIUM), ("UNDEFINED", Severity.INFO)],
)
def test_severity(tmp_path: Path, severity: str, expected: Severity) -> None:
    finding = _records(_write(tmp_path, _report([RESULT | {"issue_severity": severity}])))[0]
    assert isinstance(finding, FindingInput)
    assert finding.severity is expected


def test_odd_field_types_are_ignored(tmp_path: Path) -> None:
    odd = RESULT | {"line_number": "x", "issue_cwe": "CWE-1", "code": None, "more_info": {"url": 5}}
    finding = _records(_write(tmp_path, _report([odd], metrics=None)))[0]
    assert isinstance(finding, FindingInput)
    assert finding.line is None
    assert finding.cwe_ids == []
    assert finding.evidence is None
    assert finding.references == []


@pytest.mark.parametrize(
    "document",
    [
        {"generated_at": "x", "metrics": {}},
        {"results": {"a": 1}},
        {"results": ["not an object"]},
        {"results": [{"issue_text": "no test id"}]},
        [],
    ],
)
def test_malformed(tmp_path: Path, document: Any) -> None:
    with pytest.raises(ImportFormatError):
        _records(_write(tmp_path, document))


def test_sniff(tmp_path: Path) -> None:
    path = _write(tmp_path, _report([RESULT]))
    assert BanditImporter.sniff(path, path.read_bytes())
    assert detect_importer(path).name == "bandit"
    semgrep = _write(tmp_path, {"results": [], "errors": []})
    assert not BanditImporter.sniff(semgrep, semgrep.read_bytes())


# --------------------------------------------------------------------------- corpus
def test_corpus_dd() -> None:
    path = corpus_dir("bandit") / "dd.json"
    records = _records(path)
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert len(findings) == 47
    assert sum(f.severity is Severity.MEDIUM for f in findings) == 36
    assert sum(f.severity is Severity.LOW for f in findings) == 11
    assert sum(f.check_id == "B303" for f in findings) == 30
    first = findings[0]
    assert (first.check_id, first.file_path, first.line) == (
        "B303",
        "dojo/tools/acunetix/parser.py",
        39,
    )
    assert first.confidence == "high"
    (coverage,) = (r for r in records if isinstance(r, CoverageInput))
    assert len(coverage.files) == 223
    assert detect_importer(path).name == "bandit"


def test_corpus_no_vuln() -> None:
    path = corpus_dir("bandit") / "no_vuln.json"
    assert _records(path) == []
    assert detect_importer(path).name == "bandit"


def test_corpus_lists_every_file() -> None:
    assert sorted(p.name for p in corpus_dir("bandit").iterdir()) == ["dd.json", "no_vuln.json"]


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("bandit")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "bandit" or path.parent == CORPUS:
            continue
        assert not BanditImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path

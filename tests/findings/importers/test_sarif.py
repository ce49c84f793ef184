"""SARIF importer: rule look-up, levels, locations, fingerprints, suppressions, corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers._json import EVIDENCE_LIMIT, read_text
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.importers.sarif import SarifImporter
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _write(tmp_path: Path, document: Any, name: str = "scan.sarif") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _log(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": list(runs)}


def _run(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    driver = extra.pop("driver", {"name": "Tool", "rules": []})
    return {"tool": {"driver": driver, **extra.pop("tool", {})}, "results": results, **extra}


def _records(path: Path) -> list[Record]:
    return list(SarifImporter().parse(path))


def _findings(path: Path) -> list[FindingInput]:
    return [r for r in _records(path) if isinstance(r, FindingInput)]


def _one(tmp_path: Path, run: dict[str, Any]) -> FindingInput:
    (finding,) = _findings(_write(tmp_path, _log(run)))
    return finding


# --------------------------------------------------------------------------- rules & text
def test_rule_by_index_gives_title_description_help_and_tags(tmp_path: Path) -> None:
    driver = {
        "name": "CodeQL",
        "rules": [
            {
                "id": "js/xss",
                "name": "XssRule",
                "shortDescription": {"text": "Client-side XSS"},
                "fullDescription": {"text": "Writing user input to the DOM allows XSS."},
                "help": {"text": "Escape the value before writing it."},
                "helpUri": "https://codeql.github.com/js-xss",
                "properties": {
                    "tags": ["security", "external/cwe/cwe-079", "external/cwe/cwe-116"],
                    "precision": "high",
                },
            }
        ],
    }
    result = {
        "ruleId": "js/xss",
        "ruleIndex": 0,
        "level": "error",
        "message": {"text": "Cross-site scripting from {0}.", "arguments": ["location.hash"]},
    }
    finding = _one(tmp_path, _run([result], driver=driver))
    assert finding.source_tool == "codeql"
    assert finding.check_id == "js/xss"
    assert finding.title == "Client-side XSS"
    assert finding.description is not None
    assert finding.description.startswith("Cross-site scripting from location.hash.")
    assert "Writing user input" in finding.description
    assert finding.remediation == "Escape the value before writing it."
    assert finding.references == ["https://codeql.github.com/js-xss"]
    assert finding.cwe_ids == [79, 116]
    assert finding.confidence == "high"
    assert finding.severity is Severity.HIGH


def test_message_strings_are_filled_from_arguments(tmp_path: Path) -> None:
    driver = {
        "name": "Scanner",
        "rules": [
            {
                "id": "R1",
                "messageStrings": {"default": {"text": "Use of {0} in {{braces}} at {1}; {7}"}},
            }
        ],
    }
    result = {"ruleId": "R1", "message": {"id": "default", "arguments": ["strcpy", "main"]}}
    finding = _one(tmp_path, _run([result], driver=driver))
    assert finding.description == "Use of strcpy in {braces} at main; {7}"
    assert finding.title == "R1"


def test_global_message_strings_and_extension_rules(tmp_path: Path) -> None:
    run = _run(
        [
            {
                "ruleId": "S0001",
                "rule": {"id": "S0001", "index": 0, "toolComponent": {"index": 0}},
                "message": {"id": "weak", "arguments": ["MD5"]},
            }
        ],
        driver={"name": "Scanner", "globalMessageStrings": {"weak": {"text": "Weak {0}."}}},
        tool={
            "extensions": [
                {
                    "name": "Security pack",
                    "rules": [{"id": "S0001", "shortDescription": {"text": "Weak crypto"}}],
                }
            ]
        },
    )
    finding = _one(tmp_path, run)
    assert finding.title == "Weak crypto"
    assert finding.description == "Weak MD5."


def test_hierarchical_rule_id_falls_back_to_parent_rule(tmp_path: Path) -> None:
    driver = {"name": "S", "rules": [{"id": "C2001", "shortDescription": {"text": "Parent"}}]}
    finding = _one(tmp_path, _run([{"ruleId": "C2001/3", "message": {"text": "m"}}], driver=driver))
    assert finding.check_id == "C2001/3"
    assert finding.title == "Parent"


def test_missing_rule_and_rule_id(tmp_path: Path) -> None:
    finding = _one(tmp_path, _run([{"message": {"text": "Something odd\nsecond line"}}]))
    assert finding.check_id == "unknown-rule"
    assert finding.title == "Something odd"


def test_cwe_from_relationships_taxa_and_cve_from_rule_id(tmp_path: Path) -> None:
    driver = {
        "name": "Trivy",
        "rules": [
            {
                "id": "CVE-2021-44228",
                "relationships": [{"target": {"id": "502", "toolComponent": {"name": "CWE"}}}],
                "properties": {"tags": ["CWE-20: Improper Input Validation", "cve-2021-45046"]},
            }
        ],
    }
    result = {
        "ruleId": "CVE-2021-44228",
        "message": {"text": "log4j"},
        "taxa": [{"id": "CWE-917", "toolComponent": {"name": "CWE"}}],
    }
    finding = _one(tmp_path, _run([result], driver=driver))
    assert finding.cwe_ids == [20, 502, 917]
    assert finding.cve_ids == ["CVE-2021-44228", "CVE-2021-45046"]


@pytest.mark.parametrize(
    ("driver_name", "expected"),
    [
        ("Semgrep OSS", "semgrep"),
        ("Semgrep Pro Engine", "semgrep"),
        ("CodeQL", "codeql"),
        ("Shell  Script Analysis", "shell-script-analysis"),
        ("", "sarif"),
    ],
)
def test_source_tool_names(tmp_path: Path, driver_name: str, expected: str) -> None:
    run = _run([{"ruleId": "r", "message": {"text": "m"}}], driver={"name": driver_name})
    assert _one(tmp_path, run).source_tool == expected


# --------------------------------------------------------------------------- severity
@pytest.mark.parametrize(
    ("result_extra", "rule_extra", "expected"),
    [
        ({"level": "error"}, {}, Severity.HIGH),
        ({"level": "warning"}, {}, Severity.MEDIUM),
        ({"level": "note"}, {}, Severity.LOW),
        ({"level": "none"}, {}, Severity.INFO),
        ({}, {}, Severity.MEDIUM),  # SARIF default level is "warning"
        ({}, {"defaultConfiguration": {"level": "error"}}, Severity.HIGH),
        ({"level": "note"}, {"properties": {"security-severity": "9.8"}}, Severity.CRITICAL),
        ({"level": "error"}, {"properties": {"security-severity": "2.0"}}, Severity.LOW),
        ({}, {"properties": {"security-severity": "HIGH"}}, Severity.HIGH),
        ({"properties": {"security-severity": 5}}, {}, Severity.MEDIUM),
        ({"level": "note"}, {"properties": {"security-severity": "n/a"}}, Severity.LOW),
        ({"kind": "review"}, {}, Severity.INFO),
    ],
)
def test_levels_and_security_severity(
    tmp_path: Path, result_extra: dict[str, Any], rule_extra: dict[str, Any], expected: Severity
) -> None:
    driver = {"name": "T", "rules": [{"id": "R", **rule_extra}]}
    result = {"ruleId": "R", "message": {"text": "m"}, **result_extra}
    assert _one(tmp_path, _run([result], driver=driver)).severity is expected


def test_passing_and_absent_results_are_not_findings(tmp_path: Path) -> None:
    results = [
        {"ruleId": "A", "kind": "pass", "message": {"text": "ok"}},
        {"ruleId": "B", "kind": "notApplicable", "message": {"text": "n/a"}},
        {"ruleId": "C", "kind": "informational", "message": {"text": "fyi"}},
        {"ruleId": "D", "baselineState": "absent", "message": {"text": "gone"}},
        {"ruleId": "E", "baselineState": "unchanged", "message": {"text": "still here"}},
    ]
    findings = _findings(_write(tmp_path, _log(_run(results))))
    assert [f.check_id for f in findings] == ["E"]
    assert findings[0].extra["baseline_state"] == "unchanged"


# --------------------------------------------------------------------------- locations
def test_uri_base_ids_artifact_index_and_file_uris(tmp_path: Path) -> None:
    run = _run(
        [
            {
                "ruleId": "R",
                "message": {"text": "m"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"index": 0},
                            "region": {
                                "startLine": 12,
                                "startColumn": 3,
                                "snippet": {"text": "strcpy(buf, input);"},
                            },
                        }
                    },
                    {"physicalLocation": {"artifactLocation": {"uri": "file:///opt/b%20c.c"}}},
                ],
            },
            {
                "ruleId": "R",
                "message": {"text": "m"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": "file:///C:/code/x.c"},
                            "contextRegion": {"snippet": {"text": "context"}},
                        }
                    }
                ],
            },
        ],
        artifacts=[
            {"location": {"uri": "lib/a.c", "uriBaseId": "SRCROOT"}},
            {"location": {"uri": "docs/readme.md", "uriBaseId": "%SRCROOT%"}},
        ],
        originalUriBaseIds={
            "ROOT": {"uri": "file:///work/"},
            "SRCROOT": {"uri": "src/", "uriBaseId": "ROOT"},
        },
    )
    records = _records(_write(tmp_path, _log(run)))
    first, second = (r for r in records if isinstance(r, FindingInput))
    assert first.file_path == "/work/src/lib/a.c"
    assert first.line == 12
    assert first.evidence == "strcpy(buf, input);"
    assert first.extra["column"] == 3
    assert first.extra["other_locations"] == ["/opt/b c.c"]
    assert second.file_path == "C:/code/x.c"
    assert second.evidence == "context"
    (coverage,) = (r for r in records if isinstance(r, CoverageInput))
    assert coverage.files == ["/work/src/lib/a.c", "C:/code/x.c", "docs/readme.md"]


def test_no_coverage_for_runs_that_did_not_complete(tmp_path: Path) -> None:
    artifacts = [{"location": {"uri": "a.c"}}]
    did_not_run = {"tool": {"driver": {"name": "T"}}, "results": None, "artifacts": artifacts}
    failed = _run([], artifacts=artifacts, invocations=[{"executionSuccessful": False}])
    finished = _run([], artifacts=artifacts, invocations=[{"executionSuccessful": True}])
    records = _records(_write(tmp_path, _log(did_not_run, failed, finished)))
    assert records == [CoverageInput(files=["a.c"])]


def test_cyclic_base_ids_do_not_loop(tmp_path: Path) -> None:
    run = _run(
        [
            {
                "ruleId": "R",
                "message": {"text": "m"},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": "a.c", "uriBaseId": "A"}}}
                ],
            }
        ],
        originalUriBaseIds={"A": {"uri": "a/", "uriBaseId": "B"}, "B": {"uriBaseId": "A"}},
    )
    assert _one(tmp_path, run).file_path is not None


def test_evidence_is_truncated(tmp_path: Path) -> None:
    snippet = "x" * (EVIDENCE_LIMIT + 500)
    run = _run(
        [
            {
                "ruleId": "R",
                "message": {"text": "m"},
                "locations": [{"physicalLocation": {"region": {"snippet": {"text": snippet}}}}],
            }
        ]
    )
    evidence = _one(tmp_path, run).evidence
    assert evidence is not None
    assert len(evidence) == EVIDENCE_LIMIT


# --------------------------------------------------------------------------- ids & state
@pytest.mark.parametrize(
    ("result_extra", "expected"),
    [
        (
            {
                "fingerprints": {"other/v1": "f1"},
                "partialFingerprints": {"x": "p0", "primaryLocationLineHash": "abc:1"},
            },
            "primaryLocationLineHash:abc:1",
        ),
        ({"fingerprints": {"matchBasedId/v1": "requires login", "b/v1": "bb"}}, "b/v1:bb"),
        ({"partialFingerprints": {"scanFileHash": "f0"}}, "scanFileHash:f0"),
        ({"correlationGuid": "9a1b"}, "correlationGuid:9a1b"),
        ({"guid": "per-run-guid"}, None),
        ({}, None),
    ],
)
def test_tool_unique_id(tmp_path: Path, result_extra: dict[str, Any], expected: str | None) -> None:
    run = _run([{"ruleId": "R", "message": {"text": "m"}, **result_extra}])
    assert _one(tmp_path, run).tool_unique_id == expected


@pytest.mark.parametrize(
    ("suppressions", "expected"),
    [
        ([], False),
        ([{"kind": "inSource"}], True),
        ([{"kind": "external", "status": "accepted", "justification": "test code"}], True),
        ([{"kind": "external", "state": "accepted"}], True),
        ([{"kind": "external", "status": "underReview"}], False),
        ([{"kind": "inSource"}, {"kind": "external", "status": "rejected"}], False),
    ],
)
def test_suppressions(tmp_path: Path, suppressions: list[dict[str, str]], expected: bool) -> None:
    run = _run([{"ruleId": "R", "message": {"text": "m"}, "suppressions": suppressions}])
    assert _one(tmp_path, run).false_positive is expected


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"version": "2.1.0", "runs": [', "truncated"),
        ('{"version": "2.1.0", "runs": [}', "line 1"),
        ('{"version": "2.1.0"}', "runs"),
        ('{"version": "2.1.0", "runs": {}}', "runs"),
        ('{"version": "2.1.0", "runs": [{"results": [1]}]}', "runs[0].results[0]"),
        ('{"version": "1.0.0", "runs": []}', "1.0.0"),
        ("[1, 2]", "$"),
        ("   \n", ""),
    ],
)
def test_malformed_files_raise_import_format_error(
    tmp_path: Path, content: str, needle: str
) -> None:
    from shaobing.core.i18n import set_language

    set_language("en")
    try:
        path = tmp_path / "bad.sarif"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ImportFormatError) as caught:
            _records(path)
        assert needle in caught.value.problem
    finally:
        set_language("zh-CN")


def test_size_cap_and_encodings(tmp_path: Path) -> None:
    path = tmp_path / "big.sarif"
    path.write_text(json.dumps(_log(_run([]))), encoding="utf-8")
    with pytest.raises(ImportFormatError):
        read_text(path, max_bytes=10)
    utf16 = tmp_path / "utf16.sarif"
    utf16.write_text(json.dumps(_log(_run([{"ruleId": "R"}]))), encoding="utf-16")
    assert [f.check_id for f in _findings(utf16)] == ["R"]
    latin = tmp_path / "latin1.sarif"
    latin.write_bytes(b'{"runs": [], "x": "\xe9"}')
    with pytest.raises(ImportFormatError):
        _records(latin)


# --------------------------------------------------------------------------- sniffing
def test_sniff_and_detect(tmp_path: Path) -> None:
    sarif = _write(tmp_path, _log(_run([])))
    assert SarifImporter.sniff(sarif, sarif.read_bytes())
    no_schema = _write(tmp_path, {"runs": [{"tool": {"driver": {"name": "x"}}}]}, "b.json")
    assert SarifImporter.sniff(no_schema, no_schema.read_bytes())
    assert detect_importer(sarif).name == "sarif"
    semgrep_native = _write(tmp_path, {"results": [], "errors": [], "version": "1.0"}, "c.json")
    assert not SarifImporter.sniff(semgrep_native, semgrep_native.read_bytes())
    assert not SarifImporter.sniff(sarif, b"\x00\xff garbage")


# --------------------------------------------------------------------------- corpus
EXPECTED: dict[str, dict[str, Any]] = {
    "DefectDojo_django-DefectDojo__2020-12-11_13 42 10__export.sarif": {
        "count": 510,
        "severities": {"low": 357, "medium": 122, "high": 31},
        "coverage": [34, 133],
        "tool": "lgtm.com",
        "first": {
            "check_id": "com.lgtm/javascript-queries:js/unused-local-variable",
            "file_path": "dojo/static/dojo/js/index.js",
            "line": 220,
            "tool_unique_id": "primaryLocationLineHash:5a98dafd76d3d9c1:1",
            "severity": Severity.LOW,
        },
    },
    "appendix_k.sarif": {
        "count": 1,
        "coverage": [7],
        "tool": "codescanner",
        "false_positives": 1,
        "first": {
            "check_id": "C2001",
            "file_path": "file://build.example.com/work/src/collections/list.h",
            "line": 15,
            "severity": Severity.HIGH,
            "evidence": "add_core(ptr, offset, val);\n    return;",
        },
    },
    "appendix_k2.sarif": {
        "count": 1,
        "coverage": [1],
        "first": {"file_path": "src/collections/list.cpp", "line": 15, "severity": Severity.MEDIUM},
    },
    "appendix_k3.sarif": {
        "count": 1,
        "coverage": [],
        "first": {"check_id": "B6412", "file_path": None, "severity": Severity.MEDIUM},
    },
    "bash-report-fabricated-no-internal-dupes.sarif": {
        "count": 5,
        "severities": {"low": 5},
        "tool": "shell-script-analysis",
        "unique_ids": 5,
    },
    "bash-report.sarif": {"count": 27, "severities": {"low": 27}, "unique_ids": 27},
    "dockle_0_3_15.sarif": {
        "count": 4,
        "severities": {"high": 1, "low": 3},
        "tool": "dockle",
        "first": {
            "check_id": "CIS-DI-0010",
            "title": "Do not store credential in ENVIRONMENT vars/files",
            "references": [
                "https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#CIS-DI-0010"
            ],
        },
    },
    "flawfinder.sarif": {
        "count": 53,  # the 54th result has kind "pass"
        "severities": {"low": 50, "high": 2, "medium": 1},
        "first": {
            "check_id": "FF1048",
            "cwe_ids": [327],
            "line": 29,
            "tool_unique_id": "contextHash/v1:"
            "e6c1ad2b1d96ffc4035ed8df070600566ad240b8ded025dac30620f3fd4aa9fd",
        },
    },
    "issue_10191.json": {  # Semgrep OSS SARIF (security-severity is a word there)
        "count": 77,
        "severities": {"critical": 34, "medium": 42, "high": 1},
        "tool": "semgrep",
        "unique_ids": 77,
        "first": {"file_path": "Gruntfile.js", "line": 75, "cwe_ids": [22]},
    },
    "mobsfscan.json": {
        "count": 9,
        "severities": {"low": 7, "high": 1, "medium": 1},
        "tool": "mobsfscan",
        "first": {"check_id": "android_logging", "line": 57},
    },
    "spotbugs.sarif": {
        "count": 56,
        "severities": {"low": 56},
        "first": {
            "description": "Hard coded reference to an absolute pathname in Boot.main(String[]).",
            "file_path": "Boot.java",
            "line": 23,
        },
    },
    "suppression_test.sarif": {
        "count": 5,
        "false_positives": 3,
        "first": {"file_path": "C:/code/file1.c", "false_positive": True},
    },
    "taint-python-report.sarif": {
        "count": 11,
        "severities": {"high": 8, "low": 2, "medium": 1},
        "tool": "python-security-analysis",
    },
}


def test_corpus_lists_every_file() -> None:
    folder = corpus_dir("sarif")
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    path = corpus_dir("sarif") / name
    expected = EXPECTED[name]
    records = _records(path)
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert len(findings) == expected["count"]
    if "severities" in expected:
        counts: dict[str, int] = {}
        for finding in findings:
            counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
        assert counts == expected["severities"]
    if "coverage" in expected:
        coverage = [len(r.files) for r in records if isinstance(r, CoverageInput)]
        assert coverage == expected["coverage"]
    if "tool" in expected:
        assert {f.source_tool for f in findings} == {expected["tool"]}
    if "false_positives" in expected:
        assert sum(f.false_positive for f in findings) == expected["false_positives"]
    if "unique_ids" in expected:
        assert sum(1 for f in findings if f.tool_unique_id) == expected["unique_ids"]
    for field, value in expected.get("first", {}).items():
        assert getattr(findings[0], field) == value, field
    assert detect_importer(path).name == "sarif"


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("sarif")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "sarif" or path.parent == CORPUS:
            continue
        assert not SarifImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path

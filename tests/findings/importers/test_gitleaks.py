"""Gitleaks importer: v7/v8 reports, secret masking, fingerprints and the corpus."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers.base import SNIFF_BYTES, FindingInput, ImportFormatError
from shaobing.findings.importers.gitleaks import GitleaksImporter, mask_secret, masked_evidence
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

SECRET = "AKIAIOSFODNN7EXAMPLE"
V8: dict[str, Any] = {
    "Description": "AWS Access Key",
    "StartLine": 3,
    "EndLine": 3,
    "StartColumn": 10,
    "EndColumn": 29,
    "Line": f"aws_key = '{SECRET}'  # prod",
    "Match": f"aws_key = '{SECRET}'",
    "Secret": SECRET,
    "File": "deploy/config.py",
    "SymlinkFile": "",
    "Commit": "abc123",
    "Entropy": 3.6,
    "Author": "Dev",
    "Email": "dev@example.com",
    "Date": "2024-01-01T00:00:00Z",
    "Message": f"add key {SECRET}",
    "Tags": ["aws"],
    "RuleID": "aws-access-token",
    "Fingerprint": "abc123:deploy/config.py:aws-access-token:3",
}


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "gitleaks.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _findings(path: Path) -> list[FindingInput]:
    records = list(GitleaksImporter().parse(path))
    assert all(isinstance(r, FindingInput) for r in records)
    return [r for r in records if isinstance(r, FindingInput)]


def _dump(finding: FindingInput) -> str:
    return json.dumps(dataclasses.asdict(finding), default=str)


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "AK********LE"),
        ("12345678", "12********78"),
        ("hunter2", "h********2"),
        ("abcde", "a********e"),
        ("abcd", "********"),
        ("", "********"),
    ],
)
def test_mask_keeps_at_most_two_characters_each_side(secret: str, masked: str) -> None:
    assert mask_secret(secret) == masked


def test_masked_evidence() -> None:
    assert masked_evidence("k = 'secretvalue' # secretvalue", "secretvalue") == (
        "k = 'se********ue' # se********ue"
    )
    assert masked_evidence("unrelated", "secretvalue") == "se********ue"
    assert masked_evidence("tokenvalue123", None) == "to********23"
    assert masked_evidence(None, None) is None


def test_v8_leak(tmp_path: Path) -> None:
    (finding,) = _findings(_write(tmp_path, [V8]))
    assert finding.source_tool == "gitleaks"
    assert finding.check_id == "aws-access-token"
    assert finding.title == "AWS Access Key"
    assert finding.severity is Severity.HIGH
    assert (finding.file_path, finding.line) == ("deploy/config.py", 3)
    assert finding.cwe_ids == [798]
    assert finding.evidence == "aws_key = 'AK********LE'"
    assert finding.tool_unique_id == "abc123:deploy/config.py:aws-access-token:3"
    assert finding.extra["commit"] == "abc123"
    assert finding.extra["tags"] == ["aws"]
    assert SECRET not in _dump(finding)
    assert "IOSFODNN7" not in _dump(finding)


def test_fingerprint_rebuilt_for_reports_without_it(tmp_path: Path) -> None:
    without = {k: v for k, v in V8.items() if k != "Fingerprint"}
    no_commit = without | {"Commit": ""}
    first, second = _findings(_write(tmp_path, [without, no_commit]))
    assert first.tool_unique_id == V8["Fingerprint"]
    assert second.tool_unique_id == "deploy/config.py:aws-access-token:3"


def test_v7_leak(tmp_path: Path) -> None:
    leak = {
        "line": f"export AWS_KEY={SECRET}",
        "lineNumber": 7,
        "offender": SECRET,
        "commit": "def456",
        "repo": "app",
        "rule": "AWS Access Key",
        "commitMessage": "oops",
        "author": "Dev",
        "email": "dev@example.com",
        "file": ".env",
        "date": "2020-01-01T00:00:00Z",
        "tags": "key, AWS",
    }
    (finding,) = _findings(_write(tmp_path, [leak]))
    assert finding.check_id == "AWS Access Key"
    assert (finding.file_path, finding.line) == (".env", 7)
    assert finding.evidence == "export AWS_KEY=AK********LE"
    assert finding.tool_unique_id is None
    assert finding.extra["tags"] == ["key", "AWS"]
    assert SECRET not in _dump(finding)


def test_null_and_empty_reports_are_clean_scans(tmp_path: Path) -> None:
    assert _findings(_write(tmp_path, None)) == []
    assert _findings(_write(tmp_path, [])) == []


@pytest.mark.parametrize("document", [{"leaks": []}, [1], [{"File": "a"}], "x"])
def test_malformed(tmp_path: Path, document: Any) -> None:
    with pytest.raises(ImportFormatError):
        _findings(_write(tmp_path, document))


def test_sniff(tmp_path: Path) -> None:
    path = _write(tmp_path, [V8])
    assert GitleaksImporter.sniff(path, path.read_bytes())
    assert detect_importer(path).name == "gitleaks"
    assert not GitleaksImporter.sniff(path, b'[{"id": "x", "severity": "LOW"}]')
    assert not GitleaksImporter.sniff(path, b"null")


# --------------------------------------------------------------------------- corpus
CORPUS_COUNTS = {
    "data_many.json": 2,
    "gitleaks8_many.json": 4,
    "issue4336.json": 1,
    "no_findings.json": 0,
}


def test_corpus_lists_every_file() -> None:
    assert sorted(p.name for p in corpus_dir("gitleaks").iterdir()) == sorted(CORPUS_COUNTS)


@pytest.mark.parametrize(("name", "count"), sorted(CORPUS_COUNTS.items()))
def test_corpus_counts_and_no_secret_is_kept(name: str, count: int) -> None:
    path = corpus_dir("gitleaks") / name
    findings = _findings(path)
    assert len(findings) == count
    raw = json.loads(path.read_text(encoding="utf-8")) or []
    secrets = [leak.get("Secret") or leak.get("offender") for leak in raw]
    for finding in findings:
        dumped = _dump(finding)
        for secret in secrets:
            assert secret not in dumped
    if count:
        assert detect_importer(path).name == "gitleaks"
    else:  # "null" carries nothing to recognise; it imports with --format gitleaks
        with pytest.raises(ImportFormatError):
            detect_importer(path)


def test_corpus_fields() -> None:
    folder = corpus_dir("gitleaks")
    github, mailchimp = _findings(folder / "data_many.json")
    assert (github.check_id, github.file_path, github.line) == ("Github", ".bashrc", None)
    assert github.evidence == 'export JEKYLL_GI********d"'
    assert mailchimp.check_id == "MailChimp API key"
    v8 = _findings(folder / "gitleaks8_many.json")
    assert [f.check_id for f in v8] == [
        "aws-access-token",
        "aws-access-token",
        "RSA-PK",
        "generic-api-key",
    ]
    assert v8[2].tool_unique_id == "conf/rsa.pk:RSA-PK:57"
    assert v8[3].evidence == 'apikey = "df********13"'
    assert v8[3].line == 21
    (twitter,) = _findings(folder / "issue4336.json")
    assert (twitter.file_path, twitter.line) == ("README.md", 23)


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("gitleaks")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "gitleaks" or path.parent == CORPUS:
            continue
        assert not GitleaksImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path

"""sqlmap results-CSV importer: merging, techniques, notes, errors and the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from shaobing.core.i18n import t
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.importers.sqlmap import SqlmapImporter
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

HEADER = "Target URL,Place,Parameter,Technique(s),Note(s)\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "results-01012024_1200am.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _records(path: Path) -> list[Record]:
    return list(SqlmapImporter().parse(path))


def _findings(path: Path) -> list[FindingInput]:
    return [r for r in _records(path) if isinstance(r, FindingInput)]


def test_one_finding_per_url_place_parameter(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "https://shop.example.com/item?id=1,GET,id,BT,\n"
        + "https://shop.example.com/item?id=1,GET,id,EU,\n"
        + "https://shop.example.com/item?id=1,Cookie,id,B,\n"
        + '"https://shop.example.com/login",POST,user,S,false positive or unexploitable\n',
    )
    records = _records(path)
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert len(findings) == 3
    merged = findings[0]
    assert merged.source_tool == "sqlmap"
    assert merged.check_id == "sqli"
    assert merged.severity is Severity.HIGH
    assert merged.cwe_ids == [89]
    assert (merged.host, merged.port) == ("shop.example.com", 443)
    assert merged.url == "https://shop.example.com/item?id=1"
    assert merged.parameter == "id"
    assert merged.extra["techniques"] == [
        "boolean-based blind",
        "error-based",
        "time-based blind",
        "UNION query",
    ]
    assert merged.title == t(
        "importers_code.sqlmap.title",
        techniques="boolean-based blind, error-based, time-based blind, UNION query",
    )
    assert merged.evidence is not None
    assert "Technique(s): B (boolean-based blind), E (error-based)" in merged.evidence
    assert merged.confidence == "high"
    assert findings[1].extra["place"] == "Cookie"
    unconfirmed = findings[2]
    assert unconfirmed.confidence == "low"
    assert unconfirmed.extra["notes"] == ["false positive or unexploitable"]
    (coverage,) = (r for r in records if isinstance(r, CoverageInput))
    assert coverage.urls == ["https://shop.example.com/item?id=1", "https://shop.example.com/login"]


def test_header_only_is_a_clean_scan(tmp_path: Path) -> None:
    assert _records(_write(tmp_path, HEADER)) == []
    assert _records(_write(tmp_path, "\ufeff" + HEADER.replace("\n", "\r\n"))) == []


@pytest.mark.parametrize(
    "text",
    [
        "url,place\nhttp://a,GET\n",
        HEADER + "http://a,GET\n",
        HEADER + ",GET,id,B,\n",
        HEADER + 'http://a,GET,"id,B,\n' + "x" * 200_000,
        "",
    ],
)
def test_malformed(tmp_path: Path, text: str) -> None:
    with pytest.raises(ImportFormatError):
        _records(_write(tmp_path, text))


def test_sniff(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER)
    assert SqlmapImporter.sniff(path, path.read_bytes())
    assert SqlmapImporter.sniff(path, b"\xef\xbb\xbf" + HEADER.encode())
    assert not SqlmapImporter.sniff(path, b'"id","fqdn/ip","port","severity","finding"\n')


# --------------------------------------------------------------------------- corpus
CORPUS_COUNTS = {
    "sqlmap_many_vuln.csv": 2,
    "sqlmap_no_vuln.csv": 0,
    "sqlmap_repeated_run.csv": 2,  # the same two injections written by two runs
}


def test_corpus_lists_every_file() -> None:
    assert sorted(p.name for p in corpus_dir("sqlmap").iterdir()) == sorted(CORPUS_COUNTS)


@pytest.mark.parametrize(("name", "count"), sorted(CORPUS_COUNTS.items()))
def test_corpus(name: str, count: int) -> None:
    path = corpus_dir("sqlmap") / name
    findings = _findings(path)
    assert len(findings) == count
    assert detect_importer(path).name == "sqlmap"
    if count:
        assert [(f.parameter, f.extra["techniques"]) for f in findings] == [
            ("id", ["boolean-based blind", "time-based blind", "UNION query"]),
            ("name", ["boolean-based blind", "time-based blind"]),
        ]
        assert {(f.url, f.host, f.port) for f in findings} == {
            ("http://wave3sqli:5000/two?id=1&name=widget", "wave3sqli", 5000)
        }


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("sqlmap")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "sqlmap" or path.parent == CORPUS:
            continue
        assert not SqlmapImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path

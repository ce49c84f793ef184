"""``shaobing template validate`` and ``template run`` (the Typer app, in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shaobing.cli.templates import app
from tests.templates.conftest import MockHttp

GOOD = """\
id: good-one
info:
  name: 好模板
  severity: high
  tags: demo
  classification:
    cve-id: CVE-2024-1111
http:
  - path: ["{{BaseURL}}/"]
    matchers:
      - type: word
        name: hello
        words: [hello]
    extractors:
      - type: regex
        regex: ["hel+o"]
"""
REFUSED = GOOD.replace("id: good-one", "id: refused-one").replace(
    'path: ["{{BaseURL}}/"]', 'path: ["{{BaseURL}}/"]\n    unsafe: true'
)


def _invoke(args: list[str]) -> None:
    app(args=args, prog_name="template", standalone_mode=False)


def _collection(tmp_path: Path) -> Path:
    folder = tmp_path / "coll" / "sub"
    folder.mkdir(parents=True)
    (folder / "good.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "refused.yml").write_text(REFUSED, encoding="utf-8")
    (folder / "broken.yaml").write_text("id: [", encoding="utf-8")
    (folder / "notes.txt").write_text("not a template", encoding="utf-8")
    return tmp_path / "coll"


def test_validate_json_walks_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _invoke(["validate", str(_collection(tmp_path)), "--json"])
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [set(r) for r in records] == [{"path", "id", "loads", "unsupported", "error"}] * 3
    by_name = {Path(r["path"]).name: r for r in records}
    assert by_name["good.yaml"] == {
        "path": by_name["good.yaml"]["path"],
        "id": "good-one",
        "loads": True,
        "unsupported": [],
        "error": None,
    }
    assert by_name["refused.yml"]["unsupported"] == ["unsafe"]
    assert (
        by_name["broken.yaml"]["loads"] is False
        and "broken.yaml" in by_name["broken.yaml"]["error"]
    )
    assert "共 3 个模板" in captured.err and "unsafe 1" in captured.err


def test_run_json_uses_nuclei_field_names(
    tmp_path: Path, http_target: MockHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http_target.routes["/"] = (200, {}, b"say hello")
    _invoke(["run", str(_collection(tmp_path)), "--target", http_target.url, "--json"])
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["template-id"] == "good-one"
    assert record["type"] == "http"
    assert record["host"] == http_target.url
    assert record["matched-at"] == http_target.url + "/"
    assert record["matcher-name"] == "hello"
    assert record["extracted-results"] == ["hello"]
    assert record["info"]["severity"] == "high"
    assert record["info"]["classification"]["cve-id"] == ["CVE-2024-1111"]
    assert record["ip"] == "127.0.0.1" and record["port"] == str(http_target.port)
    assert {"template-path", "timestamp", "scheme", "url"} <= set(record)
    assert "refused.yml" in captured.err and "broken.yaml" in captured.err


def test_run_human_output(
    tmp_path: Path, http_target: MockHttp, capsys: pytest.CaptureFixture[str]
) -> None:
    http_target.routes["/"] = (200, {}, b"hello")
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD, encoding="utf-8")
    _invoke(["run", str(folder), "-t", http_target.url])
    out = capsys.readouterr().out
    assert "good-one" in out and "[hello]" in out

"""Background parsing: same records as parsing inline, errors carried over, child stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shaobing.findings import pipeline
from shaobing.findings.importers.base import FindingInput, ImportFormatError
from shaobing.findings.importers.registry import get_importer


def _nuclei(path: Path, count: int, broken_at: int | None = None) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            if i == broken_at:
                fh.write('{"template-id": "cut\n')
                continue
            fh.write(
                json.dumps(
                    {
                        "template-id": f"t{i}",
                        "info": {"name": f"n{i}", "severity": "low"},
                        "host": "http://127.0.0.1",
                        "matched-at": f"http://127.0.0.1/{i}",
                        "type": "http",
                    }
                )
                + "\n"
            )
    return path


@pytest.fixture
def always_background(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_BYTES", 0)


def test_background_equals_inline(tmp_path: Path, always_background: None) -> None:
    path = _nuclei(tmp_path / "a.jsonl", 2500)
    inline = list(get_importer("nuclei").parse(path))
    background = list(pipeline.parse_records("nuclei", path))
    assert background == inline
    assert sum(isinstance(r, FindingInput) for r in background) == 2500


def test_format_error_crosses_the_process_boundary(tmp_path: Path, always_background: None) -> None:
    path = _nuclei(tmp_path / "b.jsonl", 1500, broken_at=1400)
    with pytest.raises(ImportFormatError, match=r"b\.jsonl") as info:
        list(pipeline.parse_records("nuclei", path))
    assert "1401" in info.value.message


def test_consumer_stopping_early_stops_the_child(tmp_path: Path, always_background: None) -> None:
    path = _nuclei(tmp_path / "c.jsonl", 20000)
    records = pipeline.parse_records("nuclei", path)
    assert isinstance(next(records), FindingInput)
    records.close()  # runs the generator's finally: the child is terminated and joined


def test_small_files_parse_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(
        pipeline.subprocess, "Popen", lambda *_a, **_k: started.append(1)
    )  # would fail if called
    path = _nuclei(tmp_path / "d.jsonl", 10)
    assert (
        len([r for r in pipeline.parse_records("nuclei", path) if isinstance(r, FindingInput)])
        == 10
    )
    assert started == []

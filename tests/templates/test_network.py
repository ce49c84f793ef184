"""TCP templates against a local mock service, and the scope guard on TCP."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from shaobing.templates.runner import execute, run_template
from tests.templates.conftest import MockTcp, context_for, write_template

TEMPLATE = """\
id: mock-stats
info:
  name: Memcached-like stats
  severity: medium
tcp:
  - inputs:
      - data: "stats\\r\\n"
      - data: "{hexdata}"
        type: hex
    host:
      - "{{{{Hostname}}}}"
    read-size: 2048
    matchers-condition: and
    matchers:
      - type: word
        words: ["{word}"]
      - type: binary
        binary: ["{binary}"]
    extractors:
      - type: regex
        group: 1
        regex: ["version ([0-9.]+)"]
"""


def _reply(data: bytes) -> bytes:
    return (
        b"STAT pid 1\r\nSTAT version 1.6.21\r\nEND\r\n"
        if data.startswith(b"stats")
        else b"ERROR\r\n"
    )


def _template(tmp_path: Path, word: str, binary: str) -> object:
    text = TEMPLATE.format(hexdata=b"\r\n".hex(), word=word, binary=binary)
    return write_template(tmp_path, textwrap.dedent(text))


def test_tcp_template_matches_and_extracts(
    tmp_path: Path, tcp_target: Callable[[Callable[[bytes], bytes]], MockTcp]
) -> None:
    mock = tcp_target(_reply)
    target = f"127.0.0.1:{mock.port}"
    template = _template(tmp_path, "STAT pid", b"END".hex())
    results = run_template(template, target, context_for(target))  # type: ignore[arg-type]
    assert len(results) == 1
    assert results[0].extracted == ["1.6.21"]
    assert results[0].matched_at == target
    assert mock.received[0].startswith(b"stats\r\n")
    miss = _template(tmp_path, "STAT pid", b"ENDX".hex())
    assert run_template(miss, target, context_for(target)) == []  # type: ignore[arg-type]


def test_template_port_is_used_when_the_target_has_none(
    tmp_path: Path, tcp_target: Callable[[Callable[[bytes], bytes]], MockTcp]
) -> None:
    mock = tcp_target(_reply)
    text = TEMPLATE.format(hexdata="", word="STAT", binary=b"END".hex())
    text = text.replace("    read-size", f"    port: {mock.port}\n    read-size")
    template = write_template(tmp_path, text)
    assert len(run_template(template, "127.0.0.1", context_for("127.0.0.1"))) == 1


def test_tcp_target_outside_the_scope_gets_no_packet(
    tmp_path: Path, tcp_target: Callable[[Callable[[bytes], bytes]], MockTcp]
) -> None:
    mock = tcp_target(_reply)
    template = _template(tmp_path, "STAT", b"END".hex())
    report = execute(template, f"127.0.0.1:{mock.port}", context_for("127.0.0.2"))  # type: ignore[arg-type]
    assert report.results == []
    assert mock.received == []
    assert report.notes

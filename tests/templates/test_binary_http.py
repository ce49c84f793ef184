"""Binary matchers see an HTTP body's bytes, not text decoded from them."""

from __future__ import annotations

import gzip
from pathlib import Path

from shaobing.cli.templates import build_context
from shaobing.templates.loader import load_template
from shaobing.templates.runner import run_template
from tests.targets.http import MockHttpTarget, Response

TEMPLATE = """
id: gzip-backup
info:
  name: gzip backup
  author: tester
  severity: medium
http:
  - method: GET
    path:
      - "{{BaseURL}}/backup.tar.gz"
    matchers:
      - type: binary
        binary:
          - "1f8b08"
"""


def test_binary_matcher_on_non_utf8_http_body(tmp_path: Path) -> None:
    path = tmp_path / "gzip-backup.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    template = load_template(path)
    archive = gzip.compress(b"\xff\xfe backup \x80\x81")
    # Served as an opaque file: the engine must not decode it as gzip content encoding.
    headers = {"Content-Type": "application/octet-stream"}
    positive = MockHttpTarget({"/backup.tar.gz": Response(body=archive, headers=headers)}).start()
    negative = MockHttpTarget({"/backup.tar.gz": Response(body=b"\xff\xfe not gzip")}).start()
    try:
        hits = run_template(template, positive.url, build_context([positive.url], 3.0))
        misses = run_template(template, negative.url, build_context([negative.url], 3.0))
    finally:
        positive.stop()
        negative.stop()
    assert len(hits) == 1
    assert misses == []

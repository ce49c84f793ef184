"""The community corpus sample (read in place, never copied): every file loads or is
refused with reasons, and runnable templates execute against a mock target without
crashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from shaobing.templates.oob import OobUnavailable, template_needs_oob
from shaobing.templates.runner import execute
from shaobing.templates.validate import template_files, validate_file
from tests.templates.conftest import MockHttp, context_for

CORPUS = Path("/work/shared/corpora/nuclei-templates")
pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus sample not present at {CORPUS}"
)


def test_every_corpus_template_loads_with_reasons_for_what_cannot_run() -> None:
    results = [validate_file(file, root) for file, root in template_files([CORPUS])]
    assert len(results) > 800
    assert all(r.loads for r in results), [r.error for r in results if not r.loads][:5]
    for result in results:
        assert result.template is not None
        for item in result.template.unsupported:
            assert item.reason and not item.reason.startswith("templates."), item
    web = [r for r in results if r.template and set(r.template.protocols) & {"http", "tcp"}]
    runnable = [r for r in web if not r.unsupported]
    assert len(runnable) / len(web) >= 0.9


def test_runnable_corpus_templates_execute_against_a_mock(http_target: MockHttp) -> None:
    http_target.routes["*"] = (404, {"Content-Type": "text/html"}, b"<html>nothing here</html>")
    ctx = context_for(http_target.url, timeout=2.0)
    ran = 0
    for file, root in template_files([CORPUS / "http"]):
        result = validate_file(file, root)
        if result.template is None or not result.template.runnable:
            continue
        if result.template.self_contained or "wait_for(" in file.read_text(encoding="utf-8"):
            continue  # time-based checks sleep on purpose
        if template_needs_oob(result.template):
            # Callback templates without SHAOBING_OOB_DOMAIN: refused, naming the setting.
            with pytest.raises(OobUnavailable, match="SHAOBING_OOB_DOMAIN"):
                execute(result.template, http_target.url, ctx)
            continue
        execute(result.template, http_target.url, ctx)
        ran += 1
        if ran >= 250:
            break
    assert ran == 250
    assert len(http_target.seen) > 250

"""Real community templates that need callbacks, read in place from the corpus sample,
run against mock targets that behave like the vulnerable products (they make the
callback the payload asks for) and like patched ones (same answers, no callback)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shaobing.templates.loader import load_template
from shaobing.templates.oob import OobServer
from shaobing.templates.runner import execute
from tests.templates import oob_support
from tests.templates.conftest import MockHttp, Reply, Route, Seen, context_for
from tests.templates.oob_support import Vulnerable, request_text

CORPUS = Path("/work/shared/corpora/nuclei-templates")
pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus sample not present at {CORPUS}"
)

Routes = Callable[[Vulnerable | None], dict[str, Route | Reply]]


@pytest.fixture
def oob(monkeypatch: pytest.MonkeyPatch) -> Iterator[OobServer]:
    yield from oob_support.serve(monkeypatch)


def _processing(app: Vulnerable | None, reply: Reply) -> Route:
    """Answer ``reply``; a vulnerable product first processes the request's payload."""

    def route(seen: Seen) -> Reply:
        if app is not None:
            app.react(request_text(seen.method, seen.path, seen.headers, seen.body))
        return reply

    return route


OK: Reply = (200, {"Content-Type": "text/html"}, b"<html>ok</html>")
ERROR_500: Reply = (500, {"Content-Type": "text/html"}, b"500 Internal Server Error")


def _single(path: str, reply: Reply = OK) -> Routes:
    return lambda app: {path: _processing(app, reply)}


def _solr(app: Vulnerable | None) -> dict[str, Route | Reply]:
    cores = json.dumps({"status": {"collection1": {"name": "collection1"}}}).encode()
    failure = (
        500,
        {"Content-Type": "text/plain;charset=utf-8"},
        b"javax.management.remote.rmi.RMIConnectorServer: lookup failed",
    )
    return {
        "/solr/admin/cores": (200, {"Content-Type": "application/json"}, cores),
        "/solr/collection1/config": _processing(app, failure),
    }


CASES: dict[str, tuple[Routes, str]] = {
    "http/vulnerabilities/cisco/cisco-webex-log4j-rce.yaml": (
        _single("/orion/login"),
        "dns",
    ),
    "http/vulnerabilities/code42/code42-log4j-rce.yaml": (
        _single("/c42api/v3/LoginConfiguration"),
        "dns",
    ),
    "http/vulnerabilities/generic/generic-blind-xxe.yaml": (_single("/"), "http"),
    "http/vulnerabilities/fastjson/fastjson-1-2-24-rce.yaml": (
        _single("/", ERROR_500),
        "dns",
    ),
    "http/cves/2023/CVE-2023-51467.yaml": (
        _single(
            "/webtools/control/ProgramExport;/",
            (200, {"Set-Cookie": "OFBiz.Visitor=10000; Path=/"}, b"<html></html>"),
        ),
        "dns",
    ),
    "http/cves/2020/CVE-2020-26258.yaml": (_single("/"), "http"),
    "http/iot/targa-camera-ssrf.yaml": (_single("/cps/test_backup_server"), "http"),
    "http/cves/2019/CVE-2019-0192.yaml": (_solr, "dns"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_template_matches_a_product_that_calls_back(
    name: str, oob: OobServer, http_target: MockHttp
) -> None:
    routes, protocol = CASES[name]
    app = Vulnerable(oob)
    http_target.routes.update(routes(app))
    template = load_template(CORPUS / name, root=CORPUS)
    assert template.runnable, template.unsupported
    report = execute(template, http_target.url, context_for(http_target.url))
    assert report.results, (report.notes, app.calls, [s.path for s in http_target.seen])
    seen = {i.protocol for r in report.results for i in r.interactions}
    assert protocol in seen
    sent = b"".join(s.path.encode() + s.body for s in http_target.seen).decode("latin-1")
    assert "{{interactsh" not in sent


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_template_does_not_match_a_product_that_does_not_call_back(
    name: str, oob: OobServer, http_target: MockHttp
) -> None:
    routes, _ = CASES[name]
    http_target.routes.update(routes(None))
    template = load_template(CORPUS / name, root=CORPUS)
    report = execute(template, http_target.url, context_for(http_target.url))
    assert report.results == []
    assert http_target.seen  # the requests were sent; only the callback is missing
    sent = b"".join(s.path.encode() + s.body for s in http_target.seen).decode("latin-1")
    assert "{{interactsh" not in sent

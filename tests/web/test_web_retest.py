"""Retest (复测) of web findings: the same check on the same page and parameter."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.findings.models import Finding
from shaobing.findings.retest import retest_finding
from shaobing.web.retest import register_web_retest
from shaobing.web.service import WebScanRequest, execute_webscan, plan_webscan
from tests.findings.helpers import make_engagement
from tests.targets.http import MockHttpTarget, Request, Response

HTML = {"Content-Type": "text/html; charset=utf-8"}


class _Site:
    """A page reflecting ``q`` unescaped until fixed, and a version header until hidden."""

    def __init__(self) -> None:
        self.fixed = False

    def search(self, request: Request) -> Response:
        value = request.query.get("q", [""])[0]
        shown = html.escape(value) if self.fixed else value
        headers = dict(HTML)
        if not self.fixed:
            headers["X-Powered-By"] = "PHP/5.4.16"
        return Response(200, f"<html><body><p>结果：{shown}</p></body></html>", headers)

    def routes(self) -> dict[str, object]:
        index = Response(200, '<html><body><a href="/search?q=news">搜索</a></body></html>', HTML)
        return {"/": index, "/search": self.search}


@pytest.fixture
def site() -> Iterator[tuple[_Site, MockHttpTarget]]:
    register_web_retest()
    state = _Site()
    with MockHttpTarget(state.routes()) as target:  # type: ignore[arg-type]
        yield state, target


def _scan(engine: Engine, url: str) -> None:
    with session_scope(engine) as session:
        name = make_engagement(session).name
    scan_id, options = plan_webscan(engine, WebScanRequest(target=url, engagement=name), actor="t")
    options.allow = lambda check_id, _s: check_id in ("web.xss", "web.version-disclosure")
    execute_webscan(engine, scan_id, options, actor="t")


def _finding(engine: Engine, check_id: str) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalars(select(Finding.id).where(Finding.check_id == check_id)).one()


def test_retest_reruns_the_check_and_verifies_the_fix(
    engine: Engine, site: tuple[_Site, MockHttpTarget]
) -> None:
    state, target = site
    _scan(engine, target.url + "/")
    xss = _finding(engine, "web.xss-reflected")
    version = _finding(engine, "web.version-disclosure")
    with session_scope(engine) as session:
        finding = session.get(Finding, xss)
        assert finding is not None and finding.parameter == "query:q"
        assert retest_finding(session, finding, actor="t").detected
    state.fixed = True
    with session_scope(engine) as session:
        finding = session.get(Finding, xss)
        assert finding is not None
        result = retest_finding(session, finding, actor="t")
        assert not result.detected, result.evidence
        assert finding.status == "verified"
        # The page is fetched again for a page finding: X-Powered-By is gone, but the mock
        # server's own "Server: BaseHTTP/0.6 Python/3.11" still names a version.
        page = session.get(Finding, version)
        assert page is not None
        again = retest_finding(session, page, actor="t")
        assert again.detected and "BaseHTTP" in again.evidence
        assert page.status != "verified"


def test_findings_of_a_logged_in_scan_are_not_retested_without_a_session(
    engine: Engine, site: tuple[_Site, MockHttpTarget]
) -> None:
    _, target = site
    _scan(engine, target.url + "/")
    with session_scope(engine) as session:
        finding = session.get(Finding, _finding(engine, "web.xss-reflected"))
        assert finding is not None
        finding.extra = {**finding.extra, "authenticated": True}
        session.flush()
        with pytest.raises(ValidationError, match="登录"):
            retest_finding(session, finding, actor="t")

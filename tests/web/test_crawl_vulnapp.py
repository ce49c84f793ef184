"""The crawler against the deliberately vulnerable application: coverage and safety."""

from __future__ import annotations

from shaobing.cli.templates import build_context
from shaobing.web.scan import WebScanner, WebScanOptions
from tests.targets.vulnapp.fixture import VulnApp, vulnapp  # noqa: F401 - fixture
from tests.targets.vulnapp.manifest import load_manifest

# The requirement: the crawl reaches at least 95 % of the application's pages.
COVERAGE_GOAL = 0.95


def test_crawl_reaches_the_pages_and_triggers_nothing_destructive(vulnapp: VulnApp) -> None:  # noqa: F811
    manifest = load_manifest()
    vulnapp.reset()
    ctx = build_context([vulnapp.url], 3.0)
    options = WebScanOptions(
        timeout=2.0,
        max_pages=1000,
        login_url=vulnapp.url.rstrip("/") + manifest.login["path"],
        username=manifest.login["username"],
        password=manifest.login["password"],
        allow=lambda _id, _safety: False,
    )
    outcome = WebScanner(ctx, vulnapp.url, options).run()
    visited = [p.url for p in outcome.crawl.pages]
    pages = manifest.pages_for(vulnapp.backends, auth=True, hostile=False)
    unreached = [p.pattern for p in pages if not any(p.matches(u) for u in visited)]
    coverage = 1 - len(unreached) / len(pages)
    assert coverage >= COVERAGE_GOAL, (coverage, unreached)
    events = vulnapp.events()
    assert events["destructive"] == []
    assert events["requests"] == outcome.requests
    assert outcome.requests < 1500

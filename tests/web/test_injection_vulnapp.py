"""The injection checks (other than SQL injection) against the vulnerable application:
every manifest entry of their classes, vulnerable endpoint and safe twin alike, with the
request the manifest describes. A vulnerable entry must give its class on its parameter;
a safe twin must give nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from shaobing.web.callback import HttpCallback
from shaobing.web.checks import cmdi, crlf, redirect, ssi, ssrf, ssti, traversal, xss
from shaobing.web.checks.base import PointCheck
from shaobing.web.request import FORM_TYPE, JSON_TYPE, WebRequest
from tests.targets.vulnapp.fixture import VulnApp, vulnapp
from tests.targets.vulnapp.manifest import Entry, load_manifest
from tests.web.helpers import make_state, probe_for

__all__ = ["vulnapp"]

CHECKS: dict[str, PointCheck] = {
    "xss-reflected": xss.ReflectedXss(),
    "xss-stored": xss.ReflectedXss(),
    "path-traversal": traversal.PathTraversal(),
    "rfi": ssrf.ServerSideRequest(),
    "ssrf": ssrf.ServerSideRequest(),
    "open-redirect": redirect.OpenRedirect(),
    "ssi": ssi.SsiInjection(),
    "cmd-injection": cmdi.CommandInjection(),
    "ssti": ssti.TemplateInjection(),
    "crlf": crlf.CrlfInjection(),
}
# Most requests each check may send on one parameter (the module docstrings' counts,
# plus the baseline shared with other checks).
MOST_REQUESTS = {
    "xss-reflected": 1 + xss.MAX_CONTEXT_PAYLOADS,
    "xss-stored": 1 + xss.MAX_CONTEXT_PAYLOADS,
    "path-traversal": 1 + traversal.MAX_PAYLOADS,
    "rfi": 1,
    "ssrf": 1,
    "open-redirect": 5,
    "ssi": 1,
    "cmd-injection": len(cmdi.ECHO_FORMS) + cmdi.TIMING_SAMPLES + len(cmdi.TIME_FORMS) + 2,
    "ssti": 2 + 1 + len(ssti.SCREEN_1) + len(ssti.SCREEN_2) + 1,
    "crlf": 1 + len(crlf.BREAKS),
}
ENTRIES = [e for e in load_manifest().entries if e.vuln_class in CHECKS]


def _request(app: VulnApp, entry: Entry) -> WebRequest:
    """The request the manifest describes, with the entry's benign value."""
    assert entry.parameter is not None and entry.location is not None
    value = entry.sample(app.url) or ""
    url = app.url + entry.path
    fields = {**entry.extra, entry.parameter: value}
    if entry.location == "query":
        return WebRequest(entry.method, f"{url}?{urlencode(fields)}")
    if entry.location == "form":
        body = urlencode(fields).encode()
        return WebRequest(entry.method, url, (("Content-Type", FORM_TYPE),), body)
    if entry.location == "json":
        body = json.dumps(fields, ensure_ascii=False).encode()
        return WebRequest(entry.method, url, (("Content-Type", JSON_TYPE),), body)
    request = WebRequest(entry.method, url)
    if entry.location == "cookie":
        return request.with_header("Cookie", f"{entry.parameter}={value}")
    return request.with_header(entry.parameter, value)


@pytest.fixture(scope="module")
def listener() -> Iterator[HttpCallback]:
    with HttpCallback("127.0.0.1", 0) as running:
        yield running


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e.vuln_class != "xss-stored"], ids=lambda e: e.id
)
def test_manifest_entry(vulnapp: VulnApp, listener: HttpCallback, entry: Entry) -> None:
    if not entry.available(vulnapp.backends):
        pytest.skip(f"needs {entry.requires}")
    state = make_state(vulnapp.url, timeout=20)
    state.callback = listener
    state.options.update({"time_delay": 1, "callback_wait": 1})
    label = f"{entry.location}:{entry.parameter}"
    probe = probe_for(state, _request(vulnapp, entry), label)
    check = CHECKS[entry.vuln_class]
    issues = list(check.test(probe)) if check.applies(probe) else []
    assert state.client.requests <= MOST_REQUESTS[entry.vuln_class]
    if not entry.vulnerable:
        assert issues == [], [i.detail for i in issues]
        return
    [issue] = issues
    assert issue.kind in (entry.vuln_class, *entry.also)
    assert issue.parameter == label and issue.method == entry.method
    assert issue.request is not None and issue.response is not None
    assert issue.detail and "\n" not in issue.detail


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e.vuln_class == "xss-stored"], ids=lambda e: e.id
)
def test_manifest_stored_xss(vulnapp: VulnApp, entry: Entry) -> None:
    vulnapp.reset()
    state = make_state(vulnapp.url)
    request = _request(vulnapp, entry)
    labels = [f"form:{entry.parameter}", *(f"form:{name}" for name in entry.extra)]
    for label in labels:
        assert list(xss.ReflectedXss().test(probe_for(state, request, label))) == []
    assert entry.shown_at is not None
    pages = [vulnapp.url + "/", vulnapp.url + entry.shown_at, vulnapp.url + entry.path]
    found = list(xss.find_stored(state, pages))
    if not entry.vulnerable:
        assert found == []
        return
    assert sorted(i.parameter or "" for i in found) == sorted(labels)
    for issue in found:
        assert issue.kind == "xss-stored" and issue.url == vulnapp.url + entry.path
        assert issue.extra["shown_at"] == vulnapp.url + entry.shown_at

"""What a web check reports (:class:`WebIssue`), the thread-safe collector, and the finding.

Every issue keeps the exact request and response that prove it (secrets masked, cut to
:data:`MAX_EVIDENCE` characters) and a ``curl`` command that reproduces it. Site-wide
issues (a missing header on many pages) are reported once per site with the affected
URLs listed, not once per page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shaobing.findings.importers.base import FindingInput
from shaobing.findings.severity import Severity
from shaobing.web.client import WebResponse
from shaobing.web.request import WebRequest, curl_command, request_text
from shaobing.web.texts import Catalogue, catalogue
from shaobing.web.urls import strip_query_values

SOURCE_TOOL = "shaobing-webscan"
CHECK_PREFIX = "web."
# Longest request and response text kept in a finding (organisation-defined).
MAX_EVIDENCE = 4000
# Affected URLs listed in a site-wide issue (the count is always given).
MAX_AFFECTED = 20


@dataclass
class WebIssue:
    """One problem found by a web check."""

    kind: str
    """Finding class: a key of ``web/data/checks.yaml`` (``sqli``, ``xss-reflected``, ...)."""
    url: str
    method: str = "GET"
    parameter: str | None = None
    """``location:name`` of the vulnerable parameter (``query:id``), if any."""
    detail: str = ""
    """One or two lines (Chinese) saying what was observed."""
    request: WebRequest | None = None
    response: WebResponse | None = None
    confidence: str = "confirmed"
    extra: dict[str, Any] = field(default_factory=dict)
    site_wide: bool = False
    affected: list[str] = field(default_factory=list)
    severity: Severity | None = None

    def key(self) -> tuple[str, str, str, str]:
        """Identity for de-duplication within one scan."""
        if self.site_wide:
            parts = urlsplit(self.url)
            return (self.kind, f"{parts.scheme}://{parts.netloc}", "", self.extra_key())
        return (self.kind, self.method, strip_query_values(self.url), self.parameter or "")

    def extra_key(self) -> str:
        """Part of the identity given by the check (e.g. the header name)."""
        return str(self.extra.get("key", ""))


class IssueSink:
    """Collects issues from many threads, merging duplicates and site-wide repeats."""

    def __init__(self) -> None:
        self._issues: dict[tuple[str, str, str, str], WebIssue] = {}
        self._lock = threading.Lock()

    def add(self, issue: WebIssue) -> bool:
        """Record ``issue``; False when an equal one was already recorded (a site-wide
        repeat only adds its URL to the affected list)."""
        key = issue.key()
        with self._lock:
            known = self._issues.get(key)
            if known is None:
                if issue.site_wide and issue.url not in issue.affected:
                    issue.affected.insert(0, issue.url)
                self._issues[key] = issue
                return True
            if known.site_wide and issue.url not in known.affected:
                known.affected.append(issue.url)
            return False

    def has(self, kind: str, method: str, url: str, parameter: str | None) -> bool:
        """Whether an issue of ``kind`` is already known for this parameter."""
        key = (kind, method, strip_query_values(url), parameter or "")
        with self._lock:
            return key in self._issues

    def issues(self) -> list[WebIssue]:
        """Every recorded issue, most severe first, then by URL."""
        texts = catalogue()
        with self._lock:
            items = list(self._issues.values())
        return sorted(
            items,
            key=lambda i: (-(i.severity or texts.text(i.kind).severity).rank, i.url, i.kind),
        )


def _clip(text: str, limit: int = MAX_EVIDENCE) -> str:
    return text if len(text) <= limit else text[:limit] + "\n…（已截断）"


def response_text(response: WebResponse) -> str:
    """Status line, headers and the start of the body (as text)."""
    head = response.head or f"HTTP/1.1 {response.status}\r\n"
    body = response.text
    return _clip(head + "\r\n" + body)


def evidence(issue: WebIssue) -> str:
    """The finding's evidence: what was seen, the affected URLs, request, response, curl."""
    parts = [issue.detail] if issue.detail else []
    if issue.site_wide and issue.affected:
        shown = issue.affected[:MAX_AFFECTED]
        more = len(issue.affected) - len(shown)
        parts.append(f"涉及 {len(issue.affected)} 个地址：" + "、".join(shown))
        if more > 0:
            parts[-1] += f" 等（另有 {more} 个）"
    if issue.request is not None:
        parts.append("请求：\n" + _clip(request_text(issue.request)))
    if issue.response is not None:
        parts.append("响应：\n" + response_text(issue.response))
    if issue.request is not None:
        parts.append("复现命令：\n" + curl_command(issue.request))
    return "\n\n".join(parts)


def finding_input(issue: WebIssue, texts: Catalogue | None = None) -> FindingInput:
    """The finding recorded for ``issue`` (through the one ingest path)."""
    texts = texts or catalogue()
    text = texts.text(issue.kind)
    parts = urlsplit(issue.url)
    default_port = 443 if parts.scheme == "https" else 80
    url = f"{parts.scheme}://{parts.netloc}/" if issue.site_wide else strip_query_values(issue.url)
    extra: dict[str, Any] = {
        "owasp": text.owasp,
        "owasp_name": texts.owasp_label(issue.kind),
        "method": issue.method,
        "web_class": issue.kind,
        **{k: v for k, v in issue.extra.items() if k != "key"},
    }
    if issue.request is not None:
        extra["curl"] = curl_command(issue.request)
    if issue.affected:
        extra["affected"] = issue.affected[:200]
    description = f"{text.description}\n影响：{text.impact}"
    return FindingInput(
        source_tool=SOURCE_TOOL,
        check_id=CHECK_PREFIX + issue.kind,
        title=text.title,
        severity=issue.severity or text.severity,
        description=description,
        remediation=text.remediation,
        host=parts.hostname,
        port=parts.port or default_port,
        protocol="tcp",
        url=url,
        parameter=issue.parameter,
        cvss_v3_vector=text.cvss,
        cwe_ids=list(text.cwe),
        references=list(text.references),
        evidence=evidence(issue),
        confidence=issue.confidence,
        extra=extra,
    )

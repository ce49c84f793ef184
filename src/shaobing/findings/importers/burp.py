"""Burp Suite XML issues export (``<issues burpVersion="...">``).

Each ``<issue>`` is a finding: the numeric issue type is the check id, the URL is the
site origin plus the issue's location, and a parameter named in the location
(``/search.php [q parameter]``) becomes the finding's parameter. Burp's HTML texts are
turned into plain text; CWE ids come from the vulnerability classifications; the first
request and response (base64-decoded) are kept as evidence, each cut to 20,000 chars.

Findings carry the URL but no separate host: the resolved IP Burp records is kept in
``extra`` only, because several sites may share one address and coverage must stay per
site. Coverage is the set of site origins in the file.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import Element

from shaobing.findings.importers._xml import (
    EVIDENCE_LIMIT,
    child_text,
    clean,
    cwe_ids,
    fail,
    iter_xml,
    sniff_root,
    truncate,
    unique,
)
from shaobing.findings.importers.base import CoverageInput, FindingInput, Importer, Record
from shaobing.findings.severity import Severity, parse_severity

TOOL = "burp"
_ISSUE_PATH = ("issues", "issue")
_SIMPLE_PARAM_RE = re.compile(r"^(?P<name>\S+) (?:parameter|cookie)$")
_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "ul",
    "ol",
    "li",
    "tr",
    "table",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
}
_SKIP_TAGS = {"script", "style"}
# Each of the first request and response is cut to EVIDENCE_LIMIT characters.
_MAX_MESSAGES = 2
_SEPARATOR = "\n\n" + "-" * 40 + "\n\n"


class BurpImporter(Importer):
    """Burp Suite "Report issues" / "Export issues" XML."""

    name: ClassVar[str] = "burp"
    label: ClassVar[str] = "Burp Suite XML"
    suffixes: ClassVar[tuple[str, ...]] = (".xml",)

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Root ``<issues>`` with Burp's ``burpVersion`` attribute or ``<issue>`` children."""
        return sniff_root(head) == "issues" and (b"burpVersion" in head or b"<issue>" in head)

    def parse(self, path: Path) -> Iterator[Record]:
        """One finding per issue, then the site origins as coverage."""
        origins: list[str] = []
        events = iter_xml(
            path, roots={"issues"}, format_label=self.label, capture=lambda p: p == _ISSUE_PATH
        )
        for index, event in enumerate(events, start=1):
            finding, origin = _issue(path, event.elem, index)
            if origin:
                origins.append(origin)
            yield finding
        yield CoverageInput(urls=unique(origins))


def _issue(path: Path, elem: Element, index: int) -> tuple[FindingInput, str | None]:
    issue_type = child_text(elem, "type")
    title = child_text(elem, "name")
    if issue_type is None and title is None:
        raise fail(path, "missing_field", element="<issue>", index=index, field="type")
    host_elem = elem.find("host")
    origin_text = clean(host_elem.text) if host_elem is not None else None
    origin = origin_text.rstrip("/") if origin_text else None
    ip = clean(host_elem.get("ip")) if host_elem is not None else None
    issue_path = child_text(elem, "path")
    location = child_text(elem, "location")
    url_path, parameter = _where(issue_path, location)
    url = None
    if origin:
        url = origin + (url_path if url_path.startswith("/") or not url_path else f"/{url_path}")
    severity_text = (child_text(elem, "severity") or "").strip()
    false_positive = severity_text.lower() == "false positive"
    severity = Severity.INFO if false_positive else parse_severity(severity_text)
    detail, _ = html_to_text(child_text(elem, "issueDetail"))
    items = [
        text
        for item in elem.findall("issueDetailItems/issueDetailItem")
        if (text := html_to_text("".join(item.itertext()))[0])
    ]
    if items:
        detail = "\n".join(x for x in (detail, *(f"- {i}" for i in items)) if x)
    background, _ = html_to_text(child_text(elem, "issueBackground"))
    remediation_detail, _ = html_to_text(child_text(elem, "remediationDetail"))
    remediation_background, _ = html_to_text(child_text(elem, "remediationBackground"))
    _, reference_links = html_to_text(child_text(elem, "references"))
    classifications = child_text(elem, "vulnerabilityClassifications")
    pairs = elem.findall("requestresponse")
    extra: dict[str, object] = {
        key: value
        for key, value in {
            "ip": ip,
            "location": location,
            "serial_number": child_text(elem, "serialNumber"),
            "severity": severity_text or None,
            "request_responses": len(pairs) or None,
            "collaborator": _collaborator(elem) or None,
        }.items()
        if value is not None
    }
    finding = FindingInput(
        source_tool=TOOL,
        check_id=issue_type or title or "",
        title=title or issue_type or "",
        severity=severity,
        description=_join(detail, background),
        remediation=_join(remediation_detail, remediation_background),
        url=url,
        parameter=parameter,
        cwe_ids=cwe_ids([classifications]),
        references=unique(reference_links),
        # Collaborator interactions carry the request the target made, when Burp has
        # no request/response of its own for the issue.
        evidence=_evidence(pairs or elem.findall("collaboratorEvent/requestresponse")),
        confidence=child_text(elem, "confidence"),
        false_positive=false_positive,
        extra=extra,
    )
    return finding, origin


def _where(path: str | None, location: str | None) -> tuple[str, str | None]:
    """(URL path, parameter) from Burp's path and location.

    The location is the path plus, in brackets, where in the request the issue is; it can
    also be another file than the request path (a backup copy found next to it).
    """
    base = path or ""
    if not location or location == base:
        return base, None
    # "/path [name parameter]", "/path [name cookie]", "/path [Referer HTTP header]", ...
    # (string operations, not a regex: locations are attacker-influenced text)
    start = location.rfind("[")
    inside = location[start + 1 : -1].strip() if location.endswith("]") and start > 0 else ""
    if not inside or "]" in inside or not location[start - 1].isspace():
        return (location if location.startswith("/") else base), None
    simple = _SIMPLE_PARAM_RE.match(inside)
    where = location[:start].strip() or base
    return where, (simple.group("name") if simple else inside)


def _join(*parts: str | None) -> str | None:
    return "\n\n".join(p for p in parts if p) or None


def _collaborator(elem: Element) -> list[dict[str, str]]:
    events = []
    for event in elem.findall("collaboratorEvent"):
        fields = {
            name: text
            for name in ("interactionType", "originIp", "time", "lookupType", "lookupHost")
            if (text := child_text(event, name))
        }
        if fields:
            events.append(fields)
    return events


def _evidence(pairs: list[Element]) -> str | None:
    messages: list[str] = []
    for pair in pairs:
        for tag in ("request", "response"):
            message = pair.find(tag)
            if message is not None and (text := _message(message)):
                messages.append(text)
        if len(messages) >= _MAX_MESSAGES:
            break
    return _SEPARATOR.join(messages[:_MAX_MESSAGES]) or None


def _message(elem: Element) -> str | None:
    """An HTTP message as text, base64-decoded when Burp encoded it, cut to the limit."""
    text = elem.text or ""
    if elem.get("base64", "false").lower() != "true":
        return truncate(clean(text))
    data = "".join(text.split())
    # Decode no more than the limit needs: 4 base64 characters carry 3 bytes.
    data = data[: (EVIDENCE_LIMIT // 3 + 2) * 4]
    data = data[: len(data) - len(data) % 4]
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    return truncate(clean(raw.decode("utf-8", errors="replace")))


# --------------------------------------------------------------------------- HTML
class _TextParser(HTMLParser):
    """Collects the text and the link targets of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href")
            if href and href.strip().lower().startswith(("http://", "https://")):
                self.links.append(href.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS and tag != "li":  # an item's line starts at the next <li>
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(fragment: str | None) -> tuple[str | None, list[str]]:
    """Plain text (entities decoded, tags dropped, blocks on their own lines) and links."""
    if not fragment:
        return None, []
    parser = _TextParser()
    try:
        parser.feed(fragment)
        parser.close()
        text = "".join(parser.parts)
    except (AssertionError, ValueError):
        # HTMLParser can still trip over broken declarations; fall back to a blunt strip.
        text = html.unescape(re.sub(r"<[^>]*>", " ", fragment))
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return clean(joined), parser.links

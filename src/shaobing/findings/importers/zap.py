"""OWASP ZAP reports: the traditional XML report and the traditional JSON report.

Both carry ``site`` → ``alerts`` → alert (pluginid, alertRef, name, riskcode, confidence,
desc, solution, reference, cweid, wascid) → ``instances`` (uri, method, param, attack,
evidence, otherinfo, and in the "plus" variants the request/response). One finding is
produced per instance; coverage is the origin of every site in the report.

ZAP has no stable per-instance id (the JSON ``id`` of an instance is a database row of
that session), so ``tool_unique_id`` stays empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from xml.etree.ElementTree import Element

from shaobing.findings.importers import _web as w
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    Importer,
    ImportFormatError,
    Record,
)
from shaobing.findings.severity import Severity, parse_severity

_RISK = {"0": Severity.INFO, "1": Severity.LOW, "2": Severity.MEDIUM, "3": Severity.HIGH}
# ZAP confidence codes; 0 is ZAP's own "false positive" mark set by the user.
_CONFIDENCE = {"0": "false_positive", "1": "low", "2": "medium", "3": "high", "4": "confirmed"}
_JSON_HEAD = re.compile(r'"@(?:generated|programName|version)"\s*:')
_JSON_SITE = re.compile(r'"site"\s*:\s*[\[{]')


@dataclass(frozen=True)
class _Site:
    name: str | None
    host: str | None
    port: int | None

    @property
    def origin(self) -> str | None:
        origin = w.origin_of(self.name)
        if origin is None and self.host:
            scheme = "https" if self.port == 443 else "http"
            port = "" if self.port in (None, 80, 443) else f":{self.port}"
            origin = f"{scheme}://{self.host.lower()}{port}"
        return origin


class ZapImporter(Importer):
    """OWASP ZAP traditional XML (``<OWASPZAPReport>``) and traditional JSON reports."""

    name: ClassVar[str] = "zap"
    label: ClassVar[str] = "OWASP ZAP (XML / JSON)"
    suffixes: ClassVar[tuple[str, ...]] = (".xml", ".json")
    priority: ClassVar[int] = 10

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Root element ``OWASPZAPReport``, or a JSON object with ZAP's ``@`` keys and sites."""
        text = w.sniff_text(head)
        if text.startswith("<"):
            return w.xml_root_name(head) == "OWASPZAPReport"
        if text.startswith("{"):
            return bool(_JSON_HEAD.search(text) and _JSON_SITE.search(text))
        return False

    def parse(self, path: Path) -> Iterator[Record]:
        """Findings per alert instance, then one coverage record with the site origins."""
        kind = w.first_char(path)
        if kind == "<":
            yield from self._parse_xml(path)
        elif kind == "{":
            yield from self._parse_json(path)
        else:
            raise ImportFormatError(path, w.problem("not_xml_or_json"))

    # ---------------------------------------------------------------- XML

    def _parse_xml(self, path: Path) -> Iterator[Record]:
        origins: list[str] = []
        for elem, ancestors in w.iter_xml(
            path, roots=frozenset({"OWASPZAPReport"}), records=frozenset({"alertitem", "site"})
        ):
            if w.local_name(elem.tag) == "site":
                _add(origins, _xml_site(elem).origin)
                continue
            site = next(
                (_xml_site(a) for a in reversed(ancestors) if w.local_name(a.tag) == "site"),
                _Site(None, None, None),
            )
            alert: dict[str, Any] = dict(w.children_text(elem))
            alert["tags"] = [w.children_text(tag) for tag in elem.iterfind("tags/tag") if len(tag)]
            instances = [w.children_text(i) for i in elem.iterfind("instances/instance")]
            yield from _findings(path, site, alert, instances)
        if origins:
            yield CoverageInput(urls=origins)

    # --------------------------------------------------------------- JSON

    def _parse_json(self, path: Path) -> Iterator[Record]:
        data = w.load_json(path)
        if not isinstance(data, dict) or "site" not in data:
            raise ImportFormatError(path, w.problem("zap_json_shape"))
        origins: list[str] = []
        for site_obj in _objects(path, data["site"], "site"):
            site = _Site(
                w.text(site_obj.get("@name")),
                w.text(site_obj.get("@host")),
                w.port_number(site_obj.get("@port")),
            )
            _add(origins, site.origin)
            for alert in _objects(path, site_obj.get("alerts"), "alerts"):
                instances = _objects(path, alert.get("instances"), "instances")
                yield from _findings(path, site, alert, instances)
        if origins:
            yield CoverageInput(urls=origins)


def _xml_site(elem: Element) -> _Site:
    return _Site(
        w.text(elem.get("name")), w.text(elem.get("host")), w.port_number(elem.get("port"))
    )


def _objects(path: Path, value: object, field: str) -> list[dict[str, Any]]:
    """A list of JSON objects (a lone object counts as a list of one)."""
    items = w.as_list(value)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ImportFormatError(path, w.problem("item_not_object", field=field, index=index))
    return items


def _add(values: list[str], value: str | None) -> None:
    if value is not None and value not in values:
        values.append(value)


def _get(mapping: Mapping[str, Any], *keys: str) -> str | None:
    """First non-empty text among the keys (XML and JSON spell some keys differently)."""
    for key in keys:
        value = w.text(mapping.get(key))
        if value is not None:
            return value
    return None


def _raw(mapping: Mapping[str, Any], *keys: str) -> Any:
    """The first present value among the keys, untouched (indentation matters to dedent)."""
    for key in keys:
        if w.text(mapping.get(key)) is not None:
            return mapping[key]
    return None


def _findings(
    path: Path, site: _Site, alert: Mapping[str, Any], instances: list[dict[str, Any]]
) -> Iterator[FindingInput]:
    plugin_id = _get(alert, "pluginid")
    alert_ref = _get(alert, "alertRef")
    title = _get(alert, "name", "alert")
    # alertRef tells apart the variants one rule raises (e.g. 10020-1 / 10020-2).
    check_id = alert_ref or plugin_id or title
    if check_id is None:
        raise ImportFormatError(path, w.problem("zap_alert_unnamed"))
    risk = _get(alert, "riskcode")
    riskdesc = _get(alert, "riskdesc")
    severity = _RISK.get(risk or "") or parse_severity(riskdesc.split("(")[0] if riskdesc else None)
    confidence = _CONFIDENCE.get(_get(alert, "confidence") or "")
    wasc = w.cwe_id(alert.get("wascid"))  # same "positive integer or none" rule as CWE
    tags = [tag for tag in w.as_list(alert.get("tags")) if isinstance(tag, dict)]
    description = w.html_to_text(alert.get("desc"))
    remediation = w.html_to_text(alert.get("solution"))
    references = w.urls_in(alert.get("reference"), *(tag.get("link") for tag in tags))
    cwes = w.cwe_ids(alert.get("cweid"))
    extra: dict[str, Any] = {"plugin_id": plugin_id}
    if alert_ref and alert_ref != plugin_id:
        extra["alert_ref"] = alert_ref
    if wasc is not None:
        extra["wasc_id"] = wasc
    tag_names = [name for tag in tags if (name := w.text(tag.get("tag")))]
    if tag_names:
        extra["tags"] = tag_names
    # Reports before ZAP 2.6 put uri/param/attack on the alert itself, without instances.
    for instance in instances or [dict(alert)]:
        url = _get(instance, "uri") or site.name
        where = w.split_url(url)
        port = where.port if where.host else site.port
        method = _get(instance, "method")
        yield FindingInput(
            source_tool="zap",
            check_id=check_id[:300],
            title=(title or check_id)[:1000],
            severity=severity,
            description=description,
            remediation=remediation,
            host=where.host or (site.host.lower() if site.host else None),
            port=port,
            protocol="tcp" if port else None,
            url=url,
            parameter=_get(instance, "param"),
            cwe_ids=list(cwes),
            references=list(references),
            evidence=w.evidence(
                [
                    ("attack", instance.get("attack")),
                    ("evidence", instance.get("evidence")),
                    (
                        "otherinfo",
                        w.html_to_text(instance.get("otherinfo") or alert.get("otherinfo")),
                    ),
                    ("request-header", _raw(instance, "request-header", "requestheader")),
                    ("request-body", _raw(instance, "request-body", "requestbody")),
                    ("response-header", _raw(instance, "response-header", "responseheader")),
                    ("response-body", _raw(instance, "response-body", "responsebody")),
                ]
            ),
            confidence=confidence,
            false_positive=confidence == "false_positive",
            extra=extra | ({"method": method} if method else {}),
        )

"""Acunetix reports: the AWVS XML export and the Acunetix 360 JSON report.

XML (``<ScanGroup>`` → ``<Scan>`` → ``<ReportItems>`` → ``<ReportItem>``): one finding per
report item; ``Affects`` is a path under the scan's ``StartURL``. The ``id`` attribute of a
report item is its position in that export, so it is not a ``tool_unique_id``.

JSON (``{"Generated", "Target", "Vulnerabilities": [...]}``, the Acunetix 360 / Invicti
Enterprise layout): one finding per vulnerability. ``LookupId`` is used as
``tool_unique_id``: it names the issue record Acunetix 360 keeps per website across scans
(its ``/issues/detail/<LookupId>`` page), which is why the same object carries
``FirstSeenDate``/``LastSeenDate`` spanning several scans and a triage ``State`` that
outlives one scan; the per-run id is ``Target.ScanId``, which is not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
from shaobing.findings.severity import parse_severity

_JSON_GENERATED = re.compile(r'"Generated"\s*:')
_JSON_TARGET = re.compile(r'"Target"\s*:\s*\{')
_JSON_VULNS = re.compile(r'"Vulnerabilities"\s*:\s*\[')
_TRUE = frozenset({"true", "1", "yes"})


class AcunetixImporter(Importer):
    """Acunetix / AWVS XML export and Acunetix 360 JSON report."""

    name: ClassVar[str] = "acunetix"
    label: ClassVar[str] = "Acunetix (AWVS XML / Acunetix 360 JSON)"
    suffixes: ClassVar[tuple[str, ...]] = (".xml", ".json")
    priority: ClassVar[int] = 10

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """Root element ``ScanGroup``, or a JSON object with Generated, Target{} and
        Vulnerabilities[] (Trivy also has "Target" and "Vulnerabilities", but as a string
        inside "Results")."""
        text = w.sniff_text(head)
        if text.startswith("<"):
            return w.xml_root_name(head) == "ScanGroup"
        if text.startswith("{"):
            return bool(
                _JSON_GENERATED.search(text)
                and _JSON_TARGET.search(text)
                and _JSON_VULNS.search(text)
            )
        return False

    def parse(self, path: Path) -> Iterator[Record]:
        """Findings, then one coverage record with the scanned origins."""
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
        finding_origins: list[str] = []
        for elem, ancestors in w.iter_xml(
            path,
            roots=frozenset({"ScanGroup"}),
            records=frozenset({"ReportItem", "Scan"}),
            # The crawler's site tree can dwarf the findings and is not needed.
            drop=frozenset({"Crawler"}),
        ):
            if w.local_name(elem.tag) == "Scan":
                start = w.origin_of(w.child_text(elem, "StartURL"))
                # Exports without a StartURL: the sites the findings name are the coverage.
                for origin in [start] if start else finding_origins:
                    _add(origins, origin)
                finding_origins = []
                continue
            scan = next((a for a in reversed(ancestors) if w.local_name(a.tag) == "Scan"), None)
            start_url = w.child_text(scan, "StartURL") if scan is not None else None
            finding = _xml_finding(path, elem, start_url)
            _add(finding_origins, w.origin_of(finding.url))
            yield finding
        for origin in finding_origins:  # report items outside any <Scan>
            _add(origins, origin)
        if origins:
            yield CoverageInput(urls=origins)

    # --------------------------------------------------------------- JSON

    def _parse_json(self, path: Path) -> Iterator[Record]:
        data = w.load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("Vulnerabilities"), list):
            raise ImportFormatError(path, w.problem("acunetix_json_shape"))
        origins: list[str] = []
        target = w.origin_of(w.as_dict(data.get("Target")).get("Url"))
        _add(origins, target)
        for index, item in enumerate(data["Vulnerabilities"]):
            if not isinstance(item, dict):
                raise ImportFormatError(
                    path, w.problem("item_not_object", field="Vulnerabilities", index=index)
                )
            finding = _json_finding(path, item)
            if target is None:  # no Target.Url: the sites the findings name are the coverage
                _add(origins, w.origin_of(finding.url))
            yield finding
        if origins:
            yield CoverageInput(urls=origins)


def _add(values: list[str], value: str | None) -> None:
    if value is not None and value not in values:
        values.append(value)


def _xml_finding(path: Path, item: Element, start_url: str | None) -> FindingInput:
    name = w.child_text(item, "Name")
    check_id = name or w.child_text(item, "ModuleName")
    if check_id is None:
        raise ImportFormatError(path, w.problem("acunetix_item_unnamed"))
    affects = w.child_text(item, "Affects")
    # "Affects" is a path on the scanned site; "Web Server" and the like mean the site itself.
    url = w.join_url(start_url, affects if affects and affects.startswith("/") else None)
    if affects and "://" in affects:
        url = affects
    where = w.split_url(url)
    cves = [
        cve.text or f"CVE-{cve.get('year', '')}-{cve.get('id', '')}"
        for cve in item.iterfind("CVEList/CVE")
    ]
    cwes = [cwe.get("id") or cwe.text for cwe in item.iterfind("CWEList/CWE")]
    v3, v4, score3, score4 = None, None, None, None
    for cvss in item:
        if not w.local_name(cvss.tag).upper().startswith("CVSS"):
            continue
        found3, found4 = w.cvss_vector(cvss.findtext("Descriptor"))
        if found3 and v3 is None:
            v3, score3 = found3, w.cvss_score(cvss.findtext("Score"))
        if found4 and v4 is None:
            v4, score4 = found4, w.cvss_score(cvss.findtext("Score"))
    extra: dict[str, Any] = {}
    for key, tag in (("module", "ModuleName"), ("type", "Type"), ("affects", "Affects")):
        value = w.child_text(item, tag)
        if value:
            extra[key] = value
    impact = w.html_to_text(item.findtext("Impact"))
    if impact:
        extra["impact"] = w.clip(impact, 2000)
    cvss2 = w.child_text(item, "CVSS/Descriptor")
    if cvss2 and not cvss2.startswith("CVSS:"):
        extra["cvss_v2_vector"] = cvss2[:200]
    return FindingInput(
        source_tool="acunetix",
        check_id=check_id[:300],
        title=(name or check_id)[:1000],
        severity=parse_severity(w.child_text(item, "Severity")),
        description=w.join_text(
            w.html_to_text(item.findtext("Description")),
            w.html_to_text(item.findtext("DetailedInformation")),
        ),
        remediation=w.html_to_text(item.findtext("Recommendation")),
        host=where.host,
        port=where.port,
        protocol="tcp" if where.port else None,
        url=url,
        parameter=w.child_text(item, "Parameter"),
        file_path=w.child_text(item, "AOP_SourceFile"),
        line=w.positive_int(item.findtext("AOP_SourceLine")),
        cvss_v3_vector=v3,
        cvss_v3_score=score3,
        cvss_v4_vector=v4,
        cvss_v4_score=score4,
        cve_ids=w.cve_ids(cves),
        cwe_ids=w.cwe_ids(cwes),
        references=w.urls_in(*(r.findtext("URL") for r in item.iterfind("References/Reference"))),
        evidence=w.evidence(
            [
                ("Details", w.html_to_text(item.findtext("Details"))),
                ("Request", item.findtext("TechnicalDetails/Request")),
                ("Response", item.findtext("TechnicalDetails/Response")),
            ]
        ),
        false_positive=(w.child_text(item, "IsFalsePositive") or "").lower() in _TRUE,
        extra=extra,
    )


def _json_finding(path: Path, item: dict[str, Any]) -> FindingInput:
    name = w.text(item.get("Name"))
    check_id = w.text(item.get("Type")) or name
    if check_id is None:
        raise ImportFormatError(path, w.problem("acunetix_item_unnamed"))
    url = w.text(item.get("Url"))
    where = w.split_url(url)
    classification = w.as_dict(item.get("Classification"))
    v3, v4, score3, score4 = None, None, None, None
    # Cvss31 before Cvss (3.0); any later "Cvss4…" block is picked up the same way.
    for key in sorted((k for k in classification if k.lower().startswith("cvss")), reverse=True):
        cvss = w.as_dict(classification[key])
        found3, found4 = w.cvss_vector(cvss.get("Vector"))
        score = w.cvss_score(w.as_dict(cvss.get("BaseScore")).get("Value"))
        if found3 and v3 is None:
            v3, score3 = found3, score
        if found4 and v4 is None:
            v4, score4 = found4, score
    request = w.as_dict(item.get("HttpRequest"))
    response = w.as_dict(item.get("HttpResponse"))
    parameter = next(
        (
            w.text(p.get("Name"))
            for p in w.as_list(request.get("Parameters"))
            if isinstance(p, dict) and p.get("Vulnerable") is True
        ),
        None,
    )
    states = {s.strip().lower() for s in (w.text(item.get("State")) or "").split(",")}
    certainty = w.text(item.get("Certainty"))
    confidence = "confirmed" if item.get("Confirmed") is True else None
    if confidence is None and certainty:
        confidence = f"{certainty[:8]}%"
    extra_info = [
        f"{w.text(e.get('Name'))}: {w.text(e.get('Value'))}"
        for e in w.as_list(item.get("ExtraInformation"))
        if isinstance(e, dict) and w.text(e.get("Name"))
    ]
    extra: dict[str, Any] = {}
    for key, value in (
        ("state", item.get("State")),
        ("owasp", classification.get("Owasp")),
        ("wasc", classification.get("Wasc")),
    ):
        if found := w.text(value):
            extra[key] = found[:200]
    impact = w.html_to_text(item.get("Impact"))
    if impact:
        extra["impact"] = w.clip(impact, 2000)
    known = w.as_list(item.get("KnownVulnerabilities"))
    return FindingInput(
        source_tool="acunetix",
        check_id=check_id[:300],
        title=(name or check_id)[:1000],
        severity=parse_severity(w.text(item.get("Severity"))),
        description=w.html_to_text(item.get("Description")),
        remediation=w.join_text(
            w.html_to_text(item.get("RemedialActions")),
            w.html_to_text(item.get("RemedialProcedure")),
        ),
        host=where.host,
        port=where.port,
        protocol="tcp" if where.port else None,
        url=url,
        parameter=parameter,
        cvss_v3_vector=v3,
        cvss_v3_score=score3,
        cvss_v4_vector=v4,
        cvss_v4_score=score4,
        cve_ids=w.cve_ids(*(_known_titles(known))),
        cwe_ids=w.cwe_ids(classification.get("Cwe")),
        references=w.urls_in(item.get("ExternalReferences"), item.get("RemedyReferences")),
        evidence=w.evidence(
            [
                ("ProofOfConcept", w.html_to_text(item.get("ProofOfConcept"))),
                ("ExtraInformation", "\n".join(extra_info)),
                ("HttpRequest", request.get("Content")),
                ("HttpResponse", response.get("Content")),
            ]
        ),
        tool_unique_id=(w.text(item.get("LookupId")) or "")[:300] or None,
        confidence=confidence,
        false_positive="falsepositive" in states,
        risk_accepted="acceptedrisk" in states,
        extra=extra,
    )


def _known_titles(known: list[Any]) -> list[str]:
    """Texts of the known-vulnerability entries (their titles name the CVEs)."""
    out: list[str] = []
    for entry in known:
        if isinstance(entry, dict):
            out.extend(t for value in entry.values() if (t := w.text(value)))
        elif (t := w.text(entry)) is not None:
            out.append(t)
    return out

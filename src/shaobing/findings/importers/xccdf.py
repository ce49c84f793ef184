"""OpenSCAP results: XCCDF 1.1/1.2 result documents and ARF (Asset Reporting Format).

Accepted documents:

* ``oscap xccdf eval --results FILE``: a ``<Benchmark>`` (XCCDF 1.2, or 1.1 from plain
  XCCDF content) whose rules are followed by one or more ``<TestResult>``;
* a bare ``<TestResult>`` (no rule texts: the title is then the rule id);
* ``oscap xccdf eval --results-arf FILE``: an ``arf:asset-report-collection`` whose report
  requests embed the source data stream (hence the Benchmark and its rules), whose assets
  name the scanned machine (addresses, FQDN, host name), and whose reports hold the XCCDF
  ``<TestResult>`` (OVAL result reports next to it are skipped).

Each ``rule-result`` is counted; which ones become findings (source tool ``openscap``,
check id = the rule id):

* ``fail``: a finding at the rule-result's ``severity`` (XCCDF high/medium/low/info; the
  XCCDF default ``unknown`` means "the content author gave none" and becomes 低 rather
  than 信息, so a confirmed failure is never filed as mere information);
* ``error`` and ``unknown``: the check could not decide. They become 信息-level findings
  with confidence ``low``. Dropping them would make a re-import close a rule that failed
  before and now merely errored as "fixed", which it was not shown to be; keeping them at
  the rule's own severity would file unconfirmed work orders;
* ``pass``/``fixed`` (compliant), ``notapplicable``, ``notchecked``, ``notselected`` and
  ``informational`` are not findings; the scanned host is still reported as coverage, so a
  re-import closes findings of rules that now pass.

Rule texts (title, description, rationale, fix text, warnings) are XHTML: they are turned
into plain text from the parsed element tree (markup dropped, line structure kept), never
by running an HTML parser over strings. ``<sub>`` placeholders take the TestResult's
``set-value`` (else the Value's default). When the rule has no ``<fixtext>``, its shell
``<fix>`` script is the remediation. ``<ident>`` ids (CCE, STIG ids) and the references of
the main standards (NIST SP 800-53/171, CIS, PCI DSS, DISA, ANSSI) go into references;
every reference is kept in ``extra["standards"]``.

The host is the first routable target address (IPv4 before IPv6; loopback, link-local and
unspecified addresses are skipped), else the target's host name, else the evaluation
target of an offline scan (``oscap`` with ``OSCAP_PROBE_ROOT``/``OSCAP_EVALUATION_TARGET``
reports ``<target>unknown</target>``), else a loopback address. All names and routable
addresses of the target are coverage. The pass/fail/... counts and
the score of each TestResult are in :attr:`XccdfImporter.summaries` (the findings model
has no per-import place for them).
"""

from __future__ import annotations

import ipaddress
import math
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import Element

from shaobing.core.i18n import t
from shaobing.findings.importers._xml import (
    EVIDENCE_LIMIT,
    clean,
    dedent_lines,
    fail,
    iter_xml,
    sniff_root,
    truncate,
    unique,
)
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    HostInput,
    Importer,
    ImportFormatError,
    Record,
)
from shaobing.findings.severity import Severity

TOOL = "openscap"
XCCDF_NS = frozenset(
    {"http://checklists.nist.gov/xccdf/1.1", "http://checklists.nist.gov/xccdf/1.2"}
)
ARF_NS = "http://scap.nist.gov/schema/asset-reporting-format/1.1"
AI_NS = "http://scap.nist.gov/schema/asset-identification/1.1"
CORE_NS = "http://scap.nist.gov/schema/reporting-core/1.1"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_HTML_NS = frozenset({XHTML_NS, ""})

#: rule-result values that become findings, and those only counted.
FINDING_RESULTS = frozenset({"fail", "error", "unknown"})
KNOWN_RESULTS = FINDING_RESULTS | {
    "pass",
    "fixed",
    "notapplicable",
    "notchecked",
    "notselected",
    "informational",
}
_SEVERITY = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "unknown": Severity.LOW,
}
# Reference hrefs (substring, lower case) → the standard's short name. Those marked True
# are also copied into the finding's references (the rest stay in extra["standards"]).
_STANDARDS: tuple[tuple[str, str, bool], ...] = (
    ("nist.sp.800-53", "NIST SP 800-53", True),
    ("nist.sp.800-171", "NIST SP 800-171", True),
    ("cswp.04162018", "NIST CSF", False),
    ("benchmarks.cisecurity.org", "CIS", True),
    ("cisecurity.org/benchmark", "CIS", True),
    ("cisecurity.org/controls", "CIS Controls", False),
    ("pcisecuritystandards.org", "PCI DSS", True),
    ("stigs/cci", "DISA CCI", True),
    ("public.cyber.mil/stigs", "DISA SRG", True),
    ("ssi.gouv.fr", "ANSSI", True),
    ("iso.org/standard/54534", "ISO/IEC 27001:2013", False),
    ("isaca.org", "COBIT 5", False),
    ("isa-62443-2-1", "ISA 62443-2-1:2009", False),
    ("isa-62443-3-3", "ISA 62443-3-3:2013", False),
    ("nerc.com", "NERC CIP", False),
    ("cfr-2007-title45", "HIPAA", False),
    ("cjis-security-policy", "CJIS", False),
    ("niap-ccevs.org", "OSPP", False),
)
_IDENT_SYSTEMS = {
    "https://nvd.nist.gov/cce/index.cfm": "CCE",
    "http://cce.mitre.org": "CCE",
    "http://cyber.mil/legacy": "DISA STIG",
}
_SUB_OPEN, _SUB_CLOSE = "\ue000", "\ue001"
_SUB_RE = re.compile(f"{_SUB_OPEN}([^{_SUB_CLOSE}]*){_SUB_CLOSE}")
_BLOCKS = frozenset(
    {"p", "div", "pre", "ul", "ol", "table", "tr", "blockquote", "dl", "dt", "dd"}
    | {f"h{n}" for n in range(1, 7)}
)
_BLANK_RUNS = re.compile(r"\n{3,}")
_PLACEHOLDER_NAMES = frozenset({"localhost", "localhost.localdomain", "localhost6", "unknown"})


# --------------------------------------------------------------------------- names
def _split(tag: str) -> tuple[str, str]:
    """(namespace, local name) of a ``{ns}name`` tag."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _prefix(elem: Element) -> str:
    """The ``{ns}`` part of an element's tag ("" without a namespace), for child lookups."""
    return elem.tag[: elem.tag.index("}") + 1] if elem.tag.startswith("{") else ""


def _is_xccdf(tag: str, *names: str) -> bool:
    ns, name = _split(tag)
    return ns in XCCDF_NS and name in names


class _Roots:
    """The accepted root tags (namespaced), listed by readable names in error messages."""

    def __init__(self) -> None:
        self.tags = frozenset(
            {f"{{{ns}}}{name}" for ns in XCCDF_NS for name in ("Benchmark", "TestResult")}
            | {f"{{{ARF_NS}}}asset-report-collection"}
        )
        self.names = ("xccdf:Benchmark", "xccdf:TestResult", "arf:asset-report-collection")

    def __contains__(self, tag: object) -> bool:
        return tag in self.tags

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


_ROOTS = _Roots()


# --------------------------------------------------------------------------- text
def _markup(child: Element) -> str:
    """The name an element's markup goes by: XHTML local names, other tags in full."""
    if not isinstance(child.tag, str):
        return ""  # comments and processing instructions
    ns, name = _split(child.tag)
    return name if ns in _HTML_NS else child.tag


def _breaks_line(child: Element | None) -> bool:
    if child is None:
        return False
    name = _markup(child)
    return name in _BLOCKS or name in {"li", "br"}


def _render(elem: Element, out: list[str]) -> None:
    """Append the plain text of an XHTML-bearing element's content to ``out``.

    Whitespace-only text next to a line-breaking element is layout of the source file (the
    indentation between list items), not content, and is dropped.
    """
    children = list(elem)
    if elem.text and (elem.text.strip() or not _breaks_line(children[0] if children else None)):
        out.append(elem.text)
    for index, child in enumerate(children):
        name = _markup(child)
        ns = _split(child.tag)[0] if name else ""
        if ns in XCCDF_NS and name.endswith("}sub"):
            out.append(f"{_SUB_OPEN}{child.get('idref', '')}{_SUB_CLOSE}")
        elif ns in XCCDF_NS and name.endswith("}instance"):
            out.append(child.get("context") or "instance")
        elif name == "br":
            out.append("\n")
        elif name == "li":
            out.append("\n- ")
            _render(child, out)
        elif name in _BLOCKS:
            out.append("\n")
            _render(child, out)
            out.append("\n")
        elif name == "a":
            start = len(out)
            _render(child, out)
            href = (child.get("href") or "").strip()
            if href.startswith(("http://", "https://")) and href not in "".join(out[start:]):
                out.append(f" ({href})")
        elif name:
            _render(child, out)
        following = children[index + 1] if index + 1 < len(children) else None
        tail = child.tail
        if tail and (tail.strip() or not (_breaks_line(child) or _breaks_line(following))):
            out.append(tail)


def plain_text(elem: Element | None, limit: int = EVIDENCE_LIMIT) -> str | None:
    """The element's content as plain text: markup dropped, lines dedented, capped."""
    if elem is None:
        return None
    out: list[str] = []
    _render(elem, out)
    text = dedent_lines("".join(out))
    if text is None:
        return None
    return truncate(_BLANK_RUNS.sub("\n\n", text), limit)


def _script(elem: Element) -> str | None:
    """A fix script's text with its own indentation kept (only the common indent removed)."""
    out: list[str] = []
    _render(elem, out)
    text = textwrap.dedent("".join(out)).strip()
    return truncate(text, EVIDENCE_LIMIT) if text else None


def _pick(elems: list[Element]) -> Element | None:
    """The Chinese text when the content has one, else English, else the first."""
    lang_key = "{http://www.w3.org/XML/1998/namespace}lang"
    for prefix in ("zh", "en"):
        for elem in elems:
            if (elem.get(lang_key) or "").lower().startswith(prefix):
                return elem
    return elems[0] if elems else None


def _resolve(text: str | None, values: dict[str, str]) -> str | None:
    """Fill ``<sub>`` placeholders with the value in force (else the value's id)."""
    if text is None or _SUB_OPEN not in text:
        return text
    return _SUB_RE.sub(lambda m: values.get(m.group(1), m.group(1)), text)


# --------------------------------------------------------------------------- rules
@dataclass(slots=True)
class _Rule:
    """What a finding needs from one Benchmark ``<Rule>`` (texts may hold placeholders)."""

    title: str | None
    severity: str | None
    description: str | None
    rationale: str | None
    remediation: str | None
    fix_system: str | None
    warnings: list[str]
    idents: dict[str, list[str]]
    standards: dict[str, list[str]]
    references: list[str]


def _rule(elem: Element) -> _Rule:
    ns = _prefix(elem)
    fixtext = plain_text(_pick(elem.findall(f"{ns}fixtext")))
    fix_system = "fixtext" if fixtext else None
    if fixtext is None:
        for fix in elem.findall(f"{ns}fix"):
            if (fix.get("system") or "").endswith(":sh") and (text := _script(fix)):
                fixtext, fix_system = text, fix.get("system")
                break
    idents = _idents(elem.findall(f"{ns}ident"), {})
    standards, listed = _standards(elem.findall(f"{ns}reference"))
    return _Rule(
        title=plain_text(_pick(elem.findall(f"{ns}title")), 1000),
        severity=clean(elem.get("severity")),
        description=plain_text(_pick(elem.findall(f"{ns}description"))),
        rationale=plain_text(_pick(elem.findall(f"{ns}rationale"))),
        remediation=fixtext,
        fix_system=fix_system,
        warnings=[w for e in elem.findall(f"{ns}warning") if (w := plain_text(e, 2000))],
        idents=idents,
        standards=standards,
        references=unique([*(i for ids in idents.values() for i in ids), *listed]),
    )


def _idents(elems: Iterable[Element], known: dict[str, list[str]]) -> dict[str, list[str]]:
    """Identifiers (CCE, STIG ids, ...) by their system, added to a copy of ``known``."""
    out = {system: list(ids) for system, ids in known.items()}
    for ident in elems:
        if value := clean("".join(ident.itertext())):
            system = ident.get("system") or ""
            label = _IDENT_SYSTEMS.get(system, system or "ident")
            out[label] = unique([*out.get(label, []), value])
    return out


def _standards(refs: Iterable[Element]) -> tuple[dict[str, list[str]], list[str]]:
    """References by standard, and the ones worth listing on the finding itself."""
    by_standard: dict[str, list[str]] = {}
    listed: list[str] = []
    for ref in refs:
        href = (ref.get("href") or "").strip()
        text = clean(" ".join("".join(ref.itertext()).split()))
        label, headline = next(
            ((name, main) for key, name, main in _STANDARDS if key in href.lower()), (None, False)
        )
        if label is None:
            if text is None and not href:
                continue
            label = href or "other"
            if href.startswith(("http://", "https://")):
                listed.append(href)
        if text:
            by_standard.setdefault(label, [])
            if text not in by_standard[label]:
                by_standard[label].append(text)
            if headline:
                listed.append(f"{label} {text}")
    return by_standard, listed


def _value_default(elem: Element) -> str | None:
    ns = _prefix(elem)
    for value in elem.findall(f"{ns}value"):
        if not value.get("selector"):
            return clean("".join(value.itertext()))
    return None


# --------------------------------------------------------------------------- hosts
@dataclass(slots=True)
class _Target:
    """Addresses and names the scanned machine is known by.

    ``evaluated`` is what an offline scan names instead (``OSCAP_EVALUATION_TARGET``, e.g.
    ``chroot:///srv/image``, reported as the ``asset:identifier:ein`` fact): it tells
    findings apart but is no network host, so it never becomes a host record.
    """

    addresses: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    evaluated: str | None = None

    def add_address(self, text: str | None) -> None:
        try:
            address = str(ipaddress.ip_address((text or "").strip().strip("[]")))
        except ValueError:
            return
        if address not in self.addresses:
            self.addresses.append(address)

    def add_name(self, text: str | None) -> None:
        name = clean(text)
        # oscap writes <target>unknown</target> when it scans a file tree offline.
        if name and name.lower() not in _PLACEHOLDER_NAMES and name not in self.names:
            self.names.append(name)

    def merge(self, other: _Target) -> None:
        for address in other.addresses:
            self.add_address(address)
        for name in other.names:
            self.add_name(name)
        self.evaluated = self.evaluated or other.evaluated

    def routable(self) -> list[str]:
        """Addresses other than loopback, link-local and unspecified; IPv4 first."""
        found = [ipaddress.ip_address(a) for a in self.addresses]
        good = [a for a in found if not (a.is_loopback or a.is_link_local or a.is_unspecified)]
        return [str(a) for a in sorted(good, key=lambda a: a.version)]

    def host(self) -> str | None:
        """The value findings carry as their host."""
        routable = self.routable()
        if routable:
            return routable[0]
        if self.names:
            return self.names[0]
        if self.evaluated:
            return self.evaluated
        return self.addresses[0] if self.addresses else None


def _asset(elem: Element) -> _Target:
    target = _Target()
    for node in elem.iter():
        ns, name = _split(node.tag) if isinstance(node.tag, str) else ("", "")
        if ns != AI_NS:
            continue
        if name in {"ip-v4", "ip-v6"}:
            target.add_address(node.text)
        elif name in {"fqdn", "hostname"}:
            target.add_name(node.text)
    return target


# --------------------------------------------------------------------------- runs
@dataclass
class XccdfSummary:
    """The outcome of one TestResult: rule-result counts per result value, and the score."""

    test_result: str | None
    profile: str | None
    host: str | None
    counts: dict[str, int]
    score: float | None


@dataclass
class _Run:
    """State of the TestResult being read."""

    id: str | None
    version: str
    start_time: str | None
    benchmark: str | None = None
    profile: str | None = None
    target: _Target = field(default_factory=_Target)
    asset_ref: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    score: float | None = None
    index: int = 0
    resolved: bool = False  # ARF asset merged into target


class XccdfImporter(Importer):
    """OpenSCAP XCCDF result document or ARF report."""

    name: ClassVar[str] = "xccdf"
    label: ClassVar[str] = "OpenSCAP XCCDF/ARF"
    suffixes: ClassVar[tuple[str, ...]] = (".xml",)

    def __init__(self) -> None:
        #: One summary per TestResult of the last parsed file, in file order.
        self.summaries: list[XccdfSummary] = []

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """An XCCDF Benchmark/TestResult or an ARF collection, by root and namespace."""
        root = sniff_root(head)
        if root is None:
            return False
        name = root.rsplit(":", 1)[-1]
        if name in {"Benchmark", "TestResult"}:
            return b"checklists.nist.gov/xccdf/1." in head
        if name == "asset-report-collection":
            return ARF_NS.encode() in head
        return False

    def parse(self, path: Path) -> Iterator[Record]:
        """Findings as rule-results are read, hosts after each TestResult, then coverage."""
        self.summaries = []
        reader = _Reader(path, self.summaries)
        yield from reader.read()


class _Reader:
    """One pass over one file."""

    def __init__(self, path: Path, summaries: list[XccdfSummary]) -> None:
        self.path = path
        self.summaries = summaries
        self.rules: dict[str, _Rule] = {}
        self.values: dict[str, str] = {}
        self.profiles: dict[str, str] = {}
        self.assets: dict[str, _Target] = {}
        self.about: dict[str, str] = {}  # ARF report id → asset id
        self.report: str | None = None
        self.run: _Run | None = None
        self.hosts: dict[str, HostInput] = {}
        self.covered: list[str] = []
        self.runs = 0

    def read(self) -> Iterator[Record]:
        events = iter_xml(
            self.path,
            roots=_ROOTS,
            format_label=XccdfImporter.label,
            capture=_capture,
            notify=_notify,
        )
        for event in events:
            ns, name = _split(event.path[-1])
            if event.kind == "start":
                self._start(ns, name, event.elem)
            elif len(event.path) > 1 and _is_xccdf(event.path[-2], "TestResult"):
                finding = self._run_child(name, event.elem) if ns in XCCDF_NS else None
                if finding is not None:
                    yield finding
            elif name == "TestResult":
                self._end_run()
            else:
                self._content(ns, name, event.elem)
        if not self.runs:
            raise ImportFormatError(self.path, t("xccdf.no_test_result"))
        yield from self.hosts.values()
        yield CoverageInput(hosts=unique(self.covered))

    # ----------------------------------------------------------------- structure
    def _start(self, ns: str, name: str, elem: Element) -> None:
        if ns == ARF_NS and name == "report":
            self.report = elem.get("id")
        elif name == "TestResult":
            self.run = _Run(
                id=clean(elem.get("id")),
                version=ns.rsplit("/", 1)[-1],
                start_time=clean(elem.get("start-time")),
                values=dict(self.values),
            )

    def _content(self, ns: str, name: str, elem: Element) -> None:
        """Benchmark content and ARF blocks met outside a TestResult."""
        if ns in XCCDF_NS:
            ident = clean(elem.get("id"))
            if ident is None:
                return
            if name == "Rule":
                self.rules[ident] = _rule(elem)
            elif name == "Value" and (default := _value_default(elem)) is not None:
                self.values[ident] = default
            elif name == "Profile":
                self.profiles[ident] = plain_text(_pick(elem.findall(f"{{{ns}}}title")), 300) or ""
        elif ns == ARF_NS and name == "asset" and (ident := clean(elem.get("id"))):
            self.assets[ident] = _asset(elem)
        elif ns == CORE_NS and name == "relationship":
            self._relationship(elem)
        elif ns == ARF_NS and name == "report":
            self.report = None

    def _relationship(self, elem: Element) -> None:
        """An ARF "report X is about asset Y" link."""
        subject = clean(elem.get("subject"))
        ref = elem.find(f"{{{CORE_NS}}}ref")
        asset = clean(ref.text) if ref is not None else None
        if subject and asset and (elem.get("type") or "").endswith(":isAbout"):
            self.about[subject] = asset

    def _run_child(self, name: str, elem: Element) -> FindingInput | None:
        run = self.run
        if run is None:  # not reachable: a TestResult start always comes first
            return None
        if name == "rule-result":
            run.index += 1
            return self._rule_result(run, elem)
        ns = _prefix(elem)
        if name == "target":
            run.target.add_name(elem.text)
        elif name == "target-address":
            run.target.add_address(elem.text)
        elif name == "target-facts":
            for fact in elem.findall(f"{ns}fact"):
                kind = fact.get("name") or ""
                if kind.endswith((":ipv4", ":ipv6")):
                    run.target.add_address(fact.text)
                elif kind.endswith((":fqdn", ":host_name")):
                    run.target.add_name(fact.text)
                elif kind.endswith(":ein"):
                    run.target.evaluated = run.target.evaluated or clean(fact.text)
        elif name == "target-id-ref":
            run.asset_ref = clean(elem.get("name"))
        elif name == "benchmark":
            run.benchmark = clean(elem.get("id")) or clean(elem.get("href"))
        elif name == "profile":
            run.profile = clean(elem.get("idref"))
        elif name == "set-value" and (idref := clean(elem.get("idref"))):
            run.values[idref] = "".join(elem.itertext()).strip()
        elif name == "score" and run.score is None:
            try:
                score = float((elem.text or "").strip())
            except ValueError:
                score = math.nan
            run.score = score if math.isfinite(score) else None
        return None

    def _target(self, run: _Run) -> _Target:
        """The run's own target facts, completed once by its ARF asset when there is one."""
        if not run.resolved:
            run.resolved = True
            asset_id = run.asset_ref if run.asset_ref in self.assets else None
            if asset_id is None and self.report is not None:
                asset_id = self.about.get(self.report)
            if asset_id is None and len(self.assets) == 1:
                asset_id = next(iter(self.assets))
            if asset_id is not None and asset_id in self.assets:
                run.target.merge(self.assets[asset_id])
        return run.target

    def _end_run(self) -> None:
        run = self.run
        self.run = None
        if run is None:
            return
        self.runs += 1
        target = self._target(run)
        host = target.host()
        self.summaries.append(
            XccdfSummary(
                test_result=run.id,
                profile=run.profile,
                host=host,
                counts=dict(sorted(run.counts.items())),
                score=run.score,
            )
        )
        if host is None:
            return
        routable = target.routable()
        self.covered.extend([host, *routable, *target.names])
        address = routable[0] if routable else (host if _is_address(host) else None)
        if address is None and not target.names:
            return  # only an offline evaluation target: no host for the asset ledger
        key = address or f"name:{target.names[0]}"
        record = self.hosts.get(key)
        if record is None:
            self.hosts[key] = HostInput(address=address, hostnames=list(target.names))
        else:
            record.hostnames = unique([*record.hostnames, *target.names])

    # ----------------------------------------------------------------- findings
    def _rule_result(self, run: _Run, elem: Element) -> FindingInput | None:
        ns = _prefix(elem)
        idref = clean(elem.get("idref"))
        if idref is None:
            raise fail(
                self.path, "missing_field", element="<rule-result>", index=run.index, field="idref"
            )
        result_elem = elem.find(f"{ns}result")
        result = ((clean(result_elem.text) if result_elem is not None else None) or "").lower()
        if not result:
            raise fail(
                self.path, "missing_field", element="<rule-result>", index=run.index, field="result"
            )
        if result not in KNOWN_RESULTS:
            raise fail(
                self.path,
                "bad_value",
                element="<rule-result>",
                index=run.index,
                field="result",
                value=result[:80],
            )
        run.counts[result] += 1
        if result not in FINDING_RESULTS:
            return None
        return self._finding(run, elem, ns, idref, result)

    def _finding(self, run: _Run, elem: Element, ns: str, idref: str, result: str) -> FindingInput:
        rule = self.rules.get(idref)
        raw_severity = clean(elem.get("severity")) or (rule.severity if rule else None) or ""
        raw_severity = raw_severity.lower() or "unknown"
        if result == "fail":
            severity = _SEVERITY.get(raw_severity, Severity.LOW)
            confidence = None
        else:
            severity, confidence = Severity.INFO, "low"
        checks = _checks(elem, ns)
        idents = _idents(elem.findall(f"{ns}ident"), rule.idents if rule else {})
        instance = _instance(elem, ns)
        values = run.values
        description = _resolve(rule.description, values) if rule else None
        rationale = _resolve(rule.rationale, values) if rule else None
        extra: dict[str, object] = {
            key: value
            for key, value in {
                "result": result,
                "xccdf_version": run.version,
                "test_result": run.id,
                "benchmark": run.benchmark,
                "profile": run.profile,
                "rule_severity": raw_severity,
                "weight": clean(elem.get("weight")),
                "checks": [f"{system} {name}".strip() for system, name, _ in checks],
                "fix_system": rule.fix_system if rule else None,
                "warnings": [_resolve(w, values) for w in rule.warnings] if rule else [],
                "idents": idents,
                "standards": rule.standards if rule else {},
                "instance": instance,
            }.items()
            if value not in (None, [], {}, "")
        }
        return FindingInput(
            source_tool=TOOL,
            check_id=idref,
            title=(_resolve(rule.title, values) if rule else None) or idref,
            severity=severity,
            description=_join(
                description, t("xccdf.rationale", text=rationale) if rationale else None
            ),
            remediation=_resolve(rule.remediation, values) if rule else None,
            host=self._target(run).host(),
            parameter=instance,
            references=unique(
                [*(rule.references if rule else []), *(i for ids in idents.values() for i in ids)]
            ),
            evidence=truncate(self._evidence(run, elem, ns, result, checks)),
            confidence=confidence,
            extra=extra,
        )

    def _evidence(
        self,
        run: _Run,
        elem: Element,
        ns: str,
        result: str,
        checks: list[tuple[str, str, str | None]],
    ) -> str:
        lines = [t("xccdf.evidence.result", result=result, label=t(f"xccdf.result.{result}"))]
        for _system, name, href in checks:
            if href:
                lines.append(t("xccdf.evidence.check_in", name=name, href=href))
            else:
                lines.append(t("xccdf.evidence.check", name=name))
        if run.profile:
            title = self.profiles.get(run.profile)
            lines.append(
                t("xccdf.evidence.profile_titled", profile=run.profile, title=title)
                if title
                else t("xccdf.evidence.profile", profile=run.profile)
            )
        for message in elem.findall(f"{ns}message"):
            if text := dedent_lines("".join(message.itertext())):
                lines.append(t("xccdf.evidence.message", message=text))
        if when := clean(elem.get("time")) or run.start_time:
            lines.append(t("xccdf.evidence.time", time=when))
        return "\n".join(lines)


def _checks(elem: Element, ns: str) -> list[tuple[str, str, str | None]]:
    """(check system, content name, content file) of every check of a rule-result."""
    out: list[tuple[str, str, str | None]] = []
    for check in elem.iter(f"{ns}check"):
        system = clean(check.get("system")) or ""
        for ref in check.findall(f"{ns}check-content-ref"):
            href = clean(ref.get("href"))
            name = clean(ref.get("name")) or href
            if name:
                out.append((system, name, href if href != name else None))
    return out


def _instance(elem: Element, ns: str) -> str | None:
    """The rule-result's instance (multi-instance rules report one result per instance)."""
    found = elem.find(f"{ns}instance")
    text = clean("".join(found.itertext())) if found is not None else None
    return text[:500] if text else None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _join(*parts: str | None) -> str | None:
    return "\n\n".join(p for p in parts if p) or None


# --------------------------------------------------------------------------- selection
def _capture(path: tuple[str, ...]) -> bool:
    tag = path[-1]
    if len(path) > 1 and _is_xccdf(path[-2], "TestResult"):
        return True  # each child of a TestResult, rule-results one by one
    ns, name = _split(tag)
    if ns in XCCDF_NS:
        return name in {"Rule", "Value", "Profile"}
    if ns == ARF_NS:
        return name == "asset"
    return ns == CORE_NS and name == "relationship"


def _notify(path: tuple[str, ...]) -> bool:
    ns, name = _split(path[-1])
    return (ns in XCCDF_NS and name == "TestResult") or (ns == ARF_NS and name == "report")

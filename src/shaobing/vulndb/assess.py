"""Matching identified services against the offline vulnerability database, and the findings.

:func:`match_services` is the glue between the store (:mod:`shaobing.vulndb.query`) and the
applicability rules (:func:`shaobing.vulndb.match.assess`): for each service it finds the
candidate criteria by (vendor, product) — from the service's application CPEs, or from the
product alias table when identification gave none — loads the *whole* configurations of the
candidate CVEs (an AND configuration needs every node, including the platform ones that name
other products) and keeps the CVEs that apply. Work is shared: configurations are loaded once
per product and verdicts computed once per distinct service (same product, version, CPEs,
OS and distribution), so a large estate with few distinct products costs little more than
one of each.

:func:`assess_engagement` runs that over a client's asset ledger and records the matches as
findings through the one ingest path (source ``shaobing-vulndb``, check id = CVE id). The
hosts it assessed form the coverage, so a re-run closes the findings of services that were
upgraded out of a CVE's range.

Organisation-defined choices (no standard prescribes them):

* **Ordering.** Known exploited (CISA KEV) first; then an EPSS probability of at least
  :data:`EPSS_LIKELY` (10 % chance of exploitation activity in the next 30 days); then the
  CVSS base score; then the raw EPSS score; then the verdict's confidence. EPSS is used as a
  band rather than a raw sort key because most EPSS scores are tiny (median well under 1 %),
  so sorting on it directly would let a low-severity CVE with EPSS 0.0009 outrank a critical
  one with 0.0004.
* **Severity.** From the CVSS base score (FIRST qualitative scale, CVSS v4 where present,
  else v3); a CVE listed in KEV is raised to at least 高 (CISA BOD 22-01 treats every KEV
  entry as must-fix); a CVE without any score is 中 (needs triage, not silence).
* **Limits.** At most :data:`DEFAULT_LIMIT_PER_SERVICE` CVEs per service (the highest in the
  order above), so an ancient product with thousands of "all versions" CVEs cannot flood an
  engagement; at most :data:`REFERENCE_LIMIT` references per finding.
* **Candidates.** Only application CPEs (part ``a``) select candidates; operating-system and
  hardware CPEs on a service act as platform evidence only, because a service-level OS CPE
  rarely carries the precise version that OS CVE ranges need. For the same reason a CVE is
  reported for a service only when the service is the vulnerable software: a matched
  vulnerable criterion must be an application criterion matching the service's CPEs, not
  an operating-system release the CVE also lists.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assets.models import Asset, AssetAddress, AssetService
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Engagement
from shaobing.findings.fingerprint import load_config as load_fingerprint_config
from shaobing.findings.importers.base import CoverageInput, FindingInput, Record
from shaobing.findings.ingest import IngestOptions, IngestSummary, ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity, parse_severity, severity_from_score
from shaobing.vulndb.cpe import (
    ANY,
    NA,
    Cpe,
    alias_table,
    cpe_from_product,
    encode_value,
    normalise_name,
    try_parse_cpe,
    unescape,
)
from shaobing.vulndb.match import (
    ConfigNode,
    Configuration,
    CpeCriterion,
    MatchVerdict,
    Operator,
    ServiceFacts,
    assess,
    confirmed,
    criterion_matches,
)

# The host CPEs assess() evaluates against (private in match.py; see ServiceMatcher._assess).
from shaobing.vulndb.match import host_cpes as _host_facts
from shaobing.vulndb.models import CpeCriterionRecord, Cve
from shaobing.vulndb.query import CriterionRow, CveSummary, criteria_for_cves, cve_summaries
from shaobing.vulndb.records import cpe_field
from shaobing.vulndb.versions import distro_backport, distro_family, find_distro_marker

SOURCE_TOOL = "shaobing-vulndb"
FORMAT_NAME = "vulndb"
#: Most CVEs reported per service (organisation-defined, see the module docstring).
DEFAULT_LIMIT_PER_SERVICE = 200
#: References copied into a finding (organisation-defined).
REFERENCE_LIMIT = 10
#: EPSS probability from which a CVE counts as likely exploited (organisation-defined).
EPSS_LIKELY = 0.1
#: KEV entries are at least this severe (organisation-defined, after CISA BOD 22-01).
KEV_MIN_SEVERITY = Severity.HIGH
#: Severity of a CVE the feed gives no CVSS score for (organisation-defined).
UNSCORED_SEVERITY = Severity.MEDIUM
#: Products whose configurations stay cached at once (services are processed grouped by
#: product, so a small number suffices; it bounds memory on a whole-NVD database).
_PRODUCT_CACHE = 32
_NVD_URL = "https://nvd.nist.gov/vuln/detail/{cve}"
_CWE_NUMBER = re.compile(r"^CWE-(\d{1,6})$", re.IGNORECASE)

ProductKey = tuple[str, str]  # (vendor or "" for any vendor, product), plain lower-case text
_Hit = tuple[str, MatchVerdict, tuple[CpeCriterion, ...]]  # CVE id, verdict, matched criteria


@dataclass(frozen=True, slots=True)
class _Entry:
    """A candidate CVE: its configurations and the pre-filter data.

    A CVE is reported for a service only when one of its vulnerable *application*
    criteria matches the service's application CPEs (see :func:`_service_verdict`), so a
    CVE none of whose ``probe`` criteria (those criteria, by product) matches is skipped
    without evaluating its configurations. ``names`` are the probe criteria's strings.
    """

    configs: tuple[Configuration, ...]
    probe: tuple[tuple[str, tuple[CpeCriterion, ...]], ...]
    names: frozenset[str]


@dataclass(frozen=True)
class CveMatch:
    """One CVE that applies to one service of the input.

    ``service_index`` is the service's position in the iterable given to
    :func:`match_services`; ``criteria`` are the matched vulnerable criteria with their bounds.
    """

    service_index: int
    service: ServiceFacts
    cve_id: str
    verdict: MatchVerdict
    summary: CveSummary
    criteria: tuple[CpeCriterion, ...]

    @property
    def kev(self) -> bool:
        """Listed in CISA's Known Exploited Vulnerabilities catalogue."""
        return self.summary.kev

    @property
    def epss(self) -> float | None:
        """The EPSS probability, when the EPSS feed was imported."""
        return self.summary.epss_score

    @property
    def severity(self) -> Severity:
        """The finding severity (see :func:`finding_severity`)."""
        return finding_severity(self.summary)


def finding_severity(summary: CveSummary) -> Severity:
    """Severity from the CVSS score; KEV raises it to at least 高; no score gives 中."""
    if summary.score is not None:
        level = severity_from_score(summary.score)
    else:
        level = parse_severity(summary.severity, UNSCORED_SEVERITY)
    if summary.kev and level.rank < KEV_MIN_SEVERITY.rank:
        level = KEV_MIN_SEVERITY
    return level


def priority(summary: CveSummary, confidence: int) -> tuple[bool, bool, float, float, int]:
    """Sort key, higher first: KEV, likely exploited (EPSS band), CVSS, EPSS, confidence."""
    epss = summary.epss_score or 0.0
    score = summary.score if summary.score is not None else -1.0
    return (summary.kev, epss >= EPSS_LIKELY, score, epss, confidence)


def _order_key(match: CveMatch) -> tuple[Any, ...]:
    kev, likely, score, epss, confidence = priority(match.summary, match.verdict.confidence)
    return (not kev, not likely, -score, -epss, -confidence, match.cve_id, match.service_index)


# --------------------------------------------------------------------------- the matcher
def product_keys(facts: ServiceFacts) -> tuple[ProductKey, ...]:
    """The (vendor, product) pairs whose criteria are candidates for a service."""
    keys: set[ProductKey] = set()
    for text in facts.cpes:
        cpe = try_parse_cpe(text)
        if cpe is None or cpe.part != "a" or not _concrete(cpe.product):
            continue
        vendor = unescape(cpe.vendor) if _concrete(cpe.vendor) else ""
        keys.add((vendor, unescape(cpe.product)))
    if not keys and facts.product:
        for cpe in cpe_from_product(facts.vendor, facts.product):
            if cpe.part == "a" and _concrete(cpe.product):
                vendor = unescape(cpe.vendor) if _concrete(cpe.vendor) else ""
                keys.add((vendor, unescape(cpe.product)))
    return tuple(sorted(keys))


def with_vendor_aliases(facts: ServiceFacts) -> ServiceFacts:
    """The facts with the same product's other NVD vendors added as CPEs.

    NVD files some products under several vendors over the years (``nginx:nginx`` and
    ``f5:nginx``, ``mysql:mysql`` and ``oracle:mysql``) and scanners use others still (Nmap's
    ``igor_sysoev:nginx``); a CPE under one vendor must find the CVEs filed under the others.
    Only vendors the alias table lists for the very same product are added.
    """
    products = alias_table().products
    known = set(facts.cpes)
    added: list[str] = []
    for text in facts.cpes:
        cpe = try_parse_cpe(text)
        if cpe is None or cpe.part != "a" or not _concrete(cpe.product):
            continue
        names = {normalise_name(unescape(cpe.product))}
        if facts.product:
            names.add(normalise_name(facts.product))
        for name in sorted(names):
            for part, vendor, product in products.get(name, ()):
                if part != "a" or encode_value(product) != cpe.product:
                    continue
                other = replace(cpe, vendor=encode_value(vendor)).to23()
                if other not in known:
                    known.add(other)
                    added.append(other)
    return replace(facts, cpes=(*facts.cpes, *added)) if added else facts


def _concrete(value: str) -> bool:
    return value not in {ANY, NA} and "*" not in value and "?" not in value


def candidate_ids(session: Session, vendor: str, product: str) -> list[str]:
    """Ids of the CVEs with a criterion naming the product (and vendor, unless empty).

    Only the ids, through the (product, vendor) index: query.candidate_criteria also
    excludes rejected CVEs with a subquery that scans the whole ``cves`` table (about
    0.1 s per product on 300,000 CVEs); rejected CVEs are dropped here by their summaries.
    """
    where = [CpeCriterionRecord.product == cpe_field(product)]
    if vendor:
        where.append(CpeCriterionRecord.vendor == cpe_field(vendor))
    return list(session.scalars(select(CpeCriterionRecord.cve_id).where(*where).distinct()))


def _operator(value: str) -> Operator:
    return "AND" if value.upper() == "AND" else "OR"


class ServiceMatcher:
    """Matches services within one session, caching per product and per distinct service."""

    def __init__(
        self, session: Session, *, limit_per_service: int | None = DEFAULT_LIMIT_PER_SERVICE
    ) -> None:
        self.session = session
        self.limit = limit_per_service
        self._products: OrderedDict[ProductKey, dict[str, _Entry]] = OrderedDict()
        # Identical criteria across CVEs share one object, so each is compiled only once.
        self._criteria: dict[tuple[Any, ...], CpeCriterion] = {}
        self._verdicts: dict[ServiceFacts, list[_Hit]] = {}
        self._probes: dict[tuple[tuple[ProductKey, ...], tuple[str, ...]], frozenset[str]] = {}
        self._summaries: dict[str, CveSummary] = {}

    # ------------------------------------------------------------ loading
    def _criterion(self, row: CriterionRow) -> CpeCriterion:
        key = (
            row.criteria,
            row.vulnerable,
            row.version_start_including,
            row.version_start_excluding,
            row.version_end_including,
            row.version_end_excluding,
        )
        found = self._criteria.get(key)
        if found is None:
            found = self._criteria[key] = CpeCriterion(*key)
        return found

    def _configurations(self, rows: Sequence[CriterionRow]) -> tuple[Configuration, ...]:
        configs: dict[int, tuple[CriterionRow, dict[int, list[CriterionRow]]]] = {}
        for row in rows:
            configs.setdefault(row.config_index, (row, {}))[1].setdefault(
                row.node_index, []
            ).append(row)
        return tuple(
            Configuration(
                nodes=tuple(
                    ConfigNode(
                        criteria=tuple(self._criterion(r) for r in node_rows),
                        operator=_operator(node_rows[0].node_operator),
                        negate=node_rows[0].node_negate,
                    )
                    for _, node_rows in sorted(nodes.items())
                ),
                operator=_operator(first.config_operator),
                negate=first.config_negate,
            )
            for _, (first, nodes) in sorted(configs.items())
        )

    def _entry(self, rows: Sequence[CriterionRow]) -> _Entry:
        configs = self._configurations(rows)
        probe: dict[str, list[CpeCriterion]] = {}
        for config in configs:
            for node in config.nodes:
                for criterion in node.criteria:
                    if not criterion.vulnerable:
                        continue
                    pattern = criterion.compiled.pattern
                    if pattern is not None and pattern.part == "a" and _concrete(pattern.product):
                        probe.setdefault(pattern.product, []).append(criterion)
        names = frozenset(c.criteria for criteria in probe.values() for c in criteria)
        return _Entry(configs, tuple((p, tuple(c)) for p, c in probe.items()), names)

    def _product(self, key: ProductKey) -> dict[str, _Entry]:
        cached = self._products.get(key)
        if cached is not None:
            self._products.move_to_end(key)
            return cached
        whole = criteria_for_cves(self.session, candidate_ids(self.session, *key))
        loaded = {cve_id: self._entry(rows) for cve_id, rows in whole.items()}
        self._products[key] = loaded
        while len(self._products) > _PRODUCT_CACHE:
            self._products.popitem(last=False)
        return loaded

    # ------------------------------------------------------------ matching
    def _probe(
        self, host: Sequence[Cpe], keys: tuple[ProductKey, ...], candidates: dict[str, _Entry]
    ) -> frozenset[str]:
        """The candidate CVEs one of whose ``probe`` criteria matches the host CPEs.

        Only the application CPEs take part (the probe criteria are application ones), so
        services that differ only in OS or distribution hints share one result.
        """
        by_product: dict[str, list[Cpe]] = {}
        for cpe in host:
            if cpe.part in {"a", ANY}:
                by_product.setdefault(cpe.product, []).append(cpe)
        app_cpes = tuple(sorted(str(cpe) for cpes in by_product.values() for cpe in cpes))
        key = (keys, app_cpes)
        known = self._probes.get(key)
        if known is not None:
            return known
        unknown_product = by_product.get(ANY, [])
        passed = frozenset(
            cve_id
            for cve_id, entry in candidates.items()
            if any(
                criterion_matches(criterion, cpe)
                for product, criteria in entry.probe
                for cpe in (*by_product.get(product, ()), *unknown_product)
                for criterion in criteria
            )
        )
        self._probes[key] = passed
        return passed

    def _assess(self, facts: ServiceFacts) -> list[_Hit]:
        known = self._verdicts.get(facts)
        if known is not None:
            return known
        expanded = with_vendor_aliases(facts)
        keys = product_keys(expanded)
        candidates: dict[str, _Entry] = {}
        for key in keys:
            candidates.update(self._product(key))
        passed = self._probe(_host_facts(expanded).cpes, keys, candidates)
        hits: list[_Hit] = []
        for cve_id in sorted(passed):
            entry = candidates[cve_id]
            configs = entry.configs
            verdict = _service_verdict(expanded, entry)
            if verdict is None:
                continue
            wanted = set(verdict.matched_criteria)
            matched = {
                c.criteria: c
                for config in configs
                for node in config.nodes
                for c in node.criteria
                if c.vulnerable and c.criteria in wanted
            }
            hits.append((cve_id, verdict, tuple(matched.values())))
        self._verdicts[facts] = hits
        return hits

    def _summaries_for(self, ids: Iterable[str]) -> None:
        missing = {i for i in ids if i not in self._summaries}
        if missing:
            self._summaries.update(cve_summaries(self.session, missing))

    def match(self, services: Iterable[ServiceFacts]) -> list[CveMatch]:
        """Every applicable CVE of every service, most urgent first (see module docstring)."""
        positions: dict[ServiceFacts, list[int]] = {}
        for index, facts in enumerate(services):
            positions.setdefault(facts, []).append(index)
        # Grouped by product, so each product's configurations are loaded once.
        ordered = sorted(positions, key=lambda f: (product_keys(f), repr(f)))
        per_facts = {facts: self._assess(facts) for facts in ordered}
        self._summaries_for(cve for hits in per_facts.values() for cve, _, _ in hits)
        out: list[CveMatch] = []
        for facts, hits in per_facts.items():
            chosen = [
                (cve, verdict, criteria, summary)
                for cve, verdict, criteria in hits
                if (summary := self._summaries.get(cve)) is not None and not summary.rejected
            ]
            chosen.sort(
                key=lambda item: (
                    _negated(priority(item[3], item[1].confidence)),
                    item[0],
                )
            )
            if self.limit is not None:
                chosen = chosen[: self.limit]
            for index in positions[facts]:
                out.extend(
                    CveMatch(index, facts, cve, verdict, summary, criteria)
                    for cve, verdict, criteria, summary in chosen
                )
        out.sort(key=_order_key)
        return out


def _names_service(verdict: MatchVerdict, entry: _Entry) -> bool:
    return any(name in entry.names for name in verdict.matched_criteria)


def _service_verdict(facts: ServiceFacts, entry: _Entry) -> MatchVerdict | None:
    """assess() restricted to verdicts in which the service is the vulnerable software.

    A configuration that lists only an operating-system release as vulnerable would
    otherwise attach the OS's CVE to every service of the host that names the OS. Such a
    verdict is replaced by the best one among the configurations whose matched vulnerable
    criteria include an application criterion.
    """
    verdict = assess(facts, entry.configs)
    if verdict is None or _names_service(verdict, entry):
        return verdict
    verdicts = [
        found
        for config in entry.configs
        if (found := assess(facts, (config,))) is not None and _names_service(found, entry)
    ]
    return max(verdicts, key=lambda v: v.confidence) if verdicts else None


def _negated(key: tuple[bool, bool, float, float, int]) -> tuple[bool, bool, float, float, int]:
    kev, likely, score, epss, confidence = key
    return (not kev, not likely, -score, -epss, -confidence)


def match_services(
    session: Session,
    services: Iterable[ServiceFacts],
    *,
    limit_per_service: int | None = DEFAULT_LIMIT_PER_SERVICE,
) -> list[CveMatch]:
    """Match services against the vulnerability database; most urgent matches first."""
    return ServiceMatcher(session, limit_per_service=limit_per_service).match(services)


# --------------------------------------------------------------------------- the ledger
@dataclass(frozen=True)
class LedgerService:
    """An identified open service of the asset ledger, with the facts matching uses."""

    asset_id: int
    host: str
    port: int
    protocol: str
    service: str | None
    product: str | None
    version: str | None
    facts: ServiceFacts

    @property
    def display_product(self) -> str:
        """The product as identification named it, else the CPE's product."""
        if self.product:
            return self.product
        for text in self.facts.cpes:
            cpe = try_parse_cpe(text)
            if cpe is not None and cpe.part == "a" and _concrete(cpe.product):
                return unescape(cpe.product)
        return self.service or "?"

    @property
    def display_version(self) -> str:
        """The version as identification reported it (distribution revision included)."""
        if self.version:
            return self.version
        for text in self.facts.cpes:
            cpe = try_parse_cpe(text)
            if cpe is not None and cpe.part == "a" and _concrete(cpe.version):
                return unescape(cpe.version)
        return t("vulndb_findings.unknown_version")


def service_facts(
    product: str | None,
    version: str | None,
    cpes: Iterable[str] = (),
    *,
    banner: str | None = None,
    os: str | None = None,
) -> ServiceFacts:
    """ServiceFacts for a ledger service.

    Nmap appends distribution words to the version ("9.2p1 Debian 2+deb12u3"): the first
    word is the version compared, and a distribution marker found in the version or the
    banner becomes the ``distro`` hint, which lowers the confidence of a match.
    """
    text = (version or "").strip()
    words = text.split()
    compared = words[0] if len(words) > 1 and words[0][:1].isdigit() else text
    distro = None
    tag = distro_backport(text) if text else None
    family = distro_family(text) if text else None
    marker = (tag, family) if tag and family else (find_distro_marker(banner) if banner else None)
    if marker is not None:
        distro = f"{marker[1]} {marker[0]}"
    return ServiceFacts(
        product=(product or "").strip() or None,
        version=compared or None,
        cpes=tuple(c for c in cpes if isinstance(c, str) and c.strip()),
        os=(os or "").strip() or None,
        distro=distro,
    )


def _asset_hosts(session: Session, client_id: int) -> dict[int, str]:
    """The host each asset's findings name: its lowest IPv4 address, else IPv6, else name."""
    best: dict[int, tuple[int, int, str]] = {}
    for asset_id, address in session.execute(
        select(AssetAddress.asset_id, AssetAddress.address).where(
            AssetAddress.client_id == client_id
        )
    ):
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            continue
        key = (ip.version, int(ip), str(ip))
        if asset_id not in best or key < best[asset_id]:
            best[asset_id] = key
    hosts = {asset_id: key[2] for asset_id, key in best.items()}
    for asset_id, hostname in session.execute(
        select(Asset.id, Asset.hostname).where(
            Asset.client_id == client_id, Asset.hostname.is_not(None)
        )
    ):
        if asset_id not in hosts and hostname:
            hosts[asset_id] = hostname.strip().lower()
    return hosts


def ledger_services(session: Session, client_id: int) -> tuple[list[LedgerService], set[str]]:
    """The client's open services with a product, version or CPE, and every ledger host
    that has services at all (the coverage of a matching run)."""
    hosts = _asset_hosts(session, client_id)
    services: list[LedgerService] = []
    covered: set[str] = set()
    rows = session.execute(
        select(
            AssetService.asset_id,
            AssetService.port,
            AssetService.protocol,
            AssetService.state,
            AssetService.service,
            AssetService.product,
            AssetService.version,
            AssetService.cpe,
            AssetService.banner,
            Asset.os,
        )
        .join(Asset, Asset.id == AssetService.asset_id)
        .where(AssetService.client_id == client_id)
        .order_by(AssetService.asset_id, AssetService.protocol, AssetService.port)
    )
    for asset_id, port, protocol, state, name, product, version, cpes, banner, os in rows:
        host = hosts.get(asset_id)
        if host is None:
            continue
        covered.add(host)
        cpe_list = [c for c in (cpes or []) if isinstance(c, str)]
        if state != "open" or not (product or version or cpe_list):
            continue
        facts = service_facts(product, version, cpe_list, banner=banner, os=os)
        if not product_keys(facts):
            continue
        services.append(
            LedgerService(asset_id, host, port, protocol, name, product, version, facts)
        )
    return services, covered


# --------------------------------------------------------------------------- findings
@dataclass
class AssessmentSummary:
    """What :func:`assess_engagement` did; ``as_dict`` is ``vulndb match --json``."""

    services: int
    hosts: int
    matched: int
    ingest: IngestSummary
    matches: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The public JSON summary."""
        return {
            "services": self.services,
            "hosts": self.hosts,
            "matched": self.matched,
            "created": self.ingest.created,
            "updated": self.ingest.updated,
            "duplicates": self.ingest.duplicates,
            "closed": self.ingest.closed,
            "reopened": self.ingest.reopened,
            "import_id": self.ingest.import_id,
            "matches": self.matches,
        }


@dataclass(frozen=True)
class _CveDetails:
    references: tuple[str, ...]
    cwe_ids: tuple[int, ...]


def _details(session: Session, ids: Iterable[str]) -> dict[str, _CveDetails]:
    """References and CWE numbers of the matched CVEs (not part of the summaries)."""
    out: dict[str, _CveDetails] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        for cve_id, urls, cwes in session.execute(
            select(Cve.id, Cve.reference_urls, Cve.cwe_ids).where(Cve.id.in_(chunk))
        ):
            numbers = [int(m.group(1)) for c in cwes or [] if (m := _CWE_NUMBER.match(str(c)))]
            out[cve_id] = _CveDetails(tuple(urls or ()), tuple(dict.fromkeys(numbers)))
    return out


def _status_label(verdict: MatchVerdict) -> str:
    return t(f"vulndb_findings.status.{verdict.status}")


def _remediation(match: CveMatch, product: str) -> str:
    text = t("vulndb_findings.remediation", product=product, cve=match.cve_id)
    for criterion in match.criteria:
        if criterion.version_end_excluding:
            text = t(
                "vulndb_findings.remediation_fixed",
                product=product,
                fixed=criterion.version_end_excluding,
            )
            break
        if criterion.version_end_including:
            text = t(
                "vulndb_findings.remediation_fixed_after",
                product=product,
                fixed=criterion.version_end_including,
            )
            break
    if match.service.distro:
        text += "\n" + t("vulndb_findings.remediation_distro", distro=match.service.distro)
    return text


def _evidence(match: CveMatch, service: LedgerService) -> str:
    summary = match.summary
    lines = [t("vulndb_findings.evidence.version", version=service.display_version)]
    lines += [
        t("vulndb_findings.evidence.criterion", criteria=c.criteria, range=c.describe_range())
        for c in match.criteria
    ]
    lines.append(
        t(
            "vulndb_findings.evidence.verdict",
            status=_status_label(match.verdict),
            confidence=match.verdict.confidence,
        )
    )
    lines.append(t("vulndb_findings.evidence.reasons"))
    lines += [f"- {reason}" for reason in match.verdict.reasons]
    if summary.score is not None:
        lines.append(
            t("vulndb_findings.evidence.cvss", score=summary.score, vector=summary.cvss_vector)
        )
    if summary.kev:
        key = "kev_ransomware" if summary.kev_ransomware else "kev"
        due = summary.kev_due_date.isoformat() if summary.kev_due_date else "—"
        lines.append(t(f"vulndb_findings.evidence.{key}", due=due))
    if summary.epss_score is not None:
        lines.append(
            t(
                "vulndb_findings.evidence.epss",
                score=f"{summary.epss_score:.5f}",
                percentile=f"{summary.epss_percentile or 0:.5f}",
            )
        )
    return "\n".join(lines)


def finding_input(
    match: CveMatch, service: LedgerService, details: _CveDetails | None = None
) -> FindingInput:
    """The finding record of one match."""
    summary = match.summary
    product, version = service.display_product, service.display_version
    vector = summary.cvss_vector or None
    v4 = bool(vector and vector.upper().startswith("CVSS:4"))
    references = [_NVD_URL.format(cve=match.cve_id)]
    if details is not None:
        references += [u for u in details.references if u not in references]
    return FindingInput(
        source_tool=SOURCE_TOOL,
        check_id=match.cve_id,
        title=t(
            "vulndb_findings.title",
            cve=match.cve_id,
            product=product,
            version=version,
            status=_status_label(match.verdict),
        ),
        severity=match.severity,
        description=t(
            "vulndb_findings.description",
            where=f"{service.host}:{service.port}",
            product=product,
            version=version,
            cve=match.cve_id,
            text=summary.description or t("vulndb_findings.no_description"),
        ),
        remediation=_remediation(match, product),
        host=service.host,
        port=service.port,
        protocol=service.protocol,
        cvss_v3_vector=None if v4 else vector,
        cvss_v3_score=None if v4 else summary.score,
        cvss_v4_vector=vector if v4 else None,
        cvss_v4_score=summary.score if v4 else None,
        cve_ids=[match.cve_id],
        cwe_ids=list(details.cwe_ids) if details is not None else [],
        cnvd_ids=list(summary.cnvd_ids),
        cnnvd_ids=list(summary.cnnvd_ids),
        references=references[:REFERENCE_LIMIT],
        evidence=_evidence(match, service),
        confidence=match.verdict.status,
        extra={
            "kev": summary.kev,
            "kev_due_date": summary.kev_due_date.isoformat() if summary.kev_due_date else None,
            "epss": summary.epss_score,
            "epss_percentile": summary.epss_percentile,
            "confidence": match.verdict.confidence,
            "status": match.verdict.status,
            "product": product,
            "version": version,
            "matched_criteria": list(match.verdict.matched_criteria),
        },
    )


def match_row(match: CveMatch, service: LedgerService) -> dict[str, Any]:
    """One match as ``vulndb match --json`` lists it."""
    return {
        "cve": match.cve_id,
        "host": service.host,
        "port": service.port,
        "protocol": service.protocol,
        "product": service.display_product,
        "version": service.display_version,
        "status": match.verdict.status,
        "confidence": match.verdict.confidence,
        "severity": match.severity.value,
        "score": match.summary.score,
        "kev": match.summary.kev,
        "epss": match.summary.epss_score,
        "reasons": list(match.verdict.reasons),
    }


def confirmations(
    session: Session, engagement_id: int, hosts: Iterable[str]
) -> dict[tuple[str, int | None, str], str]:
    """Open findings of other tools (checks, templates, imported scanner results) in the
    engagement that name a CVE, keyed by (host, port, CVE) — port None for a host-level
    finding: the evidence that turns a version-based match on that service into "confirmed"."""
    wanted = sorted(set(hosts))
    found: dict[tuple[str, int | None, str], str] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(
                Finding.host, Finding.port, Finding.cve_ids, Finding.source_tool, Finding.check_id
            )
            .where(
                Finding.engagement_id == engagement_id,
                Finding.is_open.is_(True),
                Finding.source_tool != SOURCE_TOOL,
                Finding.host.in_(wanted[start : start + 500]),
            )
            .order_by(Finding.id)
        )
        for host, port, cve_ids, tool, check in rows:
            by = f"{tool}:{check}" if check else str(tool)
            for cve in cve_ids or ():
                key = str(cve).upper()
                found.setdefault((str(host), port, key), by)
    return found


def confirm_matches(
    session: Session,
    engagement_id: int,
    matches: list[CveMatch],
    services: Sequence[LedgerService],
) -> list[CveMatch]:
    """``matches`` with those proved by another open finding on the same service (or, when
    that finding has no port, the same host) marked "confirmed" (已确认, confidence 100)."""
    if not matches:
        return matches
    known = confirmations(session, engagement_id, (s.host for s in services))
    if not known:
        return matches
    out: list[CveMatch] = []
    for match in matches:
        service = services[match.service_index]
        cve = match.cve_id.upper()
        # A host-level finding (no port) naming the CVE proves it on any service of the host.
        by = known.get((service.host, service.port, cve)) or known.get((service.host, None, cve))
        out.append(replace(match, verdict=confirmed(match.verdict, by)) if by else match)
    return out


def _default_options(actor: str) -> IngestOptions:
    settings = get_settings()
    return IngestOptions(
        actor=actor,
        grouping=settings.workorder_grouping,
        dedup_scope=settings.dedup_scope,
        close_absent=True,
        fingerprints=load_fingerprint_config(settings.home / "fingerprints.yaml"),
    )


def assess_engagement(
    session: Session,
    engagement: Engagement,
    *,
    actor: str,
    limit_per_service: int | None = DEFAULT_LIMIT_PER_SERVICE,
    options: IngestOptions | None = None,
    now: datetime | None = None,
) -> AssessmentSummary:
    """Match the client's ledger services and record the matches as the engagement's findings.

    Runs in the caller's transaction. Findings of ``shaobing-vulndb`` that are no longer
    matched on a host the ledger has services for are closed (已修复), so re-running after
    an upgrade (or a vulnerability database update) closes what no longer applies. Refuses
    to run on an empty vulnerability database, which would close every such finding.
    """
    if session.scalar(select(CpeCriterionRecord.id).limit(1)) is None:
        raise ValidationError(t("vulndb_findings.empty_database"))
    services, covered = ledger_services(session, engagement.client_id)
    matches = match_services(
        session, (s.facts for s in services), limit_per_service=limit_per_service
    )
    matches = confirm_matches(session, engagement.id, matches, services)
    details = _details(session, {m.cve_id for m in matches})
    opts = options or _default_options(actor)
    if not opts.close_absent:
        covered = set()

    def records() -> Iterator[Record]:
        yield CoverageInput(hosts=sorted(covered))
        for match in matches:
            yield finding_input(match, services[match.service_index], details.get(match.cve_id))

    summary = ingest(
        session,
        engagement,
        records(),
        format_name=FORMAT_NAME,
        source_tool=SOURCE_TOOL,
        options=opts,
        now=now,
    )
    return AssessmentSummary(
        services=len(services),
        hosts=len({s.host for s in services}),
        matched=len(matches),
        ingest=summary,
        matches=[match_row(m, services[m.service_index]) for m in matches],
    )


__all__ = [
    "DEFAULT_LIMIT_PER_SERVICE",
    "SOURCE_TOOL",
    "AssessmentSummary",
    "CveMatch",
    "LedgerService",
    "ServiceMatcher",
    "assess_engagement",
    "candidate_ids",
    "confirm_matches",
    "confirmations",
    "finding_input",
    "finding_severity",
    "ledger_services",
    "match_row",
    "match_services",
    "priority",
    "product_keys",
    "service_facts",
    "with_vendor_aliases",
]

"""Helpers shared by the report builders: words, dates, counts, grouping, standard tables.

Everything here reads in bulk (one query per table, ids in chunks) so that a builder over
10,000 findings stays at a handful of queries. Findings are read as light :class:`FindingRow`
tuples; the long texts (description, remediation, evidence) are loaded only for the findings
a report shows in detail (:func:`load_details`). The words and column titles come from
``data/builders_scan.yaml`` (:func:`text`, :func:`column`), never from code.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from shaobing.assets.kinds import AssetType, asset_type_label
from shaobing.assets.models import Asset, AssetAddress
from shaobing.engagements.models import BusinessSystem, Engagement
from shaobing.findings.models import Finding, WorkOrder
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import OPEN_STATES, Status, sla_days, status_label
from shaobing.reports.model import Chart, ChartSpec, Column, Table
from shaobing.reports.period import Period

DATA_FILE = "builders_scan.yaml"
#: Severities from most to least severe (the order of every count and table).
SEVERITIES: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.INFO,
)
#: Ids per ``IN (...)`` list: well under SQLite's bound-parameter limit.
CHUNK = 900
_OPEN_VALUES = frozenset(s.value for s in OPEN_STATES)


# --------------------------------------------------------------------------- words
@cache
def texts() -> dict[str, Any]:
    """The packaged words of the builders (``data/builders_scan.yaml``)."""
    raw = resources.files("shaobing.reports").joinpath("data", DATA_FILE).read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(raw)
    return data


def node(key: str) -> Any:
    """The raw value at a dotted key of the words file (a KeyError names a missing key)."""
    value: Any = texts()
    for part in key.split("."):
        value = value[part]
    return value


@cache
def _phrase(key: str) -> str:
    return str(node(key))


def text(key: str, **params: object) -> str:
    """A phrase of the words file with ``str.format`` parameters filled in."""
    phrase = _phrase(key)
    # Reports call this per table cell: skip formatting when there is nothing to fill.
    return phrase.format(**params) if params else phrase


def column(key: str, width: float = 1.0, align: str = "left") -> Column:
    """A table column titled from ``columns.<key>``."""
    if align not in ("left", "center", "right"):
        raise ValueError(align)
    return Column(text(f"columns.{key}"), width, align)  # type: ignore[arg-type]


@cache
def severity_word(severity: str) -> str:
    """The report word of a severity value (严重/高危/中危/低危/信息)."""
    return text(f"severity.{Severity(severity).value}")


def short(value: str | None, limit: int) -> str:
    """``value`` cut to ``limit`` characters with an ellipsis (empty for None)."""
    if not value:
        return ""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def percent(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole`` with one decimal (``—`` when whole is 0)."""
    if whole <= 0:
        return text("none")
    return text("percent", value=100.0 * part / whole)


def listing(items: Sequence[str], limit: int) -> str:
    """Items joined with 、, at most ``limit`` of them, with the total when cut."""
    if not items:
        return text("none")
    shown = "、".join(items[:limit])
    if len(items) > limit:
        return text("more", shown=shown, count=len(items))
    return shown


# --------------------------------------------------------------------------- dates
def cn_date(day: date | datetime | None, tz: str | None = None) -> str:
    """A date as 2026年3月5日 (a datetime is first converted to ``tz``); ``—`` for None."""
    if day is None:
        return text("none")
    if isinstance(day, datetime):
        day = local_date(day, tz)
    return _date_text(day)


@cache
def _date_text(day: date) -> str:
    return text("date", year=day.year, month=day.month, day=day.day)


@cache
def state_word(state: str) -> str:
    """The Chinese label of a finding or work-order state (新增, 待修复, 已修复…)."""
    return status_label(state)


def cn_datetime(moment: datetime | None, tz: str) -> str:
    """A timestamp in the engagement's time zone as 2026年3月5日 14:30; ``—`` for None."""
    if moment is None:
        return text("none")
    local = moment.astimezone(ZoneInfo(tz))
    return text(
        "datetime",
        year=local.year,
        month=local.month,
        day=local.day,
        hour=local.hour,
        minute=local.minute,
    )


def local_date(moment: datetime, tz: str | None) -> date:
    """The calendar day of a UTC timestamp in time zone ``tz`` (UTC when None)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz) if tz else UTC).date()


def day_bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """UTC instants of [start 00:00, end+1 00:00) in time zone ``tz`` (half-open)."""
    zone = ZoneInfo(tz)
    first = datetime.combine(start, time.min, zone).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC)
    return first, after


def period_window(period: Period | None, tz: str) -> tuple[datetime, datetime] | None:
    """The period as half-open UTC bounds in the engagement's time zone, or None."""
    if period is None:
        return None
    return day_bounds(period.start, period.end, tz)


def seen_within(window: tuple[datetime, datetime] | None) -> list[ColumnElement[bool]]:
    """Conditions keeping findings detected during the window: first seen before its end
    and last seen after its start (so first or last sighting, or both, fall inside it)."""
    if window is None:
        return []
    start, after = window
    return [Finding.first_seen < after, Finding.last_seen >= start]


def months(start: date, end: date) -> list[tuple[int, int]]:
    """The (year, month) pairs from ``start``'s month to ``end``'s month inclusive."""
    out: list[tuple[int, int]] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_label(year: int, month: int, *, compact: bool = False) -> str:
    """``2026年3月`` (or ``2026-03`` when ``compact``, for chart axes)."""
    return text("month_short" if compact else "month_label", year=year, month=month)


def month_counts(days: Iterable[date], wanted: Sequence[tuple[int, int]]) -> list[int]:
    """How many of ``days`` fall in each month of ``wanted`` (others are ignored)."""
    counter = Counter((d.year, d.month) for d in days)
    return [counter.get(m, 0) for m in wanted]


# --------------------------------------------------------------------------- findings
@dataclass(frozen=True, slots=True)
class FindingRow:
    """The columns of a finding reports list, without the long texts."""

    id: int
    source_tool: str
    check_id: str
    title: str
    severity: str
    rank: int
    status: str
    is_open: bool
    host: str | None
    port: int | None
    protocol: str | None
    url: str | None
    parameter: str | None
    asset_id: int | None
    work_order_id: int | None
    cve_ids: tuple[str, ...]
    cwe_ids: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    tags: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """Where the finding is: URL (and parameter), else host:port/protocol, else host."""
        if self.url:
            return f"{self.url} {self.parameter}" if self.parameter else self.url
        if self.host and self.port:
            return (
                f"{self.host}:{self.port}/{self.protocol}"
                if self.protocol
                else (f"{self.host}:{self.port}")
            )
        return self.host or text("none")

    @property
    def target(self) -> str:
        """The host the finding counts against (a web finding without one: its site)."""
        if self.host:
            return self.host
        if self.url:
            site = urlsplit(self.url).netloc
            if site:
                return site
        return text("none")


_ROW_COLUMNS = (
    Finding.id,
    Finding.source_tool,
    Finding.check_id,
    Finding.title,
    Finding.severity,
    Finding.severity_rank,
    Finding.status,
    Finding.is_open,
    Finding.host,
    Finding.port,
    Finding.protocol,
    Finding.url,
    Finding.parameter,
    Finding.asset_id,
    Finding.work_order_id,
    Finding.cve_ids,
    Finding.cwe_ids,
    Finding.first_seen,
    Finding.last_seen,
    Finding.extra,
)


def _row(values: Sequence[Any], with_tags: bool) -> FindingRow:
    extra = values[19] if with_tags else None
    tags: tuple[str, ...] = ()
    raw = extra.get("tags") if isinstance(extra, dict) else None
    # Template tags are a list, or one comma-separated string in some tools' output.
    if isinstance(raw, str):
        raw = raw.split(",")
    if isinstance(raw, list):
        tags = tuple(str(tag).strip().lower() for tag in raw if str(tag).strip())
    return FindingRow(
        id=values[0],
        source_tool=values[1],
        check_id=values[2],
        title=values[3],
        severity=values[4],
        rank=values[5],
        status=values[6],
        is_open=bool(values[7]),
        host=values[8],
        port=values[9],
        protocol=values[10],
        url=values[11],
        parameter=values[12],
        asset_id=values[13],
        work_order_id=values[14],
        cve_ids=tuple(str(c) for c in values[15] or ()),
        cwe_ids=tuple(int(c) for c in values[16] or () if str(c).isdigit()),
        first_seen=values[17],
        last_seen=values[18],
        tags=tags,
    )


def load_findings(
    session: Session,
    engagement: Engagement,
    *where: ColumnElement[bool],
    with_tags: bool = False,
) -> list[FindingRow]:
    """The engagement's findings matching ``where``, most severe first, in one query.

    ``with_tags`` also reads the ``extra`` JSON for the template tags (weakness classes);
    it is left out otherwise because it is the widest column after the texts.
    """
    columns = _ROW_COLUMNS if with_tags else _ROW_COLUMNS[:19]
    statement = (
        select(*columns)
        .where(Finding.engagement_id == engagement.id, *where)
        .order_by(Finding.severity_rank.desc(), Finding.id)
    )
    return [_row(tuple(r), with_tags) for r in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class FindingDetail:
    """The long texts of one finding (shown for one representative per group)."""

    description: str | None
    remediation: str | None
    evidence: str | None
    references: tuple[str, ...]
    cnvd_ids: tuple[str, ...]
    cnnvd_ids: tuple[str, ...]


def load_details(session: Session, ids: Iterable[int]) -> dict[int, FindingDetail]:
    """Descriptions, remediation, evidence (masked as stored) and references by finding id."""
    wanted = sorted(set(ids))
    out: dict[int, FindingDetail] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = session.execute(
            select(
                Finding.id,
                Finding.description,
                Finding.remediation,
                Finding.evidence,
                Finding.references,
                Finding.cnvd_ids,
                Finding.cnnvd_ids,
            ).where(Finding.id.in_(chunk))
        )
        for fid, desc, fix, evidence, refs, cnvd, cnnvd in rows:
            out[fid] = FindingDetail(
                desc,
                fix,
                evidence,
                tuple(str(r) for r in refs or ()),
                tuple(str(c) for c in cnvd or ()),
                tuple(str(c) for c in cnnvd or ()),
            )
    return out


def is_web(row: FindingRow) -> bool:
    """Whether a finding is a web application finding (has a URL, or a web tool's)."""
    return bool(row.url) or row.source_tool in _web_sources()


@cache
def _web_sources() -> frozenset[str]:
    return frozenset(str(name) for name in node("web_sources"))


@dataclass
class FindingGroup:
    """Findings of one rule (source tool + check id): one entry of a report's details."""

    source_tool: str
    check_id: str
    title: str
    severity: str
    rows: list[FindingRow] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many findings (affected places) the group has."""
        return len(self.rows)

    @property
    def open_count(self) -> int:
        """How many of them are still open (新增/待修复)."""
        return sum(1 for r in self.rows if r.is_open)

    @property
    def targets(self) -> list[str]:
        """The distinct hosts/sites affected, in first-seen order."""
        return list(dict.fromkeys(r.target for r in self.rows))

    @property
    def locations(self) -> list[str]:
        """Every affected place (host:port or URL), sorted."""
        return sorted({r.location for r in self.rows})

    @property
    def cve_ids(self) -> list[str]:
        """The CVE ids named by any member."""
        return sorted({c for r in self.rows for c in r.cve_ids})

    @property
    def cwe_ids(self) -> list[int]:
        """The CWE numbers named by any member."""
        return sorted({c for r in self.rows for c in r.cwe_ids})


def group_findings(rows: Iterable[FindingRow]) -> list[FindingGroup]:
    """Findings grouped by (source tool, check id); most severe, then most common first.

    A group's severity is its most severe member's and its title that member's title.
    """
    groups: dict[tuple[str, str], FindingGroup] = {}
    for row in rows:
        key = (row.source_tool, row.check_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = FindingGroup(
                row.source_tool, row.check_id, row.title, row.severity
            )
        elif row.rank > Severity(group.severity).rank:
            group.severity, group.title = row.severity, row.title
        group.rows.append(row)
    return sorted(
        groups.values(),
        key=lambda g: (-Severity(g.severity).rank, -g.count, g.title, g.check_id),
    )


def severity_counts(severities: Iterable[str]) -> dict[str, int]:
    """Counts of every severity value (all five keys, most severe first)."""
    counter = Counter(severities)
    return {s.value: counter.get(s.value, 0) for s in SEVERITIES}


def severity_rows(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Template rows: word, count, share, value, for each severity."""
    total = sum(counts.values())
    return [
        {
            "value": key,
            "word": severity_word(key),
            "count": count,
            "share": percent(count, total),
        }
        for key, count in counts.items()
    ]


def severity_table(counts: dict[str, int], caption: str) -> Table:
    """等级 / 数量 / 占比 rows with a 合计 row."""
    total = sum(counts.values())
    rows = [[r["word"], str(r["count"]), r["share"]] for r in severity_rows(counts)]
    rows.append([text("columns.total"), str(total), percent(total, total)])
    return Table(
        columns=[
            column("level", 1.0, "center"),
            column("count", 1.0, "right"),
            column("share", 1.0, "right"),
        ],
        rows=rows,
        caption=caption,
        level_column=0,
    )


def severity_chart(counts: dict[str, int], title: str) -> Chart:
    """A bar chart of the counts per severity word."""
    return Chart(
        ChartSpec(
            kind="bar",
            title=title,
            labels=[severity_word(k) for k in counts],
            series={text("series.count"): [float(v) for v in counts.values()]},
        )
    )


def rating(counts: dict[str, int]) -> dict[str, Any]:
    """The overall rating (``key``, ``word``) by the first rule of ``rating`` that holds,
    and ``rules``: every rule's word and explanation, for the template to state the rule."""
    rules: list[dict[str, Any]] = node("rating")
    chosen = rules[-1]
    for rule in rules:
        wanted = rule["any_of"]
        if not wanted or any(counts.get(level, 0) > 0 for level in wanted):
            chosen = rule
            break
    return {
        "key": chosen["key"],
        "word": chosen["word"],
        "rules": [{"word": r["word"], "explain": r["explain"]} for r in rules],
    }


# --------------------------------------------------------------------------- hosts
@dataclass
class HostCount:
    """Findings of one host, per severity."""

    host: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All findings of the host."""
        return sum(self.counts.values())


def top_hosts(rows: Iterable[FindingRow], n: int) -> list[HostCount]:
    """The ``n`` hosts with the most severe findings (then the most findings, then name)."""
    per: dict[str, Counter[str]] = {}
    for row in rows:
        per.setdefault(row.target, Counter())[row.severity] += 1
    hosts = [HostCount(h, {s.value: c.get(s.value, 0) for s in SEVERITIES}) for h, c in per.items()]
    hosts.sort(key=lambda h: (*(-h.counts[s.value] for s in SEVERITIES), h.host))
    return hosts[:n]


def top_hosts_table(hosts: Sequence[HostCount], caption: str) -> Table:
    """序号 / 主机 / one column per severity / 合计."""
    return Table(
        columns=[
            column("index", 0.5, "center"),
            column("host", 2.2),
            *(Column(severity_word(s.value), 0.7, "right") for s in SEVERITIES),
            column("total", 0.7, "right"),
        ],
        rows=[
            [str(i), h.host, *(str(h.counts[s.value]) for s in SEVERITIES), str(h.total)]
            for i, h in enumerate(hosts, start=1)
        ],
        caption=caption,
    )


def top_hosts_chart(hosts: Sequence[HostCount], title: str) -> Chart:
    """A stacked bar chart of the hosts' findings per severity."""
    return Chart(
        ChartSpec(
            kind="stacked",
            title=title,
            labels=[h.host for h in hosts],
            series={
                severity_word(s.value): [float(h.counts[s.value]) for h in hosts]
                for s in SEVERITIES
            },
        )
    )


def trend_chart(title: str, labels: list[str], series: dict[str, list[int]]) -> Chart:
    """A line chart of monthly counts."""
    return Chart(
        ChartSpec(
            kind="line",
            title=title,
            labels=labels,
            series={name: [float(v) for v in values] for name, values in series.items()},
        )
    )


# --------------------------------------------------------------------------- tables
def findings_table(rows: Sequence[FindingRow], *, caption: str, sheet: str, tz: str) -> Table:
    """The full findings list (also an XLSX annex sheet)."""
    return Table(
        columns=[
            column("index", 0.5, "center"),
            column("vuln_title", 3.0),
            column("level", 0.6, "center"),
            column("location", 2.2),
            column("cve", 1.2),
            column("source", 1.0),
            column("status", 0.7, "center"),
            column("first_seen", 1.0),
            column("last_seen", 1.0),
        ],
        rows=[
            [
                str(i),
                r.title,
                severity_word(r.severity),
                r.location,
                "、".join(r.cve_ids) or text("none"),
                r.source_tool,
                state_word(r.status),
                cn_date(r.first_seen, tz),
                cn_date(r.last_seen, tz),
            ]
            for i, r in enumerate(rows, start=1)
        ],
        caption=caption,
        level_column=2,
        sheet=sheet,
    )


@dataclass(frozen=True, slots=True)
class OrderRow:
    """The columns of a work order reports list."""

    id: int
    title: str
    severity: str
    state: str
    assignee: str | None
    due_date: date | None
    closed_at: datetime | None


_ORDER_COLUMNS = (
    WorkOrder.id,
    WorkOrder.title,
    WorkOrder.severity,
    WorkOrder.state,
    WorkOrder.assignee,
    WorkOrder.due_date,
    WorkOrder.closed_at,
)


def load_work_orders(
    session: Session, engagement: Engagement, ids: Iterable[int] | None = None
) -> list[OrderRow]:
    """The engagement's work orders (only ``ids`` when given), most severe first, then by
    deadline."""
    query = select(*_ORDER_COLUMNS).where(WorkOrder.engagement_id == engagement.id)
    wanted = None if ids is None else set(ids)
    if wanted is not None and len(wanted) <= CHUNK:
        query = query.where(WorkOrder.id.in_(sorted(wanted)))
    # Many ids: one scan of the engagement's orders is cheaper than many IN lists.
    orders = [
        OrderRow(*row) for row in session.execute(query) if wanted is None or row[0] in wanted
    ]
    orders.sort(key=lambda o: (-Severity(o.severity).rank, o.due_date or date.max, o.id))
    return orders


def is_overdue(order: OrderRow, as_of: date) -> bool:
    """Open, with a deadline before ``as_of``."""
    return bool(order.state in _OPEN_VALUES and order.due_date and order.due_date < as_of)


def overdue_days(order: OrderRow, as_of: date) -> int:
    """Days past the deadline on ``as_of`` (0 when not overdue)."""
    if not is_overdue(order, as_of) or order.due_date is None:
        return 0
    return (as_of - order.due_date).days


def work_order_table(
    orders: Sequence[OrderRow], *, as_of: date, caption: str, sheet: str | None
) -> Table:
    """工单号 / 标题 / 等级 / 状态 / 责任人 / 整改期限 / 是否超期 (as of ``as_of``)."""
    return Table(
        columns=[
            column("work_order", 0.7, "center"),
            column("order_title", 3.2),
            column("level", 0.6, "center"),
            column("status", 0.7, "center"),
            column("assignee", 0.9),
            column("due", 1.1),
            column("overdue", 0.6, "center"),
        ],
        rows=[
            [
                f"WO-{o.id}",
                o.title,
                severity_word(o.severity),
                state_word(o.state),
                o.assignee or text("none"),
                cn_date(o.due_date),
                text("word_yes") if is_overdue(o, as_of) else text("word_no"),
            ]
            for o in orders
        ],
        caption=caption,
        level_column=2,
        sheet=sheet,
    )


def asset_table(
    session: Session,
    engagement: Engagement,
    *,
    caption: str,
    sheet: str | None,
    asset_ids: Iterable[int] | None = None,
) -> Table:
    """The client's ledger assets (only ``asset_ids`` when given), by name; two queries."""
    wanted = None if asset_ids is None else set(asset_ids)
    assets = [
        row
        for row in session.execute(
            select(
                Asset.id,
                Asset.name,
                Asset.asset_type,
                Asset.hostname,
                Asset.system_id,
                Asset.os,
                Asset.importance,
            )
            .where(Asset.client_id == engagement.client_id)
            .order_by(Asset.name)
        )
        if wanted is None or row[0] in wanted
    ]
    addresses: dict[int, list[str]] = {}
    for asset_id, address in session.execute(
        select(AssetAddress.asset_id, AssetAddress.address)
        .where(AssetAddress.client_id == engagement.client_id)
        .order_by(AssetAddress.id)
    ):
        addresses.setdefault(asset_id, []).append(address)
    systems = dict(
        session.execute(
            select(BusinessSystem.id, BusinessSystem.name).where(
                BusinessSystem.client_id == engagement.client_id
            )
        ).all()
    )
    none = text("none")
    return Table(
        columns=[
            column("index", 0.5, "center"),
            column("asset", 1.8),
            column("asset_type", 0.9),
            column("addresses", 1.6),
            column("system", 1.4),
            column("os", 1.4),
            column("importance", 0.8),
        ],
        rows=[
            [
                str(i),
                name,
                _type_label(kind),
                "、".join(addresses.get(asset_id, [])) or (hostname or none),
                systems.get(system_id, none) if system_id else none,
                os or none,
                importance or none,
            ]
            for i, (asset_id, name, kind, hostname, system_id, os, importance) in enumerate(
                assets, start=1
            )
        ],
        caption=caption,
        sheet=sheet,
    )


def _type_label(value: str) -> str:
    try:
        return asset_type_label(AssetType(value))
    except ValueError:
        return value


def asset_type_counts(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """The client's ledger assets counted per type (template rows: label, count)."""
    counter = Counter(
        session.scalars(select(Asset.asset_type).where(Asset.client_id == engagement.client_id))
    )
    return [
        {"label": _type_label(kind), "count": count}
        for kind, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def sla_rows(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """The engagement's remediation deadline per severity (template rows)."""
    days = sla_days(session, engagement.id)
    return [
        {
            "value": s.value,
            "word": severity_word(s.value),
            "days": days.get(s),
            "text": text("days", days=days[s]) if days.get(s) else text("no_limit"),
        }
        for s in SEVERITIES
    ]


def sla_table(rows: list[dict[str, Any]], caption: str) -> Table:
    """等级 / 整改时限 from :func:`sla_rows`."""
    return Table(
        columns=[column("level", 1.0, "center"), column("sla_days", 1.5, "center")],
        rows=[[r["word"], r["text"]] for r in rows],
        caption=caption,
        level_column=0,
    )


def engagement_facts(engagement: Engagement) -> dict[str, Any]:
    """Template values describing the engagement: client, dates, systems, scope entries."""
    return {
        "client": engagement.client.name,
        "name": engagement.name,
        "code": engagement.code or "",
        "start": cn_date(engagement.start_date) if engagement.start_date else "",
        "end": cn_date(engagement.end_date) if engagement.end_date else "",
        "systems": [s.name for s in engagement.systems],
        "scope_include": [e.value for e in engagement.scope_entries if e.mode == "include"],
        "scope_exclude": [e.value for e in engagement.scope_entries if e.mode == "exclude"],
        "timezone": engagement.timezone,
    }


def status_is_open(status: str) -> bool:
    """Whether a finding/work-order state counts as open (新增/待修复)."""
    return status in _OPEN_VALUES


def is_closed_fixed(status: str) -> bool:
    """已修复 or 已验证."""
    return status in (Status.FIXED.value, Status.VERIFIED.value)


def matches_any(value: str, patterns: Iterable[str]) -> bool:
    """Whether ``value`` matches one of the shell-style ``patterns`` (case-insensitive)."""
    lowered = value.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)

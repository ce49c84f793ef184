"""Service functions for clients and engagements (used by the CLI, API and scheduler)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.core.audit import record_event
from shaobing.core.errors import ConflictError, NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import parse_scope_entry, parse_time_window
from shaobing.engagements.catalog import Frequency, catalog
from shaobing.engagements.models import (
    BusinessSystem,
    Client,
    Deliverable,
    Engagement,
    EngagementStatus,
    EngagementSystem,
    ScopeEntryRecord,
    ServiceItem,
    SlaTerm,
    TimeWindowRecord,
)
from shaobing.engagements.schedule import plan_deliverables

# ---------------------------------------------------------------- clients


def add_client(
    session: Session,
    name: str,
    *,
    code: str | None = None,
    contact: str | None = None,
    notes: str | None = None,
    actor: str = "system",
) -> Client:
    """Create a client (tenant); names and codes are unique."""
    name = name.strip()
    if not name:
        raise ValidationError(t("engagements.client_name_empty"))
    if session.scalar(select(Client).where(Client.name == name)) is not None:
        raise ConflictError(t("engagements.client_exists", name=name))
    if code and session.scalar(select(Client).where(Client.code == code)) is not None:
        raise ConflictError(t("engagements.client_code_exists", code=code))
    client = Client(name=name, code=code or None, contact=contact, notes=notes)
    session.add(client)
    session.flush()
    record_event(
        session,
        "client.create",
        actor=actor,
        client_id=client.id,
        target=name,
        detail={"code": code},
    )
    return client


def list_clients(session: Session) -> list[Client]:
    """Every client, by name."""
    return list(session.scalars(select(Client).order_by(Client.name)))


def resolve_client(session: Session, ref: str) -> Client:
    """Find a client by id, code or exact name."""
    ref = ref.strip()
    client = None
    if ref.isdigit():
        client = session.get(Client, int(ref))
    if client is None:
        client = session.scalar(select(Client).where((Client.name == ref) | (Client.code == ref)))
    if client is None:
        raise NotFoundError(t("engagements.client_not_found", ref=ref))
    return client


# ---------------------------------------------------------------- engagements


@dataclass(frozen=True)
class ServiceItemInput:
    """A service item as requested: kind, frequency, months and optional due date."""

    kind: str
    frequency: Frequency
    months: tuple[int, ...] = ()
    due_by: date | None = None
    notes: str | None = None


_MONTHS_RE = re.compile(r"^\d{1,2}(,\d{1,2})*$")


def parse_service_item(text: str) -> ServiceItemInput:
    """Parse ``KIND[:FREQUENCY][:MONTHS|due=YYYY-MM-DD]``, e.g. ``vuln_scan:semiannual:3,9``."""
    parts = [p.strip() for p in text.strip().split(":")]
    kind = parts[0]
    items = catalog().items
    if kind not in items:
        raise ValidationError(
            t("engagements.unknown_item", item=text, known=", ".join(sorted(items)))
        )
    frequency = items[kind].default_frequency
    months: tuple[int, ...] = ()
    due_by = None
    for part in parts[1:]:
        if not part:
            continue
        if part in {f.value for f in Frequency}:
            frequency = Frequency(part)
        elif part.startswith("due="):
            try:
                due_by = date.fromisoformat(part.removeprefix("due="))
            except ValueError as exc:
                raise ValidationError(t("engagements.bad_item_due", item=text)) from exc
        elif _MONTHS_RE.match(part):
            months = tuple(sorted({int(m) for m in part.split(",")}))
            if any(not 1 <= m <= 12 for m in months):
                raise ValidationError(t("engagements.bad_item_months", item=text))
        else:
            raise ValidationError(t("engagements.bad_item_part", item=text, part=part))
    return ServiceItemInput(kind, frequency, months, due_by)


def parse_sla(text: str) -> tuple[str, int]:
    """Parse ``KEY=MINUTES`` (also ``KEY=2h``/``KEY=1d``) into a key and minutes."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip().lower()
    known = catalog().sla
    if not sep or key not in known:
        raise ValidationError(
            t("engagements.unknown_sla", item=text, known=", ".join(sorted(known)))
        )
    match = re.fullmatch(r"(\d+)\s*(m|min|h|d)?", raw)
    if not match or int(match.group(1)) <= 0:
        raise ValidationError(t("engagements.bad_sla_value", item=text))
    factor = {"h": 60, "d": 1440}.get(match.group(2) or "m", 1)
    return key, int(match.group(1)) * factor


@dataclass
class EngagementInput:
    """What it takes to create an engagement."""

    name: str
    scope: list[str]
    exclude: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    start: date | None = None
    end: date | None = None
    code: str | None = None
    description: str | None = None
    timezone: str = "Asia/Shanghai"
    systems: list[str] = field(default_factory=list)
    items: list[ServiceItemInput] = field(default_factory=list)
    sla: dict[str, int] = field(default_factory=dict)
    adhoc: bool = False


def create_engagement(
    session: Session, client: Client, spec: EngagementInput, *, actor: str = "system"
) -> Engagement:
    """Validate and store an engagement with its scope, windows, items, SLA and deliverables."""
    name = spec.name.strip()
    if not name:
        raise ValidationError(t("engagements.name_empty"))
    if session.scalar(
        select(Engagement).where(Engagement.client_id == client.id, Engagement.name == name)
    ):
        raise ConflictError(t("engagements.exists", name=name, client=client.name))
    if spec.start and spec.end and spec.start > spec.end:
        raise ValidationError(t("engagements.bad_period", start=spec.start, end=spec.end))
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(t("engagements.bad_timezone", tz=spec.timezone)) from exc
    if not spec.scope:
        raise ValidationError(t("engagements.scope_empty"))
    includes = _parse_entries(spec.scope)
    excludes = _parse_entries(spec.exclude)
    windows = [parse_time_window(w).raw for w in spec.windows]
    if spec.items and (spec.start is None or spec.end is None):
        raise ValidationError(t("engagements.items_need_period"))

    engagement = Engagement(
        client_id=client.id,
        name=name,
        code=spec.code,
        start_date=spec.start,
        end_date=spec.end,
        timezone=spec.timezone,
        description=spec.description,
        status=EngagementStatus.ACTIVE.value,
        adhoc=spec.adhoc,
    )
    session.add(engagement)
    session.flush()
    cid, eid = client.id, engagement.id
    for mode, entries in (("include", includes), ("exclude", excludes)):
        for raw, kind in entries:
            session.add(
                ScopeEntryRecord(client_id=cid, engagement_id=eid, mode=mode, value=raw, kind=kind)
            )
    for raw in windows:
        session.add(TimeWindowRecord(client_id=cid, engagement_id=eid, spec=raw))
    for system_name in dict.fromkeys(s.strip() for s in spec.systems if s.strip()):
        system = get_or_create_system(session, client, system_name)
        session.add(EngagementSystem(client_id=cid, engagement_id=eid, system_id=system.id))
    for item in spec.items:
        _add_service_item(session, engagement, item)
    sla = {key: term.minutes for key, term in catalog().sla.items()} | spec.sla
    for key, minutes in sla.items():
        session.add(SlaTerm(client_id=cid, engagement_id=eid, key=key, minutes=minutes))
    session.flush()
    record_event(
        session,
        "engagement.create",
        actor=actor,
        client_id=cid,
        engagement_id=eid,
        target=name,
        detail={
            "scope": [r for r, _ in includes],
            "exclude": [r for r, _ in excludes],
            "windows": windows,
            "start": spec.start,
            "end": spec.end,
        },
    )
    return engagement


def _parse_entries(raw_entries: list[str]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for raw in raw_entries:
        for piece in re.split(r"[,\s，；;]+", raw):
            if piece:
                entry = parse_scope_entry(piece)
                seen.setdefault(entry.raw, entry.kind)
    return list(seen.items())


def _add_service_item(session: Session, engagement: Engagement, item: ServiceItemInput) -> None:
    spec = catalog().items[item.kind]
    row = ServiceItem(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        kind=item.kind,
        frequency=item.frequency.value,
        months=list(item.months),
        due_by=item.due_by,
        deliverable=spec.deliverable,
        notes=item.notes,
    )
    session.add(row)
    session.flush()
    for planned in plan_deliverables(
        item.kind,
        item.frequency,
        list(item.months),
        item.due_by,
        engagement.start_date,
        engagement.end_date,
    ):
        session.add(
            Deliverable(
                client_id=engagement.client_id,
                engagement_id=engagement.id,
                service_item_id=row.id,
                kind=planned.kind,
                period=planned.period,
                due_date=planned.due_date,
            )
        )


def get_or_create_system(session: Session, client: Client, name: str) -> BusinessSystem:
    """The client's business system of that name, created when new."""
    system = session.scalar(
        select(BusinessSystem).where(
            BusinessSystem.client_id == client.id, BusinessSystem.name == name
        )
    )
    if system is None:
        system = BusinessSystem(client_id=client.id, name=name)
        session.add(system)
        session.flush()
    return system


def list_engagements(session: Session, client: Client | None = None) -> list[Engagement]:
    """Engagements, optionally of one client, newest first."""
    query = select(Engagement).order_by(Engagement.client_id, Engagement.id.desc())
    if client is not None:
        query = query.where(Engagement.client_id == client.id)
    return list(session.scalars(query))


def resolve_engagement(session: Session, ref: str, client: Client | None = None) -> Engagement:
    """Find an engagement by id, or by name/code (within ``client`` when given)."""
    ref = ref.strip()
    query = select(Engagement)
    if client is not None:
        query = query.where(Engagement.client_id == client.id)
    if ref.isdigit():
        found = session.scalar(query.where(Engagement.id == int(ref)))
        if found is not None:
            return found
    matches = list(
        session.scalars(query.where((Engagement.name == ref) | (Engagement.code == ref)))
    )
    if not matches:
        raise NotFoundError(t("engagements.not_found", ref=ref))
    if len(matches) > 1:
        raise ValidationError(
            t("engagements.ambiguous", ref=ref, ids=", ".join(str(e.id) for e in matches))
        )
    return matches[0]


def engagement_as_dict(engagement: Engagement) -> dict[str, Any]:
    """The stable JSON form of an engagement (``engagement show --json``)."""
    items = catalog().items
    deliverable_names = catalog().deliverables
    sla_names = catalog().sla
    return {
        "id": engagement.id,
        "name": engagement.name,
        "code": engagement.code,
        "client": {"id": engagement.client.id, "name": engagement.client.name},
        "status": engagement.status,
        "adhoc": engagement.adhoc,
        "start": engagement.start_date.isoformat() if engagement.start_date else None,
        "end": engagement.end_date.isoformat() if engagement.end_date else None,
        "timezone": engagement.timezone,
        "scope": {
            "include": [e.value for e in engagement.scope_entries if e.mode == "include"],
            "exclude": [e.value for e in engagement.scope_entries if e.mode == "exclude"],
            "windows": [w.spec for w in engagement.windows],
        },
        "systems": [s.name for s in engagement.systems],
        "service_items": [
            {
                "kind": i.kind,
                "name": items[i.kind].name if i.kind in items else i.kind,
                "frequency": i.frequency,
                "months": i.months,
                "due_by": i.due_by.isoformat() if i.due_by else None,
                "deliverable": i.deliverable,
            }
            for i in engagement.service_items
        ],
        "sla": [
            {
                "key": s.key,
                "name": sla_names[s.key].name if s.key in sla_names else s.key,
                "minutes": s.minutes,
            }
            for s in engagement.sla_terms
        ],
        "deliverables": [
            {
                "id": d.id,
                "kind": d.kind,
                "title": deliverable_names.get(d.kind, d.kind),
                "period": d.period,
                "due_date": d.due_date.isoformat() if d.due_date else None,
                "state": d.state,
            }
            for d in engagement.deliverables
        ],
        "created_at": engagement.created_at.isoformat(),
    }

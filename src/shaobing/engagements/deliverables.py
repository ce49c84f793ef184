"""The deliverables tracker (I2): what an engagement owes, when, and how far each item got.

A deliverable moves 计划中 → 进行中 (a file is attached, usually by a report build) → 已提交
(handed to the client, with a date) → 已验收 (the client signed it off). ``reopen`` takes a
submitted or accepted deliverable back to work. Every move is kept in ``extra["history"]``
and in the platform's audit log.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.core.audit import record_event
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.catalog import catalog
from shaobing.engagements.models import Deliverable, DeliverableState, Engagement, ServiceItem
from shaobing.reports.model import (
    Block,
    Column,
    Heading,
    Paragraph,
    ReportDocument,
    ReportMeta,
    Span,
    Table,
)
from shaobing.reports.period import Period, parse_period

State = DeliverableState
OPEN_STATES = frozenset({State.PLANNED.value, State.IN_PROGRESS.value})
MAX_NOTE = 2000


# ---------------------------------------------------------------- names and dates


def state_label(state: str) -> str:
    """The Chinese label of a state (计划中/进行中/已提交/已验收)."""
    return t(f"deliverables.state.{state}")


def parse_state(text: str) -> State:
    """A state from its key (``submitted``) or its label (``已提交``); one-line error otherwise."""
    cleaned = text.strip()
    for state in State:
        if cleaned.lower() == state.value or cleaned == state_label(state.value):
            return state
    known = ", ".join(f"{s.value}（{state_label(s.value)}）" for s in State)
    raise ValidationError(t("deliverables.bad_state", state=text, known=known))


def kind_title(kind: str) -> str:
    """The deliverable kind's Chinese name from the catalogue (the key when unknown)."""
    return catalog().deliverables.get(kind, kind)


def _zone(engagement: Engagement) -> ZoneInfo:
    try:
        return ZoneInfo(engagement.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def _moment(engagement: Engagement, day: date | None) -> datetime:
    # A business date given by the user is stored as local noon, so that converting back in
    # the engagement's time zone always gives the same day.
    if day is None:
        return datetime.now(UTC)
    return datetime.combine(day, time(12, 0), tzinfo=_zone(engagement))


def local_date(engagement: Engagement, moment: datetime | None) -> date | None:
    """The calendar day of a stored timestamp in the engagement's time zone."""
    if moment is None:
        return None
    return moment.astimezone(_zone(engagement)).date()


def period_label(period: str | None) -> str | None:
    """``2026-03`` → ``2026年3月`` (the text as stored when it is not a period key)."""
    if not period:
        return None
    try:
        return parse_period(period).label
    except ValidationError:
        return period


def is_overdue(deliverable: Deliverable, today: date) -> bool:
    """Due before ``today`` and not yet submitted."""
    return (
        deliverable.due_date is not None
        and deliverable.due_date < today
        and deliverable.state in OPEN_STATES
    )


# ---------------------------------------------------------------- lookup


def get_deliverable(session: Session, engagement: Engagement | None, ref: int) -> Deliverable:
    """A deliverable by id (of ``engagement`` when given); NotFoundError otherwise."""
    found = session.get(Deliverable, ref)
    if found is None or (engagement is not None and found.engagement_id != engagement.id):
        raise NotFoundError(t("deliverables.not_found", id=ref))
    return found


def _covers(key: Period, stored: str | None) -> bool:
    if stored is None:
        return False
    try:
        own = parse_period(stored)
    except ValidationError:
        return False
    overlap = own.start <= key.end and key.start <= own.end
    # A monthly deliverable matches the quarter (half, year) it falls in; a yearly one
    # matches any month or quarter inside its year.
    nested = (key.start <= own.start and own.end <= key.end) or (
        own.start <= key.start and key.end <= own.end
    )
    return overlap and nested


def _due_order(d: Deliverable) -> tuple[bool, date, int]:
    return (d.due_date is None, d.due_date or date.max, d.id)


def match_deliverable(
    session: Session, engagement: Engagement, kind: str, period: str | None
) -> Deliverable | None:
    """The engagement's deliverable of ``kind`` for ``period``.

    ``period`` is a report period key (2026-10, 2026-Q3, 2026-H1, 2026); deliverables store
    ``YYYY-MM`` (or ``YYYY`` for yearly items). An exact key wins, then a deliverable whose
    period nests with the key, not-yet-accepted ones first, earliest due first. Without a
    period: the earliest not-yet-accepted deliverable of that kind.
    """
    rows = list(
        session.scalars(
            select(Deliverable).where(
                Deliverable.engagement_id == engagement.id, Deliverable.kind == kind
            )
        )
    )
    if period is None:
        waiting = [d for d in rows if d.state != State.ACCEPTED.value]
        return min(waiting, key=_due_order) if waiting else None
    key = parse_period(period)
    exact = [d for d in rows if d.period == key.key]
    candidates = exact or [d for d in rows if _covers(key, d.period)]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (d.state == State.ACCEPTED.value, *_due_order(d)))


@dataclass(frozen=True)
class DeliverableFilter:
    """Filters of ``deliverables list``."""

    states: tuple[State, ...] = ()
    kind: str | None = None
    overdue_on: date | None = None


def list_deliverables(
    session: Session, engagement: Engagement, flt: DeliverableFilter | None = None
) -> list[Deliverable]:
    """The engagement's deliverables, earliest due first (undated last)."""
    flt = flt or DeliverableFilter()
    query = select(Deliverable).where(Deliverable.engagement_id == engagement.id)
    if flt.states:
        query = query.where(Deliverable.state.in_([s.value for s in flt.states]))
    if flt.kind:
        query = query.where(Deliverable.kind == flt.kind)
    if flt.overdue_on is not None:
        query = query.where(
            Deliverable.state.in_(sorted(OPEN_STATES)), Deliverable.due_date < flt.overdue_on
        )
    rows = list(session.scalars(query))
    return sorted(rows, key=_due_order)


def overdue(session: Session, engagement: Engagement, today: date) -> list[Deliverable]:
    """Deliverables due before ``today`` that were not submitted."""
    return list_deliverables(session, engagement, DeliverableFilter(overdue_on=today))


# ---------------------------------------------------------------- state changes


def _history(
    deliverable: Deliverable, actor: str, source: str, target: str, note: str | None
) -> None:
    extra = dict(deliverable.extra or {})
    entries = list(extra.get("history", []))
    entries.append(
        {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "actor": actor,
            "from": source,
            "to": target,
            "note": note,
        }
    )
    extra["history"] = entries
    # A new dict (not an in-place change) so the JSON column is written.
    deliverable.extra = extra


def _audit(
    session: Session, deliverable: Deliverable, action: str, actor: str, **detail: Any
) -> None:
    record_event(
        session,
        f"deliverable.{action}",
        actor=actor,
        client_id=deliverable.client_id,
        engagement_id=deliverable.engagement_id,
        target=f"D-{deliverable.id} {deliverable.kind} {deliverable.period or ''}".strip(),
        detail=detail,
    )


def _refuse(deliverable: Deliverable, action: str) -> ValidationError:
    return ValidationError(
        t(
            f"deliverables.refused_{action}",
            id=deliverable.id,
            state=state_label(deliverable.state),
        )
    )


def check_attachable(deliverable: Deliverable) -> None:
    """Refuse (one line) when a file may not be attached: submitted or accepted already."""
    if deliverable.state not in OPEN_STATES:
        raise _refuse(deliverable, "attach")


def attach_file(
    session: Session,
    deliverable: Deliverable,
    path: Path,
    sha256: str,
    *,
    actor: str,
    report_no: str | None,
    build_id: int | None,
) -> None:
    """Record a file (usually a report build) as the deliverable's document.

    A planned deliverable becomes 进行中. A submitted or accepted one is refused: what the
    client received must stay what the record says (``reopen`` first).
    """
    check_attachable(deliverable)
    source = deliverable.state
    deliverable.file_path = str(path)
    deliverable.file_sha256 = sha256
    extra = dict(deliverable.extra or {})
    extra.update(
        {
            "report_no": report_no,
            "build_id": build_id,
            "attached_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    deliverable.extra = extra
    deliverable.state = State.IN_PROGRESS.value
    if source != deliverable.state:
        _history(deliverable, actor, source, deliverable.state, None)
    session.flush()
    _audit(
        session,
        deliverable,
        "attach",
        actor,
        file=path.name,
        sha256=sha256,
        report_no=report_no,
        build_id=build_id,
    )


def file_digest(path: Path) -> str:
    """SHA-256 of a file; one-line error when it cannot be read."""
    if not path.is_file():
        raise ValidationError(t("deliverables.file_missing", path=str(path)))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ValidationError(
            t("deliverables.file_unreadable", path=str(path), error=exc.strerror or exc)
        ) from exc
    return digest.hexdigest()


def submit(
    session: Session,
    deliverable: Deliverable,
    *,
    actor: str,
    on: date | None = None,
    file: Path | None = None,
    force: bool = False,
) -> None:
    """Mark as handed to the client (已提交) on ``on`` (today by default).

    ``file`` records the document handed over; without one (and none attached before) the
    call is refused unless ``force`` (e.g. a paper-only deliverable).
    """
    if deliverable.state not in OPEN_STATES:
        raise _refuse(deliverable, "submit")
    if file is not None:
        resolved = file.expanduser().resolve()
        deliverable.file_sha256 = file_digest(resolved)
        deliverable.file_path = str(resolved)
    elif deliverable.file_path is None and not force:
        raise ValidationError(t("deliverables.submit_needs_file", id=deliverable.id))
    engagement = deliverable.engagement
    if on is not None and engagement.start_date and on < engagement.start_date:
        raise ValidationError(
            t("deliverables.date_before_start", date=on, start=engagement.start_date)
        )
    source = deliverable.state
    deliverable.state = State.SUBMITTED.value
    deliverable.submitted_at = _moment(engagement, on)
    _history(deliverable, actor, source, deliverable.state, None)
    session.flush()
    _audit(
        session,
        deliverable,
        "submit",
        actor,
        date=local_date(engagement, deliverable.submitted_at),
        file=Path(deliverable.file_path).name if deliverable.file_path else None,
        sha256=deliverable.file_sha256,
        forced=force and deliverable.file_path is None,
    )


def accept(
    session: Session,
    deliverable: Deliverable,
    *,
    actor: str,
    by: str,
    on: date | None = None,
    note: str | None = None,
) -> None:
    """Record the client's sign-off (已验收) by ``by`` on ``on``; only from 已提交."""
    if deliverable.state != State.SUBMITTED.value:
        raise _refuse(deliverable, "accept")
    name = by.strip()
    if not name:
        raise ValidationError(t("deliverables.accept_needs_name", id=deliverable.id))
    if note is not None and len(note) > MAX_NOTE:
        raise ValidationError(t("deliverables.note_too_long", max=MAX_NOTE))
    engagement = deliverable.engagement
    submitted = local_date(engagement, deliverable.submitted_at)
    if on is not None and submitted is not None and on < submitted:
        raise ValidationError(
            t("deliverables.accept_before_submit", id=deliverable.id, date=on, submitted=submitted)
        )
    deliverable.state = State.ACCEPTED.value
    deliverable.accepted_at = _moment(engagement, on)
    deliverable.accepted_by = name[:200]
    extra = dict(deliverable.extra or {})
    extra["accept_note"] = note.strip() if note else None
    deliverable.extra = extra
    _history(deliverable, actor, State.SUBMITTED.value, deliverable.state, note)
    session.flush()
    _audit(
        session,
        deliverable,
        "accept",
        actor,
        by=deliverable.accepted_by,
        date=local_date(engagement, deliverable.accepted_at),
        note=note,
    )


def reopen(
    session: Session, deliverable: Deliverable, *, actor: str, reason: str | None = None
) -> None:
    """Take a submitted or accepted deliverable back to work (进行中, or 计划中 without a file)."""
    if deliverable.state in OPEN_STATES:
        raise _refuse(deliverable, "reopen")
    source = deliverable.state
    deliverable.state = State.IN_PROGRESS.value if deliverable.file_path else State.PLANNED.value
    deliverable.submitted_at = None
    deliverable.accepted_at = None
    deliverable.accepted_by = None
    _history(deliverable, actor, source, deliverable.state, reason)
    session.flush()
    _audit(session, deliverable, "reopen", actor, source=source, reason=reason)


def add_deliverable(
    session: Session,
    engagement: Engagement,
    *,
    kind: str,
    due: date,
    period: str | None = None,
    note: str | None = None,
    actor: str,
) -> Deliverable:
    """Add an on-demand deliverable (e.g. an incident report after an incident)."""
    known = catalog().deliverables
    if kind not in known:
        raise ValidationError(
            t("deliverables.unknown_kind", kind=kind, known=", ".join(sorted(known)))
        )
    key = parse_period(period).key if period else None
    if key is not None and len(key) > 16:
        raise ValidationError(t("deliverables.bad_period", period=period))
    item = session.scalar(
        select(ServiceItem)
        .where(ServiceItem.engagement_id == engagement.id, ServiceItem.deliverable == kind)
        .order_by(ServiceItem.id)
        .limit(1)
    )
    row = Deliverable(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        service_item_id=item.id if item is not None else None,
        kind=kind,
        period=key,
        due_date=due,
        state=State.PLANNED.value,
        extra={"added_by": actor, "note": note.strip() if note else None},
    )
    session.add(row)
    session.flush()
    _audit(session, row, "add", actor, kind=kind, period=key, due=due, note=note)
    return row


# ---------------------------------------------------------------- presentation


def deliverable_as_dict(deliverable: Deliverable, *, today: date) -> dict[str, Any]:
    """The stable JSON form of a deliverable."""
    engagement = deliverable.engagement
    extra = deliverable.extra or {}
    return {
        "id": deliverable.id,
        "engagement_id": deliverable.engagement_id,
        "kind": deliverable.kind,
        "title": kind_title(deliverable.kind),
        "period": deliverable.period,
        "period_label": period_label(deliverable.period),
        "due_date": deliverable.due_date.isoformat() if deliverable.due_date else None,
        "state": deliverable.state,
        "state_label": state_label(deliverable.state),
        "overdue": is_overdue(deliverable, today),
        "submitted_on": _iso(local_date(engagement, deliverable.submitted_at)),
        "accepted_on": _iso(local_date(engagement, deliverable.accepted_at)),
        "accepted_by": deliverable.accepted_by,
        "accept_note": extra.get("accept_note"),
        "report_no": extra.get("report_no"),
        "build_id": extra.get("build_id"),
        "file_path": deliverable.file_path,
        "file_name": Path(deliverable.file_path).name if deliverable.file_path else None,
        "sha256": deliverable.file_sha256,
        "note": extra.get("note"),
        "history": list(extra.get("history", [])),
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class IndexRow:
    """One line of the index of delivered documents."""

    number: int
    deliverable_id: int
    title: str
    period: str
    due: str
    state: str
    submitted: str
    accepted: str
    accepted_by: str
    report_no: str
    file_name: str
    sha256: str


def delivery_index(session: Session, engagement: Engagement) -> list[IndexRow]:
    """Every deliverable of the engagement as an index line, earliest due first."""
    rows = []
    for number, d in enumerate(list_deliverables(session, engagement), start=1):
        extra = d.extra or {}
        submitted = local_date(engagement, d.submitted_at)
        accepted = local_date(engagement, d.accepted_at)
        rows.append(
            IndexRow(
                number=number,
                deliverable_id=d.id,
                title=kind_title(d.kind),
                period=period_label(d.period) or "—",
                due=d.due_date.isoformat() if d.due_date else "—",
                state=state_label(d.state),
                submitted=submitted.isoformat() if submitted else "—",
                accepted=accepted.isoformat() if accepted else "—",
                accepted_by=d.accepted_by or "—",
                report_no=str(extra.get("report_no") or "—"),
                file_name=Path(d.file_path).name if d.file_path else "—",
                sha256=d.file_sha256 or "—",
            )
        )
    return rows


Align = Literal["left", "center", "right"]
INDEX_COLUMNS: tuple[tuple[str, float, Align], ...] = (
    ("number", 0.45, "center"),
    ("title", 1.5, "left"),
    ("period", 1.2, "center"),
    ("due", 1.6, "center"),
    ("state", 1.05, "center"),
    ("submitted", 1.6, "center"),
    ("accepted", 1.6, "center"),
    ("report_no", 1.2, "left"),
    ("file_name", 1.3, "left"),
    ("sha256", 1.6, "left"),
)


def index_table(rows: list[IndexRow], *, caption: str | None = None) -> Table:
    """The index as a report table (also the XLSX sheet)."""
    columns = [
        Column(t(f"deliverables.index.col.{key}"), width, align)
        for key, width, align in INDEX_COLUMNS
    ]
    return Table(
        columns=columns,
        rows=[
            [
                str(r.number),
                r.title,
                r.period,
                r.due,
                r.state,
                r.submitted,
                r.accepted,
                r.report_no,
                r.file_name,
                r.sha256,
            ]
            for r in rows
        ],
        caption=caption,
        sheet=t("deliverables.index.sheet"),
        empty_text=t("deliverables.index.empty"),
    )


def index_document(session: Session, engagement: Engagement, *, today: date) -> ReportDocument:
    """The index of delivered documents as a report document (for DOCX/XLSX export)."""
    from shaobing.reports import config  # noqa: PLC0415 - only the export needs branding

    rows = delivery_index(session, engagement)
    branding = config.load_branding()
    counts = {s.value: 0 for s in State}
    for d in list_deliverables(session, engagement):
        counts[d.state] += 1
    late = len(overdue(session, engagement, today))
    title = t("deliverables.index.title")
    meta = ReportMeta(
        report_type="deliverables_index",
        title=title,
        client=engagement.client.name,
        engagement=engagement.name,
        engagement_code=engagement.code or "",
        report_no="",
        report_date=today,
        vendor=branding.vendor,
        confidentiality=branding.confidentiality,
        logo=branding.logo,
    )
    summary = t(
        "deliverables.index.summary",
        total=len(rows),
        planned=counts[State.PLANNED.value],
        in_progress=counts[State.IN_PROGRESS.value],
        submitted=counts[State.SUBMITTED.value],
        accepted=counts[State.ACCEPTED.value],
        overdue=late,
        day=today.isoformat(),
    )
    table = index_table(rows, caption=title)
    blocks: list[Block] = [
        Heading(1, title),
        Paragraph((Span(summary),)),
        table,
        Paragraph((Span(t("deliverables.index.sha_note")),), style="note"),
    ]
    return ReportDocument(meta=meta, blocks=blocks, annexes=[table])


def export_index(
    session: Session, engagement: Engagement, *, fmt: str, out: Path, today: date
) -> Path:
    """Write the index as ``docx`` or ``xlsx`` (atomically) and return the file's path."""
    from shaobing.reports.render import renderer  # noqa: PLC0415 - loads the renderer lazily

    if fmt not in INDEX_FORMATS:
        raise ValidationError(
            t("deliverables.bad_format", format=fmt, known=", ".join(INDEX_FORMATS))
        )
    if out.is_dir():
        raise ValidationError(t("deliverables.out_is_dir", path=str(out)))
    doc = index_document(session, engagement, today=today)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".index-", suffix=f".{fmt}", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        renderer(fmt)(doc, tmp)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out.resolve()


INDEX_FORMATS = ("docx", "xlsx")

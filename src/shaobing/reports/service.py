"""Building a report: collect → template → blocks → charts → render → record → attach.

The one entry point the CLI, the web console and the scheduler use. A report's number is
kept per (engagement, type, period), so rebuilding or building another format keeps it.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Deliverable, Engagement
from shaobing.reports import config
from shaobing.reports.builders.base import BuildContext, Collect, ReportData
from shaobing.reports.markup import build_blocks
from shaobing.reports.model import Chart, ReportDocument, ReportMeta
from shaobing.reports.models import ReportBuild
from shaobing.reports.period import Period, parse_period
from shaobing.reports.render import FORMATS, renderer


@dataclass(frozen=True)
class BuildResult:
    """What a build produced."""

    build_id: int
    report_type: str
    title: str
    report_no: str
    format: str
    path: Path
    sha256: str
    size: int
    deliverable_id: int | None


def _collector(name: str) -> Collect:
    module = importlib.import_module(config.report_type(name).builder)
    return cast(Collect, module.collect)


def resolve_period(name: str, period: str | None) -> Period | None:
    """Parse the period and check it against what the report type needs."""
    kind = config.report_type(name).period
    if period is None:
        if kind == "required":
            raise ValidationError(t("reports.period_required", type=name))
        return None
    if kind == "none":
        raise ValidationError(t("reports.period_not_allowed", type=name))
    return parse_period(period)


def _report_number(
    session: Session,
    engagement: Engagement,
    name: str,
    period: Period | None,
    today: date,
) -> tuple[str, int]:
    key = period.key if period else None
    existing = session.execute(
        select(ReportBuild.report_no, ReportBuild.seq)
        .where(
            ReportBuild.engagement_id == engagement.id,
            ReportBuild.report_type == name,
            ReportBuild.period.is_(None) if key is None else ReportBuild.period == key,
        )
        .order_by(ReportBuild.id.desc())
        .limit(1)
    ).first()
    if existing is not None:
        return existing[0], existing[1]
    # Sequence numbers count distinct reports of the organisation per year, across clients,
    # so that numbers never repeat (the numbering scheme may omit the client).
    used = session.execute(
        select(func.max(ReportBuild.seq)).where(
            ReportBuild.built_at >= datetime(today.year, 1, 1, tzinfo=UTC)
        )
    ).scalar()
    seq = (used or 0) + 1
    branding = config.load_branding()
    anchor = period.end if period else today
    values = {
        "vendor": branding.vendor_short,
        "client": engagement.client.code if engagement.client.code else str(engagement.client_id),
        "engagement": engagement.code or str(engagement.id),
        "code": config.report_type(name).code,
        "year": anchor.year,
        "month": anchor.month,
        "period": key or "",
        "seq": seq,
    }
    try:
        number = branding.numbering.format(**values)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValidationError(t("reports.bad_numbering", pattern=branding.numbering)) from exc
    return number, seq


def compose(
    session: Session,
    engagement: Engagement,
    name: str,
    *,
    period: str | None = None,
    options: dict[str, str] | None = None,
    notes_dir: Path | None = None,
    today: date | None = None,
    report_no: str | None = None,
) -> ReportDocument:
    """Collect the data of report type ``name`` and lay it out as a document (no file)."""
    kind = config.report_type(name)
    day = today or date.today()
    resolved = resolve_period(name, period)
    ctx = BuildContext(
        session=session,
        engagement=engagement,
        period=resolved,
        today=day,
        options=dict(options or {}),
        notes_dir=notes_dir,
    )
    data: ReportData = _collector(name)(ctx)
    branding = config.load_branding()
    number = report_no or _report_number(session, engagement, name, resolved, day)[0]
    meta = ReportMeta(
        report_type=name,
        title=kind.title,
        client=engagement.client.name,
        engagement=engagement.name,
        engagement_code=engagement.code or "",
        report_no=number,
        report_date=day,
        vendor=branding.vendor,
        confidentiality=branding.confidentiality,
        period=resolved.label if resolved else None,
        subtitle=data.subtitle,
        logo=branding.logo,
        author=branding.author,
        reviewer=branding.reviewer,
    )
    meta.footer = branding.footer.format(
        vendor=branding.vendor, title=kind.title, client=meta.client, report_no=number
    )
    source, origin = config.template_source(name)
    context = {
        "meta": meta,
        "engagement": {
            "name": engagement.name,
            "code": engagement.code,
            "client": engagement.client.name,
            "start": engagement.start_date,
            "end": engagement.end_date,
        },
        "period": resolved,
        **data.context,
    }
    blocks = build_blocks(source, context, data.parts, name=origin)
    return ReportDocument(meta=meta, blocks=blocks, annexes=data.annexes)


def draw_charts(doc: ReportDocument) -> None:
    """Render every chart block to PNG (once; the renderers embed the bytes)."""
    from shaobing.reports.charts import render_png  # noqa: PLC0415 - loads matplotlib

    for block in doc.blocks:
        if isinstance(block, Chart) and block.png is None:
            block.png = render_png(block.spec)


def _write_atomically(doc: ReportDocument, fmt: str, out: Path) -> tuple[str, int]:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".report-", suffix=f".{fmt}", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        renderer(fmt)(doc, tmp)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        size = tmp.stat().st_size
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest, size


def build_report(
    session: Session,
    engagement: Engagement,
    name: str,
    *,
    fmt: str,
    out: Path,
    actor: str,
    period: str | None = None,
    options: dict[str, str] | None = None,
    notes_dir: Path | None = None,
    deliverable: str | None = None,
    today: date | None = None,
) -> BuildResult:
    """Build report ``name`` of ``engagement`` as ``fmt`` into ``out`` and record the build.

    ``deliverable`` is a deliverable id, ``auto`` (the engagement's deliverable of this kind
    and period) or None (not attached).
    """
    if fmt not in FORMATS:
        raise ValidationError(t("reports.bad_format", format=fmt, known=", ".join(FORMATS)))
    day = today or date.today()
    resolved = resolve_period(name, period)
    number, seq = _report_number(session, engagement, name, resolved, day)
    doc = compose(
        session,
        engagement,
        name,
        period=period,
        options=options,
        notes_dir=notes_dir,
        today=day,
        report_no=number,
    )
    # Resolve the deliverable first: a refused attachment must not leave a file behind.
    target = _deliverable(session, engagement, name, resolved, deliverable)
    if target is not None:
        from shaobing.engagements import deliverables  # noqa: PLC0415

        deliverables.check_attachable(target)
    if fmt != "xlsx":
        draw_charts(doc)
    digest, size = _write_atomically(doc, fmt, out)
    build = ReportBuild(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        report_type=name,
        period=resolved.key if resolved else None,
        report_no=number,
        seq=seq,
        format=fmt,
        path=str(out.resolve()),
        sha256=digest,
        size=size,
        deliverable_id=target.id if target is not None else None,
        built_by=actor,
    )
    session.add(build)
    session.flush()
    if target is not None:
        from shaobing.engagements import deliverables  # noqa: PLC0415

        deliverables.attach_file(
            session,
            target,
            out.resolve(),
            digest,
            actor=actor,
            report_no=number,
            build_id=build.id,
        )
    return BuildResult(
        build_id=build.id,
        report_type=name,
        title=doc.meta.title,
        report_no=number,
        format=fmt,
        path=out.resolve(),
        sha256=digest,
        size=size,
        deliverable_id=build.deliverable_id,
    )


def _deliverable(
    session: Session,
    engagement: Engagement,
    name: str,
    period: Period | None,
    ref: str | None,
) -> Deliverable | None:
    if ref is None:
        return None
    from shaobing.engagements import deliverables  # noqa: PLC0415

    if ref == "auto":
        kind = config.report_type(name).deliverable
        found = deliverables.match_deliverable(
            session, engagement, kind, period.key if period else None
        )
        if found is None:
            raise ValidationError(
                t(
                    "reports.no_matching_deliverable",
                    kind=kind,
                    period=period.key if period else "-",
                )
            )
        return found
    try:
        number = int(ref)
    except ValueError as exc:
        raise ValidationError(t("reports.bad_deliverable_ref", ref=ref)) from exc
    return deliverables.get_deliverable(session, engagement, number)


def list_builds(session: Session, engagement: Engagement) -> list[ReportBuild]:
    """The engagement's report builds, newest first."""
    return list(
        session.scalars(
            select(ReportBuild)
            .where(ReportBuild.engagement_id == engagement.id)
            .order_by(ReportBuild.id.desc())
        )
    )

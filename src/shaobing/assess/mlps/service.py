"""The MLPS assessment as a service: assessments, objects, records, pre-filling, score and gaps.

Used by the CLI (and later the web console and report builders). Manual records always win
over pre-filled ones; pre-filled (auto) records are derived data, refreshed from the current
evidence before every score and gap analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assess.mlps import datafiles
from shaobing.assess.mlps.catalogue import OBJECT_TYPES, Catalogue, ObjectType, load_catalogue
from shaobing.assess.mlps.evidence import latest_outcomes, open_findings
from shaobing.assess.mlps.gaps import SOURCE_TOOL, analyse, rectification_records
from shaobing.assess.mlps.highrisk import Context, check_against, evaluate, load_rules
from shaobing.assess.mlps.models import MlpsAssessment, MlpsObject, MlpsRecord
from shaobing.assess.mlps.prefill import load_prefill, propose
from shaobing.assess.mlps.scoring import (
    RESULTS,
    ObjectView,
    RecordView,
    RiskHit,
    compute,
    load_scoring,
)
from shaobing.assess.mlps.xlsx_io import SheetRow
from shaobing.assets.models import Asset
from shaobing.core.audit import record_event
from shaobing.core.errors import NotFoundError, ShaobingError
from shaobing.core.errors import ValidationError as UserError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement, EngagementSystem
from shaobing.findings.ingest import IngestOptions, IngestSummary, ingest

MAX_TEXT = 20_000
KNOWN_FLAGS = ("high_availability", "private_network", "remote_admin", "personal_info")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DefaultObject(_Strict):
    """An object every assessment has (machine room, management centre, documents)."""

    name: str = Field(min_length=1, max_length=200)
    type: ObjectType


class ObjectsFile(_Strict):
    """The contents of ``objects.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(alias="schema", ge=1, le=1)
    asset_types: dict[str, ObjectType]
    defaults: list[DefaultObject]


@dataclass
class InitOutcome:
    """What ``mlps init`` did."""

    assessment: MlpsAssessment
    created: bool
    objects_added: int
    prefill: dict[str, Any]


def catalogue_of(assessment: MlpsAssessment) -> Catalogue:
    """The catalogue (level and packs) the assessment was created with."""
    return load_catalogue(assessment.level, [str(p) for p in assessment.packs])


def current_assessment(session: Session, engagement: Engagement) -> MlpsAssessment:
    """The engagement's latest assessment; one-line error when there is none."""
    found = session.scalar(
        select(MlpsAssessment)
        .where(MlpsAssessment.engagement_id == engagement.id)
        .order_by(MlpsAssessment.id.desc())
        .limit(1)
    )
    if found is None:
        raise NotFoundError(t("mlps.no_assessment", engagement=engagement.name))
    return found


def _check_flags(flags: list[str]) -> list[str]:
    for flag in flags:
        if flag not in KNOWN_FLAGS:
            raise UserError(t("mlps.bad_flag", flag=flag, known="、".join(KNOWN_FLAGS)))
    return sorted(set(flags))


def init_assessment(
    session: Session,
    engagement: Engagement,
    *,
    level: int,
    packs: list[str],
    flags: list[str],
    actor: str,
    new: bool = False,
) -> InitOutcome:
    """Create the engagement's assessment (or reuse the latest), sync its objects, pre-fill."""
    catalogue = load_catalogue(level, packs)
    check_against(load_rules(), catalogue)
    wanted_flags = _check_flags(flags)
    existing = (
        None
        if new
        else session.scalar(
            select(MlpsAssessment)
            .where(MlpsAssessment.engagement_id == engagement.id)
            .order_by(MlpsAssessment.id.desc())
            .limit(1)
        )
    )
    if existing is not None and existing.level != level:
        raise UserError(t("mlps.level_differs", level=existing.level, wanted=level))
    created = existing is None
    if existing is None:
        existing = MlpsAssessment(
            client_id=engagement.client_id,
            engagement_id=engagement.id,
            level=level,
            packs=list(catalogue.packs[1:]),
            flags=wanted_flags,
            created_by=actor,
        )
        session.add(existing)
        session.flush()
    else:
        if packs:
            existing.packs = sorted({*existing.packs, *packs})
        if flags:
            existing.flags = sorted({*existing.flags, *wanted_flags})
    added = sync_objects(session, existing, engagement)
    summary = refresh_prefill(session, existing, actor=actor)
    record_event(
        session,
        "mlps.init",
        actor=actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=f"mlps#{existing.id}",
        detail={"level": level, "created": created, "objects_added": added},
    )
    return InitOutcome(existing, created, added, summary)


def _objects_file() -> ObjectsFile:
    return datafiles.load("objects.yaml", ObjectsFile)


def sync_objects(session: Session, assessment: MlpsAssessment, engagement: Engagement) -> int:
    """Add the default objects and the ledger's assets not yet assessed; returns how many."""
    spec = _objects_file()
    have = {o.name for o in list_objects(session, assessment)}
    by_asset = {o.asset_id for o in list_objects(session, assessment) if o.asset_id is not None}
    added = 0
    for default in spec.defaults:
        if default.name not in have:
            session.add(
                MlpsObject(
                    client_id=assessment.client_id,
                    assessment_id=assessment.id,
                    name=default.name,
                    object_type=default.type,
                    hosts=[],
                )
            )
            have.add(default.name)
            added += 1
    systems = set(
        session.scalars(
            select(EngagementSystem.system_id).where(
                EngagementSystem.engagement_id == engagement.id
            )
        )
    )
    query = select(Asset).where(Asset.client_id == engagement.client_id).order_by(Asset.id)
    if systems:
        # An engagement bound to business systems assesses only their assets.
        query = query.where(Asset.system_id.in_(sorted(systems)))
    for asset in session.scalars(query):
        object_type = spec.asset_types.get(asset.asset_type)
        if object_type is None or asset.id in by_asset or asset.name in have:
            continue
        # Host name and addresses first: the first entry names the object in work orders.
        hosts = [asset.hostname or "", *(a.address for a in asset.addresses), asset.name]
        session.add(
            MlpsObject(
                client_id=assessment.client_id,
                assessment_id=assessment.id,
                name=asset.name,
                object_type=object_type,
                asset_id=asset.id,
                hosts=list(dict.fromkeys(h.lower() for h in hosts if h)),
            )
        )
        have.add(asset.name)
        added += 1
    session.flush()
    return added


def list_objects(session: Session, assessment: MlpsAssessment) -> list[MlpsObject]:
    """The assessment's objects in creation order."""
    return list(
        session.scalars(
            select(MlpsObject)
            .where(MlpsObject.assessment_id == assessment.id)
            .order_by(MlpsObject.id)
        )
    )


def add_object(
    session: Session, assessment: MlpsAssessment, name: str, object_type: str, hosts: list[str]
) -> MlpsObject:
    """Add an object that is not in the asset ledger (e.g. a second machine room)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise UserError(t("mlps.bad_object_name", name=name))
    if object_type not in OBJECT_TYPES:
        raise UserError(t("mlps.bad_object_type", type=object_type, known="、".join(OBJECT_TYPES)))
    if any(o.name == name for o in list_objects(session, assessment)):
        raise UserError(t("mlps.object_exists", name=name))
    obj = MlpsObject(
        client_id=assessment.client_id,
        assessment_id=assessment.id,
        name=name,
        object_type=object_type,
        hosts=list(dict.fromkeys(h.strip().lower() for h in hosts if h.strip())),
    )
    session.add(obj)
    session.flush()
    return obj


def resolve_object(session: Session, assessment: MlpsAssessment, ref: str) -> MlpsObject:
    """An object by name (exact) or id; one-line error naming it when unknown."""
    ref = ref.strip()
    objects = list_objects(session, assessment)
    for obj in objects:
        if obj.name == ref:
            return obj
    if ref.isdigit():
        for obj in objects:
            if obj.id == int(ref):
                return obj
    raise NotFoundError(t("mlps.unknown_object", object=ref))


def object_views(session: Session, assessment: MlpsAssessment) -> list[ObjectView]:
    """Plain views of the objects."""
    return [
        ObjectView(o.id, o.name, o.object_type, tuple(str(h) for h in o.hosts), o.asset_id)
        for o in list_objects(session, assessment)
    ]


def record_views(session: Session, assessment: MlpsAssessment) -> list[RecordView]:
    """Plain views of the records (with their object's name and type)."""
    rows = session.execute(
        select(MlpsRecord, MlpsObject.name, MlpsObject.object_type)
        .join(MlpsObject, MlpsObject.id == MlpsRecord.object_id)
        .where(MlpsRecord.assessment_id == assessment.id)
        .order_by(MlpsRecord.id)
    ).all()
    return [
        RecordView(
            object_id=r.object_id,
            object_name=name,
            object_type=kind,
            item_id=r.item_id,
            result=r.result,
            source=r.source,
            evidence=r.evidence,
            note=r.note,
            finding_ids=tuple(int(i) for i in r.finding_ids),
            baseline_run_ids=tuple(int(i) for i in r.baseline_run_ids),
        )
        for r, name, kind in rows
    ]


def _clean_text(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise UserError(t("mlps.text_too_long", what=what, limit=MAX_TEXT))
    return text or None


def set_record(
    session: Session,
    assessment: MlpsAssessment,
    obj: MlpsObject,
    item_ref: str,
    result: str,
    *,
    evidence: str | None,
    note: str | None,
    actor: str,
    catalogue: Catalogue | None = None,
) -> MlpsRecord:
    """Record a manual result (it replaces a pre-filled one and is never overwritten by one)."""
    catalogue = catalogue or catalogue_of(assessment)
    item = catalogue.item(item_ref)
    if result not in RESULTS:
        raise UserError(t("mlps.bad_result", result=result, known="、".join(RESULTS)))
    if not item.applies_to(obj.object_type):
        raise UserError(
            t("mlps.item_not_for_object", item=item.label, object=obj.name, type=obj.object_type)
        )
    record = session.scalar(
        select(MlpsRecord).where(MlpsRecord.object_id == obj.id, MlpsRecord.item_id == item.id)
    )
    if record is None:
        record = MlpsRecord(
            client_id=assessment.client_id,
            assessment_id=assessment.id,
            object_id=obj.id,
            item_id=item.id,
            finding_ids=[],
            baseline_run_ids=[],
        )
        session.add(record)
    record.result = result
    record.source = "manual"
    record.evidence = _clean_text(evidence, t("mlps.field.evidence"))
    record.note = _clean_text(note, t("mlps.field.note"))
    record.updated_by = actor
    record.updated_at = datetime.now(UTC)
    session.flush()
    return record


def refresh_prefill(
    session: Session, assessment: MlpsAssessment, *, actor: str = "system"
) -> dict[str, Any]:
    """Re-derive the auto records from the current evidence; manual records are kept."""
    catalogue = catalogue_of(assessment)
    config = load_prefill(catalogue)
    objects = object_views(session, assessment)
    proposals, stats = propose(
        catalogue,
        config,
        objects,
        latest_outcomes(session, assessment.engagement_id),
        open_findings(session, assessment.engagement_id),
    )
    existing = {
        (r.object_id, r.item_id): r
        for r in session.scalars(
            select(MlpsRecord).where(MlpsRecord.assessment_id == assessment.id)
        )
    }
    written = kept = removed = 0
    now = datetime.now(UTC)
    for key, proposal in proposals.items():
        record = existing.get(key)
        if record is not None and record.source == "manual":
            kept += 1
            continue
        if record is None:
            record = MlpsRecord(
                client_id=assessment.client_id,
                assessment_id=assessment.id,
                object_id=proposal.object_id,
                item_id=proposal.item_id,
                source="auto",
            )
            session.add(record)
        record.result = proposal.result
        record.source = "auto"
        record.evidence = "\n".join(proposal.evidence)[:MAX_TEXT]
        record.finding_ids = sorted(proposal.finding_ids)
        record.baseline_run_ids = sorted(proposal.baseline_run_ids)
        record.updated_by = actor
        record.updated_at = now
        written += 1
    for key, record in existing.items():
        # Auto records whose evidence is gone (finding closed, rule remapped) are dropped.
        if record.source == "auto" and key not in proposals:
            session.delete(record)
            removed += 1
    session.flush()
    return {
        "written": written,
        "kept_manual": kept,
        "removed": removed,
        "rules_mapped": stats.rules_mapped,
        "rules_unmapped": stats.rules_unmapped,
        "targets_unmatched": sorted(stats.runs_unmatched),
        "findings_used": stats.findings_used,
        "findings_unmatched": stats.findings_unmatched,
    }


def high_risks(
    session: Session, assessment: MlpsAssessment, records: list[RecordView]
) -> list[RiskHit]:
    """The high-risk rules that match the records and evidence."""
    catalogue = catalogue_of(assessment)
    rules = load_rules()
    check_against(rules, catalogue)
    ctx = Context(
        level=assessment.level,
        flags=frozenset(str(f) for f in assessment.flags),
        records=records,
        findings=open_findings(session, assessment.engagement_id),
        outcomes=latest_outcomes(session, assessment.engagement_id),
        objects=object_views(session, assessment),
    )
    return evaluate(rules, ctx)


def score(session: Session, assessment: MlpsAssessment, *, actor: str = "system") -> dict[str, Any]:
    """Refresh pre-filled records, then the ``mlps score --json`` document."""
    summary = refresh_prefill(session, assessment, actor=actor)
    records = record_views(session, assessment)
    hits = high_risks(session, assessment, records)
    doc = compute(
        catalogue_of(assessment), load_scoring(), object_views(session, assessment), records, hits
    )
    doc["assessment_id"] = assessment.id
    doc["flags"] = [str(f) for f in assessment.flags]
    doc["prefill"] = summary
    return doc


def gaps(
    session: Session,
    assessment: MlpsAssessment,
    engagement: Engagement,
    *,
    work_orders: bool,
    actor: str,
) -> dict[str, Any]:
    """Gap analysis; with ``work_orders`` the failing items become findings with work orders."""
    refresh_prefill(session, assessment, actor=actor)
    catalogue = catalogue_of(assessment)
    records = record_views(session, assessment)
    hits = high_risks(session, assessment, records)
    doc = analyse(catalogue, records, hits)
    doc["assessment_id"] = assessment.id
    if work_orders:
        objects = [
            (o.name, o.hosts[0] if o.hosts else None) for o in object_views(session, assessment)
        ]
        summary: IngestSummary = ingest(
            session,
            engagement,
            rectification_records(catalogue, load_scoring(), assessment.id, objects, records, hits),
            format_name="mlps",
            source_tool=SOURCE_TOOL,
            file_name=f"mlps#{assessment.id}",
            options=IngestOptions(actor=actor),
        )
        doc["work_orders"] = summary.as_dict()
    return doc


def import_rows(
    session: Session,
    assessment: MlpsAssessment,
    source: str,
    rows: list[SheetRow],
    *,
    actor: str,
) -> int:
    """Record filled-in rows as manual results; the first bad row aborts the import.

    Rows the template wrote from pre-filled records and that still say the same are skipped,
    so importing an untouched template never freezes automatic results into manual ones.
    Returns how many rows were recorded.
    """
    catalogue = catalogue_of(assessment)
    objects = {o.name: o for o in list_objects(session, assessment)}
    auto_label = t("mlps.source.auto")
    current = {
        (r.object_name, r.item_id): r
        for r in record_views(session, assessment)
        if r.source == "auto"
    }
    recorded = 0
    for row in rows:
        try:
            obj = objects.get(row.object_name)
            if obj is None:
                raise NotFoundError(t("mlps.unknown_object", object=row.object_name or "-"))
            if row.source == auto_label:
                auto = current.get((obj.name, catalogue.item(row.item).id))
                if auto is not None and auto.result == row.result:
                    continue
            set_record(
                session,
                assessment,
                obj,
                row.item,
                row.result,
                evidence=row.evidence,
                note=row.note,
                actor=actor,
                catalogue=catalogue,
            )
            recorded += 1
        except ShaobingError as exc:
            raise UserError(
                t("mlps.sheet.row_error", file=source, row=row.row, detail=exc.message)
            ) from None
    record_event(
        session,
        "mlps.import",
        actor=actor,
        client_id=assessment.client_id,
        engagement_id=assessment.engagement_id,
        target=source,
        detail={"assessment": assessment.id, "rows": recorded},
    )
    return recorded


def record_manual(
    session: Session,
    engagement: Engagement,
    object_ref: str,
    item_ref: str,
    result: str,
    *,
    evidence: str | None,
    note: str | None,
    actor: str,
) -> MlpsRecord:
    """``mlps record``: one manual result on the engagement's current assessment, audited."""
    assessment = current_assessment(session, engagement)
    obj = resolve_object(session, assessment, object_ref)
    record = set_record(
        session, assessment, obj, item_ref, result, evidence=evidence, note=note, actor=actor
    )
    record_event(
        session,
        "mlps.record",
        actor=actor,
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        target=f"{obj.name} {record.item_id}",
        detail={"assessment": assessment.id, "result": result},
    )
    return record

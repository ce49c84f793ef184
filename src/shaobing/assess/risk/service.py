"""Risk assessment as a service (E1): run and store assessments, edit the engagement's
threats, vulnerabilities, measures, businesses and method parameters.

Used by the CLI (and later the web console and report builders); no business logic lives in
the command functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assess.risk.calc import METHODS, Method
from shaobing.assess.risk.config import (
    MethodConfig,
    method_config,
    threat_catalogue,
    vuln_classes,
)
from shaobing.assess.risk.evaluate import Risk, evaluate, rollup, summary, threats_for
from shaobing.assess.risk.explain import explain
from shaobing.assess.risk.inputs import (
    EDITABLE_THREAT_FIELDS,
    Inputs,
    apply_threat_changes,
    effective_threats,
    load_inputs,
)
from shaobing.assess.risk.models import (
    RiskBusiness,
    RiskBusinessSystem,
    RiskMeasure,
    RiskRun,
    RiskSettings,
    RiskThreat,
    RiskVulnerability,
)
from shaobing.assess.risk.trend import compare
from shaobing.assets.models import Asset
from shaobing.assets.service import find_asset
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import BusinessSystem, Engagement

MEASURE_TYPES = {
    "preventive": "preventive",
    "预防": "preventive",
    "预防性": "preventive",
    "protective": "protective",
    "保护": "protective",
    "保护性": "protective",
}
VULN_TYPES = {
    "technical": "technical",
    "技术": "technical",
    "management": "management",
    "管理": "management",
}
DEFAULT_CLASS = {"technical": "tech.other", "management": "mgmt.policy"}


_Row = TypeVar("_Row", RiskVulnerability, RiskMeasure)


def _json_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


# ------------------------------------------------------------------ configuration
def stored_override(session: Session, engagement: Engagement) -> RiskSettings | None:
    """The engagement's stored method override, if any."""
    return session.scalar(select(RiskSettings).where(RiskSettings.engagement_id == engagement.id))


def engagement_config(
    session: Session, engagement: Engagement, file_override: dict[str, Any] | None = None
) -> MethodConfig:
    """Shipped parameters, then the stored override, then a file given for this run."""
    layers: list[dict[str, Any]] = []
    stored = stored_override(session, engagement)
    if stored is not None and stored.override:
        layers.append(stored.override)
    if file_override:
        layers.append(file_override)
    return method_config(*layers)


def set_override(
    session: Session, engagement: Engagement, data: dict[str, Any], source_name: str, actor: str
) -> MethodConfig:
    """Store (replace) the engagement's method override after validating it."""
    config = method_config(data, source=source_name)
    row = stored_override(session, engagement)
    if row is None:
        row = RiskSettings(client_id=engagement.client_id, engagement_id=engagement.id)
        session.add(row)
    row.override = data
    row.source_name = source_name
    row.updated_by = actor
    row.updated_at = datetime.now(UTC)
    session.flush()
    return config


def reset_override(session: Session, engagement: Engagement) -> bool:
    """Drop the stored override; whether there was one."""
    row = stored_override(session, engagement)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def parse_method(text: str | None, config: MethodConfig) -> Method:
    """``matrix``/``multiply`` (or 矩阵法/相乘法); None means the configured default."""
    if text is None:
        return config.default_method
    aliases = {"matrix": "matrix", "矩阵": "matrix", "矩阵法": "matrix"}
    aliases |= {"multiply": "multiply", "相乘": "multiply", "相乘法": "multiply"}
    chosen = aliases.get(text.strip().lower())
    if chosen is None:
        raise ValidationError(t("risk.bad_method", value=text, known=", ".join(METHODS)))
    return cast(Method, chosen)


# ------------------------------------------------------------------ assessment
def risk_json(
    risk: Risk, inputs: Inputs, config: MethodConfig, *, with_explain: bool
) -> dict[str, Any]:
    """The stable JSON form of one risk (the issue's keys first, then details)."""
    level = risk.result.level
    out: dict[str, Any] = {
        "asset": risk.target.name,
        "threat": risk.threat.threat.name,
        "vulnerability": risk.vulnerability.name,
        "likelihood": _json_number(risk.result.likelihood),
        "loss": _json_number(risk.result.loss),
        "value": _json_number(risk.result.value),
        "level": config.level_name(level),
        "key": risk.key,
        "level_rank": level,
        "asset_layer": risk.target.layer,
        "system": inputs.systems.get(risk.target.system_id or 0),
        "threat_id": risk.threat.threat.id,
        "vulnerability_class": risk.vulnerability.vclass,
        "vulnerability_type": risk.vulnerability.vtype,
        "vulnerability_source": risk.vulnerability.source,
        "asset_value": risk.pair.asset,
        "threat_value": risk.pair.threat,
        "severity": risk.pair.vulnerability,
        "measures": [m.name for m in risk.preventive + risk.protective],
        "acceptable": level <= config.acceptable_max_level,
        "treatment": config.treatments[level],
    }
    if with_explain:
        out["explain"] = explain(risk, config)
    return out


def previous_run(session: Session, engagement: Engagement, method: str) -> RiskRun | None:
    """The latest stored run of the engagement by the same method."""
    return session.scalar(
        select(RiskRun)
        .where(RiskRun.engagement_id == engagement.id, RiskRun.method == method)
        .order_by(RiskRun.id.desc())
        .limit(1)
    )


def assess(
    session: Session,
    engagement: Engagement,
    *,
    method: str | None = None,
    file_override: dict[str, Any] | None = None,
    with_explain: bool = False,
    actor: str = "system",
    save: bool = True,
) -> dict[str, Any]:
    """Assess the engagement's risks, compare with its previous assessment, store the run."""
    config = engagement_config(session, engagement, file_override)
    chosen = parse_method(method, config)
    inputs = load_inputs(session, engagement, config)
    risks, skipped = evaluate(inputs, config, chosen)
    stored = [risk_json(r, inputs, config, with_explain=True) for r in risks]
    shown = (
        stored
        if with_explain
        else [risk_json(r, inputs, config, with_explain=False) for r in risks]
    )
    levels = [r.result.level for r in risks]
    names = [config.level_name(level) for level in (5, 4, 3, 2, 1)]
    counts = summary(levels, config)
    before = previous_run(session, engagement, chosen)
    trend = None
    if before is not None:
        trend = {
            "previous_run_id": before.id,
            "previous_at": before.created_at.isoformat(),
        } | compare(before.results, stored, names)
    payload: dict[str, Any] = {
        "method": chosen,
        "engagement": engagement.name,
        "risks": shown,
        "summary": counts,
        "acceptable_max_level": config.level_name(config.acceptable_max_level)
        if config.acceptable_max_level
        else None,
        "unacceptable": sum(1 for level in levels if level > config.acceptable_max_level),
        "rollup": rollup(risks, inputs, config),
        "trend": trend,
        "skipped": skipped,
        "run_id": None,
    }
    if save:
        run = RiskRun(
            client_id=engagement.client_id,
            engagement_id=engagement.id,
            method=chosen,
            parameters=config.model_dump(mode="json"),
            summary={k: payload[k] for k in ("summary", "rollup", "skipped", "unacceptable")},
            results=stored,
            created_by=actor,
            created_at=datetime.now(UTC),
        )
        session.add(run)
        session.flush()
        payload["run_id"] = run.id
        payload["created_at"] = run.created_at.isoformat()
    return payload


def list_runs(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """Stored assessments of the engagement, newest first."""
    return [
        {
            "id": run.id,
            "method": run.method,
            "created_at": run.created_at.isoformat(),
            "created_by": run.created_by,
            "risks": len(run.results),
            "summary": (run.summary or {}).get("summary", {}),
        }
        for run in session.scalars(
            select(RiskRun)
            .where(RiskRun.engagement_id == engagement.id)
            .order_by(RiskRun.id.desc())
        )
    ]


# ------------------------------------------------------------------ threats
def list_threats(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """The engagement's effective threat catalogue (shipped data with its edits)."""
    config = engagement_config(session, engagement)
    return [
        th.threat.model_dump() | {"value": th.value, "edited": list(th.edited)}
        for th in effective_threats(session, engagement, config)
    ]


def edit_threat(
    session: Session,
    engagement: Engagement,
    threat_id: str,
    changes: dict[str, Any],
    *,
    reset: bool = False,
    actor: str = "system",
) -> dict[str, Any]:
    """Set fields of a catalogue threat for this engagement (``reset`` drops earlier edits)."""
    shipped = {th.id: th for th in threat_catalogue()}
    key = threat_id.strip().upper()
    if key not in shipped:
        raise NotFoundError(t("risk.threat.not_found", threat=threat_id, known=", ".join(shipped)))
    row = session.scalar(
        select(RiskThreat).where(
            RiskThreat.engagement_id == engagement.id, RiskThreat.threat_id == key
        )
    )
    current: dict[str, Any] = {} if reset or row is None else dict(row.changes)
    merged = current | {k: v for k, v in changes.items() if k in EDITABLE_THREAT_FIELDS}
    if not changes and not reset:
        raise ValidationError(t("risk.threat.nothing", threat=key))
    apply_threat_changes(shipped[key], merged)  # validates before anything is stored
    if row is None:
        row = RiskThreat(client_id=engagement.client_id, engagement_id=engagement.id, threat_id=key)
        session.add(row)
    row.changes = merged
    row.updated_by = actor
    row.updated_at = datetime.now(UTC)
    session.flush()
    return next(th for th in list_threats(session, engagement) if th["id"] == key)


# ------------------------------------------------------------------ references
def resolve_system(session: Session, engagement: Engagement, ref: str) -> BusinessSystem:
    """A business system (system asset) of the engagement's client, by name or id."""
    ref = ref.strip()
    query = select(BusinessSystem).where(BusinessSystem.client_id == engagement.client_id)
    found = None
    if ref.isdigit():
        found = session.scalar(query.where(BusinessSystem.id == int(ref)))
    found = found or session.scalar(query.where(BusinessSystem.name == ref))
    if found is None:
        raise NotFoundError(t("risk.system_not_found", ref=ref))
    return found


def _target_ids(
    session: Session, engagement: Engagement, asset: str | None, system: str | None
) -> tuple[int | None, int | None]:
    if asset and system:
        raise ValidationError(t("risk.asset_and_system"))
    asset_id = find_asset(session, engagement.client, asset).id if asset else None
    system_id = resolve_system(session, engagement, system).id if system else None
    return asset_id, system_id


def _names(session: Session, asset_id: int | None, system_id: int | None) -> str | None:
    if asset_id is not None:
        found = session.get(Asset, asset_id)
        return found.name if found else None
    if system_id is not None:
        system = session.get(BusinessSystem, system_id)
        return system.name if system else None
    return None


def parse_severity(text: str, config: MethodConfig) -> int:
    """A severity 1–5 from a number, a level name (很高…很低) or a finding severity word."""
    cleaned = text.strip()
    if cleaned.isdigit() and 1 <= int(cleaned) <= 5:
        return int(cleaned)
    for level, name in config.levels.items():
        if cleaned == name:
            return level
    words = {"严重": "critical", "高": "high", "中": "medium", "低": "low", "信息": "info"}
    key = words.get(cleaned, cleaned.lower())
    mapping = cast(dict[str, int], config.severity_map)
    if key in mapping:
        return mapping[key]
    raise ValidationError(t("risk.bad_severity", value=text))


def _check_threats(ids: list[str]) -> list[str]:
    known = {th.id for th in threat_catalogue()}
    out = [i.strip().upper() for i in ids if i.strip()]
    for item in out:
        if item not in known:
            raise NotFoundError(
                t("risk.threat.not_found", threat=item, known=", ".join(sorted(known)))
            )
    return out


def _check_classes(ids: list[str]) -> list[str]:
    out = [i.strip() for i in ids if i.strip()]
    for item in out:
        if vuln_classes().get(item) is None:
            raise ValidationError(t("risk.unknown_class", cls=item))
    return out


# ------------------------------------------------------------------ vulnerabilities
def add_vulnerability(
    session: Session,
    engagement: Engagement,
    *,
    name: str,
    vuln_type: str,
    severity: str,
    vuln_class: str | None = None,
    asset: str | None = None,
    system: str | None = None,
    threat: str | None = None,
    description: str | None = None,
    actor: str = "system",
) -> RiskVulnerability:
    """Record a manual vulnerability (technical or management) for the engagement."""
    if not name.strip():
        raise ValidationError(t("risk.vuln.empty_name"))
    kind = VULN_TYPES.get(vuln_type.strip().lower())
    if kind is None:
        raise ValidationError(t("risk.vuln.bad_type", value=vuln_type))
    chosen = vuln_class or DEFAULT_CLASS[kind]
    found = vuln_classes().get(chosen)
    if found is None:
        raise ValidationError(t("risk.unknown_class", cls=chosen))
    if found.type != kind:
        raise ValidationError(
            t("risk.vuln.class_type", cls=chosen, type=t(f"risk.vuln_type.{kind}"))
        )
    level = parse_severity(severity, engagement_config(session, engagement))
    pinned = _check_threats([threat])[0] if threat else None
    asset_id, system_id = _target_ids(session, engagement, asset, system)
    entry = RiskVulnerability(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        name=name.strip(),
        vuln_type=kind,
        vuln_class=chosen,
        severity=level,
        asset_id=asset_id,
        system_id=system_id,
        threat_id=pinned,
        description=description,
        created_by=actor,
        created_at=datetime.now(UTC),
    )
    session.add(entry)
    session.flush()
    return entry


def remove_vulnerability(session: Session, engagement: Engagement, vuln_id: int) -> None:
    """Delete a manual vulnerability entry."""
    entry = _owned(session, engagement, RiskVulnerability, vuln_id, "risk.vuln.not_found")
    session.delete(entry)
    session.flush()


def list_vulnerabilities(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """Every vulnerability the next assessment will use: findings, manual entries and
    ineffective measures, with the target, class, severity and paired threats."""
    config = engagement_config(session, engagement)
    inputs = load_inputs(session, engagement, config)
    out = []
    for vuln in inputs.vulnerabilities:
        target = inputs.targets[vuln.target_key]
        out.append(
            {
                "key": vuln.key,
                "source": vuln.source,
                "name": vuln.name,
                "type": vuln.vtype,
                "class": vuln.vclass,
                "severity": vuln.severity,
                "asset": target.name,
                "asset_layer": target.layer,
                "threats": [th.threat.id for th in threats_for(vuln, inputs.threats)],
            }
        )
    return out


# ------------------------------------------------------------------ measures
def add_measure(
    session: Session,
    engagement: Engagement,
    *,
    name: str,
    measure_type: str,
    effect: int = 1,
    threats: list[str] | None = None,
    classes: list[str] | None = None,
    asset: str | None = None,
    system: str | None = None,
    effective: bool = True,
    note: str | None = None,
    actor: str = "system",
) -> RiskMeasure:
    """Record an existing security measure and where it acts."""
    if not name.strip():
        raise ValidationError(t("risk.measure.empty_name"))
    kind = MEASURE_TYPES.get(measure_type.strip().lower())
    if kind is None:
        raise ValidationError(t("risk.measure.bad_type", value=measure_type))
    limit = engagement_config(session, engagement).measures.max_effect
    if not 1 <= effect <= limit:
        raise ValidationError(t("risk.measure.bad_effect", value=effect, limit=limit))
    asset_id, system_id = _target_ids(session, engagement, asset, system)
    measure = RiskMeasure(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        name=name.strip(),
        measure_type=kind,
        effect=effect,
        threat_ids=_check_threats(threats or []),
        vuln_classes=_check_classes(classes or []),
        asset_id=asset_id,
        system_id=system_id,
        effective=effective,
        note=note,
        created_by=actor,
        created_at=datetime.now(UTC),
    )
    session.add(measure)
    session.flush()
    return measure


def _owned(
    session: Session, engagement: Engagement, model: type[_Row], row_id: int, missing: str
) -> _Row:
    """A row of the engagement by id; ``missing`` names the one-line error otherwise."""
    found = session.scalar(
        select(model).where(model.engagement_id == engagement.id, model.id == row_id)
    )
    if found is None:
        raise NotFoundError(t(missing, id=row_id))
    return found


def _measure(session: Session, engagement: Engagement, measure_id: int) -> RiskMeasure:
    return _owned(session, engagement, RiskMeasure, measure_id, "risk.measure.not_found")


def remove_measure(session: Session, engagement: Engagement, measure_id: int) -> None:
    """Delete a measure."""
    session.delete(_measure(session, engagement, measure_id))
    session.flush()


def mark_measure(
    session: Session, engagement: Engagement, measure_id: int, *, effective: bool
) -> RiskMeasure:
    """Mark a measure effective, or ineffective (it then counts as a vulnerability)."""
    measure = _measure(session, engagement, measure_id)
    measure.effective = effective
    session.flush()
    return measure


def measure_as_dict(session: Session, measure: RiskMeasure) -> dict[str, Any]:
    """JSON form of a measure."""
    return {
        "id": measure.id,
        "name": measure.name,
        "type": measure.measure_type,
        "effect": measure.effect,
        "threats": list(measure.threat_ids or []),
        "classes": list(measure.vuln_classes or []),
        "target": _names(session, measure.asset_id, measure.system_id),
        "target_layer": "component"
        if measure.asset_id
        else "system"
        if measure.system_id
        else None,
        "effective": measure.effective,
        "note": measure.note,
    }


def list_measures(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """The engagement's measures."""
    return [
        measure_as_dict(session, m)
        for m in session.scalars(
            select(RiskMeasure)
            .where(RiskMeasure.engagement_id == engagement.id)
            .order_by(RiskMeasure.id)
        )
    ]


def manual_as_dict(session: Session, entry: RiskVulnerability) -> dict[str, Any]:
    """JSON form of a manual vulnerability entry."""
    return {
        "id": entry.id,
        "name": entry.name,
        "type": entry.vuln_type,
        "class": entry.vuln_class,
        "severity": entry.severity,
        "target": _names(session, entry.asset_id, entry.system_id),
        "threat": entry.threat_id,
        "description": entry.description,
    }


# ------------------------------------------------------------------ businesses
def parse_system_link(text: str, config: MethodConfig) -> tuple[str, int]:
    """``系统名`` or ``系统名:关联程度`` (1–5; default from the parameters)."""
    text = text.replace("：", ":")
    name, sep, relevance = text.rpartition(":") if ":" in text else (text, "", "")
    if not sep:
        return text.strip(), config.default_relevance
    if not relevance.strip().isdigit() or not 1 <= int(relevance) <= 5:
        raise ValidationError(t("risk.business.bad_relevance", value=text))
    return name.strip(), int(relevance)


def add_business(
    session: Session,
    engagement: Engagement,
    *,
    name: str,
    importance: int,
    systems: list[str],
    description: str | None = None,
) -> RiskBusiness:
    """Record a business, its importance and the system assets bearing it."""
    if not name.strip():
        raise ValidationError(t("risk.business.empty_name"))
    if not 1 <= importance <= 5:
        raise ValidationError(t("risk.business.bad_importance", value=importance))
    exists = session.scalar(
        select(RiskBusiness).where(
            RiskBusiness.engagement_id == engagement.id, RiskBusiness.name == name.strip()
        )
    )
    if exists is not None:
        raise ValidationError(t("risk.business.exists", name=name))
    config = engagement_config(session, engagement)
    links = [parse_system_link(s, config) for s in systems]
    resolved = [(resolve_system(session, engagement, n), r) for n, r in links]
    business = RiskBusiness(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        name=name.strip(),
        importance=importance,
        description=description,
    )
    session.add(business)
    session.flush()
    for system, relevance in resolved:
        session.add(
            RiskBusinessSystem(
                client_id=engagement.client_id,
                business_id=business.id,
                system_id=system.id,
                relevance=relevance,
            )
        )
    session.flush()
    return business


def remove_business(session: Session, engagement: Engagement, name: str) -> None:
    """Delete a business (and its links)."""
    found = session.scalar(
        select(RiskBusiness).where(
            RiskBusiness.engagement_id == engagement.id, RiskBusiness.name == name.strip()
        )
    )
    if found is None:
        raise NotFoundError(t("risk.business.not_found", name=name))
    for link in session.scalars(
        select(RiskBusinessSystem).where(RiskBusinessSystem.business_id == found.id)
    ):
        session.delete(link)
    session.delete(found)
    session.flush()


def list_businesses(session: Session, engagement: Engagement) -> list[dict[str, Any]]:
    """The engagement's businesses with the systems bearing them."""
    out = []
    for business in session.scalars(
        select(RiskBusiness)
        .where(RiskBusiness.engagement_id == engagement.id)
        .order_by(RiskBusiness.id)
    ):
        links = session.execute(
            select(BusinessSystem.name, RiskBusinessSystem.relevance)
            .join(BusinessSystem, BusinessSystem.id == RiskBusinessSystem.system_id)
            .where(RiskBusinessSystem.business_id == business.id)
            .order_by(BusinessSystem.name)
        ).all()
        out.append(
            {
                "name": business.name,
                "importance": business.importance,
                "systems": [{"name": n, "relevance": r} for n, r in links],
                "description": business.description,
            }
        )
    return out

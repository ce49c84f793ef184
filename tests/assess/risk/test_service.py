"""The assessment over the database: layers and values, measures, manual entries, threats,
overrides, roll-up, explanations and the trend between runs (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.assess.risk import service
from shaobing.assess.risk.calc import PairInput, calculate
from shaobing.assess.risk.config import default_method
from shaobing.assets.models import Asset
from shaobing.assets.service import import_rows
from shaobing.assets.valuation import asset_value
from shaobing.core.db import session_scope
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.engagements.models import Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from tests.ledger_rows import host_row

FINDINGS = [
    FindingInput("nuclei", "ssh-weak", "SSH 弱口令", Severity.HIGH, host="127.0.0.5", port=22),
    FindingInput("nuclei", "struts-rce", "某组件远程代码执行", Severity.CRITICAL, host="127.0.0.6"),
    FindingInput("nuclei", "banner", "服务版本信息暴露", Severity.LOW, host="127.0.0.7"),
]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s


@pytest.fixture
def eng(session: Session) -> Engagement:
    client = add_client(session, "某区大数据局")
    engagement = create_engagement(
        session,
        client,
        EngagementInput(
            name="风险评估",
            scope=["127.0.0.0/8"],
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            systems=["门户网站系统"],
        ),
    )
    rows = [
        host_row("门户服务器", "127.0.0.5", "门户网站系统", (4, 4, 3)),
        host_row("数据库服务器", "127.0.0.6", "门户网站系统", (5, 5, 4)),
        host_row("办公终端", "127.0.0.7", None, (2, 2, 2)),
    ]
    import_rows(session, client, rows, [], source_name="台账.csv", actor="t")
    ingest(session, engagement, FINDINGS, format_name="nuclei", options=IngestOptions(actor="t"))
    return engagement


def _by(data: dict[str, Any], asset: str, threat: str) -> dict[str, Any]:
    found = [r for r in data["risks"] if r["asset"] == asset and r["threat_id"] == threat]
    assert len(found) == 1, (asset, threat, [r["key"] for r in data["risks"]])
    result: dict[str, Any] = found[0]
    return result


def _asset(session: Session, name: str) -> Asset:
    found = session.scalar(select(Asset).where(Asset.name == name))
    assert found is not None
    return found


def test_findings_become_risks_with_traceable_inputs(session: Session, eng: Engagement) -> None:
    data = service.assess(session, eng, method="matrix", save=False)
    config = default_method()
    assert data["method"] == "matrix"
    assert set(data["summary"]) == {"很高", "高", "中等", "低", "很低"}
    assert sum(data["summary"].values()) == len(data["risks"]) > 0
    threats = {t["id"]: t for t in service.list_threats(session, eng)}
    for risk in data["risks"]:
        asset = _asset(session, risk["asset"])
        # Without businesses a component's value is its C/I/A value.
        assert risk["asset_value"] == asset_value(
            asset.confidentiality, asset.integrity, asset.availability, asset.value_method
        )
        assert risk["threat_value"] == threats[risk["threat_id"]]["value"]
        expected = calculate(
            PairInput(risk["threat_value"], risk["severity"], risk["asset_value"]), config, "matrix"
        )
        assert (risk["likelihood"], risk["loss"], risk["value"]) == (
            expected.likelihood,
            expected.loss,
            expected.value,
        )
        assert risk["level"] == config.level_name(expected.level)
        assert risk["acceptable"] == (expected.level <= config.acceptable_max_level)
    weak = _by(data, "门户服务器", "T02")
    assert (weak["severity"], weak["vulnerability_class"]) == (4, "weak_auth")  # 高 → 4
    rce = _by(data, "数据库服务器", "T01")
    assert rce["severity"] == 5  # 严重 → 5
    # highest first
    values = [r["value"] for r in data["risks"]]
    assert values == sorted(values, reverse=True)


def test_business_bearing_raises_the_asset_value_and_rolls_up(
    session: Session, eng: Engagement
) -> None:
    service.add_business(session, eng, name="政务公开", importance=5, systems=["门户网站系统:5"])
    data = service.assess(session, eng, method="matrix", save=False)
    portal = _by(data, "门户服务器", "T02")
    assert portal["asset_value"] == 5  # max(C/I/A 4, bearing min(5, 5) = 5)
    terminal = [r for r in data["risks"] if r["asset"] == "办公终端"]
    assert terminal and all(r["asset_value"] == 2 for r in terminal)  # not in the system
    systems = {s["name"]: s for s in data["rollup"]["systems"]}
    in_system = [r for r in data["risks"] if r["system"] == "门户网站系统"]
    assert systems["门户网站系统"]["value"] == max(r["value"] for r in in_system)
    assert systems["门户网站系统"]["risks"] == len(in_system)
    (business,) = data["rollup"]["businesses"]
    assert (business["name"], business["value"]) == ("政务公开", systems["门户网站系统"]["value"])
    assert data["rollup"]["unassigned"]["risks"] == len(terminal)


def test_measures_lower_risk_and_ineffective_ones_become_vulnerabilities(
    session: Session, eng: Engagement
) -> None:
    before = service.assess(session, eng, method="matrix", save=False)
    measure = service.add_measure(
        session,
        eng,
        name="堡垒机双因素认证",
        measure_type="预防性",
        threats=["T02"],
        asset="门户服务器",
    )
    service.add_measure(
        session, eng, name="数据库加密", measure_type="protective", effect=2, asset="数据库服务器"
    )
    after = service.assess(session, eng, method="matrix", save=False)
    old, new = _by(before, "门户服务器", "T02"), _by(after, "门户服务器", "T02")
    assert new["likelihood"] == max(1, old["likelihood"] - 1) and new["loss"] == old["loss"]
    assert new["measures"] == ["堡垒机双因素认证"]
    old_db, new_db = _by(before, "数据库服务器", "T01"), _by(after, "数据库服务器", "T01")
    assert new_db["loss"] == max(1, old_db["loss"] - 2) and new_db["value"] <= old_db["value"]
    untouched = _by(after, "门户服务器", "T03")
    assert untouched["likelihood"] == _by(before, "门户服务器", "T03")["likelihood"]

    service.mark_measure(session, eng, measure.id, effective=False)
    broken = service.assess(session, eng, method="matrix", save=False)
    turned = [r for r in broken["risks"] if r["vulnerability_source"] == "measure"]
    assert turned and all(r["asset"] == "门户服务器" for r in turned)
    assert all(r["severity"] == default_method().measures.ineffective_severity for r in turned)
    assert {r["threat_id"] for r in turned} == {"T10"}  # who exploits measure.ineffective
    assert _by(broken, "门户服务器", "T02")["measures"] == []


def test_manual_management_vulnerability_applies_to_every_system(
    session: Session, eng: Engagement
) -> None:
    entry = service.add_vulnerability(
        session, eng, name="未建立安全管理制度", vuln_type="management", severity="高"
    )
    assert (entry.severity, entry.vuln_class) == (4, "mgmt.policy")
    data = service.assess(session, eng, method="multiply", save=False)
    manual = [r for r in data["risks"] if r["vulnerability_source"] == "manual"]
    assert {r["asset"] for r in manual} == {"门户网站系统"}
    assert {r["asset_layer"] for r in manual} == {"system"}
    # system value = max of its components' C/I/A values (no business registered)
    assert {r["asset_value"] for r in manual} == {5}
    pinned = service.add_vulnerability(
        session,
        eng,
        name="口令策略缺失",
        vuln_type="technical",
        severity="3",
        vuln_class="weak_auth",
        asset="门户服务器",
        threat="t02",
    )
    data = service.assess(session, eng, method="matrix", save=False)
    assert {r["threat_id"] for r in data["risks"] if r["key"].endswith(f"manual:{pinned.id}")} == {
        "T02"
    }


def test_bad_references_are_one_line_errors(session: Session, eng: Engagement) -> None:
    with pytest.raises(NotFoundError):
        service.add_measure(session, eng, name="x", measure_type="预防性", asset="没有这台")
    with pytest.raises(NotFoundError, match="找不到业务系统"):
        service.add_vulnerability(
            session, eng, name="x", vuln_type="管理", severity="1", system="无此系统"
        )
    with pytest.raises(ValidationError, match="不属于"):
        service.add_vulnerability(
            session, eng, name="x", vuln_type="technical", severity="1", vuln_class="mgmt.ops"
        )
    with pytest.raises(ValidationError, match="只能指定其一"):
        service.add_measure(
            session, eng, name="x", measure_type="保护性", asset="门户服务器", system="门户网站系统"
        )
    with pytest.raises(ValidationError, match="措施效果"):
        service.add_measure(session, eng, name="x", measure_type="保护性", effect=3)
    with pytest.raises(ValidationError, match="关联"):
        service.add_business(session, eng, name="b", importance=3, systems=["门户网站系统:9"])


def test_threat_edits_override_the_catalogue(session: Session, eng: Engagement) -> None:
    base = _by(service.assess(session, eng, save=False), "门户服务器", "T02")
    edited = service.edit_threat(session, eng, "T02", {"frequency": 1, "capability": 1})
    assert (edited["frequency"], edited["value"], edited["edited"]) == (
        1,
        1,
        ["capability", "frequency"],
    )
    lower = _by(service.assess(session, eng, save=False), "门户服务器", "T02")
    assert lower["threat_value"] == 1 and lower["value"] <= base["value"]
    service.edit_threat(session, eng, "T02", {"disabled": True})
    data = service.assess(session, eng, save=False)
    assert all(r["threat_id"] != "T02" for r in data["risks"])
    service.edit_threat(session, eng, "T02", {}, reset=True)
    again = _by(service.assess(session, eng, save=False), "门户服务器", "T02")
    assert again["threat_value"] == base["threat_value"]
    with pytest.raises(ValidationError, match="frequency"):
        service.edit_threat(session, eng, "T02", {"frequency": 0})
    with pytest.raises(NotFoundError, match="T99"):
        service.edit_threat(session, eng, "T99", {"frequency": 3})


def test_stored_and_file_overrides_apply_in_order(session: Session, eng: Engagement) -> None:
    default = service.assess(session, eng, save=False)
    assert default["acceptable_max_level"] == "低"
    service.set_override(session, eng, {"acceptable_max_level": 4}, "org.yaml", "t")
    relaxed = service.assess(session, eng, save=False)
    assert relaxed["unacceptable"] == sum(1 for r in relaxed["risks"] if r["level_rank"] == 5)
    strict = service.assess(session, eng, save=False, file_override={"acceptable_max_level": 0})
    assert strict["unacceptable"] == len(strict["risks"])
    assert service.reset_override(session, eng) is True
    assert service.assess(session, eng, save=False)["unacceptable"] == default["unacceptable"]
    with pytest.raises(ValidationError):
        service.set_override(
            session, eng, {"matrix": {"risk": {"bands": {1: 9, 2: 3}}}}, "bad.yaml", "t"
        )


def test_explanations_name_the_table_cells(session: Session, eng: Engagement) -> None:
    data = service.assess(session, eng, method="matrix", with_explain=True, save=False)
    config = default_method()
    for risk in data["risks"]:
        explain = risk["explain"]
        cells = {c["table"]: c for c in explain["cells"]}
        assert cells["likelihood"]["value"] == config.matrix.likelihood.cell(
            risk["threat_value"], risk["severity"]
        )
        assert cells["loss"]["value"] == config.matrix.loss.cell(
            risk["asset_value"], risk["severity"]
        )
        assert cells["risk"]["value"] == risk["value"]
        lines = "\n".join(explain["calculation"])
        assert (
            f"安全事件可能性矩阵[T={risk['threat_value']}，V={risk['severity']}] = "
            f"{cells['likelihood']['value']}" in lines
        )
        assert f"风险矩阵[L={risk['likelihood']}，F={risk['loss']}] = {risk['value']}" in lines
        assert explain["asset"] and explain["threat"] and explain["vulnerability"]
    multiply = service.assess(session, eng, method="multiply", with_explain=True, save=False)
    first = multiply["risks"][0]
    assert any("√(" in line for line in first["explain"]["calculation"])


def test_trend_against_the_previous_run(session: Session, eng: Engagement) -> None:
    first = service.assess(session, eng, method="matrix")
    assert first["trend"] is None and first["run_id"]
    # Between the two assessments: one finding fixed, a vulnerability added, a threat sharpened.
    fixed = session.scalar(select(Finding).where(Finding.check_id == "banner"))
    assert fixed is not None
    fixed.is_open = False
    entry = service.add_vulnerability(
        session,
        eng,
        name="运维账号共用",
        vuln_type="management",
        severity="中",
        vuln_class="mgmt.ops",
    )
    service.edit_threat(session, eng, "T02", {"frequency": 5, "capability": 5})
    second = service.assess(session, eng, method="matrix")
    trend = second["trend"]
    assert trend["previous_run_id"] == first["run_id"]
    assert trend["counts_then"] == first["summary"]
    assert trend["counts_now"] == second["summary"]
    assert {r["key"].split("|")[2] for r in trend["removed"]} == {f"finding:{fixed.id}"}
    assert {r["key"].split("|")[2] for r in trend["added"]} == {f"manual:{entry.id}"}
    changed = {c["key"]: c for c in trend["changed"]}
    t02 = _by(second, "门户服务器", "T02")
    assert t02["key"] in changed and changed[t02["key"]]["direction"] == "up"
    assert changed[t02["key"]]["previous_value"] == _by(first, "门户服务器", "T02")["value"]
    assert all(c["key"].split("|")[1] == "T02" for c in trend["changed"])
    # runs by another method are compared only with their own kind
    assert service.assess(session, eng, method="multiply")["trend"] is None
    runs = service.list_runs(session, eng)
    assert [r["method"] for r in runs] == ["multiply", "matrix", "matrix"]


def test_engagement_wide_entry_without_any_asset_is_reported(session: Session) -> None:
    client = add_client(session, "空项目客户")
    empty = create_engagement(
        session, client, EngagementInput(name="空项目", scope=["127.0.0.0/8"])
    )
    service.add_vulnerability(session, empty, name="无制度", vuln_type="管理", severity="3")
    data = service.assess(session, empty, save=False)
    assert data["risks"] == [] and data["skipped"] == {"no_target": 1}
    assert set(data["summary"].values()) == {0}

"""The ingest path: de-duplication, re-import semantics, work orders, asset ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from shaobing.assets.models import Asset, AssetService
from shaobing.core.db import session_scope
from shaobing.findings.importers.base import CoverageInput, HostInput, ServiceInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Status
from tests.findings.helpers import finding, make_engagement

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _status(engine: Engine) -> dict[str, str]:
    with session_scope(engine, readonly=True) as s:
        return {
            f"{f.source_tool}:{f.check_id}@{f.host}": f.status for f in s.scalars(select(Finding))
        }


def test_first_import_creates_findings_work_orders_and_events(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        summary = ingest(s, eng, [finding(i) for i in range(5)], format_name="nuclei", now=T0)
    assert (
        summary.created,
        summary.duplicates,
        summary.updated,
        summary.closed,
        summary.reopened,
        summary.work_orders_created,
    ) == (5, 0, 0, 0, 0, 5)
    with session_scope(engine, readonly=True) as s:
        orders = s.scalars(select(WorkOrder)).all()
        assert {o.state for o in orders} == {"new"}
        # 高 → 7 days (workflow.yaml default)
        assert {o.due_date for o in orders} == {T0.date() + timedelta(days=7)}
        assert s.scalar(select(func.count()).select_from(FindingEvent)) == 5
        assert all(f.work_order_id for f in s.scalars(select(Finding)))


def test_same_result_again_changes_nothing(engine: Engine) -> None:
    records = [finding(i) for i in range(20)]
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, records, format_name="nuclei", now=T0)
    with session_scope(engine) as s:
        eng = s.merge(eng)
        again = ingest(s, eng, records, format_name="nuclei", now=T0 + timedelta(days=1))
    assert (again.created, again.duplicates, again.updated, again.closed, again.reopened) == (
        0,
        20,
        0,
        0,
        0,
    )
    with session_scope(engine, readonly=True) as s:
        assert {f.times_seen for f in s.scalars(select(Finding))} == {2}


def test_duplicates_within_one_file_are_counted_once(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        summary = ingest(
            s, eng, [finding(1), finding(1), finding(1, title="改名")], format_name="nuclei", now=T0
        )
    assert (summary.created, summary.duplicates) == (1, 2)


def test_absent_findings_inside_coverage_are_closed_and_nothing_else(engine: Engine) -> None:
    first = [finding(i, host="127.0.0.1") for i in range(10)]
    first += [finding(i, host="127.0.0.2") for i in range(3)]  # host not re-scanned
    first += [finding(i, host="127.0.0.1", tool="zap") for i in range(2)]  # other tool
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, first, format_name="nuclei", now=T0)
    second = [finding(i, host="127.0.0.1") for i in range(9)]  # check-9 fixed
    with session_scope(engine) as s:
        eng = s.merge(eng)
        summary = ingest(s, eng, second, format_name="nuclei", now=T0 + timedelta(days=7))
    assert summary.closed == 1
    status = _status(engine)
    assert status["nuclei:check-9@127.0.0.1"] == "fixed"
    assert {v for k, v in status.items() if k.endswith("127.0.0.2")} == {"new"}
    assert sum(1 for v in status.values() if v == "new") == 9 + 3 + 2


def test_declared_coverage_closes_findings_of_hosts_now_clean(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, [finding(1, host="127.0.0.3", tool="nessus")], format_name="nessus", now=T0)
    with session_scope(engine) as s:
        eng = s.merge(eng)
        summary = ingest(
            s,
            eng,
            [CoverageInput(hosts=["127.0.0.3"])],
            format_name="nessus",
            now=T0 + timedelta(days=1),
        )
    assert summary.closed == 1


def test_reappearing_verified_finding_reopens_with_new_deadline(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, [finding(1), finding(2)], format_name="nuclei", now=T0)
    with session_scope(engine) as s:
        for f in s.scalars(select(Finding)):
            f.status = Status.VERIFIED.value
        for o in s.scalars(select(WorkOrder)):
            o.state = Status.VERIFIED.value
    later = T0 + timedelta(days=30)
    with session_scope(engine) as s:
        eng = s.merge(eng)
        summary = ingest(s, eng, [finding(1)], format_name="nuclei", now=later)
    assert summary.reopened == 1 and summary.closed == 0
    with session_scope(engine, readonly=True) as s:
        reopened = s.scalars(select(Finding).where(Finding.check_id == "check-1")).one()
        assert reopened.status == "to_fix"
        order = s.get_one(WorkOrder, reopened.work_order_id)
        assert order.state == "to_fix"
        assert order.due_date == later.date() + timedelta(days=7)
        untouched = s.scalars(select(Finding).where(Finding.check_id == "check-2")).one()
        assert untouched.status == "verified"
        event = s.scalars(
            select(FindingEvent).where(
                FindingEvent.finding_id == reopened.id, FindingEvent.kind == "transition"
            )
        ).one()
        assert (event.from_state, event.to_state, event.role) == ("verified", "to_fix", "system")


def test_changed_severity_counts_as_update(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, [finding(1)], format_name="nuclei", now=T0)
    with session_scope(engine) as s:
        eng = s.merge(eng)
        summary = ingest(
            s, eng, [finding(1, severity=Severity.CRITICAL)], format_name="nuclei", now=T0
        )
    assert (summary.updated, summary.duplicates) == (1, 0)
    with session_scope(engine, readonly=True) as s:
        assert s.scalars(select(Finding)).one().severity == "critical"


def test_tool_flags_false_positive_and_risk_acceptance(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        summary = ingest(
            s,
            eng,
            [finding(1, false_positive=True), finding(2, risk_accepted=True)],
            format_name="acunetix",
            now=T0,
        )
    assert summary.work_orders_created == 0
    with session_scope(engine, readonly=True) as s:
        rows = {f.check_id: f for f in s.scalars(select(Finding))}
        assert rows["check-1"].status == "false_positive"
        assert rows["check-2"].status == "risk_accepted"
        assert rows["check-2"].risk_accepted_until == T0.date() + timedelta(days=365)


def test_grouping_per_host(engine: Engine) -> None:
    records = [finding(i, host="127.0.0.1") for i in range(3)] + [finding(9, host="127.0.0.2")]
    with session_scope(engine) as s:
        eng = make_engagement(s)
        summary = ingest(
            s, eng, records, format_name="nuclei", now=T0, options=IngestOptions(grouping="host")
        )
    assert summary.work_orders_created == 2
    with session_scope(engine, readonly=True) as s:
        counts = dict(
            s.execute(
                select(Finding.work_order_id, func.count()).group_by(Finding.work_order_id)
            ).all()
        )
        assert sorted(counts.values()) == [1, 3]


def test_hosts_and_services_update_the_ledger(engine: Engine) -> None:
    host = HostInput(
        address="127.0.0.7",
        hostnames=["web07.example.gov.cn"],
        os="Debian 12",
        services=[
            ServiceInput(port=22, service="ssh", product="OpenSSH", version="9.2p1"),
            ServiceInput(port=80, service="http", product="nginx"),
        ],
    )
    with session_scope(engine) as s:
        eng = make_engagement(s)
        summary = ingest(s, eng, [finding(1, host="127.0.0.7"), host], format_name="nmap", now=T0)
    assert summary.assets_updated == 1
    with session_scope(engine, readonly=True) as s:
        asset = s.scalars(select(Asset)).one()
        assert (asset.name, asset.os, asset.source) == ("web07.example.gov.cn", "Debian 12", "nmap")
        services = {(x.port, x.product) for x in s.scalars(select(AssetService))}
        assert services == {(22, "OpenSSH"), (80, "nginx")}
        assert s.scalars(select(Finding)).one().asset_id == asset.id
    changed = HostInput(
        address="127.0.0.7",
        os="Debian 13",
        services=[ServiceInput(port=22, service="ssh", product="OpenSSH", version="9.9p1")],
    )
    with session_scope(engine) as s:
        eng = s.merge(eng)
        again = ingest(s, eng, [changed], format_name="nmap", now=T0)
        same = ingest(s, eng, [changed], format_name="nmap", now=T0)
    assert (again.assets_updated, same.assets_updated) == (1, 0)


def test_evidence_is_masked(engine: Engine) -> None:
    evidence = (
        "POST /login HTTP/1.1\nAuthorization: Basic YWRtaW46YWRtaW4=\n\nuser=a&password=s3cret"
    )
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, [finding(1, evidence=evidence)], format_name="nuclei", now=T0)
    with session_scope(engine, readonly=True) as s:
        stored = s.scalars(select(Finding)).one().evidence
    assert stored is not None and "s3cret" not in stored and "YWRtaW46YWRtaW4=" not in stored


def test_invalid_cvss_is_dropped_and_valid_one_scored(engine: Engine) -> None:
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(
            s,
            eng,
            [
                finding(1, cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
                finding(2, cvss_v3_vector="CVSS:3.1/AV:Q"),
            ],
            format_name="nuclei",
            now=T0,
        )
    with session_scope(engine, readonly=True) as s:
        rows = {f.check_id: f for f in s.scalars(select(Finding))}
    assert rows["check-1"].cvss_v3_score == 9.8
    assert rows["check-2"].cvss_v3_vector is None


def test_client_wide_dedup_scope(engine: Engine) -> None:
    with session_scope(engine) as s:
        first = make_engagement(s, "一期")
        second = make_engagement(s, "二期", client=first.client)
        opts = IngestOptions(dedup_scope="client")
        ingest(s, first, [finding(1)], format_name="nuclei", now=T0, options=opts)
        summary = ingest(s, second, [finding(1)], format_name="nuclei", now=T0, options=opts)
        assert summary.created == 0 and summary.duplicates == 1
        separate = ingest(s, second, [finding(1)], format_name="nuclei", now=T0)
        assert separate.created == 1


def test_failed_ingest_writes_nothing(engine: Engine) -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield finding(1)
        raise ValueError("truncated file")

    with session_scope(engine) as s:
        eng = make_engagement(s)
    try:
        with session_scope(engine) as s:
            ingest(s, s.merge(eng), broken(), format_name="nuclei", now=T0)
    except ValueError:
        pass
    with session_scope(engine, readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Finding)) == 0


def test_lookup_without_preloading_gives_the_same_result(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scopes too large to preload are looked up batch by batch, with the same outcome."""
    from shaobing.findings import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PRELOAD_LIMIT", 0)
    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(s, eng, [finding(i) for i in range(30)], format_name="nuclei", now=T0)
    changed = [finding(i, severity=Severity.LOW) if i == 1 else finding(i) for i in range(27)]
    with session_scope(engine) as s:
        eng = s.merge(eng)
        again = ingest(s, eng, changed, format_name="nuclei", now=T0 + timedelta(days=1))
    assert (again.created, again.duplicates, again.updated, again.closed) == (0, 26, 1, 3)

"""The work-order state machine, transition by transition, allowed and refused."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.findings import service
from shaobing.findings.ingest import ingest
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from shaobing.findings.workflow import (
    Role,
    Status,
    aggregate_status,
    allowed_roles,
    check_transition,
    workflow,
)
from tests.findings.helpers import finding, make_engagement

NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)

# The contract's loop, written out independently of workflow.yaml: (from, to, role) that
# must be allowed. Everything else must be refused (admin aside).
EXPECTED_ALLOWED = {
    ("new", "to_fix", "engineer"),
    ("new", "fixed", "engineer"),
    ("new", "fixed", "client_owner"),
    ("new", "fixed", "system"),
    ("new", "ignored_once", "engineer"),
    ("new", "ignored_forever", "engineer"),
    ("new", "false_positive", "engineer"),
    ("new", "risk_accepted", "client_owner"),
    ("to_fix", "fixed", "engineer"),
    ("to_fix", "fixed", "client_owner"),
    ("to_fix", "fixed", "system"),
    ("to_fix", "ignored_once", "engineer"),
    ("to_fix", "ignored_forever", "engineer"),
    ("to_fix", "false_positive", "engineer"),
    ("to_fix", "risk_accepted", "client_owner"),
    ("fixed", "verified", "engineer"),
    ("fixed", "verified", "system"),
    ("fixed", "to_fix", "engineer"),
    ("fixed", "to_fix", "system"),
    ("verified", "to_fix", "engineer"),
    ("verified", "to_fix", "system"),
    ("ignored_once", "new", "system"),
    ("ignored_once", "to_fix", "engineer"),
    ("ignored_forever", "to_fix", "engineer"),
    ("false_positive", "to_fix", "engineer"),
    ("risk_accepted", "to_fix", "engineer"),
    ("risk_accepted", "to_fix", "client_owner"),
    ("risk_accepted", "to_fix", "system"),
}
ROLES = ["engineer", "client_owner", "system"]
ALL = list(itertools.product([s.value for s in Status], [s.value for s in Status], ROLES))


@pytest.mark.parametrize(("source", "target", "role"), [c for c in ALL if c[0] != c[1]])
def test_transition_table(source: str, target: str, role: str) -> None:
    if (source, target, role) in EXPECTED_ALLOWED:
        check_transition(source, target, role)
    else:
        with pytest.raises(ValidationError):
            check_transition(source, target, role)


def test_admin_may_do_any_human_transition_but_not_system_only_ones() -> None:
    check_transition("new", "risk_accepted", Role.ADMIN)
    check_transition("to_fix", "false_positive", Role.ADMIN)
    with pytest.raises(ValidationError):
        check_transition("ignored_once", "new", Role.ADMIN)


def test_client_owner_cannot_declare_false_positive_message_names_roles() -> None:
    with pytest.raises(ValidationError, match="安全工程师"):
        check_transition("to_fix", "false_positive", "client_owner")


def test_every_state_is_reachable_and_closed_states_can_reopen() -> None:
    spec = workflow()
    reachable = {Status.NEW}
    frontier = [Status.NEW]
    while frontier:
        state = frontier.pop()
        for target in spec.transitions.get(state, {}):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(Status)
    for state in Status:
        if not spec.states[state].open:
            assert allowed_roles(state, Status.TO_FIX) or allowed_roles(state, Status.NEW), state


def test_aggregate_status_is_least_advanced() -> None:
    assert aggregate_status(["verified", "to_fix"]) == Status.TO_FIX
    assert aggregate_status(["verified", "fixed"]) == Status.FIXED
    assert aggregate_status(["false_positive", "verified"]) == Status.VERIFIED


def _one(engine: Engine, grouping: str = "finding") -> tuple[int, int]:
    from shaobing.findings.ingest import IngestOptions

    with session_scope(engine) as s:
        eng = make_engagement(s)
        ingest(
            s,
            eng,
            [finding(1), finding(2)],
            format_name="nuclei",
            now=NOW,
            options=IngestOptions(grouping=grouping),
        )
        order = s.scalars(select(WorkOrder).order_by(WorkOrder.id)).first()
        assert order is not None
        return eng.id, order.id


def test_full_loop_assign_fix_verify_with_history(engine: Engine) -> None:
    _, order_id = _one(engine)
    with session_scope(engine) as s:
        order = s.get_one(WorkOrder, order_id)
        service.assign(s, order, "张三", actor="eng1")
        assert order.state == "to_fix"
        service.comment(s, order, "已通知系统管理员", actor="eng1")
        service.move_work_order(s, order, "fixed", actor="owner1", role="client_owner")
        assert order.state == "fixed" and order.closed_at is not None
        service.move_work_order(s, order, "verified", actor="eng1", role="engineer")
        assert order.state == "verified"
    with session_scope(engine, readonly=True) as s:
        events = s.scalars(
            select(FindingEvent)
            .where(FindingEvent.work_order_id == order_id)
            .order_by(FindingEvent.id)
        ).all()
        kinds = [(e.kind, e.from_state, e.to_state, e.actor) for e in events]
    assert kinds == [
        ("created", None, "new", "system"),
        ("assign", None, None, "eng1"),
        ("transition", "new", "to_fix", "eng1"),
        ("comment", None, None, "eng1"),
        ("transition", "to_fix", "fixed", "owner1"),
        ("transition", "fixed", "verified", "eng1"),
    ]


def test_refused_moves_change_nothing(engine: Engine) -> None:
    _, order_id = _one(engine)
    with session_scope(engine) as s:
        order = s.get_one(WorkOrder, order_id)
        with pytest.raises(ValidationError):
            service.move_work_order(s, order, "verified", actor="x", role="engineer")
        with pytest.raises(ValidationError, match="原因"):
            service.move_work_order(s, order, "false_positive", actor="x", role="engineer")
        with pytest.raises(ValidationError, match="到期"):
            service.move_work_order(
                s, order, "risk_accepted", actor="x", role="client_owner", reason="业务需要"
            )
    with session_scope(engine, readonly=True) as s:
        assert s.get_one(WorkOrder, order_id).state == "new"


def test_risk_acceptance_expires_and_reopens(engine: Engine) -> None:
    eng_id, order_id = _one(engine)
    with session_scope(engine) as s:
        order = s.get_one(WorkOrder, order_id)
        service.move_work_order(
            s,
            order,
            "risk_accepted",
            actor="owner",
            role="client_owner",
            reason="系统下线前不整改",
            until=date(2026, 6, 30),
            now=NOW,
        )
        assert order.state == "risk_accepted"
    with session_scope(engine) as s:
        from shaobing.engagements.models import Engagement

        eng = s.get_one(Engagement, eng_id)
        assert service.expire_risk_acceptances(s, eng, now=NOW + timedelta(days=30)) == 0
        reopened = service.expire_risk_acceptances(s, eng, now=datetime(2026, 7, 1, tzinfo=UTC))
        assert reopened == 1
        order = s.get_one(WorkOrder, order_id)
        assert order.state == "to_fix"
        assert order.due_date == date(2026, 7, 8)  # SLA restarts on reopen (高: 7 days)


def test_per_host_order_moves_all_members(engine: Engine) -> None:
    _, order_id = _one(engine, grouping="host")
    with session_scope(engine) as s:
        order = s.get_one(WorkOrder, order_id)
        moved = service.move_work_order(s, order, "to_fix", actor="e", role="engineer")
        assert moved == 2
        members = s.scalars(select(Finding).where(Finding.work_order_id == order_id)).all()
        service.move_finding(s, members[0], "fixed", actor="o", role="client_owner")
        assert order.state == "to_fix"  # one member still open
        service.move_finding(s, members[1], "fixed", actor="o", role="client_owner")
        assert order.state == "fixed"


def test_overdue_listing(engine: Engine) -> None:
    eng_id, _ = _one(engine)
    with session_scope(engine, readonly=True) as s:
        from shaobing.engagements.models import Engagement

        eng = s.get_one(Engagement, eng_id)
        total, _ = service.list_work_orders(s, eng, overdue_on=NOW.date() + timedelta(days=7))
        assert total == 0
        total, _ = service.list_work_orders(s, eng, overdue_on=NOW.date() + timedelta(days=8))
        assert total == 2


def test_documented_transition_table_matches_the_state_machine() -> None:
    from pathlib import Path

    from shaobing.findings.docs import transition_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "findings.md").read_text("utf-8")
    begin, end = "<!-- transition-table:begin -->\n", "\n<!-- transition-table:end -->"
    documented = doc[doc.index(begin) + len(begin) : doc.index(end)]
    assert documented.strip() == transition_table().strip()

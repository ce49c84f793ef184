"""Deliverables owed by service items over the service period."""

from __future__ import annotations

from datetime import date

from shaobing.engagements.catalog import Frequency, catalog
from shaobing.engagements.schedule import plan_deliverables

YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def test_monthly_inspection_owes_twelve_reports() -> None:
    plan = plan_deliverables("inspection", Frequency.MONTHLY, [], None, *YEAR)
    assert len(plan) == 12
    assert plan[0].period == "2026-01" and plan[0].due_date == date(2026, 1, 31)
    assert plan[1].due_date == date(2026, 2, 28)
    assert {p.kind for p in plan} == {"inspection_report"}


def test_scans_in_march_and_september() -> None:
    plan = plan_deliverables("vuln_scan", Frequency.SEMIANNUAL, [3, 9], None, *YEAR)
    assert [(p.period, p.due_date) for p in plan] == [
        ("2026-03", date(2026, 3, 31)),
        ("2026-09", date(2026, 9, 30)),
    ]


def test_quarterly_defaults_to_quarter_ends() -> None:
    plan = plan_deliverables("risk_assessment", Frequency.QUARTERLY, [], None, *YEAR)
    assert [p.period for p in plan] == ["2026-03", "2026-06", "2026-09", "2026-12"]
    assert catalog().default_months[Frequency.QUARTERLY] == [3, 6, 9, 12]


def test_once_with_due_date_before_june() -> None:
    plan = plan_deliverables("pentest", Frequency.ONCE, [], date(2026, 5, 31), *YEAR)
    assert len(plan) == 1 and plan[0].due_date == date(2026, 5, 31)


def test_period_not_aligned_to_calendar() -> None:
    plan = plan_deliverables(
        "inspection", Frequency.MONTHLY, [], None, date(2026, 7, 15), date(2027, 7, 14)
    )
    assert len(plan) == 13
    assert plan[-1].period == "2027-07" and plan[-1].due_date == date(2027, 7, 14)


def test_yearly_over_two_years() -> None:
    plan = plan_deliverables(
        "mlps_assessment", Frequency.YEARLY, [], None, date(2026, 4, 1), date(2028, 3, 31)
    )
    assert [p.due_date for p in plan] == [date(2027, 3, 31), date(2028, 3, 31)]


def test_on_demand_owes_nothing_in_advance() -> None:
    assert plan_deliverables("incident_response", Frequency.ON_DEMAND, [], None, *YEAR) == []


def test_catalogue_is_consistent() -> None:
    cat = catalog()
    assert all(item.deliverable in cat.deliverables for item in cat.items.values())
    assert cat.sla["incident_response"].minutes == 30

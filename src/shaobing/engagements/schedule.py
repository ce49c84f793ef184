"""Turn service items and the service period into the list of dated deliverables owed."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from shaobing.engagements.catalog import Frequency, catalog


@dataclass(frozen=True)
class PlannedDeliverable:
    """One deliverable occurrence: what, for which period, due when."""

    kind: str
    period: str | None
    due_date: date | None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _months_in_period(start: date, end: date) -> list[tuple[int, int]]:
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append((year, month))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def plan_deliverables(
    kind: str,
    frequency: Frequency,
    months: list[int],
    due_by: date | None,
    start: date | None,
    end: date | None,
) -> list[PlannedDeliverable]:
    """Occurrences of one service item within the period [start, end].

    Monthly items owe one per calendar month of the period; items with months (given, or
    the catalogue's defaults for quarterly/semiannual) owe one in each such month that falls
    in the period, due at its month end (or the period end if earlier); once/yearly items owe
    one per contract year, due at ``due_by`` or the period end; on-demand items owe nothing
    in advance (they are added when the service is called).
    """
    deliverable = catalog().items[kind].deliverable
    if frequency is Frequency.ON_DEMAND:
        return []
    if start is None or end is None:
        return [PlannedDeliverable(deliverable, None, due_by)]
    if frequency is Frequency.ONCE:
        due = due_by or end
        return [PlannedDeliverable(deliverable, f"{due.year}-{due.month:02d}", due)]
    if frequency is Frequency.YEARLY and not months:
        out = []
        year_start = start
        while year_start <= end:
            year_end = min(end, _add_years(year_start, 1) - timedelta(days=1))
            due = due_by if due_by and year_start <= due_by <= year_end else year_end
            out.append(PlannedDeliverable(deliverable, str(year_start.year), due))
            year_start = _add_years(year_start, 1)
        return out
    if frequency is Frequency.MONTHLY and not months:
        wanted = set(range(1, 13))
    else:
        wanted = set(months or catalog().default_months.get(frequency, []))
    return [
        PlannedDeliverable(deliverable, f"{y}-{m:02d}", min(_month_end(y, m), end))
        for y, m in _months_in_period(start, end)
        if m in wanted
    ]


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)

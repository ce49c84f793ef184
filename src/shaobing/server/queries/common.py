"""Pieces shared by the dashboard queries: engagement scoping, week and age boundaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from shaobing.engagements.models import Client, Engagement
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity

# Severity levels highest first, as (name, rank) pairs: the order every count dict uses.
LEVELS: tuple[tuple[str, int], ...] = tuple((s.value, s.rank) for s in Severity)

# Weights of the "top assets" ranking: organisation-defined (a critical finding weighs as
# much as two highs, a high as much as five lows; informational findings do not count).
SEVERITY_WEIGHTS: dict[str, int] = {
    "critical": 10,
    "high": 5,
    "medium": 2,
    "low": 1,
    "info": 0,
}

TREND_WEEKS = 12


def severity_counts() -> dict[str, int]:
    """A zeroed count per severity, highest first."""
    return {name: 0 for name, _ in LEVELS}


def rank_name(rank: int) -> str:
    """The severity name of a rank (4 → critical)."""
    for name, value in LEVELS:
        if value == rank:
            return name
    return Severity.INFO.value


def in_engagements(ids: Sequence[int]) -> ColumnElement[bool]:
    """``findings.engagement_id IN (...)``; a single id becomes an equality (better plans)."""
    if len(ids) == 1:
        return Finding.engagement_id == ids[0]
    return Finding.engagement_id.in_(list(ids))


def unique_ids(ids: Sequence[int]) -> list[int]:
    """The ids sorted and de-duplicated (stable SQL text for the statement cache)."""
    return sorted({int(i) for i in ids})


def midnight(day: date) -> datetime:
    """00:00 UTC of ``day`` (timestamps are stored in UTC, as the CLI's dates are)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def week_starts(today: date, weeks: int = TREND_WEEKS) -> list[date]:
    """Mondays of the ``weeks`` ISO weeks ending with the one holding ``today``, oldest
    first, plus the Monday after (the end bound)."""
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=weeks - 1)
    return [first + timedelta(weeks=i) for i in range(weeks + 1)]


def iso_week_label(monday: date) -> str:
    """``2026-W07`` for the ISO week starting on ``monday``."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def engagement_rows(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Id, code, name, status and client of each engagement, in id order (one query)."""
    if not ids:
        return []
    rows = session.execute(
        select(
            Engagement.id,
            Engagement.code,
            Engagement.name,
            Engagement.status,
            Engagement.client_id,
            Client.name,
        )
        .join(Client, Client.id == Engagement.client_id)
        .where(Engagement.id.in_(list(ids)))
        .order_by(Engagement.id)
    ).all()
    return [
        {
            "id": eid,
            "code": code,
            "name": name,
            "status": status,
            "client_id": client_id,
            "client_name": client_name,
        }
        for eid, code, name, status, client_id, client_name in rows
    ]

"""Keyset pages of findings: completeness under filters, cursor validation, capped totals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.core.bulk import bulk_insert
from shaobing.core.db import session_scope
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding
from shaobing.findings.service import COUNT_CAP, FindingFilter
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Status
from shaobing.server.queries.findings_page import (
    _filter_digest,
    decode_cursor,
    encode_cursor,
    findings_page,
)
from tests.server.queries.seed import seed

FILTERS = {
    "all": FindingFilter(),
    "open": FindingFilter(open_only=True),
    "open_high": FindingFilter(severities=[Severity.HIGH], open_only=True),
    "two_states": FindingFilter(statuses=[Status.NEW, Status.FIXED]),
    "sev_crit_low": FindingFilter(severities=[Severity.CRITICAL, Severity.LOW]),
    "host": FindingFilter(host="10.1.0.4"),
    "source": FindingFilter(source="NESSUS"),
    "search": FindingFilter(search="问题 1"),
}


def _matches(f: Finding, flt: FindingFilter) -> bool:
    """The filter's meaning, written out independently of the SQL."""
    if flt.statuses and f.status not in {s.value for s in flt.statuses}:
        return False
    if not flt.statuses and flt.open_only and not f.is_open:
        return False
    if flt.severities and f.severity not in {s.value for s in flt.severities}:
        return False
    if flt.host and f.host != flt.host.lower():
        return False
    if flt.source and f.source_tool != flt.source.lower():
        return False
    return not (flt.search and flt.search not in f.title and flt.search not in f.check_id)


def _expected(s: Session, eid: int, flt: FindingFilter) -> list[int]:
    rows = s.scalars(select(Finding).where(Finding.engagement_id == eid)).all()
    chosen = [f for f in rows if _matches(f, flt)]
    return [f.id for f in sorted(chosen, key=lambda f: (-f.severity_rank, -f.id))]


def _walk(s: Session, eid: int, flt: FindingFilter, limit: int) -> tuple[list[int], int]:
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        page = findings_page(s, engagement_id=eid, flt=flt, limit=limit, after=after)
        pages += 1
        assert len(page.items) <= limit
        seen.extend(f.id for f in page.items)
        if page.next_cursor is None:
            return seen, pages
        assert len(page.items) == limit
        after = page.next_cursor
        assert pages < 1000


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_walking_every_page_gives_every_match_once_in_order(engine: Engine, name: str) -> None:
    flt = FILTERS[name]
    with session_scope(engine) as s:
        eid = seed(s).engagements[0]
    with session_scope(engine, readonly=True) as s:
        want = _expected(s, eid, flt)
        assert want, "the seed must give this filter something to page through"
        first = findings_page(s, engagement_id=eid, flt=flt, limit=7, after=None)
        assert first.total == len(want) and first.total_capped is False
        got, pages = _walk(s, eid, flt, 7)
    assert got == want  # no gap, no duplicate, most severe first then newest
    assert pages == max(1, -(-len(want) // 7))


def test_page_size_equal_to_matches_ends_without_cursor(engine: Engine) -> None:
    with session_scope(engine) as s:
        eid = seed(s).engagements[0]
    with session_scope(engine, readonly=True) as s:
        count = len(_expected(s, eid, FindingFilter()))
        page = findings_page(s, engagement_id=eid, flt=FindingFilter(), limit=count, after=None)
        short = findings_page(
            s, engagement_id=eid, flt=FindingFilter(), limit=count - 1, after=None
        )
    assert len(page.items) == count and page.next_cursor is None
    assert short.next_cursor is not None


def test_empty_engagement_has_one_empty_page(engine: Engine) -> None:
    with session_scope(engine) as s:
        empty = seed(s).engagements[2]
    with session_scope(engine, readonly=True) as s:
        page = findings_page(s, engagement_id=empty, flt=FindingFilter(), limit=50, after=None)
    assert page.items == [] and page.next_cursor is None and page.total == 0


def test_unknown_engagement_and_bad_limits(engine: Engine) -> None:
    with session_scope(engine, readonly=True) as s:
        with pytest.raises(NotFoundError):
            findings_page(s, engagement_id=999_999, flt=FindingFilter(), limit=5, after=None)
        for limit in (0, -1, 501):
            with pytest.raises(ValidationError, match="每页条数"):
                findings_page(s, engagement_id=1, flt=FindingFilter(), limit=limit, after=None)


def test_bad_cursors_are_refused_with_one_chinese_line(engine: Engine) -> None:
    with session_scope(engine) as s:
        e1, e2 = seed(s).engagements[:2]
    with session_scope(engine, readonly=True) as s:
        page = findings_page(s, engagement_id=e1, flt=FindingFilter(), limit=5, after=None)
        good = page.next_cursor
        assert good is not None
        other_filter = findings_page(
            s, engagement_id=e1, flt=FindingFilter(open_only=True), limit=5, after=None
        ).next_cursor
        digest = _filter_digest(e1, FindingFilter())
        bad = [
            "",
            "not a cursor",
            "%%%%",
            good + "x",  # base64 of something else
            good[:-2],
            "A" * 81,
            "游标",
            "MS4zLjE",  # "1.3.1": too few parts
            encode_cursor(7, 10, digest),  # rank out of range
            encode_cursor(3, 0, digest),  # id out of range
            encode_cursor(3, 10, "0000000000"),  # made for another listing
            other_filter or "",
        ]
        for cursor in bad:
            with pytest.raises(ValidationError) as caught:
                findings_page(s, engagement_id=e1, flt=FindingFilter(), limit=5, after=cursor)
            message = str(caught.value)
            assert "分页游标无效" in message and "\n" not in message
        # A cursor of one engagement is refused on another (it would skip rows there).
        with pytest.raises(ValidationError):
            findings_page(s, engagement_id=e2, flt=FindingFilter(), limit=5, after=good)


@given(st.text(max_size=120))
def test_decode_cursor_accepts_only_its_own_cursors(text: str) -> None:
    digest = _filter_digest(1, FindingFilter())
    message = None
    try:
        rank, finding_id = decode_cursor(text, digest)
    except ValidationError as exc:
        message = str(exc)
    if message is None:
        assert encode_cursor(rank, finding_id, digest) == text
    else:
        assert "\n" not in message and "分页游标无效" in message


@given(st.integers(0, 4), st.integers(1, 2**63 - 1))
def test_cursor_round_trip_is_url_safe(rank: int, finding_id: int) -> None:
    digest = _filter_digest(5, FindingFilter(open_only=True))
    cursor = encode_cursor(rank, finding_id, digest)
    assert cursor.replace("-", "").replace("_", "").isalnum()
    assert decode_cursor(cursor, digest) == (rank, finding_id)


def test_total_is_capped_like_the_cli(engine: Engine) -> None:
    with session_scope(engine) as s:
        eid = seed(s, findings=0).engagements[1]
        client_id = s.get_one(Engagement, eid).client_id
        now = datetime(2026, 3, 1, tzinfo=UTC)
        bulk_insert(
            s,
            Finding.__table__,  # type: ignore[arg-type]
            [
                {
                    "client_id": client_id,
                    "engagement_id": eid,
                    "dedup_scope": f"e:{eid}",
                    "fingerprint": f"{i:064x}",
                    "source_tool": "nuclei",
                    "check_id": f"c-{i % 7}",
                    "title": "批量",
                    "severity": "medium" if i % 3 else "high",
                    "severity_rank": 2 if i % 3 else 3,
                    "status": "new",
                    "is_open": True,
                    "status_changed_at": now,
                    "first_seen": now,
                    "last_seen": now,
                    "times_seen": 1,
                    "cve_ids": [],
                    "cwe_ids": [],
                    "cnvd_ids": [],
                    "cnnvd_ids": [],
                    "references": [],
                    "extra": {},
                }
                for i in range(COUNT_CAP + 5)
            ],
        )
    with session_scope(engine, readonly=True) as s:
        page = findings_page(s, engagement_id=eid, flt=FindingFilter(), limit=500, after=None)
        assert page.total == COUNT_CAP and page.total_capped is True
        high = findings_page(
            s,
            engagement_id=eid,
            flt=FindingFilter(severities=[Severity.HIGH]),
            limit=500,
            after=None,
        )
        assert high.total == len([i for i in range(COUNT_CAP + 5) if i % 3 == 0])
        assert high.total_capped is False
        got, _ = _walk(s, eid, FindingFilter(), 500)
    assert len(got) == len(set(got)) == COUNT_CAP + 5

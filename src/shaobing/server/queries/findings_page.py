"""One page of an engagement's findings, most severe first, with keyset pagination.

OFFSET paging reads and throws away every row before the page, so page 2,000 of a
million findings costs seconds. A keyset page starts from the last row shown instead
(``(severity_rank, id) < (r, i)``), a range of the same composite indexes the first page
uses: every page costs the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding
from shaobing.findings.service import COUNT_CAP, FindingFilter, filtered_query

MAX_LIMIT = 500
_CURSOR_VERSION = "1"
_MAX_CURSOR_CHARS = 80
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_MAX_ID = 2**63 - 1


@dataclass
class FindingsPage:
    """A page of findings.

    ``items``: the findings (ORM objects; ``finding_as_dict`` gives their JSON form);
    ``next_cursor``: pass as ``after`` for the next page, None on the last page;
    ``total``: how many findings match, at most ``COUNT_CAP``;
    ``total_capped``: True when more than ``COUNT_CAP`` match ("10,000+").
    """

    items: list[Finding]
    next_cursor: str | None
    total: int
    total_capped: bool


def _filter_digest(engagement_id: int, flt: FindingFilter) -> str:
    """A short digest of the listing a cursor belongs to: a cursor taken under other
    filters (or another engagement) would silently skip or repeat rows, so it is refused."""
    parts = [
        str(engagement_id),
        ",".join(sorted(s.value for s in flt.severities or [])),
        ",".join(sorted(s.value for s in flt.statuses or [])),
        "" if flt.asset_id is None else str(flt.asset_id),
        (flt.host or "").lower(),
        (flt.source or "").lower(),
        flt.search or "",
        "1" if flt.open_only else "0",
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:10]


def encode_cursor(rank: int, finding_id: int, digest: str) -> str:
    """The opaque, URL-safe cursor after the row ``(rank, finding_id)``."""
    raw = f"{_CURSOR_VERSION}.{rank}.{finding_id}.{digest}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, digest: str) -> tuple[int, int]:
    """``(severity_rank, id)`` of a cursor made by :func:`encode_cursor` for the same listing.

    Raises ValidationError (one Chinese line naming the cursor) for anything else.
    """
    shown = cursor[:_MAX_CURSOR_CHARS]
    bad = ValidationError(
        t("console_queries.bad_cursor", cursor=shown.encode("unicode_escape").decode("ascii"))
    )
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS or not _CURSOR_CHARS.fullmatch(cursor):
        raise bad
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    parts = text.split(".")
    if len(parts) != 4 or parts[0] != _CURSOR_VERSION or parts[3] != digest:
        raise bad
    rank_text, id_text = parts[1], parts[2]
    if not (rank_text.isdigit() and id_text.isdigit()) or len(id_text) > 19:
        raise bad
    rank, finding_id = int(rank_text), int(id_text)
    if rank > 4 or not 0 < finding_id <= _MAX_ID:
        raise bad
    return rank, finding_id


def findings_page(
    session: Session,
    *,
    engagement_id: int,
    flt: FindingFilter,
    limit: int,
    after: str | None,
) -> FindingsPage:
    """Findings of one engagement matching ``flt``, ordered by severity (most severe
    first) then id (newest first), ``limit`` (1–500) per page, starting after the cursor
    ``after`` (None: the first page).

    The caller has checked the user may see the engagement. A malformed cursor, one made
    for other filters or another engagement, or a bad ``limit`` raises ValidationError; an
    unknown engagement raises NotFoundError.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(t("console_queries.bad_limit", limit=limit, maximum=MAX_LIMIT))
    engagement = session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFoundError(t("engagements.not_found", ref=engagement_id))
    digest = _filter_digest(engagement_id, flt)
    base = filtered_query(engagement, flt).order_by(None)
    counted = base.with_only_columns(Finding.id).limit(COUNT_CAP + 1).subquery()
    matching = session.scalar(select(func.count()).select_from(counted)) or 0
    query = base
    if after is not None:
        rank, last_id = decode_cursor(after, digest)
        query = query.where(tuple_(Finding.severity_rank, Finding.id) < tuple_(rank, last_id))
    # One row more than the page tells whether a next page exists without counting.
    rows = list(
        session.scalars(
            query.order_by(Finding.severity_rank.desc(), Finding.id.desc()).limit(limit + 1)
        )
    )
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last.severity_rank, last.id, digest)
    return FindingsPage(
        items=items,
        next_cursor=next_cursor,
        total=min(matching, COUNT_CAP),
        total_capped=matching > COUNT_CAP,
    )

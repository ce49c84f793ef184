"""The platform's own append-only audit log, hash-chained so that tampering is detectable.

Each event's hash covers its sequence number, content and the previous event's hash; a
single head row (locked while appending) holds the last sequence number and hash, so
edits, deletions, insertions and truncation of the tail all break verification.
The hash is SM3 (GB/T 32905-2016) where the platform's OpenSSL provides it, else SHA-256;
the algorithm is stored per event so verification never guesses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shaobing.core.db import session_scope
from shaobing.core.models import Base

GENESIS_HASH = "0" * 64


def _preferred_algorithm() -> str:
    try:
        hashlib.new("sm3")
    except ValueError:
        return "sha256"
    return "sm3"


HASH_ALGORITHM = _preferred_algorithm()


class AuditEvent(Base):
    """One audit event. ``client_id`` is the tenant when the event concerns one (no foreign
    key: the log must outlive a purged client, J3)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(32))  # ISO-8601 UTC, hashed verbatim
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[int | None] = mapped_column(Integer, index=True)
    engagement_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str | None] = mapped_column(String(1000))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed verbatim
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash_alg: Mapped[str] = mapped_column(String(16))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row holding the chain's last sequence number and hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def _canonical_detail(detail: dict[str, Any] | None) -> str:
    return json.dumps(
        detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )


def event_hash(event: AuditEvent) -> str:
    """Hash of an event's sequence, content and predecessor, with its stored algorithm."""
    material = json.dumps(
        [
            event.seq,
            event.occurred_at,
            event.actor,
            event.action,
            event.outcome,
            event.client_id,
            event.engagement_id,
            event.target,
            event.detail,
            event.prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.new(event.hash_alg, material.encode("utf-8")).hexdigest()


def record_event(
    session: Session,
    action: str,
    *,
    actor: str = "system",
    outcome: str = "success",
    client_id: int | None = None,
    engagement_id: int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event inside the caller's transaction (it commits or rolls back with it)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS_HASH)
        session.add(head)
    event = AuditEvent(
        seq=head.seq + 1,
        occurred_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        outcome=outcome,
        client_id=client_id,
        engagement_id=engagement_id,
        target=target,
        detail=_canonical_detail(detail),
        prev_hash=head.hash,
        hash_alg=HASH_ALGORITHM,
    )
    event.hash = event_hash(event)
    session.add(event)
    head.seq = event.seq
    head.hash = event.hash
    session.flush()
    return event


def record_event_now(engine: Engine | None = None, action: str = "", **kwargs: Any) -> None:
    """Append an event in its own transaction, so it persists even if the caller fails."""
    with session_scope(engine) as session:
        record_event(session, action, **kwargs)


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying the audit chain."""

    ok: bool
    events: int
    head_hash: str
    broken_at: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Recompute every hash and link; report the first sequence number that does not fit."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.seq >= expected_seq)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return ChainReport(False, count, expected_prev, expected_seq, "missing")
            if event.prev_hash != expected_prev:
                return ChainReport(False, count, expected_prev, event.seq, "link")
            if (
                event.hash_alg not in hashlib.algorithms_available
                or event_hash(event) != event.hash
            ):
                return ChainReport(False, count, expected_prev, event.seq, "content")
            expected_prev = event.hash
            last_seq = event.seq
            expected_seq += 1
            count += 1
        session.expunge_all()
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != last_seq or head_hash != expected_prev:
        # The head says the chain is longer (or different) than what is stored: the tail
        # was removed or replaced.
        return ChainReport(False, count, expected_prev, last_seq + 1, "truncated")
    return ChainReport(True, count, expected_prev)

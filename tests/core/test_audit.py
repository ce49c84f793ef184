"""The hash-chained audit log: appends verify, and any tampering is detected."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text

from shaobing.core.audit import AuditEvent, record_event, record_event_now, verify_chain
from shaobing.core.db import session_scope


def _fill(engine: Engine, n: int) -> None:
    with session_scope(engine) as session:
        for i in range(n):
            record_event(
                session,
                "test.event",
                actor="tester",
                client_id=1,
                target=f"t{i}",
                detail={"i": i, "中文": "审计"},
            )


def _verify(engine: Engine):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return verify_chain(session, batch=3)


def test_empty_chain_verifies(engine: Engine) -> None:
    report = _verify(engine)
    assert report.ok and report.events == 0


def test_appended_chain_verifies(engine: Engine) -> None:
    _fill(engine, 10)
    record_event_now(engine, "test.other", actor="x")
    report = _verify(engine)
    assert report.ok, report
    assert report.events == 11
    with session_scope(engine) as session:
        seqs = [e.seq for e in session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, 12))


def test_rolled_back_event_leaves_no_trace(engine: Engine) -> None:
    _fill(engine, 2)

    def fail_after_recording() -> None:
        with session_scope(engine) as session:
            record_event(session, "test.rollback")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_recording()
    assert _verify(engine).ok
    assert _verify(engine).events == 2


@pytest.mark.parametrize(
    ("statement", "problem", "seq"),
    [
        ("UPDATE audit_events SET target = 'forged' WHERE seq = 4", "content", 4),
        ("UPDATE audit_events SET detail = '{}' WHERE seq = 7", "content", 7),
        (
            "UPDATE audit_events SET occurred_at = '2020-01-01T00:00:00+00:00' WHERE seq = 1",
            "content",
            1,
        ),
        ("DELETE FROM audit_events WHERE seq = 5", "missing", 5),
        ("UPDATE audit_events SET prev_hash = hash WHERE seq = 6", "link", 6),
        ("DELETE FROM audit_events WHERE seq >= 9", "truncated", 9),
    ],
)
def test_tampering_is_detected(engine: Engine, statement: str, problem: str, seq: int) -> None:
    _fill(engine, 10)
    with engine.begin() as conn:
        conn.execute(text(statement))
    report = _verify(engine)
    assert not report.ok
    assert report.problem == problem
    assert report.broken_at == seq


def test_recomputed_forgery_still_breaks_the_next_link(engine: Engine) -> None:
    """Rewriting an event and its own hash is caught by the following event's link."""
    _fill(engine, 5)
    with session_scope(engine) as session:
        event = session.get(AuditEvent, 3)
        assert event is not None
        event.target = "forged"
        from shaobing.core.audit import event_hash

        event.hash = event_hash(event)
    report = _verify(engine)
    assert not report.ok and report.broken_at == 4 and report.problem == "link"


def test_concurrent_appends_keep_one_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                record_event_now(engine, "test.concurrent", actor=f"w{k}", detail={"i": i})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    report = _verify(engine)
    assert report.ok and report.events == 40

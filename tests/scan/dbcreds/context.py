"""The CheckContext of the database and unauthorised-access tests: the credential tests'
recording context, admitting both loopback addresses (127.0.0.1 and ::1)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.scan.credentials.context import RecordingContext


@dataclass
class TestContext(RecordingContext):
    """Connects only to the loopback addresses and records every use."""

    __test__ = False  # not a pytest test class

    allowed: frozenset[str] = frozenset({"127.0.0.1", "::1"})

"""Fixtures of the account tests: a movable clock, a cheap hasher, two clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from shaobing.auth.passwords import Hasher
from shaobing.auth.policy import AuthContext, load_config
from shaobing.core.db import session_scope
from shaobing.engagements.models import Client

# The production parameters cost ~0.2 s per hash; the service tests hash hundreds of times,
# so they use Argon2id with the smallest cost (test_passwords checks the real parameters).
CHEAP = Hasher.with_cost(time_cost=1, memory_kib=8, parallelism=1)
GOOD_PASSWORD = "Tiger#Lamp2046"


@dataclass
class Clock:
    """A clock the test moves by hand."""

    moment: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """A clock at a fixed instant."""
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> AuthContext:
    """The packaged policy, the cheap hasher and the movable clock."""
    return AuthContext(config=load_config(None), hasher=CHEAP, clock=clock)


@dataclass(frozen=True)
class Tenants:
    """Two clients of the platform."""

    own: int
    other: int


@pytest.fixture
def tenants(engine: Engine) -> Tenants:
    """Two clients in the fresh database."""
    with session_scope(engine) as session:
        a = Client(name="甲单位", code="JIA")
        b = Client(name="乙单位", code="YI")
        session.add_all([a, b])
        session.flush()
        return Tenants(a.id, b.id)

"""A recorded hardening run per tenant for the role × tenant matrix (nothing to roll back)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from shaobing.baseline.models import HardeningRun
from shaobing.core.db import session_scope
from tests.server.conftest import Side


def hardening_run(engine: Engine, side: Side, tmp: Path) -> int:
    """A finished SSH hardening run that changed nothing: a rollback of it is refused (400)."""
    with session_scope(engine) as db:
        run = HardeningRun(
            client_id=side.client_id,
            engagement_id=side.engagement_id,
            profile="linux",
            target="ssh://ops@127.0.0.1:22",
            target_spec={"kind": "ssh", "host": "127.0.0.1", "user": "ops", "port": 22},
            status="nothing-to-do",
            rules=["linux.ssh.max-auth-tries"],
            plan=[],
            created_by="test",
        )
        db.add(run)
        db.flush()
        return run.id

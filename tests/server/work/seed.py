"""Real results in the fixture world: a baseline check, assessments, deliverables, CVEs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from shaobing.assess.datasec import service as datasec
from shaobing.assess.mlps import service as mlps
from shaobing.baseline.service import Access, run_check
from shaobing.core.db import session_scope
from shaobing.engagements.deliverables import add_deliverable
from shaobing.engagements.models import Engagement
from shaobing.vulndb.service import import_paths
from tests.baseline.roots import materialise
from tests.vulndb.feeds import nvd_cve, nvd_document, openssh_config, write_json


def baseline_run(engine: Engine, engagement: str, tmp: Path) -> int:
    """Check the weak Debian 12 fixture tree with the Linux profile; returns the run id."""
    root = materialise("debian12-weak", tmp / f"root-{engagement}")
    outcome = run_check(
        engine,
        profile_name="linux",
        targets=[None],
        access=Access(root=root),
        engagement_ref=engagement,
        variables={},
        actor="test",
    )
    return outcome.run_ids[0]


def assessments(engine: Engine, engagement_id: int) -> None:
    """Start an MLPS level-3 assessment and a data security assessment (pre-filled)."""
    with session_scope(engine) as db:
        target = db.get(Engagement, engagement_id)
        assert target is not None
        mlps.init_assessment(db, target, level=3, packs=[], flags=[], actor="test")
        found = datasec.create(db, target, actor="test")
        datasec.prefill(db, found, actor="test")


def deliverable(engine: Engine, engagement_id: int) -> int:
    """A vulnerability scan report owed at the end of the month."""
    with session_scope(engine) as db:
        target = db.get(Engagement, engagement_id)
        assert target is not None
        row = add_deliverable(
            db, target, kind="vuln_scan_report", due=date(2030, 1, 31), actor="test"
        )
        return row.id


def cves(engine: Engine, tmp: Path) -> None:
    """Two CVEs of OpenSSH in the vulnerability database, imported from an NVD file."""
    doc = nvd_document(
        [
            nvd_cve(
                "CVE-2024-6387",
                text="regreSSHion: race condition in sshd",
                configurations=openssh_config(),
            ),
            nvd_cve(
                "CVE-2023-38408",
                text="PKCS#11 feature in ssh-agent",
                configurations=openssh_config(),
            ),
        ]
    )
    import_paths(engine, [write_json(tmp / "nvd.json", doc)])

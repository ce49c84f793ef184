"""What a report builder receives and returns.

A builder module exposes ``collect(ctx: BuildContext) -> ReportData``. It reads the engagement's
data through the public service functions of the other features, prepares the template context
(plain values: strings, numbers, lists, dicts) and the named parts (tables, key-value tables,
charts, images) the template places with ``::table NAME`` and friends, and lists the tables
that also go into the XLSX annex. It never formats for one output format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from shaobing.engagements.models import Engagement
from shaobing.reports.markup import Parts
from shaobing.reports.model import Table
from shaobing.reports.period import Period


@dataclass
class BuildContext:
    """Input of a builder: the engagement, the period (if any) and the user's options.

    ``options`` holds ``--set KEY=VALUE`` pairs of the CLI; ``notes_dir`` is the folder of
    engineer-written sections and attachments (see the pentest builder).
    """

    session: Session
    engagement: Engagement
    period: Period | None
    today: date
    options: dict[str, str] = field(default_factory=dict)
    notes_dir: Path | None = None


@dataclass
class ReportData:
    """Output of a builder: template context, named parts, XLSX annex tables, a subtitle."""

    context: dict[str, Any]
    parts: Parts
    annexes: list[Table] = field(default_factory=list)
    subtitle: str | None = None


Collect = Callable[[BuildContext], ReportData]

"""The fixed words renderers print (cover labels, 目录, page numbers), kept as data."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from shaobing.reports.model import ReportMeta


@cache
def labels() -> dict[str, Any]:
    """The packaged renderer labels (``data/labels.yaml``)."""
    text = resources.files("shaobing.reports").joinpath("data", "labels.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def cover_rows(meta: ReportMeta) -> list[tuple[str, str]]:
    """The label/value rows of a cover page, in order, leaving out what is unknown."""
    words: dict[str, str] = labels()["cover"]
    values = [
        ("client", meta.client),
        ("engagement", meta.engagement),
        ("engagement_code", meta.engagement_code),
        ("report_no", meta.report_no),
        ("period", meta.period),
        (
            "report_date",
            f"{meta.report_date.year}年{meta.report_date.month}月{meta.report_date.day}日",
        ),
        ("vendor", meta.vendor),
        ("author", meta.author),
        ("reviewer", meta.reviewer),
        ("version", meta.version),
    ]
    return [(words[key], value) for key, value in values if value]

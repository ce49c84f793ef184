"""Renderers: one per output format, each ``render(doc: ReportDocument, path: Path) -> None``.

They are imported only when used, so the CLI starts without loading python-docx, fpdf2 or
matplotlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

from shaobing.reports.model import ReportDocument

FORMATS: dict[str, str] = {
    "docx": "shaobing.reports.render.docx",
    "pdf": "shaobing.reports.render.pdf",
    "html": "shaobing.reports.render.html",
    "xlsx": "shaobing.reports.render.xlsx",
}

Renderer = Callable[[ReportDocument, Path], None]


def renderer(fmt: str) -> Renderer:
    """The render function of one format (``docx``, ``pdf``, ``html``, ``xlsx``)."""
    module = importlib.import_module(FORMATS[fmt])
    return cast(Renderer, module.render)

"""Finds every Importer subclass in this package and picks one for a file."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings import importers
from shaobing.findings.importers.base import SNIFF_BYTES, Importer, ImportFormatError


@cache
def all_importers() -> dict[str, type[Importer]]:
    """Every importer by format name (modules of this package are imported on first use)."""
    for module in pkgutil.iter_modules(importers.__path__):
        if module.name not in {"base", "registry"} and not module.name.startswith("_"):
            importlib.import_module(f"{importers.__name__}.{module.name}")
    found: dict[str, type[Importer]] = {}
    stack = list(Importer.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "name", None) and not getattr(cls, "__abstractmethods__", None):
            found[cls.name] = cls
    return dict(sorted(found.items()))


def get_importer(name: str) -> Importer:
    """The importer for an explicit ``--format``."""
    registry = all_importers()
    if name not in registry:
        raise ValidationError(t("findings.unknown_format", format=name, known=", ".join(registry)))
    return registry[name]()


def detect_importer(path: Path) -> Importer:
    """Pick the importer that recognises the file; one clear error when none does."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise ImportFormatError(path, t("findings.problem.unreadable", error=exc.strerror)) from exc
    if not head.strip():
        raise ImportFormatError(path, t("findings.problem.empty"))
    matches = [cls for cls in all_importers().values() if cls.sniff(path, head)]
    if not matches:
        raise ImportFormatError(path, t("findings.problem.unknown_format"))
    matches.sort(key=lambda cls: cls.priority, reverse=True)
    return matches[0]()

"""The templates a network scan runs: the built-in library and the site's own folders.

Built-in checks ship in ``shaobing/templates/builtin``; ``$SHAOBING_HOME/templates`` and the
policy option ``template_dirs`` add more. Each template's safety class comes from its
``info.metadata.safety`` (``passive`` or ``active``); a template that does not say is taken
as ``active`` (organisation-defined default: it may send more than plain GETs). Templates
that cannot run here are left out of scans and listed by ``shaobing template validate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from shaobing.core.settings import get_settings
from shaobing.findings.severity import Severity
from shaobing.scan.checks import Safety
from shaobing.templates.loader import load_template
from shaobing.templates.model import Template
from shaobing.templates.validate import template_files

_SEVERITIES = {s.value: s for s in Severity}


@dataclass(frozen=True)
class LibraryTemplate:
    """A runnable template with the scan's view of it."""

    template: Template
    safety: Safety

    @property
    def severity(self) -> Severity:
        """The template's severity as a finding severity (unknown → info)."""
        return _SEVERITIES.get(self.template.info.severity.lower(), Severity.INFO)


def builtin_folder() -> Path:
    """The folder of the built-in templates inside the package."""
    return Path(str(resources.files("shaobing.templates").joinpath("builtin")))


def _safety(template: Template) -> Safety:
    raw = str(template.info.metadata.get("safety", "active")).lower()
    return Safety.PASSIVE if raw == "passive" else Safety.ACTIVE


@lru_cache(maxsize=16)
def _load_folder(folder: str, stamp: float) -> tuple[LibraryTemplate, ...]:
    del stamp  # part of the cache key only: a changed folder is read again
    loaded: list[LibraryTemplate] = []
    for path, root in template_files([folder]):
        try:
            template = load_template(path, root=root)
        except ValueError:
            continue  # reported by `shaobing template validate`, not a scan's business
        if template.runnable:
            loaded.append(LibraryTemplate(template, _safety(template)))
    return tuple(loaded)


def _stamp(folder: Path) -> float:
    try:
        return max((p.stat().st_mtime for p in folder.rglob("*.yaml")), default=0.0)
    except OSError:
        return 0.0


def library(extra_dirs: Iterable[str] = ()) -> tuple[LibraryTemplate, ...]:
    """Runnable templates of the built-in folder, the user's folder and ``extra_dirs``;
    a later folder's template replaces an earlier one with the same id."""
    folders = [builtin_folder(), get_settings().home / "templates", *map(Path, extra_dirs)]
    by_id: dict[str, LibraryTemplate] = {}
    for folder in folders:
        if folder.is_dir():
            for item in _load_folder(str(folder.resolve()), _stamp(folder)):
                by_id[item.template.id] = item
    return tuple(by_id[key] for key in sorted(by_id))


def find_template(template_id: str, extra_dirs: Iterable[str] = ()) -> LibraryTemplate | None:
    """The library template with this id, if any."""
    return next((t for t in library(extra_dirs) if t.template.id == template_id), None)

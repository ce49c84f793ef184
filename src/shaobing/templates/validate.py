"""Validation reports: which files load and which features they use that cannot run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shaobing.templates.loader import TemplateError, load_template
from shaobing.templates.model import Template

SUFFIXES = (".yaml", ".yml")


@dataclass
class ValidationResult:
    """The verdict on one file."""

    path: Path
    template: Template | None = None
    error: str | None = None

    @property
    def loads(self) -> bool:
        """Whether the file loaded."""
        return self.template is not None

    @property
    def unsupported(self) -> list[str]:
        """Unsupported feature names (empty when it fails to load or runs fully)."""
        return self.template.features if self.template is not None else []

    def record(self) -> dict[str, Any]:
        """The JSON object ``template validate --json`` prints for this file."""
        return {
            "path": str(self.path),
            "id": self.template.id if self.template is not None else None,
            "loads": self.loads,
            "unsupported": self.unsupported,
            "error": self.error,
        }


@dataclass
class Summary:
    """Counts over many validation results."""

    total: int = 0
    loaded: int = 0
    runnable: int = 0
    features: Counter[str] = field(default_factory=Counter)

    def add(self, result: ValidationResult) -> None:
        """Count one result."""
        self.total += 1
        if result.loads:
            self.loaded += 1
            if not result.unsupported:
                self.runnable += 1
        self.features.update(result.unsupported)


def template_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every template file named or found below a named folder, sorted;
    ``root`` is the folder named (payload files may be looked up anywhere below it)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.suffix.lower() in SUFFIXES and file.is_file():
                    yield file, path
        else:
            yield path, path.parent


def validate_file(path: Path, root: Path | None = None) -> ValidationResult:
    """Load one file and report the verdict (never raises for a bad template)."""
    try:
        return ValidationResult(path, load_template(path, root=root))
    except TemplateError as exc:
        return ValidationResult(path, error=exc.message)

"""Loading the MLPS data files: packaged YAML, or an organisation's copy under the data home.

The files are data that people edit: only the safe YAML loader, a size cap, and one-line
errors naming the file and the offending field.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeVar, cast

from pydantic import BaseModel

from shaobing.core import datafile
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

MAX_BYTES = datafile.MAX_BYTES
Model = TypeVar("Model", bound=BaseModel)


def _label() -> str:
    return t("mlps.data.label")


def parse_text(source: str, text: str, model: type[Model]) -> Model:
    """Validate YAML ``text`` against ``model``; one-line error naming ``source`` and the field."""
    return datafile.parse_yaml(source, text, model, label=_label())


def packaged_text(name: str) -> str:
    """Text of a data file shipped in ``shaobing/assess/mlps/data``."""
    return resources.files("shaobing.assess.mlps").joinpath("data", name).read_text("utf-8")


def packaged_names() -> list[str]:
    """Names of the shipped data files."""
    root = resources.files("shaobing.assess.mlps").joinpath("data")
    return sorted(entry.name for entry in root.iterdir() if entry.name.endswith(".yaml"))


def override_path(name: str) -> Path:
    """Where an organisation's replacement of data file ``name`` lives."""
    return get_settings().home / "mlps" / name


def read_file(path: Path) -> str:
    """Read an organisation's data file (size-capped, UTF-8)."""
    return datafile.read_text(path, label=_label())


def load(name: str, model: type[Model]) -> Model:
    """The organisation's copy of data file ``name`` when present, else the packaged one."""
    override = override_path(name)
    if override.is_file():
        return parse_text(str(override), read_file(override), model)
    return cast(Model, _packaged(name, model))


@cache
def _packaged(name: str, model: type[BaseModel]) -> BaseModel:
    return parse_text(f"data/{name}", packaged_text(name), model)

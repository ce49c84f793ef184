"""Loading the MLPS data files: packaged YAML, or an organisation's copy under the data home.

The files are data that people edit: only the safe YAML loader, a size cap, and one-line
errors naming the file and the offending field.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from shaobing.core.errors import ValidationError as UserError
from shaobing.core.errors import error_location
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

MAX_BYTES = 2 * 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader without anchors and aliases.

    Aliases let a few bytes of YAML stand for an exponentially large structure that schema
    validation would then walk ("billion laughs"); the data files never need them.
    """

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        """Refuse an alias before it is resolved."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def parse_text(source: str, text: str, model: type[Model]) -> Model:
    """Validate YAML ``text`` against ``model``; one-line error naming ``source`` and the field."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise UserError(t("mlps.data.too_large", source=source, limit=MAX_BYTES))
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(t("mlps.data.bad_yaml", source=source, detail=first)) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = error_location(error.get("loc", ()))
        raise UserError(
            t("mlps.data.bad_field", source=source, field=where, detail=error.get("msg", ""))
        ) from exc


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
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UserError(t("mlps.data.too_large", source=str(path), limit=MAX_BYTES))
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(t("mlps.data.unreadable", source=str(path), detail=str(exc))) from exc


def load(name: str, model: type[Model]) -> Model:
    """The organisation's copy of data file ``name`` when present, else the packaged one."""
    override = override_path(name)
    if override.is_file():
        return parse_text(str(override), read_file(override), model)
    return cast(Model, _packaged(name, model))


@cache
def _packaged(name: str, model: type[BaseModel]) -> BaseModel:
    return parse_text(f"data/{name}", packaged_text(name), model)

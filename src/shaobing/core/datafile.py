"""Loading YAML data files that people edit: safe loader without aliases, a size cap, and
one-line errors naming the file and the offending field.

Each feature passes its own ``label`` (for example 等保数据文件, 报告配置文件) so the message
tells the user which kind of file is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shaobing.core.errors import ValidationError as UserError
from shaobing.core.errors import error_location
from shaobing.core.i18n import t

MAX_BYTES = 2 * 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


class NoAliasLoader(yaml.SafeLoader):
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


def parse_yaml(source: str, text: str, model: type[Model], *, label: str) -> Model:
    """Validate YAML ``text`` against ``model``; one-line error naming ``source`` and the field."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise UserError(t("common.datafile.too_large", label=label, source=source, limit=MAX_BYTES))
    try:
        data = yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            t("common.datafile.bad_yaml", label=label, source=source, detail=first)
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = error_location(error.get("loc", ()))
        raise UserError(
            t(
                "common.datafile.bad_field",
                label=label,
                source=source,
                field=where,
                detail=error.get("msg", ""),
            )
        ) from exc


def read_text(path: Path, *, label: str, limit: int = MAX_BYTES) -> str:
    """Read a user's data file (size-capped, UTF-8); one-line error when it cannot be read."""
    try:
        if path.stat().st_size > limit:
            raise UserError(
                t("common.datafile.too_large", label=label, source=str(path), limit=limit)
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            t("common.datafile.unreadable", label=label, source=str(path), detail=str(exc))
        ) from exc

"""Reading untrusted template YAML: size cap, safe constructors, bounded aliases and nodes.

Template files come from community collections and users, so they are parsed with
``yaml.SafeLoader`` only; anchors and aliases are counted while composing and the loaded
document is walked once with a node budget, so a "billion laughs" file is refused instead
of expanding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

MAX_FILE_BYTES = 512 * 1024
MAX_ALIASES = 64
MAX_NODES = 50_000


class TemplateError(ValidationError):
    """A template file that cannot be loaded; the message names the file and the problem."""

    def __init__(self, path: str | Path, detail: str) -> None:
        super().__init__(t("templates.error.load", path=str(path), detail=detail))
        self.path = str(path)
        self.detail = detail


# libyaml when available (ten times faster over a collection of thousands of files).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _count_aliases(text: str, path: str | Path) -> None:
    """Refuse documents with more than :data:`MAX_ALIASES` alias references.

    Counted on the parser's event stream, before anything is constructed.
    """
    aliases = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise TemplateError(path, t("templates.error.aliases", limit=MAX_ALIASES))


def _node_budget(data: Any, path: str | Path) -> None:
    count = 0
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise TemplateError(path, t("templates.error.too_complex", limit=MAX_NODES))
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set):
            stack.extend(node)


def parse_yaml_text(text: str, path: str | Path) -> Any:
    """Parse ``text`` safely; raises :class:`TemplateError` naming ``path``."""
    if len(text) > MAX_FILE_BYTES:
        raise TemplateError(path, t("templates.error.too_large", limit=MAX_FILE_BYTES))
    try:
        _count_aliases(text, path)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise TemplateError(path, t("templates.error.yaml", detail=detail)) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # safe_load builds dates and numbers itself ("2024-13-45" raises ValueError) and
        # deeply nested flow collections exhaust the recursion limit.
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise TemplateError(path, t("templates.error.yaml", detail=detail)) from None
    _node_budget(data, path)
    return data


def read_yaml_file(path: Path) -> Any:
    """Read and parse one template file (size checked before reading it all)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TemplateError(path, t("templates.error.too_large", limit=MAX_FILE_BYTES))
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateError(path, t("templates.error.unreadable", detail=exc.strerror)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(path, t("templates.error.not_utf8", detail=exc.reason)) from None
    return parse_yaml_text(text, path)

"""Message catalogues: user-facing text lives in YAML files, code refers to keys."""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from typing import Any

import yaml

DEFAULT_LANGUAGE = "zh-CN"
_current_language = DEFAULT_LANGUAGE


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = str(node)


# The packaged catalogues are trusted data; the C loader (when PyYAML has it) is four times
# faster, and still a safe loader (no object construction).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Scan workers all translate on their first connection: one of them loads, the rest wait.
_LOAD_LOCK = threading.Lock()


def catalogue(language: str) -> dict[str, str]:
    """Return the flattened key → text mapping of one language's catalogue."""
    with _LOAD_LOCK:
        return _catalogue(language)


@cache
def _catalogue(language: str) -> dict[str, str]:
    root = resources.files("shaobing.core.i18n").joinpath(language)
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    # One file per feature (scope.yaml, ledger.yaml, ...) keeps concurrent edits apart;
    # the file stem is the first key segment.
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_LOADER) or {}  # noqa: S506 - safe loader
            _flatten(entry.name.removesuffix(".yaml"), data, out)
    return out


def set_language(language: str) -> None:
    """Select the catalogue used by :func:`t` (falls back to zh-CN per key)."""
    global _current_language  # noqa: PLW0603 - process-wide UI language, set once by the CLI
    _current_language = language


def t(key: str, /, **params: object) -> str:
    """Translate ``key`` with ``str.format`` parameters; unknown keys return the key itself."""
    text = catalogue(_current_language).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text

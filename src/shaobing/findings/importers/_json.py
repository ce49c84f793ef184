"""Loading and shape checks shared by the JSON/CSV importers of code and TLS scanners.

SARIF, Bandit, Semgrep, Gitleaks, SSLyze and testssl.sh all write one JSON document (or a
small CSV), so the file is read whole under a size cap and parsed once. Invalid or
truncated JSON is reported with its line and column. Afterwards the importers read the
tree through the lenient getters below: an optional field of the wrong type counts as
absent, while a wrong *structure* (a list where the format has objects) is refused with
:func:`fail`. :func:`guarded` is the last line of defence that turns anything unforeseen
into an :class:`ImportFormatError` instead of a traceback.

Messages come from ``importers_code.yaml``; the module name starts with ``_`` so the
importer registry does not scan it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from shaobing.core.i18n import t
from shaobing.findings.importers.base import ImportFormatError, Record

#: SARIF and friends are one JSON document, so the whole file has to fit in memory.
MAX_FILE_BYTES = 512 * 1024 * 1024
#: How much tool output (snippet, matched line, ...) one finding keeps.
EVIDENCE_LIMIT = 20_000
#: Titles longer than this are cut (some tools put whole paragraphs in their message).
TITLE_LIMIT = 300

_TRUNCATED_MARK = "\n[…]"
_CVE_RE = re.compile(r"\bCVE-(\d{4})-(\d{4,})\b", re.IGNORECASE)
# "CWE-79", "CWE-79: Improper ...", "external/cwe/cwe-079", "cwe_79", "CWE 79"
_CWE_RE = re.compile(r"(?<![A-Za-z])CWE[-_/:\s]*0*(\d{1,6})(?!\d)", re.IGNORECASE)
_WS_RE = re.compile(r"\s+")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)

_T = TypeVar("_T")


# --------------------------------------------------------------------------- errors
def problem(key: str, **params: object) -> str:
    """The translated one-line reason ``importers_code.problem.<key>``."""
    return t(f"importers_code.problem.{key}", **params)


def fail(path: Path, key: str, **params: object) -> ImportFormatError:
    """An ImportFormatError for ``path`` with the reason ``importers_code.problem.<key>``."""
    return ImportFormatError(path, problem(key, **params))


def wrong_type(path: Path, where: str, expected: str) -> ImportFormatError:
    """``where`` (a JSON path such as ``runs[0].results``) is not of the ``expected`` type."""
    return fail(path, "wrong_type", where=where, expected=t(f"importers_code.type.{expected}"))


def guarded(path: Path, records: Iterable[Record]) -> Iterator[Record]:
    """Re-raise anything an importer did not foresee as an ImportFormatError.

    The importers check shapes explicitly; this only keeps a bug or an unforeseen shape
    from surfacing as a traceback in the CLI. The tests assert it never fires on inputs
    they generate, so it is not a substitute for the explicit checks.
    """
    try:
        yield from records
    except ImportFormatError:
        raise
    except (
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        AttributeError,
        RecursionError,
        OverflowError,
        UnicodeError,
    ) as exc:
        raise fail(path, "unexpected", error=type(exc).__name__) from exc


# --------------------------------------------------------------------------- reading
def _decode(path: Path, data: bytes) -> str:
    # PowerShell's ">" writes UTF-16 with a BOM, so tool output redirected on Windows
    # arrives that way; everything else is UTF-8 (with or without BOM).
    try:
        if data.startswith(_UTF32_BOMS):
            return data.decode("utf-32")
        if data.startswith(_UTF16_BOMS):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(path, "not_utf8", offset=exc.start) from exc


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The whole file as text; refuses unreadable, oversized, undecodable and empty files."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise fail(path, "too_large", size=size, limit=max_bytes)
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(
            path, t("findings.problem.unreadable", error=exc.strerror or exc)
        ) from exc
    text = _decode(path, data)
    if not text.strip():
        raise ImportFormatError(path, t("findings.problem.empty"))
    return text


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def parse_json(path: Path, text: str) -> Any:
    """Parse ``text``; errors name the line and column, and truncation is called so."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line, column = _line_col(text, exc.pos)
        # Errors at the very end, or an unterminated string, mean the writer stopped early.
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise fail(path, "truncated_json", line=line, column=column) from exc
        raise fail(path, "invalid_json", line=line, column=column, error=exc.msg) from exc
    except RecursionError as exc:
        raise fail(path, "too_deep") from exc
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise fail(path, "invalid_value", error=str(exc).split("\n", 1)[0]) from exc


def load_json(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read and parse a JSON file under the size cap."""
    return parse_json(path, read_text(path, max_bytes))


def sniff_text(head: bytes) -> str:
    """The leading bytes as text for sniffing: BOM-aware, never raises, leading space gone."""
    if head.startswith(_UTF32_BOMS):
        text = head.decode("utf-32", errors="ignore")
    elif head.startswith(_UTF16_BOMS):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    return text.lstrip()


# --------------------------------------------------------------------------- shapes
def as_object(path: Path, value: object, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, or an ImportFormatError naming ``where``."""
    if not isinstance(value, dict):
        raise wrong_type(path, where, "object")
    return value


def as_array(path: Path, value: object, where: str) -> list[Any]:
    """``value`` as a JSON array, or an ImportFormatError naming ``where``."""
    if not isinstance(value, list):
        raise wrong_type(path, where, "array")
    return value


def objects(path: Path, value: object, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The (index, object) pairs of an array that must hold objects; absent/null is empty."""
    if value is None:
        return
    for index, item in enumerate(as_array(path, value, where)):
        yield index, as_object(path, item, f"{where}[{index}]")


def get_obj(node: object, key: str) -> dict[str, Any]:
    """``node[key]`` if both are objects, else an empty dict (lenient)."""
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def get_list(node: object, key: str) -> list[Any]:
    """``node[key]`` if it is an array, else an empty list (lenient)."""
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def to_str(value: object) -> str | None:
    """A string or number as text; anything else (null, bool, object, "") is None."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def get_str(node: object, key: str) -> str | None:
    """``node[key]`` as text (see :func:`to_str`)."""
    return to_str(node.get(key)) if isinstance(node, dict) else None


def to_int(value: object, minimum: int = 0, maximum: int = 2**31 - 1) -> int | None:
    """An integer (or integral float / digit string) inside the bounds, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        stripped = value.strip()
        if len(stripped) > 12:
            return None
        number = int(stripped)
    else:
        return None
    return number if minimum <= number <= maximum else None


def get_int(node: object, key: str, minimum: int = 0, maximum: int = 2**31 - 1) -> int | None:
    """``node[key]`` as a bounded integer (see :func:`to_int`)."""
    return to_int(node.get(key), minimum, maximum) if isinstance(node, dict) else None


def to_float(value: object) -> float | None:
    """A finite number (or numeric string) as float, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) < 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def get_bool(node: object, key: str) -> bool | None:
    """``node[key]`` as a boolean (JSON true/false or the strings "true"/"false")."""
    value = node.get(key) if isinstance(node, dict) else None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def str_list(value: object) -> list[str]:
    """The text items of an array (or a lone string) — non-text items are skipped."""
    if isinstance(value, list):
        return [text for text in (to_str(item) for item in value) if text is not None]
    text = to_str(value)
    return [text] if text is not None else []


# --------------------------------------------------------------------------- text
def unique(items: Iterable[_T]) -> list[_T]:
    """Items without repeats, first occurrence kept."""
    seen: set[_T] = set()
    out: list[_T] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def truncate(text: str | None, limit: int = EVIDENCE_LIMIT) -> str | None:
    """``text`` cut to ``limit`` characters with a visible mark; None stays None."""
    if text is None:
        return None
    if len(text) <= limit:
        return text
    return text[: limit - len(_TRUNCATED_MARK)] + _TRUNCATED_MARK


def one_line(text: str, limit: int = TITLE_LIMIT) -> str:
    """Whitespace collapsed to single spaces, cut to ``limit`` characters (for titles)."""
    collapsed = _WS_RE.sub(" ", text).strip()
    if len(collapsed) <= limit:
        return collapsed
    return collapsed[: limit - 1].rstrip() + "…"


def first_line(text: str, limit: int = TITLE_LIMIT) -> str:
    """The first non-blank line of ``text`` as a title."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line, limit)
    return one_line(text, limit)


def cve_ids(values: Iterable[object]) -> list[str]:
    """CVE ids found in the given texts: upper-case, de-duplicated, order kept."""
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.extend(f"CVE-{m.group(1)}-{m.group(2)}" for m in _CVE_RE.finditer(value))
    return unique(found)


def cwe_ids(values: Iterable[object]) -> list[int]:
    """CWE numbers from texts such as ``CWE-79: ...`` or ``external/cwe/cwe-079``, or ints."""
    found: list[int] = []
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if 0 < value < 1_000_000:
                found.append(value)
        elif isinstance(value, str):
            found.extend(int(m.group(1)) for m in _CWE_RE.finditer(value) if int(m.group(1)))
    return unique(found)

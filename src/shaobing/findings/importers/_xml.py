"""Safe streaming readers shared by the Nmap, Greenbone, Nessus and Burp importers.

XML goes through ``defusedxml``'s iterparse: entity declarations (XXE, billion laughs) and
external references are refused before anything is expanded, while a bare ``<!DOCTYPE>``
(Nmap writes one) or an internal subset of element declarations (Burp writes one) is
allowed. Elements are detached from the tree once handled so memory stays flat however
large the report. CSV exports are read line by line. Every failure becomes an
:class:`ImportFormatError` with a one-line reason from ``importers_xml.yaml``.

The module name starts with ``_`` so the importer registry does not scan it.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import (  # type: ignore[import-untyped,unused-ignore]
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import (  # type: ignore[import-untyped,unused-ignore]
    iterparse as _defused_iterparse,
)

from shaobing.core.i18n import t
from shaobing.findings.importers.base import ImportFormatError

#: Files above this size are refused outright (streaming copes with anything below it).
MAX_FILE_BYTES = 2 * 1024**3
#: How much of one tool output (plugin output, HTTP request, ...) a finding keeps.
EVIDENCE_LIMIT = 20_000
#: Real reports nest fewer than 20 levels; a deeper file is hostile or broken.
MAX_DEPTH = 256
# A CSV field longer than this means an unbalanced quote swallowed the rest of the file.
_CSV_FIELD_LIMIT = 64 * 1024 * 1024

# expat error codes that mean "the document stopped before it was complete".
_TRUNCATION_CODES = {3, 5, 6}  # no element found, unclosed token, partial character

_CVE_RE = re.compile(r"CVE-(\d{4})-(\d{4,})", re.IGNORECASE)
_CWE_RE = re.compile(r"CWE\s*[-:]?\s*(\d{1,6})", re.IGNORECASE)
_XML_NAME_RE = re.compile(r"[A-Za-z_:][-\w.:]*")
_TRUNCATED_MARK = "\n[…]"


def problem(key: str, **params: object) -> str:
    """The translated one-line reason ``importers_xml.<key>``."""
    return t(f"importers_xml.{key}", **params)


def fail(path: Path, key: str, **params: object) -> ImportFormatError:
    """An ImportFormatError for ``path`` with the reason ``importers_xml.<key>``."""
    return ImportFormatError(path, problem(key, **params))


def check_file(path: Path) -> int:
    """Refuse unreadable, empty and oversized files up front; returns the size in bytes."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise fail(path, "unreadable", error=exc.strerror or exc) from exc
    if size == 0:
        raise fail(path, "empty")
    if size > MAX_FILE_BYTES:
        raise fail(path, "too_large", size=size, limit=MAX_FILE_BYTES)
    return size


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a non-empty, not oversized file."""
    check_file(path)
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise fail(path, "unreadable", error=exc.strerror or exc) from exc


def looks_like_xml(head: bytes) -> bool:
    """Whether the text starts with ``<`` (after BOM and blanks): XML rather than CSV."""
    return decode_head(head).lstrip("\ufeff \t\r\n").startswith("<")


# --------------------------------------------------------------------------- sniffing
def decode_head(head: bytes) -> str:
    """The leading bytes as text for sniffing (BOM-aware, never raises)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="ignore")
    return head.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="ignore")


def _skip_doctype(text: str, pos: int) -> int:
    """Index just after a ``<!DOCTYPE ...>`` that starts at ``pos`` (internal subset aware)."""
    depth = 0
    quote = ""
    for index in range(pos + 2, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == ">" and depth <= 0:
            return index + 1
    return -1


def sniff_root(head: bytes) -> str | None:
    """Name of the first element of an XML document, skipping prolog, comments and DOCTYPE.

    Cheap enough for ``sniff``: it only scans the given leading bytes, and returns None
    when they do not start like XML.
    """
    text = decode_head(head)
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
            pos = end + 2 if end >= 0 else -1
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos)
            pos = end + 3 if end >= 0 else -1
        elif text.startswith("<!DOCTYPE", pos) or text.startswith("<!doctype", pos):
            pos = _skip_doctype(text, pos)
        elif text.startswith("<", pos):
            match = _XML_NAME_RE.match(text, pos + 1)
            return match.group(0) if match else None
        else:
            return None
        if pos < 0:
            return None


def sniff_csv_header(head: bytes) -> list[str]:
    """The cells of the first line of a CSV file (``,`` or ``;`` separated), or []."""
    line = _first_line(head)
    if not line.strip():
        return []
    try:
        return [cell.strip() for cell in next(csv.reader([line], delimiter=_delimiter(line)))]
    except (csv.Error, StopIteration):
        return []


def _first_line(head: bytes) -> str:
    return decode_head(head).lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")


def _delimiter(header_line: str) -> str:
    # Tenable's newer exports use ";"; everything else here uses ",".
    return ";" if header_line.count(";") > header_line.count(",") else ","


# --------------------------------------------------------------------------- XML
@dataclass(frozen=True, slots=True)
class XmlEvent:
    """One element handed to an importer.

    ``start`` events carry only the element's attributes; ``end`` events of captured
    elements carry the whole subtree. The element is detached right after the consumer
    moves on, so it must not be kept.
    """

    kind: Literal["start", "end"]
    path: tuple[str, ...]
    elem: Element


PathTest = Callable[[tuple[str, ...]], bool]


def _never(_path: tuple[str, ...]) -> bool:
    return False


def iter_xml(
    path: Path,
    *,
    roots: Collection[str],
    format_label: str,
    capture: PathTest,
    notify: PathTest = _never,
) -> Iterator[XmlEvent]:
    """Stream the elements of ``path`` that an importer asked for.

    ``capture(path)`` selects elements delivered whole at their end (their children are
    kept until then); ``notify(path)`` selects elements announced at start and at end
    without keeping their children (e.g. a host whose items are captured one by one).
    The root element must be one of ``roots``.
    """
    check_file(path)
    stack: list[str] = []
    elems: list[Element] = []
    capture_depth = 0  # depth of the captured element being built, 0 when none
    root_seen = False
    try:
        with path.open("rb") as handle:
            for event, elem in _defused_iterparse(handle, events=("start", "end")):
                if event == "start":
                    if not root_seen and elem.tag not in roots:
                        raise fail(
                            path,
                            "wrong_root",
                            format=format_label,
                            found=_tag_label(elem.tag),
                            expected=", ".join(f"<{r}>" for r in sorted(roots)),
                        )
                    root_seen = True
                    if len(stack) >= MAX_DEPTH:
                        raise fail(path, "too_deep", limit=MAX_DEPTH)
                    stack.append(elem.tag)
                    elems.append(elem)
                    if not capture_depth:
                        current = tuple(stack)
                        if capture(current):
                            capture_depth = len(stack)
                        elif notify(current):
                            yield XmlEvent("start", current, elem)
                    continue
                depth = len(stack)
                if capture_depth and depth > capture_depth:
                    stack.pop()
                    elems.pop()
                    continue  # part of a captured subtree, handed over with its ancestor
                current = tuple(stack)
                if capture_depth == depth:
                    capture_depth = 0
                    yield XmlEvent("end", current, elem)
                elif notify(current):
                    yield XmlEvent("end", current, elem)
                stack.pop()
                elems.pop()
                elem.clear()
                if elems:
                    # Detach so neither the element nor its (cleared) shell accumulates.
                    elems[-1].remove(elem)
    except ImportFormatError:
        raise
    except EntitiesForbidden as exc:
        raise fail(path, "entities", name=exc.name) from None
    except ExternalReferenceForbidden as exc:
        raise fail(path, "external", target=exc.sysid or exc.pubid or "?") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        code = getattr(exc, "code", None)
        key = "bad_xml"
        if code in _TRUNCATION_CODES:
            key = "truncated_xml" if root_seen else "no_root"
        raise fail(path, key, line=line, column=column, error=_expat_message(exc)) from None
    except OSError as exc:
        raise fail(path, "unreadable", error=exc.strerror or exc) from exc
    except (LookupError, UnicodeError) as exc:
        raise fail(path, "bad_encoding", error=exc) from None
    except ValueError as exc:
        # expat reports a few oddities as plain ValueErrors rather than ParseErrors.
        raise fail(path, "bad_xml_detail", error=exc) from None


def _tag_label(tag: str) -> str:
    return tag.rsplit("}", 1)[-1][:80]


def _expat_message(exc: ParseError) -> str:
    # "not well-formed (invalid token): line 3, column 4" → drop the position (given apart).
    return re.sub(r":\s*line \d+, column \d+$", "", str(exc))


def local(tag: str) -> str:
    """Tag name without a ``{namespace}`` prefix."""
    return tag.rsplit("}", 1)[-1]


def child_text(elem: Element, tag: str) -> str | None:
    """Stripped text of the first child ``tag`` (all its text, nested too), None if empty."""
    child = elem.find(tag)
    if child is None:
        return None
    return clean("".join(child.itertext()))


def clean(text: str | None) -> str | None:
    """Text stripped of surrounding blanks; None when nothing is left."""
    if text is None:
        return None
    text = text.strip()
    return text or None


def dedent_lines(text: str | None) -> str | None:
    """Text with each line stripped (undoes pretty-printing indentation), blank runs kept."""
    if text is None:
        return None
    return clean("\n".join(line.strip() for line in text.strip().splitlines()))


# --------------------------------------------------------------------------- CSV
def _csv_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still UTF-8.
        if exc.start < len(head) - 3:
            return "gb18030"
    return "utf-8"


def iter_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows of a CSV export as ``(first line number, cells)``, the header first.

    The separator (``,`` or ``;``) is taken from the header line; text is UTF-8 (with or
    without BOM), UTF-16 with BOM, or GB18030 for exports saved by Chinese Excel.
    """
    check_file(path)
    # The limit is process-wide; it is only ever raised, never lowered.
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    try:
        with path.open("rb") as raw:
            head = raw.read(64 * 1024)
        encoding = _csv_encoding(head)
        delimiter = _delimiter(_first_line(head))
        with path.open(encoding=encoding, errors="replace", newline="") as handle:
            # strict: an unterminated quote (a file cut short) is an error, not a value.
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            while True:
                start = reader.line_num + 1  # a quoted cell may span several lines
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise fail(path, "bad_csv", line=reader.line_num, error=exc) from None
                yield start, cells
    except OSError as exc:
        raise fail(path, "unreadable", error=exc.strerror or exc) from exc


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of a CSV export, looked up by header name."""

    line: int
    cells: dict[str, str]

    def get(self, *names: str) -> str | None:
        """The first non-empty value among the given column names, stripped."""
        for name in names:
            value = self.cells.get(name)
            if value is not None and value.strip():
                return value.strip()
        return None


def iter_csv_rows(
    path: Path,
    *,
    format_label: str,
    required: Iterable[str],
) -> Iterator[CsvRow]:
    """Data rows of a CSV export whose header must contain every ``required`` column."""
    rows = iter_csv(path)
    first = next(rows, None)
    if first is None:
        raise fail(path, "empty")
    header = [cell.strip().lstrip("\ufeff") for cell in first[1]]
    missing = [name for name in required if name not in header]
    if missing:
        raise fail(path, "csv_header", format=format_label, missing=", ".join(missing))
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            raise fail(path, "csv_short_row", line=line, found=len(cells), expected=len(header))
        values: dict[str, str] = {}
        for name, cell in zip(header, cells, strict=False):
            # A blank or repeated header name keeps its first value.
            values.setdefault(name, cell)
        yield CsvRow(line, values)


# --------------------------------------------------------------------------- values
def truncate(text: str | None, limit: int = EVIDENCE_LIMIT) -> str | None:
    """Text cut to ``limit`` characters (marked), never leaving half a private key.

    Secrets are masked later by pattern; a PEM block cut before its END line would no
    longer match, so an unterminated block at the cut is dropped entirely.
    """
    if text is None or len(text) <= limit:
        return text
    cut = text[:limit]
    begin = cut.rfind("-----BEGIN")
    if begin >= 0 and cut.find("-----END", begin) < 0:
        cut = cut[:begin]
    return cut + _TRUNCATED_MARK


def cve_ids(values: Iterable[str | None]) -> list[str]:
    """CVE ids found in the values, upper-cased ``CVE-YYYY-NNNN``, deduplicated in order."""
    out: dict[str, None] = {}
    for value in values:
        if value:
            for year, number in _CVE_RE.findall(value):
                out[f"CVE-{year}-{number}"] = None
    return list(out)


def cwe_ids(values: Iterable[str | None], *, bare: bool = False) -> list[int]:
    """CWE numbers from ``CWE-79`` / ``CWE:79`` (or plain ``79`` when ``bare``), in order."""
    out: dict[int, None] = {}
    for value in values:
        if not value:
            continue
        found = _CWE_RE.findall(value)
        if not found and bare:
            found = re.findall(r"\b(\d{1,6})\b", value)
        for number in found:
            out[int(number)] = None
    return list(out)


def prefixed_ids(values: Iterable[str | None], prefix: str) -> list[str]:
    """Ids like ``CNVD-2021-01234`` written as ``CNVD:2021-01234`` or ``cnvd-…``, in order."""
    pattern = re.compile(rf"\b{prefix}[-:]\s*(\d{{4}}[-\d]*\d)", re.IGNORECASE)
    out: dict[str, None] = {}
    for value in values:
        if value:
            for rest in pattern.findall(value):
                out[f"{prefix.upper()}-{rest}"] = None
    return list(out)


def unique(values: Iterable[str | None]) -> list[str]:
    """Non-empty stripped values, deduplicated, order kept."""
    out: dict[str, None] = {}
    for value in values:
        if value and value.strip():
            out[value.strip()] = None
    return list(out)


def to_float(text: str | None, *, low: float = 0.0, high: float = 10.0) -> float | None:
    """A float within ``[low, high]`` or None (tools write "", "N/A", "-", ...)."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if math.isnan(value) or not low <= value <= high:
        return None
    return value


def to_int(text: str | None, *, low: int = 0, high: int = 65535) -> int | None:
    """An int within ``[low, high]`` or None."""
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def cvss_v3(vector: str | None) -> str | None:
    """A CVSS v3.x vector (``CVSS:3.0/...`` or ``CVSS:3.1/...``), else None (v2 is dropped)."""
    vector = clean(vector)
    if vector and vector.upper().startswith("CVSS:3.") and "/AV:" in vector.upper():
        return vector
    return None


def cvss_v4(vector: str | None) -> str | None:
    """A CVSS v4.0 vector, else None."""
    vector = clean(vector)
    if vector and vector.upper().startswith("CVSS:4.0/"):
        return vector
    return None


def cvss_v2(vector: str | None) -> str | None:
    """A CVSS v2 base vector (``AV:N/AC:L/...``, ``CVSS2#`` prefix dropped), else None."""
    vector = clean(vector)
    if not vector:
        return None
    vector = vector.removeprefix("CVSS2#").removeprefix("(").removesuffix(")")
    return vector if vector.upper().startswith("AV:") and "/AU:" in vector.upper() else None

"""Helpers shared by the web-scanner importers (ZAP, Acunetix, Nuclei).

Everything that reads the file lives here so the format modules only map fields:

* XML is streamed with ``defusedxml``'s ``iterparse``; any DTD (and so any entity
  declaration, internal or external) is refused before it can be expanded, and record
  elements are cleared and detached once the importer has used them.
* JSON documents are loaded whole up to :data:`JSON_MAX_BYTES` (ZAP and Acunetix reports
  are single objects whose records sit deep inside them); a top-level JSON *array* (the
  Nuclei ``-json-export`` output) is streamed element by element instead.
* JSON Lines are read line by line with a per-line cap.

Every malformed input ends in :class:`ImportFormatError` with a one-line reason from the
``importers_web`` catalogue.
"""

from __future__ import annotations

import codecs
import html
import json
import math
import re
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped, unused-ignore]
from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped, unused-ignore]

from shaobing.core.i18n import t
from shaobing.findings.importers.base import ImportFormatError

#: Longest request/response/evidence text kept per piece (the rest is cut).
EVIDENCE_LIMIT = 20_000
#: Longest description-like text kept (and fed to the HTML stripper).
TEXT_LIMIT = 100_000
#: Largest JSON document loaded into memory at once.
JSON_MAX_BYTES = 512 * 1024 * 1024
#: Longest single line of a JSON Lines file.
LINE_MAX_BYTES = 64 * 1024 * 1024

_MB = 1024 * 1024
_READ_CHUNK = 1024 * 1024
_JSON_WS = " \t\n\r"
# NUL and lone surrogates cannot be stored as text (PostgreSQL, UTF-8), so they go.
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\f\v\r]+")
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_CWE = re.compile(r"\s*(?:CWE[-_: ]?)?(\d{1,7})\s*", re.IGNORECASE)
_XML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_XML_FIRST_TAG = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def problem(key: str, **params: object) -> str:
    """A one-line reason from the ``importers_web`` catalogue."""
    return t(f"importers_web.{key}", **params).replace("\n", " ")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- text


def _scrub(value: str) -> str:
    if value.isascii():  # the common case; isascii is far cheaper than a regex pass
        return value.replace("\x00", "") if "\x00" in value else value
    return _BAD_CHARS.sub("", value)


def text(value: object) -> str | None:
    """A scalar as stripped text (NUL and lone surrogates removed); None when empty.

    Numbers become their decimal form; booleans, containers and None give None, so a
    field of the wrong type reads as absent instead of failing the import.
    """
    if type(value) is not str:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            return None
    cleaned = _scrub(value).strip()
    return cleaned or None


def clip(value: str | None, limit: int = EVIDENCE_LIMIT) -> str | None:
    """Cut text to ``limit`` characters, marking the cut."""
    if value is None or len(value) <= limit:
        return value
    return value[:limit] + "…"


def block(value: object, limit: int = EVIDENCE_LIMIT) -> str | None:
    """Raw text (a request, a response, tool output), clipped and dedented."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    cleaned = clip(_scrub(value), limit) or ""
    if "\n " in cleaned or "\n\t" in cleaned:
        # Pretty-printed XML reports indent every line of a request; that indent is noise.
        cleaned = textwrap.dedent(cleaned)
    return cleaned.strip() or None


def evidence(parts: Iterable[tuple[str, object]]) -> str | None:
    """Labelled evidence pieces (label = the tool's own field name), each clipped."""
    out = []
    for label, value in parts:
        piece = block(value)
        if piece is not None:
            out.append(f"{label}:\n{piece}")
    return "\n\n".join(out) or None


def join_text(*values: str | None) -> str | None:
    """Non-empty texts joined by a blank line."""
    present = [value for value in values if value]
    return "\n\n".join(present) or None


class _HtmlText(HTMLParser):
    """Collects the text and link targets of an HTML fragment; never runs anything."""

    _BLOCK = frozenset(
        {
            "p", "div", "br", "ul", "ol", "tr", "table", "pre", "blockquote", "hr",
            "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "dl", "section", "article",
        }
    )  # fmt: skip
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "a":
            self.links.extend(value for key, value in attrs if key == "href" and value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._HIDDEN:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _tidy(raw: str) -> str | None:
    lines: list[str] = []
    for raw_line in raw.split("\n"):
        line = _SPACES.sub(" ", raw_line).strip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip() or None


def _parse_html(value: str) -> _HtmlText | None:
    parser = _HtmlText()
    try:
        parser.feed(value)
        parser.close()
    except (AssertionError, ValueError, IndexError):
        # html.parser is lenient but has raised on odd markup in some releases.
        return None
    return parser


def html_to_text(value: object) -> str | None:
    """Plain text of an HTML fragment: tags dropped, entities decoded, blank runs folded."""
    raw = clip(text(value), TEXT_LIMIT)
    if raw is None:
        return None
    parser = _parse_html(raw)
    if parser is None:
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", raw)))
    return _tidy(_BAD_CHARS.sub("", "".join(parser.parts)))


def urls_in(*values: object, html_links: bool = True) -> list[str]:
    """http(s) URLs named in texts (``<a href>`` targets and bare URLs), de-duplicated."""
    found: list[str] = []
    for value in values:
        raw = clip(text(value), TEXT_LIMIT)
        if raw is None:
            continue
        parser = _parse_html(raw) if html_links and "<" in raw else None
        candidates = list(parser.links) if parser else []
        plain = html.unescape(raw) if parser is None else "".join(parser.parts)
        candidates.extend(_URL_IN_TEXT.findall(plain))
        for candidate in candidates:
            url = candidate.strip().rstrip(".,;:)]}")
            if url.lower().startswith(("http://", "https://")) and url not in found:
                found.append(url)
    return found


# ------------------------------------------------------------------ identifiers


def cve_ids(*values: object) -> list[str]:
    """CVE ids found in the values (strings or lists of them), upper-cased, first seen first."""
    found: list[str] = []
    for value in _flatten(values):
        for match in _CVE.findall(value):
            cve = match.upper()
            if cve not in found:
                found.append(cve)
    return found


def cwe_id(value: object) -> int | None:
    """A CWE number from ``79``, ``"79"``, ``"CWE-79"`` or ``"cwe-79"``; 0 and -1 mean none."""
    raw = text(value)
    if raw is None:
        return None
    match = _CWE.fullmatch(raw)
    if match is None:
        return None
    number = int(match.group(1))
    return number if number > 0 else None


def cwe_ids(*values: object) -> list[int]:
    """CWE numbers from values, lists of values or comma-separated strings, de-duplicated."""
    found: list[int] = []
    for value in _flatten(values):
        for piece in value.split(","):
            number = cwe_id(piece)
            if number is not None and number not in found:
                found.append(number)
    return found


def _flatten(values: Iterable[object]) -> Iterator[str]:
    for value in values:
        if isinstance(value, list | tuple):
            yield from _flatten(value)
        else:
            cleaned = text(value)
            if cleaned is not None:
                yield cleaned


def cvss_vector(value: object) -> tuple[str | None, str | None]:
    """(v3 vector, v4 vector): kept only with a ``CVSS:3.x`` / ``CVSS:4.0/`` prefix."""
    raw = text(value)
    if raw is None or len(raw) > 300:
        return None, None
    if raw.startswith("CVSS:3."):
        return raw, None
    if raw.startswith("CVSS:4.0/"):
        return None, raw
    return None, None


def cvss_score(value: object) -> float | None:
    """A CVSS score between 0 and 10, or None."""
    raw = text(value)
    if raw is None:
        return None
    try:
        score = float(raw)
    except ValueError:
        return None
    return score if math.isfinite(score) and 0.0 <= score <= 10.0 else None


def positive_int(value: object, maximum: int = 2**31 - 1) -> int | None:
    """A positive integer (a line number, a count) from an int or a string of digits."""
    raw = text(value)
    if raw is None or not raw.isdigit() or len(raw) > 10:
        return None
    number = int(raw)
    return number if 0 < number <= maximum else None


def port_number(value: object) -> int | None:
    """A TCP/UDP port 1–65535 from an int or a string of digits."""
    raw = text(value)
    if raw is None or not raw.isdigit() or len(raw) > 5:
        return None
    port = int(raw)
    return port if 0 < port < 65536 else None


# ------------------------------------------------------------------------ URLs


@dataclass(frozen=True)
class UrlParts:
    """Where a URL points: scheme, host (lower case), port (explicit or default), origin."""

    scheme: str | None = None
    host: str | None = None
    port: int | None = None
    origin: str | None = None


def split_url(url: object) -> UrlParts:
    """Split an absolute URL; an empty UrlParts when it is not one."""
    raw = text(url)
    if raw is None or "://" not in raw:
        return UrlParts()
    return _split_url_cached(raw)


@lru_cache(maxsize=16384)
def _split_url_cached(raw: str) -> UrlParts:
    # Scanner output repeats the same few origins and URLs many times over; urlsplit and
    # the port/host properties are the hot spot of large imports.
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        explicit = parts.port
    except ValueError:
        return UrlParts()
    scheme = parts.scheme.lower() or None
    if not host or scheme is None:
        return UrlParts()
    default = _DEFAULT_PORTS.get(scheme)
    port = explicit if explicit else default
    shown = f"[{host}]" if ":" in host else host
    suffix = f":{port}" if port is not None and port != default else ""
    return UrlParts(scheme, host, port, f"{scheme}://{shown}{suffix}")


def origin_of(url: object) -> str | None:
    """``scheme://host[:port]`` of a URL (default port left out), or None."""
    return split_url(url).origin


def join_url(base: object, ref: object) -> str | None:
    """``ref`` resolved against ``base`` (either may be absent or relative)."""
    base_text, ref_text = text(base), text(ref)
    if ref_text is None:
        return base_text
    if base_text is None or "://" in ref_text:
        return ref_text
    if "://" not in base_text:
        base_text = "http://" + base_text
    try:
        return urljoin(base_text, ref_text)
    except ValueError:
        return ref_text


def split_host_port(value: object) -> tuple[str | None, int | None]:
    """``host:port``, ``[v6]:port`` or a bare host/URL → (host, port)."""
    raw = text(value)
    if raw is None:
        return None, None
    if "://" in raw:
        parts = split_url(raw)
        return parts.host, parts.port
    raw = raw.split("/", 1)[0]
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        return (host.lower() or None), port_number(rest.removeprefix(":"))
    if raw.count(":") == 1:
        host, _, port = raw.partition(":")
        return (host.lower() or None), port_number(port)
    return raw.lower() or None, None


# ----------------------------------------------------------------- file access


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ImportFormatError(path, problem("unreadable", error=exc.strerror)) from exc


def first_char(path: Path) -> str:
    """The first significant character of the file (BOM and whitespace skipped).

    Raises ImportFormatError when the file is empty or unreadable.
    """
    with _open(path) as fh:
        try:
            while chunk := fh.read(_READ_CHUNK):
                stripped = chunk.lstrip(b" \t\r\n\x0b\x0c")
                stripped = stripped.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
                if stripped:
                    if stripped[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                        return sniff_text(stripped)[:1]
                    return chr(stripped[0])
        except OSError as exc:
            raise ImportFormatError(path, problem("unreadable", error=exc.strerror)) from exc
    raise ImportFormatError(path, problem("empty"))


def sniff_text(head: bytes) -> str:
    """The sniffed bytes as text (BOM-aware, undecodable bytes replaced), left-stripped."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoded = head.decode("utf-16", errors="replace")
    else:
        decoded = head.decode("utf-8", errors="replace")
    return decoded.lstrip("\ufeff \t\r\n")


def xml_root_name(head: bytes) -> str | None:
    """Local name of the first element in an XML head, or None when it is not XML."""
    decoded = sniff_text(head)
    if not decoded.startswith("<"):
        return None
    match = _XML_FIRST_TAG.search(_XML_COMMENT.sub("", decoded))
    return match.group(2) if match else None


def local_name(tag: object) -> str:
    """An element name without its ``{namespace}``."""
    return str(tag).rpartition("}")[2]


# ------------------------------------------------------------------------- XML


def iter_xml(
    path: Path,
    *,
    roots: frozenset[str],
    records: frozenset[str],
    drop: frozenset[str] = frozenset(),
) -> Iterator[tuple[Element, tuple[Element, ...]]]:
    """Stream the record elements of an XML file with their ancestors (root first).

    The root element must be named one of ``roots``. Each element named in ``records``
    is yielded once complete; when the caller asks for the next one it is cleared and
    detached from its parent, and so is every element named in ``drop`` (bulky sections
    the importer does not need), so memory does not grow with the file. DTDs — and with
    them entity declarations, the XXE and "billion laughs" vectors — are refused.
    """
    with _open(path) as fh:
        events = iterparse(
            fh, events=("start", "end"), forbid_dtd=True, forbid_entities=True,
            forbid_external=True,
        )  # fmt: skip
        stack: list[Element] = []
        started = False
        while True:
            try:
                item = next(events, None)
            except DefusedXmlException as exc:
                raise ImportFormatError(path, problem("xml_dtd")) from exc
            except ParseError as exc:
                if not started and not _has_content(path):
                    raise ImportFormatError(path, problem("empty")) from exc
                line, column = getattr(exc, "position", (0, 0))
                raise ImportFormatError(
                    path, problem("xml_syntax", line=line, column=column, error=_one_line(exc))
                ) from exc
            except (ValueError, LookupError, UnicodeError) as exc:
                raise ImportFormatError(path, problem("xml_invalid", error=_one_line(exc))) from exc
            except OSError as exc:
                raise ImportFormatError(path, problem("unreadable", error=exc.strerror)) from exc
            if item is None:
                return
            event, elem = item
            name = local_name(elem.tag)
            if event == "start":
                if not started:
                    started = True
                    if name not in roots:
                        expected = ", ".join(sorted(roots))
                        raise ImportFormatError(
                            path, problem("xml_root", found=name[:100], expected=expected)
                        )
                stack.append(elem)
                continue
            stack.pop()
            if name in records:
                yield elem, tuple(stack)
            if name in records or name in drop:
                elem.clear()
                if stack:
                    stack[-1].remove(elem)


def _has_content(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_READ_CHUNK):
                if chunk.strip(b" \t\r\n\x0b\x0c").removeprefix(codecs.BOM_UTF8).strip():
                    return True
    except OSError:
        return True
    return False


def child_text(elem: Element, name: str) -> str | None:
    """Stripped text of the first child called ``name`` (a path like ``a/b`` works too)."""
    return text(elem.findtext(name))


def children_text(elem: Element) -> dict[str, str]:
    """Text of every leaf child by local name (first one wins)."""
    out: dict[str, str] = {}
    for child in elem:
        name = local_name(child.tag)
        if len(child) == 0 and name not in out:
            out[name] = child.text or ""
    return out


# ------------------------------------------------------------------------ JSON


def load_json(path: Path) -> Any:
    """The whole JSON document (UTF-8/16/32, BOM allowed), at most JSON_MAX_BYTES."""
    with _open(path) as fh:
        try:
            data = fh.read(JSON_MAX_BYTES + 1)
        except OSError as exc:
            raise ImportFormatError(path, problem("unreadable", error=exc.strerror)) from exc
    if len(data) > JSON_MAX_BYTES:
        raise ImportFormatError(path, problem("too_large", limit=JSON_MAX_BYTES // _MB))
    if not data.strip(b" \t\r\n").removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n"):
        raise ImportFormatError(path, problem("empty"))
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            path, problem("json_syntax", line=exc.lineno, column=exc.colno, error=exc.msg)
        ) from exc
    except UnicodeError as exc:
        raise ImportFormatError(path, problem("not_utf8")) from exc
    except RecursionError as exc:
        raise ImportFormatError(path, problem("json_nesting")) from exc
    except ValueError as exc:  # e.g. an integer longer than Python accepts
        raise ImportFormatError(path, problem("json_invalid", error=_one_line(exc))) from exc


class _JsonArrayReader:
    """Incremental reader of a top-level JSON array (one element decoded at a time)."""

    def __init__(self, path: Path, fh: IO[bytes]) -> None:
        self.path = path
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.lines_before = 0  # newlines in text already dropped from buf
        self.eof = False

    def fill(self) -> None:
        """Read more text: at least a chunk, and as much as is buffered (amortised)."""
        size = max(_READ_CHUNK, len(self.buf) - self.pos)
        if len(self.buf) - self.pos > JSON_MAX_BYTES:
            raise ImportFormatError(self.path, problem("too_large", limit=JSON_MAX_BYTES // _MB))
        try:
            chunk = self.fh.read(size)
            decoded = self.decoder.decode(chunk, final=not chunk)
        except UnicodeError as exc:
            raise ImportFormatError(self.path, problem("not_utf8")) from exc
        except OSError as exc:
            raise ImportFormatError(self.path, problem("unreadable", error=exc.strerror)) from exc
        if not chunk:
            self.eof = True
        if self.pos > _READ_CHUNK:
            self.lines_before += self.buf.count("\n", 0, self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += decoded

    def peek(self) -> str:
        """The next non-whitespace character ('' at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _JSON_WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self.fill()

    def where(self, pos: int) -> tuple[int, int]:
        """(line, column) of a buffer position, counted from the start of the file."""
        line = self.lines_before + self.buf.count("\n", 0, pos) + 1
        return line, pos - self.buf.rfind("\n", 0, pos)

    def fail(self, key: str, pos: int, **params: object) -> ImportFormatError:
        """An ImportFormatError naming the line and column of ``pos``."""
        line, column = self.where(pos)
        return ImportFormatError(self.path, problem(key, line=line, column=column, **params))

    def value(self) -> Any:
        """Decode the value starting at the current position."""
        decoder = json.JSONDecoder()
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise self.fail("json_syntax", exc.pos, error=exc.msg) from exc
                self.fill()
                continue
            except RecursionError as exc:
                raise ImportFormatError(self.path, problem("json_nesting")) from exc
            except ValueError as exc:
                raise ImportFormatError(
                    self.path, problem("json_invalid", error=_one_line(exc))
                ) from exc
            # A number at the end of the buffer may continue in the next chunk.
            if end == len(self.buf) and not self.eof:
                self.fill()
                continue
            self.pos = end
            return value


def iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Stream (index, element) of a file holding one JSON array, without loading it whole."""
    with _open(path) as fh:
        reader = _JsonArrayReader(path, fh)
        first = reader.peek()
        if first == "":
            raise ImportFormatError(path, problem("empty"))
        if first != "[":
            raise reader.fail("json_expected_array", reader.pos)
        reader.pos += 1
        index = 0
        if reader.peek() == "]":
            reader.pos += 1
        else:
            while True:
                if reader.peek() == "":
                    raise reader.fail("json_truncated", reader.pos)
                yield index, reader.value()
                index += 1
                following = reader.peek()
                if following == ",":
                    reader.pos += 1
                    continue
                if following == "]":
                    reader.pos += 1
                    break
                if following == "":
                    raise reader.fail("json_truncated", reader.pos)
                raise reader.fail("json_separator", reader.pos)
        if reader.peek() != "":
            raise reader.fail("json_extra", reader.pos)


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a UTF-8 text file, lines capped in length."""
    with _open(path) as fh:
        lineno = 0
        while True:
            try:
                raw = fh.readline(LINE_MAX_BYTES + 1)
            except OSError as exc:
                raise ImportFormatError(path, problem("unreadable", error=exc.strerror)) from exc
            if not raw:
                return
            lineno += 1
            if len(raw) > LINE_MAX_BYTES:
                raise ImportFormatError(
                    path, problem("line_too_long", line=lineno, limit=LINE_MAX_BYTES // _MB)
                )
            if lineno == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFormatError(path, problem("line_not_utf8", line=lineno)) from exc


def as_list(value: object) -> list[Any]:
    """A JSON value as a list: lists as they are, None as [], anything else as [value]."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_dict(value: object) -> dict[str, Any]:
    """A JSON object, or {} for anything else."""
    return value if isinstance(value, dict) else {}

"""Streaming reader for large JSON feeds: one top-level object, one big array inside.

NVD's yearly files and API pages (and the KEV catalogue) are ``{"meta": ..., "key": [item,
item, ...]}``; a whole NVD dump is gigabytes, so it is never loaded at once. The reader
decodes UTF-8 incrementally into a text buffer and lets the C JSON decoder
(``raw_decode``) parse one array item at a time; when an item runs past the end of the
buffer, more input is read and the item is parsed again. Memory stays proportional to the
largest single item (capped), not to the file.

Every failure — invalid or truncated JSON, bad UTF-8, an oversized item, nesting deeper
than the interpreter's recursion limit — is a :class:`ValidationError` naming the file,
line and column.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

#: Bytes read from the stream at a time (organisation-defined default: large enough that
#: the per-read overhead vanishes, small enough to keep memory flat).
CHUNK_BYTES = 1 << 20
#: Largest single JSON value (one CVE record) in characters. The largest NVD records
#: (thousands of cpeMatch entries) are a few MB; 64 Mi characters is an
#: organisation-defined ceiling that stops a malformed file from filling memory.
MAX_VALUE_CHARS = 64 << 20
#: Characters before the buffer end within which a decode error may just mean "the value
#: continues in the next chunk" (the longest JSON token cut short: ``\\uXXXX`` or ``false``).
_TAIL = 8
_WS = " \t\r\n"


class JsonStream:
    """Incremental JSON reader over a binary stream (see the module docstring)."""

    def __init__(
        self,
        raw: BinaryIO,
        name: str,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        max_value_chars: int = MAX_VALUE_CHARS,
    ) -> None:
        self._raw = raw
        self._name = name
        self._chunk = chunk_bytes
        self._max = max_value_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._decode = json.JSONDecoder().raw_decode
        self._buf = ""
        self._pos = 0
        self._lines_before = 0  # newlines in text already dropped from the buffer
        self._bytes = 0
        self._eof = False
        self._started = False
        self._item_start = 0

    # ------------------------------------------------------------------ input
    def _more(self, at_least: int = 0) -> bool:
        """Append decoded input to the buffer; False at end of input."""
        if self._eof:
            return False
        want = max(self._chunk, at_least)
        data = self._raw.read(want)
        final = not data
        try:
            text = self._decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                t("vulndb.not_utf8", file=self._name, offset=self._bytes + exc.start)
            ) from exc
        self._bytes += len(data)
        if not self._started and text:
            text = text.removeprefix("\ufeff")
            self._started = True
        self._buf += text
        if final:
            self._eof = True
        return not final or bool(text)

    def _compact(self) -> None:
        # Drop consumed text once it dominates the buffer, counting its newlines so error
        # positions stay exact.
        if self._pos > self._chunk and self._pos * 2 > len(self._buf):
            self._lines_before += self._buf.count("\n", 0, self._pos)
            self._buf = self._buf[self._pos :]
            self._pos = 0

    def _peek(self) -> str:
        """The next non-blank character (not consumed), or '' at end of input."""
        self._compact()
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._more():
                return ""

    # ------------------------------------------------------------------ errors
    def _line_col(self, pos: int) -> tuple[int, int]:
        line = self._lines_before + self._buf.count("\n", 0, pos) + 1
        return line, pos - (self._buf.rfind("\n", 0, pos) + 1) + 1

    def error(self, key: str, pos: int | None = None, /, **params: object) -> ValidationError:
        """A ValidationError ``vulndb.<key>`` naming the file and the line/column of ``pos``."""
        line, column = self._line_col(self._pos if pos is None else pos)
        return ValidationError(
            t(f"vulndb.{key}", file=self._name, line=line, column=column, **params)
        )

    def item_error(self, key: str, /, **params: object) -> ValidationError:
        """An error ``vulndb.<key>`` at the start of the item last returned."""
        return self.error(key, self._item_start, **params)

    @property
    def name(self) -> str:
        """The file name used in messages."""
        return self._name

    # ------------------------------------------------------------------ values
    def _expect(self, allowed: str) -> str:
        char = self._peek()
        if not char:
            raise self.error("truncated_json")
        if char not in allowed:
            raise self.error("unexpected_char", char=char, expected=" ".join(allowed))
        self._pos += 1
        return char

    def value(self) -> Any:
        """Parse and return the next complete JSON value."""
        if not self._peek():
            raise self.error("truncated_json")
        start = self._pos
        while True:
            try:
                obj, end = self._decode(self._buf, start)
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(self._buf) - _TAIL or exc.msg.startswith(
                    "Unterminated string"
                )
                if incomplete and self._read_on(start):
                    continue
                if incomplete:
                    raise self.error("truncated_json", start) from exc
                raise self.error("invalid_json", exc.pos, error=exc.msg) from exc
            except RecursionError as exc:
                raise self.error("too_deep", start) from exc
            except ValueError as exc:  # e.g. an integer over Python's digit limit
                raise self.error("invalid_json", start, error=str(exc)[:200]) from exc
            # A number near the buffer end may continue in the next chunk ("1.5" + "e10").
            if (
                end > len(self._buf) - _TAIL
                and not isinstance(obj, dict | list | str)
                and self._read_on(start)
            ):
                continue
            self._pos = end
            return obj

    def _read_on(self, start: int) -> bool:
        """Read more input for a value starting at ``start``; False at end of input."""
        size = len(self._buf) - start
        if size > self._max:
            raise self.error("value_too_large", start, limit=self._max)
        # Reading at least as much again as is buffered keeps re-parsing linear overall.
        return self._more(at_least=size)

    def stream_array(self, key: str, meta: dict[str, Any]) -> Iterator[Any]:
        """Yield the items of the array at top-level ``key``; other members go to ``meta``.

        The document must be one object; a missing ``key`` yields nothing, a non-array
        value there is an error. Trailing content after the object is an error.
        """
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                name = self.value()
                if not isinstance(name, str):
                    raise self.error("unexpected_char", char=str(name)[:20], expected='"')
                self._expect(":")
                if name == key and self._peek() == "[":
                    yield from self._items()
                elif name == key:
                    raise self.error("not_array", key=key)
                else:
                    meta[name] = self.value()
                if self._expect(",}") == "}":
                    break
        if self._peek():
            raise self.error("trailing_data")

    def _items(self) -> Iterator[Any]:
        self._expect("[")
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            self._peek()
            self._item_start = self._pos
            yield self.value()
            if self._expect(",]") == "]":
                return

    def document(self) -> Any:
        """Parse the whole input as one JSON value (small files: a single CVE record)."""
        result = self.value()
        if self._peek():
            raise self.error("trailing_data")
        return result

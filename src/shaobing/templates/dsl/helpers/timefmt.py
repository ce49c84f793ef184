"""Time helpers: unix_time, to_unix_time, date_time (Go layouts or %-placeholders), wait_for."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import as_int, as_text, render, short

#: Longest pause wait_for may take; longer requests are refused rather than hanging a scan.
MAX_WAIT_SECONDS = 10

# Go reference-time tokens (longest first) and their strftime equivalents.
_GO_TOKENS = (
    ("January", "%B"), ("Monday", "%A"), ("2006", "%Y"), ("-07:00", "%:z"), ("-0700", "%z"),
    ("Z07:00", "%:z"), ("Z0700", "%z"), ("Jan", "%b"), ("Mon", "%a"), ("MST", "%Z"),
    (".000000", ".%f"), (".000", ".%f3"), ("01", "%m"), ("02", "%d"), ("_2", "%e"), ("15", "%H"),
    ("03", "%I"), ("04", "%M"), ("05", "%S"), ("06", "%y"), ("PM", "%p"), ("pm", "%p"),
    ("1", "%-m"), ("2", "%-d"), ("3", "%-I"), ("4", "%-M"), ("5", "%-S"),
)  # fmt: skip
_SIMPLE = re.compile(r"%([A-Za-z])")
_SIMPLE_CODES = {
    "Y": "%Y", "y": "%Y", "M": "%m", "D": "%d", "d": "%d", "H": "%H", "h": "%H",
    "m": "%M", "S": "%S", "s": "%S",
}  # fmt: skip
_DEFAULT_LAYOUTS = (
    "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
    "%Y-%m-%d", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%a %b %d %H:%M:%S %Y",
)  # fmt: skip


def _go_to_strftime(layout: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(layout):
        for token, code in _GO_TOKENS:
            if layout.startswith(token, i):
                out.append(code)
                i += len(token)
                break
        else:
            out.append("%%" if layout[i] == "%" else layout[i])
            i += 1
    return "".join(out)


def _format(moment: datetime, strftime: str) -> str:
    # Codes Python's strftime lacks portably are expanded here.
    def expand(match: re.Match[str]) -> str:
        code = match.group(0)
        if code == "%f3":
            return f"{moment.microsecond // 1000:03d}"
        if code in ("%-m", "%-d", "%-I", "%-M", "%-S"):
            return str(int(moment.strftime("%" + code[2])))
        if code == "%e":
            return f"{moment.day:2d}"
        if code == "%:z":
            offset = moment.strftime("%z")
            return "Z" if offset in ("+0000", "") else offset[:3] + ":" + offset[3:]
        if code == "%%":
            return "%"
        return moment.strftime(code)

    return re.sub(r"%(?:f3|-[mdIMS]|:z|[A-Za-z%])", expand, strftime)


def _moment(args: list[Any]) -> datetime:
    if len(args) > 1:
        try:
            return datetime.fromtimestamp(as_int(args[1]), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise HelperFailure(detail("bad_argument", value=short(render(args[1])))) from None
    return datetime.now(tz=UTC)


@helper("date_time", 1, 2)
def date_time(args: list[Any]) -> str:
    """Format now (or a unix time) with %Y-%M-%D %H:%m:%s placeholders or a Go layout."""
    layout = as_text(args[0])
    moment = _moment(args)
    if _SIMPLE.search(layout):
        pattern = _SIMPLE.sub(lambda m: _SIMPLE_CODES.get(m.group(1), m.group(0)), layout)
        return _format(moment, pattern)
    return _format(moment, _go_to_strftime(layout))


@helper("unix_time", 0, 1)
def unix_time(args: list[Any]) -> int:
    """Current unix time in seconds plus the optional offset."""
    return int(time.time()) + (as_int(args[0]) if args else 0)


@helper("to_unix_time", 1, 2)
def to_unix_time(args: list[Any]) -> int:
    """Parse a date (default layouts, or a Go layout) into unix seconds (UTC if no zone)."""
    text = as_text(args[0]).strip()
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        pass
    if len(args) == 2:
        layouts: tuple[str, ...] = (_go_to_strftime(as_text(args[1])).replace("%:z", "%z"),)
    else:
        layouts = _DEFAULT_LAYOUTS
    for layout in layouts:
        try:
            parsed = datetime.strptime(text, layout)
        except ValueError:
            continue
        return int(_aware(parsed).timestamp())
    if len(args) == 1:
        try:
            return int(_aware(parsedate_to_datetime(text)).timestamp())
        except (TypeError, ValueError, IndexError):
            pass
    raise HelperFailure(detail("bad_layout", value=short(text), layout=short(as_text(args[-1]))))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@helper("wait_for", 1)
def wait_for(args: list[Any]) -> bool:
    """Sleep for the given seconds (at most MAX_WAIT_SECONDS) and return true."""
    seconds = as_int(args[0])
    if seconds < 0 or seconds > MAX_WAIT_SECONDS:
        raise HelperFailure(detail("wait_too_long", seconds=seconds, limit=MAX_WAIT_SECONDS))
    time.sleep(timedelta(seconds=seconds).total_seconds())
    return True

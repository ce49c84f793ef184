"""Port specifications: ``top100``, ``top1000``, ``all`` and lists/ranges like ``22,80,8000-8100``.

The ranked top-100/top-1000 lists are data (``top_ports.yaml``), not code, so they can be
reviewed and amended without touching the parser.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

MIN_PORT = 1
MAX_PORT = 65535
TOP100_SIZE = 100
TOP1000_SIZE = 1000


def _validated(name: str, raw: object, size: int) -> tuple[int, ...]:
    # The file ships with the package; a broken one is a packaging bug, not user input,
    # so it raises a plain RuntimeError rather than a translated ValidationError.
    if not isinstance(raw, list):
        raise RuntimeError(f"top_ports.yaml: {name} must be a list")
    ports: list[int] = []
    for value in raw:
        # bool is an int subclass; "true" in the YAML would otherwise pass as port 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise RuntimeError(f"top_ports.yaml: {name} entry {value!r} is not an integer")
        if not MIN_PORT <= value <= MAX_PORT:
            raise RuntimeError(f"top_ports.yaml: {name} entry {value} is outside 1-65535")
        ports.append(value)
    if len(set(ports)) != len(ports):
        raise RuntimeError(f"top_ports.yaml: {name} has duplicate entries")
    if len(ports) != size:
        raise RuntimeError(f"top_ports.yaml: {name} has {len(ports)} entries, expected {size}")
    return tuple(ports)


@cache
def _top_lists() -> tuple[tuple[int, ...], tuple[int, ...]]:
    text = resources.files("shaobing.scan").joinpath("top_ports.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise RuntimeError("top_ports.yaml: expected a mapping")
    top100 = _validated("top100", data.get("top100"), TOP100_SIZE)
    extra = data.get("top1000_extra")
    # top1000 is stored as top100 + 900 more so the superset property holds by construction.
    combined = list(top100) + (extra if isinstance(extra, list) else [])
    top1000 = _validated("top1000", combined, TOP1000_SIZE)
    return top100, top1000


def top_ports(count: int) -> tuple[int, ...]:
    """Return the ``count`` (100 or 1000) most commonly open TCP ports, most common first."""
    top100, top1000 = _top_lists()
    if count == TOP100_SIZE:
        return top100
    if count == TOP1000_SIZE:
        return top1000
    raise ValueError(f"no top-{count} list; use {TOP100_SIZE} or {TOP1000_SIZE}")


def _parse_port(text: str, item: str) -> int:
    # isdecimal (not int()) so "+80", " 80", "8_0" and non-ASCII digits are all refused.
    if not text.isascii() or not text.isdecimal():
        raise ValidationError(t("scan.port_not_number", item=item))
    value = int(text)
    if not MIN_PORT <= value <= MAX_PORT:
        raise ValidationError(t("scan.port_out_of_range", item=item))
    return value


def parse_ports(spec: str) -> tuple[int, ...]:
    """Parse a port specification into a sorted tuple of unique ports.

    Accepts ``top100``, ``top1000``, ``all`` (1-65535) and comma-separated ports and
    inclusive ranges (``22,80,443,8000-8100``); keywords may be mixed into the list.
    Raises :class:`ValidationError` naming the first bad item.
    """
    if not spec.strip():
        raise ValidationError(t("scan.port_spec_empty"))
    ports: set[int] = set()
    for raw_item in spec.split(","):
        item = raw_item.strip()
        keyword = item.lower()
        if not item:
            raise ValidationError(t("scan.port_item_empty", spec=spec))
        if keyword == "top100":
            ports.update(top_ports(TOP100_SIZE))
        elif keyword == "top1000":
            ports.update(top_ports(TOP1000_SIZE))
        elif keyword == "all":
            ports.update(range(MIN_PORT, MAX_PORT + 1))
        elif "-" in item:
            low_text, _, high_text = item.partition("-")
            low = _parse_port(low_text.strip(), item)
            high = _parse_port(high_text.strip(), item)
            if low > high:
                raise ValidationError(t("scan.port_range_reversed", item=item))
            ports.update(range(low, high + 1))
        else:
            ports.add(_parse_port(item, item))
    return tuple(sorted(ports))

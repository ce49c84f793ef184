"""Comparisons of found values against a rule's expectation (numbers, text, versions, modes)."""

from __future__ import annotations

import re

from shaobing.baseline.model import Compare
from shaobing.vulndb.versions import compare_versions

_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def _num(text: str) -> float | None:
    text = text.strip()
    return float(text) if _NUMBER.match(text) else None


def _order(found: str, wanted: str, how: str) -> int | None:
    """-1/0/1 comparing found with wanted, or None when they cannot be ordered."""
    if how == "version":
        # an installed "1:1.20.1-1" against a rule's plain upstream "1.23.4": the epoch is
        # packaging bookkeeping, not part of the upstream version the rule names
        if ":" not in wanted and re.match(r"^\d+:", found):
            found = found.split(":", 1)[1]
        return compare_versions(found, wanted)
    if how == "octal":
        try:
            a, b = int(found, 8), int(wanted, 8)
        except ValueError:
            return None
        return (a > b) - (a < b)
    if how in {"auto", "number"}:
        a_num, b_num = _num(found), _num(wanted)
        if a_num is not None and b_num is not None:
            return (a_num > b_num) - (a_num < b_num)
        if how == "number":
            return None
    return (found > wanted) - (found < wanted)


def matches(found: str, cmp: Compare) -> bool:
    """Whether ``found`` satisfies the comparison."""
    value = cmp.value
    text = found.strip()
    if cmp.op in {"matches", "not_matches"}:
        flags = re.IGNORECASE if cmp.ignore_case else 0
        hit = re.search(str(value), text, flags) is not None
        return hit if cmp.op == "matches" else not hit
    if cmp.op in {"in", "not_in"}:
        assert isinstance(value, list)
        options = [str(v) for v in value]
        if cmp.ignore_case:
            inside = text.lower() in {o.lower() for o in options}
        else:
            inside = text in options
        if not inside and cmp.as_ in {"auto", "number"}:
            number = _num(text)
            inside = number is not None and any(_num(o) == number for o in options)
        return inside if cmp.op == "in" else not inside
    wanted = str(value)
    if cmp.op in {"==", "!="} and cmp.as_ in {"auto", "text"}:
        a_num, b_num = _num(text), _num(wanted)
        if cmp.as_ == "auto" and a_num is not None and b_num is not None:
            same = a_num == b_num
        elif cmp.ignore_case:
            same = text.lower() == wanted.lower()
        else:
            same = text == wanted
        return same if cmp.op == "==" else not same
    order = _order(text, wanted, cmp.as_)
    if order is None:
        return False
    return {
        "==": order == 0,
        "!=": order != 0,
        "<": order < 0,
        "<=": order <= 0,
        ">": order > 0,
        ">=": order >= 0,
    }[cmp.op]


def describe(cmp: Compare) -> str:
    """The comparison in a short readable form (``>= 8``, ``∈ {no, prohibit-password}``)."""
    if isinstance(cmp.value, list):
        inner = ", ".join(str(v) for v in cmp.value)
        return f"{'∈' if cmp.op == 'in' else '∉'} {{{inner}}}"
    symbol = {"matches": "匹配", "not_matches": "不匹配"}.get(cmp.op, cmp.op)
    return f"{symbol} {cmp.value}"

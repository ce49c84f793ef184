"""Comparison of an assessment with the engagement's previous one (the contracts' quarterly
trend): counts per level then and now, risks added, removed and changed in level."""

from __future__ import annotations

from typing import Any


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result.get(k) for k in ("key", "asset", "threat", "vulnerability", "value", "level")}


def compare(
    previous: list[dict[str, Any]], current: list[dict[str, Any]], level_names: list[str]
) -> dict[str, Any]:
    """What changed between two stored result lists (matched by each risk's stable key).

    ``level_names`` lists the level names highest first; counts use them as keys.
    """
    before = {r["key"]: r for r in previous}
    after = {r["key"]: r for r in current}
    added = [_brief(after[k]) for k in after if k not in before]
    removed = [_brief(before[k]) for k in before if k not in after]
    changed = []
    for key in after.keys() & before.keys():
        old, new = before[key], after[key]
        if old.get("level_rank") != new.get("level_rank") or old.get("value") != new.get("value"):
            changed.append(
                _brief(new)
                | {
                    "previous_value": old.get("value"),
                    "previous_level": old.get("level"),
                    "direction": _direction(old, new),
                }
            )
    changed.sort(key=lambda c: str(c["key"]))

    def counts(results: list[dict[str, Any]]) -> dict[str, int]:
        return {name: sum(1 for r in results if r.get("level") == name) for name in level_names}

    return {
        "counts_then": counts(previous),
        "counts_now": counts(current),
        "added": added,
        "removed": removed,
        "changed": changed,
    }


def _direction(old: dict[str, Any], new: dict[str, Any]) -> str:
    old_rank, new_rank = old.get("level_rank") or 0, new.get("level_rank") or 0
    if new_rank != old_rank:
        return "up" if new_rank > old_rank else "down"
    return "up" if (new.get("value") or 0) > (old.get("value") or 0) else "down"

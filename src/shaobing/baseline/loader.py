"""Loads rule files into profiles: built-in rules plus the organisation's own.

Built-in files live in this package's ``rules/`` folder; files in
``$SHAOBING_HOME/baseline/rules/`` add rules and profiles or replace built-in rules with the
same id. Rule files are data from people, not code: ``yaml.safe_load`` only, a size cap,
and schema validation with one line naming the file, rule and field on error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticError

from shaobing.baseline.model import Profile, Rule
from shaobing.core.errors import ValidationError, error_location
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

# Largest rule file accepted (the biggest built-in file is well under 200 KiB).
MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class RawProfile:
    """A profile's header and raw rule dicts (validated per run, after variables)."""

    id: str
    title: str = ""
    description: str = ""
    target: str = "host"
    applies: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


# Packaged rule files are trusted data: the C loader (still a safe loader) is ten times
# faster. Files from users go through the pure-Python safe loader, which fails cleanly on
# pathological nesting where the C loader can crash the interpreter.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(source: str, text: str, *, trusted: bool = False) -> dict[str, Any]:
    if len(text.encode("utf-8", "replace")) > MAX_RULE_FILE_BYTES:
        raise ValidationError(
            t("baseline.load.too_large", source=source, limit=MAX_RULE_FILE_BYTES)
        )
    try:
        loader = _FAST_LOADER if trusted else yaml.SafeLoader
        data = yaml.load(text, Loader=loader)  # noqa: S506 - both are safe loaders
    except RecursionError as exc:
        raise ValidationError(
            t("baseline.load.yaml", source=source, detail="nesting too deep")
        ) from exc
    except yaml.YAMLError as exc:
        raise ValidationError(
            t("baseline.load.yaml", source=source, detail=str(exc).splitlines()[0])
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("profile"), str):
        raise ValidationError(t("baseline.load.no_profile", source=source))
    if not isinstance(data.get("rules", []), list):
        raise ValidationError(
            t("baseline.load.field", source=source, rule="-", field="rules", detail="list")
        )
    return data


# A check is a union of the combinators and the probes: pydantic reports every branch it
# tried. These are the branch names in an error's location and the key each one requires.
_BRANCHES = {"AllOf": "all", "AnyOf": "any", "NoneOf": "none", "NotOf": "not"}
_INTERNAL_LOC = ("tagged-union[", "function-after[", "function-before[", "function-wrap[")


def _taken(loc: tuple[Any, ...], kind: str) -> bool:
    """Whether an error lies on the branch the rule author meant (not a rejected alternative)."""
    parts = [str(p) for p in loc]
    for index, part in enumerate(parts):
        key = _BRANCHES.get(part)
        if key is None:
            continue
        following = parts[index + 1] if index + 1 < len(parts) else ""
        if following != key:
            return False  # e.g. a probe's "type" reported as extra on the AllOf branch
        if kind == "missing" and index + 2 == len(parts):
            return False  # the combinator key itself is missing: not a combinator at all
    return True


def _first_error(exc: PydanticError) -> tuple[str, str]:
    """The error that names what the author got wrong, with a readable field path."""
    errors = exc.errors()
    on_branch = [e for e in errors if _taken(tuple(e.get("loc", ())), str(e.get("type", "")))]
    specific = [e for e in on_branch if not str(e.get("type", "")).startswith("union_tag")]
    error = (specific or on_branch or errors)[0]
    where = error_location(
        [
            p
            for p in error.get("loc", ())
            if str(p) not in _BRANCHES and not str(p).startswith(_INTERNAL_LOC)
        ]
    )
    return where, str(error.get("msg", ""))


def _merge(profiles: dict[str, RawProfile], source: str, data: dict[str, Any]) -> None:
    pid = data["profile"]
    raw = profiles.setdefault(pid, RawProfile(id=pid))
    raw.sources.append(source)
    for key in ("title", "description", "target"):
        if data.get(key):
            setattr(raw, key, str(data[key]))
    if isinstance(data.get("applies"), dict):
        raw.applies = data["applies"]
    if isinstance(data.get("variables"), dict):
        raw.variables.update(data["variables"])
    for index, item in enumerate(data.get("rules") or []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValidationError(
                t(
                    "baseline.load.field",
                    source=source,
                    rule=f"#{index + 1}",
                    field="id",
                    detail="缺少规则编号",
                )
            )
        try:
            # variables may stand for lists or numbers: validate with the defaults known so
            # far (names defined elsewhere stay as written; build_profile checks them)
            Rule.model_validate(_substitute(item, raw.variables, source, item["id"], strict=False))
        except PydanticError as exc:
            where, detail = _first_error(exc)
            raise ValidationError(
                t("baseline.load.field", source=source, rule=item["id"], field=where, detail=detail)
            ) from exc
        raw.rules[item["id"]] = item


def _builtin_files() -> list[tuple[str, str]]:
    folder = resources.files("shaobing.baseline").joinpath("rules")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.append((f"rules/{entry.name}", entry.read_text(encoding="utf-8")))
    return out


@cache
def _builtin() -> dict[str, RawProfile]:
    profiles: dict[str, RawProfile] = {}
    for source, text in _builtin_files():
        _merge(profiles, source, _read_yaml(source, text, trusted=True))
    for raw in profiles.values():
        build_profile(raw)
    return profiles


def user_rule_dir() -> Path:
    """Where an organisation keeps its own rule files."""
    return get_settings().home / "baseline" / "rules"


def raw_profiles(extra_dir: Path | None = None) -> dict[str, RawProfile]:
    """Every profile: built-in merged with the organisation's files."""
    profiles = {
        k: RawProfile(
            id=v.id,
            title=v.title,
            description=v.description,
            target=v.target,
            applies=dict(v.applies),
            variables=dict(v.variables),
            rules=dict(v.rules),
            sources=list(v.sources),
        )
        for k, v in _builtin().items()
    }
    folder = extra_dir or user_rule_dir()
    if folder.is_dir():
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                if path.stat().st_size > MAX_RULE_FILE_BYTES:
                    raise ValidationError(
                        t("baseline.load.too_large", source=str(path), limit=MAX_RULE_FILE_BYTES)
                    )
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationError(
                    t("baseline.load.unreadable", source=str(path), detail=str(exc))
                ) from exc
            _merge(profiles, str(path), _read_yaml(str(path), text))
        for raw in profiles.values():
            build_profile(raw)
    return profiles


def load_profile_file(path: Path) -> RawProfile:
    """One rule file given on the command line (``--profile ./my-rules.yaml``)."""
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise ValidationError(
                t("baseline.load.too_large", source=str(path), limit=MAX_RULE_FILE_BYTES)
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            t("baseline.load.unreadable", source=str(path), detail=str(exc))
        ) from exc
    profiles: dict[str, RawProfile] = {}
    _merge(profiles, str(path), _read_yaml(str(path), text))
    raw = next(iter(profiles.values()))
    build_profile(raw)
    return raw


def _substitute(
    node: Any, variables: dict[str, Any], source: str, rule: str, *, strict: bool = True
) -> Any:
    if isinstance(node, str):
        whole = _VARIABLE.fullmatch(node.strip())
        if whole and whole.group(1) in variables and not isinstance(variables[whole.group(1)], str):
            return variables[whole.group(1)]

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                if not strict:
                    return match.group(0)
                raise ValidationError(
                    t("baseline.load.unknown_variable", source=source, rule=rule, name=name)
                )
            value = variables[name]
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

        return _VARIABLE.sub(repl, node)
    if isinstance(node, list):
        return [_substitute(n, variables, source, rule, strict=strict) for n in node]
    if isinstance(node, dict):
        return {k: _substitute(v, variables, source, rule, strict=strict) for k, v in node.items()}
    return node


def build_profile(raw: RawProfile, overrides: dict[str, str] | None = None) -> Profile:
    """The validated profile with variables substituted (``--var`` overrides defaults)."""
    variables: dict[str, Any] = dict(raw.variables)
    for name, value in (overrides or {}).items():
        if isinstance(variables.get(name), list) and isinstance(value, str):
            # ``--var allowed=no,prohibit-password`` for a variable whose default is a list
            variables[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            variables[name] = value
    source = raw.sources[0] if raw.sources else raw.id
    rules = []
    for rule_id, item in raw.rules.items():
        try:
            rules.append(Rule.model_validate(_substitute(item, variables, source, rule_id)))
        except PydanticError as exc:
            where, detail = _first_error(exc)
            raise ValidationError(
                t("baseline.load.field", source=source, rule=rule_id, field=where, detail=detail)
            ) from exc
    return Profile.model_validate(
        {
            "id": raw.id,
            "title": raw.title or raw.id,
            "description": raw.description,
            "target": raw.target,
            "applies": raw.applies,
            "variables": variables,
            "rules": [r.model_dump(by_alias=True, exclude_unset=True) for r in rules],
        }
    )


def get_profile(name: str, overrides: dict[str, str] | None = None) -> Profile:
    """A profile by id, or from a rule file path; unknown names list the known ones."""
    path = Path(name)
    if name.endswith((".yaml", ".yml")) and path.is_file():
        return build_profile(load_profile_file(path), overrides)
    profiles = raw_profiles()
    if name not in profiles:
        raise ValidationError(
            t("baseline.load.unknown_profile", name=name, known="、".join(sorted(profiles)))
        )
    return build_profile(profiles[name], overrides)

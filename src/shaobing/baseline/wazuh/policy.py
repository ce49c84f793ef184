"""Wazuh SCA policy files: safe loading and schema validation.

A policy has four sections: ``policy`` (id, name, ...), optional ``requirements`` (rules
that decide whether the policy applies to the host at all), optional ``variables``
(``$name: /a,/b``) and ``checks``. Two layouts exist: the Wazuh 4.x one (checks carry a
``title``, ``compliance`` is a list of one-key mappings, patterns are OS_Regex unless
``regex_type: pcre2``) and the one of the Wazuh 5 agent (checks carry a ``name``,
``compliance`` is a mapping, patterns are PCRE2). Both are accepted; the layout decides the
default pattern engine and the few places where the two agents evaluate differently.

Policy files are untrusted: they are read up to :data:`MAX_POLICY_BYTES`, parsed with a safe
YAML loader, refused when they use YAML aliases (a "billion laughs" document expands
through them) or nest deeper than :data:`MAX_NESTING`, and every field is type-checked.
Errors are one translated line naming the file and the offending check and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from shaobing.baseline.wazuh.regex import Engine
from shaobing.baseline.wazuh.rules import Rule, RuleSyntaxError, parse_rule
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

#: Largest policy file accepted (the biggest upstream policies are under 1 MiB).
MAX_POLICY_BYTES = 4 * 1024 * 1024
#: Deepest nesting of mappings and lists accepted (real policies use six levels).
MAX_NESTING = 32
#: The agent refuses checks with more rules than this.
MAX_RULES_PER_CHECK = 255
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Condition(StrEnum):
    """How the results of a check's rules are aggregated."""

    ALL = "all"
    ANY = "any"
    NONE = "none"


class Dialect(StrEnum):
    """Which agent's layout (and evaluation details) a policy file follows."""

    WAZUH4 = "wazuh4"
    WAZUH5 = "wazuh5"


# "all required"/"any required" are deprecated spellings the 4.x agent still accepts.
_CONDITIONS = {
    "all": Condition.ALL,
    "any": Condition.ANY,
    "none": Condition.NONE,
    "all required": Condition.ALL,
    "any required": Condition.ANY,
}


@dataclass(frozen=True)
class ScaCheck:
    """One check: its rules, how they combine, and its texts (English, kept as written)."""

    id: int
    title: str
    condition: Condition
    rules: tuple[Rule, ...]
    engine: Engine
    description: str = ""
    rationale: str = ""
    impact: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    compliance: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ScaRequirements:
    """Rules the host must satisfy for the policy to apply."""

    title: str
    description: str
    condition: Condition
    rules: tuple[Rule, ...]
    engine: Engine


@dataclass(frozen=True)
class ScaPolicy:
    """A loaded, validated Wazuh SCA policy."""

    id: str
    name: str
    description: str
    path: Path
    dialect: Dialect
    checks: tuple[ScaCheck, ...]
    requirements: ScaRequirements | None = None
    references: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)


class _Invalid(Exception):
    """A schema problem: where it is and what is wrong (both translated)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def _short(value: object) -> str:
    """A value quoted in an error message, cut so a huge node cannot flood the line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _fail(path: Path, key: str, **params: object) -> ValidationError:
    message = t(f"baseline_wazuh.load.{key}", file=str(path), **params)
    # Rule texts and YAML problems come from the file; keep the message on one line.
    return ValidationError(" ".join(message.splitlines()))


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise _fail(path, "unreadable", reason=exc.strerror or str(exc)) from None
    if len(raw) > MAX_POLICY_BYTES:
        raise _fail(path, "too_large", limit=MAX_POLICY_BYTES)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, "not_utf8", position=exc.start) from None


def _check_structure(path: Path, text: str) -> None:
    """Refuse aliases and deep nesting before the document is built.

    Aliases let a small document expand into a huge one; deep nesting overflows the C
    stack of libyaml's composer (the event parser itself is iterative, so this pass is
    safe and takes a few milliseconds).
    """
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise _fail(path, "aliases")
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise _fail(path, "too_deep", limit=MAX_NESTING)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        _check_structure(path, text)
        # A safe loader: plain data only, no object construction.
        return yaml.load(text, Loader=_LOADER)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise _fail(path, "yaml", line=line, reason=problem) from None
    except (ValueError, RecursionError, OverflowError) as exc:
        raise _fail(path, "yaml", line=0, reason=type(exc).__name__) from None


def _text(node: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = node.get(key)
    if value is None:
        if required:
            raise _Invalid(where, t("baseline_wazuh.schema.missing", field=key))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(where, t("baseline_wazuh.schema.not_text", field=key))
    return str(value)


def _string_list(node: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = node.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
    ):
        raise _Invalid(where, t("baseline_wazuh.schema.not_text_list", field=key))
    return tuple(str(item) for item in value)


def _compliance(node: Mapping[str, Any], where: str) -> dict[str, list[str]]:
    """Both layouts as one mapping: ``{"pci_dss": ["2.2.4"], ...}``."""
    value = node.get("compliance")
    if value is None:
        return {}
    entries: list[tuple[object, object]] = []
    if isinstance(value, dict):
        entries = list(value.items())
    elif isinstance(value, list) and all(isinstance(item, dict) for item in value):
        entries = [pair for item in value for pair in item.items()]
    else:
        raise _Invalid(where, t("baseline_wazuh.schema.bad_compliance"))
    out: dict[str, list[str]] = {}
    for key, items in entries:
        values = items if isinstance(items, list) else [items]
        if not isinstance(key, str) or not all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in values
        ):
            raise _Invalid(where, t("baseline_wazuh.schema.bad_compliance"))
        out.setdefault(key, []).extend(str(item) for item in values)
    return out


def _condition(node: Mapping[str, Any], where: str) -> Condition:
    value = node.get("condition")
    if not isinstance(value, str) or value not in _CONDITIONS:
        raise _Invalid(where, t("baseline_wazuh.schema.bad_condition", value=_short(value)))
    return _CONDITIONS[value]


def _engine(node: Mapping[str, Any], where: str, default: Engine) -> Engine:
    value = node.get("regex_type")
    if value is None:
        return default
    if value not in {engine.value for engine in Engine}:
        raise _Invalid(where, t("baseline_wazuh.schema.bad_regex_type", value=_short(value)))
    return Engine(value)


def _rules(node: Mapping[str, Any], where: str, variables: Mapping[str, str]) -> tuple[Rule, ...]:
    raw = node.get("rules")
    if not isinstance(raw, list) or not raw:
        raise _Invalid(where, t("baseline_wazuh.schema.no_rules"))
    if len(raw) > MAX_RULES_PER_CHECK:
        raise _Invalid(where, t("baseline_wazuh.schema.too_many_rules", limit=MAX_RULES_PER_CHECK))
    rules = []
    for index, text in enumerate(raw):
        if not isinstance(text, str):
            raise _Invalid(where, t("baseline_wazuh.schema.rule_not_text", index=index + 1))
        try:
            rules.append(parse_rule(text, variables))
        except RuleSyntaxError as exc:
            raise _Invalid(
                where, t("baseline_wazuh.schema.bad_rule", index=index + 1, reason=exc.reason)
            ) from None
    return tuple(rules)


def _variables(document: Mapping[str, Any]) -> dict[str, str]:
    raw = document.get("variables")
    if raw is None:
        return {}
    where = t("baseline_wazuh.where.variables")
    if not isinstance(raw, dict):
        raise _Invalid(where, t("baseline_wazuh.schema.not_mapping"))
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name.startswith("$") or len(name) < 2:
            raise _Invalid(where, t("baseline_wazuh.schema.bad_variable_name", name=_short(name)))
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            out[name] = ",".join(value)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            out[name] = str(value)
        else:
            raise _Invalid(where, t("baseline_wazuh.schema.bad_variable_value", name=_short(name)))
    return out


def _check_id(node: Mapping[str, Any], where: str) -> int:
    value = node.get("id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Invalid(where, t("baseline_wazuh.schema.bad_check_id", value=_short(value)))
    return value


def _dialect(checks: list[Any]) -> Dialect:
    """Wazuh 4.x requires ``title`` on every check; the 5 agent's layout names them ``name``."""
    if all(isinstance(check, dict) and "title" in check for check in checks):
        return Dialect.WAZUH4
    return Dialect.WAZUH5


def _build(path: Path, document: Any) -> ScaPolicy:
    if not isinstance(document, dict):
        raise _Invalid(t("baseline_wazuh.where.document"), t("baseline_wazuh.schema.not_mapping"))
    header = document.get("policy")
    where = t("baseline_wazuh.where.policy")
    if not isinstance(header, dict):
        raise _Invalid(where, t("baseline_wazuh.schema.missing_section", section="policy"))
    policy_id = _text(header, "id", where, required=True)
    name = _text(header, "name", where, required=True)
    description = _text(header, "description", where)
    references = _string_list(header, "references", where)
    raw_checks = document.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise _Invalid(
            t("baseline_wazuh.where.document"),
            t("baseline_wazuh.schema.missing_section", section="checks"),
        )
    dialect = _dialect(raw_checks)
    default_engine = Engine.OSREGEX if dialect is Dialect.WAZUH4 else Engine.PCRE2
    policy_engine = _engine(header, where, default_engine)
    variables = _variables(document)

    requirements = None
    raw_requirements = document.get("requirements")
    if raw_requirements is not None:
        where = t("baseline_wazuh.where.requirements")
        if not isinstance(raw_requirements, dict):
            raise _Invalid(where, t("baseline_wazuh.schema.not_mapping"))
        title = _text(raw_requirements, "title", where) or _text(raw_requirements, "name", where)
        requirements = ScaRequirements(
            title=title,
            description=_text(raw_requirements, "description", where),
            condition=_condition(raw_requirements, where),
            rules=_rules(raw_requirements, where, variables),
            engine=_engine(raw_requirements, where, policy_engine),
        )

    checks: list[ScaCheck] = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_checks):
        where = t("baseline_wazuh.where.check_index", index=index + 1)
        if not isinstance(raw, dict):
            raise _Invalid(where, t("baseline_wazuh.schema.not_mapping"))
        check_id = _check_id(raw, where)
        where = t("baseline_wazuh.where.check", id=check_id)
        if check_id in seen:
            raise _Invalid(where, t("baseline_wazuh.schema.duplicate_id"))
        seen.add(check_id)
        title = _text(raw, "title", where) or _text(raw, "name", where)
        if not title:
            raise _Invalid(where, t("baseline_wazuh.schema.missing", field="title/name"))
        checks.append(
            ScaCheck(
                id=check_id,
                title=title,
                condition=_condition(raw, where),
                rules=_rules(raw, where, variables),
                engine=_engine(raw, where, policy_engine),
                description=_text(raw, "description", where),
                rationale=_text(raw, "rationale", where),
                impact=_text(raw, "impact", where),
                remediation=_text(raw, "remediation", where),
                references=_string_list(raw, "references", where),
                compliance=_compliance(raw, where),
            )
        )
    return ScaPolicy(
        id=policy_id,
        name=name,
        description=description,
        path=path,
        dialect=dialect,
        checks=tuple(checks),
        requirements=requirements,
        references=references,
        variables=variables,
    )


def load_sca_policy(path: Path) -> ScaPolicy:
    """Read, parse and validate a Wazuh SCA policy file (raises ValidationError)."""
    document = _parse_yaml(path, _read_text(path))
    try:
        return _build(path, document)
    except _Invalid as exc:
        raise _fail(path, "schema", where=exc.where, reason=exc.reason) from None


def is_sca_policy(path: Path) -> bool:
    """Whether ``path`` looks like a Wazuh SCA policy: YAML with ``policy`` and ``checks``."""
    try:
        document = _parse_yaml(path, _read_text(path))
    except ValidationError:
        return False
    return isinstance(document, dict) and "policy" in document and "checks" in document
